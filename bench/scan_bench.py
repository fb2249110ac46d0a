#!/usr/bin/env python3
"""Benchmark of `wh scan` against picklescan, modelscan and fickling, in the same run.

* detection: every file of the scan corpus (default tests/fixtures/reference/scan, 60 malicious and 52
  benign entries listed in its manifest.json) gets one verdict per tool: flagged, not flagged or
  error; `wh scan` also says "incomplete" (it could not read everything and found nothing at or
  above high). The tools are run as bench/README.md describes and their verdicts
  read the same way:
    - picklescan 1.0.5: `picklescan --path FILE`, one process per file (file mode: directory mode
      skips .npy and extension-less files); flagged when its summary counts a dangerous global,
      even when it exits 2; otherwise exit 2 is an error.
    - modelscan 0.8.8: `modelscan -p CORPUS -r json -o FILE`, one process; a file is flagged when
      an issue's source is the file or one of its members, an error when only errors are.
    - fickling 0.1.12: `fickling --check-safety FILE`, one process per file; exit 1 flagged, exit
      2 error; a Python traceback (it crashes on some pickles and then exits 1) is an error.
    - wh: `wh scan --json CORPUS`, one process; each file's `verdict` (unsafe / safe / incomplete).
  SavedModel entries are folders: flagged if any file inside is, else incomplete / error if any
  file inside is. Prints a table per tool, a combined table, and wh's misses, incompletes and false
  positives by id.
* speed: each tool over the whole corpus, process start included, best and median of --runs,
  interleaved: `wh scan CORPUS`, `picklescan --path CORPUS` and `modelscan -p CORPUS` as one process
  each; fickling takes one file per process, so its time is the total of one process per file.
  Goal: picklescan time / wh time >= 10. Then `wh scan` on the 4.9 MB pickle of a million integers
  (b48_big_list_1M.pkl), best of --big-runs, goal < 100 ms; picklescan on it for reference.

The three tools are installed into their own virtualenv (default bench/out/scan/venv) at the pinned
versions; when a pin is not available the closest version is used and named. The load average is
printed at the start and the end.

usage: bench/scan_bench.py [--wh PATH] [--corpus DIR] [--runs 3] [--big-runs 10]
                           [--tools picklescan,modelscan,fickling,wh] [--venv DIR] [--skip-install]
                           [--pip-extra SPEC] [--out bench/out/scan] [--json]
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PINS = {"picklescan": "1.0.5", "modelscan": "0.8.8", "fickling": "0.1.12"}
TOOLS = ("picklescan", "modelscan", "fickling", "wh")
GOAL_SPEEDUP = 10.0
GOAL_BIG_MS = 100.0
BIG_ID = "b48_big_list_1M"

# What scanning.md §6 and Appendix B measured, for reference beside this run, converted to the 52
# shipped benign files (b28 is not shipped: picklescan and modelscan said clean, the fickling CLI
# errored).
def spec_ref(tool, v):
    if tool == "picklescan":
        if v.get("py7zr"):
            return "33/60 D, 1 E; FP 2/52, 1 E"
        return "33/60 D, 1 E; FP 2/52, 1 E (m43 needs py7zr: E without it)"
    if tool == "modelscan":
        numpy1 = (v.get("numpy") or "2").split(".")[0] == "1"
        if v.get("tensorflow"):
            return "17/60 D, 11 E; FP 0/52, 7 E ([tensorflow,h5py], numpy 2.4)" if not numpy1 else "20/60 D, 8 E; FP 0/52, 2 E (best case)"
        if v.get("h5py"):
            return "18/60 D, 13 E; FP 0/52, 4 E ([h5py], numpy 1.26)" if numpy1 else "15/60 D, 16 E; FP 0/52, 9 E ([h5py], numpy 2.4)"
        return "15/60 D, 16 E; FP 0/52, 9 E with h5py (without: m51 D->E, m52 and b34/b35 ->E)"
    if tool == "fickling":
        return "41/60 D, 18 E; FP 30/52, 17 E (b00, b12 crash: E here)"
    return "goal 60/60, FP 0/52"


# Human-readable output goes to stdout, or to stderr with --json (stdout then carries the JSON).
LOG = sys.stdout


def say(*args):
    print(*args, file=LOG, flush=True)


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "weighhouse", "target")


def has_scan(wh):
    if not (os.path.isfile(wh) and os.access(wh, os.X_OK)):
        return False
    return subprocess.run([wh, "scan", "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def find_wh(explicit):
    """The wh binary: --wh if given, else release, else debug (each must have `scan`)."""
    if explicit:
        if not has_scan(explicit):
            sys.exit(f"{explicit} is not a wh binary with a `scan` command")
        return explicit, None
    release = os.path.join(target_dir(), "release", "wh")
    debug = os.path.join(target_dir(), "debug", "wh")
    if has_scan(release):
        return release, None
    if has_scan(debug):
        why = "missing" if not os.path.exists(release) else "without `scan`"
        return debug, f"release binary {release} {why}: using the DEBUG build, its timings mean little"
    sys.exit(f"no wh with a `scan` command at {release} or {debug} (cargo build --release -p weighhouse-cli, or pass --wh)")


# --- the virtualenv ----------------------------------------------------------------------------


def version_key(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:4])


def closest(want, available):
    """The available version nearest to want (by release components; ties go to the lower)."""
    w = version_key(want)
    width = max(len(w), *(len(version_key(v)) for v in available))
    pad = lambda k: k + (0,) * (width - len(k))
    scale = lambda k: sum(c * 1000 ** (width - i) for i, c in enumerate(pad(k)))
    return min(available, key=lambda v: (abs(scale(version_key(v)) - scale(w)), scale(version_key(v))))


def venv_versions(py):
    code = ("import importlib.metadata as m, json\n"
            "out = {}\n"
            f"for p in {list(PINS) + ['numpy', 'h5py', 'tensorflow', 'py7zr']!r}:\n"
            "    try: out[p] = m.version(p)\n"
            "    except m.PackageNotFoundError: out[p] = None\n"
            "print(json.dumps(out))")
    r = subprocess.run([py, "-c", code], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def pip(py, *args):
    return subprocess.run([py, "-m", "pip", "--disable-pip-version-check", *args], capture_output=True, text=True)


def cli_works(venv, tool):
    """(ok, missing module name or None) for `tool --help` from the venv."""
    r = subprocess.run([os.path.join(venv, "bin", tool), "--help"], capture_output=True, text=True)
    if r.returncode == 0:
        return True, None
    m = re.search(r"No module named '([^'.]+)", r.stderr)
    return False, m.group(1) if m else None


def ensure_venv(venv, tools, skip_install, extra):
    """Create the venv and install the pinned tools; returns {tool: installed version} and notes."""
    py = os.path.join(venv, "bin", "python")
    notes = []
    wanted = [t for t in tools if t in PINS]
    if skip_install:
        if not os.path.exists(py):
            sys.exit(f"--skip-install: no virtualenv at {venv}")
    else:
        if not os.path.exists(py):
            say(f"creating {venv} ...")
            subprocess.run(["python3", "-m", "venv", venv], check=True)
        have = venv_versions(py)
        todo = [t for t in wanted if have.get(t) != PINS[t]]
        if todo or extra:
            specs = [f"{t}=={PINS[t]}" for t in todo] + list(extra)
            say(f"pip install {' '.join(specs)} ...")
            r = pip(py, "install", "-q", *specs)
            if r.returncode != 0:
                # One at a time, falling back to the closest version pip can find.
                for t in todo:
                    if pip(py, "install", "-q", f"{t}=={PINS[t]}").returncode == 0:
                        continue
                    idx = pip(py, "index", "versions", t)
                    m = re.search(r"Available versions:\s*(.+)", idx.stdout)
                    if not m:
                        sys.exit(f"cannot install {t}=={PINS[t]} and pip lists no versions of it:\n{r.stderr[-2000:]}")
                    alt = closest(PINS[t], [v.strip() for v in m.group(1).split(",")])
                    note = f"{t}=={PINS[t]} is not available; using the closest, {t}=={alt}"
                    say("note: " + note)
                    notes.append(note)
                    r2 = pip(py, "install", "-q", f"{t}=={alt}")
                    if r2.returncode != 0:
                        sys.exit(f"pip install {t}=={alt} failed:\n{r2.stderr[-2000:]}")
                if extra:
                    r2 = pip(py, "install", "-q", *extra)
                    if r2.returncode != 0:
                        sys.exit(f"pip install {' '.join(extra)} failed:\n{r2.stderr[-2000:]}")
        # A release may import a module it does not declare (fickling 0.1.12 needs
        # typing_extensions): install what the CLI's traceback names, a few times at most.
        for t in wanted:
            for _ in range(3):
                ok, missing = cli_works(venv, t)
                if ok or not missing:
                    break
                note = f"{t} imports {missing} without declaring it: installed {missing}"
                say("note: " + note)
                notes.append(note)
                if pip(py, "install", "-q", missing).returncode != 0:
                    break
    for t in wanted:
        ok, missing = cli_works(venv, t)
        if not ok:
            sys.exit(f"{venv}/bin/{t} --help fails" + (f" (no module {missing})" if missing else "") + ": rerun without --skip-install")
    versions = venv_versions(py)
    for t in wanted:
        if versions.get(t) != PINS[t] and not any(n.startswith(f"{t}==") for n in notes):
            notes.append(f"{t} {versions.get(t)} installed, not the pinned {PINS[t]}")
            say("note: " + notes[-1])
    return versions, notes


# --- the corpus --------------------------------------------------------------------------------


class Entry:
    def __init__(self, rec, corpus):
        self.id, self.label, self.format = rec["id"], rec["label"], rec.get("format", "")
        self.expect = rec.get("expect")
        self.rel = rec["path"]
        path = os.path.join(corpus, rec["path"])
        parent = os.path.dirname(path)
        # SavedModel entries are folders; the manifest names the folder or the saved_model.pb in it.
        if os.path.isdir(path):
            self.target = path
        elif not os.path.basename(path).startswith(self.id) and os.path.basename(parent) == self.id:
            self.target = parent
        else:
            self.target = path
        self.is_dir = os.path.isdir(self.target)
        if self.is_dir:
            self.files = sorted(os.path.join(d, f) for d, _, fs in os.walk(self.target) for f in fs)
        else:
            self.files = [self.target]
        self.target_rel = os.path.relpath(self.target, corpus)

    def owns(self, rel):
        """Whether a corpus-relative path (or member path `file:member`) belongs to this entry."""
        return rel == self.target_rel or rel.startswith(self.target_rel + "/") or rel.startswith(self.target_rel + ":")


def load_corpus(corpus):
    mpath = os.path.join(corpus, "manifest.json")
    if not os.path.exists(mpath):
        sys.exit(f"no manifest.json in {corpus}")
    with open(mpath) as f:
        entries = [Entry(r, corpus) for r in json.load(f)]
    missing = [e.id for e in entries if not os.path.exists(e.target)]
    if missing:
        sys.exit(f"manifest entries missing from {corpus}: {', '.join(missing)}")
    return entries


# --- verdicts ----------------------------------------------------------------------------------

FLAGGED, CLEAN, ERROR, INCOMPLETE = "flagged", "clean", "error", "incomplete"


def combine(verdicts):
    """One verdict for a folder from those of its files: flagged > incomplete > error > clean."""
    for v in (FLAGGED, INCOMPLETE, ERROR):
        hits = [d for s, d in verdicts if s == v]
        if hits:
            return v, "; ".join(h for h in hits if h)[:300]
    return CLEAN, ""


def run_capture(cmd, cwd=None, timeout=None):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", cwd=cwd, timeout=timeout)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout} s"


def picklescan_verdict(exe, path, timeout):
    rc, out, err = run_capture([exe, "--path", path], timeout=timeout)
    text = out + err
    m = re.search(r"Dangerous globals:\s*(\d+)", text)
    dangerous = [l.split(": ", 1)[-1] for l in text.splitlines() if "dangerous import" in l]
    if m and int(m.group(1)) > 0:
        return FLAGGED, "; ".join(dangerous)[:300]
    if rc is None:
        return ERROR, err
    errors = [l for l in text.splitlines() if l.startswith("ERROR")]
    if rc == 0 and m:
        return CLEAN, ""
    if rc == 1 and m:
        return FLAGGED, "exit 1"
    return ERROR, (errors[0] if errors else f"exit {rc}: {text.strip()[-200:]}")[:300]


def fickling_cmd(exe, path, json_out):
    return [exe, "--check-safety", "--json-output", json_out, path]


def fickling_verdict(exe, path, workdir, timeout):
    fd, jpath = tempfile.mkstemp(prefix="fickling-", suffix=".json", dir=workdir)
    os.close(fd)
    try:
        rc, out, err = run_capture(fickling_cmd(exe, path, jpath), cwd=workdir, timeout=timeout)
    finally:
        os.remove(jpath)
    if rc is None:
        return ERROR, err
    if "Traceback (most recent call last)" in err:
        return ERROR, "crash: " + err.strip().splitlines()[-1][:250]
    if rc == 0:
        return CLEAN, ""
    if rc == 1:
        return FLAGGED, ""
    lines = [l for l in (out + err).splitlines() if l.strip()]
    return ERROR, (lines[0] if lines else f"exit {rc}")[:300]


def per_file(tool_fn, entries, jobs):
    """Run tool_fn(path) on every file of every entry in a thread pool; {id: (verdict, detail)}."""
    paths = sorted({p for e in entries for p in e.files})
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        got = dict(zip(paths, ex.map(tool_fn, paths)))
    return {e.id: (got[e.files[0]] if not e.is_dir else combine([got[p] for p in e.files])) for e in entries}


def modelscan_verdicts(exe, corpus, entries, out, timeout):
    report = os.path.join(out, "modelscan.json")
    if os.path.exists(report):
        os.remove(report)
    rc, sout, serr = run_capture([exe, "-p", corpus, "-r", "json", "-o", report], timeout=timeout)
    if not os.path.exists(report):
        why = f"modelscan wrote no report (exit {rc}): {(sout + serr).strip()[-300:]}"
        return {e.id: (ERROR, why) for e in entries}, None
    with open(report) as f:
        data = json.load(f)

    def owner(src):
        src = os.path.relpath(src, corpus) if os.path.isabs(src) else src
        for e in entries:
            if e.owns(src):
                return e.id
        return None

    issues, errors = {}, {}
    for i in data.get("issues") or []:
        eid = owner(i.get("source", ""))
        if eid:
            issues.setdefault(eid, []).append(f"{i.get('severity')} {i.get('module')}.{i.get('operator')}")
    for e in data.get("errors") or []:
        eid = owner(e.get("source", ""))
        if eid:
            errors.setdefault(eid, []).append(f"{e.get('category')}: {e.get('description', '')[:120]}")
    res = {}
    for e in entries:
        if e.id in issues:
            res[e.id] = (FLAGGED, "; ".join(issues[e.id])[:300])
        elif e.id in errors:
            res[e.id] = (ERROR, "; ".join(errors[e.id])[:300])
        else:
            res[e.id] = (CLEAN, "")
    return res, data


def wh_verdicts(wh, corpus, entries, out, timeout):
    rc, sout, serr = run_capture([wh, "scan", "--json", corpus], timeout=timeout)
    with open(os.path.join(out, "wh-scan.json"), "w") as f:
        f.write(sout)
    try:
        files = json.loads(sout)["files"]
    except (ValueError, KeyError, TypeError):
        why = f"wh scan --json gave no JSON (exit {rc}): {serr.strip()[-300:]}"
        return {e.id: (ERROR, why) for e in entries}, {}
    by_rel = {}
    for r in files:
        p = r.get("path", "")
        by_rel[os.path.relpath(p, corpus) if os.path.isabs(p) else os.path.relpath(os.path.abspath(p), corpus)] = r
    word = {"unsafe": FLAGGED, "safe": CLEAN, "incomplete": INCOMPLETE}
    res, reports = {}, {}
    for e in entries:
        mine = [(rel, r) for rel, r in by_rel.items() if e.owns(rel)]
        reports[e.id] = [r for _, r in mine]
        if not mine:
            res[e.id] = (ERROR, "no report for this file")
            continue
        vs = []
        for _, r in mine:
            v = word.get(r.get("verdict"), ERROR)
            high = [f for f in r.get("findings", []) if f.get("severity") in ("high", "critical")]
            if v == FLAGGED:
                d = "; ".join(f"{f['rule']}: {f['message']}" for f in high[:2])
            elif v == INCOMPLETE:
                d = "; ".join(r.get("incomplete", [])[:2])
            else:
                d = "" if v == CLEAN else f"verdict {r.get('verdict')!r}"
            vs.append((v, d))
        res[e.id] = combine(vs)
    return res, reports


# What a finding must name for wh's hit on a non-pickle file to count as "for the right reason"
# (scanning.md §5: the finding names the manifest's `expect` global or construct).
CONSTRUCTS = {
    ("keras", "Lambda"): r"lambda",
    ("tf", "ReadFile"): r"readfile",
    ("tf", "PrintV2"): r"printv2",
    ("jinja", "ssti"): r"template|jinja|ssti",
    ("onnx", "external_data"): r"external",
}


def right_reason(entry, reports):
    """Whether one of wh's high/critical findings on the entry names its `expect` (heuristic)."""
    if not entry.expect:
        return True
    mod, name = entry.expect
    text = " ".join(f"{f.get('rule', '')} {f.get('message', '')}" for r in reports for f in r.get("findings", [])
                    if f.get("severity") in ("high", "critical"))
    pat = CONSTRUCTS.get((mod, name))
    if pat:
        return re.search(pat, text, re.I) is not None
    return f"{mod}.{name}" in text


