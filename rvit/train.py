"""Training: one loop for every way of feeding the model (videos, stills, pseudo-videos, frames).

The loop only ever sees clips ``(T, C, H, W)``; ``rvit.data.clips.as_training_set`` turns any data
set into such clips, so that training on still images and training on videos differ only in
``modality`` (one of ``rvit.data.clips.MODALITIES``).

:func:`fit` trains with AdamW, linear warm-up then cosine decay, label smoothing and gradient
clipping (mixed precision on CUDA), shows a progress bar, checkpoints atomically, resumes a stopped
run exactly, stops on a NaN loss, and runs unchanged under ``torchrun`` (DistributedDataParallel).

Reproducibility: every sample's augmentation is seeded from ``(seed, epoch, index)`` and drawn
with the caller's random state set aside (``rvit.data.loader.make_loader``). A sample therefore
looks the same whichever process, worker or batch loads it, so two runs with one seed give the
same weights with any ``num_workers``, and a run resumed in the middle of an epoch continues
exactly where it stopped.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from rvit.checkpoint import (
    capture_rng_state,
    check_model_config,
    load_checkpoint,
    model_class_path,
    model_config_dict,
    restore_rng_state,
    save_checkpoint,
    unwrap_model,
)
from rvit.data.augment import check_camera
from rvit.data.clips import MODALITIES, as_training_set, eval_view, stack_clips
from rvit.data.collate import pad_videos
from rvit.data.loader import make_loader
from rvit.distributed import DistributedContext
from rvit.utils import (
    atomic_write_text,
    make_generator,
    provenance,
    seed_everything,
    worker_init_fn,
)

__all__ = [
    "RUN_FILES",
    "History",
    "StepInfo",
    "TrainConfig",
    "fit",
    "load_run",
    "run_model",
    "save_run",
    "set_aside_run",
    "warmup_cosine",
]

# ----------------------------------------------------------------------------------------------
# configuration


@dataclass
class TrainConfig:
    """How to train. Every field has a default; :meth:`to_dict` / :meth:`from_dict` round-trip.

    ``frames`` is the clip length T for ``static_clip`` and ``pseudo_video``, the number of frames
    each video is resampled to for ``video`` (``None``: keep every frame), and the number of frames
    taken per video for ``frames`` (``None``: all). ``batch_size`` is per process under
    ``torchrun``. ``warmup_epochs`` may be fractional. ``max_steps`` stops early (smoke runs);
    the learning-rate schedule still follows ``epochs``, so a run stopped by ``max_steps`` resumes
    to the same result as one never stopped. ``camera`` sets the limits of the random camera move of
    ``pseudo_video`` (any of ``max_zoom``, ``max_shift``, ``max_rotation``; the rest, or all with
    ``None``, from ``rvit.data.CAMERA_LIMITS``). ``compile`` trains through ``torch.compile``
    (:func:`rvit.compile.compile_for_training`: a compile on the first step and for each new clip
    shape, then faster steps; the same results up to float rounding, the same checkpoints).
    ``restart`` trains afresh in a ``checkpoint_dir`` that holds another run: its files are moved
    aside first (:func:`set_aside_run`); without it, a ``last.pt`` there is resumed, and refused
    when it belongs to another run (another model, other settings or other data).
    """

    modality: str = "video"
    frames: int | None = None
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    grad_clip: float | None = 1.0
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    amp: bool = True
    checkpoint_dir: str | None = None
    checkpoint_every: int = 1
    variable_length: bool = True
    progress: bool = True
    max_steps: int | None = None
    camera: dict[str, float] | None = None
    compile: bool = False
    restart: bool = False

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.modality in ("static_clip", "pseudo_video") and self.frames is None:
            raise ValueError(f"modality {self.modality!r} needs frames=T (the clip length)")
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "checkpoint_every": self.checkpoint_every,
        }
        if self.frames is not None:
            positive["frames"] = self.frames
        if self.max_steps is not None:
            positive["max_steps"] = self.max_steps
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        for name in ("weight_decay", "warmup_epochs", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip!r}")
        if self.checkpoint_dir is not None:
            self.checkpoint_dir = os.fspath(self.checkpoint_dir)
        if self.camera is not None:
            self.camera = check_camera(self.camera)
        for name in ("compile", "restart"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of every field (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown TrainConfig fields {unknown}; expected some of {sorted(known)}"
            )
        return cls(**data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})


# ----------------------------------------------------------------------------------------------
# the forward pass


def run_model(
    model: nn.Module, videos: torch.Tensor, lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """``model(videos)`` or ``model(videos, lengths=lengths)``: ``(B, T, C, H, W) -> (B, K)``."""
    return model(videos) if lengths is None else model(videos, lengths=lengths)


# ----------------------------------------------------------------------------------------------
# optimisation


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate factor: linear warm-up to 1 over ``warmup_steps``, then cosine decay to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW. Not decayed: biases and norms (1-d), position tables and learned tokens, and what
    the model lists in ``no_weight_decay()`` (the timm convention)."""
    skip = set(getattr(model, "no_weight_decay", lambda: ())())
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        exempt = name in skip or any(part in skip for part in name.split("."))
        if parameter.ndim <= 1 or exempt or "pos_embed" in name or "token" in name:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, **_adamw_kernel(decay + no_decay))


