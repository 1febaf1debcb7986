"""Training and frame-by-frame evaluation speed of the tiny RViT at 32 px, against the matmul peak.

Utilisation = (FLOPs of one training step, forward + backward, counted by ``FlopCounterMode``)
x (steps per second) / (FLOP/s of a 2048 x 2048 float32 ``torch.mm``, measured in the same run
before every workload; the median of these is the denominator).
The matmul peak is the baseline: it is what this processor does on the most favourable workload.
FrameViT (RViT without recurrence) is measured alongside, and ``fit`` end to end against the bare
step shows what the loop itself costs. Evaluation streams synthetic videos through ``model.step``.

Usage: python benchmarks/bench_train.py [--threads N] [--repeats 5] [--device cpu]
Writes results/bench/train.json.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    adamw_step,
    base_parser,
    check_args,
    hardware,
    median,
    print_table,
    versions,
    write_json,
)

from rvit.baselines import FrameViT  # noqa: E402
from rvit.config import RViTConfig  # noqa: E402
from rvit.data import SyntheticActions  # noqa: E402
from rvit.evaluate import evaluate_videos  # noqa: E402
from rvit.measure import count_flops, synchronize  # noqa: E402
from rvit.model import RViT  # noqa: E402
from rvit.perf import matmul_peak_flops  # noqa: E402
from rvit.train import TrainConfig, fit  # noqa: E402

NUM_CLASSES, IMAGE_SIZE = 12, 32
STEPS_PER_REPEAT = 2

# (name, model class, clip length T, batch size): 32 frames per step each
WORKLOADS = [
    ("rvit image", RViT, 1, 32),
    ("rvit video", RViT, 8, 4),
    ("framevit image", FrameViT, 1, 32),
    ("framevit video", FrameViT, 8, 4),
]


def tiny(cls: type) -> torch.nn.Module:
    torch.manual_seed(0)
    return cls(RViTConfig.paper(num_classes=NUM_CLASSES, image_size=IMAGE_SIZE, size="tiny"))


def bare_step(model: torch.nn.Module, frames: int, batch: int, device: torch.device) -> Any:
    """One AdamW training step on a fixed batch, and the FLOPs of its forward + backward."""
    step, forward_backward = adamw_step(model, frames, batch, IMAGE_SIZE, NUM_CLASSES, device)
    flops = count_flops(forward_backward)
    model.zero_grad(set_to_none=True)
    return step, flops


def measure_training(
    device: torch.device, repeats: int, threads: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each workload's step time, and the matmul peak measured just before each workload.

    What the processor gives one process drifts (shared machines, clock boost), so the peak is
    measured next to every workload and their median is the denominator of the utilisation, as in
    ``bench_hardware.py``."""
    rows, runs = [], []
    for name, cls, frames, batch in WORKLOADS:
        runs.append(matmul_peak_flops(device, n=2048, repeats=repeats))
        model = tiny(cls).to(device).train()
        step, flops = bare_step(model, frames, batch, device)
        for _ in range(2):  # warm-up
            step()
        seconds = []
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            for _ in range(STEPS_PER_REPEAT):
                step()
            synchronize(device)
            seconds.append((time.perf_counter() - start) / STEPS_PER_REPEAT)
        per_step = median(seconds)
        rows.append(
            {
                "workload": name,
                "threads": threads,
                "frames": frames,
                "batch": batch,
                "gflop_per_step": flops / 1e9,
                "ms_per_step": 1000 * per_step,
                "clips_per_s": batch / per_step,
                "gflop_per_s": flops / per_step / 1e9,
                "peak_before_gflop_per_s": runs[-1]["flops"] / 1e9,
                "seconds_per_step": seconds,
            }
        )
    values = [run["flops"] for run in runs]
    peak = {"flops": median(values), "all_flops": values, "runs": runs}
    for row in rows:
        row["utilisation_pct"] = 100 * row["gflop_per_s"] * 1e9 / peak["flops"]
    return rows, peak


def measure_fit(device: torch.device, repeats: int) -> dict[str, Any]:
    """``fit`` end to end (data set, loader, schedule, bookkeeping) on synthetic stills, each
    repeat right after the bare step on a fixed batch, so both see the same machine load."""
    batch, steps = 32, 4
    data = SyntheticActions("train", "image", num_samples=batch * steps, image_size=IMAGE_SIZE)
    data.precompute()
    config = TrainConfig(
        modality="image",
        epochs=1,
        batch_size=batch,
        device=str(device),
        progress=False,
        warmup_epochs=0.0,
    )
    fit(tiny(RViT), data, None, config.replace(max_steps=2))  # warm-up
    step, _ = bare_step(tiny(RViT).to(device).train(), 1, batch, device)
    step()
    rates, bare_rates = [], []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize(device)
        bare_rates.append(batch * steps / (time.perf_counter() - start))
        history = fit(tiny(RViT), data, None, config)
        rates.append(history.records[-1]["samples_per_s"])
    overhead = [100 * (1 - f / b) for f, b in zip(rates, bare_rates, strict=True)]
    return {
        "batch": batch,
        "steps": steps,
        "samples_per_s": rates,
        "median": median(rates),
        "bare_step_samples_per_s": bare_rates,
        "bare_step_median": median(bare_rates),
        "loop_overhead_pct": overhead,
        "loop_overhead_median_pct": median(overhead),
    }


