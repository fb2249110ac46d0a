#!/usr/bin/env python3
"""Benchmarks of the hub's governance features against baselines measured in the same run.

* gated downloads: `wrk` on `resolve` of a small file in a gated repository, by a user whose
  request was accepted, against the same file in an ungated repository. Every gated download is
  checked against the user's grant and the current agreement, and written to the audit log (a
  hash-chained record, synced to disk before the file is sent; concurrent downloads share a
  transaction). Goal: ratio >= 0.5 and no errors.
* audit verification: `wh admin audit verify` over the log those downloads produced, against the
  same check written in Python over the same SQLite file (sqlite3, json, hashlib: each record is
  in canonical form, hashes to its stored hash and names the previous hash). Separately (not
  timed), the records exported through `GET /api/admin/audit` are checked in Python too, which
  confirms independently that the export hashes as stored. Goal: ratio >= 1.

usage: bench/governance_bench.py [--duration 15] [--connections 50] [--wh PATH] [--out bench/out/governance] [--json]
"""

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hub_bench as hb  # noqa: E402

GOAL_GATED = 0.5
GOAL_VERIFY = 1.0
CONFIG = json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "comment": "x" * 800}).encode()


def user(wh, data, name, admin=False):
    r = subprocess.run([wh, "admin", "user", "create", name, "--data", data, *(["--admin"] if admin else [])], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"wh admin user create {name}: {r.stderr}")
    return r.stdout.split()[-1]


def call(method, url, token=None, obj=None, expect=(200,)):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if obj is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(obj).encode()
    _, data = hb.http(method, url, body, headers, expect)
    return data


def commit(base, token, repo, files):
    lines = [json.dumps({"key": "header", "value": {"summary": "bench", "description": ""}})]
    import base64

    for path, content in files.items():
        lines.append(json.dumps({"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}))
    hb.http("POST", f"{base}/api/models/{repo}/commit/main", ("\n".join(lines) + "\n").encode(), {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def python_verify_export(records):
    """The chain check in Python over exported records: returns the number that hold."""
    prev = None
    for r in records:
        body = {k: v for k, v in r.items() if k not in ("hash", "personal")}
        h = hashlib.sha256(canonical(body).encode()).hexdigest()
        if h != r["hash"] or (prev is not None and r["prev_hash"] != prev):
            raise SystemExit(f"record {r.get('seq')}: the Python check disagrees with the stored hash")
        prev = r["hash"]
    return len(records)


def python_verify_db(path):
    """The chain check in Python over the database: returns the number of records."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    prev, n = "0" * 64, 0
    for seq, record, prev_hash, h in con.execute("SELECT id, record, prev_hash, hash FROM audit ORDER BY id"):
        r = json.loads(record)
        if canonical(r) != record or hashlib.sha256(record.encode()).hexdigest() != h or r["prev_hash"] != prev or prev_hash != prev or r["seq"] != seq:
            raise SystemExit(f"record {seq}: the Python check disagrees")
        prev, n = h, n + 1
    con.close()
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--wh", default=hb.default_wh())
    ap.add_argument("--out", default=os.path.join(hb.HERE, "out", "governance"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.json:
        hb.LOG = sys.stderr
    wrk = hb.ensure_tool("wrk", "wrk")
    shutil.rmtree(args.out, ignore_errors=True)
    data = os.path.join(args.out, "data")
    os.makedirs(data)
    hb.say(f"load average at start: {hb.loadavg()}")
    owner = user(args.wh, data, "owner")
    bob = user(args.wh, data, "bob")
    admin = user(args.wh, data, "root", admin=True)
    server, base = hb.start_hub(args.wh, data, args.out)
    try:
        for name in ("open", "gated"):
            call("POST", f"{base}/api/repos/create", owner, {"name": name})
            commit(base, owner, f"owner/{name}", {"config.json": CONFIG, "README.md": b"---\nlicense: apache-2.0\nextra_gated_prompt: Be nice.\n---\n# m\n"})
        call("PUT", f"{base}/api/models/owner/gated/settings", owner, {"gated": "manual"})
        gate = json.loads(call("GET", f"{base}/api/models/owner/gated/gate", bob))
        call("POST", f"{base}/api/models/owner/gated/ask-access", bob, {"agreement_sha256": gate["agreement"]["sha256"], "fields": {}})
        call("POST", f"{base}/api/models/owner/gated/user-access-request/handle", owner, {"user": "bob", "status": "accepted"})
        auth = [f"Authorization: Bearer {bob}"]
        results = {}
        for name in ("open", "gated"):
            url = f"{base}/owner/{name}/resolve/main/config.json"
            hb.http("GET", url, None, {"Authorization": f"Bearer {bob}"})
            results[name] = hb.run_wrk(wrk, url, 2, args.connections, args.duration, auth, os.path.join(args.out, f"wrk-{name}.txt"))
            hb.say(f"{name:>6}: {results[name]['rps']:.0f} req/s, p50 {results[name]['p50_ms']} ms, p99 {results[name]['p99_ms']} ms, errors {results[name]['errors']}")
        ratio = results["gated"]["rps"] / results["open"]["rps"]
        # Every gated download is in the log.
        lines = call("GET", f"{base}/api/admin/audit?event=download&limit=100000", admin).decode().splitlines()
        downloads = len(lines)
        hb.say(f"gated/open: {ratio:.2f} (goal >= {GOAL_GATED}); download records: {downloads} for {results['gated']['requests']} gated requests (+1 warm-up)")
        # Export the whole log for the Python check, then stop the hub so verify reads a quiet file.
        records = []
        since = 0
        while True:
            page = [json.loads(l) for l in call("GET", f"{base}/api/admin/audit?since={since}&limit=100000", admin).decode().splitlines()]
            records += page
            # Each export adds its own record, so a short page is the end.
            if len(page) < 100000:
                break
            since = page[-1]["seq"]
    finally:
        server.close()
    t = time.perf_counter()
    r = subprocess.run([args.wh, "admin", "audit", "verify", "--data", data, "--json"], capture_output=True, text=True)
    wh_s = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"wh admin audit verify failed: {r.stdout}{r.stderr}")
    verified = json.loads(r.stdout)
    exported = python_verify_export(records)
    t = time.perf_counter()
    n = python_verify_db(os.path.join(data, "hub.db"))
    py_s = time.perf_counter() - t
    vratio = py_s / wh_s
    hb.say(f"audit verify: wh {verified['count']} records in {wh_s:.3f} s (process start included); Python over the same database {n} records in {py_s:.3f} s; ratio {vratio:.2f} (goal >= {GOAL_VERIFY}); exported records that hash as stored: {exported}")
    hb.say(f"load average at end: {hb.loadavg()}")
    summary = {
        "open": results["open"],
        "gated": results["gated"],
        "gated_over_open": ratio,
        "download_records": downloads,
        "verify": {"wh_seconds": wh_s, "python_seconds": py_s, "records": n, "exported_checked": exported, "ratio": vratio, "wh": verified},
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    if args.json:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
