"""Leakage audit: leaked training images are flagged by source id and by content, clean ones are not."""

import os

import pytest
import torch
from datafiles import jpeg_round_trip, panning_frames, save_rgb, texture, write_image_folder
from torchvision.transforms.v2 import functional as F

from rvit.data import leakage
from rvit.data.frames import VideoFrames
from rvit.data.images import ImageFolderActions
from rvit.data.leakage import audit_leakage, hamming, phash
from rvit.data.video import write_video
from rvit.data.videosets import VideoFolder


class Items(torch.utils.data.Dataset):
    """An in-memory data set of tensors, label 0 (no paths)."""

    def __init__(self, items):
        self.items = list(items)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i], 0


@pytest.fixture(scope="module")
def videos():
    """Six test videos: a camera panning over six different textures, 10 frames of 64 x 80."""
    return [panning_frames(seed, 10, 64, 80) for seed in range(6)]


@pytest.fixture(scope="module")
def user_data(tmp_path_factory, videos):
    """Test videos on disk (a file and a frame folder) and a training folder with two leaks."""
    root = tmp_path_factory.mktemp("user")
    write_video(root / "test" / "Archery" / "v_Archery_g01_c01.mp4", videos[0])
    for t, frame in enumerate(videos[1]):
        save_rgb(root / "test" / "Biking" / "v_Biking_g01_c01" / f"frame_{t + 1}.jpg", frame)
    write_video(root / "test" / "Biking" / "v_Biking_g02_c01.avi", videos[2])

    train = write_image_folder(root / "train", {"Archery": 3, "Biking": 3})  # clean textures
    for seed in (3, 4):  # frames of other (training) videos are clean too
        save_rgb(
            root / "train" / "Biking" / f"v_Biking_g09_c0{seed}_frame_0005.jpg", videos[seed][5]
        )
    save_rgb(root / "train" / "Archery" / "copy.jpg", videos[0][4], quality=90)
    flipped_crop = F.horizontal_flip(F.crop(videos[1][7], 2, 3, 59, 74))  # keeps 92 % per side
    save_rgb(root / "train" / "Biking" / "holiday.png", flipped_crop)
    return ImageFolderActions(train), VideoFolder(root / "test", frames=None)


def _flagged_names(report):
    return {p.rsplit("/", 1)[1] for p in report.table["image"]}


def test_user_data_audit_flags_both_leaks_and_no_clean_image(user_data):
    images, test_videos = user_data
    report = audit_leakage(images, test_videos)
    assert bool(report)
    assert _flagged_names(report) == {"copy.jpg", "holiday.png"}
    rows = {r.image.rsplit("/", 1)[1]: r for r in report.table.itertuples()}
    assert rows["copy.jpg"].video.endswith("v_Archery_g01_c01.mp4")
    assert rows["holiday.png"].video.endswith("v_Biking_g01_c01")  # the frame folder
    assert abs(rows["copy.jpg"].frame - 4) <= 2 and abs(rows["holiday.png"].frame - 7) <= 2
    assert set(report.table["reason"]) == {"content"}
    assert "2 of 10 training images" in report.summary


def test_source_id_in_a_file_name_is_flagged(user_data, tmp_path):
    _, test_videos = user_data
    write_image_folder(tmp_path, {"Archery": 2})
    # Unrelated content, but the name says it was cut from a test clip.
    save_rgb(tmp_path / "Archery" / "v_Archery_g01_c01_frame_0003.jpg", texture(99, 40, 40))
    save_rgb(tmp_path / "Archery" / "v_Archery_g01_c011_frame_0003.jpg", texture(98, 40, 40))
    report = audit_leakage(ImageFolderActions(tmp_path), test_videos)
    assert _flagged_names(report) == {"v_Archery_g01_c01_frame_0003.jpg"}  # not ..._c011_...
    row = report.table.iloc[0]
    assert row["reason"] == "source id" and row["frame"] == 3 and pd_isna(row["distance"])


