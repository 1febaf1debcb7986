"""Still-image action data sets read with PIL: one folder per class, and Stanford 40 Actions.

Every image is decoded by PIL and converted to RGB (grey, RGBA, palette and CMYK files included), then
returned as ``float32 (C, H, W)`` in ``[0, 1]`` with ``C = 3``, like the synthetic world. Labels follow
the ``classes`` list (sorted class names unless given), and ``targets`` holds every label without
decoding an image. ``samples`` keeps each image's ``(path, label)``.

Images are taken as they are: 16-bit, 32-bit and floating-point images are scaled to 8 bits by their
own value range (:func:`to_rgb`); an image of more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` is
refused by name as a bad file (:func:`open_image`); an animated image is read as its first frame, with
a warning naming it.
"""

from __future__ import annotations

import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

__all__ = [
    "IMAGE_EXTENSIONS",
    "ON_BAD_FILE",
    "BadFilesError",
    "image_problem",
    "inspect_image",
    "is_hidden",
    "open_image",
    "to_rgb",
    "screen_samples",
    "load_image",
    "ImageList",
    "ImageFolderActions",
    "Stanford40",
]

#: File suffixes read as images (lower case).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)

# PIL raises several kinds of errors on damaged files.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)

Box = tuple[int, int, int, int]  # (left, top, right, bottom), 0-based, right/bottom exclusive


