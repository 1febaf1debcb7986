"""Training: every modality runs, the loss falls on an easy task, seeds give identical weights."""

import math

import pytest
import torch
from torch.utils.data import Dataset

from rvit.baselines import FrameViT
from rvit.config import RViTConfig
from rvit.data import CAMERA_LIMITS
from rvit.data.clips import MODALITIES, StaticClips, StillClips, as_training_set, stack_clips
from rvit.model import RViT
from rvit.train import History, TrainConfig, fit, warmup_cosine

K, SIZE = 4, 16


class Squares(Dataset):
    """An easy task: class k is a square of colour k (red, green, blue, white) on dark noise.

    ``kind="image"`` gives ``(3, H, W)``; ``kind="video"`` gives ``(T_i, 3, H, W)`` with the square
    drifting one pixel per frame. Every item is a pure function of ``(seed, index)``.
    """

    classes = ["red", "green", "blue", "white"]
    groups = ["appearance", "appearance", "motion", "motion"]

    def __init__(self, n=32, kind="image", lengths=(4,), seed=0, transform=None):
        self.n, self.kind, self.seed, self.transform = n, kind, seed, transform
        self.lengths = [lengths[i % len(lengths)] for i in range(n)]
        self.targets = [i % K for i in range(n)]

    def __len__(self):
        return self.n

    def frame(self, label, g, shift=0):
        x = 0.1 * torch.rand(3, SIZE, SIZE, generator=g)
        top, left = int(torch.randint(0, 8, (), generator=g)), 2 + shift
        channels = [label] if label < 3 else [0, 1, 2]
        x[channels, top : top + 6, left : left + 6] = 0.9
        return x

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(self.seed * 100_003 + index)
        label = self.targets[index]
        if self.kind == "image":
            x = self.frame(label, g)
        else:
            x = torch.stack([self.frame(label, g, t % 3) for t in range(self.lengths[index])])
        if self.transform is not None:
            x = self.transform(x)
        return x, label


def tiny_cfg(**overrides):
    settings = {"dim": 32, "depth": 1, "heads": 2, "patch_size": 4, "num_frames": 4}
    settings.update(overrides)
    return RViTConfig.paper(num_classes=K, image_size=SIZE, **settings)


def make_model(seed=0, cls=RViT, **overrides):
    torch.manual_seed(seed)
    return cls(tiny_cfg(**overrides))


def quick(**changes):
    settings = dict(
        epochs=1, batch_size=8, lr=3e-3, warmup_epochs=0.0, device="cpu", progress=False, seed=0
    )
    settings.update(changes)
    return TrainConfig(**settings)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# --- configuration -----------------------------------------------------------------------------


def test_config_round_trip():
    config = TrainConfig(
        modality="pseudo_video", frames=6, epochs=3, grad_clip=None, camera={"max_shift": 0}
    )
    assert config.camera == {"max_shift": 0.0}
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.replace(lr=0.5).lr == 0.5


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"modality": "audio"}, "modality"),
        ({"modality": "static_clip"}, "frames"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"max_steps": 0}, "max_steps"),
        ({"camera": {"max_pan": 0.1}}, "max_pan"),
        ({"camera": {"max_shift": -0.1}}, "max_shift"),
        ({"camera": [0.1]}, "camera"),
    ],
)
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)


def test_pseudo_video_camera_limits_reach_the_clips():
    stills = Squares(n=4)
    still = stills[1][0]
    frozen = as_training_set(
        stills, "pseudo_video", 5, {"max_zoom": 0, "max_shift": 0, "max_rotation": 0}
    )
    clip, label = frozen[1]
    assert label == 1 and clip.shape == (5, *still.shape)
    torch.testing.assert_close(clip, still.expand_as(clip))  # a camera that cannot move
    moving = as_training_set(stills, "pseudo_video", 5, {"max_rotation": 30})
    assert moving.animate.max_rotation == 30
    assert moving.animate.max_shift == CAMERA_LIMITS["max_shift"]  # the default where not set
    assert not torch.equal(moving[1][0][0], moving[1][0][-1])


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"epochs": 1, "learning_rate": 0.1})


def test_warmup_then_cosine():
    factors = [warmup_cosine(step, 4, 20) for step in range(20)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    decay = factors[4:]
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))
    assert decay[0] == 1.0 and 0 <= decay[-1] < 0.05
    assert warmup_cosine(0, 0, 10) == 1.0


# --- data views ----------------------------------------------------------------------------------


def test_as_training_set_shapes():
    images, videos = Squares(8), Squares(8, kind="video", lengths=(3, 5))
    assert as_training_set(images, "image")[0][0].shape == (1, 3, SIZE, SIZE)
    static = as_training_set(images, "static_clip", frames=5)[1][0]
    assert static.shape == (5, 3, SIZE, SIZE)
    assert all(torch.equal(frame, images[1][0]) for frame in static)
    pseudo = as_training_set(images, "pseudo_video", frames=5)[1][0]
    assert pseudo.shape == (5, 3, SIZE, SIZE)
    assert as_training_set(videos, "video") is videos
    assert as_training_set(videos, "video", frames=6)[0][0].shape == (6, 3, SIZE, SIZE)
    frames = as_training_set(videos, "frames")
    assert len(frames) == sum(videos.lengths) and frames[0][0].shape == (1, 3, SIZE, SIZE)
    assert as_training_set(images, "image").classes == Squares.classes


