#!/usr/bin/env bash
# Lists which top-level library modules (src/NAME.rs or src/NAME/, as declared in lib.rs)
# use which others through `crate::` paths, and fails if those imports form a cycle.
#
#   bench/check-imports.sh        # prints "module -> the modules it uses", then the verdict
#
# Comment and doc-comment lines are skipped (an intra-doc link is not an import). The crate
# root's own items (`crate::USER_AGENT`) and the binary (main.rs, cli/) are not modules here.
# .ci/run runs this, so a new cycle fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - << 'PY'
import pathlib, re, sys

src = pathlib.Path("src")
modules = re.findall(r"^\s*(?:pub\s+)?mod\s+(\w+)\s*;", (src / "lib.rs").read_text(), re.M)


def files(module):
    single = src / f"{module}.rs"
    return [single] if single.exists() else sorted((src / module).rglob("*.rs"))


def top_level_names(group):
    """The first segment of each path in a `{a::b, c, d::{e, f}}` group."""
    names, depth, token = [], 0, ""
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch == ",":
            names.append(token)
            token = ""
        elif depth == 0:
            token += ch
    names.append(token)
    return [name.strip().split("::")[0] for name in names if name.strip()]


edges = {}
for module in modules:
    code = "\n".join(
        line
        for path in files(module)
        for line in path.read_text().splitlines()
        if not line.lstrip().startswith("//")
    )
    used = set(re.findall(r"\bcrate::(\w+)", code))
    for group in re.findall(r"\bcrate::\{([^;]*?)\}\s*;", code, re.S):
        used.update(top_level_names(group))
    edges[module] = sorted(m for m in used if m in modules and m != module)

for module in modules:
    print(f"{module:<10} -> {', '.join(edges[module]) or '(nothing)'}")

# Depth-first search; a module met again while still on the path closes a cycle.
state, path = {}, []


def visit(module):
    state[module] = "open"
    path.append(module)
    for target in edges[module]:
        if state.get(target) == "open":
            cycle = path[path.index(target):] + [target]
            sys.exit(f"import cycle: {' -> '.join(cycle)}")
        if target not in state:
            visit(target)
    path.pop()
    state[module] = "done"


for module in modules:
    if module not in state:
        visit(module)
print(f"no import cycle among {len(modules)} modules")
PY
