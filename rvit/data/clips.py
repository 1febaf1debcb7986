"""Clip views: any data set seen as clips ``(T, C, H, W)``, the one shape the training loop takes.

:func:`as_training_set` turns a data set into such clips, so that training on still images and
training on videos differ only in ``modality``:

================ ======================================================================
``video``        videos as they are (or resampled to ``frames`` frames each)
``image``        a still image as a 1-frame clip
``static_clip``  a still image repeated ``frames`` times
``pseudo_video`` a still image animated by ``rvit.data.PseudoVideo(frames)`` (random camera motion)
``frames``       the frames of a video set, each a 1-frame clip (``rvit.data.VideoFrames``)
================ ======================================================================

:func:`eval_view` gives the deterministic clips of a validation set; :func:`stack_clips` batches clips
of one length (``rvit.data.pad_videos`` those of different lengths).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from rvit.data.augment import PseudoVideo, check_camera
from rvit.utils import call_with_rng_isolated

__all__ = [
    "MODALITIES",
    "FixedLengthClips",
    "PseudoVideoClips",
    "StaticClips",
    "StillClips",
    "as_training_set",
    "eval_view",
    "item_kind",
    "stack_clips",
    "uniform_indices",
]

MODALITIES = ("video", "image", "static_clip", "pseudo_video", "frames")
"""The ways a sample can reach the model (see :func:`as_training_set`)."""


def _split_item(item: Any) -> tuple[torch.Tensor, int]:
    if not isinstance(item, tuple | list) or len(item) < 2:
        raise ValueError(f"a data set item must be (input, label), got {type(item).__name__}")
    return item[0], item[1]


def item_kind(dataset: Dataset) -> str:
    """``"image"`` if items are ``(C, H, W)``, ``"video"`` if ``(T, C, H, W)``.

    A data set that says so (its ``sample_kind``) is believed; any other one has its item 0 read.
    Reading an item of a video folder decodes a whole video, whose memory grows with its length;
    the data sets of the package say what they hold, so asking costs nothing."""
    if len(dataset) == 0:
        raise ValueError(f"data set {type(dataset).__name__} is empty")
    declared = getattr(dataset, "sample_kind", None)
    if declared in ("image", "video"):
        return declared
    x, _ = _split_item(call_with_rng_isolated(lambda: dataset[0], 0))
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"data set {type(dataset).__name__} gives inputs of shape {shape}; "
            "expected an image (C, H, W) or a video (T, C, H, W) tensor"
        )
    return "image" if x.dim() == 3 else "video"


class _ClipView(Dataset):
    """A view of ``base`` whose items are clips ``(T, C, H, W)``; class names pass through."""

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x, y = _split_item(self.base[index])
        return self.clip(x), y

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def stack_items(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Items ``indices`` as one batch: clips ``(B, T, C, H, W)`` and labels ``(B,)``, equal to
        :func:`stack_clips` of the items; a view whose base data set can read a batch at once
        (``stack_items``, as :class:`rvit.data.SyntheticActions` does) reads it so."""
        videos, _, labels = stack_clips([self[i] for i in indices])
        return videos, labels

    #: Whether :meth:`clip` draws random numbers (a random camera move does).
    clip_is_random = False
    #: Items are clips (:func:`item_kind` reads this instead of an item).
    sample_kind = "video"

    @property
    def random_items(self) -> bool:
        """Whether reading an item draws random numbers: the clip's own, or the base data set's
        (a data set that does not say is taken to draw them)."""
        return self.clip_is_random or bool(getattr(self.base, "random_items", True))

    def __getattr__(self, name: str) -> Any:
        # Forward the data set's description (classes, groups, targets, ...) to the base.
        if name.startswith("_") or name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)


