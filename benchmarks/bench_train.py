"""Training and streaming speed of RViT against FrameViT, a torch.nn ViT and the matmul peak, in one run.

Everything is measured in this one process and run (one thread by default), so the ratios compare
like with like on whatever machine runs it:

* time per FLOP of a training step (AdamW, forward + backward + update; FLOPs of forward +
  backward counted by ``FlopCounterMode``) of RViT and of FrameViT of the same width and depth
  (their timed repeats alternate, so that both see the same machine load), at
  the tiny and the small size, eager and through ``torch.compile`` (:mod:`rvit.compile`), with
  each compile's first call against the steady step;
* FrameViT (softmax attention) against a ViT built from ``torch.nn`` alone (``Conv2d`` patches,
  ``nn.TransformerEncoderLayer`` pre-norm GELU blocks of the same width, depth, heads, MLP and
  tokens): what the package's own blocks cost over PyTorch's;
* utilisation: FLOP/s of a training step over the FLOP/s of a 2048 x 2048 float32 ``torch.mm``
  measured in the same run just before every training workload (their median);
* batch-1 streaming (``model.step``, one video at a time) in frames per second, eager and compiled,
  against the code before the gate's rewrite (``BASELINE``, extracted with ``git archive`` into a
  temporary folder and timed in fresh processes that alternate with the current code's).

It ends with a table of the targets (RViT/FrameViT time per FLOP <= 1.00 at both sizes; streaming
>= 2x the baseline's frames per second; utilisation >= 40 % at the small size) with pass or fail.

Compile times are those of a first run: the full run compiles into a fresh inductor cache (a
temporary folder, removed at the end) unless ``--warm-cache``; ``--quick`` uses the cache as found.

Usage: python benchmarks/bench_train.py [--quick] [--threads 1] [--repeats 5] [--warm-cache]
Writes results/bench/train.json (--quick: train_quick.json in the temporary folder, unless --out).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    RESULTS_DIR,
    ROOT,
    adamw_step,
    base_parser,
    check_args,
    extract_baseline,  # noqa: E402
    hardware,
    median,
    print_table,
    versions,
    write_json,
)

from rvit.baselines import FrameViT  # noqa: E402
from rvit.compile import compile_for_training, compile_status  # noqa: E402
from rvit.config import RViTConfig  # noqa: E402
from rvit.measure import Stopwatch, count_flops  # noqa: E402
from rvit.model import RViT  # noqa: E402
from rvit.perf import matmul_peak_flops  # noqa: E402

NUM_CLASSES, IMAGE_SIZE = 12, 32
BATCH = 32  # stills per training step
STEPS_PER_REPEAT = {"tiny": 2, "small": 1}  # steps per timed repeat (a small step takes ~1 s)
BASELINE = "5a8a2f1^"  # the code before the attention gate stopped concatenating [u; h]
STREAM_VIDEOS, STREAM_FRAMES = 8, 16  # per timed repeat: 128 frames, one video at a time
TARGETS = {"time_per_flop_ratio": 1.00, "streaming_speedup": 2.0, "utilisation_pct": 40.0}


# ------------------------------------------------------------------------------------------------
# the machine


def cpu_model() -> dict[str, Any]:
    """The processor's model name and the vector extensions that set its matmul peak."""
    name, flags = None, set()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and name is None:
                    name = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")
    return {
        "model_name": name or platform.processor() or platform.machine(),
        "source": "/proc/cpuinfo" if name else "platform",
        "vector_flags": [f for f in wanted if f in flags],
    }


# ------------------------------------------------------------------------------------------------
# models


