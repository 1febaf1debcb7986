"""The study's sentences: the terminal report and the text chapters 8 and 8.1 quote.

Every number comes from :mod:`rvit.study.analysis`; this module only writes it down, and it is the
only place that does. A sentence the report prints and a chapter shows is written by one function
here, so the two say the same thing with the same threshold:

* :func:`format_p`, :func:`format_effect`, :func:`effect_text` and :func:`test_label`: the numbers
  of a reading as every table prints them; :func:`claim_texts` and :func:`verdict_frame` the
  verdicts as chapter 8's tables show them;
* :func:`seeds_sentence`, :func:`few_seeds_sentence` and :func:`budget_sentence`: what the seeds
  can show (one test, ``few_seeds`` of :func:`rvit.study.analysis.inference_notes`);
* :func:`simulated_aa_sentence` and :func:`aa_sentence`: the A/A control, simulated and measured;
* :func:`attention_growth`: how the attention benchmark's time grows with the tokens;
* :func:`commit_list`, :func:`config_list`, :func:`slow_settings`, :func:`seed_range` and
  :func:`pseudo_video_note`: the chapters' other sentences and lists;
* :func:`print_report`: the terminal report (``python -m rvit study report``), with
  :func:`attention_lines`, :func:`aa_line` and :func:`traceability_line`.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rvit.study.analysis import (
    ExperimentResults,
    ReadingResult,
    aa_control,
    analyse_study,
    attention_cost,
    bench_files,
    claim_table,
    failed_configs,
    gate_check,
    gate_frame,
    gate_summary,
    inference_notes,
    load_study,
    pixel_bar,
    study_compute,
    traceability,
)
from rvit.study.design import LEARNING_GATE
from rvit.study.profiles import Profile, get_profile
from rvit.study.stats import ALPHA, LEVEL
from rvit.study.store import default_results_dir

__all__ = [
    "aa_line",
    "aa_sentence",
    "attention_growth",
    "attention_lines",
    "budget_sentence",
    "claim_texts",
    "commit_list",
    "config_list",
    "effect_text",
    "few_seeds_sentence",
    "format_effect",
    "format_p",
    "print_report",
    "pseudo_video_note",
    "seed_range",
    "seeds_sentence",
    "simulated_aa_sentence",
    "slow_settings",
    "test_label",
    "traceability_line",
    "verdict_frame",
]

# ------------------------------------------------------------------------------------------------
# the numbers of a reading


def format_p(p: float | None) -> str:
    """A p-value with three digits, ``-`` when there is none."""
    return "-" if p is None or math.isnan(p) else f"{p:.3g}"


def format_effect(effect: float | None, low: float | None, high: float | None, units: str) -> str:
    """``+3.1 pp [+1.0, +5.2]`` for accuracies, plain numbers with units otherwise."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (effect, low, high)):
        return "-"
    if units == "accuracy":
        return f"{100 * effect:+.1f} pp [{100 * low:+.1f}, {100 * high:+.1f}]"
    return f"{effect:+.3g} {units} [{low:+.3g}, {high:+.3g}]"


def effect_text(result: ReadingResult) -> str:
    """A reading's effect and its interval as printed: e.g. ``+2.1 pp [-15.1, +19.3]``."""
    i = result.interval
    return format_effect(
        i.mean if i else None, i.low if i else None, i.high if i else None, result.units
    )


def test_label(test: str, margin: float | None, units: str) -> str:
    """``sign-flip``, or ``TOST +-3 pp`` for an equivalence reading."""
    if margin is None or math.isnan(margin):
        return test
    shown = f"{100 * margin:.0f} pp" if units == "accuracy" else f"{margin:g} {units}"
    return f"{test} +-{shown}"


def _ci_header() -> str:
    return f"effect [{LEVEL:.0%} t CI]"


