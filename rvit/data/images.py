"""Still-image action data sets read with PIL: one folder per class, and Stanford 40 Actions.

Every image is decoded by PIL and converted to RGB (grey, RGBA, palette and CMYK files included), then
returned as ``float32 (C, H, W)`` in ``[0, 1]`` with ``C = 3``, like the synthetic world. Labels follow
the ``classes`` list (sorted class names unless given), and ``targets`` holds every label without
decoding an image. ``samples`` keeps each image's ``(path, label)``.
"""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
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
    "is_hidden",
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


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparent pixels are laid over white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


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
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if box is not None:
                image = image.crop(box)
            array = np.asarray(_to_rgb(image))  # (H, W, 3)
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


def image_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a readable image (decoded fully, JPEGs at reduced scale), or None."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with Image.open(path) as image:
            image.draft("RGB", (64, 64))
            image.load()
    except _DECODE_ERRORS as err:
        return " ".join(str(err).split()) or type(err).__name__
    return None


def screen_samples(
    dataset: Any, problem: Callable[[Any], str | None], on_bad_file: str | None
) -> list[int]:
    """Check the file of every ``(path, label)`` in ``dataset.samples`` with ``problem``.

    The bad files' ``(path, reason)`` go to ``dataset.bad_files`` and their samples leave
    ``dataset.samples``; returns the kept positions (to filter lists aligned with the samples).
    With ``on_bad_file="error"`` any bad file raises one :class:`BadFilesError` listing all of them;
    ``"skip"`` leaves them out with one warning; None checks nothing.
    """
    dataset.bad_files = []
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
    dataset.samples = [dataset.samples[i] for i in kept]
    return kept


class ImageList(Dataset):
    """An image data set over a list of ``(path, label)`` samples.

    Item ``i`` is ``(image, label)`` with ``image`` ``float32 (3, H, W)`` in ``[0, 1]``:
    decoded, cropped to ``boxes[i]`` if given, resized and centre-cropped to ``image_size`` if
    given (square), then passed through ``transform``.

    ``on_bad_file`` (see :data:`ON_BAD_FILE`): None reads each file only when it is loaded (a
    damaged one raises a ``ValueError`` naming it then); ``"error"`` or ``"skip"`` read every file
    now. ``bad_files`` lists the ``(path, reason)`` of the files left out.
    """

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
        kept = screen_samples(self, image_problem, on_bad_file)
        if self.boxes is not None:
            self.boxes = [self.boxes[i] for i in kept]
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
