"""Patches and positions: how a frame becomes a set of tokens (chapter 2).

A frame of ``H x W`` pixels is cut into ``P x P`` patches; each patch becomes one token of width ``D``.
The frame then is a set of ``N = (H / P) * (W / P)`` tokens, shaped ``(B, N, D)``. Two ways of cutting
are offered, one per side of the proposal's comparison table:

* :class:`PatchEmbed2d` (the paper): a ``P x P`` convolution with stride ``P`` on one frame.
* :class:`TubeletEmbed3d` (the variant): a causal 3D convolution over the last ``tubelet`` frames, so a
  frame's tokens also see a little of its past. Streaming keeps a buffer of the last ``tubelet - 1``
  frames.

Tokens carry no position by themselves, so a learnable position table is added:

* :class:`SharedPosEmbed` (the paper): one ``(N, D)`` table added to every frame. Time is left to the
  recurrence. It fits one image size only.
* :class:`InterpolatedPosEmbed` (the variant): a ``(T0, H0/P, W0/P, D)`` table resized trilinearly to the
  input's ``T x H/P x W/P``, so it runs at other image sizes and clip lengths.

Both embeddings share one streaming interface: ``embed_video(video)`` for a whole clip
``(B, T, C, H, W) -> (B, T, N, D)`` and ``embed_frame(frame, buffer)`` for one frame at a time.
Both position tables share ``tables(grid, num_frames)``, which returns the table for each frame index.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "InterpolatedPosEmbed",
    "PatchEmbed2d",
    "PosEmbed",
    "SharedPosEmbed",
    "TubeletEmbed3d",
    "patch_grid",
]


def patch_grid(height: int, width: int, patch_size: int) -> tuple[int, int]:
    """The patch grid ``(H / P, W / P)`` of an ``H x W`` frame; raises when ``P`` does not divide it."""
    if height % patch_size or width % patch_size:
        raise ValueError(
            f"image size {height}x{width} is not divisible by patch_size={patch_size}: "
            f"height and width must be multiples of {patch_size}"
        )
    return height // patch_size, width // patch_size


def _check_frames(x: Tensor, rank: int, in_chans: int, what: str) -> None:
    shape = "(B, C, H, W)" if rank == 4 else "(B, T, C, H, W)"
    if x.dim() != rank:
        raise ValueError(f"{what} must have shape {shape}; got shape {tuple(x.shape)}")
    if x.shape[-3] != in_chans:
        raise ValueError(f"{what} has {x.shape[-3]} channels; expected in_chans={in_chans}")


class PatchEmbed2d(nn.Module):
    """Cut one frame into ``P x P`` patches and project each to ``dim`` (a strided convolution).

    ``forward``: ``(B, C, H, W) -> (B, N, D)`` with ``N = (H / P) * (W / P)``, patches in row-major order.
    """

    def __init__(self, patch_size: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, frame: Tensor) -> Tensor:
        """Tokens of one frame: ``(B, C, H, W) -> (B, N, D)``."""
        _check_frames(frame, 4, self.in_chans, "frame")
        patch_grid(frame.shape[-2], frame.shape[-1], self.patch_size)
        # a P x P convolution with stride P is a linear map of each patch's C*P*P pixels: cut the
        # patches out (one copy, row-major, each patch's pixels in the weight's (C, P, P) order)
        # and multiply once; a matrix product runs this several times faster than the strided
        # convolution at these sizes (and under vmap, where the convolution becomes a grouped one)
        b, c, h, w = frame.shape
        p = self.patch_size
        patches = frame.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
        patches = patches.reshape(b, (h // p) * (w // p), c * p * p)  # (B, N, C*P*P)
        return F.linear(patches, self.proj.weight.flatten(1), self.proj.bias)  # (B, N, D)

    def embed_video(self, video: Tensor) -> Tensor:
        """Tokens of every frame, each frame alone: ``(B, T, C, H, W) -> (B, T, N, D)``."""
        _check_frames(video, 5, self.in_chans, "video")
        b, t = video.shape[:2]
        tokens = self(video.flatten(0, 1))  # (B*T, N, D)
        return tokens.reshape(b, t, *tokens.shape[1:])  # (B, T, N, D)

    def embed_frame(self, frame: Tensor, buffer: Tensor | None = None) -> tuple[Tensor, None]:
        """Streaming form: ``(B, C, H, W) -> (B, N, D)``. A 2D patch needs no past, so no buffer."""
        return self(frame), None


class TubeletEmbed3d(nn.Module):
    """A causal tubelet embedding: a 3D convolution over the last ``tubelet`` frames.

    The kernel is ``(tubelet, P, P)`` with stride ``(1, P, P)``: one set of tokens per frame, and the
    tokens of frame ``t`` see frames ``t - tubelet + 1 .. t`` (never the future). Before the first frame
    there is no past, so the first frame is repeated ``tubelet - 1`` times in front of the clip: a still
    image therefore behaves exactly like a static clip of that image.

    ``forward`` / ``embed_video``: ``(B, T, C, H, W) -> (B, T, N, D)``.
    ``embed_frame(frame, buffer)``: ``(B, C, H, W) -> (B, N, D)`` plus the new buffer
    ``(B, tubelet - 1, C, H, W)`` holding the last ``tubelet - 1`` frames.
    """

    def __init__(self, patch_size: int, in_chans: int, dim: int, tubelet: int = 2) -> None:
        super().__init__()
        if tubelet < 1:
            raise ValueError(f"tubelet must be >= 1; got {tubelet}")
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.tubelet = tubelet
        self.proj = nn.Conv3d(
            in_chans,
            dim,
            kernel_size=(tubelet, patch_size, patch_size),
            stride=(1, patch_size, patch_size),
        )

    def _project(self, clip: Tensor) -> Tensor:
        # clip (B, T + tubelet - 1, C, H, W) -> tokens (B, T, N, D)
        patch_grid(clip.shape[-2], clip.shape[-1], self.patch_size)
        x = self.proj(clip.transpose(1, 2))  # (B, D, T, H/P, W/P)
        x = x.flatten(3)  # (B, D, T, N)
        return x.permute(0, 2, 3, 1).contiguous()  # (B, T, N, D), token-major as in PatchEmbed2d

    def forward(self, video: Tensor) -> Tensor:
        """Tokens of every frame of a clip: ``(B, T, C, H, W) -> (B, T, N, D)``."""
        _check_frames(video, 5, self.in_chans, "video")
        past = video[:, :1].expand(-1, self.tubelet - 1, -1, -1, -1)  # (B, tubelet-1, C, H, W)
        return self._project(torch.cat([past, video], dim=1))

    def embed_video(self, video: Tensor) -> Tensor:
        """Same as ``forward``: ``(B, T, C, H, W) -> (B, T, N, D)``."""
        return self(video)

    def embed_frame(self, frame: Tensor, buffer: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Streaming form: tokens of ``frame`` ``(B, N, D)`` and the updated buffer.

        ``buffer`` is ``None`` before the first frame (it is then filled with copies of ``frame``), else
        ``(B, tubelet - 1, C, H, W)``.
        """
        _check_frames(frame, 4, self.in_chans, "frame")
        if buffer is None:
            buffer = frame[:, None].expand(-1, self.tubelet - 1, -1, -1, -1)
        elif buffer.shape[0] != frame.shape[0] or buffer.shape[2:] != frame.shape[1:]:
            raise ValueError(
                f"tubelet buffer has shape {tuple(buffer.shape)}, which does not match the frame "
                f"shape {tuple(frame.shape)}"
            )
        clip = torch.cat([buffer, frame[:, None]], dim=1)  # (B, tubelet, C, H, W)
        tokens = self._project(clip)[:, 0]  # (B, N, D)
        return tokens, clip[:, 1:]


