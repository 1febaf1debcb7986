"""Reading and writing videos with PyAV, and choosing which frames of a video to read.

torchvision 0.29 no longer reads videos, so this module decodes them with PyAV (``import av``), which
bundles its own FFmpeg. Every function here also accepts a *frame folder*: a directory of ordered image
files (``clip_frame_0001.jpg``, ``clip_frame_0002.jpg``, ...), sorted naturally so that frame 10 follows
frame 9. A frame folder is read through PIL, one file per frame.

Frames come back as ``uint8`` tensors in channel-first order: one frame is ``(C, H, W)`` with ``C = 3``
(RGB), a clip is ``(T, C, H, W)``. With ``size=S`` every frame is resized as it is decoded (shorter
side to ``S``, centre crop, the evaluation transform) and comes back as ``float32 (3, S, S)`` in
``[0, 1]``: memory then follows the model's frame size, not the video's, and frames of different
sizes (a frame folder of mixed photos, say) stack into one clip.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch

from rvit.data.images import IMAGE_EXTENSIONS, load_image

__all__ = [
    "VIDEO_EXTENSIONS",
    "fit_frame",
    "is_frame_folder",
    "frame_files",
    "natural_key",
    "probe",
    "iter_frames",
    "read_video",
    "write_video",
    "sample_indices",
]

#: File suffixes read as video files (lower case). An animated GIF is a video in a video folder
#: (PyAV decodes its frames) and an image in an image folder; a still GIF is refused as a video.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".gif"}
)

#: FFmpeg formats (``container.format.name``) that hold animations: a file of one frame in them is
#: a still image. Other formats of still images are the ``*_pipe`` demuxers (``jpeg_pipe``,
#: ``png_pipe``, ...) and ``image2``, whatever the file's suffix.
_ANIMATION_FORMATS = frozenset({"gif", "apng", "webp"})

# Suffix -> (codec, pixel format) used by ``write_video`` when no codec is given.
_DEFAULT_CODECS = {".mp4": "libx264", ".mkv": "libx264", ".mov": "libx264", ".avi": "mpeg4"}
_PIXEL_FORMATS = {"libx264": "yuv420p", "mpeg4": "yuv420p", "mjpeg": "yuvj444p"}

_DIGITS = re.compile(r"(\d+)")

# Frames decoded between two returns of free heap memory to the system (see _trim_heap).
TRIM_EVERY = 64


def _load_malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def _trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``; nothing elsewhere).

    A high-resolution frame and its float copies are buffers of several megabytes, freed once the
    frame is used; glibc serves them from its heap after the first one, and the small tensors a
    reader keeps per frame (thumbnails, fingerprints) land between them, so the free space can no
    longer be returned and the process's resident set grew with the video's length (two 3,000-frame
    720p clips: 1.3 times the peak of two 300-frame ones). No allocator option fixes that without
    changing every other allocation of the process, so the reader hands the free pages back every
    :data:`TRIM_EVERY` frames, which costs far less than decoding them.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders runs of digits by value: ``frame_9`` before ``frame_10``."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if p.isdigit() else p.lower() for p in parts)


def frame_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files of a frame folder, in natural order (hidden files ignored)."""
    folder = Path(folder)
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def is_frame_folder(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding at least one image file."""
    path = Path(path)
    return path.is_dir() and len(frame_files(path)) > 0


def _check_source(path: str | os.PathLike[str]) -> Path:
    """Validate a video file or frame folder; returns it as a ``Path``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"video '{path}' does not exist")
    if path.is_dir():
        if not frame_files(path):
            raise ValueError(f"frame folder '{path}' holds no image files")
        return path
    if path.stat().st_size == 0:
        raise ValueError(f"video file '{path}' is empty (0 bytes)")
    return path


def _open(path: Path) -> av.container.InputContainer:
    """Open a video file for reading; a file PyAV cannot parse raises a ``ValueError`` naming it."""
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as err:
        raise ValueError(f"cannot read video file '{path}': {err}") from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"video file '{path}' has no video stream")
    still = _still_image_format(container)
    if still is not None:
        container.close()
        raise ValueError(f"'{path}' is a still image ({still}), not a video")
    return container


