"""Where the study's results are stored, when a stored result still answers the registry, and the
data sets a run's configuration names.

One JSON per run: ``<results-dir>/<experiment>/<config-id>__seed<k>.json``. The runner
(:mod:`rvit.study.runner`) writes these files and skips those that still answer; the report
(:mod:`rvit.study.report`) reads them and refuses stale ones. Both find them here. The runner and
the pixel baseline (:mod:`rvit.study.pixel_nn`) build a run's training and evaluation sets with
:func:`build_train_set` and :func:`build_eval_set`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rvit.study.profiles import Profile, get_profile
from rvit.study.schema import RunConfig

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = [
    "StaleResultsError",
    "ROOT",
    "TIMING_KEYS",
    "build_eval_set",
    "build_train_set",
    "default_results_dir",
    "match_result",
    "result_path",
    "strip_timings",
]


class StaleResultsError(RuntimeError):
    """A result the registry asks for is missing, or was made with another configuration."""


ROOT = Path(__file__).resolve().parents[2]
"""The repository root (``results/`` lives here)."""

TIMING_KEYS = frozenset(
    {
        "time_s",
        "train_s",
        "eval_s",
        "total_s",
        "cpu_s",
        "seconds",
        "samples_per_s",
        "latency_ms",
        "ms_per_frame",
        "frames_per_s",
        "peak_mb",
        "python_peak_mb",
    }
)
"""Metric names that measure the machine (time, memory) rather than the model's predictions."""


def default_results_dir(profile: str | Profile) -> Path:
    """``results/`` for ``book``, ``results/full/`` for ``full``, a scratch folder for ``smoke``."""
    name = get_profile(profile).name
    if name == "book":
        return ROOT / "results"
    if name == "full":
        return ROOT / "results" / "full"
    scratch = os.environ.get("RVIT_SCRATCH_DIR") or tempfile.gettempdir()
    return Path(scratch) / "rvit-study-smoke"


def result_path(results_dir: str | os.PathLike, experiment: str, config_id: str, seed: int) -> Path:
    """``<results_dir>/<experiment>/<config_id>__seed<seed>.json``."""
    return Path(results_dir) / experiment / f"{config_id}__seed{seed}.json"


def _load(path: Path) -> dict[str, Any] | None:
    """The stored record at ``path``; None when it is missing or not readable JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def match_result(
    record: Mapping[str, Any] | None, config: RunConfig, seed: int, profile: str
) -> str:
    """Why ``record`` does not answer ``config`` at ``seed`` and ``profile`` ('' when it does).

    It answers when profile and seed are equal, the training part (model, training, data) is equal,
    and every evaluation set the configuration asks for was run with the same specification and
    has metrics.
    """
    if record is None:
        return "missing or unreadable"
    if record.get("profile") != profile:
        return f"profile {record.get('profile')!r} instead of {profile!r}"
    if record.get("seed") != seed:
        return f"seed {record.get('seed')!r} instead of {seed}"
    stored = record.get("configuration") or {}
    wanted = json.loads(json.dumps(config.to_dict()))
    for part in ("model", "train", "data"):
        if stored.get(part) != wanted[part]:
            return f"its {part} configuration differs from the registry's"
    stored_evals = stored.get("evals") or {}
    metrics = record.get("metrics") or {}
    for name, spec in wanted["evals"].items():
        if stored_evals.get(name) != spec:
            return f"evaluation {name!r} is missing or specified differently"
        if name not in metrics:
            return f"evaluation {name!r} has no metrics"
    return ""


def strip_timings(obj: Any) -> Any:
    """``obj`` without the keys of :data:`TIMING_KEYS` (at any depth): what must be reproducible."""
    if isinstance(obj, dict):
        return {k: strip_timings(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [strip_timings(v) for v in obj]
    return obj


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
