"""Where the study's results are stored, when a stored result still answers the registry, and the
data sets a run's configuration names.

One JSON per run: ``<results-dir>/<experiment>/<config-id>__seed<k>.json``. The runner
(:mod:`rvit.study.runner`) writes these files and skips those that still answer; the analysis
(:mod:`rvit.study.analysis`) reads them and refuses stale ones. Both find them here. A result
answers when its configuration, its fully resolved model and training configuration and the hash of the
code that can change metrics all equal today's (:func:`match_result`); this module itself only
reads and compares, so it is not part of that hash.

Results written before the per-video outcomes (``metrics[<evaluation>]["outcomes"]``, read by
:mod:`rvit.study.outcomes`) were stored are judged as before: outcomes are not part of the match.
The closed ``book`` profile's results (version 2) stay its valid record, matched on their recorded
code hash; an open profile's older results were made by other code (the runner that stores outcomes
is part of :func:`code_hash`), so they are stale and rerun, and the rerun stores outcomes; results
older than the code hash are accepted on their configuration, as before (:func:`verified`). A
reading that needs outcomes from a result without them gets
:class:`rvit.study.outcomes.MissingOutcomesError`, which names the evaluation and says that the
result predates per-video outcomes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rvit.study.profiles import PROFILES, Profile, get_profile
from rvit.study.schema import RunConfig

__all__ = [
    "StaleResultsError",
    "ROOT",
    "TIMING_KEYS",
    "code_files",
    "code_hash",
    "default_results_dir",
    "match_result",
    "resolved_configuration",
    "result_path",
    "strip_timings",
    "verified",
]


class StaleResultsError(RuntimeError):
    """A result the registry asks for is missing, or was made with another configuration."""


ROOT = Path(__file__).resolve().parents[2]
"""The repository root (``results/`` lives here)."""

TIMING_KEYS = frozenset(
    {
        "time_s",
        "train_s",
        "eval_s",
        "total_s",
        "cpu_s",
        "seconds",
        "samples_per_s",
        "latency_ms",
        "ms_per_frame",
        "frames_per_s",
        "peak_mb",
        "python_peak_mb",
    }
)
"""Metric names that measure the machine (time, memory) rather than the model's predictions."""


def default_results_dir(profile: str | Profile) -> Path:
    """``results/`` for ``book``, ``results/<name>/`` for ``v3`` and ``full``, a scratch folder
    for ``smoke``."""
    name = get_profile(profile).name
    if name == "book":
        return ROOT / "results"
    if name in ("full", "v3"):
        return ROOT / "results" / name
    scratch = os.environ.get("RVIT_SCRATCH_DIR") or tempfile.gettempdir()
    return Path(scratch) / "rvit-study-smoke"


PRESENTATION_CODE = frozenset(
    {
        "rvit/__init__.py",
        "rvit/__main__.py",
        "rvit/cli.py",
        "rvit/notebook.py",
        "rvit/perf.py",
        "rvit/widgets.py",
        "rvit/data/__init__.py",
        "rvit/data/figures.py",
        "rvit/study/__init__.py",
        "rvit/study/analysis.py",
        "rvit/study/bench.py",
        "rvit/study/claims.py",
        "rvit/study/design.py",
        "rvit/study/experiments.py",
        "rvit/study/figures.py",
        "rvit/study/outcomes.py",
        "rvit/study/posthoc.py",
        "rvit/study/preregistration.py",
        "rvit/study/profiles.py",
        "rvit/study/registry.py",
        "rvit/study/report.py",
        "rvit/study/schema.py",
        "rvit/study/stats.py",
        "rvit/study/store.py",
        "rvit/study/text.py",
    }
)
"""Package files that cannot change a run's metrics: re-exports, the command line, the notebooks'
helpers, figures, and the study's registry, pre-registration and analysis (what the registry asks
for is compared configuration by configuration instead). Every other file of the package enters
:func:`code_hash`."""


def code_files(root: str | os.PathLike | None = None) -> list[Path]:
    """The package's source files that can change a run's metrics, sorted: every ``.py`` file under
    ``rvit/`` except :data:`PRESENTATION_CODE`."""
    base = Path(root) if root is not None else ROOT
    files = sorted((base / "rvit").rglob("*.py"))
    return [f for f in files if f.relative_to(base).as_posix() not in PRESENTATION_CODE]