def claim_texts(claims: Any) -> dict[str, str]:
    """What the prose says of each claim of :func:`~rvit.study.analysis.claim_table`, as Markdown,
    keyed by the claim's id with ``_`` for ``.``: ``<key>_verdict`` (in bold), ``<key>_effect``
    (with its interval), ``<key>_p`` (Holm-corrected) and ``<key>_reading`` (the primary reading,
    in italics)."""
    texts: dict[str, str] = {}
    for row in claims.itertuples():
        key = row.claim.replace(".", "_")
        texts[f"{key}_verdict"] = f"**{row.verdict}**"
        texts[f"{key}_effect"] = format_effect(row.effect, row.low, row.high, row.units)
        texts[f"{key}_p"] = format_p(row.p_holm)
        texts[f"{key}_reading"] = f"*{row.label}*" if row.label else "-"
    return texts


def verdict_frame(claims: Any) -> Any:
    """The verdict of every claim as chapter 8 lists them: ``claim: primary reading``, the effect
    with its interval, the Holm-corrected p-value and the verdict, as text."""
    import pandas as pd

    return pd.DataFrame(
        {
            "claim: primary reading": claims.claim + ": " + claims.label,
            _ci_header(): [
                format_effect(r.effect, r.low, r.high, r.units) for r in claims.itertuples()
            ],
            "p (Holm)": claims.p_holm.map(format_p),
            "verdict": claims.verdict,
        }
    )


def seed_range(claims: Any) -> str:
    """The seeds behind the claims' primary readings: ``10``, or ``3 to 10`` when they differ."""
    seeds = sorted(set(claims.seeds))
    return f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}"


# ------------------------------------------------------------------------------------------------
# what the seeds can show


def seeds_sentence(notes: Mapping[str, Any]) -> str:
    """The smallest p-value the seeds can give against what Holm's first step needs."""
    return (
        f"the smallest two-sided sign-flip p-value of {notes['seeds']} seeds is "
        f"{notes['smallest_p']:.3g}; Holm's first step over {notes['family']} claims needs "
        f"p <= {notes['holm_first']:.3g}, which takes at least {notes['seeds_needed_family']} "
        f"seeds ({notes['seeds_needed']} over all {notes['claims']} claims)."
    )


def few_seeds_sentence(notes: Mapping[str, Any]) -> str:
    """Whether the seeds are enough for a claim to pass the corrected test (``few_seeds``)."""
    if notes["few_seeds"]:
        return (
            "With the committed seeds no claim that the correction covers can be supported, "
            "contradicted or shown equivalent, whatever its effect: each is inconclusive by "
            "construction, and its effect and interval are what the study can report."
        )
    return "The committed seeds are enough for a claim to pass the corrected test."


def budget_sentence(notes: Mapping[str, Any]) -> str:
    """The seeds as a limit of the study's budget (``few_seeds`` decides, as for
    :func:`few_seeds_sentence`)."""
    test = (
        f"an exact test's smallest p-value, {notes['smallest_p']:.3g}, {{}} Holm's first step "
        f"over the {notes['family']} claims the correction covers ({notes['holm_first']:.3g})"
    )
    if notes["few_seeds"]:
        return (
            f"{notes['seeds']} seeds per configuration, too few for any claim the correction "
            f"covers to pass it: {test.format('cannot survive')}."
        )
    return (
        f"{notes['seeds']} seeds per configuration, enough for a claim to pass the corrected test, "
        f"but only with a large and consistent effect: {test.format('must survive')}."
    )


# ------------------------------------------------------------------------------------------------
# the A/A control


def simulated_aa_sentence(notes: Mapping[str, Any]) -> str:
    """How often the verdict rule errs on simulated nulls, at the study's seeds (and at the seeds
    the correction needs, when they differ)."""
    at_needed = (
        f" and {notes['aa_rate_needed']:.1%} at {notes['seeds_needed']} seeds"
        if notes["seeds_needed"] != notes["seeds"]
        else ""
    )
    return (
        f"On simulated nulls the rule gives a verdict other than inconclusive in "
        f"{notes['aa_rate']:.1%} of A/A comparisons at {notes['seeds']} seeds{at_needed} "
        f"(nominal {ALPHA:.0%})."
    )


