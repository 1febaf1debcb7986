"""Per-video outcomes of a study run, read back from its stored result as NumPy arrays.

Since version 3 of the study every evaluation set's metrics in a result hold ``outcomes``
(:func:`rvit.study.runner.video_outcomes`), JSON lists in the order the items were evaluated::

    "outcomes": {
      "classes": ["applauding", ...],        # the class names; the integers below index them
      "targets": [0, 1, 2, ...],             # the true class of each video (or image)
      "predictions": [0, 4, 2, ...],         # the predicted class (a video's: after its last frame)
      "frame_predictions": [[3, 0], ...],    # videos: the predicted class after every frame
      "direction": [null, ..., 1, 0, ...]    # videos: motion-pair videos only (else null): 1 when
    }                                        # the true class beats its partner at the last frame

Still-image evaluation sets store ``classes``, ``targets`` and ``predictions`` only.

Every function takes a run's ``metrics`` as stored (or the whole stored record) and an evaluation
name. A result written before outcomes were stored (the closed ``book`` profile's, version 2) has
none: the functions then raise :class:`MissingOutcomesError`, which says so. The aggregates stored
beside the outcomes (``top1``, ``appearance``, ``motion``, ``motion_pair``, ``motion_direction``,
``online``, ``per_class``) are exactly :func:`recompute` of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "GROUPS",
    "QUANTITIES",
    "MissingOutcomesError",
    "correct",
    "direction_hits",
    "frame_correct",
    "group_masks",
    "has_outcomes",
    "lengths",
    "motion_pair",
    "outcomes",
    "pair_hits",
    "per_video",
    "predictions",
    "recompute",
    "targets",
]

GROUPS = ("appearance", "motion")
"""The class groups of :data:`rvit.data.synthetic.CLASS_GROUPS`."""

QUANTITIES = ("top1", "appearance", "motion", "motion_direction", "motion_pair")
"""The metrics of an evaluation that are a mean of one outcome per video over some of its videos
(:func:`per_video` gives those outcomes); ``top5``, ``online`` and the timings are not."""


class MissingOutcomesError(LookupError):
    """A result has no per-video outcomes for an evaluation (it predates them, the evaluation
    failed, or the result has no such evaluation)."""


def _metrics_and_label(result: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """A record's metrics and a label naming it ("experiment/config seed k"), or the metrics."""
    if isinstance(result.get("metrics"), Mapping) and "seed" in result:
        where = "/".join(str(result[k]) for k in ("experiment", "config_id") if k in result)
        return result["metrics"], " ".join(
            filter(None, ("result", where, f"seed {result['seed']}"))
        )
    return result, "this result"


def has_outcomes(result: Mapping[str, Any], name: str) -> bool:
    """Whether evaluation ``name`` of ``result`` (metrics or record) stores per-video outcomes."""
    metrics, _ = _metrics_and_label(result)
    entry = metrics.get(name)
    return isinstance(entry, Mapping) and isinstance(entry.get("outcomes"), Mapping)


