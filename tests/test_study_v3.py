"""The analysis of an open study version (3 on): readings of per-video outcomes by the hierarchical
bootstrap, the t path where there are none, sanity checks outside Holm's family, the learning gate
with its interval over seeds, the pixel baseline on held-out stills, and the report's sections.

The results are made up: each run's per-video outcomes drawn at a chosen accuracy, its aggregates
computed from them as the runner stores them (:func:`rvit.study.outcomes.recompute`)."""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Callable

import numpy as np
import pytest

from rvit.data.synthetic import CLASSES, MOTION_PAIRS
from rvit.study import analysis, outcomes, stats, text
from rvit.study.bootstrap import hierarchical_bootstrap
from rvit.study.registry import PROFILES, get_experiment

# smoke-sized, but drawing each seed's evaluation sets afresh, as the v3 profile does
OPEN = dataclasses.replace(
    PROFILES["smoke"], name="open-test", per_seed_test=True, seeds=tuple(range(8)), test_samples=48
)
FIXED = dataclasses.replace(OPEN, name="fixed-test", per_seed_test=False)  # one test set for all

_PAIRED = {name for pair in MOTION_PAIRS for name in pair}

Accuracy = Callable[[str, str, int], float]


def _evaluation(spec: dict, seed: int, draw: str, accuracy: float) -> dict:
    """An evaluation's metrics: video ``i`` of class ``i % K`` is right when ``u_i < accuracy``.

    ``u`` depends on the seed and ``draw`` only, so configurations evaluated on the same draw are
    right on nested sets of videos (paired, as real runs on the same videos are)."""
    n, k = spec["num_samples"], len(CLASSES)
    targets = np.arange(n) % k
    gen = np.random.default_rng([seed, zlib.crc32(draw.encode())])
    u = gen.random(n)
    wrong = (targets + 1 + gen.integers(0, k - 1, n)) % k
    predictions = np.where(u < accuracy, targets, wrong)
    stored = {
        "classes": list(CLASSES),
        "targets": targets.tolist(),
        "predictions": predictions.tolist(),
    }
    if spec["modality"] == "video":
        stored["frame_predictions"] = [[int(p)] * 2 for p in predictions]
        stored["direction"] = [
            int(v < accuracy) if CLASSES[t] in _PAIRED else None
            for t, v in zip(targets, gen.random(n), strict=True)
        ]
    aggregates = outcomes.recompute({"e": {"outcomes": stored}}, "e")
    return {**aggregates, "videos": n, "chance": 1 / k, "outcomes": stored}


def _fake(
    name: str,
    profile=OPEN,
    accuracy: Accuracy = lambda config, evaluation, seed: 0.95,
    draws: dict[str, str] | None = None,
) -> analysis.ExperimentResults:
    """Made-up results of every configuration and seed of experiment ``name``; ``draws`` maps an
    evaluation to another whose videos' draws it reuses."""
    exp = get_experiment(name, profile)
    runs: dict = {}
    for config_id, config in exp.configs.items():
        for seed in exp.seeds:
            metrics = {
                e: _evaluation(spec, seed, (draws or {}).get(e, e), accuracy(config_id, e, seed))
                for e, spec in config.evals.items()
            }
            metrics["train"] = {"top1": 0.9, "log10_flops": 9.0 + 0.1 * ("video" in config_id)}
            runs.setdefault(config_id, {})[seed] = metrics
    return analysis.ExperimentResults(exp, runs)


def _reading(results: analysis.ExperimentResults, label: str):
    return next(r for r in results.experiment.readings if r.label == label)


def _without_outcomes(results: analysis.ExperimentResults) -> analysis.ExperimentResults:
    runs = json.loads(json.dumps(results.runs))
    for by_seed in runs.values():
        for metrics in by_seed.values():
            for entry in metrics.values():
                entry.pop("outcomes", None)
    runs = {c: {int(s): m for s, m in by_seed.items()} for c, by_seed in runs.items()}
    return analysis.ExperimentResults(results.experiment, runs)


def _image_better(config: str, evaluation: str, seed: int) -> float:
    if evaluation.startswith("fit"):
        return 0.97
    return 0.7 if config == "image" else 0.5


# ------------------------------------------------------------------------------------------------
# which inference


