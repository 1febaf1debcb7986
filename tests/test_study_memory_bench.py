"""The memory readings of a study profile read a benchmark of the profile's own model
(benchmarks/bench_study_memory.py): its repeats become the readings' seeds, a file of another
profile or model is refused, and the closed book profile still reads length.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_modules import ROOT, load_script

from rvit.study import analysis, stats
from rvit.study import bench as study_bench
from rvit.study.registry import get_experiment
from rvit.study.store import StaleResultsError

MIB = 2**20


def _bench_file(profile: str, peaks: dict[tuple[str, int], list[float]]) -> dict:
    """A study memory benchmark of ``profile`` with the given peaks (MiB per repeat)."""
    return {
        "benchmark": "study_memory",
        "profile": profile,
        "git": {"commit": None, "dirty": False},
        "settings": {**study_bench.memory_models(profile), "repeats": 12},
        "points": [
            {
                "task": "inference",
                "method": method,
                "T": frames,
                "status": "measured",
                "memory_bytes": [mb * MIB for mb in repeats],
                "memory_median_bytes": sorted(repeats)[len(repeats) // 2] * MIB,
                "tensor_peak_bytes": 0,
            }
            for (method, frames), repeats in peaks.items()
        ],
    }


def _write(folder: Path, name: str, bench: dict) -> Path:
    (folder / "bench").mkdir(parents=True, exist_ok=True)
    path = folder / "bench" / f"{name}.json"
    path.write_text(json.dumps(bench), encoding="utf-8")
    return path


def _peaks(repeats: int = 12) -> dict[tuple[str, int], list[float]]:
    """Streaming flat near 0.1 MiB, whole-video RViT and ClipViT growing with the length; every
    repeat a little different, so repeat ``i`` of each point can be told apart."""
    wobble = [0.01 * i for i in range(repeats)]
    return {
        ("rvit_stream", 2): [0.10 + w for w in wobble],
        ("rvit_stream", 8): [0.12 + w for w in wobble],
        ("rvit_forward", 2): [0.20 + w for w in wobble],
        ("rvit_forward", 8): [1.50 + 2 * w for w in wobble],
        ("clipvit_forward", 2): [0.30 + w for w in wobble],
        ("clipvit_forward", 8): [2.50 + w for w in wobble],
    }


def test_each_study_profile_reads_its_own_memory_benchmark():
    book = get_experiment("memory", "book")
    assert book.bench == "length"
    assert book.metric == "peak memory (MiB) against frames, from results/bench/length.json"
    for name in ("smoke", "v3"):
        assert get_experiment("memory", name).bench == f"length-{name}"
        assert study_bench.memory_bench_name(name) == f"length-{name}"
    assert study_bench.bench_profile("length") is None
    assert study_bench.bench_profile("length-v3") == "v3"
    assert study_bench.bench_code_paths("length")[0] == "benchmarks/bench_length.py"
    assert study_bench.bench_code_paths("length-v3")[0] == "benchmarks/bench_study_memory.py"
    assert study_bench.bench_command("length-v3") == (
        "python benchmarks/bench_study_memory.py --profile v3"
    )


def test_memory_models_are_the_profiles_own():
    models = study_bench.memory_models("v3")
    assert set(models["models"]) == {"rvit", "clipvit"}
    for arch, model in models["models"].items():
        assert model["arch"] == arch and model["preset"] == "paper"
        assert (model["image_size"], model["patch_size"], model["dim"], model["depth"]) == (
            32,
            8,
            48,
            2,
        )


def test_repeats_become_seeds(tmp_path):
    peaks = _peaks()
    _write(tmp_path, "length-smoke", _bench_file("smoke", peaks))
    loaded = analysis.load_experiment("memory", "smoke", tmp_path)
    assert set(loaded.runs) == {"rvit_stream", "rvit_forward", "clipvit"}
    assert all(sorted(runs) == list(range(12)) for runs in loaded.runs.values())
    for i in range(12):
        forward = loaded.runs["rvit_forward"][i]["peak_mb"]
        assert forward["frames"] == 8 and forward["shortest_frames"] == 2
        assert forward["longest"] == pytest.approx(peaks[("rvit_forward", 8)][i])
        growth = peaks[("rvit_forward", 8)][i] - peaks[("rvit_forward", 2)][i]
        assert forward["growth"] == pytest.approx(growth)
    results = {r.label: r for r in analysis.analyse(loaded)}
    assert results["streaming vs. batch"].interval.n == 12
    # twelve paired repeats, all of one sign: the sign-flip test can now decide
    assert results["streaming vs. batch"].p < 0.01
    assert results["streaming vs. batch"].verdict == stats.SUPPORTED


def test_a_bench_file_of_another_profile_or_model_is_refused(tmp_path):
    path = _write(tmp_path, "length-smoke", _bench_file("v3", _peaks()))
    with pytest.raises(StaleResultsError, match=r"length-smoke\.json was measured for .*'v3'"):
        analysis.load_experiment("memory", "smoke", tmp_path)
    assert study_bench.check_bench("length-smoke", path.parent).startswith(
        "stale: was measured for study profile 'v3'"
    )
    other = _bench_file("smoke", _peaks())
    other["settings"]["models"]["rvit"]["dim"] = 64
    _write(tmp_path, "length-smoke", other)
    with pytest.raises(StaleResultsError) as err:
        study_bench.load_bench("length-smoke", tmp_path / "bench")
    assert str(path) in str(err.value)
    assert "dim 64 in the file, 16 wanted" in str(err.value)
    assert "bench_study_memory.py --profile smoke" in str(err.value)
    # not strict: the experiment is left without runs instead
    assert analysis.load_experiment("memory", "smoke", tmp_path, strict=False).runs == {}


def test_a_missing_bench_file_names_its_command(tmp_path):
    with pytest.raises(StaleResultsError, match=r"length-v3\.json is missing.*--profile v3"):
        study_bench.load_bench("length-v3", tmp_path)


def test_the_book_profile_still_reads_length_json(tmp_path):
    # the book's file records no profile or models: it is read as it always was
    bench = _bench_file("smoke", _peaks(3))
    del bench["profile"], bench["settings"]
    _write(tmp_path, "length", bench)
    _write(tmp_path, "length-book", {"points": []})  # not read by the book profile
    loaded = analysis.load_experiment("memory", "book", tmp_path)
    assert loaded.source == str(tmp_path / "bench" / "length.json")
    assert all(sorted(runs) == [0, 1, 2] for runs in loaded.runs.values())


def test_the_benchmark_measures_a_smoke_profile(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    script = load_script("benchmarks/bench_study_memory.py")
    out = tmp_path / "bench"
    args = ["--profile", "smoke", "--repeats", "2", "--lengths", "2", "4", "--out", str(out)]
    assert script.main(args) == 0
    written = json.loads((out / "length-smoke.json").read_text(encoding="utf-8"))
    assert written["profile"] == "smoke"
    assert written["settings"]["models"] == study_bench.memory_models("smoke")["models"]
    assert written["git"]["commit"] and written["hardware"]["torch_threads"] == 1
    assert {(p["method"], p["T"]) for p in written["points"]} == {
        (m, t) for m in ("rvit_stream", "rvit_forward", "clipvit_forward") for t in (2, 4)
    }
    assert all(len(p["memory_bytes"]) == 2 for p in written["points"])
    loaded = analysis.load_experiment("memory", "smoke", tmp_path)
    assert all(sorted(runs) == [0, 1] for runs in loaded.runs.values())
    assert loaded.runs["rvit_forward"][0]["peak_mb"]["frames"] == 4
