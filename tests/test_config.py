"""RViTConfig: presets, sizes, validation, replace, serialisation."""

import dataclasses
import json
import typing

import pytest

from rvit import RViTConfig
from rvit.config import OPTIONS, SIZES


def test_presets_differ_in_the_comparison_rows_only():
    paper, variant = RViTConfig.paper(10), RViTConfig.variant(10)
    assert (paper.patch_embed, paper.pos_embed, paper.attention, paper.head) == (
        "conv2d",
        "shared",
        "linear",
        "concat",
    )
    assert (paper.recurrent_dropout, paper.dropout) == (0.0, 0.0)
    assert (variant.patch_embed, variant.pos_embed, variant.attention, variant.head) == (
        "conv3d",
        "interpolated",
        "hybrid",
        "gap",
    )
    assert variant.recurrent_dropout == 0.1
    differ = {f for f in paper.field_names() if getattr(paper, f) != getattr(variant, f)}
    assert differ == {"patch_embed", "pos_embed", "attention", "recurrent_dropout", "head"}


def test_defaults_are_the_paper_preset():
    assert RViTConfig(num_classes=10) == RViTConfig.paper(10)


@pytest.mark.parametrize("size", list(SIZES))
def test_sizes_fill_the_widths_unless_given(size):
    cfg = RViTConfig.paper(10, size=size)
    for name, value in SIZES[size].items():
        assert getattr(cfg, name) == value
    assert RViTConfig.paper(10, size=size, depth=1).depth == 1


def test_replace_changes_one_field_and_keeps_the_rest():
    cfg = RViTConfig.variant(7, image_size=48, dim=96, heads=6)
    changed = cfg.replace(attention="softmax")
    assert changed.attention == "softmax"
    assert dataclasses.replace(changed, attention=cfg.attention) == cfg
    assert changed.dim == 96 and changed.image_size == 48


def test_replace_size_refills_the_widths():
    cfg = RViTConfig.paper(10, dim=96, heads=6)
    assert cfg.replace(size="small").dim == SIZES["small"]["dim"]
    assert cfg.replace(size="small", dim=96).dim == 96
    assert cfg.replace(dropout=0.2).dim == 96


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"attention": "quadratic"}, "attention='quadratic'.*'linear', 'hybrid', 'softmax'"),
        ({"patch_embed": "conv1d"}, "patch_embed='conv1d'"),
        ({"pos_embed": "sinusoidal"}, "pos_embed='sinusoidal'"),
        ({"gate_kv": "frame"}, "gate_kv='frame'"),
        ({"head": "cls"}, "head='cls'"),
        ({"size": "huge"}, "size='huge'"),
        ({"image_size": 30}, "image_size=30 is not divisible by patch_size=4"),
        ({"dim": 30}, "dim=30 is not divisible by heads=4"),
        ({"dropout": 1.0}, "dropout=1.0.*\\[0, 1\\)"),
        ({"dropout": -0.1}, "dropout=-0.1"),
        ({"recurrent_dropout": 1.5}, "recurrent_dropout=1.5"),
        ({"num_classes": 0}, "num_classes=0.*integer >= 1"),
        ({"num_classes": True}, "num_classes=True"),
        ({"depth": 2.0}, "depth=2.0"),
        ({"tubelet": 0}, "tubelet=0"),
        ({"mlp_ratio": 0}, "mlp_ratio=0"),
        ({"num_frames": 0}, "num_frames=0"),
        ({"colour": "red"}, "unknown config field"),
    ],
)
def test_bad_values_raise_naming_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        RViTConfig.paper(10).replace(**changes)


def test_options_are_the_literal_types_of_the_fields():
    hints = typing.get_type_hints(RViTConfig)
    for name, values in OPTIONS.items():
        if typing.get_origin(hints[name]) is typing.Literal:
            assert typing.get_args(hints[name]) == values, name
    assert OPTIONS["size"] == tuple(SIZES)


def test_every_option_value_is_accepted():
    for name, values in OPTIONS.items():
        for value in values:
            assert getattr(RViTConfig.paper(10).replace(**{name: value}), name) == value


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RViTConfig.paper(10).dim = 8


@pytest.mark.parametrize("preset", ["paper", "variant"])
def test_dict_round_trip_through_json(preset):
    cfg = getattr(RViTConfig, preset)(12, image_size=48, size="small", num_frames=16)
    assert RViTConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_from_dict_errors():
    with pytest.raises(ValueError, match="unknown config field.*'colour'"):
        RViTConfig.from_dict({"num_classes": 3, "colour": "red"})
    with pytest.raises(ValueError, match="num_classes"):
        RViTConfig.from_dict({"dim": 32})


def test_grid_properties():
    cfg = RViTConfig.paper(10, image_size=32, patch_size=8)
    assert cfg.grid_size == (4, 4) and cfg.num_patches == 16
