"""The hierarchical bootstrap of the study: known answers, pairing, strata, coverage, errors."""

from __future__ import annotations

import numpy as np
import pytest

from rvit.study import bootstrap as bs
from rvit.study.stats import ALPHA, LEVEL


def _study(rng: int = 0, n_seeds: int = 4, shift: float = 0.0) -> list[bs.SeedOutcomes]:
    """Seeds with test sets of different sizes; ``b`` is ``a`` plus ``shift`` on every video."""
    gen = np.random.default_rng(rng)
    out = []
    for seed in range(n_seeds):
        classes = np.repeat([0, 1, 2], gen.integers(5, 15, 3))
        a = gen.random(classes.size)
        out.append(bs.SeedOutcomes(seed, classes, {"a": a, "b": a + shift}))
    return out


# ------------------------------------------------------------------------------------------------
# known answers


@pytest.mark.parametrize("method", bs.METHODS)
def test_zero_variance_gives_a_zero_width_interval_at_the_estimate(method):
    data = [
        bs.SeedOutcomes(
            s, np.repeat([0, 1], [n, 2 * n]), {"a": np.full(3 * n, 0.25), "b": np.full(3 * n, 0.75)}
        )
        for s, n in enumerate([4, 7, 5, 3, 6, 4, 8, 2])
    ]
    result = bs.hierarchical_bootstrap(data, [(1.0, "b"), (-1.0, "a")], n_boot=999, method=method)
    assert result.estimate == 0.5
    assert result.low == result.high == 0.5
    if method == "expanded":  # the smallest percentile p-value, mapped through the expansion
        assert result.p_two_sided < ALPHA
    else:
        assert result.p_two_sided == pytest.approx(2 / 1000)
    assert result.p_value(0.5) == 1.0


@pytest.mark.parametrize("method", bs.METHODS)
def test_a_constant_shift_between_paired_configurations_is_recovered_exactly(method):
    data = _study(shift=0.125, n_seeds=8)
    result = bs.hierarchical_bootstrap(data, [(1.0, "b"), (-1.0, "a")], n_boot=999, method=method)
    # paired: every draw takes the same videos for a and b, so every draw's effect is the shift
    assert result.estimate == pytest.approx(0.125, abs=1e-12)
    assert np.ptp(result.draws) < 1e-12
    assert result.low == pytest.approx(0.125, abs=1e-12)
    assert result.high == pytest.approx(0.125, abs=1e-12)


def test_a_configuration_against_itself_gives_exactly_zero():
    data = _study()
    result = bs.hierarchical_bootstrap(data, [(1.0, "a"), (-1.0, "a")], n_boot=999)
    assert result.estimate == 0.0 and np.all(result.draws == 0.0)
    assert result.low == result.high == 0.0
    assert result.p_two_sided == 1.0
    # while a itself varies between draws
    assert np.ptp(bs.hierarchical_bootstrap(data, [(1.0, "a")], n_boot=999).draws) > 0


def test_seed_effects_use_subsets_nan_and_constants():
    classes = np.array([0, 0, 1, 1, 2])
    data = [
        bs.SeedOutcomes(
            s,
            classes,
            {"a": np.array([1.0, 0.0, 1.0, np.nan, 0.0]), "b": np.array([1.0, 1.0, 0.0, 0.0, 1.0])},
        )
        for s in (3, 4)
    ]
    # a over classes {1, 2}: the NaN video is left out, mean(1, 0) = 0.5; b over all: 0.6
    terms = [bs.VideoTerm(2.0, "a", {1, 2}), (-1.0, "b")]
    assert bs.seed_effects(data, terms, constant=0.25) == pytest.approx([0.65, 0.65])
    as_rule = [bs.VideoTerm(2.0, "a", lambda c: c >= 1), (-1.0, "b")]
    assert bs.seed_effects(data, as_rule, constant=0.25) == pytest.approx([0.65, 0.65])


def test_stratified_resampling_keeps_every_class_count_of_every_seed():
    # every seed has classes in proportions 1 : 2 : 3 (but its own size); a term per class indicator
    # with weights 1, 10, 100 is sum(weight * count / size): one number unless a count changes
    data = []
    for seed, size in enumerate([1, 2, 5, 3]):
        classes = np.repeat([0, 1, 2], [size, 2 * size, 3 * size])
        values = {c: (classes == c).astype(float) for c in range(3)}
        data.append(bs.SeedOutcomes(seed, classes, values))
    terms = [(1.0, 0), (10.0, 1), (100.0, 2)]
    result = bs.hierarchical_bootstrap(data, terms, n_boot=2000, rng=5)
    expected = (1 + 20 + 300) / 6
    assert result.estimate == pytest.approx(expected)
    assert np.allclose(result.draws, expected, rtol=0, atol=1e-12)
    # without the strata the counts would vary: the same videos of one class, resampled, do vary
    varied = [bs.SeedOutcomes(d.seed, np.zeros(d.n_videos, int), d.values) for d in data]
    assert np.ptp(bs.hierarchical_bootstrap(varied, terms, n_boot=200).draws) > 1


def test_the_expanded_interval_is_unbounded_when_the_draws_cannot_reach_its_tails():
    # four seeds: the expanded 95 % interval reads the 0.012 % tails, beyond 999 draws
    result = bs.hierarchical_bootstrap(_study(), [(1.0, "a")], n_boot=999, method="expanded")
    assert (result.low, result.high) == (-np.inf, np.inf)
    assert result.interval(method="percentile")[0] > 0


