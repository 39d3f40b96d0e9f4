"""Structure check of the `rnnkit/` package: import cycles, long files, cell-kind branches.

    python3 -m tools.check_structure          # or: python3 tools/check_structure.py

Prints three counts and what makes them up, and exits 1 if any is above zero:

- import cycles: strongly connected components of more than one module in the graph of
  imports between rnnkit modules, module-level AND inside functions (a lazy import that
  dodges a cycle still is one). `from a.b import c` counts as importing `a.b.c` when that
  is a module, else `a.b`; importing a module does not count as importing its parents.
- files over 500 lines.
- cell-kind branches: places outside `rnnkit/core/kernels/` that compare against, test
  membership in, index with, or use as a dict key a registered cell-kind name (`"lstm"`,
  `"gru"`, ...). Kind names are read statically from the `CellKernel(kind=...)` calls in
  `rnnkit/core/kernels/`. A heuristic: it sees string constants, not computed names.

Reads source files only; imports nothing from rnnkit.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_LINES = 500
KERNELS_DIR = ("core", "kernels")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collect(root: Path) -> dict[str, Path]:
    """module name -> file, for every .py file under `root` (the rnnkit package folder)."""
    return {module_name(root, p): p for p in sorted(root.rglob("*.py"))}


def _imports(tree: ast.AST, module: str, is_package: bool, modules: dict) -> set[str]:
    """The rnnkit modules a module's source imports (anywhere in the file)."""
    package = module if is_package else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                names.append(sub if sub in modules else base)
        else:
            continue
        for name in names:
            # `import a.b.c` names a.b.c; keep the longest prefix that is an rnnkit module
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = _imports(tree, name, path.name == "__init__.py", modules)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return sorted(out)


def long_files(modules: dict[str, Path], root: Path) -> list[tuple[str, int]]:
    out = []
    for path in modules.values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            out.append((str(path.relative_to(root.parent)), n))
    return sorted(out)


def kind_names(root: Path) -> set[str]:
    """The `kind=` strings of the `CellKernel(...)` calls under rnnkit/core/kernels."""
    names = set()
    for path in root.joinpath(*KERNELS_DIR).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "CellKernel":
                for kw in node.keywords:
                    if kw.arg == "kind" and isinstance(kw.value, ast.Constant):
                        names.add(kw.value.value)
    return names


def _strings(node) -> list[str]:
    """String constants of `node`, or of the elements of a tuple / list / set literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for e in node.elts for s in _strings(e)]
    return []


def kind_branches(modules: dict[str, Path], root: Path, kinds: set[str]) -> list[str]:
    """`file:line: code` for every comparison, membership test, subscript or dict key with
    a cell-kind name outside rnnkit/core/kernels."""
    kernels_dir = root.joinpath(*KERNELS_DIR)
    out = []
    for path in modules.values():
        if kernels_dir in path.parents:
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            found = []
            if isinstance(node, ast.Compare):
                for operand in (node.left, *node.comparators):
                    found += _strings(operand)
            elif isinstance(node, ast.Subscript):
                found += _strings(node.slice)
            elif isinstance(node, ast.Dict):
                for key in node.keys:
                    if key is not None:
                        found += _strings(key)
            elif isinstance(node, ast.match_case):
                found += [s for n in ast.walk(node.pattern) for s in _strings(n)]
            if any(s in kinds for s in found):
                where = f"{path.relative_to(root.parent)}:{node.lineno}" if hasattr(
                    node, "lineno") else str(path.relative_to(root.parent))
                line = lines[node.lineno - 1].strip() if hasattr(node, "lineno") else ""
                out.append(f"{where}: {line}")
    return sorted(set(out))


def report(root: Path) -> dict:
    modules = collect(root)
    kinds = kind_names(root)
    graph = import_graph(modules)
    return {"cycles": cycles(graph), "graph": graph,
            "long_files": long_files(modules, root),
            "kind_branches": kind_branches(modules, root, kinds),
            "kinds": sorted(kinds)}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "rnnkit"
    r = report(root)
    print(f"import cycles: {len(r['cycles'])}")
    for component in r["cycles"]:
        print("  " + " <-> ".join(component))
        members = set(component)
        for module in component:  # the edges that close the cycle
            print(f"    {module} -> {', '.join(sorted(r['graph'][module] & members))}")
    print(f"files over {MAX_LINES} lines: {len(r['long_files'])}")
    for path, n in r["long_files"]:
        print(f"  {path}: {n}")
    print(f"places outside rnnkit/core/kernels that branch on a cell kind by string "
          f"({', '.join(r['kinds'])}): {len(r['kind_branches'])}")
    for place in r["kind_branches"]:
        print("  " + place)
    return 1 if r["cycles"] or r["long_files"] or r["kind_branches"] else 0


if __name__ == "__main__":
    sys.exit(main())
