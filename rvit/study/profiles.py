"""The study's profiles: the scale of every experiment (model size, data sizes, training length, seeds).

``smoke`` (seconds, for the tests), ``book`` (the committed results: a small model on 32 x 32 pixel
frames, ten seeds, a few CPU hours) and ``full`` (larger images, data and models, for a
GPU).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["PROFILES", "Profile", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """The scale of every experiment: model size, data sizes, training length, seeds.

    ``train_sizes``, ``test_lengths``, ``test_sizes``, ``dropouts`` and ``domain_gaps`` are the
    values the sweeps visit. ``length_samples`` is the number of test videos for the video-length
    sweep (long videos cost more); ``cue_frames`` is how many frames the retention probe shows
    before it goes blank. ``matched_samples``: the training samples every run of the scalability
    sweep sees (epochs times set size), so that a larger set does not also mean more optimiser
    steps (None: each trains ``epochs`` epochs). ``aliases``: other names this profile's results
    were recorded under (a profile renamed after its runs). ``seeds_together``: how many seeds of
    one configuration the runner trains as one computation (:func:`rvit.multiseed.fit_seeds`; in
    fixed chunks of ``seeds``, so that a seed's numbers never depend on which runs were left to
    do), where the configuration allows it (no dropout, fixed clip length). ``compile``: training
    goes through ``torch.compile`` (part of each run's training settings, so of its key).
    ``per_seed_test``: each seed's evaluation sets are drawn from that seed
    (:func:`rvit.study.datasets.eval_data_seed`), so the seeds' spread includes the test set's
    sampling; False (every profile so far): every seed is evaluated on the same sets, of seed
    ``test_seed`` (``fit_val``: ``test_seed + 1``).
    ``version``: the study version whose design the profile's registry builds: 2 (the book
    profile: version 2's readings, training-accuracy gate and evaluation sets, as registered then)
    or 3 (every later profile: held-out gate, per-seed test sets, the readings of version 3).
    ``code`` and ``commits``: set once a version's results are complete (the profile is then
    *closed*): the code hash that made them and the clean commits they came from. A closed
    profile's results answer to that hash, not today's code, so the package can change after it;
    closing changes nothing of what the registry asks for (``version`` keeps the design).
    ``preregistered``: the profile must be pre-registered before it runs
    (:mod:`rvit.study.preregistration`): ``study run`` refuses it while no pre-registration document
    exists, or while the registry differs from the one it registered and no recorded deviation
    accepts the change.
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
    matched_samples: int | None = None
    per_seed_test: bool = False
    aliases: tuple[str, ...] = ()
    code: str | None = None
    commits: tuple[str, ...] = ()
    seeds_together: int = 1
    compile: bool = False
    preregistered: bool = False
    version: int = 3

    @property
    def closed(self) -> bool:
        """Whether this profile is the record of a closed study version (``code`` is set)."""
        return self.code is not None

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

    def __post_init__(self) -> None:
        if self.version not in (2, 3):
            raise ValueError(f"profile {self.name!r}: version must be 2 or 3, got {self.version!r}")
        if self.seeds_together < 1:
            raise ValueError(
                f"profile {self.name!r}: seeds_together must be >= 1, got {self.seeds_together}"
            )
        if self.matched_samples is not None:
            for n in self.train_sizes:
                if self.matched_samples % n:
                    raise ValueError(
                        f"profile {self.name!r}: matched_samples {self.matched_samples} is not a "
                        f"multiple of the training-set size {n}"
                    )

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
        seeds=tuple(range(10)),
        # the same samples seen (6,400: 400 optimiser steps) for every training-set size
        train_sizes=(200, 800, 3200),
        matched_samples=6400,
        test_lengths=(4, 8, 16, 32, 64),
        test_sizes=(24, 48),
        dropouts=(0.0, 0.25),
        domain_gaps=(0.0, 1.0),
        domain_gap=0.5,
        # chosen by the pilot runs of tools/study_pilot.py (results/pilot.json, chapter 8): at 0.5
        # no configuration learned its training data at this budget
        difficulty=0.25,
        length_samples=120,
        probe_frames=16,
        cue_frames=2,
        # 8 frames on average, as many as fixed-length training sees
        variable_frames=(4, 12),
        # the study's second version ran under this name before it became the book profile
        aliases=("v2",),
        # version 2 is closed: its 610 results were made by this code at these two clean commits
        # (tags study-v2-run1 and study-v2-run2); its "paper" arm is the gated reconstruction that
        # the package now offers as the ``reconstruction`` preset
        code="0edabeee103ae880",
        commits=(
            "71d8b4e7e1f8f49dd4b49decade3e8112eeb8f47",
            "84db80d7c104ae7c48823fedd25190b07d56c19a",
        ),
        version=2,
    ),
    "v3": Profile(
        name="v3",
        image_size=32,
        patch_size=8,
        dim=48,
        depth=2,
        heads=3,
        frames=8,
        # chosen by the pilot runs of tools/study_pilot.py --grid v3 (results/pilot-v3.json, seed 0,
        # made before the pre-registration): at batch 64 (the better-paying batch of the
        # study-speed benchmark) and the book profile's learning rate doubled, 6,400 samples x 8
        # epochs bring image-trained RViT to 100 % of its ceiling on held-out stills and
        # video-trained RViT to 100 % on held-out videos; 1,600 videos x 8 or 16 epochs leave the
        # video model at chance. Chosen on held-out data of the training modality, not on test data.
        train_samples=6400,
        test_samples=240,
        epochs=8,
        batch_size=64,
        lr=6e-3,
        seeds=tuple(range(12)),
        # the same samples seen (51,200) for every training-set size
        train_sizes=(800, 3200, 12800),
        matched_samples=51_200,
        test_lengths=(4, 8, 16, 32, 64),
        test_sizes=(24, 48),
        dropouts=(0.0, 0.25),
        domain_gaps=(0.0, 1.0),
        domain_gap=0.5,
        difficulty=0.25,
        length_samples=120,
        probe_frames=16,
        cue_frames=2,
        variable_frames=(4, 12),
        per_seed_test=True,
        seeds_together=6,
        compile=True,
        preregistered=True,
        # version 3 is closed: its 756 results were made by this code at the clean commit tagged
        # study-v3-preregistration (the code the study-speed work changed afterwards)
        code="8d01b8a5ed4a4897",
        commits=("cf6c0b20ee9ca7d70e4968d19b462313a62bf4ad",),
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
        seeds=tuple(range(10)),
        train_sizes=(250, 500, 1000, 2000, 4000, 8000, 16000),
        matched_samples=240_000,  # 30 epochs of 8,000 samples, for every size
        test_lengths=(4, 8, 16, 32, 64),
        test_sizes=(48, 96),
        dropouts=(0.0, 0.1, 0.25, 0.5),
        domain_gaps=(0.0, 0.25, 0.75, 1.0),
        domain_gap=0.5,
        difficulty=0.5,
        length_samples=1000,
        probe_frames=32,
        cue_frames=4,
        variable_frames=(8, 24),  # 16 frames on average, as fixed-length training sees
    ),
}
"""``smoke`` (tests, seconds), ``book`` (the committed results: ten seeds, a few CPU hours),
``full`` (a GPU)."""


def get_profile(profile: str | Profile) -> Profile:
    """A profile by name (``smoke``, ``book``, ``full``); a :class:`Profile` comes back as is."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[profile]
