"""Where data sets come from: one table of data kinds, read by the command line and the study.

A *kind* is a family of data sets: the built-in ``synthetic`` world, image folders, Stanford 40,
video folders, UCF101 and HMDB51. :data:`DATA_KINDS` says what each holds and how to build one of
its splits from a *spec*, a plain dict of settings; :func:`build_dataset` does it. The command line
turns its options into specs, the study its run configurations, so both build their data sets the
same way.

Spec keys (each kind reads those it needs):

=============== ===============================================================================
``split``       ``"train"``, ``"val"`` or ``"test"`` (the kinds without splits ignore it)
``path``        the data set's folder (every kind but ``synthetic``)
``image_size``  frame side in pixels
``frames``      frames per video (``None``: every frame; a range ``(low, high)`` for synthetic)
``augment``     a :func:`rvit.data.make_transform` preset, or ``None`` / ``"none"``: no
                augmentation (images are then resized by :func:`rvit.data.eval_transform`)
``on_bad_file`` what to do with unreadable files (``rvit.data.images.ON_BAD_FILE``)
``splits_dir``  ``ucf101`` / ``hmdb51``: the folder of official split files; ``fold`` its fold
``cue_frames``  any video kind: keep only the first frames, then a blank (:class:`CueThenBlank`)
=============== ===============================================================================

``synthetic`` also reads ``modality`` (``"image"`` or ``"video"``), ``num_samples``, ``seed``,
``difficulty``, ``domain_gap`` and ``classes`` (see :class:`rvit.data.SyntheticActions`). Synthetic
sets are cached in the process by their settings: rendering costs more than training the study's
small models, so runs that share a set render it once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

__all__ = [
    "DATA_KINDS",
    "IMAGE_KINDS",
    "VIDEO_KINDS",
    "CueThenBlank",
    "DataKind",
    "build_dataset",
]


@dataclass(frozen=True)
class DataKind:
    """One kind of data set: what its samples are and how a split of it is built from a spec."""

    name: str
    holds: tuple[str, ...]  # "image" and/or "video"
    build: Callable[[Mapping[str, Any]], Dataset]
    needs_path: bool = True
    needs_splits_dir: bool = False
    description: str = ""


def _augmentation(spec: Mapping[str, Any]) -> Any:
    """The spec's augmentation transform, or ``None`` for none."""
    from rvit.data.augment import make_transform

    augment = spec.get("augment")
    # "none" is a resize to the size the samples already have: skipping it changes nothing
    if not augment or augment == "none":
        return None
    return make_transform(augment, int(spec["image_size"]))


def _image_transform(spec: Mapping[str, Any]) -> Any:
    """Images are augmented, or else resized to ``image_size`` for the model."""
    from rvit.data.augment import eval_transform

    return _augmentation(spec) or eval_transform(int(spec["image_size"]))


def _frames(value: Any) -> int | tuple[int, int] | None:
    if value is None:
        return None
    return tuple(value) if isinstance(value, list | tuple) else int(value)


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


_SYNTHETIC_KEYS = (
    "split",
    "modality",
    "num_samples",
    "frames",
    "image_size",
    "seed",
    "domain_gap",
    "difficulty",
    "augment",
    "classes",
)


def _synthetic(spec: Mapping[str, Any]) -> Dataset:
    frozen = tuple((key, _freeze(spec.get(key))) for key in _SYNTHETIC_KEYS)
    return _synthetic_cached(frozen)


@functools.lru_cache(maxsize=16)
def _synthetic_cached(frozen: tuple[tuple[str, Any], ...]) -> Dataset:
    from rvit.data.synthetic import SyntheticActions

    spec = dict(frozen)
    classes = spec["classes"]
    return SyntheticActions(
        spec["split"],
        modality=spec["modality"],
        num_samples=int(spec["num_samples"]),
        frames=_frames(spec["frames"]),
        image_size=int(spec["image_size"]),
        seed=int(spec["seed"]),
        domain_gap=float(spec["domain_gap"] or 0.0),
        difficulty=float(spec["difficulty"]),
        classes=list(classes) if classes is not None else None,
        transform=_augmentation(spec),
    )


