#!/usr/bin/env python3
"""Benchmarks of sr-rehearse, reported as ratios against baselines measured in the same run.

  scripts/bench.py copy [--size-gib 2 | --sizes 0.25,0.5,1,2] [--runs 5] [--fs here|xfs]
                                         copy+hash+verify of a simulated meta vs `cp -a` and
                                         `cp -a` + `sha256sum` of every file (alternating runs,
                                         median and spread); `--fs xfs` on a loop-mounted XFS image
                                         against `cp --reflink=always`; peak memory of the tool
  scripts/bench.py decide [--runs 9]     bootstrap-OK -> verdict, and verdict -> all processes gone
  scripts/bench.py scan [--size-gib 1]   `sr-rehearse scan` of a large fe.log and be.INFO vs `rg -c -f`
                                         and `grep -E -c -f` with the catalog's patterns of that role
                                         (ripgrep is installed if missing); peak memory of the scan

Builds the release binaries first. Every number comes from this machine, in this run.
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "target/release/sr-rehearse")
SIM = os.path.join(ROOT, "target/release/starrocks-sim")


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def drop_caches():
    # Equal footing for every contender: cold cache where we may, warm otherwise (said in the output).
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def setup(tmp, meta_version="3.2.5", pkg_version="3.3.2", size=0):
    meta, pkg, jdk = (os.path.join(tmp, d) for d in ("meta", "fe", "jdk"))
    sh(SIM, "make-meta", "--version", meta_version, "--out", meta, "--backends", "0", "--size", str(size), stdout=subprocess.DEVNULL)
    sh(SIM, "make-package", "--role", "fe", "--version", pkg_version, "--out", pkg, stdout=subprocess.DEVNULL)
    sh(SIM, "make-jdk", "--major", "17", "--out", jdk, stdout=subprocess.DEVNULL)
    return meta, pkg, jdk


def rehearse(meta, pkg, jdk, ws, report, keep="never"):
    env = dict(os.environ, JAVA_HOME=jdk)
    # A fresh interpreter runs the tool, so its RUSAGE_CHILDREN peak is the tool's process tree
    # alone (the tool and the simulated FE it starts), not cargo's or cp's.
    probe = ("import resource,subprocess,sys;"
             "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, TOOL, "fe", "--meta", meta, "--new-fe", pkg,
                          "--workspace-root", ws, "--keep", keep, "--json", report, "-q"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    code, peak_kib = int(out[0]), int(out[1])
    with open(report) as f:
        r = json.load(f)
    if code != 0:
        sys.exit(f"rehearsal failed (exit {code}): {r['summary']}")
    return r, peak_kib


def mount_xfs(tmp, gib):
    """An XFS image (reflink on, the mkfs.xfs default) loop-mounted under tmp; needs root and xfsprogs."""
    if os.geteuid() != 0:
        sys.exit("copy --fs xfs needs root to loop-mount an XFS image")
    if shutil.which("mkfs.xfs") is None:
        sh("apt-get", "install", "-y", "-qq", "xfsprogs", stdout=subprocess.DEVNULL)
    img, mnt = os.path.join(tmp, "xfs.img"), os.path.join(tmp, "xfs")
    os.makedirs(mnt)
    with open(img, "wb") as f:
        f.truncate(gib << 30)
    sh("mkfs.xfs", "-q", "-m", "reflink=1", img)
    sh("mount", "-o", "loop", img, mnt)
    return mnt


def copy_round(meta, pkg, jdk, tmp, total, runs, clone):
    """Alternating runs of each contender on one meta; returns {name: [seconds]} and the peak RSS."""
    cp = ["cp", "-a", "--reflink=always"] if clone else ["cp", "-a"]
    name = " ".join(cp)

    def run_cp(hash_too):
        dst = os.path.join(tmp, "cp")
        sh(*cp, meta, dst)
        if hash_too:
            sh("sh", "-c", f"cd '{dst}' && find . -type f -print0 | xargs -0 sha256sum > /dev/null")
        shutil.rmtree(dst)

    rows = {name: [], f"{name} + sha256sum": [], "sr-rehearse copy": []}
    peak = 0
    methods = None
    for _ in range(runs):
        drop_caches()
        rows[name].append(timed(lambda: run_cp(False)))
        drop_caches()
        rows[f"{name} + sha256sum"].append(timed(lambda: run_cp(True)))
        drop_caches()
        ws = os.path.join(tmp, "ws")
        os.makedirs(ws, exist_ok=True)
        r, peak_kib = rehearse(meta, pkg, jdk, ws, os.path.join(tmp, "r.json"))
        step = next(s for s in r["steps"] if s["name"] == "copy meta")
        rows["sr-rehearse copy"].append(step["duration_ms"] / 1000)
        methods = r["source"].get("copy_methods")
        peak = max(peak, peak_kib)
    return name, rows, peak, methods


def bench_copy(args):
    sizes = [float(s) for s in args.sizes.split(",")] if args.sizes else [args.size_gib]
    clone = args.fs == "xfs"
    cold = drop_caches()
    print(f"{args.runs} alternating run(s) per contender and size, "
          f"{'cold' if cold else 'warm'} page cache, filesystem: {args.fs}; seconds (median, min-max)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        where = tmp
        if clone:
            # Room for the largest meta, its clones, and the 5 GB an FE 3.2+ wants free.
            where = mount_xfs(tmp, int(max(sizes) * 2) + 8)
        try:
            last = None
            for size_gib in sizes:
                sub = tempfile.mkdtemp(dir=where)
                meta, pkg, jdk = setup(sub, size=int(size_gib * (1 << 30)))
                total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(meta) for f in fs)
                name, rows, peak, methods = copy_round(meta, pkg, jdk, sub, total, args.runs, clone)
                med = {k: statistics.median(v) for k, v in rows.items()}
                nfiles = sum(len(fs) for _, _, fs in os.walk(meta))
                print(f"meta {total / (1 << 30):.2f} GiB in {nfiles} files; copy methods: {methods}")
                for k, v in rows.items():
                    print(f"  {k:<34} {med[k]:7.2f} s  ({min(v):.2f}-{max(v):.2f})  "
                          f"{total / med[k] / (1 << 20):6.0f} MiB/s")
                print(f"  ratio sr-rehearse / {name}: {med['sr-rehearse copy'] / med[name]:.2f}"
                      f"{'  (target <= 1.2)' if not clone else ''}")
                print(f"  ratio sr-rehearse / ({name} + sha256sum): "
                      f"{med['sr-rehearse copy'] / med[name + ' + sha256sum']:.2f}")
                print(f"  peak RSS of the tool's process tree: {peak / 1024:.1f} MiB  (target < 64 MiB)")
                last = (total, med["sr-rehearse copy"])
                shutil.rmtree(sub)
            if last:
                total, secs = last
                print(f"at this rate a 50 GB meta takes {50e9 / (total / secs) / 60:.1f} min")
        finally:
            if clone:
                subprocess.run(["umount", where])


def parse_ts(line):
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[.,](\d{3})", line)
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(m.group(2)) / 1000


def bench_decide(args):
    lat, stops = [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        meta, pkg, jdk = setup(tmp)
        for i in range(args.runs):
            ws = os.path.join(tmp, f"ws{i}")
            os.makedirs(ws)
            r, _ = rehearse(meta, pkg, jdk, ws, os.path.join(tmp, "r.json"), keep="always")
            run_dir = r["workspace"]["path"]
            with open(os.path.join(run_dir, "fe/log/fe.log")) as f:
                http_line = next(l for l in f if "HttpServer started with port" in l)
            ready = parse_ts(http_line)
            start = datetime.strptime(r["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
            # Steps run back to back; the verdict is the end of `decide`.
            end_decide = start
            for s in r["steps"]:
                end_decide += s["duration_ms"] / 1000
                if s["name"] == "decide":
                    break
            lat.append((end_decide - ready) * 1000)
            stops.append(next(s for s in r["steps"] if s["name"] == "stop")["duration_ms"])
            shutil.rmtree(run_dir)
    print(f"{args.runs} rehearsals 3.2.5 -> 3.3.2 on the simulator (fe.log timestamps, UTC, ms):")
    print(f"  /api/bootstrap OK -> verdict: median {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms  (target median < 50 ms)")
    print(f"  verdict -> all processes gone: median {statistics.median(stops):.0f} ms, max {max(stops)} ms  (target < 2000 ms)")


def ere(pattern):
    """The catalog's Rust regex syntax in POSIX ERE, as GNU grep -E reads it."""
    out = pattern.replace("(?i)", "")
    for a, b in ((r"\d", "[0-9]"), (r"\S", "[^[:space:]]"), (r"\s", "[[:space:]]"), (r"\w", "[[:alnum:]_]")):
        out = out.replace(a, b)
    return out