@functools.cache
def _hash_files(root: str) -> str:
    digest = hashlib.sha256()
    base = Path(root)
    for path in code_files(base):
        digest.update(path.relative_to(base).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def code_hash(root: str | os.PathLike | None = None) -> str:
    """A hash (16 hex digits) of :func:`code_files`: names and contents. A result stores it, and a
    result whose hash differs from the code's is stale, whatever its commit says. Computed once per
    process (the code of a running process does not change)."""
    return _hash_files(str(Path(root) if root is not None else ROOT))


def resolved_configuration(config: RunConfig) -> dict[str, Any]:
    """The model and training configuration a run of ``config`` uses, every default filled in.

    ``model``: the architecture and the full ``RViTConfig`` of its preset with the run's fields;
    ``train``: the full ``TrainConfig`` the runner trains with (its seed, device and progress bar
    left out: the seed is the record's own, the others do not change the weights). A change of a
    preset's default or of a training default changes this, so a result made before is stale.
    """
    from rvit.config import RViTConfig
    from rvit.data.synthetic import CLASSES
    from rvit.train import TrainConfig

    spec = dict(config.model)
    arch, preset = spec.pop("arch", "rvit"), spec.pop("preset", "paper")
    model = getattr(RViTConfig, preset)(len(CLASSES), **spec).to_dict()
    train = TrainConfig(**config.train, progress=False, amp=False).to_dict()
    for name in ("seed", "device", "progress"):
        train.pop(name, None)
    return json.loads(json.dumps({"model": {"arch": arch, **model}, "train": train}))


def _first_difference(stored: Any, wanted: Any, where: str = "") -> str:
    if isinstance(stored, Mapping) and isinstance(wanted, Mapping):
        for key in sorted(set(stored) | set(wanted)):
            found = _first_difference(stored.get(key), wanted.get(key), f"{where}.{key}")
            if found:
                return found
        return ""
    return "" if stored == wanted else f"{where.lstrip('.')} is {stored!r} there, {wanted!r} now"


def result_path(results_dir: str | os.PathLike, experiment: str, config_id: str, seed: int) -> Path:
    """``<results_dir>/<experiment>/<config_id>__seed<seed>.json``."""
    return Path(results_dir) / experiment / f"{config_id}__seed{seed}.json"


def _load(path: Path) -> dict[str, Any] | None:
    """The stored record at ``path``; None when it is missing or not readable JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def match_result(
    record: Mapping[str, Any] | None, config: RunConfig, seed: int, profile: str | Profile
) -> str:
    """Why ``record`` does not answer ``config`` at ``seed`` and ``profile`` ('' when it does).

    It answers when profile and seed are equal, the training part (model, training, data) is equal,
    the resolved model and training configuration (:func:`resolved_configuration`: every default)
    is equal, the code that can change metrics is the same (:func:`code_hash`), and every
    evaluation set the configuration asks for was run with the same specification and has metrics.
    A result that stores neither a resolved configuration nor a code hash (one written before the
    study stored them) is judged on the rest; :func:`verified` tells them apart. For a closed
    profile (:attr:`Profile.closed`) the code is the profile's recorded hash, not today's, and the
    resolved configuration is the one the record stores (today's presets may resolve differently).
    """
    if record is None:
        return "missing or unreadable"
    prof = None
    if isinstance(profile, Profile) or profile in PROFILES:
        prof = get_profile(profile)
        profile, names = prof.name, (prof.name, *prof.aliases)
    else:
        names = (profile,)
    if record.get("profile") not in names:
        return f"profile {record.get('profile')!r} instead of {profile!r}"
    if record.get("seed") != seed:
        return f"seed {record.get('seed')!r} instead of {seed}"
    stored = record.get("configuration") or {}
    wanted = json.loads(json.dumps(config.to_dict()))
    for part in ("model", "train", "data"):
        if stored.get(part) != wanted[part]:
            return f"its {part} configuration differs from the registry's"
    resolved = record.get("resolved")
    if resolved is None and record.get("code") is None:
        return _match_evals(record, wanted)  # made before this check: see `verified`
    if resolved is None:
        return "it records a code hash but no resolved configuration"
    if prof is not None and prof.closed:
        # the record of a closed version: its own code made it, whatever today's presets resolve to
        if record.get("code") != prof.code:
            return (
                f"it was made by other code (code hash {record.get('code')!r}) than the closed "
                f"profile {prof.name!r} records ({prof.code!r})"
            )
        return _match_evals(record, wanted)
    difference = _first_difference(resolved, resolved_configuration(config))
    if difference:
        return f"its resolved configuration differs: {difference}"
    if record.get("code") != code_hash():
        return (
            f"it was made by other code (code hash {record.get('code')!r}, now {code_hash()!r}: "
            "a file of rvit.study.store.code_files changed)"
        )
    return _match_evals(record, wanted)


def _match_evals(record: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    stored_evals = (record.get("configuration") or {}).get("evals") or {}
    metrics = record.get("metrics") or {}
    for name, spec in wanted["evals"].items():
        if stored_evals.get(name) != spec:
            return f"evaluation {name!r} is missing or specified differently"
        if name not in metrics:
            return f"evaluation {name!r} has no metrics"
    return ""


def verified(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` was checked against the code: it stores its resolved configuration and
    code hash. Results written before the study stored them answer on their configuration alone
    (:func:`match_result` accepts them); the report counts them, since nothing shows that today's
    code would give the same metrics."""
    return record.get("resolved") is not None and record.get("code") is not None


def strip_timings(obj: Any) -> Any:
    """``obj`` without the keys of :data:`TIMING_KEYS` (at any depth): what must be reproducible."""
    if isinstance(obj, dict):
        return {k: strip_timings(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [strip_timings(v) for v in obj]
    return obj
