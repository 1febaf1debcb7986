"""Video action data sets: one folder per class, UCF101 and HMDB51 with their official splits.

Item ``i`` is ``(video, label)``: ``video`` is ``float32 (T, C, H, W)`` in ``[0, 1]``, read with PyAV
(:mod:`rvit.data.video`), ``T = frames`` sampled over the whole video (see
:func:`rvit.data.video.sample_indices`), or every frame with ``frames=None`` / ``sampling="all"``
(then ``T`` varies from video to video: batch with :func:`rvit.data.pad_videos`). ``transform``
gets the whole clip in one call, so one random draw covers every frame.

A video is a video file or a *frame folder* (a directory of ordered images); ``samples`` keeps every
video's ``(path, label)`` and ``targets`` its labels without decoding anything.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from rvit.data.images import IMAGE_EXTENSIONS, image_problem, is_hidden, screen_samples
from rvit.data.video import (
    VIDEO_EXTENSIONS,
    frame_files,
    is_frame_folder,
    iter_frames,
    probe,
    read_video,
    sample_indices,
)

__all__ = ["clip_id", "video_problem", "VideoList", "VideoFolder", "UCF101", "HMDB51"]

SAMPLINGS = ("uniform", "random", "all")


def clip_id(path: str | os.PathLike[str]) -> str:
    """Identifier of a clip: the file name without suffix, or the frame folder's name."""
    path = Path(path)
    return path.name if path.is_dir() else path.stem


def _check_options(frames: int | None, sampling: str, image_size: int | None, pad: str) -> None:
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if frames is not None and frames < 1:
        raise ValueError(f"frames must be a positive int or None, got {frames}")
    if pad not in ("last", "loop"):
        raise ValueError(f"pad must be 'last' or 'loop', got {pad!r}")
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be a positive int or None, got {image_size}")


