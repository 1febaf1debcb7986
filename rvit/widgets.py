"""Watch a model read a video frame by frame: a live explorer for Jupyter and an animation for the book.

Three parts, each with one job:

* :func:`trace_video` runs a video through a model once, frame by frame with
  ``step(frame, state, return_details=True)``, and keeps what the model did after every frame in a
  :class:`VideoTrace`: the class probabilities, where the recurrent gate looked and how large the
  hidden states grew. The numbers are the ones the streaming forward pass produced, not a recomputation.
* :class:`ExplorerFigure` draws one or more traces of the same video at frame ``t`` in one matplotlib
  figure (per model: the frame with the gate's attention laid over it, the top-5 classes, the confidence
  in the true class so far, the hidden-state norm per layer) and moves every panel to another frame
  with :meth:`ExplorerFigure.update`.
* :class:`VideoExplorer` (ipywidgets: pick a class, a video, play or scrub the frames) and
  :func:`animate` (a self-contained HTML/JavaScript animation for pages without a kernel) both show an
  :class:`ExplorerFigure`, so the live explorer and the book's animations show the same content.

What the heat map shows. In each step the gate's queries are the frame's ``N`` tokens and its keys are
``[frame tokens; memory tokens]`` (``M = 2N`` under ``gate_kv="frame_and_memory"``) or the memory tokens
alone (``M = N`` under ``gate_kv="memory"``). Averaging the weights ``(heads, N, M)`` over heads and
queries gives the share of attention each key receives; the shares of all keys add up to 1 (up to the
linear kernel's ``eps``). The ``N`` frame keys, laid out on the patch grid, are the *frame map*; the
``N`` memory keys (one per patch position of the hidden state) the *memory map*; the memory keys' total
is the *memory share*: how much the gate reads its past rather than the new frame. Which keys a gate
reads, and in which order, the trace asks the gate (:meth:`~rvit.cell.AttentionGate.key_blocks`); a
gate reading keys the explorer cannot show raises instead of being drawn wrongly.
"""

from __future__ import annotations

import io
import tempfile
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import HTML
from matplotlib import rc_context
from matplotlib.animation import FuncAnimation, HTMLWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from torch import Tensor, nn
from torch.utils.data import Dataset

__all__ = [
    "HEAT_KEYS",
    "ExplorerFigure",
    "ExplorerView",
    "VideoExplorer",
    "VideoTrace",
    "animate",
    "trace_video",
]

HEAT_KEYS: tuple[str, ...] = ("frame", "memory")
MIN_FONT_KEY = "min_font_pt"
"""The PNG text chunk in which the explorer's figures record their smallest font size (``make check-book``
reads it to tell how high their text renders on the page)."""
"""Which keys of the gate the heat map shows: the frame's tokens or the memory's tokens."""

TOP_K = 5


# ---------------------------------------------------------------------------------------------------
# tracing a video
# ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class VideoTrace:
    """What a model did after every frame of one video (all tensors float32 on the CPU).

    Attributes:
        frames: the video ``(T, C, H, W)`` as the model saw it.
        probs: class probabilities after each frame ``(T, K)`` (softmax of the streamed logits).
        label: the true class, if known.
        frame_attention: the gate's attention share on each frame token, on the patch grid
            ``(T, depth, gh, gw)`` (zeros under ``gate_kv="memory"``); None for models without a gate.
        memory_attention: the same for the memory tokens ``(T, depth, gh, gw)``; None without a gate.
        hidden_norm: mean L2 norm of each layer's new hidden-state tokens ``(T, depth)``; None for
            models without a recurrent state.
        weights: with ``keep_weights=True``, the raw gate weights of every frame: per frame a list per
            layer of ``(heads, N, M)``; else None.
    """

    frames: Tensor
    probs: Tensor
    label: int | None = None
    frame_attention: Tensor | None = None
    memory_attention: Tensor | None = None
    hidden_norm: Tensor | None = None
    weights: list[list[Tensor]] | None = field(default=None, repr=False)

    @property
    def num_frames(self) -> int:
        """``T``."""
        return self.probs.shape[0]

    @property
    def num_classes(self) -> int:
        """``K``."""
        return self.probs.shape[1]

    @property
    def depth(self) -> int | None:
        """The number of recurrent layers traced (None for models without a gate)."""
        if self.frame_attention is not None:
            return self.frame_attention.shape[1]
        return None if self.hidden_norm is None else self.hidden_norm.shape[1]

    @property
    def memory_share(self) -> Tensor | None:
        """``(T, depth)``: the share of the gate's attention that goes to the memory tokens."""
        if self.memory_attention is None:
            return None
        return self.memory_attention.sum(dim=(-2, -1))

    @property
    def predictions(self) -> Tensor:
        """The predicted class after each frame ``(T,)``."""
        return self.probs.argmax(dim=-1)

    def _label(self, label: int | None) -> int:
        label = self.label if label is None else label
        if label is None:
            raise ValueError("this trace has no label; pass label= (a class index)")
        return _check_label(label, self.num_classes)

    def confidence(self, label: int | None = None) -> Tensor:
        """The probability of ``label`` (default: the true class) after each frame ``(T,)``."""
        return self.probs[:, self._label(label)]

    def rival(self, label: int | None = None) -> Tensor:
        """The highest probability among the other classes after each frame ``(T,)``."""
        others = self.probs.clone()
        others[:, self._label(label)] = -1.0
        return others.max(dim=-1).values

    def top(self, t: int, k: int = TOP_K) -> list[tuple[int, float]]:
        """The ``k`` most probable classes after frame ``t`` (0-based): ``[(class, probability)]``."""
        t = _check_frame_index(t, self.num_frames)
        values, indices = self.probs[t].topk(min(k, self.num_classes))
        return [(int(i), float(v)) for i, v in zip(indices, values, strict=True)]

    def heat(self, layer: int = -1, keys: str = "frame") -> Tensor | None:
        """The heat maps of one layer over time ``(T, gh, gw)`` (None for models without a gate)."""
        if keys not in HEAT_KEYS:
            raise ValueError(f"keys must be one of {HEAT_KEYS}; got {keys!r}")
        maps = self.frame_attention if keys == "frame" else self.memory_attention
        if maps is None:
            return None
        return maps[:, _check_layer(layer, maps.shape[1])]


def _check_label(label: Any, num_classes: int) -> int:
    if isinstance(label, Tensor) and label.numel() == 1:
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, int | np.integer):
        raise ValueError(f"label must be a class index (int); got {type(label).__name__}")
    if not 0 <= label < num_classes:
        raise ValueError(f"label {label} is out of range for {num_classes} classes")
    return int(label)


def _check_frame_index(t: Any, num_frames: int) -> int:
    if isinstance(t, bool) or not isinstance(t, int | np.integer) or not 0 <= t < num_frames:
        raise ValueError(f"frame index must be an int in [0, {num_frames}); got {t!r}")
    return int(t)


def _check_layer(layer: Any, depth: int) -> int:
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer):
        raise ValueError(f"layer must be an int; got {type(layer).__name__}")
    if not -depth <= layer < depth:
        raise ValueError(f"layer {layer} is out of range for a model with {depth} layers")
    return int(layer) % depth


def _clamp_layer(layer: int, depth: int) -> int:
    """``layer`` (negative counts from the last) as 0-based, clamped to ``0..depth-1``."""
    return min(max(layer, -depth), depth - 1) % depth


def _check_model(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module) or not all(
        callable(getattr(model, m, None)) for m in ("init_state", "step")
    ):
        raise ValueError(
            f"{name} must be a streaming model with init_state and step (RViT, FrameViT, ClipViT); "
            f"got {type(model).__name__}"
        )
    return model


def _check_video(video: Any) -> Tensor:
    """A video ``(T, C, H, W)`` (or ``(1, T, C, H, W)``) -> ``(T, C, H, W)`` float32 on the CPU."""
    if not isinstance(video, Tensor):
        raise ValueError(f"video must be a torch.Tensor (T, C, H, W); got {type(video).__name__}")
    if video.dim() == 5 and video.shape[0] == 1:
        video = video[0]
    if video.dim() != 4:
        raise ValueError(
            f"video must have shape (T, C, H, W) (one video); got shape {tuple(video.shape)}"
        )
    if video.shape[0] == 0:
        raise ValueError("video has 0 frames")
    if not video.is_floating_point():
        raise ValueError(
            f"video must be a floating-point tensor (scaled pixels); got {video.dtype}"
        )
    return video.detach().float().cpu()


def _gate_maps(
    gate: Sequence[Tensor], grid: tuple[int, int], key_blocks: Sequence[list[tuple[str, slice]]]
) -> tuple[Tensor, Tensor]:
    """Per-layer gate weights ``[(1, heads, N, M)]`` -> frame and memory maps ``(depth, gh, gw)``.

    ``key_blocks``: per layer, which keys its gate reads (``AttentionGate.key_blocks(N)``); a block
    the gate does not read is a map of zeros."""
    frame_maps, memory_maps = [], []
    n = grid[0] * grid[1]
    for layer, (weights, blocks) in enumerate(zip(gate, key_blocks, strict=True)):
        _, _, queries, keys = weights.shape
        expected = max(block.stop for _, block in blocks)
        names = [name for name, _ in blocks]
        if queries != n or keys != expected:
            raise ValueError(
                f"gate weights of layer {layer} have shape {tuple(weights.shape)}; expected "
                f"(1, heads, {n}, {expected}) for a {grid[0]}x{grid[1]} patch grid and a gate "
                f"reading {names}"
            )
        received = weights[0].float().mean(dim=(0, 1)).cpu()  # (M,): share of each key
        maps = {name: torch.zeros(n) for name in HEAT_KEYS}
        for name, block in blocks:
            if name not in maps or block.stop - block.start != n:
                raise ValueError(
                    f"the gate of layer {layer} reads a key block {name!r} of "
                    f"{block.stop - block.start} keys; the explorer shows blocks {HEAT_KEYS} of "
                    f"{n} keys (one per patch)"
                )
            maps[name] = received[block]
        frame_maps.append(maps["frame"].reshape(grid))  # (gh, gw)
        memory_maps.append(maps["memory"].reshape(grid))
    return torch.stack(frame_maps), torch.stack(memory_maps)


