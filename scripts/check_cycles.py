#!/usr/bin/env python3
"""Fails when source files of a crate import each other in a circle.

Each `.rs` file under `crates/<crate>/src` is a module (`a/mod.rs` is `a`, `a/b.rs` is `a::b`).
A file depends on the modules it names through `crate::`, `super::` and `self::` paths (in `use`
lines and in code), resolved to the longest module that exists. A module's use of its own
submodules (declaring and calling the parts it is made of) is not counted: a circle is between
files of different concerns, e.g. two siblings that each import the other, or a child that
imports a sibling which imports the child back. Tests (`#[cfg(test)]` modules and `tests.rs`
files) are left out.

Usage: check_cycles.py [CRATE...] (default: every crate). Prints each circle and exits 1, or
prints how many files and edges were checked and exits 0.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*?)\}", re.S)


def module_of(src: pathlib.Path, file: pathlib.Path) -> tuple:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_tests(text: str) -> str:
    """The text without `#[cfg(test)]` items (a module or function up to its closing brace)."""
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = text.find("{", j)
        semi = text.find(";", j)
        if k < 0 or (0 <= semi < k):
            i = semi + 1 if semi >= 0 else len(text)
            continue
        depth, p = 0, k
        while p < len(text):
            if text[p] == "{":
                depth += 1
            elif text[p] == "}":
                depth -= 1
                if depth == 0:
                    break
            p += 1
        i = p + 1


def split_group(body: str) -> list:
    """The paths of a `{a, b::{c, d}, e::f}` import group, nested groups flattened to their prefix."""
    items, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        if depth == 0:
            cur += ch
    items.append(cur)
    return [re.sub(r"\s+", "", i).split(" as ")[0] for i in items if i.strip()]


def resolve(base: tuple, names: list, modules: set):
    """The longest existing module that `base::names...` names (None for the crate root)."""
    path = list(base)
    best = None
    for n in names:
        path.append(n)
        if tuple(path) in modules:
            best = tuple(path)
        else:
            break
    return best


def edges_of(crate: pathlib.Path):
    src = crate / "src"
    files = [f for f in src.rglob("*.rs") if f.name != "tests.rs"]
    modules = {module_of(src, f) for f in files}
    edges = {}
    for f in files:
        me = module_of(src, f)
        text = strip_tests(f.read_text())
        text = re.sub(r"//[^\n]*", "", text)
        refs = []
        for m in GROUP.finditer(text):
            prefix = [p for p in m.group(2).split("::") if p]
            for item in split_group(m.group(3)):
                refs.append((m.group(1), prefix + [p for p in item.split("::") if p and p != "self"]))
        for m in PATH.finditer(text):
            refs.append((m.group(1), [p for p in m.group(2).split("::") if p]))
        for kind, names in refs:
            if kind == "crate":
                base = ()
            elif kind == "self":
                base = me
            else:  # super
                base = me[:-1]
                while names and names[0] == "super":
                    names = names[1:]
                    base = base[:-1]
            target = resolve(base, names, modules)
            if target is None or target == me:
                continue
            if target[: len(me)] == me:  # a module using its own parts
                continue
            edges.setdefault(me, set()).add(target)
    return modules, edges


def cycles(modules, edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) or "(root)"


def main() -> int:
    crates = sys.argv[1:] or sorted(p.name for p in (ROOT / "crates").iterdir() if (p / "src").is_dir())
    failed = False
    total_files = total_edges = 0
    for c in crates:
        modules, edges = edges_of(ROOT / "crates" / c)
        total_files += len(modules)
        total_edges += sum(len(v) for v in edges.values())
        for comp in cycles(modules, edges):
            failed = True
            members = set(comp)
            detail = "; ".join(
                f"{name(a)} -> {name(b)}" for a in comp for b in sorted(edges.get(a, ())) if b in members
            )
            print(f"crates/{c}: import circle between {', '.join(name(m) for m in comp)} ({detail})")
    if failed:
        return 1
    print(f"no import circles: {total_files} modules, {total_edges} imports across {len(crates)} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
