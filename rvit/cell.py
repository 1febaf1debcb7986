r"""The recurrent cell: one RViT layer, in the authors' released design and in this book's
reconstruction (chapter 4).

RViT reads a video one frame at a time. Each layer ``l`` keeps a hidden state ``h``, its memory,
with the shape of a frame's tokens ``(B, N, D)``. Two designs of a layer live here, chosen by
``RViTConfig.memory_entry`` and ``RViTConfig.recurrence``.

The released design (:class:`FusedRecurrentBlock`)
--------------------------------------------------
The first author's repository ``Jiewen-Yang/RViT`` (MIT licence, 2023; ``model/RViT.py``) holds the
block. For frame tokens ``x`` and the layer's previous state ``h``, with the position table ``pos``::

    x, h  <- x + pos, h + pos                       positions enter every layer
    q,k,v  = W_qkv LN(x) + W_qkv_h LN(h)            frame and memory summed token by token
    a      = W_o Attn(q, k, v)                      softmax over the frame's tokens
    h_t    = h + a                                  additive: no gate, no decay
    x     <- x + a,  x <- x + MLP(LN(x))

A class token leads each frame's tokens and a learned per-layer "sequence" token leads each memory
(``RViTConfig.tokens="class"``); the other memory tokens start at zero. The file's active kernel is
softmax; the linear attention the paper names is there only commented out. ``recurrence="gate"``
puts this book's sigmoid gate on the fused block instead of the plain sum.

The gated reconstruction (:class:`RecurrentBlock`, :class:`AttentionGate`)
--------------------------------------------------------------------------
Written before the authors' code was known, from the paper's words alone (an *attention gate*
"builds interaction between the current frame input and the previous hidden state", and later work
calls it linear attention). Here the memory enters as extra keys of a separate gate::

    x  <- x + SpatialAttn(LN1(x))                    (1) attention within the frame
    u   = LN2(x);  a = Attn(q = u, kv = [u; h])      (2) the frame reads itself and its memory
    c   = W_c a;   z = sigmoid(W_z [u || h] + b_z)   (3) the attention gate
    h_t = (1 - z) * h + z * (m * c)
    x  <- x + W_o h_t;  x <- x + MLP(LN3(x))         (4) the memory feeds the next layer

``[u; h]`` stacks tokens (keys and values from the frame and the memory), ``[u || h]`` concatenates
features. ``gate_kv="memory"`` lets the frame query only the memory; ``recurrence="additive"``
replaces (3)'s convex mix by ``h_t = h + m * c``, the released code's rule.

Recurrent dropout
-----------------
With rate ``p`` > 0 what a layer adds to its memory (``c``, or ``a`` in the fused block) is
multiplied by a mask ``m`` drawn once per sequence and layer (variational dropout, Gal and
Ghahramani 2016): one Bernoulli(1 - p) value per sample and channel, scaled by ``1 / (1 - p)``,
shared by all tokens and all frames of that sequence, so the same memory channels are silenced for
the whole video. The model draws the masks in ``init_state`` in training mode only; in evaluation
``m = 1``.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvit.attention import (
    AttentionKind,
    Mlp,
    MultiHeadAttention,
    elu_feature_map,
    linear_attention,
    softmax_attention,
)

__all__ = [
    "DESIGN_SOURCES",
    "GATE_KV",
    "KEY_SOURCES",
    "MEMORY_ENTRIES",
    "RECURRENCES",
    "AttentionGate",
    "FusedAttention",
    "FusedRecurrentBlock",
    "RecurrentBlock",
    "recurrent_dropout_mask",
]

GateKV = Literal["frame_and_memory", "memory"]
Recurrence = Literal["additive", "gate"]
RECURRENCES: tuple[str, ...] = get_args(Recurrence)
"""How a layer's memory takes in what it read (the values of :data:`Recurrence`): ``"additive"``,
the released code's ``h_t = h_{t-1} + c`` (no gate, no decay), or ``"gate"``, this book's
reconstruction ``h_t = (1 - z) h_{t-1} + z c`` with a sigmoid update gate ``z``."""
MemoryEntry = Literal["fused", "keys"]
MEMORY_ENTRIES: tuple[str, ...] = get_args(MemoryEntry)
"""Where the memory enters a layer (the values of :data:`MemoryEntry`): ``"fused"``, the released
code's one attention whose queries, keys and values are token-wise sums of projections of the frame
and of the memory (:class:`FusedRecurrentBlock`), or ``"keys"``, this book's reconstruction, where a
separate gate attention reads the memory's tokens as extra keys (:class:`RecurrentBlock`)."""
GATE_KV: tuple[str, ...] = get_args(GateKV)
"""Which tokens the gate may read as keys and values (the values of :data:`GateKV`)."""

