"""The study's figures and tables, one per experiment, sized for the book's column.

Each figure function takes an experiment's stored results (:class:`~rvit.study.analysis.ExperimentResults`,
as :func:`~rvit.study.analysis.study_results` loads them) and returns a
:class:`matplotlib.figure.Figure` built without ``pyplot``, at most :data:`WIDTH` inches wide with its
panels stacked, and titled with its finding and the number of seeds behind it. The figures read what a
configuration is from its structured ``factors`` and an evaluation set from its spec, never from an id.

* :func:`config_means`: the mean of every metric over seeds, one row per configuration, for the prose.
* :func:`readings_table`: an experiment's readings as a table for the book's column.
* one figure per experiment: :func:`temporal_features`, :func:`domain_gap`, :func:`patch_embedding`,
  :func:`attention`, :func:`recurrent_dropout`, :func:`memory`, :func:`classifier`,
  :func:`position_encoding`, :func:`video_length`, :func:`efficiency`, :func:`scalability`,
  :func:`augmentation`.
"""

from __future__ import annotations

import json
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rvit.notebook import table
from rvit.study.analysis import (
    ExperimentResults,
    ReadingResult,
    metrics_frame,
    online_frame,
)
from rvit.study.bench import memory_frame
from rvit.study.text import effect_text, format_p

__all__ = [
    "WIDTH",
    "attention",
    "augmentation",
    "classifier",
    "config_means",
    "domain_gap",
    "dropout_frame",
    "efficiency",
    "gap_drops",
    "gap_sweep",
    "memory",
    "patch_embedding",
    "position_encoding",
    "readings_table",
    "recurrent_dropout",
    "scalability",
    "seeds_note",
    "temporal_features",
    "video_length",
    "with_factors",
]

WIDTH = 7.0  # inches: the book's text column, where a figure is shown at about its natural size
CLASS_GROUPS = {
    "test.top1": "all classes",
    "test.appearance": "appearance classes",
    "test.motion": "motion pairs",
    "test.motion_direction": "motion pairs: direction (50 % by guessing)",
}


# ------------------------------------------------------------------------------------------------
# tidy frames


def with_factors(frame: pd.DataFrame, results: ExperimentResults) -> pd.DataFrame:
    """``frame`` (with a ``config`` column) joined with each configuration's factors as columns."""
    factors = pd.DataFrame(
        [{"config": c, **cfg.factors} for c, cfg in results.experiment.configs.items()]
    )
    clash = (set(factors.columns) & set(frame.columns)) - {"config"}
    return frame.merge(factors.drop(columns=sorted(clash)), on="config", how="left")


def config_means(results: ExperimentResults) -> pd.DataFrame:
    """The mean over seeds of every numeric metric, one row per configuration (index: its id)."""
    frame = metrics_frame(results).drop(columns=["label", "seed"])
    return frame.groupby("config", sort=False).mean(numeric_only=True)


def seeds_note(results: ExperimentResults) -> str:
    """``mean of 3 seeds, one dot per seed``."""
    return f"mean of {len(results.experiment.seeds)} seeds, one dot per seed"


def _chance(frame: pd.DataFrame) -> float:
    return float(1 / frame["num_classes"].iloc[0])


def _eval_columns(results: ExperimentResults, field: str) -> dict[str, Any]:
    """Metric column (``<eval>.top1``) -> the ``field`` of its evaluation set, sorted by value.

    The sets are the largest group of evaluation sets (besides the test, fit and probe sets) that
    differ from each other in ``field`` alone: the frame sizes, or the video lengths."""
    groups: dict[str, dict[str, Any]] = defaultdict(dict)
    for config in results.experiment.configs.values():
        for name, spec in config.evals.items():
            if name == "test" or name.startswith(("fit_", "probe")):
                continue
            rest = json.dumps({k: v for k, v in spec.items() if k != field}, sort_keys=True)
            groups[rest][name] = spec[field]
    varying = [g for g in groups.values() if len(set(g.values())) > 1]
    best = max(varying, key=len, default={})
    return {f"{n}.top1": v for n, v in sorted(best.items(), key=lambda item: item[1])}