# --- tables ------------------------------------------------------------------------------------


def count(verdicts, entries, label):
    ids = [e.id for e in entries if e.label == label]
    c = {k: sum(1 for i in ids if verdicts[i][0] == k) for k in (FLAGGED, CLEAN, ERROR, INCOMPLETE)}
    c["total"] = len(ids)
    return c


def pct(n, d):
    return f"{100.0 * n / d:.1f}%" if d else "-"


def tool_table(name, title, verdicts, entries):
    mal, ben = count(verdicts, entries, "malicious"), count(verdicts, entries, "benign")
    wh = name == "wh"
    say(f"\n{title}")
    head = f"  {'':16} {'flagged':>14} {'not flagged':>12}"
    head += f" {'incomplete':>11} {'other errors':>13}" if wh else f" {'errors':>8}"
    say(head)
    for lab, c in (("malicious", mal), ("benign", ben)):
        n = c["total"]
        flagged = f"{c[FLAGGED]}/{n} {pct(c[FLAGGED], n):>6}"
        row = f"  {f'{lab} ({n})':16} {flagged:>14} {c[CLEAN]:>12}"
        row += f" {c[INCOMPLETE]:>11} {c[ERROR]:>13}" if wh else f" {c[ERROR] + c[INCOMPLETE]:>8}"
        say(row)
    say(f"  detection {mal[FLAGGED]}/{mal['total']} ({pct(mal[FLAGGED], mal['total'])}), "
        f"false positives {ben[FLAGGED]}/{ben['total']} ({pct(ben[FLAGGED], ben['total'])}), "
        f"errors {mal[ERROR] + mal[INCOMPLETE]} malicious + {ben[ERROR] + ben[INCOMPLETE]} benign"
        + (f" (incomplete: {mal[INCOMPLETE]} malicious, {ben[INCOMPLETE]} benign)" if wh else ""))
    return {
        "malicious": mal,
        "benign": ben,
        "detection": mal[FLAGGED] / mal["total"] if mal["total"] else None,
        "detection_with_errors": (mal[FLAGGED] + mal[ERROR] + mal[INCOMPLETE]) / mal["total"] if mal["total"] else None,
        "false_positive_rate": ben[FLAGGED] / ben["total"] if ben["total"] else None,
    }


