"""Pre-registration of a study version: what it will test, fixed before any result of it exists.

A pre-registration is a Markdown document, ``study/preregistration-<profile>.md`` at the repository
root (:func:`preregistration_path`), written by ``python -m rvit study preregister --profile P``
from the registry (:mod:`rvit.study.registry`), then committed and tagged. Per claim it states the
primary reading, its direction, its smallest effect of interest, its equivalence margin (for the
claims that say "does not suffer / ensures / works") and whether it enters Holm's family; then the
secondary readings, the sanity checks, the analysis rule, the seeds, and :func:`registry_hash`: a
hash of the resolved registry and of the analysis code. The document carries that hash in a
machine-readable line (``registry-hash: <hex>``) that :func:`read_preregistration` parses back.

From then on :func:`check_preregistered` (called by :func:`rvit.study.runner.run_study` before any
training) refuses to run the profile while the registry hashes differently, unless the deviations
log ``study/deviations-<profile>.yaml`` (:func:`deviations_path`) accepts the new hash: each entry,
appended by ``python -m rvit study deviate --profile P --what ... --why ...``
(:func:`record_deviation`), says when, what changed, why, the hash it accepts and whether it was
decided before or after any result of the profile existed. :func:`load_deviations` reads them back
(chapter 8 prints them). A profile with :attr:`~rvit.study.profiles.Profile.preregistered` set is
refused while it has no pre-registration at all; ``smoke`` (the tests' scratch scale) is never
pre-registered.

Every result written for a pre-registered profile stores the registry hash it ran under
(``registry_hash`` in the record).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rvit.study.claims import CLAIMS, claim_ids
from rvit.study.experiments import get_experiments
from rvit.study.profiles import Profile, get_profile
from rvit.study.schema import Contrast, Experiment, Reading
from rvit.study.store import ROOT, default_results_dir

__all__ = [
    "ANALYSIS_FILES",
    "FORMAT",
    "STUDY_DIR",
    "Deviation",
    "Preregistration",
    "PreregistrationError",
    "analysis_hashes",
    "check_preregistered",
    "deviations_path",
    "experiment_hashes",
    "load_deviations",
    "preregistration_path",
    "preregistration_text",
    "read_preregistration",
    "record_deviation",
    "registry_hash",
    "resolved_registry",
    "resolved_smallest_effect",
    "write_preregistration",
]

FORMAT = 1
"""The version of the hashed serialisation; a change of :func:`resolved_registry`'s layout raises
it, so an old hash is never compared with one computed another way by accident."""

ANALYSIS_FILES: tuple[str, ...] = (
    "rvit/study/stats.py",
    "rvit/study/bootstrap.py",
    "rvit/study/analysis.py",
    "rvit/study/outcomes.py",
    "rvit/study/pixel_nn.py",
    "rvit/study/retest.py",
)
"""The analysis code a pre-registration fixes (paths from the repository root): the statistics
(intervals, tests, Holm's correction, the verdict rule), the bootstrap, the analysis that
computes every number of the report, the per-video outcomes it reads (motion-pair accuracy is
computed there), the pixel baseline it compares with and the check of its video level on a
second test set. The wording (rvit/study/text.py) is not fixed: rewording a
sentence is no deviation. Files of this list that do not exist are left out of the hash; a file
that appears or disappears changes it."""

STUDY_DIR = ROOT / "study"
"""Where the pre-registrations and the deviations logs live: ``study/`` at the repository root,
beside ``results/`` (which holds what the study found)."""

_HEX = re.compile(r"[0-9a-f]{64}")


class PreregistrationError(ValueError):
    """A pre-registered profile whose registry changed without a recorded deviation, or a profile
    that must be pre-registered and is not."""


# ------------------------------------------------------------------------------------------------
# the hash


def _canonical(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _json(obj: Any) -> Any:
    """Plain JSON types (tuples become lists), so equal values serialise equally."""
    return json.loads(json.dumps(obj))


def _contrast_dict(contrast: Contrast) -> dict[str, Any]:
    return {
        "strata": [
            [{"coef": t.coef, "config": t.config, "metric": t.metric, "value": t.value} for t in s]
            for s in contrast.strata
        ],
        "direction": contrast.direction,
        "units": contrast.units,
    }


def resolved_smallest_effect(reading: Reading, default: float | None = None) -> float | None:
    """The smallest effect of interest of ``reading``: its own, else an equivalence reading's margin,
    else ``default`` when the reading is in accuracy units (a default in points of accuracy says
    nothing about MiB or FLOPs), else None. None for an exact reading, judged by its sign alone."""
    if reading.exact:
        return None
    if reading.smallest_effect is not None:
        return reading.smallest_effect
    if reading.margin is not None:
        return reading.margin
    return default if reading.contrast.units == "accuracy" else None


def _reading_dict(reading: Reading, default: float | None) -> dict[str, Any]:
    return {
        "claim": reading.claim,
        "label": reading.label,
        "contrast": _contrast_dict(reading.contrast),
        "primary": reading.primary,
        "margin": reading.margin,
        "exact": reading.exact,
        "smallest_effect": resolved_smallest_effect(reading, default),
        # stored only when set, so that registries without sanity checks hash as they did
        **({"sanity": True} if reading.sanity else {}),
    }


def _experiment_dict(exp: Experiment, default: float | None) -> dict[str, Any]:
    gate = exp.gate
    return _json(
        {
            "claims": list(exp.claims),
            "configs": {
                config_id: {"key": config.key(), **config.to_dict()}
                for config_id, config in exp.configs.items()
            },
            "seeds": list(exp.seeds),
            "readings": [_reading_dict(r, default) for r in exp.readings],
            "gate": None
            if gate is None
            else {
                "ceilings": dict(gate.ceilings),
                "fraction": gate.fraction,
                "metric": gate.metric,
            },
            "bench": exp.bench,
        }
    )


def resolved_registry(
    profile: str | Profile, smallest_effect: float | None = None
) -> dict[str, dict[str, Any]]:
    """The registry as it stands at ``profile``: per experiment, its claims, configurations (each
    :meth:`~rvit.study.schema.RunConfig.to_dict` with its key), seeds, readings (claim, label,
    contrast terms, direction and units, margin, primary and exact flags, smallest effect of
    interest, ``smallest_effect`` filling in where a reading states none), learning gate and
    benchmark, as plain JSON values.

    Left out on purpose: the wording (titles, questions, reading texts, labels of configurations
    and strata) and the configurations' descriptive ``factors``, which the figures read but no test
    does; a rewording is no deviation.
    """
    prof = get_profile(profile)
    return {exp.name: _experiment_dict(exp, smallest_effect) for exp in get_experiments(None, prof)}


def experiment_hashes(
    profile: str | Profile, smallest_effect: float | None = None
) -> dict[str, str]:
    """SHA-256 of each experiment of :func:`resolved_registry`, by name."""
    return {
        name: _sha256(_canonical(entry))
        for name, entry in resolved_registry(profile, smallest_effect).items()
    }


def analysis_hashes(code_root: str | os.PathLike | None = None) -> dict[str, str]:
    """SHA-256 of each file of :data:`ANALYSIS_FILES` that exists under ``code_root`` (default: the
    repository), its line endings normalised to ``\\n`` (a checkout on Windows hashes the same)."""
    base = Path(code_root) if code_root is not None else ROOT
    hashes: dict[str, str] = {}
    for name in ANALYSIS_FILES:
        path = base / name
        if path.is_file():
            text = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            hashes[name] = _sha256(text)
    return hashes


def _combine(experiments: Mapping[str, str], analysis: Mapping[str, str]) -> str:
    return _sha256(
        _canonical({"format": FORMAT, "experiments": dict(experiments), "analysis": dict(analysis)})
    )


def registry_hash(
    profile: str | Profile,
    smallest_effect: float | None = None,
    code_root: str | os.PathLike | None = None,
) -> str:
    """SHA-256 (64 hex digits) of what a pre-registration of ``profile`` fixes: the resolved
    registry (:func:`resolved_registry`, per experiment) and the analysis code
    (:func:`analysis_hashes`). ``smallest_effect``: the default smallest effect of interest the
    pre-registration states for readings that state none (part of the hash, since the document
    states it).

    The registry is hashed *resolved*, at the profile, not as the source of its files: an
    experiment is what its builder makes of a profile, so a changed profile value (the seeds, a
    training-set size, the difficulty of the data) changes the study while no file of the registry
    changes, and a change of a file that alters no configuration, reading or seed (a comment, a
    reworded text) changes nothing that is tested. The analysis code, on the other hand, has no
    resolved form: its files are hashed as they are.
    """
    return _combine(
        experiment_hashes(profile, smallest_effect), analysis_hashes(code_root=code_root)
    )


# ------------------------------------------------------------------------------------------------
# where the documents live


def _folder(folder: str | os.PathLike | None) -> Path:
    return Path(folder) if folder is not None else STUDY_DIR


def preregistration_path(profile: str | Profile, folder: str | os.PathLike | None = None) -> Path:
    """``<folder>/preregistration-<profile>.md`` (``folder`` default: :data:`STUDY_DIR`)."""
    return _folder(folder) / f"preregistration-{get_profile(profile).name}.md"


def deviations_path(profile: str | Profile, folder: str | os.PathLike | None = None) -> Path:
    """``<folder>/deviations-<profile>.yaml`` (``folder`` default: :data:`STUDY_DIR`)."""
    return _folder(folder) / f"deviations-{get_profile(profile).name}.yaml"


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _count_results(prof: Profile, results_dir: str | os.PathLike | None) -> int:
    """How many result files of ``prof`` exist in ``results_dir`` (default: the profile's)."""
    out = Path(results_dir) if results_dir is not None else default_results_dir(prof)
    names = {prof.name, *prof.aliases}
    count = 0
    for path in out.glob("*/*__seed*.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        count += isinstance(record, dict) and record.get("profile") in names
    return count


def _git_state(path: Path) -> str | None:
    """``"committed"``, ``"modified"`` or ``"untracked"`` for a file in a git work tree; None
    outside one (or without git)."""
    from rvit.utils import run_git

    folder = path.parent
    top = run_git(folder, "rev-parse", "--show-toplevel", timeout=10)
    if top is None or top.returncode != 0:
        return None
    tracked = run_git(folder, "ls-files", "--error-unmatch", "--", path.name, timeout=10)
    if tracked is None:
        return None
    if tracked.returncode != 0:
        return "untracked"
    status = run_git(folder, "status", "--porcelain", "--", path.name, timeout=10)
    if status is None or status.returncode != 0:
        return None
    return "modified" if status.stdout.strip() else "committed"


# ------------------------------------------------------------------------------------------------
# the pre-registration document


@dataclass(frozen=True)
class Preregistration:
    """What :func:`read_preregistration` reads back from a pre-registration document."""

    profile: str
    registry_hash: str
    written: str = ""
    commit: str = ""
    smallest_effect: float | None = None
    experiments: Mapping[str, str] = field(default_factory=dict)
    analysis: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None


def _number(value: float) -> str:
    return f"{value:.6g}"


def _effect_text(value: float | None, units: str) -> str:
    if value is None:
        return "not stated"
    if units == "accuracy":
        return f"{value * 100:.6g} points ({_number(value)})"
    return f"{_number(value)} {units}"


def _direction_text(reading: Reading) -> str:
    sign = "positive" if reading.contrast.direction > 0 else "negative"
    if reading.exact:
        return f"{sign}, at every seed"
    if reading.margin is not None:
        return "none (equivalence within the margin)"
    return sign


def _margin_text(reading: Reading) -> str:
    if reading.margin is None:
        return "none"
    return f"±{_effect_text(reading.margin, reading.contrast.units)}"


def _test_text(prof: Profile, reading: Reading) -> str:
    """The test a reading gets: from version 3 on, readings of per-video accuracies are tested by
    the hierarchical bootstrap (its two-sided p-value, or its TOST against the margin)."""
    if prof.version == 2 or reading.exact or reading.contrast.units != "accuracy":
        return reading.test
    return "TOST (bootstrap)" if reading.margin is not None else "bootstrap, two-sided"


def _holm_text(reading: Reading) -> str:
    if reading.sanity:
        return "no (sanity check: holds by construction)"
    if not reading.primary:
        return "no (secondary, uncorrected)"
    if reading.exact:
        return "no (exact: judged by its sign)"
    return "yes"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _bench_path(prof: Profile, bench: str) -> str:
    """Where the study reads benchmark ``bench`` at profile ``prof``, relative to the repository."""
    from rvit.study.store import ROOT, default_results_dir

    folder = default_results_dir(prof) / "bench" / f"{bench}.json"
    try:
        return folder.relative_to(ROOT).as_posix()
    except ValueError:  # a scratch folder (the smoke profile)
        return f"bench/{bench}.json in the profile's results folder"


def _seeds_text(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if seeds and seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        return f"{seeds[0]} to {seeds[-1]} ({len(seeds)} seeds)"
    return ", ".join(str(s) for s in seeds) + f" ({len(seeds)} seeds)"


def _analysis_rule(prof: Profile) -> list[str]:
    from rvit.study.stats import ALPHA, LEVEL

    if prof.version >= 3:
        return [
            "* Unit: the seed. A reading's strata are averaged within each seed, so `n` seeds give "
            "`n` effects. Each seed is tested on test sets drawn from that seed "
            "(`Profile.per_seed_test`), so the spread between seeds contains the test sets' draw.",
            f"* Interval and test of a reading on per-video accuracies: a hierarchical bootstrap "
            f"(`rvit.study.bootstrap`): seeds resampled, then within each drawn seed its test "
            f"videos resampled within each class, the same videos for every configuration of the "
            f"contrast; the studentized (bootstrap-t) interval at {LEVEL:.0%} (coverage measured "
            f"on simulated studies: 94.3 % to 94.9 %) and its two-sided p-value. Other readings "
            f"(MiB from benchmark repeats): the t interval over repeats and the exact sign-flip "
            f"test. An equivalence reading (one with a margin) is tested by two one-sided tests "
            f"(TOST) against its margin; an exact reading (arithmetic counted from the model) by "
            f"its sign at every seed.",
            f"* Error rate: alpha = {_number(ALPHA)}, family-wise over the primary readings of the "
            f"claims (the Holm family below) with Holm's step-down correction; secondary readings "
            f"are reported uncorrected; sanity checks (readings true by construction of the world "
            f"or of arithmetic) are reported apart and decide nothing.",
            "* Learning gate: every configuration's mean top-1 on held-out data of its training "
            "modality, evaluated in eval mode (`fit_val`), must reach 90 % of the modality's "
            "ceiling (75 % for stills, whose single frames cannot tell the classes of a motion "
            "pair apart; 100 % for videos); a reading that uses a configuration below it is not "
            "testable at this budget and leaves Holm's family. The gate's interval over seeds is "
            "reported with it.",
            "* Verdicts: supported, contradicted, equivalent, inconclusive, not testable. A "
            "configuration that did not learn makes its readings not testable, never "
            "contradicted.",
            "* Code: `rvit/study/stats.py`, `rvit/study/bootstrap.py` and the report's analysis "
            "(the files hashed below) as they stand at the registry hash.",
        ]
    return [
        "* Unit: the seed. A reading's strata are averaged within each seed, so `n` seeds give "
        "`n` effects.",
        f"* Interval: the paired t interval of the mean effect at {LEVEL:.0%}, its variance adding "
        f"the test-set draw (every seed is tested on the same videos).",
        "* Test: the exact two-sided sign-flip permutation test of the mean effect; an equivalence "
        "reading (one with a margin) by two one-sided sign-flip tests (TOST) against its margin; "
        "an exact reading (arithmetic counted from the model) by its sign at every seed, untested.",
        f"* Error rate: alpha = {_number(ALPHA)}, family-wise over the primary readings of the "
        f"claims (the Holm family below) with Holm's step-down correction; secondary readings "
        f"are reported uncorrected.",
        "* Learning gate: a reading that uses a configuration that does not reach the gate's share "
        "of its modality's training-accuracy ceiling is not testable at this budget (and leaves "
        "Holm's family).",
        "* Verdicts: supported, contradicted, equivalent, inconclusive, not testable.",
        "* Code: `rvit/study/stats.py` and the report's analysis (the files hashed below) as they "
        "stand at the registry hash.",
    ]


def preregistration_text(
    profile: str | Profile,
    smallest_effect: float | None = None,
    *,
    date: str | None = None,
    commit: str | None = None,
    code_root: str | os.PathLike | None = None,
) -> str:
    """The pre-registration document of ``profile`` (Markdown), from the registry as it stands.

    ``smallest_effect``: the smallest effect of interest (in accuracy, 0.02 for 2 points) of every
    tested reading in accuracy units that states none and has no margin (default: none;
    :func:`write_preregistration` requires one for each primary reading). ``date`` (ISO) and
    ``commit`` default to today and ``"unknown"``.
    """
    prof = get_profile(profile)
    experiments = get_experiments(None, prof)
    per_experiment = experiment_hashes(prof, smallest_effect)
    analysis = analysis_hashes(code_root)
    digest = _combine(per_experiment, analysis)
    date = date or _dt.date.today().isoformat()
    commit = commit or "unknown"
    seeds = sorted({s for e in experiments if e.bench is None for s in e.seeds})
    study_seeds = prof.seeds
    lines = [
        f"# Pre-registration of the study, profile `{prof.name}`",
        "",
        f"Written by `python -m rvit study preregister --profile {prof.name}` from the registry "
        f"(`rvit.study.registry`) before any result of this profile existed. Commit it and tag "
        f"that commit (`git tag study-{prof.name}-preregistration`). From then on "
        f"`python -m rvit study run --profile {prof.name}` refuses to run while the registry "
        f"hashes to anything other than the registry hash below, unless a deviation recorded in "
        f"`deviations-{prof.name}.yaml` (`python -m rvit study deviate`) accepts the new hash.",
        "",
        *_table(
            ["", ""],
            [
                ["profile", f"`{prof.name}`"],
                ["seeds", _seeds_text(study_seeds)],
                [
                    "budget",
                    f"{prof.train_samples:,} training samples x {prof.epochs} epochs, batch "
                    f"{prof.batch_size}, learning rate {_number(prof.lr)}; {prof.image_size} px "
                    f"frames, width {prof.dim}, depth {prof.depth}, {prof.frames} frames per clip",
                ],
                ["seeds of all runs", _seeds_text(seeds)],
                ["written", date],
                ["commit", f"`{commit}` (the code it was written at)"],
                ["registry hash", f"`{digest}`"],
                [
                    "default smallest effect",
                    "none"
                    if smallest_effect is None
                    else f"{_effect_text(smallest_effect, 'accuracy')} (for accuracy readings "
                    "that state none)",
                ],
            ],
        ),
        "",
        "The registry hash covers the registry resolved at this profile (every experiment's "
        "configurations, seeds, readings and learning gate) and the analysis code; the hashes of "
        "its parts are listed at the end.",
        "",
        "## Analysis rule",
        "",
        *_analysis_rule(prof),
        "",
        "## Claims and their primary readings",
        "",
        "Each reading states its effect (for the comparison table: the proposal's choice minus "
        "the paper's); accuracies are in percentage points. Claims in the proposal's order.",
        "",
    ]
    readings = [(exp, r) for exp in experiments for r in exp.readings]
    untested: list[str] = []
    for claim_id in claim_ids():
        claim = CLAIMS[claim_id]
        mine = [(exp, r) for exp, r in readings if r.claim == claim_id]
        primary = [(exp, r) for exp, r in mine if r.primary]
        if not mine:
            untested.append(claim_id)
            continue
        lines += [f"### `{claim_id}`: {claim.row} ({claim.kind})", ""]
        if not primary:
            lines += ["No primary reading: every reading of this claim is secondary.", ""]
        for exp, r in primary:
            lines += _table(
                ["item", "pre-registered"],
                [
                    ["claim", f"`{claim_id}`: {claim.text}"],
                    ["primary reading", f"{r.label} (experiment `{exp.name}`)"],
                    ["reading", r.text],
                    ["test", _test_text(prof, r)],
                    ["direction", _direction_text(r)],
                    [
                        "smallest effect of interest",
                        _effect_text(
                            resolved_smallest_effect(r, smallest_effect), r.contrast.units
                        ),
                    ],
                    ["equivalence margin", _margin_text(r)],
                    ["Holm family", _holm_text(r)],
                ],
            )
            lines.append("")
    if untested:
        lines += [
            "Claims without a reading in this registry (not tested): "
            + ", ".join(f"`{c}`" for c in untested)
            + ".",
            "",
        ]
    secondary = [(exp, r) for exp, r in readings if not r.primary and not r.sanity]
    sanity = [(exp, r) for exp, r in readings if r.sanity]
    lines += [
        "## Secondary readings",
        "",
        "Reported uncorrected; no verdict of a claim rests on them.",
        "",
    ]
    lines += _table(
        ["claim", "experiment", "reading", "test", "direction", "smallest effect", "margin"],
        [
            [
                f"`{r.claim}`",
                f"`{exp.name}`",
                f"{r.label}: {r.text}",
                _test_text(prof, r),
                _direction_text(r),
                _effect_text(resolved_smallest_effect(r, smallest_effect), r.contrast.units),
                _margin_text(r),
            ]
            for exp, r in secondary
        ],
    )
    lines += ["", "## Sanity checks", ""]
    if sanity:
        lines += [
            "Readings true by construction of the synthetic world or of arithmetic: reported to "
            "show the set-up works (one that fails means it does not), outside Holm's family; no "
            "claim's verdict rests on them.",
            "",
            *_table(
                ["claim", "experiment", "reading", "test", "direction"],
                [
                    [
                        f"`{r.claim}`",
                        f"`{exp.name}`",
                        f"{r.label}: {r.text}",
                        _test_text(prof, r),
                        _direction_text(r),
                    ]
                    for exp, r in sanity
                ],
            ),
            "",
        ]
    gates = {
        (g.fraction, g.metric, tuple(sorted(g.ceilings.items())))
        for g in (e.gate for e in experiments)
        if g is not None
    }
    for fraction, metric, ceilings in sorted(gates):
        shown = ", ".join(f"{m} {_number(c)}" for m, c in ceilings)
        lines.append(
            f"* Learning gate: every trained configuration's mean `{metric}` must reach "
            f"{fraction:.0%} of its modality's ceiling ({shown})."
        )
    for exp in experiments:
        if exp.controls:
            names = ", ".join(f"`{c}`" for c in exp.controls)
            lines.append(f"* Controls of `{exp.name}`: {names}.")
    for exp in experiments:
        if exp.bench is None and not exp.readings:
            lines.append(
                f"* `{exp.name}` ({len(exp.seeds)} seeds, no reading): {exp.question} {exp.notes}".rstrip()
            )
        if exp.bench is not None:
            lines.append(
                f"* `{exp.name}` reads the benchmark `{_bench_path(prof, exp.bench)}` instead of "
                "training."
            )
    lines += [
        "",
        "## Machine-readable",
        "",
        "```text",
        f"profile: {prof.name}",
        f"registry-hash: {digest}",
        f"format: {FORMAT}",
        f"written: {date}",
        f"commit: {commit}",
        "smallest-effect-default: "
        + ("none" if smallest_effect is None else repr(float(smallest_effect))),
        *(f"experiment {name}: {h}" for name, h in sorted(per_experiment.items())),
        *(f"analysis {name}: {h}" for name, h in sorted(analysis.items())),
        "```",
        "",
    ]
    return "\n".join(lines)


def _parse(text: str, path: Path | None = None) -> Preregistration:
    fields_: dict[str, str] = {}
    experiments: dict[str, str] = {}
    analysis: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if m := re.fullmatch(r"experiment (\S+): ([0-9a-f]{64})", line):
            experiments[m[1]] = m[2]
        elif m := re.fullmatch(r"analysis (\S+): ([0-9a-f]{64})", line):
            analysis[m[1]] = m[2]
        elif m := re.fullmatch(
            r"(profile|registry-hash|format|written|commit|smallest-effect-default): (.+)", line
        ):
            fields_.setdefault(m[1], m[2].strip())
    where = f" ({path})" if path is not None else ""
    digest = fields_.get("registry-hash", "")
    if not _HEX.fullmatch(digest):
        raise ValueError(
            f"the pre-registration{where} has no line 'registry-hash: <64 hex digits>'"
        )
    if "profile" not in fields_:
        raise ValueError(f"the pre-registration{where} has no line 'profile: <name>'")
    if int(fields_.get("format", FORMAT)) != FORMAT:
        raise ValueError(
            f"the pre-registration{where} was written in format {fields_['format']}; this code "
            f"reads format {FORMAT}"
        )
    default = fields_.get("smallest-effect-default", "none")
    return Preregistration(
        profile=fields_["profile"],
        registry_hash=digest,
        written=fields_.get("written", ""),
        commit=fields_.get("commit", ""),
        smallest_effect=None if default == "none" else float(default),
        experiments=experiments,
        analysis=analysis,
        path=path,
    )


def read_preregistration(
    profile: str | Profile, folder: str | os.PathLike | None = None
) -> Preregistration | None:
    """The pre-registration of ``profile`` read back from its document (None when there is none).

    Raises ``ValueError`` when the document has no machine-readable registry hash or names
    another profile."""
    prof = get_profile(profile)
    path = preregistration_path(prof, folder)
    if not path.is_file():
        return None
    found = _parse(path.read_text(encoding="utf-8"), path)
    if found.profile not in (prof.name, *prof.aliases):
        raise ValueError(f"{path} pre-registers profile {found.profile!r}, not {prof.name!r}")
    return found


def _missing_smallest_effects(prof: Profile, default: float | None) -> list[str]:
    """The primary tested readings that have no smallest effect of interest, even with ``default``."""
    return [
        f"{exp.name}/{r.label}"
        for exp in get_experiments(None, prof)
        for r in exp.readings
        if r.primary and not r.exact and resolved_smallest_effect(r, default) is None
    ]


def write_preregistration(
    profile: str | Profile,
    smallest_effect: float | None = None,
    *,
    folder: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    date: str | None = None,
    code_root: str | os.PathLike | None = None,
) -> Path:
    """Write the pre-registration document of ``profile`` (:func:`preregistration_text`); returns
    its path.

    Refused for ``smoke`` and for a closed profile, while any result of the profile exists in
    ``results_dir`` (default: the profile's results folder), when a document exists (unless
    ``overwrite``: only before it is committed), and while a primary tested reading has no smallest
    effect of interest (state it in the registry, ``Reading.smallest_effect``; for readings in
    accuracy units ``smallest_effect`` may give a default, see :func:`resolved_smallest_effect`).
    """
    prof = get_profile(profile)
    if prof.name == "smoke":
        raise PreregistrationError(
            "the smoke profile is the tests' scratch scale: nothing to register"
        )
    if prof.closed:
        raise PreregistrationError(
            f"profile {prof.name!r} is a closed study version (its results exist): a "
            "pre-registration must come before any result"
        )
    if smallest_effect is not None and not smallest_effect > 0:
        raise PreregistrationError(f"the smallest effect must be positive, got {smallest_effect}")
    path = preregistration_path(prof, folder)
    if path.exists() and not overwrite:
        raise PreregistrationError(
            f"{_display(path)} exists: a pre-registration is written once (record changes with "
            f"`python -m rvit study deviate --profile {prof.name} --what ... --why ...`)"
        )
    found = _count_results(prof, results_dir)
    if found:
        raise PreregistrationError(
            f"{found} result(s) of profile {prof.name!r} exist already: a pre-registration must "
            "come before any result"
        )
    missing = _missing_smallest_effects(prof, smallest_effect)
    if missing:
        raise PreregistrationError(
            f"{len(missing)} primary reading(s) state no smallest effect of interest "
            f"({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''}): set "
            "Reading.smallest_effect in the registry (or, for accuracy readings, give "
            "--smallest-effect as the default)"
        )
    from rvit.utils import atomic_write_text, git_info

    git = git_info()
    commit = git["commit"] or "unknown"
    if git["dirty"]:
        commit += " with uncommitted changes"
    text = preregistration_text(
        prof, smallest_effect, date=date, commit=commit, code_root=code_root
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path


# ------------------------------------------------------------------------------------------------
# deviations


@dataclass(frozen=True)
class Deviation:
    """One entry of a deviations log: a change to a pre-registered study and why it was made.

    ``registry_hash``: the hash of the registry after the change, which the entry accepts;
    ``previous_hash``: the hash accepted before it (the pre-registered one, or an earlier
    deviation's); ``decided``: ``"before results"`` or ``"after results"``; ``results``: how many
    results of the profile existed when it was recorded; ``changed``: the experiments and analysis
    files whose hash differs from the pre-registered one."""

    date: str
    what: str
    why: str
    registry_hash: str
    previous_hash: str
    decided: str
    results: int = 0
    changed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["changed"] = list(self.changed)
        return d


_LOG_HEADER = """\
# Deviations from the pre-registration of the study, profile {name} ({document}).
# Appended by `python -m rvit study deviate --profile {name} --what ... --why ...`; commit each
# entry. Each accepts its registry_hash: `study run --profile {name}` runs while the registry
# hashes to the pre-registered hash or to one of these. Chapter 8 prints them.
"""


def load_deviations(
    profile: str | Profile, folder: str | os.PathLike | None = None
) -> list[Deviation]:
    """The deviations recorded for ``profile``, oldest first (empty without a log)."""
    import yaml

    path = deviations_path(profile, folder)
    if not path.is_file():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of deviations")
    deviations = []
    for i, entry in enumerate(entries):
        try:
            deviations.append(
                Deviation(
                    date=str(entry["date"]),
                    what=str(entry["what"]),
                    why=str(entry["why"]),
                    registry_hash=str(entry["registry_hash"]),
                    previous_hash=str(entry.get("previous_hash", "")),
                    decided=str(entry.get("decided", "")),
                    results=int(entry.get("results", 0)),
                    changed=tuple(entry.get("changed") or ()),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: deviation {i + 1} is malformed ({error})") from None
    return deviations


def _changes(
    doc: Preregistration, experiments: Mapping[str, str], analysis: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """The experiments and the analysis files whose hashes differ from the pre-registered ones."""
    changed = [
        name
        for name in sorted(set(doc.experiments) | set(experiments))
        if doc.experiments.get(name) != experiments.get(name)
    ]
    files = [
        name
        for name in sorted(set(doc.analysis) | set(analysis))
        if doc.analysis.get(name) != analysis.get(name)
    ]
    return changed, files


def record_deviation(
    profile: str | Profile,
    what: str,
    why: str,
    *,
    decided: str | None = None,
    folder: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    date: str | None = None,
    code_root: str | os.PathLike | None = None,
) -> Deviation:
    """Append a deviation to the log of ``profile``, accepting the registry's current hash.

    ``decided``: ``"before"`` or ``"after"`` (any result of the profile existed); default: after
    when a result exists in ``results_dir`` (default: the profile's results folder), else before.
    Claiming before while results exist is refused. Returns the entry written.
    """
    import yaml

    prof = get_profile(profile)
    doc = read_preregistration(prof, folder)
    if doc is None:
        raise PreregistrationError(
            f"profile {prof.name!r} has no pre-registration ({_display(preregistration_path(prof, folder))}) "
            "to deviate from"
        )
    if not what.strip() or not why.strip():
        raise PreregistrationError("a deviation needs both what changed and why")
    results = _count_results(prof, results_dir)
    if decided is None:
        decided = "after" if results else "before"
    if decided not in ("before", "after"):
        raise PreregistrationError(f"decided must be 'before' or 'after', got {decided!r}")
    if decided == "before" and results:
        raise PreregistrationError(
            f"{results} result(s) of profile {prof.name!r} exist: a deviation recorded now was "
            "decided after results (say so, and why, in the entry)"
        )
    experiments = experiment_hashes(prof, doc.smallest_effect)
    analysis = analysis_hashes(code_root)
    current = _combine(experiments, analysis)
    previous = load_deviations(prof, folder)
    changed, files = _changes(doc, experiments, analysis)
    entry = Deviation(
        date=date or _dt.date.today().isoformat(),
        what=what.strip(),
        why=why.strip(),
        registry_hash=current,
        previous_hash=previous[-1].registry_hash if previous else doc.registry_hash,
        decided=f"{decided} results",
        results=results,
        changed=tuple(changed + files),
    )
    path = deviations_path(prof, folder)
    header = _LOG_HEADER.format(name=prof.name, document=preregistration_path(prof, folder).name)
    body = yaml.safe_dump(
        [d.to_dict() for d in [*previous, entry]],
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    from rvit.utils import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, header + body)
    return entry


# ------------------------------------------------------------------------------------------------
# the check


def check_preregistered(
    profile: str | Profile,
    *,
    folder: str | os.PathLike | None = None,
    code_root: str | os.PathLike | None = None,
    require_committed: bool = False,
) -> str | None:
    """Refuse (:class:`PreregistrationError`) to run ``profile`` when it departs from its
    pre-registration; returns the registry hash it runs under (None when it is not pre-registered).

    Checked when a pre-registration document exists for the profile, or when the profile requires
    one (:attr:`~rvit.study.profiles.Profile.preregistered`; then a missing document is refused);
    ``smoke`` is never checked. The registry's current :func:`registry_hash` (with the document's
    default smallest effect) must equal the pre-registered hash or one accepted by a recorded
    deviation (:func:`load_deviations`). The error names the profile, both hashes, the experiments
    and analysis files that differ, and what to do. ``require_committed``: also refuse a document or
    deviations log with uncommitted changes, in a git work tree.
    """
    prof = get_profile(profile)
    if prof.name == "smoke":
        return None
    doc = read_preregistration(prof, folder)
    if doc is None:
        if prof.preregistered:
            path = _display(preregistration_path(prof, folder))
            raise PreregistrationError(
                f"profile {prof.name!r} must be pre-registered before it runs and {path} does not "
                f"exist: write it before any result with `python -m rvit study preregister "
                f"--profile {prof.name}`, then commit and tag it"
            )
        return None
    experiments = experiment_hashes(prof, doc.smallest_effect)
    analysis = analysis_hashes(code_root)
    current = _combine(experiments, analysis)
    deviations = load_deviations(prof, folder)
    if current != doc.registry_hash and current not in {d.registry_hash for d in deviations}:
        changed, files = _changes(doc, experiments, analysis)
        parts = []
        if changed:
            parts.append("experiments " + ", ".join(changed))
        if files:
            parts.append("analysis files " + ", ".join(files))
        where = "; differs from the pre-registration in " + " and ".join(parts) if parts else ""
        accepted = f" (nor any of the {len(deviations)} recorded deviations)" if deviations else ""
        raise PreregistrationError(
            f"profile {prof.name!r} is pre-registered with registry hash {doc.registry_hash} "
            f"({_display(doc.path)}){accepted}, but the registry now hashes to {current}{where}. "
            f"Revert the change, or record it with `python -m rvit study deviate --profile "
            f"{prof.name} --what '...' --why '...'` and commit the log"
        )
    if require_committed:
        logs = [doc.path, deviations_path(prof, folder)]
        for path in logs:
            if path is None or not path.exists():
                continue
            state = _git_state(path)
            if state in ("untracked", "modified"):
                raise PreregistrationError(
                    f"{_display(path)} is {state}: commit the pre-registration and its deviations "
                    "log before the study runs (or pass --allow-dirty)"
                )
    return current