def test_video_readings_take_the_bootstrap_and_others_the_t_path():
    results = _fake("temporal_features", accuracy=_image_better)
    reading = _reading(results, "overall")
    boot = analysis.analyse_reading(reading, results)
    assert boot.method == analysis.BOOTSTRAP and boot.bootstrapped
    assert boot.to_dict()["method"] == analysis.BOOTSTRAP
    # the seeds' effects are the stored metrics', and the estimate their mean
    assert boot.interval.mean == pytest.approx(np.mean(boot.values), abs=1e-12)
    assert boot.interval.level == stats.LEVEL and boot.p == boot.p_diff
    assert boot.p >= 2 / (analysis.BOOTSTRAP_DRAWS + 1)
    assert analysis.analyse_reading(reading, results).interval == boot.interval  # deterministic

    # the same numbers without per-video outcomes (the closed book profile's kind): t over seeds
    bare = _without_outcomes(results)
    t_path = analysis.analyse_reading(reading, bare)
    assert t_path.method == analysis.T_OVER_SEEDS and not t_path.bootstrapped
    assert t_path.values == pytest.approx(boot.values)
    _, _, _, test_var = analysis._contrast(reading.contrast, bare.runs)
    assert t_path.interval == stats.t_interval(t_path.values, stats.LEVEL, test_var)
    assert t_path.p == stats.sign_flip_p(t_path.values)

    # outcomes, but one test set shared by every seed: a resampling within seeds cannot see its
    # draw, so the t path (with the test-set variance) reads it
    shared = _fake("temporal_features", FIXED, _image_better)
    assert analysis.analyse_reading(reading, shared).method == analysis.T_OVER_SEEDS

    # an exact reading (FLOPs counted from the model) is judged by its sign
    flops = analysis.analyse_reading(_reading(_fake("efficiency"), "training cost"), results)
    assert flops.method == analysis.EXACT and flops.p is None


def test_an_interval_covers_a_known_difference_and_equivalence_uses_the_bootstrap():
    # image is right on every video video is right on, and on 20 % more of them (in expectation)
    results = _fake("temporal_features", accuracy=_image_better)
    result = analysis.analyse_reading(_reading(results, "overall"), results)
    assert result.interval.low < 0.2 < result.interval.high
    assert result.interval.low > 0 and result.verdict == stats.CONTRADICTED  # claimed negative
    # the interval and p-value are the studentized bootstrap's, from the fixed seed
    assert result.p == pytest.approx(result.p_diff)
    # no difference at all: the paired bootstrap gives exactly zero
    same = _fake("temporal_features", accuracy=lambda c, e, s: 0.8)
    null = analysis.analyse_reading(_reading(same, "overall"), same)
    assert null.interval.low == null.interval.high == 0.0 and null.p == 1.0
    # equivalence: the bootstrap's TOST, its 90 % interval inside the margin
    equal = analysis.analyse_reading(_reading(same, "as well as per-frame"), same)
    assert equal.method == analysis.BOOTSTRAP and equal.verdict == stats.EQUIVALENT
    assert equal.tost_interval.level == pytest.approx(1 - 2 * stats.ALPHA)
    assert equal.p <= stats.ALPHA
    apart = analysis.analyse_reading(_reading(results, "as well as per-frame"), results)
    assert apart.p > stats.ALPHA and apart.verdict != stats.EQUIVALENT


def test_strata_are_averaged_within_each_seed_in_the_bootstrap():
    def paper_better(config: str, evaluation: str, seed: int) -> float:
        return {"paper+conv3d": 0.6, "paper": 0.5, "variant": 0.9, "variant+conv2d": 0.5}.get(
            config, 0.95
        )

    results = _fake("patch_embedding", accuracy=paper_better)
    result = analysis.analyse_reading(_reading(results, "video alignment"), results)
    assert result.method == analysis.BOOTSTRAP and len(result.strata) == 2
    # one value per seed, the mean of the two strata's
    expected = [(a + b) / 2 for a, b in zip(*(s["values"] for s in result.strata), strict=True)]
    assert result.values == pytest.approx(expected)
    assert result.seeds == len(OPEN.seeds)
    assert result.interval.mean == pytest.approx(np.mean(expected), abs=1e-12)


