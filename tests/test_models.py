"""The table of models: building by name, checkpoint class paths, the parameter table."""

import pytest
import torch

from rvit import ClipViT, FrameViT, RViT, RViTConfig
from rvit.checkpoint import model_class_path
from rvit.config import SIZES
from rvit.models import MODELS, build_model, parameter_table


def test_the_table_names_each_model_class():
    assert MODELS == {"rvit": RViT, "framevit": FrameViT, "clipvit": ClipViT}


@pytest.mark.parametrize("kind", list(MODELS))
def test_build_model_builds_the_named_class(kind):
    cfg = RViTConfig.paper(3, image_size=16, dim=16, depth=1, heads=2)
    model = build_model(kind, cfg)
    assert type(model) is MODELS[kind] and model.cfg == cfg


def test_build_model_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="'vit' is unknown; choose one of"):
        build_model("vit", RViTConfig.paper(3))


def test_checkpoint_class_paths_are_unchanged():
    cfg = RViTConfig.paper(3, image_size=16, dim=16, depth=1, heads=2)
    paths = {kind: model_class_path(cls(cfg)) for kind, cls in MODELS.items()}
    assert paths == {
        "rvit": "rvit.model.RViT",
        "framevit": "rvit.baselines.FrameViT",
        "clipvit": "rvit.baselines.ClipViT",
    }


def test_parameter_table_counts_real_models():
    rows = parameter_table(num_classes=10, image_size=32)
    assert len(rows) == len(SIZES) * 2 * 3
    assert {r["model"] for r in rows} == {"RViT", "FrameViT", "ClipViT"}
    tiny_rvit = [r for r in rows if r["size"] == "tiny" and r["model"] == "RViT"]
    # the released head's MLP (4x of (depth + 1) D features) is most of the tiny paper preset
    assert len(tiny_rvit) == 2 and all(r["parameters"] < 1_500_000 for r in tiny_rvit)
    paper = next(r for r in tiny_rvit if r["preset"] == "paper")
    assert paper["parameters"] == RViT(RViTConfig.paper(10)).num_parameters()
    base = [r["parameters"] for r in rows if r["size"] == "base" and r["model"] == "FrameViT"]
    assert all(80_000_000 < p < 90_000_000 for p in base)  # ViT-B is about 86 M
    assert all(isinstance(r["parameters"], int) for r in rows)
    assert torch.get_default_device() == torch.device("cpu")  # the meta device did not leak
