"""The pixel nearest-neighbour baseline and the bar it sets in the study's report."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rvit.study import analysis
from rvit.study.experiments import get_experiment
from rvit.study.pixel_nn import classify_videos, nearest_still, pixel_nn_metrics
from rvit.study.profiles import PROFILES

TINY = dataclasses.replace(PROFILES["smoke"], train_samples=24, test_samples=12)


def test_nearest_still_is_euclidean():
    stills = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]])
    frames = torch.tensor([[0.1, 0.2], [0.9, 1.2], [2.0, 0.1], [1.6, 0.0]])
    # [1.6, 0]: distance^2 to [1, 1] is 1.36, to [3, 0] 1.96, to [0, 0] 2.56
    assert nearest_still(stills, frames).tolist() == [0, 1, 2, 1]
    with pytest.raises(ValueError, match="values each"):
        nearest_still(stills, torch.zeros(1, 3))


def test_videos_take_the_majority_vote_and_ties_the_smallest_class():
    stills = torch.tensor([[0.0], [10.0], [20.0]])
    labels = [2, 0, 1]
    videos = [
        torch.tensor([[0.1], [0.2], [9.9]]),  # classes 2, 2, 0 -> 2
        torch.tensor([[10.1], [19.9]]),  # 0, 1: a tie -> 0
        torch.tensor([[19.0]]),  # 1
    ]
    assert classify_videos(stills, labels, videos, 3).tolist() == [2, 0, 1]
    assert classify_videos(stills, labels, [], 3).tolist() == []


def test_pixel_nn_metrics_on_a_study_configuration():
    config = get_experiment("temporal_features", TINY).configs["image"]
    metrics = pixel_nn_metrics(config.data, config.train, config.evals["test"], 0)
    assert metrics["videos"] == TINY.test_samples and metrics["stills"] == TINY.train_samples
    assert 0.0 <= metrics["top1"] <= 1.0 and metrics["chance"] > 0
    assert pixel_nn_metrics(config.data, config.train, config.evals["test"], 0) == metrics
    with pytest.raises(ValueError, match="not still images"):
        video = get_experiment("temporal_features", TINY).configs["video"]
        pixel_nn_metrics(video.data, video.train, video.evals["test"], 0)


def test_pixel_nn_scores_held_out_stills_and_stores_outcomes():
    profile = dataclasses.replace(TINY, per_seed_test=True)  # every configuration has fit_val
    config = get_experiment("temporal_features", profile).configs["image"]
    assert config.evals["fit_val"]["modality"] == "image"
    metrics = pixel_nn_metrics(config.data, config.train, config.evals["fit_val"], 1)
    stored = metrics["outcomes"]
    assert metrics["videos"] == len(stored["targets"]) == len(stored["predictions"])
    hits = [p == t for p, t in zip(stored["predictions"], stored["targets"], strict=True)]
    assert metrics["top1"] == sum(hits) / len(hits)
    # a held-out still is a video of one frame: its class is its nearest training still's
    stills = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    assert classify_videos(stills, [1, 0], [torch.tensor([[4.0, 4.5]])], 2).tolist() == [0]


def test_report_reads_the_models_against_the_pixel_bar():
    loaded = {"temporal_features": analysis.load_experiment("temporal_features", "book")}
    readings, baseline = analysis.pixel_bar_readings(loaded)
    assert [r.label for r in readings] == ["RViT above pixel 1-NN", "FrameViT above pixel 1-NN"]
    assert sorted(baseline) == sorted(loaded["temporal_features"].runs["image"])
    for result in readings:
        assert result.seeds == len(baseline) and not result.primary and not result.gate
        assert result.direction == 1 and result.interval is not None
    for seed, metrics in baseline.items():
        rvit = loaded["temporal_features"].runs["image"][seed]["test"]["top1"]
        assert readings[0].values[sorted(baseline).index(seed)] == pytest.approx(
            rvit - metrics["test"]["top1"]
        )
    assert analysis.pixel_bar_readings({}) == ([], {})
