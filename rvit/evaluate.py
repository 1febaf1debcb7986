"""Evaluation: stream each test video frame by frame and record the prediction after every frame.

:func:`evaluate_videos` runs a batch of videos at once through ``model.init_state`` and
``model.step``, honours each video's own length (the padded frames after a video ends are run but
never counted), and returns a :class:`VideoEvalResult`: top-1 / top-5 accuracy on the prediction
after the last frame, per-class and per-group accuracy (appearance vs motion classes), the confusion
matrix, the online recognition curve (accuracy of the prediction after frame t), the time per frame
and the peak memory. Every part converts to a ``pandas.DataFrame``; the whole result to JSON.

Evaluation is deterministic: a data set whose transform contains a random augmentation is refused
(``rvit.data.augment.check_deterministic``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from rvit.data.augment import check_deterministic
from rvit.data.clips import StillClips, item_kind
from rvit.data.collate import pad_videos
from rvit.data.images import ON_BAD_FILE, BadFilesError
from rvit.measure import PeakMemory, Stopwatch
from rvit.utils import atomic_write_json, resolve_device

__all__ = [
    "VideoEvalResult",
    "evaluate_images",
    "evaluate_videos",
]

# ----------------------------------------------------------------------------------------------
# result


@dataclass
class VideoEvalResult:
    """What :func:`evaluate_videos` measured. Lists are per video unless stated.

    ``frame_predictions[i]`` holds the predicted class after each of the ``lengths[i]`` frames of
    video ``i``; ``predictions[i]`` is the last of them. ``online`` is the recognition curve: for
    t = 1..max length, the accuracy of the prediction after frame t over the videos that have at
    least t frames. ``frame_logits`` (only with ``keep_logits=True``) is not serialised.
    ``skipped`` lists ``[path, reason]`` of the videos that failed to decode part-way and were left
    out (``on_bad_file="skip"``); the lists above hold the other videos only.
    """

    classes: list[str]
    targets: list[int]
    predictions: list[int]
    lengths: list[int]
    frame_predictions: list[list[int]]
    top1: float
    top5: float
    top5_k: int
    online: list[dict[str, float]]
    groups: list[str] | None = None
    step_latency_ms: float = math.nan
    ms_per_frame: float = math.nan
    frames_per_s: float = math.nan
    peak_memory_mb: float | None = None
    python_peak_mb: float | None = None
    memory_method: str = ""
    device: str = "cpu"
    batch_size: int = 1
    skipped: list[list[str]] = field(default_factory=list)
    frame_logits: list[torch.Tensor] | None = field(default=None, repr=False)

    # -- derived ------------------------------------------------------------------------------

    @property
    def num_videos(self) -> int:
        return len(self.targets)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def confusion(self) -> np.ndarray:
        """``(K, K)`` counts: row = true class, column = predicted class (final prediction)."""
        matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        np.add.at(matrix, (np.asarray(self.targets), np.asarray(self.predictions)), 1)
        return matrix

    @property
    def per_class_accuracy(self) -> list[float | None]:
        """Top-1 accuracy of each class (``None`` for a class without test videos)."""
        matrix = self.confusion
        totals = matrix.sum(axis=1)
        return [float(matrix[k, k] / totals[k]) if totals[k] else None for k in range(len(totals))]

    @property
    def group_accuracy(self) -> dict[str, float]:
        """Top-1 accuracy over the videos of each class group (``{}`` without groups)."""
        if not self.groups:
            return {}
        targets = np.asarray(self.targets)
        correct = targets == np.asarray(self.predictions)
        video_groups = np.asarray(self.groups, dtype=object)[targets]
        return {
            group: float(correct[video_groups == group].mean())
            for group in dict.fromkeys(self.groups)
            if (video_groups == group).any()
        }

    # -- tables -------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """One row of headline numbers (``pandas.DataFrame([result.summary()])``)."""
        row: dict[str, Any] = {
            "videos": self.num_videos,
            "classes": self.num_classes,
            "top1": self.top1,
            f"top{self.top5_k}": self.top5,
            "mean_frames": float(np.mean(self.lengths)) if self.lengths else math.nan,
        }
        for group, accuracy in self.group_accuracy.items():
            row[f"top1_{group}"] = accuracy
        row.update(
            step_latency_ms=self.step_latency_ms,
            ms_per_frame=self.ms_per_frame,
            frames_per_s=self.frames_per_s,
            peak_memory_mb=self.peak_memory_mb,
            batch_size=self.batch_size,
            device=self.device,
        )
        return row

    def summary_frame(self) -> Any:
        """:meth:`summary` as a one-row ``pandas.DataFrame``."""
        import pandas as pd

        return pd.DataFrame([self.summary()])

    def per_class_frame(self) -> Any:
        """One row per class: class, group, videos, accuracy."""
        import pandas as pd

        counts = self.confusion.sum(axis=1)
        return pd.DataFrame(
            {
                "class": self.classes,
                "group": self.groups if self.groups else [None] * self.num_classes,
                "videos": counts,
                "accuracy": self.per_class_accuracy,
            }
        )

    def online_frame(self) -> Any:
        """The online recognition curve: frames_seen, accuracy, videos (still running at t)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.online, columns=["frames_seen", "accuracy", "videos"])

    def confusion_frame(self) -> Any:
        """The confusion matrix with class names as index (true) and columns (predicted)."""
        import pandas as pd

        frame = pd.DataFrame(self.confusion, index=self.classes, columns=self.classes)
        frame.index.name, frame.columns.name = "true", "predicted"
        return frame

    # -- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field except ``frame_logits``, plus the derived tables (JSON-ready)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "frame_logits"}
        data["summary"] = self.summary()
        data["per_class_accuracy"] = self.per_class_accuracy
        data["group_accuracy"] = self.group_accuracy
        data["confusion"] = self.confusion.tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoEvalResult:
        """Inverse of :meth:`to_dict` (derived entries are recomputed, not read)."""
        names = {f.name for f in fields(cls)} - {"frame_logits"}
        return cls(**{key: value for key, value in data.items() if key in names})

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        return atomic_write_json(path, self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VideoEvalResult):
            return NotImplemented
        mine, theirs = asdict(self), asdict(other)
        mine.pop("frame_logits"), theirs.pop("frame_logits")
        return mine == theirs


