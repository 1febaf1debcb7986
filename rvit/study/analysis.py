"""Read the study's results and compute every number its readings give, once; no prose.

The terminal report (:func:`rvit.study.text.print_report`) and chapters 8 and 8.1 read their numbers
here and their sentences in :mod:`rvit.study.text`:

* :func:`load_experiment` checks and loads one experiment's results (a missing or stale result
  raises :class:`StaleResultsError`, whose message names the command that reruns it);
  :func:`load_study` loads every experiment and lists the problems instead of stopping;
* :func:`analyse` turns them into one :class:`ReadingResult` per reading (effect per seed, paired
  t interval, sign-flip or TOST p-value, learning gate, uncorrected verdict) and :func:`judge`
  applies Holm's correction over the claims' primary readings (:func:`study_results` does both);
* :func:`claim_table` gives one row per claim of the proposal, from its primary reading;
  :func:`gate_check`, :func:`gate_frame` and :func:`gate_summary` the learning gate of every
  trained configuration; :func:`inference_notes` what the seeds can show;
* :func:`pixel_bar` the pixel nearest-neighbour baseline and the readings against it,
  :func:`aa_control` the A/A control, :func:`attention_cost` the attention benchmark,
  :func:`study_compute` the compute behind the results, :func:`traceability` their provenance and
  :func:`bench_files` the benchmark files the study reads;
* :func:`metrics_frame` and :func:`online_frame` give tidy tables for the figures.

Everything returns plain data: dataclasses, dicts and DataFrames.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvit.study.bench import check_bench, load_bench, memory_runs
from rvit.study.claims import CLAIMS
from rvit.study.design import pairwise_contrast
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
    VERDICTS,
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
    "AA_METRIC",
    "PIXEL_BAR",
    "PIXEL_NN",
    "STRICT_GATE",
    "ExperimentResults",
    "ReadingResult",
    "StaleResultsError",
    "aa_control",
    "analyse",
    "analyse_reading",
    "analyse_study",
    "attention_cost",
    "bar_status",
    "bench_files",
    "claim_table",
    "contrast_values",
    "failed_configs",
    "gate_check",
    "gate_frame",
    "gate_summary",
    "get_metric",
    "inference_notes",
    "judge",
    "load_experiment",
    "load_study",
    "metrics_frame",
    "online_frame",
    "pixel_bar",
    "pixel_bar_readings",
    "pixel_baseline",
    "readings_frame",
    "rerun_command",
    "study_compute",
    "study_results",
    "traceability",
    "verdict_counts",
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

PIXEL_BAR = ("temporal_features", "image", "test")
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
    name, config_id, eval_name = PIXEL_BAR
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


def bar_status(result: ReadingResult) -> str:
    """Where a reading against the pixel baseline stands: ``passes`` (its interval lies above
    zero), ``fails`` (below zero) or ``undecided``."""
    interval = result.interval
    if interval and interval.low > 0:
        return "passes"
    if interval and interval.high < 0:
        return "fails"
    return "undecided"


def pixel_bar(loaded: Mapping[str, ExperimentResults]) -> dict[str, Any] | None:
    """The pixel baseline and the readings against it (:func:`pixel_bar_readings`), with what is
    said of them: ``{"experiment", "config", "readings", "bars", "baseline", "top1", "mean",
    "stills", "videos", "chance"}`` (``top1``: the baseline's accuracy per seed, ``bars``: the
    :func:`bar_status` of each reading). None when there is nothing to read."""
    readings, baseline = pixel_bar_readings(loaded)
    if not readings:
        return None
    name, config_id, eval_name = PIXEL_BAR
    top1 = [m[eval_name]["top1"] for m in baseline.values()]
    first = next(iter(baseline.values()))[eval_name]
    return {
        "experiment": name,
        "config": config_id,
        "readings": readings,
        "bars": [bar_status(r) for r in readings],
        "baseline": baseline,
        "top1": top1,
        "mean": sum(top1) / len(top1),
        "stills": first["stills"],
        "videos": first["videos"],
        "chance": first["chance"],
    }


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
    return loaded, analyse_study(loaded)


def analyse_study(loaded: Mapping[str, ExperimentResults]) -> list[ReadingResult]:
    """Every reading of every loaded experiment, judged together (:func:`judge`)."""
    return judge([r for results in loaded.values() for r in analyse(results)])


def load_study(
    profile: str | Profile = "book", results_dir: str | os.PathLike | None = None
) -> tuple[dict[str, ExperimentResults], list[str]]:
    """Every experiment's results without stopping on a problem: the results that answer the
    registry, and one message (naming the command that reruns them) per experiment with missing or
    stale results, which are left out."""
    prof = get_profile(profile)
    loaded: dict[str, ExperimentResults] = {}
    problems: list[str] = []
    for name in EXPERIMENTS:
        try:
            loaded[name] = load_experiment(name, prof, results_dir)
        except StaleResultsError as error:
            problems.append(str(error))
            loaded[name] = load_experiment(name, prof, results_dir, strict=False)
    return loaded, problems


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


STRICT_GATE = 0.9
"""The share of the ceiling a stricter learning gate would ask for (the report says what it would
fail)."""


def gate_summary(gates: Any) -> dict[str, Any]:
    """What the report and chapter 8 say of the learning gate, from :func:`gate_frame`:
    ``{"configurations", "passed", "failed" (their names), "strict", "strict_failed", "videos",
    "strict_failed_video"}`` (``strict_failed``: how many a gate at :data:`STRICT_GATE` of the
    ceiling would fail, ``strict_failed_video`` among the ``videos`` video-trained ones)."""
    failed = gates[~gates.passed] if len(gates) else gates
    videos = gates[gates.modality == "video"]
    return {
        "configurations": len(gates),
        "passed": len(gates) - len(failed),
        "failed": list(failed.configuration),
        "strict": STRICT_GATE,
        "strict_failed": int((gates.share < STRICT_GATE).sum()),
        "videos": len(videos),
        "strict_failed_video": int((videos.share < STRICT_GATE).sum()),
    }


def failed_configs(results: ExperimentResults) -> list[str]:
    """The configurations of an experiment that fail the learning gate, in the registry's order."""
    checks = gate_check(results)
    return [c for c in results.experiment.configs if c in checks and not checks[c]["passed"]]


