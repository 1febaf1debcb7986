"""The command line: train and evaluate end to end, resuming, leakage refusal, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datafiles import write_ucf101
from PIL import Image

from rvit.checkpoint import load_checkpoint
from rvit.cli import build_parser, main
from rvit.data.video import read_video, write_video

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model-option", "dim=32", "--model-option", "depth=1", "--image-size", "16"]
QUICK = ["--batch-size", "8", "--epochs", "1", "--no-progress", "--augment", "none"]


def run_cli(*args):
    """``python -m rvit ARGS`` in a fresh process (one thread: the models are tiny)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "rvit", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def fails_with(capsys, argv, message, status=1):
    """``main(argv)`` exits with ``status`` and one stderr line containing ``message``."""
    assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert message in err, err
    return err


# --- end to end --------------------------------------------------------------------------------


def test_train_then_evaluate_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    data = ["--num-samples", "24", "--eval-num-samples", "12", "--frames", "3"]
    done = run_cli("train", *data, *TINY, *QUICK, "--out", out, "--eval-videos", "synthetic")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "best.pt",
        "history.csv",
        "last.pt",
        "metrics.json",
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["history"][-1]["epoch"] == 1
    assert len(metrics["eval"]["targets"]) == 12 and metrics["provenance"]["git"]
    report = tmp_path / "eval.json"
    args = ["--num-samples", "12", "--frames", "3", "--no-progress", "--json", report]
    assert main(["evaluate", "--checkpoint", str(out / "last.pt"), *map(str, args)]) == 0
    assert "top1" in capsys.readouterr().out
    evaluated = json.loads(report.read_text())
    # the saved model scores the same test videos exactly as the trained one did
    assert evaluated["predictions"] == metrics["eval"]["predictions"]
    assert evaluated["top1"] == metrics["eval"]["top1"]


def test_train_resumes_from_last_checkpoint(tmp_path, capsys):
    argv = ["train", "--num-samples", "24", *TINY, *QUICK, "--epochs", "2", "--out", str(tmp_path)]
    assert main([*argv, "--max-steps", "2"]) == 0
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 2
    assert main(argv) == 0
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [r["step"] for r in history] == [3, 6]  # 24 samples / 8 per batch: 3 steps an epoch
    fails_with(
        capsys,
        [*argv[:-2], "--model-option", "depth=2", "--out", str(tmp_path)],
        "depth=1 (checkpoint) vs 2 (model)",
    )


def out_files(folder):
    """Every file under ``folder`` and its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_run_with_other_data_is_refused_then_restarted(tmp_path, capsys):
    """A second rvit train with other data into the same --out would have resumed the first
    run's checkpoint without a word; it is refused in one line naming what differs, leaves the
    first run's files as they were, and --restart trains afresh with them moved aside."""
    out = str(tmp_path)
    base = ["train", *TINY, *QUICK, "--epochs", "2", "--out", out]
    assert main([*base, "--num-samples", "24", "--max-steps", "2"]) == 0
    capsys.readouterr()
    first = out_files(tmp_path)
    err = fails_with(capsys, [*base, "--num-samples", "32"], f"'{tmp_path / 'last.pt'}' is another")
    assert "training samples 24 (checkpoint) vs 32 (now)" in err and "data fingerprint" in err
    assert "rvit train --restart" in err
    err = fails_with(capsys, [*base, "--num-samples", "24", "--data-seed", "1"], "another run")
    assert "data fingerprint" in err and "samples" not in err  # the same size, another world
    err = fails_with(capsys, [*base, "--num-samples", "24", "--lr", "0.01"], "another run")
    assert "training setting lr=0.001 (checkpoint) vs 0.01 (now)" in err
    assert out_files(tmp_path) == first
    assert main([*base, "--num-samples", "32", "--restart"]) == 0
    assert f"moved the previous run's files to {tmp_path / 'replaced-1'}" in capsys.readouterr().out
    assert out_files(tmp_path / "replaced-1") == first
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [r["step"] for r in history] == [4, 8]  # afresh: 32 samples, 4 steps an epoch


def test_a_damaged_optimiser_state_is_refused_in_one_line(tmp_path, capsys):
    argv = ["train", "--num-samples", "24", *TINY, *QUICK, "--epochs", "2", "--out", str(tmp_path)]
    assert main([*argv, "--max-steps", "2"]) == 0
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    payload["optimizer"]["state"][0]["exp_avg_sq"].view(-1)[:1].mul_(2)  # one damaged number
    torch.save(payload, tmp_path / "last.pt")
    message = f"'{tmp_path / 'last.pt'}' is damaged: its entry 'optimizer' does not match"
    fails_with(capsys, argv, message)


