"""The training loader: each process's shard of a data set, every sample seeded on its own.

:func:`make_loader` gives the ``DataLoader`` of :func:`rvit.train.fit`. Every sample's randomness
(augmentation, the camera move of a pseudo-video) is seeded from ``(seed, epoch, index)`` and drawn
with the caller's random state set aside (:func:`rvit.utils.call_with_rng_isolated`). A sample
therefore looks the same whichever process, worker or batch loads it, and ``sampler.start`` skips
the samples of an epoch already trained (to resume in the middle of one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from rvit.data.clips import stack_clips
from rvit.data.collate import pad_videos
from rvit.utils import call_with_rng_isolated, make_generator, worker_init_fn

__all__ = ["make_loader"]


class _SeededSampler(torch.utils.data.Sampler):
    """Yields ``(index, seed)``: the indices of ``sampler``, each with a seed for its randomness.

    The seed is a function of ``(seed, epoch, index)`` only. ``start`` skips the first samples of
    the current epoch (to resume in the middle of one).
    """

    def __init__(self, sampler: DistributedSampler, seed: int) -> None:
        self.sampler = sampler
        self.seed = seed
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for position, index in enumerate(self.sampler):
            if position >= self.start:
                entropy = (self.seed, self.epoch, int(index))
                yield int(index), int(np.random.SeedSequence(entropy).generate_state(1)[0])

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.start)


class _SeededItems(Dataset):
    """Loads ``dataset[index]`` with every random generator seeded from the sample's seed.

    A data set whose ``random_items`` is False (its items draw no random numbers, e.g. rendered or
    cached stills without augmentation) is read directly: seeding would change nothing but cost
    about 0.1 ms per sample, a large share of a small model's training step."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.random = bool(getattr(dataset, "random_items", True))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        if not self.random:
            return self.dataset[index]
        return call_with_rng_isolated(lambda: self.dataset[index], seed)


class _StackedItems(Dataset):
    """Loads a whole batch at once: ``dataset.stack_items`` of the batch's indices, for a data set
    whose items draw no random numbers (their seeds would change nothing). The batch equals
    :func:`~rvit.data.clips.stack_clips` of its items, read one gather instead of one call each."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, keys: list[tuple[int, int]]) -> tuple[torch.Tensor, None, torch.Tensor]:
        videos, labels = self.dataset.stack_items([index for index, _ in keys])
        return videos, None, labels


def _as_is(batch: Any) -> Any:
    return batch


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    variable_length: bool,
    num_workers: int = 0,
    pin_memory: bool = False,
    world_size: int = 1,
    rank: int = 0,
) -> tuple[DataLoader, _SeededSampler, torch.Generator]:
    """The training ``DataLoader``: per-process shard (``DistributedSampler``), seeded samples.

    Returns ``(loader, sampler, generator)``; call ``sampler.set_epoch(e)`` before each epoch.
    Batches are ``(videos (B, T, C, H, W), lengths (B,) or None, labels (B,))``. A data set of
    fixed-length clips that draws no random numbers and reads a batch at once (``stack_items``)
    is read a batch at a time, to the same batches.
    """
    base = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=False
    )
    sampler = _SeededSampler(base, seed)
    generator = make_generator(seed)
    stackable = hasattr(dataset, "stack_items") and not getattr(dataset, "random_items", True)
    if stackable and not variable_length:
        # one read per batch: the batch sampler hands the data set a batch's (index, seed) keys
        loader = DataLoader(
            _StackedItems(dataset),
            batch_size=None,
            sampler=torch.utils.data.BatchSampler(sampler, batch_size, drop_last=False),
            collate_fn=_as_is,
            num_workers=num_workers,
            pin_memory=pin_memory,
            generator=generator,
            worker_init_fn=worker_init_fn,
        )
        return loader, sampler, generator
    loader = DataLoader(
        _SeededItems(dataset),
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=pad_videos if variable_length else stack_clips,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=generator,
        worker_init_fn=worker_init_fn,
    )
    return loader, sampler, generator
