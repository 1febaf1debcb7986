"""The study's experiments, written down as code before they run.

Each :class:`Experiment` names the claims of the proposal it serves, the configurations it compares
(model + training + data + evaluation, see :class:`RunConfig`), the seeds, and one or more
:class:`Reading` objects: an operational reading of a claim together with the :class:`Contrast`
whose sign decides it. Nothing here trains anything; :mod:`rvit.study.runner` runs the
configurations and :mod:`rvit.study.analysis` applies the readings to the stored results.

Conventions

* An *effect* is a number per seed (and per stratum, for example "from the paper preset" and "from
  the variant preset"), built as a weighted sum of metrics of configurations trained with that seed.
  For a row of the comparison table the effect is always *the proposal's choice minus the paper's
  choice*, so its sign reads the same way in every row.
* The seed is the unit: strata are averaged within each seed. Every reading gets a paired t
  interval at 95 % and an exact sign-flip p-value (see :mod:`rvit.study.stats`). Each claim declares
  one *primary* reading (``Reading.primary``); the primary p-values are Holm-corrected across the
  claims, the other readings are secondary and reported uncorrected. A reading with a ``margin`` is
  an equivalence reading, tested by TOST. Verdicts: supported, contradicted, equivalent,
  inconclusive, not testable.
* The learning gate (:data:`LEARNING_GATE`): a configuration whose training accuracy stays below
  a share of its modality's ceiling did not learn; readings that use it are not testable at this
  budget.
* Metrics are addressed by dotted paths into a run's metrics, e.g. ``"test.top1"`` (top-1 accuracy
  on the test videos), ``"test.motion"`` (accuracy on the motion-only pairs), ``"probe.top1"`` or
  ``"train.time_s"``; ``"chance"`` is ``1 / num_classes``.

Profiles set the scale: ``smoke`` (seconds, for the tests), ``book`` (the committed results: a small
model on 32 x 32 pixel frames, a CPU budget of about forty minutes) and ``full`` (larger images,
data and models, for a GPU).

Where each part lives (this module is the one place that gathers them; import the public API from
here or from :mod:`rvit.study`):

* :mod:`rvit.study.claims`: :data:`CLAIMS`, :class:`Claim`, :func:`claim_ids`.
* :mod:`rvit.study.profiles`: :data:`PROFILES`, :class:`Profile`, :func:`get_profile`.
* :mod:`rvit.study.schema`: :class:`RunConfig`, :class:`Term`, :class:`Contrast`, :func:`diff`,
  :class:`Reading`, :class:`LearningGate`, :class:`Experiment`.
* :mod:`rvit.study.design`: the building blocks of the configurations and contrasts, the learning
  gate and the equivalence margins.
* :mod:`rvit.study.experiments`: the experiment builders, :data:`EXPERIMENTS`,
  :func:`get_experiment`, :func:`get_experiments`.
"""

from rvit.study.claims import CLAIMS, Claim, claim_ids
from rvit.study.design import APPEARANCE_MARGIN, LEARNING_GATE, POSITION_MARGIN
from rvit.study.experiments import EXPERIMENTS, get_experiment, get_experiments
from rvit.study.profiles import PROFILES, Profile, get_profile
from rvit.study.schema import (
    Contrast,
    Experiment,
    LearningGate,
    Reading,
    RunConfig,
    Term,
    diff,
)

__all__ = [
    "APPEARANCE_MARGIN",
    "CLAIMS",
    "EXPERIMENTS",
    "LEARNING_GATE",
    "POSITION_MARGIN",
    "PROFILES",
    "Claim",
    "Contrast",
    "Experiment",
    "LearningGate",
    "Profile",
    "Reading",
    "RunConfig",
    "Term",
    "claim_ids",
    "diff",
    "get_experiment",
    "get_experiments",
    "get_profile",
]
