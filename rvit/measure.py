"""Measuring a call: its time (:func:`autorange`, :func:`time_call`, :class:`Stopwatch`), its peak
memory (:class:`PeakMemory`, in bytes) and its arithmetic (:func:`count_flops`).

Every chapter and benchmark that times or weighs something uses these, so that a number in one
place means the same as in another: seconds per call, bytes of growth over the memory in use at
entry. Queued CUDA work is waited for before a clock is read.

The timers read ``time.perf_counter`` unless given another ``clock`` (any function returning
seconds): a test hands them a clock that the timed call itself advances, so that what it checks
(how many calls a repeat holds, how the seconds are summed) does not hang on the load of the
machine it runs on.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "PeakMemory",
    "Stopwatch",
    "Timing",
    "autorange",
    "count_flops",
    "memory_method",
    "process_peak_bytes",
    "synchronize",
    "time_call",
]


def synchronize(device: str | torch.device) -> None:
    """Wait for queued CUDA work on ``device`` (no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------------------------
# time


@dataclass(frozen=True)
class Timing:
    """What :func:`autorange` measured: ``seconds[i]`` is the mean time of one call in repeat
    ``i``, each repeat ``number`` calls long."""

    seconds: list[float]
    number: int

    @property
    def median(self) -> float:
        """Median seconds per call over the repeats (the figure to report)."""
        return statistics.median(self.seconds)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.seconds)

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def stdev(self) -> float:
        """Spread of the repeats (0 for a single repeat)."""
        return statistics.stdev(self.seconds) if len(self.seconds) > 1 else 0.0

    @property
    def calls(self) -> int:
        """Calls timed in all (calibration and warm-up not counted)."""
        return self.number * len(self.seconds)