KEY_SOURCES: dict[str, tuple[str, ...]] = {
    "frame_and_memory": ("frame", "memory"),
    "memory": ("memory",),
}
"""For each ``gate_kv``, the token blocks that give the gate's keys and values, in order: ``"frame"``
(the frame's tokens ``u``) and ``"memory"`` (the previous hidden state ``h_prev``), ``N`` keys each."""


DESIGN_SOURCES: dict[str, tuple[str, str, str]] = {
    "memory_entry": (
        "an attention gate 'builds interaction between the current frame input and the previous "
        "hidden state'; no equations",
        "one attention; q, k, v = W_qkv LN(x) + W_qkv_h LN(h), summed token by token "
        "(model/RViT.py l.203-215)",
        'memory_entry: "fused" (the released block) or "keys" (the gated reconstruction)',
    ),
    "recurrence": (
        "hidden states carry temporal features; no update rule",
        "h <- (h + pos) + Attn: additive, no gate, no decay (l.226-233)",
        'recurrence: "additive" or "gate"',
    ),
    "tokens": (
        "silent",
        "a class token per frame (l.254); a learned sequence token per layer's state (l.255)",
        'tokens: "class" or "patches" (no class or sequence token)',
    ),
    "pos_every_layer": (
        "silent",
        "the position table is added to x before every layer and to h as it enters (l.158-162)",
        "pos_every_layer: True, or False (positions added once)",
    ),
    "attention": (
        "linear attention (the paper, as later work describes it; the proposal's table)",
        "softmax; un-normalised elu + 1 linear attention only commented out (l.160)",
        'attention: "linear", "softmax" or "hybrid" (both kernels)',
    ),
    "head": (
        "'concatenates spatial and temporal tokens' (the proposal's table)",
        "the last frame's class token beside every layer's sequence token (l.264, l.280-286)",
        'head: "tokens" (released), "concat" (this book\'s reading) or "gap"',
    ),
    "classifier": (
        "silent",
        "MLP (4x, GELU, dropout 0.1), then Linear (l.280-286)",
        'classifier: "mlp" or "linear" (LayerNorm, then Linear)',
    ),
    "patch_embed": (
        "convolution for P x P patches",
        "a P x P convolution, stride P, width 3 P^2 (l.243)",
        'patch_embed: "conv2d", or "conv3d" (tubelets)',
    ),
    "init": (
        "silent",
        "PyTorch's default layer initialisation; class, sequence tokens and positions N(0, 1) "
        "(an orthogonal init is defined but never called)",
        'init: "torch", or "vit" (truncated normal, std 0.02)',
    ),
    "pos_embed": (
        "learnable, shared across frames",
        "one learned (N + 1, D) table for every frame",
        'pos_embed: "shared", or "interpolated" (resized per clip)',
    ),
}
"""For each design choice (a field of ``RViTConfig``): what the paper's text says, what the authors'
released code (``Jiewen-Yang/RViT``, ``model/RViT.py``, line numbers at its HEAD) does, and the
package's option. ``rvit.config.design_table`` sets them beside the presets' values."""


def recurrent_dropout_mask(
    batch_size: int, dim: int, p: float, device: torch.device | None = None
) -> Tensor:
    """One recurrent-dropout mask per sequence: ``(B, 1, D)`` of 0 and ``1 / (1 - p)``."""
    if not 0 <= p < 1:
        raise ValueError(f"recurrent dropout p={p} must lie in [0, 1)")
    keep = torch.full((batch_size, 1, dim), 1.0 - p, device=device)
    return torch.bernoulli(keep) / (1.0 - p)


