"""Frames of videos as still images: in memory (:class:`VideoFrames`) or as JPEG files (:func:`extract_frames`).

The proposal trains on images and tests on videos. One way to narrow the gap is to train on frames
taken from *training* videos: each frame becomes an image labelled with its video's class. Both
tools here keep where every frame came from (video and frame index), so a leakage audit can check
that no frame of a test video ends up among the training images.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from rvit.data.video import probe, read_video
from rvit.data.videosets import VideoFolder, clip_id

__all__ = ["VideoFrames", "dataset_targets", "extract_frames", "iter_video_frames"]


def dataset_targets(dataset: Any) -> list[int]:
    """Labels of a data set: its ``targets`` attribute, else read item by item (slow)."""
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return [int(y) for y in targets]
    return [int(dataset[i][1]) for i in range(len(dataset))]


def _select(
    num_frames: int, every: int, per_video: int | None, generator: torch.Generator
) -> list[int]:
    """Frame indices: every ``every``-th frame, then ``per_video`` of those at random (sorted)."""
    candidates = list(range(0, num_frames, every))
    if per_video is not None and per_video < len(candidates):
        chosen = torch.randperm(len(candidates), generator=generator)[:per_video]
        candidates = sorted(candidates[i] for i in chosen.tolist())
    return candidates


def _check_args(every: int, per_video: int | None) -> None:
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if per_video is not None and per_video < 1:
        raise ValueError(f"per_video must be a positive int or None, got {per_video}")


def iter_video_frames(
    video_set: Any, every: int = 1, per_video: int | None = None, seed: int = 0
) -> Iterator[tuple[int, str | None, list[int], torch.Tensor]]:
    """Chosen frames of each video: ``(video index, path or None, frame indices, uint8 (K, C, H, W))``.

    A data set with ``samples`` paths is read from its files (all frames available, at the set's
    ``image_size`` if any, without its ``transform``); any other video set (the synthetic world)
    is read item by item. ``seed`` fixes the random choice of ``per_video``.
    """
    _check_args(every, per_video)
    generator = torch.Generator().manual_seed(seed)
    samples = getattr(video_set, "samples", None)
    image_size = getattr(video_set, "image_size", None)
    resize = None
    if samples is not None and image_size is not None:
        from rvit.data.augment import eval_transform

        resize = eval_transform(image_size)
    for i in range(len(video_set)):
        if samples is not None:
            path = str(samples[i][0])
            chosen = _select(int(probe(path)["num_frames"]), every, per_video, generator)
            try:
                frames = read_video(path, chosen)
            except IndexError:  # the header promised more frames than the file holds
                whole = read_video(path)
                chosen = _select(whole.shape[0], every, per_video, generator)
                frames = whole[chosen]
            if resize is not None:
                frames = resize(frames).mul_(255).round_().to(torch.uint8)
        else:
            path = None
            video = video_set[i][0]
            if video.ndim != 4:
                raise ValueError(f"video {i} must be (T, C, H, W), got {tuple(video.shape)}")
            chosen = _select(video.shape[0], every, per_video, generator)
            frames = video[chosen]
            if frames.is_floating_point():
                frames = frames.clamp(0, 1).mul(255).round_().to(torch.uint8)
        yield i, path, chosen, frames


class VideoFrames(Dataset):
    """An in-memory image data set of frames taken from the videos of a video data set.

    Every ``every``-th frame of each video is kept, or ``per_video`` random frames of those
    (drawn with ``seed``). A frame's label is its video's label; ``source[i]`` is
    ``(video index, video path or None, frame index)``. Frames are held as ``uint8``; items are
    ``(float32 (C, H, W) in [0, 1], label)`` after ``transform``.

    Args:
        video_set: a video data set (:class:`rvit.data.VideoFolder`, :class:`rvit.data.UCF101`,
            the synthetic world, ...).
        every: keep frames 0, every, 2 * every, ...
        per_video: keep at most this many of those per video, at random.
        seed: seed of that random choice.
        transform: called on each ``float32 (C, H, W)`` frame.
    """

    sample_kind = "image"

    def __init__(
        self,
        video_set: Any,
        every: int = 1,
        per_video: int | None = None,
        seed: int = 0,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        labels = dataset_targets(video_set)
        self.classes: list[str] = list(getattr(video_set, "classes", []) or [])
        self.frames: list[torch.Tensor] = []
        self.targets: list[int] = []
        self.source: list[tuple[int, str | None, int]] = []
        for index, path, chosen, frames in iter_video_frames(video_set, every, per_video, seed):
            for frame_index, frame in zip(chosen, frames, strict=True):
                self.frames.append(frame.clone())
                self.targets.append(labels[index])
                self.source.append((index, path, frame_index))
        self.transform = transform

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.frames[index].float().div_(255)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]

    def __repr__(self) -> str:
        videos = len({s[0] for s in self.source})
        return f"VideoFrames({len(self)} frames from {videos} videos, {len(self.classes)} classes)"


def extract_frames(
    video_set_or_folder: Any,
    out_dir: str | os.PathLike[str],
    every: int = 1,
    per_video: int | None = None,
    quality: int = 95,
    seed: int = 0,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Write frames of videos as JPEG files, one folder per class, with a manifest.

    Files are ``out_dir/<class>/<clip-id>_frame_<NNNN>.jpg``, where ``NNNN`` is the frame's
    0-based index in its video, and ``out_dir/manifest.csv`` lists ``path`` (relative to
    ``out_dir``), ``class``, ``label``, ``source_video`` and ``frame_index``. Each file is written
    under a temporary name and moved into place. The result loads with
    ``ImageFolderActions(out_dir)``; classes without any video get no folder, so pass
    ``classes=`` there if the set has empty classes.

    Args:
        video_set_or_folder: a video data set, or a folder of class folders of videos (read with
            :class:`rvit.data.VideoFolder`). A set without paths gets clip ids ``video_00000``...
        out_dir: where to write.
        every, per_video, seed: which frames, as in :class:`VideoFrames`.
        quality: JPEG quality, 1-100.
        overwrite: allow writing into a folder that already has a ``manifest.csv``.

    Returns:
        The manifest as a DataFrame.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    video_set = video_set_or_folder
    if isinstance(video_set_or_folder, (str, os.PathLike)):
        video_set = VideoFolder(video_set_or_folder, frames=None)
    out_dir = Path(out_dir)
    manifest = out_dir / "manifest.csv"
    if manifest.exists() and not overwrite:
        raise FileExistsError(f"'{manifest}' exists; pass overwrite=True or use a new out_dir")
    classes = list(getattr(video_set, "classes", []) or [])
    labels = dataset_targets(video_set)
    rows: list[dict[str, Any]] = []
    used: set[tuple[str, str]] = set()
    for index, path, chosen, frames in iter_video_frames(video_set, every, per_video, seed):
        label = labels[index]
        name = classes[label] if label < len(classes) else str(label)
        clip = clip_id(path) if path is not None else f"video_{index:05d}"
        if (name, clip) in used:
            clip = f"{clip}_{index}"
        used.add((name, clip))
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        for frame_index, frame in zip(chosen, frames, strict=True):
            target = folder / f"{clip}_frame_{frame_index:04d}.jpg"
            tmp = folder / f".{target.stem}.tmp.jpg"
            Image.fromarray(frame.permute(1, 2, 0).numpy()).save(tmp, "JPEG", quality=quality)
            os.replace(tmp, target)
            rows.append(
                {
                    "path": target.relative_to(out_dir).as_posix(),
                    "class": name,
                    "label": label,
                    "source_video": path if path is not None else f"video[{index}]",
                    "frame_index": frame_index,
                }
            )
    if not rows:
        raise ValueError("no frames were extracted: the video set is empty")
    columns = ["path", "class", "label", "source_video", "frame_index"]
    tmp = out_dir / ".manifest.tmp.csv"
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, manifest)
    return pd.DataFrame(rows, columns=columns)