def combined_table(scores, labels, versions):
    say("\nall tools (flagged = detected; errors include wh's incomplete; fail-closed counts errors as detections)")
    cols = ("tool", "detected", "fail-closed", "FP (benign)", "FP+errors", "errors mal/ben", "scanning.md §6 / App. B")
    rows = []
    for t, s in scores.items():
        m, b = s["malicious"], s["benign"]
        me, be = m[ERROR] + m[INCOMPLETE], b[ERROR] + b[INCOMPLETE]
        rows.append((labels[t], f"{m[FLAGGED]}/{m['total']} ({pct(m[FLAGGED], m['total'])})",
                     f"{m[FLAGGED] + me}/{m['total']}", f"{b[FLAGGED]}/{b['total']} ({pct(b[FLAGGED], b['total'])})",
                     f"{b[FLAGGED] + be}/{b['total']}", f"{me}/{be}", spec_ref(t, versions)))
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    say("  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    say("  " + "  ".join("-" * w for w in widths))
    for r in rows:
        say("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)))


# --- timing ------------------------------------------------------------------------------------


def timed(cmd, cwd=None):
    """Run cmd once, output discarded: (wall seconds, user+sys CPU seconds of the child, exit code)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=cwd)
    _, status, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t, ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(status)


def timed_many(cmds, cwd=None):
    """Run the commands one after another: total wall seconds, total CPU seconds, exit codes."""
    t = time.perf_counter()
    cpu, codes = 0.0, []
    for c in cmds:
        _, c_cpu, rc = timed(c, cwd)
        cpu += c_cpu
        codes.append(rc)
    return time.perf_counter() - t, cpu, codes


def stats(walls, cpus):
    return {
        "seconds": [round(x, 4) for x in walls],
        "cpu_seconds": [round(x, 4) for x in cpus],
        "best_seconds": round(min(walls), 4),
        "median_seconds": round(statistics.median(walls), 4),
        "best_cpu_seconds": round(min(cpus), 4),
    }


def fmt_s(s):
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def read_through(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


# --- main --------------------------------------------------------------------------------------


def main():
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wh", help="the wh binary (default $CARGO_TARGET_DIR/release/wh, else .../debug/wh; "
                                 "CARGO_TARGET_DIR defaults to ~/.cache/weighhouse/target)")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "fixtures", "reference", "scan"),
                    help="the scan corpus with its manifest.json (default tests/fixtures/reference/scan)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    ap.add_argument("--runs", type=int, default=3, help="timed runs over the corpus per tool, best and median (default 3)")
    ap.add_argument("--big-runs", type=int, default=10, help=f"timed runs of wh scan on {BIG_ID}.pkl, best taken (default 10)")
    ap.add_argument("--venv", help="virtualenv for the three tools (default <out>/venv)")
    ap.add_argument("--skip-install", action="store_true", help="use the virtualenv as it is")
    ap.add_argument("--pip-extra", action="append", default=[], metavar="SPEC",
                    help="extra package for the virtualenv, repeatable (e.g. 'numpy<2', h5py: modelscan's numpy and H5 scanners)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel processes for the per-file verdict pass (not timed)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds allowed to one tool process (default 600)")
    ap.add_argument("--out", default=os.path.join(HERE, "out", "scan"), help="work folder (default bench/out/scan)")
    ap.add_argument("--json", action="store_true", help="print a JSON summary on stdout (the tables go to stderr)")
    a = ap.parse_args()
    if a.json:
        LOG = sys.stderr
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    bad = [t for t in tools if t not in TOOLS]
    if bad or not tools:
        sys.exit(f"--tools: unknown {', '.join(bad) or '(none)'}; choose from {','.join(TOOLS)}")
    tools = [t for t in TOOLS if t in tools]
    out = os.path.abspath(a.out)
    venv = os.path.abspath(a.venv or os.path.join(out, "venv"))
    corpus = os.path.abspath(a.corpus)
    os.makedirs(out, exist_ok=True)
    workdir = os.path.join(out, "work")  # fickling 0.1.12 writes safety_results.json into its cwd
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)

    summary = {"machine": {"cpus": os.cpu_count(), "loadavg_start": loadavg()}, "corpus": corpus, "tools": tools}
    say(f"machine: {os.cpu_count()} CPUs, load average at start {summary['machine']['loadavg_start']}")

    wh = None
    if "wh" in tools:
        wh, warn = find_wh(a.wh)
        summary["wh"] = wh
        say(f"wh: {wh}")
        if warn:
            say(f"WARNING: {warn}")
            summary["wh_warning"] = warn
    versions, notes = {}, []
    if any(t in PINS for t in tools):
        versions, notes = ensure_venv(venv, tools, a.skip_install, a.pip_extra)
        summary["venv"] = venv
        summary["versions"] = versions
        summary["install_notes"] = notes
        ms_cfg = f"numpy {versions.get('numpy')}, h5py {versions.get('h5py') or 'absent'}, tensorflow {versions.get('tensorflow') or 'absent'}"
        say(f"tools: " + ", ".join(f"{t} {versions.get(t)}" for t in tools if t in PINS) + f"  ({venv}; {ms_cfg})")
    exe = {t: os.path.join(venv, "bin", t) for t in PINS}

    entries = load_corpus(corpus)
    files = sorted({p for e in entries for p in e.files})
    nbytes = sum(os.path.getsize(p) for p in files)
    n_mal = sum(e.label == "malicious" for e in entries)
    n_ben = sum(e.label == "benign" for e in entries)
    say(f"corpus: {corpus}: {len(entries)} entries ({n_mal} malicious, {n_ben} benign), {len(files)} files, {nbytes / 1e6:.1f} MB")
    summary["corpus_entries"] = {"malicious": n_mal, "benign": n_ben, "files": len(files), "bytes": nbytes}
    read_through(files)

    # --- verdicts ---
    labels = {"picklescan": f"picklescan {versions.get('picklescan')}", "modelscan": f"modelscan {versions.get('modelscan')}",
              "fickling": f"fickling {versions.get('fickling')}", "wh": "wh scan"}
    titles = {
        "picklescan": f"{labels['picklescan']}: `picklescan --path FILE`, one process per file; flagged = a dangerous global in its summary",
        "modelscan": f"{labels['modelscan']}: `modelscan -p CORPUS -r json`, one process; flagged = an issue in the file or a member",
        "fickling": f"{labels['fickling']}: `fickling --check-safety FILE`, one process per file; exit 1 flagged, exit 2 or a crash = error",
        "wh": f"wh scan: `wh scan --json CORPUS`, one process; verdict unsafe = flagged",
    }
    verdicts, wh_reports = {}, {}
    say("\nverdicts (not timed) ...")
    for t in tools:
        t0 = time.perf_counter()
        if t == "picklescan":
            verdicts[t] = per_file(lambda p: picklescan_verdict(exe["picklescan"], p, a.timeout), entries, a.jobs)
        elif t == "fickling":
            verdicts[t] = per_file(lambda p: fickling_verdict(exe["fickling"], p, workdir, a.timeout), entries, a.jobs)
        elif t == "modelscan":
            verdicts[t], _ = modelscan_verdicts(exe["modelscan"], corpus, entries, out, a.timeout)
        else:
            verdicts[t], wh_reports = wh_verdicts(wh, corpus, entries, out, a.timeout)
        say(f"  {labels[t]}: {time.perf_counter() - t0:.1f} s")

    scores = {}
    for t in tools:
        scores[t] = tool_table(t, titles[t], verdicts[t], entries)
    combined_table(scores, labels, versions)
    summary["scores"] = scores

    byid = {e.id: e for e in entries}
    if "wh" in tools:
        v = verdicts["wh"]
        misses = [e.id for e in entries if e.label == "malicious" and v[e.id][0] != FLAGGED]
        fps = [e.id for e in entries if e.label == "benign" and v[e.id][0] == FLAGGED]
        ben_inc = [e.id for e in entries if e.label == "benign" and v[e.id][0] in (INCOMPLETE, ERROR)]
        wrong = [e.id for e in entries if e.label == "malicious" and v[e.id][0] == FLAGGED
                 and not right_reason(byid[e.id], wh_reports.get(e.id, []))]
        say(f"\nwh scan misses ({len(misses)} malicious not flagged):")
        for i in misses:
            say(f"  {i:44} {v[i][0]:10} {v[i][1][:110]}")
        say(f"wh scan false positives ({len(fps)} benign flagged):")
        for i in fps:
            say(f"  {i:44} {v[i][1][:120]}")
        say(f"wh scan on benign files, incomplete or error ({len(ben_inc)}):")
        for i in ben_inc:
            say(f"  {i:44} {v[i][0]:10} {v[i][1][:110]}")
        say(f"wh scan hits whose high/critical findings do not name the manifest's `expect` (heuristic, {len(wrong)}):")
        for i in wrong:
            say(f"  {i:44} expect {'.'.join(byid[i].expect)}: {v[i][1][:90]}")
        if not (misses and fps and ben_inc and wrong):
            say("  (an empty list above means none)")
        summary["wh_lists"] = {"misses": misses, "false_positives": fps, "benign_incomplete_or_error": ben_inc,
                               "hits_without_expected_reason": wrong}
    summary["per_file"] = {e.id: {"label": e.label, "format": e.format, **{t: verdicts[t][e.id][0] for t in tools}} for e in entries}
    with open(os.path.join(out, "verdicts.json"), "w") as f:
        json.dump({e.id: {"label": e.label, "format": e.format, "expect": e.expect,
                          **{t: {"verdict": verdicts[t][e.id][0], "detail": verdicts[t][e.id][1]} for t in tools}}
                   for e in entries}, f, indent=2)

    # --- speed over the whole corpus ---
    say(f"\nspeed: whole corpus ({len(files)} files, {nbytes / 1e6:.1f} MB), process start included, {a.runs} runs each, interleaved ...")
    fick_cmds = [fickling_cmd(exe["fickling"], p, os.path.join(workdir, "timing.json")) for p in files]
    how = {
        "wh": ("one process", [wh, "scan", corpus] if wh else None),
        "picklescan": ("one process (directory mode)", [exe["picklescan"], "--path", corpus]),
        "modelscan": ("one process", [exe["modelscan"], "-p", corpus]),
        "fickling": (f"one process per file ({len(files)}), total", None),
    }
    walls = {t: [] for t in tools}
    cpus = {t: [] for t in tools}
    codes = {t: None for t in tools}
    for _ in range(a.runs):
        for t in tools:
            if t == "fickling":
                w, c, rc = timed_many(fick_cmds, cwd=workdir)
            else:
                w, c, rc = timed(how[t][1], cwd=workdir)
            walls[t].append(w)
            cpus[t].append(c)
            codes[t] = rc if t != "fickling" else sorted(set(rc))
    speed = {}
    for t in tools:
        speed[t] = dict(stats(walls[t], cpus[t]), how=how[t][0], exit_codes=codes[t])
        s = speed[t]
        say(f"  {labels[t]:18} {how[t][0]:36} best {fmt_s(s['best_seconds']):>9}  median {fmt_s(s['median_seconds']):>9}  "
            f"CPU {fmt_s(s['best_cpu_seconds']):>9}  runs {s['seconds']}")
    if "wh" in speed:
        for t in tools:
            if t == "wh":
                continue
            rb = speed[t]["best_seconds"] / speed["wh"]["best_seconds"]
            rm = speed[t]["median_seconds"] / speed["wh"]["median_seconds"]
            speed[t]["ratio_vs_wh_best"], speed[t]["ratio_vs_wh_median"] = rb, rm
            goal = f"  (goal >= {GOAL_SPEEDUP:g})" if t == "picklescan" else ""
            say(f"  ratio {t}/wh: best {rb:.1f}, median {rm:.1f}{goal}")
    if "picklescan" in speed:
        say("  (picklescan in directory mode skips .npy and extension-less files, so it does less work than the others)")
    summary["speed"] = speed
    if "picklescan" in speed and "wh" in speed:
        summary["speed"]["goal_ratio_picklescan_over_wh"] = GOAL_SPEEDUP

    # --- one large pickle ---
    big = next((e for e in entries if e.id.startswith(BIG_ID)), None)
    if big and not big.is_dir and ("wh" in tools or "picklescan" in tools):
        size = os.path.getsize(big.target)
        say(f"\none large pickle: {big.rel} ({size} bytes, {size / 1e6:.2f} MB)")
        if not 4.5e6 <= size <= 5.5e6:
            say(f"  note: expected about 4.9 MB, found {size / 1e6:.2f} MB")
        bigres = {"file": big.rel, "bytes": size}
        if "wh" in tools:
            w, c = [], []
            for _ in range(a.big_runs):
                wt, ct, rc = timed([wh, "scan", big.target])
                w.append(wt)
                c.append(ct)
            bigres["wh"] = dict(stats(w, c), exit_code=rc, verdict=verdicts["wh"][big.id][0], goal_ms=GOAL_BIG_MS)
            ok = "met" if bigres["wh"]["best_seconds"] * 1000 < GOAL_BIG_MS else "NOT met"
            say(f"  wh scan:    best {bigres['wh']['best_seconds'] * 1000:.1f} ms, median {bigres['wh']['median_seconds'] * 1000:.1f} ms "
                f"of {a.big_runs} (goal < {GOAL_BIG_MS:g} ms: {ok}); {size / bigres['wh']['best_seconds'] / 1e6:.0f} MB/s; "
                f"verdict {verdicts['wh'][big.id][0]}")
        if "picklescan" in tools:
            w, c = [], []
            for _ in range(a.runs):
                wt, ct, rc = timed([exe["picklescan"], "--path", big.target])
                w.append(wt)
                c.append(ct)
            bigres["picklescan"] = dict(stats(w, c), exit_code=rc)
            say(f"  picklescan: best {fmt_s(bigres['picklescan']['best_seconds'])}, median {fmt_s(bigres['picklescan']['median_seconds'])} "
                f"of {a.runs} (reference)")
            if "wh" in bigres:
                bigres["ratio_picklescan_over_wh"] = bigres["picklescan"]["best_seconds"] / bigres["wh"]["best_seconds"]
                say(f"  ratio picklescan/wh: best {bigres['ratio_picklescan_over_wh']:.0f}")
        summary["big_pickle"] = bigres

    summary["machine"]["loadavg_end"] = loadavg()
    say(f"\nload average at end {summary['machine']['loadavg_end']} (a shared 2-core machine makes every figure noisy)")
    shutil.rmtree(workdir, ignore_errors=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    if a.json:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
