"""Batch-1 streaming of the authors' released RViT at its own size, on one CPU thread.

``RViTConfig.official(num_classes=400)`` (``RViT_P8_L16_112``: 112 x 112 frames, 8 x 8 patches,
width 192, 2 layers, 8 heads, 4,076,176 parameters) reads one video frame by frame with ``step``,
as a camera or a decoder would feed it. The script measures, in one run:

* **time per frame**: ``step`` under ``torch.inference_mode`` on one thread, after warm-up; the
  median over repeats of a block of frames, divided by the block's length;
* **share of the matmul peak**: the FLOPs of one step (``torch.utils.flop_counter``) per second of
  it, over the float32 matrix-multiply peak of the same process and thread measured alongside
  (:func:`rvit.perf.matmul_peak_flops`);
* **peak memory against length**: for each length, a fresh process streams that many frames, each
  made when it is read (a decoder's frame, never the whole video), and records the process's
  resident-set high-water mark from its start (``VmHWM``: interpreter, torch, model and stream
  together). A model whose memory is bounded by the frame has the same peak at 8 and 1,024 frames.

Anchors (``shared/reference``): MoViNet-A0-Stream runs about 16 ms per frame on one x86 core. The
targets are at most 16 ms per frame, at least 40 % of the measured peak, and a peak at 1,024 frames
within 1.10x of the peak at 8.

Usage: python benchmarks/bench_streaming.py [--lengths 8 64 1024] [--repeats 7] [--block 16]
Writes results/bench/streaming.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from _common import (
    MIB,
    RESULTS_DIR,
    hardware,
    median,
    print_table,
    run_isolated,
    versions,
    write_json,
)

from rvit.measure import count_flops, time_call
from rvit.perf import matmul_peak_flops
from rvit.utils import provenance

NAME = "streaming"
LENGTHS = (8, 32, 128, 512, 1024)
TARGETS = {"ms_per_frame": 16.0, "share_of_peak": 0.40, "memory_ratio": 1.10}


def _model() -> torch.nn.Module:
    from rvit import RViT, RViTConfig

    torch.manual_seed(0)
    return RViT(RViTConfig.official(num_classes=400)).eval()


def _frame(index: int) -> torch.Tensor:
    """Frame ``index`` of the synthetic stream, made when it is read: ``(1, 3, 112, 112)``."""
    generator = torch.Generator().manual_seed(index)
    return torch.rand(1, 3, 112, 112, generator=generator)


def _vm_hwm() -> int:
    """This process's resident-set high-water mark since it started (``VmHWM``), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM: peak memory needs Linux")


def stream_peak(num_frames: int) -> dict[str, Any]:
    """In a fresh process: stream ``num_frames`` frames at batch 1; the process's peak resident set
    from its start, and before the first frame (the model loaded)."""
    torch.set_num_threads(1)
    model = _model()
    loaded = _vm_hwm()
    with torch.inference_mode():
        state = model.init_state(1)
        for t in range(num_frames):
            logits, state = model.step(_frame(t), state)
    assert logits.shape == (1, 400)
    return {
        "frames": num_frames,
        "peak_rss_bytes": _vm_hwm(),
        "loaded_rss_bytes": loaded,
    }


def time_and_flops(repeats: int, block: int) -> dict[str, Any]:
    """In a fresh process on one thread: ms per frame of ``step``, FLOPs per step, matmul peak."""
    torch.set_num_threads(1)
    model = _model()
    frames = [_frame(t) for t in range(block)]
    with torch.inference_mode():
        state = model.init_state(1)
        for frame in frames:  # warm-up: the stream is past its first frames
            _, state = model.step(frame, state)
        flops = count_flops(model.step, frames[0], state)
        warm = state

        def run_block() -> None:
            s = warm
            for frame in frames:
                _, s = model.step(frame, s)

        seconds = time_call(run_block, repeats=repeats, warmup=1)
    peak = matmul_peak_flops("cpu", n=1024, repeats=repeats)
    per_frame = [s / block for s in seconds]
    rate = flops / median(per_frame)
    return {
        "parameters": model.num_parameters(trainable_only=True),
        "flops_per_frame": flops,
        "seconds_per_frame": per_frame,
        "ms_per_frame_median": 1e3 * median(per_frame),
        "flops_per_second": rate,
        "matmul_peak_flops": peak["flops"],
        "matmul_peak_seconds": peak["seconds"],
        "matmul_n": peak["n"],
        "share_of_peak": rate / peak["flops"],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--block", type=int, default=16, help="frames per timed block")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for streaming.json")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.lengths) or args.repeats < 1 or args.block < 1:
        parser.error("--lengths, --repeats and --block take integers >= 1")
    lengths = sorted(set(args.lengths))

    speed = run_isolated(time_and_flops, args.repeats, args.block)
    memory = [run_isolated(stream_peak, n) for n in lengths]
    first, last = memory[0], memory[-1]
    ratio = last["peak_rss_bytes"] / first["peak_rss_bytes"]
    summary = {
        "ms_per_frame": speed["ms_per_frame_median"],
        "share_of_peak": speed["share_of_peak"],
        "memory_ratio": ratio,
        "memory_ratio_lengths": [first["frames"], last["frames"]],
        "targets": TARGETS,
        "meets": {
            "ms_per_frame": speed["ms_per_frame_median"] <= TARGETS["ms_per_frame"],
            "share_of_peak": speed["share_of_peak"] >= TARGETS["share_of_peak"],
            "memory_ratio": ratio <= TARGETS["memory_ratio"],
        },
    }
    print_table(
        [
            {
                "frames": m["frames"],
                "peak RSS MiB": m["peak_rss_bytes"] / MIB,
                "model loaded MiB": m["loaded_rss_bytes"] / MIB,
            }
            for m in memory
        ],
        ["frames", "peak RSS MiB", "model loaded MiB"],
    )
    print(
        f"\nRViTConfig.official(num_classes=400), {speed['parameters']:,} parameters, batch 1, "
        f"one thread: {speed['ms_per_frame_median']:.2f} ms per frame, "
        f"{speed['flops_per_frame'] / 1e9:.3f} GFLOP per frame, "
        f"{speed['flops_per_second'] / 1e9:.1f} GFLOP/s = {speed['share_of_peak']:.0%} of the "
        f"matmul peak {speed['matmul_peak_flops'] / 1e9:.1f} GFLOP/s; peak memory at "
        f"{last['frames']} frames / {first['frames']} frames = {ratio:.3f}"
    )
    path = write_json(
        NAME,
        {
            "benchmark": NAME,
            **provenance(),
            "description": (
                "batch-1 streaming (step, inference_mode, one thread) of "
                "RViTConfig.official(num_classes=400) at 112 x 112; time per frame, FLOPs per "
                "frame over the matmul peak of the same run, and each length's peak resident "
                "set (VmHWM) from the start of a fresh process that streams frames made one at "
                "a time"
            ),
            "hardware": hardware("cpu"),
            "versions": versions(),
            "settings": {"lengths": lengths, "repeats": args.repeats, "block": args.block},
            "speed": speed,
            "memory": memory,
            "summary": summary,
        },
        args.out,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
