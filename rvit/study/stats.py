"""Statistics of the study: intervals, exact tests, multiplicity and the rule that gives a verdict.

Every claim of the proposal is read as an *effect*: a number per seed (for example the accuracy of
the image-trained model minus that of the video-trained one, both trained with the same seed). The
seed is the unit: a reading with several strata (say "from the paper preset" and "from the variant
preset") averages them within each seed, so ``n`` seeds give ``n`` values, never more.

* :func:`t_interval`: the paired t interval of the mean effect at the stated level, with an optional
  extra variance (the test-set draw, which the spread between seeds does not contain when every seed
  is tested on the same videos).
* :func:`sign_flip_p`: the exact sign-flip permutation p-value of the mean (all ``2**n`` sign
  patterns; no distributional assumption beyond symmetry under the null).
* :func:`tost_p`: two one-sided sign-flip tests against an equivalence margin ``[-m, +m]``.
* :func:`holm`: Holm's step-down adjustment of a family of p-values.
* :func:`decide`: the verdict: ``supported``, ``contradicted``, ``equivalent``, ``inconclusive`` or
  ``not testable``.

With ``n`` seeds the smallest two-sided sign-flip p-value is ``2 / 2**n`` (:func:`smallest_p`): 0.25
for three seeds, so three seeds can never pass a test at 5 %, let alone after a correction over 18
claims; :func:`seeds_needed` gives the smallest number that can.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import t as student_t

__all__ = [
    "ALPHA",
    "CONTRADICTED",
    "EQUIVALENT",
    "INCONCLUSIVE",
    "LEVEL",
    "NOT_TESTABLE",
    "SUPPORTED",
    "VERDICTS",
    "Interval",
    "aa_rate",
    "decide",
    "holm",
    "seeds_needed",
    "sign_flip_p",
    "simulate_aa",
    "smallest_p",
    "t_cdf",
    "t_interval",
    "t_quantile",
    "tost_p",
]

LEVEL = 0.95
"""The level of every interval the study prints."""
ALPHA = 1.0 - LEVEL
"""The error rate of every test (family-wise for the primary readings, after Holm)."""

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
EQUIVALENT = "equivalent"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable"
VERDICTS = (SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE, NOT_TESTABLE)

_EXACT_MAX = 20  # up to 2**20 sign patterns are enumerated; more are sampled


# ------------------------------------------------------------------------------------------------
# Student's t (SciPy)


def t_cdf(t: float, df: float) -> float:
    """The cumulative distribution function of Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    return float(student_t.cdf(t, df))


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom."""
    if not 0 < p < 1:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    return float(student_t.ppf(p, df))


# ------------------------------------------------------------------------------------------------
# intervals and tests


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` seed values with a paired t interval ``[low, high]`` at ``level``.

    ``se`` is the standard error used: ``sqrt(std**2 / n + test_var)``, where ``test_var`` is the
    variance of the mean that the test-set draw adds (0 when it is not known or not needed).
    """

    mean: float
    low: float
    high: float
    n: int
    level: float = LEVEL
    std: float = float("nan")
    se: float = float("nan")
    test_var: float = 0.0

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _values(values: Iterable[float]) -> np.ndarray:
    data = np.asarray(list(values), dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"values must be finite numbers, got {data.tolist()}")
    return data


def t_interval(values: Iterable[float], level: float = LEVEL, test_var: float = 0.0) -> Interval:
    """The paired t interval of the mean of ``values`` (one number per seed) at ``level``.

    The half-width is ``t_{n-1} * sqrt(s**2 / n + test_var)``. One value has no spread between
    seeds to measure, so its interval is unbounded (``-inf, +inf``).
    """
    data = _values(values)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if test_var < 0 or not math.isfinite(test_var):
        raise ValueError(f"test_var must be a finite number >= 0, got {test_var}")
    n = data.size
    mean = float(data.mean())
    if n == 1:
        return Interval(mean, -math.inf, math.inf, 1, level, math.nan, math.inf, test_var)
    std = float(data.std(ddof=1))
    se = math.sqrt(std**2 / n + test_var)
    half = t_quantile(0.5 + level / 2.0, n - 1) * se
    return Interval(mean, mean - half, mean + half, n, level, std, se, test_var)


