"""tools/check_book.py: the browser check of the built book.

The parsing and the thresholds always run; the browser tests run where Chromium is installed
(``apt install chromium``) and load small hand-written pages, not the book.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from script_modules import load_script

ROOT = Path(__file__).resolve().parent.parent
cb = load_script("tools/check_book.py")

BROWSER = cb.find_browser()
needs_browser = pytest.mark.skipif(BROWSER is None, reason=cb.SKIP_MESSAGE)


def png(path: Path, width: int, height: int, dpi: float | None) -> Path:
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    Image.new("RGB", (width, height), "white").save(path, **extra)
    return path


# -- pages, script and result ------------------------------------------------------------------------------


def test_toc_pages_lists_the_books_pages_in_order():
    pages = cb.toc_pages(ROOT / "book" / "_toc.yml")
    assert pages[0] == "intro"
    chapters = [p for p in pages if p.startswith("notebooks/")]
    assert chapters == sorted(chapters) and "notebooks/08_study" in chapters
    assert all(re.fullmatch(r"notebooks/\d\d_\w+", p) for p in chapters)
    assert all((ROOT / f"{p}.ipynb").is_file() for p in chapters)


def test_toc_pages_nested_sections_globs_and_suffixes(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: intro.md\nchapters:\n  - file: a.ipynb\n    sections:\n"
        "      - file: a/b\n      - url: https://example.org\n  - glob: extra/*\n  - file: a\n"
    )
    assert cb.toc_pages(toc) == ["intro", "a", "a/b", "glob:extra/*"]
    (tmp_path / "extra").mkdir()
    for name in ("y", "x"):
        (tmp_path / "extra" / f"{name}.html").write_text("")
    assert cb.expand_pages(cb.toc_pages(toc), tmp_path) == [
        "intro",
        "a",
        "a/b",
        "extra/x",
        "extra/y",
    ]
    toc.write_text("chapters: []\n")
    with pytest.raises(ValueError, match="root"):
        cb.toc_pages(toc)


def test_inject_and_parse_dom_round_trip():
    page = "<html><body><p>x</p></BODY></html>"
    injected = cb.inject(page, "if (a</b) {}")
    assert injected.index("<script>") < injected.index("</BODY>")
    assert "<\\/b" in injected  # a "</" in the script cannot close the tag
    assert cb.inject("<p>no body</p>", "1").endswith("<script>1</script>")
    result = {"height": 1234, "roles": [{"text": '<a> & "b" </pre>'}]}
    escaped = json.dumps(result).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    dom = f'<html><body><pre id="rvit-check" style="display: none;">{escaped}</pre></body></html>'
    assert cb.parse_dom(dom) == result
    with pytest.raises(ValueError, match="no result"):
        cb.parse_dom("<html></html>")


def test_page_script_carries_the_patterns():
    script = cb.page_script(cb.Options())
    assert "__PATTERNS__" not in script
    patterns = json.loads(re.search(r"const P = (\{.*?\});", script).group(1))
    assert patterns["known_role"] == cb.KNOWN_ROLE and patterns["result_id"] == cb.RESULT_ID


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("accuracy is {glue:text}`acc:.0%` here", True),
        ('accuracy is {eval}`prose["acc:.0%"]` here', True),
        ("{eval} alone", True),
        ("as shown {cite:p}`arnab2021vivit`", True),
        ("{glue:text} alone", True),
        ("a {numref} or {glue}", True),
        ("an unknown {abc:def}`x` role", True),
        ("the set {1, 2} and {x} in prose", False),
        ("a dict {'a': 1}", False),
    ],
)
def test_role_patterns(text, flagged):
    found = re.search(cb.KNOWN_ROLE, text) or re.search(cb.ROLE_BEFORE_BACKTICK, text)
    assert bool(found) is flagged


def test_traceback_pattern():
    assert re.search(cb.TRACEBACK_TEXT, "ValueError  Traceback (most recent call last)")
    assert re.search(cb.TRACEBACK_TEXT, "\x1b[0;31mValueError\x1b[0m")
    assert re.search(cb.TRACEBACK_TEXT, "[0;31mValueError[0m")
    assert not re.search(cb.TRACEBACK_TEXT, "epoch 3: loss 0.12 [12/40]")


# -- thresholds ----------------------------------------------------------------------------------------------


def test_rendered_font_px():
    assert cb.rendered_font_px(10, 72, 100, 100) == pytest.approx(10)
    assert cb.rendered_font_px(10, 100, 1000, 1000) == pytest.approx(13.89, abs=0.01)
    # 18 inches at 100 dpi shrunk into a 700 px column: 10 pt text is 5.4 px high
    assert cb.rendered_font_px(10, 100, 1800, 700) == pytest.approx(5.40, abs=0.01)


def test_image_dpi(tmp_path):
    assert cb.image_dpi(png(tmp_path / "a.png", 10, 10, 150), 100) == 150
    assert cb.image_dpi(png(tmp_path / "b.png", 10, 10, None), 100) == 100
    assert cb.image_dpi((tmp_path / "a.png").as_uri(), 100) == 150
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG", dpi=(200, 200))
    assert cb.image_dpi(buffer.getvalue(), 100) == 200
    import base64

    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert cb.image_dpi(data_url, 100) == 200
    assert cb.image_dpi("data:image/svg+xml;utf8,<svg/>", 100) == 96
    assert cb.image_dpi(tmp_path / "figure.svg", 100) == 96
    assert cb.image_dpi(tmp_path / "missing.png", 72) == 72


def measured(**overrides):
    base = {
        "height": 2000,
        "column": 700,
        "tracebacks": [],
        "roles": [],
        "tables": [],
        "images": [],
        "cells": [],
        "blocks": {"math": [], "code": [], "output": []},
    }
    return {**base, **overrides}


def test_evaluate_clean_page():
    page = measured(
        tables=[{"where": "table 1", "width": 703}],
        images=[{"where": "image 1", "src": "x.png", "natural": 600, "shown": 600, "loaded": True}],
    )
    result = cb.evaluate("intro", page, cb.Options(), dpi_of=lambda src: 100)
    assert result.ok and result.height == 2000 and result.failed_checks() == []
    assert result.counts["table"] == (0, 1) and result.counts["figure"] == (0, 1)
    assert result.counts["math"] == (0, 0)


def test_evaluate_blocks_cells_and_canvases():
    page = measured(
        blocks={
            "math": [
                {"where": "display math 1", "over": 0, "box": 300, "text": "x^2"},
                {"where": "display math 2", "over": 343, "box": 1043, "text": "a_1 + a_2"},
            ],
            "code": [{"where": "code block 1", "over": 0.5, "text": "x = 1"}],
            "output": [
                {"where": "output 1 in cell 2", "over": 398, "text": "usage: rvit [-h]"},
                {"where": "output 2 in cell 3", "over": 0, "text": "ok"},
            ],
        },
        cells=[
            {
                "where": "table 1",
                "cells": 4,
                "collisions": 1,
                "overflows": 0,
                "gap": 2.0,
                "example": "0.820000 | 0.910000",
            },
            {
                "where": "table 2",
                "cells": 2,
                "collisions": 0,
                "overflows": 1,
                "gap": 12.0,
                "example": "a very long name (overflows its cell)",
            },
            {
                "where": "table 3",
                "cells": 6,
                "collisions": 0,
                "overflows": 0,
                "gap": 16.0,
                "example": "",
            },
        ],
        images=[
            {"where": "canvas 1", "src": "canvas", "natural": 1600, "shown": 700, "loaded": True},
            {
                "where": "image 2",
                "src": "https://example.org/badge.svg",
                "natural": 0,
                "shown": 0,
                "loaded": False,
                "remote": True,
            },
        ],
    )
    result = cb.evaluate("notebooks/10_explorer", page, cb.Options(), dpi_of=lambda src: 100)
    assert result.failed_checks() == ["cells", "math", "output", "figure"]
    assert result.counts == {
        "table": (0, 0),
        "cells": (2, 3),
        "math": (1, 2),
        "code": (0, 1),
        "output": (1, 2),
        "figure": (1, 2),
    }
    text = "\n".join(m for _, m in result.failures)
    assert "display math 2: the display math overflows by 343 px" in text
    assert "(MathJax box 1043 px)" in text
    assert "output 1 in cell 2: the output overflows by 398 px" in text
    assert "closer than 4 px (closest 2.0 px): '0.820000 | 0.910000'" in text
    assert "table 2 has 1 cell(s) whose text overflows the cell" in text
    assert (
        "canvas 1 (canvas): 10 pt text at 100 dpi, 1600 px shown at 700 px, renders 6.1 px" in text
    )
    assert "badge" not in text  # a remote image that did not load offline is not the book's
    lenient = cb.Options(block_slack=400, cell_gap=1, min_font_px=6)
    assert cb.evaluate("p", page, lenient, dpi_of=lambda src: 100).failed_checks() == ["cells"]


def test_local_mathjax(tmp_path):
    es5 = tmp_path / "mathjax" / "es5"
    es5.mkdir(parents=True)
    (es5 / "tex-mml-chtml.js").write_text("")
    page = (
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
        "<script async src='//cdn.example.org/mathjax/es5/tex-svg.js?config=x'></script>"
        '<script src="https://example.org/other.js"></script>'
    )
    local = cb.local_mathjax(page, es5)
    assert f'src="{(es5 / "tex-mml-chtml.js").as_uri()}"' in local
    assert "tex-svg.js?config=x" in local  # no local file of that name: unchanged
    assert 'src="https://example.org/other.js"' in local
    assert cb.local_mathjax(page, None) == page
    assert cb.local_mathjax(page, tmp_path / "missing") == page


def test_evaluate_reports_each_check():
    page = measured(
        tracebacks=[
            {"where": "error output 1 in cell 4", "text": "ZeroDivisionError: division by zero"}
        ],
        roles=[
            {"where": "text 1 under #results", "role": "{glue:text}", "text": "is {glue:text} here"}
        ],
        tables=[{"where": "table 2 in cell 7", "width": 960}],
        images=[
            {
                "where": "image 1 in cell 3",
                "src": "file:///b/_images/f.png",
                "natural": 1800,
                "shown": 700,
                "loaded": True,
            },
            {
                "where": "image 2 in cell 5",
                "src": "g.png",
                "natural": 0,
                "shown": 0,
                "loaded": False,
            },
        ],
    )
    result = cb.evaluate("notebooks/08_study", page, cb.Options(), dpi_of=lambda src: 100)
    assert result.failed_checks() == ["traceback", "role", "table", "figure"]
    messages = dict.fromkeys(m for _, m in result.failures)
    text = "\n".join(messages)
    assert "error output 1 in cell 4 shows a traceback" in text
    assert "unrendered role {glue:text}" in text
    assert "table 2 in cell 7 is 960 px wide, wider than the 700 px text column" in text
    assert "image 1 in cell 3 (f.png)" in text and "renders 5.4 px high (< 9 px)" in text
    assert "image 2 in cell 5 (g.png) did not load" in text
    # the thresholds are options
    lenient = cb.Options(min_font_px=5, table_slack=300)
    assert cb.evaluate("p", page, lenient, dpi_of=lambda src: 100).failed_checks() == [
        "traceback",
        "role",
        "figure",
    ]
    assert cb.evaluate("p", {"error": "boom"}, cb.Options()).failed_checks() == ["script"]


def test_format_report():
    ok = cb.PageResult("intro", 1500)
    bad = cb.PageResult(
        "notebooks/08_study",
        23456,
        failures=[("table", "table 1 is wide"), ("role", "text 1 shows {cite:p}")],
    )
    missing = cb.PageResult("references", None, failures=[("page", "missing")])
    report = cb.format_report([ok, bad, missing], cb.Options())
    lines = report.splitlines()
    heads = ["math", "code", "output", "tables", "cells", "figures"]
    assert lines[0].split() == ["page", "height", "px", "@1200", *heads, "checks", "failed"]
    assert lines[2].split() == ["intro", "1500", *["-"] * 6, "ok"]
    assert lines[3].split() == ["notebooks/08_study", "23456", *["-"] * 6, "role,", "table"]
    assert lines[4].split() == ["references", "-", *["-"] * 6, "page"]
    ok.counts = {"math": (1, 3), "code": (0, 5), "figure": (0, 2)}
    lines = cb.format_report([ok], cb.Options()).splitlines()
    assert lines[2].split() == ["intro", "1500", "1/3", "0/5", "-", "-", "-", "0/2", "ok"]
    assert "notebooks/08_study: [table] table 1 is wide" in report


def test_main_without_a_browser_skips(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CHROMIUM", raising=False)
    assert cb.main([]) == 0
    assert capsys.readouterr().out.strip() == cb.SKIP_MESSAGE
    assert cb.main(["--require-browser"]) == 2
    assert "chromium not found (apt install chromium)" in capsys.readouterr().err


@needs_browser
def test_main_without_a_built_book(tmp_path, capsys):
    assert cb.main(["--html", str(tmp_path / "missing"), "--browser", BROWSER]) == 2
    assert "run `make book` first" in capsys.readouterr().err


# -- the browser ---------------------------------------------------------------------------------------------

LAYOUT = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; font: 16px sans-serif; }}
article.bd-article {{ width: 700px; margin: 0 auto; }}
img {{ max-width: 100%; }}
pre {{ overflow-x: auto; }}
td {{ padding: 4px; }}
table.tight td {{ padding: 0; }}
</style>{head}</head><body><main><article class="bd-article"><section id="page">
<h1>Page</h1>
{body}
</section></article></main></body></html>"""