def trace_video(
    model: nn.Module,
    video: Tensor,
    label: int | None = None,
    keep_weights: bool = False,
) -> VideoTrace:
    """Run ``video`` through ``model`` frame by frame and keep what it did after every frame.

    The model streams the video exactly as in evaluation (eval mode, ``init_state(1, num_frames=T)``,
    then ``step(frame, state, return_details=True)`` per frame, as ``forward`` does), so the traced
    probabilities equal ``softmax(model(video[None], return_all=True))`` and the attention maps are
    the weights the gate used in those steps.

    Args:
        model: a streaming classifier (RViT; FrameViT and ClipViT give probabilities only).
        video: ``(T, C, H, W)`` float (or ``(1, T, C, H, W)``).
        label: the true class, if known.
        keep_weights: also keep the raw gate weights of every frame (``(heads, N, M)`` per layer).

    Returns:
        A :class:`VideoTrace`; the model's training mode is restored afterwards.
    """
    model = _check_model(model)
    video = _check_video(video)
    frames = video.shape[0]
    probs: list[Tensor] = []
    frame_maps: list[Tensor] = []
    memory_maps: list[Tensor] = []
    norms: list[Tensor] = []
    raw: list[list[Tensor]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            state = model.init_state(1, num_frames=frames)
            for t in range(frames):
                logits, state, details = model.step(video[t : t + 1], state, return_details=True)
                probs.append(logits[0].float().softmax(dim=-1).cpu())  # (K,)
                gate = details.get("gate_attention")
                if gate is not None:
                    grid = state.grid
                    n = grid[0] * grid[1]
                    blocks = [block.gate.key_blocks(n) for block in model.blocks]
                    maps = _gate_maps(gate, grid, blocks)
                    frame_maps.append(maps[0])
                    memory_maps.append(maps[1])
                    if keep_weights:
                        raw.append([w[0].float().cpu().clone() for w in gate])
                if details.get("hidden_norm") is not None:
                    norms.append(details["hidden_norm"][0].float().cpu())  # (depth,)
    finally:
        model.train(was_training)
    trace = VideoTrace(
        frames=video,
        probs=torch.stack(probs),
        frame_attention=torch.stack(frame_maps) if frame_maps else None,
        memory_attention=torch.stack(memory_maps) if memory_maps else None,
        hidden_norm=torch.stack(norms) if norms else None,
        weights=raw if keep_weights and raw else None,
    )
    if label is not None:
        trace.label = _check_label(label, trace.num_classes)
    return trace


# ---------------------------------------------------------------------------------------------------
# drawing
# ---------------------------------------------------------------------------------------------------


def _display_frames(frames: Tensor) -> np.ndarray:
    """``(T, C, H, W)`` -> ``(T, H, W, 3)`` in [0, 1] for imshow (rescaled if outside [0, 1])."""
    low, high = float(frames.min()), float(frames.max())
    if low < 0 or high > 1:
        frames = (frames - low) / max(high - low, 1e-8)
    if frames.shape[1] == 1:
        frames = frames.expand(-1, 3, -1, -1)
    elif frames.shape[1] != 3:
        raise ValueError(f"frames must have 1 or 3 channels to be shown; got {frames.shape[1]}")
    return frames.permute(0, 2, 3, 1).clamp(0, 1).numpy()


def _class_name(class_names: Sequence[str], k: int) -> str:
    return str(class_names[k])


class _ModelPanels:
    """The four panels of one model inside an :class:`ExplorerFigure` (a matplotlib subfigure)."""

    BAR_COLOR, TRUE_COLOR, RIVAL_COLOR = "#9aa5b1", "#e8710a", "#3b6ea5"
    # font sizes in points: at the default sizes (3.3 inches per model, 90 dpi) a two-model figure fits a
    # 612 px text column with its smallest text 10 px high (make check-book reads MIN_FONT_KEY)
    TITLE, LABEL, TICK = 8.5, 8, 8

    def __init__(
        self,
        subfig: Any,
        name: str,
        trace: VideoTrace,
        class_names: Sequence[str],
        layer: int,
        keys: str,
    ) -> None:
        self.name, self.trace, self.class_names = name, trace, class_names
        self.subfig = subfig
        ax = subfig.subplots(
            2, 2, gridspec_kw={"left": 0.15, "right": 0.93, "bottom": 0.12, "top": 0.8}
        )
        subfig.subplots_adjust(wspace=0.55, hspace=0.75)
        self.ax_frame, self.ax_top, self.ax_conf, self.ax_norm = ax.ravel()
        self.steps = np.arange(1, trace.num_frames + 1)
        self._frame_panel(layer, keys)
        self._top_panel()
        self._confidence_panel()
        self._norm_panel()
        for axis in (self.ax_top, self.ax_conf, self.ax_norm):
            axis.tick_params(labelsize=self.TICK)
            axis.xaxis.set_major_locator(MaxNLocator(3, integer=axis is not self.ax_top))
        for axis in (self.ax_conf, self.ax_norm):
            axis.yaxis.set_major_locator(MaxNLocator(3))
        self.ax_conf.set_xlim(0.5, trace.num_frames + 0.5)
        self.ax_norm.set_xlim(0.5, trace.num_frames + 2)  # room for the layer labels
        for axis in (self.ax_conf, self.ax_norm):
            axis.set_xlabel("frames seen", fontsize=self.LABEL)

    def _frame_panel(self, layer: int, keys: str) -> None:
        """The frame, with the gate's attention laid over it."""
        self.rgb = _display_frames(self.trace.frames)
        height, width = self.rgb.shape[1:3]
        self.extent = (0, width, height, 0)
        self.image = self.ax_frame.imshow(self.rgb[0], extent=self.extent, interpolation="nearest")
        self.heat = None
        self.layer: int | None = None
        self.set_heat(layer, keys)
        self.ax_frame.set_xticks([])
        self.ax_frame.set_yticks([])

    def _top_panel(self) -> None:
        """The top-5 classes after this frame."""
        k = min(TOP_K, self.trace.num_classes)
        rows = np.arange(k)[::-1]
        self.bars = self.ax_top.barh(rows, np.zeros(k), color=self.BAR_COLOR, height=0.8)
        self.bar_names = [
            self.ax_top.text(0.02, y, "", va="center", ha="left", fontsize=self.LABEL) for y in rows
        ]
        self.ax_top.set_xlim(0, 1)
        self.ax_top.set_yticks([])
        self.ax_top.set_xlabel("probability", fontsize=self.LABEL)
        self.ax_top.set_title("top 5 (orange: true)", fontsize=self.TITLE)

    def _confidence_panel(self) -> None:
        """The probability of the true class (or of the top class) and of its best rival so far."""
        trace, ax = self.trace, self.ax_conf
        self.curve_rival = None
        if trace.label is None:
            self.curve_true = trace.probs.max(dim=-1).values.numpy()
            ax.set_title("p(top class)", fontsize=self.TITLE)
        else:
            self.curve_true = trace.confidence().numpy()
            self.curve_rival = trace.rival().numpy()
            true_name = _class_name(self.class_names, trace.label)
            ax.set_title(f"p({true_name}) orange,\nbest other blue", fontsize=self.TITLE)
        (self.line_true,) = ax.plot([], [], color=self.TRUE_COLOR, marker="o", ms=3)
        (self.line_rival,) = ax.plot([], [], color=self.RIVAL_COLOR, ls="--", marker=".", ms=3)
        self.cursor_conf = ax.axvline(1, color="0.6", lw=0.8)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("probability", fontsize=self.LABEL)

    def _norm_panel(self) -> None:
        """The hidden-state norm of each layer so far, each line labelled at its newest point."""
        ax = self.ax_norm
        self.norm_lines, self.norm_labels = [], []
        ax.set_title("state norm per layer", fontsize=self.TITLE)
        ax.set_ylabel("norm of h", fontsize=self.LABEL)
        self.cursor_norm = ax.axvline(1, color="0.6", lw=0.8)
        if self.trace.hidden_norm is None:
            ax.text(
                0.5,
                0.5,
                "no recurrent state",
                ha="center",
                va="center",
                fontsize=self.LABEL,
                transform=ax.transAxes,
            )
            return
        self.norms = self.trace.hidden_norm.numpy()  # (T, depth)
        for i in range(self.norms.shape[1]):
            (line,) = ax.plot([], [], marker=".", ms=3)
            self.norm_lines.append(line)
            label = ax.text(0, 0, f" L{i + 1}", fontsize=self.TICK, color=line.get_color())
            self.norm_labels.append(label)
        ax.set_ylim(0, max(float(self.norms.max()), 1e-6) * 1.12)

    def set_heat(self, layer: int, keys: str) -> None:
        """Overlay the gate attention of ``layer`` on ``keys`` (shown from the next update)."""
        self.keys = keys
        if self.trace.depth is None:
            return
        self.layer = _clamp_layer(layer, self.trace.depth)
        self.heat_maps = self.trace.heat(self.layer, keys).numpy()  # (T, gh, gw)
        vmax = max(float(self.heat_maps.max()), 1e-8)
        if self.heat is None:
            self.heat = self.ax_frame.imshow(
                self.heat_maps[0],
                extent=self.extent,
                interpolation="nearest",
                cmap="magma",
                vmin=0.0,
                vmax=vmax,
                alpha=0.4,
            )
        else:
            self.heat.set_clim(0.0, vmax)

    def update(self, t: int) -> None:
        """Show frame ``t`` (0-based) in the four panels."""
        trace, names = self.trace, self.class_names
        self.image.set_data(self.rgb[t])
        if self.heat is not None:
            self.heat.set_data(self.heat_maps[t])
            layer_share = float(trace.memory_share[t, self.layer])
            self.ax_frame.set_title(
                f"gate on {self.keys}, layer {self.layer + 1}\nmemory share {layer_share:.0%}",
                fontsize=self.TITLE,
            )
        else:
            self.ax_frame.set_title("frame (no gate)", fontsize=self.TITLE)
        for bar, text, (k, p) in zip(self.bars, self.bar_names, trace.top(t), strict=True):
            bar.set_width(p)
            bar.set_color(self.TRUE_COLOR if k == trace.label else self.BAR_COLOR)
            text.set_text(f"{_class_name(names, k)}  {p:.2f}")
        seen = self.steps[: t + 1]
        self.line_true.set_data(seen, self.curve_true[: t + 1])
        if self.curve_rival is not None:
            self.line_rival.set_data(seen, self.curve_rival[: t + 1])
        for i, (line, label) in enumerate(zip(self.norm_lines, self.norm_labels, strict=True)):
            line.set_data(seen, self.norms[: t + 1, i])
            label.set_position((t + 1, float(self.norms[t, i])))
        self.cursor_conf.set_xdata([t + 1, t + 1])
        self.cursor_norm.set_xdata([t + 1, t + 1])
        predicted = _class_name(names, int(trace.predictions[t]))
        self.subfig.suptitle(f"{self.name} predicts {predicted}", fontsize=9, y=0.93)


class _SavingCanvas(FigureCanvasAgg):
    """An Agg canvas that draws only when saved: an animation's idle redraws would draw every frame
    twice."""

    def draw_idle(self, *args: Any, **kwargs: Any) -> None:
        pass


class ExplorerFigure:
    """The explorer's figure: traces of one video (one per model, side by side) at frame ``t``.

    Per model, four panels: the frame with the gate's attention of ``layer`` laid over it (``keys``:
    frame or memory tokens), the top-5 classes after the frame, the probability of the true class and
    of the best other class so far, and the hidden-state norm of each layer so far.
    :meth:`update` moves every panel to another frame without rebuilding the figure.

    Args:
        traces: model name -> :class:`VideoTrace`, all of the same video (same number of frames).
        class_names: the name of each class index (``K`` names).
        layer: which layer's gate attention to show (negative counts from the last; a model with
            fewer layers shows its last).
        keys: ``"frame"`` or ``"memory"``: which keys' attention the heat map shows.
        title: the figure's title (default: the true class and the frame number).
        width: inches per model; the height follows.
    """

    def __init__(
        self,
        traces: Mapping[str, VideoTrace],
        class_names: Sequence[str],
        layer: int = -1,
        keys: str = "frame",
        title: str | None = None,
        width: float = 3.3,
    ) -> None:
        if not isinstance(traces, Mapping) or not traces:
            raise ValueError("traces must be a non-empty dict: model name -> VideoTrace")
        lengths = {name: trace.num_frames for name, trace in traces.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"traces must cover the same video; got frame counts {lengths}")
        sizes = {trace.num_classes for trace in traces.values()}
        if sizes != {len(class_names)}:
            raise ValueError(
                f"class_names has {len(class_names)} names; the models predict {sorted(sizes)} classes"
            )
        if keys not in HEAT_KEYS:
            raise ValueError(f"keys must be one of {HEAT_KEYS}; got {keys!r}")
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise ValueError(f"layer must be an int; got {layer!r}")
        self.traces = dict(traces)
        self.class_names = list(class_names)
        self.num_frames = next(iter(lengths.values()))
        self.title = title
        self.t = 0
        self.figure = Figure(figsize=(width * len(traces), 1.2 * width + 0.4))
        _SavingCanvas(self.figure)
        subfigs = self.figure.subfigures(1, len(traces), squeeze=False)[0]
        self.panels = [
            _ModelPanels(subfig, name, trace, self.class_names, layer, keys)
            for subfig, (name, trace) in zip(subfigs, self.traces.items(), strict=True)
        ]
        self.update(0)

    def update(self, t: int) -> list[Any]:
        """Show frame ``t`` (0-based) in every panel; returns the figure's artists (for animation)."""
        t = _check_frame_index(t, self.num_frames)
        self.t = t
        for panels in self.panels:
            panels.update(t)
        label = next(iter(self.traces.values())).label
        title = self.title
        if title is None:
            what = "" if label is None else f"{_class_name(self.class_names, label)}: "
            title = f"{what}frame {t + 1} of {self.num_frames}"
        else:
            title = f"{title} (frame {t + 1} of {self.num_frames})"
        self.figure.suptitle(title, fontsize=9, y=0.995)
        return list(self.figure.get_children())

    @property
    def min_font_pt(self) -> float:
        """The size in points of the figure's smallest visible text."""
        sizes = [
            text.get_fontsize()
            for text in self.figure.findobj(Text)
            if text.get_visible() and text.get_text().strip()
        ]
        return float(min(sizes)) if sizes else 0.0

    def png_metadata(self) -> dict[str, str]:
        """PNG text chunks for :meth:`to_png` and :func:`animate`: the smallest font, which ``make
        check-book`` reads to tell how high the figure's text renders on the page."""
        return {MIN_FONT_KEY: f"{self.min_font_pt:g}"}

    def set_heat(self, layer: int = -1, keys: str = "frame") -> None:
        """Show the gate attention of another ``layer`` or ``keys`` (redraws the current frame)."""
        if keys not in HEAT_KEYS:
            raise ValueError(f"keys must be one of {HEAT_KEYS}; got {keys!r}")
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise ValueError(f"layer must be an int; got {layer!r}")
        for panels in self.panels:
            panels.set_heat(layer, keys)
        self.update(self.t)

    def to_png(self, dpi: float = 72) -> bytes:
        """The figure as PNG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=dpi, metadata=self.png_metadata())
        return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------
# the animation for the static book
# ---------------------------------------------------------------------------------------------------


def _check_models(models: Any) -> dict[str, nn.Module]:
    if not isinstance(models, Mapping) or not models:
        raise ValueError(
            'models must be a non-empty dict: name -> model, e.g. {"image-trained": m1, '
            '"video-trained": m2}'
        )
    return {str(name): _check_model(model, f"models[{name!r}]") for name, model in models.items()}


def _default_class_names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [f"class {k}" for k in range(num_classes)]
    if isinstance(class_names, str) or len(class_names) != num_classes:
        raise ValueError(
            f"class_names must list {num_classes} names (one per class the models predict); "
            f"got {class_names!r}"
        )
    return [str(name) for name in class_names]


def animate(
    models: Mapping[str, nn.Module],
    video: Tensor,
    label: int | None = None,
    class_names: Sequence[str] | None = None,
    *,
    layer: int = -1,
    keys: str = "frame",
    title: str | None = None,
    fps: float = 3.0,
    dpi: float = 90,
    width: float = 3.3,
    embed_limit_mb: float = 4.0,
) -> HTML:
    """A self-contained HTML/JavaScript animation of models reading ``video`` frame by frame.

    The same content as :class:`VideoExplorer` (it draws an :class:`ExplorerFigure`), exported with
    matplotlib's ``FuncAnimation.to_jshtml``: every frame is embedded as a PNG, with play, step and
    loop buttons that work without a Python kernel (e.g. in the published book).

    Args:
        models: name -> streaming model, drawn side by side.
        video: ``(T, C, H, W)`` float.
        label: the true class (orange in the bars; its probability is the confidence curve).
        class_names: ``K`` class names (default ``class 0`` ...).
        layer, keys, title, width: as in :class:`ExplorerFigure`.
        fps: animation frames per second.
        dpi: resolution of the embedded PNGs (the page grows with ``dpi**2``).
        embed_limit_mb: the largest animation allowed; a larger one raises ``ValueError`` instead of
            being cut short (use fewer frames, a lower ``dpi`` or a smaller ``width``).

    Returns:
        ``IPython.display.HTML`` (its ``.data`` is the HTML text).
    """
    models = _check_models(models)
    if not fps > 0 or not dpi > 0 or not embed_limit_mb > 0:
        raise ValueError(
            f"fps, dpi and embed_limit_mb must be > 0; got {fps!r}, {dpi!r}, {embed_limit_mb!r}"
        )
    traces = {name: trace_video(model, video, label) for name, model in models.items()}
    num_classes = next(iter(traces.values())).num_classes
    names = _default_class_names(class_names, num_classes)
    view = ExplorerFigure(traces, names, layer=layer, keys=keys, title=title, width=width)
    animation = FuncAnimation(
        view.figure, view.update, frames=view.num_frames, interval=1000 / fps, blit=False
    )
    # matplotlib would silently drop the frames beyond its own limit: render them all, then check.
    # As FuncAnimation.to_jshtml, with each frame's PNG carrying the figure's smallest font size.
    with (
        rc_context({"animation.embed_limit": 10 * embed_limit_mb + 10, "savefig.dpi": dpi}),
        tempfile.TemporaryDirectory() as folder,
    ):
        path = Path(folder, "animation.html")
        writer = HTMLWriter(fps=fps, embed_frames=True, default_mode="loop")
        savefig = {"metadata": view.png_metadata()}
        animation.save(str(path), writer=writer, dpi=dpi, savefig_kwargs=savefig)
        html = path.read_text(encoding="utf-8")
    size_mb = len(html.encode()) / 2**20
    if size_mb > embed_limit_mb:
        raise ValueError(
            f"the animation embeds {size_mb:.1f} MB of frames, above embed_limit_mb="
            f"{embed_limit_mb}; use fewer frames, a lower dpi or a smaller width"
        )
    return HTML(html)


# ---------------------------------------------------------------------------------------------------
# the live explorer
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplorerView:
    """What a :class:`VideoExplorer` shows right now.

    Attributes:
        class_name, label: the chosen class (the true class of the video).
        sample: the position of the video among the class's videos; ``index`` its index in the set.
        frame: the frame shown (0-based) of ``num_frames``.
        layer: the layer whose gate attention is shown (0-based).
        keys: whose attention the heat map shows (``"frame"`` or ``"memory"``).
        top5: model name -> ``[(class name, probability)]`` after this frame, most probable first.
        confidence: model name -> the true class's probability after frames ``0..frame``.
        memory_share: model name -> the shown layer's memory share at this frame (None: no gate).
    """

    class_name: str
    label: int
    sample: int
    index: int
    frame: int
    num_frames: int
    layer: int
    keys: str
    top5: dict[str, list[tuple[str, float]]]
    confidence: dict[str, list[float]]
    memory_share: dict[str, float | None]


class VideoExplorer:
    """Watch one or two models read a video of ``video_set``, live in Jupyter.

    Choose a class (``class_dropdown``), a video of that class (``sample_slider``), and play
    (``play``, linked in the browser to ``frame_slider`` with ``jslink``) or scrub the frames
    (``frame_slider``); ``layer_dropdown`` and ``keys_buttons`` choose the gate attention shown. The
    figure is an :class:`ExplorerFigure` drawn into an ``ipywidgets.Image`` (``image``) as PNG.

    Each (model, video) pair is traced once with :func:`trace_video` and cached (``cache_size`` videos);
    moving the frame only redraws. ``current`` is an :class:`ExplorerView` of what is shown.

    Args:
        models: name -> streaming model, e.g. ``{"image-trained": m1, "video-trained": m2}``.
        video_set: items ``(video (T, C, H, W), label)``; its ``targets`` (if present) list the labels.
        class_names: one name per class (default: ``video_set.classes``).
        dpi: resolution of the drawn figure.
        width: inches per model.
        cache_size: how many videos' traces to keep.
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        video_set: Dataset,
        class_names: Sequence[str] | None = None,
        dpi: float = 90,
        width: float = 3.3,
        cache_size: int = 16,
    ) -> None:
        self.models = _check_models(models)
        if not hasattr(video_set, "__getitem__") or not hasattr(video_set, "__len__"):
            raise ValueError(
                f"video_set must be a data set of (video, label); got {type(video_set).__name__}"
            )
        if len(video_set) == 0:
            raise ValueError(f"video_set {type(video_set).__name__} is empty")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size must be an int >= 1; got {cache_size!r}")
        self.video_set = video_set
        self.dpi, self.width, self.cache_size = dpi, width, cache_size
        if class_names is None:
            class_names = getattr(video_set, "classes", None)
        targets = getattr(video_set, "targets", None)
        if targets is None:
            targets = [int(video_set[i][1]) for i in range(len(video_set))]
        targets = [int(y) for y in targets]
        num_classes = max(targets) + 1 if class_names is None else len(class_names)
        self.class_names = _default_class_names(class_names, num_classes)
        if max(targets) >= len(self.class_names) or min(targets) < 0:
            raise ValueError(
                f"video_set has labels {min(targets)}..{max(targets)}, outside the "
                f"{len(self.class_names)} class names"
            )
        self.indices: dict[int, list[int]] = {}
        for index, label in enumerate(targets):
            self.indices.setdefault(label, []).append(index)
        self._traces: OrderedDict[tuple[str, int], VideoTrace] = OrderedDict()
        self._view: ExplorerFigure | None = None
        self._busy = False

        first = min(self.indices)
        depth = max(getattr(getattr(m, "cfg", None), "depth", 1) for m in self.models.values())
        self.class_dropdown = widgets.Dropdown(
            options=[(self.class_names[k], k) for k in sorted(self.indices)],
            value=first,
            description="class",
        )
        self.sample_slider = widgets.IntSlider(
            value=0, min=0, max=len(self.indices[first]) - 1, description="video"
        )
        # The slider counts frames from 1, as the figure's title does ("frame 8 of 8")
        self.frame_slider = widgets.IntSlider(value=1, min=1, max=1, description="frame")
        self.play = widgets.Play(value=1, min=1, max=1, step=1, interval=500, description="play")
        self.play_link = widgets.jslink((self.play, "value"), (self.frame_slider, "value"))
        self.layer_dropdown = widgets.Dropdown(
            options=[(f"layer {i + 1}", i) for i in range(depth)],
            value=depth - 1,
            description="layer",
        )
        self.keys_buttons = widgets.ToggleButtons(
            options=list(HEAT_KEYS), value="frame", description="attention on"
        )
        self.image = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.class_dropdown, self.sample_slider]),
                widgets.HBox([self.play, self.frame_slider]),
                widgets.HBox([self.layer_dropdown, self.keys_buttons]),
                self.image,
                self.caption,
            ]
        )
        self.class_dropdown.observe(self._on_class, names="value")
        self.sample_slider.observe(self._on_video, names="value")
        self.frame_slider.observe(self._on_frame, names="value")
        self.layer_dropdown.observe(self._on_heat, names="value")
        self.keys_buttons.observe(self._on_heat, names="value")
        self._load()

    # what is shown -------------------------------------------------------------------------------

    @property
    def index(self) -> int:
        """The index in ``video_set`` of the video shown."""
        return self.indices[self.class_dropdown.value][self.sample_slider.value]

    @property
    def traces(self) -> dict[str, VideoTrace]:
        """Model name -> the trace of the video shown."""
        return {name: self.trace(name, self.index) for name in self.models}

    def trace(self, name: str, index: int) -> VideoTrace:
        """The (cached) trace of video ``index`` of the set through model ``name``."""
        key = (name, index)
        if key in self._traces:
            self._traces.move_to_end(key)
            return self._traces[key]
        video, label = self.video_set[index]
        trace = trace_video(self.models[name], video, int(label))
        if trace.num_classes != len(self.class_names):
            raise ValueError(
                f"model {name!r} predicts {trace.num_classes} classes; the explorer has "
                f"{len(self.class_names)} class names"
            )
        self._traces[key] = trace
        while len(self._traces) > self.cache_size:
            self._traces.popitem(last=False)
        return trace

    @property
    def current(self) -> ExplorerView:
        """An :class:`ExplorerView` of what is shown now."""
        t = self.frame_slider.value - 1
        label = self.class_dropdown.value
        top5: dict[str, list[tuple[str, float]]] = {}
        confidence: dict[str, list[float]] = {}
        memory: dict[str, float | None] = {}
        for panels in self._view.panels:
            trace = panels.trace
            top5[panels.name] = [(self.class_names[k], p) for k, p in trace.top(t)]
            confidence[panels.name] = trace.confidence()[: t + 1].tolist()
            share = trace.memory_share
            memory[panels.name] = None if share is None else float(share[t, panels.layer])
        return ExplorerView(
            class_name=self.class_names[label],
            label=label,
            sample=self.sample_slider.value,
            index=self.index,
            frame=t,
            num_frames=self._view.num_frames,
            layer=self.layer_dropdown.value,
            keys=self.keys_buttons.value,
            top5=top5,
            confidence=confidence,
            memory_share=memory,
        )

    # reacting to the controls --------------------------------------------------------------------

    def _on_class(self, change: dict[str, Any]) -> None:
        self._busy = True
        try:
            self.sample_slider.value = 0
            self.sample_slider.max = len(self.indices[change["new"]]) - 1
        finally:
            self._busy = False
        self._load()

    def _on_video(self, change: dict[str, Any]) -> None:
        if not self._busy:
            self._load()

    def _on_frame(self, change: dict[str, Any]) -> None:
        if not self._busy:
            self._draw()

    def _on_heat(self, change: dict[str, Any]) -> None:
        if not self._busy:
            self._view.set_heat(self.layer_dropdown.value, self.keys_buttons.value)
            self._draw()

    def _load(self) -> None:
        """A new video: trace it (or take it from the cache), rebuild the figure, show frame 0."""
        traces = self.traces
        frames = next(iter(traces.values())).num_frames
        self._busy = True
        try:
            self.frame_slider.value = 1
            self.play.value = 1
            self.frame_slider.max = frames
            self.play.max = frames
        finally:
            self._busy = False
        self._build()
        self._draw()

    def _build(self) -> None:
        self._view = ExplorerFigure(
            self.traces,
            self.class_names,
            layer=self.layer_dropdown.value,
            keys=self.keys_buttons.value,
            width=self.width,
        )

    def _draw(self) -> None:
        self._view.update(self.frame_slider.value - 1)
        self.image.value = self._view.to_png(self.dpi)
        view = self.current
        rows = "".join(
            f"<li><b>{name}</b>: {top[0][0]} ({top[0][1]:.0%}); true class "
            f"{view.confidence[name][-1]:.0%}</li>"
            for name, top in view.top5.items()
        )
        self.caption.value = (
            f"{view.class_name}, video {view.index} of the set, frame {view.frame + 1} of "
            f"{view.num_frames}<ul>{rows}</ul>"
        )

    # display -------------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
