"""Leakage audit: training images that come from test videos.

A model trained on frames of a video and tested on that same video is tested on what it has seen.
When training images are frames extracted from videos (or photos that also appear as video frames),
:func:`audit_leakage` looks for them among the test videos in two ways:

1. **Source id.** A test clip's id (its file name without suffix, or its frame folder's name, e.g.
   ``v_Archery_g01_c01``) that appears in a training image's file name between separators
   (``v_Archery_g01_c01_frame_0003.jpg``), or in the ``source`` a :class:`rvit.data.VideoFrames` set
   keeps for each frame. Ids shorter than 4 characters or made only of digits are not used.
2. **Content**, in two stages.

   - *Hash.* Every image and every frame is kept as a grey 36 x 36 thumbnail. A 32 x 32 window of
     it is hashed with the 64-bit DCT hash (pHash): 2-D DCT, the 8 x 8 lowest frequencies
     compared with their median, one bit each. A training image is hashed whole and mirrored (a
     horizontal flip only changes the sign of the odd horizontal frequencies, so both hashes come
     from one DCT); a test frame is hashed whole and in nine windows that keep 90 % of each side
     (:data:`CROP_WINDOWS`). A frame whose best window is within ``max_distance`` bits (Hamming
     distance) of the image or its mirror is a candidate; each (image, video) pair keeps its
     closest frame.
   - *Verification.* The candidate is confirmed when the Pearson correlation between the image's
     thumbnail (or its mirror) and the best of 35 windows of the frame's thumbnail
     (:data:`VERIFY_WINDOWS`, 2.5 % steps) reaches ``min_correlation``. This removes hash
     collisions between pictures that only look alike.

Tolerances, with the defaults ``max_distance=12`` and ``min_correlation=0.85``, each tested in
``tests/test_leakage.py`` on textured pictures: a copy of a frame, also re-encoded as JPEG
(quality >= 75); a horizontal flip; a crop that keeps >= 90 % of the width and of the height, at
any position (also combined with a flip); resizing to any size down to 32 px; brightness and
contrast changes of +-20 %, saturation +-20 % and hue +-0.02 (``ColorJitter`` ranges). On such
pictures copies stay within 8 bits and correlate >= 0.88, unrelated pictures are >= 12 bits apart
and correlate <= 0.55. Pictures that differ only in small details at 36 px (the synthetic world's
stick figures on plain backgrounds) can be reported as near duplicates.

Fingerprints are computed once per file: kept in memory (keyed by path, modification time and
size) and, with ``cache_dir``, in ``cache_dir/phash-v3.pt`` under the same key. Data sets without
paths (the synthetic world) are read item by item each time; their source-id check is skipped,
except through the ``source`` of a :class:`rvit.data.VideoFrames` set.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as nnf
from PIL import ImageOps
from torchvision.transforms.v2 import functional as F

from rvit.data.images import open_image, to_rgb
from rvit.data.video import iter_frames
from rvit.data.videosets import clip_id

__all__ = [
    "HASH_BITS",
    "thumbnails",
    "phash",
    "hamming",
    "CROP_WINDOWS",
    "frame_hashes",
    "LeakageReport",
    "audit_leakage",
]

HASH_BITS = 64
_BASE = 36  # side of the grey thumbnail kept per image and per frame (uint8)
_THUMB = 32  # side of the windows cut from it, which are hashed and correlated
_BLOCK = 8  # the 8 x 8 lowest DCT frequencies give the 64 bits
_CACHE_FILE = "phash-v3.pt"
_SEPARATORS = "_-. "
_FRAME_IN_NAME = re.compile(r"frame[_\-]?(\d+)", re.IGNORECASE)
_GREY = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)

# In-memory fingerprint cache shared by every audit in this process, keyed like the disk cache.
_MEMORY: dict[str, Any] = {}

#: Windows ``(scale, left, top)`` (fractions of the frame) hashed for every test-video frame: the
#: whole frame and nine crops keeping 90 % of each side on a 3 x 3 grid of positions. A training
#: image cropped from a frame is then within half a grid step of one of them.
CROP_WINDOWS: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.0, 0.0),
    *((0.9, 0.05 * i, 0.05 * j) for j in range(3) for i in range(3)),
)

#: Windows searched when a hash match is verified: the whole frame, 95 % crops on a 3 x 3 grid and
#: 90 % crops on a 5 x 5 grid (steps of 2.5 % of the frame).
VERIFY_WINDOWS: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.0, 0.0),
    *((0.95, 0.025 * i, 0.025 * j) for j in range(3) for i in range(3)),
    *((0.9, 0.025 * i, 0.025 * j) for j in range(5) for i in range(5)),
)


def _dct_matrix(n: int) -> torch.Tensor:
    """Orthonormal DCT-II matrix ``(n, n)``: ``D @ x`` transforms a column ``x``."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    x = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * x + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


