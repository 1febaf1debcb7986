"""Peak memory of the user's commands against the length of 720p videos: bounded by the frame.

A user evaluates a checkpoint on their own videos (``rvit evaluate``) and audits their training
images against test videos for leakage (``rvit.data.audit_leakage``, which ``rvit train
--eval-videos`` runs). Neither should need memory that grows with a video's length. This script
writes 1280 x 720 H.264 clips of each length (a moving pattern, encoded frame by frame), a checkpoint
of each preset at 128 x 128 (weights as initialised: memory does not depend on training), and a
few still images, then runs, each in a fresh process:

* ``python -m rvit evaluate`` of the ``paper`` and the ``variant`` checkpoint on the clips of one
  length; the figure is the JSON's ``peak_memory_mb``, the process's resident-set high-water mark
  since the command started;
* ``audit_leakage`` of the stills against the clips of one length, in a fresh Python process that
  reports its own high-water mark since it started.

The process's peak is also read by the parent (``os.wait4``), as a check. The ratio of the
longest length's peak to the shortest's is the figure of merit (target: at most 1.2).

Usage: python benchmarks/bench_memory.py [--lengths 300 3000] [--videos 2]
Writes results/bench/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import av
import numpy as np
from _common import MIB, RESULTS_DIR, hardware, print_table, versions, write_json

from rvit.utils import provenance

NAME = "memory"
WIDTH, HEIGHT = 1280, 720
CLASSES = ("a", "b")

AUDIT_SCRIPT = r"""
import json, sys
from rvit.data import VideoFolder
from rvit.data.images import ImageFolderActions
from rvit.data.leakage import audit_leakage
from rvit.measure import process_peak_bytes
images = ImageFolderActions(sys.argv[1])
videos = VideoFolder(sys.argv[2], frames=None)
report = audit_leakage(images, videos)
print("RESULT " + json.dumps({"peak": process_peak_bytes(), "found": len(report.table)}))
"""


def write_clip(path: Path, frames: int, phase: int) -> None:
    """A 720p H.264 clip of ``frames`` frames, encoded one frame at a time (bounded memory)."""
    y = np.arange(HEIGHT, dtype=np.int32)[:, None]
    x = np.arange(WIDTH, dtype=np.int32)[None, :]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        for t in range(frames):
            r = (x + 4 * t + phase) % 256
            g = (y + 2 * t) % 256
            b = ((x + y) // 8 + t) % 256
            image = np.stack(np.broadcast_arrays(r, g, b), axis=-1).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_checkpoint(path: Path, preset: str) -> None:
    import torch

    from rvit import RViT, RViTConfig
    from rvit.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = getattr(RViTConfig, preset)(len(CLASSES), image_size=128, patch_size=8)
    save_checkpoint(path, RViT(cfg), classes=list(CLASSES))


def run(command: list[str]) -> tuple[str, int]:
    """Run ``command``; its stdout and its peak resident set as the kernel counted it (bytes)."""
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read() if process.stderr else ""
        out.seek(0)
        stdout = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{stderr[-2000:]}")
    return stdout, usage.ru_maxrss * 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--videos", type=int, default=2, help="clips per length (one per class)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for memory.json")
    args = parser.parse_args(argv)
    if min(args.lengths) < 1 or args.videos < 1:
        parser.error("--lengths and --videos take integers >= 1")
    lengths = sorted(set(args.lengths))
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        stills = root / "stills"
        for name in CLASSES:
            (stills / name).mkdir(parents=True)
            for i in range(3):
                image = np.random.default_rng(i).integers(0, 256, (480, 640, 3), dtype=np.uint8)
                from PIL import Image

                Image.fromarray(image).save(stills / name / f"{i}.jpg", quality=90)
        checkpoints = {}
        for preset in ("paper", "variant"):
            checkpoints[preset] = root / f"{preset}.pt"
            make_checkpoint(checkpoints[preset], preset)
        for length in lengths:
            videos = root / f"videos{length}"
            for i in range(args.videos):
                name = CLASSES[i % len(CLASSES)]
                (videos / name).mkdir(parents=True, exist_ok=True)
                write_clip(videos / name / f"clip{i}.mp4", length, phase=37 * i)
            print(f"wrote {args.videos} clips of {length} frames", flush=True)
            for preset, checkpoint in checkpoints.items():
                metrics = root / f"{preset}{length}.json"
                _, kernel_peak = run(
                    [
                        sys.executable,
                        "-m",
                        "rvit",
                        "evaluate",
                        "--checkpoint",
                        str(checkpoint),
                        "--videos",
                        f"videofolder:{videos}",
                        "--json",
                        str(metrics),
                        "--device",
                        "cpu",
                        "--batch-size",
                        "1",
                    ]
                )
                record = json.loads(metrics.read_text())
                points.append(
                    {
                        "command": f"rvit evaluate ({preset}, 128 px)",
                        "frames": length,
                        "peak_memory_mb": record["peak_memory_mb"],
                        "kernel_peak_mb": kernel_peak / MIB,
                        "videos": record.get("num_videos", args.videos),
                    }
                )
            stdout, kernel_peak = run(
                [sys.executable, "-c", AUDIT_SCRIPT, str(stills), str(videos)]
            )
            out = json.loads(stdout.split("RESULT ", 1)[1])
            points.append(
                {
                    "command": "audit_leakage (6 stills)",
                    "frames": length,
                    "peak_memory_mb": out["peak"] / MIB,
                    "kernel_peak_mb": kernel_peak / MIB,
                    "videos": args.videos,
                }
            )
            for path in videos.rglob("*.mp4"):
                path.unlink()
    print_table(points, ["command", "frames", "peak_memory_mb", "kernel_peak_mb"])
    ratios = {}
    for command in dict.fromkeys(p["command"] for p in points):
        mine = [p for p in points if p["command"] == command]
        ratios[command] = mine[-1]["peak_memory_mb"] / mine[0]["peak_memory_mb"]
        print(f"{command}: peak at {lengths[-1]} frames / at {lengths[0]} = {ratios[command]:.3f}")
    path = write_json(
        NAME,
        {
            "benchmark": NAME,
            **provenance(),
            "description": (
                "peak resident memory since the start of the command, against the length of "
                "1280 x 720 H.264 clips: rvit evaluate of a paper and a variant checkpoint at "
                "128 px (batch 1) and the leakage audit of 6 stills, each in a fresh process"
            ),
            "hardware": hardware("cpu"),
            "versions": versions(),
            "settings": {"lengths": lengths, "videos": args.videos, "size": [WIDTH, HEIGHT]},
            "points": points,
            "ratio_longest_to_shortest": ratios,
            "target_ratio": 1.2,
        },
        args.out,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
