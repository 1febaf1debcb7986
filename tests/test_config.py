"""RViTConfig: presets, sizes, validation, replace, serialisation."""

import dataclasses
import json
import typing

import options
import pytest

from rvit import RViTConfig
from rvit.config import OPTIONS, SIZES


def test_presets_differ_in_the_comparison_rows_only():
    paper, variant = RViTConfig.paper(10), RViTConfig.variant(10)
    assert (paper.patch_embed, paper.pos_embed, paper.attention, paper.head) == (
        "conv2d",
        "shared",
        "linear",
        "tokens",
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


def test_defaults_are_the_reconstruction_preset():
    # so configs saved before the released block's fields existed load as the model they were
    assert RViTConfig(num_classes=10) == RViTConfig.reconstruction(10)


def test_the_paper_preset_takes_the_released_block_and_the_texts_linear_attention():
    paper, official = RViTConfig.paper(10), RViTConfig.official(10)
    block = ("memory_entry", "recurrence", "tokens", "pos_every_layer", "head", "classifier")
    assert [getattr(paper, f) for f in block] == [getattr(official, f) for f in block]
    assert [getattr(paper, f) for f in block] == [
        "fused",
        "additive",
        "class",
        True,
        "tokens",
        "mlp",
    ]
    assert (paper.attention, official.attention) == ("linear", "softmax")
    old = RViTConfig.reconstruction(10)
    assert [getattr(old, f) for f in block] == [
        "keys",
        "gate",
        "patches",
        False,
        "concat",
        "linear",
    ]


def test_official_preset_is_the_released_demo_model():
    cfg = RViTConfig.official(num_classes=400)
    assert (cfg.image_size, cfg.patch_size, cfg.dim, cfg.depth, cfg.heads) == (112, 8, 192, 2, 8)
    assert (cfg.num_frames, cfg.mlp_ratio, cfg.dropout, cfg.pixel_std) == (16, 4.0, 0.1, 0.5)
    assert RViTConfig.official(10, patch_size=4).dim == 3 * 4 * 4  # width 3 P^2


def test_the_tokens_head_needs_class_tokens():
    with pytest.raises(ValueError, match="head='tokens'.*tokens='class'"):
        RViTConfig.paper(10, tokens="patches")
    with pytest.raises(ValueError, match="pos_every_layer"):
        RViTConfig.paper(10, pos_every_layer="yes")


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
    for preset in options.PRESETS:
        base = getattr(RViTConfig, preset)(10)
        for name, values in OPTIONS.items():
            for value in values:
                changes = options.one_change(name, value, base.to_dict())
                assert getattr(base.replace(**changes), name) == value


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


def test_design_sources_name_config_fields_and_cover_the_released_block():
    from rvit.cell import DESIGN_SOURCES
    from rvit.config import _RELEASED_BLOCK, design_table

    assert set(DESIGN_SOURCES) <= set(RViTConfig.field_names())
    assert set(_RELEASED_BLOCK) <= set(DESIGN_SOURCES)
    rows = design_table()
    assert [r["field"] for r in rows] == list(DESIGN_SOURCES)
    assert all(r["paper"] == getattr(RViTConfig.paper(10), r["field"]) for r in rows)