class PosEmbed(nn.Module):
    """What both position tables share: a table per frame index, for one length or one per sample.

    Subclasses implement ``resized(grid, num_frames) -> (T', N, D)``: the table for a clip of
    ``num_frames`` frames (``None``: length unknown) on a patch grid ``grid = (H/P, W/P)``. Frame ``t``
    uses entry ``min(t, T' - 1)``.
    """

    def resized(self, grid: tuple[int, int], num_frames: int | None) -> Tensor:
        raise NotImplementedError

    def tables(self, grid: tuple[int, int], num_frames: int | Tensor | None = None) -> Tensor:
        """The table for each sample: ``(B', T', N, D)`` with ``B'`` 1 or ``B``.

        ``num_frames`` is ``None`` (unknown), one length for the whole batch, or a LongTensor ``(B,)``
        with one length per sample. With per-sample lengths every sample gets the table resized to its
        own length (padded by repeating its last entry), so a padded sample sees the same positions as
        the same video alone.
        """
        if not isinstance(num_frames, Tensor):
            return self.resized(grid, num_frames)[None]
        distinct = num_frames.unique().tolist()
        if len(distinct) == 1:
            return self.resized(grid, int(distinct[0]))[None]
        longest = int(max(distinct))
        per_length = {}
        for length in distinct:
            table = self.resized(grid, int(length))  # (T', N, D)
            index = torch.arange(longest, device=table.device).clamp(max=table.shape[0] - 1)
            per_length[length] = table[index]  # (longest, N, D)
        return torch.stack([per_length[length] for length in num_frames.tolist()])

    def spatial(self, grid: tuple[int, int]) -> Tensor:
        """The table resized to ``grid`` in space only: ``(T0', N, D)`` (``T0' = 1`` when shared).

        With :meth:`frame_rows` it gives the rows of any frame of a clip of any length without a
        ``(T, N, D)`` table: a stream's memory then does not grow with the video's length."""
        raise NotImplementedError

    def frame_rows(self, spatial: Tensor, num_frames: int | Tensor | None, index: Tensor) -> Tensor:
        """The rows of frame ``index[b]`` ``(B,)`` of each clip: ``(B', N, D)``, from :meth:`spatial`.

        ``num_frames`` is the clip's length (None: unknown; an int; or a LongTensor ``(B,)``); frames
        at or beyond it use the last entry, as :meth:`tables` does."""
        raise NotImplementedError

    def forward(self, tokens: Tensor, grid: tuple[int, int]) -> Tensor:
        """Add positions to a clip's tokens: ``(B, T, N, D) -> (B, T, N, D)`` (the length is ``T``)."""
        table = self.resized(grid, tokens.shape[1])  # (T', N, D)
        index = torch.arange(tokens.shape[1], device=table.device).clamp(max=table.shape[0] - 1)
        return tokens + table[index]


