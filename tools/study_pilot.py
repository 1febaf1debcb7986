"""Pilot runs of the study: the world and the budget at which its claims can be tested.

``python tools/study_pilot.py [--jobs 2] [--out results/pilot.json]``

The study's book profile was chosen by these runs, made before the study's own and disclosed in
chapter 8. Each pilot trains one configuration of the study (written with
:func:`rvit.study.design.run_config`, the experiments' own block) for seed 0 at one difficulty of
the synthetic world and one training budget, and evaluates it on the study's test videos; the pixel
nearest-neighbour baseline (:mod:`rvit.study.pixel_nn`) is scored on the same stills and videos at
each difficulty. The question is whether a world with nuisances (difficulty > 0) leaves the models
able to learn their training data (the learning gate) at a CPU budget, and where the baseline that
needs no learning stands.

The result is one JSON file, written atomically, with the commit of the code that made it; like the
study, the pilot refuses a git tree with uncommitted changes unless ``--allow-dirty``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

GRID: tuple[tuple[float, str, int, int], ...] = (
    # (difficulty, configuration, epochs, training samples)
    (0.5, "image", 8, 800),
    (0.5, "video", 8, 800),
    (0.5, "image", 24, 800),
    (0.5, "image", 2, 6400),
    (0.25, "image", 8, 800),
    (0.25, "framevit", 8, 800),
    (0.25, "video", 8, 800),
    (0.25, "image", 16, 800),
)
"""The pilot runs: the study's difficulty of 0.5 first, at the book budget and at larger ones."""

GRID_V3: tuple[tuple[float, str, int, int, int, float], ...] = (
    # (difficulty, configuration, epochs, training samples, batch size, learning rate)
    (0.25, "image", 8, 6400, 64, 3e-3),
    (0.25, "image", 8, 6400, 64, 6e-3),
    (0.25, "image", 16, 6400, 64, 6e-3),
    (0.25, "framevit", 8, 6400, 64, 6e-3),
    (0.25, "video", 8, 1600, 64, 6e-3),
    (0.25, "video", 8, 6400, 64, 6e-3),
    (0.25, "image", 8, 6400, 64, 1.2e-2),
    (0.25, "video", 16, 1600, 64, 6e-3),
)
"""The pilots of the study's third version: budgets at batch 64 (the study-speed benchmark's
better-paying batch) with the learning rate scaled from the book profile's 3e-3 at batch 16, read on
held-out data of the training modality in eval mode (``fit_val``), the version-3 learning gate."""

CONFIGS: dict[str, dict[str, Any]] = {
    "image": {"modality": "image"},
    "video": {"modality": "video"},
    "framevit": {"arch": "framevit", "modality": "image"},
}


def _profile(difficulty: float, epochs: int, samples: int) -> Any:
    """The book profile's model, frames and optimiser at another difficulty and budget."""
    from rvit.study.profiles import get_profile

    return dataclasses.replace(
        get_profile("book"),
        name="pilot",
        difficulty=difficulty,
        epochs=epochs,
        train_samples=samples,
        matched_samples=None,
    )


def pilot_run(
    difficulty: float,
    name: str,
    epochs: int,
    samples: int,
    batch_size: int | None = None,
    lr: float | None = None,
) -> dict[str, Any]:
    """One pilot: train and evaluate ``name`` at ``difficulty`` with ``epochs`` x ``samples`` (at
    the book profile's batch size and learning rate unless given; then also on held-out data)."""
    import torch

    from rvit.study.design import run_config
    from rvit.study.runner import execute

    torch.set_num_threads(1)
    profile = _profile(difficulty, epochs, samples)
    evals: tuple[str, ...] = ("test",)
    if batch_size is not None:
        profile = dataclasses.replace(profile, batch_size=batch_size, lr=lr or profile.lr)
        evals = ("test", "fit")
    config = run_config(profile, evals=evals, **CONFIGS[name])
    start = time.perf_counter()
    metrics = execute(config, 0)["metrics"]
    extra: dict[str, Any] = {}
    if batch_size is not None:
        extra = {
            "batch_size": profile.batch_size,
            "lr": profile.lr,
            "heldout_top1": metrics["fit_val"]["top1"],
            "heldout_eval_train_top1": metrics["fit_train"]["top1"],
            "test_motion_direction": metrics["test"].get("motion_direction"),
        }
    return {
        "difficulty": difficulty,
        "config": name,
        "epochs": epochs,
        "train_samples": samples,
        "samples_seen": epochs * samples,
        "train_top1": metrics["train"]["top1"],
        "test_top1": metrics["test"]["top1"],
        "test_appearance": metrics["test"]["appearance"],
        "test_motion": metrics["test"]["motion"],
        "seconds": time.perf_counter() - start,
        **extra,
    }


def pixel_run(difficulty: float, samples: int) -> dict[str, Any]:
    """The pixel nearest-neighbour baseline on the image configuration's stills at ``difficulty``."""
    from rvit.study.design import run_config
    from rvit.study.pixel_nn import pixel_nn_metrics

    profile = _profile(difficulty, 1, samples)
    config = run_config(profile, modality="image")
    nn = pixel_nn_metrics(config.data, config.train, config.evals["test"], 0)
    return {"difficulty": difficulty, "train_samples": samples, "test_top1": nn["top1"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="pilot runs in parallel (default 2)")
    parser.add_argument("--out", default=str(ROOT / "results" / "pilot.json"))
    parser.add_argument("--allow-dirty", action="store_true", help="run from uncommitted code")
    parser.add_argument(
        "--grid",
        choices=("v2", "v3"),
        default="v2",
        help="v2: the book profile's pilots (results/pilot.json); v3: the third version's "
        "(results/pilot-v3.json)",
    )
    args = parser.parse_args(argv)
    grid: tuple[tuple[Any, ...], ...] = GRID if args.grid == "v2" else GRID_V3
    if args.grid == "v3" and args.out == parser.get_default("out"):
        args.out = str(ROOT / "results" / "pilot-v3.json")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    sys.path.insert(0, str(ROOT))
    from rvit.study.runner import check_clean_tree, worker_info
    from rvit.utils import atomic_write_json, provenance

    out = Path(args.out)
    check_clean_tree(out.parent, args.allow_dirty)
    worker = worker_info()
    start = time.perf_counter()
    import multiprocessing as mp

    with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as pool:
        runs = list(pool.map(pilot_run, *zip(*grid, strict=True)))
        cells = sorted({(g[0], g[3]) for g in grid})
        pixel = list(pool.map(pixel_run, *zip(*cells, strict=True)))
    for row in runs:
        print(
            f"difficulty {row['difficulty']:g}, {row['config']}, {row['epochs']} x "
            f"{row['train_samples']}: train {row['train_top1']:.1%}, test {row['test_top1']:.1%}"
            + (f", held-out {row['heldout_top1']:.1%}" if "heldout_top1" in row else "")
        )
    record = {
        "runs": runs,
        "pixel_nn": pixel,
        "wall_s": time.perf_counter() - start,
        "provenance": provenance(
            {"grid": [list(g) for g in grid], "name": args.grid},
            git={"commit": worker["commit"], "dirty": worker["dirty"]},
            torch_threads=1,
        ),
    }
    atomic_write_json(out, record)
    print(f"{len(runs)} pilot runs and {len(pixel)} pixel baselines in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
