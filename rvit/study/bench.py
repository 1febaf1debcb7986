"""The benchmark results the study reads (``results/bench/*.json``): loading, staleness, memory.

The memory experiment reads the length benchmark instead of training runs: :func:`memory_runs`
turns its repeats into the runs the report analyses, :func:`memory_frame` into a table for the
figure. :func:`check_bench` says whether a benchmark file still speaks for the code.

The closed book profile reads ``length.json`` (``benchmarks/bench_length.py``, the package's tiny
size). From version 3 on a profile reads ``length-<profile>.json`` in its own results folder
(:func:`memory_bench_name`), written by ``benchmarks/bench_study_memory.py --profile <profile>`` at
the model every configuration of the profile uses (:func:`memory_models`);
:func:`load_bench` and :func:`check_bench` refuse such a file when it was measured for another
profile or another model.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rvit.study.store import ROOT, StaleResultsError
from rvit.utils import run_git

__all__ = [
    "MEMORY_ARCHS",
    "STUDY_MEMORY_SCRIPT",
    "bench_code_paths",
    "bench_command",
    "bench_profile",
    "bench_script",
    "check_bench",
    "load_bench",
    "memory_bench_name",
    "memory_frame",
    "memory_models",
    "memory_runs",
    "study_mismatch",
]

STUDY_MEMORY_SCRIPT = "bench_study_memory.py"
"""The benchmark (in ``benchmarks/``) of the memory readings at a study profile's own model."""

_STUDY_PREFIX = "length-"

MEMORY_ARCHS = {"rvit_stream": "rvit", "rvit_forward": "rvit", "clipvit_forward": "clipvit"}
"""The methods the memory readings compare, and the model (``arch``) each one runs."""


def memory_bench_name(profile: Any) -> str:
    """The benchmark the memory experiment of study profile ``profile`` reads: ``length-<name>``."""
    from rvit.study.profiles import get_profile

    return f"{_STUDY_PREFIX}{get_profile(profile).name}"


def bench_profile(name: str) -> str | None:
    """The study profile a benchmark ``length-<profile>`` was measured for (None for the others)."""
    return name.removeprefix(_STUDY_PREFIX) if name.startswith(_STUDY_PREFIX) else None


def bench_script(name: str) -> str:
    """The script in ``benchmarks/`` that writes the benchmark result ``<name>.json``."""
    return STUDY_MEMORY_SCRIPT if bench_profile(name) is not None else f"bench_{name}.py"


def bench_command(name: str) -> str:
    """The command that writes the benchmark result ``<name>.json``."""
    profile = bench_profile(name)
    command = f"python benchmarks/{bench_script(name)}"
    return command if profile is None else f"{command} --profile {profile}"


def memory_models(profile: Any) -> dict[str, Any]:
    """What the memory benchmark of ``profile`` must measure: the number of classes of the study's
    data and, per ``arch`` of :data:`MEMORY_ARCHS`, the model every configuration of the profile
    builds (:func:`rvit.study.design.run_config`'s model: the ``paper`` preset at the profile's
    image size, patch, width, depth and heads)."""
    from rvit.data.synthetic import CLASSES
    from rvit.study.design import run_config
    from rvit.study.profiles import get_profile

    p = get_profile(profile)
    models = {arch: run_config(p, arch=arch).model for arch in sorted(set(MEMORY_ARCHS.values()))}
    return {"num_classes": len(CLASSES), "models": models}


def _differences(found: Any, wanted: Any) -> str:
    """The fields of two model dicts that differ, as ``key: found in the file, wanted``."""
    if not isinstance(found, Mapping) or not isinstance(wanted, Mapping):
        return f"{found!r} in the file, {wanted!r} wanted"
    keys = sorted(set(found) | set(wanted))
    return ", ".join(
        f"{k} {found.get(k)!r} in the file, {wanted.get(k)!r} wanted"
        for k in keys
        if found.get(k) != wanted.get(k)
    )


