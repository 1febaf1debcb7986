"""Two baselines that bracket RViT: no memory at all, and all of the past at once (chapter 5).

* :class:`FrameViT`: a plain ViT applied to each frame on its own; a video's logits are the average of
  its frames' logits. It sees appearance only: shuffling the frames does not change its answer.
* :class:`ClipViT`: ViViT-style joint space-time attention over all ``T x N`` tokens of the clip
  (non-causal softmax attention). It sees everything, at a cost: streaming it means keeping every frame
  seen so far and recomputing over all of them, so its memory and time per frame grow with ``T``.

Both take the same :class:`~rvit.config.RViTConfig` and offer the same interface as
:class:`~rvit.model.RViT` (:class:`~rvit.streaming.StreamingClassifier`: ``forward(video, lengths,
return_all)``, ``init_state``, ``step``), so training and evaluation code treats the three alike. From the config they use the sizes (``dim``, ``depth``,
``heads``, ``mlp_ratio``), ``patch_size``, ``dropout`` and the position table's kind: ``"shared"`` is one
fixed ``(N, D)`` table, ``"interpolated"`` the same table resized bilinearly to other image sizes. Their
read-out is fixed; they run under the heads of :data:`BASELINE_HEADS` and refuse any other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvit.attention import TransformerBlock
from rvit.config import RViTConfig
from rvit.patch import PatchEmbed2d, patch_grid
from rvit.streaming import (
    StreamingClassifier,
    StreamState,
    freeze_ended,
    init_weights,
    make_pos_embed,
)

__all__ = ["BASELINE_HEADS", "ClipState", "ClipViT", "FrameState", "FrameViT"]

BASELINE_HEADS: tuple[str, ...] = ("concat", "gap", "tokens")
"""The values of ``cfg.head`` the baselines run under. RViT's heads differ in how they read the last
layer's memory; the baselines have no memory and one fixed read-out, the mean of their last layer's
tokens -> LayerNorm -> Linear (FrameViT needs a linear last step, so that averaging its frames'
features equals averaging their logits), which stands in for all three. The recurrent block's
choices (``memory_entry``, ``recurrence``, ``tokens``, ``pos_every_layer``, ``classifier``) have no
counterpart in a model without memory and are ignored. Any other head raises."""


def check_head(cfg: RViTConfig, model: str) -> None:
    """Raise ``ValueError`` when ``cfg.head`` is not one the baselines run under."""
    if cfg.head not in BASELINE_HEADS:
        raise ValueError(
            f"{model} does not support cfg.head={cfg.head!r}: it has no recurrent memory and one "
            f"fixed read-out (mean of its last layer's tokens -> LayerNorm -> Linear), used under "
            f"head in {BASELINE_HEADS}"
        )


# ---------------------------------------------------------------------------------------------------
# FrameViT
# ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class FrameState(StreamState):
    """FrameViT's streaming state: the running sum of per-frame features and the frame count.

    Attributes:
        total: ``(B, D)`` sum of the valid frames' features (None before the first frame).
        count: ``(B,)`` number of valid frames seen.
    """

    total: Tensor | None = None
    count: Tensor | None = None


class FrameViT(StreamingClassifier):
    """A ViT on each frame independently; video logits = mean of the valid frames' logits.

    Per frame: conv2d patches -> position table -> ``depth`` transformer blocks (the config's spatial
    attention kind: linear for ``attention="linear"``, else softmax) -> mean over tokens -> LayerNorm.
    The head is one Linear layer, so averaging the frames' features and then applying it equals
    averaging the frames' logits; the model keeps the running mean of the features.
    ``step(..., return_details=True)`` adds ``{"frame_logits": (B, K)}``, the current frame alone.
    """

    state_class = FrameState

    def __init__(self, cfg: RViTConfig) -> None:
        super().__init__(cfg)
        check_head(cfg, type(self).__name__)
        kind = "linear" if cfg.attention == "linear" else "softmax"
        self.patch_embed = PatchEmbed2d(cfg.patch_size, cfg.in_chans, cfg.dim)
        self.pos_embed = make_pos_embed(cfg, num_frames=1)
        self.pos_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.dim, cfg.heads, cfg.mlp_ratio, kind=kind, dropout=cfg.dropout)
            for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.dim)
        self.num_features = cfg.dim
        self.head_drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        self.apply(init_weights)

    def frame_features(self, frames: Tensor) -> Tensor:
        """Features of independent frames: ``(B, C, H, W) -> (B, D)``."""
        grid = patch_grid(frames.shape[-2], frames.shape[-1], self.cfg.patch_size)
        x = self.patch_embed(frames)  # (B, N, D)
        x = self.pos_drop(x + self.pos_embed.resized(grid, 1))  # (B, N, D)
        for block in self.blocks:
            x = block(x)
        return self.norm(x.mean(dim=1))  # (B, D)

    def init_state(self, batch_size: int, num_frames: int | Tensor | None = None) -> FrameState:
        """A fresh state; ``num_frames`` (int or LongTensor ``(B,)``) ends each video there if given."""
        return FrameState(**self._common_state(batch_size, num_frames))

    def forward_features(
        self, video: Tensor, lengths: Tensor | None = None, return_all: bool = False
    ) -> Tensor:
        """Mean features of the valid frames so far: ``(B, D)``, or after every frame ``(B, T, D)``."""
        video, lengths = self.check_video(video, lengths)
        b, t = video.shape[:2]
        per_frame = self.frame_features(video.flatten(0, 1)).reshape(b, t, -1)  # (B, T, D)
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long, device=video.device)
        valid = torch.arange(t, device=video.device)[None] < lengths[:, None]  # (B, T)
        valid = valid.to(per_frame.dtype)
        if not return_all:
            return (per_frame * valid[..., None]).sum(1) / valid.sum(1, keepdim=True)
        totals = (per_frame * valid[..., None]).cumsum(dim=1)  # (B, T, D)
        return totals / valid.cumsum(dim=1)[..., None]

    def step_features(
        self, frame: Tensor, state: FrameState, return_details: bool = False
    ) -> tuple[Tensor, FrameState, dict[str, Any] | None]:
        """Running mean features ``(B, D)`` after one more frame, the new state, the details."""
        frame = self.check_frame(frame, state)
        grid = patch_grid(frame.shape[-2], frame.shape[-1], self.cfg.patch_size)
        current = self.frame_features(frame)  # (B, D)
        active = state.active()
        weight = torch.ones_like(current[:, 0]) if active is None else active.to(current.dtype)
        total = current * weight[:, None]
        count = weight
        if state.total is not None:
            total = state.total + total
            count = state.count + count
        features = total / count[:, None]
        state = dataclasses.replace(
            state,
            grid=grid,
            total=total,
            count=count,
            frame_index=state.frame_index + 1,
            features=features,
        )
        details = {"frame_logits": self.forward_head(current)} if return_details else None
        return features, state, details

    def forward_head(self, features: Tensor) -> Tensor:
        """Features ``(..., D)`` -> logits ``(..., K)``: dropout -> Linear."""
        return self.head(self.head_drop(features))


# ---------------------------------------------------------------------------------------------------
# ClipViT
# ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class ClipState(StreamState):
    """ClipViT's streaming state: the tokens of every frame seen so far.

    Attributes:
        tokens: ``(B, t, N, D)`` patch tokens of the ``t`` frames seen (grows by one frame per step).
        time: ``(B', T', D)`` the temporal position table for each frame index.
    """

    tokens: Tensor | None = None
    time: Tensor | None = None


class ClipViT(StreamingClassifier):
    """Joint space-time attention over the whole clip (ViViT's unfactorised model).

    conv2d patches + a spatial position table ``(N, D)`` + a learnable temporal table
    ``(max_frames, D)`` -> ``depth`` softmax transformer blocks over all ``T * N`` tokens (padded
    frames masked out) -> mean over valid tokens -> LayerNorm -> Linear.

    The temporal table covers ``cfg.max_frames`` frames: a clip of ``L <= max_frames`` frames uses its
    first ``L`` entries, a longer one the table resized linearly to ``L``; with an unknown length
    frames past ``max_frames`` use the last entry. ``forward(..., return_all=True)`` and ``step`` give
    the prediction after frame ``t`` by recomputing over frames ``0..t``: every frame is kept, so the
    state's memory grows with ``T``. ``step(..., return_details=True)`` adds
    ``{"frames_kept": int}``.
    """

    state_class = ClipState

    def __init__(self, cfg: RViTConfig) -> None:
        super().__init__(cfg)
        check_head(cfg, type(self).__name__)
        self.patch_embed = PatchEmbed2d(cfg.patch_size, cfg.in_chans, cfg.dim)
        self.pos_embed = make_pos_embed(cfg, num_frames=1)
        self.time_embed = nn.Parameter(torch.zeros(cfg.max_frames, cfg.dim))
        nn.init.trunc_normal_(self.time_embed, std=0.02)
        self.pos_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.dim, cfg.heads, cfg.mlp_ratio, kind="softmax", dropout=cfg.dropout)
            for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.dim)
        self.num_features = cfg.dim
        self.head_drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        self.apply(init_weights)

    def temporal_table(self, num_frames: int | None) -> Tensor:
        """The temporal table ``(T', D)`` for a clip of ``num_frames`` frames (None: unknown)."""
        table = self.time_embed  # (max_frames, D)
        if num_frames is None or num_frames <= table.shape[0]:
            return table if num_frames is None else table[:num_frames]
        x = table.t()[None]  # (1, D, max_frames)
        x = F.interpolate(x, size=int(num_frames), mode="linear", align_corners=False)
        return x[0].t()  # (num_frames, D)

    def time_tables(self, num_frames: int | Tensor | None) -> Tensor:
        """Per-sample temporal tables ``(B', T', D)`` (``B'`` 1 unless lengths differ per sample)."""
        if not isinstance(num_frames, Tensor):
            return self.temporal_table(num_frames)[None]
        longest = int(num_frames.max())
        rows = []
        for length in num_frames.tolist():
            table = self.temporal_table(int(length))
            index = torch.arange(longest, device=table.device).clamp(max=table.shape[0] - 1)
            rows.append(table[index])
        return torch.stack(rows)  # (B, longest, D)

    def clip_features(self, tokens: Tensor, time: Tensor, valid: Tensor) -> Tensor:
        """Features of clips: tokens ``(B, T, N, D)``, time ``(B', T, D)``, valid bool ``(B, T)`` ->
        ``(B, D)``."""
        b, t, n, d = tokens.shape
        x = self.pos_drop(tokens + time[:, :, None])  # (B, T, N, D)
        x = x.reshape(b, t * n, d)  # (B, T*N, D)
        key_mask = valid[:, :, None].expand(b, t, n).reshape(b, t * n)  # (B, T*N)
        for block in self.blocks:
            x = block(x, key_mask=key_mask)
        weight = key_mask.to(x.dtype)[..., None]  # (B, T*N, 1)
        return self.norm((x * weight).sum(dim=1) / weight.sum(dim=1))  # (B, D)

    def _embed(self, frames: Tensor) -> Tensor:
        """Patch tokens with spatial positions: ``(B, C, H, W) -> (B, N, D)``."""
        grid = patch_grid(frames.shape[-2], frames.shape[-1], self.cfg.patch_size)
        return self.patch_embed(frames) + self.pos_embed.resized(grid, 1)

    def init_state(self, batch_size: int, num_frames: int | Tensor | None = None) -> ClipState:
        """A fresh state; ``num_frames`` (int or LongTensor ``(B,)``) is the length if known."""
        common = self._common_state(batch_size, num_frames)
        return ClipState(**common, time=self.time_tables(common["num_frames"]))

    def forward_features(
        self, video: Tensor, lengths: Tensor | None = None, return_all: bool = False
    ) -> Tensor:
        """Clip features ``(B, D)``; with ``return_all`` the features of each prefix ``(B, T, D)``."""
        video, lengths = self.check_video(video, lengths)
        b, t = video.shape[:2]
        tokens = self._embed(video.flatten(0, 1))  # (B*T, N, D)
        tokens = tokens.reshape(b, t, *tokens.shape[1:])  # (B, T, N, D)
        time = self.time_tables(t if lengths is None else lengths)  # (B', T', D)
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long, device=video.device)
        time = time[:, torch.arange(t, device=time.device).clamp(max=time.shape[1] - 1)]
        valid = torch.arange(t, device=video.device)[None] < lengths[:, None]  # (B, T)
        if not return_all:
            return self.clip_features(tokens, time, valid)
        features, previous = [], None
        for i in range(t):
            f = self.clip_features(tokens[:, : i + 1], time[:, : i + 1], valid[:, : i + 1])
            previous = freeze_ended(f, previous, valid[:, i])
            features.append(previous)
        return torch.stack(features, dim=1)

    def step_features(
        self, frame: Tensor, state: ClipState, return_details: bool = False
    ) -> tuple[Tensor, ClipState, dict[str, Any] | None]:
        """Features ``(B, D)`` over all frames so far, the new state (one more frame kept), details."""
        frame = self.check_frame(frame, state)
        grid = patch_grid(frame.shape[-2], frame.shape[-1], self.cfg.patch_size)
        new = self._embed(frame)[:, None]  # (B, 1, N, D)
        tokens = new if state.tokens is None else torch.cat([state.tokens, new], dim=1)
        t = tokens.shape[1]
        index = torch.arange(t, device=tokens.device)
        time = state.time[:, index.clamp(max=state.time.shape[1] - 1)]  # (B', t, D)
        active = state.active()
        if active is None:
            valid = torch.ones(state.batch_size, t, dtype=torch.bool, device=tokens.device)
        else:
            valid = index[None] < torch.as_tensor(state.num_frames, device=tokens.device).view(
                -1, 1
            )
            valid = valid.expand(state.batch_size, t)
        features = self.clip_features(tokens, time, valid)
        features = freeze_ended(features, state.features, active)
        state = dataclasses.replace(
            state,
            grid=grid,
            tokens=tokens,
            frame_index=state.frame_index + 1,
            features=features,
        )
        details = {"frames_kept": t} if return_details else None
        return features, state, details

    def forward_head(self, features: Tensor) -> Tensor:
        """Features ``(..., D)`` -> logits ``(..., K)``: dropout -> Linear."""
        return self.head(self.head_drop(features))