def sign_flip_p(
    values: Iterable[float], mu: float = 0.0, alternative: str = "two-sided", seed: int = 0
) -> float:
    """The sign-flip permutation p-value of the mean of ``values`` against ``mu``.

    Under the null the differences ``values - mu`` are symmetric about zero, so every pattern of
    signs is equally likely; the p-value is the share of the ``2**n`` patterns whose mean is at
    least as extreme as the observed one (``"two-sided"``: in absolute value; ``"greater"`` /
    ``"less"``: one-sided). Exact for ``n <= 20`` (all patterns); larger ``n`` draws 2**16 random
    patterns from a generator seeded with ``seed`` and counts the observed one.

    Why not ``scipy.stats.permutation_test`` (one sample, ``permutation_type="samples"``, which
    flips signs): its tolerance for ties is relative to the observed statistic (``100 eps``
    times its size), and the study's effects are differences of accuracies, multiples of one over
    the number of test videos, so sign patterns whose means are equal in exact arithmetic often
    differ in the last bits. SciPy counts such a pattern on one side or the other depending on the
    rounding (and never when the observed mean is exactly 0); this function counts it as a tie
    (an absolute tolerance of ``1e-12`` times the largest value). On 9,000 such discrete cases
    (2 to 12 seeds, differences in 240ths, three alternatives) 174 p-values differed, and on 20
    seeds SciPy took about six times as long.
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be two-sided, greater or less, got {alternative!r}")
    d = _values(values) - mu
    n = d.size
    if n <= _EXACT_MAX:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        rng = np.random.default_rng(seed)
        signs = np.vstack([np.ones(n), rng.choice((1.0, -1.0), size=(2**16 - 1, n))])
    means = signs @ d / n
    observed = d.mean()
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    if alternative == "two-sided":
        hits = np.abs(means) >= abs(observed) - tol
    elif alternative == "greater":
        hits = means >= observed - tol
    else:
        hits = means <= observed + tol
    return float(hits.mean())


def tost_p(values: Iterable[float], margin: float) -> float:
    """Two one-sided sign-flip tests: the p-value that the mean lies inside ``(-margin, +margin)``.

    The larger of the p-values of ``mean > -margin`` and ``mean < +margin``; small when both bounds
    are excluded, which is how "no effect (within the margin)" can be shown.
    """
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    data = _values(values)
    return max(
        sign_flip_p(data, -margin, "greater"),
        sign_flip_p(data, margin, "less"),
    )


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    Sorted ascending, the i-th smallest (from 0) is multiplied by ``m - i``, made non-decreasing
    along the sorted order and capped at 1; a hypothesis is rejected at ``alpha`` when its adjusted
    p-value is at most ``alpha``. This controls the family-wise error rate for any dependence.
    """
    p = [float(v) for v in pvalues]
    if any(not 0 <= v <= 1 for v in p):
        raise ValueError(f"p-values must lie in [0, 1], got {p}")
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def smallest_p(n: int, alternative: str = "two-sided") -> float:
    """The smallest sign-flip p-value ``n`` seeds can give (``2 / 2**n`` two-sided)."""
    return (2.0 if alternative == "two-sided" else 1.0) / 2.0**n


def seeds_needed(m: int, alpha: float = ALPHA, alternative: str = "two-sided") -> int:
    """The fewest seeds whose smallest sign-flip p-value survives Holm's first step over ``m``."""
    n = 1
    while smallest_p(n, alternative) > alpha / m:
        n += 1
    return n


# ------------------------------------------------------------------------------------------------
# verdicts


