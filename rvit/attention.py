"""Attention: softmax and linear kernels, multi-head attention, a transformer block (chapter 3).

Every kernel takes queries ``q`` ``(B, h, N, d)``, keys ``k`` and values ``v`` ``(B, h, M, d)`` and
returns ``(B, h, N, d)``: each of the ``N`` queries reads a weighted average of the ``M`` values.

* :func:`softmax_attention`: weights ``softmax(q k^T / sqrt(d))``; cost ``O(N M)``.
* :func:`linear_attention` (Katharopoulos et al., 2020): weights ``phi(q) phi(k)^T`` normalised per
  query, with the feature map ``phi(x) = elu(x) + 1 > 0``. Because the weights factorise, the output is
  ``phi(q) (phi(k)^T v) / (phi(q) sum_m phi(k_m))``: the ``(d, d)`` summary ``phi(k)^T v`` is built once,
  so the cost is ``O((N + M) d^2)``, linear in the number of tokens.

:class:`MultiHeadAttention` takes separate query and key/value token sets, so one module serves both
self-attention within a frame and the cross attention of RViT's gate (frame tokens reading memory).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ATTENTION_KINDS",
    "Mlp",
    "MultiHeadAttention",
    "TransformerBlock",
    "elu_feature_map",
    "linear_attention",
    "softmax_attention",
]

AttentionKind = Literal["linear", "softmax"]
ATTENTION_KINDS: tuple[str, ...] = ("linear", "softmax")


def _batched(x: Tensor) -> bool:
    """Whether ``x`` is a tensor of a ``torch.func.vmap`` call (a batch of models, one at a time)."""
    is_batched = getattr(torch._C._functorch, "is_batchedtensor", None)
    return bool(is_batched is not None and is_batched(x))


class _EluPlusOne(torch.autograd.Function):
    """``elu(x) + 1`` with a hand-written backward pass: the derivative is ``min(phi(x), 1)``.

    For ``x > 0``, ``phi(x) = x + 1 > 1`` and ``phi'(x) = 1``; for ``x <= 0``, ``phi(x) = exp(x) <= 1``
    and ``phi'(x) = exp(x) = phi(x)``. Saving only the output and rebuilding the derivative from it
    costs two element-wise operations in the backward pass, where autograd's own graph for the
    piecewise form costs several masked selections (chapter 9 shows what that did to a step).
    """

    # functorch transforms (torch.func.vmap, used to train several seeds as one) run the function
    # through its own rule built from forward and backward, which needs setup_context
    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        # exp(min(x, 0)) + max(x, 0): x + 1 for x > 0, exp(x) otherwise. Written into a contiguous
        # tensor: heads arrive as a transposed view, and the products that follow would copy it
        if _batched(x):  # under vmap: out= has no batching rule; the same values, one more pass
            return x.clamp(max=0.0).exp_().add_(x.clamp(min=0.0)).contiguous()
        phi = torch.clamp(
            x, max=0.0, out=torch.empty_like(x, memory_format=torch.contiguous_format)
        )
        phi.exp_().add_(x.clamp(min=0.0))
        return phi

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor], output: Tensor) -> None:
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (phi,) = ctx.saved_tensors
        return grad * phi.clamp(max=1.0)


def elu_feature_map(x: Tensor) -> Tensor:
    """The linear-attention feature map ``phi(x) = elu(x) + 1``, positive everywhere; any shape.

    Computed as ``exp(min(x, 0)) + max(x, 0)`` (the same function: ``x + 1`` for ``x > 0``,
    ``exp(x)`` otherwise), which stays positive in float32 where ``elu(x) + 1`` would round to 0
    (``x`` below about -17), with the cheap backward pass of :class:`_EluPlusOne`.
    """
    if torch.compiler.is_compiling():
        # inductor fuses the plain form into one kernel (and cannot trace the in-place one under
        # vmap); autograd's derivative of it is the same min(phi(x), 1), at x = 0 included
        return torch.where(x > 0, x + 1.0, x.clamp(max=0.0).exp())
    return _EluPlusOne.apply(x)


def _check_qkv(q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None) -> None:
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            f"q, k, v must have shape (B, heads, tokens, head_dim); got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    if k.shape[:3] != v.shape[:3] or q.shape[:2] != k.shape[:2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q {tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)} do not fit: k and v need "
            f"the same (B, heads, M), q and k the same batch, heads and head_dim"
        )
    expected = (k.shape[0], k.shape[2])  # (B, M)
    if key_mask is not None and (key_mask.dtype != torch.bool or tuple(key_mask.shape) != expected):
        raise ValueError(
            f"key_mask must be a bool tensor of shape (B, M) = {expected}; got "
            f"{key_mask.dtype} {tuple(key_mask.shape)}"
        )


def linear_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    eps: float = 1e-6,
    key_mask: Tensor | None = None,
    return_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Linear attention with ``phi(x) = elu(x) + 1``, computed in ``O(N)``.

    Args:
        q: queries ``(B, h, N, d)``.
        k: keys ``(B, h, M, d)``.
        v: values ``(B, h, M, e)``.
        eps: added to each query's normaliser.
        key_mask: optional bool ``(B, M)``; ``False`` keys are ignored.
        return_weights: also return the explicit ``(B, h, N, M)`` weights.

    Returns:
        ``(B, h, N, e)``: ``phi(q) (phi(k)^T v) / (phi(q) sum_m phi(k_m) + eps)``; with
        ``return_weights`` also the weights ``phi(q) phi(k)^T / (phi(q) sum_m phi(k_m) + eps)``, built
        from the same ``phi(q)``, ``phi(k)`` and normaliser as the output, so ``weights @ v`` equals it.
    """
    _check_qkv(q, k, v, key_mask)
    phi_q = elu_feature_map(q)  # (B, h, N, d)
    phi_k = elu_feature_map(k)  # (B, h, M, d)
    if key_mask is not None:
        phi_k = phi_k * key_mask[:, None, :, None].to(phi_k.dtype)
    summary = phi_k.transpose(-2, -1) @ v  # (B, h, d, e)
    key_sum = phi_k.sum(dim=-2)  # (B, h, d)
    normaliser = (phi_q @ key_sum.unsqueeze(-1)) + eps  # (B, h, N, 1)
    out = (phi_q @ summary) / normaliser  # (B, h, N, e)
    if not return_weights:
        return out
    weights = (phi_q @ phi_k.transpose(-2, -1)) / normaliser  # (B, h, N, M)
    return out, weights


