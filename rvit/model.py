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

The head (``cfg.head``, one row of the proposal's table) is a class of :data:`rvit.heads.HEADS`: it
turns the last layer's tokens and memory into features (``"concat"``, the paper's:
``[mean_n LN(x_n) || mean_n h_n]``; ``"gap"``, the variant's: ``mean_n h_n``), and RViT applies
LayerNorm -> dropout -> Linear to them.

The streaming interface itself, which RViT shares with its baselines (input checks, the
``forward``/``step`` wrappers, the state's common fields), is :class:`~rvit.streaming.StreamingClassifier`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rvit.cell import RecurrentBlock, recurrent_dropout_mask
from rvit.config import RViTConfig
from rvit.heads import HEADS
from rvit.patch import PatchEmbed2d, TubeletEmbed3d, patch_grid
from rvit.streaming import (
    StreamingClassifier,
    StreamState,
    freeze_ended,
    init_weights,
    make_pos_embed,
)

__all__ = ["RViT", "RViTState"]


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
        head_class = HEADS[cfg.head]
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
                emits_tokens=head_class.reads_tokens or i < cfg.depth - 1,
            )
            for i in range(cfg.depth)
        )
        self.readout = head_class(cfg)  # the last layer -> features (not a module itself)
        for name, layer in self.readout.layers().items():
            self.add_module(name, layer)
        self.num_features = self.readout.num_features
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
        tokens_out = x if self.readout.reads_tokens else None
        features = self.readout.features(tokens_out, new_hidden[-1])  # (B, F)
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
