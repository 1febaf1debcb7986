"""What the book's notebooks need wherever they run: in the book build, in Jupyter, in Colab or Binder.

* :func:`glue` keeps a value for the prose, and :data:`prose` gives it back formatted: a markdown cell
  writes ``{eval}`prose["name"]``` or, with a format specification, ``{eval}`prose["name:.1%"]```. The
  book build evaluates these roles in the notebook's kernel (myst-nb's inline execution), and so does
  JupyterLab with ``jupyterlab-myst`` when a markdown cell runs: one source for both. Where nothing
  renders MyST (Colab, GitHub) the roles show as written, so the book also publishes each chapter
  executed, its roles replaced by the values the build computed (``executed/NN.ipynb`` of the site,
  which the chapter's Colab badge opens).
* :func:`table` styles a DataFrame for reading in the book's column: no index, text wrapped and shown
  as text, cells padded apart, floats to their precision (``0.82``, not ``0.820000``).
* :func:`results_dir` finds the committed ``results/`` folder through the package, not through a path
  relative to the notebook, so a notebook copied anywhere still reads the study's results.
* :func:`checkpoints_dir` says where a chapter writes the models it trained, for a reader who would
  rather load them than train again (the chapter's ``CHECKPOINTS`` parameter).
* :func:`running_time` gives the line under each chapter's title: how long the chapter ran in the
  book build that measured it (``results/book/run_times.json``, written by :func:`record_run_time`).

This module imports nothing heavy: every chapter, the first included, may use it.
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKPOINTS_ENV",
    "RESULTS_ENV",
    "Prose",
    "Text",
    "checkpoints_dir",
    "glue",
    "prose",
    "record_run_time",
    "results_dir",
    "running_time",
    "table",
]

RESULTS_ENV = "RVIT_RESULTS_DIR"
CHECKPOINTS_ENV = "RVIT_CHECKPOINTS_DIR"
"""Environment variable naming the results folder; it overrides the one found next to the package."""


def _plain(value: Any) -> Any:
    """NumPy and torch scalars as plain Python numbers, so a format specification applies to them."""
    if type(value).__module__.split(".")[0] in ("numpy", "torch") and hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError, RuntimeError):
            return value
    return value


class Text:
    """Text for the prose: its ``repr`` is the text itself, so a kernel shows it without quotes."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _is_markup(value: Any) -> bool:
    """A rich value (IPython's ``Markdown``, ``HTML``) that renders itself instead of being formatted."""
    return any(hasattr(value, f"_repr_{kind}_") for kind in ("markdown", "html", "latex"))


def _format(value: Any, spec: str) -> str:
    """``value`` formatted by ``spec``; the type letter decides the conversion, as in an f-string of
    the matching type (``.0f`` of an int, ``,d`` of a whole float)."""
    if spec == "":
        return str(value)
    kind = spec[-1]
    if kind in "bcdoxX":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"format {spec!r} needs a whole number; got {value!r}")
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    elif kind == "s":
        value = str(value)
    return format(value, spec)


class Prose:
    """The values glued so far, by name; ``prose["name"]`` or ``prose["name:spec"]`` gives one for the text.

    ``spec`` is a format specification (``.1%``, ``.2f``, ``,d``): the item is a :class:`Text` whose
    ``repr`` is the formatted value, so it shows without quotes wherever a kernel evaluates it. A rich
    value (IPython's ``Markdown``) is given back as it is, and renders itself; it takes no ``spec``.
    """

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def __setitem__(self, name: str, value: Any) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"a glued name is a Python identifier; got {name!r}")
        self._values[name] = _plain(value)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._values)

    def names(self) -> list[str]:
        """The names glued so far, in the order they were first glued."""
        return list(self._values)

    def value(self, name: str) -> Any:
        """The value glued under ``name``, unformatted; a ``KeyError`` names close matches."""
        try:
            return self._values[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._values, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(
                f"nothing is glued under {name!r} yet: glue(name, value) in a code cell above the "
                f"text that reads it ({len(self._values)} names glued so far{hint})"
            ) from None

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str):
            raise TypeError(f'prose[...] takes "name" or "name:spec"; got {key!r}')
        name, _, spec = key.partition(":")
        value = self.value(name)
        if _is_markup(value):
            if spec:
                raise ValueError(f"{name!r} is glued as markup, which takes no format {spec!r}")
            return value
        try:
            return Text(_format(value, spec))
        except (TypeError, ValueError) as error:
            raise ValueError(f"cannot format {name!r} = {value!r} with {spec!r}: {error}") from None

    def __repr__(self) -> str:
        return f"<prose: {len(self._values)} glued values>"