# ----------------------------------------------------------------------------------------------
# the streaming loop


def _class_names(dataset: Dataset, num_classes: int | None) -> list[str]:
    classes = getattr(dataset, "classes", None)
    if classes is not None:
        return [str(name) for name in classes]
    if num_classes is None:
        raise ValueError(
            "the evaluation set has no 'classes' attribute and the model no cfg.num_classes; "
            "cannot tell the number of classes"
        )
    return [str(k) for k in range(num_classes)]


def _class_groups(dataset: Dataset, classes: list[str]) -> list[str] | None:
    """The group of each class: from ``class_groups`` (by name) or an aligned ``groups`` list."""
    by_name = getattr(dataset, "class_groups", None)
    if isinstance(by_name, dict) and all(c in by_name for c in classes):
        return [str(by_name[c]) for c in classes]
    groups = getattr(dataset, "groups", None)
    if groups is not None and len(groups) == len(classes):
        return [str(g) for g in groups]
    return None


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def evaluate_videos(
    model: nn.Module,
    video_set: Dataset,
    batch_size: int = 16,
    device: str | torch.device = "auto",
    progress: bool = True,
    max_videos: int | None = None,
    num_workers: int = 0,
    keep_logits: bool = False,
    trace_memory: bool = True,
    stream: bool | None = None,
    compile: bool = False,
    on_bad_file: str | None = None,
) -> VideoEvalResult:
    """Stream ``video_set`` through ``model`` frame by frame; score the prediction after each frame.

    Args:
        model: has ``init_state(B, num_frames=T)`` and ``step(frame (B, C, H, W), state)
            -> (logits (B, K), state)``.
        video_set: items ``(video (T, C, H, W), label)``; lengths may differ. It must not apply
            random augmentation (``ValueError`` otherwise).
        batch_size: videos streamed side by side (padded to the longest; padding is not scored).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:0"``, ...
        progress: show a progress bar over videos.
        max_videos: evaluate only the first ``max_videos`` videos.
        num_workers: ``DataLoader`` workers that decode videos.
        keep_logits: also keep each video's per-frame logits ``(T_i, K)`` in ``frame_logits``.
        trace_memory: on the CPU, trace Python allocations with ``tracemalloc`` (slows Python code
            a little; the step time is measured all the same).
        stream: read each video frame by frame from its file as the model steps through it
            (``video_set.stream(i)``, e.g. :class:`rvit.data.VideoList` with ``frames=None``), so
            memory holds ``batch_size`` frames whatever the videos' lengths; otherwise whole
            clips are loaded and padded. None (default) streams when the set reads every frame
            of its videos without a ``transform``. Both ways give the same predictions when a
            video's header states its true frame count (streaming takes the count from the
            header, the position table needs it before the first frame).
        compile: step through ``torch.compile`` (:func:`rvit.compile.compile_step`): the same
            predictions up to float rounding; the first steps of each batch size pay the compile
            (counted in the step time), later ones are faster.
        on_bad_file: what a video that fails to decode part-way does (a screen of the headers,
            as :class:`rvit.data.VideoFolder` makes, cannot see damage after them): ``"error"``
            or None raises one :class:`rvit.data.images.BadFilesError` naming the file;
            ``"skip"`` leaves it out of every score and lists it in ``skipped``, and the other
            videos are evaluated as they would be without it.

    Top-5 uses k = min(5, K). Latency: ``step_latency_ms`` is the mean wall time of one
    ``model.step`` call (one frame of ``batch_size`` videos); ``ms_per_frame`` is the step time per
    scored frame (``1000 / frames_per_s``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_videos is not None and max_videos < 1:
        raise ValueError(f"max_videos must be >= 1 or None, got {max_videos}")
    if not hasattr(model, "step") or not hasattr(model, "init_state"):
        raise ValueError(
            f"model {type(model).__name__} has no init_state/step methods; "
            "evaluate_videos streams videos frame by frame"
        )
    if on_bad_file is not None and on_bad_file not in ON_BAD_FILE:
        raise ValueError(f"on_bad_file must be one of {ON_BAD_FILE} or None, got {on_bad_file!r}")
    skip_bad = on_bad_file == "skip"
    check_deterministic(video_set)
    if item_kind(video_set) != "video":
        raise ValueError(
            f"evaluate_videos needs videos (T, C, H, W), but {type(video_set).__name__} gives "
            "still images; use evaluate_images"
        )
    cfg = getattr(model, "cfg", None)
    classes = _class_names(video_set, getattr(cfg, "num_classes", None))
    num_classes = len(classes)
    top_k = min(5, num_classes)
    groups = _class_groups(video_set, classes)

    count = len(video_set) if max_videos is None else min(max_videos, len(video_set))
    if stream is None:
        stream = _can_stream(video_set)
    elif stream and not hasattr(video_set, "stream"):
        raise ValueError(
            f"stream=True needs a video set with a stream(index) method; "
            f"{type(video_set).__name__} has none"
        )
    if stream:
        batches = _streamed_batches(video_set, count, batch_size)
    else:
        subset = video_set if count == len(video_set) else Subset(video_set, range(count))
        batches = _loaded_batches(
            DataLoader(
                _Guarded(subset),
                batch_size=batch_size,
                shuffle=False,
                collate_fn=_guarded_collate,
                num_workers=num_workers,
            )
        )
    device = resolve_device(device)
    model = model.to(device)
    if compile:
        from rvit.compile import compile_step

        step = compile_step(model)
    else:
        step = model.step

    targets: list[int] = []
    predictions: list[int] = []
    lengths_all: list[int] = []
    frame_predictions: list[list[int]] = []
    frame_logits: list[torch.Tensor] | None = [] if keep_logits else None
    skipped: list[list[str]] = []
    top5_hits = 0

    def failed(index: int, reason: str) -> None:
        """A video that failed to decode: raise (``"error"``) or note it (``"skip"``)."""
        path = _video_path(video_set, index)
        if not skip_bad:
            root = getattr(video_set, "root", None)
            where = f"{type(video_set).__name__} '{root}'" if root else type(video_set).__name__
            raise BadFilesError(where, [(path, reason)])
        skipped.append([path, reason])

    clock = Stopwatch(device)  # the model's steps only

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=count, desc="evaluate", unit="video", dynamic_ncols=True)
    # On the CPU the process's peak resident set over the set at entry (torch's tensors included),
    # with trace_memory also tracemalloc's peak of Python allocations; on CUDA the allocator's peak.
    memory = PeakMemory(device, trace_python=trace_memory, strict=False)
    with _eval_mode(model), torch.inference_mode(), memory:
        for frame_steps, lengths, labels, indices, errors in batches:
            for index, reason in errors:  # whole videos that could not be loaded
                failed(index, reason)
            if bar is not None and errors:
                bar.update(len(errors))
            batch = len(labels)
            if batch == 0:
                continue
            frames = int(lengths.max())
            # Every video's own length, so a model may freeze a video that has ended.
            equal = bool((lengths == frames).all())
            # Compiled, lengths stay a tensor: an int would be compiled into the graph, one
            # compile per video length.
            known = frames if equal and not compile else lengths.to(device)
            state = model.init_state(batch, num_frames=known)
            logits = torch.zeros(batch, frames, num_classes)  # (B, T, K), filled step by step
            for t, frame in enumerate(frame_steps):  # (B, C, H, W) per time step
                frame = frame.to(device)
                with clock:
                    logits_t, state = step(frame, state)  # (B, K)
                logits[:, t] = logits_t.float().cpu()
            lengths = frame_steps.lengths if hasattr(frame_steps, "lengths") else lengths
            broken = getattr(frame_steps, "failed", {})  # videos whose decoding failed part-way
            for i in range(batch):
                if i in broken:
                    failed(indices[i], broken[i])
                    continue
                length = int(lengths[i])
                video_logits = logits[i, :length]  # (T_i, K)
                label = int(labels[i])
                frame_predictions.append(video_logits.argmax(dim=-1).tolist())
                predictions.append(frame_predictions[-1][-1])
                top5_hits += int(label in video_logits[-1].topk(top_k).indices.tolist())
                targets.append(label)
                lengths_all.append(length)
                if frame_logits is not None:
                    frame_logits.append(video_logits.clone())
            if bar is not None:
                bar.update(batch)
                bar.set_postfix(
                    top1=f"{np.mean(np.equal(predictions, targets)):.3f}", refresh=False
                )
    if bar is not None:
        bar.close()

    scored_frames = sum(lengths_all)
    step_seconds, steps = clock.seconds, clock.count
    mib = 2**20
    return VideoEvalResult(
        classes=classes,
        targets=targets,
        predictions=predictions,
        lengths=lengths_all,
        frame_predictions=frame_predictions,
        top1=float(np.mean(np.equal(predictions, targets))) if targets else math.nan,
        top5=top5_hits / len(targets) if targets else math.nan,
        top5_k=top_k,
        online=_online_curve(frame_predictions, targets),
        groups=groups,
        step_latency_ms=1000 * step_seconds / steps if steps else math.nan,
        ms_per_frame=1000 * step_seconds / scored_frames if scored_frames else math.nan,
        frames_per_s=scored_frames / step_seconds if step_seconds > 0 else math.nan,
        peak_memory_mb=memory.growth / mib if memory.available else None,
        python_peak_mb=memory.python_peak / mib if memory.python_peak is not None else None,
        memory_method=memory.method
        + ("; Python: tracemalloc" if memory.python_peak is not None else ""),
        device=str(device),
        batch_size=batch_size,
        skipped=skipped,
        frame_logits=frame_logits,
    )


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _video_path(video_set: Dataset, index: int) -> str:
    """The file of video ``index`` (from ``samples``), or ``"video <index>"`` for a set without."""
    samples = getattr(video_set, "samples", None)
    try:
        return str(samples[index][0])
    except (TypeError, IndexError, KeyError):
        return f"video {index}"


class _Guarded(Dataset):
    """``dataset`` whose items come as ``(index, item, None)``, or ``(index, None, reason)`` when
    the item cannot be read (a video damaged after its header), so that one bad video does not
    end a whole batch, and the reason reaches the main process as one line, not as a worker's
    traceback."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, Any, str | None]:
        try:
            return index, self.dataset[index], None
        except (ValueError, OSError) as error:
            return index, None, _one_line(error)


