"""Checkpoints: exact resumption, faults (NaN, Ctrl-C), atomic files, rebuilding the right model."""

import json
import math
import random
import re
import signal
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from rvit.baselines import FrameViT
from rvit.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    load_model,
    load_weights,
    restore_rng_state,
    save_checkpoint,
)
from rvit.config import RViTConfig
from rvit.data.synthetic import SyntheticActions
from rvit.model import RViT
from rvit.train import TrainConfig, fit
from rvit.utils import (
    atomic_write_json,
    git_info,
    make_generator,
    provenance,
    seed_everything,
)

K, SIZE = 3, 16


class Blobs(Dataset):
    """Stills whose brightness tells the class, plus noise drawn from the global generator.

    The noise makes every item depend on the random state the training loop sets for it.
    """

    classes = ["dark", "mid", "bright"]

    def __len__(self):
        return 12

    def __getitem__(self, index):
        label = index % K
        image = torch.full((3, SIZE, SIZE), 0.2 + 0.3 * label)
        return (image + 0.1 * torch.randn_like(image)).clamp(0, 1), label


def cfg(num_classes=K, **overrides):
    settings = {"dim": 32, "depth": 1, "heads": 2, "patch_size": 4, "dropout": 0.1}
    settings.update(overrides)
    return RViTConfig.paper(num_classes=num_classes, image_size=SIZE, **settings)


def model(seed=0, cls=RViT, **overrides):
    torch.manual_seed(seed)
    return cls(cfg(**overrides))


def config(**changes):
    settings = dict(
        modality="static_clip",
        frames=2,
        epochs=2,
        batch_size=4,
        lr=3e-3,
        warmup_epochs=0.5,
        device="cpu",
        progress=False,
        seed=0,
    )
    settings.update(changes)
    return TrainConfig(**settings)


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def without_timing(records):
    return [{k: v for k, v in r.items() if k not in ("seconds", "samples_per_s")} for r in records]


# --- random states -----------------------------------------------------------------------------


def test_rng_state_round_trip():
    seed_everything(3)
    generator = make_generator(5)
    state = capture_rng_state(generator)

    def draw():
        legacy_numpy = np.random.rand()  # noqa: NPY002 (the global state is under test)
        return random.random(), legacy_numpy, torch.rand(2), torch.rand(2, generator=generator)

    first = draw()
    restore_rng_state(state, generator)
    again = draw()
    assert first[:2] == again[:2]
    assert torch.equal(first[2], again[2]) and torch.equal(first[3], again[3])


def test_seed_everything_rejects_bad_seeds():
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


# --- resuming ----------------------------------------------------------------------------------


def test_resume_after_max_steps_equals_an_uninterrupted_run(tmp_path):
    straight = fit(model(), Blobs(), Blobs(), config())
    stopped = fit(model(), Blobs(), Blobs(), config(checkpoint_dir=tmp_path, max_steps=4))
    assert stopped.records[-1]["step"] == 4  # 3 steps per epoch: stopped inside epoch 2
    assert load_checkpoint(tmp_path / "last.pt")["batch"] == 1
    resumed = fit(model(seed=1), Blobs(), Blobs(), config(checkpoint_dir=tmp_path))
    assert_same_weights(straight.model, resumed.model)
    assert without_timing(resumed.records) == without_timing(straight.records)


def test_ctrl_c_saves_a_checkpoint_and_resuming_is_exact(tmp_path):
    def interrupt(info):
        if info.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path), callbacks=[interrupt])
    saved = load_checkpoint(tmp_path / "last.pt")
    assert (saved["epoch"], saved["batch"], saved["step"]) == (0, 2, 2)
    resumed = fit(model(seed=1), Blobs(), None, config(checkpoint_dir=tmp_path))
    straight = fit(model(), Blobs(), None, config())
    assert_same_weights(straight.model, resumed.model)


def test_resume_refuses_a_model_of_another_config(tmp_path):
    fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path, max_steps=1))
    with pytest.raises(ValueError, match="dim=32 .checkpoint. vs 64 .model."):
        fit(model(dim=64), Blobs(), None, config(checkpoint_dir=tmp_path))


class OtherBlobs(Blobs):
    """Another data set: more samples, other class names."""

    classes = ["black", "grey", "white"]

    def __len__(self):
        return 24


