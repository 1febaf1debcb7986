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

from rvit.attention import Mlp
from rvit.cell import FusedRecurrentBlock, RecurrentBlock, recurrent_dropout_mask
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
        pos: the position table resized to the frames' patch grid, ``(T0', N, D)`` (``T0' = 1``
            when shared), made at the first frame; each frame's rows are interpolated from it
            (:meth:`rvit.patch.PosEmbed.frame_rows`), so the state does not grow with the length.
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
        if cfg.tokens == "class":  # a class token per frame, a sequence token per layer's memory
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
            self.cls_pos = nn.Parameter(torch.zeros(1, 1, dim))  # the class token's position row
            self.seq_tokens = nn.Parameter(torch.zeros(cfg.depth, 1, dim))
            for p in (self.cls_token, self.cls_pos, self.seq_tokens):
                nn.init.trunc_normal_(p, std=0.02)
        head_class = HEADS[cfg.head]
        self.blocks = nn.ModuleList(
            self._make_block(cfg, emits_tokens=head_class.reads_tokens or i < cfg.depth - 1)
            for i in range(cfg.depth)
        )
        self.readout = head_class(cfg)  # the last layer -> features (not a module itself)
        for name, layer in self.readout.layers().items():
            self.add_module(name, layer)
        self.num_features = self.readout.num_features
        self.head_drop = nn.Dropout(cfg.dropout)
        if cfg.classifier == "linear":  # LayerNorm -> dropout -> Linear
            self.fc_norm = nn.LayerNorm(self.num_features)
        else:  # the released classifier: dropout -> MLP (4x, GELU, dropout) -> Linear
            self.fc_mlp = Mlp(self.num_features, 4 * self.num_features, cfg.dropout)
        self.head = nn.Linear(self.num_features, cfg.num_classes)
        if cfg.init == "vit":
            self.apply(init_weights)
        else:  # the released code's: layers keep PyTorch's defaults, tokens and positions N(0, 1)
            with torch.no_grad():
                for p in (*self.pos_embed.parameters(), *self._token_parameters()):
                    p.normal_()

    def no_weight_decay(self) -> tuple[str, ...]:
        """Parameters AdamW leaves undecayed beyond biases, norms, tokens and position tables (the
        timm convention, read by the trainer): the class token's position row."""
        return ("cls_pos",) if self.cfg.tokens == "class" else ()

    def _token_parameters(self) -> list[nn.Parameter]:
        """The class token, its position row and the sequence tokens (none without class tokens)."""
        if self.cfg.tokens != "class":
            return []
        return [self.cls_token, self.cls_pos, self.seq_tokens]

    @staticmethod
    def _make_block(cfg: RViTConfig, emits_tokens: bool) -> nn.Module:
        """One layer: the released fused block or this book's gated block (``cfg.memory_entry``)."""
        if cfg.memory_entry == "fused":
            return FusedRecurrentBlock(
                cfg.dim,
                cfg.heads,
                cfg.mlp_ratio,
                kind=cfg.attention,
                recurrence=cfg.recurrence,
                dropout=cfg.dropout,
                emits_tokens=emits_tokens,
            )
        return RecurrentBlock(
            cfg.dim,
            cfg.heads,
            cfg.mlp_ratio,
            spatial_kind="linear" if cfg.attention == "linear" else "softmax",
            gate_kind="softmax" if cfg.attention == "softmax" else "linear",
            gate_kv=cfg.gate_kv,
            dropout=cfg.dropout,
            emits_tokens=emits_tokens,
            recurrence=cfg.recurrence,
        )

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

    def _first_hidden(self, tokens: Tensor) -> list[Tensor]:
        """``h_0`` of every layer, shaped like the frame's tokens ``(B, N', D)``: zeros, and with class
        tokens the layer's learned sequence token in place of the first."""
        zeros = torch.zeros_like(tokens)
        if self.cfg.tokens != "class":
            return [zeros] * len(self.blocks)
        b = tokens.shape[0]
        return [torch.cat([seq.expand(b, 1, -1), zeros[:, 1:]], dim=1) for seq in self.seq_tokens]

    def _frame_tokens(self, tokens: Tensor, pos: Tensor) -> tuple[Tensor, Tensor | None]:
        """A frame's patch tokens ``(B, N, D)`` and position rows ``(B, N, D)`` -> the tokens that
        enter the first layer ``(B, N', D)`` and the positions each layer adds (or None).

        With ``tokens="class"`` the class token is prepended (``N' = N + 1``) with its own position
        row. With ``pos_every_layer`` the positions (after dropout, once per frame) are handed to
        every layer instead of being added here.
        """
        b = tokens.shape[0]
        if self.cfg.tokens == "class":
            tokens = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
            pos = torch.cat([self.cls_pos.expand(pos.shape[0], -1, -1), pos], dim=1)
        if self.cfg.pos_every_layer:
            return tokens, self.pos_drop(pos).expand(b, -1, -1)
        return self.pos_drop(tokens + pos), None

    def _advance(
        self,
        tokens: Tensor,
        state: RViTState,
        return_details: bool = False,
        pos: Tensor | None = None,
    ) -> tuple[Tensor, RViTState, dict[str, Any] | None]:
        """The recurrence for one frame: the tokens of :meth:`_frame_tokens` ``(B, N', D)`` and the
        positions every layer adds (or None) -> features ``(B, F)``."""
        active = state.active()  # (B,) or None
        hidden = state.hidden or self._first_hidden(tokens)
        masks = state.masks or [None] * len(self.blocks)
        x = tokens
        new_hidden, gate_weights = [], []
        for block, h_prev, mask in zip(self.blocks, hidden, masks, strict=True):
            x, h, weights = block(x, h_prev, mask, active, return_details, pos)
            new_hidden.append(h)
            gate_weights.append(weights)
        tokens_out = x if self.readout.reads_tokens else None
        features = self.readout.features(tokens_out, new_hidden)  # (B, F)
        features = freeze_ended(features, state.features, active)
        state = dataclasses.replace(
            state, hidden=new_hidden, frame_index=state.frame_index + 1, features=features
        )
        details = None
        if return_details:
            norms = [h.norm(dim=-1).mean(dim=1) for h in new_hidden]  # depth x (B,)
            name = "gate_attention" if self.cfg.memory_entry == "keys" else "fused_attention"
            details = {name: gate_weights, "hidden_norm": torch.stack(norms, dim=1)}
        return features, state, details

    def forward_features(
        self, video: Tensor, lengths: Tensor | None = None, return_all: bool = False
    ) -> Tensor:
        """Features after the last frame ``(B, F)``, or after every frame ``(B, T, F)``."""
        video, lengths = self.check_video(video, lengths)
        b, t = video.shape[:2]
        state = self.init_state(b, num_frames=t if lengths is None else lengths)
        grid = patch_grid(video.shape[-2], video.shape[-1], self.cfg.patch_size)
        spatial = self.pos_embed.spatial(grid)  # (T0', N, D)
        tokens = self.patch_embed.embed_video(video)  # (B, T, N, D)
        state = dataclasses.replace(state, grid=grid, pos=spatial)
        features = []
        for i in range(t):
            index = torch.full((b,), i, dtype=torch.long, device=tokens.device)
            rows = self.pos_embed.frame_rows(spatial, state.num_frames, index)  # (B', N, D)
            x, layer_pos = self._frame_tokens(tokens[:, i], rows)
            f, state, _ = self._advance(x, state, pos=layer_pos)
            features.append(f)
        return torch.stack(features, dim=1) if return_all else features[-1]

    def step_features(
        self, frame: Tensor, state: RViTState, return_details: bool = False
    ) -> tuple[Tensor, RViTState, dict[str, Any] | None]:
        """Features ``(B, F)`` after one more frame ``(B, C, H, W)``, the new state, the details."""
        frame = self.check_frame(frame, state)
        if state.pos is None:
            grid = patch_grid(frame.shape[-2], frame.shape[-1], self.cfg.patch_size)
            spatial = self.pos_embed.spatial(grid)  # (T0', N, D)
            state = dataclasses.replace(state, grid=grid, pos=spatial)
        tokens, buffer = self.patch_embed.embed_frame(frame, state.buffer)  # (B, N, D)
        rows = self.pos_embed.frame_rows(state.pos, state.num_frames, state.frame_index)
        x, layer_pos = self._frame_tokens(tokens, rows)  # rows (B', N, D)
        state = dataclasses.replace(state, buffer=buffer)
        return self._advance(x, state, return_details, pos=layer_pos)

    def forward_head(self, features: Tensor) -> Tensor:
        """Features ``(..., F)`` -> logits ``(..., K)``: LayerNorm -> dropout -> Linear
        (``classifier="linear"``), or dropout -> MLP -> Linear (``"mlp"``, the released one)."""
        if self.cfg.classifier == "linear":
            return self.head(self.head_drop(self.fc_norm(features)))
        return self.head(self.fc_mlp(self.head_drop(features)))
