"""The study's experiments, written down as code before they run.

Each :class:`Experiment` names the claims of the proposal it serves, the configurations it compares
(model + training + data + evaluation, see :class:`RunConfig`), the seeds, and one or more
:class:`Reading` objects: an operational reading of a claim together with the :class:`Contrast`
whose sign decides it. Nothing here trains anything; :mod:`rvit.study.runner` runs the
configurations and :mod:`rvit.study.report` applies the readings to the stored results.

Conventions

* An *effect* is a number per seed (and per stratum, for example "from the paper preset" and "from
  the variant preset"), built as a weighted sum of metrics of configurations trained with that seed.
  For a row of the comparison table the effect is always *the proposal's choice minus the paper's
  choice*, so its sign reads the same way in every row.
* The verdict rule is the same everywhere (see :mod:`rvit.study.stats`): supported when the 95 %
  bootstrap interval of the mean effect excludes zero in the direction the reading states,
  contradicted when it excludes zero in the other direction, inconclusive otherwise.
* Metrics are addressed by dotted paths into a run's metrics, e.g. ``"test.top1"`` (top-1 accuracy
  on the test videos), ``"test.motion"`` (accuracy on the motion-only pairs), ``"probe.top1"`` or
  ``"train.time_s"``; ``"chance"`` is ``1 / num_classes``.

Profiles set the scale: ``smoke`` (seconds, for the tests), ``book`` (the committed results: a small
model on 32 x 32 pixel frames, a CPU budget of about forty minutes) and ``full`` (larger images,
data and models, for a GPU).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CLAIMS",
    "EXPERIMENTS",
    "PROFILES",
    "Claim",
    "Contrast",
    "Experiment",
    "Profile",
    "Reading",
    "RunConfig",
    "Term",
    "claim_ids",
    "diff",
    "get_experiment",
    "get_profile",
    "get_experiments",
]

# ------------------------------------------------------------------------------------------------
# the claims: the proposal's two tables


@dataclass(frozen=True)
class Claim:
    """One cell of the proposal: a row of the comparison table, or an aspect's strength/weakness."""

    id: str
    table: str  # "comparison" | "insights"
    row: str  # the feature (comparison) or the aspect (insights)
    kind: str  # "impact" | "strength" | "weakness"
    text: str  # the proposal's words
    paper: str = ""  # comparison table only: the paper's design
    proposal: str = ""  # comparison table only: the proposal's design


_COMPARISON = [
    (
        "patch_embedding",
        "Patch embedding",
        "Convolution for P x P patches with shared positional encoding.",
        "3D convolution with interpolated positional encoding.",
        "Allows flexibility in spatial dimensions but may not fully align with video-specific "
        "positional encoding.",
    ),
    (
        "attention",
        "Attention mechanism",
        "Linear attention for efficiency and stability.",
        "Combination of Scaled Dot Product and Linear Attention.",
        "Adds complexity but supports versatile attention mechanisms for better spatial feature "
        "learning during image training.",
    ),
    (
        "recurrent_processing",
        "Recurrent processing",
        "Hidden states recurrently transfer temporal features.",
        "Updates hidden states with added recurrent dropout.",
        "Recurrent dropout enhances robustness but may underutilize temporal dependencies when "
        "training on static images.",
    ),
    (
        "memory",
        "Memory efficiency",
        "Frame-by-frame reduces GPU usage significantly.",
        "Sequential processing reduces memory usage compared to batch processing.",
        "Suitable for reduced computational resources in the new approach.",
    ),
    (
        "classifier",
        "Classifier design",
        "Concatenates spatial and temporal tokens for classification.",
        "Uses global average pooling on hidden states before classification.",
        "Simplifies static image training but may miss nuanced spatial-temporal interactions.",
    ),
    (
        "position_encoding",
        "Position encoding",
        "Learnable positional encoding shared across frames.",
        "Learnable encoding with dynamic resizing via trilinear interpolation.",
        "Ensures consistency for image-based training, less tailored for videos.",
    ),
    (
        "video_length",
        "Flexibility to video length",
        "Processes varying video lengths with attention gate interactions.",
        "Sequential frame-by-frame processing without handling variable lengths.",
        "Works for fixed-length predictions but may need tuning for variable-length videos.",
    ),
    (
        "temporal_features",
        "Temporal features",
        "Explicitly modeled through recurrent hidden states.",
        "Inferred during testing via recurrent processing.",
        "Relies on recurrent design to compensate for lack of temporal training, weakening "
        "performance on intricate videos.",
    ),
]

_INSIGHTS = [
    (
        "efficiency",
        "Efficiency",
        "Avoids expensive and time-consuming video training by using image augmentations and "
        "frame extraction.",
        "Sacrifices explicit temporal learning, making predictions less reliable for videos with "
        "complex motion dynamics.",
    ),
    (
        "versatility",
        "Cross-Modality Versatility",
        "Demonstrates RViT's ability to adapt to image-based training and video-based testing.",
        "Generalization from images to videos depends heavily on recurrent feature extraction, "
        "possibly leading to errors.",
    ),
    (
        "scalability",
        "Scalability",
        "Works with datasets of varying sizes and is computationally efficient.",
        "Lack of temporal data in training limits scalability for tasks requiring temporal "
        "reasoning.",
    ),
    (
        "augmentation",
        "Augmentation Benefits",
        "Simulates a larger training dataset with augmentations, enhancing feature diversity.",
        "Over-reliance on augmentations may bias the model and fail to generalize to real-world "
        "video data.",
    ),
    (
        "recurrent",
        "Recurrent Customization",
        "Recurrent dropout improves regularization and reduces overfitting.",
        "Dropout might weaken temporal feature propagation, critical for video-based tasks.",
    ),
]