def decide(
    interval: Interval | None,
    p: float | None,
    direction: int,
    *,
    margin: float | None = None,
    tost_interval: Interval | None = None,
    p_contra: float | None = None,
    alpha: float = ALPHA,
) -> str:
    """The verdict of one reading.

    * ``interval is None`` or ``p is None``: ``not testable`` (no numbers, or a configuration that
      failed the learning gate).
    * Directional reading (``margin is None``; ``p``: the two-sided sign-flip p-value, adjusted for
      the family it belongs to): ``supported`` when ``p <= alpha`` and the interval excludes zero
      in ``direction``, ``contradicted`` when ``p <= alpha`` and it excludes zero the other way,
      ``inconclusive`` otherwise.
    * Equivalence reading (``margin`` set; ``p``: the TOST p-value, adjusted): ``equivalent`` when
      ``p <= alpha`` and ``tost_interval`` (the ``1 - 2 alpha`` t interval) lies inside
      ``(-margin, +margin)``; ``contradicted`` when ``p_contra`` (a two-sided sign-flip p-value,
      adjusted by the caller) is at most ``alpha`` and ``interval`` lies wholly outside the margin;
      ``inconclusive`` otherwise.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    if interval is None or p is None or math.isnan(interval.mean):
        return NOT_TESTABLE
    if margin is None:
        if p > alpha or not interval.excludes_zero():
            return INCONCLUSIVE
        return SUPPORTED if (interval.low > 0) == (direction > 0) else CONTRADICTED
    inside = (
        tost_interval is not None and -margin < tost_interval.low <= tost_interval.high < margin
    )
    if p <= alpha and inside:
        return EQUIVALENT
    outside = interval.low > margin or interval.high < -margin
    if p_contra is not None and p_contra <= alpha and outside:
        return CONTRADICTED
    return INCONCLUSIVE


def simulate_aa(
    n_seeds: int,
    trials: int = 2000,
    sd: float = 0.05,
    alpha: float = ALPHA,
    seed: int = 0,
) -> float:
    """The rate of verdicts other than ``inconclusive`` in simulated A/A comparisons.

    Each trial draws two disjoint sets of ``n_seeds`` seeds of one configuration (normal with
    standard deviation ``sd``), pairs them in order and applies the
    directional rule at ``alpha`` (one test, no correction). The rule is sound when the rate is at
    most ``alpha``.
    """
    rng = np.random.default_rng(seed)
    false = 0
    for _ in range(trials):
        d = rng.normal(0.5, sd, n_seeds) - rng.normal(0.5, sd, n_seeds)
        verdict = decide(t_interval(d, 1.0 - alpha), sign_flip_p(d), +1, alpha=alpha)
        false += verdict != INCONCLUSIVE
    return false / trials


def aa_rate(
    values: Sequence[float], splits: int = 1000, alpha: float = ALPHA, seed: int = 0
) -> tuple[float, int]:
    """The A/A control on real seeds: the rate of verdicts other than inconclusive.

    ``values`` holds one configuration's metric for ``2 n`` seeds. Each split draws (with a
    generator seeded by ``seed``) two disjoint sets of ``n`` seeds, pairs them in the drawn order
    and applies the study's rule (the t interval at ``1 - alpha`` and the two-sided sign-flip test,
    no correction) to the ``n`` differences. All splits are enumerated when there are at most
    ``splits`` of them. Returns ``(rate, number of splits)``; the rule is sound when the rate is at
    most ``alpha`` (the splits share seeds, so the rate describes these seeds, not a new draw).
    """
    data = _values(values)
    n = data.size // 2
    if n < 2:
        raise ValueError(f"an A/A control needs at least 4 seeds, got {data.size}")
    if math.comb(2 * n, n) // 2 <= splits:
        # each unordered split once: the first set holds the first seed
        chosen = [
            ([0, *rest], [i for i in range(1, 2 * n) if i not in rest])
            for rest in itertools.combinations(range(1, 2 * n), n - 1)
        ]
    else:
        rng = np.random.default_rng(seed)
        chosen = []
        for _ in range(splits):
            order = rng.permutation(2 * n)
            chosen.append((list(order[:n]), list(order[n : 2 * n])))
    false = 0
    for a, b in chosen:
        d = data[a] - data[b]
        verdict = decide(t_interval(d, 1.0 - alpha), sign_flip_p(d), +1, alpha=alpha)
        false += verdict != INCONCLUSIVE
    return false / len(chosen), len(chosen)
