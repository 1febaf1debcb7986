"""Read the study's results, apply the registry's readings and print or tabulate the verdicts.

``python -m rvit study report [--profile book]`` prints the two tables of the proposal with a
verdict in every cell. The book's chapter 8 uses the same functions:

* :func:`load_experiment` checks and loads one experiment's results (a missing or stale result
  raises :class:`StaleResultsError`, whose message names the command that reruns it);
* :func:`analyse` turns them into one :class:`ReadingResult` per reading (effect per seed, paired
  t interval, sign-flip or TOST p-value, learning gate, uncorrected verdict) and :func:`judge`
  applies Holm's correction over the claims' primary readings (:func:`study_results` does both);
* :func:`claim_table` gives one row per claim of the proposal, from its primary reading;
  :func:`gate_frame` the learning gate of every trained configuration;
* :func:`metrics_frame` and :func:`online_frame` give tidy tables for the figures.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvit.study.bench import check_bench, load_bench, memory_runs
from rvit.study.claims import CLAIMS
from rvit.study.design import LEARNING_GATE, pairwise_contrast
from rvit.study.experiments import EXPERIMENTS, get_experiment
from rvit.study.profiles import Profile, get_profile
from rvit.study.schema import Contrast, Experiment, Reading, Term
from rvit.study.stats import (
    ALPHA,
    CONTRADICTED,
    INCONCLUSIVE,
    LEVEL,
    NOT_TESTABLE,
    SUPPORTED,
    Interval,
    aa_rate,
    decide,
    holm,
    seeds_needed,
    sign_flip_p,
    simulate_aa,
    smallest_p,
    t_interval,
    tost_p,
)
from rvit.study.store import (
    StaleResultsError,
    default_results_dir,
    match_result,
    result_path,
    verified,
)

__all__ = [
    "ExperimentResults",
    "ReadingResult",
    "analyse",
    "claim_table",
    "claim_texts",
    "format_p",
    "gate_check",
    "gate_frame",
    "inference_notes",
    "judge",
    "get_metric",
    "load_experiment",
    "metrics_frame",
    "online_frame",
    "pixel_bar_readings",
    "pixel_baseline",
    "print_report",
    "study_compute",
    "rerun_command",
    "study_results",
]


def rerun_command(names: Iterable[str], profile: str) -> str:
    """The command that (re)runs experiments ``names`` at ``profile``."""
    return f"python -m rvit study run {' '.join(names)} --profile {profile}".replace("  ", " ")


def get_metric(metrics: Mapping[str, Any], path: str) -> float | None:
    """The number at dotted ``path`` in a run's metrics (``"test.top1"``); None when absent."""
    node: Any = metrics
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            node = node[int(part)]
        else:
            return None
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    value = float(node)
    return None if math.isnan(value) else value


@dataclass
class ExperimentResults:
    """One experiment's stored results: ``runs[config_id][seed]`` is a run's metrics."""

    experiment: Experiment
    runs: dict[str, dict[int, dict[str, Any]]]
    records: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""

    def seeds(self) -> list[int]:
        return sorted({s for by_seed in self.runs.values() for s in by_seed})