def verdict_counts(claims: Any) -> dict[str, int]:
    """How many claims of :func:`claim_table` have each verdict (every verdict, zeros included)."""
    counts = claims.verdict.value_counts()
    return {verdict: int(counts.get(verdict, 0)) for verdict in VERDICTS}


def readings_frame(readings: Sequence[ReadingResult]) -> Any:
    """One row per reading (``ReadingResult.to_dict``)."""
    import pandas as pd

    return pd.DataFrame([r.to_dict() for r in readings])


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


def inference_notes(readings: Sequence[ReadingResult], n_seeds: int) -> dict[str, Any]:
    """The numbers the report and chapter 8 quote about the inference itself.

    ``family`` is the number of claims Holm's correction runs over (primary readings that pass the
    learning gate and are not exact), ``holm_first`` the p-value its first step needs and
    ``seeds_needed_family`` the seeds that can give it (``seeds_needed`` over all ``claims``).
    ``few_seeds`` is the one test of whether the seeds are too few for any claim of the family to
    pass the corrected test (fewer than ``seeds_needed_family``). ``aa_rate`` and
    ``aa_rate_needed``: the simulated A/A rate at ``seeds`` and at ``seeds_needed`` seeds.
    """
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
        "few_seeds": n_seeds < seeds_needed(m),
    }


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


def traceability(loaded: Mapping[str, ExperimentResults]) -> dict[str, Any]:
    """Where the loaded results come from: ``{"results", "checked", "commits"}``: how many results,
    how many record what :func:`rvit.study.store.verified` checks, and their commits (seven digits,
    ``+dirty`` for a work tree with changes; ``none`` where a result records none), sorted."""
    records = [r for results in loaded.values() for r in results.records]
    commits = sorted(
        {
            str(r.get("provenance", {}).get("git", {}).get("commit") or "none")[:7]
            + ("+dirty" if r.get("provenance", {}).get("git", {}).get("dirty") else "")
            for r in records
        }
    )
    return {
        "results": len(records),
        "checked": sum(verified(r) for r in records),
        "commits": commits,
    }


def bench_files(
    loaded: Mapping[str, ExperimentResults], bench_dir: str | os.PathLike
) -> dict[str, dict[str, Any]]:
    """The benchmark files the study reads: ``{name: {"experiments", "cost_table", "status"}}``,
    the experiments that read ``bench/<name>.json``, whether the attention cost table reads it and
    its :func:`rvit.study.bench.check_bench` status. The experiments' files come first (sorted),
    the attention benchmark last when only the cost table reads it."""
    folder = Path(bench_dir)
    names = sorted({r.experiment.bench for r in loaded.values() if r.experiment.bench})
    files = {
        b: {
            "experiments": [r.experiment.name for r in loaded.values() if r.experiment.bench == b],
            "cost_table": False,
        }
        for b in names
    }
    if (folder / "attention.json").is_file():
        files.setdefault("attention", {"experiments": [], "cost_table": False})["cost_table"] = True
    for b, entry in files.items():
        entry["status"] = check_bench(b, folder)
    return files
