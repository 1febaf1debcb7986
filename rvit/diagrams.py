r"""Diagrams that explain RViT, drawn with matplotlib (chapters 4, 5 and 8, and the book's intro).

* :func:`architecture`: one RViT layer and the tokens and head around it, in the authors' released
  design (:class:`~rvit.cell.FusedRecurrentBlock`, ``RViTConfig.official()``) and in this book's
  gated reconstruction (:class:`~rvit.cell.RecurrentBlock` with its
  :class:`~rvit.cell.AttentionGate`, ``RViTConfig.reconstruction()``): where the memory ``h^l``
  enters each layer and what the head reads.
* :func:`streaming`: ``step`` after ``step``: state in, frame in, state and logits out.
* :func:`study_design`: the study's configurations, seeds, readings and verdict rule; it draws the
  numbers it is given (chapter 8 reads them from the registry), so this module imports nothing of
  the study.

Every figure is a :class:`matplotlib.figure.Figure` built without ``pyplot``, at most :data:`WIDTH`
inches wide and with no text under :data:`MIN_FONT_PT` points, drawn in inches on one axes that
covers it. The same code gives the same picture: :func:`svg` writes one with fixed ids and no date,
and ``python -m rvit.diagrams FOLDER`` writes the book's committed copies (:data:`COMMITTED`), which
a test compares with what the code draws now. :func:`text_problems` lists text that overlaps other
text, leaves the figure or overflows its box (the tests ask for none).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.text import Text

__all__ = [
    "COMMITTED",
    "MIN_FONT_PT",
    "VERDICT_COLORS",
    "WIDTH",
    "architecture",
    "draw_pipeline",
    "min_font_pt",
    "streaming",
    "study_design",
    "svg",
    "text_problems",
    "training_columns",
    "write_committed",
]

WIDTH = 7.0
"""Inches: the book's text column, where a figure is shown at about its natural size."""
MIN_FONT_PT = 9.0
"""The smallest text a diagram may use, in points at its natural size."""

SMALL, TEXT, TITLE = 9.0, 10.0, 10.5  # font sizes in points

TOKEN, TOKEN_FILL = "#1f5fa8", "#dde8f6"  # the frame's tokens x
MEMORY, MEMORY_FILL = "#b5461f", "#fbe4d8"  # the memory h
HEAD, HEAD_FILL = "#2e7d32", "#e3f1e0"  # the head and its logits
GREY, GREY_FILL = "#555555", "#eeeeee"
CLS = "#7b3fa0"  # the class token

_RC = {
    "font.family": "DejaVu Sans",
    "mathtext.fontset": "dejavusans",
    "text.color": "#222222",
    "svg.fonttype": "path",
    "svg.hashsalt": "rvit-diagrams",
}
"""Settings every diagram is drawn and saved under, whatever the notebook's theme."""


# ------------------------------------------------------------------------------------------------
# drawing in inches


def _canvas(height: float) -> tuple[Figure, Axes]:
    """A figure :data:`WIDTH` x ``height`` inches with one bare axes measured in inches."""
    fig = Figure(figsize=(WIDTH, height))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, WIDTH)
    ax.set_ylim(0.0, height)
    ax.set_axis_off()
    fig.rvit_boxes = []  # (patch, text) pairs: the text must stay inside its box
    return fig, ax


def _box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str,
    color: str = GREY,
    fill: str = GREY_FILL,
    size: float = TEXT,
    weight: str = "normal",
    lw: float = 1.2,
    zorder: float = 2,
) -> FancyBboxPatch:
    """A rounded box centred on ``(x, y)``, ``w`` x ``h`` inches, with centred ``text``."""
    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2),
        w,
        h,
        boxstyle="round,pad=0,rounding_size=0.06",
        facecolor=fill,
        edgecolor=color,
        linewidth=lw,
        zorder=zorder,
    )
    ax.add_patch(patch)
    if text:
        label = ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=size,
            fontweight=weight,
            linespacing=1.35,
            zorder=zorder + 1,
        )
        ax.figure.rvit_boxes.append((patch, label))
    return patch