def test_evaluations_of_one_draw_are_paired_and_other_sets_resampled_apart():
    # len4 reuses the draws of len8 and fit_val those of fit_train, outcome for outcome
    results = _fake("video_length", draws={"len4": "len8"}, accuracy=lambda c, e, s: 0.6)
    seed = OPEN.seeds[0]
    keys = [("image", "len8", "top1"), ("image", "len4", "top1"), ("framevit", "len8", "top1")]
    layout = analysis._seed_outcomes(results, seed, keys)
    n = OPEN.length_samples
    assert layout.n_videos == n  # one draw: the same samples at two lengths, paired by item
    # a length variant of the test set shows the same samples, so it is paired with it: identical
    # outcomes give exactly zero in every draw
    paired = hierarchical_bootstrap(
        [analysis._seed_outcomes(results, s, keys[:2]) for s in OPEN.seeds],
        [(1.0, keys[0]), (-1.0, keys[1])],
        n_boot=999,
    )
    assert paired.estimate == 0.0 and np.ptp(paired.draws) == 0.0
    same = analysis.analyse_reading(_reading(results, "image-trained over length"), results)
    assert same.method == analysis.BOOTSTRAP
    assert same.interval.low == same.interval.high == 0.0

    dropout = _fake("recurrent_dropout", draws={"fit_val": "fit_train"})
    keys = [("image_d0", "fit_train", "top1"), ("image_d0", "fit_val", "top1")]
    layout = analysis._seed_outcomes(dropout, seed, keys)
    spec = dropout.experiment.configs["image_d0"].evals
    assert layout.n_videos == spec["fit_train"]["num_samples"] + spec["fit_val"]["num_samples"]
    values = layout.values[keys[0]], layout.values[keys[1]]
    assert np.isnan(values[0]).sum() == spec["fit_val"]["num_samples"]  # each on its own rows
    # held-out and training sets are different draws: resampled apart, so the same outcomes on
    # both give an observed effect of zero, but draws that differ
    apart = hierarchical_bootstrap(
        [analysis._seed_outcomes(dropout, s, keys) for s in OPEN.seeds],
        [(1.0, keys[0]), (-1.0, keys[1])],
        n_boot=999,
    )
    assert apart.estimate == 0.0 and np.ptp(apart.draws) > 0.01


def test_motion_pair_comes_from_the_outcomes_when_it_is_not_stored():
    results = _fake("temporal_features", accuracy=_image_better)
    reading = _reading(results, "motion pairs")
    stored = analysis.analyse_reading(reading, results)
    for by_seed in results.runs.values():
        for metrics in by_seed.values():
            del metrics["test"]["motion_pair"]
    again = analysis.analyse_reading(reading, results)
    assert again.values == pytest.approx(stored.values) and again.interval == stored.interval
    metrics = results.runs["image"][0]
    assert analysis.get_metric(metrics, "test.motion_pair") == outcomes.motion_pair(metrics, "test")
    del metrics["test"]["outcomes"]
    with pytest.raises(outcomes.MissingOutcomesError, match=r"run 'image' seed 0.*'test'"):
        analysis.analyse_reading(reading, results)
    assert analysis.get_metric({"test": {"error": "failed"}}, "test.motion_pair") is None
    assert analysis.get_metric({}, "test.motion_pair") is None


# ------------------------------------------------------------------------------------------------
# sanity checks, the gate, the pixel baseline


def test_sanity_checks_stay_outside_holm_and_never_decide_a_claim():
    def direction_at_chance(config: str, evaluation: str, seed: int) -> float:
        return 0.3 if config == "image" and evaluation == "test" else 0.95

    results = _fake("temporal_features", accuracy=direction_at_chance)
    readings = analysis.judge(analysis.analyse(results))
    check = next(r for r in readings if r.label == "motion direction")
    assert check.sanity and check.role == "sanity check" and not check.primary
    assert check.to_dict()["role"] == "sanity check"
    assert check.p_holm is None and check.p is not None
    assert analysis.sanity_status(check) == analysis.SANITY_HOLDS  # the image model is worse
    assert check.to_dict()["sanity"] == analysis.SANITY_HOLDS
    primaries = [r for r in readings if r.primary]
    assert all(r.p_holm is not None for r in primaries)
    notes = analysis.inference_notes(readings, len(OPEN.seeds))
    assert notes["family"] == len(primaries) and notes["sanity"] == 1
    assert notes["bootstrapped"] == len(primaries) and notes["sanity_failed"] == 0
    # the claim's verdict comes from its primary reading, the sanity check is listed apart
    claims = analysis.claim_table(readings).set_index("claim")
    row = claims.loc["ins.efficiency.weakness"]
    assert row.label == "motion pairs" and "motion direction" not in row.secondary
    assert row.sanity == "motion direction: holds" and row.method == analysis.BOOTSTRAP
    # the other way round, what holds by construction fails: the set-up is broken
    flipped = _fake(
        "temporal_features", accuracy=lambda c, e, s: 0.3 if (c, e) == ("video", "test") else 0.95
    )
    broken = analysis.analyse_reading(_reading(flipped, "motion direction"), flipped)
    assert analysis.sanity_status(broken) == analysis.SANITY_FAILS
    assert any("set-up is broken" in line for line in text.sanity_lines([broken]))