def gap_sweep(results: ExperimentResults) -> pd.DataFrame:
    """The domain-gap sweep: one row per (training, domain gap, seed) with the test accuracy.

    An image-trained configuration is tested at every gap; a video-trained one at its own gap only.
    """
    frame = with_factors(metrics_frame(results), results)
    rows = []
    for config_id, config in results.experiment.configs.items():
        video = config.factors.get("modality") == "video"
        training = "videos" if video else results.experiment.label(config_id)
        for name, spec in config.evals.items():
            gap = spec["domain_gap"]
            if video and gap != config.factors.get("domain_gap"):
                continue
            column = f"{name}.top1"
            part = frame.loc[frame.config == config_id, ["seed", column]].dropna()
            rows += [
                {"training": training, "domain gap": gap, "seed": seed, "accuracy": value}
                for seed, value in part.itertuples(index=False)
            ]
    return pd.DataFrame(rows, columns=["training", "domain gap", "seed", "accuracy"])


def gap_drops(results: ExperimentResults) -> dict[str, float]:
    """Training -> mean accuracy at the smallest gap minus at the largest (a loss is positive)."""
    by = gap_sweep(results).groupby(["training", "domain gap"]).accuracy.mean()
    lo, hi = by.index.get_level_values(1).min(), by.index.get_level_values(1).max()
    return {t: float(by[t, lo] - by[t, hi]) for t in by.index.get_level_values(0).unique()}


def dropout_frame(results: ExperimentResults) -> pd.DataFrame:
    """The dropout sweep: one row per (training, rate, seed) with the overfitting gap added."""
    frame = with_factors(metrics_frame(results), results)
    frame = frame[frame.arch == "rvit"].copy()
    frame["training"] = frame.modality.map({"image": "images", "video": "videos"})
    frame["dropout"] = frame.recurrent_dropout.astype(float)
    frame["overfitting gap"] = frame["fit_train.top1"] - frame["fit_val.top1"]
    return frame


# ------------------------------------------------------------------------------------------------
# tables


def readings_table(readings: Sequence[ReadingResult], experiment: str | None = None) -> Any:
    """The readings (of one ``experiment``, or all) as a table for the book's column.

    One row per reading: the claim and the reading's label, its role and test (the test names the
    interval: ``bootstrap`` over seeds and videos, ``sign-flip`` with the t interval over seeds,
    ``TOST`` with either, ``exact``), the effect with its 95 % interval, the raw and the
    Holm-corrected p-value, the verdict and the seeds behind it. The reading's sentence is in the
    registry's table of readings.
    """
    rows = [r for r in readings if experiment is None or r.experiment == experiment]
    frame = pd.DataFrame(
        {
            "claim: reading": [f"{r.claim}: {r.label}" for r in rows],
            "role, test": [f"{r.role}, {r.test}" for r in rows],
            "effect [95% CI]": [effect_text(r) for r in rows],
            "p": [format_p(r.p) for r in rows],
            "p (Holm)": [format_p(r.p_holm) for r in rows],
            "verdict": [r.verdict for r in rows],
            "seeds": [r.seeds for r in rows],
        }
    )
    return table(frame)


# ------------------------------------------------------------------------------------------------
# building blocks