def make_fe_log(path, size):
    """A large fe.log of realistic lines: startup sequences, replay progress, heartbeats, warnings."""
    lines = []
    for i in range(2000):
        ts = f"2024-03-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d},{i % 1000:03d}"
        lines += [
            f"{ts} INFO (main|1) [StarRocksFE.start():129] StarRocks FE starting, version: 3.2.{i % 12}-79ee91d\n",
            f"{ts} INFO (replayer|81) [GlobalStateMgr.replayJournal():1780] start to replay journal from {i * 1000} to {i * 1000 + 999}\n",
            f"{ts} INFO (tablet scheduler|40) [TabletScheduler.schedule():612] tablet {10000 + i} is healthy, skip scheduling it\n",
            f"{ts} WARN (heartbeat-mgr-pool-0|61) [HeartbeatMgr$BackendHeartbeatHandler.call():333] backend heartbeat got exception, addr: 10.0.0.{i % 250}:9050\n"
            "org.apache.thrift.transport.TTransportException: java.net.SocketTimeoutException: connect timed out\n"
            "\tat org.apache.thrift.transport.TSocket.open(TSocket.java:226)\n",
            f"{ts} INFO (thrift-server-pool-{i % 64}|{200 + i % 64}) [FrontendServiceImpl.loadTxnBegin():1022] receive txn begin request, db: db_{i % 9}, tbl: t_{i % 31}, label: insert_{i:08x}\n",
            f"{ts} INFO (stateChangeExecutor|77) [GlobalStateMgr.transferToLeader():1101] leader finished to replay journal, can write now.\n",
        ]
        if i % 97 == 0:
            lines.append(f"{ts} INFO (main|1) [StarRocksFE.start():140] wait globalStateMgr to be ready. FE type: INIT. is ready: false\n")
    block = "".join(lines).encode()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)
    return written


