"""The reproducibility study: statistics, the registry, the runner's bookkeeping and the results."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from rvit.data.sources import CueThenBlank
from rvit.study import registry, report, runner, stats, store
from rvit.study.registry import (
    CLAIMS,
    EXPERIMENTS,
    PROFILES,
    Contrast,
    RunConfig,
    Term,
    diff,
    get_experiment,
    get_experiments,
)

ROOT = Path(__file__).resolve().parents[1]

# A profile even smaller than "smoke", so that training in the tests takes a second or two.
TINY = dataclasses.replace(
    PROFILES["smoke"],
    train_samples=16,
    test_samples=8,
    train_sizes=(8, 16),
    batch_size=8,
    seeds=(0, 1),
)


# ------------------------------------------------------------------------------------------------
# statistics


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    values = [0.1, 0.3, -0.05, 0.2, 0.15]
    first, second = stats.bootstrap_mean(values), stats.bootstrap_mean(values)
    assert first == second
    assert first.low <= first.mean <= first.high
    assert first.mean == pytest.approx(sum(values) / len(values))
    assert first.n == len(values)


def test_bootstrap_of_three_values_is_their_range():
    interval = stats.bootstrap_mean([0.2, -0.1, 0.5])
    assert (interval.low, interval.high) == pytest.approx((-0.1, 0.5))


def test_bootstrap_of_one_value_has_zero_width():
    interval = stats.bootstrap_mean([0.25])
    assert interval.low == interval.high == interval.mean == 0.25


@pytest.mark.parametrize("bad", [[], [float("nan"), 1.0], [[1.0, 2.0]]])
def test_bootstrap_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="values"):
        stats.bootstrap_mean(bad)


def test_decide_follows_the_interval_and_the_direction():
    above = stats.Interval(0.1, 0.05, 0.2, 3)
    across = stats.Interval(0.1, -0.05, 0.2, 3)
    assert stats.decide(above, +1) == stats.SUPPORTED
    assert stats.decide(above, -1) == stats.CONTRADICTED
    assert stats.decide(across, +1) == stats.INCONCLUSIVE
    assert stats.decide(None, +1) == stats.NOT_MEASURED
    with pytest.raises(ValueError, match="direction"):
        stats.decide(above, 0)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        (["supported", "supported"], "supported"),
        (["supported", "contradicted"], "mixed"),
        (["supported", "inconclusive"], "partly supported"),
        (["contradicted", "inconclusive"], "partly contradicted"),
        (["inconclusive", "not measured"], "inconclusive"),
        (["not measured"], "not measured"),
    ],
)
def test_combine_verdicts(verdicts, expected):
    assert stats.combine_verdicts(verdicts) == expected


def test_combine_verdicts_rejects_unknown_words():
    with pytest.raises(ValueError, match="unknown verdicts"):
        stats.combine_verdicts(["maybe"])


# ------------------------------------------------------------------------------------------------
# registry


def test_claims_cover_both_tables():
    assert len(registry.claim_ids("comparison")) == 8
    assert len(registry.claim_ids("insights")) == 10
    with pytest.raises(ValueError, match="table"):
        registry.claim_ids("other")


def test_every_claim_has_a_reading_and_every_experiment_three_seeds():
    experiments = get_experiments(None, "book")
    read = {r.claim for e in experiments for r in e.readings}
    assert read == set(CLAIMS)
    for e in experiments:
        assert e.bench is not None or len(e.seeds) >= 3, e.name
        for reading in e.readings:
            assert reading.contrast.configs() <= set(e.configs) or e.bench


def test_run_key_ignores_evaluations_and_sees_training():
    config = get_experiment("temporal_features", "book").configs["image"]
    assert config.key() == config.with_evals(extra={"split": "test"}).key()
    changed = dataclasses.replace(config, train={**config.train, "epochs": 99})
    assert changed.key() != config.key()
    assert RunConfig.from_dict(config.to_dict()).key() == config.key()


def test_equal_runs_are_shared_between_experiments():
    image = get_experiment("temporal_features", "book").configs["image"]
    no_dropout = get_experiment("recurrent_dropout", "book").configs["image_d0"]
    paper = get_experiment("classifier", "book").configs["paper"]
    assert image.key() == no_dropout.key() == paper.key()
    with_dropout = get_experiment("recurrent_dropout", "book").configs["image_d0.25"]
    assert with_dropout.key() != image.key()


def test_registry_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown experiment"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="unknown profile"):
        registry.get_profile("huge")
    with pytest.raises(ValueError, match="Term"):
        Term(1.0, "image")
    with pytest.raises(ValueError, match="direction"):
        Contrast((diff("test.top1", "a", "b"),), 0)
    with pytest.raises(ValueError, match="unknown claim"):
        registry.Reading("cmp.nope", "x", "x", Contrast((diff("m", "a", "b"),), 1))


# ------------------------------------------------------------------------------------------------
# readings applied to numbers


def _fake_results(runs):
    exp = get_experiment("temporal_features", "book")
    return report.ExperimentResults(exp, runs)


def test_contrast_pairs_by_seed_and_skips_missing_numbers():
    runs = {
        "a": {0: {"test": {"top1": 0.6}}, 1: {"test": {"top1": 0.7}}, 2: {"test": {}}},
        "b": {0: {"test": {"top1": 0.5}}, 1: {"test": {"top1": 0.5}}},
    }
    values, strata = report.contrast_values(Contrast((diff("test.top1", "a", "b"),), 1), runs)
    assert values == pytest.approx([0.1, 0.2])
    assert strata[0]["n"] == 2
    constant = Contrast(((Term(1.0, "a", "test.top1"), Term(-1.0, value=0.5)),), 1)
    values, _ = report.contrast_values(constant, runs)
    assert values == pytest.approx([0.1, 0.2])


def test_reading_verdict_follows_the_sign_of_the_effect():
    exp = get_experiment("temporal_features", "book")
    reading = next(r for r in exp.readings if r.label == "motion pairs")  # claimed negative
    worse = {"image": {s: {"test": {"motion": 0.5}} for s in range(3)}}
    worse["video"] = {s: {"test": {"motion": 0.8 + 0.01 * s}} for s in range(3)}
    result = report.analyse_reading(reading, _fake_results(worse))
    assert result.verdict == stats.SUPPORTED
    assert result.interval.mean < 0
    better = {"image": worse["video"], "video": worse["image"]}
    assert report.analyse_reading(reading, _fake_results(better)).verdict == stats.CONTRADICTED


def test_get_metric_walks_paths():
    metrics = {"test": {"top1": 0.5, "online": [0.1, 0.4]}, "x": {"error": "no"}}
    assert report.get_metric(metrics, "test.top1") == 0.5
    assert report.get_metric(metrics, "test.online.-1") == 0.4
    assert report.get_metric(metrics, "x.top1") is None
    assert report.get_metric(metrics, "x.error") is None


# ------------------------------------------------------------------------------------------------
# runner bookkeeping


def test_match_result_names_what_differs():
    config = get_experiment("temporal_features", "smoke").configs["image"]
    record = {
        "profile": "smoke",
        "seed": 0,
        "configuration": config.to_dict(),
        "metrics": {name: {} for name in config.evals},
    }
    assert store.match_result(record, config, 0, "smoke") == ""
    assert "profile" in store.match_result(record, config, 0, "book")
    assert "seed" in store.match_result(record, config, 1, "smoke")
    stale = json.loads(json.dumps(record))
    stale["configuration"]["train"]["epochs"] = 7
    assert "train" in store.match_result(stale, config, 0, "smoke")
    more = config.with_evals(extra={"split": "test"})
    assert "extra" in store.match_result(record, more, 0, "smoke")
    assert "missing" in store.match_result(None, config, 0, "smoke")


def test_cue_then_blank_keeps_only_the_cue():
    video = torch.rand(6, 3, 4, 4)
    probe = CueThenBlank([(video, 3)], cue_frames=2)
    out, label = probe[0]
    assert label == 3
    torch.testing.assert_close(out[:2], video[:2])
    assert torch.all(out[2:] == out[2:3, :, :1, :1])  # flat, and the same for every later frame
    with pytest.raises(ValueError, match="cue_frames"):
        CueThenBlank([(video, 3)], cue_frames=0)


def test_missing_results_name_the_rerun_command(tmp_path):
    with pytest.raises(
        report.StaleResultsError, match="rvit study run scalability --profile smoke"
    ):
        report.load_experiment("scalability", "smoke", tmp_path)


# ------------------------------------------------------------------------------------------------
# a real run at a tiny profile: reproducible, resumable, shared


def test_study_run_is_reproducible_and_resumable(tmp_path):
    first = runner.run_study(["scalability"], TINY, tmp_path / "a", progress=False)
    assert first.trained == len(TINY.train_sizes) * len(TINY.seeds)
    again = runner.run_study(["scalability"], TINY, tmp_path / "a", progress=False)
    assert again.trained == 0 and again.skipped == first.tasks
    runner.run_study(["scalability"], TINY, tmp_path / "b", progress=False)
    for path in sorted((tmp_path / "a" / "scalability").glob("*.json")):
        a = json.loads(path.read_text())
        b = json.loads((tmp_path / "b" / "scalability" / path.name).read_text())
        assert a["configuration"] == b["configuration"]
        assert store.strip_timings(a["metrics"]) == store.strip_timings(b["metrics"])
        assert a["provenance"]["git"].keys() >= {"commit", "dirty"}
    loaded = report.load_experiment("scalability", TINY, tmp_path / "a")
    verdicts = [r.verdict for r in report.analyse(loaded)]
    assert all(v in stats.VERDICTS for v in verdicts)
    # a changed registry makes the stored results stale
    changed = dataclasses.replace(TINY, epochs=2)
    with pytest.raises(report.StaleResultsError, match="stale"):
        report.load_experiment("scalability", changed, tmp_path / "a")


# ------------------------------------------------------------------------------------------------
# the committed book results


def _committed() -> list[Path]:
    names = set(EXPERIMENTS)
    return sorted(p for p in (ROOT / "results").glob("*/*.json") if p.parent.name in names)


@pytest.mark.parametrize("path", _committed(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_committed_result_matches_registry(path):
    record = json.loads(path.read_text())
    exp = get_experiment(path.parent.name, record["profile"])
    config_id, seed = path.stem.rsplit("__seed", 1)
    assert config_id in exp.configs, f"{path}: configuration {config_id!r} left the registry"
    why = store.match_result(record, exp.configs[config_id], int(seed), record["profile"])
    assert not why, (
        f"{path} is stale ({why}); rerun: python -m rvit study run {exp.name} --profile book"
    )


def test_memory_readings_come_from_the_length_benchmark(tmp_path):
    mib = 2**20

    def point(method, frames, mb):
        return {
            "task": "inference",
            "method": method,
            "T": frames,
            "status": "measured",
            "memory_bytes": [mb * mib] * 3,
        }

    bench = {
        "points": [
            point("rvit_stream", 8, 1.0),
            point("rvit_stream", 64, 1.0),
            point("rvit_forward", 8, 2.0),
            point("rvit_forward", 64, 9.0),
            point("clipvit_forward", 8, 3.0),
            point("clipvit_forward", 64, 20.0),
            point("clipvit_forward", 128, 50.0),  # measured for one method only: not compared
            {"task": "inference", "method": "rvit_stream", "T": 256, "status": "skipped"},
        ]
    }
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "length.json").write_text(json.dumps(bench))
    loaded = report.load_experiment("memory", "book", tmp_path)
    assert loaded.runs["clipvit"][0]["peak_mb"] == {
        "longest": 20.0,
        "growth": 17.0,
        "frames": 64,
        "shortest_frames": 8,
    }
    results = {r.label: r for r in report.analyse(loaded)}
    assert results["streaming vs. batch"].interval.mean == pytest.approx(-8.0)
    assert all(r.verdict == stats.SUPPORTED for r in results.values())
    frame = report.memory_frame(bench)
    assert set(frame.method) == {"rvit_stream", "rvit_forward", "clipvit_forward"}
    assert len(frame) == 7 * 3
