"""Traceability of the study: a clean tree, the commit and threads of the worker, checked benchmarks."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from rvit.study import runner, store
from rvit.study.experiments import get_experiment
from rvit.study.profiles import PROFILES, get_profile
from rvit.utils import git_info, provenance

TINY = dataclasses.replace(
    PROFILES["smoke"],
    train_samples=16,
    test_samples=8,
    train_sizes=(8,),
    batch_size=8,
    seeds=(0, 1),
)


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one committed code file and one committed result."""
    root = tmp_path / "repo"
    (root / "code").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "code" / "a.py").write_text("x = 1\n")
    (root / "results" / "r.json").write_text("{}\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root


# ------------------------------------------------------------------------------------------------
# a clean tree


def test_dirty_files_ignore_results_and_untracked_files(repo):
    results = repo / "results"
    assert runner._dirty_files(results, repo / "code") == []
    (results / "r.json").write_text('{"new": 1}\n')  # a result the study rewrote
    (repo / "code" / "new.py").write_text("")  # untracked
    assert runner._dirty_files(results, repo / "code") == []
    (repo / "code" / "a.py").write_text("x = 2\n")
    assert runner._dirty_files(results, repo / "code") == ["code/a.py"]


def test_no_git_gives_none(tmp_path):
    assert runner._dirty_files(tmp_path, tmp_path) is None


def test_dirty_tree_is_refused_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "_dirty_files", lambda results, folder=None: ["a.py", "b.py"])
    with pytest.raises(runner.DirtyTreeError) as caught:
        runner.check_clean_tree(tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "2 tracked file(s)" in message and "--allow-dirty" in message
    runner.check_clean_tree(tmp_path, allow_dirty=True)
    book = dataclasses.replace(TINY, name="book")
    with pytest.raises(runner.DirtyTreeError):
        runner.run_study(["scalability"], book, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())  # refused before anything ran


def test_command_line_refuses_a_dirty_tree(monkeypatch, capsys, tmp_path):
    from rvit.cli import main

    monkeypatch.setattr(runner, "_dirty_files", lambda results, folder=None: ["a.py"])
    code = main(
        ["study", "run", "scalability", "--profile", "full", "--results-dir", str(tmp_path)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "1 tracked file(s)" in err and "--allow-dirty" in err


def test_a_closed_profile_refuses_to_run_from_other_code(monkeypatch, capsys, tmp_path):
    from rvit.cli import main

    closed = dataclasses.replace(TINY, name="closed", code="0123456789abcdef", commits=("f" * 40,))
    with pytest.raises(ValueError, match="closed study version") as caught:
        runner.run_study(["scalability"], closed, tmp_path, progress=False)
    assert "ffffffffff" in str(caught.value) and "\n" not in str(caught.value)
    assert not any(tmp_path.iterdir())  # refused before anything ran
    monkeypatch.setattr(runner, "code_hash", lambda: "0123456789abcdef")
    runner.check_open(closed)  # its own code may re-make it
    monkeypatch.undo()
    if store.code_hash() != get_profile("book").code:  # the book profile is closed at version 2
        code = main(["study", "run", "--profile", "book", "--results-dir", str(tmp_path)])
        err = capsys.readouterr().err.strip()
        assert code == 1 and len(err.splitlines()) == 1 and "closed study version" in err


def test_a_closed_profile_matches_its_own_code_not_todays():
    exp = get_experiment("scalability", "smoke")
    config_id, config = next(iter(exp.configs.items()))
    record = {
        "profile": "closed",
        "seed": 0,
        "configuration": json.loads(json.dumps(config.to_dict())),
        "resolved": {"model": {"preset": "whatever it resolved to then"}},
        "code": "0123456789abcdef",
        "metrics": {name: {} for name in config.evals},
    }
    closed = dataclasses.replace(TINY, name="closed", code="0123456789abcdef")
    assert store.match_result(record, config, 0, closed) == ""
    assert "other code" in store.match_result({**record, "code": "f" * 16}, config, 0, closed)
    opened = dataclasses.replace(closed, code=None)  # an open profile compares with today's code
    assert "resolved configuration differs" in store.match_result(record, config, 0, opened)


def test_no_git_warns_and_goes_on(monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "_dirty_files", lambda results, folder=None: None)
    with pytest.warns(RuntimeWarning, match="not in a git checkout"):
        runner.check_clean_tree(tmp_path)


# ------------------------------------------------------------------------------------------------
# the worker's commit and threads


def test_provenance_names_the_cpu_and_takes_the_callers_commit_and_threads():
    record = provenance(git={"commit": "abc", "dirty": False}, torch_threads=1)
    assert record["git"] == {"commit": "abc", "dirty": False}
    assert record["environment"]["torch_threads"] == 1
    assert isinstance(record["environment"]["cpu"], str) and record["environment"]["cpu"]
    assert record["environment"]["cpu_capability"]  # e.g. AVX2 or AVX512


def test_worker_commit_must_equal_the_parents():
    runner._check_worker({"commit": "a"}, {"commit": "a"})
    with pytest.raises(RuntimeError, match="code changed while the study ran"):
        runner._check_worker({"commit": "b"}, {"commit": "a"})


def test_pool_workers_record_their_commit_and_threads(tmp_path):
    runner.run_study(["scalability"], TINY, tmp_path, jobs=2, threads=1, progress=False)
    paths = sorted((tmp_path / "scalability").glob("*.json"))
    assert len(paths) == len(TINY.seeds)
    parent = git_info()
    for path in paths:
        prov = json.loads(path.read_text())["provenance"]
        worker = prov["worker"]
        assert worker["pid"] != os.getpid()
        assert worker["torch_threads"] == prov["environment"]["torch_threads"] == 1
        assert worker["commit"] == prov["git"]["commit"] == parent["commit"]
        assert prov["git"]["dirty"] == worker["dirty"]


# ------------------------------------------------------------------------------------------------
# the benchmark files the study reads


def _bench_repo(root: Path) -> str:
    """A repository whose benchmark imports rvit/a.py (inside a function) but not rvit/b.py."""
    for name in ("benchmarks/_common.py", "rvit/a.py", "rvit/b.py", "README.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# first\n")
    (root / "benchmarks" / "bench_x.py").write_text("def run():\n    from rvit.a import f\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return _git(root, "rev-parse", "HEAD")


def _write_bench(folder: Path, commit: str | None, dirty: bool | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.json").write_text(json.dumps({"git": {"commit": commit, "dirty": dirty}}))


def _commit_change(root: Path, name: str) -> None:
    (root / name).write_text("# changed\n")
    _git(root, "commit", "-q", "-am", f"change {name}")


def test_bench_check_with_git(tmp_path):
    from rvit.study.bench import check_bench

    root, bench = tmp_path / "repo", tmp_path / "bench"
    root.mkdir()
    first = _bench_repo(root)
    assert check_bench("x", bench, root) == "missing"
    _write_bench(bench, first, False)
    assert check_bench("x", bench, root) == "current"
    _commit_change(root, "README.md")  # not the benchmark's code
    assert check_bench("x", bench, root) == "current"
    _commit_change(root, "rvit/b.py")  # package code the benchmark does not import
    assert check_bench("x", bench, root) == "current"
    _write_bench(bench, first, True)
    assert check_bench("x", bench, root).startswith("stale: written from commit")
    _write_bench(bench, first, False)
    for name in ("rvit/a.py", "benchmarks/bench_x.py", "benchmarks/_common.py"):
        _commit_change(root, name)
        why = check_bench("x", bench, root)
        assert why.startswith("stale: ") and name in why, why
    _write_bench(bench, _git(root, "rev-parse", "HEAD"), False)
    assert check_bench("x", bench, root) == "current"


def test_bench_code_is_what_the_benchmark_imports(tmp_path):
    from rvit.study.bench import bench_code_paths

    paths = bench_code_paths("length")
    assert "rvit/model.py" in paths and "rvit/cell.py" in paths  # imported through rvit.model
    assert "rvit/data/render.py" not in paths and not any("rvit/study" in p for p in paths)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "rvit").mkdir()
    (tmp_path / "rvit" / "__init__.py").write_text("")
    (tmp_path / "benchmarks" / "bench_y.py").write_text("from rvit import RViT\n")
    assert "rvit" in bench_code_paths("y", tmp_path)  # a lazy name: the whole package counts


def test_bench_check_ignores_the_study_code(tmp_path):
    from rvit.study.bench import check_bench

    root, bench = tmp_path / "repo", tmp_path / "bench"
    root.mkdir()
    (root / "rvit" / "study").mkdir(parents=True)
    (root / "rvit" / "study" / "analysis.py").write_text("# first\n")
    first = _bench_repo(root)
    _write_bench(bench, first, False)
    _commit_change(root, "rvit/study/analysis.py")  # reads benchmarks, does not make them
    assert check_bench("x", bench, root) == "current"
    _commit_change(root, "rvit/a.py")
    assert check_bench("x", bench, root).startswith("stale: ")


def test_bench_check_unchecked_without_git_or_commit(tmp_path):
    from rvit.study.bench import check_bench

    bench = tmp_path / "bench"
    _write_bench(bench, "0" * 40, False)
    assert check_bench("x", bench, tmp_path).startswith("unchecked: git or the repository")
    root = tmp_path / "repo"
    root.mkdir()
    _bench_repo(root)
    assert check_bench("x", bench, root).startswith("unchecked: commit 0000000000 is not in")
    _write_bench(bench, None, None)
    assert check_bench("x", bench, root) == "unchecked: the file records no commit"


def test_report_lists_the_benchmark_check():
    from rvit.study.bench import check_bench
    from rvit.study.text import print_report

    text = print_report("book")
    assert "bench/length.json (memory): " in " ".join(text.split())
    assert check_bench("length").split(":")[0] in {"current", "stale", "unchecked"}


# ------------------------------------------------------------------------------------------------
# committed results re-run from the code that made them

# Two of the cheapest committed book results (image-trained, about 25 s each on one core).
RERUN = ("classifier/paper+gap__seed1", "scalability/image_n3200__seed0")

ROOT = Path(__file__).resolve().parents[1]

# Float results depend on the instruction set the kernels use: a result made with AVX2 kernels is
# reproduced on a newer CPU by capping torch, oneDNN and MKL at AVX2 (a process setting, so the rerun
# runs in a fresh process); a result made with newer kernels cannot be reproduced on an older CPU.
_ISA_ORDER = ("DEFAULT", "AVX2", "AVX512")
_ISA_ENV = {
    "AVX2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
    "DEFAULT": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    },
}

_RERUN_SCRIPT = """
import json, sys
import torch
torch.set_num_threads(1)
import rvit
if not rvit.__file__.startswith(sys.argv[3]):
    sys.exit(f"rvit came from {rvit.__file__}, not from {sys.argv[3]}")
from rvit.study import runner
from rvit.study.schema import RunConfig
config = RunConfig.from_dict(json.loads(sys.argv[1]))
print(json.dumps(runner.execute(config, int(sys.argv[2]))["metrics"]))
"""


def _differences(a, b, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{where}/{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _source_of(record, tmp_path) -> Path:
    """Where the code that must re-make ``record`` lives: this checkout when the result answers to
    today's code; for a closed profile's result, the package at the commit that made it, exported
    with ``git archive`` (skipped when this clone lacks that commit)."""
    from rvit.study.store import code_hash

    if record["code"] == code_hash():
        return ROOT
    commit = record["provenance"]["git"]["commit"]
    tarball = tmp_path / "src.tar"
    made = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "-o", str(tarball), commit, "rvit"],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"commit {commit[:10]} is not in this clone: {made.stderr.strip()[:200]}")
    source = tmp_path / "src"
    source.mkdir()
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(source)], check=True)
    return source


@pytest.mark.parametrize("name", RERUN)
def test_committed_result_reruns_identically_from_its_code(name, tmp_path):
    """A committed result is re-made in a fresh process, from today's package when it answers to
    today's code, else from the package at the commit that made it (a closed study version), and
    must match bit for bit."""
    import sys

    import torch

    from rvit.study.experiments import get_experiment
    from rvit.study.store import match_result, strip_timings

    experiment, stem = name.split("/")
    config_id, seed = stem.rsplit("__seed", 1)
    record = json.loads((ROOT / "results" / experiment / f"{stem}.json").read_text())
    config = get_experiment(experiment, "book").configs[config_id]
    assert match_result(record, config, int(seed), "book") == ""  # the same code, by its hash
    made = str(record["provenance"]["environment"].get("cpu_capability", "")).upper()
    here = torch.backends.cpu.get_cpu_capability().upper()
    if made not in _ISA_ORDER or here not in _ISA_ORDER:
        pytest.skip(f"unknown instruction sets: made with {made!r}, this CPU {here!r}")
    if _ISA_ORDER.index(made) > _ISA_ORDER.index(here):
        pytest.skip(f"made with {made} kernels, which this CPU ({here}) lacks")
    source = _source_of(record, tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(source)}
    if made != here:
        env.update(_ISA_ENV[made])
    done = subprocess.run(
        [sys.executable, "-c", _RERUN_SCRIPT, json.dumps(config.to_dict()), seed, str(source)],
        capture_output=True,
        text=True,
        env=env,
        cwd=source,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = strip_timings(json.loads(done.stdout.strip().splitlines()[-1]))
    stored = strip_timings(record["metrics"])
    differences = _differences(stored, fresh)
    assert not differences, f"{len(differences)} metrics differ: " + "; ".join(differences[:5])


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("signum", ["SIGTERM", "SIGKILL"])
def test_a_stopped_study_leaves_no_workers(tmp_path, signum):
    import signal
    import sys
    import time

    command = [sys.executable, "-m", "rvit", "study", "run", "--profile", "smoke", "--jobs", "2"]
    command += ["--threads", "1", "--results-dir", str(tmp_path), "--no-progress"]
    study = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: set[int] = set()
    deadline = time.monotonic() + 120  # a guard against a hang, not a measurement
    while time.monotonic() < deadline and study.poll() is None:
        found = _children(study.pid)
        if len(found) >= 2 and any(tmp_path.rglob("*.json")):  # workers up and runs finishing
            workers = found
            break
        time.sleep(0.2)
    if not workers:
        study.kill()
        pytest.skip("the study ended before its workers could be seen")
    os.kill(study.pid, getattr(signal, signum))
    study.wait(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not [p for p in workers if _alive(p)], f"workers left running after {signum}"