def study_compute(loaded: Mapping[str, ExperimentResults]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and number of the distinct training runs behind ``loaded``.

    A run shared by several experiments is counted once (by its key and seed).
    """
    unique = {
        (r.get("key"), r.get("seed")): r.get("timings", {})
        for results in loaded.values()
        for r in results.records
    }
    wall = sum(float(t.get("total_s", 0.0)) for t in unique.values())
    cpu = sum(float(t.get("cpu_s", 0.0)) for t in unique.values())
    return wall, cpu, len(unique)


def load_experiment(
    name: str | Experiment,
    profile: str | Profile = "book",
    results_dir: str | os.PathLike | None = None,
    strict: bool = True,
) -> ExperimentResults:
    """Load and check one experiment's results.

    With ``strict`` (the default) a missing result, or one whose configuration no longer matches the
    registry, raises :class:`StaleResultsError` naming the files and the command that reruns them;
    otherwise such results are left out.
    """
    prof = get_profile(profile)
    exp = name if isinstance(name, Experiment) else get_experiment(name, prof)
    out = Path(results_dir) if results_dir is not None else default_results_dir(prof)
    if exp.bench is not None:
        bench_dir = out / "bench"
        try:
            bench = load_bench(exp.bench, bench_dir)
        except StaleResultsError:
            if strict:
                raise
            return ExperimentResults(exp, {}, [], source=str(bench_dir / f"{exp.bench}.json"))
        return ExperimentResults(
            exp, memory_runs(bench), [], source=str(bench_dir / f"{exp.bench}.json")
        )
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for config_id, config in exp.configs.items():
        for seed in exp.seeds:
            path = result_path(out, exp.name, config_id, seed)
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                record = None
            why = match_result(record, config, seed, prof)
            if why:
                problems.append(f"{path.name}: {why}")
                continue
            runs.setdefault(config_id, {})[seed] = record["metrics"]
            records.append(record)
    if problems and strict:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise StaleResultsError(
            f"experiment {exp.name!r} at profile {prof.name!r} has {len(problems)} missing or "
            f"stale result(s) in {out / exp.name} ({shown}); rerun: "
            f"{rerun_command([exp.name], prof.name)}"
        )
    return ExperimentResults(exp, runs, records, source=str(out / exp.name))


# ------------------------------------------------------------------------------------------------
# readings -> verdicts

_ACCURACIES = ("top1", "top5", "appearance", "motion")


@dataclass
class ReadingResult:
    """The outcome of one reading: the effect per seed, its interval, its test and the verdict.

    ``values`` holds one number per seed (in ``seed_ids``; strata averaged within each seed).
    ``p`` is the raw p-value of the reading's test (two-sided sign-flip, or TOST for an equivalence
    reading); ``p_holm`` the Holm-adjusted one for a primary reading after :func:`judge` (None for
    secondary readings, which stay uncorrected). ``gate`` lists the configurations that failed the
    learning gate (then the verdict is ``not testable``).
    """

    experiment: str
    claim: str
    label: str
    text: str
    direction: int
    units: str
    values: list[float]
    strata: list[dict[str, Any]]
    interval: Interval | None
    verdict: str
    primary: bool = False
    margin: float | None = None
    seed_ids: list[int] = field(default_factory=list)
    tost_interval: Interval | None = None
    p: float | None = None
    p_diff: float | None = None
    p_holm: float | None = None
    gate: list[str] = field(default_factory=list)
    note: str = ""
    exact: bool = False

    @property
    def seeds(self) -> int:
        """The number of seeds behind the effect (one value each)."""
        return len(self.values)

    @property
    def test(self) -> str:
        if self.exact:
            return "exact"
        return "TOST" if self.margin is not None else "sign-flip"

    @property
    def role(self) -> str:
        return "primary" if self.primary else "secondary"

    @property
    def effect_text(self) -> str:
        """The effect and its interval as printed: e.g. ``+2.1 pp [-15.1, +19.3]``."""
        i = self.interval
        return format_effect(
            i.mean if i else None, i.low if i else None, i.high if i else None, self.units
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "claim": self.claim,
            "label": self.label,
            "role": self.role,
            "test": self.test,
            "margin": self.margin,
            "text": self.text,
            "direction": self.direction,
            "units": self.units,
            "effect": self.interval.mean if self.interval else None,
            "low": self.interval.low if self.interval else None,
            "high": self.interval.high if self.interval else None,
            "test_var": self.interval.test_var if self.interval else None,
            "seeds": self.seeds,
            "p": self.p,
            "p_holm": self.p_holm,
            "verdict": self.verdict,
            "gate": "; ".join(self.gate),
        }


def _videos(metrics: Mapping[str, Any], path: str) -> float | None:
    """How many test videos an accuracy at ``path`` counts (None: not an accuracy of videos)."""
    parts = path.split(".")
    if len(parts) != 2 or parts[1] not in _ACCURACIES:
        return None
    node = metrics.get(parts[0])
    if not isinstance(node, Mapping) or not node.get("videos"):
        return None
    n = float(node["videos"])
    if parts[1] in ("appearance", "motion"):
        from rvit.data.synthetic import CLASS_GROUPS

        names = list(node.get("per_class") or {})
        if names:
            n *= sum(CLASS_GROUPS.get(c) == parts[1] for c in names) / len(names)
    return n


def _test_sd(terms: Sequence[Term], runs: Mapping[str, Mapping[int, Any]], seed: int) -> float:
    """An upper bound of the test-set standard deviation of one stratum's value for one seed.

    Each accuracy ``p`` measured on ``n`` videos has binomial variance ``p (1 - p) / n``; the
    standard deviations add up with the terms' absolute coefficients, which bounds the sum's for
    any correlation between the accuracies (they are measured on the same videos).
    """
    total = 0.0
    for term in terms:
        if term.config is None:
            continue
        metrics = runs[term.config][seed]
        value = get_metric(metrics, term.metric or "")
        n = _videos(metrics, term.metric or "")
        if value is not None and n:
            total += abs(term.coef) * math.sqrt(max(value * (1.0 - value), 0.0) / n)
    return total


def contrast_values(
    contrast: Contrast, runs: Mapping[str, Mapping[int, Mapping[str, Any]]]
) -> tuple[list[float], list[dict[str, Any]]]:
    """The effect of ``contrast`` per seed: strata averaged within each seed.

    A stratum has a value for every seed that has all its numbers; strata without any value (a
    configuration that cannot run there) are left out, and the seeds kept are those every remaining
    stratum has. Returns the per-seed values and, per stratum, ``{"label", "n", "mean", "values",
    "seeds"}``.
    """
    values, strata, _, _ = _contrast(contrast, runs)
    return values, strata


def _contrast(
    contrast: Contrast, runs: Mapping[str, Mapping[int, Mapping[str, Any]]]
) -> tuple[list[float], list[dict[str, Any]], list[int], float]:
    strata: list[dict[str, Any]] = []
    per_seed: list[dict[int, tuple[float, float]]] = []
    for i, terms in enumerate(contrast.strata):
        configs = {t.config for t in terms if t.config is not None}
        seeds = (
            sorted(set.intersection(*(set(runs.get(c, {})) for c in configs))) if configs else []
        )
        by_seed: dict[int, tuple[float, float]] = {}
        for seed in seeds:
            total = 0.0
            for term in terms:
                if term.config is None:
                    total += term.coef * float(term.value)  # type: ignore[arg-type]
                    continue
                value = get_metric(runs[term.config][seed], term.metric or "")
                if value is None:
                    break
                total += term.coef * value
            else:
                by_seed[seed] = (total, _test_sd(terms, runs, seed))
        label = contrast.labels[i] if contrast.labels else ""
        vals = [v for v, _ in by_seed.values()]
        mean = sum(vals) / len(vals) if vals else math.nan
        strata.append(
            {"label": label, "n": len(vals), "mean": mean, "values": vals, "seeds": list(by_seed)}
        )
        per_seed.append(by_seed)
    present = [b for b in per_seed if b]
    common = sorted(set.intersection(*(set(b) for b in present))) if present else []
    values = [sum(b[s][0] for b in present) / len(present) for s in common]
    sds = [sum(b[s][1] for b in present) / len(present) for s in common]
    test_var = sum(sd**2 for sd in sds) / len(sds) if sds else 0.0
    return values, strata, common, test_var


def gate_check(results: ExperimentResults) -> dict[str, dict[str, Any]]:
    """The learning gate for every configuration of an experiment that has results.

    ``{config_id: {"train", "ceiling", "threshold", "share", "passed", "modality"}}``: mean training
    accuracy over seeds against the gate's threshold. Empty when the experiment has no gate.
    """
    gate = results.experiment.gate
    out: dict[str, dict[str, Any]] = {}
    if gate is None:
        return out
    for config_id, by_seed in results.runs.items():
        config = results.experiment.configs.get(config_id)
        if config is None:  # not a trained configuration (the pixel baseline)
            continue
        accs = [get_metric(m, gate.metric) for m in by_seed.values()]
        accs = [a for a in accs if a is not None]
        if not accs:
            continue
        train = sum(accs) / len(accs)
        ceiling = gate.ceiling(config)
        out[config_id] = {
            "modality": config.train.get("modality"),
            "train": train,
            "ceiling": ceiling,
            "threshold": gate.threshold(config),
            "share": train / ceiling,
            "passed": train >= gate.threshold(config),
        }
    return out


PIXEL_NN = "pixel_nn"
"""The name the pixel nearest-neighbour baseline takes among an experiment's configurations."""

