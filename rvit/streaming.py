"""What RViT and its baselines FrameViT and ClipViT share: the streaming interface (chapter 5).

Every video classifier of the package reads a video one frame at a time and also takes it whole::

    state = model.init_state(batch_size, num_frames=None)
    for frame in frames:                       # frame (B, C, H, W)
        logits, state = model.step(frame, state)

    logits = model(video, lengths=None)        # the same numbers on (B, T, C, H, W)

:class:`StreamingClassifier` holds that interface: input checks, the ``forward``/``step`` wrappers
around the subclass's ``forward_features``/``step_features``/``forward_head``, and the state's common
fields (:class:`StreamState`). Beside it the helpers the three models build from: the ViT
initialisation (:func:`init_weights`), the config's position table (:func:`make_pos_embed`), the check
of per-sample lengths (:func:`check_lengths`) and the freezing of ended samples (:func:`freeze_ended`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rvit.attention import _batched
from rvit.config import RViTConfig
from rvit.patch import InterpolatedPosEmbed, PosEmbed, SharedPosEmbed, patch_grid

__all__ = [
    "StreamState",
    "StreamingClassifier",
    "check_finite",
    "check_lengths",
    "freeze_ended",
    "init_weights",
    "make_pos_embed",
]


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


def check_finite(x: Tensor, what: str) -> None:
    """Raise when ``x`` holds a NaN or an infinity (``what`` names it in the message).

    The sum of ``x`` is finite whenever every element is (a NaN or an infinity makes it NaN or
    infinite), so one reduction settles the common case; only a sum that is not finite (a bad
    element, or finite values so large that their sum overflows) asks ``isfinite`` element by
    element. On a training batch this costs one pass instead of ``isfinite``'s several.
    """
    if x.is_floating_point() and torch.isfinite(x.sum()):
        return
    if not torch.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf values")


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
        # Under torch.compile this data-dependent check would split the graph; rvit.compile's
        # step runs it eagerly (check_finite) before the compiled call instead. Under
        # torch.func.vmap (several models as one, rvit.multiseed) it cannot run at all: the grouped
        # trainer checks its whole batch before the call.
        if x.device.type != "meta" and not torch.compiler.is_compiling() and not _batched(x):
            check_finite(x, what)
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