def video_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a readable video, or None.

    A video file must open, hold a video stream and at least one frame (its header is read, no
    frame decoded); every image of a frame folder must decode.
    """
    path = Path(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            return "frame folder without image files"
        for file in files:
            reason = image_problem(file)
            if reason is not None:
                return f"frame '{file.name}': {reason}"
        return None
    try:
        probe(path)
    except (ValueError, OSError) as err:
        return " ".join(str(err).split())
    return None


class VideoList(Dataset):
    """A video data set over a list of ``(path, label)`` samples (files or frame folders).

    Args:
        samples: ``(path, label)`` per video.
        classes: class names in label order.
        frames: frames per clip, or None for every frame.
        sampling: ``"uniform"`` (segment middles, deterministic), ``"random"`` (one random frame
            per segment, torch global generator) or ``"all"``.
        image_size: side of the square frames (resize shorter side + centre crop), None keeps the
            video's size.
        transform: called once per clip on ``float32 (T, C, H, W)``.
        pad: how a video shorter than ``frames`` is filled, ``"last"`` or ``"loop"``.
        on_bad_file: None reads each video only when it is loaded; ``"error"`` checks every video
            now (:func:`video_problem`) and raises one error listing all bad ones; ``"skip"``
            leaves them out and lists them in ``bad_files``.

    With ``image_size`` every frame is resized as it is decoded, so memory follows the model's
    frame size and frames of different sizes (videos, frame folders) all come out ``S x S``.
    :meth:`stream` yields the frames of one video one at a time.
    """

    #: Items are videos: :func:`rvit.data.clips.item_kind` reads this instead of decoding one.
    sample_kind = "video"

    def __init__(
        self,
        samples: Sequence[tuple[str | os.PathLike[str], int]],
        classes: Sequence[str],
        frames: int | None = 16,
        sampling: str = "uniform",
        image_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        pad: str = "last",
        on_bad_file: str | None = None,
    ) -> None:
        _check_options(frames, sampling, image_size, pad)
        self.samples: list[tuple[str, int]] = [(str(p), int(y)) for p, y in samples]
        self.bad_files: list[tuple[str, str]] = []
        self.classes: list[str] = list(classes)
        self.class_to_idx: dict[str, int] = {c: i for i, c in enumerate(self.classes)}
        screen_samples(self, video_problem, on_bad_file)  # may drop classes left without videos
        self.frames = frames
        self.sampling = sampling
        self.image_size = image_size
        self.transform = transform
        self.pad = pad
        self._num_frames: dict[int, int] = {}

    @property
    def targets(self) -> list[int]:
        """The label of every video, in order, without decoding."""
        return [y for _, y in self.samples]

    @property
    def lengths(self) -> list[int]:
        """Frame count of every video, read from the headers on first use and then kept."""
        return [self.num_frames(i) for i in range(len(self))]

    def num_frames(self, index: int) -> int:
        """Frame count of video ``index`` (from its header; cached)."""
        if index not in self._num_frames:
            self._num_frames[index] = int(probe(self.samples[index][0])["num_frames"])
        return self._num_frames[index]

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> torch.Tensor:
        """Video ``index`` as ``float32 (T, C, H, W)`` in ``[0, 1]``, before ``transform``."""
        path = self.samples[index][0]
        size = self.image_size
        if self.frames is None or self.sampling == "all":
            video = read_video(path, size=size)
            self._num_frames[index] = int(video.shape[0])
        else:
            mode = self.sampling
            indices = sample_indices(self.num_frames(index), self.frames, mode, pad=self.pad)
            try:
                video = read_video(path, indices, size=size)
            except IndexError:
                # The header promised more frames than the file decodes to: count them by
                # decoding (one frame kept at a time), then read the clip again.
                count = sum(1 for _ in iter_frames(path))
                self._num_frames[index] = count
                indices = sample_indices(count, self.frames, mode, pad=self.pad)
                video = read_video(path, indices, size=size)
        if not video.is_floating_point():
            video = video.float().div_(255)
        return video

    def stream(self, index: int) -> Any:
        """The frames of video ``index``, one at a time, each ``float32 (C, H, W)`` in ``[0, 1]``.

        Every frame of the video (``frames`` and ``sampling`` do not apply; ``transform`` is not
        called), resized to ``image_size`` as it is decoded, so memory holds one frame whatever
        the video's length.
        """
        for frame in iter_frames(self.samples[index][0], size=self.image_size):
            yield frame if frame.is_floating_point() else frame.float().div_(255)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        video = self.load(index)
        if self.transform is not None:
            video = self.transform(video)
        return video, self.samples[index][1]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} videos, {len(self.classes)} classes, "
            f"frames={self.frames}, sampling={self.sampling!r}, image_size={self.image_size})"
        )


def _class_dirs(root: Path, classes: Sequence[str] | None) -> list[Path]:
    if not root.is_dir():
        raise FileNotFoundError(f"video folder root '{root}' does not exist")
    if classes is not None:
        dirs = [root / c for c in classes]
        missing = [str(d) for d in dirs if not d.is_dir()]
        if missing:
            raise FileNotFoundError(f"class folders not found: {missing}")
        return dirs
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not dirs:
        raise ValueError(
            f"video folder root '{root}' has no class folders (expected root/<class>/<videos>)"
        )
    return dirs


class VideoFolder(VideoList):
    """Videos in one folder per class: ``root/<class>/<clip>.mp4`` (or .avi, .mkv, ...).

    A class folder may also hold *frame folders*, ``root/<class>/<clip>/`` with ordered images
    (``<clip>_frame_0001.jpg``, ...; natural order, so frame 10 follows frame 9), and may mix
    the two. An animated GIF is a video here; a file whose content is a still image is a bad file
    whatever its suffix (a JPEG renamed ``.mov``). Other files are skipped with one warning.
    Labels follow ``classes``: the sorted folder names, or the given list.

    Args:
        root: the folder of class folders.
        frames, sampling, image_size, transform, pad, on_bad_file: as in :class:`VideoList`.
        classes: class folder names in label order; None = all folders, sorted.
        on_bad_file: as in :class:`VideoList`; here ``"error"`` by default.

    Hidden entries (names starting with a dot) are never read.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        frames: int | None = 16,
        sampling: str = "uniform",
        image_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        classes: Sequence[str] | None = None,
        pad: str = "last",
        on_bad_file: str | None = "error",
    ) -> None:
        _check_options(frames, sampling, image_size, pad)
        self.root = Path(root)
        dirs = _class_dirs(self.root, classes)
        samples: list[tuple[Path, int]] = []
        others: list[Path] = []
        for label, folder in enumerate(dirs):
            found = []
            for entry in sorted(folder.iterdir()):
                if is_hidden(entry):
                    continue
                if entry.is_file() and entry.suffix.lower() in VIDEO_EXTENSIONS:
                    found.append(entry)
                elif entry.is_dir() and is_frame_folder(entry):
                    found.append(entry)
                else:
                    others.append(entry)
            if not found:
                raise ValueError(
                    f"class folder '{folder}' holds no video files or frame folders "
                    f"(video suffixes: {sorted(VIDEO_EXTENSIONS)}; image suffixes for frame "
                    f"folders: {sorted(IMAGE_EXTENSIONS)})"
                )
            samples += [(p, label) for p in found]
        if others:
            warnings.warn(
                f"skipped {len(others)} entries that are neither videos nor frame folders "
                f"under '{self.root}', e.g. '{others[0]}'",
                stacklevel=2,
            )
        super().__init__(
            samples,
            [d.name for d in dirs],
            frames,
            sampling,
            image_size,
            transform,
            pad,
            on_bad_file=on_bad_file,
        )


