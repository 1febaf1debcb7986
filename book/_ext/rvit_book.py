"""The book's Sphinx extension: chapters that read committed files are rebuilt when those change.

Sphinx re-reads a page only when its source changed. The study chapter reads ``results/`` and the
study's code, the efficiency chapter the benchmark results: a new result changes neither notebook, so
their pages would keep showing the old numbers. Each such page is given its files as Sphinx
dependencies (a newer file makes Sphinx read the page again), and since the book executes its
notebooks inline (``execute_notebooks: inline`` in ``_config.yml``), reading a page runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "notebooks/08_study": ("results/**/*.json", "rvit/study/*.py"),
    "notebooks/08_study_evidence": ("results/**/*.json", "rvit/study/*.py"),
    "notebooks/09_efficiency": ("results/bench/*.json",),
}
"""Page -> the files it reads, as glob patterns relative to the repository root."""


def dependencies(root: Path, docname: str) -> list[Path]:
    """The files ``docname`` depends on below ``root``, sorted (none for other pages)."""
    found: set[Path] = set()
    for pattern in DEPENDENCIES.get(docname, ()):
        found.update(path for path in root.glob(pattern) if path.is_file())
    return sorted(found)


def _note_dependencies(app: Any, docname: str, source: list[str]) -> None:
    root = Path(app.srcdir).resolve().parent  # the book is the folder book/ of the repository
    for path in dependencies(root, docname):
        app.env.note_dependency(str(path))


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", _note_dependencies)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