def outcomes(result: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The stored outcomes of evaluation ``name`` (the JSON layout above), checked for shape.

    Raises :class:`MissingOutcomesError` naming the evaluation when there are none.
    """
    metrics, label = _metrics_and_label(result)
    entry = metrics.get(name)
    if not isinstance(entry, Mapping):
        known = sorted(k for k, v in metrics.items() if isinstance(v, Mapping) and "top1" in v)
        raise MissingOutcomesError(
            f"{label} has no evaluation {name!r} (its evaluations: {', '.join(known) or 'none'})"
        )
    if "error" in entry:
        raise MissingOutcomesError(
            f"evaluation {name!r} of {label} failed, so it has no outcomes: {entry['error']}"
        )
    stored = entry.get("outcomes")
    if not isinstance(stored, Mapping):
        raise MissingOutcomesError(
            f"evaluation {name!r} of {label} has no per-video outcomes: the result predates them "
            "(results written before version 3 of the study, such as the closed book profile's, "
            "store aggregates only); rerun it with today's code at an open profile"
        )
    count = len(stored["targets"])
    for field in ("predictions", "frame_predictions", "direction"):
        if field in stored and len(stored[field]) != count:
            raise ValueError(
                f"evaluation {name!r} of {label}: outcomes {field!r} has {len(stored[field])} "
                f"entries for {count} targets"
            )
    return dict(stored)


def targets(result: Mapping[str, Any], name: str) -> np.ndarray:
    """``(N,)`` int64: the true class of each video (index into the stored ``classes``)."""
    return np.asarray(outcomes(result, name)["targets"], dtype=np.int64)


def predictions(result: Mapping[str, Any], name: str) -> np.ndarray:
    """``(N,)`` int64: the final predicted class of each video (after its last frame)."""
    return np.asarray(outcomes(result, name)["predictions"], dtype=np.int64)


def correct(result: Mapping[str, Any], name: str) -> np.ndarray:
    """``(N,)`` int64 0/1: whether each video's final prediction is its true class."""
    stored = outcomes(result, name)
    return (np.asarray(stored["predictions"]) == np.asarray(stored["targets"])).astype(np.int64)


def lengths(result: Mapping[str, Any], name: str) -> np.ndarray:
    """``(N,)`` int64: the frames of each video (1 for a still image)."""
    stored = outcomes(result, name)
    if "frame_predictions" not in stored:
        return np.ones(len(stored["targets"]), dtype=np.int64)
    return np.asarray([len(p) for p in stored["frame_predictions"]], dtype=np.int64)


def frame_correct(result: Mapping[str, Any], name: str, pad: bool = False) -> np.ndarray:
    """``(N, T)``: whether each video's prediction after frame ``t + 1`` is its true class.

    Videos of equal length give an int64 0/1 matrix (still images: one column, the prediction).
    Videos of unequal length raise ``ValueError`` unless ``pad``; with ``pad`` the matrix is float,
    ``T`` the longest video, and NaN after each video's end. Its column means (``np.nanmean(...,
    axis=0)`` when padded) are the stored ``online`` curve.
    """
    stored = outcomes(result, name)
    truth = np.asarray(stored["targets"], dtype=np.int64)
    frames = stored.get("frame_predictions")
    if frames is None:
        frames = [[p] for p in stored["predictions"]]
    sizes = {len(p) for p in frames}
    if len(sizes) <= 1:
        matrix = np.asarray(frames, dtype=np.int64).reshape(len(frames), -1)
        hits = (matrix == truth[:, None]).astype(np.int64)
        return hits.astype(float) if pad else hits
    if not pad:
        raise ValueError(
            f"evaluation {name!r} holds videos of {min(sizes)} to {max(sizes)} frames: ask for "
            "frame_correct(..., pad=True) (NaN after each video's end)"
        )
    padded = np.full((len(frames), max(sizes)), np.nan)
    for i, (video, target) in enumerate(zip(frames, truth, strict=True)):
        padded[i, : len(video)] = np.asarray(video) == target
    return padded


def direction_hits(result: Mapping[str, Any], name: str) -> np.ndarray:
    """``(N,)`` float: for a video of a motion pair 1.0 when its true class scores above its
    partner at the last frame, else 0.0; NaN for the other videos (and for still images, which
    store no direction). Its mean over the non-NaN entries is ``motion_direction``."""
    stored = outcomes(result, name)
    values = stored.get("direction") or [None] * len(stored["targets"])
    return np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)


def group_masks(result: Mapping[str, Any], name: str) -> dict[str, np.ndarray]:
    """``{"appearance": mask, "motion": mask}``: ``(N,)`` booleans, the videos whose true class is
    in the group (:data:`rvit.data.synthetic.CLASS_GROUPS`; a class it does not know is in
    neither)."""
    from rvit.data.synthetic import CLASS_GROUPS

    stored = outcomes(result, name)
    class_group = np.asarray([CLASS_GROUPS.get(c, "") for c in stored["classes"]], dtype=object)
    video_groups = class_group[np.asarray(stored["targets"], dtype=np.int64)]
    return {group: np.asarray(video_groups == group, dtype=bool) for group in GROUPS}


