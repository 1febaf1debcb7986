"""The model configuration: one field per design choice, two presets, named sizes (chapter 5).

Each row of the proposal's comparison table is one field of :class:`RViTConfig`, so the paper's design
and the proposal's variant differ only in field values:

=====================  ==============  ==========================
field                  ``paper()``     ``variant()``
=====================  ==============  ==========================
``patch_embed``        ``"conv2d"``    ``"conv3d"`` (tubelet)
``pos_embed``          ``"shared"``    ``"interpolated"``
``attention``          ``"linear"``    ``"hybrid"``
``recurrent_dropout``  ``0.0``         ``0.1``
``head``               ``"concat"``    ``"gap"``
=====================  ==============  ==========================

``attention`` names the kernels of the two attention steps of an RViT layer: ``"linear"`` uses linear
attention in both the spatial step and the gate; ``"hybrid"`` uses softmax attention within the frame
and linear attention in the recurrent gate; ``"softmax"`` uses softmax in both.

Model widths come from the table :data:`SIZES` unless given explicitly. Inputs are pixels scaled to
``[0, 1]``; every model centres them itself with ``(x - pixel_mean) / pixel_std`` before the patch
embedding, so no data transform has to normalise them (tiny transformers learn slowly on uncentred
pixels).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from rvit.cell import DESIGN_SOURCES, GateKV, MemoryEntry, Recurrence
from rvit.heads import HEADS

__all__ = ["DESIGN_SOURCES", "OPTIONS", "PRESETS", "SIZES", "RViTConfig", "design_table"]

SizeName = Literal["tiny", "small", "base"]
PatchEmbedKind = Literal["conv2d", "conv3d"]
PosEmbedKind = Literal["shared", "interpolated"]
AttentionChoice = Literal["linear", "hybrid", "softmax"]
TokensKind = Literal["patches", "class"]
ClassifierKind = Literal["linear", "mlp"]
InitKind = Literal["vit", "torch"]

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"dim": 64, "depth": 4, "heads": 4, "mlp_ratio": 2.0},
    "small": {"dim": 192, "depth": 6, "heads": 3, "mlp_ratio": 4.0},
    "base": {"dim": 768, "depth": 12, "heads": 12, "mlp_ratio": 4.0},
}
"""Named model sizes: width, layers, heads and MLP ratio. ``base`` is ViT-B-like."""

OPTIONS: dict[str, tuple[str, ...]] = {
    "size": get_args(SizeName),
    "patch_embed": get_args(PatchEmbedKind),
    "pos_embed": get_args(PosEmbedKind),
    "attention": get_args(AttentionChoice),
    "gate_kv": get_args(GateKV),
    "memory_entry": get_args(MemoryEntry),
    "recurrence": get_args(Recurrence),
    "tokens": get_args(TokensKind),
    "head": tuple(HEADS),
    "classifier": get_args(ClassifierKind),
    "init": get_args(InitKind),
}
"""The allowed values of each option field, read from the field's ``Literal`` type (so the two
cannot disagree); ``size`` names the rows of :data:`SIZES`, ``head`` the heads of
:data:`rvit.heads.HEADS`."""

if OPTIONS["size"] != tuple(SIZES):
    raise RuntimeError(f"SizeName {OPTIONS['size']} does not name the rows of SIZES {tuple(SIZES)}")

_SIZE_FIELDS = ("dim", "depth", "heads", "mlp_ratio")
_POSITIVE_INTS = (
    "num_classes",
    "image_size",
    "in_chans",
    "patch_size",
    "dim",
    "depth",
    "heads",
    "tubelet",
    "num_frames",
    "max_frames",
)
_RATES = ("recurrent_dropout", "dropout")


def design_table(presets: tuple[str, ...] = ("paper", "official", "reconstruction")) -> list[dict]:
    """One row per choice of :data:`DESIGN_SOURCES`: ``field``, ``paper's text``, ``released code``
    and each preset's value of the field (the presets built at 10 classes)."""
    built = {name: getattr(RViTConfig, name)(10) for name in presets}
    return [
        {
            "field": field,
            "paper's text": text,
            "released code": code,
            **{name: getattr(cfg, field) for name, cfg in built.items()},
        }
        for field, (text, code, _) in DESIGN_SOURCES.items()
    ]


PRESETS: tuple[str, ...] = ("paper", "variant", "reconstruction", "official")
"""The presets of :class:`RViTConfig`, by the name of their class method."""

_RELEASED_BLOCK: dict[str, Any] = {
    "memory_entry": "fused",
    "recurrence": "additive",
    "tokens": "class",
    "pos_every_layer": True,
    "head": "tokens",
    "classifier": "mlp",
    "init": "torch",
}
"""The choices of the authors' released block (``model/RViT.py``) that the paper's text leaves open."""