def snapshot(folder):
    """Every file under ``folder`` and its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_resume_refuses_another_run_naming_each_difference(tmp_path):
    """A second run with another model, other settings and other data into the same folder
    would train the first run's weights on; it is refused, naming every difference, and the
    first run's files are left as they were."""
    fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path, max_steps=1))
    before = snapshot(tmp_path)
    other = config(checkpoint_dir=tmp_path, lr=1e-3, num_workers=1, max_steps=None)
    with pytest.raises(ValueError) as error:
        fit(model(dim=64), OtherBlobs(), None, other)
    message = str(error.value)
    assert "\n" not in message and f"'{tmp_path / 'last.pt'}' is another run" in message
    for part in (
        "model config dim=32 (checkpoint) vs 64 (model)",
        "training setting lr=0.003 (checkpoint) vs 0.001 (now)",
        "classes only in the checkpoint: 'dark', 'mid', 'bright'",
        "classes only now: 'black', 'grey', 'white'",
        "training samples 12 (checkpoint) vs 24 (now)",
        "data fingerprint ",
        "restart=True (rvit train --restart)",
        f"'{tmp_path / 'replaced-1'}'",
    ):
        assert part in message, (part, message)
    assert "num_workers" not in message and "max_steps" not in message  # free to change
    assert snapshot(tmp_path) == before


def test_resume_tells_data_sets_apart_by_their_fingerprint(tmp_path):
    """Two synthetic worlds of one size and one class list differ only in their seed, which the
    data fingerprint (a hash of the set's description and labels) tells apart."""
    first, second = (
        SyntheticActions("train", "image", num_samples=6, image_size=SIZE, seed=s) for s in (0, 1)
    )
    k = len(first.classes)
    train = config(modality="image", frames=None, checkpoint_dir=tmp_path, max_steps=1)
    fit(model(num_classes=k), first, None, train)
    with pytest.raises(
        ValueError, match=r"another run, not resumed: data fingerprint \w+ .checkpoint. vs"
    ):
        fit(model(num_classes=k), second, None, train)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same world resumes, silently
        fit(model(num_classes=k), first, None, train.replace(max_steps=2))
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 2


def test_restart_sets_the_old_run_aside_and_trains_afresh(tmp_path):
    """restart=True moves the earlier run's files into replaced-N (nothing is deleted) and the
    new run is exactly a run in an empty folder."""
    fit(model(), Blobs(), Blobs(), config(checkpoint_dir=tmp_path))
    first = snapshot(tmp_path)
    fresh = config(checkpoint_dir=tmp_path, lr=1e-3, restart=True)
    restarted = fit(model(dim=64), OtherBlobs(), None, fresh)
    alone = fit(model(dim=64), OtherBlobs(), None, config(lr=1e-3))
    assert_same_weights(alone.model, restarted.model)
    assert snapshot(tmp_path / "replaced-1") == first
    assert load_checkpoint(tmp_path / "last.pt")["classes"] == OtherBlobs.classes
    fit(model(dim=64), OtherBlobs(), None, fresh.replace(epochs=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.pt",
        "history.csv",
        "last.pt",
        "replaced-1",
        "replaced-2",
    ]
    assert load_checkpoint(tmp_path / "replaced-2" / "last.pt")["step"] == 12  # the first restart


# --- faults ------------------------------------------------------------------------------------


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    def poison(info):
        if info.step == 4:  # first step of epoch 2 is done; the next loss is NaN
            with torch.no_grad():
                info.model.head.weight.fill_(float("nan"))

    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 2 \(step 5\)"):
        fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path), callbacks=[poison])
    kept = load_checkpoint(tmp_path / "last.pt")
    assert kept["epoch"] == 1 and kept["step"] == 3
    assert all(torch.isfinite(v).all() for v in kept["model_state"].values())


