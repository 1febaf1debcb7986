"""The book's notebooks: committed without outputs, importing only what their chapter has introduced,
and running end to end at the smoke profile."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nbformat
import pytest
from chapters import CHAPTER_MODULES, chapter_of_module, describe_path, first_later, imports_in

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def chapter_of(path: Path) -> int:
    return int(path.name.split("_", 1)[0])


def rvit_imports(nb: nbformat.NotebookNode) -> set[str]:
    """The rvit modules the notebook's code cells import (shell and magic lines left out)."""
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        found |= imports_in(ast.parse(source))
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
    """What a notebook imports, and everything those modules import in turn, is of its chapter or
    of an earlier one."""
    nb = nbformat.read(path, as_version=4)
    chapter = chapter_of(path)
    imported = rvit_imports(nb)
    unknown = sorted(m for m in imported if chapter_of_module(m) is None)
    assert not unknown, f"{path.name} imports modules of no chapter: {unknown}"
    later = first_later(imported, chapter)
    assert later is None, (
        f"{path.name} (chapter {chapter}) reaches {later[0]} of a later chapter: "
        f"{describe_path(later[1])}"
    )


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


# ------------------------------------------------------------------------------------------------
# Wherever a reader runs a chapter: Colab's first cell, glue without myst-nb, results through the package


def _first_code_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return next(cell for cell in nb.cells if cell.cell_type == "code")


def _configured_repository() -> str:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_the_colab_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    source = _first_code_cell(nb).source
    assert 'if "google.colab" in sys.modules:' in source, f"{path.name}: no Colab cell first"
    assert f'"{_configured_repository()}"' in source, (
        f"{path.name}: the Colab cell must clone repository.url of _config.yml"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_finds_results_through_the_package(path: Path):
    text = path.read_text(encoding="utf-8")
    assert "../results" not in text, f"{path.name}: use rvit.notebook.results_dir(), not ../results"
    assert "from myst_nb import" not in text, f"{path.name}: glue through rvit.notebook"


def test_colab_cell_does_nothing_outside_colab(monkeypatch: pytest.MonkeyPatch):
    import subprocess
    import sys

    source = _first_code_cell(nbformat.read(NOTEBOOKS[0], as_version=4)).source
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "colab-cell", "exec"), {})
    assert calls == []


def test_colab_cell_installs_from_the_repository_in_colab(monkeypatch: pytest.MonkeyPatch):
    import subprocess
    import sys
    import types

    from rvit.notebook import RESULTS_ENV

    source = _first_code_cell(nbformat.read(NOTEBOOKS[0], as_version=4)).source
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv(RESULTS_ENV, "unset")  # restored after the test; the cell overwrites it
    exec(compile(source, "colab-cell", "exec"), {})
    clone, package, extra = calls
    assert clone[:2] == ["git", "clone"] and _configured_repository() in clone
    assert package[-2:] == ["--no-deps", clone[-1]]  # Colab's own torch is kept
    assert any(arg.startswith("av") for arg in extra)
    assert os.environ[RESULTS_ENV] == f"{clone[-1]}/results"


def test_glue_uses_myst_nb_when_installed(monkeypatch: pytest.MonkeyPatch):
    import sys
    import types

    import numpy as np

    from rvit.notebook import glue

    stored: list[tuple] = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: stored.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    glue("n", np.int64(3), display=False)
    assert stored == [("n", 3, False)] and type(stored[0][1]) is int


def test_glue_without_myst_nb_shows_the_value(monkeypatch: pytest.MonkeyPatch):
    import sys

    import IPython.display

    from rvit.notebook import glue

    shown: list = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb raises ImportError
    monkeypatch.setattr(IPython.display, "display", shown.append)
    glue("hidden", 1.5, display=False)
    glue("shown", 2.5)
    assert shown == [2.5]


def test_results_dir_finds_the_committed_results(monkeypatch: pytest.MonkeyPatch):
    from rvit.notebook import RESULTS_ENV, results_dir

    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert results_dir() == ROOT / "results"
    assert results_dir("bench") == ROOT / "results" / "bench"
    with pytest.raises(FileNotFoundError, match="missing from the results folder"):
        results_dir("no-such-experiment")


def test_results_dir_follows_the_environment_and_errors_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    from rvit.notebook import RESULTS_ENV, results_dir

    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    assert results_dir() == tmp_path
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match=RESULTS_ENV):
        results_dir()


def test_notebook_copied_alone_finds_its_results(tmp_path: Path):
    """Chapter 9 copied into an empty folder (as Colab or `make lab` holds it) runs at the smoke
    profile and reads the committed benchmark results through the package."""
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "09_efficiency.ipynb"
    alone = tmp_path / "alone"
    alone.mkdir()
    nb = nbformat.read(path, as_version=4)
    index = _parameters_index(nb, path.name)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell('PROFILE = "smoke"'))
    nbformat.write(nb, alone / path.name)
    env_before = os.environ.pop("RVIT_RESULTS_DIR", None)
    try:
        NotebookClient(
            nbformat.read(alone / path.name, as_version=4),
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(alone)}},
        ).execute()
    finally:
        if env_before is not None:
            os.environ["RVIT_RESULTS_DIR"] = env_before
    assert sorted(p.name for p in alone.iterdir()) == [path.name]


def test_table_hides_the_index_and_wraps_text():
    import pandas as pd

    from rvit.notebook import table

    html = table(pd.DataFrame({"claim": ["a long sentence"], "seeds": [3]}, index=[7])).to_html()
    assert "a long sentence" in html and "white-space: normal" in html
    assert ">7<" not in html  # the index is not shown