prose = Prose()
"""The prose values of the running notebook (one kernel runs one notebook)."""


def glue(name: str, value: Any, display: bool = True) -> None:
    """Keep ``value`` under ``name`` for the prose (``{eval}`prose["name"]```); show it if ``display``.

    A name glued again takes the new value: the text reads the value glued last above it.
    """
    prose[name] = value
    if display:
        from IPython.display import display as show

        show(prose.value(name))


def results_dir(*parts: str) -> Path:
    """The committed ``results/`` folder (or ``results/<parts...>``), found through the package.

    The folder named by ``$RVIT_RESULTS_DIR`` comes first; otherwise ``results/`` of the checkout the
    package is installed from (``pip install -e .``). A clear error says what to do when neither exists,
    for instance after a plain ``pip install`` that copies the package without its results.
    """
    env = os.environ.get(RESULTS_ENV)
    if env:
        root, origin = Path(env).expanduser(), f"${RESULTS_ENV}"
    else:
        root, origin = Path(__file__).resolve().parents[1] / "results", "the package's checkout"
    if not root.is_dir():
        raise FileNotFoundError(
            f"no results folder at {root} (from {origin}). The results are committed in the "
            f"repository's results/ folder: install the package from a clone (`pip install -e .`) "
            f"or set {RESULTS_ENV} to that folder."
        )
    path = root.joinpath(*parts)
    if parts and not path.exists():
        raise FileNotFoundError(f"{path} is missing from the results folder {root} (from {origin})")
    return path


def checkpoints_dir(*parts: str) -> Path:
    """Where the chapters write what they trained: ``checkpoints/`` (or ``checkpoints/<parts...>``).

    The folder named by ``$RVIT_CHECKPOINTS_DIR`` comes first; otherwise ``checkpoints/`` of the
    checkout the package is installed from (``pip install -e .``; ignored by git), or of the working
    folder when the package was installed without its checkout (a plain ``pip install``, Colab).
    Nothing is created here: writing a checkpoint creates its folder.
    """
    env = os.environ.get(CHECKPOINTS_ENV)
    if env:
        root = Path(env).expanduser()
    else:
        checkout = Path(__file__).resolve().parents[1]
        base = checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()
        root = base / "checkpoints"
    return root.joinpath(*parts)


def table(frame: Any, formatter: Any = None, *, index: bool = False, **options: Any) -> Any:
    """``frame`` styled for reading: without its index (unless ``index``), long text wrapped in the column.

    Words wrap at spaces, and a long word without spaces (a file name, a path) may break anywhere, so
    the table fits the book's text column instead of overflowing it. Cells and column names are shown
    as text: ``<class>/<image>`` reads as written instead of becoming HTML. Floats show four significant
    digits without trailing zeros (``0.82``, ``0.1235``, ``12346``), and cells are padded so that the
    text of adjacent cells never touches. ``formatter`` and
    ``options`` (``precision``, ``na_rep``, ``subset``, ...) format the values as
    ``Styler.format`` does, escaped the same way.

    Returns a pandas ``Styler``, which notebooks and the book show as an HTML table.
    """
    styler = frame.style.format(escape="html").format_index(escape="html", axis=1)
    floats = [c for c in frame.columns if str(frame[c].dtype).startswith("float")]
    if floats:
        styler = styler.format(_number, subset=floats, escape="html")
    if formatter is not None or options:
        styler = styler.format(formatter, escape="html", **options)
    if not index:
        styler = styler.hide(axis="index")
    cell = {
        "white-space": "normal",
        "overflow-wrap": "anywhere",
        "padding": CELL_PADDING,
        "text-align": "left",
    }
    heading = {k: v for k, v in cell.items() if k != "overflow-wrap"}  # per name, below
    return (
        styler.set_properties(**cell)
        .map(_short_value)
        .map_index(lambda name: _short_value(name) or "overflow-wrap: anywhere", axis=1)
        .set_table_styles([{"selector": "th", "props": list(heading.items())}], overwrite=False)
    )


