"""Video data sets: folders, official UCF101/HMDB51 splits, frame folders, frames as images."""

import warnings

import pytest
import torch
from datafiles import (
    index_of,
    write_hmdb51,
    write_index_frame_folder,
    write_index_video,
    write_ucf101,
)

from rvit.data.collate import pad_videos
from rvit.data.frames import VideoFrames, extract_frames
from rvit.data.images import ImageFolderActions
from rvit.data.videosets import HMDB51, UCF101, VideoFolder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two classes; lengths 6, 10 (Archery) and 8 (Biking)."""
    root = tmp_path_factory.mktemp("videos")
    write_index_video(root / "Archery" / "v_Archery_g01_c01.mp4", 6)
    write_index_video(root / "Archery" / "v_Archery_g02_c01.avi", 10)
    write_index_video(root / "Biking" / "v_Biking_g01_c01.avi", 8)
    return root


def test_video_folder_labels_lengths_and_uniform_clips(folder):
    ds = VideoFolder(folder, frames=4)
    assert ds.classes == ["Archery", "Biking"] and ds.targets == [0, 0, 1]
    assert ds.lengths == [6, 10, 8]
    video, label = ds[1]
    assert video.shape == (4, 3, 32, 48) and video.dtype == torch.float32 and label == 0
    assert 0 <= video.min() and video.max() <= 1
    assert [index_of(f) for f in video] == [1, 3, 6, 8]  # segment middles of 10 frames


def test_all_frames_give_variable_lengths_that_pad_videos_batches(folder):
    ds = VideoFolder(folder, frames=None, image_size=16)
    items = [ds[i] for i in range(len(ds))]
    assert [v.shape[0] for v, _ in items] == [6, 10, 8]
    assert [[index_of(f) for f in v] for v, _ in items][0] == list(range(6))
    videos, lengths, labels = pad_videos(items)
    assert videos.shape == (3, 10, 3, 16, 16)
    assert lengths.tolist() == [6, 10, 8] and labels.tolist() == [0, 0, 1]
    assert VideoFolder(folder, sampling="all")[0][0].shape[0] == 6


def test_short_videos_are_padded_with_their_last_frame(folder):
    video, _ = VideoFolder(folder, frames=8)[0]  # 6 frames
    assert [index_of(f) for f in video] == [0, 1, 2, 3, 4, 5, 5, 5]
    video, _ = VideoFolder(folder, frames=8, pad="loop")[0]
    assert [index_of(f) for f in video] == [0, 1, 2, 3, 4, 5, 0, 1]


def test_random_sampling_is_seeded_by_the_global_generator(folder):
    ds = VideoFolder(folder, frames=4, sampling="random")
    torch.manual_seed(5)
    a = [index_of(f) for f in ds[1][0]]
    torch.manual_seed(5)
    b = [index_of(f) for f in ds[1][0]]
    assert a == b and a == sorted(a) and len(set(a)) == 4


def test_transform_gets_the_whole_clip_once(folder):
    calls = []

    def record(video):
        calls.append(tuple(video.shape))
        return video

    ds = VideoFolder(folder, frames=3, transform=record)
    ds[0]
    assert calls == [(3, 3, 32, 48)]


def test_video_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        VideoFolder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no class folders"):
        VideoFolder(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"'.*a' holds no video"):
        VideoFolder(tmp_path)
    with pytest.raises(ValueError, match="sampling"):
        VideoFolder(tmp_path, sampling="dense")


def test_frame_folders_and_files_mix_in_one_class(tmp_path):
    write_index_video(tmp_path / "walk" / "clip_a.mp4", 6)
    write_index_frame_folder(tmp_path / "walk" / "clip_b", 12)  # clip_b_frame_1 ... _12
    (tmp_path / "walk" / "notes.txt").write_text("x")
    with pytest.warns(UserWarning, match="1 entries"):
        ds = VideoFolder(tmp_path, frames=None)
    assert [p.rsplit("/", 1)[1] for p, _ in ds.samples] == ["clip_a.mp4", "clip_b"]
    assert ds.lengths == [6, 12]
    assert [index_of(f) for f in ds[1][0]] == list(range(12))  # frame 10 follows frame 9


def test_ucf101_reads_official_lists_and_handstand_quirk(tmp_path):
    classes = ["ApplyEyeMakeup", "Archery", "HandstandPushups"]
    videos, splits = write_ucf101(tmp_path, classes, groups=(1, 2, 8))
    train = UCF101(videos, splits, fold=1, split="train", frames=2)
    test = UCF101(videos, splits, fold=1, split="test", frames=2)
    assert train.classes == classes and test.classes == classes
    assert train.targets == [0, 1, 2] and test.targets == [0, 0, 1, 1, 2, 2]
    assert all("_g08_" in p for p, _ in train.samples)
    assert all("_g08_" not in p for p, _ in test.samples)
    handstand = [p for p, y in test.samples if y == 2]
    assert all("v_HandStandPushups_" in p for p in handstand)
    assert train[2][0].shape == (2, 3, 32, 48)


def test_ucf101_rejects_inconsistent_lists(tmp_path):
    videos, splits = write_ucf101(tmp_path, ["Archery", "Biking"], groups=(8,))
    with pytest.raises(ValueError, match="fold"):
        UCF101(videos, splits, fold=4)
    (splits / "trainlist01.txt").write_text("Biking/v_Biking_g08_c01.avi 1\n")
    with pytest.raises(ValueError, match=r"line 1: label 1 disagrees .*Biking = 2"):
        UCF101(videos, splits)
    (splits / "trainlist01.txt").write_text("Biking/v_Biking_g09_c01.avi 2\n")
    with pytest.raises(FileNotFoundError, match="v_Biking_g09_c01.avi"):
        UCF101(videos, splits)


def test_hmdb51_tags_pick_train_and_test_and_skip_unused(tmp_path):
    videos, splits = write_hmdb51(tmp_path, {"wave": [1, 2, 0, 1], "clap": [2, 1, 0]})
    train = HMDB51(videos, splits, split="train", frames=3)
    test = HMDB51(videos, splits, split="test", frames=3)
    assert train.classes == ["clap", "wave"]
    assert train.targets == [0, 1, 1] and test.targets == [0, 1]
    assert [p.rsplit("/", 1)[1].split("_")[2] for p, _ in train.samples] == ["1", "0", "3"]
    names = {p for p, _ in train.samples} | {p for p, _ in test.samples}
    assert not any("_clip_2_" in p for p in names)  # tag 0 is in neither split
    with pytest.raises(FileNotFoundError, match="_test_split2"):
        HMDB51(videos, splits, fold=2)


def test_video_frames_keep_labels_and_sources(folder):
    ds = VideoFolder(folder, frames=4)
    frames = VideoFrames(ds, every=3)
    assert len(frames) == 2 + 4 + 3  # 6, 10 and 8 frames, every third
    assert frames.classes == ds.classes
    for i in range(len(frames)):
        image, label = frames[i]
        video_index, path, frame_index = frames.source[i]
        assert image.shape == (3, 32, 48) and label == ds.targets[video_index]
        assert path == ds.samples[video_index][0] and index_of(image) == frame_index
    a = VideoFrames(ds, per_video=2, seed=1)
    b = VideoFrames(ds, per_video=2, seed=1)
    assert len(a) == 6 and a.source == b.source


def test_extract_frames_round_trip_keeps_labels_and_counts(folder, tmp_path):
    ds = VideoFolder(folder, frames=4)
    manifest = extract_frames(ds, tmp_path / "out", every=2)
    assert len(manifest) == 3 + 5 + 4
    assert set(manifest.columns) == {"path", "class", "label", "source_video", "frame_index"}
    assert (tmp_path / "out" / "manifest.csv").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # manifest.csv sits at the root, not in a class folder
        images = ImageFolderActions(tmp_path / "out")
    assert images.classes == ds.classes
    assert sorted(images.targets) == sorted(manifest["label"].tolist())
    for path, label in images.samples:
        row = manifest[manifest["path"] == path.split("/out/", 1)[1]].iloc[0]
        assert row["label"] == label and f"_frame_{row['frame_index']:04d}.jpg" in path
        image, _ = images[images.samples.index((path, label))]
        assert index_of(image) == row["frame_index"]
    assert "v_Archery_g02_c01_frame_0008.jpg" in {p.rsplit("/", 1)[1] for p, _ in images.samples}
    with pytest.raises(FileExistsError, match="manifest.csv"):
        extract_frames(folder, tmp_path / "out")