# --- leakage and class spaces ------------------------------------------------------------------


def make_folders(tmp_path, video_classes=("clap", "wave"), image_classes=("clap", "wave")):
    """A video per class, and per class two stills: the first two frames of that class's video
    when both sets have the class (leaked), else fresh noise."""
    rng = np.random.default_rng(0)
    videos, images = tmp_path / "videos", tmp_path / "images"
    clips = {}
    for c, name in enumerate(video_classes):
        frames = rng.integers(0, 256, size=(4, 3, 16, 16), dtype=np.uint8)
        frames[:, c % 3] = 255  # a class colour
        path = write_video(
            videos / name / f"{name}_clip.avi", torch.from_numpy(frames), codec="mjpeg"
        )
        clips[name] = read_video(path)  # uint8 (T, C, H, W), as decoded
    for name in image_classes:
        (images / name).mkdir(parents=True)
        stills = (
            clips[name][:2]
            if name in clips
            else torch.from_numpy(rng.integers(0, 256, size=(2, 3, 16, 16), dtype=np.uint8))
        )
        for i, still in enumerate(stills):
            Image.fromarray(still.permute(1, 2, 0).numpy()).save(images / name / f"{name}_{i}.png")
    return images, videos


def test_leakage_is_refused_unless_allowed(tmp_path, capsys):
    images, videos = make_folders(tmp_path)
    argv = ["train", "--data", f"imagefolder:{images}", "--eval-videos", f"videofolder:{videos}"]
    argv += [*TINY, *QUICK, "--out", str(tmp_path / "run")]
    err = fails_with(capsys, argv, "LEAKAGE", status=2)
    assert "clap_0.png" in err and "clap_clip.avi" in err and "--allow-leakage" in err
    assert not (tmp_path / "run" / "last.pt").exists()
    assert main([*argv, "--allow-leakage"]) == 0
    assert "eval" in json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_class_spaces_must_match(tmp_path, capsys):
    images, videos = make_folders(tmp_path, ("clap", "run"), ("clap", "wave"))
    argv = ["train", "--data", f"imagefolder:{images}", "--eval-videos", f"videofolder:{videos}"]
    fails_with(capsys, [*argv, *TINY, *QUICK, "--out", str(tmp_path / "o")], "'run'")


