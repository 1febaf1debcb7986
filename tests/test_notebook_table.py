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


def test_table_shows_floats_to_their_precision_and_pads_its_cells():
    frame = pd.DataFrame({"acc": [0.82, 0.8234567], "n": [3, 12], "flops": [12345.6, 0.000123]})
    html = table(frame).to_html()
    assert "0.820000" not in html and ">0.82<" in html and ">0.8235<" in html
    assert ">12346<" in html and ">0.000123<" in html and ">12<" in html
    assert html.count("padding: 0.25em 0.6em") == 2  # the cells and the column names
    assert "overflow-wrap: normal" in html  # short values and names stay whole
    # an explicit precision still wins
    assert ">0.82<" in table(frame, precision=2).to_html()
    assert ">0.823<" in table(frame, precision=3).to_html()


def test_table_keeps_short_values_whole():
    """A narrow column of short values stays whole (``0.0002``, not ``0.00`` over ``02``); other
    cells may break anywhere so the table fits the column."""
    import re

    frame = pd.DataFrame(
        {"status": ["holds", "temporal_features/pseudo_video"], "p value": ["0.0002", "-"]}
    )
    html = table(frame).to_html()
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", html.split("</style>")[0])
    wrap = {}
    for selectors, props in rules:
        found = re.findall(r"overflow-wrap: (\w+)", props)
        for selector in selectors.split(","):
            if found and "_" in selector:
                wrap[selector.strip().split("_", 2)[-1]] = found[-1]
    assert wrap == {
        "row0_col0": "normal",
        "row0_col1": "normal",
        "row1_col0": "anywhere",
        "row1_col1": "normal",
        "level0_col0": "normal",
        "level0_col1": "anywhere",
    }
