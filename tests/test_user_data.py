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
from datafiles import write_corrupt_jpeg, write_image_file, write_image_folder
from PIL import Image

from rvit.checkpoint import load_checkpoint, save_checkpoint
from rvit.cli import build_parser, build_train_sets, main
from rvit.data import ImageFolderActions, VideoFolder
from rvit.data.images import BadFilesError, image_problem, load_image
from rvit.data.video import read_video, write_video
from rvit.data.videosets import video_problem
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


# --- images as they are ------------------------------------------------------------------------

RAMP = np.linspace(0.0, 1.0, 24 * 32).reshape(24, 32)  # darkest top left, brightest bottom right

#: A ramp in each PIL mode of more than 8 bits, over a range no 8-bit image has: 12-bit sensor data
#: in a 16-bit PNG, signed 32-bit integers and floats in TIFFs.
DEEP = {
    "I;16": ("png", (RAMP * 4000 + 95).astype(np.uint16)),
    "I": ("tif", (RAMP * 70_000 - 20_000).astype(np.int32)),
    "F": ("tif", (RAMP * 2.0 - 0.5).astype(np.float32)),
}


def write_deep(path, mode):
    image = Image.fromarray(DEEP[mode][1])
    assert image.mode == mode
    image.save(path)
    with Image.open(path) as back:
        assert back.mode == mode, back.mode  # the file really holds that mode
    return path


@pytest.mark.parametrize("mode", list(DEEP))
def test_deep_images_are_scaled_by_their_value_range(tmp_path, mode):
    image = load_image(write_deep(tmp_path / f"ramp.{DEEP[mode][0]}", mode))
    assert image.dtype == torch.uint8 and image.shape == (3, 24, 32)
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])  # grey
    expected = torch.from_numpy(np.rint(RAMP * 255)).to(torch.uint8)
    assert (image[0].int() - expected.int()).abs().max() <= 1  # not blank: the whole ramp
    assert int(image.min()) == 0 and int(image.max()) == 255


def test_a_flat_deep_image_keeps_its_value(tmp_path):
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "grey.tif")
    assert load_image(tmp_path / "grey.tif").unique().tolist() == [128]


def test_palette_and_grey_alpha_images_load_as_they_look(tmp_path):
    rgb = Image.fromarray(noise(3, 24, 32))
    rgb.quantize(16).save(tmp_path / "palette.bmp")  # a palette BMP, as old tools write
    with Image.open(tmp_path / "palette.bmp") as back:
        assert back.mode == "P"
        expected = np.asarray(back.convert("RGB"))
    assert np.array_equal(load_image(tmp_path / "palette.bmp").permute(1, 2, 0).numpy(), expected)
    grey = np.full((24, 32), 40, np.uint8)
    alpha = np.zeros((24, 32), np.uint8)
    alpha[:, 16:] = 255  # left half transparent, right half opaque
    Image.fromarray(np.stack([grey, alpha], -1), "LA").save(tmp_path / "la.png")
    image = load_image(tmp_path / "la.png")
    assert image[:, :, :16].unique().tolist() == [255]  # over white
    assert image[:, :, 16:].unique().tolist() == [40]


def test_cli_trains_on_deep_and_palette_images_as_they_look(tmp_path, capsys):
    root = tmp_path / "photos"
    for c, name in enumerate(["jump", "wave"]):
        (root / name).mkdir(parents=True)
        for mode, (suffix, _) in DEEP.items():
            write_deep(root / name / f"{mode.replace(';', '')}_{c}.{suffix}", mode)
        Image.fromarray(noise(c, 24, 32)).quantize(16).save(root / name / "palette.bmp")
    argv = ["train", "--data", f"imagefolder:{root}", "--out", str(tmp_path / "run")]
    argv += [*TINY, *QUICK]
    assert main(argv) == 0
    train, _ = build_train_sets(build_parser().parse_args(argv))  # the images the run read
    for index, (path, _) in enumerate(train.samples):
        mean = float(train.load(index).mean())
        assert 0.2 < mean < 0.8, (path, mean)  # a ramp or noise, not blank (1.0) or black (0.0)