def _text(
    ax: Axes,
    x: float,
    y: float,
    text: str,
    size: float = SMALL,
    ha: str = "center",
    va: str = "center",
    color: str | None = None,
    weight: str = "normal",
    style: str = "normal",
    family: str | None = None,
) -> Text:
    """Free text at ``(x, y)`` inches."""
    return ax.text(
        x,
        y,
        text,
        ha=ha,
        va=va,
        fontsize=size,
        color=color,
        fontweight=weight,
        fontstyle=style,
        fontfamily=family,
        linespacing=1.3,
        zorder=5,
    )


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    color: str = GREY,
    lw: float = 1.4,
    rad: float = 0.0,
    head: bool = True,
    dashed: bool = False,
) -> FancyArrowPatch:
    """An arrow from ``start`` to ``end`` (inches), straight or bent by ``rad``."""
    arrow = FancyArrowPatch(
        start,
        end,
        arrowstyle="-|>,head_length=0.45,head_width=0.22" if head else "-",
        mutation_scale=12,
        connectionstyle=f"arc3,rad={rad}",
        color=color,
        linewidth=lw,
        linestyle="--" if dashed else "-",
        shrinkA=0,
        shrinkB=0,
        zorder=1.5,
    )
    ax.add_patch(arrow)
    return arrow


def _polyline(ax: Axes, points: Sequence[tuple[float, float]], color: str, lw: float = 1.4) -> None:
    """A line through ``points`` with an arrow head on its last segment."""
    for a, b in zip(points[:-2], points[1:-1], strict=True):
        _arrow(ax, a, b, color=color, lw=lw, head=False)
    _arrow(ax, points[-2], points[-1], color=color, lw=lw)


def _frame_icon(
    ax: Axes, x: float, y: float, side: float, pose: float = 0.0, grid: int = 4
) -> None:
    """A frame ``side`` inches wide centred on ``(x, y)``: a stick figure on a patch grid.

    ``pose`` in [0, 1] raises the figure's arms, so a row of icons shows a motion."""
    left, bottom = x - side / 2, y - side / 2
    ax.add_patch(
        Rectangle((left, bottom), side, side, facecolor="white", edgecolor=GREY, lw=1.0, zorder=2)
    )
    for i in range(1, grid):
        for start, end in (
            ((left + i * side / grid, bottom), (left + i * side / grid, bottom + side)),
            ((left, bottom + i * side / grid), (left + side, bottom + i * side / grid)),
        ):
            ax.plot(*zip(start, end, strict=True), color="#c8c8c8", lw=0.6, zorder=2.1)
    s = side / 8  # the stick figure, in eighths of the frame
    hx, hy = x, bottom + 6.1 * s
    ax.add_patch(
        matplotlib.patches.Circle((hx, hy), 0.7 * s, facecolor="none", edgecolor="#333", lw=1.1)
    )
    neck, hip = (x, bottom + 5.4 * s), (x, bottom + 3.0 * s)
    arm_y = bottom + (3.6 + 3.4 * pose) * s
    segments = [
        (neck, hip),
        (hip, (x - 1.2 * s, bottom + 0.8 * s)),
        (hip, (x + 1.2 * s, bottom + 0.8 * s)),
        ((x, bottom + 4.9 * s), (x - 1.9 * s, arm_y)),
        ((x, bottom + 4.9 * s), (x + 1.9 * s, arm_y)),
    ]
    for a, b in segments:
        ax.plot(*zip(a, b, strict=True), color="#333", lw=1.3, zorder=2.2, solid_capstyle="round")