def make_be_info(path, size):
    """A large be.INFO of realistic glog lines: tablet reports, compaction, heartbeats, loads."""
    lines = []
    for i in range(2000):
        ts = f"I2024{1 + i % 12:02d}{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{(i * 7919) % 1000000:06d} {281472970518592 + i % 64}"
        lines += [
            f"{ts} tablet_manager.cpp:1038] Report all {1200 + i} tablets info\n",
            f"{ts} compaction_manager.cpp:153] update candidate tablet {10000 + i} score {i % 17}.{i % 10}\n",
            f"{ts} heartbeat_server.cpp:92] get heartbeat from FE. host:10.0.0.{i % 250}, port:9020, cluster id:{417525268 + i % 3}\n",
            f"{ts} load_channel_mgr.cpp:201] Open load channel. load_id={i:016x}-{i * 31:016x}, timeout={600 + i % 60}s\n",
            f"{ts} fragment_mgr.cpp:512] Prepare(): query_id={i:016x}-{i * 7:016x} fragment_instance_id={i:016x}-{i + 1:016x} backend_num={i % 3}\n",
        ]
        if i % 97 == 0:
            lines.append(f"W2024{1 + i % 12:02d}{1 + i % 28:02d} {i % 24:02d}:00:00.000000 281472970518592 storage_engine.cpp:801] begin loading tablet from meta /data{i % 4}/starrocks/storage\n")
    block = "".join(lines).encode()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)
    return written


def ensure_ripgrep():
    """ripgrep is the baseline the scan is held to; it is installed here, never needed by the tests."""
    if shutil.which("rg"):
        return
    print("installing ripgrep (Debian package `ripgrep`) for the baseline...")
    sh("apt-get", "install", "-y", "-q", "ripgrep", stdout=subprocess.DEVNULL)


