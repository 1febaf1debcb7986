"""rvit.study.figures and the configurations' factors: figures fit the book's column, read what a
configuration is from its factors, and the factors never enter a run's key or its stored form."""

from __future__ import annotations

import json

import pytest

from rvit.notebook import results_dir
from rvit.study import analysis, bench, figures
from rvit.study.registry import PROFILES, get_experiments

FIGURES = (
    "temporal_features",
    "domain_gap",
    "patch_embedding",
    "attention",
    "recurrent_dropout",
    "memory",
    "classifier",
    "position_encoding",
    "video_length",
    "efficiency",
    "scalability",
    "augmentation",
)


@pytest.fixture(scope="module")
def study():
    root = results_dir()
    loaded, readings = analysis.study_results("book", root)
    return loaded, readings, bench.load_bench("length", root / "bench")


def test_factors_stay_out_of_the_key_and_the_stored_form():
    for experiment in get_experiments(None, "smoke"):
        for config in experiment.configs.values():
            assert config.factors, f"{experiment.name}: a configuration without factors"
            tagged = config.with_factors(extra=1)
            assert tagged.key() == config.key()
            assert tagged.to_dict() == config.to_dict()
            assert tagged == config  # factors do not take part in equality
            assert "factors" not in json.dumps(config.to_dict())


def test_factors_tell_every_configuration_of_an_experiment_apart():
    for experiment in get_experiments(None, PROFILES["book"]):
        seen = [json.dumps(c.factors, sort_keys=True) for c in experiment.configs.values()]
        assert len(set(seen)) == len(seen), experiment.name


def test_factors_record_the_varied_values():
    by_name = {e.name: e for e in get_experiments(None, "book")}
    rates = {
        c.factors["recurrent_dropout"]
        for c in by_name["recurrent_dropout"].configs.values()
        if c.factors["arch"] == "rvit"
    }
    assert rates == set(PROFILES["book"].dropouts)
    sizes = {c.factors["train_samples"] for c in by_name["scalability"].configs.values()}
    assert sizes == set(PROFILES["book"].train_sizes)
    gap = by_name["domain_gap"]
    assert gap.factor("video_g1", "domain_gap") == 1.0
    assert gap.factor("none", "domain_gap") is None  # stills are not degraded
    with pytest.raises(ValueError, match="no configuration"):
        gap.factor("nope", "domain_gap")


@pytest.mark.parametrize("name", FIGURES)
def test_figures_fit_the_column_and_state_their_seeds(study, name):
    loaded, _, bench = study
    make = getattr(figures, name)
    fig = make(loaded[name], bench) if name == "memory" else make(loaded[name])
    assert fig.get_figwidth() <= figures.WIDTH + 1e-9
    title = fig._suptitle.get_text()
    assert "seeds" in title or "repeats" in title
    for ax in fig.axes:
        if ax.get_visible():
            assert ax.get_xlabel() or ax.get_ylabel()


def test_evaluation_sets_are_read_from_their_specs(study):
    loaded, _, _ = study
    lengths = figures._eval_columns(loaded["position_encoding"], "frames")
    assert list(lengths.values()) == sorted(PROFILES["book"].test_lengths)
    sizes = figures._eval_columns(loaded["patch_embedding"], "image_size")
    assert list(sizes.values()) == sorted(PROFILES["book"].test_sizes)


def test_gap_sweep_keeps_video_training_at_its_own_gap(study):
    loaded, _, _ = study
    sweep = figures.gap_sweep(loaded["domain_gap"])
    videos = sweep[sweep.training == "videos"]
    assert (
        len(videos) == len(loaded["domain_gap"].experiment.seeds) * videos["domain gap"].nunique()
    )
    drops = figures.gap_drops(loaded["domain_gap"])
    assert set(drops) == set(sweep.training)


def test_readings_table_has_no_index_and_one_row_per_reading(study):
    _, readings, _ = study
    styled = figures.readings_table(readings, "classifier")
    assert len(styled.data) == sum(r.experiment == "classifier" for r in readings)
    assert "verdict" in styled.data.columns
    assert "row_heading" not in styled.to_html()  # no index


def test_the_design_of_version_3_fits_the_column_and_keeps_its_text_apart():
    from rvit import diagrams

    fig = figures.study_design(
        training=["images", "static clips", "pseudo-videos", "extracted frames", "videos"],
        experiments=13,
        configurations=28,
        seeds=12,
        readings=39,
        claims=18,
        level=0.95,
        alpha=0.05,
        gate=0.9,
    )
    assert fig.get_figwidth() <= diagrams.WIDTH + 1e-9
    assert diagrams.min_font_pt(fig) >= diagrams.MIN_FONT_PT
    assert diagrams.text_problems(fig) == []
    shown = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "bootstrap over seeds" in shown and "held-out" in shown and "× 12 seeds" in shown


def test_an_incomplete_experiment_draws_what_it_waits_for(tmp_path):
    from IPython.display import Markdown

    empty = analysis.load_experiment("classifier", "v3", tmp_path, strict=False)
    shown = figures.draw(empty)
    assert isinstance(shown, Markdown) and "none of its" in shown.data
    memory = analysis.load_experiment("memory", "v3", tmp_path, strict=False)
    assert "bench/length-v3.json" in figures.draw(memory).data


def test_draw_gives_an_experiments_figure_when_its_results_are_complete(study):
    loaded, _, _ = study
    fig = figures.draw(loaded["classifier"])
    assert fig.get_figwidth() <= figures.WIDTH + 1e-9