def pair_hits(result: Mapping[str, Any], name: str) -> np.ndarray:
    """``(N,)`` float: for a video of a motion pair (its true class and that class's partner both
    among the stored ``classes``; :data:`rvit.data.synthetic.MOTION_PAIRS`) 1.0 when the prediction
    is either class of the pair, else 0.0; NaN for the other videos. Its mean over the non-NaN
    entries is ``motion_pair``: naming the pair, whichever its direction. It needs the predictions
    only, not the stored direction."""
    from rvit.data.synthetic import MOTION_PAIRS

    stored = outcomes(result, name)
    index = {c: i for i, c in enumerate(stored["classes"])}
    partner = {index[a]: index[b] for a, b in MOTION_PAIRS if a in index and b in index}
    partner.update({b: a for a, b in partner.items()})
    truth = np.asarray(stored["targets"], dtype=np.int64)
    guess = np.asarray(stored["predictions"], dtype=np.int64)
    hits = np.full(truth.shape, np.nan)
    for i, (t, g) in enumerate(zip(truth.tolist(), guess.tolist(), strict=True)):
        if t in partner:
            hits[i] = float(g in (t, partner[t]))
    return hits


def motion_pair(result: Mapping[str, Any], name: str) -> float | None:
    """The share of the motion-pair videos of evaluation ``name`` whose prediction is either class
    of the video's true pair (:func:`pair_hits`); None without such videos. Raises
    :class:`MissingOutcomesError` when the result stores no outcomes for ``name``."""
    hits = pair_hits(result, name)
    return _share(hits[~np.isnan(hits)])


def per_video(result: Mapping[str, Any], name: str, quantity: str) -> np.ndarray:
    """``(N,)`` float: the outcome behind ``quantity`` (one of :data:`QUANTITIES`) for each video
    of evaluation ``name``, NaN for the videos the quantity does not count; its mean over the
    non-NaN entries is the quantity.

    ``top1``: 1.0 when the final prediction is the true class; ``appearance`` and ``motion``: the
    same on the videos of that class group only; ``motion_direction``: :func:`direction_hits`;
    ``motion_pair``: :func:`pair_hits`.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown per-video quantity {quantity!r}; known: {list(QUANTITIES)}")
    if quantity == "motion_direction":
        return direction_hits(result, name)
    if quantity == "motion_pair":
        return pair_hits(result, name)
    hits = correct(result, name).astype(float)
    if quantity == "top1":
        return hits
    return np.where(group_masks(result, name)[quantity], hits, np.nan)


def _share(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if hits.size else None


def recompute(result: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The aggregates of evaluation ``name`` computed from its outcomes alone, as the runner stores
    them: ``top1``, ``appearance``, ``motion``, ``online``, ``per_class`` and, for videos with a
    stored direction, ``motion_pair`` (:func:`motion_pair`) and ``motion_direction``; a share over
    no videos (a group, a class, the pairs) is None, as the runner stores it."""
    stored = outcomes(result, name)
    hits = correct(result, name)
    truth = targets(result, name)
    out: dict[str, Any] = {"top1": _share(hits)}
    for group, mask in group_masks(result, name).items():
        out[group] = _share(hits[mask])
    if "direction" in stored:
        direction = direction_hits(result, name)
        out["motion_pair"] = motion_pair(result, name)
        out["motion_direction"] = _share(direction[~np.isnan(direction)])
    frames = frame_correct(result, name, pad=True)
    seen = ~np.isnan(frames)
    out["online"] = [
        float(np.nansum(frames[:, t]) / seen[:, t].sum()) for t in range(frames.shape[1])
    ]
    out["per_class"] = {c: _share(hits[truth == k]) for k, c in enumerate(stored["classes"])}
    return out
