"""How much of the processor's matrix-multiply peak the tiny RViT uses, in training and inference.

Utilisation = (FLOPs of one call, counted by ``torch.utils.flop_counter.FlopCounterMode``) x (calls
per second) / (FLOP/s of a 2048 x 2048 float32 ``torch.mm``, measured in the same run). On a shared
machine what the processor gives one process changes from minute to minute, so the peak is measured
before every workload and the median of these measurements is the denominator (robust to a moment of
contention either way); the utilisation against the highest of them is reported too, as a lower
bound. The counter
sees matrix products, convolutions and attention kernels, which carry nearly all of the arithmetic;
element-wise work (normalisation, activations, the gate's mixing) is not counted, so it can only
lower the figure.

Workloads (tiny size, 32 px, paper preset): a training step (forward, backward, AdamW update) and an
inference call (``forward`` without gradients), on stills (T = 1) and on 8-frame clips, at several
batch sizes; the best batch of each is reported. For the best training workload the step is then
taken apart with ``torch.profiler``: the share of its time spent in matrix products, the FLOP/s
those products reach inside the model, and the FLOP/s the same shapes reach alone (the ceiling that
small matrices set), so a low utilisation comes with its reasons.

Threads: one by default (``--threads`` changes it), for the peak and the model alike, so the ratio
compares like with like. On a shared machine extra threads spin-wait for cores that other processes
hold, which slows small operators by an order of magnitude while a large product hardly suffers; on a
dedicated machine pass ``--threads`` with its core count.

Usage: python benchmarks/bench_hardware.py [--device cpu|cuda] [--threads N] [--repeats 5]
Writes results/bench/hardware.json.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from _common import (
    adamw_step,
    base_parser,
    check_args,
    hardware,
    median,
    print_table,
    setup_worker,
    versions,
    write_json,
)

from rvit.config import RViTConfig
from rvit.measure import Stopwatch, autorange, count_flops
from rvit.model import RViT
from rvit.perf import matmul_peak_flops
from rvit.utils import provenance

NUM_CLASSES = 10
IMAGE_SIZE = 32
SIZE = "tiny"
MIN_REPEAT_SECONDS = 0.05
# (task, frames per clip, batch sizes)
WORKLOADS = [
    ("training", 1, (16, 64, 256)),
    ("training", 8, (8, 32)),
    ("inference", 1, (16, 64, 256)),
    ("inference", 8, (8, 32)),
]
MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}


def _config() -> RViTConfig:
    return RViTConfig.paper(num_classes=NUM_CLASSES, image_size=IMAGE_SIZE, size=SIZE)


def make_workload(
    task: str, frames: int, batch: int, device: torch.device
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """``(call, counted)``: the call to time, and the part of it whose FLOPs are counted.

    Training: ``call`` is a whole AdamW step, ``counted`` its forward and backward. Inference: both
    are ``forward`` under ``torch.no_grad``.
    """
    torch.manual_seed(0)
    model = RViT(_config()).to(device)
    if task == "inference":
        model.eval()
        video = torch.rand(batch, frames, 3, IMAGE_SIZE, IMAGE_SIZE, device=device)

        def infer() -> None:
            with torch.no_grad():
                model(video)

        return infer, infer
    return adamw_step(model.train(), frames, batch, IMAGE_SIZE, NUM_CLASSES, device)


def seconds_per_call(fn: Callable[[], Any], device: torch.device, repeats: int) -> list[float]:
    """``repeats`` timings of ``fn`` (seconds per call), each averaging enough calls to last
    ``MIN_REPEAT_SECONDS``, after one warm-up call (:func:`rvit.measure.autorange`)."""
    return autorange(fn, repeats, min_seconds=MIN_REPEAT_SECONDS, device=device).seconds


def measure(
    task: str, frames: int, batch: int, device: torch.device, repeats: int
) -> dict[str, Any]:
    call, counted = make_workload(task, frames, batch, device)
    flops = count_flops(counted)
    seconds = seconds_per_call(call, device, repeats)
    per_call = median(seconds)
    return {
        "task": task,
        "frames": frames,
        "batch": batch,
        "flops_per_call": flops,
        "seconds": seconds,
        "seconds_median": per_call,
        "frames_per_second": batch * frames / per_call,
        "flops_per_second": flops / per_call,
    }


def _matmul_flops(name: str, shapes: list[list[int]]) -> tuple[int, tuple[int, ...]] | None:
    """FLOPs of one matrix-product op and its ``(batch, M, K, N)`` from the profiler's input shapes."""
    try:
        if name == "aten::addmm":
            (m, k), (_, n) = shapes[1], shapes[2]
            b = 1
        elif name == "aten::mm":
            (m, k), (_, n) = shapes[0], shapes[1]
            b = 1
        elif name == "aten::bmm":
            (b, m, k), (_, _, n) = shapes[0], shapes[1]
        else:  # aten::baddbmm
            (b, m, k), (_, _, n) = shapes[1], shapes[2]
    except (IndexError, ValueError, TypeError):
        return None
    return 2 * b * m * k * n, (b, m, k, n)


