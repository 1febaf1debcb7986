"""Speed of the leakage audit: 5,000 training images against 500 test videos of 50 frames.

Data is generated in memory (no files): each test video is a camera panning across its own smooth
random texture (64 x 64 frames); the training images are other textures, plus planted leaks (frames
of test videos, some mirrored or cropped) whose recall is checked.

Measured in one run:

* ``audit``: :func:`rvit.data.audit_leakage` end to end (fingerprints of every image and frame, hash
  comparison, verification), the target being under 60 s on 2 cores; its CPU time (user +
  system) is kept too, being steadier than wall time on a shared machine;
* ``data only``: reading every item of both sets (generated once, before timing), the part of
  ``audit`` that is the data's cost;
* ``compare (matmul)``: the hash comparison stage alone (every image and its mirror against every
  frame window) as the audit does it, one matrix product per chunk;
* baseline ``compare (python loop)``: the same comparison pair by pair with ``int.bit_count`` on a
  subset of images, extrapolated to the full set; its candidate pairs must equal the matmul's.

Usage: python benchmarks/bench_leakage.py [--threads N] [--repeats 5] [--audit-repeats 3]
Writes results/bench/leakage.json.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as nnf
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

from rvit.data import leakage
from rvit.data.leakage import HASH_BITS, audit_leakage
from rvit.measure import Stopwatch, time_call

NUM_IMAGES, NUM_VIDEOS, FRAMES, SIZE = 5_000, 500, 50, 64
NUM_LEAKS = 50
SUBSET = 20  # images in the brute-force baseline
MAX_DISTANCE = 12


def _texture(seed: int, height: int, width: int, cells: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, cells, cells, generator=g)
    big = nnf.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)[0]
    return big.clamp_(0, 1)


def _video(seed: int) -> torch.Tensor:
    """(T, 3, 64, 64) float: a pan across a texture, one pixel down and two right per frame."""
    big = _texture(seed, SIZE + FRAMES, SIZE + 2 * FRAMES, cells=10)
    return torch.stack([big[:, t : t + SIZE, 2 * t : 2 * t + SIZE] for t in range(FRAMES)])


class TestVideos(torch.utils.data.Dataset):
    """Test videos, generated once and held in memory."""

    def __init__(self) -> None:
        self.videos = [_video(j) for j in range(NUM_VIDEOS)]

    def __len__(self) -> int:
        return NUM_VIDEOS

    def __getitem__(self, j: int) -> tuple[torch.Tensor, int]:
        return self.videos[j], 0


class TrainImages(torch.utils.data.Dataset):
    """Clean textures; every 100th image is a leaked frame of test video ``i // 100``
    (every 200th one mirrored and cropped to 91 %)."""

    def __init__(self, videos: TestVideos) -> None:
        self.images = []
        for i in range(NUM_IMAGES):
            if i % (NUM_IMAGES // NUM_LEAKS) == 0:
                frame = videos[i // 100][0][(7 * i) % FRAMES]
                if i % 200 == 0:
                    frame = frame.flip(-1)[:, 3:61, 2:60]
                self.images.append(frame)
            else:
                self.images.append(_texture(100_000 + i, SIZE, SIZE, cells=6))

    def __len__(self) -> int:
        return NUM_IMAGES

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], 0


def _compare_matmul(image_hashes: torch.Tensor, frame_hashes: torch.Tensor) -> set[tuple[int, int]]:
    """Candidate (image, frame) pairs by the audit's matrix product (see audit_leakage)."""
    windows = frame_hashes.shape[1]
    signs = leakage._signs(frame_hashes.reshape(-1)).T.contiguous()
    least = HASH_BITS - 2 * MAX_DISTANCE
    found = set()
    for lo in range(0, len(image_hashes), 256):
        block = image_hashes[lo : lo + 256]
        dots = leakage._signs(block[:, 0]) @ signs
        torch.maximum(dots, leakage._signs(block[:, 1]) @ signs, out=dots)
        best = dots.view(len(block), -1, windows).amax(dim=2)
        rows, cols = torch.nonzero(best >= least, as_tuple=True)
        found |= {(int(r) + lo, int(c)) for r, c in zip(rows, cols, strict=True)}
    return found