_PIXEL_BAR = ("temporal_features", "image", "test")
"""The experiment, the image-trained configuration and the evaluation the pixel bar is read on."""


def pixel_baseline(
    results: ExperimentResults, config_id: str = "image", eval_name: str = "test"
) -> dict[int, dict[str, Any]]:
    """The pixel 1-nearest-neighbour baseline (:mod:`rvit.study.pixel_nn`) on the training stills of
    ``config_id`` and its evaluation ``eval_name``, for each seed with results: ``{seed: {eval_name:
    {"top1", "videos", "stills", "chance"}}}``, shaped like a run's metrics."""
    from rvit.study.pixel_nn import pixel_nn_metrics

    config = results.experiment.configs[config_id]
    spec = config.evals[eval_name]
    return {
        seed: {eval_name: pixel_nn_metrics(config.data, config.train, spec, seed)}
        for seed in sorted(results.runs.get(config_id, {}))
    }


def pixel_bar_readings(
    loaded: Mapping[str, ExperimentResults],
) -> tuple[list[ReadingResult], dict[int, dict[str, Any]]]:
    """RViT and FrameViT trained on stills against the pixel 1-nearest-neighbour vote over the same
    stills (effect: model minus baseline, top-1 on the test videos; claimed positive).

    The bar a 'works from still images' (versatility) reading must pass: beating chance says little
    when matching frames to training stills pixel by pixel already recognises most test videos.
    These readings are secondary and uncorrected (they are not in the claims' Holm family).
    Returns the readings and the baseline's metrics per seed.
    """
    name, config_id, eval_name = _PIXEL_BAR
    results = loaded.get(name)
    if results is None or not results.runs.get(config_id):
        return [], {}
    baseline = pixel_baseline(results, config_id, eval_name)
    runs = {**results.runs, PIXEL_NN: baseline}
    metric = f"{eval_name}.top1"
    readings = [
        Reading(
            "ins.versatility.strength",
            f"{short} above pixel 1-NN",
            f"The {label} trained on still images beats a pixel 1-nearest-neighbour vote over the "
            f"same stills on the test videos (effect: {label} minus baseline; claimed positive).",
            pairwise_contrast(metric, [(model, PIXEL_NN)], 1),
        )
        for model, short, label in (
            (config_id, "RViT", "image-trained RViT"),
            ("framevit", "FrameViT", "FrameViT"),
        )
        if results.runs.get(model)
    ]
    augmented = ExperimentResults(results.experiment, runs, results.records, results.source)
    return [analyse_reading(r, augmented) for r in readings], baseline


def _verdict(result: ReadingResult, p: float | None, p_contra: float | None) -> str:
    if result.gate:
        return NOT_TESTABLE
    return decide(
        result.interval,
        p,
        result.direction,
        margin=result.margin,
        tost_interval=result.tost_interval,
        p_contra=p_contra,
    )


