"""The study's experiments, one builder per experiment, in the book's order.

Each builder takes a :class:`~rvit.study.profiles.Profile` and returns the
:class:`~rvit.study.schema.Experiment`: its configurations (written with the blocks of
:mod:`rvit.study.design`), seeds and readings. :data:`EXPERIMENTS` lists the names in the order the
builders are registered; :func:`get_experiment` and :func:`get_experiments` build them at a profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rvit.study.design import (
    APPEARANCE_MARGIN,
    MEMORY_SMALLEST_EFFECT,
    POSITION_MARGIN,
    PRESET_LABELS,
    SMALLEST_EFFECT,
    eval_spec,
    negated,
    pairwise_contrast,
    row_configs,
    row_pairs,
    run_config,
    study_gate,
)
from rvit.study.profiles import Profile, get_profile
from rvit.study.schema import Contrast, Experiment, Reading, RunConfig, Term

__all__ = ["EXPERIMENTS", "get_experiment", "get_experiments"]

_BUILDERS: dict[str, Callable[[Profile], Experiment]] = {}


def _experiment(fn: Callable[[Profile], Experiment]) -> Callable[[Profile], Experiment]:
    _BUILDERS[fn.__name__] = fn
    return fn


@_experiment
def temporal_features(p: Profile) -> Experiment:
    """Train on images, static clips, pseudo-videos, extracted frames or videos; test on videos."""
    # from version 3 on, the image- and video-trained models are also tested on a second test set
    retest = () if p.version == 2 else ("retest",)
    configs = {
        "image": run_config(p, modality="image", evals=("test", "probe", *retest)),
        "static_clip": run_config(p, modality="static_clip", evals=("test", "probe")),
        "pseudo_video": run_config(p, modality="pseudo_video", evals=("test", "probe")),
        "frames": run_config(p, modality="frames", evals=("test", "probe")),
        "video": run_config(p, modality="video", evals=("test", "probe", *retest)),
        "framevit": run_config(p, arch="framevit", modality="image", evals=("test",)),
    }
    memory_readings: tuple[Reading, ...] = ()
    if p.version >= 3:  # from version 3 on: the released memory against this book's gated one
        for modality in ("image", "video"):
            configs[f"{modality}_gated"] = run_config(
                p, preset="reconstruction", modality=modality, evals=("test",)
            )
        memory_readings = (
            Reading(
                "cmp.temporal_features",
                "additive vs gated memory",
                "The released design's additive memory, which never forgets, changes what image "
                "training costs against video training compared with this book's gated "
                "reconstruction (effect: image minus video top-1 under the paper preset, minus the "
                "same under the reconstruction preset; positive: the released memory loses less).",
                Contrast(
                    (
                        (
                            Term(1.0, "image", "test.top1"),
                            Term(-1.0, "video", "test.top1"),
                            Term(-1.0, "image_gated", "test.top1"),
                            Term(1.0, "video_gated", "test.top1"),
                        ),
                    ),
                    1,
                ),
            ),
        )
    overall = Reading(
        "cmp.temporal_features",
        "overall",
        "Training on still images instead of videos lowers top-1 accuracy on the test videos "
        "(effect: image-trained minus video-trained RViT; claimed negative).",
        pairwise_contrast("test.top1", [("image", "video")], -1),
        primary=p.version == 2,
    )
    direction = Reading(
        "ins.efficiency.weakness",
        "motion direction",
        "Without video training, predictions on videos whose class is carried by motion are "
        "less reliable: on the motion pairs, the image-trained RViT tells the direction (the "
        "true class against its reversed partner) less often than the video-trained one "
        "(effect: image minus video, within-pair direction accuracy; claimed negative).",
        pairwise_contrast("test.motion_direction", [("image", "video")], -1),
        primary=p.version == 2,
        sanity=p.version >= 3,
    )
    if p.version == 2:  # version 2's readings, as they were registered
        first: tuple[Reading, ...] = (overall,)
        motion: tuple[Reading, ...] = (direction,)
        recurrence: tuple[Reading, ...] = (
            Reading(
                "ins.versatility.weakness",
                "recurrence vs. per-frame",
                "Relying on recurrent feature extraction causes errors: the image-trained RViT is "
                "less accurate on videos than a FrameViT trained on the same images that averages "
                "per-frame predictions (effect: RViT minus FrameViT; claimed negative).",
                pairwise_contrast("test.top1", [("image", "framevit")], -1),
                primary=True,
            ),
        )
    else:
        # A single frame of a motion pair carries no direction, so any still-trained model reads
        # it at chance: the overall and direction readings hold largely by construction. The
        # primary readings are read where the world does not decide them.
        first = (
            Reading(
                "cmp.temporal_features",
                "appearance classes",
                "Relying on recurrence instead of temporal training weakens the image-trained "
                "model where a single frame suffices: on the appearance classes of the test "
                "videos it is less accurate than the video-trained RViT (effect: image-trained "
                "minus video-trained, top-1 on appearance classes; claimed negative).",
                pairwise_contrast("test.appearance", [("image", "video")], -1),
                primary=True,
                smallest_effect=SMALLEST_EFFECT,
            ),
            overall,
        )
        motion = (
            Reading(
                "ins.efficiency.weakness",
                "motion pairs",
                "Without video training, predictions on videos with motion are less reliable even "
                "where direction is not at stake: on the motion-pair videos the image-trained RViT "
                "names the pair (either of its two classes) less often than the video-trained one "
                "(effect: image minus video, pair accuracy on motion videos; claimed negative).",
                pairwise_contrast("test.motion_pair", [("image", "video")], -1),
                primary=True,
                smallest_effect=SMALLEST_EFFECT,
            ),
            direction,
        )
        recurrence = ()  # read over video length, in the video-length experiment
    readings = (
        *first,
        Reading(
            "cmp.temporal_features",
            "order",
            "What the order of frames adds: trained on frames taken from the training videos one "
            "at a time (the videos' look without their order), RViT is less accurate on the test "
            "videos than trained on the videos themselves (effect: frames minus videos; claimed "
            "negative).",
            pairwise_contrast("test.top1", [("frames", "video")], -1),
        ),
        Reading(
            "cmp.temporal_features",
            "look",
            "What the look of video frames adds: trained on sharp stills, RViT is less accurate "
            "than trained on frames taken from videos, one at a time as stills are (effect: images "
            "minus frames; claimed negative).",
            pairwise_contrast("test.top1", [("image", "frames")], -1),
        ),
        *motion,
        Reading(
            "ins.versatility.strength",
            "as well as per-frame",
            f"RViT adapts to image training and video testing: trained on stills, it is as "
            f"accurate on the test videos as a FrameViT trained on the same stills that averages "
            f"its per-frame predictions, within {APPEARANCE_MARGIN:.0%} (effect: RViT minus "
            f"FrameViT; equivalence).",
            pairwise_contrast("test.top1", [("image", "framevit")], 1),
            primary=True,
            margin=APPEARANCE_MARGIN,
        ),
        *recurrence,
        *memory_readings,
    )
    return Experiment(
        name="temporal_features",
        title="Temporal features: what the training modality buys",
        question="How much does an RViT lose on videos when it never sees a video in training?",
        claims=(
            "cmp.temporal_features",
            "ins.efficiency.weakness",
            "ins.versatility.strength",
            *(("ins.versatility.weakness",) if p.version == 2 else ()),
        ),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        gate=study_gate(p),
        metric="top-1 accuracy on test videos: overall, appearance classes, motion pairs",
        controls=("framevit", "video"),
        labels={
            "image": "images",
            "static_clip": "static clips",
            "pseudo_video": "pseudo-videos",
            "frames": "extracted frames",
            "video": "videos",
            "framevit": "FrameViT (images)",
            "image_gated": "images, gated memory",
            "video_gated": "videos, gated memory",
        },
    )


@_experiment
def patch_embedding(p: Profile) -> Experiment:
    """2D patches against 3D tubelets, switched alone from each preset (trained on images)."""
    pairs = row_pairs("conv2d", "conv3d")
    unseen = [f"size{s}.top1" for s in p.test_sizes]
    readings = (
        Reading(
            "cmp.patch_embedding",
            "video alignment",
            "Tubelets fit video less well: switching conv2d to conv3d lowers top-1 accuracy on "
            "the test videos (effect: conv3d minus conv2d, from each preset; claimed negative).",
            pairwise_contrast("test.top1", pairs, -1, PRESET_LABELS),
            primary=True,
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
                labels=PRESET_LABELS,
            ),
        ),
    )
    return Experiment(
        name="patch_embedding",
        title="Patch embedding: 2D patches or 3D tubelets",
        question="Does the tubelet embedding cost accuracy on videos, or buy flexibility?",
        claims=("cmp.patch_embedding",),
        configs=row_configs(p, "patch_embed", "conv2d", "conv3d", ("test", "sizes")),
        readings=readings,
        seeds=p.seeds,
        gate=study_gate(p),
        metric="top-1 accuracy on test videos, at the training frame size and at unseen sizes",
        controls=("framevit", "video"),
    )


@_experiment
def attention(p: Profile) -> Experiment:
    """Linear against hybrid attention, switched alone from each preset."""
    configs = row_configs(p, "attention", "linear", "hybrid", ("test",))
    pairs = row_pairs("linear", "hybrid")
    stills = Reading(
        "cmp.attention",
        "spatial features on stills",
        "Hybrid attention learns better spatial features during image training: it raises "
        "accuracy on held-out still images, in eval mode (effect: hybrid minus linear, from each "
        "preset; claimed positive).",
        pairwise_contrast("fit_val.top1", pairs, 1, PRESET_LABELS),
        primary=True,
        smallest_effect=SMALLEST_EFFECT,
    )
    readings = (
        *(() if p.version == 2 else (stills,)),
        Reading(
            "cmp.attention",
            "spatial features",
            "Hybrid attention learns better spatial features from images: it raises accuracy on "
            "the appearance classes of the test videos (effect: hybrid minus linear, from each "
            "preset; claimed positive).",
            pairwise_contrast("test.appearance", pairs, 1, PRESET_LABELS),
            primary=p.version == 2,
        ),
        Reading(
            "cmp.attention",
            "complexity",
            "Hybrid attention adds complexity: it costs more arithmetic per frame at the study's "
            "frame size (effect: log10 of hybrid over linear FLOPs, counted from the model, so "
            "exact; claimed positive). How the cost grows with the tokens of a frame is read from "
            "the attention benchmark (the report's attention table).",
            pairwise_contrast("train.log10_flops", pairs, 1, PRESET_LABELS, units="log10"),
            # not a sanity check: at a few tokens per frame a softmax over them can cost less than
            # linear attention's feature maps, so the sign depends on the frame size
            exact=True,
        ),
    )
    return Experiment(
        name="attention",
        title="Attention: linear or hybrid",
        question="Does softmax within the frame help image-trained RViT, and at what cost?",
        claims=("cmp.attention",),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        gate=study_gate(p),
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
            configs[_dropout_id(modality, rate)] = run_config(
                p, modality=modality, evals=("test", "probe", "fit"), recurrent_dropout=rate
            )
    configs["framevit"] = run_config(p, arch="framevit", evals=("test",))
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
            pairwise_contrast("test.top1", [(img_on, img_off)], 1),
            primary=True,
        ),
        Reading(
            "cmp.recurrent_processing",
            "temporal use",
            f"With dropout an image-trained model uses its hidden state less: it keeps less of a "
            f"cue shown only in the first frames (effect: retention-probe accuracy with dropout "
            f"{on:g} minus without; claimed negative).",
            pairwise_contrast("probe.top1", [(img_on, img_off)], -1),
        ),
        Reading(
            "ins.recurrent.strength",
            "overfitting",
            f"Recurrent dropout reduces overfitting: the gap between training and held-out "
            f"accuracy shrinks (effect: gap with dropout {on:g} minus gap without, image- and "
            f"video-trained; claimed negative).",
            Contrast((gap(img_on, img_off), gap(vid_on, vid_off)), -1, labels=("images", "videos")),
            primary=True,
        ),
        Reading(
            "ins.recurrent.weakness",
            "motion direction",
            f"Dropout weakens temporal propagation in video training: the video-trained model "
            f"tells the direction of the motion pairs less often (effect: within-pair direction "
            f"accuracy, dropout {on:g} minus none; claimed negative).",
            pairwise_contrast("test.motion_direction", [(vid_on, vid_off)], -1),
            primary=True,
        ),
        Reading(
            "ins.recurrent.weakness",
            "retention",
            f"Dropout shortens memory: video-trained models keep less of a cue shown only at the "
            f"start (effect: probe accuracy, dropout {on:g} minus none; claimed negative).",
            pairwise_contrast("probe.top1", [(vid_on, vid_off)], -1),
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
        gate=study_gate(p),
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
            pairwise_contrast(
                "peak_mb.longest", [("rvit_stream", "rvit_forward")], -1, units="MiB"
            ),
            primary=True,
            smallest_effect=None if p.version == 2 else MEMORY_SMALLEST_EFFECT,
        ),
        Reading(
            "cmp.memory",
            "vs. clip transformer",
            "Streaming RViT needs less memory than a clip transformer over the same frames "
            "(effect: streaming RViT minus ClipViT, MiB; claimed negative).",
            pairwise_contrast("peak_mb.longest", [("rvit_stream", "clipvit")], -1, units="MiB"),
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
        metric="peak memory (MiB) against frames, from results/bench/length.json"
        if p.version == 2
        else "peak memory (MiB) against frames at the profile's model, from "
        f"bench/length-{p.name}.json",
        bench="length" if p.version == 2 else f"length-{p.name}",
        notes="Measured by the efficiency benchmark (chapter 9); repeats play the role of seeds."
        if p.version == 2
        else "Measured by benchmarks/bench_study_memory.py at the model every configuration of "
        "this profile uses; each repeat is a fresh process, and repeats play the role of seeds.",
    )


@_experiment
def classifier(p: Profile) -> Experiment:
    """Concat head against global average pooling, switched alone from each preset."""
    configs = row_configs(p, "head", "concat", "gap", ("test", "fit"))
    configs["video+gap"] = run_config(p, modality="video", head="gap")
    pairs = row_pairs("concat", "gap")
    readings = (
        Reading(
            "cmp.classifier",
            "image training",
            "Pooling simplifies image training: the gap head reaches a higher accuracy on held-out "
            "still images (effect: gap minus concat, from each preset; claimed positive).",
            pairwise_contrast("fit_val.top1", pairs, 1, PRESET_LABELS),
            primary=True,
        ),
        Reading(
            "cmp.classifier",
            "spatio-temporal",
            "Pooling misses spatio-temporal interactions: trained on videos, the gap head tells the "
            "direction of the motion pairs less often than the concat head (effect: gap minus "
            "concat, within-pair direction accuracy; claimed negative).",
            pairwise_contrast("test.motion_direction", [("video+gap", "video")], -1),
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
        gate=study_gate(p),
        metric="accuracy on held-out images; accuracy on motion pairs of the test videos",
        controls=("framevit", "video"),
    )


@_experiment
def position_encoding(p: Profile) -> Experiment:
    """A shared position table against a trilinearly interpolated one, from each preset."""
    configs = row_configs(
        p, "pos_embed", "shared", "interpolated", ("test", "fit", "sizes", "lengths")
    )
    pairs = row_pairs("shared", "interpolated")
    unseen = [t for t in p.test_lengths if t != p.frames]
    longest = f"len{max(unseen)}.top1"
    readings = (
        Reading(
            "cmp.position_encoding",
            "image consistency",
            f"Interpolated encoding keeps image training consistent: accuracy on held-out images "
            f"does not suffer, read as: it stays within {POSITION_MARGIN:.0%} of the shared "
            f"table's (effect: interpolated minus shared, from each preset; equivalence).",
            pairwise_contrast("fit_val.top1", pairs, 1, PRESET_LABELS),
            primary=True,
            margin=POSITION_MARGIN,
        ),
        Reading(
            "cmp.position_encoding",
            "less tailored for videos",
            "Interpolated encoding is less tailored for videos: lower accuracy on test videos "
            "(effect: interpolated minus shared; claimed negative).",
            pairwise_contrast("test.top1", pairs, -1, PRESET_LABELS),
        ),
        Reading(
            "cmp.position_encoding",
            "unseen lengths",
            f"...and on videos longer than any seen in training ({max(unseen)} frames; effect: "
            f"interpolated minus shared; claimed negative).",
            pairwise_contrast(longest, pairs, -1, PRESET_LABELS),
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
        gate=study_gate(p),
        metric="accuracy on held-out images, on test videos, at unseen frame sizes and lengths",
        controls=("framevit", "video"),
    )


@_experiment
def video_length(p: Profile) -> Experiment:
    """Fixed-length against variable-length training, tested from short to long videos."""
    configs = {
        "video_fixed": run_config(p, modality="video", evals=("lengths",)),
        "video_variable": run_config(p, modality="video", variable_length=True, evals=("lengths",)),
        "image": run_config(p, modality="image", evals=("lengths",)),
        "framevit": run_config(p, arch="framevit", evals=("lengths",)),
    }
    unseen = [t for t in p.test_lengths if t != p.frames]
    terms = tuple(
        Term(sign / len(unseen), cfg, f"len{t}.top1")
        for t in unseen
        for cfg, sign in (("video_fixed", 1.0), ("video_variable", -1.0))
    )
    longest = max(p.test_lengths)
    proposal = (
        Reading(
            "cmp.video_length",
            "image-trained over length",
            f"The proposal's frame-by-frame model works at a fixed length but needs tuning for "
            f"other lengths: trained on stills, RViT is less accurate on videos of {longest} "
            f"frames than on videos of the study's {p.frames} (effect: top-1 at {longest} minus "
            f"at {p.frames} frames; claimed negative).",
            Contrast(
                (
                    (
                        Term(1.0, "image", f"len{longest}.top1"),
                        Term(-1.0, "image", f"len{p.frames}.top1"),
                    ),
                ),
                -1,
            ),
            primary=True,
            smallest_effect=SMALLEST_EFFECT,
        ),
        Reading(
            "ins.versatility.weakness",
            "recurrent errors on long videos",
            f"Generalising from images to videos through recurrent feature extraction causes "
            f"errors: on videos of {longest} frames the image-trained RViT is less accurate than "
            f"a FrameViT trained on the same stills that averages its per-frame predictions "
            f"(effect: RViT minus FrameViT at {longest} frames; claimed negative).",
            pairwise_contrast(f"len{longest}.top1", [("image", "framevit")], -1),
            primary=True,
            smallest_effect=SMALLEST_EFFECT,
        ),
    )
    readings = (
        *(() if p.version == 2 else proposal),
        Reading(
            "cmp.video_length",
            "unseen lengths",
            f"Fixed-length training works at its own length but needs tuning for other lengths: at "
            f"test lengths other than {p.frames} frames it is less accurate than variable-length "
            f"training (effect: fixed minus variable, mean over lengths {unseen}; claimed "
            f"negative).",
            Contrast((terms,), -1),
            primary=p.version == 2,
        ),
    )
    return Experiment(
        name="video_length",
        title="Video length: fixed or variable clips in training",
        question="How does accuracy change with test length; does variable-length training help?",
        claims=("cmp.video_length", *(() if p.version == 2 else ("ins.versatility.weakness",))),
        configs=configs,
        readings=readings,
        seeds=p.seeds,
        gate=study_gate(p),
        metric="top-1 accuracy on test videos of 4 to 64 frames",
        controls=("framevit",),
        labels={"video_fixed": "videos, fixed length", "video_variable": "videos, variable length"},
    )


@_experiment
def efficiency(p: Profile) -> Experiment:
    """Training cost (time, FLOPs) of image training against video training."""
    configs = {
        "image": run_config(p, modality="image"),
        "frames": run_config(p, modality="frames"),
        "video": run_config(p, modality="video"),
        "framevit": run_config(p, arch="framevit"),
    }
    margin = APPEARANCE_MARGIN
    extraction: tuple[Reading, ...] = ()
    if p.version >= 3:
        extraction = (
            Reading(
                "ins.efficiency.strength",
                "frame extraction",
                f"Frame extraction avoids video training at no cost on what a frame can show: "
                f"trained on frames taken one at a time from the training videos, RViT is as "
                f"accurate on the appearance classes of the test videos as trained on the videos, "
                f"within {margin:.0%} (effect: frames minus videos; equivalence).",
                pairwise_contrast("test.appearance", [("frames", "video")], 1),
                primary=True,
                margin=margin,
            ),
        )
    readings = (
        Reading(
            "ins.efficiency.strength",
            "training cost",
            "Image training avoids the cost of video training: it needs fewer training FLOPs "
            "(effect: log10 of image over video training FLOPs; claimed negative).",
            pairwise_contrast("train.log10_flops", [("image", "video")], -1, units="log10"),
            primary=p.version == 2,
            exact=True,
            sanity=p.version >= 3,
        ),
        *extraction,
        Reading(
            "ins.efficiency.strength",
            "same appearance accuracy",
            f"...while reaching the video-trained model's accuracy on appearance classes within "
            f"{margin:.0%} (effect: image minus video accuracy; equivalence).",
            pairwise_contrast("test.appearance", [("image", "video")], 1),
            margin=margin,
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
        gate=study_gate(p),
        metric="training FLOPs and seconds; accuracy on appearance classes",
        controls=("framevit",),
    )


def _size_id(n: int) -> str:
    return f"image_n{n}"


@_experiment
def scalability(p: Profile) -> Experiment:
    """Learning curves over the number of training images (with ``matched_samples``: at the same
    number of optimiser steps for every size)."""

    def epochs(n: int) -> int | None:
        return None if p.matched_samples is None else p.matched_samples // n

    configs = {
        _size_id(n): run_config(p, modality="image", train_samples=n, epochs=epochs(n))
        for n in p.train_sizes
    }
    small, large = _size_id(min(p.train_sizes)), _size_id(max(p.train_sizes))
    weakness: tuple[Reading, ...] = ()
    if p.version >= 3:
        weakness = (
            Reading(
                "ins.scalability.weakness",
                "motion classes scale less",
                "Without temporal data, more images help less where the task needs motion: from "
                "the smallest to the largest training set, top-1 on the motion-pair classes grows "
                "less than top-1 on the appearance classes (effect: gain on motion classes minus "
                "gain on appearance classes; claimed negative).",
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
                primary=True,
                smallest_effect=SMALLEST_EFFECT,
            ),
        )
    readings = (
        Reading(
            "ins.scalability.strength",
            "more images help",
            f"Image training scales with the data set: accuracy on test videos grows from "
            f"{min(p.train_sizes)} to {max(p.train_sizes)} training images (effect: largest minus "
            f"smallest; claimed positive).",
            pairwise_contrast("test.top1", [(large, small)], 1),
            primary=True,
        ),
        *weakness,
        Reading(
            "ins.scalability.weakness",
            "motion does not scale",
            "More images help appearance classes but not the direction of motion (effect: gain "
            "in within-pair direction accuracy on the motion pairs minus gain in accuracy on the "
            "appearance classes, largest minus smallest set; claimed negative).",
            Contrast(
                (
                    (
                        Term(1.0, large, "test.motion_direction"),
                        Term(-1.0, small, "test.motion_direction"),
                        Term(-1.0, large, "test.appearance"),
                        Term(1.0, small, "test.appearance"),
                    ),
                ),
                -1,
            ),
            primary=p.version == 2,
            sanity=p.version >= 3,
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
        gate=study_gate(p),
        metric="top-1 accuracy on test videos (appearance classes, motion pairs) against images",
    )


@_experiment
def augmentation(p: Profile) -> Experiment:
    """No, basic or strong augmentation of the training images, and pseudo-videos."""
    configs = {
        "none": run_config(p, augment="none"),
        "basic": run_config(p, augment="basic"),
        "strong": run_config(p, augment="strong"),
        "pseudo_video": run_config(p, modality="pseudo_video"),
        "framevit": run_config(p, arch="framevit"),
        "video": run_config(p, modality="video"),
    }
    readings = (
        Reading(
            "ins.augmentation.strength",
            "basic",
            "Augmentation enlarges the training set in effect: basic augmentation raises accuracy "
            "on test videos over no augmentation (claimed positive).",
            pairwise_contrast("test.top1", [("basic", "none")], 1),
            primary=True,
        ),
        Reading(
            "ins.augmentation.strength",
            "strong",
            "So does strong augmentation (effect: strong minus none; claimed positive).",
            pairwise_contrast("test.top1", [("strong", "none")], 1),
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
        gate=study_gate(p),
        metric="top-1 accuracy on test videos",
        controls=("framevit", "video"),
        labels={"pseudo_video": "pseudo-videos"},
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
    sweep = {f"gap{g:g}": eval_spec(p, domain_gap=g) for g in gaps}
    configs: dict[str, RunConfig] = {}
    for augment in ("none", "basic", "strong"):
        configs[augment] = run_config(p, augment=augment, evals=()).with_evals(**sweep)
    for g in gaps:
        configs[_gap_id("video", g)] = run_config(
            p, modality="video", domain_gap=g, evals=()
        ).with_evals(**{f"gap{g:g}": sweep[f"gap{g:g}"]})

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
            Contrast((drop("strong", "strong") + negated(drop("none", "none")),), 1),
            primary=True,
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
                (drop("none", "none") + negated(drop(_gap_id("video", lo), _gap_id("video", hi))),),
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
        gate=study_gate(p),
        metric="top-1 accuracy on test videos against the domain-gap knob",
        labels={
            "none": "images, no augmentation",
            "basic": "images, basic",
            "strong": "images, strong",
        },
    )


@_experiment
def aa_control(p: Profile) -> Experiment:
    """One configuration trained with twice the study's seeds, to be split into two disjoint sets.

    Nothing differs between the two sets but the seeds, so the study's rule must find no effect:
    the report applies it to many splits and gives the rate of verdicts other than inconclusive.
    """
    return Experiment(
        name="aa_control",
        title="A/A control: one configuration against itself",
        question="How often does the study's rule find an effect where there is none?",
        claims=(),
        configs={"image": run_config(p, modality="image")},
        readings=(),
        seeds=tuple(range(2 * len(p.seeds))),
        gate=study_gate(p),
        metric="top-1 accuracy on test videos of the image-trained paper RViT",
        notes="Its first seeds are the study's own runs of this configuration (shared).",
    )


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
