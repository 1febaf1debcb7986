"""The Recurrent Vision Transformer: patches, positions, recurrent layers and a head (chapter 5).

``RViT`` = patch embedding -> position table -> ``depth`` x :class:`~rvit.cell.RecurrentBlock` -> head.
It reads a video one frame at a time; streaming is its primary interface::

    state = model.init_state(batch_size, num_frames=None)
    for frame in frames:                       # frame (B, C, H, W)
        logits, state = model.step(frame, state)

``forward(video)`` gives the same numbers on a whole video ``(B, T, C, H, W)``: it embeds all frames
in one batched pass and then runs the same per-frame recurrence (:meth:`RViT._advance`) that ``step``
runs, so the tests comparing the two check the batched embedding against the streaming one.

Variable lengths: ``forward(video, lengths=...)`` (or ``init_state(batch, num_frames=lengths)``) stops a
sample at its own length: its hidden states stop changing and its prediction is frozen from then on.

Two heads (one row of the proposal's table):

* ``"concat"`` (paper): ``[mean_n LN(x_n) || mean_n h_n]`` (a spatial token from the current frame and
  a temporal token from the last layer's memory) -> LayerNorm -> Linear.
* ``"gap"`` (variant): ``mean_n h_n`` of the last layer's hidden state -> LayerNorm -> Linear.

This module also holds what all three video classifiers share (:class:`StreamingClassifier`): input
checks, the ``forward``/``step`` wrappers and the state's common fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rvit.cell import RecurrentBlock, recurrent_dropout_mask
from rvit.config import RViTConfig
from rvit.patch import (
    InterpolatedPosEmbed,
    PatchEmbed2d,
    PosEmbed,
    SharedPosEmbed,
    TubeletEmbed3d,
    patch_grid,
)

__all__ = [
    "RViT",
    "RViTState",
    "StreamState",
    "StreamingClassifier",
    "check_lengths",
    "init_weights",
    "make_pos_embed",
]


# ---------------------------------------------------------------------------------------------------
# shared by RViT, FrameViT and ClipViT
# ---------------------------------------------------------------------------------------------------


def init_weights(module: nn.Module) -> None:
    """ViT initialisation: linear weights ~ truncated normal (std 0.02), biases 0, LayerNorm 1 and 0."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def make_pos_embed(cfg: RViTConfig, num_frames: int) -> PosEmbed:
    """The config's position table; ``num_frames`` is the interpolated table's length ``T0``."""
    if cfg.pos_embed == "shared":
        return SharedPosEmbed(cfg.grid_size, cfg.dim)
    return InterpolatedPosEmbed(num_frames, cfg.grid_size, cfg.dim)


def check_lengths(lengths: Any, batch_size: int, num_frames: int) -> Tensor:
    """Check ``lengths``: an integer tensor ``(B,)`` with values in ``1..T``; returns it as int64."""
    if not isinstance(lengths, Tensor):
        raise ValueError(
            f"lengths must be a LongTensor of shape ({batch_size},); got {type(lengths).__name__}"
        )
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError(f"lengths must have an integer dtype (torch.long); got {lengths.dtype}")
    if tuple(lengths.shape) != (batch_size,):
        raise ValueError(
            f"lengths must have shape ({batch_size},), one length per video; "
            f"got shape {tuple(lengths.shape)}"
        )
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > num_frames:
        raise ValueError(
            f"lengths must lie in 1..{num_frames} (the number of frames); got values {low}..{high}"
        )
    return lengths.long()