def _tokens(
    ax: Axes, x: float, y: float, cls: bool, side: float = 0.15, gap: float = 0.04
) -> float:
    """A row of token squares starting at ``x`` centred on ``y`` (the class token first when
    ``cls``), with an ellipsis before the last; returns the row's right edge."""
    colors = ([CLS] if cls else []) + [TOKEN] * 3
    cx = x
    for color in colors:
        ax.add_patch(
            Rectangle((cx, y - side / 2), side, side, facecolor=color, edgecolor="white", lw=0.5)
        )
        cx += side + gap
    _text(ax, cx + 0.07, y, "…", size=TEXT, color=TOKEN)
    cx += 0.18
    ax.add_patch(Rectangle((cx, y - side / 2), side, side, facecolor=TOKEN, edgecolor="white"))
    return cx + side


# ------------------------------------------------------------------------------------------------
# figure 1: the architecture

_LAYER = (1.5, 5.5)  # the layer box's left and right edge, inches
_LAYER_Y = (0.3, 2.7)  # its bottom and top, above the panel's origin
_HEAD_X = 6.415  # the head column's centre
_TOKEN_LANE = 0.75  # the height of the frame's tokens above the panel's origin


def _frame_column(ax: Axes, y0: float, cls: bool) -> None:
    """A frame, its patch embedding and its tokens, on the left of a panel."""
    _text(ax, 0.7, y0 + 3.02, "frame t", size=SMALL)
    _frame_icon(ax, 0.7, y0 + 2.55, 0.62)
    _arrow(ax, (0.7, y0 + 2.23), (0.7, y0 + 2.05))
    _box(ax, 0.7, y0 + 1.78, 1.36, 0.5, "patch embedding\nP×P conv, stride P", size=SMALL)
    _arrow(ax, (0.7, y0 + 1.52), (0.7, y0 + _TOKEN_LANE + 0.15))
    right = _tokens(ax, 0.12, y0 + _TOKEN_LANE, cls)
    label = "class token\n+ N patch tokens" if cls else "N patch tokens\n+ p (added once)"
    _text(ax, 0.07, y0 + 0.37, label, size=SMALL, ha="left", va="center")
    return right


def _layer_frame(ax: Axes, y0: float, note: str) -> None:
    """The layer's box, drawn as the first of a stack of L, with its note below."""
    (left, right), (bottom, top) = _LAYER, _LAYER_Y
    for k in (2, 1, 0):
        ax.add_patch(
            FancyBboxPatch(
                (left + 0.05 * k, y0 + bottom + 0.05 * k),
                right - left,
                top - bottom,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor="#fafafa" if k == 0 else "white",
                edgecolor="#777777" if k == 0 else "#b0b0b0",
                lw=1.1 if k == 0 else 0.9,
                zorder=0.6 - 0.05 * k,
            )
        )
    _text(ax, (left + right) / 2, y0 + 0.12, note, size=SMALL, color=GREY, style="italic")


def _memory_labels(
    ax: Axes,
    y0: float,
    x_in: float,
    x_out: float,
    first: str,
    ends: tuple[float, float],
    left: bool = False,
) -> None:
    """The memory's arrow from frame t-1 down to ``ends[0]`` and from ``ends[1]`` up to frame t+1
    (heights in inches), labelled; the label of the way in stands on its arrow's right (or
    ``left``)."""
    top = y0 + 3.15
    _arrow(ax, (x_in, top), (x_in, ends[0]), color=MEMORY)
    _arrow(ax, (x_out, ends[1]), (x_out, top), color=MEMORY)
    text = r"$h^l_{t-1}$ from frame t−1" + "\n" + first
    x, ha = (x_in - 0.1, "right") if left else (x_in + 0.1, "left")
    _text(ax, x, y0 + 2.95, text, size=SMALL, ha=ha, color=MEMORY)
    _text(ax, x_out + 0.1, y0 + 3.0, r"$h^l_t$ to frame t+1", size=SMALL, ha="left", color=MEMORY)