#: PIL modes of more than 8 bits per pixel: 16-bit unsigned (``I;16`` and its byte orders),
#: 32-bit signed (``I``) and 32-bit float (``F``), all one channel.
DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _deep_to_grey(image: Image.Image) -> Image.Image:
    """A one-channel image of more than 8 bits -> ``L``, scaled by its own value range.

    PIL's own conversion clips every value above 255, so a 16-bit photo comes out white and a float
    image in ``[0, 1]`` black. Neither the mode's nominal range nor any fixed scale fits every file
    (12-bit sensor data in 16-bit files, floats in any unit), so the lowest finite value becomes 0
    and the highest 255, linearly, as image viewers show such files. An image of a single value
    keeps that value clipped to 0-255 (a float image's value in ``[0, 1]`` times 255); NaN and
    infinite pixels become 0.
    """
    values = np.asarray(image).astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return Image.new("L", image.size, 0)
    low, high = float(values[finite].min()), float(values[finite].max())
    if high > low:
        scaled = (values - low) * (255.0 / (high - low))
    elif image.mode == "F" and 0.0 <= low <= 1.0:
        scaled = values * 255.0
    else:
        scaled = values
    scaled = np.where(finite, scaled, 0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparent pixels are laid over white, images of more than 8 bits
    per pixel (:data:`DEEP_MODES`) are scaled by their value range first."""
    if image.mode in DEEP_MODES:
        image = _deep_to_grey(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


_BOMB_SIZE = re.compile(r"\((\d+) pixels\)")


@contextmanager
def open_image(path: str | os.PathLike[str]) -> Iterator[Image.Image]:
    """``PIL.Image.open(path)``, with images above PIL's pixel limit refused by name.

    PIL refuses an image of more than twice ``PIL.Image.MAX_IMAGE_PIXELS`` (89 million pixels by
    default; a 14,000 x 14,000 photo has 196 million) with a ``DecompressionBombError`` that names
    no file, and only warns between once and twice the limit while it decodes gigabytes. Both are
    a ``ValueError`` here naming the file, its pixel count and the limit, so that a data set lists
    the file among its bad files (and ``on_bad_file="skip"`` leaves it out). Setting
    ``PIL.Image.MAX_IMAGE_PIXELS`` raises or lifts the limit, as for PIL itself.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        found = _BOMB_SIZE.search(str(err))
        pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ValueError(
            f"image too large: {pixels}, above the limit of {Image.MAX_IMAGE_PIXELS:,} "
            "(PIL.Image.MAX_IMAGE_PIXELS; shrink the image or raise the limit)"
        ) from None
    with image:
        yield image


def load_image(path: str | os.PathLike[str], box: Box | None = None) -> torch.Tensor:
    """Decode one image file with PIL as ``uint8 (3, H, W)`` RGB.

    The EXIF orientation is applied, so a photo stands the way a viewer shows it.

    Args:
        path: the image file.
        box: optional crop ``(left, top, right, bottom)`` in 0-based pixels, right/bottom exclusive.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a readable image (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image '{path}' does not exist")
    try:
        with open_image(path) as image:
            image = ImageOps.exif_transpose(image)
            if box is not None:
                image = image.crop(box)
            array = np.asarray(to_rgb(image))  # (H, W, 3)
    except _DECODE_ERRORS as err:
        raise ValueError(f"cannot read image '{path}': {err}") from err
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


#: What a data set does with files it cannot read: ``"error"`` reads every file when the set is
#: built and raises one :class:`BadFilesError` listing all the bad ones; ``"skip"`` leaves them out
#: and lists them in ``bad_files``.
ON_BAD_FILE = ("error", "skip")


class BadFilesError(ValueError):
    """Some files of a data set cannot be read; ``bad_files`` lists ``(path, reason)`` of each."""

    def __init__(self, where: str, bad_files: Sequence[tuple[str, str]]) -> None:
        self.bad_files = list(bad_files)
        listed = "; ".join(f"'{path}' ({reason})" for path, reason in self.bad_files)
        super().__init__(
            f"{len(self.bad_files)} unreadable file(s) in {where}: {listed}; "
            "leave them out with on_bad_file='skip' (--on-bad-file skip on the command line)"
        )


def is_hidden(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> bool:
    """True when a part of ``path`` (below ``root``, if given) starts with a dot.

    Such files are never data: ``._photo.jpg`` AppleDouble files copied from a Mac, ``.DS_Store``,
    ``.ipynb_checkpoints/`` and the like.
    """
    path = Path(path)
    parts = path.relative_to(root).parts if root is not None else (path.name,)
    return any(part.startswith(".") for part in parts)


def inspect_image(path: str | os.PathLike[str]) -> tuple[str | None, int]:
    """``(problem, frames)``: why ``path`` is not a readable image (None when it is) and how many
    frames it holds (more than 1 for an animated GIF, PNG or WebP; 0 when unreadable).

    The image is decoded fully (JPEGs at reduced scale) and converted as :func:`load_image`
    converts it, so that a file passing here also loads."""
    path = Path(path)
    if not path.is_file():
        return "missing", 0
    if path.stat().st_size == 0:
        return "empty file", 0
    try:
        with open_image(path) as image:
            image.draft("RGB", (64, 64))
            image.load()
            to_rgb(image)
            frames = int(getattr(image, "n_frames", 1))
    except _DECODE_ERRORS as err:
        return " ".join(str(err).split()) or type(err).__name__, 0
    return None, frames


def image_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a readable image (decoded fully, JPEGs at reduced scale), or None."""
    return inspect_image(path)[0]


def screen_samples(
    dataset: Any, problem: Callable[[Any], str | None], on_bad_file: str | None
) -> list[int]:
    """Check the file of every ``(path, label)`` in ``dataset.samples`` with ``problem``.

    The bad files' ``(path, reason)`` go to ``dataset.bad_files`` and their samples leave
    ``dataset.samples``; returns the kept positions (to filter lists aligned with the samples).
    With ``on_bad_file="error"`` any bad file raises one :class:`BadFilesError` listing all of them;
    ``"skip"`` leaves them out with one warning; None checks nothing.

    A class whose every file was bad would stay in ``dataset.classes`` without a sample: a model
    built on the set would have an output no sample trains. Such classes are dropped (the other
    labels renumbered in order), named in ``dataset.dropped_classes`` and in a warning.
    """
    dataset.bad_files = []
    dataset.dropped_classes = []
    if on_bad_file is None:
        return list(range(len(dataset.samples)))
    if on_bad_file not in ON_BAD_FILE:
        raise ValueError(f"on_bad_file must be one of {ON_BAD_FILE}, got {on_bad_file!r}")
    where = f"{type(dataset).__name__} '{getattr(dataset, 'root', '')}'"
    kept: list[int] = []
    for index, (path, _) in enumerate(dataset.samples):
        reason = problem(path)
        if reason is None:
            kept.append(index)
        else:
            dataset.bad_files.append((str(path), reason))
    bad = dataset.bad_files
    if bad and on_bad_file == "error":
        raise BadFilesError(where, bad)
    if bad:
        warnings.warn(
            f"skipped {len(bad)} unreadable file(s) in {where}, e.g. '{bad[0][0]}' ({bad[0][1]})",
            stacklevel=3,
        )
    if not kept:
        raise ValueError(f"no readable file in {where}")
    before = {label for _, label in dataset.samples}
    dataset.samples = [dataset.samples[i] for i in kept]
    _drop_emptied_classes(dataset, before, where)
    return kept


def _drop_emptied_classes(dataset: Any, before: set[int], where: str) -> None:
    """Drop the classes that had samples in ``before`` and have none left (see
    :func:`screen_samples`); classes that never had a sample here (a split without them) stay."""
    classes = list(getattr(dataset, "classes", None) or [])
    emptied = sorted(before - {label for _, label in dataset.samples})
    if not classes or not emptied:
        return
    dataset.dropped_classes = [classes[i] for i in emptied]
    kept = [old for old in range(len(classes)) if old not in emptied]
    renumber = {old: new for new, old in enumerate(kept)}
    dataset.classes = [name for old, name in enumerate(classes) if old in renumber]
    dataset.class_to_idx = {name: i for i, name in enumerate(dataset.classes)}
    dataset.samples = [(path, renumber[label]) for path, label in dataset.samples]
    warnings.warn(
        f"dropped {len(emptied)} class(es) of {where} left with no readable file: "
        f"{', '.join(dataset.dropped_classes)}",
        stacklevel=4,
    )


class ImageList(Dataset):
    """An image data set over a list of ``(path, label)`` samples.

    Item ``i`` is ``(image, label)`` with ``image`` ``float32 (3, H, W)`` in ``[0, 1]``:
    decoded, cropped to ``boxes[i]`` if given, resized and centre-cropped to ``image_size`` if
    given (square), then passed through ``transform``.

    ``on_bad_file`` (see :data:`ON_BAD_FILE`): None reads each file only when it is loaded (a
    damaged one raises a ``ValueError`` naming it then); ``"error"`` or ``"skip"`` read every file
    now. ``bad_files`` lists the ``(path, reason)`` of the files left out, ``dropped_classes`` the
    classes none of whose files could be read (left out of ``classes``), and ``animated`` the
    ``(path, frames)`` of animated images, read as their first frame (with one warning).
    """

    #: Items are still images: :func:`rvit.data.clips.item_kind` reads this instead of one.
    sample_kind = "image"

    def __init__(
        self,
        samples: Sequence[tuple[str | os.PathLike[str], int]],
        classes: Sequence[str],
        image_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        boxes: Sequence[Box | None] | None = None,
        on_bad_file: str | None = None,
    ) -> None:
        if image_size is not None and image_size < 1:
            raise ValueError(f"image_size must be a positive int or None, got {image_size}")
        self.samples: list[tuple[str, int]] = [(str(p), int(y)) for p, y in samples]
        self.classes: list[str] = list(classes)
        self.class_to_idx: dict[str, int] = {c: i for i, c in enumerate(self.classes)}
        self.image_size = image_size
        self.transform = transform
        self.boxes = list(boxes) if boxes is not None else None
        self.bad_files: list[tuple[str, str]] = []
        animated: dict[str, int] = {}

        def problem(path: str) -> str | None:
            reason, frames = inspect_image(path)
            if frames > 1:
                animated[str(path)] = frames
            return reason

        kept = screen_samples(self, problem, on_bad_file)
        if self.boxes is not None:
            self.boxes = [self.boxes[i] for i in kept]
        #: ``(path, frames)`` of the animated images read as their first frame.
        self.animated = [(p, animated[p]) for p, _ in self.samples if p in animated]
        if self.animated:
            path, frames = self.animated[0]
            warnings.warn(
                f"{len(self.animated)} animated image(s) are read as their first frame only, "
                f"e.g. '{path}' ({frames} frames); a video folder reads every frame",
                stacklevel=2,
            )
        self._resize = None
        if image_size is not None:
            from rvit.data.augment import eval_transform

            self._resize = eval_transform(image_size)

    @property
    def targets(self) -> list[int]:
        """The label of every sample, in order, without decoding."""
        return [y for _, y in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> torch.Tensor:
        """Sample ``index`` as ``float32 (3, H, W)`` in ``[0, 1]``, before ``transform``."""
        path, _ = self.samples[index]
        box = self.boxes[index] if self.boxes is not None else None
        image = load_image(path, box).float().div_(255)
        if self._resize is not None:
            image = self._resize(image)
        return image

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.load(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.samples[index][1]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} images, {len(self.classes)} classes, "
            f"image_size={self.image_size})"
        )


def _list_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


class ImageFolderActions(ImageList):
    """Action photos in one folder per class: ``root/<class>/<image>``.

    For example Stanford 40 sorted into folders (``Training Images/Applauding/*.jpg``), or frames
    written by :func:`rvit.data.extract_frames`. Labels follow ``classes``: the sorted folder
    names, or the given list (then only those folders are read, each must exist).

    Hidden files and folders (names starting with a dot: ``._photo.jpg`` AppleDouble files from a
    Mac, ``.ipynb_checkpoints/``) are never read. Other files without an image suffix are skipped
    with one warning naming how many and an example. Every image is decoded once here (JPEGs at
    reduced scale): with ``on_bad_file="error"`` any damaged file raises one
    :class:`BadFilesError` listing every bad file; with ``"skip"`` they are left out, counted in
    ``skipped`` and listed in ``bad_files``; None reads each file only when it is loaded.

    Args:
        root: the folder of class folders.
        image_size: side of the square output (resize shorter side + centre crop); None keeps
            each image's own size.
        transform: called on each ``float32 (3, H, W)`` image.
        on_bad_file: ``"error"``, ``"skip"`` or None, for damaged images (:data:`ON_BAD_FILE`).
        classes: class folder names in label order; None = all folders, sorted.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        image_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        on_bad_file: str | None = "error",
        classes: Sequence[str] | None = None,
    ) -> None:
        if on_bad_file is not None and on_bad_file not in ON_BAD_FILE:
            raise ValueError(
                f"on_bad_file must be one of {ON_BAD_FILE} or None, got {on_bad_file!r}"
            )
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder root '{self.root}' does not exist")
        if classes is None:
            class_dirs = _list_dirs(self.root)
            if not class_dirs:
                raise ValueError(
                    f"image folder root '{self.root}' has no class folders "
                    "(expected root/<class>/<image files>)"
                )
        else:
            class_dirs = [self.root / c for c in classes]
            missing = [str(d) for d in class_dirs if not d.is_dir()]
            if missing:
                raise FileNotFoundError(f"class folders not found: {missing}")
        names = [d.name for d in class_dirs]

        samples: list[tuple[Path, int]] = []
        others: list[Path] = []
        for label, folder in enumerate(class_dirs):
            files = sorted(p for p in folder.rglob("*") if p.is_file() and not is_hidden(p, folder))
            images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
            others += [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
            if not images:
                raise ValueError(f"class folder '{folder}' holds no image files")
            samples += [(p, label) for p in images]
        if others:
            warnings.warn(
                f"skipped {len(others)} non-image file(s) under '{self.root}', e.g. '{others[0]}'",
                stacklevel=2,
            )

        self.on_bad_file = on_bad_file
        super().__init__(
            samples, names, image_size=image_size, transform=transform, on_bad_file=on_bad_file
        )

    @property
    def skipped(self) -> int:
        """How many damaged images were left out (``on_bad_file="skip"``)."""
        return len(self.bad_files)

    @property
    def skipped_paths(self) -> list[str]:
        """The paths of the damaged images left out (``on_bad_file="skip"``)."""
        return [path for path, _ in self.bad_files]


def stanford40_label(file_name: str) -> str:
    """Class of a Stanford 40 file name: ``riding_a_horse_123.jpg`` -> ``riding_a_horse``."""
    stem = Path(file_name).stem
    action, sep, number = stem.rpartition("_")
    if not sep or not number.isdigit():
        raise ValueError(f"Stanford 40 file name {file_name!r} is not '<action>_<NNN>.jpg'")
    return action


def read_person_box(xml_path: str | os.PathLike[str]) -> Box:
    """Person box of a Stanford 40 annotation as 0-based ``(left, top, right, bottom)``.

    The XML's coordinates are 1-based and inclusive; when a file lists several boxes the
    smallest box holding them all is returned.
    """
    xml_path = Path(xml_path)
    if not xml_path.is_file():
        raise FileNotFoundError(f"annotation '{xml_path}' does not exist")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise ValueError(f"cannot parse annotation '{xml_path}': {err}") from err
    boxes = []
    for node in root.iter("bndbox"):
        try:
            xmin, ymin, xmax, ymax = (
                int(float(node.findtext(k))) for k in ("xmin", "ymin", "xmax", "ymax")
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"annotation '{xml_path}' has a malformed bndbox") from err
        boxes.append((xmin - 1, ymin - 1, xmax, ymax))
    if not boxes:
        raise ValueError(f"annotation '{xml_path}' has no bndbox")
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return max(left, 0), max(top, 0), right, bottom


class Stanford40(ImageList):
    """Stanford 40 Actions (Yao et al., ICCV 2011) in its official layout.

    ::

        root/JPEGImages/<action>_<NNN>.jpg
        root/ImageSplits/train.txt, test.txt      one file name per line
        root/XMLAnnotations/<action>_<NNN>.xml    person box, 1-based pixels

    The class of an image is its file name minus ``_<NNN>.jpg``. Labels follow the ``sorted()``
    class names found in the split files (both splits when present, so train and test share one
    label order): on the full set applauding -> 0, riding_a_horse -> 25, watching_TV -> 36.

    Args:
        root: the Stanford40 folder.
        split: ``"train"`` (4,000 images) or ``"test"`` (5,532).
        crop_person: crop each image to the annotated person box.
        image_size, transform, on_bad_file: as in :class:`ImageList`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        crop_person: bool = False,
        image_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        on_bad_file: str | None = None,
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.root = Path(root)
        self.split = split
        splits_dir = self.root / "ImageSplits"
        split_file = splits_dir / f"{split}.txt"
        if not split_file.is_file():
            raise FileNotFoundError(f"Stanford 40 split file '{split_file}' does not exist")

        def read_names(file: Path) -> list[str]:
            return [ln.strip() for ln in file.read_text().splitlines() if ln.strip()]

        names = read_names(split_file)
        if not names:
            raise ValueError(f"Stanford 40 split file '{split_file}' lists no images")
        all_names = list(names)
        for other in ("train", "test"):
            file = splits_dir / f"{other}.txt"
            if other != split and file.is_file():
                all_names += read_names(file)
        classes = sorted({stanford40_label(n) for n in all_names})
        index = {c: i for i, c in enumerate(classes)}
        image_dir = self.root / "JPEGImages"
        samples = [(image_dir / n, index[stanford40_label(n)]) for n in names]
        missing = [str(p) for p, _ in samples if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} image(s) of '{split_file}' not found, e.g. '{missing[0]}'"
            )
        boxes = None
        if crop_person:
            xml_dir = self.root / "XMLAnnotations"
            boxes = [read_person_box(xml_dir / f"{Path(n).stem}.xml") for n in names]
        self.crop_person = crop_person
        super().__init__(
            samples,
            classes,
            image_size=image_size,
            transform=transform,
            boxes=boxes,
            on_bad_file=on_bad_file,
        )