def load_line():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def bench_scan(args):
    sizes = [float(x) for x in args.sizes.split(",")] if args.sizes else [args.size_gib]
    ensure_ripgrep()
    catalog = json.loads(subprocess.run([TOOL, "scan", "--list", "--format", "json"], check=True,
                                        capture_output=True, text=True).stdout)
    probe = ("import resource,subprocess,sys;"
             "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    print(f"load average before: {load_line()} ({os.cpu_count()} cores)")
    rate = None
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for role, name, make, target in (("fe", "fe.log", make_fe_log, 1.0), ("be", "be.INFO", make_be_info, 2.0)):
            rust_pats = os.path.join(tmp, f"{role}.patterns")
            ere_pats = os.path.join(tmp, f"{role}.ere")
            with open(rust_pats, "w") as f, open(ere_pats, "w") as g:
                for sig in catalog:
                    if sig["role"] == role:
                        f.write(sig["pattern"] + "\n")
                        g.write(ere(sig["pattern"]) + "\n")
            for size_gib in sizes:
                log = os.path.join(tmp, name)
                total = make(log, int(size_gib * (1 << 30)))
                rows = {"rg -c -f": [], "grep -E -c -f": [], "sr-rehearse scan": []}
                peak = 0
                for _ in range(args.runs):
                    # rg and GNU grep stop at the first match when their output is /dev/null: give them a pipe.
                    rows["rg -c -f"].append(timed(lambda: subprocess.run(["rg", "-c", "-f", rust_pats, log], stdout=subprocess.PIPE)))
                    if not args.no_grep:
                        rows["grep -E -c -f"].append(timed(lambda: subprocess.run(["grep", "-E", "-c", "-f", ere_pats, log], stdout=subprocess.PIPE)))
                    t = time.perf_counter()
                    out = subprocess.run([sys.executable, "-c", probe, TOOL, "scan", "--format", "json", log],
                                         capture_output=True, text=True, check=True).stdout
                    rows["sr-rehearse scan"].append(time.perf_counter() - t)
                    peak = max(peak, int(out.split()[-1]))
                rows = {k: v for k, v in rows.items() if v}
                med = {k: statistics.median(v) for k, v in rows.items()}
                print(f"{name}: {total / (1 << 30):.2f} GiB, {sum(1 for s in catalog if s['role'] == role)} {role.upper()} patterns, "
                      f"{args.runs} run(s), warm page cache; median seconds (every run):")
                for k, v in med.items():
                    runs = ", ".join(f"{x:.2f}" for x in rows[k])
                    print(f"  {k:<18} {v:7.2f} s  ({total / v / (1 << 20):6.0f} MiB/s)  [{runs}]")
                print(f"  ratio sr-rehearse / rg: {med['sr-rehearse scan'] / med['rg -c -f']:.2f}  (target <= {target:.1f})")
                print(f"  peak RSS of the scan:   {peak / 1024:.1f} MiB  (target < 32 MiB)")
                if role == "fe":
                    rate = total / med["sr-rehearse scan"]
                os.remove(log)
    if rate:
        print(f"at the fe.log rate a 20 GB log archive takes {20e9 / rate / 60:.1f} min")
    print(f"load average after: {load_line()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("copy")
    c.add_argument("--size-gib", type=float, default=2.0)
    c.add_argument("--sizes", default=None, help="comma-separated GiB sizes, e.g. 0.25,0.5,1,2 (growth)")
    c.add_argument("--runs", type=int, default=5)
    c.add_argument("--fs", choices=["here", "xfs"], default="here",
                   help="xfs: on a loop-mounted XFS image, against cp --reflink=always")
    c.add_argument("--dir", default=None, help="where to put the test meta (default: the temp dir)")
    d = sub.add_parser("decide")
    d.add_argument("--runs", type=int, default=9)
    d.add_argument("--dir", default=None)
    sc = sub.add_parser("scan")
    sc.add_argument("--size-gib", type=float, default=1.0)
    sc.add_argument("--sizes", default=None, help="comma-separated GiB sizes, e.g. 0.25,0.5,1 (growth)")
    sc.add_argument("--no-grep", action="store_true", help="leave GNU grep out (it is slow)")
    sc.add_argument("--runs", type=int, default=3)
    sc.add_argument("--dir", default=None)
    args = ap.parse_args()
    sh("cargo", "build", "--release", "--quiet", cwd=ROOT)
    {"copy": bench_copy, "decide": bench_decide, "scan": bench_scan}[args.cmd](args)


if __name__ == "__main__":
    main()