def test_the_gate_gives_its_mean_and_interval_over_seeds():
    def video_slow(config: str, evaluation: str, seed: int) -> float:
        if config == "video" and evaluation == "fit_val":
            return 0.6 + 0.02 * seed  # below 90 % of the video ceiling
        return 0.95

    results = _fake("temporal_features", accuracy=video_slow)
    checks = analysis.gate_check(results)
    video = checks["video"]
    accs = [m["fit_val"]["top1"] for m in results.runs["video"].values()]
    interval = stats.t_interval(accs)
    assert video["metric"] == "fit_val.top1"
    assert video["metric_name"] == "held-out top-1 in eval mode"
    assert (video["low"], video["train"], video["high"]) == pytest.approx(
        (interval.low, interval.mean, interval.high)
    )
    assert video["seeds"] == len(OPEN.seeds) and video["threshold"] == pytest.approx(0.9)
    assert not video["passed"] and checks["image"]["passed"]
    assert checks["image"]["share"] == pytest.approx(checks["image"]["train"] / 0.75)
    result = analysis.analyse_reading(_reading(results, "overall"), results)
    assert result.verdict == stats.NOT_TESTABLE and "video reaches" in result.gate[0]
    # every configuration of every experiment, one without results included
    partial = analysis.ExperimentResults(
        results.experiment, {c: r for c, r in results.runs.items() if c != "framevit"}
    )
    rows = analysis.gate_rows({"temporal_features": partial})
    assert [r["config"] for r in rows] == list(results.experiment.configs)
    missing = next(r for r in rows if r["config"] == "framevit")
    assert missing["passed"] is None and missing["seeds"] == 0
    assert analysis.gate_metric_name("train.top1") == "training top-1"


def test_the_pixel_baseline_is_read_on_test_videos_and_held_out_stills():
    small = dataclasses.replace(OPEN, seeds=(0, 1, 2))
    results = _fake("temporal_features", small, _image_better)
    bar = analysis.pixel_bar({"temporal_features": results})
    assert [r.label for r in bar["readings"]] == [
        "RViT above pixel 1-NN",
        "FrameViT above pixel 1-NN",
    ]
    held = bar["held_out"]
    assert held["eval"] == "fit_val" and len(held["top1"]) == 3
    assert [r.label for r in held["readings"]] == [
        "RViT above pixel 1-NN on held-out stills",
        "FrameViT above pixel 1-NN on held-out stills",
    ]
    # the baseline scored every held-out still, and the readings pair it with the models per item
    first = bar["baseline"][0]["fit_val"]
    assert first["videos"] == results.experiment.configs["image"].evals["fit_val"]["num_samples"]
    for r in [*bar["readings"], *held["readings"]]:
        assert r.method == analysis.BOOTSTRAP and not r.primary
    rvit = results.runs["image"][0]["fit_val"]["top1"]
    assert held["readings"][0].values[0] == pytest.approx(rvit - first["top1"])


# ------------------------------------------------------------------------------------------------
# the report


def test_the_report_of_an_open_version_prints_its_sections(monkeypatch, tmp_path):
    small = dataclasses.replace(OPEN, seeds=(0, 1, 2))
    loaded = {
        name: _fake(name, small, _image_better)
        for name in ("temporal_features", "efficiency", "attention")
    }
    monkeypatch.setattr(text, "load_study", lambda profile, results_dir: (loaded, []))
    study = tmp_path / "study"
    printed = text.print_report(small, tmp_path / "results", study)
    flat = " ".join(printed.split())
    for words in (
        "hierarchical bootstrap",
        "interval",
        "Sanity checks",
        "Learning gate: held-out top-1 in eval mode (fit_val.top1)",
        "Pixel baseline",
        "On the held-out stills:",
        "Deviations from the pre-registration (no pre-registration written): none recorded.",
    ):
        assert words in flat, words
    # every claim's primary reading with its interval's kind, every configuration's gate line
    _, readings = loaded, analysis.analyse_study(loaded)
    for r in readings:
        assert r.label in printed
    assert "bootstrap" in printed.split("Comparison table")[1].split("Key insights")[0]
    for name, results in loaded.items():
        for config_id in results.experiment.configs:
            assert f"{name}/{config_id} " in printed
    sanity = printed.split("Sanity checks")[1].split("Secondary readings")[0]
    assert "training cost" in sanity and "motion direction" in sanity
    secondary = printed.split("Secondary readings")[1].split("Learning gate")[0]
    assert "training cost" not in secondary and "complexity" in secondary
    # a recorded deviation is listed
    study.mkdir()
    (study / "deviations-open-test.yaml").write_text(
        "- date: '2026-01-02'\n  what: A reading was reworded.\n  why: Clarity.\n"
        "  registry_hash: " + "a" * 64 + "\n  decided: before results\n"
    )
    lines = text.deviation_lines(small, study)
    assert "1 recorded" in lines[0] and "A reading was reworded. Why: Clarity." in lines[1]


