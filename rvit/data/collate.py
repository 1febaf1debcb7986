"""Batching videos of different lengths: zero-pad to the longest, keep the true lengths."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["pad_videos"]


def pad_videos(
    batch: Sequence[tuple[torch.Tensor, int | torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Collate ``(video, label)`` pairs of different lengths into one zero-padded batch.

    A ``DataLoader`` ``collate_fn`` for variable-length videos. Each video is ``(T_i, C, H, W)``;
    an image ``(C, H, W)`` counts as a one-frame video. Frames past ``T_i`` are zeros, and
    ``lengths`` tells a recurrent model where each video really ends.

    Returns:
        ``videos`` ``(B, T_max, C, H, W)``, ``lengths`` LongTensor ``(B,)``, ``labels`` LongTensor
        ``(B,)``.
    """
    if len(batch) == 0:
        raise ValueError("pad_videos got an empty batch")
    videos = []
    for i, (video, _) in enumerate(batch):
        if video.ndim == 3:
            video = video.unsqueeze(0)  # (C, H, W) -> (1, C, H, W)
        if video.ndim != 4:
            raise ValueError(
                f"batch item {i} must be (T, C, H, W) or (C, H, W), got {tuple(video.shape)}"
            )
        videos.append(video)
    frame_shape = videos[0].shape[1:]
    for i, video in enumerate(videos):
        if video.shape[1:] != frame_shape:
            raise ValueError(
                f"batch item {i} has frames of shape {tuple(video.shape[1:])}, item 0 has "
                f"{tuple(frame_shape)}; resize videos to one size before batching"
            )
        if video.shape[0] == 0:
            raise ValueError(f"batch item {i} has no frames")
    lengths = torch.tensor([v.shape[0] for v in videos], dtype=torch.long)
    out = videos[0].new_zeros((len(videos), int(lengths.max()), *frame_shape))
    for i, video in enumerate(videos):
        out[i, : video.shape[0]] = video
    labels = torch.as_tensor([int(y) for _, y in batch], dtype=torch.long)
    return out, lengths, labels
