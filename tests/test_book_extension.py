"""The book's Sphinx extension: the chapters that show committed results are read and run again
when those results (or the study's code) change, not only when their notebook does; each chapter is
published as an executed notebook with its numbers; the build records how long each chapter ran; the
bibliography labels its entries as the text cites them."""

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from script_modules import load_script

ROOT = Path(__file__).resolve().parents[1]
rvit_book = load_script("book/_ext/rvit_book.py")


def test_the_book_loads_the_extension():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    extensions = config["sphinx"]["local_extensions"]
    assert (ROOT / "book" / extensions["rvit_book"] / "rvit_book.py").is_file()


def test_pages_with_dependencies_are_run_on_every_read():
    # inline execution runs a notebook whenever its page is read; a notebook's own execution_mode
    # (cache, off) would give the old outputs back, and its {eval} roles would find no kernel
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "inline"
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        assert "execution_mode" not in notebook["metadata"].get("mystnb", {}), path.name


def test_the_study_chapter_depends_on_every_result_and_the_study_code():
    found = rvit_book.dependencies(ROOT, "notebooks/08_study")
    results = sorted(
        p
        for p in (ROOT / "results").rglob("*.json")
        if not p.is_relative_to(ROOT / "results" / "book")
    )
    assert results and set(results) <= set(found)
    assert {ROOT / "rvit" / "study" / f"{m}.py" for m in ("analysis", "text")} <= set(found)
    # the pre-registration and its deviations log, which chapter 8 reads and prints
    assert ROOT / "study" / "preregistration-v3.md" in found
    assert rvit_book.dependencies(ROOT, "notebooks/01_data") == []


def test_the_dependencies_are_noted_for_the_page_being_read(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "results" / "bench").mkdir(parents=True)
    (tmp_path / "results" / "bench" / "train.json").write_text("{}", encoding="utf-8")
    noted = []
    app = SimpleNamespace(
        srcdir=str(tmp_path / "book"), env=SimpleNamespace(note_dependency=noted.append)
    )
    rvit_book._note_dependencies(app, "notebooks/09_efficiency", [""])
    assert noted == [str((tmp_path / "results" / "bench" / "train.json").resolve())]
    rvit_book._note_dependencies(app, "notebooks/02_patches_and_positions", [""])
    assert len(noted) == 1


def test_the_build_writes_nothing_the_study_chapter_reads():
    found = rvit_book.dependencies(ROOT, "notebooks/08_study")
    assert not [p for p in found if p.is_relative_to(ROOT / "results" / "book")]


def test_colab_opens_the_published_executed_notebook():
    url = rvit_book.colab_url("https://github.com/rvit-book/rvit", "01_data.ipynb")
    assert url == (
        "https://colab.research.google.com/github/rvit-book/rvit/blob/gh-pages/executed/01_data.ipynb"
    )
    with pytest.raises(ValueError, match="GitHub repository"):
        rvit_book.colab_url("https://example.org/rvit", "01_data.ipynb")


def test_the_bibliography_labels_entries_as_the_text_cites_them():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["sphinx"]["config"]["bibtex_reference_style"] == "author_year"
    assert config["sphinx"]["config"]["bibtex_default_style"] == "rvit_author_year"
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin

    rvit_book._register_bibliography_style()
    style = find_plugin("pybtex.style.formatting", "rvit_author_year")()
    bib = parse_file(str(ROOT / "book" / "references.bib"))
    labels = {entry.key: entry.label for entry in style.format_entries(bib.entries.values())}
    assert labels["arnab2021vivit"] == "Arnab et al., 2021"
    assert labels["gal2016dropout"] == "Gal and Ghahramani, 2016"
    assert labels["patraucean2024trecvit"] == "Pătrăucean et al., 2024"
    assert len(set(labels.values())) == len(labels)


# ------------------------------------------------------------------------------------------------
# a book of one chapter built with the extension


