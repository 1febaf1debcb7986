"""Run every benchmark script in this folder, one fresh process each, and stop at the first failure.

Usage: python benchmarks/run_all.py [NAME ...]   (NAME: data, train, length, attention, ... ; default all)
Each script prints its table and writes results/bench/<name>.json; study_memory writes the memory
benchmark of the study's v3 profile into that profile's results (results/v3/bench/length-v3.json).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        wanted = {f"bench_{name}.py" for name in argv}
        unknown = wanted - {s.name for s in scripts}
        if unknown:
            known = ", ".join(s.stem.removeprefix("bench_") for s in scripts)
            print(f"unknown benchmark(s) {sorted(unknown)}; known: {known}", file=sys.stderr)
            return 2
        scripts = [s for s in scripts if s.name in wanted]
    total = time.perf_counter()
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(
            f"--- {script.stem}: {time.perf_counter() - start:.1f} s, exit code {code}", flush=True
        )
        if code != 0:
            return code
    print(f"\nall benchmarks: {time.perf_counter() - total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