@pytest.mark.parametrize(
    ("kind", "modality", "message"),
    [
        ("image", "video", "needs a video data set"),
        ("image", "frames", "needs a video data set"),
        ("video", "image", "needs still images"),
        ("video", "pseudo_video", "needs still images"),
    ],
)
def test_as_training_set_rejects_wrong_modality(kind, modality, message):
    with pytest.raises(ValueError, match=message):
        as_training_set(Squares(4, kind=kind), modality, frames=3)


def test_stack_clips_rejects_mixed_lengths():
    batch = [(torch.zeros(3, 3, 4, 4), 0), (torch.zeros(2, 3, 4, 4), 1)]
    with pytest.raises(ValueError, match="different lengths"):
        stack_clips(batch)


# --- fit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("modality", MODALITIES)
def test_fit_runs_on_every_modality(modality):
    kind = "video" if modality in ("video", "frames") else "image"
    data = Squares(16, kind=kind, lengths=(2, 3))
    frames = {"static_clip": 3, "pseudo_video": 3, "frames": 1}.get(modality)
    model = make_model()
    before = weights(model)
    history = fit(model, data, None, quick(modality=modality, frames=frames, max_steps=2))
    assert isinstance(history, History) and history.model is model
    (record,) = history.records
    assert record["step"] == 2 and math.isfinite(record["train_loss"])
    assert any(not torch.equal(before[k], v) for k, v in weights(model).items())


def test_loss_falls_on_an_easy_task():
    data, val = Squares(24), Squares(16, seed=1)
    # the released block's PyTorch-default initialisation wants a smaller step than ViT's 0.02
    config = quick(modality="image", epochs=6, batch_size=4, lr=2e-3, label_smoothing=0.0)
    history = fit(make_model(), data, val, config)
    frame = history.to_frame()
    assert list(frame["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert list(frame["train_loss"]) == sorted(frame["train_loss"], reverse=True)
    assert frame["train_loss"].iloc[-1] < 0.8 * frame["train_loss"].iloc[0]
    assert history.best["val_acc"] == frame["val_acc"].max() > 0.5  # chance is 0.25
    assert frame["samples_per_s"].gt(0).all() and frame["lr"].iloc[-1] < config.lr


def test_variable_length_videos_and_fixed_length_clips():
    data = Squares(12, kind="video", lengths=(2, 4, 3))
    history = fit(make_model(), data, data, quick(modality="video", max_steps=2))
    assert history.records[-1]["val_acc"] is not None
    with pytest.raises(ValueError, match="different lengths"):
        fit(make_model(), data, None, quick(modality="video", variable_length=False))
    fixed = fit(make_model(), data, None, quick(modality="video", frames=3, variable_length=False))
    assert fixed.records[-1]["step"] == 2


def test_same_seed_gives_identical_weights_with_any_worker_count():
    data = Squares(16, transform=lambda x: x + 0.05 * torch.randn_like(x))  # random per sample
    config = quick(modality="static_clip", frames=2, epochs=2)
    runs = [fit(make_model(), data, None, config.replace(num_workers=n)) for n in (0, 0, 2)]
    first = weights(runs[0].model)
    for other in runs[1:]:
        assert_same_weights(first, weights(other.model))
    timeless = [
        [{k: v for k, v in r.items() if k not in ("seconds", "samples_per_s")} for r in run.records]
        for run in runs
    ]
    assert timeless[0] == timeless[1] == timeless[2]


def test_another_seed_gives_other_weights():
    data = Squares(16)
    a = fit(make_model(), data, None, quick(modality="image", max_steps=2))
    b = fit(make_model(), data, None, quick(modality="image", max_steps=2, seed=1))
    assert any(
        not torch.equal(x, y)
        for x, y in zip(weights(a.model).values(), weights(b.model).values(), strict=True)
    )


def test_fit_trains_a_baseline_too():
    history = fit(
        make_model(cls=FrameViT),
        Squares(16),
        None,
        quick(modality="static_clip", frames=2, max_steps=1),
    )
    assert history.records[0]["step"] == 1


def test_views_forward_class_names():
    assert StillClips(Squares(4)).groups == Squares.groups
    assert StaticClips(Squares(4), 2).targets == [0, 1, 2, 3]


def test_a_saved_run_loads_instead_of_training(tmp_path):
    from rvit.train import load_run, save_run

    history = fit(make_model(), Squares(16), None, quick(modality="image"))
    assert history.seconds is not None and history.seconds > 0
    path = save_run(tmp_path / "runs" / "image.pt", history, classes=Squares.classes)
    loaded = load_run(path, make_model(seed=1), classes=Squares.classes)
    assert loaded.records == history.records and loaded.seconds == history.seconds
    assert not loaded.model.training
    assert_same_weights(weights(loaded.model), weights(history.model))


def test_loading_a_run_names_the_file_that_does_not_fit(tmp_path):
    from rvit.checkpoint import save_checkpoint
    from rvit.train import load_run, save_run

    history = fit(make_model(), Squares(16), None, quick(modality="image"))
    path = save_run(tmp_path / "image.pt", history, classes=Squares.classes)
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_run(tmp_path / "absent.pt", make_model())
    with pytest.raises(ValueError, match="image.pt' has another model config: dim=32"):
        load_run(path, make_model(dim=16))
    with pytest.raises(ValueError, match="image.pt' predicts other classes"):
        load_run(path, make_model(), classes=["a", "b", "c", "d"])
    bare = save_checkpoint(tmp_path / "bare.pt", make_model())
    with pytest.raises(ValueError, match="bare.pt' holds no training history"):
        load_run(bare, make_model())
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="text.pt' is not a readable rvit checkpoint"):
        load_run(tmp_path / "text.pt", make_model())
