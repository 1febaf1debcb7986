"""The book's Sphinx extension.

* Chapters that read committed files are rebuilt when those change. Sphinx re-reads a page only when
  its source changed. The study chapter reads ``results/`` and the study's code, the efficiency
  chapter the benchmark results: a new result changes neither notebook, so their pages would keep
  showing the old numbers. Each such page is given its files as Sphinx dependencies (a newer file
  makes Sphinx read the page again), and since the book executes its notebooks inline
  (``execute_notebooks: inline`` in ``_config.yml``), reading a page runs it.
* Every chapter is also published as an executed notebook that reads the same outside the book: its
  outputs kept, each ``{eval}`` role replaced by the value the page shows and each citation by
  author-year text (``tools/readable_notebooks.py``). The values are the ones myst-nb's inline
  execution gave the page's roles, recorded as it evaluates them. The notebook goes to
  ``executed/NN.ipynb`` of the HTML output and replaces ``_sources/notebooks/NN.ipynb``, which the
  page's download button serves; the page's Colab button opens ``executed/NN.ipynb`` on the branch
  the site is published to (``make publish``), as the badge under each chapter's title does.
* The build records how long each chapter ran in ``results/book/run_times.json``; the line under each
  chapter's title shows it (``rvit.notebook.running_time``).
* The bibliography labels its entries as the text cites them, "Arnab et al., 2021", instead of
  pybtex's alpha labels ("ADH+21").
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import readable_notebooks  # noqa: E402

DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "notebooks/08_study": ("results/**/*.json", "rvit/study/*.py", "study/*"),
    "notebooks/08_study_evidence": ("results/**/*.json", "rvit/study/*.py"),
    "notebooks/09_efficiency": ("results/bench/*.json",),
}
"""Page -> the files it reads, as glob patterns relative to the repository root."""

NOT_DEPENDENCIES = ("results/book/",)
"""Files the build itself writes (the running times): no page is read again because they changed."""

EXECUTED = "executed"
"""The folder of the HTML output holding the chapters as executed, readable notebooks."""

PUBLISHED_BRANCH = "gh-pages"
"""The branch of the repository the built site is published to (``make publish``)."""

COLAB = "https://colab.research.google.com"


def dependencies(root: Path, docname: str) -> list[Path]:
    """The files ``docname`` depends on below ``root``, sorted (none for other pages)."""
    found: set[Path] = set()
    for pattern in DEPENDENCIES.get(docname, ()):
        found.update(path for path in root.glob(pattern) if path.is_file())
    skip = tuple(str(root / prefix) for prefix in NOT_DEPENDENCIES)
    return sorted(path for path in found if not str(path).startswith(skip))


def colab_url(repository_url: str, notebook: str) -> str:
    """Colab's address of the executed ``notebook`` (``01_data.ipynb``) on the published site's branch."""
    match = re.match(r"^https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?$", repository_url or "")
    if not match:
        raise ValueError(f"repository.url must be a GitHub repository; got {repository_url!r}")
    owner, repo = match.groups()
    return f"{COLAB}/github/{owner}/{repo}/blob/{PUBLISHED_BRANCH}/{EXECUTED}/{notebook}"


def _note_dependencies(app: Any, docname: str, source: list[str]) -> None:
    root = Path(app.srcdir).resolve().parent  # the book is the folder book/ of the repository
    for path in dependencies(root, docname):
        app.env.note_dependency(str(path))


# ------------------------------------------------------------------------------------------------
# the executed, readable notebooks

_EVALUATIONS: dict[str, list[tuple[str, dict]]] = defaultdict(list)
"""Notebook path -> the (expression, output) of each {eval} role myst-nb evaluated, in order."""


def _record_evaluations() -> None:
    """Wrap myst-nb's inline client so that each evaluated role's output is kept for its notebook."""
    from myst_nb.core.execute.inline import NotebookClientInline

    if getattr(NotebookClientInline.eval_variable, "_rvit_records", False):
        return
    evaluate = NotebookClientInline.eval_variable

    def eval_variable(self: Any, name: str) -> Any:
        key = str(Path(self.path).resolve()) if self.path else ""
        try:
            outputs = evaluate(self, name)
        except Exception as error:
            _EVALUATIONS[key].append(
                (
                    name,
                    {"output_type": "error", "ename": type(error).__name__, "evalue": str(error)},
                )
            )
            raise
        _EVALUATIONS[key].append(readable_notebooks.evaluation(name, outputs))
        return outputs

    eval_variable._rvit_records = True  # type: ignore[attr-defined]
    NotebookClientInline.eval_variable = eval_variable


def _forget_evaluations(app: Any, docname: str, source: list[str]) -> None:
    _EVALUATIONS.pop(str(Path(app.env.doc2path(docname)).resolve()), None)


def _is_notebook(app: Any, docname: str) -> bool:
    return str(app.env.doc2path(docname)).endswith(".ipynb")


def _bibliography(app: Any) -> dict[str, tuple[str, str]]:
    entries: dict[str, tuple[str, str]] = {}
    for name in app.config.bibtex_bibfiles:
        entries.update(readable_notebooks.load_bibliography(Path(app.srcdir) / name))
    return entries


def readable_notebook(app: Any, docname: str) -> dict:
    """The executed notebook of ``docname`` (myst-nb's ``jupyter_execute`` copy) with the values its
    roles showed and its citations in author-year text."""
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"
    if not executed.is_file():
        raise FileNotFoundError(f"{docname}: myst-nb wrote no executed notebook at {executed}")
    nb = json.loads(executed.read_text(encoding="utf-8"))
    chapter = Path(docname).name
    evaluations = _EVALUATIONS.get(str(Path(app.env.doc2path(docname)).resolve()), [])
    nb = readable_notebooks.with_values(nb, evaluations, chapter)
    return readable_notebooks.with_citations(nb, _bibliography(app), chapter)


def _write_readable(app: Any, doctree: Any) -> None:
    from sphinx.errors import ExtensionError

    docname = app.env.docname
    if app.builder.format != "html" or not _is_notebook(app, docname):
        return
    try:
        nb = readable_notebook(app, docname)
    except (LookupError, ValueError, FileNotFoundError) as error:
        raise ExtensionError(f"the executed notebook of {docname}: {error}") from None
    path = Path(app.outdir) / EXECUTED / f"{Path(docname).name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _colab_button(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """The page's Colab button opens the executed notebook of the published site."""
    if doctree is None or not _is_notebook(app, pagename):
        return
    url = colab_url(
        app.config.html_theme_options.get("repository_url", ""), f"{Path(pagename).name}.ipynb"
    )

    def visit(buttons: list) -> None:
        for button in buttons:
            if button.get("text") == "Colab" and "url" in button:
                button["url"] = url
            visit(button.get("buttons", []))

    visit(context.get("header_buttons", []))


def _publish(app: Any, exception: Exception | None) -> None:
    """The download button's notebooks are the executed ones; the running times are recorded."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for docname in app.env.found_docs:
        if not _is_notebook(app, docname):
            continue
        readable = out / EXECUTED / f"{Path(docname).name}.ipynb"
        source = out / "_sources" / f"{docname}.ipynb"
        if readable.is_file() and source.parent.is_dir():
            source.write_bytes(readable.read_bytes())
    _record_run_times(app)


def _record_run_times(app: Any) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    from rvit.notebook import record_run_time

    started = getattr(app, "_rvit_started", 0.0)
    measured = []
    for docname, data in sorted(NbMetadataCollector.get_doc_data(app.env).items()):
        run = data.get("exec_data") or {}
        if run.get("succeeded") and run.get("mtime", 0) >= started and "runtime" in run:
            measured.append((Path(docname).name, run["runtime"]))
    if not measured:
        return
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:  # pragma: no cover - the book needs torch
        threads = 0
    path = Path(app.config.rvit_run_times) if app.config.rvit_run_times else None
    if path is None:
        return
    for chapter, seconds in measured:
        record_run_time(path, chapter, seconds, threads=threads, how="in a book build")


def _started(app: Any) -> None:
    app._rvit_started = time.time()


# ------------------------------------------------------------------------------------------------
# the bibliography's labels: as the text cites (author_year), not pybtex's alpha labels


def _register_bibliography_style() -> None:
    from pybtex.plugin import find_plugin, register_plugin
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        """``Arnab et al., 2021``: the authors and year the text cites, ``2021a``/``2021b`` apart."""

        def format_labels(self, sorted_entries):
            entries = list(sorted_entries)
            labels = []
            for entry in entries:
                authors = readable_notebooks._authors(entry)
                labels.append(f"{authors}, {entry.fields.get('year', 'n.d.')}")
            counts: dict[str, int] = defaultdict(int)
            for label in labels:
                counts[label] += 1
            seen: dict[str, int] = defaultdict(int)
            for label in labels:
                if counts[label] > 1:
                    seen[label] += 1
                    yield f"{label}{'abcdefghijklmnopqrstuvwxyz'[seen[label] - 1]}"
                else:
                    yield label

    unsrt = find_plugin("pybtex.style.formatting", "unsrt")

    class AuthorYearStyle(unsrt):
        default_label_style = "rvit_author_year"
        default_sorting_style = "author_year_title"

    for group, plugin in (
        ("pybtex.style.labels", AuthorYearLabels),
        ("pybtex.style.formatting", AuthorYearStyle),
    ):
        try:
            register_plugin(group, "rvit_author_year", plugin)
        except Exception:  # registered already (the extension set up twice in one process)
            pass


def setup(app: Any) -> dict[str, Any]:
    # where the build records the chapters' running times ("" records none)
    from rvit.notebook import RUN_TIMES

    app.add_config_value("rvit_run_times", str(ROOT.joinpath("results", *RUN_TIMES)), "")
    _register_bibliography_style()
    _record_evaluations()
    app.connect("builder-inited", _started)
    app.connect("source-read", _note_dependencies)
    app.connect("source-read", _forget_evaluations)
    app.connect("doctree-read", _write_readable)
    app.connect("html-page-context", _colab_button, priority=900)
    app.connect("build-finished", _publish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
