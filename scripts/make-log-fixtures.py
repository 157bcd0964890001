#!/usr/bin/env python3
"""Writes the log corpus under fixtures/logs/ and its expected verdicts (expected.tsv).

The corpus is composed, not copied: clean starts are recorded from the simulator (which follows the
StarRocks sources line by line), and each catalog signature is placed into a short log of its era
using the catalog's own example line (the message text from the reference notes). Run it again after
changing the catalog or the simulator:  cargo build && scripts/make-log-fixtures.py
(`--keep-recorded` keeps the clean starts recorded before instead of recording them again).
The real excerpts under fixtures/logs/real/ and the index fixtures/logs/SOURCES.md are not
written here and never removed.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures/logs")
TOOL = os.path.join(ROOT, "target/debug/sr-rehearse")
SIM = os.path.join(ROOT, "target/debug/starrocks-sim")

FE_OLD = "2023-12-30 20:55:41,352"
FE_NEW = "2025-08-09 08:22:35.431+08:00"
BE_OLD = "0901 11:27:08.965626 23134"
BE_NEW = "20241111 19:11:26.881520 281472970518592"

# Lines that only ever appear outside the log4j/glog files.
FE_OUT_ONLY = {"fe.jvm.unrecognized-option", "fe.jvm.create-failed", "fe.jvm.unsupported-jdk",
               "fe.jvm.class-version", "fe.jvm.java-home", "fe.jvm.main-class", "fe.process.already-running",
               "fe.process.pid-locked"}
BE_OUT_ONLY = {"be.lib.glibc", "be.lib.shared-library", "be.lib.symbol", "be.lib.bin-not-replaced",
               "be.env.home", "be.conf.unreadable", "be.process.already-running", "be.crash.signal",
               "be.cpu.avx2"}


def fe_line(ts, level, thread, loc, msg):
    return f"{ts} {level} ({thread}) [{loc}] {msg}\n"


def be_line(ts, sev, loc, msg):
    return f"{sev}{ts} {loc}] {msg}\n"


def fe_prelude(ts, version_line):
    return (fe_line(ts, "INFO", "main|1", "StarRocksFE.start():129", version_line)
            + fe_line(ts, "INFO", "main|1", "FrontendOptions.initAddrUseIp():215", "Use IP init local addr, IP: /10.0.0.1")
            + fe_line(ts, "INFO", "main|1", "NodeMgr.getHelperNodes():711", "get helper nodes: [10.0.0.1:9010]"))


def be_prelude(ts, version):
    return (be_line(ts, "I", "daemon.cpp:188", f" version {version}")
            + "Built on 2025-01-01 00:00:00 by ci@build\n"
            + be_line(ts, "I", "backend_options.cpp:95", "localhost 10.0.0.7"))


# Warnings that mean the node waits forever (catalog.rs, WAITS_FOREVER).
WAITS_FOREVER = {"fe.join.not-added", "be.cluster.foreign-storage"}
# What this script does not write and must not remove.
NOT_OURS = {"real", "SOURCES.md"}


def expected_for(sig):
    if sig["id"] in WAITS_FOREVER:
        return f"waiting forever: {sig['id']}"
    if sig["severity"] == "fatal":
        return f"failed: {sig['id']}"
    if ".ready." in sig["id"]:
        return "started"
    return "still starting"


def record_clean_starts(expected):
    """Clean starts, recorded from the simulator through the real scripts."""
    with tempfile.TemporaryDirectory() as tmp:
        jdk = {m: os.path.join(tmp, f"jdk{m}") for m in (8, 17)}
        for m, d in jdk.items():
            subprocess.run([SIM, "make-jdk", "--major", str(m), "--out", d], check=True, stdout=subprocess.DEVNULL)
        for v, j in (("2.5.22", 8), ("3.0.9", 8), ("3.2.11", 17), ("3.3.5", 17), ("3.5.0", 17)):
            meta, fe = os.path.join(tmp, f"meta{v}"), os.path.join(tmp, f"fe{v}")
            subprocess.run([SIM, "make-meta", "--version", v, "--out", meta, "--backends", "0"], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([SIM, "make-package", "--role", "fe", "--version", v, "--out", fe], check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(fe, "conf/fe.conf"), "a") as f:
                f.write(f"\nmeta_dir = {meta}\nhttp_port = 38030\nrpc_port = 39020\nquery_port = 39030\nedit_log_port = 39010\n"
                        "metadata_failure_recovery = true\nbdbje_reset_election_group = true\n")
            env = dict(os.environ, JAVA_HOME=jdk[j])
            subprocess.run(["bash", os.path.join(fe, "bin/start_fe.sh"), "--daemon"], env=env, check=True)
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    urllib.request.urlopen("http://127.0.0.1:38030/api/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            subprocess.run(["bash", os.path.join(fe, "bin/stop_fe.sh")], check=True, stdout=subprocess.DEVNULL)
            name = f"clean-start-fe-{v}.fe.log"
            with open(os.path.join(fe, "log/fe.log")) as src:
                text = "".join(l for l in src if "shutdown hook" not in l)
            write(name, text, expected, "started")
        for v in ("2.5.22", "3.2.11", "3.3.5"):
            be = os.path.join(tmp, f"be{v}")
            storage = os.path.join(tmp, f"st{v}")
            os.makedirs(storage)
            subprocess.run([SIM, "make-package", "--role", "be", "--version", v, "--out", be], check=True, stdout=subprocess.DEVNULL)
            key = "webserver_port" if v.startswith("2.") else "be_http_port"
            with open(os.path.join(be, "conf/be.conf"), "a") as f:
                f.write(f"\nbe_port = 39060\n{key} = 38040\nheartbeat_service_port = 39050\nbrpc_port = 38060\nstorage_root_path = {storage}\n")
            subprocess.run(["bash", os.path.join(be, "bin/start_be.sh"), "--daemon"], check=True)
            deadline = time.time() + 30
            info = os.path.join(be, "log/be.INFO")
            while time.time() < deadline:
                if os.path.exists(info) and "heartbeat has started listening" in open(info).read():
                    break
                time.sleep(0.1)
            time.sleep(0.3)
            subprocess.run(["bash", os.path.join(be, "bin/stop_be.sh")], check=True, stdout=subprocess.DEVNULL)
            write(f"clean-start-be-{v}.be.INFO", open(info).read(), expected, "started")


def write(name, text, expected, verdict, gz=False):
    path = os.path.join(OUT, name)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)
    expected.append((name, verdict))


def main():
    catalog = json.loads(subprocess.run([TOOL, "scan", "--list", "--format", "json"], check=True, capture_output=True, text=True).stdout)
    keep_recorded = "--keep-recorded" in sys.argv[1:]
    recorded = []
    if keep_recorded:
        with open(os.path.join(OUT, "expected.tsv")) as f:
            recorded = [tuple(l.rstrip("\n").split("\t")) for l in f
                        if l.startswith("clean-start-")]
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name in NOT_OURS or (keep_recorded and name.startswith("clean-start-")):
            continue
        path = os.path.join(OUT, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    expected = []
    for sig in catalog:
        sid, role, sev, ex = sig["id"], sig["role"], sig["severity"], sig["example"]
        verdict = expected_for(sig)
        level = {"fatal": "ERROR", "warning": "WARN", "progress": "INFO"}[sev]
        glev = {"fatal": "E", "warning": "W", "progress": "I"}[sev]
        if role == "fe" and sid in FE_OUT_ONLY:
            text = "using java version 17\n-Xmx8192m -XX:+UseG1GC\nstart time: Fri Nov 27 08:00:00 UTC 2026\n" + ex + "\n"
            write(f"{sid}.fe.out", text, expected, verdict)
        elif role == "fe":
            for era, ts, vline in (("3.2", FE_OLD, "StarRocks FE starting, version: 3.2.1-79ee91d"),
                                   ("3.3", FE_NEW, "StarRocks FE starting, version: 3.3.14-5b29ea9")):
                text = fe_prelude(ts, vline)
                if sid == "fe.meta.unknown-operation-type":
                    # The real shape: the message, then the exception and its frames on their own lines.
                    text += fe_line(ts, "ERROR", "replayer|81", "BDBJournalCursor.deserializeData():241",
                                    "fail to read journal entity key=21460997, data=")
                    text += ex + "\n\tat com.starrocks.journal.JournalEntity.readFields(JournalEntity.java:1093)\n"
                elif sid == "fe.start.failed":
                    text += fe_line(ts, "ERROR", "main|1", "StarRocksFE.start():186", ex)
                    text += "java.io.IOException: something broke\n\tat com.starrocks.StarRocksFE.start(StarRocksFE.java:160)\n"
                else:
                    text += fe_line(ts, level, "main|1", "GlobalStateMgr.initialize():1001", ex)
                if sev == "warning":
                    text += fe_line(ts, "INFO", "main|1", "StarRocksFE.start():140", "wait globalStateMgr to be ready. FE type: UNKNOWN. is ready: false")
                write(f"{sid}.{era}.fe.log", text, expected, verdict)
        elif role == "be" and sid in BE_OUT_ONLY:
            text = "start time: Fri Nov 27 08:00:00 UTC 2026, server uptime: 08:00:00 up 1 day\n" + ex + "\n"
            write(f"{sid}.be.out", text, expected, verdict)
        else:
            for era, ts, version in (("2.5", BE_OLD, "2.5.4 RELEASE (build 613f0b5)"), ("3.3", BE_NEW, "3.3.5-6d81f75")):
                text = be_prelude(ts, version) + be_line(ts, glev, "starrocks_be.cpp:300", ex)
                write(f"{sid}.{era}.be.INFO", text, expected, verdict)

    # Noise, rotation, compression, and files with nothing to say.
    noisy = (fe_prelude(FE_OLD, "StarRocks FE starting, version: 3.2.1-79ee91d")
             + fe_line(FE_OLD, "WARN", "main|1", "StarRocksFE.start():140", "wait globalStateMgr to be ready. FE type: INIT. is ready: false")
             + fe_line(FE_OLD, "WARN", "heartbeat-mgr-pool-0|61", "HeartbeatMgr$BackendHeartbeatHandler.call():333", "backend heartbeat got exception, addr: 10.0.0.10:9050")
             + "org.apache.thrift.transport.TTransportException: java.net.SocketTimeoutException: connect timed out\n"
             + "\tat org.apache.thrift.transport.TSocket.open(TSocket.java:226)\n"
             + fe_line(FE_OLD, "WARN", "heartbeat mgr|37", "HeartbeatMgr.runAfterCatalogReady():168", "get bad heartbeat response: type: BACKEND, status: BAD, msg: java.net.SocketTimeoutException: connect timed out")
             + fe_line(FE_OLD, "INFO", "stateChangeExecutor|77", "GlobalStateMgr.transferToLeader():1101", "leader finished to replay journal, can write now.")
             + fe_line(FE_OLD, "INFO", "main|1", "QeService.start():58", "QE service start.")
             + fe_line(FE_OLD, "INFO", "main|1", "StarRocksFE.start():129", "FE started successfully"))
    write("noise-warnings-then-started.fe.log", noisy, expected, "started")
    write("fe.log.20240101-1", noisy, expected, "started")
    write("rotated-compressed.fe.log.20240102-1.gz", noisy, expected, "started", gz=True)
    restart = (fe_prelude(FE_NEW, "StarRocks FE starting, version: 3.3.2-4c4bbca")
               + fe_line(FE_NEW, "ERROR", "main|1", "NodeMgr.getCheckedSelfHostPort():1102", "edit_log_port 9010 is already in use. will exit.")
               + noisy.replace(FE_OLD, FE_NEW))
    write("failed-then-restarted.fe.log", restart, expected, "started")
    crash_after = noisy + fe_line(FE_OLD, "WARN", "main|1", "StateChangeExecutor.notifyNewFETypeTransfer():62", "transfer FE type from LEADER to UNKNOWN. exit")
    write("started-then-demoted.fe.log", crash_after, expected, "failed: fe.election.demoted")
    write("still-replaying.fe.log", fe_prelude(FE_NEW, "StarRocks FE starting, version: 3.5.0-aa11bb2")
          + fe_line(FE_NEW, "INFO", "replayer|81", "GlobalStateMgr.replayJournal():1780", "start to replay journal from 118001 to 120000"),
          expected, "still starting")
    write("slow-tablet-load.be.INFO", be_prelude(BE_NEW, "3.3.5-6d81f75")
          + be_line(BE_NEW, "I", "data_dir.cpp:372", "begin loading tablet from meta /data1/starrocks/storage"),
          expected, "still starting")
    # LOG.error(msg, e): the cause is on the lines after the message, and follow-on records
    # (`failed to init journal ... will exit`) never override it.
    cause_after = (fe_prelude(FE_NEW, "StarRocks FE starting, version: 3.4.2-1a2b3c4")
                   + fe_line(FE_NEW, "ERROR", "main|1", "StarRocksFE.start():202", "StarRocksFE start failed")
                   + "java.io.IOException: checksum mismatch! expect 2761380127 actual 96044305\n"
                   + "\tat com.starrocks.persist.ImageLoader.checkCheckSum(ImageLoader.java:120)\n"
                   + "\tat com.starrocks.server.GlobalStateMgr.loadImage(GlobalStateMgr.java:1254)\n")
    write("cause-after-start-failed.3.4.fe.log", cause_after, expected, "failed: fe.meta.image-checksum")
    follow_on = (fe_prelude(FE_NEW, "StarRocks FE starting, version: 3.3.2-4c4bbca")
                 + fe_line(FE_NEW, "ERROR", "replayer|81", "BDBJournalCursor.deserializeData():241", "fail to read journal entity key=21460997, data=")
                 + "java.io.IOException: UNKNOWN Operation Type 10023\n"
                 + "\tat com.starrocks.journal.JournalEntity.readFields(JournalEntity.java:1093)\n"
                 + fe_line(FE_NEW, "ERROR", "stateChangeExecutor|77", "GlobalStateMgr.transferToLeader():1035", "failed to init journal after transfer to leader! will exit"))
    write("follow-on-after-unknown-operation.3.3.fe.log", follow_on, expected, "failed: fe.meta.unknown-operation-type")
    # Names that say nothing: the role comes from the content.
    write("unnamed-fe-log.txt", noisy, expected, "started")
    write("unnamed-be-log.txt", be_prelude(BE_NEW, "3.3.5-6d81f75")
          + be_line(BE_NEW, "I", "starrocks_be.cpp:300", "BE started successfully"), expected, "started")
    write("not-a-starrocks-log.fe.log", "hello\nthis is a shopping list\n", expected, "no StarRocks lines found")
    if keep_recorded:
        expected.extend(recorded)
    else:
        record_clean_starts(expected)
    with open(os.path.join(OUT, "expected.tsv"), "w") as f:
        f.write("# file\texpected verdict of `sr-rehearse scan <file>` (written by scripts/make-log-fixtures.py)\n")
        for name, verdict in expected:
            f.write(f"{name}\t{verdict}\n")
    print(f"wrote {len(expected)} fixtures to {OUT}")


if __name__ == "__main__":
    main()
