"""Bad input: exit 2, one line on stderr naming the file and the cause, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import DEMO, run_cli


def _make(kind: str, folder: Path, ffmpeg: str) -> Path:
    path = folder / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n")
    elif kind == "truncated":
        # Without +faststart the moov atom is written last; cutting the tail loses it.
        full = folder / "full.mp4"
        subprocess.run(
            [ffmpeg, "-loglevel", "error", "-y", "-i", str(DEMO), "-c", "copy", str(full)],
            check=True,
        )
        path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    elif kind == "no-audio":
        subprocess.run(
            [
                ffmpeg,
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=64x64:rate=5",
                "-t",
                "2",
                "-pix_fmt",
                "yuv420p",
                str(path),
            ],
            check=True,
        )
    elif kind == "directory":
        path.mkdir()
    elif kind == "missing":
        pass
    return path


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("missing", "no such file"),
        ("empty", "empty file"),
        ("text", "not a media file"),
        ("truncated", "truncated"),
        ("no-audio", "no audio stream"),
        ("directory", "directory"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    kind: str, cause: str, tmp_path: Path, ffmpeg_bin: str
) -> None:
    path = _make(kind, tmp_path, ffmpeg_bin)
    done = run_cli("audit", str(path), "--format", "jsonl", "-q")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0]
    assert cause in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_missing_audio_stream_index_is_a_clear_error() -> None:
    done = run_cli("audit", str(DEMO), "--audio-stream", "3", "-q")
    assert done.returncode == 2
    assert "--audio-stream 3 does not exist" in done.stderr


def test_one_bad_file_does_not_hide_the_good_ones(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    done = run_cli("audit", str(empty), str(DEMO), "--format", "jsonl", "-q")
    assert done.returncode == 2
    assert "empty file" in done.stderr
    assert "price.fake_reference" in done.stdout


def test_unknown_model_is_an_environment_error() -> None:
    done = run_cli("audit", str(DEMO), "--model", "/nonexistent/model-folder", "-q")
    assert done.returncode == 4
    assert "not a CTranslate2 Whisper model folder" in done.stderr
