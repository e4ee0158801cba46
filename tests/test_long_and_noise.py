"""Real ffmpeg, real model: silence and music give nothing; windows keep the recording's times."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from auditor.audit import Auditor
from auditor.options import AsrOptions, AuditOptions, ScreenOptions
from tests.conftest import DEMO, run_cli

SPEECH_MARGIN = 0.3  # seconds: Whisper's word edges are this precise at best

# A melody with vibrato, pulsing loudness and a bass line: the kind of sound Whisper puts words to.
MUSIC = (
    "aevalsrc=0.3*sin(2*PI*(200+40*sin(2*PI*5*t))*(1+floor(mod(t*3\\,5))/4)*t)"
    "*abs(sin(2*PI*1.5*t))+0.2*sin(4*PI*(200+40*sin(2*PI*5*t))*(1+floor(mod(t*3\\,5))/4)*t)"
    "*abs(sin(2*PI*1.5*t))+0.1*sin(2*PI*110*t):s=16000:d=90"
)


def _generate(ffmpeg: str, target: Path, *source: str) -> Path:
    subprocess.run(
        [ffmpeg, "-y", "-hide_banner", "-loglevel", "error", *source, str(target)], check=True
    )
    return target


@pytest.mark.parametrize(
    "name, source",
    [
        # Six minutes: longer than one window, so more than one is decoded and transcribed.
        ("silence.m4a", ("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo:d=360")),
        ("music.mp4", ("-f", "lavfi", "-i", MUSIC)),
        (
            "chord_noise.wav",
            (
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:d=60:r=16000",
                "-f",
                "lavfi",
                "-i",
                "sine=f=554:d=60:r=16000",
                "-f",
                "lavfi",
                "-i",
                "anoisesrc=d=60:c=pink:r=16000:a=0.2",
                "-filter_complex",
                "[0][1][2]amix=inputs=3,volume=2,tremolo=f=4:d=0.8",
            ),
        ),
    ],
)
def test_silence_and_music_give_no_findings_and_no_text(
    tmp_path: Path, ffmpeg_bin: str, name: str, source: tuple[str, ...]
) -> None:
    recording = _generate(ffmpeg_bin, tmp_path / name, *source)
    out = tmp_path / "report.json"
    done = run_cli("audit", str(recording), "--format", "json", "-o", str(out), "-q")
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["findings"] == []
    assert report["transcript"]["segments"] == [], report["transcript"]["segments"]


def _inside_one_clip(key: dict[str, Any], start: float, end: float) -> bool:
    return any(
        c["start"] - SPEECH_MARGIN <= start and end <= c["end"] + SPEECH_MARGIN
        for c in key["clips"]
    )


def test_finding_times_lie_inside_the_speech(
    demo_report: dict[str, Any], demo_key: dict[str, Any]
) -> None:
    said = [f for f in demo_report["findings"] if f["channel"] == "speech"]
    assert said
    for f in said:
        assert _inside_one_clip(demo_key, f["start"], f["end"]), f


def test_small_windows_keep_the_recordings_times(demo_key: dict[str, Any]) -> None:
    # 14-second windows cut the 46-second demo in four, each at a pause between clips.
    auditor = Auditor(
        AuditOptions(asr=AsrOptions(window_seconds=14), screen=ScreenOptions(enabled=False))
    )
    result = auditor.audit(str(DEMO))
    assert 40 < result.transcript.duration < 60
    categories = {(f.category, round(f.start)) for f in result.findings}
    for clip in demo_key["clips"]:
        for category in clip["expect"]:
            assert any(
                c == category and clip["start"] - 1 <= t <= clip["end"] + 1 for c, t in categories
            ), f"{category} missing in {clip['id']}"
    for f in result.findings:
        assert _inside_one_clip(demo_key, f.start, f.end), f
    starts = [s.start for s in result.transcript.segments]
    assert starts == sorted(starts)
