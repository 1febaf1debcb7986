"""The bootstrap's video level, checked on real runs: two independent test sets per seed.

The hierarchical bootstrap (:mod:`rvit.study.bootstrap`) treats the test videos of a seed as a draw
from the world and resamples them within each class. Whether that draw's spread is right can be
seen without a model of it: from version 3 on, the image- and video-trained models of the central
experiment are also scored on a second test set (``retest``) drawn independently, of the same size
and class mix. For each seed and configuration, the two accuracies differ by the test-set noise
alone, so their difference should have a standard deviation of ``sqrt(2)`` times the one the
within-seed resampling predicts for one set (stratified by class:
``sqrt(sum_c (n_c / N)^2 p_c (1 - p_c) / n_c)``, ``p_c`` the class's accuracy on the first set).

:func:`retest_check` gives, over every (configuration, seed) pair, the ratio of the observed root
mean square of the standardised differences (1 when the predicted spread is right, above 1 when
the resampling underestimates the test-set noise) and the share of pairs whose second accuracy
lies within the 95 % band the first set predicts for it (``±1.96 sqrt(2) sd``; 95 % expected).
Why hand-written: it is a few lines of arithmetic on the stored outcomes that no library offers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rvit.study.outcomes import correct, has_outcomes, targets

__all__ = ["RETEST_EXPERIMENT", "predicted_sd", "retest_check"]

RETEST_EXPERIMENT = "temporal_features"
"""The experiment whose configurations carry the second test set."""


def predicted_sd(classes: np.ndarray, hits: np.ndarray) -> float:
    """The standard deviation of one test set's accuracy that resampling its videos within each
    class predicts (``hits``: 1/0 per video, ``classes``: each video's class)."""
    classes = np.asarray(classes)
    hits = np.asarray(hits, dtype=float)
    if classes.shape != hits.shape or classes.size == 0:
        raise ValueError(
            f"classes and hits must be non-empty and of one shape, got {classes.shape} and "
            f"{hits.shape}"
        )
    total = classes.size
    var = 0.0
    for c in np.unique(classes):
        mask = classes == c
        n_c = int(mask.sum())
        p_c = float(hits[mask].mean())
        var += (n_c / total) ** 2 * p_c * (1.0 - p_c) / n_c
    return math.sqrt(var)


def retest_check(
    loaded: Mapping[str, Any], first: str = "test", second: str = "retest"
) -> dict[str, Any] | None:
    """Compare the two test sets of every run that has both (None when no run has them).

    Returns ``{"pairs", "rms_z", "within_band", "rows"}``: ``rows`` holds per configuration and
    seed the two accuracies, the predicted sd of one set and the standardised difference ``z``.
    """
    results = loaded.get(RETEST_EXPERIMENT)
    if results is None:
        return None
    rows: list[dict[str, Any]] = []
    for config_id, by_seed in results.runs.items():
        for seed, metrics in sorted(by_seed.items()):
            record = metrics
            if not (has_outcomes(record, first) and has_outcomes(record, second)):
                continue
            hits_a, hits_b = correct(record, first), correct(record, second)
            sd = predicted_sd(targets(record, first), hits_a)
            a, b = float(hits_a.mean()), float(hits_b.mean())
            z = (a - b) / (math.sqrt(2.0) * sd) if sd > 0 else math.nan
            rows.append(
                {"config": config_id, "seed": seed, "first": a, "second": b, "sd": sd, "z": z}
            )
    zs = np.array([r["z"] for r in rows if math.isfinite(r["z"])])
    if zs.size == 0:
        return None
    return {
        "pairs": int(zs.size),
        "rms_z": float(np.sqrt(np.mean(zs**2))),
        "within_band": float(np.mean(np.abs(zs) <= 1.959964)),
        "rows": rows,
    }
