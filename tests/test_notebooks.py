"""The book's notebooks: committed without outputs, importing only what their chapter has introduced,
and running end to end at the smoke profile."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest
from chapters import CHAPTER_MODULES, chapter_of_module, describe_path, first_later, imports_in
from script_modules import load_script

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
        else:  # jupyterlab-myst keeps what the prose's {eval} roles gave in the cell's metadata
            assert "user_expressions" not in cell.get("metadata", {}), (
                f"{path.name}: cell {i} carries evaluated expressions; clear them before committing"
            )


# Characters of code the book's text column holds (notebooks/ruff.toml formats the code cells to it).
COLUMN_CHARACTERS = 64


def _shown_code_lines(cell) -> list[str]:
    """The code lines a page shows of a cell: a code cell's source unless it is removed from the
    page, or the lines inside a markdown cell's fenced code blocks."""
    if cell.cell_type == "code":
        tags = set(cell.get("metadata", {}).get("tags", []))
        return [] if tags & {"remove-cell", "remove-input"} else cell.source.splitlines()
    lines, inside = [], False
    for line in cell.source.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_shown_code_fits_the_text_column(path: Path):
    nb = nbformat.read(path, as_version=4)
    wide = [
        f"cell {i}: {line.strip()[:50]!r} ({len(line)} characters)"
        for i, cell in enumerate(nb.cells)
        for line in _shown_code_lines(cell)
        if len(line) > COLUMN_CHARACTERS
    ]
    assert not wide, (
        f"{path.name}: code wider than the text column ({COLUMN_CHARACTERS} characters): "
        + "; ".join(wide)
    )


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