def _untested(
    reading: Reading,
    experiment: str,
    values: list[float],
    strata: list[dict[str, Any]],
    seeds: list[int],
    **fields: Any,
) -> ReadingResult:
    """A reading's result before its test: the values, no interval, verdict not testable."""
    return ReadingResult(
        experiment=experiment,
        claim=reading.claim,
        label=reading.label,
        text=reading.text,
        direction=reading.contrast.direction,
        units=reading.contrast.units,
        values=values,
        strata=strata,
        interval=None,
        verdict=NOT_TESTABLE,
        primary=reading.primary,
        seed_ids=seeds,
        **fields,
    )


def _exact_reading(result: ReadingResult) -> ReadingResult:
    """A quantity that does not vary with the seed (FLOPs counted from the model): supported when
    every seed's value has the claimed sign, contradicted when every one has the other, else
    inconclusive. No p-value, no learning gate (training does not change it), not in Holm's family.
    """
    direction, values = result.direction, result.values
    if not values:
        result.note = "no values"
        return result
    mean = sum(values) / len(values)
    result.interval = Interval(mean, min(values), max(values), len(values), level=1.0, std=0.0)
    if all(v * direction > 0 for v in values):
        result.verdict = SUPPORTED
    elif all(v * direction < 0 for v in values):
        result.verdict = CONTRADICTED
    else:
        result.verdict = INCONCLUSIVE
    result.note = "exact: the same value at every seed, judged by its sign (range shown)"
    return result


def analyse_reading(reading: Reading, results: ExperimentResults) -> ReadingResult:
    """Apply one reading to an experiment's results; the verdict is uncorrected.

    :func:`judge` applies Holm's correction across the claims' primary readings.
    """
    values, strata, seeds, test_var = _contrast(reading.contrast, results.runs)
    if reading.exact:
        return _exact_reading(
            _untested(reading, results.experiment.name, values, strata, seeds, exact=True)
        )
    checks = gate_check(results)
    failed = [
        f"{c} trains to {checks[c]['train']:.1%} < {checks[c]['threshold']:.1%}"
        for c in sorted(reading.contrast.configs())
        if c in checks and not checks[c]["passed"]
    ]
    result = _untested(
        reading, results.experiment.name, values, strata, seeds, margin=reading.margin, gate=failed
    )
    if len(values) < 2:
        result.note = "fewer than two seeds"
        return result
    result.interval = t_interval(values, LEVEL, test_var)
    result.p_diff = sign_flip_p(values)
    if reading.margin is not None:
        result.tost_interval = t_interval(values, 1.0 - 2.0 * ALPHA, test_var)
        result.p = tost_p(values, reading.margin)
    else:
        result.p = result.p_diff
    if failed:
        result.note = "not testable at this budget: " + "; ".join(failed)
    result.verdict = _verdict(result, result.p, result.p_diff)
    return result


def judge(readings: Sequence[ReadingResult]) -> list[ReadingResult]:
    """Holm's correction over the primary readings of the claims that can be tested.

    Sets ``p_holm`` and the verdict of every primary reading that passed the learning gate (an
    equivalence reading is contradicted only when its two-sided p-value survives Bonferroni over
    the same family, which is stricter than Holm); secondary readings keep their uncorrected
    verdicts. Returns ``readings``.
    """
    family = [r for r in readings if r.primary and r.p is not None and not r.gate and not r.exact]
    adjusted = holm([r.p for r in family]) if family else []
    for result, p_holm in zip(family, adjusted, strict=True):
        result.p_holm = p_holm
        bonferroni = min(1.0, (result.p_diff or 1.0) * len(family))
        result.verdict = _verdict(result, p_holm, bonferroni)
    return list(readings)


def analyse(results: ExperimentResults) -> list[ReadingResult]:
    """Every reading of the experiment, in the registry's order (uncorrected verdicts)."""
    return [analyse_reading(r, results) for r in results.experiment.readings]


def study_results(
    profile: str | Profile = "book",
    results_dir: str | os.PathLike | None = None,
    names: Sequence[str] | None = None,
    strict: bool = True,
) -> tuple[dict[str, ExperimentResults], list[ReadingResult]]:
    """Load every experiment (or ``names``), analyse every reading and apply :func:`judge`."""
    loaded = {
        name: load_experiment(name, profile, results_dir, strict=strict)
        for name in (names or EXPERIMENTS)
    }
    readings = judge([r for results in loaded.values() for r in analyse(results)])
    return loaded, readings


def claim_table(readings: Sequence[ReadingResult], table: str | None = None) -> Any:
    """One row per claim of the proposal (all 18, or one table's), from its primary reading.

    Columns: ``claim, table, row, kind, text, verdict, label, test, margin, effect, low, high,
    units, seeds, p, p_holm`` (of the primary reading), ``secondary`` (the other readings and their
    uncorrected verdicts), ``readings`` (how many) and ``experiments``.
    """
    import pandas as pd

    rows = []
    for claim in CLAIMS.values():
        if table is not None and claim.table != table:
            continue
        mine = [r for r in readings if r.claim == claim.id]
        first = next((r for r in mine if r.primary), None)
        rows.append(
            {
                "claim": claim.id,
                "table": claim.table,
                "row": claim.row,
                "kind": claim.kind,
                "text": claim.text,
                "verdict": first.verdict if first else NOT_TESTABLE,
                "label": first.label if first else "",
                "test": first.test if first else "",
                "margin": first.margin if first else None,
                "effect": first.interval.mean if first and first.interval else None,
                "low": first.interval.low if first and first.interval else None,
                "high": first.interval.high if first and first.interval else None,
                "units": first.units if first else "",
                "seeds": first.seeds if first else 0,
                "p": first.p if first else None,
                "p_holm": first.p_holm if first else None,
                "secondary": ", ".join(f"{r.label}: {r.verdict}" for r in mine if not r.primary),
                "readings": len(mine),
                "experiments": ", ".join(dict.fromkeys(r.experiment for r in mine)),
            }
        )
    return pd.DataFrame(rows)


