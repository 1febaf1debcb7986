"""Chapters readable where no MyST renderer runs: Colab, GitHub, a downloaded ``.ipynb``.

The prose of a chapter quotes its numbers as ``{eval}`prose["name"]``` roles and its sources as
``{cite:p}`key``` roles. The book build evaluates the first in the chapter's kernel and resolves the
second from ``book/references.bib``; elsewhere both show as written. This module turns a chapter into
a notebook that reads the same everywhere:

* :func:`with_values` replaces every ``{eval}`` role of the markdown cells by the value the chapter's
  kernel gave it, as the page shows it: the plain text of a formatted value (``prose["share:.1%"]``
  gives ``43.8%``, what ``rvit.notebook.Prose`` formats) and the Markdown text of a markup value
  (IPython's ``Markdown``). A role that has no value (its name was never glued, or its evaluation
  failed) is an error naming the chapter and the expression.
* :func:`with_citations` replaces every ``{cite}``, ``{cite:p}`` and ``{cite:t}`` role by author-year
  text read from the bibliography: ``(Yang et al., 2022)``, ``Yang et al. (2022)``.

The values come from the evaluations of the chapter's roles in document order, as (expression, Jupyter
output) pairs: the book's extension (``book/_ext/rvit_book.py``) records those myst-nb made for the
page, the tests make them with nbclient. ``python tools/readable_notebooks.py --cite-only SRC DEST``
writes a copy of a chapter with its citations resolved (``make lab`` makes its scratch copies so).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIBLIOGRAPHY = ROOT / "book" / "references.bib"

EVAL_ROLE = re.compile(r"\{eval\}`([^`]+)`")
CITE_ROLE = re.compile(r"\{cite(?::(p|t|ps|ts))?\}`([^`]+)`")

__all__ = [
    "EVAL_ROLE",
    "CITE_ROLE",
    "MissingValueError",
    "author_year",
    "evaluation",
    "load_bibliography",
    "shown_text",
    "with_citations",
    "with_values",
]


class MissingValueError(LookupError):
    """An ``{eval}`` role without a value: its name was never glued, or its evaluation failed."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0])


# ------------------------------------------------------------------------------------------------
# the prose's values


def shown_text(output: Mapping[str, Any]) -> str:
    """The text a role's value shows as, from the Jupyter output (or bare MIME bundle) the kernel gave.

    Markup renders itself: its ``text/markdown`` (else ``text/html``, ``text/latex``) is Markdown
    text as it is. Anything else shows its ``text/plain``, which for ``prose[...]`` is the formatted
    value. An error output raises :class:`MissingValueError` with the kernel's message.
    """
    if output.get("output_type") == "error":
        raise MissingValueError(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}")
    data = output.get("data", output)
    for mime in ("text/markdown", "text/html", "text/latex", "text/plain"):
        if mime in data:
            text = data[mime]
            text = "".join(text) if isinstance(text, list) else str(text)
            return text.strip()
    raise MissingValueError(f"no text to show among {sorted(data)}")


def evaluation(expression: str, outputs: Iterable[Mapping[str, Any]]) -> tuple[str, dict]:
    """One recorded evaluation: the expression and the output that shows (the last with data or an
    error), as myst-nb's eval role reads the outputs of ``NotebookClientInline.eval_variable``."""
    chosen: dict = {"output_type": "error", "ename": "NoOutput", "evalue": "no output"}
    for output in outputs:
        if output.get("output_type") == "error" or output.get("data"):
            chosen = json.loads(json.dumps(dict(output), default=str))
            if output.get("output_type") == "error":
                break
    return expression, chosen


def _outside_code(source: str) -> list[tuple[int, int]]:
    """The spans of ``source`` that are code (fenced blocks and inline code), where roles are text."""
    spans = [
        m.span() for m in re.finditer(r"^(```+|~~~+)[^\n]*\n.*?^\1[ \t]*$", source, re.M | re.S)
    ]
    for match in re.finditer(r"(?<!`)(`{2,})(?!`).+?(?<!`)\1(?!`)", source, re.S):
        spans.append(match.span())
    return spans


def _roles(pattern: re.Pattern, source: str) -> list[re.Match]:
    """The matches of ``pattern`` in ``source`` that MyST reads as roles (not inside code)."""
    code = _outside_code(source)
    return [m for m in pattern.finditer(source) if not any(a <= m.start() < b for a, b in code)]


def _replace(source: str, matches: list[re.Match], texts: list[str]) -> str:
    out, last = [], 0
    for match, text in zip(matches, texts, strict=True):
        line_start = source.rfind("\n", 0, match.start()) + 1
        if source[line_start:].lstrip().startswith("|"):  # a table row: a bar would split the cell
            text = text.replace("|", r"\|").replace("\n", " ")
        out += [source[last : match.start()], text]
        last = match.end()
    out.append(source[last:])
    return "".join(out)


