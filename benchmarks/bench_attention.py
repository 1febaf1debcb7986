"""Time and memory of the attention kernels and of one RViT layer against the number of tokens N.

For N = 16 ... 4,096 tokens (batch 1, the tiny size's 4 heads of width 16, inference):

* ``linear``: :func:`rvit.attention.linear_attention` (cost linear in N);
* ``softmax``: :func:`rvit.attention.softmax_attention` (PyTorch's fused scaled dot-product
  attention; time quadratic in N, memory not: the fused kernel never holds all N x N weights);
* ``softmax_naive``: the textbook ``softmax(q k^T / sqrt(d)) v`` with the N x N weights in memory,
  as a reference for what the fused kernel saves;
* ``hybrid_block``: one :class:`rvit.cell.RecurrentBlock` of the proposal's variant (softmax attention
  within the frame, linear attention in the gate), one frame of N tokens and its hidden state;
* ``linear_block``: the same layer as the paper has it (linear attention in both places).

The crossover is the N from which ``linear`` stays faster than ``softmax`` (and ``linear_block`` than
``hybrid_block``), interpolated on log-log axes between the two measured N around it
(:func:`rvit.perf.crossover`). Each point runs in a fresh process: memory as in ``_common.measure_call``;
time per call is the median of the repeats, each repeat averaging enough calls to last >= 20 ms.

Threads: one by default (``--threads`` changes it). Batch-1 streaming and single attention calls are
too small to gain from more threads, and on a shared machine extra threads spin-wait for cores that
other processes hold, which distorts timings by an order of magnitude; memory does not depend on it.

Usage: python benchmarks/bench_attention.py [--device cpu|cuda] [--tokens 16 32 ...] [--threads N]
Writes results/bench/attention.json.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from _common import (
    MIB,
    base_parser,
    check_args,
    hardware,
    median,
    memory_note,
    print_table,
    run_isolated,
    setup_worker,
    versions,
    write_json,
)

from rvit.measure import PeakMemory, autorange
from rvit.perf import crossover, loglog_slope
from rvit.utils import provenance

TOKENS = tuple(2**i for i in range(4, 13))  # 16 ... 4096
SIZE = "tiny"
BATCH = 1
MIN_REPEAT_SECONDS = 0.02

KINDS = {
    "linear": "rvit.attention.linear_attention, q, k, v (B, heads, N, head_dim)",
    "softmax": "rvit.attention.softmax_attention, q, k, v (B, heads, N, head_dim)",
    "softmax_naive": "softmax(q k^T / sqrt(d)) v with the (N, N) weights materialised (reference)",
    "hybrid_block": "rvit.cell.RecurrentBlock, softmax within the frame, linear gate (variant)",
    "linear_block": "rvit.cell.RecurrentBlock, linear within the frame and in the gate (paper)",
}
PAIRS = {
    "kernel": ("linear", "softmax"),
    "kernel_naive": ("linear", "softmax_naive"),
    "block": ("linear_block", "hybrid_block"),
}


def _sizes() -> tuple[int, int]:
    """Width and heads of the model size the benchmark uses."""
    from rvit.config import SIZES

    return SIZES[SIZE]["dim"], SIZES[SIZE]["heads"]


def naive_softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Textbook softmax attention, ``(B, h, N, d) -> (B, h, N, d)``, holding all ``(B, h, N, N)``
    weights at once: the memory a fused kernel avoids."""
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(dim=-1)  # (B, h, N, N)
    return weights @ v


