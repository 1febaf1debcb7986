"""Per-video outcomes in the study's results, and evaluation sets drawn afresh for each seed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rvit.data import synthetic
from rvit.study import outcomes, runner, store
from rvit.study.datasets import PER_SEED_BASE, build_eval_set, eval_data_seed
from rvit.study.registry import PROFILES, get_experiment

ROOT = Path(__file__).resolve().parents[1]

# smoke-sized models and test sets, few training samples: a run takes a fraction of a second
SMALL = dataclasses.replace(
    PROFILES["smoke"], train_samples=16, test_samples=24, batch_size=8, seeds=(0,)
)
AGGREGATES = ("top1", "appearance", "motion", "online", "per_class")
PAIRS = ("motion_pair", "motion_direction")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list[dict]:
    """The records of a small run of two experiments: videos of 2 to 8 frames, the retention probe,
    and still-image evaluation sets (``fit_*`` of the image-trained configurations)."""
    folder = tmp_path_factory.mktemp("results")
    runner.run_study(
        ["recurrent_dropout", "video_length"], SMALL, folder, progress=False, threads=1
    )
    paths = sorted(folder.glob("*/*.json"))
    assert paths
    return [json.loads(path.read_text()) | {"_path": str(path)} for path in paths]


def _evaluations(record: dict) -> list[tuple[str, dict]]:
    return [(name, spec) for name, spec in record["configuration"]["evals"].items()]


def test_outcomes_reproduce_the_stored_aggregates_exactly(results):
    kinds = set()
    for record in results:
        for name, spec in _evaluations(record):
            stored = record["metrics"][name]
            again = outcomes.recompute(record, name)
            for key in AGGREGATES:
                assert again[key] == stored[key], (record["_path"], name, key)
            n = stored["videos"]
            assert outcomes.targets(record, name).shape == (n,)
            assert outcomes.correct(record, name).mean() == stored["top1"]
            masks = outcomes.group_masks(record, name)
            assert not (masks["appearance"] & masks["motion"]).any()
            assert (masks["appearance"] | masks["motion"]).all()
            frames = outcomes.frame_correct(record, name)
            if spec["modality"] == "image":
                kinds.add("image")
                assert "frame_predictions" not in stored["outcomes"]
                assert frames.shape == (n, 1) and not any(k in stored for k in PAIRS)
                assert np.isnan(outcomes.direction_hits(record, name)).all()
                continue
            kinds.add(f"video{spec['frames']}")
            assert frames.shape == (n, spec["frames"])
            assert frames.mean(axis=0).tolist() == stored["online"]
            assert (frames[:, -1] == outcomes.correct(record, name)).all()
            for key in PAIRS:
                assert again[key] == stored[key], (record["_path"], name, key)
            direction = outcomes.direction_hits(record, name)
            assert (np.isnan(direction) == masks["appearance"]).all()  # defined for pairs only
            assert np.nanmean(direction) == stored["motion_direction"]
    assert kinds >= {"image", "video2", "video4", "video6", "video8"}


def test_outcomes_are_compact(results):
    """A few bytes per video, on one line per field: measured, 4 per still image and 10 + 2 per
    frame per video (26 at 8 frames), plus about 320 per evaluation (the class names)."""
    for record in results:
        record = {k: v for k, v in record.items() if k != "_path"}
        text = runner.json_text(record)
        assert json.loads(text) == record
        without = json.loads(text)
        videos = frames = lines = 0
        evaluations = _evaluations(record)
        for name, _ in evaluations:
            stored = without["metrics"][name].pop("outcomes")
            videos += len(stored["targets"])
            frames += int(outcomes.lengths(record, name).sum())
            lines += len(stored) + 2  # one line per field, and the braces
        bare = runner.json_text(without)
        assert text.count("\n") - bare.count("\n") == lines
        assert len(text) - len(bare) < 350 * len(evaluations) + 12 * videos + 3 * frames


def test_a_result_without_outcomes_says_it_predates_them(results):
    committed = ROOT / "results" / "attention" / "paper__seed0.json"
    if committed.exists():
        old = json.loads(committed.read_text())
        assert not outcomes.has_outcomes(old, "test")
        with pytest.raises(outcomes.MissingOutcomesError, match=r"'test' of result .*predates"):
            outcomes.correct(old, "test")
        # it stays the closed book profile's record
        exp = get_experiment("attention", "book")
        assert store.match_result(old, exp.configs["paper"], 0, "book") == ""
    record = dict(results[0])
    name = next(iter(record["configuration"]["evals"]))
    metrics = json.loads(json.dumps(record["metrics"]))
    del metrics[name]["outcomes"]
    for read in (outcomes.targets, outcomes.correct, outcomes.frame_correct, outcomes.recompute):
        with pytest.raises(outcomes.MissingOutcomesError, match=f"'{name}'.*predates"):
            read(metrics, name)
    with pytest.raises(outcomes.MissingOutcomesError, match="no evaluation 'nope'"):
        outcomes.predictions(record, "nope")
    failed = {"test": {"error": "the frame size does not fit", "chance": 0.1}}
    with pytest.raises(outcomes.MissingOutcomesError, match="failed.*does not fit"):
        outcomes.group_masks(failed, "test")


def test_the_direction_is_stored_for_motion_pair_videos_only():
    from rvit.evaluate import VideoEvalResult

    a, b = (synthetic.CLASSES.index(name) for name in synthetic.MOTION_PAIRS[0])
    logits = torch.zeros(3, 2, len(synthetic.CLASSES))
    logits[0, -1, b] = logits[1, -1, b] = logits[2, -1, 1] = 1.0  # a: wrong way, b: right way
    result = VideoEvalResult(
        classes=list(synthetic.CLASSES),
        targets=[a, b, 0],
        predictions=[b, b, 1],
        lengths=[2, 2, 2],
        frame_predictions=[[a, b], [b, b], [0, 1]],
        top1=1 / 3,
        top5=1.0,
        top5_k=5,
        online=[],
        frame_logits=list(logits),
    )
    stored = runner.video_outcomes(result)
    assert stored["direction"] == [0, 1, None]
    assert stored["frame_predictions"] == [[a, b], [b, b], [0, 1]]
    assert "frame_predictions" not in runner.video_outcomes(result, still=True)
    again = outcomes.recompute({"v": {"outcomes": stored}}, "v")
    assert again["motion_direction"] == 0.5 and again["motion_pair"] == 1.0
    assert again["online"] == [1.0, 1 / 3] and again["appearance"] == 0.0


def test_motion_pair_names_the_pair_whatever_its_direction():
    classes = list(synthetic.CLASSES)
    sit, stand = (classes.index(name) for name in synthetic.MOTION_PAIRS[0])
    up, down = (classes.index(name) for name in synthetic.MOTION_PAIRS[1])
    other = classes.index(synthetic.APPEARANCE_CLASSES[0])
    stored = {
        "classes": classes,
        # sit -> stand: the pair, the wrong way round; sit -> sit; stand -> down: another pair;
        # up -> down: the pair; an appearance video, right or wrong, is not counted
        "targets": [sit, sit, stand, up, other, other],
        "predictions": [stand, sit, down, down, other, up],
    }
    metrics = {"v": {"outcomes": stored}}
    np.testing.assert_array_equal(
        outcomes.pair_hits(metrics, "v"), [1.0, 1.0, 0.0, 1.0, np.nan, np.nan]
    )
    assert outcomes.motion_pair(metrics, "v") == 0.75
    # the per-video outcomes behind each quantity, NaN where it does not count
    np.testing.assert_array_equal(outcomes.per_video(metrics, "v", "top1"), [0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(
        outcomes.per_video(metrics, "v", "appearance"), [np.nan] * 4 + [1.0, 0.0]
    )
    np.testing.assert_array_equal(
        outcomes.per_video(metrics, "v", "motion"), [0.0, 1.0, 0.0, 0.0, np.nan, np.nan]
    )
    assert np.isnan(outcomes.per_video(metrics, "v", "motion_direction")).all()  # none stored
    with pytest.raises(ValueError, match="unknown per-video quantity 'top5'"):
        outcomes.per_video(metrics, "v", "top5")
    # with a stored direction the recomputed aggregate is the same share
    stored["direction"] = [0, 1, 1, 0, None, None]
    assert outcomes.recompute(metrics, "v")["motion_pair"] == 0.75
    no_pairs = {"v": {"outcomes": {**stored, "targets": [other] * 6, "direction": [None] * 6}}}
    assert outcomes.motion_pair(no_pairs, "v") is None


def test_frame_correct_pads_videos_of_unequal_length():
    metrics = {
        "v": {
            "outcomes": {
                "classes": list(synthetic.CLASSES),
                "targets": [0, 1],
                "predictions": [0, 2],
                "frame_predictions": [[1, 0], [1, 1, 2]],
                "direction": [None, None],
            }
        }
    }
    with pytest.raises(ValueError, match="pad=True"):
        outcomes.frame_correct(metrics, "v")
    padded = outcomes.frame_correct(metrics, "v", pad=True)
    np.testing.assert_array_equal(padded, [[0, 1, np.nan], [1, 1, 0]])
    assert outcomes.recompute(metrics, "v")["online"] == [0.5, 1.0, 0.0]
    assert outcomes.lengths(metrics, "v").tolist() == [2, 3]


# ------------------------------------------------------------------------------------------------
# evaluation sets drawn afresh for each seed


def test_fixed_test_sets_are_unchanged_by_default():
    for name in ("smoke", "book", "full"):
        assert PROFILES[name].per_seed_test is False
        for config in get_experiment("recurrent_dropout", name).configs.values():
            for spec in config.evals.values():
                assert "per_seed" not in spec
                expected = 3 if spec["seed"] is None else spec["seed"]
                assert eval_data_seed(spec, 3) == expected


def test_per_seed_test_sets_differ_between_seeds_and_are_deterministic():
    profile = dataclasses.replace(SMALL, per_seed_test=True)
    evals = get_experiment("recurrent_dropout", profile).configs["video_d0"].evals
    assert evals["fit_train"]["seed"] is None and "per_seed" not in evals["fit_train"]
    assert evals["test"]["per_seed"] and evals["fit_val"]["per_seed"]
    spec = evals["test"]
    assert eval_data_seed(spec, 0) == profile.test_seed + PER_SEED_BASE
    assert eval_data_seed(spec, 7) == profile.test_seed + 8 * PER_SEED_BASE
    first, second = build_eval_set(spec, 0), build_eval_set(spec, 1)
    assert first.key != second.key and first.targets == second.targets  # balanced labels
    assert not torch.equal(first[0][0], second[0][0])
    fresh = synthetic.SyntheticActions(
        "test",
        "video",
        spec["num_samples"],
        spec["frames"],
        spec["image_size"],
        eval_data_seed(spec, 1),
        spec["domain_gap"],
        spec["difficulty"],
        cache=False,
    )
    assert all(torch.equal(fresh[i][0], second[i][0]) for i in (0, 5))
    fixed = build_eval_set({k: v for k, v in spec.items() if k != "per_seed"}, 0)
    assert fixed.key not in (first.key, second.key)


def test_a_per_seed_set_that_would_be_the_training_set_is_refused(monkeypatch):
    spec = get_experiment("aa_control", dataclasses.replace(SMALL, per_seed_test=True))
    spec = spec.configs["image"].evals["test"]
    monkeypatch.setattr(synthetic, "split_key", lambda split, seed: 7)
    with pytest.raises(ValueError, match="would draw the training samples of run seed 3"):
        build_eval_set(spec, 3)


def _bases(keys: np.ndarray, streams: tuple[str, ...]) -> np.ndarray:
    return np.asarray([[synthetic._stream_base(int(k), s) for s in streams] for k in keys])


def test_per_seed_test_sets_share_no_sample_with_any_training_set():
    """Sample ``i`` of a set is a function of the set's key and ``i`` alone, each random number
    ``mix(i ^ base(key, stream))``: two sets can share a sample only if, for every stream, the two
    bases differ by ``i ^ j``, which is below 2**20 for sets of under a million samples. For the
    test and validation sets of run seeds 0-999 one stream of each pair of sets, against each
    other and against the training sets of seeds 0-999, differs above that."""
    seeds = range(1000)
    spec_seeds = [("test", PROFILES["book"].test_seed), ("val", PROFILES["book"].test_seed + 1)]
    evals = np.asarray(
        [
            synthetic.split_key(split, eval_data_seed({"seed": s, "per_seed": True}, r))
            for split, s in spec_seeds
            for r in seeds
        ]
        + [synthetic.split_key(split, s) for split, s in spec_seeds]  # the fixed sets
    )
    train = np.asarray([synthetic.split_key("train", r) for r in seeds])
    assert len(set(evals.tolist())) == len(evals)
    assert not set(evals.tolist()) & set(train.tolist())
    streams = synthetic._SAMPLE_SCALARS[:4]
    eval_bases, train_bases = _bases(evals, streams), _bases(train, streams)
    apart = (eval_bases[:, None, :] ^ train_bases[None, :, :]) >= 2**20
    assert apart.any(axis=-1).all()
    apart = (eval_bases[:, None, :] ^ eval_bases[None, :, :]) >= 2**20
    np.fill_diagonal(apart[..., 0], True)
    assert apart.any(axis=-1).all()


def test_a_per_seed_study_runs_resumes_and_stores_its_specification(tmp_path):
    profile = dataclasses.replace(SMALL, per_seed_test=True)
    first = runner.run_study(["aa_control"], profile, tmp_path, progress=False, threads=1)
    assert first.trained == 2  # twice the profile's seeds
    records = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*/*.json"))]
    assert all(r["configuration"]["evals"]["test"]["per_seed"] for r in records)
    assert (
        records[0]["metrics"]["test"]["outcomes"]["targets"]
        == (records[1]["metrics"]["test"]["outcomes"]["targets"])
    )
    again = runner.run_study(["aa_control"], profile, tmp_path, progress=False, threads=1)
    assert again.trained == 0 and again.skipped == 2
    # the same registry with fixed test sets does not accept these results
    fixed = dataclasses.replace(profile, per_seed_test=False)
    config = get_experiment("aa_control", fixed).configs["image"]
    assert "evaluation 'test'" in store.match_result(records[0], config, 0, fixed)
