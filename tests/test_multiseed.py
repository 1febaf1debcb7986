"""Several seeds trained as one computation give each seed the numbers of a run of its own."""

import pytest
import torch

from rvit import RViT, RViTConfig
from rvit.data import SyntheticActions
from rvit.multiseed import fit_seeds, group_problem
from rvit.train import TrainConfig, fit

# Float tolerance against a run of its own: the batched products of vmap sum in another order,
# and those last-bit differences grow over the steps of training.
ATOL = 1e-4


def _setup(preset="paper", **model):
    data = SyntheticActions("train", "image", num_samples=24, frames=2, image_size=16, seed=3)
    settings = dict(dim=16, depth=1, heads=2, patch_size=8, num_frames=2, **model)
    cfg = getattr(RViTConfig, preset)(len(data.classes), image_size=16, **settings)
    config = TrainConfig(
        modality="image",
        epochs=2,
        batch_size=8,
        lr=2e-3,
        warmup_epochs=0.5,
        progress=False,
        variable_length=False,
    )
    return data, cfg, config


def _model(cfg, seed):
    torch.manual_seed(seed)
    return RViT(cfg)


@pytest.mark.parametrize("preset", ["paper", "reconstruction"])
def test_each_seed_of_a_group_trains_as_it_would_alone(preset):
    torch.set_num_threads(1)
    data, cfg, config = _setup(preset)
    seeds = [0, 1, 2]
    alone = [fit(_model(cfg, s), data, None, config.replace(seed=s)) for s in seeds]
    group = fit_seeds(
        [_model(cfg, s) for s in seeds], data, [config.replace(seed=s) for s in seeds]
    )
    for single, grouped in zip(alone, group, strict=True):
        a, b = single.model.state_dict(), grouped.model.state_dict()
        assert a.keys() == b.keys()
        for name in a:
            torch.testing.assert_close(b[name], a[name], atol=ATOL, rtol=0, msg=name)
        for r1, r2 in zip(single.records, grouped.records, strict=True):
            assert r1["epoch"] == r2["epoch"] and r1["step"] == r2["step"]
            assert r2["train_loss"] == pytest.approx(r1["train_loss"], abs=ATOL)
            assert r2["train_acc"] == pytest.approx(r1["train_acc"], abs=1e-9)
    # the seeds really differ from each other
    w0, w1 = (h.model.state_dict()["head.weight"] for h in group[:2])
    assert (w0 - w1).abs().max() > 1e-3


def test_a_group_refuses_what_it_cannot_train_alike():
    data, cfg, config = _setup()
    dropout = RViT(cfg.replace(dropout=0.1))
    assert "dropout" in group_problem(dropout, config)
    assert "variable length" in group_problem(RViT(cfg), config.replace(variable_length=True))
    with pytest.raises(ValueError, match="seed only"):
        fit_seeds([RViT(cfg), RViT(cfg)], data, [config, config.replace(seed=1, lr=1e-3)])
    with pytest.raises(ValueError, match="distinct seeds"):
        fit_seeds([RViT(cfg), RViT(cfg)], data, [config, config])
    with pytest.raises(ValueError, match="one architecture"):
        fit_seeds([RViT(cfg), RViT(cfg.replace(depth=2))], data, [config, config.replace(seed=1)])
    with pytest.raises(ValueError, match="seed 0 cannot be trained in a group: the model draws"):
        fit_seeds([dropout], data, [config])


def test_a_non_finite_loss_names_the_seed():
    data, cfg, config = _setup()
    models = [_model(cfg, s) for s in (0, 1)]
    with torch.no_grad():
        models[1].head.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"seed\(s\) \[1\]"):
        fit_seeds(models, data, [config, config.replace(seed=1)])
