"""PyAV video IO: frames complete and in order, requested order kept, clear errors, sampling rules."""

import pytest
import torch
from datafiles import index_frames, index_of, write_index_frame_folder, write_index_video

from rvit.data.collate import pad_videos
from rvit.data.video import iter_frames, natural_key, probe, read_video, sample_indices, write_video

FORMATS = [(".mp4", None, "h264"), (".avi", None, "mpeg4"), (".avi", "mjpeg", "mjpeg")]


@pytest.fixture(scope="module", params=FORMATS, ids=[f[2] for f in FORMATS])
def video(request, tmp_path_factory):
    suffix, codec, name = request.param
    path = tmp_path_factory.mktemp("video") / f"clip{suffix}"
    write_index_video(path, 12, codec=codec)
    return path, name


def test_probe_reads_the_header(video):
    path, codec = video
    info = probe(path)
    assert info == {"num_frames": 12, "fps": 25.0, "width": 48, "height": 32, "codec": codec}


def test_iter_frames_gives_every_frame_in_order(video):
    path, _ = video
    frames = list(iter_frames(path))
    assert [index_of(f) for f in frames] == list(range(12))
    assert all(f.dtype == torch.uint8 and f.shape == (3, 32, 48) for f in frames)
    assert [index_of(f) for f in iter_frames(path, stride=5)] == [0, 5, 10]


def test_read_video_whole_and_in_requested_order(video):
    path, _ = video
    whole = read_video(path)
    assert whole.shape == (12, 3, 32, 48) and whole.dtype == torch.uint8
    assert [index_of(f) for f in whole] == list(range(12))
    picked = read_video(path, [11, 0, 7, 7, 3])
    assert [index_of(f) for f in picked] == [11, 0, 7, 7, 3]
    assert torch.equal(picked[1], whole[0])


def test_round_trip_is_close_to_what_was_written(video):
    path, _ = video
    written = index_frames(12).float()
    error = (read_video(path).float() - written).abs().mean()
    assert error < 3.0


def test_frame_folder_reads_like_a_video_in_natural_order(tmp_path):
    folder = write_index_frame_folder(tmp_path / "clip", 12)  # clip_frame_1.png ... _12.png
    assert probe(folder)["num_frames"] == 12
    assert [index_of(f) for f in iter_frames(folder)] == list(range(12))
    assert [index_of(f) for f in read_video(folder, [9, 10, 1])] == [9, 10, 1]
    assert sorted(["f_10", "f_9", "f_1"], key=natural_key) == ["f_1", "f_9", "f_10"]


def test_out_of_range_index_names_the_file(video):
    path, _ = video
    with pytest.raises(IndexError, match=r"beyond the end .*clip.*12 frames"):
        read_video(path, [3, 12])
    with pytest.raises(IndexError, match="negative"):
        read_video(path, [-1])


def test_missing_empty_and_corrupt_files_raise_named_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.mp4"):
        read_video(tmp_path / "nothere.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.mp4.*empty"):
        probe(empty)
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(b"RIFF not really a video" * 50)
    with pytest.raises(ValueError, match="corrupt.avi"):
        read_video(corrupt)
    with pytest.raises(ValueError, match="holds no image"):
        (tmp_path / "emptydir").mkdir()
        read_video(tmp_path / "emptydir")


def test_write_video_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "a.mp4", torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="even frame size"):
        write_video(tmp_path / "a.mp4", torch.zeros(2, 3, 7, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="codec"):
        write_video(tmp_path / "a.xyz", torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    write_video(tmp_path / "odd.avi", torch.zeros(2, 3, 7, 9, dtype=torch.uint8), codec="mjpeg")
    assert read_video(tmp_path / "odd.avi").shape == (2, 3, 7, 9)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_uniform_sampling_covers_the_video_evenly():
    idx = sample_indices(100, 10)
    assert idx.tolist() == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    assert torch.equal(sample_indices(16, 16), torch.arange(16))


def test_random_sampling_stays_in_segments_and_follows_the_generator():
    a = sample_indices(100, 10, "random", torch.Generator().manual_seed(3))
    b = sample_indices(100, 10, "random", torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert ((a // 10) == torch.arange(10)).all()  # one frame in each tenth of the video
    draws = {tuple(sample_indices(100, 10, "random").tolist()) for _ in range(5)}
    assert len(draws) > 1


def test_short_videos_repeat_the_last_frame_or_loop():
    assert sample_indices(3, 7).tolist() == [0, 1, 2, 2, 2, 2, 2]
    assert sample_indices(3, 7, pad="loop").tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert sample_indices(3, 7, "random").tolist() == [0, 1, 2, 2, 2, 2, 2]
    with pytest.raises(ValueError, match="mode"):
        sample_indices(10, 4, "middle")
    with pytest.raises(ValueError, match="num_frames"):
        sample_indices(0, 4)


def test_pad_videos_zero_pads_and_keeps_lengths():
    a = torch.rand(3, 3, 4, 4)
    b = torch.rand(5, 3, 4, 4)
    image = torch.rand(3, 4, 4)
    videos, lengths, labels = pad_videos([(a, 2), (b, 0), (image, 1)])
    assert videos.shape == (3, 5, 3, 4, 4)
    assert lengths.tolist() == [3, 5, 1] and labels.tolist() == [2, 0, 1]
    assert torch.equal(videos[0, :3], a) and videos[0, 3:].abs().sum() == 0
    assert torch.equal(videos[1], b) and torch.equal(videos[2, 0], image)
    with pytest.raises(ValueError, match="item 1"):
        pad_videos([(a, 0), (torch.rand(2, 3, 5, 5), 1)])
