"""Memory and time per video against its length T, for RViT and the clip-based baselines.

Inference (batch 1, tiny size, 32 px, eval mode, no gradients), for T = 8 ... 256 frames (and 512,
memory only, for RViT streaming):

* RViT reading the video frame by frame with ``step`` (streaming) and in one ``forward`` call;
* FrameViT, frame by frame and with all frames in one batch;
* ClipViT (joint space-time attention) on the whole clip, and frame by frame (it keeps every frame).

Training (batch 1, train mode, T = 8 ... 64), against T: backpropagation through time
over the whole video, and two ways to bound its memory: truncated backpropagation (a backward pass
and a detached state every ``k`` frames) and activation checkpointing of each frame's step
(``torch.utils.checkpoint``: only the state between frames is stored, each step is recomputed in the
backward pass).

Each point runs in a fresh process: warm-up (inference: the call repeated until as many frames as the
longest video have passed, so every length meets the allocator in the same state; training: one
call), peak-memory measurements (three for inference, one for training), five timed calls (see ``_common.measure_call``). ClipViT and the training methods
stop at the first length whose median time per video or peak memory exceeds the stated caps, or whose
time predicted from the last two lengths does; the lengths skipped are recorded with the reason.

Threads: one by default (``--threads`` changes it). Batch-1 streaming and single attention calls are
too small to gain from more threads, and on a shared machine extra threads spin-wait for cores that
other processes hold, which distorts timings by an order of magnitude; memory does not depend on it.

Usage: python benchmarks/bench_length.py [--device cpu|cuda] [--lengths 8 16 ...] [--threads N]
Writes results/bench/length.json.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Any

import torch
import torch.nn.functional as F
from _common import (
    MIB,
    base_parser,
    check_args,
    hardware,
    measure_call,
    memory_note,
    print_table,
    run_isolated,
    setup_worker,
    versions,
    write_json,
)

from rvit.perf import loglog_slope
from rvit.utils import provenance

LENGTHS = (8, 16, 32, 64, 128, 256)
STREAM_EXTRA = (512,)  # RViT streaming only, memory only: twice the longest video, still flat?
TRAIN_LENGTHS = (8, 16, 32, 64)  # backward passes are dearer: the training sweep stops at 64
PREDICT_MIN_EXPONENT = {"clipvit_stream": 2.0}  # re-reading all kept frames: at least quadratic
NUM_CLASSES = 10
IMAGE_SIZE = 32
SIZE = "tiny"
BATCH = 1
TRUNCATE_EVERY = 8
CAP_SECONDS = {"inference": 5.0, "training": 15.0}  # median seconds per video
CAP_MEMORY_BYTES = 2 * 2**30  # peak memory growth per video
MEMORY_REPEATS = {"inference": 3, "training": 1}  # training peaks are megabytes: one suffices
# the two memory figures of every point (see _common): the targets are computed on both
MEMORY_MEASURES = {"tensors": "tensor_peak_bytes", "process": "memory_median_bytes"}

INFERENCE = {
    "rvit_stream": "RViT, step() frame by frame",
    "rvit_forward": "RViT, forward() on the whole video",
    "framevit_stream": "FrameViT, step() frame by frame",
    "framevit_forward": "FrameViT, forward() on all frames as one batch",
    "clipvit_forward": "ClipViT, forward() on the whole clip (softmax over all T x N tokens)",
    "clipvit_stream": "ClipViT, step() frame by frame (keeps every frame, re-reads all of them)",
}
TRAINING = {
    "bptt_full": "RViT, forward() and one backward pass through all T frames",
    "bptt_truncated": f"RViT, step(); backward and a detached state every {TRUNCATE_EVERY} frames",
    "bptt_checkpointed": "RViT, step() under torch.utils.checkpoint per frame; one backward pass",
}
# Methods that stop at the caps; the other inference methods cost O(T) and always run to the end.
CAPPED = ("clipvit_forward", "clipvit_stream", *TRAINING)


# ---------------------------------------------------------------------------------------------------
# what one point runs (in its own process)
# ---------------------------------------------------------------------------------------------------


def _config() -> Any:
    from rvit.config import RViTConfig

    return RViTConfig.paper(num_classes=NUM_CLASSES, image_size=IMAGE_SIZE, size=SIZE)


def _stream(model: torch.nn.Module, video: torch.Tensor) -> torch.Tensor:
    """Logits after the last frame, reading ``video`` ``(B, T, C, H, W)`` one frame at a time."""
    state = model.init_state(video.shape[0])
    logits = None
    for t in range(video.shape[1]):
        logits, state = model.step(video[:, t], state)
    return logits


def detach_state(state: Any) -> Any:
    """The state with every tensor cut from the autograd graph (truncated backpropagation).

    The position table cached in an RViT state is dropped so the next step rebuilds it from the
    parameters (and its gradient keeps flowing in the next chunk).
    """
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(state):
        value = getattr(state, field.name)
        if isinstance(value, torch.Tensor):
            changes[field.name] = value.detach()
        elif isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
            changes[field.name] = [v.detach() for v in value]
    if hasattr(state, "pos"):
        changes["pos"] = None
    return dataclasses.replace(state, **changes)


def _inference_fn(method: str, video: torch.Tensor, device: torch.device) -> Any:
    from rvit.baselines import ClipViT, FrameViT
    from rvit.model import RViT

    model_cls = {"rvit": RViT, "framevit": FrameViT, "clipvit": ClipViT}[method.split("_")[0]]
    model = model_cls(_config()).to(device).eval()
    if method.endswith("_stream"):
        return lambda: _stream(model, video)
    return lambda: model(video)


def _training_fn(method: str, video: torch.Tensor, device: torch.device) -> Any:
    from torch.utils.checkpoint import checkpoint

    from rvit.model import RViT

    model = RViT(_config()).to(device).train()
    target = torch.zeros(video.shape[0], dtype=torch.long, device=device)

    def full() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(video), target).backward()

    def truncated() -> None:
        model.zero_grad(set_to_none=True)
        state = model.init_state(video.shape[0])
        num_frames = video.shape[1]
        for t in range(num_frames):
            logits, state = model.step(video[:, t], state)
            if (t + 1) % TRUNCATE_EVERY == 0 or t == num_frames - 1:
                F.cross_entropy(logits, target).backward()
                state = detach_state(state)

    def checkpointed() -> None:
        model.zero_grad(set_to_none=True)
        state = model.init_state(video.shape[0])
        logits = None
        for t in range(video.shape[1]):
            logits, state = checkpoint(model.step, video[:, t], state, use_reentrant=False)
        F.cross_entropy(logits, target).backward()

    return {"bptt_full": full, "bptt_truncated": truncated, "bptt_checkpointed": checkpointed}[
        method
    ]


def measure_point(
    task: str,
    method: str,
    num_frames: int,
    device: str,
    threads: int | None,
    repeats: int,
    warmup_frames: int = 1,
) -> dict[str, Any]:
    """Peak memory growth and seconds per video of one (method, T), in this (fresh) process.

    Inference warms up by repeating the call until ``warmup_frames`` frames have been processed, so
    every length is measured on an allocator with the same history (a short video measured right
    after one short warm-up would see a less fragmented heap than a long one); training warms up
    with one call.
    """
    setup_worker(threads)
    dev = torch.device(device)
    torch.manual_seed(0)
    video = torch.rand(BATCH, num_frames, 3, IMAGE_SIZE, IMAGE_SIZE, device=dev)
    if task == "inference":
        fn = _inference_fn(method, video, dev)
        warmup = max(1, math.ceil(warmup_frames / num_frames))
        with torch.no_grad():
            result = measure_call(fn, dev, repeats, MEMORY_REPEATS[task], warmup)
    else:
        fn = _training_fn(method, video, dev)
        result = measure_call(fn, dev, repeats, MEMORY_REPEATS[task])
    return {"task": task, "method": method, "T": num_frames, "status": "measured", **result}


# ---------------------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------------------


def over_cap(point: dict[str, Any]) -> str | None:
    """Why a measured point exceeds the caps, or None."""
    cap = CAP_SECONDS[point["task"]]
    if point["seconds_median"] > cap:
        return f"{point['seconds_median']:.2f} s per video > cap {cap} s"
    if point["memory_median_bytes"] > CAP_MEMORY_BYTES:
        return (
            f"{point['memory_median_bytes'] / MIB:.0f} MiB > cap {CAP_MEMORY_BYTES / MIB:.0f} MiB"
        )
    return None


def predicted_seconds(done: list[dict[str, Any]], num_frames: int) -> float | None:
    """Seconds per video at ``num_frames`` extrapolated from the last two measured lengths, with an
    exponent of at least 1 (at least 2 where the method is known to be quadratic)."""
    if len(done) < 2:
        return None
    a, b = done[-2], done[-1]
    slope = math.log(b["seconds_median"] / a["seconds_median"]) / math.log(b["T"] / a["T"])
    floor = PREDICT_MIN_EXPONENT.get(b["method"], 1.0)
    return b["seconds_median"] * (num_frames / b["T"]) ** max(slope, floor)


def sweep(
    task: str,
    method: str,
    lengths: list[int],
    args: Any,
    device: torch.device,
    warmup_frames: int = 1,
    memory_only: tuple[int, ...] = (),
) -> list[dict[str, Any]]:
    """Measure ``method`` at each length in a fresh process; capped methods stop at the caps.

    Lengths in ``memory_only`` are measured for memory only (no timed repeats)."""
    points: list[dict[str, Any]] = []
    measured: list[dict[str, Any]] = []
    stop: str | None = None
    for num_frames in lengths:
        if stop is None and method in CAPPED:
            guess = predicted_seconds(measured, num_frames)
            cap = CAP_SECONDS[task]
            if guess is not None and guess > cap:
                stop = f"predicted {guess:.1f} s per video at T={num_frames} > cap {cap} s"
        if stop is not None:
            points.append(
                {
                    "task": task,
                    "method": method,
                    "T": num_frames,
                    "status": "skipped",
                    "reason": stop,
                }
            )
            print(f"{task:9s} {method:17s} T={num_frames:4d}  skipped: {stop}", flush=True)
            continue
        start = time.perf_counter()
        point = run_isolated(
            measure_point,
            task,
            method,
            num_frames,
            str(device),
            args.threads,
            0 if num_frames in memory_only else args.repeats,
            warmup_frames,
        )
        points.append(point)
        measured.append(point)
        timed = point["seconds_median"]
        shown = "memory only" if timed is None else f"{timed * 1e3:9.1f} ms"
        print(
            f"{task:9s} {method:17s} T={num_frames:4d}  "
            f"{point['memory_median_bytes'] / MIB:8.2f} MiB process "
            f"{point['tensor_peak_bytes'] / MIB:8.3f} MiB tensors  {shown}"
            f"  ({time.perf_counter() - start:.1f} s)",
            flush=True,
        )
        reason = over_cap(point) if method in CAPPED else None
        if reason is not None:
            stop = f"T={num_frames} exceeded the cap: {reason}"
    return points


def _value(points: list[dict[str, Any]], method: str, num_frames: int, key: str) -> float | None:
    for p in points:
        if p["method"] == method and p["T"] == num_frames and p["status"] == "measured":
            return p[key]
    return None


def summarise(points: list[dict[str, Any]], lengths: list[int]) -> dict[str, Any]:
    """Scaling exponents per method and the ratios the targets are stated in."""
    slopes: dict[str, dict[str, float]] = {}
    for method in {p["method"] for p in points}:
        done = [p for p in points if p["method"] == method and p["status"] == "measured"]
        timed = [p for p in done if p["seconds_median"] is not None]
        if len(timed) >= 2:
            t = [p["T"] for p in done]
            slopes[method] = {
                "memory": loglog_slope(t, [max(p["memory_median_bytes"], 1) for p in done]),
                "tensor_memory": loglog_slope(t, [max(p["tensor_peak_bytes"], 1) for p in done]),
                "seconds": loglog_slope(
                    [p["T"] for p in timed], [p["seconds_median"] for p in timed]
                ),
            }
    first, last = min(lengths), max(lengths)
    targets: dict[str, Any] = {}
    for measure, key in MEMORY_MEASURES.items():
        stream_first = _value(points, "rvit_stream", first, key)
        stream_last = _value(points, "rvit_stream", last, key)
        stream_64 = _value(points, "rvit_stream", 64, key)
        clip_64 = _value(points, "clipvit_forward", 64, key)
        stream_ratio = stream_last / stream_first if stream_first and stream_last else None
        clip_ratio = clip_64 / stream_64 if clip_64 and stream_64 else None
        targets[f"rvit_stream_memory_last_over_first_{measure}"] = {
            "T": [first, last],
            "measure": key,
            "ratio": stream_ratio,
            "target": "<= 1.10",
            "met": None if stream_ratio is None else stream_ratio <= 1.10,
        }
        targets[f"clipvit_over_rvit_stream_memory_T64_{measure}"] = {
            "measure": key,
            "ratio": clip_ratio,
            "target": ">= 8",
            "met": None if clip_ratio is None else clip_ratio >= 8,
        }
    return {"scaling_exponents": slopes, "targets": targets}


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__.split("\n\n")[0], threads=1)
    parser.add_argument(
        "--lengths", type=int, nargs="+", default=list(LENGTHS), help="video lengths T in frames"
    )
    parser.add_argument(
        "--train-lengths",
        type=int,
        nargs="+",
        default=list(TRAIN_LENGTHS),
        help="video lengths T for the training (backpropagation through time) sweep",
    )
    parser.add_argument(
        "--skip-training", action="store_true", help="measure inference only (no BPTT sweep)"
    )
    args = parser.parse_args(argv)
    device = check_args(args)
    lengths = sorted(set(args.lengths))
    train_lengths = sorted(set(args.train_lengths))
    if min(lengths + train_lengths) < 1:
        raise SystemExit(
            f"--lengths/--train-lengths: expected T >= 1, got {lengths + train_lengths}"
        )
    setup_worker(args.threads)
    note = memory_note(device)
    print(f"memory: {note['memory_method_description']}")
    caps = ", ".join(f"{task} {cap} s" for task, cap in CAP_SECONDS.items())
    print(f"caps per video: {caps}; {CAP_MEMORY_BYTES / MIB:.0f} MiB peak growth\n")

    started = time.perf_counter()
    points: list[dict[str, Any]] = []
    for method in INFERENCE:
        extra = [t for t in STREAM_EXTRA if t > lengths[-1]] if method == "rvit_stream" else []
        points += sweep(
            "inference", method, lengths + extra, args, device, max(lengths), tuple(extra)
        )
    if not args.skip_training:
        for method in TRAINING:
            points += sweep("training", method, train_lengths, args, device)

    rows = []
    for p in points:
        row = {"task": p["task"], "method": p["method"], "T": p["T"]}
        if p["status"] == "measured":
            row["process MiB"] = p["memory_median_bytes"] / MIB
            row["tensor MiB"] = p["tensor_peak_bytes"] / MIB
            if p["seconds_median"] is not None:
                row["ms/video"] = p["seconds_median"] * 1e3
                row["frames/s"] = p["T"] / p["seconds_median"]
            else:
                row["note"] = "memory only"
        else:
            row["note"] = "skipped (cap)"
        rows.append(row)
    print()
    print_table(
        rows, ["task", "method", "T", "process MiB", "tensor MiB", "ms/video", "frames/s", "note"]
    )
    summary = summarise(points, lengths)
    print()
    for name, target in summary["targets"].items():
        ratio = target["ratio"]
        shown = "n/a" if ratio is None else f"{ratio:.3f}"
        print(f"target {name}: {shown} (want {target['target']}; met: {target['met']})")

    cfg = _config()
    payload = {
        "benchmark": "length",
        **provenance(),
        "hardware": hardware(device),
        "versions": versions(),
        **note,
        "settings": {
            "model": cfg.to_dict(),
            "batch_size": BATCH,
            "lengths": lengths,
            "train_lengths": [] if args.skip_training else train_lengths,
            "repeats": args.repeats,
            "memory_repeats": MEMORY_REPEATS,
            "inference_warmup_frames": max(lengths),
            "rvit_stream_extra_lengths": [t for t in STREAM_EXTRA if t > lengths[-1]],
            "capped_methods": list(CAPPED),
            "truncate_every": TRUNCATE_EVERY,
            "cap_seconds_per_video": CAP_SECONDS,
            "cap_memory_bytes": CAP_MEMORY_BYTES,
            "threads": torch.get_num_threads(),
        },
        "methods": {**INFERENCE, **TRAINING},
        "points": points,
        **summary,
        "wall_seconds": time.perf_counter() - started,
    }
    path = write_json("length", payload, args.out)
    print(f"\nwrote {path} ({payload['wall_seconds']:.0f} s; medians of {args.repeats} timings)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