def _window_grids(windows: tuple[tuple[float, float, float], ...]) -> torch.Tensor:
    """Sampling grids ``(K, 32, 32, 2)`` that cut each window out of a thumbnail."""
    theta = torch.zeros(len(windows), 2, 3)
    for k, (scale, left, top) in enumerate(windows):
        theta[k, 0, 0] = theta[k, 1, 1] = scale
        theta[k, 0, 2] = -1.0 + 2.0 * left + scale  # window centre in [-1, 1] coordinates
        theta[k, 1, 2] = -1.0 + 2.0 * top + scale
    return nnf.affine_grid(theta, [len(windows), 1, _THUMB, _THUMB], align_corners=False)


_DCT = _dct_matrix(_THUMB)
_BIT_WEIGHTS = torch.arange(HASH_BITS, dtype=torch.int64)
# Horizontal flip x -> N - 1 - x multiplies the DCT coefficient of horizontal frequency v by (-1)^v.
_FLIP_SIGNS = (1.0 - 2.0 * (torch.arange(_BLOCK) % 2)).float()  # (8,)
_CROP_GRIDS = _window_grids(CROP_WINDOWS)
_VERIFY_GRIDS = _window_grids(VERIFY_WINDOWS)


def thumbnails(images: torch.Tensor) -> torch.Tensor:
    """Grey ``36 x 36`` thumbnails of ``(N, C, H, W)`` images (uint8, or float in [0, 1]).

    Returns:
        uint8 ``(N, 36, 36)``: what the audit keeps of every image and every frame.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, C, H, W) with C in (1, 3), got {tuple(images.shape)}")
    x = images.float()
    if not images.is_floating_point():
        x = x / 255.0
    grey = x if x.shape[1] == 1 else (x * _GREY).sum(dim=1, keepdim=True)  # (N, 1, H, W)
    small = F.resize(grey, [_BASE, _BASE], antialias=True)[:, 0]
    return small.clamp_(0, 1).mul_(255).round_().to(torch.uint8)


def _windows(thumbs: torch.Tensor, grids: torch.Tensor) -> torch.Tensor:
    """Cut windows out of uint8 thumbnails ``(N, 36, 36)``: float ``(N, K, 32, 32)`` in [0, 255]."""
    n, k = len(thumbs), len(grids)
    source = thumbs.float()[:, None].repeat_interleave(k, dim=0)  # (N * K, 1, 36, 36)
    out = nnf.grid_sample(source, grids.repeat(n, 1, 1, 1), mode="bilinear", align_corners=False)
    return out.view(n, k, _THUMB, _THUMB)


def _pack(bits: torch.Tensor) -> torch.Tensor:
    """``(..., 64)`` bool -> ``(...)`` int64 (bit k of the hash = ``bits[..., k]``)."""
    return (bits.long() << _BIT_WEIGHTS).sum(dim=-1)


def _unpack(hashes: torch.Tensor) -> torch.Tensor:
    """``(N,)`` int64 -> ``(N, 64)`` bool."""
    return ((hashes[:, None] >> _BIT_WEIGHTS) & 1).bool()


def _hash_windows(windows: torch.Tensor, with_flip: bool = False) -> torch.Tensor:
    """DCT hashes of ``(..., 32, 32)`` windows: int64 ``(...)``, or ``(..., 2)`` with the mirror."""
    coeffs = (_DCT @ windows @ _DCT.T)[..., :_BLOCK, :_BLOCK]  # rows = vertical frequency

    def bits(c: torch.Tensor) -> torch.Tensor:
        flat = c.flatten(-2)  # (..., 64)
        return _pack(flat > flat.median(dim=-1, keepdim=True).values)

    if not with_flip:
        return bits(coeffs)
    return torch.stack([bits(coeffs), bits(coeffs * _FLIP_SIGNS)], dim=-1)


def phash(images: torch.Tensor, with_flip: bool = False) -> torch.Tensor:
    """64-bit DCT hashes of ``(N, C, H, W)`` images.

    Returns:
        int64 ``(N,)``, or ``(N, 2)`` with ``with_flip`` (column 1 = hash of the mirrored image).
    """
    whole = _windows(thumbnails(images), _CROP_GRIDS[:1])[:, 0]  # (N, 32, 32)
    return _hash_windows(whole, with_flip)


def frame_hashes(frames: torch.Tensor) -> torch.Tensor:
    """Hashes of each frame ``(T, C, H, W)`` and of its crops in :data:`CROP_WINDOWS`.

    Returns:
        int64 ``(T, K)`` with ``K = len(CROP_WINDOWS)``; column 0 hashes the whole frame.
    """
    return _hash_windows(_windows(thumbnails(frames), _CROP_GRIDS))


def _signs(hashes: torch.Tensor) -> torch.Tensor:
    """int64 hashes ``(N,)`` -> float32 ``(N, 64)`` of +-1, for Hamming distances by matmul."""
    return _unpack(hashes).float().mul_(2).sub_(1)


def hamming(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamming distances between int64 hashes ``a (N,)`` and ``b (M,)``: int64 ``(N, M)``.

    With +-1 bit vectors, ``a . b = 64 - 2 * distance``, so one matrix product gives every
    distance (exact: the values are small integers).
    """
    dots = _signs(a) @ _signs(b).T  # (N, M)
    return ((HASH_BITS - dots) / 2).round().long()


