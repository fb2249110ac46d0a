#!/usr/bin/env python3
"""Benchmarks of the hub (`wh serve`) against their baselines, in the same run.

* upload: one large file of random bytes PUT through the Git LFS basic transfer, against the
  single-core SHA-256 throughput of this machine over the same file from the page cache (the hub
  has to hash what it receives). Goal: ratio >= 0.8. The timed PUTs send the body with sendfile(2),
  so that the client leaves the machine's two cores to the server; one curl PUT is shown too.
* download: `resolve` of that file with one curl stream, against nginx (Debian's defaults:
  sendfile, tcp_nopush) serving the blob file the hub stored, from the same disk, page cache warm.
  Best and median of N runs each, interleaved. Goal: ratio >= 0.9. A second nginx with sendfile off
  and 1 MiB output buffers (faster on loopback) is measured too, as a stricter reference.
* ranges: the same file fetched as 4 equal byte ranges by 4 curl processes started together, hub
  against nginx; throughput = bytes / wall time. Goal: ratio >= 0.9.
* small files: wrk with 200 connections on `resolve` of a 1 KB config.json for 30 s: requests/s,
  p99 latency, non-2xx responses and socket errors (goal: no errors); nginx serving the same bytes
  is measured the same way for reference.

usage: bench/hub_bench.py [--size 2GiB] [--runs 3] [--duration 30] [--wh PATH] [--out bench/out/hub]
                          [--hub-arg=--no-fsync] [--skip-upload] [--skip-download] [--skip-ranges] [--skip-wrk]
                          [--skip-nginx-wrk] [--json]

Needs curl, nginx and wrk (installed with apt-get when missing and running as root).
"""

import argparse
import base64
import hashlib
import json
import os
import queue
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CHUNK = 1 << 20
GOAL_UPLOAD = 0.8
GOAL_DOWNLOAD = 0.9
GOAL_RANGES = 0.9

# Human-readable output goes to stdout, or to stderr with --json (stdout then carries the JSON).
LOG = sys.stdout


def say(*args):
    print(*args, file=LOG, flush=True)


def parse_size(s):
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?)b?\s*", s, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {s!r} (examples: 2GiB, 512MiB, 1000000)")
    n, unit, binary = float(m.group(1)), m.group(2).lower(), m.group(3)
    base = 1024 if binary or unit == "" else 1000
    return int(n * base ** " kmgt".index(unit or " "))


def gbps(nbytes, seconds):
    return nbytes / seconds / 1e9


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def default_wh():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "weighhouse", "target")
    return os.path.join(target, "release", "wh")


# --- tools -------------------------------------------------------------------------------------


