"""Read the study's results and compute every number its readings give, once; no prose.

The terminal report (:func:`rvit.study.text.print_report`) and chapters 8 and 8.1 read their numbers
here and their sentences in :mod:`rvit.study.text`:

* :func:`load_experiment` checks and loads one experiment's results (a missing or stale result
  raises :class:`StaleResultsError`, whose message names the command that reruns it);
  :func:`load_study` loads every experiment and lists the problems instead of stopping;
* :func:`analyse` turns them into one :class:`ReadingResult` per reading (effect per seed, its
  interval and p-value, learning gate, uncorrected verdict) and :func:`judge` applies Holm's
  correction over the claims' primary readings (:func:`study_results` does both). A reading of
  per-video quantities on results that store per-video outcomes, each seed on test sets of its own
  (version 3 on), is read by the hierarchical bootstrap of :mod:`rvit.study.bootstrap`; any other
  (the closed book profile's results, measurements) by the paired t interval and the sign-flip or
  TOST test over seeds (:func:`analyse_reading` says which and why). Sanity checks
  (``Reading.sanity``) stay outside Holm's family and never decide a claim (:func:`sanity_status`);
* :func:`claim_table` gives one row per claim of the proposal, from its primary reading;
  :func:`gate_check`, :func:`gate_frame`, :func:`gate_rows` and :func:`gate_summary` the learning
  gate of every trained configuration; :func:`inference_notes` what the seeds can show;
* :func:`pixel_bar` the pixel nearest-neighbour baseline (on the test videos and, where the
  image-trained configuration has them, on held-out stills) and the readings against it,
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

import numpy as np

from rvit.study.bench import check_bench, load_bench, memory_runs
from rvit.study.bootstrap import BootstrapResult, SeedOutcomes, VideoTerm, equivalence
from rvit.study.bootstrap import hierarchical_bootstrap as _hierarchical_bootstrap
from rvit.study.claims import CLAIMS
from rvit.study.datasets import eval_data_seed
from rvit.study.design import pairwise_contrast
from rvit.study.experiments import EXPERIMENTS, get_experiment
from rvit.study.outcomes import QUANTITIES, MissingOutcomesError, has_outcomes, per_video
from rvit.study.outcomes import motion_pair as _motion_pair
from rvit.study.outcomes import outcomes as _outcomes
from rvit.study.profiles import Profile, get_profile
from rvit.study.schema import Contrast, Experiment, Reading, Term
from rvit.study.stats import (
    ALPHA,
    CONTRADICTED,
    EQUIVALENT,
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
    "BOOTSTRAP",
    "BOOTSTRAP_DRAWS",
    "BOOTSTRAP_SEED",
    "EXACT",
    "GATE_METRIC_NAMES",
    "PIXEL_BAR",
    "PIXEL_NN",
    "PIXEL_STILLS",
    "SANITY_FAILS",
    "SANITY_HOLDS",
    "STRICT_GATE",
    "T_OVER_SEEDS",
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
    "gate_metric_name",
    "gate_rows",
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
    "sanity_status",
    "study_compute",
    "study_results",
    "traceability",
    "verdict_counts",
]


def rerun_command(names: Iterable[str], profile: str) -> str:
    """The command that (re)runs experiments ``names`` at ``profile``."""
    return f"python -m rvit study run {' '.join(names)} --profile {profile}".replace("  ", " ")


def get_metric(metrics: Mapping[str, Any], path: str) -> float | None:
    """The number at dotted ``path`` in a run's metrics (``"test.top1"``); None when absent.

    ``<eval>.motion_pair`` that the metrics do not store is computed from the evaluation's
    per-video outcomes (:func:`rvit.study.outcomes.motion_pair`); an evaluation that has neither
    raises :class:`~rvit.study.outcomes.MissingOutcomesError` (a result that predates outcomes), one
    that is absent or failed gives None.
    """
    node: Any = metrics
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            node = node[int(part)]
        else:
            return _from_outcomes(metrics, path)
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    value = float(node)
    return None if math.isnan(value) else value


def _from_outcomes(metrics: Mapping[str, Any], path: str) -> float | None:
    """The metrics :func:`get_metric` computes from per-video outcomes when they are not stored."""
    name, _, quantity = path.partition(".")
    entry = metrics.get(name)
    if quantity != "motion_pair" or not isinstance(entry, Mapping) or "error" in entry:
        return None
    if not has_outcomes(metrics, name):
        raise MissingOutcomesError(
            f"evaluation {name!r} stores no motion_pair and no per-video outcomes to compute it "
            "from: the result predates them (results written before version 3 of the study store "
            "aggregates only); rerun it with today's code at an open profile"
        )
    return _motion_pair(metrics, name)


@dataclass
class ExperimentResults:
    """One experiment's stored results: ``runs[config_id][seed]`` is a run's metrics.

    ``extra_specs``: the evaluation specifications (``{config_id: {eval: spec}}``) of runs that are
    not configurations of the experiment, such as the pixel baseline's, so that the bootstrap knows
    which videos they were scored on.
    """

    experiment: Experiment
    runs: dict[str, dict[int, dict[str, Any]]]
    records: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    extra_specs: dict[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)

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

BOOTSTRAP = "hierarchical bootstrap (seeds, videos within seed by class)"
"""The method of a reading read by :func:`rvit.study.bootstrap.hierarchical_bootstrap`."""
T_OVER_SEEDS = "t over seeds"
"""The method of a reading read by the paired t interval and the sign-flip (or TOST) test."""
EXACT = "exact (sign at every seed)"
"""The method of an exact reading (:func:`_exact_reading`)."""

BOOTSTRAP_DRAWS = 9_999
"""The draws of every reading's bootstrap: ``(B + 1) * 0.025`` is a whole 250 draws in each tail
of the 95 % interval, and the smallest two-sided p-value, ``2 / (B + 1)`` = 0.0002, lies well
below Holm's first step over the study's claims (0.05 / 18 = 0.0028). The readings of the v3
profile (36 of them, twelve seeds of 240 videos per evaluation) take about ten seconds on two busy
cores, a third of a second each."""
BOOTSTRAP_SEED = 20_240_601
"""The seed of every reading's bootstrap, so the report gives the same numbers each time."""

SANITY_HOLDS = "holds"
SANITY_FAILS = "fails"


@dataclass
class ReadingResult:
    """The outcome of one reading: the effect per seed, its interval, its test and the verdict.

    ``values`` holds one number per seed (in ``seed_ids``; strata averaged within each seed).
    ``p`` is the raw p-value of the reading's test (two-sided sign-flip, or TOST for an equivalence
    reading; from the bootstrap when ``method`` is :data:`BOOTSTRAP`); ``p_holm`` the Holm-adjusted
    one for a primary reading after :func:`judge` (None for secondary readings and sanity checks,
    which stay uncorrected). ``gate`` lists the configurations that failed the learning gate (then
    the verdict is ``not testable``). ``method``: how the interval and the p-value were computed
    (:data:`BOOTSTRAP`, :data:`T_OVER_SEEDS` or :data:`EXACT`). ``sanity``: the reading is a sanity
    check (``Reading.sanity``): it holds by construction, so it is reported apart
    (:func:`sanity_status`), never in Holm's family.
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
    method: str = ""
    sanity: bool = False

    @property
    def seeds(self) -> int:
        """The number of seeds behind the effect (one value each)."""
        return len(self.values)

    @property
    def test(self) -> str:
        if self.exact:
            return "exact"
        if self.margin is not None:
            return "TOST"
        return "bootstrap" if self.method == BOOTSTRAP else "sign-flip"

    @property
    def bootstrapped(self) -> bool:
        """Whether the interval and the p-value come from the hierarchical bootstrap."""
        return self.method == BOOTSTRAP

    @property
    def role(self) -> str:
        if self.sanity:
            return "sanity check"
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
            "method": self.method,
            "sanity": sanity_status(self) if self.sanity else None,
        }


def sanity_status(result: ReadingResult) -> str:
    """Whether a sanity check holds: ``holds`` when its reading shows what holds by construction
    (supported, or equivalent for one with a margin), ``not testable`` when a configuration failed
    the learning gate or there are no numbers, ``fails`` otherwise: then the set-up (the synthetic
    world, the evaluation or the arithmetic) is broken, and the readings built on it are not to be
    trusted."""
    if result.verdict == NOT_TESTABLE:
        return NOT_TESTABLE
    return SANITY_HOLDS if result.verdict in (SUPPORTED, EQUIVALENT) else SANITY_FAILS


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


def _term_metric(
    runs: Mapping[str, Mapping[int, Mapping[str, Any]]], term: Term, seed: int
) -> float | None:
    """:func:`get_metric` of one term's run, the run named when its outcomes are missing."""
    try:
        return get_metric(runs[term.config][seed], term.metric or "")  # type: ignore[index]
    except MissingOutcomesError as error:
        raise MissingOutcomesError(f"run {term.config!r} seed {seed}: {error}") from None


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
                value = _term_metric(runs, term, seed)
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