def _adamw_kernel(parameters: list[torch.Tensor]) -> dict[str, bool]:
    """How AdamW updates the weights: ``fused`` (one kernel per weight doing the whole update in one
    pass over memory) on the CPU and CUDA, else ``foreach`` (one call per operation over all weights
    instead of a Python loop over each weight). A small model has dozens of small weights: the loop
    cost a tenth of its step, and the fused update takes a quarter of the foreach one's time at the
    study's sizes. The three give the same update up to float rounding."""
    devices = {p.device.type for p in parameters}
    if parameters and devices <= {"cpu", "cuda"} and all(p.is_floating_point() for p in parameters):
        return {"fused": True}
    return {"foreach": True}


# ----------------------------------------------------------------------------------------------
# history


@dataclass
class History:
    """What :func:`fit` returns: one record per epoch, the best one, the trained model.

    Each record has ``epoch, step, train_loss, train_acc, val_loss, val_acc, lr, seconds,
    samples_per_s`` (``val_*`` are ``None`` without a validation set). A run stopped by
    ``max_steps`` in the middle of an epoch ends with a record of that partial epoch.
    ``seconds`` is the wall-clock time the run took, when known (:func:`fit` measures it;
    :func:`load_run` reads it from the checkpoint :func:`save_run` wrote).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    model: nn.Module | None = None
    checkpoint_dir: Path | None = None
    seconds: float | None = None

    @property
    def best(self) -> dict[str, Any] | None:
        """The record with the highest ``val_acc`` (or the lowest ``train_loss`` without one)."""
        return _best_record(self.records)

    def to_frame(self) -> Any:
        """The records as a ``pandas.DataFrame``, one row per epoch."""
        import pandas as pd

        return pd.DataFrame.from_records(self.records, columns=_RECORD_COLUMNS)

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the records as CSV, atomically."""
        return atomic_write_text(path, self.to_frame().to_csv(index=False))


_RECORD_COLUMNS = [
    "epoch",
    "step",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "seconds",
    "samples_per_s",
]