def ensure_tool(name, package):
    path = shutil.which(name) or (os.path.exists(f"/usr/sbin/{name}") and f"/usr/sbin/{name}")
    if path:
        return path
    if os.geteuid() != 0:
        sys.exit(f"{name} not found: install it (apt-get install -y {package}) or run as root")
    say(f"installing {package} ...")
    subprocess.run(["apt-get", "install", "-y", package], check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    path = shutil.which(name) or (os.path.exists(f"/usr/sbin/{name}") and f"/usr/sbin/{name}")
    if not path:
        sys.exit(f"{name} still not found after installing {package}")
    return path


def raise_nofile(want=65536):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- files -------------------------------------------------------------------------------------


def make_random_file(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return False
    say(f"writing {path} ({size / (1 << 30):.2f} GiB of random bytes) ...")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * CHUNK)
            f.write(os.urandom(n))
            left -= n
    os.replace(tmp, path)
    return True


def read_through(path):
    """Read the whole file once so that it is in the page cache."""
    buf = bytearray(16 * CHUNK)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


def sha256_file(path):
    """(hex digest, seconds): hashlib.sha256 (OpenSSL) over the file in 1 MiB reads."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return h.hexdigest(), time.perf_counter() - t


# --- processes ---------------------------------------------------------------------------------


class Server:
    """A child process stopped with SIGTERM (then SIGKILL) on close."""

    def __init__(self, name, proc):
        self.name, self.proc = name, proc

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def start_hub(wh, data, logdir, extra=(), timeout=120):
    out_log = os.path.join(logdir, "hub.stdout.log")
    err_log = os.path.join(logdir, "hub.stderr.log")
    err = open(err_log, "wb")
    proc = subprocess.Popen([wh, "serve", "--data", data, "--listen", "127.0.0.1:0", *extra], stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    err.close()
    lines = queue.Queue()

    def pump():
        # Copy stdout to a log for the whole life of the server, so the pipe never fills.
        with open(out_log, "wb") as log:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                lines.put(line.decode(errors="replace"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    server = Server("hub", proc)
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = ""
        if line is None or time.monotonic() > deadline:
            server.close()
            why = "exited" if line is None else f"printed no 'listening on' line in {timeout} s"
            sys.exit(f"wh serve {why}; stderr:\n{tail(err_log)}")
        m = re.search(r"listening on (https?://\S+)", line)
        if m:
            return server, m.group(1).rstrip("/")


def start_nginx(nginx, blob, small_dir, tmp, sendfile=True):
    """nginx with Debian's default transfer settings, serving the folder holding `blob` at / and
    small_dir at /__small/. Returns (server, base URL)."""
    port = free_port()
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(tmp, d), exist_ok=True)
    user = ""
    if os.geteuid() == 0:
        # Workers as root, so that they can read the blob wherever the data folder is.
        user = "user root;"
    mime = "include /etc/nginx/mime.types;" if os.path.exists("/etc/nginx/mime.types") else ""
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
{user}
worker_processes auto;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    {"sendfile on;" if sendfile else "sendfile off; output_buffers 2 1m;"}
    tcp_nopush on;
    types_hash_max_size 2048;
    {mime}
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {os.path.dirname(os.path.abspath(blob))};
        location /__small/ {{ alias {os.path.abspath(small_dir)}/; }}
    }}
}}
""")
    proc = subprocess.Popen([nginx, "-p", tmp, "-e", os.path.join(tmp, "error.log"), "-c", conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "nginx.stderr.log"), "wb"))
    server = Server("nginx", proc)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    server.close()
    sys.exit(f"nginx did not start:\n{tail(os.path.join(tmp, 'nginx.stderr.log'))}{tail(os.path.join(tmp, 'error.log'))}")


# --- HTTP --------------------------------------------------------------------------------------

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, headers=None, expect=(200, 201, 202, 204)):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=300) as r:
            status, data = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    if expect and status not in expect:
        sys.exit(f"{method} {url} -> {status}: {data[:2000].decode(errors='replace')}")
    return status, data


def post_json(url, obj, token=None, content_type="application/json", accept=None):
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    if token:
        headers["Authorization"] = f"Bearer {token}"
    _, data = http("POST", url, json.dumps(obj).encode(), headers)
    return json.loads(data) if data.strip() else None


CURL = ["curl", "-sS", "--noproxy", "*"]


def curl_get(url, headers=(), range_=None):
    """Start a curl GET to /dev/null; returns the Popen (stdout: 'code bytes seconds')."""
    cmd = CURL + ["-L", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"]
    for h in headers:
        cmd += ["-H", h]
    if range_:
        cmd += ["-H", f"Range: bytes={range_[0]}-{range_[1]}"]
    return subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, text=True)


def finish(proc, want_code, want_bytes, what):
    out, _ = proc.communicate()
    parts = out.split()
    if proc.returncode != 0 or len(parts) != 3 or int(parts[0]) != want_code or int(parts[1]) != want_bytes:
        sys.exit(f"{what}: curl exit {proc.returncode}, got '{out}', want HTTP {want_code} with {want_bytes} bytes")


def fetch_single(url, size, headers, what):
    t = time.perf_counter()
    finish(curl_get(url, headers), 200, size, what)
    return time.perf_counter() - t


