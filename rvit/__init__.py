"""rvit: the Recurrent Vision Transformer (Yang et al., CVPR 2022), rebuilt for teaching and study.

The top-level names are loaded lazily, so ``import rvit.data`` does not pull in the model code: a chapter of
the book imports only the modules it has introduced.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "RViTConfig": "rvit.config",
    "RViT": "rvit.model",
    "FrameViT": "rvit.baselines",
    "ClipViT": "rvit.baselines",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rvit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