def measure_eval(device: torch.device, repeats: int, threads: int) -> list[dict[str, Any]]:
    videos = SyntheticActions(
        "test", "video", num_samples=32, frames=8, image_size=IMAGE_SIZE
    ).precompute()
    model = tiny(RViT).to(device).eval()
    rows = []
    for batch in (1, 32):
        kwargs = dict(batch_size=batch, device=device, progress=False, trace_memory=False)
        evaluate_videos(model, videos, max_videos=batch, **kwargs)  # warm-up
        results = [evaluate_videos(model, videos, **kwargs) for _ in range(repeats)]
        fps = [r.frames_per_s for r in results]
        rows.append(
            {
                "threads": threads,
                "batch": batch,
                "frames_per_s": median(fps),
                "ms_per_frame": 1000 / median(fps),
                "step_latency_ms": median([r.step_latency_ms for r in results]),
                "frames_per_s_repeats": fps,
            }
        )
    return rows


def profile_step(device: torch.device) -> list[dict[str, Any]]:
    """The operators that take the time of an RViT training step (batch 32 stills)."""
    from torch.profiler import ProfilerActivity, profile

    model = tiny(RViT).to(device).train()
    step, _ = bare_step(model, 1, 32, device)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [
        {
            "op": e.key,
            "calls_per_step": e.count // 3,
            "self_ms_per_step": e.self_cpu_time_total / 3 / 1000,
            "share_pct": 100 * e.self_cpu_time_total / total,
        }
        for e in events[:8]
    ]


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    device = check_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)

    default_threads = torch.get_num_threads()
    peaks: dict[str, Any] = {}
    training: list[dict[str, Any]] = []
    evaluation: list[dict[str, Any]] = []
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        rows, peak = measure_training(device, args.repeats, threads)
        peaks[str(threads)] = peak
        low, high = min(peak["all_flops"]) / 1e9, max(peak["all_flops"]) / 1e9
        print(
            f"matmul peak (2048 x 2048 float32 mm, median of {args.repeats}, {threads} threads, "
            f"before each of {len(rows)} workloads): median {peak['flops'] / 1e9:.1f} GFLOP/s, "
            f"{low:.1f} to {high:.1f}",
            flush=True,
        )
        training += rows
        evaluation += measure_eval(device, args.repeats, threads)
    print(f"\ntraining step (AdamW, forward + backward + update), tiny size, {IMAGE_SIZE} px")
    columns = ["workload", "threads", "frames", "batch", "gflop_per_step", "ms_per_step"]
    print_table(training, [*columns, "clips_per_s", "gflop_per_s", "utilisation_pct"])
    print(f"\nframe-by-frame evaluation (model.step), tiny size, {IMAGE_SIZE} px, 32 videos x 8")
    print_table(evaluation, ["threads", "batch", "frames_per_s", "ms_per_frame", "step_latency_ms"])

    # fit() and the profile run at the thread count that trained fastest here
    rvit_rows = [r for r in training if r["workload"] == "rvit image"]
    bare = max(rvit_rows, key=lambda r: r["clips_per_s"])
    torch.set_num_threads(bare["threads"])
    fit_speed = measure_fit(device, args.repeats)
    fit_speed["threads"] = bare["threads"]
    print(
        f"\nfit() end to end, stills, batch {fit_speed['batch']}, {bare['threads']} threads: "
        f"{fit_speed['median']:.1f} samples/s against {fit_speed['bare_step_median']:.1f} for the "
        f"bare step in the same repeats (loop overhead {fit_speed['loop_overhead_median_pct']:.0f} %)",
        flush=True,
    )
    ops = profile_step(device)
    print(
        f"\nwhere an RViT training step spends its time (batch 32 stills, {bare['threads']} threads)"
    )
    print_table(ops, ["op", "calls_per_step", "self_ms_per_step", "share_pct"])
    torch.set_num_threads(default_threads)

    payload = {
        "benchmark": "train",
        "description": __doc__.splitlines()[0],
        "hardware": hardware(device),
        "versions": versions(),
        "settings": {
            "image_size": IMAGE_SIZE,
            "num_classes": NUM_CLASSES,
            "size": "tiny",
            "preset": "paper",
            "repeats": args.repeats,
            "steps_per_repeat": STEPS_PER_REPEAT,
        },
        "matmul_peak_by_threads": peaks,
        "training": training,
        "fit": fit_speed,
        "evaluation": evaluation,
        "profile": ops,
        "summary": {
            "best_utilisation_pct": max(r["utilisation_pct"] for r in training),
            "rvit_image_utilisation_pct_by_threads": {
                str(r["threads"]): r["utilisation_pct"]
                for r in training
                if r["workload"] == "rvit image"
            },
            "eval_frames_per_s_best": max(r["frames_per_s"] for r in evaluation),
            "spread_of_matmul_peaks_pct": {
                threads: 100
                * (max(p["all_flops"]) - min(p["all_flops"]))
                / statistics.median(p["all_flops"])
                for threads, p in peaks.items()
            },
        },
    }
    path = write_json("train", payload, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
