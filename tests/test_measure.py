"""rvit.measure: the peak-memory probe (bytes), the auto-ranging timer, the stopwatch."""

from __future__ import annotations

import pytest
import torch

from rvit.measure import PeakMemory, Stopwatch, autorange, memory_method, time_call

MIB = 2**20

# --- which method measures memory on which device -------------------------------------------------


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1", torch.device("cuda", 0)])
def test_cuda_devices_select_the_cuda_allocator_statistics(device):
    # Selecting the method must not touch CUDA: this runs on machines without a GPU.
    assert memory_method(device) == "cuda_max_memory_allocated"


def test_cpu_selects_a_resident_set_method():
    assert memory_method("cpu") in {"rss_peak_reset", "ru_maxrss"}
    assert PeakMemory("cpu").method == memory_method(torch.device("cpu"))


@pytest.mark.parametrize("device", ["meta", "mps"])
def test_other_devices_are_refused_by_name(device):
    with pytest.raises(ValueError, match=device):
        memory_method(device)


# --- the CPU probe ------------------------------------------------------------------------------

needs_reset = pytest.mark.skipif(
    memory_method("cpu") != "rss_peak_reset", reason="needs a resettable resident-set peak (Linux)"
)


@needs_reset
def test_peak_counts_a_tensor_freed_inside_the_block():
    with PeakMemory("cpu") as mem:
        x = torch.ones(64 * MIB // 4)  # 64 MiB, every page written
        del x
    assert mem.growth >= 60 * MIB


@needs_reset
def test_peak_is_reset_between_blocks():
    big = torch.ones(64 * MIB // 4)
    del big
    with PeakMemory("cpu") as mem:
        small = torch.ones(16)
    assert small.sum() == 16
    assert mem.growth < 16 * MIB  # the earlier 64 MiB peak does not leak into this block


@needs_reset
def test_growth_follows_the_allocation_size():
    growth = []
    for mib in (16, 64):
        with PeakMemory("cpu") as mem:
            x = torch.ones(mib * MIB // 4)
            del x
        growth.append(mem.growth)
    assert growth[1] - growth[0] >= 40 * MIB


def test_growth_before_the_block_ends_is_an_error():
    mem = PeakMemory("cpu")
    with pytest.raises(ValueError, match="after the with-block"):
        _ = mem.growth


def test_a_device_without_a_measurement_is_refused_unless_not_strict():
    with pytest.raises(ValueError, match="meta"):
        PeakMemory("meta")
    with PeakMemory("meta", strict=False) as mem:
        pass
    assert not mem.available and mem.growth is None and "not available" in mem.method


def test_python_allocations_are_traced_on_request():
    with PeakMemory("cpu", trace_python=True) as mem:
        block = [0] * 1_000_000  # about 8 MB of Python list
    assert len(block) == 1_000_000
    assert mem.python_peak is not None and mem.python_peak >= 7_000_000
    with PeakMemory("cpu") as plain:
        pass
    assert plain.python_peak is None


# --- time ---------------------------------------------------------------------------------------


class FakeClock:
    """A clock that only the timed call moves: ``tick()`` advances it by ``step`` seconds.

    The timers read it instead of ``time.perf_counter``, so what these tests check (how many calls
    a repeat holds, what the seconds add up to) is exact, however loaded the machine is. Steps are
    powers of two, so that sums of them are exact in floating point.
    """

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0
        self.ticks = 0

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step
        self.ticks += 1


def test_autorange_repeats_a_fast_call_until_a_repeat_lasts_long_enough():
    clock = FakeClock(2**-10)  # each call lasts about 1 ms
    timing = autorange(clock.tick, repeats=3, min_seconds=0.005, clock=clock)
    # Calibration tries 1, 2, 4 calls (too short), then 8 calls: 8/1024 s >= 0.005 s.
    assert timing.number == 8 and len(timing.seconds) == 3
    assert timing.calls == 3 * timing.number
    assert timing.seconds == [2**-10] * 3  # seconds per call, not per repeat
    assert timing.number * timing.min >= 0.005  # a repeat lasts min_seconds or more
    assert clock.ticks == 1 + (1 + 2 + 4 + 8) + timing.calls  # warm-up and calibration on top
    assert timing.min == timing.median == timing.mean and timing.stdev == 0


def test_autorange_stops_doubling_at_max_number():
    clock = FakeClock(2**-20)
    timing = autorange(clock.tick, repeats=2, min_seconds=1.0, max_number=16, clock=clock)
    assert timing.number == 16 and timing.seconds == [2**-20] * 2


def test_autorange_times_a_slow_call_once_per_repeat():
    clock = FakeClock(2**-6)  # each call lasts about 16 ms
    timing = autorange(clock.tick, repeats=2, min_seconds=0.005, warmup=0, clock=clock)
    assert timing.number == 1 and timing.seconds == [2**-6, 2**-6]
    assert clock.ticks == 1 + 2  # one calibration call, then one call per repeat


def test_autorange_reads_the_real_clock_by_default():
    calls = []
    timing = autorange(lambda: calls.append(1), repeats=2, min_seconds=0.0, warmup=0)
    assert timing.number == 1 and len(timing.seconds) == 2
    assert all(s >= 0 for s in timing.seconds) and len(calls) == 3


def test_time_call_times_single_calls_after_the_warm_up():
    clock = FakeClock(2**-8)
    seconds = time_call(clock.tick, repeats=4, warmup=2, clock=clock)
    assert seconds == [2**-8] * 4 and clock.ticks == 6
    with pytest.raises(ValueError, match="repeats"):
        time_call(lambda: None, repeats=0)


def test_stopwatch_sums_its_blocks():
    clock = FakeClock(2**-9)
    watch = Stopwatch(clock=clock)
    for blocks in (1, 2, 3):
        with watch:
            for _ in range(blocks):
                clock.tick()
    assert watch.count == 3 and watch.seconds == 6 * 2**-9
    assert watch.mean == pytest.approx(2 * 2**-9)
    assert Stopwatch().mean != Stopwatch().mean  # nan before the first block