def _head(ax: Axes, y0: float, text: str, x_from: float) -> None:
    """The head box, the last layer's tokens coming in and the logits going out."""
    yx = y0 + _TOKEN_LANE
    _box(ax, _HEAD_X, y0 + 1.5, 1.13, 0.9, text, HEAD, HEAD_FILL, size=SMALL)
    _arrow(ax, (x_from, yx + 0.1), (_HEAD_X - 0.565, y0 + 1.2), color=TOKEN)
    _text(ax, 5.63, yx - 0.02, r"$x^L$", size=SMALL, color=TOKEN, ha="left", va="top")
    _arrow(ax, (_HEAD_X, y0 + 1.05), (_HEAD_X, y0 + 0.78), color=HEAD)
    _text(ax, _HEAD_X, y0 + 0.55, "logits after\nevery frame", size=SMALL, color=HEAD)


def _title(ax: Axes, y: float, bold: str, rest: str) -> None:
    """A panel's title: its letter and name in bold, then where it lives in the package."""
    label = _text(ax, 0.0, y, bold, size=TITLE, ha="left", weight="bold")
    _text(ax, 0.0, y, rest, size=SMALL, ha="left", color=GREY).set_x(
        len(bold) * 0.0 + _text_width(ax, label) + 0.08
    )


def _text_width(ax: Axes, text: Text) -> float:
    """The width of ``text`` in inches (the axes' data units)."""
    renderer = FigureCanvasAgg(ax.figure).get_renderer()
    return text.get_window_extent(renderer).width / ax.figure.dpi


def _released_panel(ax: Axes, y0: float) -> None:
    """Panel (a): FusedRecurrentBlock, the class and sequence tokens and the tokens head."""
    _title(ax, y0 + 3.5, "(a) The released design", "RViTConfig.official(), FusedRecurrentBlock")
    right = _frame_column(ax, y0, cls=True)
    _layer_frame(ax, y0, "one of L layers; p: one position table for every frame")
    ym, yc, yx = y0 + 2.42, y0 + 1.55, y0 + _TOKEN_LANE
    xm, wm = 1.95, 0.6
    xc, wc, hc = 3.23, 1.76, 0.96
    xo, wo = 4.82, 1.24
    _arrow(ax, (right + 0.05, yx), (xm - wm / 2, yx), color=TOKEN)
    _box(ax, xm, ym, wm, 0.36, "h + p", MEMORY, MEMORY_FILL, size=SMALL)
    _box(ax, xm, yx, wm, 0.36, "x + p", TOKEN, TOKEN_FILL, size=SMALL)
    _box(
        ax,
        xc,
        yc,
        wc,
        hc,
        r"$q,k,v = W_{qkv}\,\mathrm{LN}(x)$"
        + "\n"
        + r"$+\ W^h_{qkv}\,\mathrm{LN}(h)$"
        + "\nsoftmax attention over\nthe frame's N+1 tokens",
        size=SMALL,
    )
    memory = r"$h \leftarrow (h + p) + a$" + "\nadditive, no gate"
    _box(ax, xo, ym, wo, 0.5, memory, MEMORY, MEMORY_FILL, size=SMALL)
    tokens = r"$x \leftarrow x + a$" + "\n" + r"$x \leftarrow x + \mathrm{MLP}(\mathrm{LN}(x))$"
    _box(ax, xo, yx, wo, 0.5, tokens, TOKEN, TOKEN_FILL, size=SMALL)
    # the memory around the attention and into it; the tokens likewise
    _arrow(ax, (xm + wm / 2, ym), (xo - wo / 2, ym), color=MEMORY)
    _arrow(ax, (xm, ym - 0.18), (xc - wc / 2 + 0.2, yc + hc / 2), color=MEMORY)
    _arrow(ax, (xm + wm / 2, yx), (xo - wo / 2, yx), color=TOKEN)
    _arrow(ax, (xm, yx + 0.18), (xc - wc / 2 + 0.2, yc - hc / 2), color=TOKEN)
    _arrow(ax, (xc + wc / 2, yc + 0.3), (xo - 0.3, ym - 0.25))
    _arrow(ax, (xc + wc / 2, yc - 0.3), (xo - 0.3, yx + 0.25))
    _text(ax, 4.47, yc + 0.38, "a", size=SMALL, style="italic", ha="right")
    _text(ax, 4.47, yc - 0.38, "a", size=SMALL, style="italic", ha="right")
    first = "token 0: a learned sequence token $s^l$"
    _memory_labels(ax, y0, xm, xo, first, (ym + 0.18, ym + 0.25))
    head = "head\n" + r"$[x_{cls} \,\|\, s^1 \ldots s^L]$" + "\n→ MLP → Linear"
    _head(ax, y0, head, xo + wo / 2)
    _polyline(ax, [(xo + wo / 2, ym), (_HEAD_X, ym), (_HEAD_X, y0 + 1.95)], MEMORY)
    label = r"$s^l = h^l_t[0]$"
    _text(ax, 5.66, ym + 0.06, label, size=SMALL, color=MEMORY, ha="left", va="bottom")


