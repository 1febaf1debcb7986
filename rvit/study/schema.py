"""What an experiment of the study is made of: configurations, effects, readings, experiments.

* :class:`RunConfig`: one trainable configuration (model, training, data, evaluation sets); its
  :meth:`RunConfig.key` names the training run.
* :class:`Term` and :class:`Contrast`: an effect per seed, a weighted sum of metrics of
  configurations; :func:`diff` is the usual stratum ``metric(a) - metric(b)``.
* :class:`Reading`: an operational reading of one claim and the contrast that decides it; one
  reading per claim is its *primary* one (the one the verdict of the claim rests on), and a reading
  with a ``margin`` is an equivalence reading ("does not suffer", "ensures", "works").
* :class:`LearningGate`: the training accuracy a configuration must reach before its readings are
  tested at all.
* :class:`Experiment`: the claims it serves, its configurations, seeds, readings and learning gate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rvit.study.claims import CLAIMS

__all__ = ["Contrast", "Experiment", "LearningGate", "Reading", "RunConfig", "Term", "diff"]

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
      retention probe: frames after the cue are blanked) and an optional ``"per_seed"`` (a fresh
      set for each run's seed: :func:`rvit.study.datasets.eval_data_seed`).

    * ``factors``: what the configuration is, as structured values for the analysis and the
      figures (``{"arch": "rvit", "modality": "image", "recurrent_dropout": 0.25, ...}``), so nothing
      parses a configuration's id back. Factors describe; they do not define: they are not part of
      :meth:`training`, :meth:`to_dict` or :meth:`key`, nor of equality, and are never stored with
      a result.

    Runs are shared between experiments: :meth:`key` hashes model, training and data, so two
    experiments that ask for the same training run get one run, evaluated on the union of their
    evaluation sets.
    """

    model: Mapping[str, Any]
    train: Mapping[str, Any]
    data: Mapping[str, Any]
    evals: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    factors: Mapping[str, Any] = field(default_factory=dict, compare=False)

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

    def with_factors(self, **factors: Any) -> RunConfig:
        """The same configuration with ``factors`` added to (or replacing) its factors."""
        return dataclasses.replace(self, factors={**self.factors, **factors})


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
    configuration of the stratum has). The seed is the unit: the strata are averaged within each
    seed, so the test sees one value per seed.
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
    """An operational reading of one claim and the contrast that decides it.

    ``primary``: the reading the claim's verdict rests on (exactly one per claim, declared before the
    runs); its p-value enters Holm's correction over the claims, the others are secondary and are
    reported uncorrected. ``margin``: for claims of the form "does not suffer / ensures / works",
    the equivalence margin (in the contrast's units): the reading is tested by two one-sided tests
    (TOST) that the effect lies within ``(-margin, +margin)``, so "no effect" can be shown.
    ``exact``: the quantity does not vary between seeds (arithmetic counted from the model, such as
    FLOPs): it is judged by its sign at every seed, with no test and outside Holm's family.
    ``smallest_effect``: the smallest effect of interest (in the contrast's units, positive), the
    size below which an effect in the claimed direction would not matter; the pre-registration of
    a study version states it (:mod:`rvit.study.preregistration`). None: not stated (an equivalence
    reading's margin then serves).
    ``sanity``: the reading holds by construction of the synthetic world or of arithmetic (a FLOP
    identity; a still-trained model cannot tell the direction of a motion pair, because a single
    frame carries none). It is reported as a sanity check, outside Holm's family, and never decides
    its claim: a claim with a sanity check also has a primary reading that can fail.
    """

    claim: str
    label: str  # a few words: which part of the claim this reading tests
    text: str  # the reading in a sentence, as shown in the book
    contrast: Contrast
    primary: bool = False
    margin: float | None = None
    exact: bool = False
    smallest_effect: float | None = None
    sanity: bool = False

    def __post_init__(self) -> None:
        if self.sanity and self.primary:
            raise ValueError(
                f"reading {self.label!r}: a sanity check holds by construction and cannot be the "
                "primary reading of its claim"
            )
        if self.exact and self.margin is not None:
            raise ValueError(f"reading {self.label!r}: an exact reading takes no margin")
        if self.exact and self.smallest_effect is not None:
            raise ValueError(f"reading {self.label!r}: an exact reading takes no smallest effect")
        if self.smallest_effect is not None and not self.smallest_effect > 0:
            raise ValueError(
                f"reading {self.label!r}: smallest_effect must be positive, got "
                f"{self.smallest_effect}"
            )
        if self.claim not in CLAIMS:
            raise ValueError(f"unknown claim id {self.claim!r}; known: {list(CLAIMS)}")
        if self.margin is not None and not self.margin > 0:
            raise ValueError(f"reading {self.label!r}: margin must be positive, got {self.margin}")

    @property
    def test(self) -> str:
        """``"exact"``, ``"TOST"`` for an equivalence reading, ``"sign-flip"`` otherwise."""
        if self.exact:
            return "exact"
        return "TOST" if self.margin is not None else "sign-flip"


@dataclass(frozen=True)
class LearningGate:
    """The training accuracy a configuration must reach for its readings to be tested.

    A configuration passes when its mean ``metric`` over seeds is at least ``fraction`` of the
    ceiling of its training modality (``ceilings[modality]``: the best training accuracy that data
    allow). A reading that uses a configuration that fails is *not testable at this budget*: the
    model did not learn, so its effect says nothing about the design choice.
    """

    ceilings: Mapping[str, float]
    fraction: float
    metric: str = "train.top1"

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1], got {self.fraction}")

    def ceiling(self, config: RunConfig) -> float:
        modality = config.train.get("modality")
        if modality not in self.ceilings:
            raise ValueError(
                f"no learning ceiling for modality {modality!r}; known: {sorted(self.ceilings)}"
            )
        return float(self.ceilings[modality])

    def threshold(self, config: RunConfig) -> float:
        """The training accuracy ``config`` must reach."""
        return self.fraction * self.ceiling(config)


@dataclass(frozen=True)
class Experiment:
    """An experiment: the claims it serves, its configurations, seeds, metric and readings.

    ``bench`` names a benchmark JSON (``results/bench/<bench>.json``) for experiments that read
    measurements instead of training (the memory row); such an experiment has no configurations.
    ``controls`` lists the configuration ids that are controls (chance is always shown).
    ``gate`` is the learning gate its configurations must pass (None: no gate, as for measurements).
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
    gate: LearningGate | None = None

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

    def factor(self, config_id: str, name: str, default: Any = None) -> Any:
        """The factor ``name`` of configuration ``config_id`` (``default`` when it has none)."""
        if config_id not in self.configs:
            raise ValueError(
                f"experiment {self.name!r} has no configuration {config_id!r}; "
                f"known: {list(self.configs)}"
            )
        return self.configs[config_id].factors.get(name, default)
