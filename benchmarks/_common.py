"""Shared helpers for the benchmark scripts: provenance, fresh-process measurements, tables, JSON.

Every benchmark records where it ran (:func:`hardware`) and with what code (:func:`versions`), keeps
the raw repeats of each measurement next to their median, prints a table and writes its JSON
atomically to ``results/bench/<name>.json``.

Memory is measured the same way everywhere (:func:`measure_call`, run in a fresh process per point by
:func:`run_isolated`): warm-up, then the peak growth of the call over the memory in use just
before it (:class:`rvit.measure.PeakMemory`: on CPU the resident set's high-water mark, reset after freed
heap pages are returned to the system; on CUDA the allocator's peak statistics), and the peak bytes of
the tensors the call creates that are alive at once (:class:`rvit.perf.TensorMemory`, on any device).
The first is what the process costs the machine, allocator slack and page granularity included; the
second is what the model's tensors need, exactly, and is the figure to compare models by when the
difference is below a mebibyte.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import torch

from rvit.measure import PeakMemory, memory_method, time_call
from rvit.perf import TensorMemory
from rvit.utils import atomic_write_json, environment_info, git_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "results" / "bench"
MIB = 2**20

MEMORY_METHODS = {
    "rss_peak_reset": (
        "peak resident-set growth of the call over the resident set just before it, in a fresh "
        "process per point after warm-up (freed heap returned to the system with "
        "malloc_trim, high-water mark reset through /proc/self/clear_refs)"
    ),
    "ru_maxrss": (
        "growth of getrusage's resident-set high-water mark during the call, in a fresh process "
        "per point after warm-up (the mark cannot be reset: an upper bound)"
    ),
    "cuda_max_memory_allocated": (
        "torch.cuda.max_memory_allocated during the call minus memory_allocated before it, after "
        "torch.cuda.reset_peak_memory_stats, in a fresh process per point after warm-up"
    ),
}
"""How each memory method of :func:`rvit.measure.memory_method` is described in results."""


def hardware(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Where the benchmark ran: processor, cores, torch threads, memory, accelerator, load average."""
    device = torch.device(device)
    env = environment_info()
    info: dict[str, Any] = {
        "cpu": env["cpu"],
        "logical_cores": env["cpu_count"],
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "platform": env["platform"],
        "device": str(device),
        "load_average_1_5_15min": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        info["memory_gib"] = round(
            os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1
        )
    except (ValueError, OSError, AttributeError):
        info["memory_gib"] = None
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu"] = props.name
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
    return info


def versions() -> dict[str, Any]:
    """The code that ran: python, torch, rvit and the git commit (``+dirty`` with local changes)."""
    env = environment_info()
    git = git_info(ROOT)
    commit = git["commit"]
    if commit is not None and git["dirty"]:
        commit += "+dirty"
    return {
        "python": env["python"],
        "torch": env["packages"]["torch"],
        "rvit": env["packages"]["rvit"],
        "git_commit": commit,
    }


def median(values: Sequence[float]) -> float:
    """Median of the repeats (the robust summary every benchmark reports)."""
    if not values:
        raise ValueError("median: expected at least one value, got an empty sequence")
    return float(statistics.median(values))


def setup_worker(threads: int | None) -> None:
    """Settings every measuring process shares: the torch thread count (``None``: torch's default)."""
    if threads:
        torch.set_num_threads(threads)


def measure_call(
    fn: Callable[[], Any],
    device: torch.device | str = "cpu",
    repeats: int = 5,
    memory_repeats: int = 3,
    warmup: int = 1,
) -> dict[str, Any]:
    """Peak memory and wall-clock time of ``fn()``: ``warmup`` calls, then memory, then timing.

    The warm-up calls pay one-off costs (lazy initialisation, kernel selection) outside both
    measurements and bring the allocator to the state that further calls see. Then ``memory_repeats`` calls each run inside :class:`rvit.measure.PeakMemory` and
    ``repeats`` timed calls follow (none with ``repeats=0``: a memory-only point). One more call
    runs inside :class:`rvit.perf.TensorMemory` (live tensor bytes, exact, so once). Returns raw
    repeats and medians: ``memory_bytes`` (list), ``memory_median_bytes``, ``tensor_peak_bytes``,
    ``baseline_bytes`` (memory in use before the last measured call),
    ``seconds`` (list), ``seconds_median``.
    """
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    memory, baseline = [], 0
    for _ in range(memory_repeats):
        with PeakMemory(device) as mem:
            fn()
        memory.append(mem.growth)
        baseline = mem.baseline or 0
    with TensorMemory() as tensors:  # deterministic: one call suffices
        fn()
    seconds = time_call(fn, repeats=repeats, warmup=0, device=device) if repeats else []
    return {
        "memory_bytes": memory,
        "memory_median_bytes": median(memory),
        "tensor_peak_bytes": tensors.peak,
        "baseline_bytes": baseline,
        "seconds": seconds,
        "seconds_median": median(seconds) if seconds else None,
    }


def adamw_step(
    model: torch.nn.Module,
    frames: int,
    batch: int,
    image_size: int,
    num_classes: int,
    device: torch.device | str = "cpu",
) -> tuple[Callable[[], None], Callable[[], None]]:
    """``(step, forward_backward)`` on one fixed random batch of ``(batch, frames)`` clips.

    ``step`` is a whole AdamW training step (zero the gradients, forward, backward, update);
    ``forward_backward`` is the part whose FLOPs a benchmark counts."""
    video = torch.rand(batch, frames, 3, image_size, image_size, device=device)
    labels = torch.randint(0, num_classes, (batch,), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def forward_backward() -> None:
        torch.nn.functional.cross_entropy(model(video), labels).backward()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        forward_backward()
        optimizer.step()

    return step, forward_backward


_PRELOAD = ["torch", "rvit.attention", "rvit.cell", "rvit.model", "rvit.baselines"]


def _fresh_process_context() -> BaseContext:
    """Start method for measuring processes: a fork server that has imported torch and rvit (and
    run nothing) when the platform has one, so each fresh process starts in milliseconds; else spawn.
    """
    if "forkserver" in get_all_start_methods():
        context = get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return get_context("spawn")


def run_isolated(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` in a fresh Python process and return its result.

    ``fn`` must be a module-level function and its arguments and result picklable. A fresh process per
    point keeps one measurement's allocations, caches and high-water marks out of the next.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=_fresh_process_context()) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def memory_note(device: torch.device | str) -> dict[str, str]:
    """The memory method used on ``device`` and its one-line description, for results and output."""
    method = memory_method(device)
    return {"memory_method": method, "memory_method_description": MEMORY_METHODS[method]}


def write_json(name: str, payload: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write ``payload`` to ``<directory>/<name>.json`` atomically (temporary file, then rename)."""
    return atomic_write_json(Path(directory) / f"{name}.json", payload, indent=1)


def base_parser(description: str, threads: int | None = None) -> argparse.ArgumentParser:
    """Command-line options every benchmark accepts; ``threads`` is the default of ``--threads``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--device", default="cpu", help="torch device to measure on: cpu or cuda[:i] (default: cpu)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=threads,
        help=f"torch threads in each measuring process (default: {threads or 'torch own choice'})",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed repeats per point, median reported (>= 5)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR,
        help="folder for the JSON result (default: results/bench)",
    )
    return parser


def check_args(args: argparse.Namespace) -> torch.device:
    """Validate the common options; returns the device. Errors name the option and the value."""
    if args.repeats < 5:
        raise SystemExit(f"--repeats {args.repeats}: at least 5 timed repeats are needed")
    if args.threads is not None and args.threads < 1:
        raise SystemExit(f"--threads {args.threads}: expected an integer >= 1")
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise SystemExit(f"--device {args.device!r} is not a torch device") from None
    if device.type not in ("cpu", "cuda"):
        raise SystemExit(f"--device {args.device!r}: expected cpu or cuda[:i]")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device!r}: CUDA is not available on this machine")
    return device


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print ``rows`` as a right-aligned text table of the given columns (``-`` for missing)."""

    def fmt(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    cells = [[fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for r in cells:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))
    sys.stdout.flush()


def extract_baseline(ref: str, folder: Path) -> str:
    """``rvit/`` of commit ``ref`` into ``folder`` (a baseline to import through PYTHONPATH); returns
    the full commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "rvit"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return commit