def _reconstruction_panel(ax: Axes, y0: float) -> None:
    """Panel (b): RecurrentBlock with its AttentionGate, and the concat head."""
    _title(
        ax,
        y0 + 3.5,
        "(b) The gated reconstruction",
        "RViTConfig.reconstruction(), RecurrentBlock, AttentionGate",
    )
    right = _frame_column(ax, y0, cls=False)
    _layer_frame(ax, y0, "one of L layers; linear attention in both steps")
    yc, yx = y0 + 1.75, y0 + _TOKEN_LANE
    x1, w1 = 2.3, 1.4
    xg, wg, hg = 3.45, 1.95, 0.92
    xo, wo = 4.82, 1.24
    _arrow(ax, (right + 0.05, yx), (x1 - w1 / 2, yx), color=TOKEN)
    spatial = r"$x \leftarrow x + \mathrm{Attn}(\mathrm{LN}_1(x))$" + "\nwithin the frame"
    _box(ax, x1, yx, w1, 0.5, spatial, TOKEN, TOKEN_FILL, size=SMALL)
    gate = (
        "attention gate\n"
        + r"$a = \mathrm{Attn}(q = u,\ kv = [u;\, h])$"
        + "\n"
        + r"$z = \sigma(W_z [u \,\|\, h] + b_z)$"
        + "\n"
        + r"$h \leftarrow (1 - z)\, h + z\, W_c a$"
    )
    _box(ax, xg, yc, wg, hg, gate, MEMORY, MEMORY_FILL, size=SMALL)
    tokens = (
        r"$x \leftarrow x + W_o h^l_t$"
        + "\n"
        + r"$x \leftarrow x + \mathrm{MLP}(\mathrm{LN}_3(x))$"
    )
    _box(ax, xo, yx, wo, 0.5, tokens, TOKEN, TOKEN_FILL, size=SMALL)
    xu = 2.75
    _arrow(ax, (xu, yx + 0.25), (xu, yc - hg / 2), color=TOKEN)
    label = r"$u = \mathrm{LN}_2(x)$"
    _text(ax, xu - 0.07, yx + 0.39, label, size=SMALL, color=TOKEN, ha="right")
    _arrow(ax, (x1 + w1 / 2, yx), (xo - wo / 2, yx), color=TOKEN)
    _arrow(ax, (xg + wg / 2, yc - 0.3), (xo - 0.3, yx + 0.25), color=MEMORY)
    _text(ax, 4.6, yc - 0.42, r"$h^l_t$", size=SMALL, color=MEMORY, ha="left")
    top = yc + hg / 2
    _memory_labels(ax, y0, 2.75, 4.2, r"$h^l_0 = 0$", (top, top), left=True)
    head = (
        "head\n"
        + r"$[\mathrm{mean\ LN}(x^L)$"
        + "\n"
        + r"$\|\ \mathrm{mean}\ h^L_t]$"
        + "\n→ LN → Linear"
    )
    _head(ax, y0, head, xo + wo / 2)
    ym = yc + 0.3
    _polyline(ax, [(xg + wg / 2, ym), (_HEAD_X, ym), (_HEAD_X, y0 + 1.95)], MEMORY)
    _text(ax, 5.66, ym + 0.06, r"$h^L_t$", size=SMALL, color=MEMORY, ha="left", va="bottom")


