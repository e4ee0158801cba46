"""The whole pipeline on real media: the sample's claims at the right second, clean speech clean."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, DEMO, run_cli

TOLERANCE = 1.0  # seconds: a finding must be within a second of the clip that holds the claim


def _clip_at(key: dict[str, Any], seconds: float) -> dict[str, Any] | None:
    """The clip nearest to a moment, if the moment is within the tolerance of any clip."""

    def distance(clip: dict[str, Any]) -> float:
        return max(clip["start"] - seconds, seconds - clip["end"], 0.0)

    nearest = min(key["clips"], key=distance)
    return nearest if distance(nearest) <= TOLERANCE else None


def _said(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["channel"] == "speech"]


def test_every_claim_in_the_sample_is_found_where_it_was_said(
    demo_report: dict[str, Any], demo_key: dict[str, Any]
) -> None:
    findings = _said(demo_report)
    for clip in demo_key["clips"]:
        for category in clip["expect"]:
            hits = [
                f
                for f in findings
                if f["category"] == category
                and clip["start"] - TOLERANCE <= f["start"] <= clip["end"] + TOLERANCE
            ]
            assert hits, f"{category} not found in {clip['id']} ({clip['text']})"


def test_no_finding_in_clean_talk_or_traps(
    demo_report: dict[str, Any], demo_key: dict[str, Any]
) -> None:
    for finding in _said(demo_report):
        clip = _clip_at(demo_key, finding["start"])
        assert clip is not None, f"finding outside any speech: {finding}"
        assert finding["category"] in clip["expect"], (
            f"false finding {finding['matched']!r} ({finding['category']}) in "
            f"{clip['id']}: {clip['text']}"
        )


def test_finding_times_are_the_matched_words_not_the_segment(demo_report: dict[str, Any]) -> None:
    segments = demo_report["transcript"]["segments"]
    for f in _said(demo_report):
        assert 0 <= f["start"] < f["end"]
        seg = next(s for s in segments if s["start"] - 0.01 <= f["start"] <= s["end"] + 0.01)
        # A short term spans a fraction of its sentence.
        if len(f["matched"]) <= 3:
            assert f["end"] - f["start"] < (seg["end"] - seg["start"]) * 0.8, f


def test_findings_carry_every_field(demo_report: dict[str, Any]) -> None:
    required = {
        "source",
        "category",
        "rule",
        "severity",
        "matched",
        "start",
        "end",
        "context",
        "legal_basis",
        "confidence",
        "match",
    }
    assert demo_report["findings"]
    for f in demo_report["findings"]:
        assert required <= set(f), required - set(f)
        assert (
            f["matched"] in f["context"].replace(",", "").replace("，", "") or f["match"] != "exact"
        )
        assert 0 < f["confidence"] <= 1
        assert f["match"] in {"exact", "variant", "sound-alike"}
        assert f["severity"] in {"low", "medium", "high"}
        assert f["rule"].startswith(f["category"] + "/")


def test_the_samples_claim_overlay_is_found_and_its_clean_one_is_not(
    demo_report: dict[str, Any], demo_key: dict[str, Any]
) -> None:
    shown = [f for f in demo_report["findings"] if f["channel"] == "screen"]
    claims = [o for o in demo_key["overlays"] if o["expect"]]
    assert len(shown) == len(claims) == 1
    overlay, finding = claims[0], shown[0]
    assert finding["category"] == overlay["expect"]
    assert overlay["start"] <= finding["start"] <= overlay["start"] + 2.5
    clean = next(o for o in demo_key["overlays"] if not o["expect"])
    read = "".join(span["text"] for span in demo_report["screen"]["spans"])
    assert clean["text"].replace(" ", "") in read


def test_report_records_source_model_and_settings(demo_report: dict[str, Any]) -> None:
    assert demo_report["source"]["size"] == DEMO.stat().st_size
    assert len(demo_report["source"]["sha256"]) == 64
    assert demo_report["source"]["has_video"] is True
    assert 40 < demo_report["source"]["duration"] < 60
    assert demo_report["model"]["name"] == "base"
    assert demo_report["model"]["compute_type"] == "int8"
    assert demo_report["settings"]["asr"]["language"] == "zh"
    assert demo_report["lexicon"]["version"]
    # Whisper writes traditional characters; the transcript quoted is simplified.
    text = "".join(s["text"] for s in demo_report["transcript"]["segments"])
    assert "直播间" in text and "網" not in text and "間" not in text


@pytest.mark.parametrize("clip", sorted(p.name for p in (DATA / "clips").glob("*.wav")))
def test_clean_speech_gives_no_findings(clip: str) -> None:
    done = run_cli("audit", str(DATA / "clips" / clip), "--format", "jsonl", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_table_shows_times_as_minutes_and_seconds() -> None:
    done = run_cli("audit", str(DEMO), "--format", "table", "-q")
    assert done.returncode == 1  # the demo holds high-severity claims; --fail-on defaults to high
    lines = [line for line in done.stdout.splitlines() if "price.fake_reference" in line]
    assert lines and all(line.strip()[:5].count(":") == 1 for line in lines)


def test_fail_on_threshold_sets_the_exit_code(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    assert (
        run_cli("audit", str(DEMO), "-q", "--fail-on", "never", "-o", str(report)).returncode == 0
    )
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert rows and all("category" in row for row in rows)
    csv_out = run_cli("audit", str(DEMO), "-q", "--format", "csv", "--fail-on", "low")
    assert csv_out.returncode == 1
    parsed = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    assert len(parsed) == len(rows)


def test_awkward_file_name_with_spaces_quotes_and_leading_dash(tmp_path: Path) -> None:
    awkward = tmp_path / "-live 'sale' \"day\" 1.mp4"
    shutil.copyfile(DEMO, awkward)
    done = run_cli(
        "audit", "--format", "jsonl", "-q", "--fail-on", "never", "--", awkward.name, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows and all(row["source"] == awkward.name for row in rows)