def _build_claims() -> dict[str, Claim]:
    claims: dict[str, Claim] = {}
    for key, row, paper, proposal, impact in _COMPARISON:
        claims[f"cmp.{key}"] = Claim(
            f"cmp.{key}", "comparison", row, "impact", impact, paper, proposal
        )
    for key, aspect, strength, weakness in _INSIGHTS:
        claims[f"ins.{key}.strength"] = Claim(
            f"ins.{key}.strength", "insights", aspect, "strength", strength
        )
        claims[f"ins.{key}.weakness"] = Claim(
            f"ins.{key}.weakness", "insights", aspect, "weakness", weakness
        )
    return claims


CLAIMS: dict[str, Claim] = _build_claims()
"""The 18 claims: 8 rows of the comparison table (``cmp.*``) and 5 aspects x strength/weakness
(``ins.<aspect>.strength|weakness``), in the proposal's order."""


def claim_ids(table: str | None = None) -> list[str]:
    """The claim ids in the proposal's order, optionally of one table (comparison/insights)."""
    if table not in (None, "comparison", "insights"):
        raise ValueError(f"table must be 'comparison', 'insights' or None, got {table!r}")
    return [c.id for c in CLAIMS.values() if table is None or c.table == table]


# ------------------------------------------------------------------------------------------------
# profiles


@dataclass(frozen=True)
class Profile:
    """The scale of every experiment: model size, data sizes, training length, seeds.

    ``train_sizes``, ``test_lengths``, ``test_sizes``, ``dropouts`` and ``domain_gaps`` are the
    values the sweeps visit. ``length_samples`` is the number of test videos for the video-length
    sweep (long videos cost more); ``cue_frames`` is how many frames the retention probe shows
    before it goes blank.
    """

    name: str
    image_size: int
    patch_size: int
    dim: int
    depth: int
    heads: int
    frames: int
    train_samples: int
    test_samples: int
    epochs: int
    batch_size: int
    lr: float
    seeds: tuple[int, ...]
    train_sizes: tuple[int, ...]
    test_lengths: tuple[int, ...]
    test_sizes: tuple[int, ...]
    dropouts: tuple[float, ...]
    domain_gaps: tuple[float, ...]
    domain_gap: float
    difficulty: float
    length_samples: int
    probe_frames: int
    cue_frames: int
    variable_frames: tuple[int, int]
    test_seed: int = 10_000

    def model(self) -> dict[str, Any]:
        """The model size shared by every configuration of the study."""
        return {
            "size": "tiny",
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "dim": self.dim,
            "depth": self.depth,
            "heads": self.heads,
            "num_frames": self.frames,
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        image_size=16,
        patch_size=8,
        dim=16,
        depth=1,
        heads=2,
        frames=4,
        train_samples=48,
        test_samples=24,
        epochs=1,
        batch_size=16,
        lr=2e-3,
        seeds=(0, 1),
        train_sizes=(24, 48),
        test_lengths=(2, 4, 8),
        test_sizes=(24,),
        dropouts=(0.0, 0.25),
        domain_gaps=(0.0, 1.0),
        domain_gap=0.5,
        difficulty=0.5,
        length_samples=12,
        probe_frames=6,
        cue_frames=2,
        variable_frames=(2, 6),
    ),
    "book": Profile(
        name="book",
        image_size=32,
        patch_size=8,
        dim=48,
        depth=2,
        heads=3,
        frames=8,
        train_samples=800,
        test_samples=240,
        epochs=8,
        batch_size=16,
        lr=3e-3,
        seeds=(0, 1, 2),
        train_sizes=(250, 1000, 4000),
        test_lengths=(4, 8, 16, 32, 64),
        test_sizes=(24, 48),
        dropouts=(0.0, 0.1, 0.25, 0.5),
        domain_gaps=(0.0, 1.0),
        domain_gap=0.5,
        difficulty=0.0,
        length_samples=120,
        probe_frames=16,
        cue_frames=2,
        variable_frames=(4, 16),
    ),
    "full": Profile(
        name="full",
        image_size=64,
        patch_size=8,
        dim=192,
        depth=6,
        heads=3,
        frames=16,
        train_samples=8000,
        test_samples=2000,
        epochs=30,
        batch_size=64,
        lr=1e-3,
        seeds=(0, 1, 2, 3, 4),
        train_sizes=(250, 500, 1000, 2000, 4000, 8000, 16000),
        test_lengths=(4, 8, 16, 32, 64),
        test_sizes=(48, 96),
        dropouts=(0.0, 0.1, 0.25, 0.5),
        domain_gaps=(0.0, 0.25, 0.75, 1.0),
        domain_gap=0.5,
        difficulty=0.5,
        length_samples=1000,
        probe_frames=32,
        cue_frames=4,
        variable_frames=(8, 32),
    ),
}
"""``smoke`` (tests, seconds), ``book`` (the committed results, about forty CPU minutes), ``full``
(a GPU)."""