def _still_image_format(container: av.container.InputContainer) -> str | None:
    """The format of a file that holds one still image (``"jpeg_pipe"``, ``"gif, 1 frame"``), or
    None for a video. The file's content decides, not its suffix: FFmpeg opens a JPEG renamed
    ``.mov`` as a one-frame "video" of its ``jpeg_pipe`` format."""
    name = container.format.name
    if name.endswith("_pipe") or name == "image2":
        return name
    if name in _ANIMATION_FORMATS and int(container.streams.video[0].frames or 0) == 1:
        return f"{name}, 1 frame"
    return None


def probe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a video's header: frame count, frame rate, size and codec, without decoding frames.

    When the header says 0 frames (some .mkv/.webm files), the video packets are counted instead
    (demuxing only, no decoding). A frame folder reports its file count, ``fps=None`` and
    ``codec="frames"``.

    Returns:
        ``dict(num_frames=int, fps=float | None, width=int, height=int, codec=str)``.
    """
    path = _check_source(path)
    if path.is_dir():
        files = frame_files(path)
        first = load_image(files[0])
        return {
            "num_frames": len(files),
            "fps": None,
            "width": int(first.shape[-1]),
            "height": int(first.shape[-2]),
            "codec": "frames",
        }
    with _open(path) as container:
        stream = container.streams.video[0]
        num_frames = int(stream.frames or 0)
        rate = stream.average_rate or stream.base_rate
        info = {
            "num_frames": num_frames,
            "fps": float(rate) if rate else None,
            "width": int(stream.codec_context.width),
            "height": int(stream.codec_context.height),
            "codec": stream.codec_context.name,
        }
        if num_frames == 0:
            try:
                info["num_frames"] = sum(1 for p in container.demux(stream) if p.size)
            except av.error.FFmpegError as err:
                raise ValueError(f"cannot read video file '{path}': {err}") from err
    if info["num_frames"] == 0:
        raise ValueError(f"video '{path}' has 0 frames")
    return info


def _to_chw(frame: av.VideoFrame) -> torch.Tensor:
    """One decoded frame -> uint8 (3, H, W)."""
    array = frame.to_ndarray(format="rgb24")  # (H, W, 3)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


_FITTERS: dict[int, Any] = {}


def fit_frame(frame: torch.Tensor, size: int) -> torch.Tensor:
    """One ``uint8 (3, H, W)`` frame -> ``float32 (3, size, size)`` in ``[0, 1]``.

    The evaluation transform (:func:`rvit.data.eval_transform`): the shorter side is resized to
    ``size`` (antialiased), then the centre is cropped. Every frame of a video gets the same rule.
    """
    if size not in _FITTERS:
        from rvit.data.augment import eval_transform

        _FITTERS[size] = eval_transform(size)
    return _FITTERS[size](frame)


def _prepare(frame: torch.Tensor, size: int | None) -> torch.Tensor:
    return frame if size is None else fit_frame(frame, size)


def _check_size(size: int | None) -> None:
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive int or None, got {size!r}")


def _stack(frames: list[torch.Tensor], path: Path) -> torch.Tensor:
    """Stack a clip's frames; frames of different sizes are a clear error naming the video."""
    shapes = {tuple(f.shape) for f in frames}
    if len(shapes) > 1:
        sizes = sorted(f"{h}x{w}" for _, h, w in shapes)
        raise ValueError(
            f"the frames of video '{path}' differ in size ({', '.join(sizes)}); read them with "
            "size=S (image_size=S in the data sets) to resize every frame to S x S"
        )
    return torch.stack(frames)


