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

Each of the two is measured eagerly and through ``torch.compile`` (``TrainConfig.compile``). A
compiled process pays a compile: the benchmark compiles once untimed into its own inductor cache
(what a study's first run of a shape does, reported as ``compile_cpu_s``). A timed compiled process
then first trains one untimed epoch of other seeds from that cache, which traces the model again and
meets every batch shape of the run (the last batch of an epoch is smaller), and reports its CPU time
as ``warmup_cpu_s``; only the run after it is timed. That is what a study pays per run: its worker
processes live for the whole study and train every run of a configuration after tracing it once.
Compiling happens in the process (``TORCHINDUCTOR_COMPILE_THREADS=1``). The run length is the book
profile's (800 samples, 8 epochs).

Two more rows train at the setting the study's version 3 uses (``rvit.study.profiles`` "v3": the
paper preset, batch 64 at learning rate 6e-3, six seeds as one computation, compiled for clips
only) and at the same setting with the baseline code and one seed, so that the JSON separates what
the code buys from what the larger batch buys.

Targets (issue "study speed"): at least 5x the baseline's samples per CPU-second with several seeds
together, at least 1.5x with one seed alone.

Usage: python benchmarks/bench_study.py [--rounds 2] [--seeds 10] [--epochs 8] [--baseline REF]
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
ROWS = (
    "baseline, one seed",
    "today, one seed",
    "today, one seed, compiled",
    "today, seeds together",
    "today, seeds together, compiled",
    "baseline, one seed, v3 setting",
    "today, v3 setting",
)
# the setting the study's version 3 trains with (rvit.study.profiles "v3"): the paper preset, batch
# 64 at learning rate 6e-3, six seeds trained as one computation, compiled for clips only (what
# rvit.study.design._compile_pays decides); its baseline row is the baseline code at the same
# preset, batch and learning rate, one seed (the baseline has no groups)
V3 = {"preset": "paper", "batch": 64, "lr": 6e-3}
V3_SEEDS = 6

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
preset = getattr(RViTConfig, s.get("preset", "reconstruction"))
cfg = preset(len(data.classes), image_size=32, patch_size=8, dim=48, depth=2, heads=3,
             num_frames=8)
config = TrainConfig(modality=s["modality"], epochs=s["epochs"], batch_size=s.get("batch", 16),
                     lr=s.get("lr", 3e-3), progress=False, variable_length=False)
if s.get("compile"):
    config = config.replace(compile=True)
def model(seed):
    torch.manual_seed(seed)
    return RViT(cfg)
models = [model(seed) for seed in s["seeds"]]
configs = [config.replace(seed=seed) for seed in s["seeds"]]
def train(models, configs):
    if s["group"]:
        from rvit.multiseed import fit_seeds
        return fit_seeds(models, data, configs)
    return [fit(m, data, None, c) for m, c in zip(models, configs)]
warm_cpu = 0.0
if s.get("warm"):  # one untimed epoch of other seeds: every shape this run meets, traced once
    start = time.process_time()
    train([model(seed + 1000) for seed in s["seeds"]],
          [c.replace(seed=c.seed + 1000, epochs=1) for c in configs])
    warm_cpu = time.process_time() - start
profile = cProfile.Profile() if s["profile"] else None
start = time.process_time()
if profile:
    profile.enable()
histories = train(models, configs)
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
                              "top": top, "warm_cpu_s": warm_cpu}))