def _fixture_book(tmp_path: Path, prose: str) -> Path:
    import nbformat

    book = tmp_path / "book"
    (book / "notebooks").mkdir(parents=True)
    (book / "references.bib").write_bytes((ROOT / "book" / "references.bib").read_bytes())
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["timeout"] = 120
    config["sphinx"]["local_extensions"] = {"rvit_book": str(ROOT / "book" / "_ext")}
    config["sphinx"]["config"]["rvit_run_times"] = str(tmp_path / "run_times.json")
    config["launch_buttons"].pop("binderhub_url", None)
    (book / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    toc = {"format": "jb-book", "root": "intro", "chapters": [{"file": "notebooks/01_fx"}]}
    (book / "_toc.yml").write_text(yaml.safe_dump(toc), encoding="utf-8")
    (book / "intro.md").write_text("# Intro\n\n```{bibliography}\n```\n", encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Fixture\n\nAs {cite:t}`arnab2021vivit` shows."),
        nbformat.v4.new_code_cell(
            "from IPython.display import Markdown\n"
            "from rvit.notebook import glue, prose\n"
            "glue('share', 0.4375)\n"
            "glue('verdict', Markdown('**yes**'), display=False)"
        ),
        nbformat.v4.new_markdown_cell(prose),
    ]
    nbformat.write(nb, book / "notebooks" / "01_fx.ipynb")
    return book


def _build(book: Path) -> subprocess.CompletedProcess:
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run(
        [str(jupyter_book), "build", str(book), "-W", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_build_publishes_each_chapter_executed_with_its_numbers(tmp_path: Path):
    prose = 'Share {eval}`prose["share:.1%"]`.\n\n| verdict |\n|---|\n| {eval}`prose["verdict"]` |'
    book = _fixture_book(tmp_path, prose)
    run = _build(book)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    html = book / "_build" / "html"
    executed = json.loads((html / "executed" / "01_fx.ipynb").read_text(encoding="utf-8"))
    markdown = ["".join(c["source"]) for c in executed["cells"] if c["cell_type"] == "markdown"]
    assert markdown == [
        "# Fixture\n\nAs Arnab et al. (2021) shows.",
        "Share 43.8%.\n\n| verdict |\n|---|\n| **yes** |",
    ]
    assert executed["cells"][1]["outputs"]  # the outputs are kept
    download = html / "_sources" / "notebooks" / "01_fx.ipynb"
    assert download.read_bytes() == (html / "executed" / "01_fx.ipynb").read_bytes()
    page = (html / "notebooks" / "01_fx.html").read_text(encoding="utf-8")
    assert rvit_book.colab_url("https://github.com/rvit-book/rvit", "01_fx.ipynb") in page
    assert "blob/main/notebooks/01_fx.ipynb" not in page
    assert "Arnab et al., 2021" in (html / "intro.html").read_text(encoding="utf-8")
    times = json.loads((tmp_path / "run_times.json").read_text(encoding="utf-8"))["chapters"]
    assert times["01_fx"]["seconds"] >= 0 and times["01_fx"]["how"] == "in a book build"
    source = json.loads((book / "notebooks" / "01_fx.ipynb").read_text(encoding="utf-8"))
    assert "{eval}" in "".join(source["cells"][2]["source"])  # the source keeps its roles
    assert not source["cells"][1]["outputs"]


def test_a_role_never_glued_fails_the_build_naming_the_chapter(tmp_path: Path):
    book = _fixture_book(tmp_path, 'Share {eval}`prose["shares:.1%"]`.')
    run = _build(book)
    assert run.returncode != 0
    assert re.search(
        r"01_fx, markdown cell 2: \{eval\}`prose\[\"shares:.1%\"\]` has no value", run.stderr
    )
    assert "nothing is glued under 'shares'" in run.stderr


def test_chapters_measured_alone_are_recorded_within_the_limit(tmp_path: Path, capsys):
    import nbformat

    run_times = load_script("tools/run_times.py")
    for name, seconds in (("01_quick", 0), ("02_slow", 5)):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(f"import time\ntime.sleep({seconds})")]
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    out = tmp_path / "run_times.json"
    paths = [str(tmp_path / "01_quick.ipynb"), str(tmp_path / "02_slow.ipynb")]
    ticks = iter(range(100))  # a clock that moves one second per reading, however busy the machine

    def clock() -> float:
        return float(next(ticks))

    args = [*paths, "--max-seconds", "3", "--out", str(out)]
    assert run_times.main(args, clock=clock) == 0
    chapters = json.loads(out.read_text(encoding="utf-8"))["chapters"]
    assert list(chapters) == ["01_quick"] and chapters["01_quick"]["how"] == "by executing it alone"
    assert chapters["01_quick"]["seconds"] == 1.0
    assert "02_slow: over 3 s, not recorded" in capsys.readouterr().out
    assert run_times.main([str(tmp_path / "absent.ipynb"), "--out", str(out)]) == 1
    assert "no such notebook" in capsys.readouterr().err