_RECONSTRUCTED_BLOCK: dict[str, Any] = {
    "memory_entry": "keys",
    "recurrence": "gate",
    "tokens": "patches",
    "pos_every_layer": False,
    "classifier": "linear",
    "init": "vit",
}
"""The same choices in this book's gated reconstruction (the field defaults)."""


@dataclass(frozen=True)
class RViTConfig:
    """Every choice that defines an RViT (and its baselines FrameViT and ClipViT).

    Defaults are the paper preset at the ``tiny`` size. ``dim``, ``depth``, ``heads`` and ``mlp_ratio``
    are filled from :data:`SIZES` when left ``None``. All fields are validated on construction; a bad
    value raises ``ValueError`` naming the field, the value and what is allowed.
    """

    num_classes: int
    image_size: int = 32
    in_chans: int = 3
    patch_size: int = 4
    size: SizeName = "tiny"
    dim: int | None = None
    depth: int | None = None
    heads: int | None = None
    mlp_ratio: float | None = None
    patch_embed: PatchEmbedKind = "conv2d"
    tubelet: int = 2
    pos_embed: PosEmbedKind = "shared"
    num_frames: int = 8
    max_frames: int = 64
    attention: AttentionChoice = "linear"
    gate_kv: GateKV = "frame_and_memory"
    recurrent_dropout: float = 0.0
    head: str = "concat"
    dropout: float = 0.0
    pixel_mean: float = 0.5
    pixel_std: float = 0.25
    memory_entry: MemoryEntry = "keys"
    recurrence: Recurrence = "gate"
    tokens: TokensKind = "patches"
    pos_every_layer: bool = False
    classifier: ClassifierKind = "linear"
    init: InitKind = "vit"

    def __post_init__(self) -> None:
        for name, allowed in OPTIONS.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not allowed; choose one of {allowed}")
        for name in _SIZE_FIELDS:
            if getattr(self, name) is None:
                object.__setattr__(self, name, SIZES[self.size][name])
        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is not allowed; expected an integer >= 1")
        if isinstance(self.mlp_ratio, bool) or not isinstance(self.mlp_ratio, int | float):
            raise ValueError(f"mlp_ratio={self.mlp_ratio!r} is not allowed; expected a number > 0")
        if not self.mlp_ratio > 0 or int(self.dim * self.mlp_ratio) < 1:
            raise ValueError(f"mlp_ratio={self.mlp_ratio!r} is not allowed; expected a number > 0")
        object.__setattr__(self, "mlp_ratio", float(self.mlp_ratio))
        for name in _RATES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise ValueError(f"{name}={value!r} is not allowed; expected a number in [0, 1)")
            object.__setattr__(self, name, float(value))
        if isinstance(self.pixel_std, bool) or not isinstance(self.pixel_std, int | float):
            raise ValueError(f"pixel_std={self.pixel_std!r} is not allowed; expected a number > 0")
        if not self.pixel_std > 0:
            raise ValueError(f"pixel_std={self.pixel_std!r} is not allowed; expected a number > 0")
        if isinstance(self.pixel_mean, bool) or not isinstance(self.pixel_mean, int | float):
            raise ValueError(f"pixel_mean={self.pixel_mean!r} is not allowed; expected a number")
        object.__setattr__(self, "pixel_mean", float(self.pixel_mean))
        object.__setattr__(self, "pixel_std", float(self.pixel_std))
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size={self.image_size} is not divisible by patch_size={self.patch_size}"
            )
        if self.dim % self.heads:
            raise ValueError(f"dim={self.dim} is not divisible by heads={self.heads}")
        if not isinstance(self.pos_every_layer, bool):
            raise ValueError(
                f"pos_every_layer={self.pos_every_layer!r} is not allowed; expected True or False"
            )
        if self.head == "tokens" and self.tokens != "class":
            raise ValueError(
                "head='tokens' reads the class token and the sequence tokens, which need "
                f"tokens='class'; got tokens={self.tokens!r}"
            )

    # presets -------------------------------------------------------------------------------------

    @classmethod
    def official(
        cls, num_classes: int, image_size: int = 112, size: str | None = None, **overrides: Any
    ) -> RViTConfig:
        """The authors' released design (``Jiewen-Yang/RViT``, ``model/RViT.py``, ``RViT_P8_L16_112``).

        8 x 8 patches and width ``3 P^2 = 192``; a class token per frame and a learned sequence token
        per layer's memory; one position table shared by all frames and added in every layer; the
        fused attention (softmax, the file's active path) over the frame and its memory, 2 layers of
        8 heads, an MLP of 4x; the additive, ungated memory; the head that concatenates the last
        class token with every layer's sequence token and classifies through an MLP; dropout 0.1;
        16 frames; pixels centred with mean 0.5 and std 0.5. At 400 classes it has the 4,076,176
        parameters the released forward uses. ``size`` (a row of :data:`SIZES`) gives the released
        block other widths instead (``None``: the released ones).
        """
        patch = overrides.pop("patch_size", 8)
        in_chans = overrides.get("in_chans", 3)
        widths: dict[str, Any] = {
            "dim": in_chans * patch * patch,
            "depth": 2,
            "heads": 8,
            "mlp_ratio": 4.0,
        }
        settings: dict[str, Any] = {
            "patch_size": patch,
            "size": size or "tiny",
            **({} if size else widths),
            "num_frames": 16,
            "dropout": 0.1,
            "pixel_std": 0.5,
            **_RELEASED_BLOCK,
            "attention": "softmax",
        }
        settings.update(overrides)
        return cls(num_classes=num_classes, image_size=image_size, **settings)

    @classmethod
    def paper(
        cls, num_classes: int, image_size: int = 32, size: str = "tiny", **overrides: Any
    ) -> RViTConfig:
        """The paper's design: the paper's text where it speaks, the released code where it is silent.

        Linear attention (the text, and the proposal's table), 2D patches and one shared position
        table, no recurrent dropout; from the released code the fused memory, the additive
        recurrence, class and sequence tokens, positions in every layer and the concatenating MLP
        head (``head="tokens"``, ``classifier="mlp"``).
        """
        settings: dict[str, Any] = {
            "patch_embed": "conv2d",
            "pos_embed": "shared",
            "attention": "linear",
            "recurrent_dropout": 0.0,
            "dropout": 0.0,
            **_RELEASED_BLOCK,
        }
        settings.update(overrides)
        return cls(num_classes=num_classes, image_size=image_size, size=size, **settings)

    @classmethod
    def reconstruction(
        cls, num_classes: int, image_size: int = 32, size: str = "tiny", **overrides: Any
    ) -> RViTConfig:
        """This book's gated reconstruction, written before the authors' code was known.

        The paper preset of the study's version 2: a separate attention gate that reads the memory's
        tokens as extra keys, a sigmoid-gated convex update, no class or sequence tokens, positions
        added once, the ``concat`` head ``[mean LN(x) || mean h]`` and a LayerNorm-Linear classifier;
        linear attention, 2D patches, one shared position table.
        """
        settings: dict[str, Any] = {
            "patch_embed": "conv2d",
            "pos_embed": "shared",
            "attention": "linear",
            "recurrent_dropout": 0.0,
            "head": "concat",
            "dropout": 0.0,
            **_RECONSTRUCTED_BLOCK,
        }
        settings.update(overrides)
        return cls(num_classes=num_classes, image_size=image_size, size=size, **settings)

    @classmethod
    def variant(
        cls, num_classes: int, image_size: int = 32, size: str = "tiny", **overrides: Any
    ) -> RViTConfig:
        """The proposal's image-trained variant: the paper's block with the proposal's five changes:
        tubelets, interpolated positions, hybrid attention, recurrent dropout 0.1 and the
        global-average-pooled head (``"gap"``: the mean of the last layer's memory)."""
        settings: dict[str, Any] = {
            "patch_embed": "conv3d",
            "pos_embed": "interpolated",
            "attention": "hybrid",
            "recurrent_dropout": 0.1,
            **_RELEASED_BLOCK,
            "head": "gap",
        }
        settings.update(overrides)
        return cls(num_classes=num_classes, image_size=image_size, size=size, **settings)

    # changes and serialisation -------------------------------------------------------------------

    def replace(self, **changes: Any) -> RViTConfig:
        """A new validated config with ``changes`` applied and every other field kept.

        Changing ``size`` refills ``dim``, ``depth``, ``heads`` and ``mlp_ratio`` from :data:`SIZES`
        unless they are given in the same call.
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; known: {self.field_names()}")
        if "size" in changes:
            for name in _SIZE_FIELDS:
                changes.setdefault(name, None)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain JSON-ready dict (sizes filled in)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RViTConfig:
        """The config that ``to_dict`` wrote; unknown keys raise ``ValueError``."""
        if not isinstance(d, dict):
            raise ValueError(f"from_dict expects a dict; got {type(d).__name__}")
        unknown = sorted(set(d) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; known: {cls.field_names()}")
        if "num_classes" not in d:
            raise ValueError("the config dict has no 'num_classes'")
        return cls(**d)

    @classmethod
    def field_names(cls) -> list[str]:
        """The names of all config fields, in order."""
        return [f.name for f in dataclasses.fields(cls)]

    @property
    def grid_size(self) -> tuple[int, int]:
        """The patch grid ``(image_size / patch_size,) * 2`` at the configured image size."""
        side = self.image_size // self.patch_size
        return side, side

    @property
    def num_patches(self) -> int:
        """Tokens per frame ``N`` at the configured image size."""
        return self.grid_size[0] * self.grid_size[1]