def _standardise(x: torch.Tensor) -> torch.Tensor:
    """Flatten the last two dims and scale to zero mean, unit norm (for Pearson correlation)."""
    flat = x.flatten(-2).float()
    flat = flat - flat.mean(dim=-1, keepdim=True)
    return flat / flat.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def _correlations(image_thumbs: torch.Tensor, frame_thumbs: torch.Tensor) -> torch.Tensor:
    """Best correlation of each (image, frame) pair over verify windows and mirroring.

    Args:
        image_thumbs, frame_thumbs: uint8 ``(B, 36, 36)`` thumbnails, pair by pair.

    Returns:
        float32 ``(B,)`` in ``[-1, 1]``.
    """
    crops = _standardise(_windows(frame_thumbs, _VERIFY_GRIDS))  # (B, K, 1024)
    whole = _windows(image_thumbs, _CROP_GRIDS[:1])[:, 0]  # (B, 32, 32)
    image, mirror = _standardise(whole), _standardise(whole.flip(-1))  # (B, 1024)
    best = torch.einsum("bkd,bd->bk", crops, image).amax(dim=1)
    return torch.maximum(best, torch.einsum("bkd,bd->bk", crops, mirror).amax(dim=1))


# ----------------------------------------------------------------------------------------------
# Fingerprints of data sets, with caching


@dataclass
class _Prints:
    """Hashes and thumbnails of one image (``(2,)``, ``(36, 36)``) or one video
    (``(T, K)``, ``(T, 36, 36)``)."""

    hashes: torch.Tensor
    thumbs: torch.Tensor


