#!/usr/bin/env python3
"""Benchmarks of sr-rehearse, reported as ratios against baselines measured in the same run.

  scripts/bench.py copy [--size-gib 2]   copy+hash+verify of a simulated meta vs `cp -a` and
                                         `cp -a` + `sha256sum` of every file; peak memory of the tool
  scripts/bench.py decide [--runs 9]     bootstrap-OK -> verdict, and verdict -> all processes gone

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


def bench_copy(args):
    size = int(args.size_gib * (1 << 30))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        meta, pkg, jdk = setup(tmp, size=size)
        total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(meta) for f in fs)
        cold = drop_caches()

        def cp():
            dst = os.path.join(tmp, "cp")
            sh("cp", "-a", meta, dst)
            shutil.rmtree(dst)

        def cp_sha():
            dst = os.path.join(tmp, "cp")
            sh("cp", "-a", meta, dst)
            sh("sh", "-c", f"cd '{dst}' && find . -type f -print0 | xargs -0 sha256sum > /dev/null")
            shutil.rmtree(dst)

        rows = {"cp -a": [], "cp -a + sha256sum": [], "sr-rehearse copy": []}
        peak = 0
        for _ in range(args.runs):
            drop_caches()
            rows["cp -a"].append(timed(cp))
            drop_caches()
            rows["cp -a + sha256sum"].append(timed(cp_sha))
            drop_caches()
            ws = os.path.join(tmp, "ws")
            os.makedirs(ws, exist_ok=True)
            r, peak_kib = rehearse(meta, pkg, jdk, ws, os.path.join(tmp, "r.json"))
            step = next(s for s in r["steps"] if s["name"] == "copy meta")
            rows["sr-rehearse copy"].append(step["duration_ms"] / 1000)
            peak = max(peak, peak_kib)
        med = {k: statistics.median(v) for k, v in rows.items()}
        print(f"meta: {total / (1 << 30):.2f} GiB in {sum(len(fs) for _, _, fs in os.walk(meta))} files; "
              f"{args.runs} run(s), {'cold' if cold else 'warm'} page cache; median seconds:")
        for k, v in med.items():
            print(f"  {k:<20} {v:7.2f} s  ({total / v / (1 << 20):6.0f} MiB/s)")
        print(f"ratio sr-rehearse / cp -a:             {med['sr-rehearse copy'] / med['cp -a']:.2f}  (target <= 1.2)")
        print(f"ratio sr-rehearse / (cp -a + sha256sum): {med['sr-rehearse copy'] / med['cp -a + sha256sum']:.2f}  (target <= 0.7)")
        print(f"peak RSS of the tool's process tree:   {peak / 1024:.1f} MiB  (target < 64 MiB)")


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
    print(f"  /api/bootstrap OK -> verdict: median {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms  (target median < 300 ms)")
    print(f"  verdict -> all processes gone: median {statistics.median(stops):.0f} ms, max {max(stops)} ms  (target < 2000 ms)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("copy")
    c.add_argument("--size-gib", type=float, default=2.0)
    c.add_argument("--runs", type=int, default=3)
    c.add_argument("--dir", default=None, help="where to put the test meta (default: the temp dir)")
    d = sub.add_parser("decide")
    d.add_argument("--runs", type=int, default=9)
    d.add_argument("--dir", default=None)
    args = ap.parse_args()
    sh("cargo", "build", "--release", "--quiet", cwd=ROOT)
    {"copy": bench_copy, "decide": bench_decide}[args.cmd](args)


if __name__ == "__main__":
    main()
