#!/usr/bin/env python3
"""Benchmarks of `wh hash`, `wh sign` and `wh verify` against their baselines, in the same run.

* one file: `wh hash FILE` on one file of random bytes (default 2 GiB) against
  `openssl dgst -sha256` of the same file (SHA-NI, one core), page cache warm, best of N runs
  each, interleaved. Goal: throughput ratio wh/openssl >= 0.9 (one file is one SHA-256 stream,
  so one core is the ceiling).
* folder: `wh hash DIR` on a folder of 4 files of 512 MiB (the same total size) against the
  single-core openssl figure of the one-file measurement. Goal: ratio >= 1.6 (the files are
  hashed in parallel). `openssl dgst -sha256` over the four files in one process is shown too.
* sign + verify: `wh sign` then `wh verify` of that folder with a P-256 key, end to end, against
  `model_signing sign key` then `model_signing verify key` (model-signing 1.1.1, the reference
  tool) on the same folder. Goal: speedup >= 1.5. Both bundles are written outside the folder.

Wall times are the measure; user+sys CPU seconds of each child are reported beside them, as they
are steadier on a shared machine. The load average is printed at the start and the end.

usage: bench/integrity_bench.py [--size 2GiB] [--files 4] [--file-size 512MiB] [--runs 3]
                                [--wh PATH] [--model-signing PATH] [--out bench/out/integrity]
                                [--skip-model-signing] [--json]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHUNK = 1 << 20
GOAL_FILE = 0.9
GOAL_FOLDER = 1.6
GOAL_SIGN_VERIFY = 1.5

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


def read_through(*paths):
    """Read the files once so that they are in the page cache."""
    buf = bytearray(16 * CHUNK)
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


# --- timing ------------------------------------------------------------------------------------


class Run:
    def __init__(self, seconds, cpu, stdout, stderr):
        self.seconds, self.cpu, self.stdout, self.stderr = seconds, cpu, stdout, stderr


def timed(cmd, what, cwd=None):
    """Run cmd once: wall seconds, user+sys CPU seconds of the child (wait4), and its output.
    Exits with the output if the command fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if p.returncode != 0:
        sys.exit(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n{stdout}{stderr}")
    return Run(dt, ru.ru_utime + ru.ru_stime, stdout, stderr)


def summarize(runs, nbytes=None):
    best = min(runs, key=lambda r: r.seconds)
    d = {
        "seconds": [round(r.seconds, 4) for r in runs],
        "cpu_seconds": [round(r.cpu, 4) for r in runs],
        "best_seconds": round(best.seconds, 4),
        "best_cpu_seconds": round(min(r.cpu for r in runs), 4),
    }
    if nbytes:
        d["best_gbps"] = gbps(nbytes, best.seconds)
    return d


def fmt(d, nbytes=None):
    s = f"best {d['best_seconds']:.3f} s"
    if nbytes:
        s += f" ({d['best_gbps']:.2f} GB/s)"
    return s + f", CPU {d['best_cpu_seconds']:.2f} s  runs {d['seconds']}"


def openssl_digest(stdout):
    """{file name: hex} from `openssl dgst -sha256` output lines `SHA2-256(name)= hex`."""
    out = {}
    for line in stdout.splitlines():
        m = re.fullmatch(r"SHA2?-?256\((.*)\)= ([0-9a-f]{64})", line.strip())
        if m:
            out[os.path.basename(m.group(1))] = m.group(2)
    return out


# --- main --------------------------------------------------------------------------------------


def main():
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wh", default=default_wh(), help="the wh binary (default $CARGO_TARGET_DIR/release/wh)")
    ap.add_argument("--model-signing", default=os.path.join(ROOT, ".venv", "bin", "model_signing"),
                    help="the model_signing 1.1.1 console script (default .venv/bin/model_signing)")
    ap.add_argument("--openssl", default=shutil.which("openssl") or "openssl")
    ap.add_argument("--size", type=parse_size, default=2 << 30, help="size of the single file (default 2GiB)")
    ap.add_argument("--files", type=int, default=4, help="files in the folder (default 4)")
    ap.add_argument("--file-size", type=parse_size, default=512 << 20, help="size of each file in the folder (default 512MiB)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each measurement, best taken (default 3)")
    ap.add_argument("--out", default=os.path.join(HERE, "out", "integrity"), help="work folder (default bench/out/integrity)")
    ap.add_argument("--skip-model-signing", action="store_true", help="no sign + verify comparison")
    ap.add_argument("--json", action="store_true", help="print a JSON summary on stdout (the table goes to stderr)")
    a = ap.parse_args()
    if a.json:
        LOG = sys.stderr

    if not (os.path.isfile(a.wh) and os.access(a.wh, os.X_OK)):
        sys.exit(f"no wh binary at {a.wh} (build it: cargo build --release -p weighhouse-cli, or pass --wh)")
    if subprocess.run([a.wh, "sign", "--help"], capture_output=True).returncode != 0:
        sys.exit(f"{a.wh} has no `sign` command: rebuild it")
    if not shutil.which(a.openssl):
        sys.exit("openssl not found (apt-get install -y openssl)")
    ms = None
    if not a.skip_model_signing:
        if not (os.path.isfile(a.model_signing) and os.access(a.model_signing, os.X_OK)):
            sys.exit(f"no model_signing at {a.model_signing}: pip install -r tests/interop/requirements.txt into .venv, "
                     "pass --model-signing, or --skip-model-signing")
        ms = a.model_signing

    out = os.path.abspath(a.out)
    folder = os.path.join(out, "folder")
    os.makedirs(folder, exist_ok=True)
    summary = {"machine": {"cpus": os.cpu_count(), "loadavg_start": loadavg()}, "wh": a.wh, "runs": a.runs}
    say(f"machine: {os.cpu_count()} CPUs, load average at start {summary['machine']['loadavg_start']}")
    say(f"openssl: {subprocess.run([a.openssl, 'version'], capture_output=True, text=True).stdout.strip()}")

    # --- data ---
    one = os.path.join(out, f"one-{a.size}.bin")
    parts = [os.path.join(folder, f"part-{i + 1:02d}-of-{a.files:02d}.bin") for i in range(a.files)]
    for f in os.listdir(folder):
        if os.path.join(folder, f) not in parts:
            p = os.path.join(folder, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    wrote = make_random_file(one, a.size)
    for p in parts:
        wrote = make_random_file(p, a.file_size) or wrote
    if wrote:
        subprocess.run(["sync"], check=True)
    folder_bytes = a.files * a.file_size
    summary["size"] = a.size
    summary["folder"] = {"files": a.files, "file_size": a.file_size, "bytes": folder_bytes}

    # --- (a) one file: openssl vs wh hash ---
    read_through(one)
    ossl, whf = [], []
    for _ in range(a.runs):
        ossl.append(timed([a.openssl, "dgst", "-sha256", one], "openssl dgst"))
        whf.append(timed([a.wh, "-q", "hash", one], "wh hash"))
    want = openssl_digest(ossl[0].stdout).get(os.path.basename(one))
    got = whf[0].stdout.split()[0] if whf[0].stdout.split() else None
    if want is None or got != want:
        sys.exit(f"wh hash gives {got} for {one}, openssl {want}")
    o, w = summarize(ossl, a.size), summarize(whf, a.size)
    ratio_a = w["best_gbps"] / o["best_gbps"]
    summary["file"] = {"openssl": o, "wh_hash": w, "ratio": ratio_a, "goal": GOAL_FILE}
    say(f"one file, {a.size / (1 << 30):.2f} GiB, page cache warm (best of {a.runs}):")
    say(f"  openssl dgst -sha256: {fmt(o, a.size)}")
    say(f"  wh hash FILE:         {fmt(w, a.size)}")
    say(f"  ratio wh/openssl: {ratio_a:.2f}  (goal >= {GOAL_FILE})")

    # --- (b) folder: wh hash vs the single-core openssl figure ---
    read_through(*parts)
    whd, ossld = [], []
    for _ in range(a.runs):
        whd.append(timed([a.wh, "-q", "hash", folder], "wh hash"))
        ossld.append(timed([a.openssl, "dgst", "-sha256", *parts], "openssl dgst"))
    want = openssl_digest(ossld[0].stdout)
    got = {}
    for line in whd[0].stdout.splitlines():
        fields = line.split("  ", 1)
        if len(fields) == 2 and re.fullmatch(r"[0-9a-f]{64}", fields[0]):
            got[fields[1]] = fields[0]
    if got != want:
        sys.exit(f"wh hash of the folder gives {got}, openssl {want}")
    wd, od = summarize(whd, folder_bytes), summarize(ossld, folder_bytes)
    ratio_b = wd["best_gbps"] / o["best_gbps"]
    summary["folder"].update({"wh_hash": wd, "openssl_sequential": od, "ratio_vs_single_core": ratio_b, "goal": GOAL_FOLDER})
    say(f"folder, {a.files} x {a.file_size / (1 << 20):.0f} MiB (best of {a.runs}):")
    say(f"  wh hash DIR:                    {fmt(wd, folder_bytes)}")
    say(f"  openssl dgst over the files:    {fmt(od, folder_bytes)}  (one process, reference)")
    say(f"  ratio wh / single-core openssl (one-file figure): {ratio_b:.2f}  (goal >= {GOAL_FOLDER})")

    # --- (c) sign + verify, end to end ---
    if ms:
        keydir = os.path.join(out, "keys")
        os.makedirs(keydir, exist_ok=True)
        key, pub = os.path.join(keydir, "p256.pem"), os.path.join(keydir, "p256.pub.pem")
        if not (os.path.exists(key) and os.path.exists(pub)):
            ec = subprocess.run([a.openssl, "ecparam", "-name", "prime256v1", "-genkey", "-noout"], check=True, capture_output=True).stdout
            subprocess.run([a.openssl, "pkcs8", "-topk8", "-nocrypt", "-out", key], input=ec, check=True)
            subprocess.run([a.openssl, "ec", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
        wh_sig, ms_sig = os.path.join(out, "wh.sig"), os.path.join(out, "ms.sig")
        read_through(*parts)
        rows = {"wh": [], "model_signing": []}
        for _ in range(a.runs):
            s = timed([a.wh, "-q", "sign", folder, "--private-key", key, "--signature", wh_sig], "wh sign")
            v = timed([a.wh, "-q", "verify", folder, "--public-key", pub, "--signature", wh_sig], "wh verify")
            rows["wh"].append((s, v))
            s = timed([ms, "sign", "key", folder, "--private_key", key, "--signature", ms_sig], "model_signing sign key", cwd=out)
            v = timed([ms, "verify", "key", folder, "--public_key", pub, "--signature", ms_sig], "model_signing verify key", cwd=out)
            rows["model_signing"].append((s, v))
        res = {}
        for name, rs in rows.items():
            total = [Run(s.seconds + v.seconds, s.cpu + v.cpu, "", "") for s, v in rs]
            res[name] = {"sign": summarize([s for s, _ in rs]), "verify": summarize([v for _, v in rs]), "total": summarize(total)}
        speedup = res["model_signing"]["total"]["best_seconds"] / res["wh"]["total"]["best_seconds"]
        summary["sign_verify"] = dict(res, speedup=speedup, goal=GOAL_SIGN_VERIFY, key="P-256")
        say(f"sign + verify of the folder, P-256 key, end to end (best of {a.runs}):")
        for name, label in (("wh", "wh sign + wh verify"), ("model_signing", "model_signing sign key + verify key")):
            r = res[name]
            say(f"  {label}: total {fmt(r['total'])}")
            say(f"      sign {r['sign']['best_seconds']:.3f} s, verify {r['verify']['best_seconds']:.3f} s")
        say(f"  speedup wh over model_signing: {speedup:.2f}  (goal >= {GOAL_SIGN_VERIFY})")

    summary["machine"]["loadavg_end"] = loadavg()
    say(f"load average at end {summary['machine']['loadavg_end']} (a shared 2-core machine makes every figure noisy)")
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    if a.json:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