# ------------------------------------------------------------------------------------------------
# chapter 8's sentences about an open version: what exists, and in what order it came about


def test_the_chapters_say_what_exists_of_the_results():
    small = dataclasses.replace(OPEN, seeds=(0, 1, 2))
    complete = _fake("efficiency", small)
    partial = analysis.ExperimentResults(
        complete.experiment, {c: r for c, r in complete.runs.items() if c != "frames"}
    )
    empty = analysis.ExperimentResults(get_experiment("classifier", small), {})
    memory = analysis.ExperimentResults(get_experiment("memory", small), {})
    assert text.experiment_status(complete) == ""
    assert "9 of its 12 results exist" in text.experiment_status(partial)
    assert "none of its" in text.experiment_status(empty)
    assert "bench/length-open-test.json" in text.experiment_status(memory)
    status = text.results_status({"efficiency": partial, "memory": memory}, small)
    assert status.startswith("9 of the 13 results") and "0 of the 2 experiments" in status
    assert "`efficiency` 9 of 12; `memory` 0 of 1" in status
    assert text.results_status({"efficiency": complete}, small).startswith("All 12 results")


def test_the_order_of_events_is_read_from_the_files_alone():
    said = text.pilots_and_preregistration
    assert "before the pre-registration" in said("2026-12-05T23:55:48+00:00", "2026-12-06")
    assert "do not tell which came first" in said("2026-12-06T00:01:00+00:00", "2026-12-06")
    assert "did not choose" in said("2026-12-07T00:01:00+00:00", "2026-12-06")
    registered = dataclasses.replace(OPEN, preregistered=True)
    exp = get_experiment("efficiency", registered)

    def records(*rows):
        return {
            "efficiency": analysis.ExperimentResults(
                exp,
                {},
                [
                    {
                        "registry_hash": h,
                        "provenance": {"created": t, "git": {"dirty": False}},
                    }
                    for t, h in rows
                ],
            )
        }

    none = text.results_origin(records(), registered, "2026-12-06", "a" * 64)
    assert none.startswith("No result of version 3 exists yet")
    later = records(
        ("2026-12-07T01:00:00+00:00", "a" * 64), ("2026-12-08T01:00:00+00:00", "b" * 64)
    )
    origin = text.results_origin(later, registered, "2026-12-06", "a" * 64, ["b" * 64])
    assert "first of the 2 results" in origin and "after the day" in origin
    assert "1 of them record the pre-registered registry hash, 1 a hash" in origin
    early = records(("2026-12-05T01:00:00+00:00", "a" * 64))
    assert "BEFORE" in text.results_origin(early, registered, "2026-12-06", "a" * 64)
    assert "profile `smoke`" in text.results_origin({}, "smoke", "2026-12-06", "a" * 64)


def test_the_pilots_are_read_against_the_gate():
    from rvit.study.design import HELDOUT_GATE

    runs = [
        {"config": "video", "train_samples": 6400, "epochs": 8, "lr": 0.006, "heldout_top1": 1.0},
        {"config": "video", "train_samples": 1600, "epochs": 8, "lr": 0.006, "heldout_top1": 0.08},
        {"config": "image", "train_samples": 6400, "epochs": 8, "lr": 0.006, "heldout_top1": 0.7},
    ]
    said = text.pilot_sentence(runs, HELDOUT_GATE)
    assert said.startswith("2 of the 3 pilots reach")
    assert "RViT on videos reaches it at 6,400 x 8" in said
    assert "stays below it at 1,600 x 8 at learning rate 0.006 (8.0%)" in said
    assert "RViT on stills reaches it" in said


