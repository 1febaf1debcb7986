"""Augmentation for images and videos on ``torchvision.transforms.v2``, and pseudo-videos from stills.

A transform here takes an image ``(C, H, W)`` or a video ``(T, C, H, W)``, ``float`` in ``[0, 1]``
(``uint8`` is converted), and returns ``float32`` in ``[0, 1]``. A 4-D input is wrapped as a
``tv_tensors.Video``, so every random choice (crop box, flip, colour change, augmentation op,
erased patch, noise pattern) is drawn once per call and applied to every frame of the video: a
clip is augmented as one piece of film, never frame by frame.

:func:`find_random_transforms` and :func:`check_deterministic` find the random transforms inside a
data set (evaluation refuses them).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import nn
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

__all__ = [
    "CAMERA_LIMITS",
    "CAMERA_RANGES",
    "check_camera",
    "PRESETS",
    "ClipTransform",
    "FrameSharedGaussianNoise",
    "make_transform",
    "eval_transform",
    "CameraPose",
    "PseudoVideo",
    "RANDOM_TRANSFORMS",
    "find_random_transforms",
    "check_deterministic",
]

#: Names accepted by :func:`make_transform`.
PRESETS = ("none", "basic", "strong")


class ClipTransform(torch.nn.Module):
    """Run a v2 pipeline on one image ``(C, H, W)`` or one video ``(T, C, H, W)``.

    The input is wrapped as ``tv_tensors.Image`` or ``tv_tensors.Video`` so that v2 draws its
    random parameters once for the whole call; the output is a plain tensor.
    """

    def __init__(self, pipeline: v2.Transform) -> None:
        super().__init__()
        self.pipeline = pipeline

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            wrapped: torch.Tensor = tv_tensors.Image(x)
        elif x.ndim == 4:
            wrapped = tv_tensors.Video(x)
        else:
            raise ValueError(
                f"expected an image (C, H, W) or a video (T, C, H, W), got shape {tuple(x.shape)}"
            )
        return self.pipeline(wrapped).as_subclass(torch.Tensor)


class FrameSharedGaussianNoise(v2.Transform):
    """Add Gaussian noise drawn once per call, the same pattern on every frame of a video.

    ``v2.GaussianNoise`` draws fresh noise for every element, which would make the frames of a
    still clip differ from each other; this variant draws one ``(C, H, W)`` pattern in
    ``make_params`` and adds it to each frame. Float inputs only; the result is clipped to
    ``[0, 1]``.
    """

    def __init__(self, sigma: float = 0.03) -> None:
        super().__init__()
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self.sigma = sigma

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        for inpt in flat_inputs:
            if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video)):
                return {"noise": torch.randn(inpt.shape[-3:]) * self.sigma}
        return {"noise": None}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        noise = params["noise"]
        if noise is None or not isinstance(inpt, (tv_tensors.Image, tv_tensors.Video)):
            return inpt
        if not inpt.is_floating_point():
            raise ValueError(f"FrameSharedGaussianNoise needs a float input, got {inpt.dtype}")
        out = (inpt.as_subclass(torch.Tensor) + noise.to(inpt.dtype)).clamp_(0.0, 1.0)
        return tv_tensors.wrap(out, like=inpt)


def _check_size(image_size: int) -> None:
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")


def eval_transform(image_size: int) -> ClipTransform:
    """Deterministic evaluation transform: resize the shorter side to ``image_size``, centre crop.

    Image ``(C, H, W)`` -> ``(C, S, S)``; video ``(T, C, H, W)`` -> ``(T, C, S, S)``, float32.
    """
    _check_size(image_size)
    return ClipTransform(
        v2.Compose(
            [
                v2.ToDtype(torch.float32, scale=True),
                v2.Resize(image_size, antialias=True),
                v2.CenterCrop(image_size),
            ]
        )
    )


def make_transform(preset: str = "basic", image_size: int = 32) -> ClipTransform:
    """Training transform for images ``(C, H, W)`` and videos ``(T, C, H, W)``.

    - ``"none"``: no randomness, the same as :func:`eval_transform`;
    - ``"basic"``: ``RandomResizedCrop`` (scale 0.5-1), horizontal flip, ``ColorJitter``;
    - ``"strong"``: a wider ``RandomResizedCrop`` (scale 0.35-1), flip, ``TrivialAugmentWide``
      (run on ``uint8``, as its posterize/equalize ops expect), ``ColorJitter``, Gaussian blur
      (p = 0.3), Gaussian noise shared by all frames (p = 0.3, sigma 0.03) and
      ``RandomErasing`` (p = 0.25).

    Every random draw covers the whole input, so all frames of a video get the same augmentation.
    Output: float32 in ``[0, 1]``, spatial size ``image_size x image_size``.
    """
    _check_size(image_size)
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    if preset == "none":
        return eval_transform(image_size)
    to_float = v2.ToDtype(torch.float32, scale=True)
    jitter = v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05)
    if preset == "basic":
        steps: list[v2.Transform] = [
            to_float,
            v2.RandomResizedCrop(image_size, scale=(0.5, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            jitter,
        ]
    else:
        steps = [
            to_float,
            v2.RandomResizedCrop(image_size, scale=(0.35, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.uint8, scale=True),
            v2.TrivialAugmentWide(),
            v2.ToDtype(torch.float32, scale=True),
            jitter,
            v2.RandomApply([v2.GaussianBlur(kernel_size=3, sigma=(0.1, 1.0))], p=0.3),
            v2.RandomApply([FrameSharedGaussianNoise(sigma=0.03)], p=0.3),
            v2.RandomErasing(p=0.25, scale=(0.02, 0.15), value=0.0),
        ]
    return ClipTransform(v2.Compose(steps))


#: Default limits of :class:`PseudoVideo`'s random camera: zoom factor ``1 + max_zoom``, shift as a
#: fraction of the frame size per axis, rotation in degrees.
CAMERA_LIMITS: dict[str, float] = {"max_zoom": 0.25, "max_shift": 0.03, "max_rotation": 10.0}

#: The values each camera limit may take, ``(low, high)`` inclusive. A zoom beyond 2x shows a
#: quarter of the still or less; a shift beyond half the frame moves the still's centre out of
#: the frame; a rotation beyond 180 degrees repeats smaller ones (the book's study used at most a
#: zoom of 0.3, a shift of 0.2 and 30 degrees).
CAMERA_RANGES: dict[str, tuple[float, float]] = {
    "max_zoom": (0.0, 1.0),
    "max_shift": (0.0, 0.5),
    "max_rotation": (0.0, 180.0),
}

#: How a limit's value reads to a user: shifts and zooms are fractions (shown as percentages).
_CAMERA_UNITS = {"max_zoom": "fraction", "max_shift": "fraction", "max_rotation": "degrees"}


def _camera_value(name: str, value: float) -> str:
    if _CAMERA_UNITS[name] == "degrees":
        return f"{value:g} degrees"
    return f"{value:g} ({value:.0%})"


def check_camera(camera: Any) -> dict[str, float]:
    """``camera`` as a plain dict of float limits; unknown keys, and values outside
    :data:`CAMERA_RANGES` (``max_shift=5`` would move the still five frames away), raise."""
    if not isinstance(camera, dict):
        raise ValueError(f"camera must be a dict of limits or None, got {type(camera).__name__}")
    unknown = sorted(set(camera) - set(CAMERA_LIMITS))
    if unknown:
        raise ValueError(
            f"camera: unknown limit(s) {unknown}; expected some of {list(CAMERA_LIMITS)}"
        )
    checked = {}
    for name, value in camera.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"camera[{name!r}] must be a number >= 0, got {value!r}")
        low, high = CAMERA_RANGES[name]
        if not low <= value <= high:
            raise ValueError(
                f"camera {name}={_camera_value(name, value)} is out of range; allowed "
                f"{_camera_value(name, low)} to {_camera_value(name, high)}"
            )
        checked[name] = float(value)
    return checked


@dataclass(frozen=True)
class CameraPose:
    """A virtual camera pose relative to the still.

    ``zoom`` >= 1 magnifies; ``shift_x``/``shift_y`` move the content by that fraction of the
    width/height; ``angle`` rotates it, in degrees (counter-clockwise).
    """

    zoom: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    angle: float = 0.0

    def as_tensor(self) -> torch.Tensor:
        return torch.tensor(
            [self.zoom, self.shift_x, self.shift_y, self.angle], dtype=torch.float64
        )


class PseudoVideo(torch.nn.Module):
    """Turn one still ``(C, H, W)`` into a ``frames``-long clip ``(T, C, H, W)`` by a camera move.

    A start and an end pose are drawn at random (zoom in ``[1, 1 + max_zoom]``, shift in
    ``[-max_shift, max_shift]`` of the image size per axis, rotation in
    ``[-max_rotation, max_rotation]`` degrees) and interpolated linearly over time, so the camera
    moves smoothly and consecutive frames differ little. Each frame is rendered by
    ``v2.functional.affine`` on a copy of the still whose borders are extended with their edge
    pixels, then centre-cropped back to ``H x W``, so the margins show background instead of black
    bars (mirroring would copy the subject into them).

    Randomness comes from the torch global generator: ``torch.manual_seed`` reproduces a clip.
    Passing ``start=CameraPose()`` (the identity) makes frame 0 equal the still.

    The default limits are :data:`CAMERA_LIMITS`. The shift is the small one: a vision transformer
    cuts the frame into patches, and content that slides by a large part of a patch lands in other
    tokens, so the model must first learn that a shifted figure is the same figure. In the book's
    study, pseudo-videos with shifts of up to 15 % of the frame (5 pixels of an 8-pixel patch at
    32 px) did not learn even their own training clips (chapter 8, augmentation).
    """

    def __init__(
        self,
        frames: int = 8,
        max_zoom: float = CAMERA_LIMITS["max_zoom"],
        max_shift: float = CAMERA_LIMITS["max_shift"],
        max_rotation: float = CAMERA_LIMITS["max_rotation"],
    ) -> None:
        super().__init__()
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if max_zoom < 0 or max_shift < 0 or max_rotation < 0:
            raise ValueError(
                "max_zoom, max_shift and max_rotation must be >= 0, got "
                f"{max_zoom}, {max_shift}, {max_rotation}"
            )
        self.frames = frames
        self.max_zoom = max_zoom
        self.max_shift = max_shift
        self.max_rotation = max_rotation

    def sample_pose(self) -> CameraPose:
        """A random pose within the limits (torch global generator)."""
        u = torch.rand(4, dtype=torch.float64)
        return CameraPose(
            zoom=1.0 + self.max_zoom * float(u[0]),
            shift_x=self.max_shift * float(2 * u[1] - 1),
            shift_y=self.max_shift * float(2 * u[2] - 1),
            angle=self.max_rotation * float(2 * u[3] - 1),
        )

    def poses(self, start: CameraPose, end: CameraPose) -> torch.Tensor:
        """Linear path between two poses: ``(T, 4)`` rows of (zoom, shift_x, shift_y, angle)."""
        t = torch.linspace(0.0, 1.0, self.frames, dtype=torch.float64)[:, None]  # (T, 1)
        a, b = start.as_tensor(), end.as_tensor()
        return a + t * (b - a)

    def forward(
        self,
        still: torch.Tensor,
        start: CameraPose | None = None,
        end: CameraPose | None = None,
    ) -> torch.Tensor:
        """Still ``(C, H, W)`` -> clip ``(T, C, H, W)``, same dtype as the still."""
        if still.ndim != 3:
            raise ValueError(
                f"PseudoVideo expects a still image (C, H, W), got {tuple(still.shape)}"
            )
        start = start if start is not None else self.sample_pose()
        end = end if end is not None else self.sample_pose()
        _, height, width = still.shape
        image = still.float()
        # Extend the borders with their edge pixels so that shifted or rotated frames show background
        # at the edges. (Mirroring them would copy the subject into the margin: a ghost second actor.)
        reach = self.max_shift + 0.5 * math.sin(math.radians(min(self.max_rotation, 90.0)))
        margin = min(math.ceil(reach * max(height, width)) + 1, height - 1, width - 1)
        if margin > 0:
            image = nnf.pad(image[None], (margin, margin, margin, margin), mode="replicate")[0]
        frames = []
        for zoom, shift_x, shift_y, angle in self.poses(start, end).tolist():
            moved = F.affine(
                image,
                angle=angle,
                translate=[shift_x * width, shift_y * height],
                scale=zoom,
                shear=[0.0, 0.0],
                interpolation=v2.InterpolationMode.BILINEAR,
            )
            frames.append(moved[:, margin : margin + height, margin : margin + width])
        clip = torch.stack(frames)  # (T, C, H, W)
        if still.dtype == torch.uint8:
            return clip.round_().clamp_(0, 255).to(torch.uint8)
        return clip.to(still.dtype)


# ----------------------------------------------------------------------------------------------
# finding random transforms (evaluation must be deterministic)

# Transforms that draw random numbers; any class whose name starts with "Random" counts too.
RANDOM_TRANSFORMS = frozenset(
    {
        "ColorJitter",
        "RandAugment",
        "TrivialAugmentWide",
        "AutoAugment",
        "AugMix",
        "GaussianNoise",
        "ElasticTransform",
        "ScaleJitter",
        "MixUp",
        "CutMix",
        "PseudoVideo",
        "GaussianBlur",
        "FrameSharedGaussianNoise",
    }
)

# Attributes through which data sets and transforms hold other data sets and transforms.
_NESTED = (
    "transform",
    "transforms",
    "animate",
    "dataset",
    "datasets",
    "base",
    "video_set",
    "image_set",
)


def _is_random(obj: Any) -> bool:
    name = type(obj).__name__
    return name in RANDOM_TRANSFORMS or name.startswith("Random")


def find_random_transforms(obj: Any) -> list[str]:
    """Paths (``"dataset.transform.transforms[1]: RandomHorizontalFlip"``) of random transforms.

    Looks through nested data sets (``dataset``, ``base``, ``datasets``, ...), transforms
    (``transform``, ``transforms``, ``Compose`` lists) and ``nn.Module`` children.
    """
    found: list[str] = []
    seen: set[int] = set()

    def visit(item: Any, path: str) -> None:
        if item is None or isinstance(item, str | bytes | int | float | torch.Tensor):
            return
        if id(item) in seen:
            return
        seen.add(id(item))
        if _is_random(item) and not isinstance(item, Dataset):
            found.append(f"{path}: {type(item).__name__}")
        if isinstance(item, list | tuple):
            for index, child in enumerate(item):
                visit(child, f"{path}[{index}]")
            return
        if isinstance(item, nn.Module):
            for name, child in item.named_children():
                visit(child, f"{path}.{name}")
        for name in _NESTED:
            child = getattr(item, name, None) if _safe_has(item, name) else None
            if child is not None and not inspect.ismethod(child):
                visit(child, f"{path}.{name}")

    visit(obj, "dataset")
    return found


def _safe_has(item: Any, name: str) -> bool:
    try:
        return name in vars(item) or hasattr(type(item), name)
    except TypeError:  # objects without __dict__
        return hasattr(item, name)


def check_deterministic(dataset: Dataset) -> None:
    """Raise ``ValueError`` naming the first random transform found in ``dataset``."""
    found = find_random_transforms(dataset)
    if found:
        raise ValueError(
            f"evaluation must be deterministic, but {found[0]} draws random numbers"
            f"{f' (and {len(found) - 1} more)' if len(found) > 1 else ''}; "
            "give the evaluation set rvit.data.eval_transform(image_size) instead"
        )
