"""Statistics of the study: bootstrap intervals and the rules that turn numbers into verdicts.

Every claim of the proposal is read as the sign of an *effect*: a number per seed (for example the
accuracy of the image-trained model minus that of the video-trained one, both trained with the same
seed). The effect's mean gets a 95 % percentile-bootstrap interval, and the verdict follows from
where that interval lies:

* ``supported``: the interval excludes zero in the direction the claim states;
* ``contradicted``: the interval excludes zero in the other direction;
* ``inconclusive``: the interval contains zero.

With three seeds the percentile interval of a mean of three values is exactly [min, max] (each
resample repeating one value has probability 1/27 > 2.5 %), so a claim is supported only when all
three seeds agree. That is strict on purpose: three seeds cannot carry a subtler test.

The bootstrap uses its own seeded generator, so the same numbers always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "CONTRADICTED",
    "INCONCLUSIVE",
    "MIXED",
    "NOT_MEASURED",
    "PARTLY_CONTRADICTED",
    "PARTLY_SUPPORTED",
    "SUPPORTED",
    "VERDICTS",
    "Interval",
    "bootstrap_mean",
    "combine_verdicts",
    "decide",
]

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
MIXED = "mixed"
PARTLY_SUPPORTED = "partly supported"
PARTLY_CONTRADICTED = "partly contradicted"
NOT_MEASURED = "not measured"
VERDICTS = (
    SUPPORTED,
    PARTLY_SUPPORTED,
    MIXED,
    INCONCLUSIVE,
    PARTLY_CONTRADICTED,
    CONTRADICTED,
    NOT_MEASURED,
)


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values with a bootstrap interval ``[low, high]`` at ``level``."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95
    std: float = float("nan")

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap_mean(
    values: Iterable[float],
    level: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap interval of the mean of ``values`` (a 1-D sequence of ``n`` numbers).

    ``n_boot`` resamples of size ``n`` are drawn with replacement from a generator seeded with
    ``seed``; the interval is their ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles. One value
    gives a zero-width interval at that value.
    """
    data = np.asarray(list(values), dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"values must be finite numbers, got {data.tolist()}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    n = data.size
    mean = float(data.mean())
    std = float(data.std(ddof=1)) if n > 1 else float("nan")
    if n == 1:
        return Interval(mean, mean, mean, 1, level, std)
    rng = np.random.default_rng(seed)
    # (n_boot, n) indices -> (n_boot,) resampled means
    means = data[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha], method="inverted_cdf")
    return Interval(mean, float(low), float(high), n, level, std)


def decide(interval: Interval | None, direction: int) -> str:
    """The verdict of a claim that the effect is positive (``direction=+1``) or negative (``-1``).

    ``None`` (no numbers) gives ``not measured``.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    if interval is None or math.isnan(interval.mean):
        return NOT_MEASURED
    if not interval.excludes_zero():
        return INCONCLUSIVE
    positive = interval.low > 0
    return SUPPORTED if positive == (direction > 0) else CONTRADICTED


def combine_verdicts(verdicts: Sequence[str]) -> str:
    """One verdict for a claim read in several ways (each reading has its own verdict).

    All readings agree -> that verdict; some supported and some contradicted -> ``mixed``;
    supported next to inconclusive -> ``partly supported``; contradicted next to inconclusive ->
    ``partly contradicted``. Readings that were not measured are left out unless all are.
    """
    unknown = set(verdicts) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}; expected some of {VERDICTS}")
    measured = [v for v in verdicts if v != NOT_MEASURED]
    if not measured:
        return NOT_MEASURED
    kinds = set(measured)
    if len(kinds) == 1:
        return measured[0]
    pro = kinds & {SUPPORTED, PARTLY_SUPPORTED}
    con = kinds & {CONTRADICTED, PARTLY_CONTRADICTED}
    if MIXED in kinds or (pro and con):
        return MIXED
    if pro:
        return PARTLY_SUPPORTED
    if con:
        return PARTLY_CONTRADICTED
    return INCONCLUSIVE
