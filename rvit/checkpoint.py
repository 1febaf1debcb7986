"""Checkpoints: everything needed to rebuild a model or to resume its training exactly.

A checkpoint is one ``torch.save`` file holding a plain dict:

* ``model_class`` (``"rvit.model.RViT"``), ``model_config`` (``cfg.to_dict()``), ``model_state``;
* ``classes``: the class names the model predicts, when known;
* for resuming: ``train_config``, ``optimizer``, ``scheduler``, ``scaler``, the position
  (``epoch``, ``batch``, ``step``), the epoch's running totals, ``history`` and ``best``;
* ``rng``: every random state (Python, NumPy, torch CPU, each CUDA device, the ``DataLoader``
  generator), so a resumed run draws the same numbers as one that was never stopped;
* ``provenance``: code version, packages and hardware;
* ``model_state_sha256``: a checksum of every weight tensor (names, dtypes, shapes and bytes),
  verified on load, so a damaged file is refused instead of evaluated;
* ``checksums``: one checksum per other entry (optimiser, scheduler, scaler, random states,
  position, totals, history, configs, ``model_state_sha256`` itself, ...), verified on load too, so
  a resumed run never starts from a damaged optimiser state or position. Files written before
  these were stored load as they are (training from one warns that its state is unchecked).

Only tensors and plain Python values are stored, so ``torch.load(weights_only=True)`` reads it.
Files are written atomically (:func:`rvit.utils.atomic_save`).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rvit.models import MODELS, class_path
from rvit.utils import atomic_save

__all__ = [
    "FORMAT_VERSION",
    "capture_rng_state",
    "entry_checksum",
    "state_checksum",
    "check_model_config",
    "load_checkpoint",
    "load_model",
    "load_weights",
    "model_class_path",
    "model_config_dict",
    "restore_rng_state",
    "save_checkpoint",
    "unwrap_model",
]

FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------------
# random states


def capture_rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every random state of this process, plus ``generator`` (the ``DataLoader``'s) if given."""
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()  # noqa: NPY002 (the legacy global generator is what we seed)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": generator.get_state() if generator is not None else None,
    }
    return state


def restore_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Put back the random states saved by :func:`capture_rng_state`."""
    random.setstate(_as_tuple(state["python"]))
    numpy_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002 (the legacy global generator is what we seed)
        (
            numpy_state["name"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available():
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:  # another number of GPUs: each process restores the state of its own device
            torch.cuda.set_rng_state(cuda_states[0])
    if generator is not None and state.get("generator") is not None:
        generator.set_state(state["generator"])


def _as_tuple(value: Any) -> Any:
    """``random.setstate`` wants nested tuples; a round trip through storage may give lists."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuple(item) for item in value)
    return value