BROKEN = """
<p>Accuracy is {{glue:text}}<code class="docutils literal">best</code> on the videos.</p>
<div class="cell docutils container"><div class="cell_output docutils container">
  <div class="output text_html"><table><tr>{wide_cells}</tr></table></div>
</div></div>
<div class="cell docutils container"><div class="cell_output docutils container">
  <img alt="wide figure" src="_images/wide.png">
</div></div>
<div class="cell docutils container"><div class="cell_output docutils container">
  <div class="output traceback highlight-ipythontb"><div class="highlight"><pre>
ZeroDivisionError                         Traceback (most recent call last)
----&gt; 1 1/0
ZeroDivisionError: division by zero</pre></div></div>
</div></div>
<div class="highlight"><pre>{long_line}</pre></div>
<table class="tight"><tr><td>0.820000</td><td>0.910000</td></tr></table>
<canvas width="1600" height="100" style="width: 700px"></canvas>
"""

CLEAN = """
<p>Glue a number with <code class="docutils literal">{glue:text}`key`</code>; the set {{1, 2}};
<span class="math notranslate nohighlight">\\(\\{{x\\}}\\)</span>.</p>
<div class="pst-scrollable-table-container"><table><tr><td>a</td><td>b</td></tr></table></div>
<div class="cell docutils container"><div class="cell_output docutils container">
  <img alt="figure" src="_images/fits.png">
</div></div>
<div class="cell docutils container"><div class="cell_output docutils container">
  <div class="output stderr"><pre>epoch 1: 100%|##########| 40/40</pre></div>
</div></div>
"""


