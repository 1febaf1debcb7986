"""The command line: ``python -m rvit train ...``, ``python -m rvit evaluate ...`` (and ``study``).

``train`` builds a data set from a spec (``synthetic``, ``imagefolder:PATH``, ``stanford40:PATH``,
``videofolder:PATH``), a model from a preset and size, trains it with :func:`rvit.train.fit` and
writes ``OUT/last.pt``, ``OUT/best.pt``, ``OUT/history.csv`` and ``OUT/metrics.json``; it resumes
when ``OUT/last.pt`` exists, and refuses to when that is another run's (another model, other
settings or other data: ``--restart`` moves its files aside and trains afresh). With ``--eval-videos SPEC`` it first audits the training images
against the test videos for leakage (refusing to go on when it finds any, unless
``--allow-leakage``), then evaluates the videos frame by frame after training.

``evaluate`` rebuilds a model from a checkpoint and streams a video set through it.

Runs unchanged under ``torchrun``. User errors (a missing path, a bad spec, class names that do not
match, a checkpoint of another config) print one line to stderr and exit with status 1; leakage
exits with status 2. Other subcommands (``study``) come from the modules in
:data:`EXTERNAL_SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, fields
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = [
    "EXTERNAL_SUBCOMMANDS",
    "DataSpec",
    "LeakageFound",
    "add_subcommands",
    "build_parser",
    "main",
]

# Subcommands defined elsewhere: name -> "module:function"; the function registers its parser on
# an argparse subparsers object and sets ``func`` (``args -> exit status``).
EXTERNAL_SUBCOMMANDS: dict[str, str] = {"study": "rvit.study.runner:add_study_parser"}


class LeakageFound(Exception):
    """Training images that come from the test videos (exit status 2)."""


# ----------------------------------------------------------------------------------------------
# data specs


@dataclass(frozen=True)
class DataSpec:
    """``synthetic`` or ``KIND:PATH`` (``imagefolder:data/stills``)."""

    kind: str
    path: Path | None = None

    @classmethod
    def parse(cls, text: str, kinds: Sequence[str], option: str) -> DataSpec:
        """Read ``text``; ``kinds`` are the kinds allowed for ``option`` (named in errors), names
        of ``rvit.data.sources.DATA_KINDS``."""
        kind, sep, path = text.partition(":")
        expected = ", ".join(_spec_forms(kinds))
        if kind not in kinds:
            raise ValueError(f"{option} {text!r} is not a data spec; expected one of {expected}")
        if not _kind(kind).needs_path:
            if sep:
                raise ValueError(f"{option} {text!r}: '{kind}' takes no path")
            return cls(kind)
        if not path:
            raise ValueError(f"{option} {text!r} needs a path: {kind}:PATH")
        folder = Path(path).expanduser()
        if not folder.exists():
            raise FileNotFoundError(f"{option}: '{folder}' does not exist")
        if not folder.is_dir():
            raise NotADirectoryError(f"{option}: '{folder}' is not a folder")
        return cls(kind, folder)


def _kind(name: str) -> Any:
    from rvit.data.sources import DATA_KINDS

    return DATA_KINDS[name]


def _spec_forms(kinds: Sequence[str]) -> list[str]:
    """How each kind is written on the command line: ``synthetic``, ``imagefolder:PATH``, ..."""
    return [k if not _kind(k).needs_path else f"{k}:PATH" for k in kinds]


def _kinds(holds: str | None = None) -> tuple[str, ...]:
    """The kinds of ``rvit.data.sources`` (those that hold ``image`` or ``video`` samples)."""
    from rvit.data.sources import DATA_KINDS, IMAGE_KINDS, VIDEO_KINDS

    return {None: tuple(DATA_KINDS), "image": IMAGE_KINDS, "video": VIDEO_KINDS}[holds]


#: The training modality when ``--modality`` is not given: still images (``TrainConfig`` itself
#: defaults to videos); every other training default is ``TrainConfig``'s.
TRAIN_MODALITY = "image"


def _defaults(config_class: type) -> dict[str, Any]:
    """The field defaults of a config dataclass (``TrainConfig``, ``RViTConfig``)."""
    return {f.name: f.default for f in fields(config_class) if f.default is not MISSING}


def _camera_arg(text: str) -> tuple[str, float]:
    """``--camera max_shift=0.1``: one limit of the pseudo-video camera, as ``(name, value)``.

    Names and ranges are checked where every caller's limits are, in ``TrainConfig``."""
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}") from None


