"""The check of the bootstrap's video level on two test sets per seed (rvit.study.retest)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from rvit.study.retest import predicted_sd, retest_check


def _metrics(rng: np.random.Generator, p: float, n: int = 240) -> dict:
    classes = np.repeat(np.arange(12), n // 12)

    def one() -> dict:
        hits = rng.random(n) < p
        preds = np.where(hits, classes, (classes + 1) % 12)
        return {
            "top1": float(hits.mean()),
            "outcomes": {"targets": classes.tolist(), "predictions": preds.tolist()},
        }

    return {"test": one(), "retest": one()}


def test_predicted_sd_is_the_stratified_binomial_one():
    classes = np.array([0, 0, 1, 1])
    hits = np.array([1, 0, 1, 1])
    # class 0: p = 0.5 over 2 videos; class 1: p = 1 (no variance)
    assert predicted_sd(classes, hits) == pytest.approx(math.sqrt((2 / 4) ** 2 * 0.25 / 2))
    with pytest.raises(ValueError, match="one shape"):
        predicted_sd(classes, hits[:3])


def test_independent_test_sets_match_the_predicted_spread():
    rng = np.random.default_rng(0)
    runs = {c: {s: _metrics(rng, p) for s in range(200)} for c, p in (("a", 0.6), ("b", 0.8))}
    check = retest_check({"temporal_features": SimpleNamespace(runs=runs)})
    assert check["pairs"] == 400
    # the two draws are independent binomials: the predicted spread is right
    assert 0.9 < check["rms_z"] < 1.1
    assert 0.92 < check["within_band"] < 0.98


def test_no_second_test_set_means_no_check():
    runs = {"a": {0: {"test": {"top1": 0.5}}}}
    assert retest_check({"temporal_features": SimpleNamespace(runs=runs)}) is None
    assert retest_check({}) is None