def gate_frame(loaded: Mapping[str, ExperimentResults]) -> Any:
    """The learning gate, one row per distinct trained configuration (shared runs once)."""
    import pandas as pd

    rows: dict[str, dict[str, Any]] = {}
    for name, results in loaded.items():
        for config_id, check in gate_check(results).items():
            key = results.experiment.configs[config_id].key()
            if key in rows:
                rows[key]["used in"] += f", {name}/{config_id}"
                continue
            rows[key] = {"configuration": f"{name}/{config_id}", **check, "used in": ""}
    columns = [
        "configuration",
        "modality",
        "train",
        "ceiling",
        "threshold",
        "share",
        "passed",
        "used in",
    ]
    return pd.DataFrame(list(rows.values()), columns=columns)


def claim_texts(claims: Any) -> dict[str, str]:
    """What the prose says of each claim of :func:`claim_table`, as Markdown, keyed by the claim's id
    with ``_`` for ``.``: ``<key>_verdict`` (in bold), ``<key>_effect`` (with its interval),
    ``<key>_p`` (Holm-corrected) and ``<key>_reading`` (the primary reading, in italics)."""
    texts: dict[str, str] = {}
    for row in claims.itertuples():
        key = row.claim.replace(".", "_")
        texts[f"{key}_verdict"] = f"**{row.verdict}**"
        texts[f"{key}_effect"] = format_effect(row.effect, row.low, row.high, row.units)
        texts[f"{key}_p"] = format_p(row.p_holm)
        texts[f"{key}_reading"] = f"*{row.label}*" if row.label else "-"
    return texts


def format_p(p: float | None) -> str:
    """A p-value with three digits, ``-`` when there is none."""
    return "-" if p is None or math.isnan(p) else f"{p:.3g}"


def readings_frame(readings: Sequence[ReadingResult]) -> Any:
    """One row per reading (``ReadingResult.to_dict``)."""
    import pandas as pd

    return pd.DataFrame([r.to_dict() for r in readings])


