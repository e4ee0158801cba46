"""CLI commands that need no speech recognition: scan-text, models."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from auditor.models import BASE_MODEL_SHA256
from tests.conftest import run_cli


def test_scan_text_reports_lines_and_offsets() -> None:
    text = "大家好\n这款面膜全網最低價\n我最好的朋友\n"
    done = run_cli("scan-text", "-", "--format", "jsonl", stdin=text)
    assert done.returncode == 1  # price.fake_reference is high
    [row] = [json.loads(line) for line in done.stdout.splitlines()]
    assert row["line"] == 2 and row["category"] == "price.fake_reference"
    line = text.splitlines()[1]
    assert line[row["char_start"] : row["char_end"]] == row["matched"] == "全網最低價"


def test_scan_text_clean_input_exits_0() -> None:
    done = run_cli("scan-text", "--format", "jsonl", stdin="最近很多朋友在问发货的问题\n")
    assert done.returncode == 0 and done.stdout == ""


def test_scan_text_fail_on_medium() -> None:
    done = run_cli("scan-text", "--fail-on", "medium", "--format", "table", stdin="顶级工艺\n")
    assert done.returncode == 1
    assert "absolute.superlative" in done.stdout
    assert run_cli("scan-text", stdin="顶级工艺\n").returncode == 0  # medium < high


def test_scan_text_missing_file() -> None:
    done = run_cli("scan-text", "/no/such/file.txt")
    assert done.returncode == 2 and "/no/such/file.txt" in done.stderr


def test_models_json_lists_the_default() -> None:
    run_cli("scan-text", stdin="")  # nothing assembles the model here
    done = run_cli("models", "--format", "json")
    assert done.returncode == 0, done.stderr
    models = json.loads(done.stdout)
    assert {"name", "path", "installed", "default"} <= set(models[0])
    [default] = [m for m in models if m["default"]]
    assert default["name"] == "base"
    for m in models:
        assert (m["path"] is None) == (not m["installed"])


def test_default_model_is_assembled_once_and_verified(demo_report: dict[str, object]) -> None:
    from auditor.models import base_model_dir

    done = run_cli("models", "--format", "json")
    [base] = [m for m in json.loads(done.stdout) if m["name"] == "base"]
    assert base["installed"] and base["path"] == str(base_model_dir())
    assert demo_report["model"]["sha256"] == BASE_MODEL_SHA256  # type: ignore[index]


def test_reports_are_ordinary_files_not_private(tmp_path: Path) -> None:
    from auditor.files import write_atomic

    target = tmp_path / "report.json"
    write_atomic(target, "{}\n")
    old = os.umask(0o022)
    try:
        write_atomic(target, "{}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind
