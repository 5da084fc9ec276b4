"""The project's import graph, read from the source: every `import deltahall...` and `from
deltahall... import` at any depth of a file (lazy imports inside functions count)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def stage_roots(argv: list[str]) -> list[str]:
    """The modules a stage's `deltahall SUBCOMMAND ...` runs: the CLI, the subcommand's module
    and, for `sweep --experiment X`, X's module, which sweep/stage.py imports by name."""
    from deltahall.cli import STAGE_MODULES
    from deltahall.sweep.trial import EXPERIMENTS

    roots = ["deltahall.cli", STAGE_MODULES[argv[1]]]
    if "--experiment" in argv:
        roots.append(EXPERIMENTS[argv[argv.index("--experiment") + 1]])
    return roots


def module_file(name: str) -> Path | None:
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imported_names(path: Path, package: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return {n for n in names if n == "deltahall" or n.startswith("deltahall.")}


def import_closure(*roots: str) -> set[Path]:
    """Files of every deltahall module reachable from `roots`, packages' __init__ included."""
    seen: set[Path] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
            path = module_file(".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen.add(path)
            package = (
                ".".join(parts[:i]) if path.name == "__init__.py" else ".".join(parts[: i - 1])
            )
            todo.extend(_imported_names(path, package))
    return seen


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """{module: modules it imports} over every module of src/deltahall (packages' __init__
    are not edges: importing a.b runs a/__init__, which is not a dependency of a.b's code)."""
    graph = {}
    for path in sorted((SRC / "deltahall").rglob("*.py")):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for imported in _imported_names(path, package):
            file = module_file(imported)
            if file is not None and module_name(file) != name:
                targets.add(module_name(file))
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