def _alone_seconds(shape: tuple[int, ...], device: torch.device) -> float:
    """Median seconds of one product of ``shape`` ``(batch, M, K, N)`` run on its own."""
    b, m, k, n = shape
    x = torch.randn(b, m, k, device=device)
    y = torch.randn(b, k, n, device=device)
    fn = (lambda: torch.mm(x[0], y[0])) if b == 1 else (lambda: torch.bmm(x, y))
    return median(seconds_per_call(fn, device, 5))


def diagnose(
    task: str, frames: int, batch: int, device: torch.device, peak: float
) -> dict[str, Any]:
    """Where a training step's time goes: matrix products against everything else.

    ``utilisation ~= matmul_time_share x matmul_flops_per_second / peak``: the first factor is the
    cost of the element-wise work and framework overhead, the second the efficiency of the products
    themselves; ``alone_flops_per_second`` is what the same product shapes reach with nothing else
    running (the ceiling their sizes allow).
    """
    from torch.profiler import ProfilerActivity, profile

    call, _ = make_workload(task, frames, batch, device)
    call()
    steps = 3
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with Stopwatch(device) as clock, profile(activities=activities, record_shapes=True) as prof:
        for _ in range(steps):
            call()
    wall = clock.seconds / steps
    use_cuda = device.type == "cuda"
    events = prof.key_averages(group_by_input_shape=True)

    def self_time(e: Any) -> float:  # seconds per step
        total = e.self_device_time_total if use_cuda else e.self_cpu_time_total
        return total / 1e6 / steps

    matmul_seconds, matmul_flops, alone_seconds, shapes = 0.0, 0, 0.0, []
    for e in events:
        if e.key not in MATMUL_OPS:
            continue
        found = _matmul_flops(e.key, e.input_shapes)
        if found is None:
            continue
        flops, shape = found
        calls = e.count // steps
        matmul_seconds += self_time(e)
        matmul_flops += flops * calls
        alone = _alone_seconds(shape, device)
        alone_seconds += alone * calls
        shapes.append({"op": e.key, "shape_bmkn": list(shape), "calls_per_step": calls})
    by_name = prof.key_averages()  # the same operators, not split by input shape
    top = sorted(by_name, key=self_time, reverse=True)[:10]
    # Time outside every recorded operator: the Python code between them (and profiler overhead).
    traced = sum(e.self_cpu_time_total for e in by_name) / 1e6 / steps
    return {
        "task": task,
        "frames": frames,
        "batch": batch,
        "profiled_seconds_per_step": wall,
        "matmul_seconds_per_step": matmul_seconds,
        "matmul_time_share": matmul_seconds / wall,
        "matmul_flops_per_step": matmul_flops,
        "matmul_flops_per_second": matmul_flops / matmul_seconds if matmul_seconds else None,
        "matmul_efficiency": matmul_flops / matmul_seconds / peak if matmul_seconds else None,
        "alone_flops_per_second": matmul_flops / alone_seconds if alone_seconds else None,
        "alone_efficiency": matmul_flops / alone_seconds / peak if alone_seconds else None,
        "untraced_share": max(0.0, 1.0 - traced / wall) if device.type == "cpu" else None,
        "matmul_shapes": shapes,
        "top_ops": [
            {"op": e.key, "calls_per_step": e.count // steps, "seconds_per_step": self_time(e)}
            for e in top
        ],
    }


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__.split("\n\n")[0], threads=1)
    args = parser.parse_args(argv)
    device = check_args(args)
    setup_worker(args.threads)
    started = time.perf_counter()

    # The peak is measured before every workload and before the diagnosis; their median is the
    # denominator, their highest value gives a lower bound of the utilisation.
    peaks = []
    rows = []
    for task, frames, batches in WORKLOADS:
        for batch in batches:
            peaks.append(matmul_peak_flops(device, n=2048, repeats=args.repeats))
            row = measure(task, frames, batch, device, args.repeats)
            row["peak_before_flops"] = peaks[-1]["flops"]
            rows.append(row)
            print(
                f"{task:9s} T={frames} B={batch:3d}  {row['flops_per_second'] / 1e9:7.2f} GFLOP/s  "
                f"(matmul peak just before: {peaks[-1]['flops'] / 1e9:.1f} GFLOP/s)",
                flush=True,
            )
    peaks.append(matmul_peak_flops(device, n=2048, repeats=args.repeats))  # for the diagnosis
    peak_values = [p["flops"] for p in peaks]
    peak = {
        "flops": median(peak_values),
        "highest_flops": max(peak_values),
        "n": 2048,
        "dtype": "torch.float32",
        "all_flops": peak_values,
    }
    print(
        f"\nmatmul peak (2048 x 2048 float32 mm, median of {args.repeats}) on "
        f"{torch.get_num_threads()} threads: median {peak['flops'] / 1e9:.1f} GFLOP/s of "
        f"{len(peaks)} measurements, {min(peak_values) / 1e9:.1f} to {max(peak_values) / 1e9:.1f}"
    )
    for row in rows:
        row["utilisation"] = row["flops_per_second"] / peak["flops"]
        row["utilisation_lower_bound"] = row["flops_per_second"] / peak["highest_flops"]
    best = {}
    for task in ("training", "inference"):
        best[task] = max((r for r in rows if r["task"] == task), key=lambda r: r["utilisation"])
    b = best["training"]
    diagnosis = diagnose("training", b["frames"], b["batch"], device, peak["flops"])

    print()
    table = [
        {
            "task": r["task"],
            "T": r["frames"],
            "batch": r["batch"],
            "GFLOP/call": r["flops_per_call"] / 1e9,
            "ms/call": r["seconds_median"] * 1e3,
            "frames/s": r["frames_per_second"],
            "GFLOP/s": r["flops_per_second"] / 1e9,
            "peak before": r["peak_before_flops"] / 1e9,
            "% of peak": 100 * r["utilisation"],
            "% of highest": 100 * r["utilisation_lower_bound"],
        }
        for r in rows
    ]
    columns = ["task", "T", "batch", "GFLOP/call", "ms/call", "frames/s", "GFLOP/s"]
    print_table(table, [*columns, "peak before", "% of peak", "% of highest"])
    print()
    for task, r in best.items():
        print(
            f"best {task}: T={r['frames']}, batch {r['batch']}: {100 * r['utilisation']:.1f} % "
            f"of the median matmul peak ({100 * r['utilisation_lower_bound']:.1f} % of the highest)"
        )
    d = diagnosis
    print(
        f"\nwhy (training, T={d['frames']}, batch {d['batch']}, profiled): "
        f"{100 * d['matmul_time_share']:.0f} % of the step is in matrix products; they run at "
        f"{100 * d['matmul_efficiency']:.0f} % of peak inside the model and "
        f"{100 * d['alone_efficiency']:.0f} % of peak alone (their shapes' ceiling); "
        f"{100 * (d['untraced_share'] or 0):.0f} % of the step is outside any operator"
    )
    print("top operators by own time per step:")
    print_table(
        [
            {"op": o["op"], "calls": o["calls_per_step"], "ms/step": o["seconds_per_step"] * 1e3}
            for o in d["top_ops"]
        ],
        ["op", "calls", "ms/step"],
    )
    met = best["training"]["utilisation"] >= 0.40
    print(f"\ntarget training >= 40 % of the matmul peak: met: {met}")

    payload = {
        "benchmark": "hardware",
        **provenance(),
        "hardware": hardware(device),
        "versions": versions(),
        "settings": {
            "model": _config().to_dict(),
            "workloads": [
                {"task": t, "frames": f, "batch_sizes": list(bs)} for t, f, bs in WORKLOADS
            ],
            "repeats": args.repeats,
            "min_repeat_seconds": MIN_REPEAT_SECONDS,
            "threads": torch.get_num_threads(),
            "optimizer": "AdamW (training step = zero_grad, forward, backward, update)",
            "flops_counted": "forward + backward (training) or forward (inference), "
            "FlopCounterMode: matrix products, convolutions, attention kernels",
        },
        "matmul_peak": peak,
        "matmul_peak_runs": peaks,
        "points": rows,
        "best": {task: {"frames": r["frames"], "batch": r["batch"]} for task, r in best.items()},
        "utilisation": {task: r["utilisation"] for task, r in best.items()},
        "utilisation_lower_bound": {task: r["utilisation_lower_bound"] for task, r in best.items()},
        "diagnosis": diagnosis,
        "targets": {
            "training_utilisation": {
                "value": best["training"]["utilisation"],
                "target": ">= 0.40",
                "met": met,
            }
        },
        "wall_seconds": time.perf_counter() - started,
    }
    path = write_json("hardware", payload, args.out)
    print(f"\nwrote {path} ({payload['wall_seconds']:.0f} s; medians of {args.repeats} timings)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
