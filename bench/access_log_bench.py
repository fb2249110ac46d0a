#!/usr/bin/env python3
"""What the hub's access log costs: small-file downloads by many concurrent clients (`wrk`), with
the access log off (`WH_LOG=warn`, the baseline) and on (the default `info`, text and JSON, written
to a file as a service manager would), in the same run, alternating, on the same data folder.

    cargo build --release -p weighhouse-cli
    python3 bench/access_log_bench.py [--wh target/release/wh] [--duration 15] [--runs 3]

Prints requests per second and p99 latency for each setting, the ratio of each to the baseline,
and the load average at the start and the end (a 2-core machine shared with wrk makes every
figure noisy). Needs `wrk` (Debian package `wrk`) and the Python standard library.
"""

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIG = json.dumps({"model_type": "llama", "hidden_size": 4096, "comment": "x" * 600}).encode()


def default_wh():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/weighhouse/target")
    return os.path.join(target, "release", "wh")


def call(url, token, method="GET", body=None, content_type="application/json"):
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("content-type", content_type)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def start(wh, data, env_log, log_format, log_path):
    env = dict(os.environ, WH_LOG=env_log)
    err = open(log_path, "wb")
    p = subprocess.Popen([wh, "serve", "--data", data, "--listen", "127.0.0.1:0", "--log-format", log_format],
                         stdout=subprocess.PIPE, stderr=err, env=env, text=True)
    deadline = time.monotonic() + 30
    for line in p.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            return p, m.group(1)
        if time.monotonic() > deadline:
            break
    p.kill()
    sys.exit("wh serve did not start")


def wrk(url, threads, connections, duration):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"^Requests/sec:\s*([0-9.]+)", out, re.M).group(1))
    p99 = re.search(r"^\s*99%\s+([0-9.]+)(us|ms|s)", out, re.M)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    return rps, float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wh", default=default_wh())
    ap.add_argument("--duration", type=int, default=15, help="seconds of each wrk run")
    ap.add_argument("--runs", type=int, default=3, help="runs of each setting, interleaved")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")
    work = tempfile.mkdtemp(prefix="wh-access-log-")
    data = os.path.join(work, "data")
    token = subprocess.run([args.wh, "admin", "user", "create", "bench", "--data", data],
                           capture_output=True, text=True, check=True).stdout.split()[-1]
    # One repository with one small file, committed through the API.
    p, url = start(args.wh, data, "warn", "text", os.path.join(work, "setup.log"))
    try:
        call(f"{url}/api/repos/create", token, "POST", json.dumps({"name": "m"}).encode())
        lines = [
            {"key": "header", "value": {"summary": "bench"}},
            {"key": "file", "value": {"path": "config.json", "content": base64.b64encode(CONFIG).decode(), "encoding": "base64"}},
        ]
        call(f"{url}/api/models/bench/m/commit/main", token, "POST",
             "".join(json.dumps(l) + "\n" for l in lines).encode(), "application/x-ndjson")
    finally:
        p.terminate()
        p.wait()

    settings = [("access log off (WH_LOG=warn)", "warn", "text"),
                ("access log on, text", "info", "text"),
                ("access log on, JSON", "info", "json")]
    results = {name: [] for name, _, _ in settings}
    print(f"load average at start {os.getloadavg()[0]:.2f}", file=sys.stderr)
    for run in range(args.runs):
        for name, level, fmt in settings:
            log = os.path.join(work, f"serve-{level}-{fmt}-{run}.log")
            p, url = start(args.wh, data, level, fmt, log)
            try:
                rps, p99, errors = wrk(f"{url}/bench/m/resolve/main/config.json", args.threads, args.connections, args.duration)
            finally:
                p.terminate()
                p.wait()
            lines = sum(1 for l in open(log, errors="replace") if "wh::access" in l)
            results[name].append((rps, p99, errors, lines))
            print(f"run {run + 1} {name}: {rps:,.0f} req/s, p99 {p99:.1f} ms, {errors} errors, {lines:,} access-log lines", file=sys.stderr)
    print(f"load average at end {os.getloadavg()[0]:.2f}", file=sys.stderr)
    base = statistics.median(r[0] for r in results[settings[0][0]])
    print(f"{'setting':32} {'median req/s':>13} {'best req/s':>11} {'median p99 ms':>14} {'ratio':>6}")
    for name, _, _ in settings:
        rs = results[name]
        med = statistics.median(r[0] for r in rs)
        print(f"{name:32} {med:13,.0f} {max(r[0] for r in rs):11,.0f} {statistics.median(r[1] for r in rs):14.1f} {med / base:6.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
