"""Memory bounded by the frame: nothing on the evaluation or audit path holds a whole video, and
the reported peak covers the whole command."""

import json
import os

import numpy as np
import pytest
import torch

from rvit import RViT, RViTConfig
from rvit.checkpoint import save_checkpoint
from rvit.cli import main
from rvit.data import VideoFolder
from rvit.data.clips import item_kind
from rvit.data.video import write_video


def _video_folder(root, frames=6, size=24):
    for i, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True)
        clip = torch.full((frames, 3, size, size), 40 * (i + 1), dtype=torch.uint8)
        clip[:, 0] = torch.arange(frames, dtype=torch.uint8)[:, None, None] * 20
        write_video(root / name / "clip.avi", clip, codec="mjpeg")
    return root


def test_the_kind_of_a_video_folder_comes_from_its_metadata(tmp_path, monkeypatch):
    videos = VideoFolder(_video_folder(tmp_path / "v"), frames=None)

    def refuse(self, index):
        raise AssertionError("a whole video was decoded to learn the set's kind")

    monkeypatch.setattr(VideoFolder, "__getitem__", refuse)
    assert item_kind(videos) == "video"


def test_a_set_that_does_not_say_has_its_first_item_read():
    class Plain(torch.utils.data.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return torch.zeros(3, 4, 4), 0

    assert item_kind(Plain()) == "image"


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's clear_refs")
def test_evaluate_reports_the_peak_since_the_command_started(tmp_path):
    """A peak before the evaluation loop (which resets the kernel's mark to measure itself) still
    counts: the JSON's peak_memory_mb is the whole command's."""
    from rvit.measure import PeakMemory, _proc_status_bytes

    videos = _video_folder(tmp_path / "v")
    checkpoint = tmp_path / "m.pt"
    cfg = RViTConfig.paper(2, image_size=16, patch_size=8, dim=16, depth=1, heads=2)
    save_checkpoint(checkpoint, RViT(cfg), classes=["a", "b"])
    with PeakMemory("cpu"):  # an earlier measurement resets the mark too
        pass
    before = _proc_status_bytes("VmRSS")
    block = np.ones(256 * 2**20, dtype=np.uint8)  # 256 MiB, touched, then freed
    del block
    report = tmp_path / "eval.json"
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--videos", f"videofolder:{videos}"]
    assert main([*argv, "--json", str(report), "--no-progress", "--device", "cpu"]) == 0
    record = json.loads(report.read_text())
    assert record["peak_memory_mb"] >= (before + 250 * 2**20) / 2**20
    assert record["eval_peak_growth_mb"] is not None
    assert record["peak_memory_mb"] >= record["eval_peak_growth_mb"]


def test_leakage_prints_of_a_file_equal_those_of_its_frames_at_once(tmp_path):
    from rvit.data.leakage import _video_file_prints, _video_prints
    from rvit.data.video import read_video

    path = _video_folder(tmp_path / "v", frames=70) / "a" / "clip.avi"
    streamed = _video_file_prints(str(path), chunk=16)  # one frame decoded at a time
    whole = _video_prints(read_video(path))
    assert torch.equal(streamed.hashes, whole.hashes)
    assert torch.equal(streamed.thumbs, whole.thumbs)
