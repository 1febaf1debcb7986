"""The data sets of a study run: its training set and its evaluation sets.

The runner (:mod:`rvit.study.runner`) and the pixel baseline (:mod:`rvit.study.pixel_nn`) build them
with :func:`build_train_set` and :func:`build_eval_set`, from a configuration's ``data``, ``train``
and ``evals`` parts (:class:`rvit.study.schema.RunConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = ["build_eval_set", "build_train_set"]


def build_train_set(data: Mapping[str, Any], train: Mapping[str, Any], seed: int) -> Dataset:
    """The training set of a run: still images for image-like modalities, videos otherwise.

    The data seed is the run's seed, so seeds differ in their training samples as well as in their
    initial weights and batch order; the test videos are the same for every seed. The sets come
    from ``rvit.data.sources`` (cached in the process: runs that share a set render it once).
    """
    from rvit.data.sources import build_dataset

    modality = train["modality"]
    kind = "video" if modality in ("video", "frames") else "image"
    return build_dataset("synthetic", {**data, "split": "train", "modality": kind, "seed": seed})


def build_eval_set(spec: Mapping[str, Any], seed: int) -> Dataset:
    """An evaluation set: ``SyntheticActions``, no augmentation (``seed=None``: the run's seed);
    with ``cue_frames``, the retention probe ``rvit.data.sources.CueThenBlank``."""
    from rvit.data.sources import build_dataset

    data_seed = seed if spec.get("seed") is None else int(spec["seed"])
    fields = (
        "split",
        "modality",
        "num_samples",
        "frames",
        "image_size",
        "domain_gap",
        "difficulty",
    )
    settings = {k: spec[k] for k in fields}
    return build_dataset(
        "synthetic", {**settings, "seed": data_seed, "cue_frames": spec.get("cue_frames")}
    )