SHORT_VALUE = 12
"""A cell that is one word of at most this many characters (``0.0002``, ``holds``,
``inconclusive``, a column name such as ``status``) never breaks inside it; every other cell may
break anywhere, so that long names and paths let the table fit the text column."""


def _short_value(value: Any) -> str:
    """The extra CSS of a :func:`table` cell or column name: kept whole when it is one short word."""
    text = str(value).strip()
    return (
        "overflow-wrap: normal"
        if len(text) <= SHORT_VALUE and not any(ch.isspace() for ch in text)
        else ""
    )


CELL_PADDING = "0.25em 0.6em"
"""The padding of :func:`table`'s cells: adjacent cells' text stays apart (``make check-book``'s cells check)."""


def _number(value: Any, digits: int = 4) -> str:
    """A float to its precision: ``digits`` significant digits, trailing zeros dropped (0.82, not 0.820000).

    Whole numbers keep every integer digit (12346, not 1.235e+04); NaN shows as ``-``.
    """
    if value is None or value != value:
        return "-"
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# ------------------------------------------------------------------------------------------------
# how long each chapter runs: measured by the book build, shown under each chapter's title

RUN_TIMES = ("book", "run_times.json")
"""Where the measured running times are, inside the results folder (``results/book/run_times.json``)."""


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what the platform module says)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def read_run_times(path: Path) -> dict[str, dict[str, Any]]:
    """The running times recorded in ``path`` (chapter -> entry); none when the file is missing."""
    import json

    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        chapters = data["chapters"]
        for entry in chapters.values():
            float(entry["seconds"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{path} is not a record of running times "
            f'({{"chapters": {{"01_data": {{"seconds": ...}}}}}}): {error!r}'
        ) from None
    return chapters


def record_run_time(
    path: Path,
    chapter: str,
    seconds: float,
    *,
    threads: int,
    how: str,
    profile: str = "book",
    date: str | None = None,
) -> dict[str, Any]:
    """Record in ``path`` that ``chapter`` ran in ``seconds`` here: the CPU, its cores, the torch
    threads, the date and ``how`` it was measured. Other chapters' entries are kept."""
    import datetime
    import json

    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
        raise ValueError(
            f"the running time of {chapter} must be a number of seconds; got {seconds!r}"
        )
    chapters = read_run_times(path)
    entry = {
        "seconds": round(float(seconds), 1),
        "profile": profile,
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "torch_threads": int(threads),
        "date": date or datetime.date.today().isoformat(),
        "how": how,
    }
    chapters[chapter] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"chapters": dict(sorted(chapters.items()))}, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
    return entry


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    return f"{round(seconds / 60)} minutes"


def running_time_text(chapter: str, chapters: dict[str, dict[str, Any]]) -> str:
    """The line under a chapter's title, from its recorded entry (Markdown)."""
    entry = chapters.get(chapter)
    if entry is None:
        return (
            f"*Running time: not measured yet (the book build records it in "
            f"results/{'/'.join(RUN_TIMES)}); in Colab the first cell's install comes on top.*"
        )
    threads = entry["torch_threads"]
    return (
        f"*Running time: {_duration(entry['seconds'])} at the {entry['profile']} profile, "
        f"measured {entry['how']} on {entry['date']} ({entry['cpu']}, {entry['cores']} cores, "
        f"{threads} torch thread{'s' if threads != 1 else ''}); "
        f"in Colab the first cell's install comes on top.*"
    )


def running_time(chapter: str) -> Any:
    """The measured running time of ``chapter`` (``"01_data"``) as a Markdown line, for the top of
    the chapter; "not measured yet" when no build recorded it or no results folder is found."""
    from IPython.display import Markdown

    try:
        path = results_dir().joinpath(*RUN_TIMES)
    except FileNotFoundError:
        return Markdown(running_time_text(chapter, {}))
    return Markdown(running_time_text(chapter, read_run_times(path)))