class ReferenceViT(nn.Module):
    """A ViT from ``torch.nn`` alone, of a config's shape: ``Conv2d`` patches + a learned position
    table -> ``depth`` x ``nn.TransformerEncoderLayer`` (pre-norm, GELU, softmax attention) ->
    mean over tokens -> LayerNorm -> Linear; a video's logits are its frames' mean, as FrameViT's."""

    def __init__(self, cfg: RViTConfig) -> None:
        super().__init__()
        tokens = (cfg.image_size // cfg.patch_size) ** 2
        self.patch = nn.Conv2d(cfg.in_chans, cfg.dim, cfg.patch_size, stride=cfg.patch_size)
        self.pos = nn.Parameter(torch.randn(1, tokens, cfg.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.dim,
            cfg.heads,
            int(cfg.dim * cfg.mlp_ratio),
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        b, t = video.shape[:2]
        x = self.patch(video.flatten(0, 1)).flatten(2).transpose(1, 2) + self.pos  # (BT, N, D)
        logits = self.head(self.norm(self.encoder(x).mean(dim=1)))
        return logits.view(b, t, -1).mean(dim=1)


def make_model(kind: str, size: str) -> nn.Module:
    """``rvit``, ``framevit`` (the paper's linear attention), ``framevit-softmax`` or ``torch.nn``."""
    torch.manual_seed(0)
    attention = {"framevit-softmax": "softmax", "torch.nn": "softmax"}.get(kind, "linear")
    cfg = RViTConfig.paper(
        num_classes=NUM_CLASSES, image_size=IMAGE_SIZE, size=size, attention=attention
    )
    cls = {"rvit": RViT, "framevit": FrameViT, "framevit-softmax": FrameViT}.get(kind, ReferenceViT)
    return cls(cfg)


# ------------------------------------------------------------------------------------------------
# training


def time_steps(step: Any, repeats: int, steps: int, device: torch.device) -> list[float]:
    """Seconds per step: ``repeats`` timings of ``steps`` steps each."""
    seconds = []
    for _ in range(repeats):
        with Stopwatch(device) as watch:
            for _ in range(steps):
                step()
        seconds.append(watch.seconds / steps)
    return seconds


def measure_training(
    kinds: tuple[str, str],
    size: str,
    compiled: bool,
    device: torch.device,
    repeats: int,
    peaks: list[float],
) -> list[dict[str, Any]]:
    """Two training workloads (``BATCH`` stills) compared: time per step and per FLOP, compile time.

    The two models' timed repeats alternate (one of the first, one of the second, ...), so that
    both see the same machine load and their ratio is steady even where the machine is shared."""
    peaks.append(matmul_peak_flops(device, n=2048, repeats=5)["flops"])
    steps, rows = [], []
    for kind in kinds:
        model = make_model(kind, size).to(device).train()
        _, forward_backward = adamw_step(model, 1, BATCH, IMAGE_SIZE, NUM_CLASSES, device)
        flops = count_flops(forward_backward)  # eager: the same arithmetic as the compiled module
        model.zero_grad(set_to_none=True)
        net = compile_for_training(model) if compiled else model
        step, _ = adamw_step(net, 1, BATCH, IMAGE_SIZE, NUM_CLASSES, device)
        with Stopwatch(device) as first_call:
            step()  # compiled: trace, compile and run
        first = first_call.seconds
        step()  # warm-up
        steps.append(step)
        rows.append({"model": kind, "flops": flops, "first": first, "seconds": []})
    for _ in range(repeats):
        for step, row in zip(steps, rows, strict=True):
            row["seconds"] += time_steps(step, 1, STEPS_PER_REPEAT[size], device)
    out = []
    for row in rows:
        per_step, flops = median(row["seconds"]), row["flops"]
        out.append(
            {
                "model": row["model"],
                "size": size,
                "mode": "compiled" if compiled else "eager",
                "batch": BATCH,
                "gflop_per_step": flops / 1e9,
                "ms_per_step": 1000 * per_step,
                "ns_per_flop": 1e9 * per_step / flops,
                "gflop_per_s": flops / per_step / 1e9,
                "first_call_s": row["first"],
                "compile_s": row["first"] - per_step if compiled else None,
                "seconds_per_step": row["seconds"],
                "peak_before_gflop_per_s": peaks[-1] / 1e9,
            }
        )
    return out


def profile_step(device: torch.device) -> list[dict[str, Any]]:
    """The operators that take the time of an eager tiny RViT training step (``BATCH`` stills)."""
    from torch.profiler import ProfilerActivity, profile

    model = make_model("rvit", "tiny").to(device).train()
    step, _ = adamw_step(model, 1, BATCH, IMAGE_SIZE, NUM_CLASSES, device)
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


# ------------------------------------------------------------------------------------------------
# batch-1 streaming, in fresh processes (the same script for the current code and the baseline)
# The script times its own loop: it also runs under the baseline's code, which has no rvit.measure.

STREAM_SCRIPT = r"""
import json, sys, time
import torch
a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
from rvit.config import RViTConfig
from rvit.model import RViT
torch.manual_seed(0)
cfg = RViTConfig.paper(num_classes=a["num_classes"], image_size=a["image_size"], size=a["size"])
model = RViT(cfg).eval()
videos = torch.rand(a["videos"], a["frames"], 1, 3, a["image_size"], a["image_size"],
                    generator=torch.Generator().manual_seed(1))
step = model.step
if a["compile"]:
    from rvit.compile import compile_step
    step = compile_step(model)

def stream(video):
    state = model.init_state(1, num_frames=video.shape[0])
    for frame in video:
        logits, state = step(frame, state)
    return logits

with torch.no_grad():
    start = time.perf_counter()
    stream(videos[0])
    first = time.perf_counter() - start
    stream(videos[0])
    fps = []
    for _ in range(a["repeats"]):
        start = time.perf_counter()
        for video in videos:
            stream(video)
        fps.append(videos.shape[0] * videos.shape[1] / (time.perf_counter() - start))
import rvit
print("RESULT " + json.dumps({"first_video_s": first, "frames_per_s": fps, "rvit": rvit.__file__}))
"""


def run_stream(pythonpath: Path, compiled: bool, threads: int, repeats: int, size: str) -> dict:
    """Batch-1 streaming of the code under ``pythonpath`` in a fresh process."""
    settings = {
        "threads": threads,
        "num_classes": NUM_CLASSES,
        "image_size": IMAGE_SIZE,
        "size": size,
        "videos": STREAM_VIDEOS,
        "frames": STREAM_FRAMES,
        "compile": compiled,
        "repeats": repeats,
    }
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    done = subprocess.run(
        [sys.executable, "-c", STREAM_SCRIPT, json.dumps(settings)],
        env=env,
        cwd=tempfile.gettempdir(),  # so that only PYTHONPATH decides which rvit is imported
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"streaming run failed ({pythonpath}):\n{done.stderr[-2000:]}")
    out = json.loads(lines[-1].removeprefix("RESULT "))
    if not Path(out["rvit"]).resolve().is_relative_to(pythonpath.resolve()):
        raise RuntimeError(f"the streaming run imported {out['rvit']}, not rvit from {pythonpath}")
    return out


def measure_streaming(
    threads: int, repeats: int, baseline: str, compiled: bool, rounds: int
) -> dict[str, Any]:
    """Frames per second at batch 1 (tiny, 32 px): the baseline, the current code eager and the
    current code compiled, each in a fresh process, in ``rounds`` alternating rounds (so that all
    three see the same machine load). A compiled process's first video against a steady one is
    its compile time: the first round's is a first compile, later rounds find the cache warm."""
    size = "tiny"
    result: dict[str, Any] = {
        "size": size,
        "videos_per_repeat": STREAM_VIDEOS,
        "frames_per_video": STREAM_FRAMES,
        "baseline_ref": baseline,
    }
    runs: dict[str, list[float]] = {"baseline": [], "eager": [], "compiled": []}
    first_videos = []
    with tempfile.TemporaryDirectory() as folder:
        try:
            result["baseline_commit"] = extract_baseline(baseline, Path(folder))
        except (subprocess.CalledProcessError, OSError) as error:
            result["baseline_commit"] = None
            result["baseline_error"] = str(error)
        for _ in range(rounds):
            if result["baseline_commit"]:
                out = run_stream(Path(folder), False, threads, repeats, size)
                runs["baseline"] += out["frames_per_s"]
            runs["eager"] += run_stream(ROOT, False, threads, repeats, size)["frames_per_s"]
            if compiled:
                out = run_stream(ROOT, True, threads, repeats, size)
                runs["compiled"] += out["frames_per_s"]
                first_videos.append(out["first_video_s"])
    for name, fps in runs.items():
        if fps or name != "compiled":
            result[name] = {"frames_per_s": median(fps) if fps else None, "repeats": fps}
    if first_videos:
        steady = STREAM_FRAMES / result["compiled"]["frames_per_s"]
        result["compiled"].update(
            {
                "first_video_s": first_videos[0],
                "first_video_s_by_round": first_videos,
                "steady_video_s": steady,
                "compile_s": first_videos[0] - steady,
            }
        )
    return result


# ------------------------------------------------------------------------------------------------
# the run


def find(rows: list[dict[str, Any]], model: str, size: str, mode: str) -> dict[str, Any] | None:
    for row in rows:
        if (row["model"], row["size"], row["mode"]) == (model, size, mode):
            return row
    return None


def targets_table(
    training: list[dict[str, Any]], streaming: dict[str, Any], peak: float
) -> list[dict[str, Any]]:
    """The issue's targets, each with its value in this run and pass or fail."""
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, target: float, at_least: bool) -> None:
        ok = None if value is None else (value >= target if at_least else value <= target)
        rows.append(
            {
                "target": name,
                "value": value,
                "goal": f"{'>=' if at_least else '<='} {target:g}",
                "result": {None: "-", True: "pass", False: "fail"}[ok],
            }
        )

    for mode in ("eager", "compiled"):
        for size in ("tiny", "small"):
            rvit, frame = find(training, "rvit", size, mode), find(training, "framevit", size, mode)
            if rvit and frame:
                ratio = rvit["ns_per_flop"] / frame["ns_per_flop"]
                add(f"RViT/FrameViT time per FLOP, {size}, {mode}", ratio, 1.0, False)
    for mode in ("eager", "compiled"):
        fps = (streaming.get(mode) or {}).get("frames_per_s")
        base = streaming["baseline"]["frames_per_s"]
        speedup = fps / base if fps and base else None
        add(f"batch-1 streaming vs {streaming['baseline_ref']}, {mode}", speedup, 2.0, True)
    for mode in ("eager", "compiled"):
        row = find(training, "rvit", "small", mode)
        if row:
            add(f"RViT training utilisation, small, {mode} (%)", row["utilisation_pct"], 40, True)
    return rows


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0], threads=1)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="about a minute: eager training only, streaming eager and compiled, no profile "
        "(writes train_quick.json to the temporary folder unless --out is given)",
    )
    parser.add_argument(
        "--baseline", default=BASELINE, help=f"commit to compare streaming with ({BASELINE})"
    )
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="compile with the inductor cache as found (default: a fresh one, so that compile "
        "times are those of a first run; --quick always uses the cache as found)",
    )
    args = parser.parse_args()
    device = check_args(args)
    torch.set_num_threads(args.threads)
    fresh_cache = not (args.quick or args.warm_cache)
    if fresh_cache:  # read when inductor first compiles, here and in the streaming processes
        cache = tempfile.TemporaryDirectory(prefix="inductor-")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache.name
    can_compile, why_not = compile_status(device)
    started = time.perf_counter()

    modes = ["eager"] + (["compiled"] if can_compile and not args.quick else [])
    peaks: list[float] = []
    training = []
    pairs = [(("rvit", "framevit"), mode) for mode in modes]
    pairs.append((("framevit-softmax", "torch.nn"), "eager"))
    for kinds, mode in pairs:
        for size in ("tiny", "small"):
            rows = measure_training(kinds, size, mode == "compiled", device, args.repeats, peaks)
            training += rows
            for row in rows:
                print(
                    f"{row['model']:>16} {size:>5} {mode:>8}: {row['ms_per_step']:.1f} ms/step, "
                    f"{row['ns_per_flop']:.4f} ns/FLOP (first call {row['first_call_s']:.1f} s)",
                    flush=True,
                )
    peak = median(peaks)
    for row in training:
        row["utilisation_pct"] = 100 * row["gflop_per_s"] * 1e9 / peak
    reference = []
    for size in ("tiny", "small"):
        ours, theirs = (find(training, k, size, "eager") for k in ("framevit-softmax", "torch.nn"))
        reference.append(
            {
                "size": size,
                "framevit_ms_per_step": ours["ms_per_step"],
                "torch_nn_ms_per_step": theirs["ms_per_step"],
                "time_per_flop_ratio": ours["ns_per_flop"] / theirs["ns_per_flop"],
            }
        )

    streaming = measure_streaming(
        args.threads,
        args.repeats,
        args.baseline,
        compiled=can_compile,
        rounds=1 if args.quick else 3,
    )
    profile = [] if args.quick else profile_step(device)

    print(
        f"\nmatmul peak (2048 x 2048 float32 mm, {args.threads} thread(s)), median of "
        f"{len(peaks)} measured before each training workload: {peak / 1e9:.1f} GFLOP/s "
        f"({min(peaks) / 1e9:.1f} to {max(peaks) / 1e9:.1f})"
    )
    print(f"\ntraining step (AdamW), {BATCH} stills at {IMAGE_SIZE} px")
    columns = ["model", "size", "mode", "gflop_per_step", "ms_per_step", "ns_per_flop"]
    print_table(training, [*columns, "utilisation_pct", "first_call_s", "compile_s"])
    print("\nFrameViT (softmax attention) against a torch.nn ViT of the same shape")
    print_table(
        reference, ["size", "framevit_ms_per_step", "torch_nn_ms_per_step", "time_per_flop_ratio"]
    )
    print(f"\nbatch-1 streaming, tiny, {IMAGE_SIZE} px, {STREAM_VIDEOS} x {STREAM_FRAMES} frames")
    stream_rows = [
        {"code": name, **{k: v for k, v in streaming[name].items() if k != "repeats"}}
        for name in ("baseline", "eager", "compiled")
        if name in streaming
    ]
    print_table(stream_rows, ["code", "frames_per_s", "first_video_s", "compile_s"])
    if profile:
        print(f"\nwhere an eager tiny RViT training step spends its time (batch {BATCH})")
        print_table(profile, ["op", "calls_per_step", "self_ms_per_step", "share_pct"])
    targets = targets_table(training, streaming, peak)
    print("\ntargets (ratios within this run)")
    print_table(targets, ["target", "value", "goal", "result"])
    if not can_compile:
        print(f"compiled rows missing: {why_not}")

    cpu = cpu_model()
    payload = {
        "benchmark": "train",
        "description": __doc__.splitlines()[0],
        "cpu": cpu["model_name"],
        "cpu_info": cpu,
        "hardware": hardware(device),
        "versions": versions(),
        "settings": {
            "quick": args.quick,
            "threads": args.threads,
            "repeats": args.repeats,
            "steps_per_repeat": STEPS_PER_REPEAT,
            "batch": BATCH,
            "image_size": IMAGE_SIZE,
            "num_classes": NUM_CLASSES,
            "preset": "paper",
            "inductor_cache": "fresh" if fresh_cache else "as found (may be warm)",
            "compile_available": can_compile,
            "compile_unavailable_reason": why_not or None,
        },
        "matmul_peak": {"flops": peak, "all_flops": peaks},
        "training": training,
        "framevit_vs_torch_nn": reference,
        "streaming_batch1": streaming,
        "profile": profile,
        "targets": targets,
        "run_seconds": time.perf_counter() - started,
    }
    out = Path(tempfile.gettempdir()) if args.quick and args.out == RESULTS_DIR else args.out
    path = write_json("train_quick" if args.quick else "train", payload, out)
    print(f"\nwrote {path} ({payload['run_seconds']:.0f} s)")
    if fresh_cache:
        os.environ.pop("TORCHINDUCTOR_CACHE_DIR")
        cache.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