GATE_METRIC_NAMES = {
    "train.top1": "training top-1",
    "fit_val.top1": "held-out top-1 in eval mode",
}
"""What the learning gate's metric is, in words (the book profile's gate reads the training
accuracy of the last epoch; from version 3 on the gate reads held-out data in eval mode)."""


def gate_metric_name(metric: str) -> str:
    """The gate's metric in words (:data:`GATE_METRIC_NAMES`; the metric's path otherwise)."""
    return GATE_METRIC_NAMES.get(metric, metric)


def gate_check(results: ExperimentResults) -> dict[str, dict[str, Any]]:
    """The learning gate for every configuration of an experiment that has results.

    ``{config_id: {"modality", "metric", "metric_name", "train", "low", "high", "seeds", "ceiling",
    "threshold", "share", "passed"}}``: ``train`` is the mean of the gate's metric over the seeds
    (the training accuracy for the book profile's gate, held-out accuracy in eval mode from version
    3 on), ``low`` and ``high`` its 95 % t interval over the ``seeds`` (unbounded for one seed),
    ``share`` the mean's share of the modality's ceiling. The rule is the mean's: ``passed`` when
    the mean reaches the threshold; the interval says how firmly. Empty when the experiment has no
    gate.
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
        interval = t_interval(accs, LEVEL)
        ceiling = gate.ceiling(config)
        out[config_id] = {
            "modality": config.train.get("modality"),
            "metric": gate.metric,
            "metric_name": gate_metric_name(gate.metric),
            "train": train,
            "low": interval.low,
            "high": interval.high,
            "seeds": len(accs),
            "ceiling": ceiling,
            "threshold": gate.threshold(config),
            "share": train / ceiling,
            "passed": train >= gate.threshold(config),
        }
    return out


def gate_rows(loaded: Mapping[str, ExperimentResults]) -> list[dict[str, Any]]:
    """The learning gate of every configuration of every loaded experiment, in the registry's order,
    shared runs in each experiment that uses them: ``{"experiment", "config", "label",
    **gate_check}``, and for a configuration without results ``{"experiment", "config", "label",
    "modality", "seeds": 0, "passed": None}``. Experiments without a gate are left out."""
    rows: list[dict[str, Any]] = []
    for name, results in loaded.items():
        exp = results.experiment
        if exp.gate is None:
            continue
        checks = gate_check(results)
        for config_id, config in exp.configs.items():
            head = {"experiment": name, "config": config_id, "label": exp.label(config_id)}
            if config_id in checks:
                rows.append({**head, **checks[config_id]})
            else:
                rows.append(
                    {
                        **head,
                        "modality": config.train.get("modality"),
                        "metric": exp.gate.metric,
                        "metric_name": gate_metric_name(exp.gate.metric),
                        "seeds": 0,
                        "threshold": exp.gate.threshold(config),
                        "ceiling": exp.gate.ceiling(config),
                        "passed": None,
                    }
                )
    return rows


PIXEL_NN = "pixel_nn"
"""The name the pixel nearest-neighbour baseline takes among an experiment's configurations."""

PIXEL_BAR = ("temporal_features", "image", "test")
"""The experiment, the image-trained configuration and the evaluation the pixel bar is read on."""

PIXEL_STILLS = "fit_val"
"""The evaluation of held-out stills the pixel bar is also read on, where the image-trained
configuration has it (every configuration from version 3 on)."""

_ON_STILLS = " on held-out stills"  # the end of the label of a pixel-bar reading on PIXEL_STILLS


