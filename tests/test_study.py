"""The reproducibility study: statistics, the registry, the runner's bookkeeping and the results."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from rvit.data.sources import CueThenBlank
from rvit.study import analysis, registry, runner, stats, store, text
from rvit.study import bench as study_bench
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
    return analysis.ExperimentResults(exp, runs)


def test_contrast_pairs_by_seed_and_skips_missing_numbers():
    runs = {
        "a": {0: {"test": {"top1": 0.6}}, 1: {"test": {"top1": 0.7}}, 2: {"test": {}}},
        "b": {0: {"test": {"top1": 0.5}}, 1: {"test": {"top1": 0.5}}},
    }
    values, strata = analysis.contrast_values(Contrast((diff("test.top1", "a", "b"),), 1), runs)
    assert values == pytest.approx([0.1, 0.2])
    assert strata[0]["n"] == 2
    constant = Contrast(((Term(1.0, "a", "test.top1"), Term(-1.0, value=0.5)),), 1)
    values, _ = analysis.contrast_values(constant, runs)
    assert values == pytest.approx([0.1, 0.2])


def test_reading_verdict_follows_the_sign_of_the_effect():
    exp = get_experiment("temporal_features", "book")
    reading = next(r for r in exp.readings if r.label == "motion direction")  # claimed negative
    seeds = range(10)  # 10 seeds: the smallest sign-flip p-value is 2 / 2**10
    worse = {"image": {s: {"test": {"motion_direction": 0.5 + 0.01 * (s % 3)}} for s in seeds}}
    worse["video"] = {s: {"test": {"motion_direction": 0.8 + 0.01 * s}} for s in seeds}
    result = analysis.analyse_reading(reading, _fake_results(worse))
    assert result.verdict == stats.SUPPORTED
    assert result.interval.mean < 0
    assert result.p == pytest.approx(2 / 2**10)
    better = {"image": worse["video"], "video": worse["image"]}
    assert analysis.analyse_reading(reading, _fake_results(better)).verdict == stats.CONTRADICTED
    three = {c: {s: m for s, m in by.items() if s < 3} for c, by in worse.items()}
    assert analysis.analyse_reading(reading, _fake_results(three)).verdict == stats.INCONCLUSIVE


def test_strata_are_averaged_within_each_seed():
    runs = {
        "a": {s: {"test": {"top1": 0.6 + 0.1 * s}} for s in range(3)},
        "b": {s: {"test": {"top1": 0.5}} for s in range(3)},
        "c": {s: {"test": {"top1": 0.4}} for s in range(2)},
    }
    contrast = Contrast((diff("test.top1", "a", "b"), diff("test.top1", "a", "c")), 1)
    values, strata = analysis.contrast_values(contrast, runs)
    assert [s["n"] for s in strata] == [3, 2]
    assert values == pytest.approx([0.15, 0.25])  # seeds 0 and 1: one value each, not four


def test_test_set_variance_enters_the_interval():
    exp = get_experiment("temporal_features", "book")
    reading = next(r for r in exp.readings if r.label == "overall")

    def run(p, videos):
        return {"test": {"top1": p, "videos": videos}, "train": {"top1": 0.9}}

    runs = {
        "image": {s: run(0.3 + 0.01 * s, 240) for s in range(3)},
        "video": {s: run(0.8, 240) for s in range(3)},
    }
    wide = analysis.analyse_reading(reading, _fake_results(runs)).interval
    bound = (0.8 * 0.2 / 240) ** 0.5 + (0.305 * 0.695 / 240) ** 0.5
    assert wide.test_var == pytest.approx(bound**2, rel=0.05)
    runs = {c: {s: run(m["test"]["top1"], 10**9) for s, m in by.items()} for c, by in runs.items()}
    narrow = analysis.analyse_reading(reading, _fake_results(runs)).interval
    assert narrow.high - narrow.low < wide.high - wide.low


def test_learning_gate_makes_a_reading_not_testable():
    exp = get_experiment("augmentation", "book")
    reading = next(r for r in exp.readings if r.label == "basic")
    seeds = range(10)
    runs = {
        "basic": {s: {"test": {"top1": 0.3 + 0.01 * s}, "train": {"top1": 0.2}} for s in seeds},
        "none": {s: {"test": {"top1": 0.5}, "train": {"top1": 0.72}} for s in seeds},
    }
    result = analysis.analyse_reading(reading, analysis.ExperimentResults(exp, runs))
    assert result.verdict == stats.NOT_TESTABLE
    assert result.gate and "basic" in result.gate[0]
    assert registry.LEARNING_GATE.threshold(exp.configs["basic"]) == pytest.approx(0.375)
    for by_seed in runs["basic"].values():
        by_seed["train"]["top1"] = 0.7
    result = analysis.analyse_reading(reading, analysis.ExperimentResults(exp, runs))
    assert result.verdict == stats.CONTRADICTED


def test_every_claim_has_one_primary_reading():
    experiments = get_experiments(None, "book")
    primaries = [r.claim for e in experiments for r in e.readings if r.primary]
    assert sorted(primaries) == sorted(CLAIMS)
    margins = {r.label: r.margin for e in experiments for r in e.readings if r.margin}
    assert margins == {
        "image consistency": 0.03,
        "same appearance accuracy": 0.05,
        "as well as per-frame": 0.05,
    }
    assert all(e.gate is registry.LEARNING_GATE for e in experiments if e.bench is None)


def test_holm_runs_over_the_primary_readings_only():
    values = [-0.2 - 0.01 * s for s in range(12)]
    results = [
        analysis.ReadingResult(
            "x",
            claim,
            "r",
            "",
            -1,
            "accuracy",
            values,
            [],
            stats.t_interval(values),
            "",
            primary=primary,
            p=stats.sign_flip_p(values),
            p_diff=stats.sign_flip_p(values),
        )
        for claim, primary in [("cmp.memory", True), ("cmp.attention", True), ("cmp.memory", False)]
    ]
    analysis.judge(results)
    assert [r.p_holm for r in results] == pytest.approx([2 * 2 / 2**12, 2 * 2 / 2**12, None])
    assert [r.verdict for r in results] == [stats.SUPPORTED, stats.SUPPORTED, ""]  # left as is


def test_get_metric_walks_paths():
    metrics = {"test": {"top1": 0.5, "online": [0.1, 0.4]}, "x": {"error": "no"}}
    assert analysis.get_metric(metrics, "test.top1") == 0.5
    assert analysis.get_metric(metrics, "test.online.-1") == 0.4
    assert analysis.get_metric(metrics, "x.top1") is None
    assert analysis.get_metric(metrics, "x.error") is None


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


def _fresh_record(config, seed=0, profile="smoke"):
    return {
        "profile": profile,
        "seed": seed,
        "configuration": config.to_dict(),
        "resolved": store.resolved_configuration(config),
        "code": store.code_hash(),
        "metrics": {name: {} for name in config.evals},
    }


def test_resolved_configuration_holds_every_default():
    from rvit.config import RViTConfig
    from rvit.train import TrainConfig

    config = get_experiment("temporal_features", "smoke").configs["image"]
    resolved = store.resolved_configuration(config)
    assert set(resolved["model"]) == {"arch", *RViTConfig.field_names()}
    assert set(resolved["train"]) == {f for f in TrainConfig().to_dict()} - {
        "seed",
        "device",
        "progress",
    }
    assert resolved["train"]["weight_decay"] == TrainConfig().weight_decay  # a default, not stored
    assert "weight_decay" not in config.train


def test_changing_a_preset_default_makes_a_result_stale(monkeypatch):
    from rvit.config import RViTConfig

    config = get_experiment("temporal_features", "smoke").configs["image"]
    record = _fresh_record(config)
    assert store.match_result(record, config, 0, "smoke") == ""
    assert store.verified(record)
    paper = RViTConfig.paper

    def changed(*args, **kwargs):
        return paper(*args, **kwargs).replace(mlp_ratio=3.0)

    monkeypatch.setattr(RViTConfig, "paper", staticmethod(changed))
    why = store.match_result(record, config, 0, "smoke")
    assert "resolved configuration differs" in why and "mlp_ratio" in why


def test_changing_a_training_default_makes_a_result_stale(monkeypatch):
    from rvit import train

    config = get_experiment("temporal_features", "smoke").configs["image"]
    record = _fresh_record(config)

    @dataclasses.dataclass
    class Changed(train.TrainConfig):
        weight_decay: float = 0.01

    monkeypatch.setattr(train, "TrainConfig", Changed)
    why = store.match_result(record, config, 0, "smoke")
    assert "resolved configuration differs" in why and "weight_decay" in why


def test_a_result_from_other_code_is_stale(monkeypatch):
    config = get_experiment("temporal_features", "smoke").configs["image"]
    record = _fresh_record(config)
    record["code"] = "0" * 16
    assert "other code" in store.match_result(record, config, 0, "smoke")
    older = {k: v for k, v in record.items() if k not in ("resolved", "code")}
    assert store.match_result(older, config, 0, "smoke") == ""  # made before the check...
    assert not store.verified(older)  # ...and counted as unverified


def test_code_hash_follows_result_code_only(tmp_path):
    for name, body in {
        "rvit/train.py": "a = 1\n",
        "rvit/data/render.py": "b = 2\n",
        "rvit/notebook.py": "c = 3\n",
        "rvit/study/text.py": "d = 4\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    names = [f.relative_to(tmp_path).as_posix() for f in store.code_files(tmp_path)]
    assert names == ["rvit/data/render.py", "rvit/train.py"]
    before = store._hash_files(str(tmp_path))
    (tmp_path / "rvit/notebook.py").write_text("c = 4\n")
    (tmp_path / "rvit/study/text.py").write_text("d = 5\n")
    assert store._hash_files.__wrapped__(str(tmp_path)) == before
    (tmp_path / "rvit/data/render.py").write_text("b = 3\n")
    assert store._hash_files.__wrapped__(str(tmp_path)) != before
    listed = {f.relative_to(store.ROOT).as_posix() for f in store.code_files()}
    assert "rvit/study/runner.py" in listed and "rvit/study/datasets.py" in listed
    assert not listed & store.PRESENTATION_CODE
    assert all((store.ROOT / name).is_file() for name in store.PRESENTATION_CODE)
    assert {"rvit/study/analysis.py", "rvit/study/text.py"} <= store.PRESENTATION_CODE


def test_pair_metrics_score_the_pair_and_its_direction():
    from rvit.data.synthetic import CLASSES, MOTION_PAIRS
    from rvit.evaluate import VideoEvalResult

    a, b = (CLASSES.index(name) for name in MOTION_PAIRS[0])
    k = len(CLASSES)

    def logits(best, second):
        out = torch.zeros(2, k)
        out[-1, best], out[-1, second] = 2.0, 1.0
        return out

    # a video of class a predicted as b (its pair right, its direction wrong), one of class b
    # predicted as b (both right), one of an appearance class (not a motion pair: left out)
    cases = [(a, b, logits(b, a)), (b, b, logits(b, 0)), (0, 0, logits(0, 1))]
    result = VideoEvalResult(
        classes=list(CLASSES),
        targets=[c[0] for c in cases],
        predictions=[c[1] for c in cases],
        lengths=[2, 2, 2],
        frame_predictions=[[c[1], c[1]] for c in cases],
        top1=2 / 3,
        top5=1.0,
        top5_k=5,
        online=[],
        frame_logits=[c[2] for c in cases],
    )
    assert runner.pair_metrics(result) == {"motion_pair": 1.0, "motion_direction": 0.5}
    result.frame_logits = None
    with pytest.raises(ValueError, match="keep_logits"):
        runner.pair_metrics(result)


def test_matched_scalability_runs_see_the_same_samples():
    exp = get_experiment("scalability", "book")
    prof = registry.get_profile("book")
    seen = {c.data["num_samples"] * c.train["epochs"] for c in exp.configs.values()}
    assert seen == {prof.matched_samples}
    shares = {c.train.get("warmup_epochs", 1.0) / c.train["epochs"] for c in exp.configs.values()}
    assert shares == {1.0 / prof.epochs}  # the warm-up is the same share of every run
    # the size the other experiments train on is the same run as theirs
    image = get_experiment("temporal_features", "book").configs["image"]
    assert exp.configs[f"image_n{prof.train_samples}"].key() == image.key()
    with pytest.raises(ValueError, match="matched_samples 1000 is not a multiple"):
        dataclasses.replace(prof, matched_samples=1000)


def test_variable_length_training_sees_as_many_frames_as_fixed():
    prof = registry.get_profile("book")
    low, high = prof.variable_frames
    assert (low + high) / 2 == prof.frames


def test_a_profile_answers_for_results_recorded_under_its_aliases():
    config = get_experiment("temporal_features", "smoke").configs["image"]
    record = _fresh_record(config, profile="old-name")
    renamed = dataclasses.replace(registry.get_profile("smoke"), aliases=("old-name",))
    assert store.match_result(record, config, 0, renamed) == ""
    assert "profile 'old-name'" in store.match_result(record, config, 0, "smoke")


def test_an_exact_reading_is_judged_by_its_sign_outside_holm():
    from rvit.study.schema import Contrast, Experiment, Reading, Term

    readings = tuple(
        Reading(
            "cmp.attention",
            label,
            label,
            Contrast(((Term(1.0, "a", "x"), Term(-1.0, "b", "x")),), 1, units="log10"),
            primary=label == "primary",
            exact=True,
        )
        for label in ("primary", "secondary")
    )
    exp = Experiment("e", "t", "q", ("cmp.attention",), {}, readings, (0, 1, 2), "m", bench="none")
    up = {"a": {s: {"x": 2.0} for s in range(3)}, "b": {s: {"x": 1.0} for s in range(3)}}
    results = analysis.ExperimentResults(exp, up)
    first = analysis.analyse(results)[0]
    assert first.test == "exact" and first.verdict == stats.SUPPORTED and first.p is None
    assert first.interval.low == first.interval.high == 1.0
    down = {"a": up["b"], "b": up["a"]}
    assert analysis.analyse(analysis.ExperimentResults(exp, down))[0].verdict == stats.CONTRADICTED
    mixed = {"a": {0: {"x": 2.0}, 1: {"x": 0.0}, 2: {"x": 2.0}}, "b": up["b"]}
    assert analysis.analyse(analysis.ExperimentResults(exp, mixed))[0].verdict == stats.INCONCLUSIVE
    judged = analysis.judge(analysis.analyse(results))
    assert all(r.p_holm is None for r in judged)  # not in Holm's family
    with pytest.raises(ValueError, match="no margin"):
        Reading("cmp.attention", "x", "x", readings[0].contrast, exact=True, margin=0.1)


def test_attention_cost_reads_the_benchmark(tmp_path):
    cost = analysis.attention_cost(ROOT / "results" / "bench")
    assert cost is not None and [r["tokens"] for r in cost["rows"]] == sorted(
        r["tokens"] for r in cost["rows"]
    )
    assert all(r["ratio"] == r["hybrid_ms"] / r["linear_ms"] for r in cost["rows"])
    assert analysis.attention_cost(tmp_path) is None
    assert text.attention_lines(tmp_path, 16) == []


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
    with pytest.raises(store.StaleResultsError, match="rvit study run scalability --profile smoke"):
        analysis.load_experiment("scalability", "smoke", tmp_path)


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
    loaded = analysis.load_experiment("scalability", TINY, tmp_path / "a")
    verdicts = [r.verdict for r in analysis.analyse(loaded)]
    assert all(v in stats.VERDICTS for v in verdicts)
    # a changed registry makes the stored results stale
    changed = dataclasses.replace(TINY, epochs=2)
    with pytest.raises(store.StaleResultsError, match="stale"):
        analysis.load_experiment("scalability", changed, tmp_path / "a")


# ------------------------------------------------------------------------------------------------
# the committed book results


def _committed() -> list[Path]:
    names = set(EXPERIMENTS)
    return sorted(p for p in (ROOT / "results").glob("*/*.json") if p.parent.name in names)


@pytest.mark.parametrize("path", _committed(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_committed_result_matches_registry(path):
    record = json.loads(path.read_text())
    exp = get_experiment(path.parent.name, "book")  # results/ holds the book profile's results
    config_id, seed = path.stem.rsplit("__seed", 1)
    assert config_id in exp.configs, f"{path}: configuration {config_id!r} left the registry"
    why = store.match_result(record, exp.configs[config_id], int(seed), "book")
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
    loaded = analysis.load_experiment("memory", "book", tmp_path)
    assert loaded.runs["clipvit"][0]["peak_mb"] == {
        "longest": 20.0,
        "growth": 17.0,
        "frames": 64,
        "shortest_frames": 8,
    }
    results = {r.label: r for r in analysis.analyse(loaded)}
    assert results["streaming vs. batch"].interval.mean == pytest.approx(-8.0)
    # three repeats: the smallest sign-flip p-value is 0.25, so nothing can be decided
    assert all(r.p == pytest.approx(0.25) for r in results.values())
    assert all(r.verdict == stats.INCONCLUSIVE for r in results.values())
    frame = study_bench.memory_frame(bench)
    assert set(frame.method) == {"rvit_stream", "rvit_forward", "clipvit_forward"}
    assert len(frame) == 7 * 3


@pytest.fixture(scope="module")
def printed_report() -> str:
    """The terminal report on the committed results (``python -m rvit study report``)."""
    return text.print_report("book")


def test_report_names_the_test_the_correction_and_the_gate(printed_report):
    printed = printed_report
    assert "sign-flip" in printed and "Holm" in printed and "TOST" in printed
    assert "Learning gate" in printed and "A/A control" in printed
    _, readings = analysis.study_results("book")
    # the closed book profile stores no per-video outcomes: every reading keeps the t path
    assert {r.method for r in readings} == {analysis.T_OVER_SEEDS, analysis.EXACT}
    assert not any(r.sanity for r in readings)
    claims = analysis.claim_table(readings)
    assert len(claims) == len(CLAIMS)
    assert set(claims.verdict) <= set(stats.VERDICTS)
    for row in claims.itertuples():
        assert row.label in printed
    # a decided primary reading passed Holm's correction (or is exact) and its interval agrees
    for r in readings:
        if not r.primary or r.verdict not in (stats.SUPPORTED, stats.CONTRADICTED):
            continue
        if r.exact:
            assert all(
                v * r.direction * (1 if r.verdict == stats.SUPPORTED else -1) > 0 for v in r.values
            )
            continue
        assert r.p_holm is not None and r.p_holm <= stats.ALPHA
        signed = (r.interval.low * r.direction, r.interval.high * r.direction)
        assert min(signed) > 0 if r.verdict == stats.SUPPORTED else max(signed) < 0
    gated = claims.set_index("claim").verdict
    assert gated["ins.augmentation.strength"] == stats.NOT_TESTABLE
    texts = text.claim_texts(claims)
    assert len(texts) == 4 * len(CLAIMS)
    assert texts["ins_augmentation_strength_verdict"] == f"**{stats.NOT_TESTABLE}**"
    first = claims.iloc[0]
    key = first.claim.replace(".", "_")
    assert texts[f"{key}_p"] == text.format_p(first.p_holm)
    assert texts[f"{key}_reading"] == f"*{first.label}*"


# Sentences the terminal report prints and the chapters quote: each is written by one function of
# rvit.study.text, which both call (the chapters through the function named beside it, which may
# wrap it in more words).
SHARED_SENTENCES = {
    "simulated_aa_sentence": "simulated_aa_sentence",
    "aa_sentence": "aa_sentence",
    "sanity_sentence": "sanity_sentence",
    "gate_sentence": "gate_sentence",
    "retest_lines": "retest_sentence",
    "deviation_lines": "deviations_markdown",
    "attention_growth": "attention_complexity",
}


def _words(sentence: str) -> str:
    """A sentence with its white space made single (the report wraps its lines at 100 columns)."""
    return " ".join(sentence.split())


def _chapter_source(cell_type: str | None = None) -> str:
    """The source of chapters 8 and 8.1 (of their cells of ``cell_type``, or of all)."""
    import nbformat

    return "\n".join(
        cell.source
        for name in ("08_study", "08_study_evidence")
        for cell in nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).cells
        if cell_type is None or cell.cell_type == cell_type
    )


@pytest.fixture(scope="module")
def open_study(tmp_path_factory):
    """A tiny open study run in a scratch folder, each seed tested on sets of its own as in
    version 3 (as chapters 8 and 8.1 run at their smoke profile), and its terminal report."""
    profile = dataclasses.replace(TINY, per_seed_test=True)
    folder = tmp_path_factory.mktemp("open-study")
    runner.run_study(None, profile, folder, progress=False, threads=1)
    printed = text.print_report(profile, folder)
    loaded, _ = analysis.load_study(profile, folder)
    return profile, loaded, printed


def test_the_report_and_the_chapters_write_each_shared_sentence_once(printed_report, open_study):
    from rvit.study.design import study_gate

    profile, loaded, printed = open_study
    readings = analysis.analyse_study(loaded)
    notes = analysis.inference_notes(readings, len(profile.seeds))
    cost = analysis.attention_cost(ROOT / "results" / "bench")
    retest = text.retest_lines(loaded)
    said = {
        "simulated_aa_sentence": (text.simulated_aa_sentence(notes), printed),
        "aa_sentence": (text.aa_sentence(analysis.aa_control(loaded), notes), printed),
        "sanity_sentence": (text.sanity_sentence(readings), printed),
        "gate_sentence": (
            text.gate_sentence(analysis.gate_rows(loaded), notes, study_gate(profile)),
            printed,
        ),
        "retest_lines": (retest[0] if retest else "", printed),
        "deviation_lines": (text.deviation_lines(profile)[0], printed),
        # the open report reads the attention benchmark of its results folder; the book's has it
        "attention_growth": (text.attention_growth(cost), printed_report),
    }
    assert set(said) == set(SHARED_SENTENCES)
    for name, (sentence, report) in said.items():
        assert _words(sentence) in _words(report), name  # the report's line is the sentence
    # the function each chapter calls says the same sentence
    assert text.retest_sentence(loaded) == (retest[0] if retest else text.retest_sentence({}))
    assert text.deviation_lines(profile)[0] in text.deviations_markdown(profile)
    assert text.attention_growth(cost) in text.attention_complexity(None, cost, 16)
    code = _chapter_source("code")
    for name in SHARED_SENTENCES.values():
        assert f"text.{name}(" in code, f"the chapters do not quote text.{name}"
    chapters = _chapter_source()
    for words in (
        "simulated nulls",
        "committed seeds",
        "Time grows",
        "sign-flip p-value of",
        "sanity checks hold",
        "configurations with results pass",
        "Second test set (a check",
        "none recorded",
    ):
        assert words not in chapters, f"a chapter writes {words!r} itself"


def test_the_study_chapters_write_no_sentence_that_depends_on_results():
    """What depends on results is glued from rvit.study.text; the chapters' markdown states
    none of version 2's verdicts, and none of its wrong sentences about the order of events."""
    flat = " ".join(_chapter_source("markdown").split())
    for words in (
        "before the present runs",
        "nothing learned",
        "beats the image-trained models",
        "pixel baseline still beats",
        "holds for large frames",
        "mostly slows learning down",
    ):
        assert words not in flat, words


def test_the_seeds_are_too_few_by_one_test_everywhere():
    _, readings = analysis.study_results("book")
    notes = analysis.inference_notes(readings, 10)
    assert notes["few_seeds"] == (notes["seeds"] < notes["seeds_needed_family"])
    for few in (True, False):
        told = {**notes, "few_seeds": few}
        assert ("no claim" in text.few_seeds_sentence(told)) is few
        assert ("too few" in text.budget_sentence(told)) is few
    few = analysis.inference_notes(readings, 3)
    assert few["few_seeds"] and "no claim" in text.few_seeds_sentence(few)


def test_the_pseudo_video_note_follows_the_learning_gate(printed_report):
    results = analysis.load_experiment("temporal_features", "book")
    passed = analysis.gate_check(results)["pseudo_video"]["passed"]
    note = text.pseudo_video_note(results)
    assert ("did not learn" in note) is not passed
    line = next(ln for ln in printed_report.splitlines() if "temporal_features/pseudo_video" in ln)
    assert line.split()[-1] == ("pass" if passed else "FAIL")
    slow = text.slow_settings({"temporal_features": results}, ["temporal_features"])
    assert (results.experiment.label("pseudo_video") in slow) is not passed
