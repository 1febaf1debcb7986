"""A pixel nearest-neighbour baseline: what the training stills say about the test videos unlearned.

Each frame of a test video takes the label of its nearest training still in pixel space: the
Euclidean distance between the flattened pixel values (all channels, as the data set returns them,
in [0, 1]), computed in float64. The video's class is the majority vote over its frames; a tie goes
to the smallest class index among the tied classes. A held-out still is a video of one frame: it
takes the label of its nearest training still. Nothing is trained and nothing is tuned, so a model
trained on the same stills must beat this bar before "it recognises actions in videos from still
images" says anything about the model rather than about the data.

:func:`pixel_nn_metrics` runs the baseline on a study configuration's training stills and one of its
evaluation sets (videos, or held-out stills such as ``fit_val``), built exactly as the runner builds
them (:func:`rvit.study.datasets.build_train_set`, :func:`rvit.study.datasets.build_eval_set`), for
one seed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["classify_videos", "nearest_still", "pixel_nn_metrics"]


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), -1).to(torch.float64)


def nearest_still(stills: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Index of the nearest still (Euclidean distance, float64) for each frame.

    ``stills`` is ``(N, C, H, W)`` or ``(N, D)``, ``frames`` ``(M, C, H, W)`` or ``(M, D)``;
    returns ``(M,)`` indices into ``stills`` (the first of equally near stills).
    """
    a, b = _flat(stills), _flat(frames)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"stills have {a.shape[1]} values each, frames {b.shape[1]}")
    # ||b - a||^2 = ||b||^2 - 2 b.a + ||a||^2, and ||b||^2 is the same for every still of a frame
    distances = (a * a).sum(dim=1)[None, :] - 2.0 * b @ a.T
    return distances.argmin(dim=1)


def classify_videos(
    stills: torch.Tensor,
    labels: torch.Tensor | Sequence[int],
    videos: Sequence[torch.Tensor],
    num_classes: int,
) -> torch.Tensor:
    """The class of each video ``(T, C, H, W)``: the majority vote of its frames' nearest stills.

    ``labels`` are the classes of ``stills``; a tie goes to the smallest class index. Videos may
    differ in length.
    """
    labels = torch.as_tensor(labels, dtype=torch.long)
    if not videos:
        return torch.zeros(0, dtype=torch.long)
    nearest = nearest_still(stills, torch.cat([v.reshape(len(v), -1) for v in videos]))
    out, start = [], 0
    for video in videos:
        votes = labels[nearest[start : start + len(video)]]
        out.append(int(torch.bincount(votes, minlength=num_classes).argmax()))
        start += len(video)
    return torch.tensor(out, dtype=torch.long)


@functools.lru_cache(maxsize=16)
def _cached(
    train_json: str, eval_json: str, seed: int
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...], int]:
    from rvit.study.datasets import build_eval_set, build_train_set

    data, train = json.loads(train_json)
    train_set = build_train_set(data, train, seed)
    test_set = build_eval_set(json.loads(eval_json), seed)
    if list(train_set.classes) != list(test_set.classes):
        raise ValueError("the training stills and the test videos name different classes")
    items = [train_set[i] for i in range(len(train_set))]
    stills = torch.stack([item[0] for item in items])
    if stills.dim() != 4:
        raise ValueError(f"the training set holds {stills.dim() - 1}-d items, not still images")
    labels = [int(item[1]) for item in items]
    tests = [test_set[i] for i in range(len(test_set))]
    # a held-out still (C, H, W) is a video of one frame
    clips = [t[0] if t[0].dim() == 4 else t[0].unsqueeze(0) for t in tests]
    num_classes = len(train_set.classes)
    predicted = classify_videos(stills, labels, clips, num_classes)
    targets = tuple(int(t[1]) for t in tests)
    return tuple(predicted.tolist()), targets, tuple(train_set.classes), len(stills)


def pixel_nn_metrics(
    data: Mapping[str, Any], train: Mapping[str, Any], evals: Mapping[str, Any], seed: int
) -> dict[str, Any]:
    """The baseline on a configuration's training stills (``data``, ``train``: a run's parts) and
    one evaluation set (``evals``: its specification, of videos or of stills), for ``seed``.

    Returns ``{"top1", "videos", "stills", "chance", "outcomes"}`` (``videos``: the items of the
    evaluation set, videos or stills; ``outcomes``: ``classes``, ``targets`` and ``predictions``,
    laid out as a run's, :mod:`rvit.study.outcomes`); results are cached in the process.
    """
    predicted, targets, classes, stills = _cached(
        json.dumps([dict(data), dict(train)], sort_keys=True),
        json.dumps(dict(evals), sort_keys=True),
        int(seed),
    )
    correct = [float(p == t) for p, t in zip(predicted, targets, strict=True)]
    return {
        "top1": sum(correct) / len(correct) if correct else float("nan"),
        "videos": len(correct),
        "stills": stills,
        "chance": 1.0 / len(classes),
        "outcomes": {
            "classes": list(classes),
            "targets": list(targets),
            "predictions": list(predicted),
        },
    }
