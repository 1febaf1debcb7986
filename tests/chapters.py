"""The book's chapters and the rvit modules each one introduces: the order the package is told in.

Used by tests/test_notebooks.py (a notebook imports only what its chapter has introduced) and by
tests/test_layering.py (a module imports only modules of its own or earlier chapters)."""

from __future__ import annotations

# Which rvit modules each chapter introduces. A chapter may import the modules of its own and of every
# earlier chapter, nothing later: the package is built up in the order the book tells it.
CHAPTER_MODULES: dict[int, tuple[str, ...]] = {
    1: (
        "rvit.data.synthetic",
        "rvit.data.figures",
        "rvit.data.images",
        "rvit.data.video",
        "rvit.data.videosets",
        "rvit.data.mappings",
        "rvit.data.frames",
        "rvit.data.collate",
        "rvit.data.augment",
        "rvit.notebook",
    ),
    2: ("rvit.patch",),
    3: ("rvit.attention",),
    4: ("rvit.cell",),
    5: ("rvit.config", "rvit.model", "rvit.baselines"),
    6: ("rvit.train", "rvit.utils", "rvit.checkpoint", "rvit.data.clips", "rvit.data.loader"),
    7: ("rvit.evaluate",),
    8: ("rvit.study",),
    9: ("rvit.perf",),
    10: ("rvit.widgets",),
    11: ("rvit.data.labels", "rvit.data.leakage", "rvit.cli"),
}
# Packages whose import loads nothing by itself (their names are lazy).
LAZY_PACKAGES = {"rvit": "rvit", "rvit.data": "rvit.data"}