@dataclass(eq=False)
class StreamState:
    """What every streaming state holds.

    Attributes:
        model: name of the class whose ``init_state`` made it.
        cfg: that model's config.
        batch_size: ``B``.
        num_frames: the total length if known: an int, a LongTensor ``(B,)`` (one per sample), or None.
        frame_index: LongTensor ``(B,)``, frames seen so far.
        grid: the patch grid ``(H/P, W/P)`` of the frames, set by the first frame.
        features: the latest features ``(B, F)``, frozen for samples whose video has ended.
    """

    model: str
    cfg: RViTConfig
    batch_size: int
    num_frames: int | Tensor | None
    frame_index: Tensor
    grid: tuple[int, int] | None = None
    features: Tensor | None = None

    def active(self) -> Tensor | None:
        """Bool ``(B,)``: whose video goes on at the next frame (None when the length is unknown)."""
        if self.num_frames is None:
            return None
        return self.frame_index < self.num_frames


def freeze_ended(new: Tensor, old: Tensor | None, active: Tensor | None) -> Tensor:
    """``new`` where ``active`` ``(B,)``, else ``old``; ``new``/``old`` ``(B, ...)``."""
    if old is None or active is None:
        return new
    return torch.where(active.view(-1, *([1] * (new.dim() - 1))), new, old)


