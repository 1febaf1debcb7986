"""A small vectorised rasteriser: round-capped strokes, boxes and gradients drawn over a batch of frames.

The synthetic action world (:mod:`rvit.data.synthetic`) describes every frame as a handful of shapes
(:class:`FrameParams`), and :func:`render_batch` turns N such descriptions into N RGB images at once.

Anti-aliasing is analytic. Each stroke is a capsule: the set of points within ``radius`` of a line
segment. For every pixel centre we compute the signed distance ``dist`` to the nearest capsule of a shape
and turn it into coverage with a one-pixel linear ramp, ``clamp(0.5 - dist, 0, 1)``: 1 inside, 0 outside,
a fraction on the boundary. A shape of one colour (a stick figure) is drawn as the union of its capsules,
so overlapping limbs do not darken each other.

The distance to a segment with midpoint ``m``, unit direction ``e`` and half length ``h`` is
``sqrt(across**2 + max(|along| - h, 0)**2)`` with ``along = (p - m) . e`` and ``across = (p - m) x e``.
Both coordinates are affine in the pixel position ``p = (x, y)``, so each splits into a part that depends
only on the column and a part that depends only on the row, and one broadcast add builds a grid. The
grid is only a small window around each segment (a limb covers a few percent of the frame), merged into
the frame by a scatter-max. Frames are processed in chunks small enough to stay in the cache.

:func:`video_look` applies the degradations that make frames look like video rather than photos.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, fields
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Boxes",
    "FrameParams",
    "Strokes",
    "noise_bank",
    "noise_offsets",
    "render_batch",
    "video_look",
]

NOISE_FRAMES = 64  # the noise bank holds this many frames' worth of unit Gaussian noise
_CHUNK_PIXELS = 256 * 32 * 32  # frames per chunk * pixels per frame, sized for the cache


@dataclass
class Strokes:
    """Round-capped line segments: one shape of one colour (a stick figure, a chair), or a set of
    separate shapes with a colour each (background clutter).

    Attributes:
        segments: (N, S, 2, 2) segment endpoints ``[[x0, y0], [x1, y1]]`` in pixels; x to the right,
            y downward, the centre of pixel (row i, column j) at ``(j + 0.5, i + 0.5)``. A segment of
            length 0 is a disc.
        radius: (N, S) half thickness of each segment in pixels; a negative radius draws nothing.
        color: (N, 3) RGB in [0, 1]: the union of the segments in one colour; or (N, S, 3): each
            segment is its own shape, drawn in order (later ones on top).
        visible: (N,) bool; frames where it is False do not draw the strokes.
    """

    segments: Tensor
    radius: Tensor
    color: Tensor
    visible: Tensor


@dataclass
class Boxes:
    """One axis-aligned rectangle per frame (an occluder).

    Attributes:
        rect: (N, 4) ``x0, y0, x1, y1`` in pixels (same convention as :class:`Strokes`).
        color: (N, 3) RGB in [0, 1].
        visible: (N,) bool.
    """

    rect: Tensor
    color: Tensor
    visible: Tensor


@dataclass
class FrameParams:
    """Everything needed to draw N frames of size ``image_size`` x ``image_size``.

    Attributes:
        image_size: height and width in pixels.
        background: (N, 2, 3) two RGB colours blended along the gradient (equal for a plain background).
        gradient: (N, 3) ``a, b, c``: the blend weight of pixel (x, y) is ``clamp(a x + b y + c, 0, 1)``.
        shapes: :class:`Strokes` and :class:`Boxes`, drawn back to front.
        noise_std: (N,) standard deviation of the pixel noise added at the end (0: none).
        noise_index: (N,) int64 offsets into :func:`noise_bank`, each in
            ``[0, noise_offsets(image_size))``; a frame's noise is the bank's 3 * H * W values from there.
    """

    image_size: int
    background: Tensor
    gradient: Tensor
    shapes: list[Strokes | Boxes]
    noise_std: Tensor
    noise_index: Tensor

    def __len__(self) -> int:
        return self.background.shape[0]

    def rows(self, index: Tensor | slice) -> FrameParams:
        """The parameters of a subset of the frames (a slice or an index tensor)."""

        def take(obj: Strokes | Boxes) -> Strokes | Boxes:
            return type(obj)(**{f.name: getattr(obj, f.name)[index] for f in fields(obj)})

        return FrameParams(
            image_size=self.image_size,
            background=self.background[index],
            gradient=self.gradient[index],
            shapes=[take(s) for s in self.shapes],
            noise_std=self.noise_std[index],
            noise_index=self.noise_index[index],
        )


@lru_cache(maxsize=4)
def noise_bank(image_size: int) -> Tensor:
    """A fixed strip of unit Gaussian noise, (NOISE_FRAMES * 3 * H * W,) float32.

    The strip depends only on ``image_size``, so noise is reproducible across processes. A frame takes
    the 3 * H * W consecutive values that start at its offset: any offset gives independent Gaussian
    pixels, the strip is small enough to stay in the cache, and reading it is one gather.
    """
    generator = torch.Generator().manual_seed(20220607 + image_size)
    return torch.randn(NOISE_FRAMES * 3 * image_size * image_size, generator=generator)


def noise_offsets(image_size: int) -> int:
    """Number of distinct noise offsets into :func:`noise_bank` for frames of this size."""
    return (NOISE_FRAMES - 1) * 3 * image_size * image_size + 1


def _pixel_centres(size: int) -> Tensor:
    return torch.arange(size, dtype=torch.float32) + 0.5  # (size,)


class Scratch:
    """Reusable scratch memory for rendering.

    Rendering runs chunk after chunk; taking the large temporaries from here lets every chunk reuse
    the same memory instead of mapping (and page-faulting) fresh megabytes each time. Each thread
    keeps one (:func:`_thread_scratch`), a few tens of megabytes at most.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def take(self, name: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
        """An uninitialised tensor of ``shape``, backed by the buffer ``name``.

        A buffer made under ``torch.inference_mode`` (a data set rendered during an evaluation) is
        an inference tensor, which cannot be written outside that mode: it is made anew there.
        """
        count = math.prod(shape)
        buffer = self._buffers.get(name)
        stale = (
            buffer is not None and buffer.is_inference() and not torch.is_inference_mode_enabled()
        )
        if buffer is None or stale or buffer.numel() < count or buffer.dtype != dtype:
            buffer = torch.empty(count, dtype=dtype)
            self._buffers[name] = buffer
        return buffer[:count].view(shape)


_LOCAL = threading.local()


def _thread_scratch() -> Scratch:
    """This thread's scratch memory (threads must not share buffers)."""
    if not hasattr(_LOCAL, "scratch"):
        _LOCAL.scratch = Scratch()
    return _LOCAL.scratch


@lru_cache(maxsize=64)
def _window_grid(window: int) -> Tensor:
    """(3, w * w): column j, row i and 1 for every cell of a w x w window, row-major."""
    cell = torch.arange(window * window)
    return torch.stack([cell % window, cell // window, torch.ones_like(cell)]).to(torch.float32)


@lru_cache(maxsize=64)
def _window_offsets(window: int, side: int) -> Tensor:
    """(w * w,) flat offsets of a window's cells in a canvas ``side`` pixels wide."""
    cell = torch.arange(window * window)
    return (cell // window) * side + cell % window


def stroke_coverage(
    segments: Tensor, radius: Tensor, size: int, scratch: Scratch | None = None
) -> Tensor:
    """Anti-aliased coverage of the union of capsules, (N, S, 2, 2) and (N, S) -> (N, H, W) in [0, 1].

    A capsule only touches the pixels near its segment, so each one is evaluated in a small square
    window around it and the windows are merged into the frame with a scatter-max: the union's
    coverage is the largest coverage of any of its capsules, because the ramp is monotone in the
    distance. Discs (segments of length 0 in every frame) get their own, smaller windows. The windows
    land in a canvas with a margin as wide as the largest window, so no cell needs a bounds check.
    """
    scratch = scratch if scratch is not None else Scratch()
    n = segments.shape[0]
    lengths = (segments[:, :, 1] - segments[:, :, 0]).norm(dim=-1)  # (N, S)
    disc = lengths.amax(0) < 1e-6  # (S,)
    groups = []
    for group in (disc, ~disc):
        if bool(group.any()):
            columns = group.nonzero().squeeze(1)
            part, part_radius = segments[:, columns], radius[:, columns]
            a, b = part[:, :, 0], part[:, :, 1]  # (N, s, 2) each
            pad = part_radius[..., None] + 1.0  # the ramp ends half a pixel beyond the radius
            low = (torch.minimum(a, b) - pad).floor()  # (N, s, 2) window corner, whole pixels
            window = int(math.ceil(float((torch.maximum(a, b) + pad - low).amax()))) + 1
            # a window far outside the frame is moved towards it; it still covers every visible cell
            groups.append((part, part_radius, low.clamp(-window, size), window))
    margin = max(g[3] for g in groups)
    side = size + 2 * margin
    canvas = scratch.take("canvas", (n, side * side)).zero_()
    for part, part_radius, low, window in groups:
        _splat(canvas, part, part_radius, low, window, margin, side, scratch)
    return canvas.view(n, side, side)[:, margin : margin + size, margin : margin + size]


def _splat(
    canvas: Tensor,
    segments: Tensor,
    radius: Tensor,
    low: Tensor,
    window: int,
    margin: int,
    side: int,
    scratch: Scratch,
) -> None:
    """Scatter-max the coverage of capsules (N, S, 2, 2), (N, S) into ``canvas`` (N, side * side).

    ``low`` (N, S, 2) is the top-left corner of each capsule's ``window`` x ``window`` window.
    """
    n, s = segments.shape[:2]
    a, b = segments[:, :, 0], segments[:, :, 1]  # (N, S, 2) each
    mid = 0.5 * (a + b)
    delta = b - a
    length = delta.norm(dim=-1)  # (N, S)
    degenerate = length < 1e-6
    safe = torch.where(degenerate, torch.ones_like(length), length)
    ex = torch.where(degenerate, torch.ones_like(length), delta[..., 0] / safe)  # unit direction
    ey = torch.where(degenerate, torch.zeros_like(length), delta[..., 1] / safe)
    rx = low[..., 0] + 0.5 - mid[..., 0]  # centre of the window's first cell, from the midpoint
    ry = low[..., 1] + 0.5 - mid[..., 1]
    # Cell (i, j) sits at (rx + j, ry + i) from the midpoint, so both coordinates are affine in
    # (j, i, 1): along = j ex + i ey + (rx ex + ry ey), across = -j ey + i ex + (ry ex - rx ey).
    coefs = torch.stack(
        [
            torch.stack([ex, ey, rx * ex + ry * ey], -1),
            torch.stack([-ey, ex, ry * ex - rx * ey], -1),
        ]
    )  # (2, N, S, 3)
    cells = window * window
    grid = scratch.take("window", (2 * n * s, cells))
    torch.mm(coefs.view(-1, 3), _window_grid(window), out=grid)
    along, across = grid.view(2, n, s, cells).unbind(0)  # (N, S, w * w) each
    along.abs_().sub_((0.5 * length)[..., None]).clamp_(min=0).square_()  # beyond the ends
    distance = across.square_().add_(along).sqrt_()  # to the capsule's axis
    coverage = torch.sub((radius + 0.5)[..., None], distance, out=distance).clamp_(0.0, 1.0)
    corner = ((low[..., 1] + margin) * side + (low[..., 0] + margin)).long()  # (N, S)
    index = scratch.take("index", (n, s, cells), torch.int64)
    torch.add(corner[..., None], _window_offsets(window, side), out=index)
    canvas.scatter_reduce_(1, index.view(n, -1), coverage.view(n, -1), "amax")


def box_coverage(rect: Tensor, size: int) -> Tensor:
    """Anti-aliased coverage of axis-aligned boxes, (N, 4) -> (N, H, W) in [0, 1]."""
    t = _pixel_centres(size)
    x0, y0, x1, y1 = rect.unbind(-1)  # (N,) each
    cov_x = (torch.minimum(t - x0[:, None], x1[:, None] - t) + 0.5).clamp(0.0, 1.0)  # (N, W)
    cov_y = (torch.minimum(t - y0[:, None], y1[:, None] - t) + 0.5).clamp(0.0, 1.0)  # (N, H)
    return cov_y[:, :, None] * cov_x[:, None, :]


def _background(params: FrameParams, scratch: Scratch) -> Tensor:
    """(N, 3, H, W) plain or linear-gradient backgrounds."""
    n, size = len(params), params.image_size
    t = _pixel_centres(size)
    a, b, c = params.gradient.unbind(-1)  # (N,) each
    weight = scratch.take("weight", (n, 1, size, size))
    rows = (b[:, None] * t + c[:, None])[:, None, :, None]  # (N, 1, H, 1)
    torch.add(rows, (a[:, None] * t)[:, None, None, :], out=weight)
    weight.clamp_(0.0, 1.0)
    shape = (n, 3, size, size)
    start = params.background[:, 0, :, None, None].expand(shape)
    end = params.background[:, 1, :, None, None].expand(shape)
    return torch.lerp(start, end, weight, out=scratch.take("images", shape))


def _paint(images: Tensor, coverage: Tensor, color: Tensor) -> None:
    """Blend ``color`` (n, 3) into ``images`` (n, 3, H, W) in place with ``coverage`` (n, H, W)."""
    images.lerp_(color[:, :, None, None].expand_as(images), coverage[:, None])


def _draw(images: Tensor, shape: Strokes | Boxes, size: int, scratch: Scratch) -> None:
    """Paint one layer into ``images`` (N, 3, H, W) in place, only in the frames where it is visible."""
    rows = shape.visible.nonzero().squeeze(1)
    if rows.numel() == 0:
        return
    everything = rows.numel() == images.shape[0]
    color = shape.color if everything else shape.color[rows]
    target = images if everything else images[rows]
    if isinstance(shape, Boxes):
        _paint(target, box_coverage(shape.rect if everything else shape.rect[rows], size), color)
    else:
        segments = shape.segments if everything else shape.segments[rows]
        radius = shape.radius if everything else shape.radius[rows]
        if color.dim() == 2:  # one shape: the union of the segments
            _paint(target, stroke_coverage(segments, radius, size, scratch), color)
        else:  # every segment its own shape: a frame per segment, then paint them in order
            m, s = radius.shape
            coverage = stroke_coverage(
                segments.reshape(m * s, 1, 2, 2), radius.reshape(m * s, 1), size, scratch
            ).view(m, s, size, size)
            for k in range(s):
                _paint(target, coverage[:, k], color[:, k])
    if not everything:
        images[rows] = target


def add_noise(
    images: Tensor, std: Tensor, offset: Tensor, scratch: Scratch | None = None
) -> Tensor:
    """Add bank noise in place: images (N, 3, H, W), std (N,), offset (N,) -> images."""
    if not bool((std > 0).any()):
        return images
    n, c, h, w = images.shape
    windows = noise_bank(h).unfold(0, c * h * w, 1)  # (offsets, 3 * H * W) view, no copy
    noise = scratch.take("noise", (n, c * h * w)) if scratch is not None else None
    noise = torch.index_select(windows, 0, offset, out=noise).view(n, c, h, w)
    return images.addcmul_(noise, std[:, None, None, None])


def render_batch(params: FrameParams, dtype: torch.dtype = torch.float32) -> Tensor:
    """Draw N frames: background, then each shape back to front, then noise.

    Args:
        params: the description of N frames (see :class:`FrameParams`).
        dtype: ``torch.float32`` for values in [0, 1], or ``torch.uint8`` for ``round(255 * value)``.

    Returns:
        (N, 3, H, W) RGB, H = W = ``params.image_size``.
    """
    if dtype not in (torch.float32, torch.uint8):
        raise ValueError(f"dtype must be torch.float32 or torch.uint8, got {dtype}")
    size = params.image_size
    n = len(params)
    out = torch.empty(n, 3, size, size, dtype=dtype)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    scratch = _thread_scratch()
    for start in range(0, n, chunk):
        part = params.rows(slice(start, start + chunk))
        images = _background(part, scratch)
        for shape in part.shapes:
            _draw(images, shape, size, scratch)
        add_noise(images, part.noise_std, part.noise_index, scratch)
        if dtype == torch.uint8:
            out[start : start + chunk] = images.clamp_(0.0, 1.0).mul_(255.0).round_()
        else:
            torch.clamp(images, 0.0, 1.0, out=out[start : start + chunk])
    return out


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur with reflected borders, (N, C, H, W) -> (N, C, H, W)."""
    if sigma <= 0:
        return images
    radius = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    n, c, h, w = images.shape
    flat = images.reshape(n * c, 1, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w)


def block_average(images: Tensor, block: int) -> Tensor:
    """Replace each ``block`` x ``block`` tile by its mean (compression blocks), (N,C,H,W) -> same."""
    n, c, h, w = images.shape
    pad_h, pad_w = -h % block, -w % block
    padded = F.pad(images, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else images
    means = F.avg_pool2d(padded, block)  # (N, C, H / block, W / block)
    tiles = means.repeat_interleave(block, dim=2).repeat_interleave(block, dim=3)
    return tiles[:, :, :h, :w]


def video_look(images: Tensor, strength: float, noise_index: Tensor) -> Tensor:
    """Degrade frames the way video differs from photos; ``strength`` in [0, 1], 0 is a no-op.

    In order: defocus blur (sigma up to 0.8 px at 32 px), sensor noise (std up to 0.05), lower
    contrast (down to 65 % around each frame's mean colour, slightly lifted blacks) and compression
    blockiness (up to 35 % of each 4 x 4 tile at 32 px replaced by its mean). Motion blur is not done
    here: the synthetic world renders it by averaging sub-frames.

    Args:
        images: (N, 3, H, W) in [0, 1].
        strength: the domain gap, 0 (photo-like) to 1 (strongly video-like).
        noise_index: (N,) int64 offsets into :func:`noise_bank` for the sensor noise.

    Returns:
        (N, 3, H, W) float32 in [0, 1].
    """
    if strength <= 0:
        return images
    size = images.shape[-1]
    scale = size / 32
    out = gaussian_blur(images, 0.8 * strength * scale)
    std = torch.full((images.shape[0],), 0.05 * strength)
    out = add_noise(out.clone(), std, noise_index)
    mean = out.mean(dim=(2, 3), keepdim=True)
    out = mean + (out - mean) * (1.0 - 0.35 * strength) + 0.04 * strength
    block = max(2, size // 8)
    out = out.lerp(block_average(out, block), 0.35 * strength)
    return out.clamp_(0.0, 1.0)
