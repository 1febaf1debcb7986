"""rvit.perf: live tensor bytes, the log-log slope and the crossover of two measured costs."""

from __future__ import annotations

import math

import pytest
import torch

from rvit.perf import TensorMemory, crossover, loglog_slope

# --- live tensor bytes --------------------------------------------------------------------------


def test_tensor_memory_counts_exact_bytes_and_frees():
    with TensorMemory() as mem:
        a = torch.ones(1000)  # 4,000 bytes
        b = torch.zeros(500, dtype=torch.float64)  # 4,000 bytes
        del a
        c = b + 1  # a new 4,000-byte storage while b is alive
    assert mem.peak == 8000
    assert mem.current == 8000  # b and c are still alive at exit
    assert c.sum() == 500


def test_tensor_memory_ignores_views_in_place_results_and_older_tensors():
    x = torch.ones(10_000)
    with TensorMemory() as mem:
        x.mul_(2)
        v = x.view(100, 100).t()
        y = x[::2]
    assert mem.peak == 0
    assert v.shape == (100, 100) and y.shape == (5000,)


def test_tensor_memory_counts_the_backward_pass():
    w = torch.randn(256, 256, requires_grad=True)
    x = torch.randn(64, 256)
    with TensorMemory() as inference, torch.no_grad():
        (x @ w).tanh().sum()
    with TensorMemory() as training:
        (x @ w).tanh().sum().backward()
    assert training.peak > inference.peak >= 64 * 256 * 4
    assert w.grad is not None


def test_tensor_memory_is_flat_for_rvit_streaming_and_grows_for_clipvit():
    from rvit.baselines import ClipViT
    from rvit.config import RViTConfig
    from rvit.model import RViT

    config = RViTConfig.paper(num_classes=3, image_size=16, size="tiny", patch_size=8)
    rvit, clipvit = RViT(config).eval(), ClipViT(config).eval()
    stream, clip = [], []
    for frames in (2, 8):
        video = torch.rand(1, frames, 3, 16, 16)
        with torch.no_grad():
            with TensorMemory() as mem:
                state = rvit.init_state(1)
                for t in range(frames):
                    _, state = rvit.step(video[:, t], state)
                del state
            stream.append(mem.peak)
            with TensorMemory() as mem:
                clipvit(video)
            clip.append(mem.peak)
    assert stream[0] == stream[1] > 0  # the state has a fixed size: memory does not grow with T
    assert clip[1] > 2 * clip[0]


# --- scaling exponents --------------------------------------------------------------------------


@pytest.mark.parametrize("power", [0.0, 1.0, 2.0, -0.5])
def test_loglog_slope_recovers_the_exponent_of_a_power_law(power):
    x = [8, 16, 32, 64, 128]
    y = [3.0 * v**power for v in x]
    assert loglog_slope(x, y) == pytest.approx(power, abs=1e-12)


def test_loglog_slope_is_unchanged_by_units():
    x = [1, 2, 4, 8]
    y = [1.0, 3.0, 8.0, 20.0]
    assert loglog_slope(x, y) == pytest.approx(loglog_slope(x, [1e6 * v for v in y]))


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([1], [1.0], "at least 2 points"),
        ([1, 2], [1.0], "y has 1 values"),
        ([1, 2], [1.0, 0.0], "y must be positive"),
        ([2, 2], [1.0, 3.0], "distinct x"),
    ],
)
def test_loglog_slope_rejects_bad_input(x, y, message):
    with pytest.raises(ValueError, match=message):
        loglog_slope(x, y)


# --- crossover ----------------------------------------------------------------------------------


def test_crossover_of_power_laws_is_exact():
    # a = 100 n (linear), b = n^2 (quadratic): b overtakes a at n = 100, between 64 and 128.
    x = [16, 32, 64, 128, 256]
    a = [100.0 * n for n in x]
    b = [float(n) ** 2 for n in x]
    assert crossover(x, a, b) == pytest.approx(100.0)


def test_crossover_is_symmetric_in_scale():
    x = [16, 32, 64, 128, 256]
    a = [100.0 * n for n in x]
    b = [float(n) ** 2 for n in x]
    assert crossover(x, [7 * v for v in a], [7 * v for v in b]) == pytest.approx(100.0)


def test_crossover_uses_the_last_sign_change():
    # a dips below b at 2, rises above it at 4 and stays below from 8 on: the answer lies in (4, 8).
    x = [1, 2, 4, 8, 16]
    a = [2.0, 0.5, 2.0, 0.5, 0.5]
    b = [1.0] * 5
    assert 4 < crossover(x, a, b) < 8
    assert crossover(x, a, b) == pytest.approx(math.sqrt(32))  # log-midpoint of 4 and 8


def test_crossover_below_and_beyond_the_range():
    x = [1, 2, 4]
    assert crossover(x, [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]) == 1.0  # always cheaper
    assert crossover(x, [3.0, 1.0, 3.0], [2.0, 2.0, 2.0]) is None  # not cheaper at the end


@pytest.mark.parametrize(
    ("x", "a", "b", "message"),
    [
        ([], [], [], "at least one point"),
        ([1, 2], [1.0, 2.0], [1.0], "b has 1 values"),
        ([2, 1], [1.0, 2.0], [2.0, 1.0], "ascending"),
        ([1, 2], [-1.0, 2.0], [2.0, 1.0], "a must be positive"),
    ],
)
def test_crossover_rejects_bad_input(x, a, b, message):
    with pytest.raises(ValueError, match=message):
        crossover(x, a, b)
