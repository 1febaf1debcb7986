"""Chapter 9's measurements: the matrix-multiply peak, live tensor bytes, slopes and crossovers.

Utilisation = (FLOPs per step x steps per second) / (FLOP/s of a large ``torch.mm`` on the same
device, measured in the same run). Measuring the peak instead of quoting a datasheet keeps the
ratio honest on any machine: it says how close the model gets to what this hardware does on the
most favourable workload.
"""

from __future__ import annotations

import statistics
import weakref
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from rvit.measure import time_call

__all__ = ["TensorMemory", "crossover", "loglog_slope", "matmul_peak_flops"]


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


# ---------------------------------------------------------------------------------------------
# Live tensor bytes, and the two summaries chapter 9 draws from the benchmarks: the scaling
# exponent of a cost (slope on log-log axes) and the size where one cost drops below another (the
# crossover). Time, peak memory and FLOP counts are rvit.measure's.
# ---------------------------------------------------------------------------------------------


class TensorMemory(TorchDispatchMode):
    """Peak bytes of tensor storage alive at once among the tensors created inside the block.

    ``with TensorMemory() as mem: fn()`` then ``mem.peak`` (bytes) and ``mem.current`` (bytes still
    alive at exit). Every operator call in the block is seen (a :class:`TorchDispatchMode`, so the
    backward pass counts too); each new storage it returns adds its size until the storage is freed.
    Views and in-place results share a storage of an input and add nothing; tensors that existed
    before the block (parameters, the input video) are not counted. This is the CPU counterpart of
    ``torch.cuda.max_memory_allocated``: what the model's tensors need, without the process's
    allocator slack, page granularity and libraries that a resident-set figure includes (and
    without scratch space that kernels allocate for themselves). It works on any device; Python-side
    bookkeeping per operator makes the block slower, so time it separately.
    """

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._live: set[tuple[str, int]] = set()
        self._active = False

    def __enter__(self) -> TensorMemory:
        self.current = self.peak = 0
        self._live.clear()
        self._active = True
        super().__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)
        self._active = False

    def _release(self, key: tuple[str, int], nbytes: int) -> None:
        if self._active and key in self._live:
            self._live.discard(key)
            self.current -= nbytes

    @staticmethod
    def _storages(tensors: Any) -> list[tuple[tuple[str, int], Any]]:
        found = []
        for t in tree_flatten(tensors)[0]:
            if isinstance(t, torch.Tensor) and t.device.type != "meta" and not t.is_sparse:
                storage = t.untyped_storage()
                if storage.nbytes() > 0:
                    found.append(((str(storage.device), storage.data_ptr()), storage))
        return found

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        inputs = {key for key, _ in self._storages((args, kwargs))}
        for key, storage in self._storages(out):
            if key in inputs or key in self._live:
                continue  # a view or an in-place result, or a storage already counted
            nbytes = storage.nbytes()
            self._live.add(key)
            self.current += nbytes
            self.peak = max(self.peak, self.current)
            weakref.finalize(storage, self._release, key, nbytes)
        return out


def _check_positive(x: list[float], **ys: list[float]) -> None:
    """Every series has one value per ``x`` and all values are positive (they are logged)."""
    for name, values in (("x", x), *ys.items()):
        if len(values) != len(x):
            raise ValueError(f"{name} has {len(values)} values, expected {len(x)} (one per x)")
        if any(not v > 0 for v in values):
            raise ValueError(f"{name} must be positive for a log-log fit, got {list(values)}")


def loglog_slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the exponent ``p`` in ``y ~ x^p``.

    ``p = 1`` is linear growth, ``p = 2`` quadratic, ``p = 0`` flat. Needs two or more points.
    """
    if len(x) < 2:
        raise ValueError(f"loglog_slope needs at least 2 points, got {len(x)}")
    import math

    _check_positive(list(x), y=list(y))
    lx = [math.log(v) for v in x]
    ly = [math.log(v) for v in y]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        raise ValueError("loglog_slope needs at least two distinct x values")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx


def crossover(x: list[float], a: list[float], b: list[float]) -> float | None:
    """The ``x`` from which cost ``a`` stays below cost ``b``, interpolated between measured points.

    ``x`` ascending. Scans for the last measured point where ``a >= b``; the crossover lies between
    it and the next point, where ``log(a / b)`` is interpolated linearly in ``log x`` to zero.
    Returns ``x[0]`` when ``a < b`` at every point (the crossover is at or below the measured range)
    and ``None`` when ``a >= b`` at the last point (no crossover within the range).
    """
    import itertools
    import math

    if len(x) < 1:
        raise ValueError("crossover needs at least one point")
    _check_positive(list(x), a=list(a), b=list(b))
    if any(x1 <= x0 for x0, x1 in itertools.pairwise(x)):
        raise ValueError(f"x must be strictly ascending, got {list(x)}")
    ratio = [math.log(p / q) for p, q in zip(a, b, strict=True)]
    if ratio[-1] >= 0:
        return None
    last = max((i for i, r in enumerate(ratio) if r >= 0), default=None)
    if last is None:
        return float(x[0])
    lx0, lx1 = math.log(x[last]), math.log(x[last + 1])
    r0, r1 = ratio[last], ratio[last + 1]
    return math.exp(lx0 + (lx1 - lx0) * r0 / (r0 - r1))