def aa_sentence(aa: Mapping[str, Any] | None, notes: Mapping[str, Any]) -> str:
    """The A/A control measured on the real models (:func:`~rvit.study.analysis.aa_control`), or
    what it needs when it was not run."""
    if aa is None:
        return (
            f"A/A control: not run. It needs two disjoint seed sets of one configuration "
            f"({notes['aa_config']}, >= {notes['aa_seeds']} seeds)."
        )
    return (
        f"A/A control: the image-trained paper RViT with {aa['seeds']} seeds (top-1 on the test "
        f"videos {aa['mean']:.1%}, sd {aa['sd']:.1%} between seeds), split {aa['splits']} times "
        f"into two disjoint sets of {aa['pairs']} paired in order; the study's rule (t interval "
        f"and sign-flip test at {ALPHA:.0%}, no correction) gives a verdict other than "
        f"inconclusive in {aa['rate']:.1%} of the splits (nominal at most {ALPHA:.0%}; the splits "
        "share seeds, so this describes these seeds rather than a new draw)."
    )


def aa_line(loaded: Mapping[str, ExperimentResults], notes: Mapping[str, Any]) -> str:
    """The report's paragraph on the A/A control: measured when its runs exist, and simulated."""
    return aa_sentence(aa_control(loaded), notes) + " " + simulated_aa_sentence(notes)


# ------------------------------------------------------------------------------------------------
# the attention benchmark


def attention_growth(cost: Mapping[str, Any]) -> str:
    """How the time of the two blocks grows with the tokens, and where they cross
    (:func:`~rvit.study.analysis.attention_cost`)."""
    exp = cost["exponents"]
    cross = cost["crossover"]
    return (
        f"Time grows as tokens^{exp['linear_block']:.2f} for the paper's linear block and "
        f"tokens^{exp['hybrid_block']:.2f} for the hybrid one; they cross at about "
        + (f"{cross:.0f}" if cross is not None else "no measured")
        + " tokens"
    )