# ----------------------------------------------------------------------------------------------
# model identity


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` / ``DataParallel`` wrapper, else ``model``."""
    while isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
        model = model.module
    return model


def model_class_path(model: nn.Module) -> str:
    """``"module.ClassName"`` of the (unwrapped) model, e.g. ``"rvit.model.RViT"``."""
    return class_path(type(unwrap_model(model)))


def model_config_dict(model: nn.Module) -> dict[str, Any] | None:
    """``model.cfg.to_dict()``, or ``None`` for a model without a config."""
    cfg = getattr(unwrap_model(model), "cfg", None)
    if cfg is None:
        return None
    if not hasattr(cfg, "to_dict"):
        raise ValueError(f"model.cfg of type {type(cfg).__name__} has no to_dict() method")
    return cfg.to_dict()


def _config_class_path(model: nn.Module) -> str | None:
    cfg = getattr(unwrap_model(model), "cfg", None)
    if cfg is None:
        return None
    return f"{type(cfg).__module__}.{type(cfg).__qualname__}"


def check_model_config(model: nn.Module, checkpoint: dict[str, Any], source: str = "") -> None:
    """Raise ``ValueError`` if ``checkpoint`` comes from another class or config than ``model``."""
    where = f" {source}" if source else ""
    expected_class = checkpoint.get("model_class")
    actual_class = model_class_path(model)
    if expected_class is not None and expected_class != actual_class:
        raise ValueError(
            f"checkpoint{where} holds a {expected_class}, not a {actual_class}; "
            "use rvit.checkpoint.load_model to rebuild the right class"
        )
    saved = checkpoint.get("model_config")
    actual = model_config_dict(model)
    if saved is None or actual is None or saved == actual:
        return
    keys = sorted(set(saved) | set(actual))
    diffs = [
        f"{key}={saved.get(key)!r} (checkpoint) vs {actual.get(key)!r} (model)"
        for key in keys
        if saved.get(key) != actual.get(key)
    ]
    raise ValueError(f"checkpoint{where} has another model config: " + "; ".join(diffs))


# ----------------------------------------------------------------------------------------------
# save and load


def state_checksum(state: dict[str, Any]) -> str:
    """SHA-256 over a state dict's tensors: each name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name]
        digest.update(name.encode())
        if not torch.is_tensor(tensor):
            digest.update(repr(tensor).encode())
            continue
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(
            tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        )
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    """Feed one stored value into ``digest``, unambiguously: each part says its kind and length.

    Tensors by dtype, shape and bytes; dicts by their keys (in a fixed order) and values; lists
    and tuples alike (a round trip through storage may turn one into the other); anything else
    (numbers, strings, None) by its ``repr``, which is exact for floats."""
    if torch.is_tensor(value):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)};".encode())
        data = tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        digest.update(f"{len(data)}:".encode())
        digest.update(data)
    elif isinstance(value, dict):
        digest.update(f"D{len(value)};".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, list | tuple):
        digest.update(f"L{len(value)};".encode())
        for item in value:
            _feed(digest, item)
    else:
        text = repr(value).encode()
        digest.update(f"V{len(text)}:".encode())
        digest.update(text)


def entry_checksum(value: Any) -> str:
    """SHA-256 of one checkpoint entry (any nesting of dicts, lists, tensors and plain values)."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


#: Entries that ``checksums`` does not cover: the weights have their own checksum
#: (``model_state_sha256``, which is covered), and ``checksums`` cannot cover itself.
_UNLISTED = ("model_state", "checksums")


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    classes: list[str] | None = None,
    **training: Any,
) -> Path:
    """Write a checkpoint of ``model`` (and, when given, the training state) atomically.

    ``training`` holds the resumable parts, stored under their own names: ``train_config``,
    ``optimizer`` / ``scheduler`` / ``scaler`` (objects with ``state_dict()`` or plain dicts),
    ``epoch``, ``batch``, ``step``, ``totals``, ``history``, ``best``, ``rng``, ``provenance``.
    """
    model = unwrap_model(model)
    payload: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "model_class": model_class_path(model),
        "model_config": model_config_dict(model),
        "config_class": _config_class_path(model),
        "model_state": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        "classes": list(classes) if classes is not None else None,
    }
    payload["model_state_sha256"] = state_checksum(payload["model_state"])
    for key, value in training.items():
        payload[key] = value.state_dict() if hasattr(value, "state_dict") else value
    payload["checksums"] = {
        key: entry_checksum(value) for key, value in payload.items() if key not in _UNLISTED
    }
    return atomic_save(payload, path)


#: Sentences of torch.load's errors that are advice, not the reason: loading with
#: ``weights_only=False`` or allow-listing the file's classes runs whatever code the file names, which
#: is unsafe for a damaged or foreign file and never needed for a checkpoint rvit wrote.
_TORCH_ADVICE = re.compile(
    r"weights_only|safe_globals|trust|documentation|pytorch\.org|file an issue|two options|"
    r"if you are seeing this error|this can happen",
    re.IGNORECASE,
)


def _torch_reason(error: BaseException) -> str:
    """What ``torch.load`` found wrong with a file, without its advice.

    A weights-only load that meets anything but tensors and plain values says why after
    ``WeightsUnpickler error:``, wrapped in advice to re-run with ``weights_only=False``; only the
    reason is kept (one line, terminal colour codes removed)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    text = text.split("WeightsUnpickler error:", 1)[-1]
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    reason = " ".join(s for s in sentences if s and not _TORCH_ADVICE.search(s))
    return reason.rstrip(".") or type(error).__name__


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (with ``weights_only=True``).

    The weights, and every other entry (optimiser, random states, position, ...), are checked
    against the checksums stored with them; a file without them (written before checksums were
    stored) is read as it is.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable checkpoint, damaged (checksum mismatch), or too new.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file '{path}' does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for a corrupt or foreign file
        raise ValueError(
            f"'{path}' is not a readable rvit checkpoint ({_torch_reason(error)}); it is damaged "
            "or was not written by rvit: use another copy (last.pt and best.pt are written "
            "separately)"
        ) from None
    if not isinstance(checkpoint, dict) or "model_state" not in checkpoint:
        raise ValueError(f"'{path}' is not an rvit checkpoint (no 'model_state' entry)")
    if checkpoint.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise ValueError(
            f"checkpoint '{path}' has format {checkpoint['format']}, newer than this rvit "
            f"({FORMAT_VERSION}); update rvit"
        )
    stored = checkpoint.get("model_state_sha256")
    if stored is not None and state_checksum(checkpoint["model_state"]) != stored:
        raise ValueError(
            f"checkpoint '{path}' is damaged: its weights do not match the checksum stored with "
            "them; use another copy (last.pt and best.pt are written separately)"
        )
    damaged = _damaged_entries(checkpoint)
    if damaged:
        many = len(damaged) > 1
        names = ", ".join(repr(name) for name in damaged)
        what = f"its entries {names} do" if many else f"its entry {names} does"
        raise ValueError(
            f"checkpoint '{path}' is damaged: {what} not match the checksum{'s' if many else ''} "
            "stored in the file; use another copy (last.pt and best.pt are written separately)"
        )
    return checkpoint


def _damaged_entries(checkpoint: dict[str, Any]) -> list[str]:
    """The entries whose checksum does not match (missing ones included); [] without checksums."""
    checksums = checkpoint.get("checksums")
    if checksums is None:
        return []
    if not isinstance(checksums, dict):
        return ["checksums"]
    return [
        str(key)
        for key, stored in checksums.items()
        if key not in checkpoint or entry_checksum(checkpoint[key]) != stored
    ]


def load_weights(
    model: nn.Module, checkpoint: str | os.PathLike | dict[str, Any], strict: bool = True
) -> nn.Module:
    """Load a checkpoint's weights into ``model`` after checking class and config; returns it."""
    source = ""
    if not isinstance(checkpoint, dict):
        source = f"'{checkpoint}'"
        checkpoint = load_checkpoint(checkpoint)
    check_model_config(model, checkpoint, source)
    unwrap_model(model).load_state_dict(checkpoint["model_state"], strict=strict)
    return model


def _resolve_class(path: str) -> type:
    module_name, _, class_name = path.rpartition(".")
    if not module_name.startswith("rvit") and os.environ.get("RVIT_ALLOW_FOREIGN_MODELS") != "1":
        raise ValueError(
            f"checkpoint names class {path!r} outside the rvit package; "
            "set RVIT_ALLOW_FOREIGN_MODELS=1 to load it anyway"
        )
    try:
        cls = getattr(import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ValueError(f"checkpoint names class {path!r}, which cannot be imported") from None
    return cls


def _resolve_model_class(path: str) -> type:
    """The model class a checkpoint names: one of :data:`rvit.models.MODELS`, found by its path.

    A class outside the package is imported only with ``RVIT_ALLOW_FOREIGN_MODELS=1``."""
    known = {class_path(cls): cls for cls in MODELS.values()}
    if path in known:
        return known[path]
    if path.startswith("rvit."):
        raise ValueError(
            f"checkpoint names class {path!r}, which is not a model of rvit.models.MODELS; "
            f"known: {sorted(known)}"
        )
    return _resolve_class(path)


def _rebuild_config(checkpoint: dict[str, Any]) -> Any:
    config = checkpoint.get("model_config")
    if config is None:
        return None
    config_class = _resolve_class(checkpoint.get("config_class") or "rvit.config.RViTConfig")
    return config_class.from_dict(config)


def load_model(
    path: str | os.PathLike, map_location: Any = "cpu", eval_mode: bool = True
) -> nn.Module:
    """Rebuild the model stored in a checkpoint: the right class, its config, its weights.

    The class names and config come from the file; the model is returned on ``map_location``
    and, by default, in eval mode. ``model.classes`` is set to the stored class names.
    """
    checkpoint = load_checkpoint(path, map_location="cpu")
    model_path = checkpoint.get("model_class")
    if not model_path:
        raise ValueError(f"checkpoint '{path}' does not name its model class")
    cls = _resolve_model_class(model_path)
    config = _rebuild_config(checkpoint)
    model = cls(config) if config is not None else cls()
    load_weights(model, checkpoint)
    model.classes = checkpoint.get("classes")
    model = model.to(map_location)
    return model.eval() if eval_mode else model