def _figure(*heights: float, sharex: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure :data:`WIDTH` wide with one stacked axes per height (in inches)."""
    fig = Figure(figsize=(WIDTH, sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(heights), 1, sharex=sharex, squeeze=False, height_ratios=heights)
    return fig, list(axes[:, 0])


def _title(fig: Figure, text: str, note: str) -> None:
    """The finding, wrapped to the column, and the number of seeds behind it."""
    fig.suptitle(textwrap.fill(text, 64) + f"\n({note})", fontsize=11)


def _chance_line(ax: Axes, chance: float, vertical: bool = False) -> None:
    line = ax.axvline if vertical else ax.axhline
    line(chance, color="gray", ls="--", lw=1, label="chance")


def _log_axis(ax: Axes, values: Any) -> None:
    """A log-scaled x axis with a tick at each measured value, written as a plain number."""
    ticks = sorted({float(v) for v in values})
    ax.set_xscale("log")
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.minorticks_off()


def _legend(ax: Axes, title: str | None = None, outside: bool = False) -> None:
    """A small legend, inside the axes or (``outside``) to their right, within the figure."""
    place = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if outside else {}
    ax.legend(fontsize=8, title=title, title_fontsize=8, framealpha=0.9, **place)


def _line_and_seeds(frame: pd.DataFrame, x: str, y: str, hue: str, ax: Axes) -> None:
    """The mean over seeds as a line per ``hue``, and every seed's value as a dot."""
    sns.lineplot(frame, x=x, y=y, hue=hue, marker="o", errorbar=None, ax=ax)
    sns.stripplot(
        frame, x=x, y=y, hue=hue, native_scale=True, ax=ax, legend=False, size=3, alpha=0.6
    )


def _bars(
    ax: Axes,
    results: ExperimentResults,
    columns: Mapping[str, str],
    xlabel: str = "top-1 accuracy",
    frame: pd.DataFrame | None = None,
) -> None:
    """Horizontal bars, one group per configuration (its label), one bar per metric in
    ``columns`` (column -> legend name), a dot per seed; a missing metric says "cannot run".

    ``frame`` is the results' :func:`~rvit.study.analysis.metrics_frame`, possibly with more columns."""
    frame = metrics_frame(results) if frame is None else frame
    order = list(results.experiment.configs)
    labels = [results.experiment.label(c) for c in order]
    present = {c: n for c, n in columns.items() if c in frame}
    long = frame.melt(
        id_vars=["config", "label", "seed"],
        value_vars=list(present),
        var_name="metric",
        value_name="value",
    )
    long["metric"] = long.metric.map(present)
    hue = "metric" if len(present) > 1 else None
    sns.barplot(
        long,
        y="label",
        x="value",
        hue=hue,
        order=labels,
        errorbar=None,
        ax=ax,
        alpha=0.8,
        **({} if hue else {"color": "C0"}),
    )
    sns.stripplot(
        long,
        y="label",
        x="value",
        hue=hue,
        order=labels,
        dodge=hue is not None,
        ax=ax,
        palette="dark:black" if hue else None,
        color=None if hue else "black",
        size=3,
        legend=False,
    )
    width = 0.8 / max(1, len(present))
    for i, config in enumerate(order):
        for j, name in enumerate(present.values()):
            values = long.loc[(long.config == config) & (long.metric == name), "value"]
            if values.isna().all():
                offset = (j - (len(present) - 1) / 2) * width if hue else 0.0
                column = next(c for c, n in present.items() if n == name)
                measured = column.partition(".")[0] in results.experiment.configs[config].evals
                text = "cannot run" if measured else "not measured"
                ax.text(0.005, i + offset, text, va="center", fontsize=7)
    ax.set(xlabel=xlabel, ylabel="")
    if hue:
        _legend(ax)


# ------------------------------------------------------------------------------------------------
# one figure per experiment


def temporal_features(results: ExperimentResults) -> Figure:
    """Accuracy on the test videos by training data and class group (top), and the accuracy of
    the prediction so far as frames arrive (bottom)."""
    frame = metrics_frame(results)
    experiment = results.experiment
    groups = dict(CLASS_GROUPS)
    if "test.motion_pair" in frame:  # stored from version 3 on; the legend goes beside the bars
        groups = {
            "test.top1": "all classes",
            "test.appearance": "appearance\nclasses",
            "test.motion": "motion pairs",
            "test.motion_pair": "motion pairs:\nthe pair named",
            "test.motion_direction": "motion pairs:\ndirection (50 %\nby guessing)",
        }
    fig, (top, bottom) = _figure(3.0 if len(groups) <= 4 else 3.8, 2.4)
    _bars(top, results, groups, "accuracy on test videos")
    _chance_line(top, _chance(frame), vertical=True)
    _legend(top, outside=len(groups) > 4)
    online = online_frame(results)
    labels = [experiment.label(c) for c in experiment.configs]
    sns.lineplot(
        online,
        x="frames_seen",
        y="accuracy",
        hue="label",
        hue_order=labels,
        errorbar=None,
        ax=bottom,
        marker="o",
    )
    _chance_line(bottom, _chance(frame))
    bottom.set(xlabel="frames seen", ylabel="accuracy so far", title="as frames accumulate")
    _legend(bottom, outside=True)
    means = config_means(results)
    video = next(c for c, cfg in experiment.configs.items() if cfg.factors["modality"] == "video")
    image = next(
        c
        for c, cfg in experiment.configs.items()
        if cfg.factors["modality"] == "image" and cfg.factors["arch"] == "rvit"
    )

    def gain(column: str) -> float:
        return float(means.loc[video, column] - means.loc[image, column])

    if "test.motion_pair" in means:
        finding = (
            f"Video training over image training: {gain('test.appearance') * 100:+.0f} points on "
            f"appearance classes, {gain('test.motion_pair') * 100:+.0f} on naming the motion "
            "pair"
        )
    else:
        finding = (
            f"On the direction of motion pairs, video training scores "
            f"{gain('test.motion_direction') * 100:+.0f} points over image training"
        )
    _title(fig, finding, seeds_note(results))
    return fig


def domain_gap(results: ExperimentResults) -> Figure:
    """Accuracy on the test videos against the domain gap, for each training."""
    sweep = gap_sweep(results)
    fig, (ax,) = _figure(2.9)
    _line_and_seeds(sweep, "domain gap", "accuracy", "training", ax)
    _chance_line(ax, _chance(metrics_frame(results)))
    ax.set(
        xlabel="domain gap (0: frames look like stills, 1: strongly degraded)",
        ylabel="top-1 accuracy on test videos",
    )
    _legend(ax, outside=True)
    drops = gap_drops(results)
    worst = max(drops, key=drops.get)
    gaps = sweep["domain gap"]
    _title(
        fig,
        f"From gap {gaps.min():g} to {gaps.max():g}, '{worst}' loses most: "
        f"{drops[worst] * 100:.0f} points",
        seeds_note(results),
    )
    return fig


def _row_effect(results: ExperimentResults, field: str, metric: str) -> float:
    """Mean ``metric`` of the paper preset with ``field`` switched, minus the paper preset's."""
    configs = results.experiment.configs
    base = next(
        c
        for c, cfg in configs.items()
        if cfg.factors["arch"] == "rvit"
        and cfg.factors["preset"] == "paper"
        and cfg.factors["modality"] == "image"
        and field not in cfg.factors
    )
    switched = next(
        c
        for c, cfg in configs.items()
        if cfg.factors["preset"] == "paper"
        and cfg.factors["modality"] == "image"
        and field in cfg.factors
    )
    means = config_means(results)
    return float(means.loc[switched, metric] - means.loc[base, metric])


def patch_embedding(results: ExperimentResults) -> Figure:
    """Accuracy on the test videos at the training frame size and at unseen sizes."""
    sizes = _eval_columns(results, "image_size")
    fig, (ax,) = _figure(3.5)
    columns = {"test.top1": "training size", **{c: f"{s} px (unseen)" for c, s in sizes.items()}}
    _bars(ax, results, columns, "top-1 accuracy on test videos")
    _chance_line(ax, _chance(metrics_frame(results)), vertical=True)
    _legend(ax, "frame size")
    diff = _row_effect(results, "patch_embed", "test.top1")
    _title(
        fig,
        f"Tubelets instead of 2D patches change video accuracy by {diff * 100:+.1f} points from "
        f"the paper preset",
        seeds_note(results),
    )
    return fig


def attention(results: ExperimentResults) -> Figure:
    """Accuracy on appearance classes, forward FLOPs per clip and latency, per configuration."""
    frame = metrics_frame(results)
    frame["flops_per_clip"] = frame["train.flops"] / frame["train.samples"] / 3
    stills = "fit_val.top1" in frame  # from version 3 on: the primary reading's held-out stills
    panels = [
        *([({"fit_val.top1": "stills"}, "accuracy on held-out stills")] if stills else []),
        ({"test.appearance": "appearance"}, "accuracy on appearance classes"),
        ({"flops_per_clip": "FLOPs"}, "forward FLOPs per training clip"),
        ({"test.latency_ms": "latency"}, "ms per frame (batch of videos; shared CPU)"),
    ]
    fig, axes = _figure(*[1.8] * len(panels))
    for ax, (columns, xlabel) in zip(axes, panels, strict=True):
        _bars(ax, results, columns, xlabel, frame)
    _chance_line(axes[0], _chance(frame), vertical=True)
    if stills:
        _chance_line(axes[1], _chance(frame), vertical=True)
    means = frame.groupby("config").mean(numeric_only=True)
    configs = results.experiment.configs
    base = next(
        c
        for c, cfg in configs.items()
        if cfg.factors["arch"] == "rvit"
        and cfg.factors["preset"] == "paper"
        and cfg.factors["modality"] == "image"
        and "attention" not in cfg.factors
    )
    hybrid = next(
        c
        for c, cfg in configs.items()
        if cfg.factors["preset"] == "paper" and cfg.factors.get("attention") == "hybrid"
    )
    column, where = (
        ("fit_val.top1", "held-out stills") if stills else ("test.appearance", "appearance classes")
    )
    diff = means.loc[hybrid, column] - means.loc[base, column]
    ratio = means.loc[hybrid, "flops_per_clip"] / means.loc[base, "flops_per_clip"]
    _title(
        fig,
        f"Hybrid attention: {diff * 100:+.1f} points on {where} at {ratio:.2f}x the "
        f"FLOPs, from the paper preset",
        seeds_note(results),
    )
    return fig


def recurrent_dropout(results: ExperimentResults) -> Figure:
    """Test accuracy, direction accuracy on motion pairs, the overfitting gap and the memory probe against
    the recurrent dropout rate, image- and video-trained."""
    frame = dropout_frame(results)
    panels = [
        ("test.top1", "accuracy,\ntest videos"),
        ("test.motion_direction", "direction,\nmotion pairs"),
        ("overfitting gap", "train minus\nheld-out"),
        ("probe.top1", "accuracy\nafter blanks"),
    ]
    fig, axes = _figure(*[1.7] * len(panels), sharex=True)
    for ax, (column, ylabel) in zip(axes, panels, strict=True):
        _line_and_seeds(frame, "dropout", column, "training", ax)
        ax.set_xlabel("recurrent dropout rate")
        ax.set_ylabel(ylabel, fontsize=9)
        if column == "overfitting gap":
            ax.axhline(0, color="gray", lw=1)
        else:
            _chance_line(ax, _chance(frame))
        if ax is not axes[0] and ax.get_legend() is not None:
            ax.get_legend().remove()
    _legend(axes[0])
    gaps = frame[frame.training == "videos"].groupby("dropout")["overfitting gap"].mean()
    on = _compared_rate(results)
    _title(
        fig,
        f"Overfitting gap of video training: {gaps[0.0] * 100:.0f} points without dropout, "
        f"{gaps[on] * 100:.0f} with {on:g}",
        seeds_note(results),
    )
    return fig


def _compared_rate(results: ExperimentResults) -> float:
    """The dropout rate the primary reading compares with no dropout (fixed in the registry)."""
    reading = next(r for r in results.experiment.readings if r.primary)
    config = next(t.config for t in reading.contrast.strata[0] if t.coef > 0)
    return float(results.experiment.factor(config, "recurrent_dropout"))


def memory(results: ExperimentResults, bench: Mapping[str, Any]) -> Figure:
    """Peak memory growth of inference against video length, from the length benchmark."""
    mem = memory_frame(bench)
    fig, (ax,) = _figure(2.9)
    sns.lineplot(mem, x="frames", y="peak_mb", hue="method", marker="o", errorbar=None, ax=ax)
    ax.set(xlabel="video length (frames)", ylabel="peak memory growth (MiB)")
    _log_axis(ax, mem.frames)
    _legend(ax)
    runs = results.runs
    longest = next(iter(runs["rvit_stream"].values()))["peak_mb"]["frames"]
    peak = {m: np.mean([r["peak_mb"]["longest"] for r in runs[m].values()]) for m in runs}
    _title(
        fig,
        f"At {longest} frames: streaming RViT {peak['rvit_stream']:.1f} MiB, whole-video RViT "
        f"{peak['rvit_forward']:.1f} MiB, ClipViT {peak['clipvit']:.1f} MiB",
        f"median of {len(runs['rvit_stream'])} repeats per point",
    )
    return fig


def classifier(results: ExperimentResults) -> Figure:
    """Accuracy on held-out still images and direction accuracy on the motion pairs of the test
    videos."""
    fig, (ax,) = _figure(3.5)
    columns = {
        "fit_val.top1": "held-out still images",
        "test.motion_direction": "direction of motion pairs, test videos",
    }
    _bars(ax, results, columns)
    _chance_line(ax, _chance(metrics_frame(results)), vertical=True)
    configs = results.experiment.configs
    means = config_means(results)
    videos = [c for c, cfg in configs.items() if cfg.factors["modality"] == "video"]
    pooled = next(c for c in videos if configs[c].factors.get("head") == "gap")
    concat = next(c for c in videos if "head" not in configs[c].factors)
    diff = means.loc[pooled, "test.motion_direction"] - means.loc[concat, "test.motion_direction"]
    _title(
        fig,
        f"Trained on videos, the pooled head changes direction accuracy on motion pairs by "
        f"{diff * 100:+.1f} points",
        seeds_note(results),
    )
    return fig


def position_encoding(results: ExperimentResults) -> Figure:
    """Accuracy against the test video length (top); on held-out images and at unseen frame
    sizes (bottom)."""
    frame = metrics_frame(results)
    experiment = results.experiment
    lengths = _eval_columns(results, "frames")
    sizes = _eval_columns(results, "image_size")
    fig, (top, bottom) = _figure(2.5, 2.7)
    long = frame.melt(
        id_vars=["label", "seed"], value_vars=list(lengths), var_name="eval", value_name="accuracy"
    )
    long["frames"] = long["eval"].map(lengths)
    labels = [experiment.label(c) for c in experiment.configs]
    sns.lineplot(
        long,
        x="frames",
        y="accuracy",
        hue="label",
        hue_order=labels,
        marker="o",
        errorbar=None,
        ax=top,
    )
    _chance_line(top, _chance(frame))
    top.set(xlabel="test video length (frames)", ylabel="top-1 accuracy")
    _log_axis(top, lengths.values())
    _legend(top, outside=True)
    columns = {"fit_val.top1": "held-out images", **{c: f"{s} px" for c, s in sizes.items()}}
    _bars(bottom, results, columns)
    _chance_line(bottom, _chance(frame), vertical=True)
    longest = max(lengths, key=lengths.get)
    diff = _row_effect(results, "pos_embed", longest)
    _title(
        fig,
        f"On {lengths[longest]}-frame videos, interpolating the table changes accuracy by "
        f"{diff * 100:+.1f} points from the paper preset (no bar: cannot run)",
        seeds_note(results),
    )
    return fig


def video_length(results: ExperimentResults) -> Figure:
    """Accuracy against the test video length, for fixed- and variable-length training."""
    frame = with_factors(metrics_frame(results), results)
    experiment = results.experiment
    lengths = _eval_columns(results, "frames")
    long = frame.melt(
        id_vars=["label", "seed"], value_vars=list(lengths), var_name="eval", value_name="accuracy"
    )
    long["frames"] = long["eval"].map(lengths)
    fig, (ax,) = _figure(2.9)
    sns.lineplot(long, x="frames", y="accuracy", hue="label", marker="o", errorbar=None, ax=ax)
    _chance_line(ax, _chance(frame))
    configs = experiment.configs
    videos = [c for c, cfg in configs.items() if cfg.factors["modality"] == "video"]
    fixed = next(c for c in videos if not configs[c].factors["variable_length"])
    variable = next(c for c in videos if configs[c].factors["variable_length"])
    ax.axvline(configs[fixed].train["frames"], color="gray", lw=1, ls=":")
    ax.set(xlabel="test video length (frames; dotted: training length)", ylabel="top-1 accuracy")
    _log_axis(ax, lengths.values())
    _legend(ax, outside=True)
    longest = max(lengths, key=lengths.get)
    means = config_means(results)
    trained = configs[fixed].train["frames"]
    own = next((c for c, t in lengths.items() if t == trained), None)
    image = next(
        (
            c
            for c, cfg in configs.items()
            if cfg.factors["arch"] == "rvit" and cfg.factors["modality"] == "image"
        ),
        None,
    )
    framevit = next((c for c, cfg in configs.items() if cfg.factors["arch"] == "framevit"), None)
    over_length = image is not None and any(
        r.primary and image in r.contrast.configs() for r in results.experiment.readings
    )
    if over_length and own is not None:  # version 3: the image-trained model over length
        finding = (
            f"Trained on stills, RViT: {means.loc[image, own]:.0%} at {trained} frames, "
            f"{means.loc[image, longest]:.0%} at {lengths[longest]}"
            + (f" (FrameViT {means.loc[framevit, longest]:.0%})" if framevit else "")
        )
    else:
        finding = (
            f"At {lengths[longest]} frames: fixed-length training "
            f"{means.loc[fixed, longest]:.0%}, variable-length {means.loc[variable, longest]:.0%}"
        )
    _title(fig, finding, seeds_note(results))
    return fig


def efficiency(results: ExperimentResults) -> Figure:
    """Accuracy on appearance classes against training FLOPs (top); training time (bottom)."""
    frame = metrics_frame(results)
    fig, (top, bottom) = _figure(2.5, 2.2)
    sns.scatterplot(frame, x="train.flops", y="test.appearance", hue="label", s=50, ax=top)
    top.set(
        xscale="log", xlabel="training FLOPs (log scale)", ylabel="accuracy, appearance classes"
    )
    top.minorticks_off()
    _chance_line(top, _chance(frame))
    _legend(top, outside=True)
    _bars(bottom, results, {"train.time_s": "time"}, "training time (s, shared CPU)")
    configs = results.experiment.configs
    means = config_means(results)

    def rvit(modality: str) -> str:
        return next(
            c
            for c, cfg in configs.items()
            if cfg.factors["arch"] == "rvit" and cfg.factors["modality"] == modality
        )

    ratio = means.loc[rvit("video"), "train.flops"] / means.loc[rvit("image"), "train.flops"]
    finding = f"Video training costs {ratio:.1f}x the FLOPs of image training"
    if any(cfg.factors["modality"] == "frames" for cfg in configs.values()):
        diff = (
            means.loc[rvit("frames"), "test.appearance"]
            - means.loc[rvit("video"), "test.appearance"]
        )
        finding += f"; frames against videos on appearance classes: {diff * 100:+.1f} points"
    _title(fig, finding, seeds_note(results))
    return fig


def scalability(results: ExperimentResults) -> Figure:
    """Accuracy on the test videos against the number of training images, by class group."""
    frame = with_factors(metrics_frame(results), results)
    long = frame.melt(
        id_vars=["train_samples", "seed"],
        value_vars=list(CLASS_GROUPS),
        var_name="classes",
        value_name="accuracy",
    )
    long["classes"] = long.classes.map(CLASS_GROUPS)
    fig, (ax,) = _figure(2.9)
    _line_and_seeds(long, "train_samples", "accuracy", "classes", ax)
    _chance_line(ax, _chance(frame))
    ax.set(xlabel="training images", ylabel="accuracy on test videos")
    _log_axis(ax, long.train_samples)
    _legend(ax)
    by = long.groupby(["classes", "train_samples"]).accuracy.mean()
    direction = CLASS_GROUPS["test.motion_direction"]
    groups = ("appearance classes", "motion pairs", direction)
    gain = {g: by[g].iloc[-1] - by[g].iloc[0] for g in groups}
    _title(
        fig,
        f"More images: {gain['appearance classes'] * 100:+.0f} points on appearance classes, "
        f"{gain['motion pairs'] * 100:+.0f} on motion pairs, {gain[direction] * 100:+.0f} on "
        "their direction",
        seeds_note(results),
    )
    return fig


def augmentation(results: ExperimentResults) -> Figure:
    """Accuracy on the test videos for each augmentation setting and the references."""
    fig, (ax,) = _figure(3.0)
    _bars(ax, results, {"test.top1": "test videos"}, "top-1 accuracy on test videos")
    _chance_line(ax, _chance(metrics_frame(results)), vertical=True)
    configs = results.experiment.configs
    means = config_means(results)

    def images(augment: str) -> str:
        return next(
            c
            for c, cfg in configs.items()
            if cfg.factors["arch"] == "rvit"
            and cfg.factors["modality"] == "image"
            and cfg.factors["augment"] == augment
        )

    diff = means.loc[images("strong"), "test.top1"] - means.loc[images("none"), "test.top1"]
    _title(
        fig,
        f"Strong augmentation changes video accuracy by {diff * 100:+.1f} points over none",
        seeds_note(results),
    )
    return fig


# ------------------------------------------------------------------------------------------------
# the chapters' entry points


def draw(results: ExperimentResults) -> Any:
    """The figure of an experiment (the function of its name) when it has every result the
    registry asks for; otherwise, as Markdown, the line that says what exists
    (:func:`rvit.study.text.experiment_status`). The memory experiment reads its benchmark file
    from where its results were looked for."""
    from pathlib import Path

    from IPython.display import Markdown

    from rvit.study.bench import load_bench
    from rvit.study.text import experiment_status

    status = experiment_status(results)
    if status:
        return Markdown(status)
    exp = results.experiment
    if exp.bench is not None:
        return memory(results, load_bench(exp.bench, Path(results.source).parent))
    return globals()[exp.name](results)


def study_design(
    *,
    training: Sequence[str],
    experiments: int,
    configurations: int,
    seeds: int,
    readings: int,
    claims: int,
    level: float,
    alpha: float,
    gate: float,
) -> Figure:
    """The study from configurations to verdicts, with the registry's numbers, as version 3 runs
    it: each seed tested on videos of its own, a bootstrap over seeds and videos, the learning gate
    on held-out data, sanity checks apart. Drawn with the helpers of :mod:`rvit.diagrams` (whose
    ``study_design`` draws version 2's), under the same rules: :data:`WIDTH` wide, no text under
    :data:`rvit.diagrams.MIN_FONT_PT`, no text outside its box.

    Args:
        training: what the central experiment trains RViT on (and its controls), as labels.
        experiments, configurations, seeds, readings, claims: the registry's counts (distinct
            training configurations; seeds per configuration).
        level: the interval's confidence level; ``alpha`` the tests' level.
        gate: the learning gate, a share of each modality's ceiling on held-out data.
    """
    import matplotlib

    from rvit import diagrams as d

    with matplotlib.rc_context(d._RC):
        fig, ax = d._canvas(5.1)
        top, h = 5.05, 2.15  # the pipeline's boxes: top edge and height
        columns = [
            *d.training_columns(training, experiments, configurations, seeds),
            (
                4.26,
                1.46,
                "Test videos",
                [
                    "drawn afresh for",
                    "each seed, read",
                    "frame by frame;",
                    "every video's",
                    "outcome stored",
                ],
            ),
            (
                6.03,
                1.86,
                "Readings",
                [
                    f"{readings} readings, {claims} claims;",
                    "effect per seed: metrics",
                    "of runs of that seed,",
                    "e.g. image − video top-1;",
                    "bootstrap over seeds",
                    f"and videos ({level:.0%} CI);",
                    "TOST against a margin",
                ],
            ),
        ]
        rules = [
            (
                "not testable",
                f"a configuration it uses scores below {gate:.0%} of its ceiling on held-out\n"
                "data, in eval mode (it did not learn)",
            ),
            (
                "supported",
                f"p ≤ {alpha:g} after Holm's correction over the claims' primary readings, "
                "and the\ninterval excludes 0 on the claimed side (secondary readings: "
                "uncorrected;\nsanity checks, true by construction: apart, never a verdict)",
            ),
            (
                "contradicted",
                "the same on the other side; with a margin: the interval lies wholly outside it",
            ),
            (
                "equivalent",
                f"with a margin: TOST p ≤ {alpha:g} and the {1 - 2 * alpha:.0%} interval "
                "inside ± margin",
            ),
            ("inconclusive", "otherwise"),
        ]
        d.draw_pipeline(ax, columns, top, h, rules, box_top=2.58)
    return fig
