"""The study's statistics: interval coverage, sign-flip exactness, TOST, Holm and the verdict rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rvit.study import stats


def test_t_quantile_matches_the_tables():
    table = {1: 12.706, 2: 4.303, 5: 2.571, 10: 2.228, 30: 2.042}
    for df, expected in table.items():
        assert stats.t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)
    assert stats.t_quantile(0.025, 4) == pytest.approx(-stats.t_quantile(0.975, 4))
    assert stats.t_cdf(stats.t_quantile(0.9, 7), 7) == pytest.approx(0.9)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_t_interval_covers_at_the_nominal_level_on_simulated_nulls(n):
    rng = np.random.default_rng(n)
    trials = 4000
    covered = 0
    for _ in range(trials):
        interval = stats.t_interval(rng.normal(0.0, 0.05, n))
        covered += interval.low <= 0.0 <= interval.high
    assert abs(covered / trials - stats.LEVEL) < 0.015


def test_test_set_variance_restores_coverage_when_seeds_share_the_test_set():
    # every seed is tested on the same videos: one test-set error shifts all seeds alike
    rng = np.random.default_rng(1)
    n, videos, p, trials = 5, 240, 0.3, 4000
    test_sd = (p * (1 - p) / videos) ** 0.5
    with_var = without = 0
    for _ in range(trials):
        values = rng.normal(0.0, 0.01, n) + rng.normal(0.0, test_sd)
        a = stats.t_interval(values, test_var=test_sd**2)
        b = stats.t_interval(values)
        with_var += a.low <= 0.0 <= a.high
        without += b.low <= 0.0 <= b.high
    assert with_var / trials >= stats.LEVEL - 0.02
    assert without / trials < stats.LEVEL - 0.1  # the spread between seeds misses the draw


def test_t_interval_of_one_value_is_unbounded_and_bad_values_raise():
    one = stats.t_interval([0.25])
    assert one.mean == 0.25 and one.low == -np.inf and one.high == np.inf
    for bad in ([], [float("nan"), 1.0], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="values"):
            stats.t_interval(bad)


def test_sign_flip_is_exact():
    rng = np.random.default_rng(0)
    n = 6
    magnitudes = rng.uniform(0.1, 1.0, n)  # no ties between sums of signed values
    ps = sorted(
        stats.sign_flip_p(magnitudes * np.array(signs))
        for signs in itertools.product((1, -1), repeat=n)
    )
    # under the null every sign pattern is equally likely: P(p <= 2k / 2**n) = 2k / 2**n
    expected = sorted(2 * ((i // 2) + 1) / 2**n for i in range(2**n))
    assert ps == pytest.approx(expected)
    one_sided = sorted(
        stats.sign_flip_p(magnitudes * np.array(signs), alternative="greater")
        for signs in itertools.product((1, -1), repeat=n)
    )
    assert one_sided == pytest.approx([(i + 1) / 2**n for i in range(2**n)])


def test_three_seeds_cannot_pass_and_ten_can_survive_holm():
    assert stats.sign_flip_p([0.1, 0.2, 0.3]) == pytest.approx(0.25)
    assert stats.smallest_p(3) == 0.25
    assert stats.seeds_needed(18) == 10
    assert stats.smallest_p(10) <= stats.ALPHA / 18 < stats.smallest_p(9)


def test_sign_flip_rejects_at_most_alpha_on_simulated_nulls():
    rng = np.random.default_rng(2)
    trials = 1000
    rate = np.mean([stats.sign_flip_p(rng.normal(0, 1, 10)) <= stats.ALPHA for _ in range(trials)])
    assert rate <= stats.ALPHA + 0.015


def test_holm_steps_down_in_order():
    raw = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 * 4, 0.01 * 3, 0.03 * 2, 0.04 * 1, made non-decreasing
    assert stats.holm(raw) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = stats.holm(raw)
    order = np.argsort(raw)
    assert list(np.array(adjusted)[order]) == sorted(adjusted)
    assert all(a >= p for a, p in zip(adjusted, raw, strict=True))
    assert stats.holm([0.4, 0.3]) == pytest.approx([0.6, 0.6])
    assert stats.holm([0.9, 0.8]) == [1.0, 1.0]
    assert stats.holm([]) == []
    with pytest.raises(ValueError, match="p-values"):
        stats.holm([1.5])


def test_tost_shows_equivalence_only_inside_the_margin():
    close = [0.001 * (i - 5) for i in range(12)]
    assert stats.tost_p(close, 0.03) == pytest.approx(1 / 2**12)
    far = [0.05 + 0.001 * i for i in range(12)]
    assert stats.tost_p(far, 0.03) == 1.0
    with pytest.raises(ValueError, match="margin"):
        stats.tost_p(close, 0.0)


def test_decide_needs_both_the_test_and_the_interval():
    values = [0.1 + 0.01 * i for i in range(10)]
    interval = stats.t_interval(values)
    p = stats.sign_flip_p(values)
    assert stats.decide(interval, p, +1) == stats.SUPPORTED
    assert stats.decide(interval, p, -1) == stats.CONTRADICTED
    assert stats.decide(interval, 0.25, +1) == stats.INCONCLUSIVE
    assert stats.decide(None, None, +1) == stats.NOT_TESTABLE
    with pytest.raises(ValueError, match="direction"):
        stats.decide(interval, p, 0)
    close = [0.001 * (i - 5) for i in range(12)]
    equiv = dict(margin=0.03, tost_interval=stats.t_interval(close, 1 - 2 * stats.ALPHA))
    assert stats.decide(stats.t_interval(close), stats.tost_p(close, 0.03), 1, **equiv) == (
        stats.EQUIVALENT
    )
    far = dict(margin=0.03, tost_interval=stats.t_interval(values, 0.9), p_contra=p)
    assert stats.decide(interval, 1.0, 1, **far) == stats.CONTRADICTED
    assert stats.VERDICTS == (
        "supported",
        "contradicted",
        "equivalent",
        "inconclusive",
        "not testable",
    )


@pytest.mark.parametrize("n_seeds", [3, 10])
def test_aa_control_comes_out_inconclusive(n_seeds):
    # one configuration, two disjoint seed sets: a verdict other than inconclusive is an error
    rate = stats.simulate_aa(n_seeds, trials=1000, seed=n_seeds)
    assert rate <= stats.ALPHA + 0.015
    if n_seeds == 3:
        assert rate == 0.0  # three seeds cannot reach p <= 0.05


def test_aa_rate_on_real_seeds_enumerates_or_samples_splits():
    rng = np.random.default_rng(4)
    values = rng.normal(0.5, 0.05, 12)
    rate, splits = stats.aa_rate(values)
    assert splits == 462  # C(12, 6) / 2: every unordered split once
    assert 0.0 <= rate <= 0.1
    rate20, splits20 = stats.aa_rate(rng.normal(0.5, 0.05, 20), splits=300)
    assert splits20 == 300 and 0.0 <= rate20 <= 0.15
    # a configuration whose seeds split into a high and a low half is found, whatever the split
    shifted = np.r_[np.full(6, 0.9), np.full(6, 0.1)] + rng.normal(0, 1e-3, 12)
    assert stats.aa_rate(shifted)[0] > 0
    with pytest.raises(ValueError, match="at least 4 seeds"):
        stats.aa_rate([0.1, 0.2, 0.3])
