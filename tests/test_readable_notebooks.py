"""The chapters as executed notebooks that read the same outside the book: every {eval} role replaced
by its value as the page shows it, every citation by author-year text (tools/readable_notebooks.py)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from script_modules import load_script

ROOT = Path(__file__).resolve().parents[1]


readable = load_script("tools/readable_notebooks.py")


def _fixture() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("glue('n', 10)")
    code.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "10"}, execution_count=1)
    ]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nSee {cite:p}`yang2022rvit`."),
        code,
        nbformat.v4.new_markdown_cell(
            'We ran {eval}`prose["n"]` seeds; {eval}`prose["share:.1%"]` agreed, '
            'out of {eval}`prose["total:,d"]` clips ({eval}`prose["share:.2f"]`).'
        ),
        nbformat.v4.new_markdown_cell(
            '| claim | verdict |\n|---|---|\n| a | {eval}`prose["verdict"]` |\n\n'
            'Shown literally: ``{eval}`prose["never"]``.'
        ),
        nbformat.v4.new_markdown_cell('Later the share is {eval}`prose["share:.0%"]`.'),
    ]
    return nb


def _evaluations() -> list[tuple[str, dict]]:
    """What the kernel gives each role of the fixture, in document order: the chapter's prose
    evaluated through IPython's display formatter, as a kernel formats an expression's value."""
    from IPython.core.formatters import DisplayFormatter
    from IPython.display import Markdown

    from rvit.notebook import Prose

    prose, formatter = Prose(), DisplayFormatter()
    prose["n"], prose["share"], prose["total"] = 10, 0.4375, 12345.0
    prose["verdict"] = Markdown("**supported** | yes")
    found = []
    for key in ("n", "share:.1%", "total:,d", "share:.2f", "verdict"):
        data, _ = formatter.format(prose[key])
        found.append((f'prose["{key}"]', {"output_type": "execute_result", "data": data}))
    prose["share"] = 0.5  # glued again: the later role reads the new value
    data, _ = formatter.format(prose["share:.0%"])
    found.append(('prose["share:.0%"]', {"output_type": "execute_result", "data": data}))
    return found


def test_every_role_takes_its_value_as_the_page_shows_it():
    from rvit.notebook import Prose

    prose = Prose()
    prose["share"], prose["total"] = 0.4375, 12345.0
    nb = readable.with_values(_fixture(), _evaluations(), "99_fixture")
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert nb.cells[2].source == (
        f"We ran 10 seeds; {prose['share:.1%']!r} agreed, out of {prose['total:,d']!r} clips (0.44)."
    )
    assert "43.8%" in text and "12,345" in text
    assert "| a | **supported** \\| yes |" in text  # markup as its Markdown, kept in its table cell
    assert nb.cells[4].source == "Later the share is 50%."
    assert '``{eval}`prose["never"]``' in text  # inside code the role is text, left as written
    assert readable.EVAL_ROLE.sub(
        "", text.replace('``{eval}`prose["never"]``', "")
    ) == text.replace('``{eval}`prose["never"]``', "")
    assert nb.cells[1].outputs == _fixture().cells[1].outputs  # outputs kept


def test_a_role_never_glued_names_the_chapter_and_the_name():
    evaluations = [e for e in _evaluations() if e[0] != 'prose["total:,d"]']
    with pytest.raises(
        readable.MissingValueError, match=r"99_fixture.*prose\[\"total:,d\"\].*'total'"
    ):
        readable.with_values(_fixture(), evaluations, "99_fixture")
    failed = [
        (e, {"output_type": "error", "ename": "KeyError", "evalue": "nothing is glued under 'n'"})
        if e == 'prose["n"]'
        else (e, o)
        for e, o in _evaluations()
    ]
    with pytest.raises(
        readable.MissingValueError, match=r"99_fixture, markdown cell 2.*glued under 'n'"
    ):
        readable.with_values(_fixture(), failed, "99_fixture")


def test_recorded_outputs_choose_the_shown_one():
    expression, output = readable.evaluation(
        'prose["n"]',
        [
            {"output_type": "stream", "name": "stdout", "text": "noise"},
            {"output_type": "execute_result", "data": {"text/plain": "3"}, "metadata": {}},
        ],
    )
    assert readable.shown_text(output) == "3"
    _, output = readable.evaluation('prose["x"]', [])
    with pytest.raises(readable.MissingValueError, match="no output"):
        readable.shown_text(output)


def test_citations_read_as_author_year_text():
    bib = readable.load_bibliography()
    nb = _fixture()
    nb.cells[2].source = (
        "{cite:t}`yang2022rvit` and {cite}`gal2016dropout`, after "
        "{cite:p}`arnab2021vivit,patraucean2024trecvit`."
    )
    nb = readable.with_citations(nb, bib, "99_fixture")
    assert nb.cells[0].source.endswith("See (Yang et al., 2022).")
    assert nb.cells[2].source == (
        "Yang et al. (2022) and (Gal and Ghahramani, 2016), after "
        "(Arnab et al., 2021; Pătrăucean et al., 2024)."
    )
    nb.cells[2].source = "{cite:p}`nobody2020`"
    with pytest.raises(KeyError, match="99_fixture.*'nobody2020'"):
        readable.with_citations(nb, bib, "99_fixture")


def test_lab_copies_resolve_citations_and_keep_eval_roles(tmp_path: Path):
    source = tmp_path / "99_fixture.ipynb"
    nbformat.write(_fixture(), source)
    assert readable.main(["--cite-only", str(source), str(tmp_path / "lab" / source.name)]) == 0
    copy = nbformat.read(tmp_path / "lab" / source.name, as_version=4)
    assert "(Yang et al., 2022)" in copy.cells[0].source
    assert '{eval}`prose["n"]`' in copy.cells[2].source  # JupyterLab evaluates these itself
    (tmp_path / "bad.ipynb").write_text("{not json", encoding="utf-8")
    assert readable.main(["--cite-only", str(tmp_path / "bad.ipynb"), str(tmp_path / "x")]) == 1


def _run_with_evaluations(path: Path, tmp_path: Path) -> tuple[nbformat.NotebookNode, list]:
    """Run a chapter at the smoke profile as the book does inline: each markdown cell's roles are
    evaluated in the kernel at the cell's place, and their outputs kept in order."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell('PROFILE = "smoke"'))
    os.environ["RVIT_SCRATCH_DIR"] = str(tmp_path)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    evaluations = []
    try:
        with client.setup_kernel():
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, i)
                    continue
                expressions = [m.group(1) for m in readable._roles(readable.EVAL_ROLE, cell.source)]
                if not expressions:
                    continue
                msg_id = client.kc.execute(
                    "",
                    store_history=False,
                    user_expressions={str(k): e for k, e in enumerate(expressions)},
                )
                results = client.wait_for_reply(msg_id)["content"]["user_expressions"]
                for k, expression in enumerate(expressions):
                    result = results[str(k)]
                    if result["status"] == "ok":
                        output = {"output_type": "execute_result", "data": result["data"]}
                    else:
                        output = {"output_type": "error", **result}
                    evaluations.append((expression, output))
    finally:
        os.environ.pop("RVIT_SCRATCH_DIR", None)
    return nb, evaluations


def test_a_real_chapter_reads_with_its_numbers(tmp_path: Path):
    path = ROOT / "notebooks" / "04_recurrent_cell.ipynb"
    nb, evaluations = _run_with_evaluations(path, tmp_path)
    assert evaluations, f"{path.name} quotes no numbers"
    nb = readable.with_values(nb, evaluations, path.stem)
    nb = readable.with_citations(nb, readable.load_bibliography(), path.stem)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            assert not readable._roles(readable.EVAL_ROLE, cell.source), f"cell {i}: {cell.source}"
            assert not readable._roles(readable.CITE_ROLE, cell.source), f"cell {i}: {cell.source}"
    assert any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