def study_mismatch(name: str, bench: Mapping[str, Any]) -> str | None:
    """Why the benchmark result ``bench`` cannot stand for ``<name>.json`` of a study profile
    (``length-<profile>``): measured for another profile, or another model than the profile's
    (:func:`memory_models`). None when it can, and for every benchmark of no study profile."""
    profile = bench_profile(name)
    if profile is None:
        return None
    measured = bench.get("profile")
    if measured != profile:
        return f"was measured for study profile {measured!r}, not {profile!r}"
    try:
        wanted = memory_models(profile)
    except ValueError as err:  # a profile this code does not know
        return str(err)
    settings = bench.get("settings") or {}
    if settings.get("num_classes") != wanted["num_classes"]:
        return (
            f"measured models of {settings.get('num_classes')!r} classes; profile {profile!r} "
            f"trains {wanted['num_classes']}"
        )
    found = settings.get("models") or {}
    for arch, model in wanted["models"].items():
        if found.get(arch) != model:
            return (
                f"measured another {arch} model than profile {profile!r} uses "
                f"({_differences(found.get(arch), model)})"
            )
    return None


def load_bench(name: str, bench_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """``results/bench/<name>.json`` as written by its benchmark (:func:`bench_command`).

    A benchmark of a study profile (``length-<profile>``) measured for another profile or another
    model than the profile's (:func:`study_mismatch`) raises :class:`StaleResultsError`, which names
    the file and the command that measures it again.
    """
    path = Path(bench_dir or ROOT / "results" / "bench") / f"{name}.json"
    if not path.is_file():
        raise StaleResultsError(f"benchmark result {path} is missing; run: {bench_command(name)}")
    bench = json.loads(path.read_text(encoding="utf-8"))
    why = study_mismatch(name, bench)
    if why is not None:
        raise StaleResultsError(f"benchmark result {path} {why}; rerun: {bench_command(name)}")
    return bench


def _imported_modules(path: Path) -> set[str] | None:
    """The ``rvit`` modules ``path`` imports anywhere in it (None for an import it cannot name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = path.parent
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.split(".")[0] == "rvit"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the file's own package
                base = package
                for _ in range(node.level - 1):
                    base = base.parent
                module = ".".join([*base.relative_to(ROOT).parts, *(node.module or "").split(".")])
                module = module.rstrip(".")
            else:
                module = node.module or ""
            if module.split(".")[0] != "rvit":
                continue
            names.add(module)
            names |= {f"{module}.{a.name}" for a in node.names}
    return names


def _module_file(name: str, root: Path) -> Path | None:
    parts = name.split(".")
    for candidate in (
        root.joinpath(*parts).with_suffix(".py"),
        root.joinpath(*parts, "__init__.py"),
    ):
        if candidate.is_file():
            return candidate
    return None


def bench_code_paths(name: str, root: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The code that makes ``results/bench/<name>.json``, as git pathspecs from the repository root.

    The benchmark (:func:`bench_script`), its common module and every package module they import,
    directly or through other modules (read from the source, function-level imports included), less
    the study, which reads benchmarks and cannot change what they measure (the model a study
    profile's memory benchmark measures is checked against the profile instead:
    :func:`study_mismatch`). When an import names something that is not a module file
    (``from rvit import RViT``, through the package's lazy names), the whole
    package counts instead, so a change is never missed.
    """
    base = Path(root) if root is not None else ROOT
    script = f"benchmarks/{bench_script(name)}"
    start = [base / script, base / "benchmarks" / "_common.py"]
    coarse = (
        script,
        "benchmarks/_common.py",
        "rvit",
        ":(exclude)rvit/study",
    )
    files: set[Path] = set()
    queue = [f for f in start if f.is_file()]
    seen: set[Path] = set(queue)
    while queue:
        path = queue.pop()
        for module in sorted(_imported_modules(path) or ()):
            found = _module_file(module, base)
            if found is None:
                parent = _module_file(module.rpartition(".")[0], base)
                if parent is None or parent.name == "__init__.py":
                    return coarse  # a name the package resolves lazily, or an unknown module
                continue  # ``from rvit.x import name``: a name inside the module file rvit/x.py
            if found.relative_to(base).parts[:2] == ("rvit", "study"):
                continue
            files.add(found)
            if found not in seen:
                seen.add(found)
                queue.append(found)
    package = sorted(f.relative_to(base).as_posix() for f in files)
    return (script, "benchmarks/_common.py", *package)


def check_bench(
    name: str,
    bench_dir: str | os.PathLike | None = None,
    repo: str | os.PathLike | None = None,
) -> str:
    """Whether the benchmark result ``<bench_dir>/<name>.json`` still speaks for the code.

    Returns ``'current'``; ``'stale: ...'`` when the file was written from a tree with uncommitted
    changes or when its code (:func:`bench_code_paths`) changed between its recorded commit and
    ``HEAD`` of the git repository ``repo`` (default: the repository root) -- for the benchmark of
    a closed study profile, its last recorded commit instead of ``HEAD``: the code that made the
    profile's results, which later changes of the package do not touch --, and when a study
    profile's benchmark was measured for another profile or model (:func:`study_mismatch`);
    ``'unchecked: ...'`` when git, the recorded commit or the file is not available; ``'missing'``
    without a file.
    """
    path = Path(bench_dir or ROOT / "results" / "bench") / f"{name}.json"
    if not path.is_file():
        return "missing"
    try:
        bench = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unchecked: the file is not readable JSON"
    mismatch = study_mismatch(name, bench)
    if mismatch is not None:
        return f"stale: {mismatch}"
    git = bench.get("git") or {}
    commit = git.get("commit")
    if not commit:
        return "unchecked: the file records no commit"
    folder = Path(repo) if repo is not None else ROOT
    head = run_git(folder, "rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return "unchecked: git or the repository is not available"
    known = run_git(folder, "cat-file", "-e", f"{commit}^{{commit}}")
    if known is None or known.returncode != 0:
        return f"unchecked: commit {commit[:10]} is not in this repository"
    target = _closed_commit(name) or "HEAD"
    changed = run_git(
        folder, "diff", "--name-only", commit, target, "--", *bench_code_paths(name, folder)
    )
    if changed is None or changed.returncode != 0:
        return "unchecked: git diff failed"
    files = changed.stdout.split()
    why = []
    if git.get("dirty"):
        why.append(f"written from commit {commit[:10]} with uncommitted changes")
    if files:
        shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
        why.append(f"{len(files)} file(s) of its code changed since {commit[:10]} ({shown})")
    return "stale: " + "; ".join(why) if why else "current"


def _closed_commit(name: str) -> str | None:
    """The last commit of the closed study profile whose benchmark ``name`` is (None otherwise)."""
    from rvit.study.profiles import PROFILES

    profile = PROFILES.get(bench_profile(name) or "")
    return (
        profile.commits[-1] if profile is not None and profile.closed and profile.commits else None
    )


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


def memory_runs(bench: Mapping[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """Peak memory of the length benchmark as runs: ``runs[method][repeat] = {"peak_mb": ...}``.

    The memory repeats of each method play the role of seeds: repeat ``i`` is run ``i``, with one
    value per repeat. ``peak_mb.longest`` is the peak at the longest length measured for streaming
    RViT, whole-video RViT and ClipViT alike; ``peak_mb.growth`` is that minus the peak of the same
    repeat at the shortest such length. ``clipvit_forward`` is stored as ``clipvit``.

    In ``length.json`` (the book profile) a point's repeats are calls in one process; in a study
    profile's ``length-<profile>.json`` each repeat is a fresh process and repeat ``i`` of every
    point was measured in the same round, so the readings pair measurements made together.
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