def softmax_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    key_mask: Tensor | None = None,
    return_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Scaled dot-product attention ``softmax(q k^T / sqrt(d)) v`` (``F.scaled_dot_product_attention``).

    Args:
        q: queries ``(B, h, N, d)``.
        k: keys ``(B, h, M, d)``.
        v: values ``(B, h, M, e)``.
        key_mask: optional bool ``(B, M)``; ``False`` keys are ignored (each query needs one ``True``).
        return_weights: also return the explicit ``(B, h, N, M)`` softmax weights.

    Returns:
        ``(B, h, N, e)``, and with ``return_weights`` the weights.
    """
    _check_qkv(q, k, v, key_mask)
    attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, M)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    if not return_weights:
        return out
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, h, N, M)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    return out, scores.softmax(dim=-1)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate query tokens and key/value tokens.

    ``forward(x, context)``: ``x`` ``(B, N, D)`` gives the queries, ``context`` ``(B, M, D)`` (default:
    ``x``, self-attention) gives keys and values; returns ``(B, N, D)``. ``kind`` picks the kernel.
    With ``out_proj=False`` the heads are only concatenated, for callers that apply their own projection.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        kind: AttentionKind = "linear",
        qkv_bias: bool = True,
        out_proj: bool = True,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"kind must be one of {ATTENTION_KINDS}; got {kind!r}")
        if dim % heads:
            raise ValueError(f"dim={dim} is not divisible by heads={heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.kind = kind
        self.to_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim) if out_proj else nn.Identity()
        self.proj_drop = nn.Dropout(proj_drop)

    def project(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Per-head queries ``(B, h, N, d)``, keys and values ``(B, h, M, d)``."""
        context = x if context is None else context
        b, n, dim = x.shape
        m = context.shape[1]
        q = self.to_q(x).reshape(b, n, self.heads, self.head_dim).transpose(1, 2)  # (B, h, N, d)
        kv = self.to_kv(context).reshape(b, m, 2, self.heads, self.head_dim)  # (B, M, 2, h, d)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, h, M, d)
        return q, k, v

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        key_mask: Tensor | None = None,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``(B, N, D)`` queries attend to ``(B, M, D)`` context -> ``(B, N, D)`` (and weights)."""
        q, k, v = self.project(x, context)
        kernel = linear_attention if self.kind == "linear" else softmax_attention
        result = kernel(q, k, v, key_mask=key_mask, return_weights=return_weights)
        out, weights = result if return_weights else (result, None)
        out = out.transpose(1, 2).flatten(2)  # (B, N, D)
        out = self.proj_drop(self.proj(out))
        return (out, weights) if return_weights else out


class Mlp(nn.Module):
    """The transformer's feed-forward part: ``Linear -> GELU -> Linear``, ``(B, N, D) -> (B, N, D)``."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class TransformerBlock(nn.Module):
    """A pre-norm transformer block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))``; ``(B, N, D)``."""

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        kind: AttentionKind = "softmax",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads, kind=kind, proj_drop=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """``(B, N, D) -> (B, N, D)``; ``key_mask`` ``(B, N)`` hides padded tokens from attention."""
        x = x + self.attn(self.norm1(x), key_mask=key_mask)
        return x + self.mlp(self.norm2(x))