"""


def run(code: Path, settings: dict[str, Any], cache: Path | None = None) -> dict[str, Any]:
    """One measurement in a fresh process importing ``rvit`` from ``code``; ``cache``: the folder
    of inductor's on-disk cache for compiled runs."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    if cache is not None:
        env.update(TORCHINDUCTOR_CACHE_DIR=str(cache), TORCHINDUCTOR_COMPILE_THREADS="1")
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
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (median)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds trained together")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of each training")
    parser.add_argument("--samples", type=int, default=800, help="distinct training samples")
    parser.add_argument("--baseline", default=BASELINE, help="git commit of the baseline")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for study.json")
    args = parser.parse_args(argv)
    if min(args.rounds, args.seeds, args.epochs, args.samples) < 1:
        parser.error("--rounds, --seeds, --epochs and --samples take integers >= 1")

    measured: dict[str, dict[str, list[float]]] = {}
    profiles: dict[str, list[dict[str, Any]]] = {}
    compile_cpu: dict[str, dict[str, float]] = {}
    warmups: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "baseline").mkdir()
        baseline_commit = extract_baseline(args.baseline, Path(folder) / "baseline")
        cache = Path(folder) / "inductor"
        for modality in MODALITIES:
            common = {"modality": modality, "epochs": args.epochs, "samples": args.samples}
            one = {**common, "seeds": [0], "group": False, "profile": False}
            group = {**common, "seeds": list(range(args.seeds)), "group": True, "profile": False}
            v3_one = {**one, **V3}
            v3_group = {
                **group,
                **V3,
                "seeds": list(range(V3_SEEDS)),
                "compile": modality != "image",
            }
            # the first compile of each shape, untimed among the rounds: it fills the cache
            compile_cpu[modality] = {
                "one seed": run(ROOT, {**one, "compile": True}, cache)["cpu_s"],
                "seeds together": run(ROOT, {**group, "compile": True}, cache)["cpu_s"],
                "v3 setting": run(ROOT, v3_group, cache)["cpu_s"],
            }
            runs: dict[str, list[float]] = {k: [] for k in ROWS}
            for r in range(args.rounds):
                warm = {"compile": True, "warm": True}
                settings = {
                    "baseline, one seed": (Path(folder) / "baseline", one, None),
                    "today, one seed": (ROOT, one, None),
                    "today, one seed, compiled": (ROOT, {**one, **warm}, cache),
                    "today, seeds together": (ROOT, group, None),
                    "today, seeds together, compiled": (ROOT, {**group, **warm}, cache),
                    "baseline, one seed, v3 setting": (Path(folder) / "baseline", v3_one, None),
                    "today, v3 setting": (
                        ROOT,
                        {**v3_group, "warm": v3_group["compile"]},
                        cache,
                    ),
                }
                for row, (code, s, c) in settings.items():
                    out = run(code, s, c)
                    runs[row].append(out["samples_per_cpu_s"])
                    if s.get("warm"):
                        warmups.setdefault(modality, {}).setdefault(row, []).append(
                            out["warm_cpu_s"]
                        )
                print(
                    f"{modality} round {r + 1}: "
                    + ", ".join(f"{k} {v[-1]:.0f}" for k, v in runs.items()),
                    flush=True,
                )
            measured[modality] = runs
            # where the time goes: one more run of the compiled group under cProfile, not among
            # the timed ones (the profiler's overhead would lower the figure it profiles)
            profiles[modality] = run(
                ROOT, {**group, "compile": True, "warm": True, "profile": True}, cache
            )["top"]
    peak = matmul_peak_flops("cpu", n=1024)
    summary = {}
    for modality, runs in measured.items():
        medians = {k: statistics.median(v) for k, v in runs.items()}
        base = medians["baseline, one seed"]
        summary[modality] = {
            "samples_per_cpu_s": medians,
            "ratios": {k: v / base for k, v in medians.items() if not k.startswith("baseline")},
            "ratio_one_seed": max(medians["today, one seed"], medians["today, one seed, compiled"])
            / base,
            "ratio_seeds_together": max(
                medians["today, seeds together"], medians["today, seeds together, compiled"]
            )
            / base,
            # the v3 study's setting against the baseline's book-profile run (what version 2
            # trained with: reconstruction preset, batch 16) and against the baseline code at the
            # v3 setting itself (the same preset, batch and learning rate: the code's share alone)
            "ratio_v3_setting": medians["today, v3 setting"] / base,
            "ratio_v3_setting_same_batch": medians["today, v3 setting"]
            / medians["baseline, one seed, v3 setting"],
            "compile_cpu_s_first_process": compile_cpu[modality],
            # what each compiled process paid before its timed run: one untimed epoch of training,
            # tracing the model again and loading its kernels from the warm cache included (a study
            # worker pays the tracing once per configuration, then trains all its runs)
            "warmup_cpu_s": {k: statistics.median(v) for k, v in warmups[modality].items()},
        }
        print(
            f"{modality}: "
            + ", ".join(f"{k} {v:.2f}x" for k, v in summary[modality]["ratios"].items())
            + " the baseline's samples per CPU-second"
        )
    path = write_json(
        NAME,
        {
            "benchmark": NAME,
            **provenance(),
            "description": (
                "training samples per CPU-second of a book-profile study configuration "
                "(RViTConfig.reconstruction, width 48, 2 layers, 32 px, 800 samples, batch 16, "
                "8 epochs), one thread, fresh process per measurement, rounds alternating the "
                "baseline commit and today's code (one seed, several seeds together; eager and "
                "compiled; a compiled process first trains one untimed epoch of other seeds from "
                "a warm inductor cache, as a study worker has traced its configuration once, and "
                "its CPU time is reported as warmup_cpu_s); "
                "ratio_one_seed and ratio_seeds_together take the faster of eager and compiled; "
                "the v3 rows train at the study version 3's setting (paper preset, batch 64, "
                "lr 6e-3, 6 seeds together, compiled for clips only), ratio_v3_setting against "
                "the baseline's book-profile row, ratio_v3_setting_same_batch against the baseline "
                "code at the v3 setting (one seed)"
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
