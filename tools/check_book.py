"""Check the built book as its readers meet it: every page of the table of contents in headless Chromium.

``make check-book`` (or ``python tools/check_book.py``) loads each page of ``book/_toc.yml`` from
``book/_build/html`` in headless Chromium at a 1,200 px wide window and fails when a page shows

* a traceback: an error output of a cell, or output text with ``Traceback (most recent call last)`` or raw
  ANSI escape codes;
* an unrendered role: visible prose such as ``{eval}`` or ``{cite:p}`` (or any ``{name}`` followed by
  a backtick or an inline literal), outside code;
* a table wider than the article's text column (by more than ``--table-slack`` px);
* colliding table cells: the text of two adjacent cells of a row closer than ``--cell-gap`` px (cell
  padding of under 2 px a side), or text that overflows its cell;
* display math, a code block or a cell output wider than the text column: the block scrolls
  (``scrollWidth > clientWidth``, of the block or a ``<pre>`` in it), its box is wider than the column, or
  (math) the rendered MathJax box in it is wider than the column (by more than ``--block-slack`` px);
* an image or canvas whose text renders smaller than ``--min-font-px`` (figures, animations and widget
  snapshots alike): drawn with ``--font-pt`` point text (or the size its PNG records as its smallest,
  in a ``min_font_pt`` text chunk) at the resolution its PNG records (its pHYs chunk; ``--dpi`` when it
  has none, as for a canvas) and shown at ``displayed width / natural width`` of its size, it has text of
  ``font_pt * dpi / 72 * displayed / natural`` CSS px; an image that does not load fails too
  (a remote one, such as a badge, does not count without a network).

What a reader can open counts as shown: the checks open every dropdown (``<details>``) and toggled cell first;
the height is measured before that. MathJax is typeset as a reader sees it: the pages load it from a local
copy (``make mathjax`` installs MathJax 3 from the npm registry into ``.cache/mathjax``; ``--mathjax``), so
that the heights and the math's widths are real without a network. Without that copy the page loads MathJax
from its CDN, and without a network (or with ``--offline``) the math stays raw TeX; the report says so.

It prints one row per page: the page's height in px at that width, what it measured (``failed/total`` of
each kind: display math, code blocks, outputs, tables, tables' cells, figures) and the checks it failed,
then each failure, and exits 1 when any page failed. Without Chromium (``apt install chromium``) it prints
that the check was skipped and exits 0, or 2 with ``--require-browser``.

How it works, with the standard library and what the project installs: each page is copied beside itself
(so its relative links resolve) with a script at the end of ``<body>`` that waits for the page to load (and
for MathJax when it loads), measures the layout and writes the measurements as JSON into a
``<pre id="rvit-check">`` element; ``chromium --headless --dump-dom`` prints the resulting DOM, and this
script reads the JSON back and applies the thresholds.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
SKIP_MESSAGE = "skipped: chromium not found (apt install chromium)"
RESULT_ID = "rvit-check"
CHECKS = ("traceback", "role", "table", "cells", "math", "code", "output", "figure")
BLOCKS = ("math", "code", "output")
MATHJAX_DIR = ROOT / ".cache" / "mathjax" / "node_modules" / "mathjax" / "es5"
"""Where ``make mathjax`` installs MathJax 3 from the npm registry (``npm install mathjax@3``)."""
# The MathJax a built page loads from a CDN: .../mathjax@3/es5/tex-mml-chtml.js (any host and version tag).
MATHJAX_SRC = re.compile(
    r"""(?P<attr>\bsrc\s*=\s*["'])(?:https?:)?//[^"']*?/mathjax(?:@[^/"']*)?/es5/(?P<file>[^"'?#]+)[^"']*"""
)

# Roles that are never prose, and the shape of any role left unparsed: {name} or {domain:name} followed by
# a backtick. The page script uses the same patterns (JavaScript reads these Python regexes unchanged).
KNOWN_ROLE = r"\{(?:eval|glue|cite|numref|ref|doc|eq|term|download|abbr)(?::[A-Za-z][\w.+-]*)*\}"
ROLE_NAME = r"\{[A-Za-z][\w.+-]*(?::[A-Za-z][\w.+-]*)*\}"
ROLE_BEFORE_BACKTICK = ROLE_NAME + "`"
TRACEBACK_TEXT = r"Traceback \(most recent call last\)|\x1b\[[0-9;]*m|\[[01];3[0-9]m"


@dataclass(frozen=True)
class Options:
    """The thresholds, with the defaults of this book's figures (matplotlib's 10 pt text at 100 dpi)."""

    width: int = 1200
    height: int = 900
    font_pt: float = 10.0
    dpi: float = 100.0
    min_font_px: float = 9.0
    table_slack: float = 4.0
    budget_ms: int = 15000
    timeout_s: float = 120.0
    offline: bool = False
    figures: str = "img, canvas"
    block_slack: float = 1.0
    cell_gap: float = 4.0
    mathjax: Path | None = None


@dataclass
class PageResult:
    """One page: its height at the window's width, and the failures of each check."""

    page: str
    height: int | None = None
    unrendered_math: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    """What was measured, per kind: (how many failed, how many there are): math, code and output blocks
    wider than the column, tables with colliding cells, images and canvases with text under the minimum."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def failed_checks(self) -> list[str]:
        return sorted({check for check, _ in self.failures}, key=_check_order)


def _check_order(check: str) -> int:
    return CHECKS.index(check) if check in CHECKS else len(CHECKS)


# -- the pages -------------------------------------------------------------------------------------------


def toc_pages(toc: Path) -> list[str]:
    """The documents of a Jupyter Book 1 table of contents, in reading order, without their suffix.

    ``root`` comes first, then every ``file`` of ``parts``, ``chapters`` and ``sections`` (nested), and each
    ``glob`` as given (``expand_pages`` matches it against the built pages); ``url`` entries are skipped.
    """
    data = yaml.safe_load(toc.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or "root" not in data:
        raise ValueError(f"{toc}: expected a Jupyter Book table of contents with a 'root' entry")
    pages: list[str] = [_docname(data["root"])]

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if "file" in node:
                pages.append(_docname(node["file"]))
            if "glob" in node:
                pages.append("glob:" + str(node["glob"]))
            for key in ("parts", "chapters", "sections", "subtrees", "entries"):
                if key in node:
                    walk(node[key])

    walk({key: value for key, value in data.items() if key != "root"})
    unique: list[str] = []
    for page in pages:
        if page not in unique:
            unique.append(page)
    return unique


def _docname(path: object) -> str:
    name = str(path).strip().lstrip("/")
    for suffix in (".ipynb", ".md", ".rst", ".myst"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def expand_pages(pages: Iterable[str], html_dir: Path) -> list[str]:
    """Replace each ``glob:`` entry by the built pages it matches (sorted); other pages stay."""
    out: list[str] = []
    for page in pages:
        if page.startswith("glob:"):
            matches = sorted(
                p.relative_to(html_dir).with_suffix("").as_posix()
                for p in html_dir.glob(page[5:] + ".html")
            )
            out.extend(m for m in matches if m not in out)
        elif page not in out:
            out.append(page)
    return out


def find_browser(explicit: str | None = None) -> str | None:
    """The Chromium to run: ``explicit`` (a path or a name on PATH), else the first of BROWSERS on PATH."""
    if explicit:
        return shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


# -- the page script -------------------------------------------------------------------------------------

PAGE_SCRIPT = r"""
(function () {
  const P = __PATTERNS__;
  const knownRole = new RegExp(P.known_role, "g");
  const roleBeforeBacktick = new RegExp(P.role_before_backtick, "g");
  const roleAtEnd = new RegExp(P.role_name + "\\s*$");
  const tracebackText = new RegExp(P.traceback_text);
  const NOT_PROSE = "pre, code, kbd, samp, script, style, textarea, noscript, .math, mjx-container, " +
    ".MathJax, .cell_input, #" + P.result_id;
  function visible(el) {
    if (!el || !el.getClientRects().length) return false;
    const style = getComputedStyle(el);
    return style.visibility !== "hidden" && style.display !== "none";
  }
  function where(el, kind, n) {
    let text = kind + " " + n;
    const cell = el.closest(".cell");
    if (cell) text += " in cell " + (Array.from(document.querySelectorAll(".cell")).indexOf(cell) + 1);
    const section = el.closest("section[id]");
    if (section) text += " under #" + section.id;
    return text;
  }
  function snippet(text, at, length) {
    return text.slice(Math.max(0, at - 20), at + length + 20).replace(/\s+/g, " ").trim();
  }
  function column() {
    for (const sel of ["article.bd-article", "article", "[role=main]", "main", ".body", "body"]) {
      const el = document.querySelector(sel);
      if (el && el.clientWidth > 0) {
        const s = getComputedStyle(el);
        return {el: el, sel: sel,
                width: el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)};
      }
    }
    return {el: document.body, sel: "body", width: document.documentElement.clientWidth};
  }
  function measure(mathjax) {
    const doc = document.documentElement;
    const out = {height: Math.max(doc.scrollHeight, document.body.scrollHeight),
                 viewport: window.innerWidth, mathjax: mathjax,
                 math: document.querySelectorAll(".math").length,
                 tracebacks: [], roles: [], tables: [], images: []};
    // What a reader can open counts as shown: dropdowns and toggled cells are opened before the checks.
    document.querySelectorAll("details").forEach(d => { d.open = true; });
    document.querySelectorAll(".toggle-hidden").forEach(e => e.classList.remove("toggle-hidden"));
    const col = column();
    out.column = col.width;
    out.column_selector = col.sel;
    const scope = col.el;
    // (1) tracebacks
    const seen = new Set();
    const errors = scope.querySelectorAll(
      ".cell_output .traceback, .output.traceback, .output.error, .output_error, " +
      "[data-mime-type='application/vnd.jupyter.error']");
    errors.forEach((el, i) => {
      if (!visible(el)) return;
      seen.add(el);
      out.tracebacks.push({where: where(el, "error output", i + 1),
                           text: (el.innerText || "").trim().split("\n").slice(-1)[0].slice(0, 160)});
    });
    scope.querySelectorAll(".cell_output, .output").forEach((el, i) => {
      if (!visible(el) || Array.from(seen).some(s => el.contains(s) || s.contains(el))) return;
      const text = el.innerText || "";
      const m = text.match(tracebackText);
      if (m) {
        seen.add(el);
        out.tracebacks.push({where: where(el, "output", i + 1), text: snippet(text, m.index, m[0].length)});
      }
    });
    // (2) unrendered roles in visible prose
    const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
    let node, n = 0;
    while ((node = walker.nextNode())) {
      const parent = node.parentElement;
      if (!parent || parent.closest(NOT_PROSE) || !visible(parent)) continue;
      const text = node.nodeValue;
      const hits = [];
      for (const re of [knownRole, roleBeforeBacktick]) {
        re.lastIndex = 0;
        let m;
        while ((m = re.exec(text))) hits.push([m.index, m[0]]);
      }
      const tail = text.match(roleAtEnd);
      const next = node.nextSibling;
      if (tail && next && next.nodeType === 1 && (next.matches("code, span.pre, tt"))) {
        hits.push([tail.index, tail[0].trim()]);
      }
      const starts = new Set();
      for (const [at, role] of hits) {
        if (starts.has(at)) continue;
        starts.add(at);
        n += 1;
        out.roles.push({where: where(parent, "text", n), role: role, text: snippet(text, at, role.length)});
      }
    }
    // (3) tables wider than the text column
    Array.from(scope.querySelectorAll("table")).filter(t => !t.parentElement.closest("table"))
      .forEach((t, i) => {
        if (!visible(t)) return;
        const width = Math.max(t.scrollWidth, t.getBoundingClientRect().width);
        out.tables.push({where: where(t, "table", i + 1), width: width});
      });
    // (4) figures: natural and displayed width of each image and canvas (a canvas's bitmap is its natural size)
    scope.querySelectorAll(P.figures).forEach((img, i) => {
      if (!visible(img)) return;
      const shown = img.getBoundingClientRect().width;
      if (img.tagName === "CANVAS") {
        out.images.push({where: where(img, "canvas", i + 1), src: "canvas", natural: img.width,
                         shown: shown, loaded: img.width > 0, remote: false});
        return;
      }
      const src = img.currentSrc || img.src;
      out.images.push({where: where(img, "image", i + 1), src: src,
                       natural: img.naturalWidth, shown: shown,
                       loaded: img.complete && img.naturalWidth > 0,
                       remote: /^https?:/i.test(src)});
    });
    // (5) blocks wider than the text column: display math, code and cell outputs. A block overflows when
    // it scrolls (scrollWidth > clientWidth), when its box is wider than the column, or (math) when the
    // rendered MathJax box inside it is wider than the column.
    out.blocks = {math: [], code: [], output: []};
    function overflow(el) {
      let over = Math.max(el.scrollWidth - el.clientWidth, el.getBoundingClientRect().width - col.width);
      el.querySelectorAll("pre").forEach(pre => {
        if (visible(pre)) over = Math.max(over, pre.scrollWidth - pre.clientWidth,
                                          pre.getBoundingClientRect().width - col.width);
      });
      return over;
    }
    scope.querySelectorAll("div.math, mjx-container[display='true']").forEach((el, i) => {
      if (!visible(el) || (el.tagName !== "DIV" && el.closest("div.math"))) return;
      let over = overflow(el), box = 0;
      el.querySelectorAll("mjx-math, svg").forEach(m => {
        box = Math.max(box, m.getBoundingClientRect().width);
      });
      over = Math.max(over, box - col.width);
      out.blocks.math.push({where: where(el, "display math", out.blocks.math.length + 1),
                            over: over, box: box,
                            text: (el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 60)});
    });
    scope.querySelectorAll("pre").forEach(pre => {
      if (!visible(pre) || pre.id === P.result_id || pre.closest(".cell_output, .output, div.math")) return;
      out.blocks.code.push({where: where(pre, "code block", out.blocks.code.length + 1),
                            over: overflow(pre),
                            text: (pre.textContent || "").split("\n").reduce(
                              (a, b) => (b.length > a.length ? b : a), "").trim().slice(0, 60)});
    });
    scope.querySelectorAll(".cell_output > *").forEach(el => {
      if (!visible(el)) return;
      out.blocks.output.push({where: where(el, "output", out.blocks.output.length + 1),
                              over: overflow(el),
                              text: (el.innerText || "").split("\n").reduce(
                                (a, b) => (b.length > a.length ? b : a), "").trim().slice(0, 60)});
    });
    // (6) colliding table cells: the gap between the text of horizontally adjacent cells of a row, and
    // text that overflows its own cell
    out.cells = [];
    function textBox(cell) {
      const range = document.createRange();
      range.selectNodeContents(cell);
      const r = range.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && (cell.innerText || "").trim() ? r : null;
    }
    Array.from(scope.querySelectorAll("table")).forEach((t, i) => {
      if (!visible(t)) return;
      const found = {where: where(t, "table", i + 1), cells: 0, collisions: 0, overflows: 0,
                     gap: null, example: ""};
      Array.from(t.rows).forEach(row => {
        let prev = null;
        Array.from(row.cells).forEach(cell => {
          if (!visible(cell)) return;
          found.cells += 1;
          const box = textBox(cell);
          if (!box) { prev = null; return; }
          const cr = cell.getBoundingClientRect();
          if (box.left < cr.left - 0.5 || box.right > cr.right + 0.5) {
            found.overflows += 1;
            if (!found.example) found.example = (cell.innerText || "").trim().slice(0, 40) + " (overflows its cell)";
          }
          if (prev && Math.min(box.bottom, prev.box.bottom) > Math.max(box.top, prev.box.top)) {
            const gap = box.left - prev.box.right;
            if (found.gap === null || gap < found.gap) found.gap = gap;
            if (gap < P.cell_gap) {
              found.collisions += 1;
              if (!found.example) found.example = (prev.cell.innerText || "").trim().slice(0, 30) +
                " | " + (cell.innerText || "").trim().slice(0, 30);
            }
          }
          prev = {cell: cell, box: box};
        });
      });
      out.cells.push(found);
    });
    return out;
  }
  function write(result) {
    let pre = document.getElementById(P.result_id);
    if (!pre) {
      pre = document.createElement("pre");
      pre.id = P.result_id;
      pre.style.display = "none";
      document.body.appendChild(pre);
    }
    pre.textContent = JSON.stringify(result);
  }
  function sleep(ms) { return new Promise(resolve => setTimeout(resolve, ms)); }
  async function run() {
    // Lazy images below the window would never load: load every image before measuring.
    Array.from(document.images).forEach(img => { if (img.loading === "lazy") img.loading = "eager"; });
    const pending = Array.from(document.images).filter(img => !img.complete).map(img =>
      new Promise(resolve => { img.addEventListener("load", resolve);
                               img.addEventListener("error", resolve); }));
    await Promise.race([Promise.all(pending), sleep(P.mathjax_ms)]);
    let mathjax = "absent";
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mathjax = await Promise.race([mj.startup.promise.then(() => "rendered"),
                                    sleep(P.mathjax_ms).then(() => "timeout")]);
    }
    if (document.fonts && document.fonts.ready) await document.fonts.ready;
    await sleep(300);
    try { write(measure(mathjax)); } catch (err) { write({error: String(err && err.stack || err)}); }
  }
  if (document.readyState === "complete") run();
  else window.addEventListener("load", run);
})();
"""


def page_script(options: Options) -> str:
    """The script injected into each page, with this module's patterns and the MathJax wait."""
    patterns = {
        "known_role": KNOWN_ROLE,
        "role_name": ROLE_NAME,
        "role_before_backtick": ROLE_BEFORE_BACKTICK,
        "traceback_text": TRACEBACK_TEXT,
        "result_id": RESULT_ID,
        "figures": options.figures,
        "cell_gap": options.cell_gap,
        "mathjax_ms": max(1000, options.budget_ms * 2 // 3),
    }
    return PAGE_SCRIPT.replace("__PATTERNS__", json.dumps(patterns))


def inject(page_html: str, script: str) -> str:
    """``page_html`` with ``<script>script</script>`` before its last ``</body>`` (or at its end)."""
    tag = "<script>" + script.replace("</", "<\\/") + "</script>"
    at = page_html.lower().rfind("</body>")
    if at < 0:
        return page_html + tag
    return page_html[:at] + tag + page_html[at:]


def local_mathjax(page_html: str, mathjax_dir: Path | None) -> str:
    """``page_html`` loading MathJax from ``mathjax_dir`` (an installed ``mathjax/es5``) instead of its CDN.

    Every ``src`` that names a file of ``.../mathjax@3/es5/`` on any host points at the same file in
    ``mathjax_dir``; without ``mathjax_dir`` (or when it lacks the file) the page is unchanged.
    """
    if mathjax_dir is None or not Path(mathjax_dir).is_dir():
        return page_html

    def swap(m: re.Match) -> str:
        local = Path(mathjax_dir) / m.group("file")
        return m.group("attr") + local.resolve().as_uri() if local.is_file() else m.group(0)

    return MATHJAX_SRC.sub(swap, page_html)


def parse_dom(dom: str) -> dict:
    """The measurements that the page script wrote into the dumped DOM."""
    m = re.search(rf'<pre id="{RESULT_ID}"[^>]*>(.*?)</pre>', dom, re.S)
    if not m:
        raise ValueError(
            "the page script wrote no result (a script error, or the page did not finish "
            "loading within the time budget)"
        )
    return json.loads(html.unescape(m.group(1)))


# -- the thresholds ---------------------------------------------------------------------------------------


def rendered_font_px(font_pt: float, dpi: float, natural: float, shown: float) -> float:
    """The CSS px height of ``font_pt`` text in an image drawn at ``dpi`` and shown ``shown/natural`` size."""
    return font_pt * dpi / 72.0 * (shown / natural)


FONT_KEY = "min_font_pt"
"""A PNG text chunk a figure may carry: the size in points of its smallest text (rvit.widgets writes it)."""


def _image_source(source: str | Path | bytes) -> bytes | Path | None:
    """The bytes or the path of an image given as a path, ``file:``/``data:`` URL or bytes; None for SVG."""
    if isinstance(source, bytes):
        return source
    text = str(source)
    if text.startswith("data:"):
        head, _, payload = text.partition(",")
        if "svg" in head:
            return None
        if head.endswith(";base64"):
            return base64.b64decode(payload)
        return urllib.parse.unquote_to_bytes(payload)
    if text.startswith("file:"):
        text = urllib.request.url2pathname(urllib.parse.urlparse(text).path)
    path = Path(text)
    return None if path.suffix.lower() in (".svg", ".svgz") else path


def image_info(source: str | Path | bytes, dpi: float, font_pt: float) -> tuple[float, float]:
    """The resolution an image records (a PNG's pHYs chunk) and the size of its smallest text.

    ``source`` is a file path, a ``file://`` or ``data:`` URL, or the image's bytes. The text size is the
    image's ``min_font_pt`` text chunk where it has one (a figure that knows its smallest font says so),
    else ``font_pt``; the resolution is ``dpi`` where it records none. An SVG counts as 96 dpi (its sizes
    are CSS units). Anything unreadable gives the defaults.
    """
    try:
        data = _image_source(source)
        if data is None:
            return 96.0, font_pt
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            recorded, text = image.info.get("dpi"), image.info.get(FONT_KEY)
        if isinstance(recorded, tuple | list) and recorded and float(recorded[0]) > 1:
            dpi = round(float(recorded[0]), 1)
        elif isinstance(recorded, int | float) and recorded > 1:
            dpi = round(float(recorded), 1)
        if text is not None and float(text) > 0:
            font_pt = float(text)
    except (OSError, ValueError):
        pass
    return dpi, font_pt


def image_dpi(source: str | Path | bytes, default: float) -> float:
    """The horizontal resolution an image records (a PNG's pHYs chunk), ``default`` when it records none."""
    return image_info(source, default, 0.0)[0]


def evaluate(page: str, measured: dict, options: Options, dpi_of=None, font_of=None) -> PageResult:
    """Apply the thresholds to one page's measurements (``dpi_of(src)`` reads an image's resolution,
    ``font_of(src)`` the size of its smallest text in points)."""
    if dpi_of is None and font_of is None:
        infos: dict[str, tuple[float, float]] = {}

        def info(src: str) -> tuple[float, float]:
            if src not in infos:
                infos[src] = image_info(src, options.dpi, options.font_pt)
            return infos[src]

        dpi_of, font_of = (lambda src: info(src)[0]), (lambda src: info(src)[1])
    dpi_of = dpi_of or (lambda src: image_dpi(src, options.dpi))
    font_of = font_of or (lambda src: options.font_pt)
    result = PageResult(page=page, height=measured.get("height"))
    result.unrendered_math = bool(measured.get("math")) and measured.get("mathjax") != "rendered"
    if "error" in measured:
        result.failures.append(("script", f"the page script failed: {measured['error']}"))
        return result
    for item in measured.get("tracebacks", []):
        result.failures.append(
            ("traceback", f"{item['where']} shows a traceback: {item['text']!r}")
        )
    for item in measured.get("roles", []):
        result.failures.append(
            ("role", f"{item['where']} shows the unrendered role {item['role']}: {item['text']!r}")
        )
    column = float(measured.get("column") or 0)
    for item in measured.get("tables", []):
        if column and item["width"] > column + options.table_slack:
            result.failures.append(
                (
                    "table",
                    f"{item['where']} is {item['width']:.0f} px wide, wider than the "
                    f"{column:.0f} px text column",
                )
            )
    tables = measured.get("tables", [])
    result.counts["table"] = (
        sum(1 for t in tables if column and t["width"] > column + options.table_slack),
        len(tables),
    )
    cells = [t for t in measured.get("cells", []) if t.get("cells")]
    colliding = [t for t in cells if t.get("collisions") or t.get("overflows")]
    result.counts["cells"] = (len(colliding), len(cells))
    for item in colliding:
        parts = []
        if item.get("collisions"):
            parts.append(
                f"{item['collisions']} pair(s) of adjacent cells whose text is closer than "
                f"{options.cell_gap:g} px (closest {item['gap']:.1f} px)"
            )
        if item.get("overflows"):
            parts.append(f"{item['overflows']} cell(s) whose text overflows the cell")
        example = f": {item['example']!r}" if item.get("example") else ""
        result.failures.append(("cells", f"{item['where']} has {' and '.join(parts)}{example}"))
    blocks = measured.get("blocks", {})
    for kind in BLOCKS:
        items = blocks.get(kind, [])
        wide = [b for b in items if b["over"] > options.block_slack]
        result.counts[kind] = (len(wide), len(items))
        for item in wide:
            what = {"math": "display math", "code": "code block", "output": "output"}[kind]
            box = f" (MathJax box {item['box']:.0f} px)" if item.get("box") else ""
            result.failures.append(
                (
                    kind,
                    f"{item['where']}: the {what} overflows by {item['over']:.0f} px (it scrolls, "
                    f"or is wider than the {column:.0f} px text column){box}: {item['text']!r}",
                )
            )
    images = measured.get("images", [])
    small = 0
    for item in images:
        name = _short_src(item.get("src", ""))
        if not item.get("loaded") or not item.get("natural"):
            if item.get("remote"):
                continue  # a remote badge or picture without a network: not the book's to check
            result.failures.append(("figure", f"{item['where']} ({name}) did not load"))
            small += 1
            continue
        dpi, font_pt = dpi_of(item["src"]), font_of(item["src"])
        px = rendered_font_px(font_pt, dpi, item["natural"], item["shown"])
        if px < options.min_font_px:
            small += 1
            result.failures.append(
                (
                    "figure",
                    f"{item['where']} ({name}): {font_pt:g} pt text at {dpi:g} dpi, "
                    f"{item['natural']} px shown at {item['shown']:.0f} px, renders "
                    f"{px:.1f} px high (< {options.min_font_px:g} px)",
                )
            )
    result.counts["figure"] = (small, len(images))
    return result


def _short_src(src: str) -> str:
    if src.startswith("data:"):
        return src.split(",", 1)[0] + ",..."
    return urllib.parse.unquote(src.rsplit("/", 1)[-1])


# -- the browser ------------------------------------------------------------------------------------------


HEADLESS = (
    "--headless",
    "--disable-gpu",
    "--no-sandbox",
    "--no-first-run",
    "--no-default-browser-check",
)
"""The flags of every headless Chromium these tools start (no GPU, no sandbox inside a container)."""


def browser_command(browser: str, url: str, options: Options, profile: str) -> list[str]:
    """The headless Chromium command that prints the DOM of ``url`` after the page script has run."""
    command = [
        browser,
        *HEADLESS,
        "--disable-extensions",
        "--mute-audio",
        # MathJax from a local copy loads its fonts from file: URLs, which Chromium blocks by default
        "--allow-file-access-from-files",
        f"--user-data-dir={profile}",
        f"--window-size={options.width},{options.height}",
        f"--virtual-time-budget={options.budget_ms}",
    ]
    if options.offline:
        command.append("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost")
    return [*command, "--dump-dom", url]


def check_page(browser: str, html_dir: Path, page: str, options: Options) -> PageResult:
    """Load one built page in Chromium and apply the checks."""
    source = html_dir / f"{page}.html"
    if not source.is_file():
        return PageResult(page, None, [("page", f"{source} is missing from the build")])
    probe = source.with_name(f".{source.stem}.{RESULT_ID}.html")
    page_html = local_mathjax(source.read_text(encoding="utf-8"), options.mathjax)
    probe.write_text(inject(page_html, page_script(options)), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="rvit-chromium-") as profile:
            command = browser_command(browser, probe.resolve().as_uri(), options, profile)
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=options.timeout_s, check=False
                )
            except subprocess.TimeoutExpired:
                return PageResult(
                    page,
                    None,
                    [
                        (
                            "browser",
                            f"{browser} did not finish the page within {options.timeout_s:g} s",
                        )
                    ],
                )
        try:
            measured = parse_dom(done.stdout)
        except ValueError as err:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            return PageResult(page, None, [("browser", f"{err} (exit {done.returncode}): {tail}")])
        return evaluate(page, measured, options)
    finally:
        probe.unlink(missing_ok=True)


