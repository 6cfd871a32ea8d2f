#!/usr/bin/env python3
"""Checks that no crate of the workspace has a cycle among its modules, that
the crates depend on each other one way only, and that the lower crates stay
clear of the heavy dependencies they must not need (from Cargo.lock: the
runtime knows no OpenCV, ONNX Runtime, Rerun, Zenoh or Arrow; perception,
where fusion, tracking and planning live, no Rerun, Zenoh, Arrow or log
format).

A module here is a file under a crate's src/ (a folder's mod.rs stands for
the folder). Module A uses module B when A's file names `crate::B...` or
`super::...` resolving to B (test code included: a cycle through a test is
still a cycle to read through). The crate graph comes from the workspace's
Cargo.toml files. Prints the cycles found and exits 1, or prints a summary.

Usage: check_module_cycles.py [WORKSPACE_ROOT]
"""

import os
import re
import sys
import tomllib


def crates(root):
    with open(os.path.join(root, "Cargo.toml"), "rb") as f:
        workspace = tomllib.load(f)
    members = workspace["workspace"]["members"]
    found = {}
    for member in members + ["."]:
        manifest = os.path.join(root, member, "Cargo.toml")
        with open(manifest, "rb") as f:
            package = tomllib.load(f).get("package")
        if package:
            found[package["name"]] = os.path.normpath(os.path.join(root, member))
    return found


def dependencies(path, names):
    with open(os.path.join(path, "Cargo.toml"), "rb") as f:
        manifest = tomllib.load(f)
    deps = manifest.get("dependencies", {})
    return sorted(name for name in deps if name in names)


def module_name(src, file):
    relative = os.path.relpath(file, src)[:-3].split(os.sep)
    if relative[-1] in ("mod", "lib", "main"):
        relative = relative[:-1]
    return "::".join(relative)


def modules(src):
    found = {}
    for folder, _, files in os.walk(src):
        for file in files:
            if file.endswith(".rs"):
                path = os.path.join(folder, file)
                found[module_name(src, path)] = path
    return found


def resolve(path, known):
    """The longest known module that `path` (a::b::c) starts with."""
    parts = path.split("::")
    for end in range(len(parts), 0, -1):
        candidate = "::".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def edges(name, file, known):
    text = open(file).read()
    # Drop comments so that doc text naming a module is not a use.
    text = re.sub(r"//[^\n]*", "", text)
    used = set()
    for match in re.finditer(r"\bcrate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", text):
        target = resolve(match.group(1), known)
        if target:
            used.add(target)
    parent = name.rsplit("::", 1)[0] if "::" in name else ""
    for match in re.finditer(r"\bsuper::([a-z_][a-z0-9_]*)", text):
        sibling = f"{parent}::{match.group(1)}" if parent else match.group(1)
        target = resolve(sibling, known)
        if target:
            used.add(target)
    # A module may use its own submodules and its parents freely: those are
    # one file split in parts, not a cycle to read through.
    return {
        t
        for t in used
        if t and t != name and not t.startswith(name + "::") and not name.startswith(t + "::")
    }


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


# Packages a crate must build without (checked on Cargo.lock's closure).
FORBIDDEN = {
    "heptaview-runtime": ["opencv", "ort", "rerun", "zenoh", "arrow"],
    "heptaview-perception": ["rerun", "zenoh", "arrow", "heptaview-datasets"],
}


def lock_closure(root, crate):
    with open(os.path.join(root, "Cargo.lock"), "rb") as f:
        packages = tomllib.load(f)["package"]
    by_name = {}
    for package in packages:
        by_name.setdefault(package["name"], []).append(package)
    seen, todo = set(), [crate]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for package in by_name.get(name, []):
            for dep in package.get("dependencies", []):
                todo.append(dep.split(" ")[0])
    return seen


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    found = crates(root)
    problems = []
    crate_graph = {name: set(dependencies(path, found)) for name, path in found.items()}
    for component in cycles(crate_graph):
        problems.append(f"crates depend on each other in a cycle: {' -> '.join(component)}")
    total_modules = 0
    for name, path in sorted(found.items()):
        src = os.path.join(path, "src")
        known = modules(src)
        total_modules += len(known)
        graph = {module: edges(module, file, known) for module, file in known.items()}
        for component in cycles(graph):
            problems.append(f"{name}: modules use each other in a cycle: {', '.join(component)}")
    for crate, forbidden in FORBIDDEN.items():
        closure = lock_closure(root, crate)
        for name in forbidden:
            if name in closure:
                problems.append(f"{crate} depends on {name} (through Cargo.lock)")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"no cycles among {len(found)} crates and their {total_modules} modules; crate dependencies:")
    for crate, forbidden in FORBIDDEN.items():
        print(f"  ({crate} builds without {', '.join(forbidden)})")
    for name in sorted(found, key=lambda n: (len(crate_graph[n]), n)):
        print(f"  {name} <- {', '.join(sorted(crate_graph[name])) or '(none of ours)'}")


if __name__ == "__main__":
    main()