def _make_call(kind: str, tokens: int, device: torch.device) -> Callable[[], Any]:
    dim, heads = _sizes()
    if kind in ("linear", "softmax", "softmax_naive"):
        from rvit.attention import linear_attention, softmax_attention

        kernel = {
            "linear": linear_attention,
            "softmax": softmax_attention,
            "softmax_naive": naive_softmax_attention,
        }[kind]
        q, k, v = torch.randn(3, BATCH, heads, tokens, dim // heads, device=device).unbind(0)
        return lambda: kernel(q, k, v)
    from rvit.cell import RecurrentBlock

    spatial = "softmax" if kind == "hybrid_block" else "linear"
    block = RecurrentBlock(dim, heads, spatial_kind=spatial, gate_kind="linear").to(device).eval()
    x, h = torch.randn(2, BATCH, tokens, dim, device=device).unbind(0)
    return lambda: block(x, h)


def measure_point(
    kind: str, tokens: int, device: str, threads: int | None, repeats: int
) -> dict[str, Any]:
    """Peak memory growth of one call and seconds per call of (kind, N), in this fresh process."""
    setup_worker(threads)
    dev = torch.device(device)
    torch.manual_seed(0)
    fn = _make_call(kind, tokens, dev)
    with torch.no_grad():
        fn()  # warm-up
        memory = []
        for _ in range(3):
            with PeakMemory(dev) as mem:
                fn()
            memory.append(mem.growth)
        timing = autorange(
            fn, repeats=repeats, min_seconds=MIN_REPEAT_SECONDS, warmup=0, device=dev
        )
    return {
        "kind": kind,
        "N": tokens,
        "memory_bytes": memory,
        "memory_median_bytes": median(memory),
        "calls_per_repeat": timing.number,
        "seconds": timing.seconds,
        "seconds_median": timing.median,
    }


def summarise(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Scaling exponents (over N >= 256, where fixed per-call costs no longer dominate) and the
    crossovers of time and memory for the kernels and for the blocks."""

    def series(kind: str, key: str) -> tuple[list[int], list[float]]:
        rows = sorted((p for p in points if p["kind"] == kind), key=lambda p: p["N"])
        # A memory growth of 0 bytes (below the page size) is logged as 1 byte.
        floor = 1.0 if key == "memory_median_bytes" else 0.0
        return [p["N"] for p in rows], [max(float(p[key]), floor) for p in rows]

    slopes = {}
    for kind in KINDS:
        n, t = series(kind, "seconds_median")
        _, m = series(kind, "memory_median_bytes")
        large = [i for i, v in enumerate(n) if v >= 256]
        if len(large) >= 2:
            slopes[kind] = {
                "seconds": loglog_slope([n[i] for i in large], [t[i] for i in large]),
                "memory": loglog_slope([n[i] for i in large], [m[i] for i in large]),
                "fitted_over_N": [n[large[0]], n[large[-1]]],
            }
    crossovers = {}
    for name, (cheap, dear) in PAIRS.items():
        for key, label in (("seconds_median", "time"), ("memory_median_bytes", "memory")):
            n, a = series(cheap, key)
            n_b, b = series(dear, key)
            if n != n_b or not n:
                continue
            x = crossover(n, a, b)
            crossovers[f"{name}_{label}"] = {
                "cheaper": cheap,
                "than": dear,
                "N": x,
                "below_range": x is not None and x <= n[0],
                "measured_N": [n[0], n[-1]],
            }
    return {"scaling_exponents": slopes, "crossovers": crossovers}


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__.split("\n\n")[0], threads=1)
    parser.add_argument(
        "--tokens", type=int, nargs="+", default=list(TOKENS), help="token counts N to measure"
    )
    args = parser.parse_args(argv)
    device = check_args(args)
    tokens = sorted(set(args.tokens))
    if tokens[0] < 1:
        raise SystemExit(f"--tokens: expected counts >= 1, got {tokens}")
    setup_worker(args.threads)
    note = memory_note(device)
    print(f"memory: {note['memory_method_description']}\n")

    started = time.perf_counter()
    points = []
    for kind in KINDS:
        for n in tokens:
            point = run_isolated(measure_point, kind, n, str(device), args.threads, args.repeats)
            points.append(point)
            print(
                f"{kind:13s} N={n:5d}  {point['memory_median_bytes'] / MIB:8.3f} MiB  "
                f"{point['seconds_median'] * 1e6:10.1f} us",
                flush=True,
            )

    rows = [
        {
            "kind": p["kind"],
            "N": p["N"],
            "peak MiB": p["memory_median_bytes"] / MIB,
            "us/call": p["seconds_median"] * 1e6,
        }
        for p in points
    ]
    print()
    print_table(rows, ["kind", "N", "peak MiB", "us/call"])
    summary = summarise(points)
    print()
    for kind, s in summary["scaling_exponents"].items():
        print(f"{kind:13s} time ~ N^{s['seconds']:.2f}, memory ~ N^{s['memory']:.2f} (N >= 256)")
    for name, c in summary["crossovers"].items():
        where = "never in range" if c["N"] is None else f"N = {c['N']:.0f}"
        if c["below_range"]:
            where = f"N <= {c['N']:.0f} (below the measured range)"
        print(f"crossover {name}: {c['cheaper']} cheaper than {c['than']} from {where}")

    dim, heads = _sizes()
    payload = {
        "benchmark": "attention",
        **provenance(),
        "hardware": hardware(device),
        "versions": versions(),
        **note,
        "settings": {
            "size": SIZE,
            "dim": dim,
            "heads": heads,
            "head_dim": dim // heads,
            "batch_size": BATCH,
            "tokens": tokens,
            "repeats": args.repeats,
            "memory_repeats": 3,
            "min_repeat_seconds": MIN_REPEAT_SECONDS,
            "threads": torch.get_num_threads(),
            "grad": False,
        },
        "kinds": KINDS,
        "points": points,
        **summary,
        "wall_seconds": time.perf_counter() - started,
    }
    path = write_json("attention", payload, args.out)
    print(f"\nwrote {path} ({payload['wall_seconds']:.0f} s; medians of {args.repeats} timings)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