def test_an_image_above_the_pixel_limit_is_one_line_naming_it(tmp_path, capsys):
    photos = write_image_folder(tmp_path / "photos", {"jump": 2, "wave": 2})
    huge = photos / "wave" / "huge.png"
    Image.new("1", (14_000, 14_000)).save(huge)  # 196 million pixels in 24 kB
    out = tmp_path / "run"
    argv = ["train", "--data", f"imagefolder:{photos}", "--out", str(out), *TINY, *QUICK]
    err = one_line_error(capsys, argv, "1 unreadable file(s)")
    assert f"'{huge}' (image too large: 196,000,000 pixels, above the limit of 89,478,485" in err
    assert "DecompressionBomb" not in err and "--on-bad-file skip" in err
    assert main([*argv, "--on-bad-file", "skip"]) == 0
    assert (out / "skipped_files.tsv").read_text().startswith(f"{huge}\timage too large")


def test_the_pixel_limit_is_pils_and_refuses_below_twice_it(tmp_path, monkeypatch):
    # Between once and twice the limit PIL only warns and decodes; it is refused here all the same.
    write_image_file(tmp_path / "small.png", size=30)  # 900 pixels
    write_image_file(tmp_path / "large.png", size=40)  # 1,600 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert image_problem(tmp_path / "small.png") is None
    reason = image_problem(tmp_path / "large.png")
    assert reason.startswith("image too large: 1,600 pixels, above the limit of 1,000")
    with pytest.raises(ValueError, match="large.png': image too large"):
        load_image(tmp_path / "large.png")


def animated_gif(path, frames=5, seed=0):
    """A GIF of ``frames`` frames of noise, 24 x 32."""
    images = [Image.fromarray(noise(seed + k, 24, 32)) for k in range(frames)]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=40)
    return path


def test_an_animated_gif_in_an_image_folder_is_its_first_frame_with_a_warning(tmp_path, capsys):
    photos = write_image_folder(tmp_path / "photos", {"jump": 2, "wave": 2})
    gif = animated_gif(photos / "wave" / "wave.gif")
    argv = ["train", "--data", f"imagefolder:{photos}", "--out", str(tmp_path / "run")]
    with pytest.warns(UserWarning, match=r"1 animated image\(s\) are read as their first frame"):
        assert main([*argv, *TINY, *QUICK]) == 0
    with Image.open(gif) as image:
        first = np.asarray(image.convert("RGB"))
    assert np.array_equal(load_image(gif).permute(1, 2, 0).numpy(), first)


def test_a_class_left_without_files_after_skip_is_named_and_dropped(tmp_path, capsys):
    photos = write_image_folder(tmp_path / "photos", {"jump": 2, "run": 2})
    broken = [write_corrupt_jpeg(photos / "wave" / f"cut_{k}.jpg", seed=k) for k in range(2)]
    out = tmp_path / "run"
    argv = ["train", "--data", f"imagefolder:{photos}", "--on-bad-file", "skip"]
    with pytest.warns(UserWarning, match="dropped 1 class"):
        assert main([*argv, "--out", str(out), *TINY, *QUICK]) == 0
    err = capsys.readouterr().err
    assert f"dropped 1 class(es) of '{photos}' left with no readable file: wave" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"] == ["jump", "run"] and metrics["model_config"]["num_classes"] == 2
    listed = (out / "skipped_files.tsv").read_text()
    assert all(str(path) in listed for path in broken)


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


def small_video_folder(root):
    """``jump/`` and ``wave/`` with one 4-frame .mp4 each."""
    for c, name in enumerate(["jump", "wave"]):
        clip = torch.from_numpy(noise(c, 4 * 24, 32)).view(4, 24, 32, 3).permute(0, 3, 1, 2)
        write_video(root / name / f"{name}.mp4", clip.contiguous(), fps=25)
    return root


