"""rvit.data.sources: one table of data kinds for the command line and the study."""

from __future__ import annotations

import pytest
import torch

from rvit.data.sources import (
    DATA_KINDS,
    IMAGE_KINDS,
    VIDEO_KINDS,
    CueThenBlank,
    build_dataset,
)

WORLD = {
    "num_samples": 6,
    "frames": 3,
    "image_size": 16,
    "seed": 0,
    "difficulty": 0.5,
}


def test_the_table_says_what_each_kind_holds():
    assert IMAGE_KINDS == ("synthetic", "imagefolder", "stanford40")
    assert VIDEO_KINDS == ("synthetic", "videofolder", "ucf101", "hmdb51")
    assert set(DATA_KINDS) == {*IMAGE_KINDS, *VIDEO_KINDS}
    assert not DATA_KINDS["synthetic"].needs_path and DATA_KINDS["ucf101"].needs_splits_dir


def test_synthetic_sets_are_built_once_per_spec():
    spec = {**WORLD, "split": "train", "modality": "image"}
    first = build_dataset("synthetic", spec)
    assert build_dataset("synthetic", dict(spec)) is first
    assert first[0][0].shape == (3, 16, 16)
    videos = build_dataset("synthetic", {**spec, "modality": "video", "frames": [2, 4]})
    assert videos is not first and videos[0][0].dim() == 4


def test_cue_frames_give_the_retention_probe():
    spec = {**WORLD, "split": "test", "modality": "video", "cue_frames": 1}
    probe = build_dataset("synthetic", spec)
    assert isinstance(probe, CueThenBlank) and probe.cue_frames == 1
    video, _ = probe[0]
    assert torch.all(video[1:] == video[1:2, :, :1, :1])


def test_unknown_kinds_and_missing_split_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown data kind 'nope'"):
        build_dataset("nope", {})
    with pytest.raises(ValueError, match="splits_dir"):
        build_dataset("ucf101", {"path": tmp_path, "split": "train", "image_size": 16})
