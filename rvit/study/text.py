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
* :func:`interval_label`, :func:`sanity_lines`, :func:`gate_lines` and :func:`deviation_lines`:
  what the report of an open study version (3 on) adds: which interval each reading has (the
  hierarchical bootstrap or the t interval over seeds), the sanity checks apart from the claims,
  the learning gate of every configuration with its interval over seeds, and the deviations from
  the pre-registration;
* :func:`open_seeds_sentence`, :func:`sanity_sentence`, :func:`gate_sentence` and
  :func:`retest_lines`: single sentences of those sections (chapter 8 quotes the last three);
* chapter 8 of an open version: :func:`results_status` and :func:`experiment_status` (what exists
  of the results), :func:`pilot_sentence`, :func:`pilots_and_preregistration` and
  :func:`results_origin` (how the pilots, the pre-registration and the results came about, as far
  as their files tell), :func:`version2_findings` (what was wrong with version 2),
  :func:`sanity_frame` and :func:`gate_table` (tables), :func:`not_testable_sentence` and
  :func:`budget_need_sentence` (what is not testable, and what budget would be needed),
  :func:`pixel_sentence` and :func:`pixel_limitation` (the pixel baseline),
  :func:`retest_sentence`, :func:`deviations_markdown`, :func:`compute_sentence` and
  :func:`attention_complexity`;
* :func:`print_report`: the terminal report (``python -m rvit study report``), with
  :func:`attention_lines`, :func:`aa_line` and :func:`traceability_line`. The closed book
  profile's report is the one it always printed.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rvit.study.analysis import (
    BOOTSTRAP,
    BOOTSTRAP_DRAWS,
    EXACT,
    SANITY_FAILS,
    SANITY_HOLDS,
    T_OVER_SEEDS,
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
    gate_metric_name,
    gate_rows,
    gate_summary,
    inference_notes,
    load_study,
    pixel_bar,
    rerun_command,
    sanity_status,
    study_compute,
    traceability,
)
from rvit.study.design import LEARNING_GATE, study_gate
from rvit.study.posthoc import sanity_diagnoses
from rvit.study.profiles import Profile, get_profile
from rvit.study.schema import LearningGate
from rvit.study.stats import ALPHA, CONTRADICTED, EQUIVALENT, LEVEL, NOT_TESTABLE
from rvit.study.store import default_results_dir

