"""The static import graph of ``src/churn``: which churn modules each module imports, read from
the source with ``ast`` (imports inside functions included), without importing anything."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "churn"


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _absolute(module: str | None, level: int, importer: str, is_package: bool) -> str:
    if not level:
        return module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node Python may execute: ``if TYPE_CHECKING:`` blocks are for type checkers."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if _is_type_checking(node):
            assert isinstance(node, ast.If)
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """``{module: the churn modules it imports}``. ``from churn.x import y`` counts as importing
    ``churn.x.y`` when ``y`` is a module, else ``churn.x``."""
    files = module_files()
    graph = {}
    for name, path in files.items():
        deps: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(node.module, node.level, name, path.name == "__init__.py")
                if target.split(".")[0] != PACKAGE:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in files else target)
        graph[name] = frozenset(d for d in deps if d in files and d != name)
    return graph


def closure(module: str) -> set[str]:
    """``module`` and every churn module it imports, directly or not, with the packages whose
    ``__init__`` Python runs on the way."""
    return closure_of((module,))


def closure_of(modules: tuple[str, ...]) -> set[str]:
    """:func:`closure` of several modules at once."""
    graph = import_graph()
    seen: set[str] = set()
    todo = [m for m in modules if m in graph]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(graph[current])
        parts = current.split(".")
        todo.extend(
            ".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in graph
        )
    return seen