def _check_fold(fold: int, split: str) -> None:
    if fold not in (1, 2, 3):
        raise ValueError(f"fold must be 1, 2 or 3, got {fold!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _check_exist(samples: list[tuple[Path, int]], listed_in: Path) -> None:
    missing = [str(p) for p, _ in samples if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} video(s) listed in '{listed_in}' not found, e.g. '{missing[0]}'"
        )


class UCF101(VideoList):
    """UCF101 (Soomro et al., 2012) with its official train/test lists.

    ::

        root/<Class>/v_<Class>_gGG_cCC.avi
        splits_dir/classInd.txt                "1 ApplyEyeMakeup" ... (1-based)
        splits_dir/trainlist0{fold}.txt        "<Class>/<clip>.avi <label>"
        splits_dir/testlist0{fold}.txt         "<Class>/<clip>.avi"

    Label = ``classInd`` number - 1. The class of a video is the directory part of its listed
    path, not its file name (the folder ``HandstandPushups`` holds ``v_HandStandPushups_*``).
    A train-list label that disagrees with ``classInd`` raises a ``ValueError``.

    Args:
        root: the ``UCF-101`` folder of class folders.
        splits_dir: the ``ucfTrainTestlist`` folder.
        fold: official split 1, 2 or 3.
        split: ``"train"`` or ``"test"``.
        frames, sampling, image_size, transform, pad, on_bad_file: as in :class:`VideoList`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        splits_dir: str | os.PathLike[str],
        fold: int = 1,
        split: str = "train",
        frames: int | None = 16,
        sampling: str = "uniform",
        image_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        pad: str = "last",
        on_bad_file: str | None = None,
    ) -> None:
        _check_fold(fold, split)
        _check_options(frames, sampling, image_size, pad)
        self.root, self.splits_dir, self.fold, self.split = (
            Path(root),
            Path(splits_dir),
            fold,
            split,
        )
        class_file = self.splits_dir / "classInd.txt"
        if not class_file.is_file():
            raise FileNotFoundError(f"UCF101 class index '{class_file}' does not exist")
        numbered = []
        for n, line in enumerate(class_file.read_text().splitlines(), start=1):
            if line.strip():
                parts = line.split()
                if len(parts) != 2 or not parts[0].isdigit():
                    raise ValueError(f"'{class_file}' line {n} is not '<number> <Class>': {line!r}")
                numbered.append((int(parts[0]), parts[1]))
        numbered.sort()
        if [k for k, _ in numbered] != list(range(1, len(numbered) + 1)):
            raise ValueError(f"'{class_file}' must number its classes 1..N without gaps")
        classes = [name for _, name in numbered]
        index = {c: i for i, c in enumerate(classes)}

        list_file = self.splits_dir / f"{split}list{fold:02d}.txt"
        if not list_file.is_file():
            raise FileNotFoundError(f"UCF101 split list '{list_file}' does not exist")
        samples: list[tuple[Path, int]] = []
        for n, line in enumerate(list_file.read_text().splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            rel = parts[0].replace("\\", "/")
            name = rel.split("/")[0]
            if name not in index:
                raise ValueError(f"'{list_file}' line {n}: class {name!r} is not in '{class_file}'")
            label = index[name]
            if len(parts) > 1 and int(parts[1]) != label + 1:
                raise ValueError(
                    f"'{list_file}' line {n}: label {parts[1]} disagrees with classInd "
                    f"({name} = {label + 1})"
                )
            samples.append((self.root / rel, label))
        if not samples:
            raise ValueError(f"UCF101 split list '{list_file}' lists no videos")
        _check_exist(samples, list_file)
        super().__init__(
            samples, classes, frames, sampling, image_size, transform, pad, on_bad_file=on_bad_file
        )


class HMDB51(VideoList):
    """HMDB51 (Kuehne et al., 2011) with its official 70/30 splits.

    ::

        root/<class>/<clip>.avi
        splits_dir/<class>_test_split{fold}.txt     "<clip>.avi <tag>"  1 train, 2 test, 0 unused

    Classes are the sorted names of the split files of that fold; clips tagged 0 are left out.

    Args:
        root: the ``hmdb51_org`` folder of class folders.
        splits_dir: the ``testTrainMulti_7030_splits`` folder.
        fold: official split 1, 2 or 3.
        split: ``"train"`` (tag 1) or ``"test"`` (tag 2).
        frames, sampling, image_size, transform, pad, on_bad_file: as in :class:`VideoList`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        splits_dir: str | os.PathLike[str],
        fold: int = 1,
        split: str = "train",
        frames: int | None = 16,
        sampling: str = "uniform",
        image_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        pad: str = "last",
        on_bad_file: str | None = None,
    ) -> None:
        _check_fold(fold, split)
        _check_options(frames, sampling, image_size, pad)
        self.root, self.splits_dir, self.fold, self.split = (
            Path(root),
            Path(splits_dir),
            fold,
            split,
        )
        if not self.splits_dir.is_dir():
            raise FileNotFoundError(f"HMDB51 split folder '{self.splits_dir}' does not exist")
        suffix = f"_test_split{fold}.txt"
        files = sorted(self.splits_dir.glob(f"*{suffix}"))
        if not files:
            raise FileNotFoundError(f"no '*{suffix}' split files in '{self.splits_dir}'")
        classes = sorted(f.name[: -len(suffix)] for f in files)
        wanted_tag = "1" if split == "train" else "2"
        samples: list[tuple[Path, int]] = []
        for label, name in enumerate(classes):
            file = self.splits_dir / f"{name}{suffix}"
            for n, line in enumerate(file.read_text().splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                    raise ValueError(f"'{file}' line {n} is not '<clip>.avi <0|1|2>': {line!r}")
                if parts[1] == wanted_tag:
                    samples.append((self.root / name / parts[0], label))
        if not samples:
            raise ValueError(f"HMDB51 fold {fold} has no {split} videos in '{self.splits_dir}'")
        _check_exist(samples, self.splits_dir)
        super().__init__(
            samples, classes, frames, sampling, image_size, transform, pad, on_bad_file=on_bad_file
        )