def _image_prints(images: torch.Tensor) -> list[_Prints]:
    thumbs = thumbnails(images)  # (N, 36, 36)
    hashes = _hash_windows(_windows(thumbs, _CROP_GRIDS[:1])[:, 0], with_flip=True)  # (N, 2)
    return [_Prints(h, t) for h, t in zip(hashes, thumbs, strict=True)]


def _video_prints(frames: torch.Tensor) -> _Prints:
    return _thumb_prints(thumbnails(frames))  # thumbnails (T, 36, 36)


def _thumb_prints(thumbs: torch.Tensor) -> _Prints:
    """Fingerprints of frames from their uint8 thumbnails ``(T, 36, 36)``."""
    return _Prints(_hash_windows(_windows(thumbs, _CROP_GRIDS)), thumbs)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch single-threaded inside the block: fingerprints are many tiny tensor operations,
    which threads only slow down (each op pays a thread start-up and join)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _file_key(path: str, kind: str) -> str:
    st = os.stat(path)
    return f"{kind}|{os.path.abspath(path)}|{st.st_mtime_ns}|{st.st_size}"


def _load_small(path: str) -> torch.Tensor:
    """Decode an image for hashing; JPEGs are decoded at reduced scale (>= 64 px) for speed."""
    try:
        with open_image(path) as image:
            image.draft("RGB", (2 * _THUMB, 2 * _THUMB))
            array = np.asarray(to_rgb(ImageOps.exif_transpose(image)))
    except (OSError, ValueError, SyntaxError) as err:
        raise ValueError(f"cannot read image '{path}': {err}") from err
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def _video_file_prints(path: str, chunk: int = 64) -> _Prints:
    """Fingerprints of every frame of a video file or frame folder.

    Each frame is reduced to its 36 x 36 thumbnail as soon as it is decoded (the same numbers as
    a batch of frames gives: the resize treats every image alone), and the thumbnails are hashed
    ``chunk`` at a time, so memory holds one decoded frame and small thumbnails whatever the
    video's length and resolution; the whole-frame chunks a 720p video needed before grew to
    gigabytes."""
    parts, thumbs = [], []
    for frame in iter_frames(path):
        thumbs.append(thumbnails(frame[None])[0])
        if len(thumbs) == chunk:
            parts.append(_thumb_prints(torch.stack(thumbs)))
            thumbs = []
    if thumbs:
        parts.append(_thumb_prints(torch.stack(thumbs)))
    return _Prints(torch.cat([p.hashes for p in parts]), torch.cat([p.thumbs for p in parts]))


class _Cache:
    """Fingerprints by file key: in memory for the process, and in ``cache_dir`` if given."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None) -> None:
        self.file = Path(cache_dir) / _CACHE_FILE if cache_dir is not None else None
        self.disk: dict[str, dict[str, torch.Tensor]] = {}
        self.dirty = False
        if self.file is not None and self.file.is_file():
            try:
                self.disk = torch.load(self.file, weights_only=True)
            except Exception:  # a damaged cache is rebuilt, never trusted
                self.disk = {}

    def get(self, key: str) -> _Prints | None:
        if key in _MEMORY:
            prints = _MEMORY[key]
            if self.file is not None and key not in self.disk:
                self.disk[key] = {"hashes": prints.hashes, "thumbs": prints.thumbs}
                self.dirty = True
            return prints
        entry = self.disk.get(key)
        if entry is None:
            return None
        prints = _Prints(entry["hashes"], entry["thumbs"])
        _MEMORY[key] = prints
        return prints

    def put(self, key: str, prints: _Prints) -> None:
        _MEMORY[key] = prints
        if self.file is not None:
            self.disk[key] = {"hashes": prints.hashes, "thumbs": prints.thumbs}
            self.dirty = True

    def save(self) -> None:
        if self.file is None or not self.dirty:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
        torch.save(self.disk, tmp)
        os.replace(tmp, self.file)


def _paths(dataset: Any) -> list[str] | None:
    """File paths of a data set's samples, or None when it has none on disk."""
    samples = getattr(dataset, "samples", None)
    if not samples:
        return None
    paths = [str(s[0]) for s in samples]
    if len(paths) != len(dataset) or not all(os.path.exists(p) for p in paths):
        return None
    return paths