def test_a_fixed_rng_gives_the_same_result():
    data = bs.simulate_study(3, n_seeds=5, videos_per_class=(3, 6), n_classes=4)
    terms = bs.SIMULATED_TERMS
    one = bs.hierarchical_bootstrap(data, terms, n_boot=500, rng=11)
    two = bs.hierarchical_bootstrap(data, terms, n_boot=500, rng=np.random.default_rng(11))
    other = bs.hierarchical_bootstrap(data, terms, n_boot=500, rng=12)
    assert np.array_equal(one.draws, two.draws) and one.to_dict() == two.to_dict()
    assert not np.array_equal(one.draws, other.draws)
    assert one.estimate == other.estimate


# ------------------------------------------------------------------------------------------------
# p-values, intervals and equivalence agree


@pytest.mark.parametrize("method", bs.METHODS)
def test_p_values_are_dual_to_the_intervals(method):
    for trial, effect in enumerate([0.0, 0.02, 0.04, -0.03, 0.08]):
        data = bs.simulate_study(trial, n_seeds=8, effect=effect, videos_per_class=(5, 10))
        result = bs.hierarchical_bootstrap(data, bs.SIMULATED_TERMS, n_boot=999, method=method)
        for level in (0.8, 0.9, 0.95):
            low, high = result.interval(level)
            for mu in (0.0, 0.03, -0.02):
                excluded = low > mu or high < mu
                assert (result.p_value(mu) <= 1 - level + 1e-12) == excluded, (trial, level, mu)


def test_equivalence_is_the_one_minus_two_alpha_interval_inside_the_margin():
    data = bs.simulate_study(4, n_seeds=10, effect=0.01, between_sd=0.01)
    result = bs.hierarchical_bootstrap(data, bs.SIMULATED_TERMS, n_boot=1999)
    for margin in (0.01, 0.03, 0.05, 0.1):
        eq = bs.equivalence(result, margin)
        assert (eq.low, eq.high) == result.interval(1 - 2 * ALPHA)
        assert eq.level == pytest.approx(0.9)
        assert eq.equivalent == (-margin < eq.low and eq.high < margin)
        assert eq.p == max(result.p_value(-margin, "greater"), result.p_value(margin, "less"))
    assert not bs.equivalence(result, 0.005).equivalent
    assert bs.equivalence(result, 0.1).equivalent
    with pytest.raises(ValueError, match="margin"):
        bs.equivalence(result, 0.0)


# ------------------------------------------------------------------------------------------------
# coverage on simulated studies

# Small test sets keep this fast; the binomial sd of a coverage of 0.95 over 1,000 studies is 0.69
# points, so [0.92, 0.98] is more than four sds either side (the rng is fixed as well).
SMALL = dict(n_classes=6, videos_per_class=(6, 12))


def test_default_interval_covers_at_the_nominal_level_and_p_holds_alpha():
    cov = bs.simulate_coverage(n_trials=1000, rng=1, **SMALL)
    assert cov.method == bs.DEFAULT_METHOD and cov.level == LEVEL and cov.n_seeds == 12
    assert 0.92 <= cov.coverage <= 0.98, cov
    # 1,000 studies with no effect: the false-positive rate, sd 0.69 points at 5 %
    assert cov.rejection_rate <= ALPHA + 0.02, cov
    assert cov.text().startswith("95 % nominal, ") and "1,000 simulated studies" in cov.text()


def test_default_interval_covers_a_non_zero_effect():
    cov = bs.simulate_coverage(n_trials=400, rng=2, effect=0.05, between_sd=0.04, **SMALL)
    # sd 1.1 points over 400 studies: four sds either side
    assert 0.905 <= cov.coverage <= 0.995, cov
    assert cov.rejection_rate > 0.4  # the power to see the effect (0.495 here)


# ------------------------------------------------------------------------------------------------
# errors


def test_mismatched_lengths_within_a_seed_raise():
    with pytest.raises(ValueError, match=r"seed 7: configuration 'b' has outcomes of shape \(4,\)"):
        bs.SeedOutcomes(7, np.array([0, 0, 1]), {"a": np.ones(3), "b": np.ones(4)})


def test_an_unknown_configuration_in_a_term_raises():
    with pytest.raises(ValueError, match="term 1 uses configuration 'c', which seed 0"):
        bs.hierarchical_bootstrap(_study(), [(1.0, "a"), (-1.0, "c")])


def test_fewer_than_two_seeds_raise():
    with pytest.raises(ValueError, match="at least 2 seeds, got 1"):
        bs.hierarchical_bootstrap(_study()[:1], [(1.0, "a")])


def test_other_bad_input_raises():
    data = _study()
    with pytest.raises(ValueError, match="every seed must appear once"):
        bs.hierarchical_bootstrap([data[0], data[0]], [(1.0, "a")])
    with pytest.raises(ValueError, match="method"):
        bs.hierarchical_bootstrap(data, [(1.0, "a")], method="bca")
    with pytest.raises(ValueError, match="n_boot=10 draws cannot give a 0.95 interval"):
        bs.hierarchical_bootstrap(data, [(1.0, "a")], n_boot=10)
    with pytest.raises(ValueError, match="at least one term"):
        bs.hierarchical_bootstrap(data, [])
    with pytest.raises(ValueError, match="no video with an outcome in seed 0"):
        bs.hierarchical_bootstrap(data, [bs.VideoTerm(1.0, "a", {9})])
    with pytest.raises(ValueError, match="classes must be integer labels"):
        bs.SeedOutcomes(0, np.array([0.5, 1.0]), {"a": np.ones(2)})
    with pytest.raises(ValueError, match="infinite"):
        bs.SeedOutcomes(0, np.array([0, 1]), {"a": np.array([1.0, np.inf])})
    with pytest.raises(ValueError, match="would leave"):
        bs.simulate_study(effect=0.5)