def _guarded_collate(items: list[tuple[int, Any, str | None]]) -> tuple:
    """``(videos, lengths, labels, indices, errors)`` of the readable items of a batch (padded by
    :func:`rvit.data.pad_videos`) and ``(index, reason)`` of the others."""
    good = [(index, item) for index, item, _ in items if item is not None]
    errors = [(index, reason) for index, item, reason in items if item is None]
    if not good:
        empty = torch.zeros(0, dtype=torch.long)
        return None, empty, empty, [], errors
    videos, lengths, labels = pad_videos([item for _, item in good])
    return videos, lengths, labels, [index for index, _ in good], errors


def _can_stream(video_set: Dataset) -> bool:
    """True when ``video_set`` can hand over its videos frame by frame, every frame untransformed."""
    if not callable(getattr(video_set, "stream", None)):
        return False
    every_frame = getattr(video_set, "frames", None) is None or (
        getattr(video_set, "sampling", None) == "all"
    )
    return every_frame and getattr(video_set, "transform", None) is None


def _loaded_batches(
    loader: DataLoader,
) -> Iterator[tuple[Any, torch.Tensor, torch.Tensor, list, list]]:
    """Padded whole-clip batches as ``(frames per step, lengths, labels, indices, errors)``."""
    for videos, lengths, labels, indices, errors in loader:
        yield (videos.unbind(1) if videos is not None else ()), lengths, labels, indices, errors