def _image_set_prints(image_set: Any, cache: _Cache) -> list[_Prints]:
    """Fingerprints of every training image (from its file when it has one)."""
    paths = _paths(image_set)
    if paths is not None:
        prints = []
        for path in paths:
            key = _file_key(path, "image")
            found = cache.get(key)
            if found is None:
                found = _image_prints(_load_small(path)[None])[0]
                cache.put(key, found)
            prints.append(found)
        return prints
    prints = []
    for i in range(len(image_set)):
        image = image_set[i][0]
        if image.ndim != 3:
            raise ValueError(f"training image {i} must be (C, H, W), got {tuple(image.shape)}")
        prints += _image_prints(image[None])
    return prints


def _video_set_prints(video_set: Any, cache: _Cache) -> Iterator[_Prints]:
    """Fingerprints of every frame of each test video, one video at a time."""
    paths = _paths(video_set)
    for j in range(len(video_set)):
        if paths is not None:
            key = _file_key(paths[j], "video")
            found = cache.get(key)
            if found is None:
                found = _video_file_prints(paths[j])
                cache.put(key, found)
            yield found
        else:
            video = video_set[j][0]
            if video.ndim != 4:
                raise ValueError(f"test video {j} must be (T, C, H, W), got {tuple(video.shape)}")
            yield _video_prints(video)


# ----------------------------------------------------------------------------------------------
# Source ids


def _spans(stem: str) -> Iterable[str]:
    """Every run of whole separator-delimited tokens of a name, lower case."""
    stem = stem.lower()
    cuts = [i for i, ch in enumerate(stem) if ch in _SEPARATORS]
    starts = [0, *(i + 1 for i in cuts)]
    ends = [*cuts, len(stem)]
    for s in starts:
        for e in ends:
            if e > s:
                yield stem[s:e]


def _usable_id(clip: str) -> bool:
    return len(clip) >= 4 and not clip.isdigit()


def _image_names(image_set: Any) -> tuple[list[str], list[list[str]], list[int | None]]:
    """Per training image: display name, names to search for clip ids, frame index if known."""
    paths = _paths(image_set)
    source = getattr(image_set, "source", None)
    names, searched, frames = [], [], []
    for i in range(len(image_set)):
        texts, frame = [], None
        if paths is not None:
            name = paths[i]
            texts.append(Path(name).stem)
            found = _FRAME_IN_NAME.search(Path(name).stem)
            frame = int(found.group(1)) if found else None
        else:
            name = f"image[{i}]"
        if source is not None and source[i][1] is not None:
            texts.append(clip_id(source[i][1]))
            frame = int(source[i][2])
            if paths is None:
                name = f"image[{i}] (frame {frame} of {source[i][1]})"
        names.append(name)
        searched.append(texts)
        frames.append(frame)
    return names, searched, frames


# ----------------------------------------------------------------------------------------------
# The audit