def autorange(
    fn: Callable[[], Any],
    repeats: int = 5,
    min_seconds: float = 0.2,
    warmup: int = 1,
    device: str | torch.device = "cpu",
    max_number: int = 2**16,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Seconds per call of ``fn()``, timed like ``timeit.Timer.autorange``.

    After ``warmup`` untimed calls, the number of calls per repeat doubles (1, 2, 4, ...) until one
    repeat lasts at least ``min_seconds`` (or reaches ``max_number`` calls); then ``repeats``
    repeats of that many calls are timed. A fast call is thus averaged over many calls, so the
    clock's resolution and the cost of reading it do not count, and a slow one is timed once per
    repeat. ``clock`` returns seconds (``time.perf_counter`` by default).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if min_seconds < 0:
        raise ValueError(f"min_seconds must be >= 0, got {min_seconds}")

    for _ in range(warmup):
        fn()
    synchronize(device)
    number = 1
    while _run(fn, number, device, clock) < min_seconds and number < max_number:
        number *= 2
    return Timing([_run(fn, number, device, clock) / number for _ in range(repeats)], number)


def _run(
    fn: Callable[[], Any],
    number: int,
    device: str | torch.device,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Seconds of ``number`` calls of ``fn()`` in a row, their device work included."""
    start = clock()
    for _ in range(number):
        fn()
    synchronize(device)
    return clock() - start


def time_call(
    fn: Callable[[], Any],
    repeats: int = 5,
    warmup: int = 1,
    device: str | torch.device = "cpu",
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Wall-clock seconds of ``repeats`` single calls of ``fn()`` after ``warmup`` untimed calls
    (for calls long enough to time one at a time; :func:`autorange` otherwise), read on ``clock``."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    synchronize(device)
    return [_run(fn, 1, device, clock) for _ in range(repeats)]


class Stopwatch:
    """Total wall time of the blocks run inside ``with watch:``, and how many there were.

    For calls that cannot be repeated (each step of a video stream): ``watch.seconds`` sums the
    blocks, ``watch.count`` counts them. Queued work on ``device`` is waited for at both ends of a
    block, so a block's time is the work done in it. ``clock`` returns seconds
    (``time.perf_counter`` by default).
    """

    def __init__(
        self,
        device: str | torch.device = "cpu",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.device = torch.device(device)
        self.clock = clock
        self.seconds = 0.0
        self.count = 0
        self._start: float | None = None

    def __enter__(self) -> Stopwatch:
        synchronize(self.device)
        self._start = self.clock()
        return self

    def __exit__(self, *exc_info: object) -> None:
        synchronize(self.device)
        self.seconds += self.clock() - self._start
        self.count += 1

    @property
    def mean(self) -> float:
        """Mean seconds per block (``nan`` before the first one)."""
        return self.seconds / self.count if self.count else float("nan")


# ----------------------------------------------------------------------------------------------
# arithmetic


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Total FLOPs of ``fn(*args, **kwargs)`` counted by ``torch.utils.flop_counter``.

    Only operations the counter knows (matrix products, convolutions, attention) are counted,
    which is where nearly all of a transformer's arithmetic is. Wrap forward *and* backward in
    ``fn`` to count a training step.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


# ----------------------------------------------------------------------------------------------
# memory

_CLEAR_REFS = "/proc/self/clear_refs"


def _proc_status_bytes(key: str) -> int:
    """A memory figure of this process from ``/proc/self/status`` (``VmRSS``, ``VmHWM``), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    raise ValueError(f"/proc/self/status has no field {key!r}")


def _ru_maxrss_bytes() -> int:
    """The process's resident-set high-water mark from ``getrusage`` (kB on Linux, bytes on macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _release_free_heap() -> None:
    """Return freed heap pages to the operating system (glibc ``malloc_trim``), if available."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


_peak_before_resets = 0  # the highest VmHWM that a PeakMemory reset has cleared in this process


def process_peak_bytes() -> int:
    """The process's resident-set high-water mark since it started, in bytes.

    :class:`PeakMemory` resets the kernel's mark (``VmHWM``) to measure one block; it keeps the mark
    it cleared, so this is still the peak since the start of the command (on Linux the highest of
    those and the current mark; elsewhere ``getrusage``'s mark, which is never reset)."""
    if os.path.exists("/proc/self/status"):
        return max(_peak_before_resets, _proc_status_bytes("VmHWM"))
    return _ru_maxrss_bytes()


def memory_method(device: str | torch.device) -> str:
    """How :class:`PeakMemory` measures on ``device``, without touching the device.

    - ``"cuda_max_memory_allocated"`` (CUDA): ``torch.cuda.reset_peak_memory_stats`` at entry, then
      ``max_memory_allocated`` minus the memory allocated at entry. Exact for tensors torch allocates.
    - ``"rss_peak_reset"`` (CPU on Linux): freed heap pages are returned to the system, the resident
      set's high-water mark is reset to the current resident set (``/proc/self/clear_refs``), and
      the growth is the high-water mark at exit minus the resident set at entry. Counts every
      allocation of the process (torch's allocator is invisible to ``tracemalloc``), so measure in
      a fresh, otherwise idle process.
    - ``"ru_maxrss"`` (CPU elsewhere): growth of ``getrusage``'s high-water mark, which cannot be
      reset: only meaningful for the first large call of a fresh process.

    Other devices raise ``ValueError``.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return "cuda_max_memory_allocated"
    if device.type != "cpu":
        raise ValueError(f"device {str(device)!r}: peak memory is measured on cpu or cuda only")
    if os.path.exists(_CLEAR_REFS) and os.access(_CLEAR_REFS, os.W_OK):
        return "rss_peak_reset"
    return "ru_maxrss"


class PeakMemory:
    """Peak memory growth, in bytes, of the code run inside ``with PeakMemory(device) as mem:``.

    ``mem.growth`` is the highest memory in use during the block minus the memory in use at entry
    (``mem.baseline``); ``mem.peak`` is that highest value, ``mem.method`` how it was read (see
    :func:`memory_method`). Tensors freed inside the block still count while they were alive.

    With ``trace_python`` on the CPU, ``tracemalloc`` also traces the block's Python allocations
    and ``mem.python_peak`` holds their peak (bytes; ``None`` otherwise, or when tracing was
    already on). With ``strict=False`` a device without a measurement is accepted: ``growth`` is
    then ``None`` and ``method`` says so.
    """

    def __init__(
        self,
        device: str | torch.device = "cpu",
        trace_python: bool = False,
        strict: bool = True,
    ) -> None:
        self.device = torch.device(device)
        try:
            self.method = memory_method(self.device)
        except ValueError:
            if strict:
                raise
            self.method = f"not available on {self.device.type}"
        self.trace_python = trace_python
        self.baseline: int | None = None
        self.peak: int | None = None
        self.python_peak: int | None = None
        self._tracing = False

    @property
    def available(self) -> bool:
        """Whether the device offers a measurement."""
        return not self.method.startswith("not available")

    def __enter__(self) -> PeakMemory:
        self.peak = self.python_peak = None
        self._tracing = (
            self.trace_python and self.device.type == "cpu" and not tracemalloc.is_tracing()
        )
        if self.method == "cuda_max_memory_allocated":
            torch.cuda.synchronize(self.device)
            self.baseline = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.method == "rss_peak_reset":
            global _peak_before_resets
            _peak_before_resets = max(_peak_before_resets, _proc_status_bytes("VmHWM"))
            _release_free_heap()
            self.baseline = _proc_status_bytes("VmRSS")
            with open(_CLEAR_REFS, "w") as clear_refs:
                clear_refs.write("5")  # 5: reset the peak resident set size to the current one
        elif self.method == "ru_maxrss":
            self.baseline = _ru_maxrss_bytes()
        if self._tracing:
            tracemalloc.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._tracing:
            self.python_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if self.method == "cuda_max_memory_allocated":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        elif self.method == "rss_peak_reset":
            self.peak = _proc_status_bytes("VmHWM")
        elif self.method == "ru_maxrss":
            self.peak = _ru_maxrss_bytes()

    @property
    def growth(self) -> int | None:
        """Peak bytes in use during the block beyond those in use at its entry (>= 0); ``None``
        on a device without a measurement."""
        if not self.available:
            return None
        if self.peak is None or self.baseline is None:
            raise ValueError("PeakMemory.growth is known only after the with-block has ended")
        return max(0, self.peak - self.baseline)