class SharedPosEmbed(PosEmbed):
    """One learnable ``(N, D)`` table added to every frame (the paper's choice).

    The table fits one patch grid; another image size raises ``ValueError``. ``resized`` returns
    ``(1, N, D)`` whatever the length: every frame uses the same entry.
    """

    def __init__(self, grid_size: tuple[int, int], dim: int) -> None:
        super().__init__()
        self.grid_size = tuple(grid_size)
        self.table = nn.Parameter(torch.zeros(grid_size[0] * grid_size[1], dim))
        nn.init.trunc_normal_(self.table, std=0.02)

    def resized(self, grid: tuple[int, int], num_frames: int | None = None) -> Tensor:
        if tuple(grid) != self.grid_size:
            gh, gw = self.grid_size
            raise ValueError(
                f"pos_embed='shared' has a table for a {gh}x{gw} patch grid; got a "
                f"{grid[0]}x{grid[1]} grid (another image size): use pos_embed='interpolated' to run "
                f"at other image sizes"
            )
        return self.table[None]  # (1, N, D)

    def tables(self, grid: tuple[int, int], num_frames: int | Tensor | None = None) -> Tensor:
        """``(1, 1, N, D)``: one table for every sample and frame, whatever the lengths."""
        return self.resized(grid)[None]

    def spatial(self, grid: tuple[int, int]) -> Tensor:
        return self.resized(grid)  # (1, N, D)

    def frame_rows(self, spatial: Tensor, num_frames: int | Tensor | None, index: Tensor) -> Tensor:
        return spatial  # (1, N, D): every frame the same