def fetch_ranges(url, size, parts, headers, what):
    step = -(-size // parts)
    ranges = [(a, min(a + step, size) - 1) for a in range(0, size, step)]
    t = time.perf_counter()
    procs = [curl_get(url, headers, r) for r in ranges]
    for p, (a, b) in zip(procs, ranges):
        finish(p, 206, b - a + 1, f"{what} range {a}-{b}")
    return time.perf_counter() - t


# --- wrk ---------------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def run_wrk(wrk, url, threads, connections, duration, headers, logpath):
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    r = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(logpath, "w") as f:
        f.write(r.stdout)
    if r.returncode != 0:
        sys.exit(f"wrk failed ({r.returncode}):\n{r.stdout}")
    out = r.stdout
    res = {"requests": None, "rps": None, "p50_ms": None, "p99_ms": None, "non_2xx_3xx": 0, "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}}
    if m := re.search(r"^\s*(\d+) requests in", out, re.M):
        res["requests"] = int(m.group(1))
    if m := re.search(r"^Requests/sec:\s*([0-9.]+)", out, re.M):
        res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s*{pct}(?:\.000)?%\s+(\S+)", out, re.M):
            res[key] = ms(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out):
        res["non_2xx_3xx"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    res["errors"] = res["non_2xx_3xx"] + sum(res["socket_errors"].values())
    return res


# --- the hub -----------------------------------------------------------------------------------

SMALL_FILES = {
    "config.json": json.dumps(
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_attention_heads": 32,
            "num_hidden_layers": 32,
            "num_key_value_heads": 32,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-05,
            "rope_theta": 10000.0,
            "vocab_size": 32000,
            "torch_dtype": "bfloat16",
            "bos_token_id": 1,
            "eos_token_id": 2,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
            "initializer_range": 0.02,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "pretraining_tp": 1,
            "use_cache": True,
            "transformers_version": "4.40.0",
            "_name_or_path": "weighhouse/bench",
            "rope_scaling": None,
            "comment": "hub benchmark fixture " + "x" * 300,
        },
        indent=2,
    ).encode(),
    "generation_config.json": b'{\n  "bos_token_id": 1,\n  "eos_token_id": 2,\n  "max_length": 4096\n}\n',
    "README.md": b"---\nlicense: apache-2.0\n---\n\n# bench\n\nRandom bytes for the hub benchmark.\n",
}


def create_user(wh, data):
    r = subprocess.run([wh, "admin", "user", "create", "bench", "--data", data], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"wh admin user create failed ({r.returncode}):\n{r.stderr}{r.stdout}")
    lines = [l.strip() for l in r.stdout.splitlines() if l.strip()]
    if not lines:
        sys.exit("wh admin user create printed no token")
    return lines[-1]


def put_sendfile(href, src, size):
    """PUT src to href over a plain HTTP/1.1 connection, sending the body with sendfile(2) so the
    client spends almost no CPU (curl copies the file twice through user space, which on a 2-core
    machine takes CPU the server needs). Returns the wall seconds from the first byte sent to the
    end of the response."""
    u = urllib.parse.urlsplit(href)
    target = u.path + (f"?{u.query}" if u.query else "")
    head = f"PUT {target} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {size}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
    with socket.create_connection((u.hostname, u.port)) as s, open(src, "rb") as f:
        t = time.perf_counter()
        s.sendall(head.encode())
        s.sendfile(f)
        resp = b""
        while chunk := s.recv(65536):
            resp += chunk
        wall = time.perf_counter() - t
    status = resp.split(b"\r\n", 1)[0].decode(errors="replace")
    if not re.match(r"HTTP/1\.1 2\d\d", status):
        sys.exit(f"PUT {href}: {status}: {resp[-500:]!r}")
    return wall


def upload(base, token, src, oid, size, logdir, runs):
    """Create the repo, upload src through the LFS basic transfer, timing the PUT (`runs` times
    with a sendfile client: each PUT is received, hashed, checked and published again; once with
    curl), and commit it with the small files. Returns the sendfile PUT times and curl's time."""
    post_json(f"{base}/api/repos/create", {"name": "bench", "organization": None}, token)
    lfs = "application/vnd.git-lfs+json"
    batch = post_json(
        f"{base}/bench/bench.git/info/lfs/objects/batch",
        {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": size}], "hash_algo": "sha256", "ref": {"name": "main"}},
        token,
        content_type=lfs,
        accept=lfs,
    )
    obj = batch["objects"][0]
    if "error" in obj:
        sys.exit(f"LFS batch refused the object: {obj['error']}")
    actions = obj.get("actions") or {}
    if "upload" not in actions:
        sys.exit("LFS batch returned no upload action (is the object already stored? remove the data folder)")
    up = actions["upload"]
    href = urllib.parse.urljoin(base + "/", up["href"])
    resp = os.path.join(logdir, "put.response")
    cmd = CURL + ["-T", src, "-H", "Expect:", "-H", "Content-Type: application/octet-stream", "-o", resp, "-w", "%{http_code} %{size_upload} %{time_total}"]
    for k, v in (up.get("header") or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    subprocess.run(["sync"], check=True)
    t = time.perf_counter()
    r = subprocess.run(cmd + [href], stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    parts = r.stdout.split()
    if r.returncode != 0 or len(parts) != 3 or not 200 <= int(parts[0]) < 300 or int(parts[1]) != size:
        sys.exit(f"PUT {href}: curl exit {r.returncode}, '{r.stdout}': {tail(resp)}")
    times = []
    for _ in range(runs):
        subprocess.run(["sync"], check=True)
        times.append(put_sendfile(href, src, size))
    if "verify" in actions:
        v = actions["verify"]
        headers = {"Content-Type": lfs, "Accept": lfs, "Authorization": f"Bearer {token}"}
        headers.update(v.get("header") or {})
        http("POST", urllib.parse.urljoin(base + "/", v["href"]), json.dumps({"oid": oid, "size": size}).encode(), headers)
    lines = [
        {"key": "header", "value": {"summary": "add", "description": ""}},
        {"key": "lfsFile", "value": {"path": "model.bin", "algo": "sha256", "oid": oid, "size": size}},
    ]
    for path, content in SMALL_FILES.items():
        lines.append({"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}})
    body = "".join(json.dumps(l) + "\n" for l in lines).encode()
    http("POST", f"{base}/api/models/bench/bench/commit/main", body, {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {token}"})
    return times, wall


def find_blob(data, size, oid):
    """The file under data the hub serves: size equal to the upload, named after its oid if several."""
    found = []
    for root, _, files in os.walk(data):
        for name in files:
            p = os.path.join(root, name)
            try:
                if os.path.getsize(p) == size and not os.path.islink(p):
                    found.append(p)
            except OSError:
                pass
    found.sort(key=lambda p: (oid not in p, p))
    return found[0] if found else None


def download_headers(url, token):
    """[] when resolve works without credentials, else the Authorization header it needs."""
    status, _ = http("GET", url, headers={"Range": "bytes=0-0"}, expect=None)
    if 200 <= status < 300:
        return []
    auth = f"Bearer {token}"
    status2, body = http("GET", url, headers={"Range": "bytes=0-0", "Authorization": auth}, expect=None)
    if not 200 <= status2 < 300:
        sys.exit(f"GET {url} -> {status} without the token, {status2} with it: {body[:2000].decode(errors='replace')}")
    say(f"  note: anonymous resolve answered {status}; downloads send the token")
    return [f"Authorization: {auth}"]


def check_bytes(url, src, size, headers):
    """The first and last MiB through resolve equal the source file's."""
    hdrs = dict(h.split(": ", 1) for h in headers)
    with open(src, "rb") as f:
        for a in (0, max(0, size - CHUNK)):
            b = min(size, a + CHUNK) - 1
            f.seek(a)
            want = f.read(b - a + 1)
            _, got = http("GET", url, headers=dict(hdrs, Range=f"bytes={a}-{b}"), expect=(206,))
            if got != want:
                sys.exit(f"resolve returned wrong bytes for range {a}-{b}")


# --- main --------------------------------------------------------------------------------------


def summarize(times, nbytes):
    best, med = min(times), statistics.median(times)
    return {"best_gbps": gbps(nbytes, best), "median_gbps": gbps(nbytes, med), "seconds": [round(t, 4) for t in times]}


def main():
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wh", default=default_wh(), help="the wh binary (default $CARGO_TARGET_DIR/release/wh)")
    ap.add_argument("--size", type=parse_size, default=2 << 30, help="size of the large file (default 2GiB)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each download measurement (default 3)")
    ap.add_argument("--duration", type=int, default=30, help="seconds of each wrk run (default 30)")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--parts", type=int, default=4, help="parallel range requests (default 4)")
    ap.add_argument("--hub-arg", action="append", default=[], metavar="ARG", help="extra argument to wh serve, repeatable (e.g. --hub-arg=--no-fsync)")
    ap.add_argument("--out", default=os.path.join(HERE, "out", "hub"), help="work folder (default bench/out/hub)")
    ap.add_argument("--skip-upload", action="store_true", help="reuse the data folder, token and file of the previous run")
    ap.add_argument("--skip-download", action="store_true")
    ap.add_argument("--skip-ranges", action="store_true")
    ap.add_argument("--skip-wrk", action="store_true")
    ap.add_argument("--skip-nginx-wrk", action="store_true", help="no wrk reference run against nginx")
    ap.add_argument("--json", action="store_true", help="print a JSON summary on stdout (the table goes to stderr)")
    a = ap.parse_args()
    if a.json:
        LOG = sys.stderr

    # SIGTERM unwinds like Ctrl-C, so the servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not (os.path.isfile(a.wh) and os.access(a.wh, os.X_OK)):
        sys.exit(f"no wh binary at {a.wh} (build it: cargo build --release -p weighhouse-cli, or pass --wh)")
    ensure_tool("curl", "curl")
    nginx = ensure_tool("nginx", "nginx") if not (a.skip_download and a.skip_ranges and (a.skip_wrk or a.skip_nginx_wrk)) else None
    wrk = ensure_tool("wrk", "wrk") if not a.skip_wrk else None
    nofile = raise_nofile(max(65536, 4 * a.connections))

    out = os.path.abspath(a.out)
    data = os.path.join(out, "data")
    src = os.path.join(out, "model.bin")
    state_path = os.path.join(out, "state.json")
    os.makedirs(out, exist_ok=True)
    summary = {"machine": {"cpus": os.cpu_count(), "loadavg_start": loadavg(), "nofile": nofile}}
    say(f"machine: {os.cpu_count()} CPUs, load average at start {summary['machine']['loadavg_start']}")

    servers = []
    tmp = tempfile.mkdtemp(prefix="hub_bench_")
    try:
        # --- the file and the SHA-256 baseline ---
        if a.skip_upload:
            if not os.path.exists(state_path):
                sys.exit(f"--skip-upload needs {state_path} from an earlier run")
            with open(state_path) as f:
                state = json.load(f)
            token, oid, size = state["token"], state["oid"], state["size"]
            if not os.path.exists(src) or os.path.getsize(src) != size:
                sys.exit(f"--skip-upload: {src} is not the {size}-byte file of the earlier run")
        else:
            size = a.size
            if make_random_file(src, size):
                subprocess.run(["sync"], check=True)
        read_through(src)
        hashes = [sha256_file(src) for _ in range(3)]
        if a.skip_upload and hashes[0][0] != oid:
            sys.exit(f"{src} no longer has the digest of the earlier run's upload")
        oid = hashes[0][0]
        sha_best = min(t for _, t in hashes)
        summary["size"] = size
        summary["sha256"] = {"gbps": gbps(size, sha_best), "seconds": [round(t, 4) for _, t in hashes]}
        say(f"file: {size} bytes ({size / (1 << 30):.2f} GiB), sha256 {oid}")
        say(f"sha256 (hashlib, 1 MiB reads, page cache): best {sha_best:.3f} s  ({gbps(size, sha_best):.2f} GB/s)")

        # --- upload ---
        if not a.skip_upload:
            if os.path.exists(data):
                shutil.rmtree(data)
            os.makedirs(data)
            token = create_user(a.wh, data)
        hub, base = start_hub(a.wh, data, out, a.hub_arg)
        servers.append(hub)
        say(f"hub: {base}" + (f" (wh serve {' '.join(a.hub_arg)})" if a.hub_arg else ""))
        summary["hub_args"] = a.hub_arg
        if not a.skip_upload:
            times, curl_wall = upload(base, token, src, oid, size, out, a.runs)
            with open(state_path, "w") as f:
                json.dump({"token": token, "oid": oid, "size": size}, f)
            best, median = min(times), statistics.median(times)
            ratio = gbps(size, best) / gbps(size, sha_best)
            ratio_median = gbps(size, median) / gbps(size, sha_best)
            summary["upload"] = {
                "seconds": [round(t, 4) for t in times],
                "gbps_best": gbps(size, best),
                "gbps_median": gbps(size, median),
                "ratio_vs_sha256": ratio,
                "ratio_median_vs_sha256": ratio_median,
                "curl_seconds": round(curl_wall, 4),
                "curl_gbps": gbps(size, curl_wall),
                "goal": GOAL_UPLOAD,
            }
            say(f"upload (LFS basic PUT, sendfile client, best/median of {len(times)}): {gbps(size, best):.2f} / {gbps(size, median):.2f} GB/s")
            say(f"  ratio upload/sha256: best {ratio:.2f}, median {ratio_median:.2f}  (goal >= {GOAL_UPLOAD})")
            say(f"  the same PUT with curl (copies the file through user space): {gbps(size, curl_wall):.2f} GB/s")
        subprocess.run(["sync"], check=True)

        url = f"{base}/bench/bench/resolve/main/model.bin"
        small_url = f"{base}/bench/bench/resolve/main/config.json"
        headers = download_headers(url, token)
        check_bytes(url, src, size, headers)
        _, got = http("GET", small_url, headers=dict(h.split(": ", 1) for h in headers))
        if got != SMALL_FILES["config.json"]:
            sys.exit("resolve of config.json returned other bytes than were committed")

        # --- nginx on the blob the hub stored ---
        blob = find_blob(data, size, oid)
        if blob is None:
            say(f"  note: no {size}-byte file under {data}; nginx serves the source file instead")
            blob = src
        summary["blob"] = blob
        small_dir = os.path.join(tmp, "small")
        os.makedirs(small_dir)
        with open(os.path.join(small_dir, "config.json"), "wb") as f:
            f.write(SMALL_FILES["config.json"])
        if nginx:
            ngx, nbase = start_nginx(nginx, blob, small_dir, tmp)
            servers.append(ngx)
            nurl = f"{nbase}/{os.path.basename(blob)}"
            nsmall = f"{nbase}/__small/config.json"
            say(f"nginx: {nbase}, serving {blob}")
            # A second nginx with sendfile off and 1 MiB buffers, faster on loopback than Debian's
            # defaults: a stricter reference, reported beside the goal's baseline.
            tmp2 = os.path.join(tmp, "nginx-buffered")
            os.makedirs(tmp2)
            ngx2, nbase2 = start_nginx(nginx, blob, small_dir, tmp2, sendfile=False)
            servers.append(ngx2)
            nurl2 = f"{nbase2}/{os.path.basename(blob)}"
        read_through(blob)

        # --- one stream ---
        if not a.skip_download:
            hub_t, ngx_t, ngx2_t = [], [], []
            for _ in range(a.runs):
                hub_t.append(fetch_single(url, size, headers, "hub resolve"))
                ngx_t.append(fetch_single(nurl, size, [], "nginx"))
                ngx2_t.append(fetch_single(nurl2, size, [], "nginx (sendfile off)"))
            h, n = summarize(hub_t, size), summarize(ngx_t, size)
            rb, rm = h["best_gbps"] / n["best_gbps"], h["median_gbps"] / n["median_gbps"]
            n2 = summarize(ngx2_t, size)
            summary["download"] = {"hub": h, "nginx": n, "ratio_best": rb, "ratio_median": rm, "goal": GOAL_DOWNLOAD,
                                   "nginx_sendfile_off": n2, "ratio_best_vs_sendfile_off": h["best_gbps"] / n2["best_gbps"]}
            say(f"download, 1 stream (curl, best/median of {a.runs}):")
            say(f"  hub resolve: {h['best_gbps']:.2f} / {h['median_gbps']:.2f} GB/s  runs {h['seconds']}")
            say(f"  nginx:       {n['best_gbps']:.2f} / {n['median_gbps']:.2f} GB/s  runs {n['seconds']}")
            say(f"  ratio hub/nginx: best {rb:.2f}, median {rm:.2f}  (goal >= {GOAL_DOWNLOAD})")
            say(f"  nginx, sendfile off: {n2['best_gbps']:.2f} / {n2['median_gbps']:.2f} GB/s; hub/that best {h['best_gbps'] / n2['best_gbps']:.2f}")

        # --- parallel ranges ---
        if not a.skip_ranges:
            hub_t, ngx_t, ngx2_t = [], [], []
            for _ in range(a.runs):
                hub_t.append(fetch_ranges(url, size, a.parts, headers, "hub resolve"))
                ngx_t.append(fetch_ranges(nurl, size, a.parts, [], "nginx"))
                ngx2_t.append(fetch_ranges(nurl2, size, a.parts, [], "nginx (sendfile off)"))
            h, n = summarize(hub_t, size), summarize(ngx_t, size)
            rb, rm = h["best_gbps"] / n["best_gbps"], h["median_gbps"] / n["median_gbps"]
            n2 = summarize(ngx2_t, size)
            summary["ranges"] = {"parts": a.parts, "hub": h, "nginx": n, "ratio_best": rb, "ratio_median": rm, "goal": GOAL_RANGES,
                                 "nginx_sendfile_off": n2, "ratio_best_vs_sendfile_off": h["best_gbps"] / n2["best_gbps"]}
            say(f"download, {a.parts} parallel ranges (curl, best/median of {a.runs}):")
            say(f"  hub resolve: {h['best_gbps']:.2f} / {h['median_gbps']:.2f} GB/s  runs {h['seconds']}")
            say(f"  nginx:       {n['best_gbps']:.2f} / {n['median_gbps']:.2f} GB/s  runs {n['seconds']}")
            say(f"  ratio hub/nginx: best {rb:.2f}, median {rm:.2f}  (goal >= {GOAL_RANGES})")
            say(f"  nginx, sendfile off: {n2['best_gbps']:.2f} / {n2['median_gbps']:.2f} GB/s; hub/that best {h['best_gbps'] / n2['best_gbps']:.2f}")

        # --- many clients, small file ---
        if not a.skip_wrk:
            say(f"small file ({len(SMALL_FILES['config.json'])} B config.json), wrk -t{a.threads} -c{a.connections} -d{a.duration}s:")
            rows = {"hub": run_wrk(wrk, small_url, a.threads, a.connections, a.duration, headers, os.path.join(out, "wrk.hub.txt"))}
            if nginx and not a.skip_nginx_wrk:
                rows["nginx"] = run_wrk(wrk, nsmall, a.threads, a.connections, a.duration, [], os.path.join(out, "wrk.nginx.txt"))
            for name, r in rows.items():
                se = r["socket_errors"]
                say(
                    f"  {name + ':':6} {r['rps'] or 0:10.0f} req/s  p50 {r['p50_ms'] or 0:.2f} ms  p99 {r['p99_ms'] or 0:.2f} ms  "
                    f"non-2xx/3xx {r['non_2xx_3xx']}  socket errors connect {se['connect']} read {se['read']} write {se['write']} timeout {se['timeout']}"
                )
            summary["small"] = dict(rows, duration_s=a.duration, connections=a.connections)
            if "nginx" in rows and rows["nginx"]["rps"]:
                summary["small"]["ratio_rps"] = rows["hub"]["rps"] / rows["nginx"]["rps"]
                say(f"  ratio hub/nginx req/s: {summary['small']['ratio_rps']:.2f}  (reference; goal for the hub: 0 errors)")
            else:
                say("  goal for the hub: 0 errors")
            if not hub.alive():
                sys.exit(f"the hub exited during the run; stderr:\n{tail(os.path.join(out, 'hub.stderr.log'))}")
    finally:
        for s in reversed(servers):
            s.close()
        shutil.rmtree(tmp, ignore_errors=True)
    summary["machine"]["loadavg_end"] = loadavg()
    say(f"load average at end {summary['machine']['loadavg_end']} (a shared 2-core machine makes every figure noisy)")
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    if a.json:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
