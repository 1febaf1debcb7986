"""What the book's notebooks need wherever they run: in the book build, in Jupyter, in Colab or Binder.

* :func:`glue` stores a value for the prose (``{glue:text}`name```) through ``myst_nb.glue`` when myst-nb
  is installed (the book build, ``make lab``); elsewhere (a bare Colab runtime) it only shows the value,
  so a chapter runs the same without the book's tools.
* :func:`table` styles a DataFrame for reading in the book's column: no index, text wrapped and shown
  as text.
* :func:`results_dir` finds the committed ``results/`` folder through the package, not through a path
  relative to the notebook, so a notebook copied anywhere still reads the study's results.

This module imports nothing heavy: every chapter, the first included, may use it.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_ENV", "glue", "results_dir", "table"]

RESULTS_ENV = "RVIT_RESULTS_DIR"
"""Environment variable naming the results folder; it overrides the one found next to the package."""


def _plain(value: Any) -> Any:
    """NumPy and torch scalars as plain Python numbers, so ``{glue:text}`` can format them."""
    if type(value).__module__.split(".")[0] in ("numpy", "torch") and hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError, RuntimeError):
            return value
    return value


def glue(name: str, value: Any, display: bool = True) -> None:
    """Glue ``value`` under ``name`` for the prose, or just show it when myst-nb is not installed.

    With myst-nb this is ``myst_nb.glue(name, value, display=display)``. Without it nothing can read
    a glued value, so the value is displayed when ``display`` is true and otherwise dropped.
    """
    value = _plain(value)
    try:
        myst_nb = importlib.import_module("myst_nb")
    except ImportError:
        myst_nb = None
    if myst_nb is not None:
        myst_nb.glue(name, value, display=display)
        return
    if display:
        from IPython.display import display as show

        show(value)


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


def table(frame: Any, formatter: Any = None, *, index: bool = False, **options: Any) -> Any:
    """``frame`` styled for reading: without its index (unless ``index``), long text wrapped in the column.

    Words wrap at spaces, and a long word without spaces (a file name, a path) may break anywhere, so
    the table fits the book's text column instead of overflowing it. Cells and column names are shown
    as text: ``<class>/<image>`` reads as written instead of becoming HTML. ``formatter`` and
    ``options`` (``precision``, ``na_rep``, ``subset``, ...) format the values as
    ``Styler.format`` does, escaped the same way.

    Returns a pandas ``Styler``, which notebooks and the book show as an HTML table.
    """
    styler = frame.style.format(escape="html").format_index(escape="html", axis=1)
    if formatter is not None or options:
        styler = styler.format(formatter, escape="html", **options)
    if not index:
        styler = styler.hide(axis="index")
    return styler.set_properties(
        **{"white-space": "normal", "overflow-wrap": "anywhere", "text-align": "left"}
    )
