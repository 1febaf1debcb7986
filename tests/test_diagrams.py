"""rvit.diagrams: the diagrams fit the text column, keep their text readable and apart, draw the
same picture every time, and the book's committed copies are what the code draws now."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

from rvit import diagrams

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "book" / "figures"

STUDY = {
    "training": ["images", "static clips", "pseudo-videos", "extracted frames", "videos"],
    "experiments": 11,
    "configurations": 60,
    "seeds": 10,
    "readings": 40,
    "claims": 18,
    "level": 0.95,
    "alpha": 0.05,
    "gate": 0.5,
}

DRAW = {
    "architecture": diagrams.architecture,
    "streaming": diagrams.streaming,
    "study_design": lambda: diagrams.study_design(**STUDY),
}


@pytest.fixture(scope="module", params=sorted(DRAW))
def drawn(request):
    return request.param, DRAW[request.param]()


def test_diagrams_fit_the_column(drawn):
    name, fig = drawn
    assert fig.get_figwidth() <= diagrams.WIDTH + 1e-9, name


def test_diagrams_use_no_text_under_the_minimum(drawn):
    name, fig = drawn
    assert diagrams.min_font_pt(fig) >= diagrams.MIN_FONT_PT >= 9, name


def test_diagram_text_stays_apart_inside_the_figure_and_its_boxes(drawn):
    name, fig = drawn
    assert diagrams.text_problems(fig) == [], name


def test_diagrams_draw_the_same_svg_every_time():
    for name, draw in DRAW.items():
        assert diagrams.svg(draw()) == diagrams.svg(draw()), name


def test_diagrams_do_not_follow_the_notebook_theme():
    plain = diagrams.svg(diagrams.streaming())
    with matplotlib.rc_context({"font.size": 14, "text.color": "red", "svg.hashsalt": "x"}):
        themed = diagrams.svg(diagrams.streaming())
    assert themed == plain


def test_the_study_diagram_draws_the_numbers_it_is_given():
    fig = diagrams.study_design(**{**STUDY, "seeds": 7, "claims": 3})
    text = " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    assert "× 7 seeds" in text and "3 claims" in text and "10 seeds" not in text


def test_text_problems_finds_overlapping_text():
    fig, ax = diagrams._canvas(1.0)
    diagrams._text(ax, 1.0, 0.5, "some text")
    diagrams._text(ax, 1.05, 0.5, "other text")
    diagrams._box(ax, 4.0, 0.5, 0.2, 0.2, "far too long for its box")
    problems = diagrams.text_problems(fig)
    assert any("overlaps" in p for p in problems)
    assert any("overflows its box" in p for p in problems)


def _text_comments(svg: bytes) -> list[str]:
    """The strings of an SVG drawn with text as paths (matplotlib writes each as a comment)."""
    return re.findall(r"<!-- (.*?) -->", svg.decode("utf-8"), flags=re.S)


@pytest.mark.parametrize("name", sorted(diagrams.COMMITTED))
def test_committed_diagrams_are_current(name):
    """The SVG under book/figures equals what the code draws now (with the same matplotlib; with
    another version the drawn text must still agree). Rewrite them with ``python -m rvit.diagrams``."""
    path = FIGURES / name
    assert path.exists(), f"{path} is missing: run `python -m rvit.diagrams`"
    committed, drawn = path.read_bytes(), diagrams.svg(diagrams.COMMITTED[name]())
    version = re.search(rb"Matplotlib v([\w.]+)", committed)
    stale = f"{path.relative_to(ROOT)} is stale: run `python -m rvit.diagrams`"
    if version and version.group(1).decode() == matplotlib.__version__:
        assert committed == drawn, stale
    else:
        assert _text_comments(committed) == _text_comments(drawn), stale


def test_the_intro_shows_the_committed_architecture():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    for name in diagrams.COMMITTED:
        assert f"figures/{name}" in intro, name
