"""The reproducibility study (chapter 8): every claim of the proposal, measured and given a verdict.

* :mod:`rvit.study.registry`: the experiments as code: claims, configurations, seeds, readings; it
  gathers the public names of :mod:`~rvit.study.claims` (the proposal's claims),
  :mod:`~rvit.study.profiles` (the scale), :mod:`~rvit.study.schema` (configurations, contrasts,
  readings, experiments), :mod:`~rvit.study.design` (their building blocks) and
  :mod:`~rvit.study.experiments` (the experiment builders).
* :mod:`rvit.study.stats`: paired t intervals, exact sign-flip tests, equivalence tests, Holm's
  correction and the verdict rule.
* :mod:`rvit.study.bootstrap`: the bootstrap over seeds and, within each seed, test videos
  (stratified by class, paired across configurations), with its coverage measured on simulated
  studies.
* :mod:`rvit.study.runner`: runs the experiments (``python -m rvit study run``), one JSON per run.
* :mod:`rvit.study.report`: reads ``results/``, applies the readings, prints the verdict tables
  (``python -m rvit study report``).
* :mod:`rvit.study.store`: where results are stored and whether a stored result still answers the
  registry (used by both the runner and the report).
* :mod:`rvit.study.bench`: the benchmark results the study reads, and whether they are current.
* :mod:`rvit.study.figures` and :mod:`rvit.study.pixel_nn`: chapter 8's figures; the pixel
  nearest-neighbour baseline.
"""

from rvit.study.registry import (
    CLAIMS,
    EXPERIMENTS,
    PROFILES,
    Claim,
    Contrast,
    Experiment,
    Profile,
    Reading,
    RunConfig,
    Term,
    claim_ids,
    get_experiment,
    get_experiments,
    get_profile,
)
from rvit.study.stats import Interval, decide, holm, sign_flip_p, t_interval, tost_p

__all__ = [
    "CLAIMS",
    "EXPERIMENTS",
    "PROFILES",
    "Claim",
    "Contrast",
    "Experiment",
    "Interval",
    "Profile",
    "Reading",
    "RunConfig",
    "Term",
    "claim_ids",
    "decide",
    "get_experiment",
    "get_experiments",
    "get_profile",
    "holm",
    "sign_flip_p",
    "t_interval",
    "tost_p",
]
