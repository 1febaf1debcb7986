"""Peak memory against video length at a study profile's own model, for the study's memory readings.

The memory experiment of a study profile from version 3 on (claim ``cmp.memory``) reads this
benchmark instead of training runs. It measures inference (batch 1, eval mode, no gradients) of the
model every configuration of the profile builds (``rvit.study.bench.memory_models``: the ``paper``
preset at the profile's image size, patch, width, depth and heads) at the profile's test lengths:

* ``rvit_stream``: RViT reading the video frame by frame with ``step``;
* ``rvit_forward``: RViT, one ``forward`` call on the whole video;
* ``clipvit_forward``: ClipViT (joint space-time attention) on the whole clip.

Every repeat of every point is its own fresh process (``_common.run_isolated``): warm-up (the call
repeated until as many frames as the longest video have passed, so every length meets the allocator
in the same state), then one peak-memory measurement (``rvit.measure.PeakMemory``, as
``_common.measure_call`` and ``bench_length.py`` measure: on CPU the peak resident-set growth of the
call over the resident set just before it, after freed heap went back to the system and the
high-water mark was reset; on CUDA the allocator's peak). The repeats run in rounds: round ``r``
measures every (method, length) once, in a freshly spawned interpreter whose own fork server starts
the points' processes. Processes forked from one fork server share its heap layout, and on CPU a
point's peak resident set is then the same in all of them; a fresh interpreter per round makes the
rounds independent starts of the program. The study pairs the repeats by round as the seeds of its
readings (``rvit.study.bench.memory_runs``). The peak bytes of live tensors of one call
(``TensorMemory``: exact, the same in every process) are measured once per point, in the
benchmark's own process.

Threads: one by default (``--threads`` changes it); memory does not depend on it.

Usage: python benchmarks/bench_study_memory.py [--profile v3] [--repeats 12] [--lengths 4 8 ...]
Writes ``length-<profile>.json`` to the bench folder of the profile's results, where the study reads
it (results/v3/bench/length-v3.json for v3; ``--out`` changes the folder).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from _common import (
    MIB,
    hardware,
    median,
    memory_note,
    print_table,
    run_isolated,
    setup_worker,
    versions,
    write_json,
)

from rvit.config import RViTConfig
from rvit.measure import PeakMemory
from rvit.models import build_model
from rvit.perf import TensorMemory, loglog_slope
from rvit.utils import provenance

REPEATS = 12
BATCH = 1
METHODS = {
    "rvit_stream": "RViT, step() frame by frame",
    "rvit_forward": "RViT, forward() on the whole video",
    "clipvit_forward": "ClipViT, forward() on the whole clip (softmax over all T x N tokens)",
}


def _model(spec: dict[str, Any], num_classes: int, device: torch.device) -> torch.nn.Module:
    """The study's model ``{"arch", "preset", **fields}`` in eval mode on ``device``."""
    fields = dict(spec)
    arch, preset = fields.pop("arch"), fields.pop("preset")
    cfg = getattr(RViTConfig, preset)(num_classes, **fields)
    return build_model(arch, cfg).to(device).eval()


def _stream(model: torch.nn.Module, video: torch.Tensor) -> torch.Tensor:
    """Logits after the last frame, reading ``video`` ``(B, T, C, H, W)`` one frame at a time."""
    state = model.init_state(video.shape[0])
    logits = None
    for t in range(video.shape[1]):
        logits, state = model.step(video[:, t], state)
    return logits


def _call(
    method: str, num_frames: int, spec: dict[str, Any], num_classes: int, device: torch.device
) -> Any:
    """The call one point measures: ``method`` on a random ``(1, num_frames)`` clip."""
    torch.manual_seed(0)
    model = _model(spec, num_classes, device)
    size = spec["image_size"]
    video = torch.rand(BATCH, num_frames, 3, size, size, device=device)
    if method.endswith("_stream"):
        return lambda: _stream(model, video)
    return lambda: model(video)


def measure_repeat(
    method: str,
    num_frames: int,
    spec: dict[str, Any],
    num_classes: int,
    device: str,
    threads: int | None,
    warmup_frames: int,
) -> dict[str, Any]:
    """One repeat of one (method, T), in this (fresh) process: warm-up, then the peak memory growth
    of one call (:class:`rvit.measure.PeakMemory`, as ``_common.measure_call`` measures it)."""
    setup_worker(threads)
    dev = torch.device(device)
    fn = _call(method, num_frames, spec, num_classes, dev)
    with torch.no_grad():
        for _ in range(max(1, math.ceil(warmup_frames / num_frames))):
            fn()
        with PeakMemory(dev) as mem:
            fn()
    return {"memory_bytes": mem.growth, "baseline_bytes": mem.baseline}


def tensor_peak(
    method: str, num_frames: int, spec: dict[str, Any], num_classes: int, device: torch.device
) -> int:
    """Peak bytes of the tensors one call of (method, T) holds at once (:class:`TensorMemory`:
    exact and the same in any process, so measured once, in this one)."""
    fn = _call(method, num_frames, spec, num_classes, device)
    with torch.no_grad():
        fn()
        with TensorMemory() as live:
            fn()
    return int(live.peak)


def measure_round(
    points: list[tuple[str, int]],
    models: dict[str, Any],
    device: str,
    threads: int | None,
    warmup_frames: int,
) -> list[dict[str, Any]]:
    """One round, in this freshly started process: every (method, T) of ``points`` once, each in
    its own fresh process (``_common.run_isolated``, forked from this process's own fork server)."""
    from rvit.study.bench import MEMORY_ARCHS

    return [
        run_isolated(
            measure_repeat,
            method,
            num_frames,
            models["models"][MEMORY_ARCHS[method]],
            models["num_classes"],
            device,
            threads,
            warmup_frames,
        )
        for method, num_frames in points
    ]