class InterpolatedPosEmbed(PosEmbed):
    """A learnable ``(T0, H0/P, W0/P, D)`` table, resized trilinearly to the input (the variant's choice).

    ``resized(grid, T)`` returns ``(T, N, D)``: the table resized with
    ``F.interpolate(mode="trilinear", align_corners=False)`` to ``T x grid``. The entry for frame ``t``
    therefore depends on the total length ``T``, which a streaming model must know in advance:

    * Whole-video ``forward`` knows ``T`` and passes it to ``init_state(batch, num_frames=T)``; with
      variable lengths each sample's table is resized to that sample's own length.
    * When the length is unknown (``num_frames=None``, pure streaming), the configured ``T0``-frame grid
      is used as it is (only resized in space), and frames beyond ``T0`` use the last entry.

    So a stream of unknown length sees exactly the positions of a clip of ``T0`` frames, and the
    prediction after frame ``t`` never depends on the content of later frames, only (when known) on how
    many there will be.
    """

    def __init__(self, num_frames: int, grid_size: tuple[int, int], dim: int) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.grid_size = tuple(grid_size)
        self.table = nn.Parameter(torch.zeros(num_frames, grid_size[0], grid_size[1], dim))
        nn.init.trunc_normal_(self.table, std=0.02)

    def spatial(self, grid: tuple[int, int]) -> Tensor:
        """``(T0, N, D)``: the table resized bilinearly in space to ``grid``, every time entry kept
        (trilinear interpolation is linear in each axis apart, so resizing time afterwards, frame by
        frame in :meth:`frame_rows`, gives the trilinear table's rows)."""
        return self.resized(grid, self.num_frames)

    def frame_rows(self, spatial: Tensor, num_frames: int | Tensor | None, index: Tensor) -> Tensor:
        """Frame ``index[b]`` of a clip of ``num_frames`` (per sample, or one for all): the linear
        interpolation in time that ``F.interpolate(mode="trilinear", align_corners=False)`` makes,
        between the two nearest entries of the ``T0`` of :meth:`spatial`: ``(B, N, D)``.

        Only two ``(N, D)`` rows per sample are read, so a video of any length costs the memory of
        one frame (the whole ``(T, N, D)`` table of :meth:`resized` grows with the length)."""
        t0 = spatial.shape[0]
        if num_frames is None:  # an unknown length: the T0-frame table as it is
            return spatial[index.clamp(max=t0 - 1)]
        length = torch.as_tensor(num_frames, device=index.device).expand_as(index)
        frame = torch.minimum(index, length - 1).double()
        source = ((frame + 0.5) * (t0 / length.double()) - 0.5).clamp(min=0.0)
        low = source.floor().long().clamp(max=t0 - 1)
        high = (low + 1).clamp(max=t0 - 1)
        weight = (source - low.double()).to(spatial.dtype)[:, None, None]  # (B, 1, 1)
        return torch.lerp(spatial[low], spatial[high], weight)

    def resized(self, grid: tuple[int, int], num_frames: int | None = None) -> Tensor:
        t = self.num_frames if num_frames is None else int(num_frames)
        if t < 1:
            raise ValueError(f"num_frames must be >= 1; got {t}")
        size = (t, int(grid[0]), int(grid[1]))
        table = self.table  # (T0, H0/P, W0/P, D)
        if size != tuple(table.shape[:3]):
            x = table.permute(3, 0, 1, 2)[None]  # (1, D, T0, H0/P, W0/P)
            x = F.interpolate(x, size=size, mode="trilinear", align_corners=False)
            table = x[0].permute(1, 2, 3, 0)  # (T, H/P, W/P, D)
        return table.flatten(1, 2)  # (T, N, D)
