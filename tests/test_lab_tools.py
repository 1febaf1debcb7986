"""The JupyterLab tools: the settings `make lab` and Binder apply, and the check of the prose's numbers
in JupyterLab (its parts that need no browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_modules import load_script

ROOT = Path(__file__).resolve().parents[1]


lab_settings = load_script("tools/lab_settings.py")
check_lab = load_script("tools/check_lab.py")
check_colab = load_script("tools/check_colab.py")


def test_overrides_turn_windowing_off_and_keep_other_settings(tmp_path: Path):
    path = lab_settings.overrides_path(tmp_path)
    assert path == tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    theme = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    mine = {lab_settings.TRACKER: {"kernelShutdown": True}}
    path.write_text(json.dumps({**theme, **mine}), encoding="utf-8")
    written = lab_settings.write_overrides(path)
    assert written == json.loads(path.read_text(encoding="utf-8"))
    assert written[lab_settings.TRACKER] == {"kernelShutdown": True, "windowingMode": "none"}
    assert written["@jupyterlab/apputils-extension:themes"] == theme[next(iter(theme))]
    before = path.read_bytes()
    lab_settings.write_overrides(path)  # a second run changes nothing
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["overrides.json"]  # no temporary file left


def test_overrides_refuse_a_broken_file(tmp_path: Path):
    path = tmp_path / "overrides.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="overrides.json is not valid JSON"):
        lab_settings.write_overrides(path)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        lab_settings.write_overrides(path)
    assert path.read_text(encoding="utf-8") == "[1, 2]"  # left as it was


def test_make_lab_and_binder_apply_the_settings():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(BIN)/python tools/lab_settings.py" in makefile
    post_build = ROOT / "postBuild"
    assert "python tools/lab_settings.py" in post_build.read_text(encoding="utf-8")
    assert post_build.stat().st_mode & 0o111, "Binder runs postBuild only when it is executable"


def test_scratch_copy_runs_the_smoke_profile(tmp_path: Path):
    notebook = ROOT / "notebooks" / "04_recurrent_cell.ipynb"
    copy = check_lab.scratch_copy(notebook, tmp_path)
    data = json.loads(copy.read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in data["cells"]]
    assert any(s.startswith('PROFILE = "smoke"') for s in sources)
    assert not any(s.startswith('PROFILE = "book"') for s in sources)
    original = json.loads(notebook.read_text(encoding="utf-8"))
    assert len(data["cells"]) == len(original["cells"])


def test_scratch_copy_runs_the_study_chapters_at_the_smoke_profile(tmp_path: Path):
    notebook = ROOT / "notebooks" / "08_study.ipynb"  # its default profile is the study's version
    data = json.loads(check_lab.scratch_copy(notebook, tmp_path).read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in data["cells"]]
    assert any(s.startswith('PROFILE = "smoke"') for s in sources)


def _state(expressions, raw_code=()):
    source = 'a {eval}`prose["n"]` and {eval}`prose["share:.1%"]`'
    return {
        "cells": [
            {"i": 0, "type": "code", "count": 1},
            {
                "i": 1,
                "type": "markdown",
                "source": source,
                "expressions": expressions,
                "raw_code": list(raw_code),
            },
        ]
    }


def _ok(expression):
    return {"expression": expression, "status": "ok", "ename": "", "evalue": ""}


def test_judge_passes_only_when_every_expression_showed_its_value():
    both = [_ok('prose["n"]'), _ok('prose["share:.1%"]')]
    result = check_lab.judge("x.ipynb", _state(both))
    assert result.ok and result.expressions == 2
    missing = check_lab.judge("x.ipynb", _state(both[:1]))
    assert missing.problems == ['cell 1: prose["share:.1%"] was not evaluated']
    failed = dict(both[1], status="error", ename="KeyError", evalue="'share'")
    broken = check_lab.judge("x.ipynb", _state([both[0], failed]))
    assert broken.problems == ["cell 1: prose[\"share:.1%\"] failed: KeyError: 'share'"]
    raw = check_lab.judge("x.ipynb", _state(both, raw_code=['prose["n"]']))
    assert raw.problems == ['cell 1: prose["n"] shows as raw code']


def test_check_lab_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setattr(check_lab, "find_browser", lambda explicit=None: None)
    assert check_lab.main([]) == 0
    assert "skipped: this check needs chromium" in capsys.readouterr().out
    assert check_lab.main(["--require"]) == 2


def test_the_colab_stand_in_holds_what_colab_has_and_not_the_package():
    packages = check_colab.colab_packages()
    names = [p.split("=")[0].split(">")[0].split("<")[0] for p in packages]
    assert "torch" in names and "torchvision" in names and "ipykernel" in names
    assert "av" not in names and "rvit" not in names  # the notebook's first cell installs these


def test_the_colab_copy_runs_smoke_and_checks_where_rvit_came_from(tmp_path: Path):
    notebook = ROOT / "notebooks" / "09_efficiency.ipynb"
    copy = check_colab.alone(notebook, tmp_path / "alone")
    assert [p.name for p in copy.parent.iterdir()] == [notebook.name]
    cells = json.loads(copy.read_text(encoding="utf-8"))["cells"]
    assert any("".join(c["source"]).startswith('PROFILE = "smoke"') for c in cells)
    last = "".join(cells[-1]["source"])
    assert "RVIT_COLAB_CHECKOUT" in last and "results_dir()" in last
    compile(last, "final-check", "exec")
    home = check_colab.git_home(tmp_path / "home")
    config = (home / ".gitconfig").read_text(encoding="utf-8")
    assert f"file://{ROOT}" in config and "insteadOf = https://github.com/" in config