class AttentionGate(nn.Module):
    """RViT's attention gate: the new hidden state from the frame's tokens and the previous state.

    ``forward(u, h_prev)`` with ``u = LN(x)`` ``(B, N, D)`` and ``h_prev`` ``(B, N, D)`` returns
    ``h_t`` ``(B, N, D)`` and the attention weights ``(B, heads, N, M)`` (``M = 2N`` for
    ``"frame_and_memory"``, ``N`` for ``"memory"``) when asked::

        a   = Attn(q = u, kv = [u; h_prev])       # or kv = h_prev
        c   = W_c a                               # candidate
        z   = sigmoid(W_z [u || h_prev])          # update gate, per token and channel
        h_t = (1 - z) * h_prev + z * (m * c)      # m: recurrent-dropout mask or 1
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        kind: AttentionKind = "linear",
        kv: GateKV = "frame_and_memory",
        recurrence: Recurrence = "gate",
    ) -> None:
        super().__init__()
        if kv not in GATE_KV:
            raise ValueError(f"gate kv must be one of {GATE_KV}; got {kv!r}")
        if recurrence not in RECURRENCES:
            raise ValueError(f"recurrence must be one of {RECURRENCES}; got {recurrence!r}")
        self.kv = kv
        self.recurrence = recurrence
        self.attn = MultiHeadAttention(dim, heads, kind=kind, out_proj=False)
        self.candidate = nn.Linear(dim, dim)  # W_c
        if recurrence == "gate":
            self.update = nn.Linear(2 * dim, dim)  # W_z, b_z

    @property
    def split(self) -> bool:
        """Whether the gate uses the split form: linear attention over ``[u; h_prev]``."""
        return self.kv == "frame_and_memory" and self.attn.kind == "linear"

    def _update(self, u: Tensor, h_prev: Tensor) -> Tensor:
        """``W_z [u || h_prev] + b_z`` as ``W_z[:, :D] u + W_z[:, D:] h_prev + b_z``: no concatenation.

        The two products read column slices of the one ``(D, 2D)`` weight, so parameters and saved
        checkpoints keep the concatenated layout.
        """
        dim = u.shape[-1]
        weight = self.update.weight
        return F.linear(u, weight[:, :dim], self.update.bias) + F.linear(h_prev, weight[:, dim:])

    def _split_linear_attention(self, u: Tensor, h_prev: Tensor) -> Tensor:
        """Linear attention of ``u`` over ``[u; h_prev]`` without stacking the tokens: ``(B, N, D)``.

        Linear attention sums over keys, so the ``(d, d)`` summary ``phi(k)^T v`` and the key sum are
        the sums of the two halves' (the frame's and the memory's); the same function as
        ``self.attn(u, [u; h_prev])`` up to rounding.
        """
        attn = self.attn
        b, n, dim = u.shape
        heads, head_dim = attn.heads, attn.head_dim
        q = attn.to_q(u).reshape(b, n, heads, head_dim).transpose(1, 2)  # (B, h, N, d)
        phi_q = elu_feature_map(q)
        summary = None
        key_sum = None
        for tokens in (u, h_prev):
            kv = attn.to_kv(tokens).reshape(b, tokens.shape[1], 2, heads, head_dim)
            k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, h, M, d)
            phi_k = elu_feature_map(k)  # contiguous (B, h, M, d)
            part = phi_k.transpose(-2, -1) @ v  # (B, h, d, d)
            part_sum = phi_k.sum(dim=-2)  # (B, h, d)
            summary = part if summary is None else summary + part
            key_sum = part_sum if key_sum is None else key_sum + part_sum
        normaliser = (phi_q @ key_sum.unsqueeze(-1)) + 1e-6  # (B, h, N, 1)
        out = (phi_q @ summary) / normaliser  # (B, h, N, d)
        return out.transpose(1, 2).reshape(b, n, dim)

    def key_blocks(self, num_tokens: int) -> list[tuple[str, slice]]:
        """Which keys the gate reads for ``N = num_tokens`` frame tokens: ``(name, slice)`` per block,
        in the order of the last axis of its attention weights (``"frame"``: ``u``, ``"memory"``:
        ``h_prev``), e.g. ``[("frame", slice(0, N)), ("memory", slice(N, 2N))]``."""
        n = num_tokens
        return [(name, slice(i * n, (i + 1) * n)) for i, name in enumerate(KEY_SOURCES[self.kv])]

    def context(self, u: Tensor, h_prev: Tensor) -> Tensor:
        """The tokens that give keys and values, in the order of :meth:`key_blocks`: ``[u; h_prev]``
        ``(B, 2N, D)`` or ``h_prev``."""
        tokens = {"frame": u, "memory": h_prev}
        parts = [tokens[name] for name in KEY_SOURCES[self.kv]]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def forward(
        self,
        u: Tensor,
        h_prev: Tensor,
        mask: Tensor | None = None,
        return_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """``u``, ``h_prev`` ``(B, N, D)``; ``mask`` ``(B, 1, D)`` or None -> ``(h_t, weights or None)``."""
        # The split form saves copies where tensors are large or a backward pass follows; one video
        # streamed without gradients is bound by the number of operators, where the explicit form
        # (two fewer products per layer) is faster.
        batch_one_inference = u.shape[0] == 1 and not torch.is_grad_enabled()
        gated = self.recurrence == "gate"
        z = None
        if self.split and not return_weights and not batch_one_inference:
            a, weights = self._split_linear_attention(u, h_prev), None
            if gated:
                z = torch.sigmoid(self._update(u, h_prev))  # (B, N, D)
        else:  # the explicit form: the weights, and the update layer called as a module (hooks)
            result = self.attn(u, self.context(u, h_prev), return_weights=return_weights)
            a, weights = result if return_weights else (result, None)  # a: (B, N, D)
            if gated:
                z = torch.sigmoid(self.update(torch.cat([u, h_prev], dim=-1)))  # (B, N, D)
        c = self.candidate(a)  # (B, N, D)
        if mask is not None:
            c = c * mask
        h = h_prev + c if z is None else (1.0 - z) * h_prev + z * c
        return h, weights


class RecurrentBlock(nn.Module):
    """One RViT layer: spatial attention, the attention gate, the memory read-out and an MLP.

    ``forward(x, h_prev)``: ``x`` and ``h_prev`` ``(B, N, D)`` -> ``(x_out, h_t, gate_weights)``.

    Args:
        spatial_kind: kernel of the attention within the frame.
        gate_kind: kernel of the gate's attention.
        gate_kv: which tokens give the gate's keys and values.
        emits_tokens: when False (the last layer under a head that reads only ``h_t``), the layer
            stops after the gate: it has no ``W_o`` and no MLP, and ``x_out`` is ``x`` after step (1).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        spatial_kind: AttentionKind = "linear",
        gate_kind: AttentionKind = "linear",
        gate_kv: GateKV = "frame_and_memory",
        dropout: float = 0.0,
        emits_tokens: bool = True,
        recurrence: Recurrence = "gate",
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.spatial = MultiHeadAttention(dim, heads, kind=spatial_kind, proj_drop=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.gate = AttentionGate(dim, heads, kind=gate_kind, kv=gate_kv, recurrence=recurrence)
        self.emits_tokens = emits_tokens
        if emits_tokens:
            self.out = nn.Linear(dim, dim)  # W_o
            self.norm3 = nn.LayerNorm(dim)
            self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(
        self,
        x: Tensor,
        h_prev: Tensor,
        mask: Tensor | None = None,
        active: Tensor | None = None,
        return_weights: bool = False,
        pos: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One frame through one layer.

        Args:
            x: the frame's tokens ``(B, N, D)``.
            h_prev: this layer's previous hidden state ``(B, N, D)``.
            mask: recurrent-dropout mask ``(B, 1, D)`` or None.
            active: bool ``(B,)``; samples marked False (their video has ended) keep ``h_prev``.
            return_weights: also return the gate's attention weights ``(B, heads, N, M)``.
            pos: the frame's position rows ``(B, N, D)`` when positions enter every layer
                (``pos_every_layer``): added to ``x`` and to ``h_prev`` as they enter.

        Returns:
            ``x_out`` ``(B, N, D)``, ``h_t`` ``(B, N, D)``, and the gate weights or None.
        """
        h_in = h_prev
        if pos is not None:
            x, h_in = x + pos, h_prev + pos
        x = x + self.spatial(self.norm1(x))  # (1)
        h, weights = self.gate(self.norm2(x), h_in, mask, return_weights)  # (2), (3)
        if active is not None:
            h = torch.where(active[:, None, None], h, h_prev)
        if self.emits_tokens:
            x = x + self.out(h)  # (4)
            x = x + self.mlp(self.norm3(x))
        return x, h, weights


class FusedAttention(nn.Module):
    """The released code's attention: the frame and its memory summed into one query, key and value.

    ``forward(u, g)`` with ``u = LN(x)`` and ``g = LN(h)``, both ``(B, N, D)``::

        q, k, v = W_qkv u + W_qkv_h g          # two Linear(D, 3D) with bias, summed token by token
        a       = W_o Attn(q, k, v)            # over the N tokens of the frame, multi-head

    ``kind`` picks the kernel: ``"softmax"`` (the released code's active path), ``"linear"``
    (normalised ``elu + 1`` linear attention, :func:`~rvit.attention.linear_attention`; the released
    file keeps an un-normalised form commented out) or ``"hybrid"`` (the first half of the heads,
    rounded up, softmax and the rest linear: one attention, both kernels).
    """

    def __init__(self, dim: int, heads: int, kind: str = "softmax", proj_drop: float = 0.0) -> None:
        super().__init__()
        if kind not in ("linear", "softmax", "hybrid"):
            raise ValueError(f"kind must be 'linear', 'softmax' or 'hybrid'; got {kind!r}")
        if dim % heads:
            raise ValueError(f"dim={dim} is not divisible by heads={heads}")
        self.heads, self.head_dim, self.kind = heads, dim // heads, kind
        self.softmax_heads = {"softmax": heads, "linear": 0, "hybrid": (heads + 1) // 2}[kind]
        self.to_qkv = nn.Linear(dim, 3 * dim)  # W_qkv: from the frame
        self.to_qkv_h = nn.Linear(dim, 3 * dim)  # W_qkv_h: from the memory
        self.proj = nn.Linear(dim, dim)  # W_o
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(
        self, u: Tensor, g: Tensor, return_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """``u``, ``g`` ``(B, N, D)`` -> ``(a (B, N, D), weights (B, heads, N, N) or None)``."""
        b, n, dim = u.shape
        qkv = (self.to_qkv(u) + self.to_qkv_h(g)).reshape(b, n, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, h, N, d)
        s = self.softmax_heads
        parts = [(softmax_attention, slice(0, s))] if s > 0 else []
        if s < self.heads:
            parts.append((linear_attention, slice(s, self.heads)))
        outs, weights = [], []
        for kernel, part in parts:
            result = kernel(q[:, part], k[:, part], v[:, part], return_weights=return_weights)
            out, w = result if return_weights else (result, None)
            outs.append(out)
            weights.append(w)
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)  # (B, h, N, d)
        a = self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, dim)))
        if not return_weights:
            return a, None
        return a, weights[0] if len(weights) == 1 else torch.cat(weights, dim=1)


class FusedRecurrentBlock(nn.Module):
    """One layer of the released design: one fused attention serves the frame and its memory.

    ``forward(x, h_prev, ..., pos)``: ``x`` and ``h_prev`` ``(B, N, D)`` -> ``(x_out, h_t, weights)``::

        x, h   = drop(x + pos), h_prev + pos             # positions enter every layer (if given)
        a      = FusedAttention(LN_x(x), LN_h(h))        # (B, N, D)
        h_t    = h + m * a                               # "additive": no gate, no decay
               = (1 - z) * h + z * (m * a),  z = sigmoid(W_z [LN_x(x) || LN_h(h)])   # "gate"
        x      = x + drop(a);  x = x + MLP(LN(x))        # the frame's tokens go on

    ``m`` is the recurrent-dropout mask (or 1). With ``emits_tokens=False`` (the last layer under a
    head that reads only the memory) the layer stops after ``h_t`` and has no MLP.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        kind: str = "softmax",
        recurrence: Recurrence = "additive",
        dropout: float = 0.0,
        emits_tokens: bool = True,
    ) -> None:
        super().__init__()
        if recurrence not in RECURRENCES:
            raise ValueError(f"recurrence must be one of {RECURRENCES}; got {recurrence!r}")
        self.recurrence = recurrence
        self.input_drop = nn.Dropout(dropout)
        self.norm_x = nn.LayerNorm(dim)
        self.norm_h = nn.LayerNorm(dim)
        self.attn = FusedAttention(dim, heads, kind)
        self.attn_drop = nn.Dropout(dropout)
        if recurrence == "gate":
            self.update = nn.Linear(2 * dim, dim)  # W_z, b_z
        self.emits_tokens = emits_tokens
        if emits_tokens:
            self.norm_mlp = nn.LayerNorm(dim)
            self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(
        self,
        x: Tensor,
        h_prev: Tensor,
        mask: Tensor | None = None,
        active: Tensor | None = None,
        return_weights: bool = False,
        pos: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One frame through one layer (the arguments of :meth:`RecurrentBlock.forward`); the
        weights returned are the fused attention's ``(B, heads, N, N)``."""
        h = h_prev
        if pos is not None:
            x, h = self.input_drop(x + pos), h_prev + pos
        u, g = self.norm_x(x), self.norm_h(h)
        a, weights = self.attn(u, g, return_weights)
        c = a if mask is None else a * mask
        if self.recurrence == "gate":
            z = torch.sigmoid(self.update(torch.cat([u, g], dim=-1)))
            h_new = (1.0 - z) * h + z * c
        else:
            h_new = h + c
        if active is not None:
            h_new = torch.where(active[:, None, None], h_new, h_prev)
        if self.emits_tokens:
            x = x + self.attn_drop(a)
            x = x + self.mlp(self.norm_mlp(x))
        return x, h_new, weights