def write_pages(root: Path) -> Path:
    (root / "_images").mkdir(parents=True)
    png(root / "_images" / "wide.png", 1800, 300, 100)  # 18 inches at 100 dpi
    png(root / "_images" / "fits.png", 600, 400, 100)
    (root / "notebooks").mkdir()
    cells = "".join(f"<td>column_value_{i}</td>" for i in range(30))
    long_line = "x = 1  # " + "a long comment " * 20
    broken = BROKEN.format(wide_cells=cells, long_line=long_line)
    (root / "broken.html").write_text(LAYOUT.format(head="", body=broken))
    (root / "clean.html").write_text(
        LAYOUT.format(head="", body=CLEAN.replace("{{", "{").replace("}}", "}"))
    )
    (root / "_toc.yml").write_text("format: jb-book\nroot: clean\nchapters:\n  - file: broken\n")
    return root


@needs_browser
def test_browser_reports_each_problem_and_passes_a_clean_page(tmp_path, capsys):
    html = write_pages(tmp_path / "html")
    options = cb.Options(offline=True, budget_ms=5000, timeout_s=60)
    clean, broken = cb.check_pages(BROWSER, html, ["clean", "broken"], options, jobs=2)

    assert clean.ok, clean.failures
    assert clean.height and clean.height > 0

    checks = broken.failed_checks()
    assert checks == ["traceback", "role", "table", "cells", "code", "output", "figure"], (
        broken.failures
    )
    assert broken.counts["code"] == (1, 1)  # the traceback's <pre> is an output, not code
    assert broken.counts["cells"] == (1, 2) and broken.counts["figure"] == (2, 2)
    text = "\n".join(m for _, m in broken.failures)
    assert re.search(r"code block 1 under #page: the code block overflows by \d+ px", text)
    assert "closer than 4 px (closest 2.0 px): '0.820000 | 0.910000'" in text
    assert "canvas 2 under #page (canvas)" in text and "renders 6.1 px" in text
    assert re.search(r"output 1 in cell 1 under #page: the output overflows", text)  # its table
    assert "error output 1 in cell 3 under #page shows a traceback" in text
    assert "unrendered role {glue:text}" in text
    assert re.search(r"table 1 in cell 1 under #page is \d+ px wide, wider than the 700 px", text)
    assert re.search(
        r"image 1 in cell 2 under #page \(wide.png\).*shown at 700 px, renders 5.4 px", text
    )
    assert not list(html.glob("**/.*.html"))  # the probe copies are gone

    code = cb.main(
        [
            "--html",
            str(html),
            "--toc",
            str(html / "_toc.yml"),
            "--browser",
            BROWSER,
            "--offline",
            "--budget-ms",
            "5000",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"^clean\s+\d+(\s+0/\d+){6}\s+ok$", out, re.M)
    assert re.search(
        r"^broken\s+\d+(\s+\d+/\d+){6}\s+traceback, role, table, cells, code, output, figure$",
        out,
        re.M,
    )
    assert cb.main(["--html", str(html), "--page", "clean", "--browser", BROWSER, "--offline"]) == 0


def _jupyter_book() -> Path | None:
    exe = Path(sys.executable).parent / "jupyter-book"
    return exe if exe.is_file() else None


@needs_browser
@pytest.mark.skipif(_jupyter_book() is None, reason="jupyter-book is not installed")
def test_browser_on_a_tiny_built_book(tmp_path, capsys):
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text(
        "title: fixture\nauthor: x\nexecute:\n  execute_notebooks: 'off'\n"
    )
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (book / "intro.md").write_text(
        "# Intro\n\nSome text and $x^2$.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    subprocess.run(
        [str(_jupyter_book()), "build", str(book), "--quiet"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    html = book / "_build" / "html"
    args = ["--html", str(html), "--toc", str(book / "_toc.yml"), "--browser", BROWSER, "--offline"]
    code = cb.main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"^intro\s+\d+(\s+0/\d+){6}\s+ok$", out, re.M)
    # offline, the CDN is blocked: MathJax renders from the local copy (make mathjax), else stays raw
    local = (cb.MATHJAX_DIR / "tex-mml-chtml.js").is_file()
    assert ("MathJax did not render on intro" in out) is not local
    assert cb.main([*args, "--mathjax", "cdn"]) == 0
    assert "MathJax did not render on intro" in capsys.readouterr().out


MATH_HEAD = """<script>window.MathJax = {{tex: {{inlineMath: [["\\\\(", "\\\\)"]]}}}};</script>
<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>"""
MATH = """
<div class="math notranslate nohighlight">\\[ x^2 + y^2 = z^2 \\]</div>
<div class="math notranslate nohighlight">\\[ {wide} \\]</div>
"""


@needs_browser
@pytest.mark.skipif(
    not (cb.MATHJAX_DIR / "tex-mml-chtml.js").is_file(), reason="no local MathJax: make mathjax"
)
def test_browser_typesets_math_offline_and_measures_its_width(tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    wide = " + ".join(f"a_{{{i}}}" for i in range(40))
    (html / "math.html").write_text(
        LAYOUT.format(head=MATH_HEAD.format(), body=MATH.format(wide=wide))
    )
    options = cb.Options(offline=True, budget_ms=5000, timeout_s=60, mathjax=cb.MATHJAX_DIR)
    (typeset,) = cb.check_pages(BROWSER, html, ["math"], options)
    assert not typeset.unrendered_math
    assert typeset.counts["math"] == (1, 2), typeset.failures
    assert typeset.failed_checks() == ["math"]
    assert re.search(
        r"display math 2 under #page: .* \(MathJax box \d+ px\)", typeset.failures[0][1]
    )
    # without the local copy the CDN is out of reach offline: the math stays raw TeX
    (raw,) = cb.check_pages(BROWSER, html, ["math"], cb.Options(offline=True, budget_ms=3000))
    assert raw.unrendered_math


def test_image_info_reads_the_smallest_font_a_figure_records(tmp_path):
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text(cb.FONT_KEY, "7")
    path = tmp_path / "widget.png"
    Image.new("RGB", (662, 300), "white").save(path, dpi=(72, 72), pnginfo=text)
    assert cb.image_info(path, 100, 10) == (72, 7)
    assert cb.image_info(png(tmp_path / "plain.png", 10, 10, None), 100, 10) == (100, 10)
    # evaluate reads both: 7 pt at 72 dpi, 662 px shown at 612 px, is 6.5 px high
    page = measured(
        images=[
            {"where": "image 1", "src": path.as_uri(), "natural": 662, "shown": 612, "loaded": True}
        ]
    )
    result = cb.evaluate("notebooks/10_explorer", page, cb.Options())
    assert result.failed_checks() == ["figure"]
    assert (
        "7 pt text at 72 dpi, 662 px shown at 612 px, renders 6.5 px high" in result.failures[0][1]
    )
