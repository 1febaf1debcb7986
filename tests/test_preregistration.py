"""Pre-registration of a study version: the registry hash, the document, the deviations log, and the
runner's refusal of a registry that departs from its pre-registration. Nothing here trains: the
runner's training is replaced by a stub, and every document goes to a temporary folder."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from rvit.study import experiments, preregistration, runner, store
from rvit.study.experiments import get_experiments
from rvit.study.preregistration import (
    PreregistrationError,
    check_preregistered,
    experiment_hashes,
    load_deviations,
    read_preregistration,
    record_deviation,
    registry_hash,
    write_preregistration,
)
from rvit.study.profiles import PROFILES

TINY = dataclasses.replace(
    PROFILES["smoke"], name="tiny", train_samples=16, train_sizes=(8,), seeds=(0, 1)
)
SUBSET = ("temporal_features", "scalability")
DATE = "2030-01-02"


@pytest.fixture
def subset(monkeypatch):
    """The registry cut to two experiments (a pre-registration covers every experiment; these two
    keep the tests quick and every reading in accuracy units)."""
    monkeypatch.setattr(
        preregistration, "get_experiments", lambda names, prof: get_experiments(SUBSET, prof)
    )


@pytest.fixture
def folder(tmp_path, monkeypatch, subset) -> Path:
    """Where the documents go: a temporary folder, also the runner's default."""
    where = tmp_path / "study"
    monkeypatch.setattr(preregistration, "STUDY_DIR", where)
    return where


def _register(folder: Path, tmp_path: Path, profile=TINY, smallest_effect=0.02) -> Path:
    return write_preregistration(
        profile, smallest_effect, folder=folder, results_dir=tmp_path / "results", date=DATE
    )


def _stub_execute(config, seed, device="cpu", progress=False):
    metrics = {name: {"top1": 0.5} for name in config.evals}
    return {"metrics": {"train": {"top1": 0.5}, **metrics}, "timings": {"total_s": 0.0}}


# ------------------------------------------------------------------------------------------------
# the hash


def test_the_hash_is_deterministic_and_follows_the_resolved_registry(subset):
    first = registry_hash(TINY)
    assert len(first) == 64 and registry_hash(TINY) == first
    assert registry_hash(dataclasses.replace(TINY)) == first
    # a profile value changes the study while no file of the registry changes
    assert registry_hash(dataclasses.replace(TINY, seeds=(0, 1, 2))) != first
    harder = dataclasses.replace(TINY, difficulty=0.75)
    assert registry_hash(harder) != first
    before, after = experiment_hashes(TINY), experiment_hashes(harder)
    assert set(before) == set(SUBSET) and all(before[n] != after[n] for n in SUBSET)
    # the name of the profile, its wording and its bookkeeping fields are not the study
    assert registry_hash(dataclasses.replace(TINY, name="other", preregistered=True)) == first
    # a default smallest effect of interest is part of what is registered
    assert registry_hash(TINY, 0.02) != first and registry_hash(TINY, 0.02) != registry_hash(
        TINY, 0.03
    )


def test_the_hash_follows_a_readings_margin(subset, monkeypatch):
    before = experiment_hashes(TINY)
    monkeypatch.setattr(experiments, "APPEARANCE_MARGIN", experiments.APPEARANCE_MARGIN + 0.01)
    after = experiment_hashes(TINY)
    assert after["temporal_features"] != before["temporal_features"]
    assert after["scalability"] == before["scalability"]  # no margin there: only one differs


def test_the_hash_follows_the_analysis_code(subset, tmp_path):
    present = [n for n in preregistration.ANALYSIS_FILES if (store.ROOT / n).exists()]
    for name in present:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(store.ROOT / name, tmp_path / name)
    base = registry_hash(TINY, code_root=tmp_path)
    assert base == registry_hash(TINY)  # the same files as the repository's
    stats = tmp_path / "rvit/study/stats.py"
    text = stats.read_bytes()
    stats.write_bytes(text.replace(b"\n", b"\r\n"))  # a Windows checkout hashes the same
    assert registry_hash(TINY, code_root=tmp_path) == base
    stats.write_bytes(text.replace(b"LEVEL = 0.95", b"LEVEL = 0.9"))
    assert registry_hash(TINY, code_root=tmp_path) != base
    stats.write_bytes(text)
    (tmp_path / "rvit/study/bootstrap.py").unlink(missing_ok=True)
    (tmp_path / "rvit/study/bootstrap.py").write_text("B = 1000\n")  # a new analysis file counts
    assert registry_hash(TINY, code_root=tmp_path) != base
    assert set(preregistration.analysis_hashes(tmp_path)) == {
        *present,
        "rvit/study/bootstrap.py",
    }


# ------------------------------------------------------------------------------------------------
# the document