def _compare_loop(image_hashes: torch.Tensor, frame_hashes: torch.Tensor) -> set[tuple[int, int]]:
    """The same candidates, pair by pair in Python."""
    mask = (1 << 64) - 1
    images = [[h & mask for h in row] for row in image_hashes.tolist()]
    frames = [[h & mask for h in row] for row in frame_hashes.tolist()]
    found = set()
    for i, (h, m) in enumerate(images):
        for f, row in enumerate(frames):
            if min(min((h ^ w).bit_count(), (m ^ w).bit_count()) for w in row) <= MAX_DISTANCE:
                found.add((i, f))
    return found


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--audit-repeats", type=int, default=3, help="end-to-end audits timed (default 3)"
    )
    args = parser.parse_args()
    check_args(args)
    setup_worker(args.threads)
    videos = TestVideos()
    images = TrainImages(videos)

    def load_all() -> None:
        for i in range(len(images)):
            images[i]
        for j in range(len(videos)):
            videos[j]

    data_times = time_call(load_all, repeats=args.audit_repeats, warmup=0)

    audit_times, audit_cpu, report = [], [], None
    for _ in range(args.audit_repeats):
        cpu = os.times()
        with Stopwatch() as clock:
            report = audit_leakage(images, videos, max_distance=MAX_DISTANCE)
        audit_times.append(clock.seconds)
        after = os.times()
        audit_cpu.append((after.user - cpu.user) + (after.system - cpu.system))
    assert report is not None
    planted = set(range(0, NUM_IMAGES, NUM_IMAGES // NUM_LEAKS))
    flagged = set(report.flagged)
    print(report.summary)

    # Hashes once, then the comparison stage alone, both ways.
    image_hashes = torch.stack(
        [leakage._image_prints(images[i][0][None])[0].hashes for i in range(len(images))]
    )
    frame_hashes = torch.cat(
        [leakage._video_prints(videos[j][0]).hashes for j in range(len(videos))]
    )
    found: dict[str, Any] = {}
    subset = image_hashes[:SUBSET]

    def by_matmul() -> None:
        found["fast"] = _compare_matmul(image_hashes, frame_hashes)

    def by_loop() -> None:
        found["slow"] = _compare_loop(subset, frame_hashes)

    matmul_times = time_call(by_matmul, repeats=args.repeats, warmup=0)
    loop_times = time_call(by_loop, repeats=args.repeats, warmup=0)
    fast, slow = found["fast"], found["slow"]
    same = slow == {(i, f) for i, f in fast if i < SUBSET}
    loop_full = median(loop_times) * NUM_IMAGES / SUBSET

    rows: list[dict[str, Any]] = [
        {
            "stage": "audit (end to end)",
            "median_s": median(audit_times),
            "cpu_s": median(audit_cpu),
            "repeats": len(audit_times),
        },
        {"stage": "data only", "median_s": median(data_times), "repeats": len(data_times)},
        {
            "stage": "compare (matmul)",
            "median_s": median(matmul_times),
            "repeats": len(matmul_times),
        },
        {
            "stage": f"compare (python loop, {SUBSET} images -> x{NUM_IMAGES // SUBSET})",
            "median_s": loop_full,
            "repeats": len(loop_times),
        },
    ]
    print(
        f"{NUM_IMAGES} images x {NUM_VIDEOS} videos x {FRAMES} frames "
        f"({frame_hashes.shape[1]} hashed windows per frame)"
    )
    print_table(rows, ["stage", "median_s", "cpu_s", "repeats"])
    print(
        f"planted leaks found: {len(planted & flagged)}/{len(planted)}, "
        f"clean images flagged: {len(flagged - planted)}; "
        f"matmul speed-up over the loop: {loop_full / median(matmul_times):.0f}x; "
        f"same candidates on the subset: {same}"
    )
    write_json(
        "leakage",
        {
            "benchmark": "leakage audit",
            "hardware": hardware(),
            "versions": versions(),
            "setup": {
                "images": NUM_IMAGES,
                "videos": NUM_VIDEOS,
                "frames_per_video": FRAMES,
                "frame_size": SIZE,
                "planted_leaks": NUM_LEAKS,
                "max_distance": MAX_DISTANCE,
                "min_correlation": report.min_correlation,
                "baseline_subset_images": SUBSET,
                "threads": args.threads,
            },
            "seconds": {
                "audit": {"repeats": audit_times, "median": median(audit_times)},
                "audit_cpu": {"repeats": audit_cpu, "median": median(audit_cpu)},
                "data_only": {"repeats": data_times, "median": median(data_times)},
                "compare_matmul": {"repeats": matmul_times, "median": median(matmul_times)},
                "compare_loop_subset": {"repeats": loop_times, "median": median(loop_times)},
                "compare_loop_extrapolated": loop_full,
            },
            "target_seconds": 60,
            "meets_target": median(audit_times) < 60,
            "recall": len(planted & flagged) / len(planted),
            "clean_images_flagged": len(flagged - planted),
            "baseline_agrees": same,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