def architecture() -> Figure:
    """RViT in two panels: (a) the released design, (b) this book's gated reconstruction."""
    with matplotlib.rc_context(_RC):
        fig, ax = _canvas(7.5)
        _released_panel(ax, 3.8)
        _reconstruction_panel(ax, 0.0)
    return fig


# ------------------------------------------------------------------------------------------------
# figure 2: streaming


def streaming() -> Figure:
    """``step`` after ``step``: the state and a frame go in, the new state and logits come out."""
    with matplotlib.rc_context(_RC):
        fig, ax = _canvas(3.35)
        code = "state = model.init_state(B);   logits, state = model.step(frame, state)"
        _text(ax, WIDTH / 2, 3.18, code, size=SMALL, family="monospace")
        yb, hb, wb = 1.75, 0.75, 1.16
        _box(ax, 0.6, yb, 0.95, 0.55, "init_state()", MEMORY, MEMORY_FILL, size=SMALL)
        steps = [(2.2, "t−1", 0.1), (3.95, "t", 0.5), (5.7, "t+1", 0.9)]
        for x, t, pose in steps:
            _box(ax, x, yb, wb, hb, "model.step\n(L layers)", GREY, GREY_FILL, size=SMALL)
            _frame_icon(ax, x, 0.82, 0.5, pose=pose)
            _arrow(ax, (x, 1.09), (x, yb - hb / 2), color=TOKEN)
            _text(ax, x, 0.42, f"frame {t}", size=SMALL, color=TOKEN)
            _arrow(ax, (x, yb + hb / 2), (x, 2.55), color=HEAD)
            _text(ax, x, 2.7, f"logits after frame {t}", size=SMALL, color=HEAD)
        lefts = [1.075] + [x + wb / 2 for x, _, _ in steps]
        rights = [x - wb / 2 for x, _, _ in steps] + [6.98]
        for a, b in zip(lefts, rights, strict=True):
            _arrow(ax, (a, yb), (b, yb), color=MEMORY, lw=1.8)
            mid = (a + b) / 2
            for k in range(3):  # the state: one memory per layer, shaped like the frame's tokens
                ax.add_patch(
                    Rectangle(
                        (mid - 0.15 + 0.04 * k, yb + 0.1 + 0.04 * k),
                        0.22,
                        0.14,
                        facecolor=MEMORY_FILL,
                        edgecolor=MEMORY,
                        lw=0.8,
                        zorder=3,
                    )
                )
            if b < 6.9:
                _text(ax, mid, yb - 0.17, r"$h^1 \ldots h^L$", size=SMALL, color=MEMORY)
        _text(ax, 6.72, yb - 0.17, "…", size=TEXT, color=MEMORY)
        note = (
            "The state is one memory per layer, shaped like one frame's tokens: "
            "its size does not grow with the video."
        )
        _text(ax, WIDTH / 2, 0.13, note, size=SMALL, color=GREY, style="italic")
    return fig


# ------------------------------------------------------------------------------------------------
# figure 3: the study's design