class StillClips(_ClipView):
    """A still image ``(C, H, W)`` becomes a 1-frame clip ``(1, C, H, W)``."""

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(0)

    def stack_items(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if not hasattr(self.base, "stack_items"):
            return super().stack_items(indices)
        images, labels = self.base.stack_items(indices)
        return images.unsqueeze(1), labels


class StaticClips(_ClipView):
    """A still image ``(C, H, W)`` repeated ``frames`` times: ``(T, C, H, W)``."""

    def __init__(self, base: Dataset, frames: int) -> None:
        super().__init__(base)
        self.frames = frames

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(0).expand(self.frames, *x.shape).contiguous()


class PseudoVideoClips(_ClipView):
    """A still image animated into ``frames`` frames by ``rvit.data.PseudoVideo``.

    ``PseudoVideo`` draws its motion from the torch global generator, which the training loader
    seeds per sample. ``camera`` overrides some of its limits (see ``rvit.data.CAMERA_LIMITS``).
    """

    clip_is_random = True

    def __init__(self, base: Dataset, frames: int, camera: dict[str, float] | None = None) -> None:
        super().__init__(base)
        self.frames = frames
        self.animate = PseudoVideo(frames=frames, **check_camera(camera or {}))

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        return self.animate(x)


def uniform_indices(length: int, frames: int) -> torch.Tensor:
    """``frames`` frame indices spread evenly over ``[0, length)`` (repeats when too short)."""
    if length < 1:
        raise ValueError(f"a video has {length} frames; expected at least 1")
    return torch.linspace(0, length - 1, frames).round().long()


class FixedLengthClips(_ClipView):
    """Each video ``(T_i, C, H, W)`` resampled to ``frames`` evenly spaced frames."""

    def __init__(self, base: Dataset, frames: int) -> None:
        super().__init__(base)
        self.frames = frames

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        return x[uniform_indices(x.shape[0], self.frames)]

    def stack_items(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if not hasattr(self.base, "stack_items"):
            return super().stack_items(indices)
        return self.base.stack_items(indices, lambda n: uniform_indices(n, self.frames))


def as_training_set(
    dataset: Dataset,
    modality: str,
    frames: int | None = None,
    camera: dict[str, float] | None = None,
) -> Dataset:
    """A view of ``dataset`` whose items are ``(clip (T, C, H, W), label)`` for ``modality``.

    ``dataset`` gives ``(image (C, H, W), label)`` for ``image`` / ``static_clip`` /
    ``pseudo_video`` and ``(video (T, C, H, W), label)`` for ``video`` / ``frames``; anything else
    raises ``ValueError``. ``camera`` limits the camera move of ``pseudo_video`` (see
    :class:`PseudoVideoClips`).
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    kind = item_kind(dataset)
    name = type(dataset).__name__
    if modality in ("video", "frames") and kind != "video":
        raise ValueError(
            f"modality {modality!r} needs a video data set, but {name} gives still images "
            "(C, H, W); use modality 'image', 'static_clip' or 'pseudo_video'"
        )
    if modality in ("image", "static_clip", "pseudo_video") and kind != "image":
        raise ValueError(
            f"modality {modality!r} needs still images, but {name} gives videos (T, C, H, W); "
            "use modality 'video', or 'frames' to train on the frames of the videos"
        )
    if modality in ("static_clip", "pseudo_video") and frames is None:
        raise ValueError(f"modality {modality!r} needs frames=T (the clip length)")
    if modality == "video":
        return dataset if frames is None else FixedLengthClips(dataset, frames)
    if modality == "image":
        return StillClips(dataset)
    if modality == "static_clip":
        return StaticClips(dataset, frames)
    if modality == "pseudo_video":
        return PseudoVideoClips(dataset, frames, camera)
    from rvit.data.frames import VideoFrames

    return StillClips(VideoFrames(dataset, per_video=frames))


def eval_view(dataset: Dataset, modality: str, frames: int | None = None) -> Dataset:
    """Deterministic clips for validation: videos as they are, stills as ``modality`` shows them
    (a still repeated ``frames`` times for ``static_clip`` and ``pseudo_video``, else 1 frame)."""
    if item_kind(dataset) == "video":
        return dataset
    if modality in ("static_clip", "pseudo_video"):
        return StaticClips(dataset, frames)
    return StillClips(dataset)


# ----------------------------------------------------------------------------------------------
# batching


def stack_clips(
    batch: Sequence[tuple[torch.Tensor, int]],
) -> tuple[torch.Tensor, None, torch.Tensor]:
    """Collate clips of one length: ``(videos (B, T, C, H, W), None, labels (B,))``."""
    clips = [clip for clip, _ in batch]
    lengths = sorted({clip.shape[0] for clip in clips})
    if len(lengths) > 1:
        raise ValueError(
            f"clips in a batch have different lengths {lengths}; train with "
            "variable_length=True, or set frames=T to resample every video to T frames"
        )
    return torch.stack(clips), None, torch.as_tensor([int(y) for _, y in batch])