@dataclass
class LeakageReport:
    """What :func:`audit_leakage` found.

    ``table`` has one row per suspect (training image, test video) pair: ``image``,
    ``image_index``, ``video``, ``video_index``, ``frame`` (closest frame, or the frame named by
    the source id), ``distance`` (Hamming bits, empty for a source-id-only match) and ``reason``
    (``"source id"``, ``"content"`` or ``"source id + content"``). ``bool(report)`` is True when
    anything leaked.
    """

    table: pd.DataFrame
    num_images: int
    num_videos: int
    num_frames: int
    max_distance: int
    min_correlation: float
    flagged: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return len(self.table) > 0

    @property
    def summary(self) -> str:
        """One line: how many training images leak from how many test videos, and how."""
        if not self:
            return (
                f"no leakage: {self.num_images} training images against {self.num_videos} test "
                f"videos ({self.num_frames} frames); hash distance <= {self.max_distance}/64 bits, "
                f"correlation >= {self.min_correlation}"
            )
        reasons = self.table["reason"]
        by_id = int(self.table.loc[reasons.str.contains("source id"), "image_index"].nunique())
        by_content = int(self.table.loc[reasons.str.contains("content"), "image_index"].nunique())
        return (
            f"LEAKAGE: {len(self.flagged)} of {self.num_images} training images match "
            f"{self.table['video_index'].nunique()} of {self.num_videos} test videos "
            f"({by_id} by source id, {by_content} by content: hash distance <= {self.max_distance}/64 bits, "
            f"correlation >= {self.min_correlation})"
        )

    def __repr__(self) -> str:
        return f"LeakageReport({self.summary})"