def _frames_arg(text: str) -> int | tuple[int, int]:
    """``--frames 8`` or ``--frames 6-10`` (a range of lengths, synthetic videos only)."""
    low, sep, high = text.partition("-")
    try:
        value = (int(low), int(high)) if sep else int(low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected T or MIN-MAX, got {text!r}") from None
    numbers = value if isinstance(value, tuple) else (value,)
    if min(numbers) < 1 or (sep and value[0] > value[1]):
        raise argparse.ArgumentTypeError(
            f"expected frame counts >= 1 with MIN <= MAX, got {text!r}"
        )
    return value


def _option_arg(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as YAML (``depth=2``, ``dropout=0.1``, ``head=gap``)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"{text!r}: VALUE is not a YAML value") from None


# ----------------------------------------------------------------------------------------------
# building data sets and models


def _synthetic(args: argparse.Namespace, split: str, modality: str, **settings: Any) -> Any:
    """A synthetic set of the command line's world (``--data-seed``, ``--difficulty``, ...)."""
    from rvit.data.sources import build_dataset

    spec = {
        "split": split,
        "modality": modality,
        "num_samples": args.num_samples,
        "frames": args.frames if args.frames is not None else 8,
        "image_size": getattr(args, "image_size", None),
        "seed": args.data_seed,
        "domain_gap": args.domain_gap,
        "difficulty": args.difficulty,
        **settings,
    }
    return build_dataset("synthetic", spec)


def _folder_spec(args: argparse.Namespace, spec: DataSpec, split: str, option: str) -> dict:
    """The settings of a data set on disk that every kind reads alike."""
    if _kind(spec.kind).needs_splits_dir and args.splits_dir is None:
        raise ValueError(f"{option} {spec.kind}:PATH needs --splits-dir DIR (the split files)")
    return {
        "split": split,
        "path": spec.path,
        "on_bad_file": getattr(args, "on_bad_file", "error"),
        "splits_dir": args.splits_dir,
        "fold": args.fold,
    }


def _fixed_frames(args: argparse.Namespace, default: int | None) -> int | None:
    if isinstance(args.frames, tuple):
        raise ValueError("--frames MIN-MAX is for synthetic videos only; give one number")
    return args.frames if args.frames is not None else default


def build_train_sets(args: argparse.Namespace) -> tuple[Any, Any]:
    """The training set and the validation set (``None`` unless synthetic or ``--val-data``)."""
    from rvit.data.sources import build_dataset

    spec = DataSpec.parse(args.data, _kinds(), "--data")
    wants_video = args.modality in ("video", "frames")
    size = args.image_size
    if not _kind(spec.kind).needs_path:  # synthetic: stills or videos, with a validation split
        modality = "video" if wants_video else "image"
        train = _synthetic(args, "train", modality, augment=args.augment)
        val_count = max(len(train.classes), args.num_samples // 4)
        return train, _synthetic(args, "val", modality, num_samples=val_count)
    if wants_video != ("video" in _kind(spec.kind).holds):
        videos = [k for k in _spec_forms(_kinds("video")) if ":" in k]
        raise ValueError(
            f"--modality {args.modality} does not fit --data {spec.kind}: 'video' and 'frames' "
            f"need {', '.join(videos[:-1])} or {videos[-1]}, the others still images"
        )
    settings = _folder_spec(args, spec, "train", "--data")
    frames = _fixed_frames(args, 16) if wants_video else None
    settings.update(image_size=size, frames=frames, augment=args.augment)
    train = build_dataset(spec.kind, settings)
    if len(train) == 0:
        raise ValueError(f"--data '{spec.path}' holds no samples")
    val = None
    if args.val_data:
        kinds = tuple(dict.fromkeys((*_kinds("video"), *_kinds("image"))))
        val = build_eval_set(args.val_data, args, size, train.classes, "--val-data", kinds)
    return train, val


def build_eval_set(
    text: str,
    args: argparse.Namespace,
    image_size: int,
    classes: list[str] | None,
    option: str,
    kinds: Sequence[str] | None = None,
) -> Any:
    """A deterministic evaluation set for a spec, labelled in the order of ``classes``.

    ``kinds`` are the data kinds allowed (default: those that hold videos)."""
    from rvit.data.sources import build_dataset

    spec = DataSpec.parse(text, kinds if kinds is not None else _kinds("video"), option)
    if not _kind(spec.kind).needs_path:
        count = getattr(args, "eval_num_samples", None) or args.num_samples
        dataset = _synthetic(
            args, "test", "video", num_samples=count, image_size=image_size, classes=classes
        )
    else:
        # No augmentation: images are resized, video frames resized as they are decoded.
        settings = _folder_spec(args, spec, "test", option)
        frames = _fixed_frames(args, None) if "video" in _kind(spec.kind).holds else None
        settings.update(image_size=image_size, frames=frames)
        dataset = build_dataset(spec.kind, settings)
    if len(dataset) == 0:
        raise ValueError(f"{option} {text!r} holds no samples")
    return _match_classes(dataset, classes, option)


def _match_classes(dataset: Any, classes: list[str] | None, option: str) -> Any:
    """Relabel ``dataset`` into the order of ``classes``; unknown class names are an error."""
    names = list(getattr(dataset, "classes", []) or [])
    if classes is None or names == list(classes):
        return dataset
    from rvit.data import LabelSpace

    try:
        return LabelSpace(classes).apply(dataset)
    except ValueError as error:
        raise ValueError(
            f"{option}: the class names do not match the model's: {error} (on the command line: "
            "--class-map NAME|FILE joins classes named differently and drops the rest)"
        ) from None


#: Built-in class maps of ``--class-map``: Stanford 40 class names -> the video set's.
CLASS_MAPS = ("stanford40-ucf101", "stanford40-hmdb51")


def _class_map(value: str) -> Any:
    """``--class-map``: a built-in mapping by name, or the mapping in a YAML/JSON/CSV file."""
    from rvit.data import LabelSpace, mappings

    builtin = {"stanford40-ucf101": "STANFORD40_UCF101", "stanford40-hmdb51": "STANFORD40_HMDB51"}
    if value in builtin:
        return getattr(mappings, builtin[value])
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(
            f"--class-map '{value}' is neither a mapping file nor one of {', '.join(CLASS_MAPS)}"
        )
    return LabelSpace.load_mapping(path)


def _shared_classes(train_set: Any, val_set: Any, eval_set: Any, class_map: str) -> tuple:
    """Training, validation and test sets restricted to the classes ``--class-map`` joins."""
    from rvit.data import LabelSpace, restrict_to_shared

    try:
        train_view, eval_view = restrict_to_shared(train_set, eval_set, _class_map(class_map))
    except ValueError as error:
        raise ValueError(f"--class-map {class_map}: {error}") from None
    if val_set is not None:
        val_set = LabelSpace(train_view.classes).apply(val_set, on_missing="drop")
    return train_view, val_set, eval_view


def _model_classes(videos: Any, classes: list[str], class_map: str) -> Any:
    """``videos`` relabelled into the model's ``classes`` through ``--class-map``; video classes
    the map does not join to one of them are left out."""
    import types
    import warnings

    from rvit.data import LabelSpace

    model_side = types.SimpleNamespace(classes=list(classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a full map names many classes absent here
        try:
            joined = LabelSpace.from_sets(
                model_side, videos, _class_map(class_map), on_missing="drop"
            )
        except ValueError as error:
            raise ValueError(f"--class-map {class_map}: {error}") from None
    aliases = {alias: name for alias, name in joined.aliases.items() if name in classes}
    return LabelSpace(classes, aliases).apply(videos, on_missing="drop")


#: Config fields that ``--model-option`` may not set, and what sets them instead.
_SET_ELSEWHERE = {
    "num_classes": "the training data's classes",
    "image_size": "--image-size",
    "size": "--size",
}


def model_config(args: argparse.Namespace, num_classes: int) -> Any:
    """The ``RViTConfig`` of ``--preset``, ``--size``, ``--image-size`` and ``--model-option``.

    An option naming no config field (``depthx=2``), or a field another option sets, is a
    ``ValueError`` naming it and the fields there are; a bad value is refused by the config itself.
    ``cmd_train`` calls this before reading any data, so that a typo costs no time."""
    import difflib

    from rvit.config import RViTConfig

    overrides = dict(args.model_option or [])
    known = [name for name in RViTConfig.field_names() if name not in _SET_ELSEWHERE]
    for key in overrides:
        if key in _SET_ELSEWHERE:
            raise ValueError(f"--model-option {key}: set by {_SET_ELSEWHERE[key]}, not here")
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ValueError(
                f"--model-option {key}: no such model config field; {hint}known: {', '.join(known)}"
            )
    preset = getattr(RViTConfig, args.preset)
    sized = {} if args.size is None else {"size": args.size}  # None: the preset's own widths
    try:
        return preset(num_classes=num_classes, image_size=args.image_size, **sized, **overrides)
    except ValueError as error:
        raise ValueError(f"--model-option/--size/--image-size: {error}") from None


def build_model(args: argparse.Namespace, num_classes: int) -> Any:
    """The model of ``--model``, ``--preset``, ``--size``, ``--image-size`` and ``--model-option``."""
    from rvit.models import build_model as build

    return build(args.model, model_config(args, num_classes))


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


# ----------------------------------------------------------------------------------------------
# train


def _leakage_check(train_set: Any, eval_set: Any, modality: str) -> None:
    try:
        from rvit.data.leakage import audit_leakage
    except ImportError:
        return
    images = train_set
    if modality in ("video", "frames"):
        from rvit.data import VideoFrames

        images = VideoFrames(train_set, per_video=4)
    report = audit_leakage(images, eval_set)
    if report:
        table = report.table
        pairs = [f"{row.image} ~ {row.video}" for row in table.head(3).itertuples()]
        more = f" and {len(table) - 3} more" if len(table) > 3 else ""
        raise LeakageFound(
            f"{report.summary}: {'; '.join(pairs)}{more}; "
            "refusing to evaluate (pass --allow-leakage to go on anyway)"
        )


#: The lock file of a training's ``--out`` folder: the PID and host of the run that holds it.
LOCK_NAME = ".rvit-train.lock"


class OutLock:
    """``--out`` held by one ``rvit train`` at a time: ``OUT/.rvit-train.lock`` holds its PID.

    Two trainings into one folder would both resume the same ``last.pt``, overwrite each other's
    checkpoints and both report success; the second one refuses instead, naming the first one's
    PID. A lock left by a run that died (its PID no longer running on this host) is taken over.
    The lock is made with ``O_CREAT | O_EXCL``, so of two runs starting at once one wins.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self.mine = f"{os.getpid()} {_host()}\n"

    def __enter__(self) -> OutLock:
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None:
                    pid, host = holder
                    where = "" if host == _host() else f" on {host}"
                    raise ValueError(
                        f"--out '{self.path.parent}' is in use by another rvit train (PID {pid}"
                        f"{where}); wait for it to end or choose another --out (a lock left "
                        f"by a run that no longer runs is taken over: '{self.path}')"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its run has ended
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(self.mine)
            return self
        raise ValueError(f"--out '{self.path.parent}': cannot take the lock '{self.path}'")

    def _holder(self) -> tuple[int, str] | None:
        """``(pid, host)`` of a run that holds the lock, or None when the lock is stale."""
        try:
            pid_text, _, host = self.path.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            return None  # unreadable or half written: no run can be told
        if host and host != _host():
            return pid, host  # another machine's PID cannot be checked here
        return (pid, host) if _running(pid) else None

    def __exit__(self, *exc: object) -> None:
        try:
            if self.path.read_text() == self.mine:
                self.path.unlink()
        except OSError:
            pass


def _host() -> str:
    import socket

    return socket.gethostname()


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, under another user
    return True


def cmd_train(args: argparse.Namespace) -> int:
    """``rvit train``: see :func:`add_train_parser`."""
    from rvit.utils import check_writable

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out '{out}' exists and is not a folder")
    check_writable(out, "--out")  # before any work
    if not _is_main_process():  # under torchrun the main process holds the lock for all
        return _train(args, out)
    with OutLock(out):
        return _train(args, out)


def _train(args: argparse.Namespace, out: Path) -> int:
    """``rvit train`` in ``out``, which this run holds (:class:`OutLock`)."""
    from rvit.train import TrainConfig, fit, set_aside_run
    from rvit.utils import atomic_write_json, provenance, seed_everything

    if args.camera and args.modality != "pseudo_video":
        raise ValueError(f"--camera applies to --modality pseudo_video only, not {args.modality}")
    model_config(args, num_classes=2)  # a bad --model-option fails before the data are read
    frames = args.frames
    if args.modality in ("static_clip", "pseudo_video") and frames is None:
        frames = 8
    if isinstance(frames, tuple) or args.modality == "video" and args.data == "synthetic":
        frames = None  # synthetic videos are rendered at their lengths already
    config = TrainConfig(
        modality=args.modality,
        frames=frames,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        label_smoothing=args.label_smoothing,
        grad_clip=args.grad_clip if args.grad_clip > 0 else None,
        seed=args.seed,
        num_workers=args.num_workers,
        device=args.device,
        amp=args.amp,
        checkpoint_dir=str(out),
        checkpoint_every=args.checkpoint_every,
        variable_length=args.variable_length,
        progress=args.progress and _is_main_process(),
        max_steps=args.max_steps,
        camera=dict(args.camera) if args.camera else None,
        compile=args.compile,
        restart=args.restart,
    )
    if args.class_map and not args.eval_videos:
        raise ValueError("--class-map joins the training classes with --eval-videos; give both")
    train_set, val_set = build_train_sets(args)
    eval_set = None
    if args.class_map:
        eval_set = build_eval_set(args.eval_videos, args, args.image_size, None, "--eval-videos")
        train_set, val_set, eval_set = _shared_classes(train_set, val_set, eval_set, args.class_map)
        print(f"--class-map {args.class_map}: {len(train_set.classes)} shared classes")
    classes = [str(c) for c in train_set.classes]
    if args.eval_videos:
        if eval_set is None:
            eval_set = build_eval_set(
                args.eval_videos, args, args.image_size, classes, "--eval-videos"
            )
        # Synthetic splits never share a sample (each split has its own random key), while their
        # plain renderings look alike to a perceptual hash: the audit is for real data.
        synthetic_pair = args.data == "synthetic" and args.eval_videos == "synthetic"
        if not args.allow_leakage and not synthetic_pair:
            _leakage_check(train_set, eval_set, args.modality)
    _report_bad_files([train_set, val_set, eval_set], out / "skipped_files.tsv")
    seed_everything(args.seed)  # the model's initial weights follow the seed
    model = build_model(args, len(classes))
    if args.restart and _is_main_process():  # once the data and model are known to build
        aside = set_aside_run(out)
        if aside is not None:
            print(f"--restart: moved the previous run's files to {aside}")
    history = fit(model, train_set, val_set, config, classes=classes)
    if not _is_main_process():
        return 0

    metrics: dict[str, Any] = {
        "data": args.data,
        "model_class": type(history.model).__name__,
        "model_config": history.model.cfg.to_dict(),
        "parameters": history.model.num_parameters(),
        "train_config": config.to_dict(),
        "classes": classes,
        "history": history.records,
        "best": history.best,
    }
    print(history.to_frame().to_string(index=False))
    if eval_set is not None:
        from rvit.evaluate import evaluate_videos

        result = evaluate_videos(
            history.model,
            eval_set,
            batch_size=args.eval_batch_size,
            device=args.device,
            progress=args.progress,
            compile=args.compile,
            on_bad_file=args.on_bad_file,
        )
        if result.skipped:
            undecodable = _Undecodable(result.skipped)
            _report_bad_files(
                [train_set, val_set, eval_set, undecodable], out / "skipped_files.tsv"
            )
        metrics["eval"] = {"videos": args.eval_videos, **result.to_dict()}
        _print_summary(result)
    metrics["provenance"] = provenance()
    atomic_write_json(out / "metrics.json", metrics)
    print(
        f"wrote {out / 'last.pt'}, {out / 'best.pt'}, {out / 'history.csv'}, {out / 'metrics.json'}"
    )
    return 0


def _add_bad_file_option(group: Any) -> None:
    from rvit.data.images import ON_BAD_FILE

    group.add_argument(
        "--on-bad-file",
        choices=ON_BAD_FILE,
        default="error",
        help="unreadable images or videos: 'error' reads every file first and lists all the bad "
        "ones; 'skip' leaves them out and writes their list beside the outputs "
        "(hidden files, such as ._name AppleDouble files, are never read)",
    )


@dataclass
class _Undecodable:
    """The videos an evaluation left out because they failed to decode after their header
    (``VideoEvalResult.skipped``), reported as a data set's ``bad_files`` are."""

    skipped: list[list[str]]

    @property
    def bad_files(self) -> list[tuple[str, str]]:
        return [(path, reason) for path, reason in self.skipped]


def _report_bad_files(datasets: Sequence[Any], listing: Path | None) -> None:
    """Print how many files were skipped (``--on-bad-file skip``); write their list. Name the
    classes that were dropped because none of their files could be read."""
    for dataset in datasets:
        dropped = getattr(dataset, "dropped_classes", None) or []
        if dropped:
            where = getattr(dataset, "root", None) or type(dataset).__name__
            print(
                f"dropped {len(dropped)} class(es) of '{where}' left with no readable file: "
                f"{', '.join(dropped)}",
                file=sys.stderr,
            )
    bad = [entry for dataset in datasets for entry in (getattr(dataset, "bad_files", None) or [])]
    if not bad:
        return
    from rvit.utils import atomic_write_text

    lines = "".join(f"{path}\t{reason}\n" for path, reason in dict(bad).items())
    if listing is None:
        print(f"skipped {len(bad)} unreadable file(s):\n{lines}", end="", file=sys.stderr)
        return
    atomic_write_text(listing, lines)
    print(f"skipped {len(bad)} unreadable file(s), listed in {listing}", file=sys.stderr)


def _print_summary(result: Any) -> None:
    frame = result.summary_frame()
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train``. Choices and defaults come from ``TrainConfig``, ``rvit.config`` and the
    data tables, so that the command line and the Python API cannot drift apart."""
    from rvit.config import OPTIONS, RViTConfig
    from rvit.config import PRESETS as MODEL_PRESETS
    from rvit.data.augment import CAMERA_RANGES, PRESETS
    from rvit.data.clips import MODALITIES
    from rvit.models import MODELS
    from rvit.train import TrainConfig

    train, model_defaults = _defaults(TrainConfig), _defaults(RViTConfig)
    parser = subparsers.add_parser(
        "train",
        help="train a model on images, pseudo-videos, frames or videos",
        description="Train RViT (or a baseline) and write OUT/last.pt, OUT/best.pt, "
        "OUT/history.csv and OUT/metrics.json; resume when OUT/last.pt exists (--restart: train "
        "afresh).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        default="synthetic",
        help=f"training data: {' | '.join(_spec_forms(_kinds()))} (their train lists; with "
        "--splits-dir)",
    )
    data.add_argument("--val-data", default=None, help="validation set spec (synthetic: automatic)")
    _add_bad_file_option(data)
    data.add_argument(
        "--modality",
        default=TRAIN_MODALITY,
        choices=MODALITIES,
        help="how samples reach the model (see rvit.data.clips.as_training_set)",
    )
    data.add_argument(
        "--frames",
        type=_frames_arg,
        default=train["frames"],
        help="clip length T (MIN-MAX for synthetic videos of varying length); default 8 for "
        "static_clip, pseudo_video and synthetic videos, 16 for videofolder, all frames for "
        "evaluation videos",
    )
    data.add_argument(
        "--camera",
        type=_camera_arg,
        nargs="+",
        default=train["camera"],
        metavar="NAME=VALUE",
        help="pseudo_video: limits of the random camera move, e.g. max_shift=0.1 max_rotation=5 "
        "(max_zoom, max_shift as a fraction of the frame, max_rotation in degrees; the rest from "
        "rvit.data.CAMERA_LIMITS; allowed: "
        + ", ".join(f"{k} {low:g}-{high:g}" for k, (low, high) in CAMERA_RANGES.items())
        + ")",
    )
    data.add_argument(
        "--image-size", type=int, default=model_defaults["image_size"], help="frame side in pixels"
    )
    data.add_argument("--num-samples", type=int, default=1200, help="synthetic: training samples")
    data.add_argument("--eval-num-samples", type=int, default=None, help="synthetic: test videos")
    data.add_argument("--data-seed", type=int, default=0, help="synthetic: the world's seed")
    data.add_argument("--domain-gap", type=float, default=0.0, help="synthetic: video degradation")
    data.add_argument("--difficulty", type=float, default=0.5, help="synthetic: nuisances, 0-1")
    data.add_argument("--augment", default="basic", choices=PRESETS, help="augmentation")
    data.add_argument(
        "--variable-length",
        action=argparse.BooleanOptionalAction,
        default=train["variable_length"],
        help="batch videos of different lengths padded with their lengths",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="rvit", choices=tuple(MODELS), help="RViT or a baseline")
    model.add_argument(
        "--preset",
        default="paper",
        choices=MODEL_PRESETS,
        help="paper: the paper's design; variant: the proposal's; reconstruction: this book's gated "
        "block; official: the authors' released model (use --image-size 112 for its size) "
        "(rvit.config.RViTConfig)",
    )
    model.add_argument(
        "--size",
        default=None,
        choices=OPTIONS["size"],
        help="named model size (rvit.config.SIZES; default: the preset's own, tiny for all but "
        "official, which keeps the released widths)",
    )
    model.add_argument(
        "--model-option",
        type=_option_arg,
        action="append",
        metavar="KEY=VALUE",
        help="override a config field, e.g. depth=2 (repeatable)",
    )
    opt = parser.add_argument_group("optimisation")
    for name, kind, text in (
        ("epochs", int, "passes over the training set"),
        ("batch_size", int, "per process under torchrun"),
        ("lr", float, "peak learning rate"),
        ("weight_decay", float, "AdamW weight decay"),
        ("warmup_epochs", float, "linear warm-up, then cosine decay"),
        ("label_smoothing", float, "of the cross-entropy loss"),
        ("grad_clip", float, "max gradient norm (0: off)"),
        ("seed", int, "seed of weights, order and augmentation"),
        ("max_steps", int, "stop after this many steps"),
    ):
        flag = "--" + name.replace("_", "-")
        opt.add_argument(flag, type=kind, default=train[name], help=text)
    run = parser.add_argument_group("run")
    run.add_argument(
        "--out",
        required=True,
        help="output folder (resumes from OUT/last.pt, and refuses to when it is another run's: "
        f"see --restart; one training at a time, locked by OUT/{LOCK_NAME})",
    )
    run.add_argument(
        "--restart",
        action="store_true",
        default=train["restart"],
        help="train afresh: first move the files of the run in OUT (last.pt, best.pt, history.csv, "
        "metrics.json) into OUT/replaced-N, instead of resuming it",
    )
    run.add_argument(
        "--checkpoint-every",
        type=int,
        default=train["checkpoint_every"],
        help="epochs between last.pt",
    )
    run.add_argument("--device", default=train["device"], help="auto | cpu | cuda | cuda:N")
    run.add_argument(
        "--num-workers", type=int, default=train["num_workers"], help="DataLoader worker processes"
    )
    for name, text in (("amp", "mixed precision (CUDA)"), ("progress", "progress bar")):
        run.add_argument(
            f"--{name}", action=argparse.BooleanOptionalAction, default=train[name], help=text
        )
    run.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=train["compile"],
        help="torch.compile the training step and the evaluation's streaming step (a compile "
        "on the first step, then faster steps; see rvit.compile)",
    )
    ev = parser.add_argument_group("evaluation after training")
    ev.add_argument(
        "--eval-videos",
        default=None,
        help=f"test videos: {' | '.join(_spec_forms(_kinds('video')))}",
    )
    ev.add_argument(
        "--splits-dir",
        default=None,
        help="ucf101/hmdb51 (in --data or --eval-videos): folder of split files",
    )
    ev.add_argument("--fold", type=int, default=1, choices=(1, 2, 3), help="ucf101/hmdb51 split")
    ev.add_argument("--eval-batch-size", type=int, default=16, help="videos streamed at once")
    ev.add_argument(
        "--class-map",
        default=None,
        metavar="NAME|FILE",
        help="join training and test classes whose names differ, and keep only the classes both "
        f"have: {' | '.join(CLASS_MAPS)} (built in) or a YAML/JSON/CSV file of name pairs",
    )
    ev.add_argument(
        "--allow-leakage",
        action="store_true",
        help="evaluate even when training images come from the test videos",
    )
    parser.set_defaults(func=cmd_train)
    return parser


# ----------------------------------------------------------------------------------------------
# evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``rvit evaluate``: see :func:`add_evaluate_parser`."""
    from rvit.checkpoint import load_model
    from rvit.evaluate import evaluate_videos
    from rvit.utils import atomic_write_json, check_writable, provenance

    if args.json:
        check_writable(Path(args.json).parent, "--json folder")  # before any work
    model = load_model(args.checkpoint)
    classes = getattr(model, "classes", None)
    image_size = model.cfg.image_size
    if args.class_map and classes is None:
        raise ValueError(
            f"--class-map needs class names in the checkpoint; {args.checkpoint} has none"
        )
    if args.class_map:
        videos = build_eval_set(args.videos, args, image_size, None, "--videos")
        videos = _model_classes(videos, classes, args.class_map)
    else:
        videos = build_eval_set(args.videos, args, image_size, classes, "--videos")
    if classes is None and len(videos.classes) != model.cfg.num_classes:
        raise ValueError(
            f"--videos has {len(videos.classes)} classes, the checkpoint's model "
            f"{model.cfg.num_classes}"
        )
    listing = Path(args.json).with_suffix(".skipped.tsv") if args.json else None
    _report_bad_files([videos], listing)
    result = evaluate_videos(
        model,
        videos,
        batch_size=args.batch_size,
        device=args.device,
        progress=args.progress,
        max_videos=args.max_videos,
        num_workers=args.num_workers,
        compile=args.compile,
        on_bad_file=args.on_bad_file,
    )
    if result.skipped:
        _report_bad_files([videos, _Undecodable(result.skipped)], listing)
    _print_summary(result)
    if args.json:
        from rvit.measure import process_peak_bytes

        record = {
            "checkpoint": str(args.checkpoint),
            "videos": args.videos,
            **result.to_dict(),
            # the whole command's peak (loading the model, screening and reading the videos);
            # the evaluation loop's own growth over what was in use when it began is kept beside it
            "peak_memory_mb": process_peak_bytes() / 2**20,
            "peak_memory_method": "resident-set high-water mark of the process since it started",
            "eval_peak_growth_mb": result.peak_memory_mb,
            "provenance": provenance(),
        }
        atomic_write_json(args.json, record)
        print(f"wrote {args.json}")
    return 0


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``evaluate``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a checkpoint on videos, frame by frame",
        description="Stream test videos frame by frame through a trained model; print a summary "
        "and optionally write every metric as JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help="a checkpoint file (last.pt, best.pt)")
    parser.add_argument(
        "--videos",
        default="synthetic",
        help=f"test videos: {' | '.join(_spec_forms(_kinds('video')))}",
    )
    parser.add_argument("--splits-dir", default=None, help="ucf101/hmdb51: folder of split files")
    parser.add_argument("--fold", type=int, default=1, choices=(1, 2, 3), help="official split")
    parser.add_argument(
        "--frames", type=_frames_arg, default=None, help="frames per video (default: all)"
    )
    _add_bad_file_option(parser)
    parser.add_argument(
        "--class-map",
        default=None,
        metavar="NAME|FILE",
        help="map the videos' class names onto the model's (the map used in training): "
        f"{' | '.join(CLASS_MAPS)} or a YAML/JSON/CSV file; other video classes are left out",
    )
    parser.add_argument("--json", default=None, help="write all metrics to this JSON file")
    parser.add_argument("--batch-size", type=int, default=16, help="videos streamed at once")
    parser.add_argument("--max-videos", type=int, default=None, help="evaluate only the first N")
    parser.add_argument("--num-workers", type=int, default=0, help="video decoding processes")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar"
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="torch.compile the streaming step (a compile on the first frames, then faster "
        "steps; see rvit.compile)",
    )
    syn = parser.add_argument_group("synthetic videos")
    syn.add_argument("--num-samples", type=int, default=300, help="number of test videos")
    syn.add_argument("--eval-num-samples", type=int, default=None, help=argparse.SUPPRESS)
    syn.add_argument("--data-seed", type=int, default=0, help="the world's seed")
    syn.add_argument("--domain-gap", type=float, default=0.0, help="video degradation, 0-1")
    syn.add_argument("--difficulty", type=float, default=0.5, help="nuisances, 0-1")
    parser.set_defaults(func=cmd_evaluate)
    return parser


# ----------------------------------------------------------------------------------------------
# the parser and the entry point


def add_subcommands(subparsers: Any) -> None:
    """Register this module's subcommands (``train``, ``evaluate``)."""
    add_train_parser(subparsers)
    add_evaluate_parser(subparsers)


def _add_external(subparsers: Any, name: str, target: str) -> None:
    module, _, function = target.partition(":")
    try:
        register: Callable[[Any], Any] = getattr(import_module(module), function)
    except (ImportError, AttributeError) as error:
        reason = f"{name} is not available: {error}"
        parser = subparsers.add_parser(name, help=f"(unavailable: {error})")

        def unavailable(args: argparse.Namespace) -> int:
            raise ValueError(reason)

        parser.set_defaults(func=unavailable)
        return
    register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """The ``rvit`` parser with every subcommand."""
    from rvit import __version__

    parser = argparse.ArgumentParser(
        prog="rvit",
        description="Recurrent Vision Transformer: train on images or videos, test on videos "
        "frame by frame.",
    )
    parser.add_argument("--version", action="version", version=f"rvit {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_subcommands(subparsers)
    for name, target in EXTERNAL_SUBCOMMANDS.items():
        _add_external(subparsers, name, target)
    return parser


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 user error, 2 leakage/usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = os.environ.get("RVIT_TRACEBACK") == "1"
    try:
        return int(args.func(args) or 0)
    except LeakageFound as error:
        print(f"rvit {args.command}: {_one_line(error)}", file=sys.stderr)
        return 2
    except (ValueError, OSError, FloatingPointError) as error:
        if debug:
            raise
        print(f"rvit {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rvit {args.command}: interrupted", file=sys.stderr)
        return 130