class StreamingClassifier(nn.Module):
    """The interface of RViT, FrameViT and ClipViT: ``forward``, ``init_state``, ``step``.

    Subclasses implement ``init_state``, ``forward_features(video, lengths, return_all)``,
    ``step_features(frame, state, return_details)`` and ``forward_head(features)``.
    """

    state_class: type[StreamState] = StreamState

    def __init__(self, cfg: RViTConfig) -> None:
        super().__init__()
        if not isinstance(cfg, RViTConfig):
            raise ValueError(f"cfg must be an RViTConfig; got {type(cfg).__name__}")
        self.cfg = cfg

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of parameters (only those with ``requires_grad`` when ``trainable_only``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # inputs ----------------------------------------------------------------------------------------

    def _dtype_device(self) -> tuple[torch.dtype, torch.device]:
        p = next(self.parameters())
        return p.dtype, p.device

    def check_frame_size(self, height: int, width: int) -> tuple[int, int]:
        """The patch grid of ``H x W`` frames; raises when the model cannot take that size."""
        grid = patch_grid(height, width, self.cfg.patch_size)
        side = self.cfg.image_size
        if self.cfg.pos_embed == "shared" and (height, width) != (side, side):
            raise ValueError(
                f"image size {height}x{width} does not match image_size={side}: pos_embed='shared' "
                f"has one table for {side}x{side} images; use pos_embed='interpolated' to run at "
                f"other sizes"
            )
        return grid

    def _check_pixels(self, x: Tensor, what: str) -> Tensor:
        if not x.is_floating_point():
            raise ValueError(
                f"{what} must be a floating-point tensor (scaled pixels); got {x.dtype}"
            )
        if x.shape[-3] != self.cfg.in_chans:
            raise ValueError(
                f"{what} has {x.shape[-3]} channels; the config has in_chans={self.cfg.in_chans}"
            )
        self.check_frame_size(x.shape[-2], x.shape[-1])
        if x.device.type != "meta" and not torch.isfinite(x).all():
            raise ValueError(f"{what} contains NaN or inf values")
        dtype, device = self._dtype_device()
        # Pixels arrive scaled to [0, 1]; the model centres them itself (cfg.pixel_mean, pixel_std),
        # so every data source and the command line feed the same range without a transform.
        x = x.to(device=device, dtype=dtype)
        return (x - self.cfg.pixel_mean) / self.cfg.pixel_std

    def check_video(self, video: Any, lengths: Any = None) -> tuple[Tensor, Tensor | None]:
        """Check a video ``(B, T, C, H, W)`` (an image ``(B, C, H, W)`` is a 1-frame video) and lengths.

        Returns the video as ``(B, T, C, H, W)`` in the model's dtype and device, and ``lengths`` as a
        LongTensor ``(B,)`` or None.
        """
        if not isinstance(video, Tensor):
            raise ValueError(f"video must be a torch.Tensor; got {type(video).__name__}")
        if video.dim() == 4:
            video = video.unsqueeze(1)
        elif video.dim() != 5:
            raise ValueError(
                f"video must have shape (B, T, C, H, W), or (B, C, H, W) for images; "
                f"got shape {tuple(video.shape)}"
            )
        b, t = video.shape[:2]
        if b == 0:
            raise ValueError("video has batch size 0")
        if t == 0:
            raise ValueError("video has 0 frames")
        video = self._check_pixels(video, "video")
        if lengths is not None:
            lengths = check_lengths(lengths, b, t).to(video.device)
        return video, lengths

    def check_frame(self, frame: Any, state: Any) -> Tensor:
        """Check one frame ``(B, C, H, W)`` against the state; returns it in the model's dtype."""
        if not isinstance(state, self.state_class) or state.model != type(self).__name__:
            raise ValueError(
                f"state was not made by {type(self).__name__}.init_state; got "
                f"{getattr(state, 'model', type(state).__name__)}"
            )
        if state.cfg != self.cfg:
            raise ValueError("state was made for another config than this model's")
        if not isinstance(frame, Tensor) or frame.dim() != 4:
            shape = tuple(frame.shape) if isinstance(frame, Tensor) else type(frame).__name__
            raise ValueError(f"frame must have shape (B, C, H, W); got {shape}")
        if frame.shape[0] != state.batch_size:
            raise ValueError(
                f"state is for batch size {state.batch_size}; got a frame batch of {frame.shape[0]}"
            )
        frame = self._check_pixels(frame, "frame")
        grid = patch_grid(frame.shape[-2], frame.shape[-1], self.cfg.patch_size)
        if state.grid is not None and grid != state.grid:
            raise ValueError(
                f"frame size {frame.shape[-2]}x{frame.shape[-1]} differs from the earlier frames "
                f"of this stream (patch grid {state.grid})"
            )
        return frame

    def _common_state(self, batch_size: int, num_frames: int | Tensor | None) -> dict[str, Any]:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        _, device = self._dtype_device()
        if isinstance(num_frames, Tensor):
            longest = int(num_frames.max()) if num_frames.numel() else 1
            num_frames = check_lengths(num_frames, batch_size, longest).to(device)
        elif num_frames is not None and (
            isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1
        ):
            raise ValueError(
                f"num_frames must be None, an integer >= 1 or a LongTensor ({batch_size},); "
                f"got {num_frames!r}"
            )
        return {
            "model": type(self).__name__,
            "cfg": self.cfg,
            "batch_size": batch_size,
            "num_frames": num_frames,
            "frame_index": torch.zeros(batch_size, dtype=torch.long, device=device),
        }

    # the interface ---------------------------------------------------------------------------------

    def init_state(self, batch_size: int, num_frames: int | Tensor | None = None) -> StreamState:
        raise NotImplementedError

    def forward_features(
        self, video: Tensor, lengths: Tensor | None = None, return_all: bool = False
    ) -> Tensor:
        raise NotImplementedError

    def step_features(
        self, frame: Tensor, state: StreamState, return_details: bool = False
    ) -> tuple[Tensor, StreamState, dict[str, Any] | None]:
        raise NotImplementedError

    def forward_head(self, features: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(
        self, video: Tensor, lengths: Tensor | None = None, return_all: bool = False
    ) -> Tensor:
        """Logits of whole videos.

        Args:
            video: ``(B, T, C, H, W)`` float, or an image batch ``(B, C, H, W)`` (a 1-frame video).
            lengths: optional LongTensor ``(B,)``, ``1 <= lengths[b] <= T``; frames at
                ``t >= lengths[b]`` are ignored.
            return_all: return the prediction after every frame.

        Returns:
            ``(B, K)``, or ``(B, T, K)`` with ``return_all`` (frozen after a video's end).
        """
        return self.forward_head(self.forward_features(video, lengths, return_all=return_all))

    def step(
        self, frame: Tensor, state: StreamState, return_details: bool = False
    ) -> tuple[Tensor, StreamState] | tuple[Tensor, StreamState, dict[str, Any]]:
        """One frame ``(B, C, H, W)``: the logits ``(B, K)`` after it and the new state.

        With ``return_details`` also a dict of what the model saw (model-specific; see the subclass).
        The given state is not modified.
        """
        features, state, details = self.step_features(frame, state, return_details=return_details)
        logits = self.forward_head(features)
        if return_details:
            return logits, state, details or {}
        return logits, state


# ---------------------------------------------------------------------------------------------------
# RViT
# ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class RViTState(StreamState):
    """RViT's streaming state (see :class:`StreamState` for the common fields).

    Attributes:
        hidden: per layer ``(B, N, D)``, the hidden states (None before the first frame: ``h_0 = 0``).
        buffer: the tubelet embedding's last ``tubelet - 1`` frames ``(B, tubelet-1, C, H, W)``.
        masks: per layer the recurrent-dropout mask ``(B, 1, D)``; None in eval or when ``p = 0``.
        pos: the position table for each frame index ``(B', T', N, D)``, made at the first frame.
    """

    hidden: list[Tensor] | None = None
    buffer: Tensor | None = None
    masks: list[Tensor] | None = None
    pos: Tensor | None = None


class RViT(StreamingClassifier):
    """The Recurrent Vision Transformer.

    ``forward(video, lengths=None, return_all=False)``: ``(B, T, C, H, W)`` -> ``(B, K)`` (or
    ``(B, T, K)``). ``step(frame, state)``: ``(B, C, H, W)`` -> ``(B, K)`` and the new state.
    ``step(..., return_details=True)`` also returns::

        {"gate_attention": [(B, heads, N, M)] * depth,   # the gate's weights in this step
         "hidden_norm": (B, depth)}                      # mean L2 norm of each layer's new h tokens
    """

    state_class = RViTState

    def __init__(self, cfg: RViTConfig) -> None:
        super().__init__(cfg)
        dim = cfg.dim
        if cfg.patch_embed == "conv2d":
            self.patch_embed = PatchEmbed2d(cfg.patch_size, cfg.in_chans, dim)
        else:
            self.patch_embed = TubeletEmbed3d(cfg.patch_size, cfg.in_chans, dim, cfg.tubelet)
        self.pos_embed = make_pos_embed(cfg, cfg.num_frames)
        self.pos_drop = nn.Dropout(cfg.dropout)
        spatial_kind = "linear" if cfg.attention == "linear" else "softmax"
        gate_kind = "softmax" if cfg.attention == "softmax" else "linear"
        self.blocks = nn.ModuleList(
            RecurrentBlock(
                dim,
                cfg.heads,
                cfg.mlp_ratio,
                spatial_kind=spatial_kind,
                gate_kind=gate_kind,
                gate_kv=cfg.gate_kv,
                dropout=cfg.dropout,
                emits_tokens=cfg.head == "concat" or i < cfg.depth - 1,
            )
            for i in range(cfg.depth)
        )
        if cfg.head == "concat":
            self.norm = nn.LayerNorm(dim)  # LN of the final tokens, for the spatial token
        self.num_features = 2 * dim if cfg.head == "concat" else dim
        self.fc_norm = nn.LayerNorm(self.num_features)
        self.head_drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(self.num_features, cfg.num_classes)
        self.apply(init_weights)

    def init_state(self, batch_size: int, num_frames: int | Tensor | None = None) -> RViTState:
        """A fresh state for ``batch_size`` videos.

        ``num_frames``: the total length if known (an int, or a LongTensor ``(B,)`` per sample), else
        None. It fixes the interpolated position table (see
        :class:`~rvit.patch.InterpolatedPosEmbed`), and frames at ``t >= num_frames`` are ignored.
        In training mode with ``recurrent_dropout > 0`` one dropout mask per layer is drawn here and
        used for every frame.
        """
        common = self._common_state(batch_size, num_frames)
        masks = None
        if self.training and self.cfg.recurrent_dropout > 0:
            device = common["frame_index"].device
            masks = [
                recurrent_dropout_mask(batch_size, self.cfg.dim, self.cfg.recurrent_dropout, device)
                for _ in self.blocks
            ]
        return RViTState(**common, masks=masks)

    def _advance(
        self, tokens: Tensor, state: RViTState, return_details: bool = False
    ) -> tuple[Tensor, RViTState, dict[str, Any] | None]:
        """The recurrence for one frame: tokens with positions ``(B, N, D)`` -> features ``(B, F)``."""
        active = state.active()  # (B,) or None
        hidden = state.hidden or [torch.zeros_like(tokens)] * len(self.blocks)
        masks = state.masks or [None] * len(self.blocks)
        x = tokens
        new_hidden, gate_weights = [], []
        for block, h_prev, mask in zip(self.blocks, hidden, masks, strict=True):
            x, h, weights = block(x, h_prev, mask, active, return_details)
            new_hidden.append(h)
            gate_weights.append(weights)
        temporal = new_hidden[-1].mean(dim=1)  # (B, D)
        if self.cfg.head == "concat":
            spatial = self.norm(x).mean(dim=1)  # (B, D)
            features = torch.cat([spatial, temporal], dim=-1)  # (B, 2D)
        else:
            features = temporal
        features = freeze_ended(features, state.features, active)
        state = dataclasses.replace(
            state, hidden=new_hidden, frame_index=state.frame_index + 1, features=features
        )
        details = None
        if return_details:
            norms = [h.norm(dim=-1).mean(dim=1) for h in new_hidden]  # depth x (B,)
            details = {"gate_attention": gate_weights, "hidden_norm": torch.stack(norms, dim=1)}
        return features, state, details

    def forward_features(
        self, video: Tensor, lengths: Tensor | None = None, return_all: bool = False
    ) -> Tensor:
        """Features after the last frame ``(B, F)``, or after every frame ``(B, T, F)``."""
        video, lengths = self.check_video(video, lengths)
        b, t = video.shape[:2]
        state = self.init_state(b, num_frames=t if lengths is None else lengths)
        grid = patch_grid(video.shape[-2], video.shape[-1], self.cfg.patch_size)
        pos = self.pos_embed.tables(grid, state.num_frames)  # (B', T', N, D)
        index = torch.arange(t, device=pos.device).clamp(max=pos.shape[1] - 1)
        tokens = self.patch_embed.embed_video(video) + pos[:, index]  # (B, T, N, D)
        tokens = self.pos_drop(tokens)
        state = dataclasses.replace(state, grid=grid, pos=pos)
        features = []
        for i in range(t):
            f, state, _ = self._advance(tokens[:, i], state)
            features.append(f)
        return torch.stack(features, dim=1) if return_all else features[-1]

    def step_features(
        self, frame: Tensor, state: RViTState, return_details: bool = False
    ) -> tuple[Tensor, RViTState, dict[str, Any] | None]:
        """Features ``(B, F)`` after one more frame ``(B, C, H, W)``, the new state, the details."""
        frame = self.check_frame(frame, state)
        if state.pos is None:
            grid = patch_grid(frame.shape[-2], frame.shape[-1], self.cfg.patch_size)
            pos = self.pos_embed.tables(grid, state.num_frames)  # (B', T', N, D)
            state = dataclasses.replace(state, grid=grid, pos=pos)
        tokens, buffer = self.patch_embed.embed_frame(frame, state.buffer)  # (B, N, D)
        pos = state.pos.expand(state.batch_size, -1, -1, -1)  # (B, T', N, D)
        index = state.frame_index.clamp(max=pos.shape[1] - 1)
        rows = torch.arange(state.batch_size, device=pos.device)
        tokens = self.pos_drop(tokens + pos[rows, index])
        state = dataclasses.replace(state, buffer=buffer)
        return self._advance(tokens, state, return_details)

    def forward_head(self, features: Tensor) -> Tensor:
        """Features ``(..., F)`` -> logits ``(..., K)``: LayerNorm -> dropout -> Linear."""
        return self.head(self.head_drop(self.fc_norm(features)))
