"""Users' own photos and videos: files made here the way cameras and phones make them.

Hidden files, damaged files, mixed sizes and modes, several containers and codecs, a one-frame video;
the command line trains and evaluates on them, every bad input gets one line naming the file, and
damaged checkpoints and failed writes lose nothing.
"""

import errno
import json
import os
import stat

import numpy as np
import pytest
import torch
from datafiles import write_corrupt_jpeg, write_image_file
from PIL import Image

from rvit.checkpoint import load_checkpoint, save_checkpoint
from rvit.cli import main
from rvit.data import ImageFolderActions, VideoFolder
from rvit.data.images import BadFilesError, load_image
from rvit.data.video import read_video, write_video
from rvit.evaluate import evaluate_videos
from rvit.model import RViT, RViTConfig
from rvit.utils import WriteError, atomic_write_text, check_writable

TINY = ["--model-option", "dim=32", "--model-option", "depth=1", "--image-size", "16"]
QUICK = ["--batch-size", "4", "--epochs", "1", "--no-progress", "--augment", "none"]


def one_line_error(capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert message in err, err
    return err


def noise(seed, height, width, channels=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


def photo_folder(root):
    """Two classes of photos in many modes and sizes, plus a Mac's ``._`` file and a broken JPEG."""
    for c, name in enumerate(["jump", "wave"]):
        folder = root / name
        write_image_file(folder / f"{name}_rgb.jpg", seed=10 * c, size=40)
        write_image_file(folder / f"{name}_grey.png", mode="L", seed=10 * c + 1, size=28)
        write_image_file(folder / f"{name}_rgba.png", mode="RGBA", seed=10 * c + 2, size=36)
        write_image_file(folder / f"{name}_cmyk.jpg", mode="CMYK", seed=10 * c + 3, size=30)
        sixteen = (noise(c, 30, 20, 1)[..., 0].astype(np.uint16) * 257).astype(np.uint16)
        Image.fromarray(sixteen).save(folder / f"{name}_16bit.png")
        frames = [Image.fromarray(noise(c + k, 24, 32)) for k in range(3)]
        frames[0].save(folder / f"{name}_anim.gif", save_all=True, append_images=frames[1:])
        (folder / f"._{name}_rgb.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
        (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
        (folder / ".ipynb_checkpoints").mkdir()
        (folder / ".ipynb_checkpoints" / "copy.png").write_bytes(b"not a png")
    return write_corrupt_jpeg(root / "wave" / "broken.jpg")


def video_folder(root):
    """Videos of different sizes and containers, a one-frame video, a frame folder of mixed sizes."""
    shapes = [(".mp4", 72, 88, 9), (".avi", 46, 80, 7), (".mkv", 60, 48, 8), (".mp4", 40, 64, 1)]
    for c, name in enumerate(["jump", "wave"]):
        for k, (suffix, height, width, frames) in enumerate(shapes):
            clip = torch.from_numpy(noise(10 * c + k, frames * height, width)).view(
                frames, height, width, 3
            )
            write_video(root / name / f"{name}_{k}{suffix}", clip.permute(0, 3, 1, 2), fps=25)
        folder = root / name / f"{name}_frames"
        folder.mkdir()
        for t, (height, width) in enumerate([(30, 40), (34, 40), (30, 44), (48, 36)]):
            Image.fromarray(noise(t, height, width)).save(folder / f"{name}_frame_{t + 1}.png")
        (root / name / f"._{name}_0.mp4").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    return root


# --- photos -----------------------------------------------------------------------------------


def test_hidden_files_are_never_read_and_every_mode_decodes(tmp_path):
    broken = photo_folder(tmp_path)
    with pytest.raises(BadFilesError) as caught:
        ImageFolderActions(tmp_path, image_size=16)
    assert [path for path, _ in caught.value.bad_files] == [str(broken)]  # not the ._ files
    with pytest.warns(UserWarning, match="1 unreadable"):
        photos = ImageFolderActions(tmp_path, image_size=16, on_bad_file="skip")
    assert len(photos) == 12 and photos.skipped_paths == [str(broken)]
    assert not any("/." in path for path, _ in photos.samples)
    for i in range(len(photos)):
        image, _ = photos[i]
        assert image.shape == (3, 16, 16) and image.dtype == torch.float32
        assert 0 <= float(image.min()) and float(image.max()) <= 1


def test_exif_orientation_is_honoured(tmp_path):
    image = Image.fromarray(noise(0, 20, 50))  # landscape pixels ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... that a viewer turns 90 degrees: portrait
    image.save(tmp_path / "turned.jpg", exif=exif.tobytes())
    assert tuple(load_image(tmp_path / "turned.jpg").shape) == (3, 50, 20)


def test_cli_lists_every_bad_photo_at_once_then_skips_and_names_them(tmp_path, capsys):
    broken = photo_folder(tmp_path / "photos")
    second = write_corrupt_jpeg(tmp_path / "photos" / "jump" / "cut.jpg", seed=3)
    out = tmp_path / "run"
    argv = ["train", "--data", f"imagefolder:{tmp_path / 'photos'}", "--out", str(out)]
    err = one_line_error(capsys, [*argv, *TINY, *QUICK], "2 unreadable file(s)")
    assert str(broken) in err and str(second) in err and "--on-bad-file skip" in err
    assert not (out / "last.pt").exists()

    assert main([*argv, *TINY, *QUICK, "--on-bad-file", "skip"]) == 0
    captured = capsys.readouterr()
    assert "skipped 2 unreadable file(s)" in captured.err
    listed = (out / "skipped_files.tsv").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in listed) == sorted([str(broken), str(second)])
    assert (out / "best.pt").is_file()


# --- videos -----------------------------------------------------------------------------------


def test_frames_of_different_sizes_are_resized_or_named(tmp_path):
    root = video_folder(tmp_path)
    mixed = root / "jump" / "jump_frames"
    with pytest.raises(ValueError, match="jump_frames.*differ in size.*size=S"):
        read_video(mixed)
    clip = read_video(mixed, size=16)
    assert clip.shape == (4, 3, 16, 16) and clip.dtype == torch.float32
    videos = VideoFolder(root, frames=None, image_size=16)
    assert len(videos) == 10 and sorted(set(videos.lengths)) == [1, 4, 7, 8, 9]
    for i in range(len(videos)):
        video, _ = videos[i]
        assert video.shape[1:] == (3, 16, 16)
        assert torch.equal(torch.stack(list(videos.stream(i))), video)  # stream == load


def test_a_damaged_video_is_listed_or_skipped(tmp_path):
    root = video_folder(tmp_path)
    (root / "wave" / "junk.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    (root / "wave" / "empty.avi").write_bytes(b"")
    with pytest.raises(BadFilesError, match="2 unreadable.*empty.avi.*junk.mp4"):
        VideoFolder(root, frames=None, image_size=16)
    with pytest.warns(UserWarning, match="2 unreadable"):
        videos = VideoFolder(root, frames=None, image_size=16, on_bad_file="skip")
    assert len(videos) == 10 and len(videos.bad_files) == 2


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    cfg = RViTConfig.variant(num_classes=2, image_size=16, size="tiny", dim=32, depth=1)
    return RViT(cfg).eval()


def test_streamed_evaluation_equals_whole_clip_evaluation(tmp_path, tiny_model):
    videos = VideoFolder(video_folder(tmp_path), frames=None, image_size=16)
    kw = dict(batch_size=3, progress=False, keep_logits=True, device="cpu")
    streamed = evaluate_videos(tiny_model, videos, stream=True, **kw)
    loaded = evaluate_videos(tiny_model, videos, stream=False, **kw)
    assert streamed.lengths == loaded.lengths == videos.lengths
    assert streamed.frame_predictions == loaded.frame_predictions
    for a, b in zip(streamed.frame_logits, loaded.frame_logits, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_cli_trains_and_evaluates_on_videos_of_any_size(tmp_path, capsys):
    root = video_folder(tmp_path / "videos")
    out = tmp_path / "run"
    spec = f"videofolder:{root}"
    base = ["train", "--data", spec, "--modality", "video", "--frames", "4", "--out", str(out)]
    assert main([*base, *TINY, *QUICK]) == 0
    report = tmp_path / "eval" / "metrics.json"
    argv = ["evaluate", "--checkpoint", str(out / "best.pt"), "--videos", spec]
    assert main([*argv, "--json", str(report), "--no-progress", "--batch-size", "4"]) == 0
    capsys.readouterr()
    result = json.loads(report.read_text())
    assert len(result["predictions"]) == 10 and sorted(set(result["lengths"])) == [1, 4, 7, 8, 9]
    assert len(result["frame_predictions"]) == 10


# --- checkpoints and writes -------------------------------------------------------------------


def test_a_damaged_checkpoint_is_refused(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "model.pt", tiny_model)
    load_checkpoint(path)  # intact
    data = bytearray(path.read_bytes())
    weight = tiny_model.state_dict()["head.weight"].contiguous()
    start = data.find(weight.numpy().tobytes())
    assert start > 0, "the weights are stored uncompressed"
    data[start + 5] ^= 0xFF  # one flipped byte inside a stored tensor
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model.pt' is damaged.*checksum"):
        load_checkpoint(path)


class FullDisk:
    """A file handle whose writes fail as on a full disk after ``room`` bytes."""

    def __init__(self, handle, room):
        self.handle, self.room = handle, room

    def write(self, data):
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def test_a_full_disk_is_one_clear_error_and_keeps_the_last_checkpoint(
    tmp_path, tiny_model, monkeypatch
):
    import rvit.utils

    path = save_checkpoint(tmp_path / "last.pt", tiny_model, step=1)
    real_fdopen = rvit.utils.os.fdopen
    monkeypatch.setattr(
        rvit.utils.os, "fdopen", lambda fd, *a, **k: FullDisk(real_fdopen(fd, *a, **k), 1000)
    )
    with pytest.raises(WriteError) as caught:
        save_checkpoint(path, tiny_model, step=2)
    message = str(caught.value)
    assert message.startswith(f"cannot write '{path}': No space left on device")
    assert "previous file is unchanged" in message and caught.value.errno == errno.ENOSPC
    with pytest.raises(WriteError, match="nothing was written"):
        atomic_write_text(tmp_path / "new.txt", "x" * 5000)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary files left


def test_unwritable_outputs_are_found_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(WriteError, match="a-file/out' cannot be written"):
        check_writable(blocker / "out")
    out = blocker / "run"
    one_line_error(
        capsys, ["train", "--out", str(out), *TINY, *QUICK], f"--out '{out}' cannot be written"
    )
    argv = ["evaluate", "--checkpoint", str(tmp_path / "missing.pt")]
    one_line_error(capsys, [*argv, "--json", str(blocker / "m.json")], "--json folder")


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_get_the_mode_of_any_new_file(tmp_path, capsys, umask):
    out = tmp_path / "run"
    previous = os.umask(umask)
    try:
        argv = ["train", "--num-samples", "8", "--out", str(out)]
        assert main([*argv, *TINY, *QUICK]) == 0
        report = tmp_path / "eval.json"
        argv = ["evaluate", "--checkpoint", str(out / "last.pt"), "--json", str(report)]
        assert main([*argv, "--num-samples", "4", "--frames", "2", "--no-progress"]) == 0
    finally:
        os.umask(previous)
    written = [*out.iterdir(), report]
    assert {p.name for p in written} >= {"last.pt", "best.pt", "history.csv", "metrics.json"}
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path  # not 0o600
