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


def test_table_shows_cells_and_column_names_as_text():
    frame = pd.DataFrame({"reads <root>": ["root/<class>/<image>"], "x": [1.23456]})
    html = table(frame, {"x": "{:.1f}"}).to_html()
    assert "root/&lt;class&gt;/&lt;image&gt;" in html and "<image>" not in html
    assert "reads &lt;root&gt;" in html
    assert ">1.2<" in html


def test_table_formats_values_like_styler_format():
    html = table(pd.DataFrame({"a": [0.123456], "b": [None]}), precision=2, na_rep="-").to_html()
    assert ">0.12<" in html and ">-<" in html
