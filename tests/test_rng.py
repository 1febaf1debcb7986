"""Per-sample randomness: a pure function of the sample's seed, isolated from the caller, cheap."""

import random

import numpy as np
import pytest
import torch

from rvit.utils import call_with_rng_isolated


def _draw():
    return torch.rand(3), random.random(), np.random.rand()  # noqa: NPY002


def test_isolated_call_draws_what_a_manual_seed_gives():
    got = call_with_rng_isolated(_draw, 1234)
    torch.manual_seed(1234)
    random.seed(1234)
    np.random.seed(1234)  # noqa: NPY002
    want = _draw()
    assert torch.equal(got[0], want[0]) and got[1:] == want[1:]


def test_isolated_call_leaves_the_callers_generators_as_they_were():
    torch.manual_seed(7)
    random.seed(7)
    np.random.seed(7)  # noqa: NPY002
    expected = _draw()
    torch.manual_seed(7)
    random.seed(7)
    np.random.seed(7)  # noqa: NPY002
    call_with_rng_isolated(_draw, 99)
    after = _draw()
    assert torch.equal(after[0], expected[0]) and after[1:] == expected[1:]


def test_isolated_call_does_not_seed_cuda(monkeypatch):
    # torch.manual_seed also queues a lazy seed for every CUDA device, formatting a stack trace
    def refuse(seed):
        raise AssertionError("torch.manual_seed was called")

    monkeypatch.setattr(torch, "manual_seed", refuse)
    monkeypatch.setattr(torch.random, "manual_seed", refuse)
    assert call_with_rng_isolated(lambda: torch.rand(1), 3).shape == (1,)


def test_isolated_call_restores_the_state_when_fn_raises():
    torch.manual_seed(5)
    before = torch.get_rng_state()

    def fail():
        torch.rand(10)
        raise ValueError("boom")

    try:
        call_with_rng_isolated(fail, 1)
    except ValueError:
        pass
    assert torch.equal(torch.get_rng_state(), before)


def test_items_that_draw_no_random_numbers_are_read_without_seeding(monkeypatch):
    from rvit.data import SyntheticActions
    from rvit.data.clips import as_training_set
    from rvit.data.loader import make_loader

    data = SyntheticActions("train", "image", num_samples=8, frames=2, image_size=16)
    assert not data.random_items
    assert not as_training_set(data, "image", None, None).random_items
    assert not as_training_set(data, "static_clip", 2, None).random_items
    assert as_training_set(data, "pseudo_video", 2, None).random_items  # the camera move
    augmented = SyntheticActions(
        "train", "image", num_samples=8, frames=2, image_size=16, transform=lambda x: x
    )
    assert augmented.random_items

    def batches(dataset):
        loader, sampler, _ = make_loader(dataset, 4, shuffle=True, seed=3, variable_length=False)
        sampler.set_epoch(1)
        return [b[0] for b in loader]

    clips = as_training_set(data, "image", None, None)
    direct = batches(clips)
    monkeypatch.setattr(type(clips), "random_items", property(lambda self: True))
    seeded = batches(clips)
    assert all(torch.equal(a, b) for a, b in zip(direct, seeded, strict=True))


def test_a_batch_read_at_once_equals_its_items_read_one_by_one():
    from rvit.data import SyntheticActions
    from rvit.data.clips import as_training_set, stack_clips
    from rvit.data.loader import make_loader

    stills = SyntheticActions("train", "image", num_samples=20, frames=4, image_size=16)
    fixed = SyntheticActions("train", "video", num_samples=20, frames=4, image_size=16)
    varied = SyntheticActions("train", "video", num_samples=20, frames=(2, 6), image_size=16)
    index = [7, 0, 19, 3, 7]
    for data, modality, frames in [
        (stills, "image", None),
        (fixed, "video", None),
        (fixed, "video", 3),
        (varied, "video", 5),
        (stills, "static_clip", 3),  # a view without a batch read of its own: item by item
    ]:
        view = as_training_set(data, modality, frames)
        videos, labels = view.stack_items(index)
        one_by_one, _, expected = stack_clips([view[i] for i in index])
        assert torch.equal(videos, one_by_one) and torch.equal(labels, expected)
    uncached = SyntheticActions(
        "train", "video", num_samples=20, frames=4, image_size=16, cache=False
    )
    assert torch.equal(uncached.stack_items(index)[0], fixed.stack_items(index)[0])
    with pytest.raises(ValueError, match="different lengths"):
        varied.stack_items(range(20))  # clips of 2 to 6 frames, no length to resample them to
    loader, _, _ = make_loader(varied, 20, shuffle=False, seed=0, variable_length=False)
    with pytest.raises(ValueError, match="train with variable_length=True, or set frames=T"):
        next(iter(loader))  # the batch read at once says what the item-by-item one says
    with pytest.raises(IndexError, match="out of range"):
        stills.stack_items([20])


def test_the_loader_reads_whole_batches_to_the_same_batches(monkeypatch):
    from rvit.data import SyntheticActions
    from rvit.data.clips import FixedLengthClips, as_training_set
    from rvit.data.loader import make_loader

    data = SyntheticActions("train", "video", num_samples=22, frames=(3, 7), image_size=16)
    clips = as_training_set(data, "video", 4)

    def batches():
        loader, sampler, _ = make_loader(clips, 8, shuffle=True, seed=5, variable_length=False)
        sampler.set_epoch(2)
        sampler.start = 3  # a resumed epoch skips its first samples, read either way
        return list(loader)

    stacked = batches()
    reads = []
    monkeypatch.setattr(FixedLengthClips, "__getitem__", lambda self, i: reads.append(i))
    batches()  # the whole-batch path never reads an item alone
    assert reads == []
    monkeypatch.undo()
    monkeypatch.setattr(FixedLengthClips, "random_items", property(lambda self: True))
    one_by_one = batches()  # what items that draw random numbers get: one seeded read each
    assert [len(b[2]) for b in stacked] == [8, 8, 3]
    for (a, la, ya), (b, lb, yb) in zip(stacked, one_by_one, strict=True):
        assert torch.equal(a, b) and la is None and lb is None and torch.equal(ya, yb)