def test_class_map_joins_differently_named_classes(tmp_path, capsys):
    images, videos = make_folders(
        tmp_path,
        ("Biking", "HorseRiding", "ApplyEyeMakeup"),
        ("riding_a_bike", "riding_a_horse", "applauding"),
    )
    argv = ["train", "--data", f"imagefolder:{images}", "--eval-videos", f"videofolder:{videos}"]
    argv += [*TINY, *QUICK, "--out", str(tmp_path / "run")]
    err = fails_with(capsys, argv, "Biking")  # without a map the names do not match
    assert "--class-map" in err
    assert main([*argv, "--class-map", "stanford40-ucf101"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["classes"] == ["riding_a_bike", "riding_a_horse"]  # the shared classes
    assert sorted(metrics["eval"]["targets"]) == [0, 1]  # Biking, HorseRiding; no ApplyEyeMakeup
    # the checkpoint, evaluated through the same map, sees the same videos under the same labels
    report = tmp_path / "eval.json"
    evaluate = ["evaluate", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--no-progress"]
    evaluate += ["--videos", f"videofolder:{videos}", "--json", str(report)]
    assert main([*evaluate, "--class-map", "stanford40-ucf101"]) == 0
    evaluated = json.loads(report.read_text())
    assert evaluated["targets"] == metrics["eval"]["targets"]
    assert evaluated["predictions"] == metrics["eval"]["predictions"]
    # the same join from a file of name pairs
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("image,video\nriding_a_bike,Biking\n")
    assert main([*argv[:-1], str(tmp_path / "run_file"), "--class-map", str(pairs)]) == 0
    metrics = json.loads((tmp_path / "run_file" / "metrics.json").read_text())
    assert metrics["classes"] == ["riding_a_bike"]


def test_ucf101_trains_on_its_train_list_and_tests_on_its_test_list(tmp_path):
    videos, splits = write_ucf101(tmp_path, ["Archery", "Biking"], groups=(1, 2, 8, 9))
    argv = ["train", "--data", f"ucf101:{videos}", "--modality", "video", "--frames", "3"]
    argv += ["--eval-videos", f"ucf101:{videos}", "--splits-dir", str(splits)]
    argv += [*TINY, *QUICK, "--allow-leakage", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["classes"] == ["Archery", "Biking"]
    assert sorted(metrics["eval"]["targets"]) == [0, 0, 1, 1]  # groups 1 and 2: the test list


# --- errors and help ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "webcam", "--out", "o"], "'webcam' is not a data spec"),
        (["train", "--data", "imagefolder", "--out", "o"], "needs a path: imagefolder:PATH"),
        (["train", "--data", "imagefolder:missing-dir", "--out", "o"], "'missing-dir' does not"),
        (["train", "--data", "synthetic:x", "--out", "o"], "'synthetic' takes no path"),
        (["evaluate", "--checkpoint", "missing.pt"], "'missing.pt' does not exist"),
        (["train", "--modality", "video", "--data", "imagefolder:.", "--out", "o"], "does not fit"),
        (["train", "--camera", "max_shift=0.1", "--out", "o"], "--camera applies to"),
        (["train", "--class-map", "stanford40-ucf101", "--out", "o"], "give both"),
        (["train", "--data", "ucf101:.", "--modality", "video", "--out", "o"], "--splits-dir"),
        (["train", "--class-map", "s40", "--eval-videos", "synthetic", "--out", "o"], "'s40' is"),
    ],
)
def test_user_errors_are_one_line(capsys, argv, message):
    fails_with(capsys, argv, message)


@pytest.mark.parametrize("value", ["max_shift=x", "zoom"])
def test_camera_values_must_be_name_equals_number(capsys, value):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--camera", value, "--out", "o"])
    assert repr(value) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "message"), [("max_pan=1", "max_pan"), ("max_zoom=-1", "max_zoom")]
)
def test_camera_limits_are_checked_by_name(tmp_path, capsys, value, message):
    argv = ["train", "--modality", "pseudo_video", "--camera", value, "--out", str(tmp_path / "o")]
    fails_with(capsys, argv, message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("max_shift=5", "max_shift=5 (500%) is out of range; allowed 0 (0%) to 0.5 (50%)"),
        ("max_zoom=1.5", "max_zoom=1.5 (150%) is out of range"),
        ("max_rotation=720", "max_rotation=720 degrees is out of range; allowed 0 degrees to 180"),
    ],
)
def test_camera_limits_out_of_range_are_one_line_errors(tmp_path, capsys, value, message):
    argv = ["train", "--modality", "pseudo_video", "--camera", value, "--out", str(tmp_path / "o")]
    fails_with(capsys, argv, message)
    assert not (tmp_path / "o" / "last.pt").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("depthx=2", "--model-option depthx: no such model config field; did you mean depth?"),
        ("colour=red", "--model-option colour: no such model config field; known: in_chans"),
        ("image_size=64", "--model-option image_size: set by --image-size"),
        ("num_classes=3", "--model-option num_classes: set by the training data's classes"),
        ("depth=0", "depth=0 is not allowed; expected an integer >= 1"),
        ("head=mean", "head='mean'"),
    ],
)
def test_model_options_are_checked_before_the_data(tmp_path, capsys, option, message):
    # The data folder does not exist: the option is refused before the data are looked at.
    argv = ["train", "--data", f"imagefolder:{tmp_path / 'missing'}", "--model-option", option]
    fails_with(capsys, [*argv, "--out", str(tmp_path / "o")], message)


