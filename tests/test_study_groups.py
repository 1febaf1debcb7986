"""The study trains the seeds of a configuration together (``Profile.seeds_together``): each seed
gets the numbers of a run of its own, and a resumed study writes what an uninterrupted one wrote."""

import dataclasses
import json

import pytest
import torch

from rvit.study.profiles import get_profile
from rvit.study.runner import run_study
from rvit.study.store import strip_timings

EXPERIMENT = "efficiency"  # stills, frames and videos, RViT and FrameViT: all can train as groups


def _results(folder):
    return {
        p.relative_to(folder).as_posix(): json.loads(p.read_text())
        for p in sorted(folder.glob(f"{EXPERIMENT}/*.json"))
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    smoke = get_profile("smoke")
    out = {}
    for together in (1, 2):
        folder = tmp_path_factory.mktemp(f"together{together}")
        profile = dataclasses.replace(smoke, seeds_together=together)
        run_study([EXPERIMENT], profile, results_dir=folder, progress=False)
        out[together] = (profile, folder, _results(folder))
    return out


def _train_losses(record):
    return [r["train_loss"] for r in record["metrics"]["train"]["history"]]


def test_seeds_trained_together_match_seeds_trained_alone(runs):
    alone, together = runs[1][2], runs[2][2]
    assert alone.keys() == together.keys() and alone
    for name, record in together.items():
        assert record["timings"]["seeds_together"] == [0, 1], name
        assert _train_losses(record) == pytest.approx(_train_losses(alone[name]), abs=1e-4)
        assert record["key"] == alone[name]["key"]


def test_a_resumed_group_rewrites_what_it_wrote(runs):
    profile, folder, first = runs[2]
    lost = sorted(folder.glob(f"{EXPERIMENT}/*__seed1.json"))[0]
    lost.unlink()
    summary = run_study([EXPERIMENT], profile, results_dir=folder, progress=False)
    assert summary.trained == 1
    name = lost.relative_to(folder).as_posix()
    again = json.loads(lost.read_text())
    assert again["timings"]["seeds_together"] == [0, 1]  # retrained with its whole chunk
    assert strip_timings(again["metrics"]) == strip_timings(first[name]["metrics"])


def test_seeds_together_must_be_positive():
    with pytest.raises(ValueError, match="seeds_together must be >= 1"):
        dataclasses.replace(get_profile("smoke"), seeds_together=0)
