"""Generation speed of the synthetic action world, end to end, against two baselines in the same run.

For 32 and 64 pixel frames:

* ``first epoch``: build a :class:`rvit.data.SyntheticActions` and read every sample once, which
  renders the whole set (vectorised over chunks of ~1,024 frames) into its uint8 cache;
* ``cached epoch``: read every sample again (``__getitem__`` from the cache);
* ``first epoch, hard``: the same at ``difficulty=1, domain_gap=1`` (clutter, occluders, and video
  degradations with motion blur from 3 sub-frames per frame);
* baseline ``per-frame loop``: the same renderer called for one frame at a time (stills, no cache);
* baseline ``memory read``: the same frames read from an in-memory uint8 tensor and converted to
  float, the floor any ``__getitem__`` pays.

Throughput is frames per wall-clock second (median of the repeats; a repeat of a fast point calls it
several times to last >= 50 ms); frames per CPU-second (user + system time of this process) is kept
as well, since it is steadier on a shared machine. The targets
are 20,000 frames/s at 32 px and 5,000 frames/s at 64 px for the first epoch of the default clips
(8 frames, ``difficulty=0.5``, ``domain_gap=0``), so that training never waits on data.

Usage: python benchmarks/bench_data.py [--threads N] [--repeats 5] [--sizes 32 64]
Writes results/bench/data.json.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from _common import (
    base_parser,
    check_args,
    hardware,
    median,
    print_table,
    setup_worker,
    versions,
    write_json,
)

from rvit.data.synthetic import SyntheticActions
from rvit.utils import provenance

TARGETS = {32: 20_000, 64: 5_000}  # frames per second, first epoch of the default clips
FRAMES_PER_POINT = {32: 4096, 64: 1024}  # frames generated per timed repeat
LOOP_FRAMES = {32: 256, 64: 128}  # the per-frame loop is slow: time fewer frames
CLIP = 8


MIN_REPEAT_SECONDS = 0.05  # a timed repeat calls the point this often to last at least this long


def _timed(fn: Callable[[], int], calls: int = 1) -> tuple[float, float, int]:
    """Call ``fn`` (which returns the frames it produced) ``calls`` times: wall s, CPU s, frames."""
    cpu, wall = time.process_time(), time.perf_counter()
    frames = sum(fn() for _ in range(calls))
    return time.perf_counter() - wall, time.process_time() - cpu, frames


def _read_all(dataset: SyntheticActions) -> int:
    for i in range(len(dataset)):
        dataset[i]
    return sum(dataset.lengths)


def _points(size: int) -> dict[str, tuple[str, Callable[[], Callable[[], int]]]]:
    """name -> (description, setup) where setup() returns the timed callable."""
    clips = FRAMES_PER_POINT[size] // CLIP
    stills = FRAMES_PER_POINT[size]
    common = {"image_size": size, "frames": CLIP}

    def first_epoch(modality: str, count: int, **kwargs: Any) -> Callable[[], int]:
        return lambda: _read_all(
            SyntheticActions("train", modality, num_samples=count, **common, **kwargs)
        )

    def cached_epoch() -> Callable[[], int]:
        dataset = SyntheticActions("train", "video", num_samples=clips, **common).precompute()
        return lambda: _read_all(dataset)

    def per_frame_loop() -> Callable[[], int]:
        count = LOOP_FRAMES[size]
        return lambda: _read_all(
            SyntheticActions("train", "image", num_samples=count, cache=False, **common)
        )

    def memory_read() -> Callable[[], int]:
        dataset = SyntheticActions("train", "video", num_samples=clips, **common)
        # the very frames, as one uint8 tensor (clips * T, 3, H, W)
        store = torch.cat([dataset[i][0].mul(255).round().to(torch.uint8) for i in range(clips)])

        def read() -> int:
            for i in range(clips):
                store[i * CLIP : (i + 1) * CLIP].float().div_(255)
            return clips * CLIP

        return read

    return {
        "first epoch, clips": (
            f"{clips} clips x {CLIP} frames, difficulty 0.5, domain gap 0",
            lambda: first_epoch("video", clips),
        ),
        "first epoch, stills": (
            f"{stills} stills, difficulty 0.5",
            lambda: first_epoch("image", stills),
        ),
        "first epoch, hard clips": (
            f"{clips} clips x {CLIP} frames, difficulty 1, domain gap 1",
            lambda: first_epoch("video", clips, difficulty=1.0, domain_gap=1.0),
        ),
        "cached epoch, clips": ("__getitem__ from the uint8 cache", cached_epoch),
        "baseline: per-frame loop": ("the same renderer, one still per call", per_frame_loop),
        "baseline: memory read": ("uint8 tensor -> float, per clip", memory_read),
    }


def measure(size: int, repeats: int) -> list[dict[str, Any]]:
    results = []
    for name, (what, setup) in _points(size).items():
        warm, _, _ = _timed(setup())  # warm-up: imports, caches, first allocations
        calls = max(1, math.ceil(MIN_REPEAT_SECONDS / max(warm, 1e-6)))
        walls, cpus, frames = [], [], 0
        for _ in range(repeats):
            wall, cpu, frames = _timed(setup(), calls)
            walls.append(wall)
            cpus.append(cpu)
        results.append(
            {
                "image_size": size,
                "point": name,
                "what": what,
                "frames": frames,
                "wall_seconds": walls,
                "cpu_seconds": cpus,
                "wall_seconds_median": median(walls),
                "frames_per_second": frames / median(walls),
                "frames_per_cpu_second": frames / median(cpus),
            }
        )
        print(
            f"{size:3d} px  {name:26s} {results[-1]['frames_per_second']:10.0f} frames/s",
            flush=True,
        )
    return results


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[32, 64], help="frame sizes in pixels"
    )
    args = parser.parse_args(argv)
    device = check_args(args)
    if device.type != "cpu":
        raise SystemExit(f"--device {args.device!r}: the synthetic world renders on the CPU only")
    if any(size < 16 for size in args.sizes):
        raise SystemExit(f"--sizes {args.sizes}: expected sizes >= 16 pixels")
    setup_worker(args.threads)
    started = time.perf_counter()
    load_before = list(os.getloadavg())
    points = []
    for size in args.sizes:
        points += measure(size, args.repeats)

    summary = {}
    for size in args.sizes:
        by_name = {p["point"]: p for p in points if p["image_size"] == size}
        first = by_name["first epoch, clips"]
        loop = by_name["baseline: per-frame loop"]
        target = TARGETS.get(size)
        summary[str(size)] = {
            "first_epoch_frames_per_second": first["frames_per_second"],
            "target_frames_per_second": target,
            "meets_target": None if target is None else first["frames_per_second"] >= target,
            "speedup_over_per_frame_loop": first["frames_per_second"] / loop["frames_per_second"],
        }
    rows = []
    for p in points:
        loop = next(
            q
            for q in points
            if q["image_size"] == p["image_size"] and q["point"] == "baseline: per-frame loop"
        )
        rows.append(
            {
                "px": p["image_size"],
                "point": p["point"],
                "frames": p["frames"],
                "frames/s": p["frames_per_second"],
                "frames/cpu-s": p["frames_per_cpu_second"],
                "x loop": p["frames_per_second"] / loop["frames_per_second"],
            }
        )
    print()
    print_table(rows, ["px", "point", "frames", "frames/s", "frames/cpu-s", "x loop"])
    print()
    for size, s in summary.items():
        verdict = "-" if s["meets_target"] is None else ("meets" if s["meets_target"] else "MISSES")
        print(
            f"{size} px: first epoch {s['first_epoch_frames_per_second']:,.0f} frames/s, "
            f"target {s['target_frames_per_second'] or '-'}: {verdict}"
        )
    load_after = list(os.getloadavg())
    if max(load_before[0], load_after[0]) > (os.cpu_count() or 1) + 0.5:
        print(
            f"note: the machine was busy (load average {load_before[0]:.1f} -> {load_after[0]:.1f} on "
            f"{os.cpu_count()} cores); wall-clock rates understate an idle machine, see frames/cpu-s"
        )
    payload = {
        "benchmark": "data",
        **provenance(),
        "hardware": hardware(device),
        "versions": versions(),
        "settings": {
            "sizes": args.sizes,
            "clip_frames": CLIP,
            "frames_per_point": {str(k): v for k, v in FRAMES_PER_POINT.items()},
            "per_frame_loop_frames": {str(k): v for k, v in LOOP_FRAMES.items()},
            "repeats": args.repeats,
            "threads": torch.get_num_threads(),
            "targets_frames_per_second": {str(k): v for k, v in TARGETS.items()},
        },
        "load_average_1min_before_after": [load_before[0], load_after[0]],
        "points": points,
        "summary": summary,
        "wall_seconds": time.perf_counter() - started,
    }
    path = write_json("data", payload, args.out)
    print(f"\nwrote {path} ({payload['wall_seconds']:.0f} s; medians of {args.repeats} timings)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