class _FrameSteps:
    """The frames of ``batch`` videos read side by side, one ``(B, C, H, W)`` batch per step.

    A video that has ended (or whose decoding ends before its header said) is filled with zeros,
    which are not scored: ``lengths`` holds the frames each video really gave. A video whose
    decoding fails part-way is ended the same way and its reason kept in ``failed`` (batch position
    -> reason), so that the other videos of the batch go on.
    """

    def __init__(self, streams: list[Iterator[torch.Tensor]], lengths: torch.Tensor) -> None:
        self.streams = streams
        self.lengths = lengths.clone()
        self.failed: dict[int, str] = {}

    def __iter__(self) -> Iterator[torch.Tensor]:
        expected = self.lengths.clone()
        alive = [True] * len(self.streams)
        for t in range(int(expected.max())):
            frames: list[torch.Tensor | None] = []
            for b, frames_b in enumerate(self.streams):
                try:
                    frame = next(frames_b, None) if alive[b] and t < expected[b] else None
                except (ValueError, OSError) as error:
                    frame, alive[b], self.lengths[b] = None, False, t
                    self.failed[b] = _one_line(error)
                if frame is None and alive[b]:
                    alive[b] = False
                    self.lengths[b] = min(int(expected[b]), t)
                frames.append(frame)
            present = [f for f in frames if f is not None]
            if not present:
                break
            blank = torch.zeros_like(present[0])
            yield torch.stack([blank if f is None else f for f in frames])
        for frames_b in self.streams:
            close = getattr(frames_b, "close", None)
            if close is not None:
                close()


