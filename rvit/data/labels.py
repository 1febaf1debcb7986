"""One label space for an image set and a video set: class names matched by name, never by position.

Two data sets that sort their class folders differently (``Playing_Guitar`` in one, ``playing guitar``
in the other, a class only one of them has) would silently give the same action two different label
numbers if labels were taken by position. :class:`LabelSpace` matches class names after normalising
case, spaces, underscores and hyphens; names that still differ need an explicit mapping; a class that
only one set has is reported by name (or dropped when asked). :meth:`LabelSpace.apply` then gives a
relabelled view of each data set under the one shared label order; :func:`restrict_to_shared` does
both in one call for a mapping of :mod:`rvit.data.mappings`.
"""

from __future__ import annotations

import csv
import difflib
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from torch.utils.data import Dataset

from rvit.data.frames import dataset_targets

__all__ = ["normalize_name", "Relabeled", "LabelSpace", "MappingLike", "restrict_to_shared"]

#: A mapping between class names: a dict ``{name: other_name or [other names]}``, or a YAML / JSON /
#: CSV file holding one.
MappingLike = Mapping[str, str | Sequence[str]] | str | os.PathLike[str]

_SEPARATORS = re.compile(r"[\s_\-]+")
ON_MISSING = ("error", "drop")


def normalize_name(name: str) -> str:
    """Compare-key of a class name: lower case without spaces, underscores or hyphens.

    ``"Playing_Guitar"``, ``"playing guitar"``, ``"PlayingGuitar"`` and ``"playing-guitar"`` all
    become ``"playingguitar"``.
    """
    return _SEPARATORS.sub("", str(name)).lower()