def test_the_document_round_trips_its_hash(folder, tmp_path):
    path = _register(folder, tmp_path)
    assert path == folder / "preregistration-tiny.md"
    doc = read_preregistration(TINY, folder)
    assert doc.registry_hash == registry_hash(TINY, 0.02)
    assert (doc.profile, doc.written, doc.smallest_effect) == ("tiny", DATE, 0.02)
    assert doc.commit and doc.commit != "unknown"  # the commit it was written at (this checkout's)
    assert dict(doc.experiments) == experiment_hashes(TINY, 0.02)
    assert set(doc.analysis) == set(preregistration.analysis_hashes())
    text = path.read_text()
    assert f"registry-hash: {doc.registry_hash}" in text
    assert "| primary reading | appearance classes (experiment `temporal_features`) |" in text
    # a reading true by construction is listed as a sanity check, outside the family
    assert "## Sanity checks" in text and "motion direction: " in text
    assert "| equivalence margin | ±5 points (0.05) |" in text  # versatility: "adapts"
    assert "| Holm family | yes |" in text and "## Secondary readings" in text
    assert "## Analysis rule" in text and "alpha = 0.05" in text and "Holm" in text
    assert "| seeds | 0, 1 (2 seeds) |" in text
    assert read_preregistration(dataclasses.replace(TINY, name="none"), folder) is None


def test_a_document_is_written_once_and_before_any_result(folder, tmp_path):
    _register(folder, tmp_path)
    with pytest.raises(PreregistrationError, match="written once"):
        _register(folder, tmp_path)
    other = dataclasses.replace(TINY, name="later")
    result = tmp_path / "results" / "scalability" / "n8__seed0.json"
    result.parent.mkdir(parents=True)
    result.write_text(json.dumps({"profile": "later", "seed": 0}))
    with pytest.raises(PreregistrationError, match="1 result"):
        _register(folder, tmp_path, other)
    with pytest.raises(PreregistrationError, match="smoke"):
        _register(folder, tmp_path, PROFILES["smoke"])
    with pytest.raises(PreregistrationError, match="closed"):
        _register(folder, tmp_path, dataclasses.replace(TINY, name="shut", code="0" * 16))
    assert not (folder / "preregistration-later.md").exists()


def test_every_primary_reading_needs_a_smallest_effect(tmp_path, monkeypatch):
    # the memory reading is in MiB, which an accuracy default cannot cover: from version 3 on it
    # states its own, and without it the pre-registration is refused
    memory = experiments.get_experiment("memory", TINY)
    primary = next(r for r in memory.readings if r.primary)
    assert primary.contrast.units == "MiB" and primary.smallest_effect is not None
    unstated = dataclasses.replace(
        memory,
        readings=tuple(
            dataclasses.replace(r, smallest_effect=None) if r.primary else r
            for r in memory.readings
        ),
    )
    with monkeypatch.context() as patch:
        patch.setattr(preregistration, "get_experiments", lambda names, prof: [unstated])
        with pytest.raises(PreregistrationError, match=r"memory/streaming vs\. batch"):
            write_preregistration(TINY, 0.02, folder=tmp_path, results_dir=tmp_path / "results")
    # the whole registry: accuracy readings without a default
    with pytest.raises(PreregistrationError, match="smallest effect"):
        write_preregistration(TINY, None, folder=tmp_path, results_dir=tmp_path / "results")
    assert not any(tmp_path.iterdir())
    # a reading in MiB is not covered by a default in points of accuracy: it states its own
    memory = next(e for e in get_experiments(["memory"], TINY)).readings[0]
    assert memory.primary and memory.contrast.units == "MiB" and memory.smallest_effect


# ------------------------------------------------------------------------------------------------
# the check and the runner


def test_the_runner_refuses_a_changed_registry_until_a_deviation_accepts_it(
    folder, tmp_path, monkeypatch
):
    monkeypatch.setattr(runner, "execute", _stub_execute)
    _register(folder, tmp_path)
    registered = read_preregistration(TINY, folder).registry_hash
    assert check_preregistered(TINY, folder=folder) == registered
    changed = dataclasses.replace(TINY, difficulty=0.75)
    now = registry_hash(changed, 0.02)
    out = tmp_path / "results"
    with pytest.raises(PreregistrationError) as caught:
        runner.run_study(["scalability"], changed, out, progress=False, allow_dirty=True)
    message = str(caught.value)
    assert registered in message and now in message and "'tiny'" in message
    assert "rvit study deviate --profile tiny" in message and "\n" not in message
    assert "experiments scalability, temporal_features" in message
    assert not out.exists()  # refused before anything ran

    entry = record_deviation(
        changed, "difficulty 0.5 -> 0.75", "the pilot showed chance", results_dir=out, date=DATE
    )
    assert entry.registry_hash == now and entry.previous_hash == registered
    assert entry.decided == "before results" and entry.results == 0
    assert entry.changed == SUBSET[::-1]  # sorted: scalability, temporal_features
    assert load_deviations(TINY, folder) == [entry]
    summary = runner.run_study(["scalability"], changed, out, progress=False, allow_dirty=True)
    records = [json.loads(p.read_text()) for p in out.glob("scalability/*.json")]
    assert summary.trained > 0 and len(records) == summary.tasks
    assert all(r["registry_hash"] == now for r in records)
    configs = get_experiments(["scalability"], changed)[0].configs
    for r in records:  # the new field leaves the matching of results alone
        assert store.match_result(r, configs[r["config_id"]], r["seed"], changed) == ""
    # the registered registry still runs; a deviation after results says so
    assert check_preregistered(TINY) == registered
    later = record_deviation(changed, "nothing", "a procedural note", results_dir=out)
    assert later.decided == "after results" and later.results == len(records)
    with pytest.raises(PreregistrationError, match="decided after results"):
        record_deviation(changed, "x", "y", decided="before", results_dir=out)
    assert len(load_deviations(TINY)) == 2