def attention_lines(bench_dir: str | os.PathLike | None, tokens: int) -> list[str]:
    """The report's table of attention cost against tokens per frame (empty without the file)."""
    cost = attention_cost(bench_dir)
    if cost is None or not cost["rows"]:
        return []
    return [
        f"Attention cost against tokens per frame (bench/attention.json: median time of one "
        f"recurrent block per frame, batch 1, one thread; the study's frames have {tokens} "
        f"tokens). {attention_growth(cost)}:",
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


# ------------------------------------------------------------------------------------------------
# the chapters' lists and notes


def commit_list(commits: Iterable[str]) -> str:
    """Commits as Markdown: ```71d8b4e`` and ``84db80d```, or ``none recorded``."""
    return " and ".join(f"`{c[:7]}`" for c in commits) or "none recorded"


def config_list(names: Iterable[str]) -> str:
    """Configurations as Markdown: ```augmentation/strong``, ``domain_gap/video_g1```, or ``none``."""
    return ", ".join(f"`{c}`" for c in names) or "none"


def slow_settings(loaded: Mapping[str, ExperimentResults], names: Sequence[str]) -> str:
    """The settings of experiments ``names`` that fail the learning gate, by their labels."""
    labels: list[str] = []
    for name in names:
        results = loaded[name]
        for config in failed_configs(results):
            label = results.experiment.label(config)
            if label not in labels:
                labels.append(label)
    return ", ".join(labels) or "none"


def pseudo_video_note(results: ExperimentResults) -> str:
    """Whether pseudo-videos learned their training clips (the learning gate decides), against
    static clips, for the central experiment's prose."""
    checks = gate_check(results)
    pseudo, static = checks["pseudo_video"], checks["static_clip"]
    numbers = (
        f"{pseudo['train']:.1%} training accuracy, against {static['train']:.1%} for static "
        f"clips; the learning gate asks for {pseudo['threshold']:.1%}"
    )
    if not pseudo["passed"]:
        return (
            "Pseudo-video training is the exception to read with care: at this budget it did not "
            f"learn its own training clips ({numbers}), so its test score says more about the "
            "training budget than about pseudo-videos."
        )
    return (
        f"Pseudo-videos learned their own training clips ({numbers}): their camera zooms and "
        "turns but barely shifts, because larger shifts kept these small models from learning "
        "at all (chapter 6, exercise 2, and the limitations of chapter 8)."
    )


# ------------------------------------------------------------------------------------------------
# the terminal report


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    body = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def traceability_line(
    loaded: Mapping[str, ExperimentResults], profile: str | Profile | None = None
) -> str:
    """How many results are checked against the code that made them, and their commits.

    For an open profile that code is today's; a closed profile (:attr:`Profile.closed`) is the
    record of an earlier study version, whose results answer to the code hash it records."""
    prof = get_profile(profile) if profile is not None else None
    facts = traceability(loaded)
    records, checked, commits = facts["results"], facts["checked"], facts["commits"]
    shown = ", ".join(commits[:4]) + (f" and {len(commits) - 4} more" if len(commits) > 4 else "")
    if prof is not None and prof.closed:
        matched = (
            f"match the code of the closed version that made them (code hash {prof.code}); "
            "today's package has changed since, and the next version reruns on it"
        )
    else:
        matched = "match today's"
    text = (
        f"Traceability: {records} results from {len(commits)} commit(s) ({shown}). "
        f"{checked} record their fully resolved configuration and the hash of the code that can "
        f"change metrics, and {matched}"
    )
    if checked < records:
        text += (
            f"; {records - checked} were written before results recorded either, so they "
            "are matched on their configuration alone and nothing shows that today's code gives "
            "their metrics"
        )
    return text + "."


def _inference_lines(notes: Mapping[str, Any]) -> list[str]:
    level = f"{LEVEL:.0%}"
    return [
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
        f"What {notes['seeds']} seeds can show: {seeds_sentence(notes)} "
        + few_seeds_sentence(notes),
        "",
    ]


def _claim_lines(claims: Any) -> list[str]:
    lines: list[str] = []
    for table, title in (("comparison", "Comparison table"), ("insights", "Key insights")):
        part = claims[claims.table == table]
        rows = [
            [
                r.row if table == "comparison" else f"{r.row} ({r.kind})",
                r.label,
                test_label(r.test, r.margin, r.units),
                format_effect(r.effect, r.low, r.high, r.units),
                format_p(r.p),
                format_p(r.p_holm),
                r.verdict,
                str(r.seeds),
            ]
            for r in part.itertuples()
        ]
        header = ["claim", "primary reading", "test", _ci_header(), "p", "p (Holm)", "verdict"]
        lines += [title, _table(rows, [*header, "seeds"]), ""]
    return lines


def _secondary_lines(readings: Sequence[ReadingResult]) -> list[str]:
    rows = [
        [
            r.claim,
            r.label,
            test_label(r.test, r.margin, r.units),
            effect_text(r),
            format_p(r.p),
            r.verdict,
            str(r.seeds),
        ]
        for r in readings
        if not r.primary
    ]
    return [
        "Secondary readings (uncorrected p; not part of the claims' verdicts)",
        _table(rows, ["claim", "reading", "test", _ci_header(), "p", "verdict", "seeds"]),
        "",
    ]


def _pixel_lines(loaded: Mapping[str, ExperimentResults]) -> list[str]:
    bar = pixel_bar(loaded)
    if bar is None:
        return []
    return [
        f"Pixel baseline (no training): each frame of a test video takes the class of its "
        f"nearest training still (Euclidean distance between pixel values), the video the "
        f"majority vote of its frames, over the {bar['stills']} training stills of "
        f"{bar['experiment']}/{bar['config']} and its {bar['videos']} test videos: top-1 "
        f"{bar['mean']:.1%} (seeds "
        + ", ".join(f"{v:.1%}" for v in bar["top1"])
        + f"; chance {bar['chance']:.1%}). The versatility readings take FrameViT as their "
        "bar; this one asks whether a model trained on the stills does better than matching "
        "frames to them pixel by pixel (uncorrected, like the secondary readings):",
        _table(
            [
                [r.label, effect_text(r), format_p(r.p), r.verdict, status, str(r.seeds)]
                for r, status in zip(bar["readings"], bar["bars"], strict=True)
            ],
            ["reading", _ci_header(), "p", "verdict", "bar", "seeds"],
        ),
        "",
    ]


def _gate_lines(
    loaded: Mapping[str, ExperimentResults],
    readings: Sequence[ReadingResult],
    notes: Mapping[str, Any],
) -> list[str]:
    gate = LEARNING_GATE
    gates = gate_frame(loaded)
    summary = gate_summary(gates)
    return [
        f"Learning gate: {gate.metric} (mean over seeds) at least {gate.fraction:.0%} of the "
        "ceiling of the training modality ("
        + ", ".join(f"{k} {v:.0%}" for k, v in gate.ceilings.items())
        + f"). {summary['passed']} of {summary['configurations']} distinct configurations pass; "
        f"readings that use one that fails are not testable at this budget ({notes['gated']} "
        f"primary readings). A gate at {100 * summary['strict']:.0f} % of the ceiling would fail "
        f"{summary['strict_failed']}, among them {summary['strict_failed_video']} of the "
        f"{summary['videos']} video-trained ones, most trained on frames degraded by the domain "
        "gap, where 100 % is out of reach; the share column shows where each stands.",
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
    ]


def _bench_lines(loaded: Mapping[str, ExperimentResults], bench_dir: Path) -> list[str]:
    files = bench_files(loaded, bench_dir)
    if not files:
        return []
    return [
        "",
        "Benchmark files the study reads (their commit and code, checked with git; rerun the "
        "benchmark from a clean tree when stale):",
        *(
            f"- bench/{b}.json ("
            + ", ".join(f["experiments"] + (["attention cost table"] if f["cost_table"] else []))
            + f"): {f['status']}"
            for b, f in files.items()
        ),
    ]


def print_report(
    profile: str | Profile = "book", results_dir: str | os.PathLike | None = None
) -> str:
    """Print (and return) the verdict tables; missing or stale experiments are listed, not fatal."""
    prof = get_profile(profile)
    loaded, problems = load_study(prof, results_dir)
    readings = analyse_study(loaded)
    notes = inference_notes(readings, len(prof.seeds))
    out = Path(results_dir) if results_dir is not None else default_results_dir(prof)
    wall, cpu, runs = study_compute(loaded)
    lines = [
        f"RViT reproducibility study, profile {prof.name!r}",
        "",
        *_inference_lines(notes),
        *_claim_lines(claim_table(readings)),
        *_secondary_lines(readings),
        *_pixel_lines(loaded),
        *attention_lines(out / "bench", (prof.image_size // prof.patch_size) ** 2),
        *_gate_lines(loaded, readings, notes),
        aa_line(loaded, notes),
        "",
        f"{runs} training runs (each counted once): {wall / 60:.1f} min wall time, "
        f"{cpu / 60:.1f} min CPU time",
        "",
        traceability_line(loaded, prof),
        *_bench_lines(loaded, out / "bench"),
    ]
    if problems:
        lines += ["", "Missing or stale:", *(f"- {p}" for p in problems)]
    text = "\n".join(
        textwrap.fill(ln, 100) if len(ln) > 100 and "  " not in ln else ln for ln in lines
    )
    print(text)
    return text