def _streamed_batches(
    video_set: Dataset, count: int, batch_size: int
) -> Iterator[tuple[_FrameSteps, torch.Tensor, torch.Tensor]]:
    """Batches of videos read frame by frame through ``video_set.stream(i)``."""
    targets = list(video_set.targets)
    all_lengths = list(video_set.lengths)  # from the headers: no frame decoded
    for start in range(0, count, batch_size):
        index = list(range(start, min(start + batch_size, count)))
        lengths = torch.tensor([int(all_lengths[i]) for i in index], dtype=torch.long)
        labels = torch.tensor([int(targets[i]) for i in index], dtype=torch.long)
        steps = _FrameSteps([iter(video_set.stream(i)) for i in index], lengths)
        yield steps, lengths, labels, index, []


def _online_curve(frame_predictions: list[list[int]], targets: list[int]) -> list[dict[str, float]]:
    """Accuracy of the prediction after frame t, over the videos with at least t frames."""
    longest = max((len(p) for p in frame_predictions), default=0)
    curve = []
    for t in range(longest):
        hits = [p[t] == y for p, y in zip(frame_predictions, targets, strict=True) if len(p) > t]
        curve.append({"frames_seen": t + 1, "accuracy": float(np.mean(hits)), "videos": len(hits)})
    return curve


def evaluate_images(
    model: nn.Module,
    image_set: Dataset,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    progress: bool = True,
    max_images: int | None = None,
    num_workers: int = 0,
) -> VideoEvalResult:
    """Evaluate still images ``(C, H, W)`` as 1-frame videos; same result type.

    The online curve then has a single point and ``frame_predictions`` one entry per image.
    """
    check_deterministic(image_set)
    if item_kind(image_set) != "image":
        raise ValueError(
            f"evaluate_images needs still images (C, H, W), but {type(image_set).__name__} gives "
            "videos; use evaluate_videos"
        )
    return evaluate_videos(
        model,
        StillClips(image_set),
        batch_size=batch_size,
        device=device,
        progress=progress,
        max_videos=max_images,
        num_workers=num_workers,
    )