def audit_leakage(
    image_set: Any,
    video_set: Any,
    max_distance: int = 12,
    min_correlation: float = 0.85,
    cache_dir: str | os.PathLike[str] | None = None,
    chunk: int = 256,
) -> LeakageReport:
    """Find training images that come from test videos, by source id and by content.

    Content is checked in two stages. (1) Hashes: each training image and its mirror against the
    hashes of every frame of every test video and of the frame's nine 90 % crops; a frame within
    ``max_distance`` bits is a candidate, and the closest frame of each (image, video) pair is
    kept. (2) Verification: the grey 32 x 32 thumbnail of the image (and of its mirror) is
    correlated with crops of the frame's 48 x 48 thumbnail over :data:`VERIFY_WINDOWS`; the pair is
    reported when the best Pearson correlation reaches ``min_correlation``. The hash stage is
    fast; the verification removes hash collisions between images that merely look alike.

    Args:
        image_set: the training images: a data set with ``samples`` paths (image folders,
            Stanford 40, extracted frames), a :class:`rvit.data.VideoFrames` set (its ``source``
            is checked), or any set of ``(C, H, W)`` items (the synthetic world).
        video_set: the test videos: a data set with ``samples`` paths (files or frame folders;
            every frame is read) or any set of ``(T, C, H, W)`` items.
        max_distance: largest Hamming distance (bits of 64) that makes a candidate.
        min_correlation: smallest thumbnail correlation that confirms a candidate; 0 reports
            every hash candidate.
        cache_dir: folder for the on-disk fingerprint cache (``phash-v2.pt``), or None.
        chunk: training images compared per matrix product (memory about
            ``chunk x frames x 10 x 4`` bytes).

    Returns:
        A :class:`LeakageReport` (``.table``, ``.summary``, ``bool``).
    """
    if not 0 <= max_distance < HASH_BITS:
        raise ValueError(f"max_distance must be in 0..63 bits, got {max_distance}")
    if not -1.0 <= min_correlation <= 1.0:
        raise ValueError(f"min_correlation must be in [-1, 1], got {min_correlation}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    cache = _Cache(cache_dir)
    image_names, searched, name_frames = _image_names(image_set)
    with _one_thread():
        image_prints = _image_set_prints(image_set, cache)
        video_prints = list(_video_set_prints(video_set, cache))
    cache.save()

    video_paths = _paths(video_set)
    video_names = video_paths or [f"video[{j}]" for j in range(len(video_set))]
    lengths = torch.tensor([len(p.hashes) for p in video_prints], dtype=torch.long)
    frame_video = torch.repeat_interleave(torch.arange(len(video_prints)), lengths)  # (M,)
    starts = torch.cumsum(lengths, 0) - lengths
    frame_index = torch.arange(int(lengths.sum())) - starts[frame_video]  # (M,)

    found: dict[tuple[int, int], dict[str, Any]] = {}

    # 1. Content: hash candidates, then verified by thumbnail correlation.
    if image_prints and video_prints:
        image_hashes = torch.stack([p.hashes for p in image_prints])  # (N, 2)
        image_thumbs = torch.stack([p.thumbs for p in image_prints])  # (N, 32, 32)
        frame_thumbs = torch.cat([p.thumbs for p in video_prints])  # (M, 48, 48)
        all_hashes = torch.cat([p.hashes for p in video_prints])  # (M, K)
        windows = all_hashes.shape[1]
        frame_signs = _signs(all_hashes.reshape(-1)).T.contiguous()  # (64, M * K)
        least_dot = HASH_BITS - 2 * max_distance  # distance <= max  <=>  dot >= 64 - 2 max
        candidates = []
        for lo in range(0, len(image_hashes), chunk):
            block = image_hashes[lo : lo + chunk]  # (n, 2): the image and its mirror
            dots = _signs(block[:, 0]) @ frame_signs  # (n, M * K)
            torch.maximum(dots, _signs(block[:, 1]) @ frame_signs, out=dots)
            best = dots.view(len(block), -1, windows).amax(dim=2)  # (n, M): best window per frame
            rows, cols = torch.nonzero(best >= least_dot, as_tuple=True)
            if len(rows):
                candidates.append(
                    pd.DataFrame(
                        {
                            "image_index": (rows + lo).numpy(),
                            "video_index": frame_video[cols].numpy(),
                            "global_frame": cols.numpy(),
                            "distance": ((HASH_BITS - best[rows, cols]) / 2).round().long().numpy(),
                        }
                    )
                )
        if candidates:
            pairs = (
                pd.concat(candidates)
                .sort_values(["distance", "global_frame"])
                .drop_duplicates(["image_index", "video_index"])
                .reset_index(drop=True)
            )
            images_i = torch.as_tensor(pairs["image_index"].to_numpy())
            frames_g = torch.as_tensor(pairs["global_frame"].to_numpy())
            scores = torch.cat(
                [
                    _correlations(
                        image_thumbs[images_i[a : a + 512]], frame_thumbs[frames_g[a : a + 512]]
                    )
                    for a in range(0, len(pairs), 512)
                ]
            )
            for row, score in zip(pairs.itertuples(index=False), scores.tolist(), strict=True):
                if score >= min_correlation:
                    found[(int(row.image_index), int(row.video_index))] = {
                        "frame": int(frame_index[row.global_frame]),
                        "distance": int(row.distance),
                        "correlation": round(float(score), 4),
                        "reason": "content",
                    }

    # 2. Source ids: a test clip id inside a training image's name or recorded source.
    if video_paths is not None:
        ids: dict[str, list[int]] = {}
        for j, path in enumerate(video_paths):
            clip = clip_id(path).lower()
            if _usable_id(clip):
                ids.setdefault(clip, []).append(j)
        for i, texts in enumerate(searched):
            matched = {j for text in texts for span in _spans(text) for j in ids.get(span, ())}
            for j in matched:
                entry = found.get((i, j))
                if entry is None:
                    found[(i, j)] = {
                        "frame": name_frames[i],
                        "distance": None,
                        "correlation": None,
                        "reason": "source id",
                    }
                else:
                    entry["reason"] = "source id + content"

    columns = [
        "image",
        "image_index",
        "video",
        "video_index",
        "frame",
        "distance",
        "correlation",
        "reason",
    ]
    table = pd.DataFrame(
        [
            {"image": image_names[i], "image_index": i, "video": video_names[j], "video_index": j}
            | entry
            for (i, j), entry in sorted(found.items())
        ],
        columns=columns,
    )
    table["frame"] = table["frame"].astype("Int64")
    table["distance"] = table["distance"].astype("Int64")
    table["correlation"] = table["correlation"].astype("Float64")
    return LeakageReport(
        table=table,
        num_images=len(image_prints),
        num_videos=len(video_prints),
        num_frames=int(lengths.sum()),
        max_distance=max_distance,
        min_correlation=min_correlation,
        flagged=sorted({i for i, _ in found}),
    )