def pd_isna(value):
    import pandas as pd

    return bool(pd.isna(value))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda f: f, id="copy"),
        pytest.param(F.horizontal_flip, id="flip"),
        pytest.param(lambda f: F.crop(f, 0, 0, 58, 72), id="crop90-top-left"),
        pytest.param(lambda f: F.crop(f, 6, 8, 58, 72), id="crop90-bottom-right"),
        pytest.param(lambda f: F.center_crop(f, [58, 72]), id="crop90-centre"),
        pytest.param(lambda f: F.horizontal_flip(F.crop(f, 3, 0, 58, 76)), id="flip+crop"),
        pytest.param(lambda f: F.resize(f, [32, 40]), id="resize-down"),
        pytest.param(lambda f: F.resize(f, [160, 200]), id="resize-up"),
        pytest.param(lambda f: F.adjust_brightness(f, 1.2), id="brightness+20%"),
        pytest.param(lambda f: F.adjust_brightness(f, 0.8), id="brightness-20%"),
        pytest.param(lambda f: F.adjust_contrast(f, 0.8), id="contrast-20%"),
        pytest.param(lambda f: F.adjust_saturation(f, 1.2), id="saturation+20%"),
        pytest.param(lambda f: F.adjust_hue(f, 0.02), id="hue+0.02"),
        pytest.param(lambda f: jpeg_round_trip(f, 75), id="jpeg75"),
    ],
)
def test_content_check_tolerates_the_stated_changes(videos, change):
    leaked = [change(videos[v][t]) for v, t in ((0, 2), (3, 6), (5, 9))]
    report = audit_leakage(Items(leaked), Items(videos))
    assert report.table["image_index"].tolist() == [0, 1, 2]
    assert report.table["video_index"].tolist() == [0, 3, 5]


def test_unrelated_pictures_are_not_flagged(videos):
    clean = [texture(100 + s, 64, 80) for s in range(12)]
    clean += [panning_frames(200 + s, 10, 64, 80)[4] for s in range(12)]
    report = audit_leakage(Items(clean), Items(videos))
    assert not report and report.table.empty and "no leakage" in report.summary


def test_hash_properties():
    image = texture(7, 48, 64)[None]
    h = phash(image, with_flip=True)  # (1, 2)
    assert h.shape == (1, 2) and h.dtype == torch.int64
    assert torch.equal(phash(F.horizontal_flip(image))[0], h[0, 1])  # mirror hash = hash of mirror
    assert hamming(h[:, 0], h[:, 0]).item() == 0
    others = phash(torch.stack([texture(s, 48, 64) for s in range(20)]))
    distances = hamming(others, others)[~torch.eye(20, dtype=torch.bool)]
    assert distances.float().mean() > 20  # unrelated pictures are far apart


def test_cache_on_disk_gives_the_same_answer_and_follows_file_changes(user_data, tmp_path):
    images, test_videos = user_data
    first = audit_leakage(images, test_videos, cache_dir=tmp_path)
    cache_file = tmp_path / "phash-v3.pt"
    assert cache_file.is_file()
    entries = len(torch.load(cache_file, weights_only=True))
    assert entries == len(images) + len(test_videos)
    leakage._MEMORY.clear()  # a new process: only the disk cache is left
    second = audit_leakage(images, test_videos, cache_dir=tmp_path)
    assert second.table.equals(first.table)
    assert len(torch.load(cache_file, weights_only=True)) == entries  # nothing recomputed
    path = images.samples[0][0]
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the file "changed"
    audit_leakage(images, test_videos, cache_dir=tmp_path)
    assert len(torch.load(cache_file, weights_only=True)) == entries + 1


def test_synthetic_style_sets_without_paths(videos):
    test_set = Items(videos[:3])
    frames = VideoFrames(test_set, per_video=1, seed=0)  # training frames cut from test videos
    report = audit_leakage(frames, test_set)
    assert sorted(report.table["video_index"]) == [0, 1, 2]
    for row in report.table.itertuples():
        assert row.image_index == row.video_index and row.reason == "content"
        assert abs(row.frame - frames.source[row.image_index][2]) <= 2
    assert report.table["image"].str.startswith("image[").all()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="max_distance"):
        audit_leakage(Items([]), Items([]), max_distance=64)
    with pytest.raises(ValueError, match="min_correlation"):
        audit_leakage(Items([]), Items([]), min_correlation=2)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        audit_leakage(Items([torch.rand(2, 3, 8, 8)]), Items([torch.rand(2, 3, 8, 8)]))
