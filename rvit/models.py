"""The table of video classifiers: one name per model class, and the one way to build them (chapter 5).

:data:`MODELS` maps each model's name (``"rvit"``, ``"framevit"``, ``"clipvit"``) to its class. The
command line's ``--model``, the study's run specs (``{"arch": ...}``), checkpoints (which store the
class's path, e.g. ``"rvit.model.RViT"``) and the parameter table all read it, so a new model is one
entry here.
"""

from __future__ import annotations

from typing import Any

import torch

from rvit.baselines import ClipViT, FrameViT
from rvit.config import SIZES, RViTConfig
from rvit.model import RViT
from rvit.streaming import StreamingClassifier

__all__ = ["MODELS", "build_model", "class_path", "model_class", "parameter_table"]

MODELS: dict[str, type[StreamingClassifier]] = {
    "rvit": RViT,
    "framevit": FrameViT,
    "clipvit": ClipViT,
}
"""Every video classifier of the package, by name."""


def model_class(kind: str) -> type[StreamingClassifier]:
    """The class of the model named ``kind``; raises ``ValueError`` for an unknown name."""
    if kind not in MODELS:
        raise ValueError(f"model {kind!r} is unknown; choose one of {sorted(MODELS)}")
    return MODELS[kind]


def build_model(kind: str, cfg: RViTConfig) -> StreamingClassifier:
    """The model named ``kind`` (a key of :data:`MODELS`) built from ``cfg``."""
    return model_class(kind)(cfg)


def class_path(cls: type) -> str:
    """``"module.ClassName"`` of a class, as checkpoints store it (e.g. ``"rvit.model.RViT"``)."""
    return f"{cls.__module__}.{cls.__qualname__}"


def parameter_table(num_classes: int = 10, image_size: int = 32) -> list[dict[str, Any]]:
    """Parameter counts of every model of :data:`MODELS` for every size and both presets.

    The models are really built, on PyTorch's ``meta`` device (shapes without memory), so the counts
    are exact and even ``base`` takes well under a second. Returns one dict per (size, preset, model)
    with keys ``size, preset, model, dim, depth, heads, parameters``.
    """
    rows = []
    for size in SIZES:
        for preset in ("paper", "variant"):
            cfg = getattr(RViTConfig, preset)(num_classes, image_size=image_size, size=size)
            for cls in MODELS.values():
                with torch.device("meta"):
                    model = cls(cfg)
                rows.append(
                    {
                        "size": size,
                        "preset": preset,
                        "model": cls.__name__,
                        "dim": cfg.dim,
                        "depth": cfg.depth,
                        "heads": cfg.heads,
                        "parameters": model.num_parameters(),
                    }
                )
    return rows
