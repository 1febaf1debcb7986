"""The package's layering, read from the source: every module belongs to a chapter of the book, no
two modules import each other (directly or through others), and a module reaches, through all its
imports, only modules of its own chapter or of earlier ones.

An import counts wherever it is written: at the top of a module or inside a function (a lazy import
runs as soon as the function does). ``from rvit.x import y`` counts as an import of the submodule
``rvit.x.y`` when there is one, and ``from rvit.data import Name`` as an import of the module that
defines ``Name`` (the lazy packages of ``LAZY_PACKAGES`` load nothing by themselves).

Exempt from having a chapter: the lazy packages' ``__init__`` (they only name where things live)
and ``rvit/__main__.py`` (the command line's entry point, which the book runs but never imports).
"""

from __future__ import annotations

import ast

import pytest
from chapters import (
    CHAPTER_MODULES,
    LAZY_PACKAGES,
    chapter_of_module,
    describe_path,
    first_later,
    import_graph,
    imports_in,
    module_files,
)

EXEMPT = {*LAZY_PACKAGES, "rvit.__main__"}


MODULES = sorted(module_files())


def test_the_package_is_found():
    assert "rvit.model" in MODULES and "rvit.data.synthetic" in MODULES


def test_the_table_names_existing_modules():
    known = set(MODULES)
    missing = sorted(m for mods in CHAPTER_MODULES.values() for m in mods if m not in known)
    assert not missing, f"the chapter table names modules that do not exist: {missing}"


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_a_chapter(module: str):
    if module in EXEMPT:
        return
    assert chapter_of_module(module) is not None, (
        f"{module} is in no chapter: add it to CHAPTER_MODULES in tests/chapters.py, in the chapter "
        f"that introduces it"
    )


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target in graph and target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in MODULES:
        if module not in state:
            cycle = visit(module)
            assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_its_own_and_earlier_chapters(module: str):
    chapter = chapter_of_module(module)
    if chapter is None:
        return  # exempt, or reported by test_every_module_has_a_chapter
    later = first_later({module}, chapter)
    assert later is None, (
        f"{module} (chapter {chapter}) imports {later[0]} of a later chapter: {describe_path(later[1])}"
    )


def test_lazy_imports_and_submodules_are_counted():
    """The reading of imports this test rests on: imports inside functions, and submodules."""
    tree = ast.parse(
        "def f():\n    from rvit.perf import count_flops\n"
        "from rvit.study import registry\nfrom rvit.data import SyntheticActions\nimport rvit\n"
    )
    assert imports_in(tree, "rvit") == {"rvit.perf", "rvit.study.registry", "rvit.data.synthetic"}