@pytest.mark.parametrize(
    ("entry", "damage"),
    [
        ("optimizer", lambda c: c["optimizer"]["state"][0]["exp_avg"].view(-1)[:1].add_(1e-3)),
        ("scheduler", lambda c: c["scheduler"].update(last_epoch=c["scheduler"]["last_epoch"] + 1)),
        ("rng", lambda c: c["rng"]["generator"].view(-1)[:1].add_(1)),
        ("batch", lambda c: c.update(batch=c["batch"] + 1)),
        ("totals", lambda c: c["totals"].update(loss=c["totals"]["loss"] * 2)),
        ("history", lambda c: c["history"].append({**c["history"][0], "epoch": 2})),
    ],
)
def test_a_damaged_training_state_is_refused_naming_the_file_and_entry(tmp_path, entry, damage):
    """The checksum covers everything a resume reads, not only the weights: one changed number of
    the optimiser state or of the position makes the file refused before any of it is used."""
    fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path, max_steps=4))
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    damage(payload)
    torch.save(payload, tmp_path / "last.pt")  # a damage that torch.load does not notice
    message = f"checkpoint '{tmp_path / 'last.pt'}' is damaged: its entry '{entry}' does not match"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_checkpoint(tmp_path / "last.pt")
    with pytest.raises(ValueError, match=re.escape(message)):  # and resuming never starts
        fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path))


def test_a_checkpoint_without_checksums_still_resumes_exactly_with_a_warning(tmp_path):
    """Files written before the training state had a checksum load as they are; a resume from
    one says that its state was not checked, and is as exact as before."""
    fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path, max_steps=4))
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    del payload["checksums"]
    torch.save(payload, tmp_path / "last.pt")
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 4
    with pytest.warns(UserWarning, match="no checksum of its training state"):
        resumed = fit(model(seed=1), Blobs(), None, config(checkpoint_dir=tmp_path))
    assert_same_weights(fit(model(), Blobs(), None, config()).model, resumed.model)


