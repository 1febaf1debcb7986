"""The book's Sphinx extension: the chapters that show committed results are read and run again
when those results (or the study's code) change, not only when their notebook does."""

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("rvit_book", ROOT / "book" / "_ext" / "rvit_book.py")
rvit_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rvit_book)


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
    results = sorted((ROOT / "results").rglob("*.json"))
    assert results and set(results) <= set(found)
    assert ROOT / "rvit" / "study" / "report.py" in found
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
