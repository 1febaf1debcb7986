"""rvit.notebook.table: a DataFrame styled to fit the book's text column."""

from __future__ import annotations

import pandas as pd

from rvit.notebook import table


def test_table_lets_long_words_break_so_it_fits_the_column():
    frame = pd.DataFrame({"image": ["v_Biking_g01_c02_frame_0007.jpg"], "frame": [7]})
    html = table(frame).to_html()
    assert "overflow-wrap: anywhere" in html and "white-space: normal" in html


def test_table_keeps_the_index_when_asked():
    html = table(pd.DataFrame({"value": [1]}, index=["row name"]), index=True).to_html()
    assert "row name" in html