def study_design(
    *,
    training: Sequence[str],
    experiments: int,
    configurations: int,
    seeds: int,
    readings: int,
    claims: int,
    level: float,
    alpha: float,
    gate: float,
) -> Figure:
    """The study from configurations to verdicts, with the registry's numbers.

    Args:
        training: what the central experiment trains RViT on (and its controls), as labels.
        experiments, configurations, seeds, readings, claims: the registry's counts (distinct
            training configurations; seeds per configuration).
        level: the confidence level of the paired t interval; ``alpha`` the test's level.
        gate: the learning gate, a share of each modality's training-accuracy ceiling.
    """
    with matplotlib.rc_context(_RC):
        fig, ax = _canvas(4.8)
        top, h = 4.75, 2.1  # the pipeline's boxes: top edge and height
        columns = [
            *training_columns(training, experiments, configurations, seeds),
            (
                4.26,
                1.46,
                "Test videos",
                [
                    "the same videos for",
                    "every run, read",
                    "frame by frame:",
                    "top-1, appearance,",
                    "motion direction, …",
                ],
            ),
            (
                6.03,
                1.86,
                "Readings",
                [
                    f"{readings} readings, {claims} claims;",
                    "effect per seed: metrics",
                    "of runs of that seed,",
                    "e.g. image − video top-1;",
                    f"paired t interval ({level:.0%}),",
                    "exact sign-flip p, or",
                    "TOST against a margin",
                ],
            ),
        ]
        rules = [
            (
                "not testable",
                f"a configuration it uses trains below {gate:.0%} of its data's ceiling (it "
                "did not learn)",
            ),
            (
                "supported",
                f"p ≤ {alpha:g} after Holm's correction over the claims' primary readings, "
                "and the\ninterval excludes 0 on the claimed side (secondary readings: "
                "uncorrected)",
            ),
            (
                "contradicted",
                "the same on the other side; with a margin: the interval lies wholly outside it",
            ),
            (
                "equivalent",
                f"with a margin: TOST p ≤ {alpha:g} and the {1 - 2 * alpha:.0%} interval "
                "inside ± margin",
            ),
            ("inconclusive", "otherwise"),
        ]
        draw_pipeline(ax, columns, top, h, rules, box_top=2.33)
    return fig


VERDICT_COLORS: dict[str, tuple[str, str]] = {
    "not testable": (GREY, GREY_FILL),
    "supported": (HEAD, HEAD_FILL),
    "contradicted": ("#8e2a2a", "#f6dcdc"),
    "equivalent": (TOKEN, TOKEN_FILL),
    "inconclusive": (MEMORY, MEMORY_FILL),
}
"""Each verdict's edge and fill colour in the study's design figures."""


def training_columns(
    training: Sequence[str], experiments: int, configurations: int, seeds: int
) -> list[tuple[float, float, str, list[str]]]:
    """The first two boxes of a study's pipeline (:func:`draw_pipeline`): what it trains, and the
    seeds of each configuration."""
    return [
        (
            0.86,
            1.68,
            "Configurations",
            [
                f"{experiments} experiments,",
                f"{configurations} distinct training",
                "configurations, e.g.",
                "trained on:",
            ]
            + [f"· {t}" for t in training],
        ),
        (
            2.62,
            1.5,
            f"× {seeds} seeds",
            [
                "each configuration",
                "trained once per",
                "seed; the seed is",
                f"the unit: {seeds} values",
                "per reading",
            ],
        ),
    ]


