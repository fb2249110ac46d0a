#!/usr/bin/env python3
"""Fails when a tracked file refers to a path outside the repository.

A clone must be whole by itself: no test, benchmark or script may read a folder beside the
checkout. Two checks over every tracked text file (fuzz corpora and binary fixtures excluded):

* a mention of the folder of shared material that sits beside a working checkout but not beside
  a clone (by its relative path from the checkout, or its fixtures, specs or hooks subfolders);
* a relative path anchored to the source tree (`CARGO_MANIFEST_DIR`, `include_bytes!`,
  `include_str!`, `__file__`, `$0`, a `ROOT` variable, on the line or up to three lines before)
  whose `../` steps climb above the repository root, resolved from the file's folder and from its
  crate's folder. Paths in test data such as "../../etc/passwd" are not anchored and not flagged.

Prints each offending line and exits 1, or prints how many files were checked and exits 0.
"""

import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

BESIDE = re.compile(r"(\.\./)+shared\b|\bshared/(fixtures|specs|hooks)\b|\bshared/(DESIGN|STYLE)\.md\b")
ANCHOR = re.compile(r"CARGO_MANIFEST_DIR|include_bytes!|include_str!|__file__|\$0\b|\bROOT\b")
RELATIVE = re.compile(r"""["'(\s=]((?:\.\./){2,}[^"'\s)]*)""")
SKIP_PREFIXES = ("fuzz/corpus/", "fuzz/regressions/", "tests/fixtures/reference/")
SKIP_SUFFIXES = (".lock",)


def crate_dir(path: pathlib.Path) -> pathlib.Path:
    """The nearest folder at or above `path`'s folder with a Cargo.toml (the repository root at most)."""
    d = path.parent
    while d != ROOT and not (d / "Cargo.toml").exists():
        d = d.parent
    return d


def escapes(base: pathlib.Path, rel: str) -> bool:
    target = pathlib.Path(os.path.normpath(base / rel))
    return target != ROOT and ROOT not in target.parents


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


def main() -> int:
    problems = []
    checked = 0
    me = pathlib.Path(__file__).resolve().relative_to(ROOT).as_posix()
    for rel in tracked():
        if rel == me or rel.startswith(SKIP_PREFIXES) or rel.endswith(SKIP_SUFFIXES):
            continue
        path = ROOT / rel
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        checked += 1
        lines = data.decode("utf-8", "replace").splitlines()
        for i, line in enumerate(lines):
            if BESIDE.search(line):
                problems.append(f"{rel}:{i + 1}: names a folder beside the checkout: {line.strip()}")
                continue
            window = "\n".join(lines[max(0, i - 3) : i + 1])
            if not ANCHOR.search(window):
                continue
            for m in RELATIVE.finditer(line):
                if escapes(path.parent, m.group(1)) and escapes(crate_dir(path), m.group(1)):
                    problems.append(f"{rel}:{i + 1}: {m.group(1)} is outside the repository")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} reference(s) to paths outside the repository")
        return 1
    print(f"{checked} tracked files refer to nothing outside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