class Relabeled(Dataset):
    """A view of ``dataset`` under new labels; classes mapped to ``None`` are left out.

    ``new_labels[c]`` is the new label of the dataset's class ``c`` (or None to drop it). Items
    are ``(x, new_label)`` with ``x`` exactly what the dataset returns. ``indices`` are the kept
    positions in ``dataset``; ``targets``, ``classes``, and when the dataset has them ``samples``
    (paths), ``source``, ``lengths`` and ``stream(i)``, follow the view. Other attributes (``transform``,
    ``image_size``, ...) are the wrapped set's own, and setting ``transform`` sets it there.
    """

    def __init__(
        self, dataset: Any, new_labels: Sequence[int | None], classes: Sequence[str]
    ) -> None:
        old = dataset_targets(dataset)
        self.dataset = dataset
        self.classes: list[str] = list(classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.indices: list[int] = [i for i, y in enumerate(old) if new_labels[y] is not None]
        self.targets: list[int] = [int(new_labels[old[i]]) for i in self.indices]  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        x, _ = self.dataset[self.indices[index]]
        return x, self.targets[index]

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "transform":  # the wrapped set applies it
            setattr(self.dataset, name, value)
        else:
            super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        # Per-sample lists of the wrapped set follow the view; anything else is the wrapped set's.
        if name in ("dataset", "indices", "targets"):
            raise AttributeError(name)
        if name == "samples":
            base = self.dataset.samples
            return [(base[i][0], y) for i, y in zip(self.indices, self.targets, strict=True)]
        if name in ("source", "lengths"):
            base = getattr(self.dataset, name)
            return [base[i] for i in self.indices]
        if name == "stream":  # frame-by-frame reading, by the view's index
            read = self.dataset.stream
            return lambda index: read(self.indices[index])
        return getattr(self.dataset, name)

    def __repr__(self) -> str:
        return f"Relabeled({len(self)} of {len(self.dataset)} samples, {len(self.classes)} classes)"


def _pairs(mapping: MappingLike | None) -> list[tuple[str, str]]:
    """A mapping (dict or file) as a flat list of (name, other name) pairs."""
    if mapping is None:
        return []
    if isinstance(mapping, (str, os.PathLike)):
        mapping = LabelSpace.load_mapping(mapping)
    if not isinstance(mapping, Mapping):
        raise ValueError(f"mapping must be a dict or a file path, got {type(mapping).__name__}")
    pairs = []
    for key, value in mapping.items():
        values = [value] if isinstance(value, str) else list(value)
        if not values or not all(isinstance(v, str) for v in values):
            raise ValueError(f"mapping entry {key!r} must map to a name or a list of names")
        pairs += [(str(key), v) for v in values]
    return pairs


class _Groups:
    """Union-find over normalised names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _check_unique(names: Sequence[str], what: str) -> None:
    seen: dict[str, str] = {}
    for name in names:
        key = normalize_name(name)
        if key in seen:
            raise ValueError(
                f"the {what} set has two classes that differ only in case or separators: "
                f"{seen[key]!r} and {name!r}"
            )
        seen[key] = name


class LabelSpace:
    """An ordered list of class names with the aliases that map other spellings onto them.

    Build one with :meth:`from_sets` from an image set and a video set, then call :meth:`apply`
    on both: the two views share one label order, whatever order each set had.

    Args:
        classes: class names in label order.
        aliases: other names of those classes, ``{alias: class name}``.
        on_missing: what :meth:`apply` does with a class that is not in the space: ``"error"``
            raises, ``"drop"`` leaves its samples out.
    """

    def __init__(
        self,
        classes: Sequence[str],
        aliases: Mapping[str, str] | None = None,
        on_missing: str = "error",
    ) -> None:
        if on_missing not in ON_MISSING:
            raise ValueError(f"on_missing must be one of {ON_MISSING}, got {on_missing!r}")
        _check_unique(classes, "label space")
        self.classes: list[str] = list(classes)
        #: Other names of the classes, ``{alias: class name}``.
        self.aliases: dict[str, str] = dict(aliases or {})
        self.on_missing = on_missing
        self._lookup: dict[str, int] = {normalize_name(c): i for i, c in enumerate(self.classes)}
        for alias, target in (aliases or {}).items():
            label = self._lookup.get(normalize_name(target))
            if label is None:
                raise ValueError(f"alias {alias!r} points to {target!r}, which is not a class")
            previous = self._lookup.setdefault(normalize_name(alias), label)
            if previous != label:
                raise ValueError(
                    f"name {alias!r} would stand for two classes: "
                    f"{self.classes[previous]!r} and {self.classes[label]!r}"
                )
        #: Class names left out of the space because only one set has them, per side.
        self.missing: dict[str, list[str]] = {"image": [], "video": []}

    def __len__(self) -> int:
        return len(self.classes)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._lookup

    def index(self, name: str) -> int:
        """Label of a class name or alias (matched after normalisation)."""
        label = self._lookup.get(normalize_name(name))
        if label is None:
            raise ValueError(f"class {name!r} is not in the label space {self.classes}")
        return label

    def apply(self, dataset: Any, on_missing: str | None = None) -> Relabeled:
        """A view of ``dataset`` whose labels follow this space (matched by class name).

        Raises:
            ValueError: a class of ``dataset`` is not in the space and ``on_missing`` (default:
                the space's own) is ``"error"``; the message lists those classes.
        """
        policy = on_missing or self.on_missing
        if policy not in ON_MISSING:
            raise ValueError(f"on_missing must be one of {ON_MISSING}, got {policy!r}")
        names = list(getattr(dataset, "classes", None) or [])
        if not names:
            raise ValueError(f"{type(dataset).__name__} has no 'classes' list to match by name")
        new_labels = [self._lookup.get(normalize_name(c)) for c in names]
        unknown = [c for c, y in zip(names, new_labels, strict=True) if y is None]
        if unknown and policy == "error":
            raise ValueError(
                f"classes of {type(dataset).__name__} not in the label space: {unknown}; "
                "add them to the mapping or use on_missing='drop'"
            )
        return Relabeled(dataset, new_labels, self.classes)

    def describe(self) -> str:
        """The label order and what was left out, one line each."""
        lines = [f"{i:3d}  {name}" for i, name in enumerate(self.classes)]
        for side, names in self.missing.items():
            if names:
                lines.append(f"only in the {side} set (dropped): {', '.join(names)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"LabelSpace({len(self)} classes: {self.classes})"

    @staticmethod
    def load_mapping(path: str | os.PathLike[str]) -> dict[str, str | list[str]]:
        """Read a class-name mapping from a file.

        - YAML or JSON (``.yaml``, ``.yml``, ``.json``): a dict ``{name: other name}`` (a value may
          be a list of names), or a list of ``[name, other name]`` pairs;
        - CSV (``.csv``): a header row, then one ``name,other name`` pair per row (blank rows and
          rows starting with ``#`` are ignored).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"mapping file '{path}' does not exist")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            with path.open(newline="") as f:
                rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
            rows = [r for r in rows if not r[0].lstrip().startswith("#")]
            result: dict[str, str | list[str]] = {}
            for n, row in enumerate(rows[1:], start=2):
                cells = [c.strip() for c in row if c.strip()]
                if len(cells) != 2:
                    raise ValueError(f"mapping file '{path}' row {n} must have two names: {row}")
                _add(result, cells[0], cells[1])
            return result
        if suffix not in (".yaml", ".yml", ".json"):
            raise ValueError(f"mapping file '{path}' must be .yaml, .yml, .json or .csv")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ValueError(f"cannot parse mapping file '{path}': {err}") from err
        if isinstance(data, Mapping):
            result = {}
            for key, value in data.items():
                if isinstance(value, str):
                    _add(result, str(key), value)
                elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                    for v in value:
                        _add(result, str(key), v)
                else:
                    raise ValueError(
                        f"mapping file '{path}': entry {key!r} must map to a name or a list of names"
                    )
            return result
        if isinstance(data, list) and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in data
        ):
            result = {}
            for a, b in data:
                _add(result, a, b)
            return result
        raise ValueError(
            f"mapping file '{path}' must hold a dict {{name: other name}} or a list of name pairs"
        )

    @classmethod
    def from_sets(
        cls,
        image_set: Any,
        video_set: Any,
        mapping: MappingLike | None = None,
        on_missing: str = "error",
        mapped_only: bool = False,
    ) -> LabelSpace:
        """The label space shared by an image set and a video set, matched by class name.

        Names match after :func:`normalize_name`; ``mapping`` joins names that still differ
        (either direction: ``{"riding_a_bike": "Biking"}`` or ``{"Biking": "riding_a_bike"}``;
        a name may map to several, which then share one label). The space keeps the image set's
        names and label order; a group of several image classes is named ``"a+b"``.

        Args:
            image_set, video_set: data sets with a ``classes`` list.
            mapping: a dict or a YAML/JSON/CSV file (see :meth:`load_mapping`).
            on_missing: ``"error"`` raises when a class is in only one set, naming every such
                class and the closest unmatched name of the other set; ``"drop"`` leaves those
                classes out (listed in ``missing``).
            mapped_only: keep only classes joined by ``mapping`` (a curated class list).

        Raises:
            ValueError: unmatched classes with ``on_missing="error"``; two classes of one set
                that differ only in case or separators.
        """
        if on_missing not in ON_MISSING:
            raise ValueError(f"on_missing must be one of {ON_MISSING}, got {on_missing!r}")
        image_names = _class_names(image_set, "image")
        video_names = _class_names(video_set, "video")
        _check_unique(image_names, "image")
        _check_unique(video_names, "video")
        pairs = _pairs(mapping)

        groups = _Groups()
        for name in (*image_names, *video_names):
            groups.find(normalize_name(name))
        for a, b in pairs:
            groups.union(normalize_name(a), normalize_name(b))
        known = {normalize_name(n) for n in (*image_names, *video_names)}
        unused = sorted({n for p in pairs for n in p if normalize_name(n) not in known})
        if unused:
            warnings.warn(
                f"mapping names that match no class of either set: {unused}", stacklevel=2
            )
        mapped = {groups.find(normalize_name(n)) for p in pairs for n in p}

        def root(name: str) -> str:
            return groups.find(normalize_name(name))

        video_roots = {root(n) for n in video_names}
        image_roots = {root(n) for n in image_names}
        only_image = [n for n in image_names if root(n) not in video_roots]
        only_video = [n for n in video_names if root(n) not in image_roots]
        if (only_image or only_video) and on_missing == "error":
            raise ValueError(_mismatch_message(only_image, only_video))

        members: dict[str, list[str]] = {}
        for name in image_names:
            r = root(name)
            if r in video_roots and (not mapped_only or r in mapped):
                members.setdefault(r, []).append(name)
        if not members:
            raise ValueError(
                f"the image and video sets share no class: image {image_names}, video {video_names}"
            )
        classes = ["+".join(names) for names in members.values()]
        display = {r: "+".join(names) for r, names in members.items()}
        aliases = {}
        for name in (*image_names, *video_names, *(n for p in pairs for n in p)):
            r = root(name)
            if r in display and normalize_name(name) != normalize_name(display[r]):
                aliases[name] = display[r]
        space = cls(classes, aliases, on_missing="drop" if on_missing == "drop" else "error")
        space.missing = {
            "image": [n for n in image_names if root(n) not in display],
            "video": [n for n in video_names if root(n) not in display],
        }
        return space


def _add(result: dict[str, str | list[str]], key: str, value: str) -> None:
    if key in result:
        previous = result[key]
        result[key] = [*([previous] if isinstance(previous, str) else previous), value]
    else:
        result[key] = value


def _class_names(dataset: Any, what: str) -> list[str]:
    names = getattr(dataset, "classes", None)
    if not names:
        raise ValueError(f"the {what} set ({type(dataset).__name__}) has no 'classes' list")
    return [str(n) for n in names]


def _closest(name: str, candidates: Iterable[str]) -> str | None:
    by_key = {normalize_name(c): c for c in candidates}
    hits = difflib.get_close_matches(normalize_name(name), list(by_key), n=1, cutoff=0.5)
    return by_key[hits[0]] if hits else None


def _mismatch_message(only_image: list[str], only_video: list[str]) -> str:
    parts = []
    if only_image:
        hints = [
            f"{n!r}" + (f" (closest video class: {c!r})" if (c := _closest(n, only_video)) else "")
            for n in only_image
        ]
        parts.append("classes only in the image set: " + ", ".join(hints))
    if only_video:
        parts.append("classes only in the video set: " + ", ".join(repr(n) for n in only_video))
    return (
        "; ".join(parts)
        + ". Map differing names with mapping={image_name: video_name} (a dict or a YAML/CSV "
        "file), or pass on_missing='drop' to leave unmatched classes out."
    )


def restrict_to_shared(
    image_set: Any, video_set: Any, mapping: MappingLike
) -> tuple[Relabeled, Relabeled]:
    """Keep only the classes that ``mapping`` joins and both sets have, under one label space.

    Class names are matched after normalising case, spaces, underscores and hyphens (see
    :func:`normalize_name`), so ``STANFORD40_UCF101`` also fits folders named
    ``Playing Guitar``. Classes of the mapping that a set lacks are ignored. The shared label
    order is the image set's order; several classes mapped to one (``climbing`` ->
    ``RockClimbingIndoor``, ``RopeClimbing``) share one label.

    Args:
        image_set: the set the mapping's keys name (any data set with ``classes`` and labels).
        video_set: the set the mapping's values name.
        mapping: a dict like :data:`rvit.data.mappings.STANFORD40_HMDB51`, or a YAML/JSON/CSV
            file.

    Returns:
        ``(image_view, video_view)``: relabelled views holding only shared classes, with the same
        ``classes`` list.

    Raises:
        ValueError: the two sets share no class through ``mapping``.
    """
    with warnings.catch_warnings():
        # A full-size mapping applied to a subset names many absent classes; that is expected.
        warnings.simplefilter("ignore")
        space = LabelSpace.from_sets(
            image_set, video_set, mapping=mapping, on_missing="drop", mapped_only=True
        )
    return space.apply(image_set, on_missing="drop"), space.apply(video_set, on_missing="drop")