def test_content_decides_what_a_video_folder_holds(tmp_path, tiny_model, capsys):
    root = small_video_folder(tmp_path / "videos")
    animated_gif(root / "jump" / "wave_at_camera.gif", frames=6)  # a video: every frame counts
    renamed = root / "wave" / "photo.mov"  # a JPEG with a video's suffix
    Image.fromarray(noise(9, 24, 32)).save(renamed, format="JPEG")
    still = root / "wave" / "still.gif"
    Image.fromarray(noise(8, 24, 32)).save(still)
    checkpoint = save_checkpoint(tmp_path / "model.pt", tiny_model, classes=["jump", "wave"])
    report = tmp_path / "eval.json"
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--videos", f"videofolder:{root}"]
    argv += ["--no-progress", "--json", str(report)]
    err = one_line_error(capsys, argv, "2 unreadable file(s)")
    assert f"'{renamed}' ('{renamed}' is a still image (jpeg_pipe), not a video)" in err
    assert f"'{still}' ('{still}' is a still image (gif, 1 frame), not a video)" in err
    assert not report.exists()

    with pytest.warns(UserWarning, match="2 unreadable"):
        assert main([*argv, "--on-bad-file", "skip"]) == 0
    result = json.loads(report.read_text())
    assert sorted(result["lengths"]) == [4, 4, 6] and sorted(result["targets"]) == [0, 0, 1]
    listed = report.with_suffix(".skipped.tsv").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in listed) == sorted([str(renamed), str(still)])


def damaged_after_its_header(path, frames=12):
    """A motion-JPEG AVI cut off at 60 % of its bytes: the header (and the screen) promise
    ``frames`` frames, decoding fails part-way with FFmpeg's "Invalid data found"."""
    clip = torch.from_numpy(noise(7, frames * 24, 32)).view(frames, 24, 32, 3).permute(0, 3, 1, 2)
    write_video(path, clip.contiguous(), fps=25, codec="mjpeg")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


@pytest.mark.parametrize("frames", [[], ["--frames", "3"]], ids=["streamed", "loaded"])
def test_a_video_damaged_after_its_header_is_skipped_or_named(tmp_path, tiny_model, capsys, frames):
    root = small_video_folder(tmp_path / "videos")
    for c, name in enumerate(["jump", "wave"]):  # a second good video in each class
        clip = torch.from_numpy(noise(5 + c, 4 * 24, 32)).view(4, 24, 32, 3).permute(0, 3, 1, 2)
        write_video(root / name / f"{name}_2.mp4", clip.contiguous(), fps=25)
    damaged = damaged_after_its_header(root / "jump" / "jump_1.avi")
    assert video_problem(damaged) is None  # its header passes the screen
    checkpoint = save_checkpoint(tmp_path / "model.pt", tiny_model, classes=["jump", "wave"])
    report = tmp_path / "eval.json"
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--videos", f"videofolder:{root}"]
    argv += [*frames, "--batch-size", "2", "--no-progress", "--json", str(report)]

    err = one_line_error(capsys, argv, f"1 unreadable file(s) in VideoFolder '{root}'")
    assert f"'{damaged}' (cannot decode video file '{damaged}'" in err
    assert "--on-bad-file skip" in err and not report.exists()

    assert main([*argv, "--on-bad-file", "skip"]) == 0
    captured = capsys.readouterr()
    listing = report.with_suffix(".skipped.tsv")
    assert f"skipped 1 unreadable file(s), listed in {listing}" in captured.err
    assert listing.read_text().startswith(f"{damaged}\tcannot decode video file")
    result = json.loads(report.read_text())
    assert [path for path, _ in result["skipped"]] == [str(damaged)]
    assert len(result["targets"]) == 4  # the other videos, all evaluated

    damaged.unlink()  # the same evaluation without the damaged video scores the others alike
    assert main(argv) == 0
    alone = json.loads(report.read_text())
    assert alone["predictions"] == result["predictions"] and alone["skipped"] == []
    assert alone["frame_predictions"] == result["frame_predictions"]


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