def draw_pipeline(
    ax: Axes,
    columns: Sequence[tuple[float, float, str, Sequence[str]]],
    top: float,
    h: float,
    rules: Sequence[tuple[str, str]],
    box_top: float,
) -> None:
    """A study's design on ``ax``: its pipeline above the rule that gives each reading's verdict.

    Args:
        columns: the pipeline's boxes, left to right, as ``(centre x, width, title, lines)``; each
            points to the next, and the last one down to the rules.
        top, h: the boxes' top edge and height.
        rules: ``(verdict, when)`` in the order they are tried, each verdict a key of
            :data:`VERDICT_COLORS`; a ``when`` may hold line breaks.
        box_top: the top edge of the rules' box, which spans the figure's width.
    """
    for i, (x, w, title, lines) in enumerate(columns):
        _box(ax, x, top - h / 2, w, h, "", GREY, "white")
        _text(ax, x, top - 0.2, title, size=TEXT, weight="bold")
        text = "\n".join(lines)
        _text(ax, x - w / 2 + 0.1, top - 0.38, text, size=SMALL, ha="left", va="top")
        if i:
            prev_x, prev_w = columns[i - 1][:2]
            _arrow(ax, (prev_x + prev_w / 2, top - h / 2), (x - w / 2, top - h / 2))
    # the verdict rule, tried in order
    last_x = columns[-1][0]
    _arrow(ax, (last_x, top - h), (last_x, box_top))
    _box(ax, WIDTH / 2, box_top / 2 + 0.01, WIDTH - 0.04, box_top - 0.04, "", GREY, "#fafafa")
    title = "Verdict of each reading, the first rule that applies"
    _text(ax, 0.15, box_top - 0.2, title, size=TEXT, weight="bold", ha="left")
    y = box_top - 0.4
    for name, rule in rules:
        color, fill = VERDICT_COLORS[name]
        row = 0.33 + 0.17 * rule.count("\n")  # the row's height
        y -= row / 2
        _box(ax, 0.82, y, 1.3, 0.28, name, color, fill, size=SMALL, weight="bold")
        _text(ax, 1.6, y, rule, size=SMALL, ha="left", va="center")
        y -= row / 2


# ------------------------------------------------------------------------------------------------
# checks and output


def _texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def min_font_pt(fig: Figure) -> float:
    """The size in points of the smallest text of ``fig``."""
    return min(t.get_fontsize() for t in _texts(fig))


def text_problems(fig: Figure, pad: float = 1.0) -> list[str]:
    """Text of ``fig`` that overlaps other text, leaves the figure or overflows its box.

    Extents are in display pixels at the figure's dpi; ``pad`` pixels of each are ignored."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    texts = _texts(fig)
    boxes = [t.get_window_extent(renderer).expanded(1.0, 1.0) for t in texts]
    shrunk = [b.padded(-pad) for b in boxes]
    problems = []
    page = fig.bbox
    for t, b in zip(texts, boxes, strict=True):
        if (
            b.x0 < page.x0 - pad
            or b.y0 < page.y0 - pad
            or b.x1 > page.x1 + pad
            or b.y1 > page.y1 + pad
        ):
            problems.append(f"{t.get_text()!r} leaves the figure")
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if shrunk[i].overlaps(shrunk[j]):
                problems.append(f"{texts[i].get_text()!r} overlaps {texts[j].get_text()!r}")
    for patch, label in getattr(fig, "rvit_boxes", []):
        outer = patch.get_window_extent(renderer)
        inner = label.get_window_extent(renderer)
        if (
            inner.x0 < outer.x0 + pad
            or inner.x1 > outer.x1 - pad
            or inner.y0 < outer.y0 + pad
            or inner.y1 > outer.y1 - pad
        ):
            problems.append(f"{label.get_text()!r} overflows its box")
    return problems


def svg(fig: Figure) -> bytes:
    """``fig`` as SVG bytes that depend only on the drawing: fixed ids, no date, text as paths."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


COMMITTED: dict[str, Callable[[], Figure]] = {"rvit-architecture.svg": architecture}
"""The diagrams the book's markdown pages show, by file name (in ``book/figures/``)."""


def write_committed(folder: str | Path) -> list[Path]:
    """Write every diagram of :data:`COMMITTED` into ``folder``; returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in COMMITTED.items():
        path = folder / name
        path.write_bytes(svg(draw()))
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rvit.diagrams [FOLDER]``: write the committed diagrams (default book/figures)."""
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else Path(__file__).resolve().parents[1] / "book" / "figures"
    for path in write_committed(folder):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
