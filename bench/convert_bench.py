#!/usr/bin/env python3
"""Benchmarks of `wh inspect` and `wh convert` against their baselines, in the same run.

* inspect: wall time of `wh inspect --json` on a large and a small checkpoint of the same tensor
  count (the cost must not grow with tensor bytes), safetensors and PyTorch zip.
* convert: throughput of `wh convert` (PyTorch zip -> safetensors) against `cp` of the same file,
  best of N runs each, interleaved, and the peak resident memory of `wh convert`.

usage: bench/convert_bench.py [--size-gib 4] [--runs 3] [--wh target/release/wh] [--dir bench/out]
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, settle=False):
    """Run cmd, return (seconds, peak RSS of the child in MiB). With settle, first write back all
    dirty pages so one run's writeback does not slow the next."""
    if settle:
        subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return dt, max(after, before) / 1024.0


def peak_rss(cmd):
    """Peak RSS in MiB of one run of cmd, measured by GNU time (independent of earlier children)."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(r.stderr.strip().splitlines()[-1]) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-gib", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--wh", default=os.path.join(HERE, "..", "target", "release", "wh"))
    ap.add_argument("--dir", default=os.path.join(HERE, "out"))
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    big = os.path.join(a.dir, "big.pt")
    small = os.path.join(a.dir, "small.pt")
    size = a.size_gib
    count = int(size * 1024 / 64)
    if not os.path.exists(big) or os.path.getsize(big) < size * (1 << 30):
        print(f"writing {big} ({size} GiB) ...", file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(HERE, "make_torch_zip.py"), big, str(count), str(64 * 1024)], check=True)
    # The same tensor count at 64 KiB a tensor instead of 64 MiB.
    subprocess.run([sys.executable, os.path.join(HERE, "make_torch_zip.py"), small, str(count), "64"], check=True)
    nbytes = os.path.getsize(big)

    # --- convert vs cp ---
    # Both copies go through the page cache without syncing (cp does not sync; `wh convert --sync`
    # would): each run starts after `sync`, so neither pays for the other's writeback.
    cp_dst = os.path.join(a.dir, "copy.pt")
    st_dst = os.path.join(a.dir, "big.safetensors")
    cp_times, wh_times = [], []
    def fresh():
        for p in (cp_dst, st_dst):
            if os.path.exists(p):
                os.remove(p)

    for _ in range(a.runs):
        fresh()
        cp_times.append(run(["cp", big, cp_dst], settle=True)[0])
        fresh()
        wh_times.append(run([a.wh, "-q", "convert", "--force", big, st_dst], settle=True)[0])
    rss = peak_rss([a.wh, "-q", "convert", "--force", big, st_dst])
    cp_best, wh_best = min(cp_times), min(wh_times)
    gib = nbytes / (1 << 30)
    print(f"convert {gib:.2f} GiB pytorch-zip -> safetensors")
    print(f"  cp:         best {cp_best:.2f} s  ({gib / cp_best:.2f} GiB/s)  runs {['%.2f' % t for t in cp_times]}")
    print(f"  wh convert: best {wh_best:.2f} s  ({gib / wh_best:.2f} GiB/s)  runs {['%.2f' % t for t in wh_times]}")
    print(f"  throughput ratio wh/cp: {cp_best / wh_best:.2f}  (goal >= 0.80)")
    print(f"  wh convert peak RSS: {rss:.1f} MiB  (goal < 300 MB)")

    # --- inspect: large vs small, same tensor count ---
    def timed(path, n=10):
        ts = []
        for _ in range(n):
            ts.append(run([a.wh, "-q", "inspect", "--json", path])[0])
        return statistics.median(ts)

    for label, large, little in (("pytorch-zip", big, small), ("safetensors", st_dst, None)):
        t_large = timed(large)
        line = f"inspect {label} {os.path.getsize(large) / (1 << 30):.2f} GiB ({count} tensors): median {t_large * 1000:.1f} ms (goal < 50 ms)"
        if little and os.path.exists(little):
            t_small = timed(little)
            line += f"; same tensors at {os.path.getsize(little) / (1 << 20):.2f} MiB: {t_small * 1000:.1f} ms; ratio {t_large / t_small:.2f}"
        print(line)
    for p in (cp_dst,):
        if os.path.exists(p):
            os.remove(p)


if __name__ == "__main__":
    main()
