"""The book's notebooks: committed without outputs, importing only what their chapter has introduced,
and running end to end at the smoke profile."""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

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
        "rvit.notebook",
    ),
    2: ("rvit.patch",),
    3: ("rvit.attention",),
    4: ("rvit.cell",),
    5: ("rvit.config", "rvit.model", "rvit.baselines"),
    6: ("rvit.train", "rvit.utils", "rvit.checkpoint"),
    7: ("rvit.evaluate",),
    8: ("rvit.study",),
    9: ("rvit.perf",),
    10: ("rvit.widgets",),
    11: ("rvit.data.labels", "rvit.data.leakage", "rvit.cli"),
}
# Packages whose import loads nothing by itself (their names are lazy).
LAZY_PACKAGES = {"rvit": "rvit", "rvit.data": "rvit.data"}


def chapter_of(path: Path) -> int:
    return int(path.name.split("_", 1)[0])


def _resolve(module: str, names: list[str]) -> set[str]:
    """The rvit modules that `from module import names` (or `import module`) actually loads."""
    if module not in LAZY_PACKAGES:
        return {module}
    if not names:
        return set()
    exports = importlib.import_module(module)._EXPORTS
    return {exports[n] for n in names if n in exports} | {
        f"{module}.{n}" for n in names if n not in exports
    }


def rvit_imports(nb: nbformat.NotebookNode) -> set[str]:
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "rvit":
                        found |= _resolve(alias.name, [])
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module.split(".")[0] == "rvit":
                    found |= _resolve(node.module, [a.name for a in node.names])
    return found


def test_chapters_are_numbered_and_known():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert chapter_of(path) in CHAPTER_MODULES, f"{path.name}: unknown chapter number"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, (
                f"{path.name}: cell {i} carries outputs; clear them before committing"
            )
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_imports_only_introduced_modules(path: Path):
    nb = nbformat.read(path, as_version=4)
    chapter = chapter_of(path)
    allowed = {m for k, mods in CHAPTER_MODULES.items() if k <= chapter for m in mods}
    later = sorted(m for m in rvit_imports(nb) if m not in allowed)
    assert not later, f"{path.name} (chapter {chapter}) imports modules of later chapters: {later}"


def _parameters_index(nb: nbformat.NotebookNode, name: str) -> int:
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return i
    raise AssertionError(f"{name}: no cell tagged 'parameters'")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_parameters_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[_parameters_index(nb, path.name)]
    assert 'PROFILE = "book"' in cell.source, f"{path.name}: the parameters cell must set PROFILE"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_at_smoke_profile(path: Path, tmp_path: Path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    index = _parameters_index(nb, path.name)
    injected = nbformat.v4.new_code_cell('PROFILE = "smoke"')
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    # Scratch files of a smoke run (checkpoints, extracted frames) go to a temporary folder.
    os.environ["RVIT_SCRATCH_DIR"] = str(tmp_path)
    try:
        NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        os.environ.pop("RVIT_SCRATCH_DIR", None)
