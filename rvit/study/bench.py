"""The benchmark results the study reads (``results/bench/*.json``): loading, staleness, memory.

The memory experiment reads the length benchmark instead of training runs: :func:`memory_runs`
turns its repeats into the runs the report analyses, :func:`memory_frame` into a table for the
figure. :func:`check_bench` says whether a benchmark file still speaks for the code.
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

__all__ = ["bench_code_paths", "check_bench", "load_bench", "memory_frame", "memory_runs"]


def load_bench(name: str, bench_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """``results/bench/<name>.json`` as written by ``benchmarks/bench_<name>.py``."""
    path = Path(bench_dir or ROOT / "results" / "bench") / f"{name}.json"
    if not path.is_file():
        raise StaleResultsError(
            f"benchmark result {path} is missing; run: python benchmarks/bench_{name}.py"
        )
    return json.loads(path.read_text(encoding="utf-8"))


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

    The benchmark, its common module and every package module they import, directly or through
    other modules (read from the source, function-level imports included), less the study, which
    reads benchmarks and cannot change what they measure. When an import names something that is
    not a module file (``from rvit import RViT``, through the package's lazy names), the whole
    package counts instead, so a change is never missed.
    """
    base = Path(root) if root is not None else ROOT
    start = [base / "benchmarks" / f"bench_{name}.py", base / "benchmarks" / "_common.py"]
    coarse = (
        f"benchmarks/bench_{name}.py",
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
    return (f"benchmarks/bench_{name}.py", "benchmarks/_common.py", *package)


def check_bench(
    name: str,
    bench_dir: str | os.PathLike | None = None,
    repo: str | os.PathLike | None = None,
) -> str:
    """Whether the benchmark result ``<bench_dir>/<name>.json`` still speaks for the code.

    Returns ``'current'``; ``'stale: ...'`` when the file was written from a tree with uncommitted
    changes or when its code (:func:`bench_code_paths`) changed between its recorded commit and
    ``HEAD`` of the git repository ``repo`` (default: the repository root); ``'unchecked: ...'``
    when git, the recorded commit or the file is not available; ``'missing'`` without a file.
    """
    path = Path(bench_dir or ROOT / "results" / "bench") / f"{name}.json"
    if not path.is_file():
        return "missing"
    try:
        git = json.loads(path.read_text(encoding="utf-8")).get("git") or {}
    except (OSError, ValueError):
        return "unchecked: the file is not readable JSON"
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
    changed = run_git(
        folder, "diff", "--name-only", commit, "HEAD", "--", *bench_code_paths(name, folder)
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
