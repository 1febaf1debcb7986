"""Training throughput of a study run: samples per CPU-second, today's code against a baseline.

One book-profile configuration of the study (the version-2 paper arm, ``RViTConfig.reconstruction``
at width 48, 2 layers, 3 heads, 32 x 32 frames, 8 x 8 patches; 800 distinct training samples,
batch 16, difficulty 0.25), trained on still images and on 8-frame videos, on one thread. Each
measurement is a fresh process that renders the data, builds the models, and then times
``rvit.train.fit`` (one seed) or ``rvit.multiseed.fit_seeds`` (several seeds as one computation)
in CPU seconds (``time.process_time``); the figure is training samples seen per CPU-second, over
all seeds of the process. The baseline is the package at another commit (``--baseline``, default
the commit before per-sample seeding stopped calling ``torch.manual_seed``), extracted with
``git archive`` and imported through ``PYTHONPATH``. Rounds alternate baseline, one seed today, and
a group today, so that all three see the same machine load. The matmul peak of the same machine and
thread is measured alongside, and one group run is profiled (cProfile) to say where its time goes.

Targets (issue "study speed"): at least 5x the baseline's samples per CPU-second with several seeds
together, at least 1.5x with one seed alone.

Usage: python benchmarks/bench_study.py [--rounds 3] [--seeds 10] [--epochs 2] [--baseline REF]
Writes results/bench/study.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import RESULTS_DIR, ROOT, extract_baseline, hardware, versions, write_json

from rvit.perf import matmul_peak_flops
from rvit.utils import provenance

NAME = "study"
BASELINE = "d754f99"  # the last commit whose per-sample seeding called torch.manual_seed
MODALITIES = ("image", "video")

RUN_SCRIPT = r"""
import cProfile, io, json, pstats, sys, time
import torch
torch.set_num_threads(1)
import rvit
from rvit import RViT, RViTConfig
from rvit.data import SyntheticActions
from rvit.train import TrainConfig, fit
s = json.loads(sys.argv[1])
data = SyntheticActions("train", s["modality"], num_samples=s["samples"], frames=8,
                        image_size=32, difficulty=0.25)
data.precompute()
cfg = RViTConfig.reconstruction(len(data.classes), image_size=32, patch_size=8, dim=48, depth=2,
                                heads=3, num_frames=8)
config = TrainConfig(modality=s["modality"], epochs=s["epochs"], batch_size=16, lr=3e-3,
                     progress=False, variable_length=False)
def model(seed):
    torch.manual_seed(seed)
    return RViT(cfg)
models = [model(seed) for seed in s["seeds"]]
configs = [config.replace(seed=seed) for seed in s["seeds"]]
profile = cProfile.Profile() if s["profile"] else None
start = time.process_time()
if profile:
    profile.enable()
if s["group"]:
    from rvit.multiseed import fit_seeds
    histories = fit_seeds(models, data, configs)
else:
    histories = [fit(m, data, None, c) for m, c in zip(models, configs)]
if profile:
    profile.disable()
cpu = time.process_time() - start
top = []
if profile:
    stats = pstats.Stats(profile)
    total = sum(v[2] for v in stats.stats.values())
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:12]
    top = [{"function": f"{k[0].split('/')[-1]}:{k[1]}({k[2]})", "calls": v[1],
            "self_s": v[2], "share": v[2] / total} for k, v in rows]
samples = len(data) * s["epochs"] * len(s["seeds"])
print("RESULT " + json.dumps({"cpu_s": cpu, "samples": samples, "rvit": rvit.__file__,
                              "top": top}))
"""


def run(code: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """One measurement in a fresh process importing ``rvit`` from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, json.dumps(settings)],
        env=env,
        cwd=tempfile.gettempdir(),  # so that only PYTHONPATH decides which rvit is imported
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"a training run failed ({code}):\n{done.stderr[-2000:]}")
    out = json.loads(lines[-1].removeprefix("RESULT "))
    if not Path(out["rvit"]).resolve().is_relative_to(code.resolve()):
        raise RuntimeError(f"the run imported {out['rvit']}, not rvit from {code}")
    out["samples_per_cpu_s"] = out["samples"] / out["cpu_s"]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds trained together")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each training")
    parser.add_argument("--samples", type=int, default=800, help="distinct training samples")
    parser.add_argument("--baseline", default=BASELINE, help="git commit of the baseline")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for study.json")
    args = parser.parse_args(argv)
    if min(args.rounds, args.seeds, args.epochs, args.samples) < 1:
        parser.error("--rounds, --seeds, --epochs and --samples take integers >= 1")

    measured: dict[str, dict[str, list[float]]] = {}
    profiles: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        baseline_commit = extract_baseline(args.baseline, Path(folder))
        for modality in MODALITIES:
            common = {"modality": modality, "epochs": args.epochs, "samples": args.samples}
            runs = {"baseline, one seed": [], "today, one seed": [], "today, seeds together": []}
            for r in range(args.rounds):
                one = {**common, "seeds": [r], "group": False, "profile": False}
                runs["baseline, one seed"].append(run(Path(folder), one)["samples_per_cpu_s"])
                runs["today, one seed"].append(run(ROOT, one)["samples_per_cpu_s"])
                group = {**common, "seeds": list(range(args.seeds)), "group": True}
                out = run(ROOT, {**group, "profile": False})
                runs["today, seeds together"].append(out["samples_per_cpu_s"])
                print(
                    f"{modality} round {r + 1}: "
                    + ", ".join(f"{k} {v[-1]:.0f}" for k, v in runs.items()),
                    flush=True,
                )
            measured[modality] = runs
            # where the time goes: one more run of the group under cProfile, not among the timed
            # ones (the profiler's overhead would lower the figure it profiles)
            profiles[modality] = run(ROOT, {**group, "profile": True})["top"]
    peak = matmul_peak_flops("cpu", n=1024)
    summary = {}
    for modality, runs in measured.items():
        medians = {k: statistics.median(v) for k, v in runs.items()}
        base = medians["baseline, one seed"]
        summary[modality] = {
            "samples_per_cpu_s": medians,
            "ratio_one_seed": medians["today, one seed"] / base,
            "ratio_seeds_together": medians["today, seeds together"] / base,
        }
        print(
            f"{modality}: one seed {summary[modality]['ratio_one_seed']:.2f}x, "
            f"{args.seeds} seeds together {summary[modality]['ratio_seeds_together']:.2f}x "
            f"the baseline's samples per CPU-second"
        )
    path = write_json(
        NAME,
        {
            "benchmark": NAME,
            **provenance(),
            "description": (
                "training samples per CPU-second of a book-profile study configuration "
                "(RViTConfig.reconstruction, width 48, 2 layers, 32 px, 800 samples, batch 16), "
                "one thread, fresh process per measurement, rounds alternating the baseline "
                "commit, one seed today and several seeds together today"
            ),
            "hardware": hardware("cpu"),
            "versions": versions(),
            "settings": {
                **{k: v for k, v in vars(args).items() if k != "out"},
                "baseline_commit": baseline_commit,
            },
            "matmul_peak_flops": peak["flops"],
            "runs": measured,
            "summary": summary,
            "group_profile": profiles,
            "targets": {"ratio_seeds_together": 5.0, "ratio_one_seed": 1.5},
        },
        args.out,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