def get_profile(profile: str | Profile) -> Profile:
    """A profile by name (``smoke``, ``book``, ``full``); a :class:`Profile` comes back as is."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[profile]


# ------------------------------------------------------------------------------------------------
# configurations


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class RunConfig:
    """One trainable configuration: model, training, training data, and the evaluations to run.

    * ``model``: ``{"arch": "rvit"|"framevit"|"clipvit", "preset": "paper"|"variant", **fields}``,
      the fields going to ``RViTConfig.<preset>(...)``.
    * ``train``: keyword arguments of ``rvit.train.TrainConfig`` except ``seed`` (the run's seed).
    * ``data``: the training set, ``SyntheticActions("train", ...)`` arguments plus ``augment``
      (a ``make_transform`` preset).
    * ``evals``: named evaluation sets, each ``{"split", "modality", "frames", "image_size",
      "num_samples", "domain_gap", "difficulty", "seed"}`` plus an optional ``"cue_frames"`` (the
      retention probe: frames after the cue are blanked).

    Runs are shared between experiments: :meth:`key` hashes model, training and data, so two
    experiments that ask for the same training run get one run, evaluated on the union of their
    evaluation sets.
    """

    model: Mapping[str, Any]
    train: Mapping[str, Any]
    data: Mapping[str, Any]
    evals: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def training(self) -> dict[str, Any]:
        """The part that defines the trained weights (everything but the evaluations)."""
        return {"model": dict(self.model), "train": dict(self.train), "data": dict(self.data)}

    def key(self) -> str:
        """A short stable hash of :meth:`training` (12 hex digits)."""
        return hashlib.sha1(_canonical(self.training()).encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.training(),
            "evals": {name: dict(spec) for name, spec in self.evals.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        missing = {"model", "train", "data"} - set(d)
        if missing:
            raise ValueError(f"a run configuration needs keys {sorted(missing)}; got {sorted(d)}")
        return cls(d["model"], d["train"], d["data"], d.get("evals", {}))

    def with_evals(self, **evals: Mapping[str, Any]) -> RunConfig:
        return dataclasses.replace(self, evals={**self.evals, **evals})


# ------------------------------------------------------------------------------------------------
# effects and readings


@dataclass(frozen=True)
class Term:
    """``coef * metric(config)`` for one seed, or the constant ``coef * value`` without a config."""

    coef: float
    config: str | None = None
    metric: str | None = None
    value: float | None = None

    def __post_init__(self) -> None:
        if (self.config is None) != (self.metric is None):
            raise ValueError("a Term needs both config and metric, or neither (then a value)")
        if self.config is None and self.value is None:
            raise ValueError("a constant Term needs a value")


@dataclass(frozen=True)
class Contrast:
    """An effect per seed and stratum: ``sum(term)`` over the terms of each stratum.

    ``strata`` is a tuple of term tuples; each stratum gives one value per seed (the seeds every
    configuration of the stratum has), and the values of all strata are pooled for the interval.
    ``direction`` is the sign the reading expects (+1 or -1); ``units`` says how to print the effect
    (``"accuracy"`` in percentage points, ``"s"``, ``"ratio"``...).
    """

    strata: tuple[tuple[Term, ...], ...]
    direction: int
    units: str = "accuracy"
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"direction must be +1 or -1, got {self.direction!r}")
        if not self.strata or any(not s for s in self.strata):
            raise ValueError("a Contrast needs at least one non-empty stratum")
        if self.labels and len(self.labels) != len(self.strata):
            raise ValueError(f"labels ({len(self.labels)}) must match strata ({len(self.strata)})")

    def configs(self) -> set[str]:
        return {t.config for s in self.strata for t in s if t.config is not None}


def diff(metric: str, a: str, b: str, metric_b: str | None = None) -> tuple[Term, ...]:
    """A stratum ``metric(a) - metric(b)`` (``metric_b`` for ``b`` when it differs)."""
    return (Term(1.0, a, metric), Term(-1.0, b, metric_b or metric))


@dataclass(frozen=True)
class Reading:
    """An operational reading of one claim and the contrast that decides it."""

    claim: str
    label: str  # a few words: which part of the claim this reading tests
    text: str  # the reading in a sentence, as shown in the book
    contrast: Contrast

    def __post_init__(self) -> None:
        if self.claim not in CLAIMS:
            raise ValueError(f"unknown claim id {self.claim!r}; known: {list(CLAIMS)}")


@dataclass(frozen=True)
class Experiment:
    """An experiment: the claims it serves, its configurations, seeds, metric and readings.

    ``bench`` names a benchmark JSON (``results/bench/<bench>.json``) for experiments that read
    measurements instead of training (the memory row); such an experiment has no configurations.
    ``controls`` lists the configuration ids that are controls (chance is always shown).
    """

    name: str
    title: str
    question: str
    claims: tuple[str, ...]
    configs: Mapping[str, RunConfig]
    readings: tuple[Reading, ...]
    seeds: tuple[int, ...]
    metric: str
    controls: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    bench: str | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        for claim in self.claims:
            if claim not in CLAIMS:
                raise ValueError(f"experiment {self.name!r}: unknown claim id {claim!r}")
        for reading in self.readings:
            if reading.claim not in self.claims:
                raise ValueError(
                    f"experiment {self.name!r}: reading {reading.label!r} is about "
                    f"{reading.claim!r}, which the experiment does not list in claims"
                )
            if self.bench is None:
                missing = reading.contrast.configs() - set(self.configs)
                if missing:
                    raise ValueError(
                        f"experiment {self.name!r}: reading {reading.label!r} uses unknown "
                        f"configurations {sorted(missing)}"
                    )
        if self.bench is None and len(self.seeds) < 1:
            raise ValueError(f"experiment {self.name!r} has no seeds")

    def label(self, config_id: str) -> str:
        return self.labels.get(config_id, config_id)


# ------------------------------------------------------------------------------------------------
# building blocks of the configurations


def _test(p: Profile, **changes: Any) -> dict[str, Any]:
    spec = {
        "split": "test",
        "modality": "video",
        "frames": p.frames,
        "image_size": p.image_size,
        "num_samples": p.test_samples,
        "domain_gap": p.domain_gap,
        "difficulty": p.difficulty,
        "seed": p.test_seed,
    }
    spec.update(changes)
    return spec


def _fit_evals(p: Profile, modality: str) -> dict[str, dict[str, Any]]:
    """Accuracy on (a part of) the training set and on held-out data of the same modality."""
    kind = "video" if modality == "video" else "image"
    return {
        "fit_train": _test(p, split="train", modality=kind, seed=None),
        "fit_val": _test(p, split="val", modality=kind, seed=p.test_seed + 1),
    }


def _changed(preset: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The ``fields`` that differ from the preset's own values (so equal runs hash equally)."""
    from rvit.config import RViTConfig

    defaults = getattr(RViTConfig, preset)(num_classes=2).to_dict()
    unknown = sorted(set(fields) - set(defaults))
    if unknown:
        raise ValueError(f"unknown model field(s) {unknown}; known: {sorted(defaults)}")
    return {k: v for k, v in fields.items() if defaults[k] != v}


def _run(
    p: Profile,
    *,
    arch: str = "rvit",
    preset: str = "paper",
    modality: str = "image",
    augment: str = "none",
    camera: Mapping[str, float] | None = None,
    train_samples: int | None = None,
    domain_gap: float | None = None,
    variable_length: bool = False,
    evals: Iterable[str] = ("test",),
    **model_fields: Any,
) -> RunConfig:
    """One configuration of the study at profile ``p``; ``model_fields`` change one row each."""
    gap = p.domain_gap if domain_gap is None else domain_gap
    model = {"arch": arch, "preset": preset, **p.model(), **_changed(preset, model_fields)}
    num_samples = train_samples or p.train_samples
    data_frames: Any = p.frames
    train_frames: int | None = p.frames
    if modality == "image":
        train_frames = None  # a still is a 1-frame clip
    elif modality == "frames":
        # frame extraction: 2 frames from each of half as many videos, as many stills as images
        num_samples, train_frames = max(1, num_samples // 2), 2
    elif modality == "video" and variable_length:
        data_frames, train_frames = list(p.variable_frames), None  # keep each video's own length
    train = {
        "modality": modality,
        "frames": train_frames,
        "epochs": p.epochs,
        "batch_size": p.batch_size,
        "lr": p.lr,
        "variable_length": variable_length,
    }
    data = {
        "num_samples": num_samples,
        "frames": data_frames,
        "image_size": p.image_size,
        "difficulty": p.difficulty,
        "augment": augment,
    }
    if modality in ("video", "frames"):
        data["domain_gap"] = gap  # the knob degrades video frames only; stills stay sharp
    if modality == "pseudo_video":
        from rvit.data.augment import CAMERA_LIMITS

        # stated in full, so that a change of the camera's limits makes earlier results stale
        train["camera"] = {**CAMERA_LIMITS, **(camera or {})}
    all_evals: dict[str, dict[str, Any]] = {}
    for name in evals:
        if name == "test":
            all_evals["test"] = _test(p, domain_gap=gap)
        elif name == "fit":
            all_evals.update(_fit_evals(p, modality))
            for spec in all_evals.values():
                spec["domain_gap"] = gap
        elif name == "lengths":
            for t in p.test_lengths:
                all_evals[f"len{t}"] = _test(
                    p, frames=t, num_samples=p.length_samples, domain_gap=gap
                )
        elif name == "sizes":
            for s in p.test_sizes:
                all_evals[f"size{s}"] = _test(p, image_size=s, domain_gap=gap)
        elif name == "probe":
            all_evals["probe"] = _test(
                p, frames=p.probe_frames, cue_frames=p.cue_frames, domain_gap=gap
            )
        else:
            raise ValueError(f"unknown evaluation group {name!r}")
    return RunConfig(model, train, data, all_evals)


def _contrast(
    metric: str,
    pairs: Iterable[tuple[str, str]],
    direction: int,
    labels: Iterable[str] = (),
    units: str = "accuracy",
) -> Contrast:
    """``metric(a) - metric(b)`` for each pair ``(a, b)``, pooled over pairs and seeds."""
    return Contrast(tuple(diff(metric, a, b) for a, b in pairs), direction, units, tuple(labels))


_PRESET_LABELS = ("from the paper preset", "from the variant preset")

# ------------------------------------------------------------------------------------------------
# the experiments

_BUILDERS: dict[str, Callable[[Profile], Experiment]] = {}


def _experiment(fn: Callable[[Profile], Experiment]) -> Callable[[Profile], Experiment]:
    _BUILDERS[fn.__name__] = fn
    return fn


@_experiment
def temporal_features(p: Profile) -> Experiment:
    """Train on images, static clips, pseudo-videos, extracted frames or videos; test on videos."""
    configs = {
        "image": _run(p, modality="image", evals=("test", "probe")),
        "static_clip": _run(p, modality="static_clip", evals=("test", "probe")),
        "pseudo_video": _run(p, modality="pseudo_video", evals=("test", "probe")),
        "frames": _run(p, modality="frames", evals=("test", "probe")),
        "video": _run(p, modality="video", evals=("test", "probe")),
        "framevit": _run(p, arch="framevit", modality="image", evals=("test",)),
    }
    readings = (
        Reading(
            "cmp.temporal_features",
            "overall",
            "Training on still images instead of videos lowers top-1 accuracy on the test videos "
            "(effect: image-trained minus video-trained RViT; claimed negative).",
            _contrast("test.top1", [("image", "video")], -1),
        ),
        Reading(
            "cmp.temporal_features",
            "motion pairs",
            "The loss is concentrated on the 'intricate' videos, the motion-only pairs (effect: "
            "image-trained minus video-trained accuracy on motion pairs; claimed negative).",
            _contrast("test.motion", [("image", "video")], -1),
        ),
        Reading(
            "ins.efficiency.weakness",
            "motion pairs",
            "Without video training, predictions on videos whose class is carried by motion are "
            "less reliable (effect: image-trained minus video-trained accuracy on motion pairs; "
            "claimed negative).",
            _contrast("test.motion", [("image", "video")], -1),
        ),
        Reading(
            "ins.versatility.strength",
            "above chance",
            "An image-trained RViT recognises actions in test videos: its top-1 accuracy exceeds "
            "chance (effect: accuracy minus 1/K; claimed positive).",
            Contrast(((Term(1.0, "image", "test.top1"), Term(-1.0, "image", "chance")),), 1),
        ),
        Reading(
            "ins.versatility.weakness",
            "recurrence vs. per-frame",
            "Relying on recurrent feature extraction causes errors: the image-trained RViT is less "
            "accurate on videos than a FrameViT trained on the same images that averages per-frame "
            "predictions (effect: RViT minus FrameViT; claimed negative).",
            _contrast("test.top1", [("image", "framevit")], -1),
        ),
    )
    return Experiment(
        name="temporal_features",
        title="Temporal features: what the training modality buys",
        question="How much does an RViT lose on videos when it never sees a video in training?",
        claims=(
            "cmp.temporal_features",
            "ins.efficiency.weakness",
            "ins.versatility.strength",
            "ins.versatility.weakness",
        ),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="top-1 accuracy on test videos: overall, appearance classes, motion pairs",
        controls=("framevit", "video"),
        labels={
            "image": "images",
            "static_clip": "static clips",
            "pseudo_video": "pseudo-videos",
            "frames": "extracted frames",
            "video": "videos",
            "framevit": "FrameViT (images)",
        },
    )


def _row_configs(
    p: Profile, field_name: str, paper_value: Any, variant_value: Any, evals: tuple[str, ...]
) -> dict[str, RunConfig]:
    """Both presets, and each preset with one row switched to the other preset's value."""
    return {
        "paper": _run(p, preset="paper", evals=evals),
        f"paper+{variant_value}": _run(
            p, preset="paper", evals=evals, **{field_name: variant_value}
        ),
        "variant": _run(p, preset="variant", evals=evals),
        f"variant+{paper_value}": _run(
            p, preset="variant", evals=evals, **{field_name: paper_value}
        ),
        "framevit": _run(p, arch="framevit", evals=evals),
        "video": _run(p, modality="video", evals=evals),
    }


def _row_pairs(paper_value: Any, variant_value: Any) -> list[tuple[str, str]]:
    """(proposal's value, paper's value) from each preset."""
    return [(f"paper+{variant_value}", "paper"), ("variant", f"variant+{paper_value}")]


@_experiment
def patch_embedding(p: Profile) -> Experiment:
    """2D patches against 3D tubelets, switched alone from each preset (trained on images)."""
    pairs = _row_pairs("conv2d", "conv3d")
    unseen = [f"size{s}.top1" for s in p.test_sizes]
    readings = (
        Reading(
            "cmp.patch_embedding",
            "video alignment",
            "Tubelets fit video less well: switching conv2d to conv3d lowers top-1 accuracy on "
            "the test videos (effect: conv3d minus conv2d, from each preset; claimed negative).",
            _contrast("test.top1", pairs, -1, _PRESET_LABELS),
        ),
        Reading(
            "cmp.patch_embedding",
            "spatial flexibility",
            "Tubelets give flexibility in spatial dimensions: switching conv2d to conv3d raises "
            "accuracy at frame sizes not seen in training (mean over the unseen sizes; claimed "
            "positive).",
            Contrast(
                tuple(
                    tuple(Term(1.0 / len(unseen), a, m) for m in unseen)
                    + tuple(Term(-1.0 / len(unseen), b, m) for m in unseen)
                    for a, b in pairs
                ),
                1,
                labels=_PRESET_LABELS,
            ),
        ),
    )
    return Experiment(
        name="patch_embedding",
        title="Patch embedding: 2D patches or 3D tubelets",
        question="Does the tubelet embedding cost accuracy on videos, or buy flexibility?",
        claims=("cmp.patch_embedding",),
        configs=_row_configs(p, "patch_embed", "conv2d", "conv3d", ("test", "sizes")),
        readings=readings,
        seeds=p.seeds,
        metric="top-1 accuracy on test videos, at the training frame size and at unseen sizes",
        controls=("framevit", "video"),
    )


@_experiment
def attention(p: Profile) -> Experiment:
    """Linear against hybrid attention, switched alone from each preset; softmax shown too."""
    configs = _row_configs(p, "attention", "linear", "hybrid", ("test",))
    configs["paper+softmax"] = _run(p, preset="paper", attention="softmax")
    pairs = _row_pairs("linear", "hybrid")
    readings = (
        Reading(
            "cmp.attention",
            "spatial features",
            "Hybrid attention learns better spatial features from images: it raises accuracy on "
            "the appearance classes of the test videos (effect: hybrid minus linear, from each "
            "preset; claimed positive).",
            _contrast("test.appearance", pairs, 1, _PRESET_LABELS),
        ),
        Reading(
            "cmp.attention",
            "complexity",
            "Hybrid attention adds complexity: it costs more arithmetic per frame (effect: log10 "
            "of hybrid over linear FLOPs; claimed positive). Latency is shown too, but measured on "
            "a shared machine it is too noisy for a verdict.",
            _contrast("train.log10_flops", pairs, 1, _PRESET_LABELS, units="log10"),
        ),
    )
    return Experiment(
        name="attention",
        title="Attention: linear, hybrid or softmax",
        question="Does softmax within the frame help image-trained RViT, and at what cost?",
        claims=("cmp.attention",),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="accuracy on appearance classes; latency per frame and peak memory at test time",
        controls=("framevit", "video"),
    )


def _dropout_id(modality: str, rate: float) -> str:
    return f"{modality}_d{rate:g}"


@_experiment
def recurrent_dropout(p: Profile) -> Experiment:
    """Recurrent dropout over a range of rates, image-trained and video-trained."""
    configs: dict[str, RunConfig] = {}
    for modality in ("image", "video"):
        for rate in p.dropouts:
            configs[_dropout_id(modality, rate)] = _run(
                p, modality=modality, evals=("test", "probe", "fit"), recurrent_dropout=rate
            )
    configs["framevit"] = _run(p, arch="framevit", evals=("test",))
    on, off = 0.25, 0.0
    if on not in p.dropouts:
        on = max(p.dropouts)
    img_on, img_off = _dropout_id("image", on), _dropout_id("image", off)
    vid_on, vid_off = _dropout_id("video", on), _dropout_id("video", off)
    gap = lambda a, b: (  # noqa: E731
        Term(1.0, a, "fit_train.top1"),
        Term(-1.0, a, "fit_val.top1"),
        Term(-1.0, b, "fit_train.top1"),
        Term(1.0, b, "fit_val.top1"),
    )
    readings = (
        Reading(
            "cmp.recurrent_processing",
            "robustness",
            f"Recurrent dropout makes the image-trained model more robust on the unseen video "
            f"domain (effect: test accuracy with dropout {on:g} minus without; claimed positive).",
            _contrast("test.top1", [(img_on, img_off)], 1),
        ),
        Reading(
            "cmp.recurrent_processing",
            "temporal use",
            f"With dropout an image-trained model uses its hidden state less: it keeps less of a "
            f"cue shown only in the first frames (effect: retention-probe accuracy with dropout "
            f"{on:g} minus without; claimed negative).",
            _contrast("probe.top1", [(img_on, img_off)], -1),
        ),
        Reading(
            "ins.recurrent.strength",
            "overfitting",
            f"Recurrent dropout reduces overfitting: the gap between training and held-out "
            f"accuracy shrinks (effect: gap with dropout {on:g} minus gap without, image- and "
            f"video-trained; claimed negative).",
            Contrast((gap(img_on, img_off), gap(vid_on, vid_off)), -1, labels=("images", "videos")),
        ),
        Reading(
            "ins.recurrent.weakness",
            "motion pairs",
            f"Dropout weakens temporal propagation in video training: lower accuracy on motion "
            f"pairs (effect: video-trained, dropout {on:g} minus none; claimed negative).",
            _contrast("test.motion", [(vid_on, vid_off)], -1),
        ),
        Reading(
            "ins.recurrent.weakness",
            "retention",
            f"Dropout shortens memory: video-trained models keep less of a cue shown only at the "
            f"start (effect: probe accuracy, dropout {on:g} minus none; claimed negative).",
            _contrast("probe.top1", [(vid_on, vid_off)], -1),
        ),
    )
    return Experiment(
        name="recurrent_dropout",
        title="Recurrent dropout: regulariser or memory loss?",
        question="What does dropout on the hidden state do to overfitting and to memory?",
        claims=("cmp.recurrent_processing", "ins.recurrent.strength", "ins.recurrent.weakness"),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="test accuracy, overfitting gap (train minus held-out accuracy), retention probe",
        controls=("framevit", vid_off),
    )


@_experiment
def memory(p: Profile) -> Experiment:
    """Peak memory against video length, read from the efficiency benchmark."""
    readings = (
        Reading(
            "cmp.memory",
            "streaming vs. batch",
            "Frame-by-frame processing needs less memory than processing the whole clip at once: "
            "streaming RViT's peak memory at the longest length measured for all three methods is "
            "below the whole-video forward pass (effect: streaming minus forward, MiB; claimed "
            "negative).",
            _contrast("peak_mb.longest", [("rvit_stream", "rvit_forward")], -1, units="MiB"),
        ),
        Reading(
            "cmp.memory",
            "vs. clip transformer",
            "Streaming RViT needs less memory than a clip transformer over the same frames "
            "(effect: streaming RViT minus ClipViT, MiB; claimed negative).",
            _contrast("peak_mb.longest", [("rvit_stream", "clipvit")], -1, units="MiB"),
        ),
        Reading(
            "cmp.memory",
            "growth with length",
            "Streaming memory does not grow with video length the way batch processing does "
            "(effect: growth from shortest to longest length, streaming minus forward; claimed "
            "negative).",
            Contrast(
                (
                    (
                        Term(1.0, "rvit_stream", "peak_mb.growth"),
                        Term(-1.0, "rvit_forward", "peak_mb.growth"),
                    ),
                ),
                -1,
                units="MiB",
            ),
        ),
    )
    return Experiment(
        name="memory",
        title="Memory: frame by frame against the whole clip",
        question="How does peak memory grow with the number of frames?",
        claims=("cmp.memory",),
        configs={},
        readings=readings,
        seeds=(),
        metric="peak memory (MiB) against frames, from results/bench/length.json",
        bench="length",
        notes="Measured by the efficiency benchmark (chapter 9); repeats play the role of seeds.",
    )


@_experiment
def classifier(p: Profile) -> Experiment:
    """Concat head against global average pooling, switched alone from each preset."""
    configs = _row_configs(p, "head", "concat", "gap", ("test", "fit"))
    configs["video+gap"] = _run(p, modality="video", head="gap")
    pairs = _row_pairs("concat", "gap")
    readings = (
        Reading(
            "cmp.classifier",
            "image training",
            "Pooling simplifies image training: the gap head reaches a higher accuracy on held-out "
            "still images (effect: gap minus concat, from each preset; claimed positive).",
            _contrast("fit_val.top1", pairs, 1, _PRESET_LABELS),
        ),
        Reading(
            "cmp.classifier",
            "spatio-temporal",
            "Pooling misses spatio-temporal interactions: trained on videos, the gap head is less "
            "accurate on motion pairs than the concat head (effect: gap minus concat; claimed "
            "negative).",
            _contrast("test.motion", [("video+gap", "video")], -1),
        ),
    )
    return Experiment(
        name="classifier",
        title="Classifier: concatenated tokens or pooled hidden state",
        question="Is the pooled head easier to train on images, and does it lose motion?",
        claims=("cmp.classifier",),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="accuracy on held-out images; accuracy on motion pairs of the test videos",
        controls=("framevit", "video"),
    )


@_experiment
def position_encoding(p: Profile) -> Experiment:
    """A shared position table against a trilinearly interpolated one, from each preset."""
    configs = _row_configs(
        p, "pos_embed", "shared", "interpolated", ("test", "fit", "sizes", "lengths")
    )
    pairs = _row_pairs("shared", "interpolated")
    unseen = [t for t in p.test_lengths if t != p.frames]
    longest = f"len{max(unseen)}.top1"
    readings = (
        Reading(
            "cmp.position_encoding",
            "image consistency",
            "Interpolated encoding keeps image training consistent: accuracy on held-out images "
            "does not suffer, read as: it is higher (effect: interpolated minus shared, from each "
            "preset; claimed positive).",
            _contrast("fit_val.top1", pairs, 1, _PRESET_LABELS),
        ),
        Reading(
            "cmp.position_encoding",
            "less tailored for videos",
            "Interpolated encoding is less tailored for videos: lower accuracy on test videos "
            "(effect: interpolated minus shared; claimed negative).",
            _contrast("test.top1", pairs, -1, _PRESET_LABELS),
        ),
        Reading(
            "cmp.position_encoding",
            "unseen lengths",
            f"...and on videos longer than any seen in training ({max(unseen)} frames; effect: "
            f"interpolated minus shared; claimed negative).",
            _contrast(longest, pairs, -1, _PRESET_LABELS),
        ),
    )
    return Experiment(
        name="position_encoding",
        title="Position encoding: shared or interpolated",
        question="Does resizing the position table help images and hurt videos?",
        claims=("cmp.position_encoding",),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="accuracy on held-out images, on test videos, at unseen frame sizes and lengths",
        controls=("framevit", "video"),
    )


@_experiment
def video_length(p: Profile) -> Experiment:
    """Fixed-length against variable-length training, tested from short to long videos."""
    configs = {
        "video_fixed": _run(p, modality="video", evals=("lengths",)),
        "video_variable": _run(p, modality="video", variable_length=True, evals=("lengths",)),
        "image": _run(p, modality="image", evals=("lengths",)),
        "framevit": _run(p, arch="framevit", evals=("lengths",)),
    }
    unseen = [t for t in p.test_lengths if t != p.frames]
    terms = tuple(
        Term(sign / len(unseen), cfg, f"len{t}.top1")
        for t in unseen
        for cfg, sign in (("video_fixed", 1.0), ("video_variable", -1.0))
    )
    readings = (
        Reading(
            "cmp.video_length",
            "unseen lengths",
            f"Fixed-length training works at its own length but needs tuning for other lengths: at "
            f"test lengths other than {p.frames} frames it is less accurate than variable-length "
            f"training (effect: fixed minus variable, mean over lengths {unseen}; claimed "
            f"negative).",
            Contrast((terms,), -1),
        ),
    )
    return Experiment(
        name="video_length",
        title="Video length: fixed or variable clips in training",
        question="How does accuracy change with test length; does variable-length training help?",
        claims=("cmp.video_length",),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="top-1 accuracy on test videos of 4 to 64 frames",
        controls=("framevit",),
        labels={"video_fixed": "videos, fixed length", "video_variable": "videos, variable length"},
    )


@_experiment
def efficiency(p: Profile) -> Experiment:
    """Training cost (time, FLOPs) of image training against video training."""
    configs = {
        "image": _run(p, modality="image"),
        "frames": _run(p, modality="frames"),
        "video": _run(p, modality="video"),
        "clipvit": _run(p, arch="clipvit", modality="video"),
        "framevit": _run(p, arch="framevit"),
    }
    margin = 0.05
    readings = (
        Reading(
            "ins.efficiency.strength",
            "training cost",
            "Image training avoids the cost of video training: it needs fewer training FLOPs "
            "(effect: log10 of image over video training FLOPs; claimed negative).",
            _contrast("train.log10_flops", [("image", "video")], -1, units="log10"),
        ),
        Reading(
            "ins.efficiency.strength",
            "same appearance accuracy",
            f"...while reaching the video-trained model's accuracy on appearance classes within "
            f"{margin:.0%} (effect: image minus video accuracy plus {margin:.0%}; claimed "
            f"positive).",
            Contrast(
                (
                    (
                        Term(1.0, "image", "test.appearance"),
                        Term(-1.0, "video", "test.appearance"),
                        Term(1.0, value=margin),
                    ),
                ),
                1,
            ),
        ),
    )
    return Experiment(
        name="efficiency",
        title="Efficiency: what image training saves",
        question="How much cheaper is image training, and what accuracy does it reach for that?",
        claims=("ins.efficiency.strength",),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="training FLOPs and seconds; accuracy on appearance classes",
        controls=("clipvit", "framevit"),
    )


def _size_id(n: int) -> str:
    return f"image_n{n}"


@_experiment
def scalability(p: Profile) -> Experiment:
    """Learning curves over the number of training images."""
    configs = {_size_id(n): _run(p, modality="image", train_samples=n) for n in p.train_sizes}
    small, large = _size_id(min(p.train_sizes)), _size_id(max(p.train_sizes))
    readings = (
        Reading(
            "ins.scalability.strength",
            "more images help",
            f"Image training scales with the data set: accuracy on test videos grows from "
            f"{min(p.train_sizes)} to {max(p.train_sizes)} training images (effect: largest minus "
            f"smallest; claimed positive).",
            _contrast("test.top1", [(large, small)], 1),
        ),
        Reading(
            "ins.scalability.weakness",
            "motion does not scale",
            "More images help appearance classes but not motion pairs (effect: gain on motion "
            "pairs minus gain on appearance classes, largest minus smallest set; claimed "
            "negative).",
            Contrast(
                (
                    (
                        Term(1.0, large, "test.motion"),
                        Term(-1.0, small, "test.motion"),
                        Term(-1.0, large, "test.appearance"),
                        Term(1.0, small, "test.appearance"),
                    ),
                ),
                -1,
            ),
        ),
    )
    return Experiment(
        name="scalability",
        title="Scalability: learning curves over training-set size",
        question="Do more images keep helping, and do they help motion at all?",
        claims=("ins.scalability.strength", "ins.scalability.weakness"),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="top-1 accuracy on test videos (appearance classes, motion pairs) against images",
    )


@_experiment
def augmentation(p: Profile) -> Experiment:
    """No, basic or strong augmentation of the training images, and pseudo-videos."""
    configs = {
        "none": _run(p, augment="none"),
        "basic": _run(p, augment="basic"),
        "strong": _run(p, augment="strong"),
        "pseudo_video": _run(p, modality="pseudo_video"),
        # the study's first camera: shifts of up to 15 % of the frame (kept as a control)
        "pseudo_video_wide": _run(p, modality="pseudo_video", camera={"max_shift": 0.15}),
        "framevit": _run(p, arch="framevit"),
        "video": _run(p, modality="video"),
    }
    readings = (
        Reading(
            "ins.augmentation.strength",
            "basic",
            "Augmentation enlarges the training set in effect: basic augmentation raises accuracy "
            "on test videos over no augmentation (claimed positive).",
            _contrast("test.top1", [("basic", "none")], 1),
        ),
        Reading(
            "ins.augmentation.strength",
            "strong",
            "So does strong augmentation (effect: strong minus none; claimed positive).",
            _contrast("test.top1", [("strong", "none")], 1),
        ),
    )
    return Experiment(
        name="augmentation",
        title="Augmentation: none, basic, strong, pseudo-video",
        question="How much do augmentations of still images help on videos?",
        claims=("ins.augmentation.strength",),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="top-1 accuracy on test videos",
        controls=("framevit", "video", "pseudo_video_wide"),
        labels={"pseudo_video": "pseudo-videos", "pseudo_video_wide": "pseudo-videos, wide shifts"},
    )


def _gap_id(name: str, gap: float) -> str:
    return f"{name}_g{gap:g}"


@_experiment
def domain_gap(p: Profile) -> Experiment:
    """Sweep how much video frames differ from stills, for several augmentations and for videos.

    The knob degrades video frames only (blur, noise, blocks); stills stay sharp. An image-trained
    model is therefore trained once and tested at every level, while a video-trained model is
    trained and tested at each level.
    """
    gaps = sorted({*p.domain_gaps, p.domain_gap})
    lo, hi = min(gaps), max(gaps)
    sweep = {f"gap{g:g}": _test(p, domain_gap=g) for g in gaps}
    configs: dict[str, RunConfig] = {}
    for augment in ("none", "basic", "strong"):
        configs[augment] = _run(p, augment=augment, evals=()).with_evals(**sweep)
    for g in gaps:
        configs[_gap_id("video", g)] = _run(p, modality="video", domain_gap=g, evals=()).with_evals(
            **{f"gap{g:g}": sweep[f"gap{g:g}"]}
        )

    def drop(config_lo: str, config_hi: str) -> tuple[Term, ...]:
        return (
            Term(1.0, config_lo, f"gap{lo:g}.top1"),
            Term(-1.0, config_hi, f"gap{hi:g}.top1"),
        )

    readings = (
        Reading(
            "ins.augmentation.weakness",
            "gap widens",
            f"Relying on heavy augmentation generalises worse to video-looking frames: going from "
            f"domain gap {lo:g} to {hi:g}, the strongly augmented model loses more accuracy than "
            f"the unaugmented one (effect: its drop minus the other's; claimed positive).",
            Contrast((drop("strong", "strong") + _neg(drop("none", "none")),), 1),
        ),
        Reading(
            "cmp.temporal_features",
            "domain gap",
            f"Image training suffers from the look of video frames more than video training: going "
            f"from domain gap {lo:g} to {hi:g}, the image-trained model (no augmentation, as "
            f"everywhere outside the augmentation experiments) loses "
            f"more accuracy than video-trained ones (effect: drop of image minus drop of video "
            f"training; claimed positive).",
            Contrast(
                (drop("none", "none") + _neg(drop(_gap_id("video", lo), _gap_id("video", hi))),),
                1,
            ),
        ),
    )
    return Experiment(
        name="domain_gap",
        title="Domain gap: how far may video frames be from stills?",
        question="Does the gap between sharp stills and video-like frames hurt, and does "
        "augmentation close it or widen it?",
        claims=("ins.augmentation.weakness", "cmp.temporal_features"),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        metric="top-1 accuracy on test videos against the domain-gap knob",
        labels={
            "none": "images, no augmentation",
            "basic": "images, basic",
            "strong": "images, strong",
        },
    )


def _neg(terms: Iterable[Term]) -> tuple[Term, ...]:
    return tuple(dataclasses.replace(t, coef=-t.coef) for t in terms)


EXPERIMENTS: tuple[str, ...] = tuple(_BUILDERS)
"""The experiment names in the book's order."""


def get_experiment(name: str, profile: str | Profile = "book") -> Experiment:
    """The experiment ``name`` at ``profile``."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown experiment {name!r}; known: {list(EXPERIMENTS)}")
    return _BUILDERS[name](get_profile(profile))


def get_experiments(
    names: Iterable[str] | None = None, profile: str | Profile = "book"
) -> list[Experiment]:
    """The experiments ``names`` (all when None or empty) at ``profile``, in the book's order."""
    wanted = list(names or EXPERIMENTS)
    unknown = [n for n in wanted if n not in _BUILDERS]
    if unknown:
        raise ValueError(f"unknown experiment(s) {unknown}; known: {list(EXPERIMENTS)}")
    return [get_experiment(n, profile) for n in EXPERIMENTS if n in wanted]
