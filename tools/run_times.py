"""Measure how long chapters run at the book profile, each executed alone with nbclient.

``python tools/run_times.py notebooks/01_data.ipynb ...`` runs each chapter in a fresh kernel (in
its folder, as the book build does) and records the seconds from the kernel's start to the last
cell in ``results/book/run_times.json`` (``rvit.notebook.record_run_time``), with the CPU, its cores,
the torch threads and the date. A chapter that takes longer than ``--max-seconds`` is stopped and
not recorded: its line says "not measured yet" until a book build measures it (the build records
every chapter it runs, ``book/_ext/rvit_book.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(
    path: Path, max_seconds: float, clock: Callable[[], float] = time.perf_counter
) -> float | None:
    """Seconds ``path`` took at its committed profile, or None when it ran past ``max_seconds``.

    ``clock`` reads the time (a test passes its own, so that what it checks does not depend on how
    loaded the machine is); a cell still running after ``max_seconds`` is stopped by nbclient."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=int(max_seconds),
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = clock()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["RVIT_SCRATCH_DIR"] = scratch
        try:
            client.execute()
        except (CellTimeoutError, DeadKernelError, TimeoutError):
            return None
        finally:
            os.environ.pop("RVIT_SCRATCH_DIR", None)
    seconds = clock() - start
    return seconds if seconds <= max_seconds else None


def main(argv: list[str] | None = None, clock: Callable[[], float] = time.perf_counter) -> int:
    from rvit.notebook import RUN_TIMES, record_run_time

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", type=Path, nargs="+", help="chapters to run")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop a longer chapter")
    parser.add_argument(
        "--out", type=Path, default=ROOT.joinpath("results", *RUN_TIMES), help="the record"
    )
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        print(f"run_times: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 1
    import torch

    for path in args.notebooks:
        seconds = measure(path.resolve(), args.max_seconds, clock)
        if seconds is None:
            print(f"{path.stem}: over {args.max_seconds:.0f} s, not recorded", flush=True)
            continue
        record_run_time(
            args.out,
            path.stem,
            seconds,
            threads=torch.get_num_threads(),
            how="by executing it alone",
        )
        print(f"{path.stem}: {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