def test_a_profile_that_requires_preregistration_is_refused_without_one(
    folder, tmp_path, monkeypatch
):
    monkeypatch.setattr(runner, "execute", _stub_execute)
    required = dataclasses.replace(TINY, name="v9", preregistered=True)
    with pytest.raises(PreregistrationError, match="rvit study preregister --profile v9") as caught:
        runner.run_study(["scalability"], required, tmp_path / "out", allow_dirty=True)
    assert "must be pre-registered" in str(caught.value)
    assert not (tmp_path / "out").exists()
    with pytest.raises(PreregistrationError, match="no pre-registration"):
        record_deviation(required, "a", "b", results_dir=tmp_path / "out")


def test_smoke_and_unregistered_profiles_are_unaffected(folder, tmp_path, monkeypatch):
    assert check_preregistered(PROFILES["smoke"]) is None
    assert check_preregistered(TINY) is None  # no document, not required
    # even a smoke document (none can be written) would not be checked
    folder.mkdir(parents=True)
    (folder / "preregistration-smoke.md").write_text(f"profile: smoke\nregistry-hash: {'0' * 64}\n")
    assert check_preregistered(PROFILES["smoke"]) is None
    monkeypatch.setattr(runner, "execute", _stub_execute)
    summary = runner.run_study(
        ["scalability"], TINY, tmp_path / "out", progress=False, allow_dirty=True
    )
    records = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*/*.json")]
    assert summary.trained and records and not any("registry_hash" in r for r in records)


def test_an_uncommitted_document_is_refused_in_a_git_tree(subset, tmp_path):
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    folder = tmp_path / "study"
    _register(folder, tmp_path)
    with pytest.raises(PreregistrationError, match="untracked"):
        check_preregistered(TINY, folder=folder, require_committed=True)
    assert check_preregistered(TINY, folder=folder) is not None  # --allow-dirty
    git("add", ".")
    git("commit", "-q", "-m", "pre-register")
    assert check_preregistered(TINY, folder=folder, require_committed=True) is not None


def test_the_command_line_writes_and_deviates(folder, tmp_path, monkeypatch, capsys):
    from rvit.cli import main

    monkeypatch.setitem(PROFILES, "tiny", TINY)
    results = str(tmp_path / "results")
    common = ["--profile", "tiny", "--results-dir", results, "--dir", str(folder)]
    assert main(["study", "preregister", *common, "--smallest-effect", "0.02"]) == 0
    assert "preregistration-tiny.md" in capsys.readouterr().out
    assert read_preregistration("tiny", folder).smallest_effect == 0.02
    assert main(["study", "deviate", *common, "--what", "w", "--why", "y"]) == 0
    assert "before results" in capsys.readouterr().out
    assert [d.what for d in load_deviations("tiny", folder)] == ["w"]
    assert main(["study", "preregister", *common]) == 1
    assert "written once" in capsys.readouterr().err
    assert main(["study", "preregister", "--profile", "smoke", "--dir", str(folder)]) == 1
    assert "smoke" in capsys.readouterr().err


def test_a_reading_states_a_positive_smallest_effect_unless_exact():
    from rvit.study.schema import Reading

    reading = get_experiments(["scalability"], TINY)[0].readings[0]
    assert reading.smallest_effect is None  # the default: existing readings are unchanged
    assert dataclasses.replace(reading, smallest_effect=0.01).smallest_effect == 0.01
    with pytest.raises(ValueError, match="positive"):
        dataclasses.replace(reading, smallest_effect=0.0)
    with pytest.raises(ValueError, match="exact reading takes no smallest effect"):
        Reading(reading.claim, "x", "x", reading.contrast, exact=True, smallest_effect=0.1)
    assert preregistration.resolved_smallest_effect(reading, 0.02) == 0.02
    assert preregistration.resolved_smallest_effect(reading) is None
