"""The screen channel on real video: overlays drawn with ffmpeg at known times (tests/data/screen,
made by scripts/make_screen_tests.py), read by the real OCR, scanned by the real scanner."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from auditor.detect import scan_screen
from auditor.lexicon import load_lexicon
from auditor.options import AuditOptions, ScreenOptions, settings_key
from auditor.scan import Scanner
from auditor.screentext import ScreenSpan, ScreenText
from tests.conftest import DATA, db_rows, run_cli

SCREEN = DATA / "screen"
VIDEO = SCREEN / "overlays.mp4"
KEY: dict[str, Any] = json.loads((SCREEN / "overlays.json").read_text(encoding="utf-8"))
LATENCY = 2.5  # seconds: a claim overlay must be found this soon after it appears


def _audit(tmp: Path, media: Path, *extra: str) -> dict[str, Any]:
    out = tmp / f"{media.stem}.json"
    done = run_cli(
        "audit", str(media), "--format", "json", "-o", str(out), "--fail-on", "never", "-q", *extra
    )
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _audit(tmp_path_factory.mktemp("screen"), VIDEO)


def _pixels(overlay: dict[str, Any]) -> tuple[float, float]:
    width, height = KEY["size"]
    return overlay["x"] * width, overlay["y"] * height


def _of_overlay(finding: dict[str, Any], overlay: dict[str, Any]) -> bool:
    """The finding is shown while the overlay was, and its box starts where the overlay was drawn
    (drawtext adds a border)."""
    x, y = _pixels(overlay)
    left, top, _, _ = finding["box"]
    height = KEY["size"][1]
    meanwhile = finding["start"] < overlay["end"] and overlay["start"] < finding["end"]
    return meanwhile and abs(left - x) <= 0.05 * height + 12 and abs(top - y) <= 0.05 * height + 12


def check_overlays(doc: dict[str, Any]) -> None:
    """Every claim overlay found once, soon after it appeared, in its place; nothing else."""
    screen = [f for f in doc["findings"] if f["channel"] == "screen"]
    claims = [o for o in KEY["overlays"] if o["expect"]]
    for overlay in claims:
        hits = [f for f in screen if _of_overlay(f, overlay)]
        assert len(hits) == 1, (overlay["text"], hits)
        hit = hits[0]
        assert hit["category"] == overlay["expect"], (overlay, hit)
        assert overlay["start"] <= hit["start"] <= overlay["start"] + LATENCY, (overlay, hit)
        assert overlay["end"] - LATENCY <= hit["end"] <= overlay["end"] + LATENCY, (overlay, hit)
        assert 0 < hit["confidence"] <= 1
    assert len(screen) == len(claims), screen


def test_every_claim_overlay_is_found_once_soon_after_it_appears(audited: dict[str, Any]) -> None:
    check_overlays(audited)


def test_clean_overlays_are_read_but_not_flagged(audited: dict[str, Any]) -> None:
    read = " ".join(span["text"] for span in audited["screen"]["spans"])
    for overlay in KEY["overlays"]:
        if not overlay["expect"]:
            assert overlay["text"].replace(" ", "") in read.replace(" ", ""), overlay["text"]
    # the shop name stays on screen the whole time: one span, read once, not one per frame
    assert sum("小美旗舰店" in span["text"] for span in audited["screen"]["spans"]) == 1
    assert audited["screen"]["read"] < audited["screen"]["sampled"]


def test_the_clean_speech_gives_nothing(audited: dict[str, Any]) -> None:
    assert audited["transcript"]["segments"], "the speech was transcribed"
    assert [f for f in audited["findings"] if f["channel"] == "speech"] == []


def test_screen_findings_carry_their_fields(audited: dict[str, Any]) -> None:
    screen = audited["screen"]
    assert screen["mode"] == "keyframes" and screen["interval"] == 2.0
    assert (screen["width"], screen["height"]) == tuple(KEY["size"])
    for f in audited["findings"]:
        x, y, w, h = f["box"]
        assert min(x, y) >= 0 and x + w <= screen["width"] and y + h <= screen["height"]
        assert f["start"] < f["end"] and len(f["id"]) == 16
        assert f["matched"] in f["context"].replace(" ", "")
    assert audited["settings"]["screen"] == {"enabled": True, "interval": 2.0}


def test_sparse_keyframes_decode_every_frame_and_find_the_same(
    tmp_path: Path, ffmpeg_bin: str
) -> None:
    sparse = tmp_path / "sparse.mp4"
    subprocess.run(
        [ffmpeg_bin, "-nostdin", "-loglevel", "error", "-i", str(VIDEO), "-c:v", "libx264",
         "-preset", "veryfast", "-g", "250", "-sc_threshold", "0", "-c:a", "copy", str(sparse)],
        check=True,
    )  # fmt: skip
    doc = _audit(tmp_path, sparse)
    assert doc["screen"]["mode"] == "all frames"
    check_overlays(doc)


def test_no_screen_reads_nothing_and_is_another_settings_key(tmp_path: Path) -> None:
    doc = _audit(tmp_path, VIDEO, "--no-screen")
    assert doc["screen"] is None and doc["findings"] == []
    assert doc["settings"]["screen"]["enabled"] is False
    on = AuditOptions().transcript_settings("m")
    off = AuditOptions(screen=ScreenOptions(enabled=False)).transcript_settings("m")
    slower = AuditOptions(screen=ScreenOptions(interval=1.0)).transcript_settings("m")
    assert len({settings_key(on), settings_key(off), settings_key(slower)}) == 3
    # audits stored before the screen pass existed keep their key
    assert not any(name.startswith("screen") for name in on)


def test_audio_only_files_skip_the_screen_silently(tmp_path: Path, ffmpeg_bin: str) -> None:
    audio = tmp_path / "speech.m4a"
    subprocess.run(
        [ffmpeg_bin, "-nostdin", "-loglevel", "error", "-i", str(VIDEO), "-vn", "-c:a", "copy",
         str(audio)],
        check=True,
    )  # fmt: skip
    out = tmp_path / "speech.json"
    done = run_cli("audit", str(audio), "--format", "json", "-o", str(out), "--fail-on", "never")
    assert done.returncode == 0 and "screen" not in done.stderr.lower(), done.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["screen"] is None
    # an audio file with cover art (a still frame of a claim) is still only audio
    cover = tmp_path / "cover.png"
    subprocess.run(
        [ffmpeg_bin, "-nostdin", "-loglevel", "error", "-ss", "5", "-i", str(VIDEO),
         "-frames:v", "1", str(cover)],
        check=True,
    )  # fmt: skip
    covered = tmp_path / "covered.m4a"
    subprocess.run(
        [ffmpeg_bin, "-nostdin", "-loglevel", "error", "-i", str(audio), "-i", str(cover),
         "-map", "0:a", "-map", "1", "-c:a", "copy", "-c:v", "png",
         "-disposition:v", "attached_pic", str(covered)],
        check=True,
    )  # fmt: skip
    doc = _audit(tmp_path, covered)
    assert doc["findings"] == [] and doc["screen"]["spans"] == []


def test_corrupt_frames_are_skipped_and_counted(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mp4"
    shutil.copyfile(VIDEO, damaged)
    size = damaged.stat().st_size
    noise = random.Random(7)
    with damaged.open("r+b") as handle:
        for share in (0.3, 0.5, 0.7):
            handle.seek(int(size * share))
            handle.write(bytes(noise.randrange(256) for _ in range(4000)))
    doc = _audit(tmp_path, damaged)
    assert doc["screen"]["corrupt"] > 0
    assert doc["screen"]["sampled"] > 10  # the rest of the video was still read


def test_a_two_line_banner_is_one_text() -> None:
    """A claim across the line break of one overlay (shown together, one above the other)."""
    spans = (
        ScreenSpan(10.0, 20.0, "吊牌价1299", (40, 300, 160, 30), 0.99),
        ScreenSpan(10.0, 20.0, "今天只要199", (40, 334, 170, 30), 0.98),
        ScreenSpan(10.0, 20.0, "今天只要", (600, 20, 80, 30), 0.99),  # elsewhere: not joined
    )
    scanner = Scanner(load_lexicon(()))
    found = scan_screen("x.mp4", ScreenText(spans, 2.0, 1280, 720, "keyframes"), scanner)
    assert [(f.category, f.channel) for f in found] == [("price.fake_reference", "screen")]
    assert found[0].box == (40, 300, 170, 64)
    assert found[0].confidence == 0.98
    apart = (spans[0], ScreenSpan(30.0, 40.0, "今天只要199", (40, 334, 170, 30), 0.98))
    assert scan_screen("x.mp4", ScreenText(apart, 2.0, 1280, 720, "keyframes"), scanner) == ()


# -- the batch database: screen text stored, rescanned without OCR, by channel ------------------


@pytest.fixture(scope="module")
def batch_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("screen-batch")
    shutil.copyfile(VIDEO, folder / VIDEO.name)
    db = folder / "audits.sqlite"
    done = run_cli("batch", str(folder), "--db", str(db), "-q")
    assert done.returncode == 0, done.stderr
    return db


def _findings(db: Path, *extra: str) -> list[dict[str, Any]]:
    done = run_cli("findings", "--db", str(db), "--format", "jsonl", *extra)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_batch_stores_screen_findings_and_filters_by_channel(batch_db: Path) -> None:
    claims = [o for o in KEY["overlays"] if o["expect"]]
    screen = _findings(batch_db, "--channel", "screen")
    assert len(screen) == len(claims) and all(f["channel"] == "screen" for f in screen)
    assert all(len(f["box"]) == 4 for f in screen)
    assert _findings(batch_db, "--channel", "speech") == []
    assert len(_findings(batch_db)) == len(claims)
    status = run_cli("status", "--db", str(batch_db), "--format", "json")
    info = json.loads(status.stdout)
    assert info["channels"] == {"speech": 0, "screen": len(claims)}
    assert info["screen_text"] == 1
    table = run_cli("status", "--db", str(batch_db)).stdout
    assert f"0 said, {len(claims)} on screen" in table


def test_rescan_scans_the_stored_screen_text_again(batch_db: Path, tmp_path: Path) -> None:
    """A custom lexicon that flags 满199减20 finds it on screen from the stored text alone: the
    video is gone by then, so nothing could have been read again."""
    stored = db_rows(batch_db, "SELECT screen FROM audits")[0][0]
    assert isinstance(stored, str) and "满199减20" in stored
    moved = batch_db.parent / VIDEO.name
    hidden = tmp_path / "elsewhere.mp4"
    shutil.move(moved, hidden)
    lexicon = tmp_path / "platform.toml"
    lexicon.write_text(
        '[[rule]]\nid = "price.fake_reference/full-discount"\ncategory = "price.fake_reference"\n'
        'severity = "low"\npatterns = ["满\\\\d+减\\\\d+"]\n',
        encoding="utf-8",
    )
    try:
        done = run_cli("rescan", "--db", str(batch_db), "--lexicon", str(lexicon))
        assert done.returncode == 0, done.stderr
        screen = _findings(batch_db, "--channel", "screen")
        discount = [f for f in screen if f["rule"] == "price.fake_reference/full-discount"]
        assert len(discount) == 1 and discount[0]["matched"] == "满199减20"
        assert db_rows(batch_db, "SELECT screen FROM audits")[0][0] == stored
    finally:
        shutil.move(hidden, moved)
        os.utime(moved)
