"""RViT's classifier heads: how the last layer's tokens and memory become features (chapter 5).

After its last frame-step RViT holds two things per video: the last layer's output tokens ``x``
``(B, N, D)`` and that layer's new hidden state, its memory, ``h`` ``(B, N, D)``. A head turns them
into features ``(B, F)``; RViT then applies LayerNorm -> dropout -> Linear to reach the logits. Two
heads (one row of the proposal's table):

* ``"concat"`` (paper, :class:`ConcatHead`): ``[mean_n LN(x_n) || mean_n h_n]``, a spatial token from
  the current frame and a temporal token from the memory (``F = 2D``).
* ``"gap"`` (variant, :class:`GapHead`): ``mean_n h_n``, the memory alone (``F = D``).
* ``"tokens"`` (the released code's, :class:`TokensHead`): the last layer's class token beside the
  sequence token of every layer's memory, ``[x_cls || h^1_seq || ... || h^L_seq]``
  (``F = (L + 1) D``); it needs ``tokens="class"``.

``"concat"`` was this book's reading of the paper's "concatenates spatial and temporal tokens"
before the authors' code was known; ``"tokens"`` is what that code does.

A head is one subclass of :class:`Head` and one entry of :data:`HEADS`; the config's allowed values
of ``head`` are read from that table.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

__all__ = ["HEADS", "ConcatHead", "GapHead", "Head", "TokensHead"]


class Head:
    """What RViT's head reads from its last layer, and the layers it needs to read it.

    ``Head(cfg)`` is built from the model's config (an :class:`~rvit.config.RViTConfig`). It offers:

    * ``num_features``: ``F``, the width of its features;
    * ``reads_tokens``: whether it reads the last layer's output tokens (when False, the last layer
      stops after its gate and ``features`` is given ``tokens=None``);
    * ``layers()``: the layers with weights it adds to the model, by attribute name; RViT registers
      them on itself under those names, so they are the checkpoint's keys;
    * ``features(tokens, memories)``: the last layer's tokens ``(B, N, D)`` or None and every
      layer's memory (a list of ``(B, N, D)``, first layer first) -> ``(B, F)``.
    """

    reads_tokens: ClassVar[bool] = True

    def __init__(self, cfg: Any) -> None:
        self.num_features = cfg.dim

    def layers(self) -> dict[str, nn.Module]:
        """The layers the head adds to the model, by the attribute name they take there."""
        return {}

    def features(self, tokens: Tensor | None, memories: list[Tensor]) -> Tensor:
        raise NotImplementedError


class ConcatHead(Head):
    """The paper's head: ``[mean_n LN(x_n) || mean_n h_n]`` ``(B, 2D)``."""

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.norm = nn.LayerNorm(cfg.dim)  # LN of the final tokens, for the spatial token
        self.num_features = 2 * cfg.dim

    def layers(self) -> dict[str, nn.Module]:
        return {"norm": self.norm}

    def features(self, tokens: Tensor | None, memories: list[Tensor]) -> Tensor:
        temporal = memories[-1].mean(dim=1)  # (B, D)
        spatial = self.norm(tokens).mean(dim=1)  # (B, D)
        return torch.cat([spatial, temporal], dim=-1)  # (B, 2D)


class GapHead(Head):
    """The variant's head: ``mean_n h_n`` of the last layer's memory ``(B, D)``."""

    reads_tokens = False

    def features(self, tokens: Tensor | None, memories: list[Tensor]) -> Tensor:
        return memories[-1].mean(dim=1)  # (B, D)


class TokensHead(Head):
    """The released head: the last class token and each layer's sequence token ``(B, (L + 1) D)``.

    Token 0 of the frame's tokens is its class token and token 0 of each memory is that layer's
    sequence token (``tokens="class"``).
    """

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.num_features = (cfg.depth + 1) * cfg.dim

    def features(self, tokens: Tensor | None, memories: list[Tensor]) -> Tensor:
        return torch.cat([tokens[:, 0], *(h[:, 0] for h in memories)], dim=-1)


HEADS: dict[str, type[Head]] = {"concat": ConcatHead, "gap": GapHead, "tokens": TokensHead}
"""RViT's heads, by the name ``RViTConfig.head`` takes."""
