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

__all__ = ["PER_SEED_BASE", "build_eval_set", "build_train_set", "eval_data_seed"]


def build_train_set(data: Mapping[str, Any], train: Mapping[str, Any], seed: int) -> Dataset:
    """The training set of a run: still images for image-like modalities, videos otherwise.

    The data seed is the run's seed, so seeds differ in their training samples as well as in their
    initial weights and batch order; the test videos are the same for every seed unless the profile
    draws them per seed (:func:`eval_data_seed`). The sets come from ``rvit.data.sources`` (cached
    in the process: runs that share a set render it once).
    """
    from rvit.data.sources import build_dataset

    modality = train["modality"]
    kind = "video" if modality in ("video", "frames") else "image"
    return build_dataset("synthetic", {**data, "split": "train", "modality": kind, "seed": seed})


PER_SEED_BASE = 2**32
"""Per-seed evaluation sets keep the evaluation's own seed below this and the run's seed (plus one)
above it (:func:`eval_data_seed`)."""


def eval_data_seed(spec: Mapping[str, Any], seed: int) -> int:
    """The data seed of the evaluation set ``spec`` in the run of seed ``seed``.

    * ``spec["seed"]`` is None: the run's seed (``fit_train``: a part of the training set itself).
    * ``spec["seed"]`` is set: that fixed seed, the same test set for every run's seed; but with
      ``spec["per_seed"]`` (profiles with :attr:`~rvit.study.profiles.Profile.per_seed_test`) a
      fresh set per run's seed, of data seed ``spec["seed"] + (seed + 1) * 2**32``: the
      evaluation's seed in the low 32 bits, the run's seed plus one above them.

    A per-seed data seed is a pure function of the two seeds. A set's samples are a function of its
    key, ``rvit.data.synthetic.split_key(split, data seed)``, which hashes the split's name with the
    low 32 bits of the data seed, XORs in the high bits and mixes again, each step a bijection: so
    for one evaluation seed and split the keys of distinct run seeds are distinct, and distinct
    from the key of the fixed set (high bits 0); within one run, evaluations of distinct seeds on
    one split have distinct keys. Evaluations that share a seed (the test set and its length, size,
    gap and probe variants) still share their draws within a run, as they do with fixed test sets,
    so that they stay paired. A key equal to the run's training key is refused
    (:func:`build_eval_set`); the tests check, for run seeds 0 to 999, that no test or validation
    set shares a sample with another or with any of their training sets.
    """
    if spec.get("seed") is None:
        return int(seed)
    base = int(spec["seed"])
    if not spec.get("per_seed"):
        return base
    if not 0 <= base < PER_SEED_BASE:
        raise ValueError(f"a per-seed evaluation needs a seed in [0, 2**32), got {base}")
    if not 0 <= int(seed) < PER_SEED_BASE - 1:
        raise ValueError(f"a per-seed evaluation needs a run seed in [0, 2**32 - 1), got {seed}")
    return base + (int(seed) + 1) * PER_SEED_BASE


def build_eval_set(spec: Mapping[str, Any], seed: int) -> Dataset:
    """An evaluation set: ``SyntheticActions``, no augmentation, of data seed
    :func:`eval_data_seed` (``seed``: the run's seed); with ``cue_frames``, the retention probe
    ``rvit.data.sources.CueThenBlank``."""
    from rvit.data.sources import build_dataset

    data_seed = eval_data_seed(spec, seed)
    if spec.get("per_seed") and spec.get("seed") is not None:
        from rvit.data.synthetic import split_key

        if split_key(spec["split"], data_seed) == split_key("train", int(seed)):
            raise ValueError(
                f"the per-seed evaluation set of seed {spec['seed']} would draw the training "
                f"samples of run seed {seed}; choose another test seed"
            )
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
