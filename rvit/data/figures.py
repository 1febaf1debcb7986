"""Figures that show a data set: a gallery of stills per class, filmstrips of the motion pairs, and a
grid of frames with one labelled row per clip.

Each returns a :class:`matplotlib.figure.Figure` built without ``pyplot``, so no global figure state is
left behind, and at most :data:`WIDTH` inches wide, so that the book shows it at about its natural size
and its labels stay readable. In a notebook with the inline backend (``%matplotlib inline``) a figure returned as the
cell's value is shown once; save one with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from rvit.data.synthetic import CLASS_GROUPS, MOTION_PAIRS, SyntheticActions

__all__ = ["filmstrips", "frame_grid", "gallery"]

GROUP_COLORS = {"appearance": "#1f5fa8", "motion": "#b5461f"}  # row labels, by class group
WIDTH = 7.0  # inches: the book's text column, where a figure is shown at about its natural size
LABEL_WIDTH = 1.3  # inches kept beside a block of panels for its row labels


def _panel_side(columns: int, reserved: float, largest: float = 1.0) -> float:
    """The side in inches of one of ``columns`` square panels in a row of at most :data:`WIDTH`."""
    return min(largest, (WIDTH - reserved) / columns)


def _as_image(x: Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W, C) array for ``imshow``; a single channel stays grey."""
    x = x.detach().float().clamp(0, 1).cpu()
    return (x[0] if x.shape[0] == 1 else x.permute(1, 2, 0)).numpy()


