"""Set up this environment's JupyterLab for the book's notebooks (``make lab`` and Binder run it).

JupyterLab 4 draws only the cells in view ("windowing"). jupyterlab-myst evaluates a markdown cell's
``{eval}`` roles (the numbers the prose quotes) when the cell runs, but a cell not yet drawn has none to
evaluate, so after *Run All* the numbers below the first screen stay missing. This script turns
windowing off for the notebooks of this environment: it merges
``{"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}`` into
``<sys.prefix>/share/jupyter/lab/settings/overrides.json``, the settings JupyterLab applies to every user
of this installation (a user's own setting still wins). It keeps any other overrides there, and
writing it twice changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

TRACKER = "@jupyterlab/notebook-extension:tracker"
OVERRIDES = {TRACKER: {"windowingMode": "none"}}


def overrides_path(prefix: str | Path = sys.prefix) -> Path:
    """Where JupyterLab of the environment at ``prefix`` reads its settings overrides."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def merge(current: dict, wanted: dict) -> dict:
    """``current`` with the plugins' settings of ``wanted`` set over it, other settings kept."""
    merged = {plugin: dict(values) for plugin, values in current.items()}
    for plugin, values in wanted.items():
        if not isinstance(merged.get(plugin, {}), dict):
            raise ValueError(f"overrides.json: the settings of {plugin!r} are not an object")
        merged.setdefault(plugin, {}).update(values)
    return merged


def write_overrides(path: Path, wanted: dict = OVERRIDES) -> dict:
    """Merge ``wanted`` into the overrides file at ``path`` (atomically); return what it now holds."""
    current: dict = {}
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); fix or remove it") from None
        if not isinstance(current, dict):
            raise ValueError(f"{path} must hold a JSON object of plugin settings")
    merged = merge(current, wanted)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".overrides-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(merged, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--prefix", default=sys.prefix, help="the environment to set up (default: this Python's)"
    )
    args = parser.parse_args(argv)
    path = overrides_path(args.prefix)
    write_overrides(path)
    print(f"{path}: notebook windowing off, so Run All evaluates every number in the prose")
    return 0


if __name__ == "__main__":
    sys.exit(main())