def pixel_baseline(
    results: ExperimentResults,
    config_id: str = "image",
    eval_name: str = "test",
    stills: str | None = PIXEL_STILLS,
) -> dict[int, dict[str, Any]]:
    """The pixel 1-nearest-neighbour baseline (:mod:`rvit.study.pixel_nn`) on the training stills of
    ``config_id``, scored on its evaluation ``eval_name`` and, when the configuration has it, on its
    held-out stills ``stills``, for each seed with results: ``{seed: {eval_name: {"top1", "videos",
    "stills", "chance", "outcomes"}, stills: {...}}}``, shaped like a run's metrics."""
    from rvit.study.pixel_nn import pixel_nn_metrics

    config = results.experiment.configs[config_id]
    names = [eval_name]
    if stills is not None and stills in config.evals and stills != eval_name:
        names.append(stills)
    return {
        seed: {
            name: pixel_nn_metrics(config.data, config.train, config.evals[name], seed)
            for name in names
        }
        for seed in sorted(results.runs.get(config_id, {}))
    }


def pixel_bar_readings(
    loaded: Mapping[str, ExperimentResults],
) -> tuple[list[ReadingResult], dict[int, dict[str, Any]]]:
    """RViT and FrameViT trained on stills against the pixel 1-nearest-neighbour vote over the same
    stills (effect: model minus baseline, top-1 on the test videos; claimed positive), and, where
    the image-trained configuration has held-out stills (:data:`PIXEL_STILLS`), the same on them.

    The bar a 'works from still images' (versatility) reading must pass: beating chance says little
    when matching frames to training stills pixel by pixel already recognises most test videos.
    These readings are secondary and uncorrected (they are not in the claims' Holm family).
    Returns the readings (the test videos' first) and the baseline's metrics per seed.
    """
    name, config_id, eval_name = PIXEL_BAR
    results = loaded.get(name)
    if results is None or not results.runs.get(config_id):
        return [], {}
    baseline = pixel_baseline(results, config_id, eval_name)
    runs = {**results.runs, PIXEL_NN: baseline}
    config = results.experiment.configs[config_id]
    scored = [eval_name, *(e for e in next(iter(baseline.values())) if e != eval_name)]
    readings = []
    for evaluation in scored:
        where = "test videos" if evaluation == eval_name else "held-out stills"
        suffix = "" if evaluation == eval_name else _ON_STILLS
        for model, short, label in (
            (config_id, "RViT", "image-trained RViT"),
            ("framevit", "FrameViT", "FrameViT"),
        ):
            if not results.runs.get(model):
                continue
            model_config = results.experiment.configs.get(model)
            if model_config is None or evaluation not in model_config.evals:
                continue
            readings.append(
                Reading(
                    "ins.versatility.strength",
                    f"{short} above pixel 1-NN{suffix}",
                    f"The {label} trained on still images beats a pixel 1-nearest-neighbour vote "
                    f"over the same stills on the {where} (effect: {label} minus baseline; "
                    f"claimed positive).",
                    pairwise_contrast(f"{evaluation}.top1", [(model, PIXEL_NN)], 1),
                )
            )
    augmented = ExperimentResults(
        results.experiment,
        runs,
        results.records,
        results.source,
        {**results.extra_specs, PIXEL_NN: config.evals},
    )
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
    "stills", "videos", "chance", "held_out"}`` (``readings``: those on the test videos, ``top1``:
    the baseline's accuracy on them per seed, ``bars``: the :func:`bar_status` of each reading;
    ``held_out``: None, or the same for the held-out stills, ``{"eval", "top1", "mean", "items",
    "readings", "bars"}``). None when there is nothing to read."""
    everything, baseline = pixel_bar_readings(loaded)
    if not everything:
        return None
    readings = [r for r in everything if not r.label.endswith(_ON_STILLS)]
    name, config_id, eval_name = PIXEL_BAR
    top1 = [m[eval_name]["top1"] for m in baseline.values()]
    first = next(iter(baseline.values()))
    held_out = None
    if PIXEL_STILLS in first and PIXEL_STILLS != eval_name:
        still_top1 = [m[PIXEL_STILLS]["top1"] for m in baseline.values()]
        mine = [r for r in everything if r.label.endswith(_ON_STILLS)]
        held_out = {
            "eval": PIXEL_STILLS,
            "top1": still_top1,
            "mean": sum(still_top1) / len(still_top1),
            "items": first[PIXEL_STILLS]["videos"],
            "readings": mine,
            "bars": [bar_status(r) for r in mine],
        }
    return {
        "experiment": name,
        "config": config_id,
        "readings": readings,
        "bars": [bar_status(r) for r in readings],
        "baseline": baseline,
        "top1": top1,
        "mean": sum(top1) / len(top1),
        "stills": first[eval_name]["stills"],
        "videos": first[eval_name]["videos"],
        "chance": first[eval_name]["chance"],
        "held_out": held_out,
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


def _eval_spec(results: ExperimentResults, config: str, name: str) -> Mapping[str, Any] | None:
    """The specification of evaluation ``name`` of run ``config`` (None when unknown)."""
    if config in results.experiment.configs:
        return results.experiment.configs[config].evals.get(name)
    return results.extra_specs.get(config, {}).get(name)


def _video_term(term: Term) -> tuple[str, str] | None:
    """``(eval, quantity)`` when ``term`` reads a per-video quantity of an evaluation."""
    name, _, quantity = (term.metric or "").partition(".")
    if term.config is None or quantity not in QUANTITIES or name in ("", "train"):
        return None
    return name, quantity


def _bootstrap_plan(
    contrast: Contrast,
    strata: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    results: ExperimentResults,
) -> tuple[list[VideoTerm], float, list[tuple[str, str, str]]] | None:
    """The bootstrap's terms, constant and ``(config, eval, quantity)`` keys for a contrast whose
    every config term reads a per-video quantity of an evaluation that each seed draws afresh and
    every run behind ``seeds`` stores the outcomes of; None otherwise (then the t path reads it).

    The strata present (those with values) are averaged within each seed, as :func:`_contrast`
    does, so each term's coefficient is divided by their number.
    """
    present = [terms for terms, info in zip(contrast.strata, strata, strict=True) if info["n"]]
    if not present or not seeds:
        return None
    terms: list[VideoTerm] = []
    constant = 0.0
    keys: dict[tuple[str, str, str], None] = {}
    for stratum in present:
        for term in stratum:
            if term.config is None:
                constant += term.coef * float(term.value) / len(present)  # type: ignore[arg-type]
                continue
            read = _video_term(term)
            if read is None:
                return None
            name, quantity = read
            spec = _eval_spec(results, term.config, name)
            # every seed must have test sets of its own: the nested resampling below draws each
            # seed's videos independently, which a test set shared by every seed is not
            if spec is None or not (spec.get("seed") is None or spec.get("per_seed")):
                return None
            for seed in seeds:
                if not has_outcomes(results.runs[term.config][seed], name):
                    return None
            key = (term.config, name, quantity)
            keys[key] = None
            terms.append(VideoTerm(term.coef / len(present), key))
    return terms, constant, list(keys)


def _seed_outcomes(
    results: ExperimentResults, seed: int, keys: Sequence[tuple[str, str, str]]
) -> SeedOutcomes:
    """One seed's outcomes of every ``(config, eval, quantity)`` in ``keys``, laid out for
    :func:`rvit.study.bootstrap.hierarchical_bootstrap`.

    Evaluations of one seed that share a split and a data seed (:func:`eval_data_seed`: the test
    set, its length, size, gap and probe variants, and any configuration's copy of one of them)
    show the same samples, item ``i`` of each being the same draw of the world: they form one
    *draw*, whose rows are the item indices, so every configuration and evaluation of it is paired
    on the same videos. Evaluations of other draws (``fit_train`` and ``fit_val``, the test set and
    the held-out stills) are independent sets, laid one after the other. Each row's stratum is its
    draw, its true class and which evaluations of the draw have that row (a length variant may
    hold fewer videos than the test set), so a resample keeps every evaluation's count of videos
    of each class, and the videos of different draws are resampled independently.
    """
    draws: list[dict[str, Any]] = []
    located: dict[tuple[str, str], tuple[int, int]] = {}  # (config, eval) -> (draw, member)
    for config, name, _ in keys:
        if (config, name) in located:
            continue
        metrics = results.runs[config][seed]
        stored = _outcomes(metrics, name)
        classes = [str(stored["classes"][int(t)]) for t in stored["targets"]]
        spec = _eval_spec(results, config, name) or {}
        identity = (spec.get("split"), eval_data_seed(spec, seed))
        for index, draw in enumerate(draws):
            rows = draw["classes"]
            overlap = min(len(rows), len(classes))
            if draw["identity"] == identity and rows[:overlap] == classes[:overlap]:
                if len(classes) > len(rows):
                    draw["classes"] = classes
                draw["sizes"].append(len(classes))
                located[config, name] = (index, len(draw["sizes"]) - 1)
                break
        else:
            draws.append({"identity": identity, "classes": classes, "sizes": [len(classes)]})
            located[config, name] = (len(draws) - 1, 0)
    offsets = np.cumsum([0] + [len(d["classes"]) for d in draws])
    strata: dict[tuple[Any, ...], int] = {}
    labels: list[int] = []
    for index, draw in enumerate(draws):
        for row, name in enumerate(draw["classes"]):
            pattern = tuple(size > row for size in draw["sizes"])
            labels.append(strata.setdefault((index, name, pattern), len(strata)))
    values: dict[tuple[str, str, str], np.ndarray] = {}
    for config, name, quantity in keys:
        index, _ = located[config, name]
        column = np.full(int(offsets[-1]), np.nan)
        outcome = per_video(results.runs[config][seed], name, quantity)
        column[offsets[index] : offsets[index] + outcome.size] = outcome
        values[config, name, quantity] = column
    return SeedOutcomes(seed, np.asarray(labels, dtype=np.int64), values)


def _video_bootstrap(
    reading: Reading,
    results: ExperimentResults,
    strata: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    values: Sequence[float],
) -> BootstrapResult | None:
    """The hierarchical bootstrap of a reading (None when it is read by the t path instead)."""
    plan = _bootstrap_plan(reading.contrast, strata, seeds, results)
    if plan is None:
        return None
    terms, constant, keys = plan
    data = [_seed_outcomes(results, seed, keys) for seed in seeds]
    boot = _hierarchical_bootstrap(
        data, terms, n_boot=BOOTSTRAP_DRAWS, level=LEVEL, rng=BOOTSTRAP_SEED, constant=constant
    )
    if not np.allclose(boot.effects, values, rtol=0.0, atol=1e-9):
        raise ValueError(
            f"experiment {results.experiment.name!r}, reading {reading.label!r}: the per-video "
            f"outcomes give the effects {np.round(boot.effects, 6).tolist()} per seed, the stored "
            f"metrics {np.round(values, 6).tolist()}; the results are inconsistent"
        )
    return boot


def analyse_reading(reading: Reading, results: ExperimentResults) -> ReadingResult:
    """Apply one reading to an experiment's results; the verdict is uncorrected.

    :func:`judge` applies Holm's correction across the claims' primary readings.

    **Which inference.** A reading whose every term reads a per-video quantity of an evaluation
    (``<eval>.top1``, ``.appearance``, ``.motion``, ``.motion_direction``, ``.motion_pair``), on
    evaluation sets each seed draws afresh, from runs that all store their per-video outcomes
    (version 3 on), is read by the hierarchical bootstrap (:data:`BOOTSTRAP`,
    :func:`rvit.study.bootstrap.hierarchical_bootstrap`, studentized, :data:`BOOTSTRAP_DRAWS`
    draws from :data:`BOOTSTRAP_SEED`): seeds are resampled, and within each drawn seed its videos
    within each class, the same videos for every configuration; :func:`_seed_outcomes` explains
    how evaluations of one seed are paired (those that share their draw of the world, such as the
    test set and its length variants) or resampled apart (different draws, such as ``fit_train``
    and ``fit_val``). Strata are averaged within each seed, as for the t path. The interval is the
    95 % studentized interval; ``p_diff`` its dual two-sided p-value; an equivalence reading's
    ``p`` is the bootstrap TOST p-value and its ``tost_interval`` the 90 % interval
    (:func:`rvit.study.bootstrap.equivalence`).

    Any other reading (the closed book profile's results, which store no outcomes; test sets
    shared by every seed, whose common draw a resampling within seeds cannot see; measurements
    such as peak memory) keeps the paired t interval over seeds, its variance adding the test-set
    draw, with the exact sign-flip test (TOST for an equivalence reading) (:data:`T_OVER_SEEDS`).
    An exact reading is judged by its sign at every seed (:data:`EXACT`).
    """
    try:
        values, strata, seeds, test_var = _contrast(reading.contrast, results.runs)
    except MissingOutcomesError as error:
        raise MissingOutcomesError(
            f"experiment {results.experiment.name!r}, reading {reading.label!r}: {error}"
        ) from None
    if reading.exact:
        return _exact_reading(
            _untested(
                reading,
                results.experiment.name,
                values,
                strata,
                seeds,
                exact=True,
                method=EXACT,
                sanity=reading.sanity,
            )
        )
    checks = gate_check(results)
    gate = results.experiment.gate
    verb = "trains to" if gate is None or gate.metric == "train.top1" else "reaches"
    failed = [
        f"{c} {verb} {checks[c]['train']:.1%} < {checks[c]['threshold']:.1%}"
        for c in sorted(reading.contrast.configs())
        if c in checks and not checks[c]["passed"]
    ]
    result = _untested(
        reading,
        results.experiment.name,
        values,
        strata,
        seeds,
        margin=reading.margin,
        gate=failed,
        sanity=reading.sanity,
    )
    if len(values) < 2:
        result.note = "fewer than two seeds"
        return result
    boot = _video_bootstrap(reading, results, strata, seeds, values)
    if boot is None:
        result.method = T_OVER_SEEDS
        result.interval = t_interval(values, LEVEL, test_var)
        result.p_diff = sign_flip_p(values)
        if reading.margin is not None:
            result.tost_interval = t_interval(values, 1.0 - 2.0 * ALPHA, test_var)
            result.p = tost_p(values, reading.margin)
        else:
            result.p = result.p_diff
    else:
        result.method = BOOTSTRAP
        std = float(np.std(boot.effects, ddof=1))
        result.interval = Interval(
            boot.estimate, boot.low, boot.high, boot.n_seeds, LEVEL, std, boot.se
        )
        result.p_diff = boot.p_two_sided
        if reading.margin is not None:
            tost = equivalence(boot, reading.margin, ALPHA)
            result.tost_interval = Interval(
                boot.estimate, tost.low, tost.high, boot.n_seeds, tost.level, std, boot.se
            )
            result.p = tost.p
        else:
            result.p = result.p_diff
    if failed:
        result.note = "not testable at this budget: " + "; ".join(failed)
    result.verdict = _verdict(result, result.p, result.p_diff)
    return result


def _family(readings: Sequence[ReadingResult]) -> list[ReadingResult]:
    """Holm's family: the primary readings that have a p-value, passed the learning gate and are
    neither exact nor sanity checks."""
    return [
        r
        for r in readings
        if r.primary and r.p is not None and not r.gate and not r.exact and not r.sanity
    ]


def judge(readings: Sequence[ReadingResult]) -> list[ReadingResult]:
    """Holm's correction over the primary readings of the claims that can be tested.

    Sets ``p_holm`` and the verdict of every primary reading that passed the learning gate (an
    equivalence reading is contradicted only when its two-sided p-value survives Bonferroni over
    the same family, which is stricter than Holm); secondary readings keep their uncorrected
    verdicts. Sanity checks are never in the family (nor is an exact reading): a claim's verdict
    comes from its primary reading alone. Returns ``readings``.
    """
    family = _family(readings)
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
    units, seeds, p, p_holm, method`` (of the primary reading), ``secondary`` (the other readings
    and their uncorrected verdicts), ``sanity`` (its sanity checks and whether each holds),
    ``readings`` (how many) and ``experiments``.
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
                "method": first.method if first else "",
                "secondary": ", ".join(
                    f"{r.label}: {r.verdict}" for r in mine if not r.primary and not r.sanity
                ),
                "sanity": ", ".join(f"{r.label}: {sanity_status(r)}" for r in mine if r.sanity),
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
        "low",
        "high",
        "seeds",
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
    learning gate and are neither exact nor sanity checks), ``holm_first`` the p-value its first
    step needs and ``seeds_needed_family`` the seeds that can give it (``seeds_needed`` over all
    ``claims``). ``few_seeds`` is the one test of whether the seeds are too few for any claim of
    the family to pass the corrected test by the sign-flip test (fewer than
    ``seeds_needed_family``). ``aa_rate`` and ``aa_rate_needed``: the simulated A/A rate at
    ``seeds`` and at ``seeds_needed`` seeds. ``bootstrapped``: how many of the family are read by
    the bootstrap, whose smallest two-sided p-value is ``bootstrap_smallest_p``; ``sanity``: how
    many sanity checks there are, ``sanity_failed`` how many of them do not hold.
    """
    family = _family(readings)
    m = len(family) or 1
    checks = [r for r in readings if r.sanity]
    return {
        "claims": len(CLAIMS),
        "family": len(family),
        "bootstrapped": sum(r.bootstrapped for r in family),
        "bootstrap_smallest_p": 2.0 / (BOOTSTRAP_DRAWS + 1),
        "sanity": len(checks),
        "sanity_failed": sum(sanity_status(r) == SANITY_FAILS for r in checks),
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
