"""Run the study: every configuration of every experiment, for every seed, resumably.

``python -m rvit study run [NAMES] --profile smoke|book|full [--jobs N] [--results-dir DIR]``

* One JSON per run: ``<results-dir>/<experiment>/<config-id>__seed<k>.json`` with the configuration,
  the seed, the metrics, the timings, the code version (commit, dirty flag), package versions,
  hardware and profile. The metrics of each evaluation set include the outcome of every video or
  image (:func:`video_outcomes`; read back with :mod:`rvit.study.outcomes`). Files are written
  atomically (a temporary file, then ``os.replace``), lists without mappings on one line each.
* Resumable: a run whose file exists and matches the registry is skipped.
* Shared: the same training run (same :meth:`RunConfig.key` and seed) asked for by several
  experiments trains once, is evaluated on the union of their evaluation sets, and its result is
  written into each experiment's folder. A matching result already stored under another experiment
  is copied instead of retrained.
* ``book`` and ``full`` results go to ``results/`` (``results/full/`` for ``full``); ``smoke``
  results go to a scratch folder unless ``--results-dir`` says otherwise, so a smoke run never
  overwrites the committed results.
* Pre-registered: a profile with a pre-registration runs only while its registry hashes as
  registered or as a recorded deviation accepts (:mod:`rvit.study.preregistration`;
  ``study preregister`` writes the document, ``study deviate`` records a deviation); its results
  store that hash (``registry_hash``).
* Traceable: a ``book`` or ``full`` study refuses to start from a git tree with uncommitted changes
  to tracked files outside the results folder (``--allow-dirty`` overrides; without git it warns
  and goes on). Each worker resolves the commit of the code it imported, which must equal the
  parent's, and the record stores that commit and the worker's own torch thread count.

One run = build the data sets, build the model, :func:`rvit.train.fit`, then evaluate on each
evaluation set (test videos streamed frame by frame with :func:`rvit.evaluate.evaluate_videos`,
still images with :func:`rvit.evaluate.evaluate_images`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rvit.study.datasets import build_eval_set, build_train_set
from rvit.study.experiments import EXPERIMENTS, get_experiments
from rvit.study.preregistration import (
    check_preregistered,
    record_deviation,
    write_preregistration,
)
from rvit.study.profiles import PROFILES, Profile, get_profile
from rvit.study.schema import Experiment, RunConfig
from rvit.study.store import (
    _load,
    code_hash,
    default_results_dir,
    match_result,
    resolved_configuration,
    result_path,
)

__all__ = [
    "DirtyTreeError",
    "Task",
    "add_study_parser",
    "build_model",
    "check_clean_tree",
    "execute",
    "execute_seeds",
    "json_text",
    "main",
    "pair_directions",
    "pair_metrics",
    "plan",
    "run_study",
    "video_outcomes",
    "worker_info",
]


@dataclass(frozen=True)
class Task:
    """One (experiment, configuration, seed) of the plan and the file it writes."""

    experiment: str
    config_id: str
    config: RunConfig
    seed: int
    path: Path

    @property
    def run_id(self) -> tuple[str, int]:
        """Tasks with the same ``run_id`` share one training run."""
        return self.config.key(), self.seed


def plan(experiments: Iterable[Experiment], results_dir: str | os.PathLike) -> list[Task]:
    """Every (experiment, configuration, seed) task of ``experiments``, in order."""
    return [
        Task(exp.name, config_id, config, seed, result_path(results_dir, exp.name, config_id, seed))
        for exp in experiments
        for config_id, config in exp.configs.items()
        for seed in exp.seeds
    ]


# ------------------------------------------------------------------------------------------------
# building data sets and models


def build_model(model: Mapping[str, Any], num_classes: int) -> torch.nn.Module:
    """A run's model: ``{"arch", "preset", **RViTConfig fields}`` -> the model ``arch`` names in
    :data:`rvit.models.MODELS` (RViT, FrameViT or ClipViT)."""
    from rvit.config import PRESETS, RViTConfig
    from rvit.models import MODELS
    from rvit.models import build_model as build

    spec = dict(model)
    arch, preset = spec.pop("arch", "rvit"), spec.pop("preset", "paper")
    if arch not in MODELS:
        raise ValueError(f"model arch {arch!r} is unknown; choose one of {sorted(MODELS)}")
    if preset not in PRESETS:
        raise ValueError(f"model preset {preset!r} is unknown; choose one of {PRESETS}")
    cfg = getattr(RViTConfig, preset)(num_classes, **spec)
    return build(arch, cfg)


# ------------------------------------------------------------------------------------------------
# one run


def _partners(classes: Sequence[str]) -> dict[int, int]:
    """Class index -> the index of the other class of its motion pair (both must be present)."""
    from rvit.data.synthetic import MOTION_PAIRS

    index = {name: i for i, name in enumerate(classes)}
    partner: dict[int, int] = {}
    for a, b in MOTION_PAIRS:
        if a in index and b in index:
            partner[index[a]], partner[index[b]] = index[b], index[a]
    return partner


def pair_directions(result: Any) -> list[int | None]:
    """Per video: for a video of a motion pair, 1 when its true class scores above its partner at
    the last frame and 0 otherwise; None for the other videos. Needs ``frame_logits``
    (``evaluate_videos(..., keep_logits=True)``) for the motion-pair videos."""
    partner = _partners(result.classes)
    logits = result.frame_logits or [None] * len(result.targets)
    directions: list[int | None] = []
    for target, video_logits in zip(result.targets, logits, strict=True):
        if target not in partner:
            directions.append(None)
            continue
        if video_logits is None:
            raise ValueError("pair_metrics needs the frame logits: evaluate with keep_logits=True")
        directions.append(int(bool(video_logits[-1, target] > video_logits[-1, partner[target]])))
    return directions


def pair_metrics(result: Any) -> dict[str, float | None]:
    """Two scores of the motion-pair videos of an evaluation (None without such videos).

    ``motion_pair``: the share whose prediction is one of the two classes of the video's pair (the
    pair's look, which a single frame shows); ``motion_direction``: the share whose true class
    scores above its partner at the last frame (the direction, which only the order of frames
    shows; 50 % by guessing, whatever the model predicts elsewhere). Needs ``frame_logits``
    (``evaluate_videos(..., keep_logits=True)``).
    """
    partner = _partners(result.classes)
    pair_hits = direction_hits = count = 0
    for target, predicted, direction in zip(
        result.targets, result.predictions, pair_directions(result), strict=True
    ):
        if direction is None:
            continue
        count += 1
        pair_hits += int(predicted in (target, partner[target]))
        direction_hits += direction
    if not count:
        return {"motion_pair": None, "motion_direction": None}
    return {"motion_pair": pair_hits / count, "motion_direction": direction_hits / count}


def video_outcomes(result: Any, still: bool = False) -> dict[str, list[Any]]:
    """The outcome of every item of an evaluation, in the order evaluated (JSON lists of ints).

    * ``classes``: the class names; the integers below index this list.
    * ``targets``: the true class of each item.
    * ``predictions``: the predicted class of each item (a video's: after its last frame).
    * videos only (``still`` False): ``frame_predictions``, one list per video, the predicted class
      after each of its frames (its length is the video's), and, with the frame logits,
      ``direction``: for a video of a motion pair, 1 when its true class scores above its partner
      at the last frame and 0 otherwise, None (JSON null) for the other videos
      (:func:`pair_directions`).

    :mod:`rvit.study.outcomes` reads them back; they reproduce ``top1``, ``appearance``,
    ``motion``, ``motion_pair``, ``motion_direction``, ``online`` and ``per_class`` exactly.
    """
    outcomes: dict[str, list[Any]] = {
        "classes": [str(name) for name in result.classes],
        "targets": [int(k) for k in result.targets],
        "predictions": [int(k) for k in result.predictions],
    }
    if not still:
        outcomes["frame_predictions"] = [[int(k) for k in p] for p in result.frame_predictions]
        if result.frame_logits is not None:
            outcomes["direction"] = pair_directions(result)
    return outcomes


def _video_metrics(result: Any, chance: float, still: bool = False) -> dict[str, Any]:
    groups = result.group_accuracy
    return {
        "top1": result.top1,
        "top5": result.top5,
        "appearance": groups.get("appearance"),
        "motion": groups.get("motion"),
        **(pair_metrics(result) if result.frame_logits is not None else {}),
        "online": [point["accuracy"] for point in result.online],
        "per_class": dict(zip(result.classes, result.per_class_accuracy, strict=True)),
        "latency_ms": result.ms_per_frame,
        "peak_mb": result.peak_memory_mb,
        "videos": result.num_videos,
        "chance": chance,
        "outcomes": video_outcomes(result, still),
    }


@functools.lru_cache(maxsize=64)
def _forward_flops(model_json: str, num_classes: int, clip_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass of one clip ``(T, C, H, W)`` through a fresh model of that spec."""
    from rvit.measure import count_flops

    model = build_model(json.loads(model_json), num_classes).eval()
    with torch.no_grad():
        return count_flops(model, torch.rand(1, *clip_shape))


def _train_flops(model: Mapping[str, Any], num_classes: int, clip_shape: Sequence[int]) -> float:
    """FLOPs of training on one clip: forward + backward, counted as 3 x the forward pass."""
    key = json.dumps(dict(model), sort_keys=True)
    return 3.0 * _forward_flops(key, num_classes, tuple(int(n) for n in clip_shape))


def execute(
    config: RunConfig,
    seed: int,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Train ``config`` with ``seed`` and evaluate it on each of its evaluation sets.

    Training FLOPs are counted as 3 x the forward FLOPs of one training clip (the backward pass
    costs about twice the forward), times the clips seen.

    Returns ``{"metrics": {...}, "timings": {...}}``. ``metrics`` has ``chance`` (1 / K),
    ``num_classes``, ``params``, ``train`` (``top1`` of the last epoch, ``time_s``, ``flops``,
    ``log10_flops``, ``samples``, ``history``) and one entry per evaluation set (``top1``, ``top5``,
    ``appearance``, ``motion``, ``motion_pair``, ``motion_direction`` (:func:`pair_metrics`; videos
    only), ``online``, ``per_class``, ``latency_ms``, ``peak_mb``, and ``outcomes``, the outcome of
    every video or image (:func:`video_outcomes`)).
    """
    return execute_seeds(config, [seed], device=device, progress=progress)[0]


def execute_seeds(
    config: RunConfig,
    seeds: Sequence[int],
    device: str = "cpu",
    progress: bool = False,
) -> list[dict[str, Any]]:
    """:func:`execute` for several seeds of one configuration, trained as one computation
    (:func:`rvit.multiseed.fit_seeds`) when there are several; each seed is evaluated on its own.

    Each seed keeps its training samples, initial weights and batch order. A seed's ``train_s``
    and ``cpu_s`` are its share of the group's training (the group's time over its seeds) plus its
    own evaluations; ``timings["seeds_together"]`` lists the group.
    """
    from rvit.train import TrainConfig, fit
    from rvit.utils import seed_everything

    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"execute_seeds needs distinct seeds; got {list(seeds)}")
    start, cpu_start = time.perf_counter(), time.process_time()
    train_sets, models, train_cfgs = [], [], []
    for seed in seeds:
        seed_everything(seed)
        train_sets.append(build_train_set(config.data, config.train, seed))
        models.append(build_model(config.model, len(train_sets[-1].classes)))
        train_cfgs.append(
            TrainConfig(**config.train, seed=seed, device=device, progress=progress, amp=False)
        )
    if len(seeds) == 1:
        histories = [fit(models[0], train_sets[0], None, train_cfgs[0])]
    else:
        from rvit.multiseed import fit_seeds

        histories = fit_seeds(models, train_sets, train_cfgs)
    share = len(seeds)
    train_s = (time.perf_counter() - start) / share
    train_cpu = (time.process_time() - cpu_start) / share
    outcomes = []
    for seed, train_set, model, history, train_cfg in zip(
        seeds, train_sets, models, histories, train_cfgs, strict=True
    ):
        model = history.model if history.model is not None else model
        model.eval()
        tick, cpu_tick = time.perf_counter(), time.process_time()
        metrics = _train_metrics(config, train_set, train_cfg, model, history.records)
        eval_s = _evaluate(config, seed, model, metrics, device)
        timings = {
            "train_s": train_s,
            "eval_s": eval_s,
            "total_s": train_s + time.perf_counter() - tick,
            "cpu_s": train_cpu + time.process_time() - cpu_tick,
        }
        if share > 1:
            timings["seeds_together"] = list(seeds)
        outcomes.append({"metrics": metrics, "timings": timings})
    return outcomes


def _train_metrics(
    config: RunConfig, train_set: Any, train_cfg: Any, model: Any, records: list[dict[str, Any]]
) -> dict[str, Any]:
    from rvit.data.clips import as_training_set

    num_classes = len(train_set.classes)
    clips = as_training_set(train_set, train_cfg.modality, train_cfg.frames, train_cfg.camera)
    clip_shape = list(clips[0][0].shape)  # (T, C, H, W)
    if isinstance(config.data["frames"], list | tuple) and train_cfg.modality == "video":
        clip_shape[0] = round(sum(config.data["frames"]) / 2)  # the mean length of the clips
    samples = len(clips) * int(config.train["epochs"])
    flops = _train_flops(config.model, num_classes, clip_shape) * samples
    return {
        "chance": 1.0 / num_classes,
        "num_classes": num_classes,
        "params": int(sum(p.numel() for p in model.parameters())),
        "train": {
            "top1": records[-1]["train_acc"] if records else None,
            "loss": records[-1]["train_loss"] if records else None,
            "time_s": float(sum(r["seconds"] or 0.0 for r in records)),
            "flops": flops,
            "log10_flops": math.log10(flops) if flops > 0 else None,
            "samples": samples,
            "history": [
                {k: r[k] for k in ("epoch", "train_loss", "train_acc", "seconds")} for r in records
            ],
        },
    }


def _evaluate(
    config: RunConfig, seed: int, model: Any, metrics: dict[str, Any], device: str
) -> dict[str, float]:
    """Each evaluation set of ``config`` into ``metrics``; returns the seconds of each."""
    from rvit.evaluate import evaluate_images, evaluate_videos

    chance = metrics["chance"]
    eval_s: dict[str, float] = {}
    for name, spec in config.evals.items():
        tick = time.perf_counter()
        dataset = build_eval_set(spec, seed)
        try:
            if spec["modality"] == "image":
                result = evaluate_images(model, dataset, device=device, progress=False)
            else:
                result = evaluate_videos(
                    model, dataset, batch_size=32, device=device, progress=False, keep_logits=True
                )
        except ValueError as error:
            # a model that cannot take the input (a shared position table at another frame size)
            metrics[name] = {"error": str(error), "chance": chance}
        else:
            metrics[name] = _video_metrics(result, chance, still=spec["modality"] == "image")
        eval_s[name] = time.perf_counter() - tick
    return eval_s


# ------------------------------------------------------------------------------------------------
# the study


def _union_config(tasks: Sequence[Task]) -> RunConfig:
    evals: dict[str, Mapping[str, Any]] = {}
    for task in tasks:
        for name, spec in task.config.evals.items():
            if name in evals and dict(evals[name]) != dict(spec):
                raise ValueError(
                    f"evaluation {name!r} of run {task.config.key()} is specified differently by "
                    f"{task.experiment}/{task.config_id} and by another experiment"
                )
            evals[name] = spec
    return RunConfig(tasks[0].config.model, tasks[0].config.train, tasks[0].config.data, evals)


def _record(
    task: Task,
    profile: Profile,
    config: RunConfig,
    outcome: Mapping[str, Any],
    worker: Mapping[str, Any],
    registry: str | None = None,
) -> dict:
    from rvit.utils import provenance

    git = {"commit": worker["commit"], "dirty": worker["dirty"]}
    # a pre-registered profile's record names the registry it ran under (its hash)
    prereg = {} if registry is None else {"registry_hash": registry}
    return {
        "experiment": task.experiment,
        "config_id": task.config_id,
        "seed": task.seed,
        "profile": profile.name,
        "key": config.key(),
        "configuration": config.to_dict(),
        "resolved": resolved_configuration(config),
        "code": worker["code"],
        **prereg,
        "metrics": outcome["metrics"],
        "timings": outcome["timings"],
        "provenance": provenance(
            {"profile": profile.to_dict(), "worker": dict(worker)},
            git=git,
            torch_threads=worker["torch_threads"],
        ),
    }


def _holds_mapping(obj: Any) -> bool:
    if isinstance(obj, Mapping):
        return True
    return isinstance(obj, list) and any(_holds_mapping(item) for item in obj)


def json_text(obj: Any, level: int = 0) -> str:
    """``obj`` (JSON types) as JSON text: mappings indented by two spaces a level, and every list
    that holds no mapping on one line without spaces, so a result's per-video outcomes take one
    line per field and a few bytes per video (``json.loads`` gives ``obj`` back)."""
    if isinstance(obj, Mapping) and obj:
        inner, outer = "  " * (level + 1), "  " * level
        items = [f"{inner}{json.dumps(str(k))}: {json_text(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + outer + "}"
    if isinstance(obj, list) and _holds_mapping(obj):
        inner, outer = "  " * (level + 1), "  " * level
        items = [inner + json_text(item, level + 1) for item in obj]
        return "[\n" + ",\n".join(items) + "\n" + outer + "]"
    return json.dumps(obj, separators=(",", ":"), allow_nan=True)


def _write(path: Path, record: Mapping[str, Any]) -> None:
    from rvit.utils import atomic_write_text, to_jsonable

    atomic_write_text(path, json_text(to_jsonable(record)) + "\n")


class DirtyTreeError(ValueError):
    """The study was asked to run from a git tree with uncommitted changes."""


def _dirty_files(results_dir: Path, folder: Path | None = None) -> list[str] | None:
    """Tracked files with uncommitted changes in the git tree of ``folder`` (default: this
    package's), outside ``results_dir``; None without git."""
    folder = folder if folder is not None else Path(__file__).resolve().parent
    from rvit.utils import run_git

    top = run_git(folder, "rev-parse", "--show-toplevel", timeout=10)
    if top is None or top.returncode != 0:
        return None
    status = run_git(top.stdout.strip(), "status", "--porcelain", "--untracked-files=no", "-z")
    if status is None or status.returncode != 0:
        return None
    root, results = Path(top.stdout.strip()).resolve(), results_dir.resolve()
    entries = status.stdout.split("\0")
    files: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        if entry[0] in "RC":  # a rename or copy: the next entry is the old name
            index += 1
        name = entry[3:]
        if not (root / name).resolve().is_relative_to(results):
            files.append(name)
    return files


def check_clean_tree(results_dir: str | os.PathLike, allow_dirty: bool = False) -> None:
    """Refuse (:class:`DirtyTreeError`) a git tree whose tracked files outside ``results_dir``
    have uncommitted changes, unless ``allow_dirty``; without git, warn and go on.

    Results written by the study itself (under ``results_dir``) do not count, so an interrupted
    study that rewrote committed results still resumes.
    """
    files = _dirty_files(Path(results_dir))
    if files is None:
        warnings.warn(
            "the code is not in a git checkout: the results cannot name the commit that made them",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    if files and not allow_dirty:
        shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
        raise DirtyTreeError(
            f"the git tree has uncommitted changes in {len(files)} tracked file(s) ({shown}); "
            "commit them so the results name the code that made them, or pass --allow-dirty"
        )


def worker_info() -> dict[str, Any]:
    """The commit of the code this process imported, its dirty flag, the hash of its
    result-changing code (:func:`rvit.study.store.code_hash`), its torch threads, its pid.

    A pool worker calls it once when it starts (just after importing :mod:`rvit`), so the commit
    is that of the code that runs, not the one at the time the result is written.
    """
    from rvit.utils import git_info

    git = git_info()
    return {
        "commit": git["commit"],
        "dirty": git["dirty"],
        "code": code_hash(),
        "torch_threads": torch.get_num_threads(),
        "pid": os.getpid(),
    }


_WORKER: dict[str, Any] = {}


def _die_with_parent() -> None:
    """Ask the kernel to end this process when its parent ends (Linux ``PR_SET_PDEATHSIG``).

    A study stopped by a signal, even ``SIGKILL``, that cannot shut its pool down would otherwise
    leave its workers training for minutes, each holding a gigabyte. Elsewhere nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def _worker_init(threads: int) -> None:
    _die_with_parent()
    torch.set_num_threads(threads)
    _WORKER.update(worker_info())


def _execute_job(
    config_dict: dict[str, Any], seeds: list[int], device: str
) -> list[dict[str, Any]]:
    outcomes = execute_seeds(RunConfig.from_dict(config_dict), seeds, device=device)
    worker = {**_WORKER, "torch_threads": torch.get_num_threads()}
    return [{**outcome, "worker": worker} for outcome in outcomes]


@functools.lru_cache(maxsize=256)
def _groupable(config_json: str) -> bool:
    """Whether the seeds of this configuration can train as one computation (no dropout, fixed
    clip length: :func:`rvit.multiseed.group_problem`)."""
    from rvit.multiseed import group_problem
    from rvit.train import TrainConfig

    config = RunConfig.from_dict(json.loads(config_json))
    with torch.device("meta"):
        model = build_model(config.model, 2)
    return not group_problem(model, TrainConfig(**config.train, progress=False))


def _jobs(
    pending: Sequence[tuple[RunConfig, list[Task]]], prof: Profile
) -> list[tuple[RunConfig, list[int], dict[int, list[Task]]]]:
    """The runs to do as jobs: ``(config, seeds to train together, {seed: tasks to write})``.

    With ``prof.seeds_together > 1`` the seeds of a configuration that can train as a group go in
    fixed chunks of the profile's seeds; a chunk with any run to do trains whole (a seed's numbers
    never depend on which runs were left: a resumed study gives what an uninterrupted one gives),
    and only the runs to do are written.
    """
    size = prof.seeds_together
    jobs: dict[Any, tuple[RunConfig, list[int], dict[int, list[Task]]]] = {}
    for config, group in pending:
        seed = group[0].seed
        chunk: tuple[int, ...] = (seed,)
        if size > 1 and seed in prof.seeds and _groupable(json.dumps(config.to_dict())):
            index = prof.seeds.index(seed) // size
            chunk = tuple(prof.seeds[index * size : (index + 1) * size])
        job = jobs.setdefault((config.key(), chunk), (config, list(chunk), {}))
        job[2][seed] = group
    return list(jobs.values())


@contextlib.contextmanager
def _terminate_on(signum: int) -> Iterator[None]:
    """Turn ``signum`` into ``SystemExit`` in the main thread while the block runs, so a study
    stopped by ``kill`` cleans up as one stopped by Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, frame: Any) -> None:
        raise SystemExit(128 + number)

    previous = signal.signal(signum, stop)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def _stop_pool(pool: Any) -> None:
    """Cancel what has not started and end the worker processes of a ``ProcessPoolExecutor``."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)


def _check_worker(worker: Mapping[str, Any], parent: Mapping[str, Any]) -> None:
    """The worker must run the parent's code (a commit or an edit made while the study ran would
    not)."""
    if worker.get("commit") != parent.get("commit") or worker.get("code") != parent.get("code"):
        raise RuntimeError(
            f"a worker imported the code of commit {worker.get('commit')} (code hash "
            f"{worker.get('code')}) but the study started at {parent.get('commit')} (code hash "
            f"{parent.get('code')}): the code changed while the study ran; rerun it"
        )


def _existing(
    group: Sequence[Task], config: RunConfig, profile: Profile, results_dir: Path
) -> dict[str, Any] | None:
    """A stored result of this run (under any experiment) that covers every evaluation needed."""
    key, seed = group[0].run_id
    for path in sorted(results_dir.glob(f"*/*__seed{seed}.json")):
        record = _load(path)
        if record and record.get("key") == key and not match_result(record, config, seed, profile):
            return record
    return None


@dataclass
class StudySummary:
    """What :func:`run_study` did: tasks planned, runs trained, results copied or already there."""

    tasks: int
    skipped: int
    trained: int
    copied: int
    seconds: float
    results_dir: Path


def check_open(prof: Profile) -> None:
    """Refuse to run a closed profile (:attr:`Profile.closed`) from code other than its own.

    A closed profile's results are the record of the code that made them; a run from today's code
    would add results of another design under the same name, so it is refused with the commits that
    can re-make them.
    """
    if prof.closed and prof.code != code_hash():
        commits = ", ".join(c[:10] for c in prof.commits) or "none recorded"
        raise ValueError(
            f"profile {prof.name!r} is a closed study version: its results were made by code hash "
            f"{prof.code} (commits {commits}) and today's code is {code_hash()}; check out one of "
            "those commits to re-make them, or run an open profile"
        )


def run_study(
    names: Sequence[str] | None = None,
    profile: str | Profile = "smoke",
    results_dir: str | os.PathLike | None = None,
    jobs: int = 1,
    device: str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    threads: int | None = None,
    allow_dirty: bool = False,
) -> StudySummary:
    """Run the experiments ``names`` (all when empty) at ``profile``; returns a summary.

    Finished (experiment, configuration, seed) results are skipped, so an interrupted study resumes
    where it stopped. ``jobs > 1`` trains that many runs in parallel processes. ``threads`` is the
    number of torch threads of each run (default: the cores divided by ``jobs``); the study's models
    are small, so one thread per run and one run per core wastes the least.

    A ``book`` or ``full`` study refuses a git tree with uncommitted changes (see
    :func:`check_clean_tree`) unless ``allow_dirty``; ``smoke`` results are scratch and run anyway.
    A pre-registered profile runs only while its registry is the pre-registered one or one a
    recorded deviation accepts (:func:`rvit.study.preregistration.check_preregistered`, before
    anything trains); each of its results stores that registry hash (``registry_hash``).
    """
    prof = get_profile(profile)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // jobs)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    check_open(prof)
    registry = check_preregistered(prof, require_committed=not allow_dirty)
    out = Path(results_dir) if results_dir is not None else default_results_dir(prof)
    if prof.name != "smoke":
        check_clean_tree(out, allow_dirty)
    parent = worker_info()
    experiments = [e for e in get_experiments(names, prof) if e.bench is None]
    tasks = plan(experiments, out)
    start = time.perf_counter()
    say = log or (lambda message: None)

    groups: dict[tuple[str, int], list[Task]] = {}
    for task in tasks:
        groups.setdefault(task.run_id, []).append(task)
    pending: list[tuple[RunConfig, list[Task]]] = []
    skipped = copied = 0
    for group in groups.values():
        todo = [t for t in group if match_result(_load(t.path), t.config, t.seed, prof)]
        skipped += len(group) - len(todo)
        if not todo:
            continue
        config = _union_config(group)
        found = _existing(group, config, prof, out)
        if found is not None:
            for task in todo:
                _write(
                    task.path, {**found, "experiment": task.experiment, "config_id": task.config_id}
                )
                copied += 1
            continue
        pending.append((config, group))
    # in the plan's order: experiment by experiment, so each finishes (all seeds) as early as it can

    jobs_to_do = _jobs(pending, prof)
    bar = None
    if progress and pending:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc=f"study ({prof.name})", unit="run", dynamic_ncols=True)

    def finish(
        config: RunConfig,
        seeds: list[int],
        todo: Mapping[int, list[Task]],
        outcomes: Sequence[Mapping[str, Any]],
        worker: Mapping[str, Any],
    ) -> None:
        _check_worker(worker, parent)
        for seed, outcome in zip(seeds, outcomes, strict=True):
            group = todo.get(seed)
            if not group:  # trained with its chunk, already stored
                continue
            for task in group:
                _write(task.path, _record(task, prof, config, outcome, worker, registry))
            say(
                f"{group[0].experiment}/{group[0].config_id} seed {seed}: "
                f"{outcome['timings']['total_s']:.1f} s"
            )
            if bar is not None:
                bar.update(1)

    try:
        if jobs == 1:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            worker = {**parent, "torch_threads": torch.get_num_threads()}
            try:
                for config, seeds, todo in jobs_to_do:
                    outcomes = execute_seeds(config, seeds, device=device)
                    finish(config, seeds, todo, outcomes, worker)
            finally:
                torch.set_num_threads(previous)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            pool = ProcessPoolExecutor(
                jobs,
                mp_context=mp.get_context("spawn"),
                initializer=_worker_init,
                initargs=(threads,),
            )
            with _terminate_on(signal.SIGTERM):
                try:
                    futures = {
                        pool.submit(_execute_job, config.to_dict(), seeds, device): (
                            config,
                            seeds,
                            todo,
                        )
                        for config, seeds, todo in jobs_to_do
                    }
                    for future in as_completed(futures):
                        config, seeds, todo = futures[future]
                        outcomes = [dict(o) for o in future.result()]
                        worker = outcomes[0]["worker"]
                        for outcome in outcomes:
                            outcome.pop("worker")
                        finish(config, seeds, todo, outcomes, worker)
                except BaseException:
                    # stopped (Ctrl-C, SIGTERM, an error): end the workers now instead of waiting
                    # minutes for their runs; finished results are already written
                    _stop_pool(pool)
                    raise
                pool.shutdown(wait=True)
    finally:
        if bar is not None:
            bar.close()
    return StudySummary(
        tasks=len(tasks),
        skipped=skipped,
        trained=len(pending),
        copied=copied,
        seconds=time.perf_counter() - start,
        results_dir=out,
    )


# ------------------------------------------------------------------------------------------------
# the command line


def add_study_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``study run``, ``report``, ``preregister`` and ``deviate`` on an ``argparse``
    subparsers object."""
    parser = subparsers.add_parser(
        "study",
        help="run the reproducibility study or print its verdicts",
        description="The reproducibility study: experiments from rvit.study.registry.",
    )
    commands = parser.add_subparsers(dest="study_command", required=True)
    run = commands.add_parser("run", help="run experiments (resumable)")
    run.add_argument(
        "names", nargs="*", help=f"experiments (default: all of {', '.join(EXPERIMENTS)})"
    )
    run.add_argument("--profile", default="smoke", choices=tuple(PROFILES))
    run.add_argument("--jobs", type=int, default=1, help="runs trained in parallel (default 1)")
    run.add_argument(
        "--threads", type=int, default=None, help="torch threads per run (default: cores / jobs)"
    )
    run.add_argument("--results-dir", default=None, help="where the JSON files go")
    run.add_argument("--device", default="cpu", help="cpu, cuda, auto (default cpu)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument(
        "--allow-dirty",
        action="store_true",
        help="run even if the git tree has uncommitted changes (the results will say so)",
    )
    report = commands.add_parser("report", help="print the verdict tables")
    report.add_argument("--profile", default="book", choices=tuple(PROFILES))
    report.add_argument("--results-dir", default=None, help="where the JSON files are")
    prereg = commands.add_parser(
        "preregister",
        help="write a profile's pre-registration (before any result of it exists)",
        description="Write study/preregistration-<profile>.md from the registry: per claim the "
        "primary reading, its direction, smallest effect of interest and margin, the seeds, the "
        "analysis rule and the registry hash. Commit and tag it before the study runs.",
    )
    prereg.add_argument("--profile", required=True, choices=tuple(PROFILES))
    prereg.add_argument(
        "--smallest-effect",
        type=float,
        default=None,
        help="smallest effect of interest of the accuracy readings that state none in the "
        "registry (0.02: 2 points)",
    )
    prereg.add_argument(
        "--results-dir", default=None, help="where the profile's results go (none may exist yet)"
    )
    prereg.add_argument(
        "--dir", dest="folder", default=None, help="where the document goes (default: study/)"
    )
    prereg.add_argument(
        "--overwrite", action="store_true", help="replace a document not yet committed"
    )
    deviate = commands.add_parser(
        "deviate",
        help="record a deviation from a profile's pre-registration",
        description="Append to study/deviations-<profile>.yaml an entry that accepts the "
        "registry's current hash: the date, what changed, why, and whether it was decided before "
        "or after any result existed.",
    )
    deviate.add_argument("--profile", required=True, choices=tuple(PROFILES))
    deviate.add_argument("--what", required=True, help="what changed")
    deviate.add_argument("--why", required=True, help="why it changed")
    deviate.add_argument(
        "--decided",
        choices=("before", "after"),
        default=None,
        help="before or after any result existed (default: after when a result exists)",
    )
    deviate.add_argument("--results-dir", default=None, help="where the profile's results are")
    deviate.add_argument(
        "--dir", dest="folder", default=None, help="where the log goes (default: study/)"
    )
    parser.set_defaults(func=study_command)
    return parser


def study_command(args: argparse.Namespace) -> int:
    """Carry out ``study run``, ``report``, ``preregister`` or ``deviate`` for parsed ``args``."""
    if args.study_command == "preregister":
        path = write_preregistration(
            args.profile,
            args.smallest_effect,
            folder=args.folder,
            results_dir=args.results_dir,
            overwrite=args.overwrite,
        )
        print(
            f"wrote {path}; commit it and tag the commit (git tag "
            f"study-{args.profile}-preregistration) before the study runs"
        )
        return 0
    if args.study_command == "deviate":
        entry = record_deviation(
            args.profile,
            args.what,
            args.why,
            decided=args.decided,
            folder=args.folder,
            results_dir=args.results_dir,
        )
        print(
            f"recorded a deviation ({entry.decided}) accepting registry hash "
            f"{entry.registry_hash}; commit the log"
        )
        return 0
    if args.study_command == "run":
        summary = run_study(
            args.names,
            profile=args.profile,
            results_dir=args.results_dir,
            jobs=args.jobs,
            device=args.device,
            progress=not args.no_progress,
            log=lambda message: print(message, flush=True),
            threads=args.threads,
            allow_dirty=args.allow_dirty,
        )
        print(
            f"{summary.tasks} results planned: {summary.trained} runs trained, {summary.copied} "
            f"copied from shared runs, {summary.skipped} already done; {summary.seconds:.0f} s; "
            f"results in {summary.results_dir}"
        )
        return 0
    from rvit.study.report import print_report

    print_report(args.profile, args.results_dir)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rvit.study.runner run|report ...`` (the same as ``python -m rvit study ...``)."""
    parser = argparse.ArgumentParser(prog="rvit")
    add_study_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