def _best_record(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not records:
        return None
    if any(record.get("val_acc") is not None for record in records):
        scored = [r for r in records if r.get("val_acc") is not None]
        return max(scored, key=lambda r: r["val_acc"])  # first of equals
    return min(records, key=lambda r: r["train_loss"])


@dataclass
class StepInfo:
    """Passed to every callback after each optimisation step (``model`` is unwrapped)."""

    epoch: int
    batch: int
    step: int
    loss: float
    lr: float
    model: nn.Module


# ----------------------------------------------------------------------------------------------
# interruption


class _DeferredInterrupt:
    """Turns the first Ctrl-C into a request honoured between steps; a second one stops at once,
    except while the weights and the recorded position are out of step.

    From the optimiser step until the position (step, batch, totals, random state) records it, and
    while an epoch's end is recorded, the state is :meth:`hold`-ed: a second Ctrl-C then waits for
    :meth:`release` (a few milliseconds), so the checkpoint written on the way out always pairs
    the weights and optimiser with the position they belong to. ``held`` also tells the way out
    that an interruption came from inside such a moment by another route (a ``KeyboardInterrupt``
    raised directly), when no consistent state can be written.
    """

    def __init__(self) -> None:
        self.requested = False
        self.held = False
        self._pending = False
        self._previous: Any = None

    def __enter__(self) -> _DeferredInterrupt:
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            if self.held:
                self._pending = True
                return
            raise KeyboardInterrupt
        self.requested = True

    def hold(self) -> None:
        """From here on the weights may be ahead of the recorded position: a Ctrl-C waits."""
        self.held = True

    def release(self) -> None:
        """The position records the weights again; a Ctrl-C that waited stops now."""
        self.held = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# ----------------------------------------------------------------------------------------------
# the loop


@dataclass
class _Position:
    """Where training stands; a checkpoint stores it."""

    epoch: int = 0  # epoch in progress (0-based)
    batch: int = 0  # batches done in that epoch
    step: int = 0  # optimisation steps done in total
    totals: dict[str, float] = field(default_factory=lambda: _zero_totals())
    history: list[dict[str, Any]] = field(default_factory=list)


def _zero_totals() -> dict[str, float]:
    return {"loss": 0.0, "correct": 0.0, "count": 0.0, "seconds": 0.0}


class _Trainer:
    """State and steps of one :func:`fit` call."""

    def __init__(
        self,
        model: nn.Module,
        train_set: Dataset,
        val_set: Dataset | None,
        config: TrainConfig,
        callbacks: Sequence[Callable[[StepInfo], None]],
        classes: list[str] | None,
    ) -> None:
        self.config = config
        self.callbacks = list(callbacks)
        self.ctx = DistributedContext.from_env(config.device)
        self.device = self.ctx.device(config.device)
        self.classes = classes if classes is not None else _class_names(train_set)
        self.data = _data_identity(train_set)
        self.checkpoint_dir = Path(config.checkpoint_dir) if config.checkpoint_dir else None
        self.interrupt = _DeferredInterrupt()
        seed_everything(config.seed)

        clips = as_training_set(train_set, config.modality, config.frames, config.camera)
        self.val_clips = (
            eval_view(val_set, config.modality, config.frames) if val_set is not None else None
        )
        self.loader, self.sampler, self.generator = make_loader(
            clips,
            config.batch_size,
            shuffle=True,
            seed=config.seed,
            variable_length=config.variable_length,
            num_workers=config.num_workers,
            pin_memory=self.device.type == "cuda",
            world_size=self.ctx.world_size,
            rank=self.ctx.rank,
        )
        self.steps_per_epoch = math.ceil(len(self.sampler.sampler) / config.batch_size)
        total_steps = self.steps_per_epoch * config.epochs
        warmup_steps = round(config.warmup_epochs * self.steps_per_epoch)

        self.model = model.to(self.device)
        self.optimizer = _make_optimizer(self.model, config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: warmup_cosine(step, warmup_steps, total_steps)
        )
        self.use_amp = config.amp and self.device.type == "cuda"
        self.amp_dtype = (
            torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported() else torch.float16
        )
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.use_amp and self.amp_dtype == torch.float16
        )
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.position = _Position()
        self.epoch_start_generator = self.generator.get_state()
        self.boundary_rng = capture_rng_state(self.generator)
        if config.restart and self.checkpoint_dir is not None and self.ctx.is_main:
            set_aside_run(self.checkpoint_dir)
        self._resume_if_possible()
        self.net: nn.Module = self.model
        if self.ctx.enabled:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
        if config.compile:  # the optimiser step calls the compiled module; self.model is saved
            from rvit.compile import compile_for_training

            self.net = compile_for_training(self.net)

    # -- checkpoints ---------------------------------------------------------------------------

    def _resume_if_possible(self) -> None:
        """Continue the run whose ``last.pt`` is in the checkpoint folder, if it is this run.

        A ``last.pt`` of another model, other training settings or other data is refused, naming
        each difference: resuming it would train one run's weights on with another's settings or
        data and report the mixture as a result. ``restart=True`` sets such files aside instead
        (other processes of a ``torchrun`` job, which do not move files, then skip resuming)."""
        if self.checkpoint_dir is None or self.config.restart:
            return
        path = self.checkpoint_dir / "last.pt"
        if not path.is_file():
            return
        checkpoint = load_checkpoint(path, map_location="cpu")
        differences = self._differences(checkpoint)
        if differences:
            raise ValueError(
                f"'{path}' is another run, not resumed: {'; '.join(differences)}; to train "
                f"afresh there, use restart=True (rvit train --restart), which moves its "
                f"{', '.join(RUN_FILES)} aside into '{_aside_folder(self.checkpoint_dir)}', or "
                "choose another folder"
            )
        if "checksums" not in checkpoint:
            warnings.warn(
                f"'{path}' has no checksum of its training state (written by an older rvit): "
                "its optimiser state and position are resumed unchecked",
                stacklevel=3,
            )
        self.model.load_state_dict(checkpoint["model_state"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.position = _Position(
            epoch=checkpoint["epoch"],
            batch=checkpoint["batch"],
            step=checkpoint["step"],
            totals=dict(checkpoint["totals"]),
            history=list(checkpoint["history"]),
        )
        restore_rng_state(checkpoint["rng"], self.generator)
        self.epoch_start_generator = self.generator.get_state()
        self.boundary_rng = checkpoint["rng"]

    def _differences(self, checkpoint: dict[str, Any]) -> list[str]:
        """What tells the run saved in ``checkpoint`` from this one: model, settings, data.

        Settings in ``_RESUME_FREE`` may change; an entry an older file does not hold (its data
        identity, a setting added since) is not compared."""
        found = []
        saved_class, model_class = checkpoint.get("model_class"), model_class_path(self.model)
        if saved_class is not None and saved_class != model_class:
            found.append(f"model {saved_class} (checkpoint) vs {model_class} (model)")
        saved_model = checkpoint.get("model_config")
        model = model_config_dict(self.model)
        if saved_model is not None and model is not None and saved_class in (None, model_class):
            found += [
                f"model config {key}={saved_model.get(key)!r} (checkpoint) vs {model.get(key)!r} "
                "(model)"
                for key in sorted(set(saved_model) | set(model))
                if saved_model.get(key) != model.get(key)
            ]
        settings = self.config.to_dict()
        found += [
            f"training setting {key}={value!r} (checkpoint) vs {settings[key]!r} (now)"
            for key, value in (checkpoint.get("train_config") or {}).items()
            if key not in _RESUME_FREE and key in settings and settings[key] != value
        ]
        saved_classes = checkpoint.get("classes")
        if saved_classes is not None and self.classes is not None:
            found += _class_differences(list(saved_classes), list(self.classes))
        saved_data = checkpoint.get("data") or {}
        for key, name in (("samples", "training samples"), ("fingerprint", "data fingerprint")):
            if key in saved_data and saved_data[key] != self.data[key]:
                found.append(f"{name} {saved_data[key]} (checkpoint) vs {self.data[key]} (now)")
        return found

    def save(self, name: str, rng: dict[str, Any] | None = None) -> Path | None:
        """Write ``name`` (``last.pt`` / ``best.pt``) on the main process; returns its path."""
        if self.checkpoint_dir is None or not self.ctx.is_main:
            return None
        self._check_finite()
        rng = dict(rng if rng is not None else capture_rng_state(self.generator))
        if self.position.batch > 0:  # mid-epoch: replaying the epoch needs its starting state
            rng["generator"] = self.epoch_start_generator
        return save_checkpoint(
            self.checkpoint_dir / name,
            self.model,
            classes=self.classes,
            train_config=self.config.to_dict(),
            data=dict(self.data),
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            epoch=self.position.epoch,
            batch=self.position.batch,
            step=self.position.step,
            totals=dict(self.position.totals),
            history=list(self.position.history),
            best=_best_record(self.position.history),
            rng=rng,
            provenance=provenance({"world_size": self.ctx.world_size}),
        )

    def write_history(self, records: list[dict[str, Any]]) -> None:
        if self.checkpoint_dir is not None and self.ctx.is_main:
            History(records).to_csv(self.checkpoint_dir / "history.csv")

    # -- one step -------------------------------------------------------------------------------

    def train_step(
        self, videos: torch.Tensor, lengths: torch.Tensor | None, labels: torch.Tensor
    ) -> tuple[float, float, int]:
        """One optimisation step on a batch.

        Returns (mean loss of this process, mean loss over all processes, correct predictions here).
        """
        videos = videos.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        if lengths is not None:
            lengths = lengths.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            logits = run_model(self.net, videos, lengths)  # (B, K)
            loss = self.criterion(logits.float(), labels)
        local_loss = loss.item()
        loss_value = self.ctx.all_sum([local_loss], self.device)[0] / self.ctx.world_size
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"training loss is {loss_value} at {self._next_step()}{self._kept()}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        norm = None
        if self.config.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        if not self.scaler.is_enabled():  # a scaler skips the steps whose gradients overflowed
            self._check_gradients(norm, loss_value)
        # The weights change here and the position records it in run_epoch: a Ctrl-C waits.
        self.interrupt.hold()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        correct = int((logits.argmax(dim=-1) == labels).sum())
        return local_loss, loss_value, correct

    def _check_gradients(self, norm: torch.Tensor | None, loss_value: float) -> None:
        """Refuse a step with non-finite gradients, which a finite loss can still give: it
        would make every weight NaN, and the end of the epoch would save them."""
        if norm is None:
            grads = [p.grad for p in self.model.parameters() if p.grad is not None]
            if not grads:
                return
            norm = nn.utils.get_total_norm(grads)
        if not torch.isfinite(norm):
            raise FloatingPointError(
                f"gradient norm is {float(norm)} (loss {loss_value:.4g}) at {self._next_step()}"
                f"{self._kept()}"
            )

    def _next_step(self) -> str:
        position = self.position
        return f"epoch {position.epoch + 1}, batch {position.batch + 1} (step {position.step + 1})"

    def _kept(self) -> str:
        if self.checkpoint_dir is None:
            return ""
        return f"; the last good checkpoint is kept in '{self.checkpoint_dir}'"

    def _not_finite(self) -> list[str]:
        """The weights and optimiser states holding a NaN or an infinity (names)."""
        found = [
            name
            for name, tensor in self.model.state_dict().items()
            if tensor.is_floating_point() and not torch.isfinite(tensor).all()
        ]
        for index, state in enumerate(self.optimizer.state.values()):
            found += [
                f"optimizer state {index} {key}"
                for key, tensor in state.items()
                if torch.is_tensor(tensor)
                and tensor.is_floating_point()
                and not torch.isfinite(tensor).all()
            ]
        return found

    def _check_finite(self) -> None:
        """Raise ``FloatingPointError`` before any file is written of a state that is not finite."""
        found = self._not_finite()
        if found:
            raise FloatingPointError(
                f"{_some(found)} {'are' if len(found) > 1 else 'is'} not finite after step "
                f"{self.position.step}: nothing written{self._kept()}"
            )

    # -- validation -----------------------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> tuple[float | None, float | None]:
        """Mean cross-entropy (without smoothing) and accuracy on the validation set."""
        if self.val_clips is None:
            return None, None
        shard = Subset(
            self.val_clips, range(self.ctx.rank, len(self.val_clips), self.ctx.world_size)
        )
        loader = DataLoader(
            shard,
            batch_size=self.config.batch_size,
            collate_fn=pad_videos if self.config.variable_length else stack_clips,
            num_workers=self.config.num_workers,
            generator=make_generator(self.config.seed),
            worker_init_fn=worker_init_fn,
        )
        self.model.eval()
        loss_sum, correct, count = 0.0, 0.0, 0.0
        for videos, lengths, labels in loader:
            videos, labels = videos.to(self.device), labels.to(self.device)
            lengths = lengths.to(self.device) if lengths is not None else None
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
                logits = run_model(self.model, videos, lengths).float()  # (B, K)
            loss_sum += float(nn.functional.cross_entropy(logits, labels, reduction="sum"))
            correct += float((logits.argmax(dim=-1) == labels).sum())
            count += labels.numel()
        self.model.train()
        loss_sum, correct, count = self.ctx.all_sum([loss_sum, correct, count], self.device)
        if count == 0:
            return None, None
        return loss_sum / count, correct / count

    def epoch_record(self) -> dict[str, Any]:
        totals = self.ctx.all_sum(
            [self.position.totals[k] for k in ("loss", "correct", "count")], self.device
        )
        loss_sum, correct, count = totals
        seconds = self.position.totals["seconds"]
        val_loss, val_acc = self.validate()
        return {
            "epoch": self.position.epoch + 1,
            "step": self.position.step,
            "train_loss": loss_sum / count if count else None,
            "train_acc": correct / count if count else None,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": self.optimizer.param_groups[0]["lr"],
            "seconds": seconds,
            "samples_per_s": count / seconds if seconds > 0 else None,
        }

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> History:
        config = self.config
        total_steps = self.steps_per_epoch * config.epochs
        bar = _progress_bar(
            total=total_steps,
            initial=self.position.step,
            enabled=config.progress and self.ctx.is_main,
        )
        stopped_early = config.max_steps is not None and self.position.step >= config.max_steps
        try:
            with self.interrupt as interrupt:
                while self.position.epoch < config.epochs and not stopped_early:
                    stopped_early = self.run_epoch(bar, interrupt)
        except KeyboardInterrupt:
            self._save_on_interrupt()
            raise
        finally:
            if bar is not None:
                bar.close()
        records = list(self.position.history)
        if stopped_early and self.position.batch > 0:
            records.append(self.epoch_record())
        self.write_history(records)
        self.model.eval()
        self.ctx.close()
        return History(records, unwrap_model(self.model), self.checkpoint_dir)

    def _save_on_interrupt(self) -> None:
        """``last.pt`` on Ctrl-C, when weights, optimiser and position are one consistent state.

        A second Ctrl-C waits while they are out of step (``_DeferredInterrupt.hold``); an
        interruption that still arrives then (raised by other means), or one after the weights
        became non-finite, leaves the last checkpoint on disk as it is."""
        if self.checkpoint_dir is None or not self.ctx.is_main:
            return
        reason = ""
        if self.interrupt.held:
            reason = "inside an optimisation step (the weights may be ahead of the position)"
        elif self._not_finite():
            reason = "after the weights became non-finite"
        if reason:
            kept = self._kept().removeprefix("; ")
            warnings.warn(f"interrupted {reason}: last.pt not written; {kept}", stacklevel=3)
            return
        self.save("last.pt", rng=self.boundary_rng)

    def run_epoch(self, bar: Any, interrupt: _DeferredInterrupt) -> bool:
        """Train the epoch in progress from where it stands; returns True when stopped early."""
        config, position = self.config, self.position
        self.sampler.set_epoch(position.epoch)
        self.sampler.start = position.batch * config.batch_size
        self.epoch_start_generator = (
            self.epoch_start_generator if position.batch > 0 else self.generator.get_state()
        )
        self.net.train()
        tick = time.perf_counter()
        for videos, lengths, labels in self.loader:
            local_loss, loss, correct = self.train_step(videos, lengths, labels)
            batch_size = labels.numel()
            position.totals["loss"] += local_loss * batch_size
            position.totals["correct"] += correct
            position.totals["count"] += batch_size
            now = time.perf_counter()
            position.totals["seconds"] += now - tick
            tick = now
            position.batch += 1
            position.step += 1
            self.boundary_rng = capture_rng_state(self.generator)
            interrupt.release()  # the position records the step: a Ctrl-C that waited stops here
            lr = self.optimizer.param_groups[0]["lr"]
            if bar is not None:
                bar.update(1)
                totals = position.totals
                bar.set_postfix(
                    epoch=position.epoch + 1,
                    loss=f"{totals['loss'] / totals['count']:.3f}",
                    acc=f"{totals['correct'] / totals['count']:.3f}",
                    lr=f"{lr:.2e}",
                    refresh=False,
                )
            info = StepInfo(position.epoch, position.batch, position.step, loss, lr, self.model)
            for callback in self.callbacks:
                callback(info)
            if interrupt.requested:
                raise KeyboardInterrupt
            if config.max_steps is not None and position.step >= config.max_steps:
                if position.batch < self.steps_per_epoch:
                    self.save("last.pt")
                    return True
                break
            tick = time.perf_counter()
        self.end_epoch(bar)
        return config.max_steps is not None and position.step >= config.max_steps

    def end_epoch(self, bar: Any) -> None:
        self._check_finite()  # before history.csv, last.pt or best.pt is written
        record = self.epoch_record()
        position = self.position
        self.interrupt.hold()
        position.history.append(record)
        position.epoch += 1
        position.batch = 0
        position.totals = _zero_totals()
        self.boundary_rng = capture_rng_state(self.generator)
        self.interrupt.release()
        if bar is not None:
            shown = {k: v for k, v in record.items() if k not in ("lr", "step")}
            bar.write(" ".join(f"{k}={_short(v)}" for k, v in shown.items()))
        self.write_history(position.history)
        last = position.epoch == self.config.epochs
        if position.epoch % self.config.checkpoint_every == 0 or last:
            self.save("last.pt")
        if _best_record(position.history) is record:
            self.save("best.pt")


_RESUME_FREE = {
    "progress",
    "num_workers",
    "device",
    "checkpoint_dir",
    "max_steps",
    "amp",
    "compile",
    "restart",
}


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True)


def _class_names(dataset: Dataset) -> list[str] | None:
    classes = getattr(dataset, "classes", None)
    return [str(name) for name in classes] if classes is not None else None


def _class_differences(saved: list[str], now: list[str]) -> list[str]:
    """The class names that tell two runs apart, briefly (a data set may have hundreds)."""
    if saved == now:
        return []
    gone = [name for name in saved if name not in now]
    new = [name for name in now if name not in saved]
    if not gone and not new:
        return ["classes in another order (the labels mean other classes)"]
    found = [f"{len(saved)} classes (checkpoint) vs {len(now)} (now)"]
    if gone:
        found.append(f"classes only in the checkpoint: {_some(gone)}")
    if new:
        found.append(f"classes only now: {_some(new)}")
    return found


def _some(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(repr(name) for name in names[:shown]) + more


def _data_identity(dataset: Dataset) -> dict[str, Any]:
    """What a checkpoint records of its training data, for a resume to compare.

    ``samples``: the number of training samples. ``fingerprint``: the start of a SHA-256 of what
    the data set says of itself without reading a sample: its class and ``repr`` (a synthetic
    set's seed, size and difficulty; that of the sets it wraps), its labels (``targets``), and of
    each file it reads (``samples``) the class folder and file name, so that the same files found
    under another root (a moved data folder) keep the fingerprint. A ``repr`` that only gives the
    object's address is left out."""
    digest = hashlib.sha256()
    layer: Any = dataset
    for _ in range(4):  # a view and the sets it wraps
        kind = type(layer)
        digest.update(f"{kind.__module__}.{kind.__qualname__};".encode())
        if kind.__repr__ is not object.__repr__:
            digest.update(_ADDRESS.sub("", repr(layer)).encode())
        own = getattr(layer, "__dict__", {})  # not what a view forwards from the set it wraps
        layer = own.get("dataset", own.get("base"))
        if not isinstance(layer, Dataset):
            break
    targets = getattr(dataset, "targets", None)
    if isinstance(targets, list | tuple | torch.Tensor):
        digest.update(repr([int(label) for label in targets]).encode())
    samples = getattr(dataset, "samples", None)
    if isinstance(samples, list | tuple):
        for sample in samples:
            path = Path(str(sample[0] if isinstance(sample, list | tuple) else sample))
            digest.update(f"{path.parent.name}/{path.name};".encode())
    return {"samples": len(dataset), "fingerprint": digest.hexdigest()[:16]}  # type: ignore[arg-type]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

#: The files of a run in its checkpoint folder (``metrics.json``: ``rvit train``'s summary of it).
RUN_FILES = ("last.pt", "best.pt", "history.csv", "metrics.json")


def _aside_folder(folder: Path) -> Path:
    """``folder/replaced-N``, N the first number not taken yet."""
    number = 1
    while (folder / f"replaced-{number}").exists():
        number += 1
    return folder / f"replaced-{number}"


def set_aside_run(folder: str | os.PathLike) -> Path | None:
    """Move the files of the run in ``folder`` (:data:`RUN_FILES`) into ``folder/replaced-N``.

    Nothing is deleted: an earlier run that a new one replaces stays readable, and each restart
    gets its own ``replaced-N``. Returns that folder, or ``None`` when there was nothing to move.
    """
    folder = Path(folder)
    present = [folder / name for name in RUN_FILES if (folder / name).is_file()]
    if not present:
        return None
    aside = _aside_folder(folder)
    aside.mkdir()
    for path in present:
        path.replace(aside / path.name)
    return aside


def fit(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset | None = None,
    config: TrainConfig | None = None,
    *,
    callbacks: Sequence[Callable[[StepInfo], None]] = (),
    classes: list[str] | None = None,
) -> History:
    """Train ``model`` on ``train_set``; returns the :class:`History` (with the trained model).

    Args:
        model: maps ``(B, T, C, H, W)`` clips (and optional ``lengths=(B,)``) to logits ``(B, K)``.
        train_set: items ``(input, label)``; turned into clips by :func:`as_training_set`.
        val_set: optional; validated after each epoch with the batched forward pass. Videos are
            used as they are, stills as the training modality shows them (without randomness).
        config: a :class:`TrainConfig` (defaults when ``None``).
        callbacks: called with a :class:`StepInfo` after every optimisation step.
        classes: class names stored in checkpoints (default: ``train_set.classes``).

    With ``config.checkpoint_dir``, ``last.pt`` is written every ``checkpoint_every`` epochs, at
    the end, when ``max_steps`` stops the run and on Ctrl-C (``KeyboardInterrupt`` is re-raised
    after saving); ``best.pt`` when the validation accuracy improves; ``history.csv`` after each
    epoch. If ``last.pt`` already exists, training resumes from it when it is a checkpoint of
    this run (the same model config, settings and data; ``ValueError`` otherwise, naming each
    difference; ``config.restart`` moves such files aside and trains afresh). A non-finite loss
    or gradient raises ``FloatingPointError`` before the bad step touches the weights, and no
    file is written of weights or optimiser states that are not finite, so the last good
    checkpoint is kept as it was.
    """
    config = config if config is not None else TrainConfig()
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    start = time.perf_counter()
    history = _Trainer(model, train_set, val_set, config, callbacks, classes).run()
    history.seconds = time.perf_counter() - start
    return history


# ----------------------------------------------------------------------------------------------
# a finished run, kept to be loaded instead of trained again


def save_run(
    path: str | os.PathLike, history: History, *, classes: list[str] | None = None
) -> Path:
    """Write a finished run to one checkpoint file: the trained model, its history and its time.

    :func:`rvit.checkpoint.load_model` rebuilds the model from the file, and :func:`load_run` gives
    the whole :class:`History` back, so a reader can skip training that was done before. The file's
    folder is created; an older file of the same name is replaced.
    """
    if history.model is None:
        raise ValueError("the history holds no model to save")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(
        path,
        history.model,
        classes=classes,
        history=list(history.records),
        seconds=history.seconds,
    )


def load_run(
    path: str | os.PathLike, model: nn.Module, *, classes: list[str] | None = None
) -> History:
    """Load a run that :func:`save_run` (or :func:`fit`'s ``last.pt``) wrote, instead of training.

    ``model`` must be of the class and config the file holds (it receives the weights); with
    ``classes``, so must the file's class names. Returns the run's :class:`History`, its model in
    eval mode. ``seconds`` is the time stored with the run, else the sum of its epochs' times.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable checkpoint, of another model, config or classes, or without the
            training history (each message names the file).
    """
    path = Path(path)
    checkpoint = load_checkpoint(path)
    check_model_config(model, checkpoint, f"'{path}'")
    stored = checkpoint.get("classes")
    if classes is not None and stored is not None and list(stored) != list(classes):
        raise ValueError(
            f"checkpoint '{path}' predicts other classes: {_some(list(stored))} "
            f"(the file) vs {_some(list(classes))} (expected)"
        )
    records = checkpoint.get("history")
    if not records:
        raise ValueError(
            f"checkpoint '{path}' holds no training history; write it with "
            "rvit.train.save_run, or train again"
        )
    unwrap_model(model).load_state_dict(checkpoint["model_state"])
    seconds = checkpoint.get("seconds")
    if seconds is None:
        seconds = sum(float(record.get("seconds") or 0.0) for record in records)
    return History(list(records), model.eval(), None, float(seconds))
