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
* :mod:`rvit.study.analysis`: reads ``results/`` and applies the readings: every number of the
  verdicts, computed once (by the bootstrap where results store per-video outcomes, version 3 on;
  by the t interval and sign-flip test over seeds otherwise).
* :mod:`rvit.study.text`: every sentence the study writes: the verdict tables in the terminal
  (``python -m rvit study report``) and the text of chapters 8 and 8.1.
  (:mod:`rvit.study.report` re-exports the names both held when they were one module.)
* :mod:`rvit.study.preregistration`: the pre-registration of a study version (``python -m rvit
  study preregister``), its deviations log (``study deviate``) and the check that the runner
  makes before a pre-registered profile runs.
* :mod:`rvit.study.store`: where results are stored and whether a stored result still answers the
  registry (used by both the runner and the analysis).
* :mod:`rvit.study.outcomes`: the per-video outcomes a result stores, read back as arrays.
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