def step_then(monkeypatch, at_step, action):
    """Make AdamW's step ``at_step`` (1-based) call ``action`` once it has updated the weights:
    the moment at which the weights are one step ahead of the recorded position."""
    original = torch.optim.AdamW.step
    calls = []

    def step(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == at_step:
            action()
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", step)


def test_a_second_ctrl_c_inside_the_optimiser_step_waits_for_the_position(tmp_path, monkeypatch):
    """Ctrl-C twice while the optimiser updates the weights: the second one waits the few
    milliseconds until the position records the step, so last.pt pairs those weights with their
    position and the resumed run equals one never stopped."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # fit installs its own

    def ctrl_c_twice():
        signal.raise_signal(signal.SIGINT)  # the first asks to stop between steps
        signal.raise_signal(signal.SIGINT)  # the second one would stop at once

    step_then(monkeypatch, 5, ctrl_c_twice)
    with pytest.raises(KeyboardInterrupt):
        fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path))
    monkeypatch.undo()
    saved = load_checkpoint(tmp_path / "last.pt")
    assert (saved["epoch"], saved["batch"], saved["step"]) == (1, 2, 5)
    resumed = fit(model(seed=1), Blobs(), None, config(checkpoint_dir=tmp_path))
    straight = fit(model(), Blobs(), None, config())
    assert_same_weights(straight.model, resumed.model)
    assert without_timing(resumed.records) == without_timing(straight.records)


def test_an_interruption_inside_the_optimiser_step_writes_no_checkpoint(tmp_path, monkeypatch):
    """A KeyboardInterrupt that reaches the optimiser step by another route than fit's handler
    cannot be held back: nothing is written then (the weights may be ahead of the position), the
    files of the last good checkpoint stay as they were, and resuming them is exact."""
    before = {}

    def remember(info):
        if info.step == 4:
            before.update(snapshot(tmp_path))

    def interrupt():
        raise KeyboardInterrupt

    step_then(monkeypatch, 5, interrupt)
    with (
        pytest.raises(KeyboardInterrupt),
        pytest.warns(UserWarning, match="inside an optimisation step.*last.pt not written"),
    ):
        fit(model(), Blobs(), None, config(checkpoint_dir=tmp_path), callbacks=[remember])
    monkeypatch.undo()
    assert before and snapshot(tmp_path) == before
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 3
    resumed = fit(model(seed=1), Blobs(), None, config(checkpoint_dir=tmp_path))
    assert_same_weights(fit(model(), Blobs(), None, config()).model, resumed.model)


class PoisonedBlobs(Blobs):
    """Blobs whose items are all ``poison`` once it is set (NaN, or a number that overflows)."""

    poison = None

    def __getitem__(self, index):
        image, label = super().__getitem__(index)
        return (image if self.poison is None else torch.full_like(image, self.poison)), label


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ("nan_item", ValueError, r"video contains NaN or inf values"),  # the model's own check
        ("huge_item", FloatingPointError, r"training loss is nan at epoch 2, batch 3 \(step 6\)"),
        ("nan_gradient", FloatingPointError, r"gradient norm is nan \(loss [\d.]+\) at epoch 2"),
        ("nan_weights", FloatingPointError, r"head.weight.* not finite after step 6: nothing"),
        ("nan_weights_then_ctrl_c", KeyboardInterrupt, None),
    ],
)
def test_a_nan_never_overwrites_the_last_good_checkpoint(tmp_path, fault, error, message):
    """Whatever turns the state non-finite at the last step of an epoch (a NaN sample, NaN
    gradients under a finite loss, NaN weights, then Ctrl-C), no save path writes it: the files
    on disk afterwards are byte for byte those from before the bad step."""
    data = PoisonedBlobs()
    before = {}

    def inject(info):
        if info.step == 5:  # the next step (6) ends epoch 2, which writes history, last and best
            before.update(snapshot(tmp_path))
            if fault.endswith("_item"):
                data.poison = math.nan if fault == "nan_item" else 3e38
            elif fault == "nan_gradient":  # the loss stays finite; the gradients do not
                info.model.head.weight.register_hook(lambda grad: torch.full_like(grad, math.nan))
        if info.step == 6 and fault.startswith("nan_weights"):
            with torch.no_grad():
                info.model.head.weight.fill_(math.nan)
            if fault == "nan_weights_then_ctrl_c":
                raise KeyboardInterrupt

    if error is FloatingPointError:
        message += f".*; the last good checkpoint is kept in '{re.escape(str(tmp_path))}'$"
    with pytest.raises(error, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the interrupt path warns that it writes nothing
        fit(model(), data, Blobs(), config(checkpoint_dir=tmp_path), callbacks=[inject])
    assert sorted(str(name) for name in before) == ["best.pt", "history.csv", "last.pt"]
    assert snapshot(tmp_path) == before


def test_training_leaves_only_finished_files(tmp_path):
    history = fit(model(), Blobs(), Blobs(), config(checkpoint_dir=tmp_path, epochs=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "history.csv", "last.pt"]
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["epoch"] == history.best["epoch"]
    written = pd.read_csv(tmp_path / "history.csv")
    assert list(written["epoch"]) == [1, 2, 3]
    assert np.allclose(written["train_loss"], history.to_frame()["train_loss"])


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path):
    path = atomic_write_json(tmp_path / "metrics.json", {"top1": 0.5})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"top1": object()})
    assert json.loads(path.read_text()) == {"top1": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# --- rebuilding models -------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [RViT, FrameViT])
def test_load_model_rebuilds_class_config_and_weights(tmp_path, cls):
    original = model(cls=cls, depth=2).eval()
    path = save_checkpoint(tmp_path / "m.pt", original, classes=Blobs.classes)
    loaded = load_model(path)
    assert type(loaded) is cls and loaded.cfg == original.cfg and not loaded.training
    assert loaded.classes == Blobs.classes
    video = torch.rand(2, 3, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(loaded(video), original(video), atol=0, rtol=0)


def test_loading_into_another_config_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", model())
    with pytest.raises(ValueError, match="head='tokens' .checkpoint. vs 'gap' .model."):
        load_weights(model(head="gap"), path)
    with pytest.raises(ValueError, match="holds a rvit.model.RViT"):
        load_weights(model(cls=FrameViT), path)


def test_unreadable_checkpoints_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an rvit checkpoint"):
        load_model(tmp_path / "other.pt")
    payload = torch.load(save_checkpoint(tmp_path / "m.pt", model()), weights_only=True)
    payload["model_class"] = "os.system"
    torch.save(payload, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="its entry 'model_class' does not match"):
        load_model(tmp_path / "foreign.pt")  # an edited entry no longer matches its checksum
    del payload["checksums"]  # as a file written before checksums were stored
    torch.save(payload, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="outside the rvit package"):
        load_model(tmp_path / "foreign.pt")


def test_provenance_names_code_and_environment():
    record = provenance({"seed": 1})
    assert record["seed"] == 1 and record["environment"]["packages"]["torch"]
    info = git_info()
    assert set(info) == {"commit", "dirty"}
    assert info["commit"] is None or len(info["commit"]) == 40