def test_not_testable_claims_are_grouped_by_why():
    from rvit.study.design import HELDOUT_GATE

    def video_slow(config: str, evaluation: str, seed: int) -> float:
        return 0.5 if config == "video" and evaluation == "fit_val" else 0.95

    small = dataclasses.replace(OPEN, seeds=(0, 1, 2))
    loaded = {
        "temporal_features": _fake("temporal_features", small, video_slow),
        "classifier": analysis.ExperimentResults(get_experiment("classifier", small), {}),
    }
    readings = analysis.analyse_study(loaded)
    said = text.not_testable_sentence(analysis.claim_table(readings), readings)
    assert "below the learning gate, `cmp.temporal_features` (1 configuration)" in said
    assert "without results yet, " in said and "`cmp.classifier`" in said
    rows = analysis.gate_rows(loaded)
    need = text.budget_need_sentence(rows, [], HELDOUT_GATE, 6400, 8)
    assert "`temporal_features/video`" in need and "6,400 samples x 8 epochs" in need
    table = text.gate_table(rows)
    assert list(table.gate).count("FAIL") == 1 and "no results" in set(table.gate)


def test_a_failed_sanity_check_is_split_post_hoc_into_parts_that_sum_to_it():
    from rvit.study import posthoc

    def same_gain_everywhere(config: str, evaluation: str, seed: int) -> float:
        if evaluation.startswith("fit"):
            return 0.97
        # more data helps motion and appearance alike: the check's effect is near zero
        return 0.6 + (0.05 * ((seed % 3) - 1) if config.endswith(("12800", "n64")) else 0.0)

    results = _fake("scalability", accuracy=same_gain_everywhere)
    readings = analysis.judge(analysis.analyse(results))
    check = next(r for r in readings if r.sanity)
    assert analysis.sanity_status(check) == analysis.SANITY_FAILS
    assert check.verdict != stats.CONTRADICTED
    sentence = text.sanity_sentence([check])
    assert "does not show" in sentence and "is contradicted" not in sentence
    diagnoses = posthoc.sanity_diagnoses(readings, {"scalability": results})
    assert [c.label for c, _ in diagnoses] == [check.label]
    parts = diagnoses[0][1]
    reading = _reading(results, check.label)
    assert len(parts) == len({t.metric for s in reading.contrast.strata for t in s})
    # the parts keep the check's terms with their signs, so their effects add up to its effect
    total = np.sum([p.values for p in parts], axis=0)
    assert total == pytest.approx(check.values, abs=1e-9)
    assert all(not p.primary and not p.sanity and p.margin for p in parts)
    assert check.label in text.posthoc_paragraph(diagnoses)
    assert len(text.posthoc_frame(diagnoses)) == len(parts)
    assert any("Post hoc, not pre-registered" in line for line in text.posthoc_lines(diagnoses))
    # every check holds: nothing to split, nothing printed
    assert text.posthoc_paragraph([]) == "" and text.posthoc_lines([]) == []
    # a reading of one metric has nothing to split
    strength = _reading(results, "more images help")
    assert {t.metric for s in strength.contrast.strata for t in s} == {"test.top1"}
    assert posthoc.split_by_metric(strength) == []


def test_closing_version_3_keeps_its_registry_and_its_results():
    """Version 3 is closed (its results answer to the code hash that made them, so the package can
    change after it): closing asks nothing new of the registry, so it still hashes to what the
    pre-registration fixed, and every committed result still answers it."""
    from rvit.study.bench import check_bench
    from rvit.study.preregistration import read_preregistration, registry_hash
    from rvit.study.store import ROOT

    v3 = PROFILES["v3"]
    assert v3.closed and v3.version == 3 and v3.commits
    doc = read_preregistration(v3)
    assert registry_hash(v3, doc.smallest_effect) == doc.registry_hash
    reopened = dataclasses.replace(v3, code=None, commits=())
    assert registry_hash(reopened, doc.smallest_effect) == doc.registry_hash
    loaded, problems = analysis.load_study(v3)
    assert problems == []
    assert sum(len(r.records) for r in loaded.values()) > 0
    assert {r.get("code") for res in loaded.values() for r in res.records} == {v3.code}
    # its memory benchmark is checked against the code that made the results, not today's
    status = check_bench("length-v3", ROOT / "results" / "v3" / "bench")
    assert status == "current" or status.startswith("unchecked"), status
