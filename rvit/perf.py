"""Speed helpers shared by the benchmarks: FLOP counts and the measured matrix-multiply peak.

Utilisation = (FLOPs per step x steps per second) / (FLOP/s of a large ``torch.mm`` on the same
device, measured in the same run). Measuring the peak instead of quoting a datasheet keeps the
ratio honest on any machine: it says how close the model gets to what this hardware does on the
most favourable workload.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "matmul_peak_flops", "synchronize", "time_call"]


def synchronize(device: str | torch.device) -> None:
    """Wait for queued CUDA work on ``device`` (no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], Any],
    repeats: int = 5,
    warmup: int = 1,
    device: str | torch.device = "cpu",
) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def matmul_peak_flops(
    device: str | torch.device = "cpu",
    n: int = 2048,
    repeats: int = 5,
    dtype: torch.dtype = torch.float32,
) -> dict[str, Any]:
    """Measure the matrix-multiply throughput of ``device``: an ``n x n`` by ``n x n`` ``torch.mm``.

    Returns ``{"flops": median FLOP/s, "seconds": [raw times], "n", "dtype", "device"}``;
    one product costs ``2 n^3`` FLOPs.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    device = torch.device(device)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    seconds = time_call(lambda: torch.mm(a, b, out=out), repeats=repeats, device=device)
    flops = 2.0 * n**3 / statistics.median(seconds)
    return {"flops": flops, "seconds": seconds, "n": n, "dtype": str(dtype), "device": str(device)}


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Total FLOPs of ``fn(*args, **kwargs)`` counted by ``torch.utils.flop_counter``.

    Only operations the counter knows (matrix products, convolutions, attention) are counted,
    which is where nearly all of a transformer's arithmetic is. Wrap forward *and* backward in
    ``fn`` to count a training step.
    """
    counter = FlopCounterMode(display=False)
    with counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())
