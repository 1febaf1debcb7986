"""The book's chapters and the rvit modules each one introduces: the order the package is told in.

Used by tests/test_notebooks.py (a notebook imports only what its chapter has introduced) and by
tests/test_layering.py (a module imports only modules of its own or earlier chapters). Below the
table: the package's import graph read from the source (imports inside functions count, and so
does ``from rvit.x import y`` where ``y`` is a submodule), which both tests follow."""

from __future__ import annotations

import ast
from collections import deque
from functools import cache
from pathlib import Path

# Which rvit modules each chapter introduces. A chapter may import the modules of its own and of every
# earlier chapter, nothing later: the package is built up in the order the book tells it.
CHAPTER_MODULES: dict[int, tuple[str, ...]] = {
    1: (
        "rvit.data.synthetic",
        "rvit.data.figures",
        "rvit.data.images",
        "rvit.data.video",
        "rvit.data.videosets",
        "rvit.data.mappings",
        "rvit.data.frames",
        "rvit.data.collate",
        "rvit.data.augment",
        "rvit.data.render",
        "rvit.notebook",
    ),
    2: ("rvit.patch",),
    3: ("rvit.attention", "rvit.measure"),
    4: ("rvit.cell", "rvit.diagrams"),
    5: (
        "rvit.heads",
        "rvit.config",
        "rvit.streaming",
        "rvit.model",
        "rvit.baselines",
        "rvit.models",
    ),
    6: (
        "rvit.train",
        "rvit.compile",
        "rvit.utils",
        "rvit.checkpoint",
        "rvit.data.clips",
        "rvit.data.loader",
        "rvit.distributed",
    ),
    7: ("rvit.evaluate",),
    8: (
        "rvit.study",
        "rvit.study.figures",
        "rvit.data.sources",
        "rvit.study.pixel_nn",
        "rvit.multiseed",
    ),
    9: ("rvit.perf",),
    10: ("rvit.widgets",),
    11: ("rvit.data.labels", "rvit.data.leakage", "rvit.cli"),
}
# Packages whose import loads nothing by itself (their names are lazy).
LAZY_PACKAGES = {"rvit": "rvit", "rvit.data": "rvit.data"}


# ------------------------------------------------------------------------------------------------
# the import graph of the package, from the source

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rvit"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def module_files() -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its ``__init__.py``)."""
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def _tree(module: str) -> ast.Module:
    path = module_files()[module]
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@cache
def lazy_exports(package: str) -> dict[str, str]:
    """``_EXPORTS`` of a lazy package (name -> module), read from its source."""
    for node in _tree(package).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
                return ast.literal_eval(node.value)
    raise AssertionError(f"{package}: a lazy package without an _EXPORTS table")


def resolve(module: str, names: list[str]) -> set[str]:
    """The rvit modules that ``from module import names`` (or ``import module``, no names) loads."""
    if module.split(".")[0] != "rvit":
        return set()
    known = module_files()
    if not names:
        return set() if module in LAZY_PACKAGES else {module}
    found: set[str] = set()
    for name in names:
        if f"{module}.{name}" in known:
            found.add(f"{module}.{name}")  # a submodule
        elif module in LAZY_PACKAGES:
            exports = lazy_exports(module)
            if name == "*":
                found |= set(exports.values())
            elif name in exports:
                found.add(exports[name])
            else:
                found.add(f"{module}.{name}")  # unknown: reported as a module without a chapter
        else:
            found.add(module)
    return found


def imports_in(tree: ast.AST, package: str = "") -> set[str]:
    """The rvit modules imported anywhere in ``tree`` (inside functions too).

    ``package`` is the package the code lives in, for relative imports."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= resolve(alias.name, [])
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found |= resolve(base, [alias.name for alias in node.names])
    return found


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module -> the rvit modules it imports (itself left out)."""
    graph = {}
    for module, path in module_files().items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        graph[module] = frozenset(imports_in(_tree(module), package) - {module})
    return graph


def chapter_of_module(module: str) -> int | None:
    """The chapter that introduces ``module``: the table's entry for it or for a package above it."""
    best: tuple[int, int] | None = None  # (length of the entry, chapter)
    for chapter, modules in CHAPTER_MODULES.items():
        for entry in modules:
            if module == entry or module.startswith(entry + "."):
                if best is None or len(entry) > best[0]:
                    best = (len(entry), chapter)
    return None if best is None else best[1]


def reachable(start: set[str]) -> dict[str, list[str]]:
    """Every module reached from ``start`` through the import graph, with the path that reaches it
    (the path starts with a module of ``start``)."""
    graph = import_graph()
    paths = {m: [m] for m in sorted(start)}
    queue = deque(sorted(start))
    while queue:
        module = queue.popleft()
        for target in sorted(graph.get(module, ())):
            if target not in paths:
                paths[target] = [*paths[module], target]
                queue.append(target)
    return paths


def first_later(start: set[str], chapter: int) -> tuple[str, list[str]] | None:
    """A module of a chapter after ``chapter`` reached from ``start``, and the path to it."""
    for module, path in reachable(start).items():
        found = chapter_of_module(module)
        if found is not None and found > chapter:
            return module, path
    return None


def describe_path(path: list[str]) -> str:
    """A path of modules with their chapters: ``a (1) -> b (11)``."""
    return " -> ".join(f"{m} ({chapter_of_module(m)})" for m in path)