def check_pages(
    browser: str, html_dir: Path, pages: Sequence[str], options: Options, jobs: int = 1
) -> list[PageResult]:
    """Every page, ``jobs`` browsers at a time, in the order of ``pages``."""
    if jobs <= 1:
        return [check_page(browser, html_dir, page, options) for page in pages]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda page: check_page(browser, html_dir, page, options), pages))


# -- the report -------------------------------------------------------------------------------------------


REPORT_COUNTS = (
    ("math", "math"),
    ("code", "code"),
    ("output", "output"),
    ("table", "tables"),
    ("cells", "cells"),
    ("figure", "figures"),
)
"""The measured columns of the report: (key of PageResult.counts, heading)."""


def format_report(results: Sequence[PageResult], options: Options) -> str:
    """A table, then each failure on its own line.

    A row per page: its height, then for each kind of element ``failed/total`` (display math, code
    blocks and outputs wider than the column, tables wider than the column, tables with colliding cells,
    images and canvases with text under the minimum), then the checks it failed.
    """
    heads = [key for key, _ in REPORT_COUNTS]
    rows = [
        ("page", f"height px @{options.width}", *(h for _, h in REPORT_COUNTS), "checks failed")
    ]
    for r in results:
        height = "-" if r.height is None else str(r.height)
        counts = [
            f"{r.counts[key][0]}/{r.counts[key][1]}" if key in r.counts else "-" for key in heads
        ]
        rows.append((r.page, height, *counts, ", ".join(r.failed_checks()) or "ok"))
    n = len(rows[0])
    widths = [max(len(row[i]) for row in rows) for i in range(n)]
    lines = [
        "  ".join(
            (cell.rjust(widths[i]) if 0 < i < n - 1 else cell.ljust(widths[i]))
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    raw_math = [r.page for r in results if r.unrendered_math]
    if raw_math:
        lines += [
            "",
            f"note: MathJax did not render on {', '.join(raw_math)} (no network, or --offline): "
            "their heights count the math as raw TeX",
        ]
    details = [f"{r.page}: [{check}] {message}" for r in results for check, message in r.failures]
    if details:
        lines += ["", *details]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    default = Options()
    parser.add_argument(
        "--html", type=Path, default=ROOT / "book/_build/html", help="the built book"
    )
    parser.add_argument(
        "--toc",
        type=Path,
        default=ROOT / "book/_toc.yml",
        help="the table of contents that names the pages",
    )
    parser.add_argument(
        "--page",
        action="append",
        default=None,
        help="check only this page (e.g. notebooks/08_study); repeatable",
    )
    parser.add_argument(
        "--browser",
        default=os.environ.get("CHROMIUM"),
        help=f"the browser (default: $CHROMIUM, else the first of {', '.join(BROWSERS)})",
    )
    parser.add_argument(
        "--require-browser",
        action="store_true",
        help="fail (exit 2) instead of skipping when no browser is found",
    )
    parser.add_argument("--width", type=int, default=default.width, help="window width in px")
    parser.add_argument(
        "--window-height", type=int, default=default.height, help="window height in px"
    )
    parser.add_argument(
        "--font-pt",
        type=float,
        default=default.font_pt,
        help="nominal size of the smallest text in the figures, in points",
    )
    parser.add_argument(
        "--dpi",
        type=float,
        default=default.dpi,
        help="resolution of a figure whose PNG records none",
    )
    parser.add_argument(
        "--min-font-px",
        type=float,
        default=default.min_font_px,
        help="smallest rendered figure text allowed, in CSS px",
    )
    parser.add_argument(
        "--table-slack",
        type=float,
        default=default.table_slack,
        help="px a table may exceed the text column by",
    )
    parser.add_argument(
        "--budget-ms",
        type=int,
        default=default.budget_ms,
        help="Chromium's virtual time budget per page, in ms",
    )
    parser.add_argument(
        "--timeout", type=float, default=default.timeout_s, help="wall-clock limit per page, in s"
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="block every remote host (MathJax and web fonts from a CDN then stay unloaded)",
    )
    parser.add_argument(
        "--figures",
        default=default.figures,
        help="CSS selector (inside the text column) of the images and canvases the figure check measures",
    )
    parser.add_argument(
        "--block-slack",
        type=float,
        default=default.block_slack,
        help="px a display math, code or output block may exceed the text column (or scroll) by",
    )
    parser.add_argument(
        "--cell-gap",
        type=float,
        default=default.cell_gap,
        help="smallest gap in px between the text of two adjacent table cells",
    )
    parser.add_argument(
        "--mathjax",
        default=str(MATHJAX_DIR),
        help="a MathJax 3 es5 folder (`make mathjax`) the pages load MathJax from instead of its CDN, "
        "so that the math is typeset without a network; 'cdn' keeps the pages' own",
    )
    parser.add_argument("--jobs", type=int, default=1, help="pages checked at the same time")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the results (page, height, failures) to this JSON file",
    )
    args = parser.parse_args(argv)

    browser = find_browser(args.browser)
    if browser is None:
        if args.require_browser:
            print(f"error: {SKIP_MESSAGE.removeprefix('skipped: ')}", file=sys.stderr)
            return 2
        print(SKIP_MESSAGE)
        return 0
    if not args.html.is_dir():
        print(f"{args.html} not found: run `make book` first", file=sys.stderr)
        return 2
    options = Options(
        width=args.width,
        height=args.window_height,
        font_pt=args.font_pt,
        dpi=args.dpi,
        min_font_px=args.min_font_px,
        table_slack=args.table_slack,
        budget_ms=args.budget_ms,
        timeout_s=args.timeout,
        offline=args.offline,
        figures=args.figures,
        block_slack=args.block_slack,
        cell_gap=args.cell_gap,
        mathjax=None if args.mathjax in ("", "cdn") else Path(args.mathjax),
    )
    if options.mathjax is not None and not options.mathjax.is_dir():
        print(
            f"note: {options.mathjax} not found (`make mathjax`): the pages load MathJax from its CDN",
            file=sys.stderr,
        )
        options = dataclasses.replace(options, mathjax=None)
    pages = args.page or expand_pages(toc_pages(args.toc), args.html)
    results = check_pages(browser, args.html, pages, options, jobs=args.jobs)
    print(format_report(results, options))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "page": r.page,
                        "height": r.height,
                        "width": options.width,
                        "counts": {k: {"failed": v[0], "total": v[1]} for k, v in r.counts.items()},
                        "failures": [{"check": c, "message": m} for c, m in r.failures],
                    }
                    for r in results
                ],
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    failed = [r for r in results if not r.ok]
    print(
        f"\n{len(results) - len(failed)} of {len(results)} pages pass"
        + (f"; {len(failed)} failed" if failed else "")
        + f" ({Path(browser).name})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
