"""The names the study's report module used to hold, kept for code that imports them from here.

The report is now two modules: :mod:`rvit.study.analysis` loads the results and computes every
number of the readings, and :mod:`rvit.study.text` writes every sentence, the terminal report
(``python -m rvit study report``) included. New code imports from those.
"""

from __future__ import annotations

from rvit.study.analysis import (
    AA_METRIC,
    PIXEL_NN,
    ExperimentResults,
    ReadingResult,
    aa_control,
    analyse,
    analyse_reading,
    attention_cost,
    claim_table,
    contrast_values,
    gate_check,
    gate_frame,
    get_metric,
    inference_notes,
    judge,
    load_experiment,
    metrics_frame,
    online_frame,
    pixel_bar_readings,
    pixel_baseline,
    readings_frame,
    rerun_command,
    study_compute,
    study_results,
)
from rvit.study.text import (
    aa_line,
    attention_lines,
    claim_texts,
    format_effect,
    format_p,
    print_report,
    traceability_line,
)

__all__ = [
    "AA_METRIC",
    "PIXEL_NN",
    "ExperimentResults",
    "ReadingResult",
    "aa_control",
    "aa_line",
    "analyse",
    "analyse_reading",
    "attention_cost",
    "attention_lines",
    "claim_table",
    "claim_texts",
    "contrast_values",
    "format_effect",
    "format_p",
    "gate_check",
    "gate_frame",
    "get_metric",
    "inference_notes",
    "judge",
    "load_experiment",
    "metrics_frame",
    "online_frame",
    "pixel_bar_readings",
    "pixel_baseline",
    "print_report",
    "readings_frame",
    "rerun_command",
    "study_compute",
    "study_results",
    "traceability_line",
]
