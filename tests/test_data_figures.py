"""rvit.data.figures: the data figures fit the book's column, and frame_grid lays out labelled rows."""

from __future__ import annotations

import pytest
import torch

from rvit.data.figures import WIDTH, filmstrips, frame_grid, gallery
from rvit.data.synthetic import MOTION_PAIRS


def test_data_figures_fit_the_column():
    figures = [
        gallery({"image_size": 16, "difficulty": 0.0}, per_class=4),
        filmstrips(frames=12, pairs=MOTION_PAIRS[:1], image_size=16),
        frame_grid({"a": torch.rand(20, 3, 8, 8)}),
    ]
    for fig in figures:
        assert fig.get_figwidth() <= WIDTH + 1e-9


def test_frame_grid_labels_rows_columns_and_frames():
    rows = {"long clip": torch.rand(3, 3, 8, 8), "short": [torch.rand(1, 8, 8)] * 2}
    fig = frame_grid(rows, column_titles=["x", "y"], frame_labels=True, title="t")
    axes = fig.axes
    assert len(axes) == 6
    assert [ax.get_ylabel() for ax in axes[::3]] == ["long clip", "short"]
    assert [ax.get_title() for ax in axes[:2]] == ["x", "y"]
    assert [ax.get_xlabel() for ax in axes[:3]] == ["t = 0", "t = 1", "t = 2"]
    assert not axes[5].get_visible()  # the short row has no third frame
    assert fig._suptitle.get_text() == "t"


def test_frame_grid_rejects_empty_rows_and_extra_titles():
    with pytest.raises(ValueError, match="rows"):
        frame_grid({})
    with pytest.raises(ValueError, match="column_titles"):
        frame_grid({"a": torch.rand(2, 3, 8, 8)}, column_titles=["1", "2", "3"])
