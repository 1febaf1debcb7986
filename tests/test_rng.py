"""Per-sample randomness: a pure function of the sample's seed, isolated from the caller, cheap."""

import random

import numpy as np
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
