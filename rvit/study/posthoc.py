"""Post-hoc diagnoses: readings that were not pre-registered, computed to find out why a
pre-registered one came out as it did.

A sanity check holds by construction only in some of its terms. ``ins.scalability.weakness``, for
one, is the gain in direction accuracy on the motion pairs (zero by construction: a still carries no
direction) minus the gain on the appearance classes (an empirical quantity, the scalability
strength's own question). When such a check does not show, :func:`split_by_metric` reads each metric
of its contrast on its own, with the same analysis (:func:`rvit.study.analysis.analyse_reading`)
and an equivalence margin of the study's smallest effect of interest, so the report can say which
part did not show. These readings decide nothing: they are printed as post hoc, apart from the
claims, the secondary readings and the sanity checks.

This module is presentation code (:data:`rvit.study.store.PRESENTATION_CODE`): it reads stored
results and changes no run's metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rvit.study.analysis import (
    SANITY_FAILS,
    ExperimentResults,
    ReadingResult,
    analyse_reading,
    sanity_status,
)
from rvit.study.design import SMALLEST_EFFECT
from rvit.study.schema import Contrast, Reading

__all__ = ["sanity_diagnoses", "split_by_metric"]


def split_by_metric(reading: Reading, margin: float = SMALLEST_EFFECT) -> list[Reading]:
    """One post-hoc reading per metric of ``reading``'s contrast: the terms that read that metric,
    with their coefficients as they are (so the parts sum to the whole effect), tested for
    equivalence to zero within ``margin``. A metric missing from one of the strata gives no part; a
    contrast that reads one metric only gives none (there is nothing to split)."""
    metrics = sorted({t.metric for s in reading.contrast.strata for t in s if t.metric})
    if len(metrics) < 2:
        return []
    parts = []
    for metric in metrics:
        strata = tuple(tuple(t for t in s if t.metric == metric) for s in reading.contrast.strata)
        if any(not s for s in strata):
            continue
        parts.append(
            Reading(
                reading.claim,
                f"{reading.label}: {metric} terms",
                f"Post hoc, not pre-registered: the terms of the reading {reading.label!r} that "
                f"read {metric}, with their signs (equivalence to zero within {margin:.0%}).",
                Contrast(
                    strata,
                    reading.contrast.direction,
                    reading.contrast.units,
                    reading.contrast.labels,
                ),
                margin=margin,
            )
        )
    return parts


def sanity_diagnoses(
    readings: Sequence[ReadingResult], loaded: Mapping[str, ExperimentResults]
) -> list[tuple[ReadingResult, list[ReadingResult]]]:
    """For every sanity check that does not hold, its parts (:func:`split_by_metric`) read from the
    loaded results of its experiment: ``(check, parts)`` pairs, in the readings' order; none when
    every check holds or is not testable."""
    out = []
    for result in readings:
        if not result.sanity or sanity_status(result) != SANITY_FAILS:
            continue
        results = loaded.get(result.experiment)
        if results is None:
            continue
        reading = next(
            (
                r
                for r in results.experiment.readings
                if r.claim == result.claim and r.label == result.label
            ),
            None,
        )
        if reading is None:
            continue
        out.append((result, [analyse_reading(part, results) for part in split_by_metric(reading)]))
    return out