def measure(
    models: dict[str, Any],
    lengths: list[int],
    repeats: int,
    device: torch.device,
    threads: int | None,
) -> list[dict[str, Any]]:
    """Every (method, T) ``repeats`` times, one fresh process each, in rounds of all points.

    Each round runs in a process started afresh (spawned: a new interpreter), whose fork server
    starts each point's process: processes forked from one fork server share its heap layout (on
    CPU a point's peak resident set is then the same in all of them), so the rounds, not the
    points of one round, are what varies from one start of the program to the next. Returns one
    point per (method, T) in the form of ``bench_length.py``'s inference points, with the repeats in
    round order: ``memory_bytes`` and ``baseline_bytes`` (one per repeat), ``memory_median_bytes``,
    and ``tensor_peak_bytes`` (:func:`tensor_peak`)."""
    from rvit.study.bench import MEMORY_ARCHS

    order = [(method, num_frames) for method in METHODS for num_frames in lengths]
    found: dict[tuple[str, int], list[dict[str, Any]]] = {point: [] for point in order}
    for r in range(repeats):
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            done = pool.submit(
                measure_round, order, models, str(device), threads, max(lengths)
            ).result()
        for point, result in zip(order, done, strict=True):
            found[point].append(result)
        print(f"round {r + 1}/{repeats}: {time.perf_counter() - start:.1f} s", flush=True)
    points = []
    for (method, num_frames), done in found.items():
        memory = [d["memory_bytes"] for d in done]
        spec = models["models"][MEMORY_ARCHS[method]]
        peak = tensor_peak(method, num_frames, spec, models["num_classes"], device)
        points.append(
            {
                "task": "inference",
                "method": method,
                "T": num_frames,
                "status": "measured",
                "memory_bytes": memory,
                "memory_median_bytes": median(memory),
                "tensor_peak_bytes": peak,
                "baseline_bytes": [d["baseline_bytes"] for d in done],
            }
        )
    return points


def summarise(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Median peak memory (MiB) per method and length, and its log-log slope against the length."""
    medians: dict[str, dict[str, float]] = {}
    slopes: dict[str, float] = {}
    for method in METHODS:
        done = sorted((p for p in points if p["method"] == method), key=lambda p: p["T"])
        medians[method] = {str(p["T"]): p["memory_median_bytes"] / MIB for p in done}
        if len(done) >= 2:
            slopes[method] = loglog_slope(
                [p["T"] for p in done], [max(p["memory_median_bytes"], 1) for p in done]
            )
    return {"median_mib": medians, "memory_scaling_exponents": slopes}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="v3", help="study profile (default: v3)")
    parser.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        default=None,
        help="video lengths T in frames (default: the profile's test lengths)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=REPEATS,
        help=f"fresh-process repeats per point, the seeds of the readings (default: {REPEATS})",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device to measure on: cpu or cuda[:i] (default: cpu)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads in each measuring process (1)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the JSON result (default: the bench folder of the profile's results)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    from rvit.study.bench import memory_bench_name, memory_models
    from rvit.study.profiles import get_profile
    from rvit.study.store import default_results_dir

    args = parse_args(argv)
    try:
        profile = get_profile(args.profile)
    except ValueError as err:
        raise SystemExit(f"--profile: {err}") from None
    lengths = sorted(set(args.lengths or profile.test_lengths))
    if min(lengths) < 1:
        raise SystemExit(f"--lengths: expected T >= 1, got {lengths}")
    if args.repeats < 2:
        raise SystemExit(f"--repeats {args.repeats}: at least 2 are needed (the study wants 10+)")
    if args.threads < 1:
        raise SystemExit(f"--threads {args.threads}: expected an integer >= 1")
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise SystemExit(f"--device {args.device!r} is not a torch device") from None
    if device.type not in ("cpu", "cuda"):
        raise SystemExit(f"--device {args.device!r}: expected cpu or cuda[:i]")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device!r}: CUDA is not available on this machine")
    setup_worker(args.threads)
    models = memory_models(profile)
    note = memory_note(device)
    name = memory_bench_name(profile)
    print(f"profile {profile.name}: {models['models']['rvit']}")
    print(f"memory: {note['memory_method_description']}")
    print(f"lengths {lengths}, {args.repeats} repeats, one fresh process each\n", flush=True)

    started = time.perf_counter()
    points = measure(models, lengths, args.repeats, device, args.threads)
    rows = [
        {
            "method": p["method"],
            "T": p["T"],
            "median MiB": p["memory_median_bytes"] / MIB,
            "min MiB": min(p["memory_bytes"]) / MIB,
            "max MiB": max(p["memory_bytes"]) / MIB,
            "tensor MiB": p["tensor_peak_bytes"] / MIB,
        }
        for p in points
    ]
    print()
    print_table(rows, ["method", "T", "median MiB", "min MiB", "max MiB", "tensor MiB"])

    payload = {
        "benchmark": "study_memory",
        "profile": profile.name,
        **provenance(),
        "hardware": hardware(device),
        "versions": versions(),
        **note,
        "settings": {
            **models,
            "batch_size": BATCH,
            "lengths": lengths,
            "repeats": args.repeats,
            "repeat_process": (
                "every repeat of every point a fresh process; the repeats in rounds of all points, "
                "each round in a freshly spawned interpreter whose fork server starts its processes"
            ),
            "inference_warmup_frames": max(lengths),
            "threads": torch.get_num_threads(),
        },
        "methods": METHODS,
        "points": points,
        **summarise(points),
        "wall_seconds": time.perf_counter() - started,
    }
    out = args.out if args.out is not None else default_results_dir(profile) / "bench"
    path = write_json(name, payload, out)
    print(f"\nwrote {path} ({payload['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
