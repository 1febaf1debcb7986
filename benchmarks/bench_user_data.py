"""Evaluation memory on decoded video files, against the video's length.

Two H.264 files of 640x360 pixels are written (100 and 2,000 frames, by default), each in a class
folder of its own, and read back with ``VideoFolder(frames=None, image_size=32)``. For each length, in
a fresh process:

* **streamed**: ``evaluate_videos`` on the tiny RViT, which reads each video frame by frame from its
  file, resizing every frame to 32 px as it is decoded (the path the command line takes);
* **whole video** (the peer in the same run): the file decoded whole at its own resolution, then
  resized, as evaluation read videos before streaming (``read_video(path)`` + the evaluation
  transform), and the same model stepped through it.

Each records the process's peak resident-set growth (``rvit.measure.PeakMemory``). The target is the
ratio of the streamed growth at the longest length to the shortest, for the paper's model (one
position table shared by all frames): at most 1.2. The variant's interpolated position table is
resized to the video's length (``T x N x D`` floats) before the first frame, so its growth is
measured too and rises with ``T`` by the model's design, not by the reading.

Usage: python benchmarks/bench_user_data.py [--lengths 100 2000] [--threads N]
Writes results/bench/user_data.json.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _common import (
    base_parser,
    check_args,
    hardware,
    memory_note,
    print_table,
    run_isolated,
    setup_worker,
    versions,
    write_json,
)

WIDTH, HEIGHT, SIZE = 640, 360, 32
# (method, preset): the paper's model shares one position table across frames; the variant's
# interpolated table is resized to the video's length, so it grows with T by design (T x N x D).
POINTS = (("streamed", "paper"), ("streamed", "variant"), ("whole_video", "paper"))


def write_clip(path: Path, frames: int) -> Path:
    """A 640x360 H.264 video of ``frames`` frames: a gradient that moves a little every frame."""
    from rvit.data.video import write_video

    x = torch.linspace(0, 1, WIDTH).view(1, 1, WIDTH)
    y = torch.linspace(0, 1, HEIGHT).view(1, HEIGHT, 1)
    chunk = []
    path.parent.mkdir(parents=True, exist_ok=True)
    for t in range(frames):
        phase = t / 50
        channels = [(x + phase) % 1, (y + phase) % 1, (x * y + phase) % 1]
        frame = torch.cat([c.expand(1, HEIGHT, WIDTH) for c in channels])
        chunk.append((frame * 255).to(torch.uint8))
    return write_video(path, torch.stack(chunk), fps=25)


def tiny_model(preset: str) -> Any:
    from rvit.model import RViT, RViTConfig

    torch.manual_seed(0)
    return RViT(getattr(RViTConfig, preset)(num_classes=1, image_size=SIZE, size="tiny")).eval()


def measure(root: str, threads: int | None, method: str, preset: str) -> dict[str, Any]:
    """One point, in a fresh process: peak memory growth of evaluating the one video in ``root``."""
    setup_worker(threads)
    from rvit.data import VideoFolder, eval_transform
    from rvit.data.video import read_video
    from rvit.evaluate import evaluate_videos
    from rvit.measure import PeakMemory

    model = tiny_model(preset)
    videos = VideoFolder(root, frames=None, image_size=SIZE)
    start = time.perf_counter()
    with PeakMemory("cpu") as memory, torch.inference_mode():
        if method == "streamed":
            result = evaluate_videos(model, videos, batch_size=1, progress=False, device="cpu")
            frames = int(result.lengths[0])
        else:
            video = eval_transform(SIZE)(read_video(videos.samples[0][0]))  # (T, 3, S, S)
            state = model.init_state(1, num_frames=video.shape[0])
            for frame in video:
                _, state = model.step(frame[None], state)
            frames = int(video.shape[0])
    return {
        "method": method,
        "preset": preset,
        "pos_embed": model.cfg.pos_embed,
        "frames": frames,
        "growth_mib": memory.growth / 2**20,
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], threads=1)
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 2000])
    args = parser.parse_args()
    check_args(args)
    if len(args.lengths) < 2 or min(args.lengths) < 1:
        raise SystemExit(f"--lengths {args.lengths}: give at least two positive lengths")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        roots = {}
        for length in args.lengths:
            root = Path(tmp) / f"T{length}"
            start = time.perf_counter()
            write_clip(root / "action" / f"clip_{length}.mp4", length)
            print(
                f"wrote {length} frames of {WIDTH}x{HEIGHT} in {time.perf_counter() - start:.1f} s"
            )
            roots[length] = str(root)
        for method, preset in POINTS:
            for length in args.lengths:
                rows.append(run_isolated(measure, roots[length], args.threads, method, preset))
    print_table(rows, ["method", "preset", "pos_embed", "frames", "growth_mib", "seconds"])

    def growth(method: str, preset: str, length: int) -> float:
        return next(
            r["growth_mib"]
            for r in rows
            if (r["method"], r["preset"], r["frames"]) == (method, preset, length)
        )

    short, long = min(args.lengths), max(args.lengths)
    ratios = {
        f"{method}/{preset}": growth(method, preset, long)
        / max(growth(method, preset, short), 1e-9)
        for method, preset in POINTS
    }
    for name, ratio in ratios.items():
        print(f"{name}: peak growth at {long} frames over {short} frames = {ratio:.2f}")
    target = {"streamed_long_over_short": ratios["streamed/paper"], "at_most": 1.2}
    target["met"] = target["streamed_long_over_short"] <= target["at_most"]
    write_json(
        "user_data",
        {
            "video": {"width": WIDTH, "height": HEIGHT, "codec": "h264", "model_size": SIZE},
            "rows": rows,
            "ratios": ratios,
            "target": target,
            "threads": args.threads,
            "hardware": hardware("cpu"),
            "versions": versions(),
            **memory_note("cpu"),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
