"""Read the study's results, apply the registry's readings and print or tabulate the verdicts.

``python -m rvit study report [--profile book]`` prints the two tables of the proposal with a
verdict in every cell. The book's chapter 8 uses the same functions:

* :func:`load_experiment` checks and loads one experiment's results (a missing or stale result
  raises :class:`StaleResultsError`, whose message names the command that reruns it);
* :func:`analyse` turns them into one :class:`ReadingResult` per reading (effect, interval,
  verdict);
* :func:`claim_table` gives one row per claim of the proposal;
* :func:`metrics_frame` and :func:`online_frame` give tidy tables for the figures.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvit.study.claims import CLAIMS
from rvit.study.experiments import EXPERIMENTS, get_experiment
from rvit.study.profiles import Profile, get_profile
from rvit.study.schema import Contrast, Experiment, Reading
from rvit.study.stats import (
    NOT_MEASURED,
    Interval,
    bootstrap_mean,
    combine_verdicts,
    decide,
)
from rvit.study.store import ROOT, default_results_dir, match_result, result_path

__all__ = [
    "ExperimentResults",
    "ReadingResult",
    "StaleResultsError",
    "analyse",
    "claim_table",
    "get_metric",
    "load_bench",
    "load_experiment",
    "memory_frame",
    "metrics_frame",
    "online_frame",
    "print_report",
    "study_compute",
    "rerun_command",
    "study_results",
]


class StaleResultsError(RuntimeError):
    """A result the registry asks for is missing, or was made with another configuration."""


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


def load_bench(name: str, bench_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """``results/bench/<name>.json`` as written by ``benchmarks/bench_<name>.py``."""
    path = Path(bench_dir or ROOT / "results" / "bench") / f"{name}.json"
    if not path.is_file():
        raise StaleResultsError(
            f"benchmark result {path} is missing; run: python benchmarks/bench_{name}.py"
        )
    return json.loads(path.read_text(encoding="utf-8"))


_MEMORY_COMPARED = ("rvit_stream", "rvit_forward", "clipvit_forward")


def _memory_points(bench: Mapping[str, Any]) -> dict[str, dict[int, list[float]]]:
    """Measured inference points of the length benchmark: ``[method][T] = peak MB per repeat``."""
    by_method: dict[str, dict[int, list[float]]] = {}
    for point in bench.get("points") or []:
        if point.get("task") != "inference" or point.get("status") != "measured":
            continue
        repeats = point.get("memory_bytes") or [point.get("memory_median_bytes")]
        by_method.setdefault(str(point["method"]), {})[int(point["T"])] = [
            float(b) / 2**20 for b in repeats if b is not None
        ]
    return by_method


def _memory_runs(bench: Mapping[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """Peak memory of the length benchmark as runs: ``runs[method][repeat] = {"peak_mb": ...}``.

    The memory repeats of each method play the role of seeds. ``peak_mb.longest`` is the peak at
    the longest length measured for streaming RViT, whole-video RViT and ClipViT alike;
    ``peak_mb.growth`` is that minus the peak at the shortest such length. ``clipvit_forward`` is
    stored as ``clipvit``.
    """
    by_method = _memory_points(bench)
    lengths = [set(by_method.get(m, {})) for m in _MEMORY_COMPARED]
    common = sorted(set.intersection(*lengths)) if all(lengths) else []
    if not common:
        return {}
    shortest, longest = common[0], common[-1]
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for method, by_frames in by_method.items():
        if shortest not in by_frames or longest not in by_frames:
            continue
        high, low = by_frames[longest], by_frames[shortest]
        runs["clipvit" if method == "clipvit_forward" else method] = {
            i: {
                "peak_mb": {
                    "longest": high[i],
                    "growth": high[i] - low[min(i, len(low) - 1)],
                    "frames": longest,
                    "shortest_frames": shortest,
                }
            }
            for i in range(len(high))
        }
    return runs


def memory_frame(bench: Mapping[str, Any]) -> Any:
    """The length benchmark's inference memory: one row per (method, T, repeat) with ``peak_mb``."""
    import pandas as pd

    rows = [
        {"method": method, "frames": t, "repeat": i, "peak_mb": mb}
        for method, by_frames in _memory_points(bench).items()
        for t, repeats in sorted(by_frames.items())
        for i, mb in enumerate(repeats)
    ]
    return pd.DataFrame(rows, columns=["method", "frames", "repeat", "peak_mb"])


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
            exp, _memory_runs(bench), [], source=str(bench_dir / f"{exp.bench}.json")
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
            why = match_result(record, config, seed, prof.name)
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


@dataclass
class ReadingResult:
    """The outcome of one reading: the effect per (stratum, seed), its interval and the verdict."""

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

    @property
    def seeds(self) -> int:
        """The number of seeds behind the effect (the largest over strata)."""
        return max((s["n"] for s in self.strata), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "claim": self.claim,
            "label": self.label,
            "text": self.text,
            "direction": self.direction,
            "units": self.units,
            "effect": self.interval.mean if self.interval else None,
            "low": self.interval.low if self.interval else None,
            "high": self.interval.high if self.interval else None,
            "n": self.interval.n if self.interval else 0,
            "seeds": self.seeds,
            "verdict": self.verdict,
        }


def contrast_values(
    contrast: Contrast, runs: Mapping[str, Mapping[int, Mapping[str, Any]]]
) -> tuple[list[float], list[dict[str, Any]]]:
    """The effect of ``contrast`` for every (stratum, seed) that has all its numbers.

    Returns the pooled values and, per stratum, ``{"label", "n", "mean", "values"}``.
    """
    pooled: list[float] = []
    strata: list[dict[str, Any]] = []
    for i, terms in enumerate(contrast.strata):
        configs = {t.config for t in terms if t.config is not None}
        seeds = (
            sorted(set.intersection(*(set(runs.get(c, {})) for c in configs))) if configs else []
        )
        values = []
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
                values.append(total)
        label = contrast.labels[i] if contrast.labels else ""
        mean = sum(values) / len(values) if values else math.nan
        strata.append({"label": label, "n": len(values), "mean": mean, "values": values})
        pooled.extend(values)
    return pooled, strata


def analyse_reading(reading: Reading, results: ExperimentResults) -> ReadingResult:
    """Apply one reading to an experiment's results."""
    values, strata = contrast_values(reading.contrast, results.runs)
    interval = bootstrap_mean(values) if values else None
    return ReadingResult(
        experiment=results.experiment.name,
        claim=reading.claim,
        label=reading.label,
        text=reading.text,
        direction=reading.contrast.direction,
        units=reading.contrast.units,
        values=values,
        strata=strata,
        interval=interval,
        verdict=decide(interval, reading.contrast.direction),
    )


def analyse(results: ExperimentResults) -> list[ReadingResult]:
    """Every reading of the experiment, in the registry's order."""
    return [analyse_reading(r, results) for r in results.experiment.readings]


def study_results(
    profile: str | Profile = "book",
    results_dir: str | os.PathLike | None = None,
    names: Sequence[str] | None = None,
    strict: bool = True,
) -> tuple[dict[str, ExperimentResults], list[ReadingResult]]:
    """Load every experiment (or ``names``) and analyse every reading."""
    loaded = {
        name: load_experiment(name, profile, results_dir, strict=strict)
        for name in (names or EXPERIMENTS)
    }
    readings = [r for results in loaded.values() for r in analyse(results)]
    return loaded, readings


def claim_table(readings: Sequence[ReadingResult], table: str | None = None) -> Any:
    """One row per claim of the proposal (all 18, or one table's): the readings' verdicts combined.

    Columns: ``claim, table, row, kind, text, verdict, readings`` (how many), ``effect, low, high,
    units, seeds, label`` (of the claim's first reading, its primary one), ``experiments``.
    """
    import pandas as pd

    rows = []
    for claim in CLAIMS.values():
        if table is not None and claim.table != table:
            continue
        mine = [r for r in readings if r.claim == claim.id]
        first = mine[0] if mine else None
        rows.append(
            {
                "claim": claim.id,
                "table": claim.table,
                "row": claim.row,
                "kind": claim.kind,
                "text": claim.text,
                "verdict": combine_verdicts([r.verdict for r in mine]) if mine else NOT_MEASURED,
                "readings": len(mine),
                "verdicts": ", ".join(f"{r.label}: {r.verdict}" for r in mine),
                "effect": first.interval.mean if first and first.interval else None,
                "low": first.interval.low if first and first.interval else None,
                "high": first.interval.high if first and first.interval else None,
                "units": first.units if first else "",
                "seeds": first.seeds if first else 0,
                "label": first.label if first else "",
                "experiments": ", ".join(dict.fromkeys(r.experiment for r in mine)),
            }
        )
    return pd.DataFrame(rows)


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
    readings = [r for results in loaded.values() for r in analyse(results)]
    claims = claim_table(readings)
    lines = [f"RViT reproducibility study, profile {prof.name!r}", ""]
    for table, title in (("comparison", "Comparison table"), ("insights", "Key insights")):
        part = claims[claims.table == table]
        rows = [
            [
                r.row if table == "comparison" else f"{r.row} ({r.kind})",
                r.verdict,
                format_effect(r.effect, r.low, r.high, r.units),
                r.label,
                str(r.seeds),
            ]
            for r in part.itertuples()
        ]
        lines += [
            title,
            _table(rows, ["claim", "verdict", "effect [95% CI]", "reading", "seeds"]),
            "",
        ]
    rows = [
        [
            r.claim,
            r.label,
            r.verdict,
            format_effect(
                r.interval.mean if r.interval else None,
                r.interval.low if r.interval else None,
                r.interval.high if r.interval else None,
                r.units,
            ),
            str(r.seeds),
        ]
        for r in readings
    ]
    lines += [
        "All readings",
        _table(rows, ["claim", "reading", "verdict", "effect [95% CI]", "seeds"]),
    ]
    wall, cpu, runs = study_compute(loaded)
    lines += [
        "",
        f"{runs} training runs (each counted once): {wall / 60:.1f} min wall time, "
        f"{cpu / 60:.1f} min CPU time",
    ]
    if problems:
        lines += ["", "Missing or stale:", *(f"- {p}" for p in problems)]
    text = "\n".join(lines)
    print(text)
    return text