def iter_frames(
    path: str | os.PathLike[str], stride: int = 1, size: int | None = None
) -> Iterator[torch.Tensor]:
    """Yield the frames of a video in order, decoding one at a time.

    This is the streaming reader: memory stays at one frame whatever the video's length.

    Args:
        path: a video file or a frame folder.
        stride: yield every ``stride``-th frame (frames 0, stride, 2 * stride, ...).
        size: None yields ``uint8 (3, H, W)`` frames at the video's own size; ``S`` yields
            ``float32 (3, S, S)`` frames resized as they are decoded (:func:`fit_frame`).
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    _check_size(size)
    path = _check_source(path)
    if path.is_dir():
        for i, file in enumerate(frame_files(path)):
            if i % stride == 0:
                yield _prepare(load_image(file), size)
        return
    count = 0
    with _open(path) as container:
        try:
            for i, frame in enumerate(container.decode(video=0)):
                count += 1
                if i % TRIM_EVERY == TRIM_EVERY - 1:
                    _trim_heap()
                if i % stride == 0:
                    yield _prepare(_to_chw(frame), size)
        except av.error.FFmpegError as err:
            raise ValueError(f"cannot decode video file '{path}': {err}") from err
    if count == 0:
        raise ValueError(f"video '{path}' has 0 decodable frames")


def read_video(
    path: str | os.PathLike[str],
    indices: Sequence[int] | torch.Tensor | None = None,
    size: int | None = None,
) -> torch.Tensor:
    """Read a whole video, or the frames at ``indices``, as ``uint8 (T, C, H, W)``.

    Frames come back in the order of ``indices``; an index may repeat and the list need not be
    sorted (``[15, 0, 7]`` gives frames 15, 0 and 7 in that order). The file is decoded once,
    sequentially, up to the largest index requested; only the requested frames are kept.
    With ``size=S`` each kept frame is resized as it is decoded and the clip is
    ``float32 (T, 3, S, S)`` in ``[0, 1]`` (:func:`fit_frame`); frames of different sizes then
    stack, while without ``size`` they are a ``ValueError`` naming the video.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is empty, not a video, or cannot be decoded.
        IndexError: an index is negative or beyond the end of the video.
    """
    _check_size(size)
    path = _check_source(path)
    wanted: list[int] | None = None
    if indices is not None:
        wanted = [int(i) for i in (indices.tolist() if torch.is_tensor(indices) else indices)]
        if not wanted:
            raise ValueError(f"indices for video '{path}' are empty")
        if min(wanted) < 0:
            raise IndexError(f"frame index {min(wanted)} of video '{path}' is negative")

    if path.is_dir():
        files = frame_files(path)
        if wanted is None:
            return _stack([_prepare(load_image(f), size) for f in files], path)
        if max(wanted) >= len(files):
            raise IndexError(
                f"frame index {max(wanted)} is beyond the end of video '{path}' "
                f"({len(files)} frames)"
            )
        cache = {i: _prepare(load_image(files[i]), size) for i in sorted(set(wanted))}
        return _stack([cache[i] for i in wanted], path)

    if wanted is None:
        return _stack(list(iter_frames(path, size=size)), path)
    needed = set(wanted)
    last = max(wanted)
    cache: dict[int, torch.Tensor] = {}
    count = 0
    with _open(path) as container:
        try:
            for i, frame in enumerate(container.decode(video=0)):
                count = i + 1
                if i in needed:
                    cache[i] = _prepare(_to_chw(frame), size)
                if i >= last:
                    break
        except av.error.FFmpegError as err:
            raise ValueError(f"cannot decode video file '{path}': {err}") from err
    if count == 0:
        raise ValueError(f"video '{path}' has 0 decodable frames")
    if last not in cache:
        raise IndexError(f"frame index {last} is beyond the end of video '{path}' ({count} frames)")
    return _stack([cache[i] for i in wanted], path)


def write_video(
    path: str | os.PathLike[str],
    frames: torch.Tensor | np.ndarray,
    fps: float = 25,
    codec: str | None = None,
) -> Path:
    """Encode ``uint8 (T, C, H, W)`` frames (``C`` = 3, or 1 for grey) to a video file.

    The codec follows the suffix unless given: ``.mp4``/``.mkv``/``.mov`` -> ``libx264``
    (yuv420p, constant quality 18; needs an even width and height), ``.avi`` -> ``mpeg4``
    (the codec family of UCF101/HMDB51); ``codec="mjpeg"`` with ``.avi`` gives motion JPEG
    (yuvj444p, any size). The file is written under a temporary name and moved into place, so
    a reader never sees half a video.

    Returns:
        The path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    codec = codec or _DEFAULT_CODECS.get(suffix)
    if codec is None:
        raise ValueError(
            f"cannot choose a codec for '{path}': use a suffix among "
            f"{sorted(_DEFAULT_CODECS)} or pass codec="
        )
    if codec not in _PIXEL_FORMATS:
        raise ValueError(f"codec must be one of {sorted(_PIXEL_FORMATS)}, got {codec!r}")
    video = torch.as_tensor(frames)
    if video.dtype != torch.uint8 or video.ndim != 4 or video.shape[1] not in (1, 3):
        raise ValueError(
            f"frames for '{path}' must be uint8 (T, C, H, W) with C in (1, 3), "
            f"got {video.dtype} {tuple(video.shape)}"
        )
    if video.shape[0] == 0:
        raise ValueError(f"frames for '{path}' are empty (T = 0)")
    if video.shape[1] == 1:
        video = video.expand(-1, 3, -1, -1)
    height, width = int(video.shape[-2]), int(video.shape[-1])
    if codec != "mjpeg" and (height % 2 or width % 2):
        raise ValueError(
            f"codec {codec} needs an even frame size, got {height}x{width} for '{path}' "
            "(crop or pad the frames, or use codec='mjpeg' with .avi)"
        )
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        with av.open(str(tmp), mode="w") as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = width, height
            stream.pix_fmt = _PIXEL_FORMATS[codec]
            if codec == "libx264":
                stream.options = {"crf": "18"}
            elif codec == "mpeg4":
                stream.bit_rate = 8_000_000
            for frame in video.permute(0, 2, 3, 1).contiguous().numpy():  # (H, W, 3)
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def sample_indices(
    num_frames: int,
    clip_len: int,
    mode: str = "uniform",
    generator: torch.Generator | None = None,
    pad: str = "last",
) -> torch.Tensor:
    """Choose ``clip_len`` frame indices out of ``num_frames``, in increasing order.

    The video is cut into ``clip_len`` equal segments (as in temporal segment networks), so a clip
    covers the whole video whatever its length:

    - ``"uniform"``: the middle frame of each segment (deterministic; for evaluation);
    - ``"random"``: one random frame inside each segment (for training; uses ``generator``, or the
      torch global generator when ``None``).

    A video shorter than ``clip_len`` gives all its frames once, then ``pad="last"`` repeats the
    last frame and ``pad="loop"`` starts again from frame 0: 3 frames, clip of 7 ->
    ``[0, 1, 2, 2, 2, 2, 2]`` or ``[0, 1, 2, 0, 1, 2, 0]``.

    Returns:
        LongTensor ``(clip_len,)``.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if clip_len < 1:
        raise ValueError(f"clip_len must be >= 1, got {clip_len}")
    if mode not in ("uniform", "random"):
        raise ValueError(f"mode must be 'uniform' or 'random', got {mode!r}")
    if pad not in ("last", "loop"):
        raise ValueError(f"pad must be 'last' or 'loop', got {pad!r}")
    if num_frames < clip_len:
        extra = torch.arange(clip_len - num_frames)
        if pad == "loop":
            tail = extra.remainder(num_frames)
        else:
            tail = torch.full_like(extra, num_frames - 1)
        return torch.cat([torch.arange(num_frames), tail])
    edges = torch.linspace(0, num_frames, clip_len + 1, dtype=torch.float64)  # (clip_len + 1,)
    starts, widths = edges[:-1], edges[1:] - edges[:-1]
    if mode == "uniform":
        offsets = torch.full((clip_len,), 0.5, dtype=torch.float64)
    else:
        offsets = torch.rand(clip_len, generator=generator, dtype=torch.float64)
    indices = (starts + offsets * widths).floor().long()
    return indices.clamp_(0, num_frames - 1)