def format_effect(effect: float | None, low: float | None, high: float | None, units: str) -> str:
    """``+3.1 pp [+1.0, +5.2]`` for accuracies, plain numbers with units otherwise."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (effect, low, high)):
        return "-"
    if units == "accuracy":
        return f"{100 * effect:+.1f} pp [{100 * low:+.1f}, {100 * high:+.1f}]"
    return f"{effect:+.3g} {units} [{low:+.3g}, {high:+.3g}]"


# ------------------------------------------------------------------------------------------------
# tidy tables for figures


def _flatten(prefix: str, node: Any, out: dict[str, Any]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    elif isinstance(node, bool):
        return
    elif isinstance(node, int | float) or node is None:
        out[prefix] = node


def metrics_frame(
    results: ExperimentResults, skip: Iterable[str] = ("per_class", "history")
) -> Any:
    """One row per (configuration, seed) with every scalar metric as a column (``test.top1``...).

    Columns ``config`` (id), ``label`` (the experiment's label for it) and ``seed`` come first.
    """
    import pandas as pd

    skipped = set(skip)
    rows = []
    for config_id, by_seed in results.runs.items():
        for seed, metrics in sorted(by_seed.items()):
            flat: dict[str, Any] = {}
            for key, value in metrics.items():
                if key not in skipped:
                    _flatten(key, _drop(value, skipped), flat)
            rows.append(
                {
                    "config": config_id,
                    "label": results.experiment.label(config_id),
                    "seed": seed,
                    **flat,
                }
            )
    return pd.DataFrame(rows)


def _drop(node: Any, skipped: set[str]) -> Any:
    if isinstance(node, Mapping):
        return {k: _drop(v, skipped) for k, v in node.items() if k not in skipped}
    return node


def online_frame(results: ExperimentResults, eval_name: str = "test") -> Any:
    """The online curves: one row per (configuration, seed, frames seen) with the accuracy."""
    import pandas as pd

    rows = []
    for config_id, by_seed in results.runs.items():
        for seed, metrics in sorted(by_seed.items()):
            curve = (metrics.get(eval_name) or {}).get("online") or []
            for t, accuracy in enumerate(curve, start=1):
                rows.append(
                    {
                        "config": config_id,
                        "label": results.experiment.label(config_id),
                        "seed": seed,
                        "frames_seen": t,
                        "accuracy": accuracy,
                    }
                )
    return pd.DataFrame(rows, columns=["config", "label", "seed", "frames_seen", "accuracy"])


# ------------------------------------------------------------------------------------------------
# the terminal report


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    body = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def inference_notes(readings: Sequence[ReadingResult], n_seeds: int) -> dict[str, Any]:
    """The numbers the report and chapter 8 quote about the inference itself."""
    family = [r for r in readings if r.primary and r.p is not None and not r.gate and not r.exact]
    m = len(family) or 1
    return {
        "claims": len(CLAIMS),
        "family": len(family),
        "not_testable": sum(r.primary and r.verdict == NOT_TESTABLE for r in readings),
        "gated": sum(r.primary and bool(r.gate) for r in readings),
        "seeds": n_seeds,
        "smallest_p": smallest_p(n_seeds),
        "holm_first": ALPHA / m,
        "seeds_needed": seeds_needed(len(CLAIMS)),
        "seeds_needed_family": seeds_needed(m),
        "aa_rate": simulate_aa(n_seeds, trials=1000),
        "aa_rate_needed": simulate_aa(seeds_needed(len(CLAIMS)), trials=1000),
        "aa_config": "temporal_features/image",
        "aa_seeds": 2 * n_seeds,
    }


def print_report(
    profile: str | Profile = "book", results_dir: str | os.PathLike | None = None
) -> str:
    """Print (and return) the verdict tables; missing or stale experiments are listed, not fatal."""
    prof = get_profile(profile)
    loaded: dict[str, ExperimentResults] = {}
    problems: list[str] = []
    for name in EXPERIMENTS:
        try:
            loaded[name] = load_experiment(name, prof, results_dir)
        except StaleResultsError as error:
            problems.append(str(error))
            loaded[name] = load_experiment(name, prof, results_dir, strict=False)
    readings = judge([r for results in loaded.values() for r in analyse(results)])
    claims = claim_table(readings)
    notes = inference_notes(readings, len(prof.seeds))
    level = f"{LEVEL:.0%}"
    lines = [
        f"RViT reproducibility study, profile {prof.name!r}",
        "",
        "Inference. The seed is the unit: strata are averaged within each seed. Effect: the mean "
        f"over seeds with a paired t interval at {level}; its variance adds the test-set draw "
        "(the binomial variance of each accuracy on its test videos, bounded for any correlation "
        "between them), because every seed is tested on the same videos (evaluation seeds are "
        "fixed), so the spread between seeds does not contain that draw. Test: exact sign-flip "
        "permutation test, two-sided; equivalence readings (does not suffer / ensures / works) "
        "use TOST with the margin fixed in the registry. Correction: Holm over the primary "
        f"readings of the {notes['family']} claims that pass the learning gate (family-wise "
        f"error {ALPHA:.0%}); secondary readings are uncorrected. Verdicts: supported, "
        "contradicted, equivalent, inconclusive, not testable.",
        "",
        f"What {notes['seeds']} seeds can show: the smallest two-sided sign-flip p-value of "
        f"{notes['seeds']} seeds is {notes['smallest_p']:.3g}; Holm's first step over "
        f"{notes['family']} claims needs p <= {notes['holm_first']:.3g}, which takes at least "
        f"{notes['seeds_needed_family']} seeds ({notes['seeds_needed']} over all "
        f"{notes['claims']} claims). "
        + (
            "With the committed seeds no claim can be supported, contradicted or shown "
            "equivalent: every testable claim below is inconclusive, whatever its effect."
            if notes["seeds"] < notes["seeds_needed_family"]
            else "The committed seeds are enough for a claim to pass the corrected test."
        ),
        "",
    ]
    for table, title in (("comparison", "Comparison table"), ("insights", "Key insights")):
        part = claims[claims.table == table]
        rows = [
            [
                r.row if table == "comparison" else f"{r.row} ({r.kind})",
                r.label,
                _test_label(r.test, r.margin, r.units),
                format_effect(r.effect, r.low, r.high, r.units),
                format_p(r.p),
                format_p(r.p_holm),
                r.verdict,
                str(r.seeds),
            ]
            for r in part.itertuples()
        ]
        header = [
            "claim",
            "primary reading",
            "test",
            f"effect [{level} t CI]",
            "p",
            "p (Holm)",
            "verdict",
            "seeds",
        ]
        lines += [title, _table(rows, header), ""]
    rows = [
        [
            r.claim,
            r.label,
            _test_label(r.test, r.margin, r.units),
            r.effect_text,
            format_p(r.p),
            r.verdict,
            str(r.seeds),
        ]
        for r in readings
        if not r.primary
    ]
    lines += [
        "Secondary readings (uncorrected p; not part of the claims' verdicts)",
        _table(
            rows, ["claim", "reading", "test", f"effect [{level} t CI]", "p", "verdict", "seeds"]
        ),
        "",
    ]
    bars, baseline = pixel_bar_readings(loaded)
    if bars:
        pixel = [m[_PIXEL_BAR[2]]["top1"] for m in baseline.values()]
        first = next(iter(baseline.values()))[_PIXEL_BAR[2]]
        lines += [
            f"Pixel baseline (no training): each frame of a test video takes the class of its "
            f"nearest training still (Euclidean distance between pixel values), the video the "
            f"majority vote of its frames, over the {first['stills']} training stills of "
            f"{_PIXEL_BAR[0]}/{_PIXEL_BAR[1]} and its {first['videos']} test videos: top-1 "
            f"{sum(pixel) / len(pixel):.1%} (seeds "
            + ", ".join(f"{v:.1%}" for v in pixel)
            + f"; chance {first['chance']:.1%}). The versatility readings take FrameViT as their "
            "bar; this one asks whether a model trained on the stills does better than matching "
            "frames to them pixel by pixel (uncorrected, like the secondary readings):",
            _table(
                [
                    [
                        r.label,
                        r.effect_text,
                        format_p(r.p),
                        r.verdict,
                        "passes"
                        if r.interval and r.interval.low > 0
                        else "fails"
                        if r.interval and r.interval.high < 0
                        else "undecided",
                        str(r.seeds),
                    ]
                    for r in bars
                ],
                ["reading", f"effect [{level} t CI]", "p", "verdict", "bar", "seeds"],
            ),
            "",
        ]
    out = Path(results_dir) if results_dir is not None else default_results_dir(prof)
    lines += attention_lines(out / "bench", (prof.image_size // prof.patch_size) ** 2)
    gate = LEARNING_GATE
    gates = gate_frame(loaded)
    failed = gates[~gates.passed] if len(gates) else gates
    videos = gates[gates.modality == "video"]
    lines += [
        f"Learning gate: {gate.metric} (mean over seeds) at least {gate.fraction:.0%} of the "
        "ceiling of the training modality ("
        + ", ".join(f"{k} {v:.0%}" for k, v in gate.ceilings.items())
        + f"). {len(gates) - len(failed)} of {len(gates)} distinct configurations pass; readings "
        f"that use one that fails are not testable at this budget ({notes['gated']} primary "
        f"readings). A gate at 90 % of the ceiling would fail {int((gates.share < 0.9).sum())}, "
        f"among them {int((videos.share < 0.9).sum())} of the {len(videos)} video-trained ones, "
        "most trained on frames degraded by the domain gap, where 100 % is out of reach; the "
        "share column shows where each stands.",
        _table(
            [
                [
                    g.configuration,
                    str(g.modality),
                    f"{g.train:.1%}",
                    f"{g.ceiling:.0%}",
                    f"{g.share:.0%}",
                    "pass" if g.passed else "FAIL",
                ]
                for g in gates.sort_values("share").itertuples()
            ],
            ["configuration", "modality", "train acc", "ceiling", "share", "gate"],
        ),
        "",
        *(
            f"Not testable at this budget: {r.claim} ({r.role}, {r.label}): " + "; ".join(r.gate)
            for r in readings
            if r.gate
        ),
        "",
        aa_line(loaded, notes),
    ]
    wall, cpu, runs = study_compute(loaded)
    lines += [
        "",
        f"{runs} training runs (each counted once): {wall / 60:.1f} min wall time, "
        f"{cpu / 60:.1f} min CPU time",
        "",
        traceability_line(loaded, prof),
    ]
    readers = {
        b: [e.name for e in _bench_readers(loaded, b)]
        for b in sorted({r.experiment.bench for r in loaded.values() if r.experiment.bench})
    }
    if (out / "bench" / "attention.json").is_file():
        readers.setdefault("attention", []).append("attention cost table")
    if readers:
        lines += [
            "",
            "Benchmark files the study reads (their commit and code, checked with git; rerun the "
            "benchmark from a clean tree when stale):",
            *(
                f"- bench/{b}.json ({', '.join(names)}): {check_bench(b, out / 'bench')}"
                for b, names in readers.items()
            ),
        ]
    if problems:
        lines += ["", "Missing or stale:", *(f"- {p}" for p in problems)]
    text = "\n".join(
        textwrap.fill(ln, 100) if len(ln) > 100 and "  " not in ln else ln for ln in lines
    )
    print(text)
    return text


def attention_cost(bench_dir: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The cost of a recurrent block against the tokens of a frame, from ``bench/attention.json``.

    ``{"rows": [{"tokens", "linear_ms", "hybrid_ms", "ratio"}], "crossover", "exponents",
    "settings"}``: median time per call of the paper's block (linear attention within the frame)
    and the variant's (softmax within the frame), their ratio, the token count where they cross
    and the fitted growth exponents. None when the benchmark file is missing.
    """
    try:
        bench = load_bench("attention", bench_dir)
    except StaleResultsError:
        return None
    times = {(pt["kind"], int(pt["N"])): float(pt["seconds_median"]) for pt in bench["points"]}
    tokens = sorted({n for kind, n in times if kind == "linear_block"})
    rows = [
        {
            "tokens": n,
            "linear_ms": 1e3 * times[("linear_block", n)],
            "hybrid_ms": 1e3 * times[("hybrid_block", n)],
            "ratio": times[("hybrid_block", n)] / times[("linear_block", n)],
        }
        for n in tokens
        if ("hybrid_block", n) in times
    ]
    exponents = bench.get("scaling_exponents", {})
    return {
        "rows": rows,
        "crossover": (bench.get("crossovers") or {}).get("block_time", {}).get("N"),
        "exponents": {
            k: exponents.get(k, {}).get("seconds") for k in ("linear_block", "hybrid_block")
        },
        "settings": bench.get("settings", {}),
    }


def attention_lines(bench_dir: str | os.PathLike | None, tokens: int) -> list[str]:
    """The report's table of attention cost against tokens per frame (empty without the file)."""
    cost = attention_cost(bench_dir)
    if cost is None or not cost["rows"]:
        return []
    exp = cost["exponents"]
    cross = cost["crossover"]
    return [
        f"Attention cost against tokens per frame (bench/attention.json: median time of one "
        f"recurrent block per frame, batch 1, one thread; the study's frames have {tokens} "
        f"tokens). Time grows as tokens^{exp['linear_block']:.2f} for the paper's linear block and "
        f"tokens^{exp['hybrid_block']:.2f} for the hybrid one; they cross at about "
        + (f"{cross:.0f}" if cross is not None else "no measured")
        + " tokens:",
        _table(
            [
                [
                    str(r["tokens"]),
                    f"{r['linear_ms']:.3f}",
                    f"{r['hybrid_ms']:.3f}",
                    f"{r['ratio']:.2f}",
                ]
                for r in cost["rows"]
            ],
            ["tokens", "linear block (ms)", "hybrid block (ms)", "hybrid / linear"],
        ),
        "",
    ]


AA_METRIC = "test.top1"
"""The metric the A/A control compares."""


def aa_control(loaded: Mapping[str, ExperimentResults]) -> dict[str, Any] | None:
    """The A/A control on the stored seeds of ``aa_control/image`` (None without 4 or more).

    ``{"seeds", "pairs", "splits", "rate", "mean", "sd"}``: the rate of verdicts other than
    inconclusive over splits of the seeds into two disjoint sets (:func:`rvit.study.stats.aa_rate`).
    """
    results = loaded.get("aa_control")
    runs = results.runs.get("image", {}) if results is not None else {}
    values = [get_metric(runs[s], AA_METRIC) for s in sorted(runs)]
    values = [v for v in values if v is not None]
    if len(values) < 4:
        return None
    rate, splits = aa_rate(values[: 2 * (len(values) // 2)])
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return {
        "seeds": len(values),
        "pairs": len(values) // 2,
        "splits": splits,
        "rate": rate,
        "mean": mean,
        "sd": sd,
    }


def aa_line(loaded: Mapping[str, ExperimentResults], notes: Mapping[str, Any]) -> str:
    """The report's paragraph on the A/A control: measured when its runs exist, else simulated."""
    at_needed = (
        f" and {notes['aa_rate_needed']:.1%} at {notes['seeds_needed']} seeds"
        if notes["seeds_needed"] != notes["seeds"]
        else ""
    )
    simulated = (
        f"On simulated nulls the rule gives a verdict other than inconclusive in "
        f"{notes['aa_rate']:.1%} of A/A comparisons at {notes['seeds']} seeds{at_needed} "
        f"(nominal {ALPHA:.0%})."
    )
    aa = aa_control(loaded)
    if aa is None:
        return (
            f"A/A control: not run. It needs two disjoint seed sets of one configuration "
            f"({notes['aa_config']}, >= {notes['aa_seeds']} seeds). " + simulated
        )
    return (
        f"A/A control: the image-trained paper RViT with {aa['seeds']} seeds (top-1 on the test "
        f"videos {aa['mean']:.1%}, sd {aa['sd']:.1%} between seeds), split {aa['splits']} times "
        f"into two disjoint sets of {aa['pairs']} paired in order; the study's rule (t interval "
        f"and sign-flip test at {ALPHA:.0%}, no correction) gives a verdict other than "
        f"inconclusive in {aa['rate']:.1%} of the splits (nominal at most {ALPHA:.0%}; the splits "
        "share seeds, so this describes these seeds rather than a new draw). " + simulated
    )


def traceability_line(
    loaded: Mapping[str, ExperimentResults], profile: str | Profile | None = None
) -> str:
    """How many results are checked against the code that made them, and their commits.

    For an open profile that code is today's; a closed profile (:attr:`Profile.closed`) is the
    record of an earlier study version, whose results answer to the code hash it records."""
    prof = get_profile(profile) if profile is not None else None
    records = [r for results in loaded.values() for r in results.records]
    checked = sum(verified(r) for r in records)
    commits = sorted(
        {
            str(r.get("provenance", {}).get("git", {}).get("commit") or "none")[:7]
            + ("+dirty" if r.get("provenance", {}).get("git", {}).get("dirty") else "")
            for r in records
        }
    )
    shown = ", ".join(commits[:4]) + (f" and {len(commits) - 4} more" if len(commits) > 4 else "")
    if prof is not None and prof.closed:
        matched = (
            f"match the code of the closed version that made them (code hash {prof.code}); "
            "today's package has changed since, and the next version reruns on it"
        )
    else:
        matched = "match today's"
    text = (
        f"Traceability: {len(records)} results from {len(commits)} commit(s) ({shown}). "
        f"{checked} record their fully resolved configuration and the hash of the code that can "
        f"change metrics, and {matched}"
    )
    if checked < len(records):
        text += (
            f"; {len(records) - checked} were written before results recorded either, so they "
            "are matched on their configuration alone and nothing shows that today's code gives "
            "their metrics"
        )
    return text + "."


def _bench_readers(loaded: Mapping[str, ExperimentResults], bench: str) -> list[Experiment]:
    return [r.experiment for r in loaded.values() if r.experiment.bench == bench]


def _test_label(test: str, margin: float | None, units: str) -> str:
    """``sign-flip``, or ``TOST +-3 pp`` for an equivalence reading."""
    if margin is None or math.isnan(margin):
        return test
    shown = f"{100 * margin:.0f} pp" if units == "accuracy" else f"{margin:g} {units}"
    return f"{test} +-{shown}"