def test_model_option_values_must_be_yaml(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--model-option", "dim=[", "--out", "o"])
    assert "'dim=[': VALUE is not a YAML value" in capsys.readouterr().err


def test_a_damaged_checkpoint_is_one_line_without_unsafe_advice(tmp_path, capsys):
    from rvit.checkpoint import save_checkpoint
    from rvit.config import RViTConfig
    from rvit.model import RViT

    model = RViT(RViTConfig.paper(num_classes=2, image_size=16, dim=32, depth=1))
    data = save_checkpoint(tmp_path / "last.pt", model, classes=["a", "b"]).read_bytes()
    # One damaged byte in a class name of the pickle: torch's weights-only load refuses the file
    # and advises re-running with weights_only=False, which would run what the file names.
    assert data.count(b"OrderedDict") == 1
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(data.replace(b"OrderedDict", b"OrderedDicX"))
    err = fails_with(capsys, ["evaluate", "--checkpoint", str(damaged)], f"'{damaged}' is not")
    assert "OrderedDicX" in err and "use another copy" in err
    for advice in ("weights_only", "trust", "safe_globals", "\x1b"):
        assert advice not in err, err
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    err = fails_with(capsys, ["evaluate", "--checkpoint", str(truncated)], f"'{truncated}' is not")
    assert "weights_only" not in err


def test_camera_limits_reach_the_training_config(tmp_path, capsys):
    argv = ["train", "--num-samples", "8", *TINY, *QUICK, "--modality", "pseudo_video"]
    argv += ["--frames", "2", "--max-steps", "1", "--out", str(tmp_path)]
    assert main([*argv, "--camera", "max_shift=0.2", "max_rotation=0"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_config"]["camera"] == {"max_shift": 0.2, "max_rotation": 0.0}


def test_empty_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    argv = ["train", "--data", f"imagefolder:{tmp_path / 'empty'}", "--out", str(tmp_path / "o")]
    fails_with(capsys, argv, str(tmp_path / "empty"))


def test_help_documents_every_option(capsys):
    parser = build_parser()
    for command in ("train", "evaluate"):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        sub = parser._subparsers._group_actions[0].choices[command]
        for action in sub._actions:
            if action.help == "==SUPPRESS==":
                continue
            assert action.help, f"{command} {action.option_strings} has no help"
            assert all(option in text for option in action.option_strings)
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in ("train", "evaluate", "study"))


# --- choices and defaults come from the package's tables ------------------------------------------


def _subcommand(name):
    parser = build_parser()
    return parser._subparsers._group_actions[0].choices[name]


def _option(parser, flag):
    return next(a for a in parser._actions if flag in a.option_strings)


def test_train_defaults_are_the_config_defaults():
    from dataclasses import fields

    from rvit.cli import TRAIN_MODALITY
    from rvit.config import RViTConfig
    from rvit.train import TrainConfig

    args = build_parser().parse_args(["train", "--out", "x"])
    config, model = TrainConfig(), RViTConfig(num_classes=2)
    shared = [f.name for f in fields(TrainConfig) if f.name != "modality" and hasattr(args, f.name)]
    assert len(shared) >= 15  # every setting the command line offers
    for name in shared:
        assert getattr(args, name) == getattr(config, name), name
    assert args.modality == TRAIN_MODALITY == "image"  # the command line's own: still images
    assert args.image_size == model.image_size
    assert args.size is None  # each preset's own widths (tiny, the official ones for official)


def test_choices_are_the_package_tables():
    from rvit.config import OPTIONS
    from rvit.data.augment import PRESETS
    from rvit.data.clips import MODALITIES
    from rvit.data.sources import DATA_KINDS, VIDEO_KINDS
    from rvit.study.profiles import PROFILES

    train = _subcommand("train")
    assert _option(train, "--modality").choices == MODALITIES
    assert _option(train, "--size").choices == OPTIONS["size"]
    assert _option(train, "--augment").choices == PRESETS
    assert all(kind in _option(train, "--data").help for kind in DATA_KINDS)
    assert all(kind in _option(train, "--eval-videos").help for kind in VIDEO_KINDS)
    study = _subcommand("study")._subparsers._group_actions[0].choices
    for command in ("run", "report"):
        assert _option(study[command], "--profile").choices == tuple(PROFILES)


# --- one training per --out --------------------------------------------------------------------


def test_a_second_training_into_the_same_out_refuses_naming_the_first(tmp_path, capsys):
    import socket

    from rvit.cli import LOCK_NAME

    out = tmp_path / "run"
    out.mkdir()
    argv = ["train", "--num-samples", "8", *TINY, *QUICK, "--out", str(out)]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # What a training that runs in another process leaves in its --out.
        (out / LOCK_NAME).write_text(f"{other.pid} {socket.gethostname()}\n")
        fails_with(capsys, argv, f"--out '{out}' is in use by another rvit train (PID {other.pid})")
        assert not (out / "last.pt").exists()
    finally:
        other.kill()
        other.wait()
    # The other run has ended without removing its lock: the lock is stale and taken over.
    assert main(argv) == 0
    assert (out / "last.pt").is_file() and not (out / LOCK_NAME).exists()


def test_a_lock_from_another_host_is_not_taken_over(tmp_path, capsys):
    from rvit.cli import LOCK_NAME

    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text("4242 some-other-machine\n")
    argv = ["train", "--num-samples", "8", *TINY, *QUICK, "--out", str(out)]
    fails_with(capsys, argv, "(PID 4242 on some-other-machine)")


def test_every_preset_is_a_choice_and_official_keeps_its_widths():
    from rvit.cli import model_config
    from rvit.config import PRESETS, RViTConfig

    parser = build_parser()
    for preset in PRESETS:
        args = parser.parse_args(["train", "--out", "x", "--preset", preset, "--image-size", "16"])
        cfg = model_config(args, num_classes=3)
        assert cfg == getattr(RViTConfig, preset)(3, image_size=16)
    args = parser.parse_args(["train", "--out", "x", "--preset", "official", "--image-size", "112"])
    assert model_config(args, num_classes=400).dim == 192  # not the tiny size's 64
    args = parser.parse_args(["train", "--out", "x", "--preset", "official", "--size", "tiny"])
    assert model_config(args, num_classes=4).dim == 64