def _bare(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _row_label(ax: Axes, name: str, group: str | None) -> None:
    text = name.replace("_", " ") if group is None else f"{name.replace('_', ' ')}\n({group})"
    ax.set_ylabel(
        text,
        rotation=0,
        ha="right",
        va="center",
        fontsize=9,
        color=GROUP_COLORS.get(group or "", "black"),
    )


def _still(dataset: Any, index: int) -> tuple[Tensor, int]:
    """A still of sample ``index``: the image itself, or the still frame of a clip."""
    x, label = dataset[index]
    if x.dim() == 4:  # a clip (T, C, H, W): show the frame a still would show
        frame = x.shape[0] // 2
        if isinstance(dataset, SyntheticActions):
            frame = dataset.sample_params(index)["still_frame"]
        x = x[frame]
    return x, int(label)


def gallery(
    dataset_or_kwargs: Any = None,
    per_class: int = 4,
    class_columns: int = 2,
    title: str | None = None,
) -> Figure:
    """A grid of ``per_class`` stills for every class, each row titled by class name and group.

    Args:
        dataset_or_kwargs: a data set with ``classes`` and ``targets`` returning ``(tensor, label)``
            (images (C, H, W) or clips (T, C, H, W)), or a dict of :class:`SyntheticActions`
            arguments (default: a synthetic still-image set with ``per_class`` samples per class).
        per_class: stills shown per class (the first ones of each class).
        class_columns: classes are laid out in this many side-by-side blocks (the synthetic world's
            appearance classes then sit left of its motion classes).
        title: figure title (default: one naming the data set).

    Returns:
        The figure.
    """
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be an integer >= 1, got {per_class!r}")
    if isinstance(class_columns, bool) or not isinstance(class_columns, int) or class_columns < 1:
        raise ValueError(f"class_columns must be an integer >= 1, got {class_columns!r}")
    if dataset_or_kwargs is None or isinstance(dataset_or_kwargs, Mapping):
        kwargs = {"modality": "image", "image_size": 32, **(dataset_or_kwargs or {})}
        kwargs.setdefault("num_samples", per_class * len(kwargs.get("classes") or CLASS_GROUPS))
        dataset = SyntheticActions(**kwargs)
    else:
        dataset = dataset_or_kwargs
    for attribute in ("classes", "targets"):
        if not hasattr(dataset, attribute):
            raise ValueError(f"dataset_or_kwargs: the data set has no {attribute!r} attribute")
    classes = list(dataset.classes)
    groups = getattr(dataset, "groups", None) or [None] * len(classes)
    targets = list(dataset.targets)
    chosen = {
        label: [i for i, t in enumerate(targets) if t == label][:per_class]
        for label in range(len(classes))
    }

    rows = -(-len(classes) // class_columns)  # ceil
    blocks = min(class_columns, len(classes))
    side = _panel_side(blocks * per_class, blocks * LABEL_WIDTH)
    fig = Figure(
        figsize=(blocks * (side * per_class + LABEL_WIDTH), (side + 0.1) * rows + 0.7),
        layout="constrained",
    )
    axes = fig.subplots(rows, blocks * per_class, squeeze=False)
    for label, name in enumerate(classes):
        block, row = divmod(label, rows)
        for k in range(per_class):
            ax = axes[row, block * per_class + k]
            if k < len(chosen[label]):
                image, _ = _still(dataset, chosen[label][k])
                ax.imshow(_as_image(image), interpolation="nearest")
            if k == 0:
                _row_label(ax, name, groups[label])
    for ax in axes.flat:
        _bare(ax)
    if title is None:
        name = type(dataset).__name__
        title = f"{name}: {len(classes)} classes, {per_class} samples each"
    fig.suptitle(title, fontsize=11)
    return fig


def filmstrips(
    frames: int = 8,
    pairs: Sequence[tuple[str, str]] | None = None,
    index: int = 0,
    same_scene: bool = True,
    **kwargs: Any,
) -> Figure:
    """One filmstrip per class of each motion pair, frames left to right in time order.

    Args:
        frames: frames per clip.
        pairs: motion pairs to show (default: all of :data:`MOTION_PAIRS`).
        index: the sample whose scene is shown.
        same_scene: draw both classes of a pair from the same scene (same figure, background, start
            and span), which shows that one class is the other played backward. With False, each row
            is the first sample of its class.
        **kwargs: further :class:`SyntheticActions` arguments (``image_size``, ``difficulty``,
            ``domain_gap``, ``seed``, ``split``); ``difficulty`` defaults to 0.

    Returns:
        The figure; every panel is labelled with its frame index t.
    """
    pairs = list(MOTION_PAIRS if pairs is None else pairs)
    for pair in pairs:
        if len(pair) != 2 or any(CLASS_GROUPS.get(name) != "motion" for name in pair):
            raise ValueError(
                f"pairs: expected pairs of motion classes like {MOTION_PAIRS[0]}, got {pair!r}"
            )
    classes = [name for pair in pairs for name in pair]
    settings = {"difficulty": 0.0, "image_size": 64, **kwargs}
    settings.setdefault("num_samples", max(index + 1, 2 * len(classes)))
    dataset = SyntheticActions(modality="video", frames=frames, classes=classes, **settings)
    side = _panel_side(frames, LABEL_WIDTH)
    fig = Figure(
        figsize=(side * frames + LABEL_WIDTH, (side + 0.3) * len(classes) + 0.8),
        layout="constrained",
    )
    axes = fig.subplots(len(classes), frames, squeeze=False)
    for label, name in enumerate(classes):
        sample = index if same_scene else dataset.targets.index(label)
        clip = dataset.render(sample, label)  # (T, C, H, W)
        for t in range(frames):
            ax = axes[label, t]
            ax.imshow(_as_image(clip[t]), interpolation="nearest")
            _bare(ax)
            ax.set_xlabel(f"t = {t}", fontsize=8, labelpad=2)
        _row_label(axes[label, 0], name, None)
    how = "the same scene, frames in opposite order" if same_scene else "one clip per class"
    fig.suptitle(f"Motion pairs: {how};\nany single frame fits both classes", fontsize=11)
    return fig


def frame_grid(
    rows: Mapping[str, Tensor | Sequence[Tensor]],
    column_titles: Sequence[str] | None = None,
    frame_labels: bool = False,
    title: str | None = None,
) -> Figure:
    """Frames in a grid, one row per entry of ``rows`` labelled by its key, sized for the book's column.

    Args:
        rows: row label -> frames, a (T, C, H, W) tensor or a sequence of (C, H, W) tensors in
            ``[0, 1]``; rows may differ in length.
        column_titles: a title above each column of the first row (``\\n`` breaks a long one).
        frame_labels: label every panel ``t = k`` below it.
        title: figure title.

    Returns:
        The figure, at most :data:`WIDTH` inches wide.
    """
    if not rows:
        raise ValueError("rows: expected at least one row of frames, got none")
    columns = max(len(frames) for frames in rows.values())
    if column_titles is not None and len(column_titles) > columns:
        raise ValueError(
            f"column_titles: {len(column_titles)} titles for {columns} columns of frames"
        )
    side = _panel_side(columns, LABEL_WIDTH, largest=1.8)  # a few columns: larger panels
    below = 0.25 if frame_labels else 0.1
    above = 0.3 if column_titles else 0.0
    fig = Figure(
        figsize=(side * columns + LABEL_WIDTH, (side + below) * len(rows) + above + 0.5),
        layout="constrained",
    )
    axes = fig.subplots(len(rows), columns, squeeze=False)
    for row, (name, frames) in enumerate(rows.items()):
        for t in range(columns):
            ax = axes[row, t]
            _bare(ax)
            if t < len(frames):
                ax.imshow(_as_image(frames[t]), interpolation="nearest")
                if frame_labels:
                    ax.set_xlabel(f"t = {t}", fontsize=8, labelpad=2)
            else:
                ax.set_visible(False)
        _row_label(axes[row, 0], name, None)
    for ax, text in zip(axes[0], column_titles or [], strict=False):
        ax.set_title(text, fontsize=9)
    if title is not None:
        fig.suptitle(title, fontsize=11)
    return fig