__all__ = [
    "aa_line",
    "aa_sentence",
    "attention_complexity",
    "attention_growth",
    "attention_lines",
    "budget_need_sentence",
    "budget_sentence",
    "claim_texts",
    "commit_list",
    "compute_sentence",
    "config_list",
    "deviation_lines",
    "deviations_markdown",
    "effect_text",
    "experiment_status",
    "few_seeds_sentence",
    "format_effect",
    "format_p",
    "gate_lines",
    "gate_sentence",
    "gate_table",
    "interval_label",
    "not_testable_sentence",
    "open_seeds_sentence",
    "pilot_sentence",
    "pilots_and_preregistration",
    "pixel_limitation",
    "pixel_sentence",
    "print_report",
    "pseudo_video_note",
    "results_origin",
    "results_status",
    "retest_lines",
    "retest_sentence",
    "sanity_frame",
    "posthoc_frame",
    "posthoc_lines",
    "posthoc_paragraph",
    "sanity_lines",
    "sanity_sentence",
    "seed_range",
    "seeds_sentence",
    "simulated_aa_sentence",
    "slow_settings",
    "test_label",
    "traceability_line",
    "verdict_frame",
    "version2_findings",
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


def _ci_header(open_: bool = False) -> str:
    """The effect column's header: the t interval (book profile), or an interval whose kind the
    next column names (:func:`interval_label`)."""
    return f"effect [{LEVEL:.0%} CI]" if open_ else f"effect [{LEVEL:.0%} t CI]"


_INTERVALS = {BOOTSTRAP: "bootstrap", T_OVER_SEEDS: "t", EXACT: "exact"}


def interval_label(method: str) -> str:
    """How a reading's interval was computed, in a word: ``bootstrap`` (the hierarchical
    bootstrap over seeds and videos), ``t`` (the paired t interval over seeds) or ``exact`` (the
    range of a quantity that does not vary); ``-`` for none."""
    return _INTERVALS.get(method, method or "-")


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
    """Whether pseudo-videos learned (the learning gate decides, on its own metric), against
    static clips, for the central experiment's prose; what it waits for without results."""
    checks = gate_check(results)
    if "pseudo_video" not in checks or "static_clip" not in checks:
        return "Whether pseudo-videos learned waits for their results and those of static clips."
    pseudo, static = checks["pseudo_video"], checks["static_clip"]
    numbers = (
        f"{pseudo['train']:.1%} {pseudo['metric_name']}, against {static['train']:.1%} for "
        f"static clips; the learning gate asks for {pseudo['threshold']:.1%}"
    )
    if not pseudo["passed"]:
        return (
            "Pseudo-video training is the exception to read with care: at this budget it did not "
            f"learn ({numbers}), so its test score says more about the training budget than "
            "about pseudo-videos."
        )
    return (
        f"Pseudo-videos learned ({numbers}): their camera zooms and turns but barely shifts, "
        "because larger shifts kept these small models from learning at all (chapter 6, "
        "exercise 2, and the limitations of chapter 8)."
    )


# ------------------------------------------------------------------------------------------------
# chapter 8 of an open study version (3 on): what exists, how it came about, what it shows


def _result_counts(results: ExperimentResults) -> tuple[int, int]:
    """``(present, asked for)``: the results of one experiment, one per configuration and seed;
    a benchmark's file counts as one."""
    exp = results.experiment
    if exp.bench is not None:
        return (1 if results.runs else 0), 1
    wanted = len(exp.configs) * len(exp.seeds)
    present = sum(len(results.runs.get(c, {})) for c in exp.configs)
    return present, wanted


def experiment_status(results: ExperimentResults) -> str:
    """``""`` when the experiment has every result the registry asks for; otherwise a line in
    italics saying what exists and that the figure and the numbers of its section wait for the
    rest (chapter 8.1)."""
    present, wanted = _result_counts(results)
    if present == wanted:
        return ""
    exp = results.experiment
    if exp.bench is not None:
        from rvit.study.bench import bench_command

        have = (
            f"its benchmark file `bench/{exp.bench}.json` does not exist yet "
            f"(`{bench_command(exp.bench)}` writes it)"
        )
    elif present == 0:
        have = f"none of its {wanted} results (one per configuration and seed) exists yet"
    else:
        have = (
            f"{present} of its {wanted} results exist (one per configuration and seed); the "
            "readings below use those"
        )
    return f"*Not complete: {have}. The figure and the numbers of this section wait for the rest.*"


def results_status(loaded: Mapping[str, ExperimentResults], profile: str | Profile) -> str:
    """How many of the results the registry asks for exist, and which experiments miss some
    (chapter 8's account of an incomplete study)."""
    prof = get_profile(profile)
    counts = {name: _result_counts(results) for name, results in loaded.items()}
    present = sum(p for p, _ in counts.values())
    wanted = sum(w for _, w in counts.values())
    complete = sum(p == w for p, w in counts.values())
    what = (
        "one per experiment, configuration and seed; the memory experiment's benchmark file "
        "counts as one"
    )
    if present == wanted:
        return (
            f"All {wanted:,} results the registry asks for at profile `{prof.name}` exist ({what}), "
            "and each answers today's registry."
        )
    missing = "; ".join(f"`{name}` {p:,} of {w:,}" for name, (p, w) in counts.items() if p < w)
    return (
        f"{present:,} of the {wanted:,} results the registry asks for at profile `{prof.name}` "
        f"exist ({what}); {complete} of the {len(counts)} experiments are complete. Missing or "
        f"stale: {missing}. `{rerun_command([], prof.name)}` fills them in (it resumes where it "
        "stopped). The tables below show what exists: a reading with fewer seeds than the "
        "profile's says so in its seeds column, and one without results is not testable."
    )


_PILOT_LABELS = {
    "image": "RViT on stills",
    "framevit": "FrameViT on stills",
    "video": "RViT on videos",
}


def _pilot_gate(run: Mapping[str, Any], gate: LearningGate) -> tuple[float, bool]:
    """The gate's threshold for a pilot run and whether its held-out accuracy reaches it."""
    modality = "video" if run["config"] == "video" else "image"
    threshold = gate.fraction * gate.ceilings[modality]
    return threshold, run["heldout_top1"] >= threshold


def _pilot_budget(run: Mapping[str, Any]) -> str:
    return (
        f"{run['train_samples']:,} x {run['epochs']} at learning rate {run['lr']:g} "
        f"({run['heldout_top1']:.1%})"
    )


def pilot_sentence(runs: Sequence[Mapping[str, Any]], gate: LearningGate) -> str:
    """What the pilots of a study version (``results/pilot-<version>.json``, each read on held-out
    data in eval mode, as the gate reads) show against the learning gate ``gate``, configuration
    by configuration."""
    reached = sum(_pilot_gate(r, gate)[1] for r in runs)
    parts = []
    for config in dict.fromkeys(r["config"] for r in runs):
        mine = [r for r in runs if r["config"] == config]
        above = [_pilot_budget(r) for r in mine if _pilot_gate(r, gate)[1]]
        below = [_pilot_budget(r) for r in mine if not _pilot_gate(r, gate)[1]]
        said = []
        if above:
            said.append("reaches it at " + ", ".join(above))
        if below:
            said.append("stays below it at " + ", ".join(below))
        parts.append(f"{_PILOT_LABELS.get(config, config)} " + " and ".join(said))
    return (
        f"{reached} of the {len(runs)} pilots reach the learning gate on held-out data "
        f"({gate.fraction:.0%} of the ceiling; samples x epochs, held-out top-1 in brackets): "
        + "; ".join(parts)
        + "."
    )


def _when(stamp: str) -> tuple[str, str]:
    """An ISO time stamp as its day and its ``HH:MM``."""
    return stamp[:10], stamp[11:16]


def pilots_and_preregistration(pilot_created: str, written: str) -> str:
    """Whether the pilots (their file's ``created`` time stamp) came before the pre-registration
    (the date its document records), as far as the two files tell."""
    day, time = _when(pilot_created)
    if day < written:
        return (
            f"The pilots' file records that they ran on {day} at {time} UTC, before the "
            f"pre-registration, whose document records {written} as the day it was written."
        )
    if day == written:
        return (
            f"The pilots' file records that they ran on {day} at {time} UTC, the day the "
            "pre-registration's document records as its own; the two files do not tell which "
            "came first."
        )
    return (
        f"The pilots' file records that they ran on {day} at {time} UTC, after the day the "
        f"pre-registration's document records ({written}): they did not choose its budget "
        "beforehand."
    )


def results_origin(
    loaded: Mapping[str, ExperimentResults],
    profile: str | Profile,
    written: str,
    registry_hash: str,
    accepted: Iterable[str] = (),
) -> str:
    """When the results read came about against the pre-registration (``written``: its date,
    ``registry_hash``: the hash it fixes, ``accepted``: the hashes recorded deviations accept), as
    far as their records tell; for a profile other than the pre-registered one, what it is."""
    prof = get_profile(profile)
    records = [r for results in loaded.values() for r in results.records]
    if not prof.preregistered:
        if prof.name == "smoke":
            return (
                "This build reads profile `smoke`: a small study run a moment ago in a scratch "
                "folder, to test the chapter's code. None of its numbers is version 3's."
            )
        return f"This build reads profile `{prof.name}`, which is not pre-registered."
    if not records:
        return (
            "No result of version 3 exists yet: every table below that reads results is empty "
            f"or not testable until `{rerun_command([], prof.name)}` has run."
        )
    stamps = sorted(str(r.get("provenance", {}).get("created", "")) for r in records)
    day, time = _when(stamps[0])
    if day > written:
        relation = "after the day"
    elif day == written:
        relation = "on the day"
    else:
        relation = "BEFORE the day"
    hashes = [r.get("registry_hash") for r in records]
    same = sum(h == registry_hash for h in hashes)
    deviated = sum(h != registry_hash and h in set(accepted) for h in hashes)
    clean = sum(not r.get("provenance", {}).get("git", {}).get("dirty", True) for r in records)
    text = (
        f"The first of the {len(records):,} results of version 3 was made on {day} at {time} UTC, "
        f"{relation} the pre-registration records ({written}). {same:,} of them record the "
        "pre-registered registry hash"
    )
    if deviated:
        text += f", {deviated:,} a hash that a recorded deviation accepts"
    text += (
        f", and {clean:,} were made from a clean commit: the runner writes a result of a "
        "pre-registered profile only while the registry hashes to the pre-registered hash (or "
        "one a recorded deviation accepts) and, from a clean tree, only once the "
        "pre-registration is committed."
    )
    return text


_MODALITIES = {
    "image": "still images",
    "video": "videos",
    "frames": "extracted frames",
    "static_clip": "static clips",
    "pseudo_video": "pseudo-videos",
}

_WHERE = {
    "test.top1": "the test videos",
    "test.appearance": "the appearance classes of the test videos",
    "fit_val.top1": "held-out stills",
}


def version2_findings(facts: Mapping[str, Any]) -> str:
    """What an audit of version 2 (the closed book profile) found, as Markdown bullets, from the
    numbers chapter 8 reads in its results and files. ``facts``: ``supported`` (``[(claim,
    label)]`` of its supported claims), ``by_construction`` (the labels that version 3 reports as
    sanity checks), ``appearance`` (image- and video-trained top-1 on appearance classes), ``term``
    (the smallest and largest test-set standard deviation its intervals added to a primary
    reading), ``gate`` (its gate's share of the ceiling), ``image_train`` and ``ceiling`` (the
    image-trained RViT's gate metric and ceiling), ``runs`` and ``below`` (distinct runs, and those
    individually below the gate), ``configurations`` and ``strict_failed`` (those below ``strict``
    of the ceiling), ``memory_repeats`` and ``memory_p`` (its memory reading's repeats and smallest
    p-value), ``twice`` (claims whose primary readings are one contrast), ``length_modalities``
    (what its video-length reading's models were trained on), ``attention_metrics`` (where it read
    attention's spatial features), ``pilot_created`` and ``first_result`` (time stamps),
    ``minutes`` (from the first result to the pilots), ``first_difficulty`` (the difficulty the
    first result records) and ``pilot_best`` (``(difficulty, epochs, training top-1)`` of the best
    pilot at the hardest difficulty)."""
    supported = facts["supported"]
    construction = [label for _, label in supported if label in facts["by_construction"]]
    image, video = facts["appearance"]
    first = (
        f"**Verdicts true by construction.** Version 2 supported {len(supported)} claims ("
        + "; ".join(f"`{claim}`, *{label}*" for claim, label in supported)
        + f"). {len(construction)} of them rest on readings that hold by construction of the "
        "world or of arithmetic ("
        + ", ".join(f"*{label}*" for label in construction)
        + "), which version 3 reports as sanity checks, apart from the claims."
    )
    if image >= video:
        first += (
            f" On the appearance classes, where one frame suffices, the image-trained model was "
            f"the better one ({image:.1%} against {video:.1%} for the video-trained one): what "
            "image training lost lay on the motion pairs, whose single frames carry no direction."
        )
    else:
        first += (
            f" On the appearance classes the image-trained model scored {image:.1%}, the "
            f"video-trained one {video:.1%}."
        )
    low, high = facts["term"]
    term = (
        "**A test-set term far too wide.** Every seed was tested on the same videos and only "
        "accuracies were stored, so the intervals added the test set's sampling variance at its "
        "worst case, as if two models erred on opposite videos: a standard deviation of "
        f"{100 * low:.1f} to {100 * high:.1f} points on the primary readings. An audit that "
        "retrained 15 of the runs and tested each on the committed test set and on 12 fresh ones "
        "found nearly all of the test-set noise specific to each seed, so already in the spread "
        "between seeds: the term was five to six times its right size, and effects under about "
        "12 to 14 points could not be supported at any number of seeds."
    )
    training = (
        f"**Models mid-training.** Its learning gate asked for {facts['gate']:.0%} of the "
        "ceiling on the running training accuracy of the last epoch. The image-trained RViT "
        f"ended at {facts['image_train']:.1%} against a ceiling of {facts['ceiling']:.0%}; "
        f"{facts['below']} of the {facts['runs']} distinct runs were individually below the "
        f"gate, and {facts['strict_failed']} of the {facts['configurations']} configurations "
        f"below {facts['strict']:.0%} of their ceiling."
    )
    trained = " and ".join(_MODALITIES.get(m, m) for m in facts["length_modalities"])
    where = " and ".join(_WHERE.get(m, f"`{m}`") for m in facts["attention_metrics"])
    words = (
        "**Readings that did not test the words.** Flexibility to video length compared models "
        f"trained on {trained}, while the claim is about the image-trained frame-by-frame "
        f"model; memory rested on {facts['memory_repeats']} benchmark repeats, whose sign-flip "
        f"p-value cannot go below {facts['memory_p']:.2g}; "
        + " and ".join(f"`{c}`" for c in facts["twice"])
        + " read one contrast twice; attention's spatial feature learning *during image "
        f"training* was read on {where}, not on held-out stills."
    )
    pilot_day, pilot_time = _when(facts["pilot_created"])
    first_day, first_time = _when(facts["first_result"])
    difficulty, epochs, top1 = facts["pilot_best"]
    order = (
        f"**Order of events.** `results/pilot.json` records that the pilots ran on {pilot_day} at "
        f"{pilot_time} UTC, {facts['minutes']} minutes after the first result of version 2 "
        f"({first_day} at {first_time} UTC), which already records the difficulty of "
        f"{facts['first_difficulty']:g} the pilots are said to have chosen. The chapter said the "
        f"pilots came before the runs and that at difficulty {difficulty:g} nothing learned; "
        f"there the pilot of {epochs} epochs reached {top1:.0%} training accuracy."
    )
    return "\n".join(f"* {item}" for item in (first, term, training, words, order))


def sanity_frame(readings: Sequence[ReadingResult]) -> Any:
    """The sanity checks as chapter 8 shows them: claim and check, the effect with its interval
    (and, in brackets, the interval's kind), the p-value and whether it holds (the seeds are the study's, which
    the chapter states once)."""
    import pandas as pd

    checks = [r for r in readings if r.sanity]
    return pd.DataFrame(
        {
            "claim: check": [f"{r.claim}: {r.label}" for r in checks],
            _ci_header(True): [f"{effect_text(r)} ({interval_label(r.method)})" for r in checks],
            "p": [format_p(r.p) for r in checks],
            "status": [sanity_status(r) for r in checks],
        }
    )


def gate_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """The learning gate of every configuration (:func:`~rvit.study.analysis.gate_rows`) as
    chapter 8 shows it: the mean of the gate's metric with its interval over seeds, the seeds, the
    threshold, the share of the ceiling and whether it passes."""
    import pandas as pd

    def interval(r: Mapping[str, Any]) -> str:
        if r["passed"] is None:
            return "-"
        return f"{_share_text(r['train'])} [{_share_text(r['low'])}, {_share_text(r['high'])}]"

    return pd.DataFrame(
        {
            "configuration": [f"{r['experiment']}/{r['config']}" for r in rows],
            f"mean [{LEVEL:.0%} t CI]": [interval(r) for r in rows],
            "seeds": [r["seeds"] for r in rows],
            "threshold": [f"{r['threshold']:.1%}" for r in rows],
            "share": [f"{r['share']:.0%}" if r["passed"] is not None else "-" for r in rows],
            "gate": [
                "no results" if r["passed"] is None else ("pass" if r["passed"] else "FAIL")
                for r in rows
            ],
        }
    )


def not_testable_sentence(claims: Any, readings: Sequence[ReadingResult]) -> str:
    """Which claims are not testable, and why: configurations of their primary reading below the
    learning gate (how many), no results, or too few seeds (chapter 8)."""
    rows = [row for row in claims.itertuples() if row.verdict == NOT_TESTABLE]
    if not rows:
        return (
            "No claim is left not testable: every primary reading has its results and passes "
            "the learning gate."
        )
    gated: list[str] = []
    empty: list[str] = []
    few: list[str] = []
    for row in rows:
        primary = next((r for r in readings if r.claim == row.claim and r.primary), None)
        if primary is None or not primary.values:
            empty.append(f"`{row.claim}`")
        elif primary.gate:
            n = len(primary.gate)
            gated.append(f"`{row.claim}` ({n} configuration{'s' if n > 1 else ''})")
        else:
            few.append(f"`{row.claim}` ({primary.note or 'too few seeds'})")
    parts = []
    if gated:
        parts.append("below the learning gate, " + ", ".join(gated))
    if empty:
        parts.append("without results yet, " + ", ".join(empty))
    if few:
        parts.append(", ".join(few))
    return f"{len(rows)} of the {len(claims)} claims are not testable: " + "; ".join(parts) + "."


def budget_need_sentence(
    rows: Sequence[Mapping[str, Any]],
    pilots: Sequence[Mapping[str, Any]],
    gate: LearningGate,
    samples: int,
    epochs: int,
) -> str:
    """What the pilots and the learning gate say of the budget the configurations below the gate
    would need (``samples`` x ``epochs``: the profile's budget)."""
    tested = [r for r in rows if r["passed"] is not None]
    failed = [r for r in tested if not r["passed"]]
    budget = f"{samples:,} samples x {epochs} epochs"
    if not tested:
        return (
            f"Which configurations reach the gate at {budget} waits for the results; the pilots "
            "above are all that is known so far."
        )
    if not failed:
        return (
            f"Every configuration with results reaches the learning gate at {budget}: no reading "
            "is lost to under-training."
        )
    shown = 8
    names = ", ".join(
        f"`{r['experiment']}/{r['config']}` ({r['share']:.0%} of its ceiling)"
        for r in failed[:shown]
    ) + (f" and {len(failed) - shown} more (the table below)" if len(failed) > shown else "")
    trained = sorted({_PILOT_LABELS.get(p["config"], p["config"]) for p in pilots})
    reached = [p for p in pilots if _pilot_gate(p, gate)[1]]
    missed = [p for p in pilots if not _pilot_gate(p, gate)[1]]
    text = (
        f"{len(failed)} configurations stay below the gate at {budget}: {names}. The pilots "
        f"trained only {', '.join(trained)}, for one seed"
    )
    if reached:
        text += "; what brought them to the gate is in the pilots' paragraph above" + (
            ", and what did not" if missed else ""
        )
    return text + (
        ". For a configuration below the gate they give no budget that would suffice: a pilot of "
        f"it, read on held-out data as the gate reads, at more samples or epochs than {budget}, "
        "would have to find one before another version could test its readings."
    )


_BARS = {
    "passes": "above the baseline (its interval lies above zero)",
    "fails": "below the baseline (its interval lies below zero)",
    "undecided": "not apart from it (its interval holds zero)",
}


def pixel_sentence(bar: Mapping[str, Any] | None) -> str:
    """The pixel nearest-neighbour baseline (:func:`~rvit.study.analysis.pixel_bar`) on the test
    videos and on held-out stills, and where the still-trained models stand against it."""
    if bar is None:
        return (
            "The pixel baseline is read against the image-trained runs of the central experiment; "
            "none exist yet."
        )
    text = (
        f"Matching each frame to the nearest of the {bar['stills']:,} training stills, pixel by "
        f"pixel, and letting the frames vote scores {bar['mean']:.1%} on a seed's "
        f"{bar['videos']} test videos (chance {bar['chance']:.1%})"
    )
    held = bar["held_out"]
    if held is not None:
        text += f" and {held['mean']:.1%} on its {held['items']} held-out stills"
    readings = [*zip(bar["readings"], bar["bars"], strict=True)]
    if held is not None:
        readings += [*zip(held["readings"], held["bars"], strict=True)]
    return (
        text
        + ". "
        + "; ".join(f"{r.label}: {effect_text(r)}, {_BARS[status]}" for r, status in readings)
        + "."
    )


def pixel_limitation(bar: Mapping[str, Any] | None) -> str:
    """What the pixel baseline means for what the study can say about real videos."""
    lead = "**A world the pixel baseline reads.**"
    rest = (
        "The world's figures are drawn from a few templates, which favours matching pixels; "
        "real photographs and videos do not. The study can tell how the design choices compare "
        "with each other in this world, not how well image-trained RViT does on real videos."
    )
    if bar is None or not bar["readings"]:
        return f"{lead} Not measured yet: it needs the image-trained runs. {rest}"
    status = bar["bars"][0]
    if status == "fails":
        found = (
            "A nearest-neighbour vote over the training stills, pixel by pixel, beats the "
            "image-trained RViT on the test videos."
        )
    elif status == "passes":
        found = (
            "The image-trained RViT beats a nearest-neighbour vote over its training stills, "
            "pixel by pixel, on the test videos."
        )
    else:
        found = (
            "The image-trained RViT and a nearest-neighbour vote over its training stills, pixel "
            "by pixel, cannot be told apart on the test videos."
        )
    return f"{lead} {found} {rest}"


def retest_sentence(loaded: Mapping[str, ExperimentResults]) -> str:
    """The check of the bootstrap's video level on a second test set (:func:`retest_lines`), or
    what it waits for."""
    lines = retest_lines(loaded)
    if lines:
        return lines[0]
    return (
        "No run has two test sets with a spread to compare yet: the check of the bootstrap's "
        "video level waits for the central experiment's image- and video-trained runs (and needs "
        "models that are right on some videos of a class and wrong on others)."
    )


def deviations_markdown(profile: str | Profile, folder: str | os.PathLike | None = None) -> str:
    """The deviations log of ``profile`` (:func:`deviation_lines`) as Markdown: its head, then
    one item per deviation."""
    lines = deviation_lines(profile, folder)
    return "\n\n".join([lines[0], "\n".join(lines[1:])]) if len(lines) > 1 else lines[0]


def compute_sentence(loaded: Mapping[str, ExperimentResults]) -> str:
    """The compute behind the results read (:func:`~rvit.study.analysis.study_compute`)."""
    wall, cpu, runs = study_compute(loaded)
    if not runs:
        return "No training run of this profile exists yet, so what it costs is not measured."
    records = [r for results in loaded.values() for r in results.records]
    env = records[0].get("provenance", {}).get("environment", {})
    unit, scale = ("hours", 3600) if cpu >= 3600 else ("minutes", 60)
    return (
        f"The {runs:,} distinct training runs behind these results took {cpu / scale:.1f} CPU "
        f"{unit} ({wall / scale:.1f} {unit} of wall time summed over runs) on "
        f"`{env.get('cpu', '?')}` with {env.get('torch_threads', '?')} torch thread(s) per run."
    )


def attention_complexity(
    result: ReadingResult | None, cost: Mapping[str, Any] | None, tokens: int
) -> str:
    """What the complexity of hybrid attention comes to: the exact FLOP reading at the study's
    frame size (``tokens`` per frame) and the attention benchmark's growth with the tokens."""
    parts: list[str] = []
    ratio = None
    if result is not None and result.values:
        ratio = 10 ** (sum(result.values) / len(result.values))
        parts.append(
            f"At the study's {tokens} tokens per frame hybrid attention costs {ratio:.2f} times "
            f"the FLOPs of linear attention (counted from the model; reading {result.verdict})."
        )
    largest = None
    if cost is not None and cost["rows"]:
        largest = cost["rows"][-1]
        parts.append(
            f"{attention_growth(cost)}, and at {largest['tokens']} tokens the hybrid block takes "
            f"{largest['ratio']:.1f} times as long as the linear one."
        )
    if ratio is not None and largest is not None and largest["ratio"] > 1:
        parts.append(
            "'Adds complexity' holds for large frames, not at the study's frame size."
            if ratio < 1
            else "'Adds complexity' holds at the study's frame size and grows with the frame."
        )
    return " ".join(parts) or "The cost of attention waits for its results."


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


def _open_inference_lines(notes: Mapping[str, Any]) -> list[str]:
    """The inference paragraph of an open study version (3 on): the bootstrap and the t path."""
    level = f"{LEVEL:.0%}"
    return [
        "Inference. The seed is the unit: strata are averaged within each seed. Readings of "
        "per-video accuracies (each seed tested on videos of its own, every video's outcome "
        "stored) are read by a hierarchical bootstrap ('bootstrap' in the interval column): "
        f"{BOOTSTRAP_DRAWS:,} draws resample the seeds and, within each drawn seed, its videos "
        "within each class, the same videos for every configuration (evaluations that show the "
        "same draw of the world, such as the test set and its length variants, stay paired; "
        "different sets, such as training and held-out stills, are resampled apart). Effect: "
        f"the mean over seeds with the studentized bootstrap interval at {level}; test: its dual "
        "two-sided p-value; equivalence readings (does not suffer / ensures / works) use the "
        "bootstrap's two one-sided tests with the margin fixed in the registry. Other readings "
        "('t': measurements such as peak memory; 'exact': counts from the model) keep the paired "
        "t interval over seeds with the exact sign-flip test, or their sign at every seed. "
        f"Correction: Holm over the primary readings of the {notes['family']} claims that pass "
        f"the learning gate ({notes['bootstrapped']} of them by the bootstrap; family-wise error "
        f"{ALPHA:.0%}); secondary readings are uncorrected; sanity checks, true by construction, "
        "are outside the family and never decide a claim. Verdicts: supported, contradicted, "
        "equivalent, inconclusive, not testable.",
        "",
        open_seeds_sentence(notes),
        "",
    ]


def open_seeds_sentence(notes: Mapping[str, Any]) -> str:
    """What the seeds of an open study version (3 on) can show, by the bootstrap and by the t path
    (the readings of measurements)."""
    return (
        f"What {notes['seeds']} seeds can show: by the bootstrap, the smallest two-sided p-value "
        f"of {BOOTSTRAP_DRAWS:,} draws is {notes['bootstrap_smallest_p']:.2g}, below Holm's first "
        f"step over {notes['family']} claims (p <= {notes['holm_first']:.3g}); by the t path, "
        + seeds_sentence(notes)
    )


def _claim_lines(claims: Any, open_: bool = False) -> list[str]:
    lines: list[str] = []
    for table, title in (("comparison", "Comparison table"), ("insights", "Key insights")):
        part = claims[claims.table == table]
        rows = [
            [
                r.row if table == "comparison" else f"{r.row} ({r.kind})",
                r.label,
                test_label(r.test, r.margin, r.units),
                *([interval_label(r.method)] if open_ else []),
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
            *(["interval"] if open_ else []),
            _ci_header(open_),
            "p",
            "p (Holm)",
            "verdict",
        ]
        lines += [title, _table(rows, [*header, "seeds"]), ""]
    return lines


def _secondary_lines(readings: Sequence[ReadingResult], open_: bool = False) -> list[str]:
    rows = [
        [
            r.claim,
            r.label,
            test_label(r.test, r.margin, r.units),
            *([interval_label(r.method)] if open_ else []),
            effect_text(r),
            format_p(r.p),
            r.verdict,
            str(r.seeds),
        ]
        for r in readings
        if not r.primary and not r.sanity
    ]
    header = [
        "claim",
        "reading",
        "test",
        *(["interval"] if open_ else []),
        _ci_header(open_),
        "p",
        "verdict",
        "seeds",
    ]
    return [
        "Secondary readings (uncorrected p; not part of the claims' verdicts)",
        _table(rows, header),
        "",
    ]


def sanity_lines(readings: Sequence[ReadingResult]) -> list[str]:
    """The report's section on the sanity checks (``Reading.sanity``): each check, its effect and
    whether it holds (:func:`~rvit.study.analysis.sanity_status`), and what a failed one means.
    Empty without sanity checks (the book profile has none)."""
    checks = [r for r in readings if r.sanity]
    if not checks:
        return []
    status = [sanity_status(r) for r in checks]
    rows = [
        [
            r.claim,
            r.label,
            test_label(r.test, r.margin, r.units),
            interval_label(r.method),
            effect_text(r),
            format_p(r.p),
            s,
            str(r.seeds),
        ]
        for r, s in zip(checks, status, strict=True)
    ]
    header = ["claim", "check", "test", "interval", _ci_header(True), "p", "status", "seeds"]
    return [
        "Sanity checks (true by construction of the synthetic world or of arithmetic; uncorrected, "
        "outside Holm's family, never a claim's verdict). One that holds says the set-up works; "
        "one that is contradicted says the set-up is broken. " + sanity_sentence(readings),
        _table(rows, header),
        "",
    ]


def posthoc_frame(diagnoses: Sequence[tuple[ReadingResult, Sequence[ReadingResult]]]) -> Any:
    """The post-hoc split of each failed sanity check (:func:`rvit.study.posthoc.sanity_diagnoses`)
    as chapter 8 shows it: each part (with its check's name when there are several checks), its
    effect with its interval, the equivalence test's p-value and its uncorrected verdict."""
    import pandas as pd

    rows = [(check, part) for check, parts in diagnoses for part in parts]
    several = len({check.label for check, _ in rows}) > 1
    return pd.DataFrame(
        {
            "part": [part.label if several else part.label.split(": ", 1)[-1] for _, part in rows],
            _ci_header(True): [effect_text(part) for _, part in rows],
            "p (TOST)": [format_p(part.p) for _, part in rows],
            "verdict": [part.verdict for _, part in rows],
        }
    )


def posthoc_paragraph(
    diagnoses: Sequence[tuple[ReadingResult, Sequence[ReadingResult]]],
) -> str:
    """Chapter 8's paragraph on the post-hoc split of each failed sanity check
    (:func:`posthoc_frame` is its table); empty when every check holds."""
    if not any(parts for _, parts in diagnoses):
        return ""
    sentences = []
    for check, parts in diagnoses:
        if not parts:
            continue
        described = "; ".join(
            f"the {part.label.split(': ', 1)[-1]} sum to {effect_text(part)} ("
            + (
                "equivalent to zero within the smallest effect of interest"
                if part.verdict == EQUIVALENT
                else "not shown to lie within the smallest effect of interest of zero"
            )
            + ")"
            for part in parts
        )
        sentences.append(f"In {check.experiment}/{check.label!r}, {described}.")
    return (
        "**Post hoc, not pre-registered.** A diagnosis that decides nothing: each failed check split "
        "into the terms of each metric it reads, with their signs, so that the parts add up to the "
        "check's effect (the table below). "
        + " ".join(sentences)
        + " A part that reads a quantity "
        "the world does not fix by construction (an accuracy on appearance classes, which more data "
        "can change) makes the check lean on an empirical result: its failure then says that result "
        "did not show at this budget, and the check was mis-specified as one that holds by "
        "construction."
    )


def posthoc_lines(diagnoses: Sequence[tuple[ReadingResult, Sequence[ReadingResult]]]) -> list[str]:
    """The report's lines for :func:`posthoc_frame`; nothing when every sanity check holds."""
    rows = [(check, part) for check, parts in diagnoses for part in parts]
    if not rows:
        return []
    table = [
        [
            part.label,
            test_label(part.test, part.margin, part.units),
            effect_text(part),
            format_p(part.p),
            part.verdict,
            str(part.seeds),
        ]
        for _, part in rows
    ]
    header = ["check: part", "test", _ci_header(True), "p", "verdict", "seeds"]
    return [
        "Post hoc, not pre-registered (a diagnosis that decides nothing): each failed sanity check "
        "split into the terms of each metric it reads, with their signs (the parts sum to the "
        "check's effect), each tested for equivalence to zero within the smallest effect of "
        "interest. A part that is equivalent to zero is what holds by construction; a part that "
        "is not is an empirical quantity the check leaned on.",
        _table(table, header),
        "",
    ]


def sanity_sentence(readings: Sequence[ReadingResult]) -> str:
    """How many sanity checks hold, and what a failed one means (:func:`sanity_lines` and chapter
    8); ``no sanity checks`` for a profile without them (the book profile)."""
    checks = [r for r in readings if r.sanity]
    if not checks:
        return "This profile has no sanity checks."
    status = [sanity_status(r) for r in checks]
    failed = [r for r, s in zip(checks, status, strict=True) if s == SANITY_FAILS]
    held = sum(s == SANITY_HOLDS for s in status)
    if failed:
        against = [r for r in failed if r.verdict == CONTRADICTED]
        unshown = [r for r in failed if r.verdict != CONTRADICTED]
        names = ", ".join(f"{r.experiment}/{r.label}" for r in failed)
        sentence = f"{len(failed)} of {len(checks)} sanity checks FAIL ({names}): "
        if against:
            sentence += (
                "what holds by construction is contradicted, so the set-up is broken (the "
                "synthetic world, an evaluation or the arithmetic), and the readings that rest on "
                "it are not to be trusted until the cause is found."
            )
        if unshown:
            sentence += (
                f"{'and ' if against else ''}"
                f"{len(unshown)} {'does' if len(unshown) == 1 else 'do'} not show what should "
                "hold (an interval that reaches zero, not an effect against it): either the set-up "
                "is broken or the check rests on more than its construction; the post-hoc split "
                "of its terms says which."
            )
        return sentence
    why = "(no results, or a configuration below the learning gate)"
    if not held:
        many = len(checks) > 1
        return (
            f"{'All ' if many else 'The '}{len(checks)} sanity check{'s are' if many else ' is'} "
            f"not testable {why}."
        )
    return f"{held} of {len(checks)} sanity checks hold" + (
        "." if held == len(checks) else f"; the others are not testable {why}."
    )


def _pixel_rows(readings: Sequence[ReadingResult], bars: Sequence[str], open_: bool) -> str:
    return _table(
        [
            [
                r.label,
                *([interval_label(r.method)] if open_ else []),
                effect_text(r),
                format_p(r.p),
                r.verdict,
                status,
                str(r.seeds),
            ]
            for r, status in zip(readings, bars, strict=True)
        ],
        [
            "reading",
            *(["interval"] if open_ else []),
            _ci_header(open_),
            "p",
            "verdict",
            "bar",
            "seeds",
        ],
    )


def _pixel_lines(loaded: Mapping[str, ExperimentResults], open_: bool = False) -> list[str]:
    bar = pixel_bar(loaded)
    if bar is None:
        return []
    if open_:
        return _open_pixel_lines(bar)
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
        _pixel_rows(bar["readings"], bar["bars"], False),
        "",
    ]


def _open_pixel_lines(bar: Mapping[str, Any]) -> list[str]:
    """The pixel baseline of an open study version: on the test videos and on held-out stills."""
    lines = [
        f"Pixel baseline (no training): each frame of a test video takes the class of its "
        f"nearest training still (Euclidean distance between pixel values), the video the "
        f"majority vote of its frames; a held-out still takes the class of its nearest training "
        f"still. Over the {bar['stills']} training stills of {bar['experiment']}/{bar['config']} "
        f"(chance {bar['chance']:.1%}): top-1 {bar['mean']:.1%} on its {bar['videos']} test "
        f"videos (seeds " + ", ".join(f"{v:.1%}" for v in bar["top1"]) + ")",
    ]
    held = bar["held_out"]
    if held is not None:
        lines[0] += (
            f" and {held['mean']:.1%} on its {held['items']} held-out stills ({held['eval']}; "
            "seeds " + ", ".join(f"{v:.1%}" for v in held["top1"]) + ")"
        )
    lines[0] += (
        ". A model trained on the stills must beat matching frames to them pixel by pixel "
        "(uncorrected, like the secondary readings). On the test videos:"
    )
    lines += [_pixel_rows(bar["readings"], bar["bars"], True), ""]
    if held is not None and held["readings"]:
        lines += ["On the held-out stills:", _pixel_rows(held["readings"], held["bars"], True), ""]
    return lines


def _gate_lines(
    loaded: Mapping[str, ExperimentResults],
    readings: Sequence[ReadingResult],
    notes: Mapping[str, Any],
) -> list[str]:
    gate = LEARNING_GATE
    gates = gate_frame(loaded)
    summary = gate_summary(gates)
    return [
        f"Learning gate: {gate_metric_name(gate.metric)} ({gate.metric}, mean over seeds) at least "
        f"{gate.fraction:.0%} of the ceiling of the training modality ("
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


def _share_text(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.1%}"


def gate_lines(
    loaded: Mapping[str, ExperimentResults],
    readings: Sequence[ReadingResult],
    notes: Mapping[str, Any],
    profile: str | Profile,
) -> list[str]:
    """The report's learning gate of an open study version: one line per configuration of every
    experiment (shared runs in each experiment that uses them), the mean of the gate's metric over
    seeds with its 95 % t interval over seeds, the seeds, the threshold and the share of the
    ceiling; then the readings it makes not testable."""
    gate = study_gate(get_profile(profile))
    rows = gate_rows(loaded)
    table = _table(
        [
            [
                f"{r['experiment']}/{r['config']}",
                str(r["modality"]),
                _share_text(r.get("train")),
                (
                    f"[{_share_text(r['low'])}, {_share_text(r['high'])}]"
                    if r["passed"] is not None
                    else "-"
                ),
                str(r["seeds"]),
                f"{r['threshold']:.1%}",
                f"{r['ceiling']:.0%}",
                f"{r['share']:.0%}" if r["passed"] is not None else "-",
                "no results" if r["passed"] is None else ("pass" if r["passed"] else "FAIL"),
            ]
            for r in rows
        ],
        [
            "configuration",
            "modality",
            "mean",
            f"{LEVEL:.0%} t CI (seeds)",
            "seeds",
            "threshold",
            "ceiling",
            "share",
            "gate",
        ],
    )
    return [
        "Learning gate: " + gate_sentence(rows, notes, gate),
        table,
        "",
        *(
            f"Not testable at this budget: {r.claim} ({r.role}, {r.label}): " + "; ".join(r.gate)
            for r in readings
            if r.gate
        ),
        "",
    ]


def gate_sentence(
    rows: Sequence[Mapping[str, Any]], notes: Mapping[str, Any], gate: LearningGate
) -> str:
    """The learning gate of an open study version in words: its metric and threshold, how many of
    the configurations with results (:func:`~rvit.study.analysis.gate_rows`) pass, and how many
    primary readings it makes not testable (:func:`gate_lines` and chapter 8)."""
    tested = [r for r in rows if r["passed"] is not None]
    passed = sum(bool(r["passed"]) for r in tested)
    missing = len(rows) - len(tested)
    return (
        f"{gate_metric_name(gate.metric)} ({gate.metric}), its mean over seeds at "
        f"least {gate.fraction:.0%} of the ceiling of the training modality ("
        + ", ".join(f"{k} {v:.0%}" for k, v in gate.ceilings.items())
        + f"); the interval, over seeds, says how firmly. {passed} of {len(tested)} "
        f"configurations with results pass"
        + (f" ({missing} have no results)" if missing else "")
        + f"; readings that use one that fails are not testable at this budget "
        f"({notes['gated']} primary readings)."
    )


def deviation_lines(profile: str | Profile, folder: str | os.PathLike | None = None) -> list[str]:
    """The report's deviations from the pre-registration of ``profile`` (``folder``: where the
    pre-registrations and their logs live, :data:`rvit.study.preregistration.STUDY_DIR` by
    default): one line per recorded deviation, or ``none recorded``."""
    from rvit.study.preregistration import load_deviations, read_preregistration

    prof = get_profile(profile)
    doc = read_preregistration(prof, folder)
    deviations = load_deviations(prof, folder)
    registered = (
        f"pre-registered (registry hash {doc.registry_hash[:12]}, written {doc.written})"
        if doc is not None
        else "no pre-registration written"
    )
    head = f"Deviations from the pre-registration ({registered}): "
    if not deviations:
        return [head + "none recorded."]
    return [
        head + f"{len(deviations)} recorded.",
        *(
            f"- {d.date}, decided {d.decided or 'when unknown'} ({d.results} results then): "
            f"{d.what} Why: {d.why} (accepts registry hash {d.registry_hash[:12]})"
            for d in deviations
        ),
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


def retest_lines(loaded: Mapping[str, ExperimentResults]) -> list[str]:
    """The check of the bootstrap's video level on two test sets per seed
    (:func:`rvit.study.retest.retest_check`); nothing when no run has both."""
    from rvit.study.retest import retest_check

    check = retest_check(loaded)
    if check is None:
        return []
    return [
        f"Second test set (a check of the bootstrap's resampling of videos within a seed): over "
        f"{check['pairs']} runs, the accuracies on two independent test sets differ by "
        f"{check['rms_z']:.2f} times the spread that resampling predicts (1 when it is right), "
        f"and {check['within_band']:.0%} of the second accuracies lie within the 95 % band the "
        f"first set predicts for them.",
        "",
    ]


def print_report(
    profile: str | Profile = "book",
    results_dir: str | os.PathLike | None = None,
    study_dir: str | os.PathLike | None = None,
) -> str:
    """Print (and return) the verdict tables; missing or stale experiments are listed, not fatal.

    The closed book profile's report is the one it always printed. An open study version's (3 on)
    says which interval each reading has, lists the sanity checks apart, gives the learning gate of
    every configuration with its interval over seeds and the pixel baseline on held-out stills as
    well, and ends with the deviations from its pre-registration (``study_dir``: where the
    pre-registrations live, :data:`rvit.study.preregistration.STUDY_DIR` by default).
    """
    prof = get_profile(profile)
    loaded, problems = load_study(prof, results_dir)
    readings = analyse_study(loaded)
    notes = inference_notes(readings, len(prof.seeds))
    out = Path(results_dir) if results_dir is not None else default_results_dir(prof)
    wall, cpu, runs = study_compute(loaded)
    open_ = prof.version >= 3
    if open_:
        middle = [
            *_open_inference_lines(notes),
            *_claim_lines(claim_table(readings), True),
            *sanity_lines(readings),
            *posthoc_lines(sanity_diagnoses(readings, loaded)),
            *_secondary_lines(readings, True),
            *gate_lines(loaded, readings, notes, prof),
            *retest_lines(loaded),
            *_pixel_lines(loaded, True),
            *attention_lines(out / "bench", (prof.image_size // prof.patch_size) ** 2),
        ]
    else:
        middle = [
            *_inference_lines(notes),
            *_claim_lines(claim_table(readings)),
            *_secondary_lines(readings),
            *_pixel_lines(loaded),
            *attention_lines(out / "bench", (prof.image_size // prof.patch_size) ** 2),
            *_gate_lines(loaded, readings, notes),
        ]
    lines = [
        f"RViT reproducibility study, profile {prof.name!r}",
        "",
        *middle,
        aa_line(loaded, notes),
        "",
        f"{runs} training runs (each counted once): {wall / 60:.1f} min wall time, "
        f"{cpu / 60:.1f} min CPU time",
        "",
        traceability_line(loaded, prof),
        *_bench_lines(loaded, out / "bench"),
    ]
    if open_:
        lines += ["", *deviation_lines(prof, study_dir)]
    if problems:
        lines += ["", "Missing or stale:", *(f"- {p}" for p in problems)]
    text = "\n".join(
        textwrap.fill(ln, 100) if len(ln) > 100 and "  " not in ln else ln for ln in lines
    )
    print(text)
    return text