def _imagefolder(spec: Mapping[str, Any]) -> Dataset:
    from rvit.data.images import ImageFolderActions

    return ImageFolderActions(
        spec["path"], transform=_image_transform(spec), on_bad_file=spec.get("on_bad_file")
    )


def _stanford40(spec: Mapping[str, Any]) -> Dataset:
    from rvit.data.images import Stanford40

    return Stanford40(
        spec["path"],
        spec["split"],
        transform=_image_transform(spec),
        on_bad_file=spec.get("on_bad_file"),
    )


def _videofolder(spec: Mapping[str, Any]) -> Dataset:
    from rvit.data.videosets import VideoFolder

    # Every frame is resized to the model's size as it is decoded.
    return VideoFolder(
        spec["path"],
        frames=_frames(spec.get("frames")),
        image_size=int(spec["image_size"]),
        transform=_augmentation(spec),
        on_bad_file=spec.get("on_bad_file"),
    )


def _official(cls_name: str) -> Callable[[Mapping[str, Any]], Dataset]:
    def build(spec: Mapping[str, Any]) -> Dataset:
        from rvit.data import videosets

        if spec.get("splits_dir") is None:
            raise ValueError(f"{cls_name} needs splits_dir (the folder of its split files)")
        return getattr(videosets, cls_name)(
            spec["path"],
            spec["splits_dir"],
            fold=int(spec.get("fold", 1)),
            split=spec["split"],
            frames=_frames(spec.get("frames")),
            image_size=int(spec["image_size"]),  # every frame resized as it is decoded
            transform=_augmentation(spec),
            on_bad_file=spec.get("on_bad_file"),
        )

    return build


DATA_KINDS: dict[str, DataKind] = {
    kind.name: kind
    for kind in (
        DataKind(
            "synthetic",
            ("image", "video"),
            _synthetic,
            needs_path=False,
            description="the built-in synthetic action world (stills or videos)",
        ),
        DataKind("imagefolder", ("image",), _imagefolder, description="root/<class>/<image>"),
        DataKind("stanford40", ("image",), _stanford40, description="Stanford 40 Actions"),
        DataKind("videofolder", ("video",), _videofolder, description="root/<class>/<video>"),
        DataKind(
            "ucf101", ("video",), _official("UCF101"), needs_splits_dir=True, description="UCF101"
        ),
        DataKind(
            "hmdb51", ("video",), _official("HMDB51"), needs_splits_dir=True, description="HMDB51"
        ),
    )
}
"""Every data kind by name, in the order the command line lists them."""

IMAGE_KINDS = tuple(name for name, kind in DATA_KINDS.items() if "image" in kind.holds)
"""The kinds that give still images."""

VIDEO_KINDS = tuple(name for name, kind in DATA_KINDS.items() if "video" in kind.holds)
"""The kinds that give videos."""


def build_dataset(kind: str, spec: Mapping[str, Any]) -> Dataset:
    """The data set of ``kind`` (a :data:`DATA_KINDS` name) that ``spec`` describes."""
    if kind not in DATA_KINDS:
        raise ValueError(f"unknown data kind {kind!r}; expected one of {', '.join(DATA_KINDS)}")
    dataset = DATA_KINDS[kind].build(spec)
    if spec.get("cue_frames"):
        return CueThenBlank(dataset, int(spec["cue_frames"]))
    return dataset


class CueThenBlank(Dataset):
    """The retention probe: each video shows its first ``cue_frames`` frames, then a blank screen.

    Item ``(video (T, C, H, W), label)`` -> the same video with frames ``t >= cue_frames``
    replaced by a flat frame of the video's mean colour. The prediction after the last frame then
    says how much of the cue the hidden state still holds ``T - cue_frames`` frames later.
    """

    sample_kind = "video"

    def __init__(self, base: Dataset, cue_frames: int) -> None:
        if cue_frames < 1:
            raise ValueError(f"cue_frames must be >= 1, got {cue_frames}")
        self.base = base
        self.cue_frames = cue_frames

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        video, label = self.base[index][:2]
        out = video.clone()  # (T, C, H, W)
        flat = video.mean(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
        out[self.cue_frames :] = flat
        return out, label

    def __getattr__(self, name: str) -> Any:
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)