def with_values(nb: Any, evaluations: Iterable[tuple[str, Mapping[str, Any]]], chapter: str) -> Any:
    """A copy of notebook ``nb`` whose markdown cells show their ``{eval}`` roles' values.

    ``evaluations`` are (expression, output) pairs in the order the roles were evaluated; the n-th role
    with an expression takes the n-th evaluation of that expression, so a name glued again reads the
    value it had where the role stands. Outputs and other cells are kept. A role without a value, or
    one whose evaluation failed, raises :class:`MissingValueError` naming ``chapter`` and the role.
    """
    queues: dict[str, deque] = defaultdict(deque)
    for expression, output in evaluations:
        queues[expression].append(output)
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        matches = _roles(EVAL_ROLE, source)
        texts = []
        for match in matches:
            expression = match.group(1)
            where = f"{chapter}, markdown cell {index}: {match.group(0)}"
            if not queues[expression]:
                raise MissingValueError(
                    f"{where} has no value: the chapter's kernel never evaluated {expression} "
                    f"(is {_name(expression)!r} glued in a code cell above it?)"
                )
            try:
                texts.append(shown_text(queues[expression].popleft()))
            except MissingValueError as error:
                raise MissingValueError(f"{where} has no value: {error}") from None
        cell["source"] = _replace(source, matches, texts)
    left = [
        m.group(0)
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
        for m in _roles(EVAL_ROLE, c["source"])
    ]
    if left:  # a value that is itself a role
        raise MissingValueError(f"{chapter}: {left[0]} is left in the text after substitution")
    return nb


def _name(expression: str) -> str:
    match = re.match(r'^prose\["([^":]+)', expression)
    return match.group(1) if match else expression


# ------------------------------------------------------------------------------------------------
# citations


def load_bibliography(path: Path = BIBLIOGRAPHY) -> dict[str, tuple[str, str]]:
    """Each entry of the BibTeX file ``path`` as (authors, year): ``("Yang et al.", "2022")``."""
    from pybtex.database import parse_file

    try:
        database = parse_file(str(path))
    except Exception as error:  # pybtex raises its own errors for a bad file
        raise ValueError(f"cannot read the bibliography {path}: {error}") from None
    return {
        key: (_authors(entry), entry.fields.get("year", "n.d."))
        for key, entry in database.entries.items()
    }


def _authors(entry: Any) -> str:
    """The authors as the citations name them: ``A``, ``A and B``, ``A et al.`` (three or more)."""
    from pybtex.richtext import Text

    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [
        Text.from_latex(" ".join(p.prelast_names + p.last_names)).render_as("text") for p in persons
    ]
    others = bool(names) and names[-1] == "others"
    names = [n for n in names if n != "others"]
    if not names:
        return Text.from_latex(entry.fields.get("title", "Anonymous")).render_as("text")
    if len(names) > 2 or (others and names):
        return f"{names[0]} et al."
    return " and ".join(names)


def author_year(
    keys: Iterable[str], kind: str | None, bibliography: Mapping[str, tuple[str, str]]
) -> str:
    """The text of a citation: ``(A et al., 2022; B, 2011)`` (``{cite:p}``), ``A et al. (2022)``
    (``{cite:t}``); a key missing from the bibliography is an error naming it."""
    entries = []
    for key in keys:
        if key not in bibliography:
            raise KeyError(f"{key!r} is not in the bibliography ({len(bibliography)} entries)")
        entries.append(bibliography[key])
    if kind in ("t", "ts"):
        return "; ".join(f"{authors} ({year})" for authors, year in entries)
    return "(" + "; ".join(f"{authors}, {year}" for authors, year in entries) + ")"


def with_citations(nb: Any, bibliography: Mapping[str, tuple[str, str]], chapter: str) -> Any:
    """A copy of ``nb`` whose markdown cells cite in author-year text instead of ``{cite}`` roles."""
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        matches = _roles(CITE_ROLE, source)
        texts = []
        for match in matches:
            keys = [k.strip() for k in match.group(2).split(",") if k.strip()]
            try:
                texts.append(author_year(keys, match.group(1), bibliography))
            except KeyError as error:
                raise KeyError(
                    f"{chapter}, markdown cell {index}: {match.group(0)}: {error.args[0]}"
                ) from None
        cell["source"] = _replace(source, matches, texts)
    return nb


# ------------------------------------------------------------------------------------------------
# command line: a chapter's copy with its citations resolved (the {eval} roles stay, for JupyterLab)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cite-only", action="store_true", required=True, help="resolve citations only"
    )
    parser.add_argument("source", type=Path, help="the chapter notebook")
    parser.add_argument("dest", type=Path, help="where its copy goes")
    parser.add_argument("--bib", type=Path, default=BIBLIOGRAPHY, help="the BibTeX file")
    args = parser.parse_args(argv)
    try:
        nb = json.loads(args.source.read_text(encoding="utf-8"))
        nb = with_citations(nb, load_bibliography(args.bib), args.source.name)
    except (OSError, ValueError, KeyError) as error:
        print(f"readable_notebooks: {error}", file=sys.stderr)
        return 1
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    args.dest.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