# The profile each chapter reads by default: the study's chapters read its current version.
DEFAULT_PROFILE = {"08_study": "v3", "08_study_evidence": "v3"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_parameters_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[_parameters_index(nb, path.name)]
    profile = DEFAULT_PROFILE.get(path.stem, "book")
    assert f'PROFILE = "{profile}"' in cell.source, (
        f"{path.name}: the parameters cell must set PROFILE to {profile!r}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_left_out_of_the_page_still_run_in_place(path: Path):
    """The book runs a notebook inline: a cell runs when it, or a later cell, is rendered. A cell
    tagged remove-cell is never rendered, so it would run only after the text below it had read its
    values; a cell kept off the page is tagged remove-input and remove-output instead. Only the Colab
    cell, which does nothing outside Colab, is removed."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "remove-cell" in cell.metadata.get("tags", []):
            assert 'if "google.colab" in sys.modules:' in cell.source, (
                f"{path.name}: cell {i} is tagged remove-cell; tag it remove-input and remove-output"
            )


EVAL_ROLE = re.compile(r"\{eval\}`([^`]+)`")


def _eval_name_regex() -> str:
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["sphinx"]["config"]["nb_eval_name_regex"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_reads_its_numbers_through_eval_roles(path: Path):
    """One source for the build and JupyterLab: the prose quotes values as {eval}`prose["name"]`,
    in the form the book's configuration lets myst-nb evaluate, and no glue role is left."""
    nb = nbformat.read(path, as_version=4)
    pattern = re.compile(_eval_name_regex())
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        assert "{glue:" not in cell.source, f"{path.name}: cell {i} uses a glue role; use {{eval}}"
        for expression in EVAL_ROLE.findall(cell.source):
            assert pattern.match(expression), (
                f"{path.name}: cell {i}: {{eval}}`{expression}` is not of the form the book "
                f"evaluates (nb_eval_name_regex in _config.yml)"
            )


def _check_prose(client, source: str, where: str) -> None:
    """Evaluate a markdown cell's {eval} roles the way jupyterlab-myst and myst-nb do, as the kernel's
    user expressions at the cell's place in the notebook, and check each gives text to show."""
    expressions = EVAL_ROLE.findall(source)
    if not expressions:
        return
    msg_id = client.kc.execute(
        "",
        silent=False,
        store_history=False,
        user_expressions={str(k): e for k, e in enumerate(expressions)},
    )
    reply = client.wait_for_reply(msg_id)
    results = reply["content"]["user_expressions"]
    for k, expression in enumerate(expressions):
        result = results[str(k)]
        assert result["status"] == "ok", (
            f"{where}: {{eval}}`{expression}` fails: {result.get('ename')}: {result.get('evalue')}"
        )
        data = result["data"]
        assert "text/markdown" in data or data.get("text/plain"), f"{where}: {expression} is empty"
        if "text/markdown" not in data:  # plain text shows as it is: no quotes, no object repr
            plain = data["text/plain"]
            assert not re.match(r"^(['\"]).*\1$|^<.*>$", plain), f"{where}: {expression} -> {plain}"


# What the prose can quote, read back from the kernel after a run: each glued value as text.
_PROSE_VALUES = "{n: str(getattr(prose.value(n), 'data', prose.value(n))) for n in prose.names()}"


def _run_at_smoke_profile(
    path: Path, tmp_path: Path, parameters: str = ""
) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    """Run ``path`` at the smoke profile (with ``parameters`` after the parameters cell), checking
    every markdown cell's {eval} roles where it stands; returns the executed notebook and the values
    glued for the prose."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    index = _parameters_index(nb, path.name)
    injected = nbformat.v4.new_code_cell(f'PROFILE = "smoke"\n{parameters}'.strip())
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    # Scratch files of a smoke run (extracted frames, a demo's checkpoints) and what a chapter
    # trained go to a temporary folder.
    os.environ["RVIT_SCRATCH_DIR"] = str(tmp_path)
    os.environ["RVIT_CHECKPOINTS_DIR"] = str(tmp_path / "checkpoints")
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.reset_execution_trackers()
    try:
        with client.setup_kernel():
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, i)
                elif cell.cell_type == "markdown":
                    _check_prose(client, cell.source, f"{path.name}: markdown cell {i}")
            reply = client.wait_for_reply(
                client.kc.execute("", user_expressions={"values": _PROSE_VALUES})
            )
    finally:
        os.environ.pop("RVIT_SCRATCH_DIR", None)
        os.environ.pop("RVIT_CHECKPOINTS_DIR", None)
    result = reply["content"]["user_expressions"]["values"]
    values = ast.literal_eval(result["data"]["text/plain"]) if result["status"] == "ok" else {}
    return nb, values


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_at_smoke_profile(path: Path, tmp_path: Path):
    """Every code cell runs at the smoke profile, and every number the prose quotes is there, at the
    place the prose quotes it."""
    _run_at_smoke_profile(path, tmp_path)


def _printed(nb: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream"
    )


# Glued values that time this run of the chapter, not the models it trained or loaded.
_TIMED = {"chapter_s", "chapter_training"}


def test_a_training_chapter_loads_its_checkpoints_instead_of_training(tmp_path: Path):
    """A chapter that trains writes its models to a folder; run again with CHECKPOINTS naming that
    folder, it loads them, trains nothing, and quotes the same numbers."""
    path = ROOT / "notebooks" / "10_explorer.ipynb"
    trained_nb, trained = _run_at_smoke_profile(path, tmp_path / "trained")
    folder = tmp_path / "trained" / "checkpoints" / "10_explorer" / "smoke"
    assert f"checkpoints written to {folder}" in _printed(trained_nb)
    assert sorted(p.name for p in folder.iterdir()) == ["image-trained.pt", "video-trained.pt"]

    loaded_nb, loaded = _run_at_smoke_profile(
        path, tmp_path / "loaded", f"CHECKPOINTS = {str(folder)!r}"
    )
    printed = _printed(loaded_nb)
    assert f"loaded from {folder}: nothing trained" in printed
    assert "checkpoints written" not in printed
    assert not (tmp_path / "loaded" / "checkpoints").exists()
    assert loaded["chapter_training"] == "its models loaded, not trained"
    assert trained.keys() == loaded.keys() and len(trained) > len(_TIMED)
    differ = sorted(n for n in trained if n not in _TIMED and trained[n] != loaded[n])
    assert not differ, {n: (trained[n], loaded[n]) for n in differ}
    # the lines that print each model's epochs, time and final loss are the same too
    lines = [line for line in _printed(trained_nb).splitlines() if "-trained: " in line]
    assert lines and all(line in printed for line in lines)


def test_a_missing_checkpoint_is_one_error_naming_the_file(tmp_path: Path):
    from nbclient.exceptions import CellExecutionError

    path = ROOT / "notebooks" / "10_explorer.ipynb"
    with pytest.raises(CellExecutionError) as raised:
        _run_at_smoke_profile(path, tmp_path, f"CHECKPOINTS = {str(tmp_path / 'none')!r}")
    wanted = f"checkpoint file '{tmp_path / 'none' / 'image-trained.pt'}' does not exist"
    assert "FileNotFoundError" in str(raised.value) and wanted in str(raised.value)


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


def test_the_colab_cell_clones_where_it_is_told(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import subprocess
    import sys
    import types

    from rvit.notebook import RESULTS_ENV

    source = _first_code_cell(nbformat.read(NOTEBOOKS[0], as_version=4)).source
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("RVIT_COLAB_CHECKOUT", str(tmp_path / "clone"))
    monkeypatch.setenv(RESULTS_ENV, "unset")
    exec(compile(source, "colab-cell", "exec"), {})
    assert calls[0][-1] == str(tmp_path / "clone")
    assert os.environ[RESULTS_ENV] == f"{tmp_path / 'clone'}/results"


def test_glue_keeps_plain_values_for_the_prose(monkeypatch: pytest.MonkeyPatch):
    import IPython.display
    import numpy as np

    from rvit.notebook import Text, glue, prose

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    glue("n_seeds", np.int64(10), display=False)
    glue("share", 0.4375)
    assert shown == [0.4375]  # shown only when asked
    assert type(prose.value("n_seeds")) is int
    assert prose["n_seeds"] == Text("10") and repr(prose["n_seeds"]) == "10"
    assert repr(prose["share:.1%"]) == "43.8%" and repr(prose["share:.2f"]) == "0.44"
    assert repr(prose["n_seeds:.1f"]) == "10.0" and repr(prose["share"]) == "0.4375"
    glue("total", 12345.0, display=False)
    assert repr(prose["total:,d"]) == "12,345"
    glue("share", 0.5, display=False)  # glued again: the text reads the value glued last
    assert repr(prose["share:.0%"]) == "50%"


def test_prose_strings_show_without_quotes_and_markup_renders_itself():
    from IPython.core.formatters import DisplayFormatter
    from IPython.display import Markdown

    from rvit.notebook import glue, prose

    glue("verdict", Markdown("**supported**"), display=False)
    glue("word", "above", display=False)
    formatter = DisplayFormatter()
    data, _ = formatter.format(prose["word"])
    assert data["text/plain"] == "above"  # what the kernel sends for {eval}`prose["word"]`
    data, _ = formatter.format(prose["verdict"])
    assert data["text/markdown"] == "**supported**"
    with pytest.raises(ValueError, match="takes no format"):
        prose["verdict:.1f"]


def test_prose_errors_name_what_is_missing():
    from rvit.notebook import glue, prose

    glue("gate_mean", 0.25, display=False)
    with pytest.raises(KeyError, match="'gate_men'.*did you mean 'gate_mean'"):
        prose["gate_men:.2f"]
    with pytest.raises(ValueError, match="'gate_mean' = 0.25 with ',d'"):
        prose["gate_mean:,d"]
    with pytest.raises(ValueError, match="identifier"):
        glue("not a name", 1, display=False)


def test_the_book_evaluates_only_prose_items():
    pattern = re.compile(_eval_name_regex())
    for good in ('prose["n"]', 'prose["best_image_accuracy:.0%"]', 'prose["total:,d"]'):
        assert pattern.match(good), good
    for bad in ('prose["n"]; import os', "__import__('os')", 'prose["a b"]', "n_seeds"):
        assert not pattern.match(bad), bad


def test_results_dir_finds_the_committed_results(monkeypatch: pytest.MonkeyPatch):
    from rvit.notebook import RESULTS_ENV, results_dir

    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert results_dir() == ROOT / "results"
    assert results_dir("bench") == ROOT / "results" / "bench"
    with pytest.raises(FileNotFoundError, match="missing from the results folder"):
        results_dir("no-such-experiment")


def test_checkpoints_dir_is_in_the_checkout_or_where_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    from rvit.notebook import CHECKPOINTS_ENV, checkpoints_dir

    monkeypatch.delenv(CHECKPOINTS_ENV, raising=False)
    assert checkpoints_dir("06_training", "book") == ROOT / "checkpoints" / "06_training" / "book"
    monkeypatch.setenv(CHECKPOINTS_ENV, str(tmp_path))
    assert checkpoints_dir("07_testing_on_videos") == tmp_path / "07_testing_on_videos"
    assert not (tmp_path / "07_testing_on_videos").exists()  # created only when written


def test_checkpoints_are_ignored_by_git():
    import subprocess

    probe = "checkpoints/06_training/book/history.csv"
    ignored = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "checkpoints/ must be in .gitignore"


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


def _book_extension():
    return load_script("book/_ext/rvit_book.py")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_a_colab_badge_and_its_running_time(path: Path):
    """The first markdown cell links the chapter to Colab: the executed notebook the build publishes
    (with its numbers) on the site's branch of repository.url in _config.yml, which the page's Colab
    button opens too. Under it, a cell shows how long the chapter ran, from the measurements
    (rvit.notebook.running_time), never a number typed into the text."""
    nb = nbformat.read(path, as_version=4)
    first = next(cell for cell in nb.cells if cell.cell_type == "markdown").source
    link = _book_extension().colab_url(_configured_repository(), path.name)
    assert "/blob/gh-pages/executed/" in link
    assert f"({link})" in first and "colab-badge.svg" in first, f"{path.name}: no Colab badge"
    assert "Running time" not in first, f"{path.name}: the running time is typed into the text"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    timing = code[1]  # right after the Colab cell, above the parameters
    assert timing.source.endswith(f'running_time("{path.stem}")'), (
        f"{path.name}: the second code cell must show running_time({path.stem!r})"
    )
    assert "remove-input" in timing.metadata.get("tags", []), f"{path.name}: show only the line"
    assert nb.cells.index(timing) < _parameters_index(nb, path.name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_come_with_folded_hints_and_solutions(path: Path):
    """Each chapter's exercises are followed by a folded list of hints and a folded solution each."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown" or "## Exercises" not in cell.source:
            continue
        exercises = cell.source.split("## Exercises", 1)[1].split("{dropdown}", 1)[0]
        count = len(re.findall(r"^\d+\. ", exercises, re.M))
        assert count and "::::{dropdown} Hints" in cell.source, f"{path.name}: no folded hints"
        for n in range(1, count + 1):
            assert f":::{{dropdown}} A solution to exercise {n}\n" in cell.source, (
                f"{path.name}: no folded solution to exercise {n}"
            )


def test_running_time_is_read_from_the_recorded_measurements(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    import json

    from rvit.notebook import RESULTS_ENV, RUN_TIMES, record_run_time, running_time

    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    assert running_time("01_data").data.startswith("*Running time: not measured yet")
    path = tmp_path.joinpath(*RUN_TIMES)
    record_run_time(path, "01_data", 12.34, threads=1, how="in a book build", date="2026-01-02")
    text = running_time("01_data").data
    assert text.startswith(
        "*Running time: 12 seconds at the book profile, measured in a book build on 2026-01-02 ("
    )
    assert "1 torch thread)" in text and text.endswith("comes on top.*")
    record_run_time(path, "06_training", 200, threads=2, how="alone")
    assert set(json.loads(path.read_text(encoding="utf-8"))["chapters"]) == {
        "01_data",
        "06_training",
    }
    assert "3 minutes" in running_time("06_training").data
    assert "not measured yet" in running_time("07_testing_on_videos").data
    with pytest.raises(ValueError, match="06_training must be a number of seconds"):
        record_run_time(path, "06_training", float("nan"), threads=1, how="alone")
    path.write_text('{"chapters": {"01_data": {}}}', encoding="utf-8")
    with pytest.raises(ValueError, match="run_times.json is not a record of running times"):
        running_time("01_data")
