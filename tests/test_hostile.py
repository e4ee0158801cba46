"""Hostile and broken input (issue 7): a corpus made here with the real ffmpeg, audited for real.

Each broken file makes `audit` exit 2 with one line naming the file and the cause, and `batch`
records it as failed with that cause and goes on. Files that are valid media however odd (a
0.3-second clip, twenty minutes of silence, music-like noise) are audited: exit 0, no findings.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DATA, DEMO, ROOT, child_pids

TALK = DATA / "clips" / "d05.wav"  # clean talk: no findings
# Root reads a chmod 000 file; without the capabilities that let it, it cannot.
NO_DAC = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]
# Broken files with names a shell or a terminal trips over; each holds different text, so the
# batch sees distinct contents (one audit row each).
ODD_NAMES = [
    b"with space.mp4",
    b"quote'\"s.mp4",
    b"new\nline.mp4",
    b"-leading-dash.mp4",
    b"bytes\xff\xfe.mp4",
]


def _ffmpeg(ffmpeg_bin: str, *args: str | Path) -> None:
    subprocess.run(
        [ffmpeg_bin, "-nostdin", "-loglevel", "error", "-y", *map(str, args)],
        check=True,
        timeout=120,
    )


def _deny_reading() -> list[str] | None:
    """A command prefix under which a chmod 000 file cannot be read; None if there is none."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    probe = subprocess.run([*NO_DAC, "cat", "/proc/self/status"], capture_output=True, check=False)
    return NO_DAC if probe.returncode == 0 else None


def cli(
    *args: str | bytes | Path,
    cwd: Path = ROOT,
    prefix: list[str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[bytes]:
    """`auditor` in its own process, arguments and output as bytes (names need not be UTF-8)."""
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "auditor.cli", *map(os.fsencode, args)],
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=timeout,
        check=False,
    )


def shown(path: Path | bytes) -> bytes:
    """A path as the CLI's one-line messages show it: newlines and undecodable bytes escaped."""
    raw = os.fsencode(path)
    return raw.replace(b"\n", b"\\n").replace(b"\xff", b"\\xff").replace(b"\xfe", b"\\xfe")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, ffmpeg_bin: str) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    bad, ok, hang = root / "bad", root / "ok", root / "hang"
    for folder in (bad, ok, hang):
        folder.mkdir()
    # -- broken --------------------------------------------------------------------------------
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "text.mp4").write_text("this is not a video\n", encoding="utf-8")
    full = root / "full.mp4"  # the mp4 muxer writes the moov atom last: cutting the tail loses it
    _ffmpeg(ffmpeg_bin, "-i", DEMO, "-c", "copy", full)
    data = full.read_bytes()
    assert data.rfind(b"moov") > len(data) // 2
    (bad / "truncated.mp4").write_bytes(data[: len(data) // 2])
    full.unlink()
    _ffmpeg(
        ffmpeg_bin, "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5", "-t", "2",
        "-pix_fmt", "yuv420p", bad / "no-audio.mp4",
    )  # fmt: skip
    for name in ODD_NAMES:
        path = os.path.join(os.fsencode(bad), name)
        with open(path, "wb") as handle:
            handle.write(b"half an upload of " + name + b"\n")
    locked = bad / "locked.wav"  # valid audio nobody may read
    shutil.copy(TALK, locked)
    locked.chmod(0)
    # -- valid, however odd --------------------------------------------------------------------
    _ffmpeg(ffmpeg_bin, "-i", TALK, "-t", "0.3", ok / "short.wav")  # the first syllable
    # twenty minutes of nothing: where Whisper likes to hallucinate
    _ffmpeg(
        ffmpeg_bin, "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "1200",
        "-c:a", "aac", "-b:a", "16k", ok / "silent.m4a",
    )  # fmt: skip
    melody = (
        "aevalsrc=0.25*sin(2*PI*t*(220+55*floor(mod(t*3\\,5))))"
        "+0.15*sin(2*PI*t*330)*(0.5+0.5*sin(2*PI*t*2)):s=16000"
    )
    _ffmpeg(
        ffmpeg_bin, "-f", "lavfi", "-i", melody, "-f", "lavfi",
        "-i", "anoisesrc=r=16000:color=pink:amplitude=0.2", "-filter_complex",
        "[0][1]amix=inputs=2:duration=first", "-t", "20", ok / "music.wav",
    )  # fmt: skip
    # Two audio streams: the first is clean talk, the second the sample's claims.
    _ffmpeg(
        ffmpeg_bin, "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5", "-i", TALK,
        "-ss", "4", "-t", "12", "-i", DEMO, "-map", "0:v", "-map", "1:a", "-map", "2:a",
        "-t", "12", "-pix_fmt", "yuv420p", "-c:a", "aac", ok / "two-streams.mp4",
    )  # fmt: skip
    # -- playlists that point at a FIFO nobody writes: ffmpeg (or the probe) would wait forever --
    _ffmpeg(ffmpeg_bin, "-f", "lavfi", "-i", "sine=f=300:r=16000", "-t", "20", hang / "part.wav")
    os.mkfifo(hang / "pipe.wav")
    (hang / "hang.mp4").write_text(
        "ffconcat version 1.0\nfile 'part.wav'\nfile 'pipe.wav'\n", encoding="utf-8"
    )
    (hang / "hang-at-once.mp4").write_text(
        "ffconcat version 1.0\nfile 'pipe.wav'\n", encoding="utf-8"
    )
    (hang / "stream.mp4").write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\npipe.wav\n#EXT-X-ENDLIST\n",
        encoding="utf-8",
    )
    (root / "loop").symlink_to(".")  # a folder symlink loop
    return root


def _one_line(done: subprocess.CompletedProcess[bytes]) -> bytes:
    assert b"Traceback" not in done.stderr
    lines = done.stderr.rstrip(b"\n").split(b"\n")
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("name", ODD_NAMES, ids=lambda n: n.decode("ascii", "replace"))
def test_a_broken_file_with_an_odd_name_is_one_line_naming_it(name: bytes, corpus: Path) -> None:
    path = os.path.join(os.fsencode(corpus / "bad"), name)
    done = cli("audit", "--format", "jsonl", "--", path)  # no -q: still one line
    assert done.returncode == 2, done.stderr
    line = _one_line(done)
    assert shown(path) in line and b"not a media file" in line
    assert done.stdout == b""


def test_a_leading_dash_is_a_file_after_double_dash(corpus: Path) -> None:
    done = cli("audit", "-q", "--", "-leading-dash.mp4", cwd=corpus / "bad")
    assert done.returncode == 2
    assert b"-leading-dash.mp4: not a media file" in _one_line(done)
    # without `--` it is an option, as README says: a usage error, not an attempt to read it
    assert cli("audit", "-q", "-leading-dash.mp4", cwd=corpus / "bad").returncode == 2


def test_an_unreadable_file_is_one_line(corpus: Path) -> None:
    prefix = _deny_reading()
    if prefix is None:
        pytest.skip("running as root without setpriv: a chmod 000 file is still readable")
    locked = corpus / "bad" / "locked.wav"
    done = cli("audit", "-q", locked, prefix=prefix)
    assert done.returncode == 2, done.stderr
    line = _one_line(done)
    assert shown(locked) in line and b"permission denied" in line


def test_a_fifo_or_device_is_refused_without_reading_it(corpus: Path) -> None:
    fifo = corpus / "hang" / "pipe.wav"
    for path in (fifo, Path("/dev/zero")):
        done = cli("audit", "-q", path, timeout=60)
        assert done.returncode == 2, done.stderr
        line = _one_line(done)
        assert shown(path) in line and b"not a regular file" in line


@pytest.mark.parametrize("name", ["hang.mp4", "hang-at-once.mp4", "stream.mp4"])
def test_a_playlist_is_refused_before_anything_opens_what_it_points_at(
    name: str, corpus: Path
) -> None:
    playlist = corpus / "hang" / name
    done = cli("audit", "-q", playlist, timeout=60)  # before the fix: a probe that never returned
    assert done.returncode == 2, done.stderr
    line = _one_line(done)
    assert shown(playlist) in line and b"a playlist that points at other files" in line


def _run_with_a_hung_ffmpeg(
    args: list[str | bytes | Path], victim: str
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """Run the CLI and SIGSTOP the ffmpeg that reads `victim` as soon as it starts: a real ffmpeg
    that hangs. The run's result, and how long it went on after the stop."""
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", *map(os.fsencode, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stopped: int | None = None
    try:
        deadline = time.monotonic() + 120
        while stopped is None and process.poll() is None and time.monotonic() < deadline:
            for pid in child_pids(process.pid, recursive=True):
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"ffmpeg" in os.path.basename(argv[0]) and any(
                    a.endswith(os.fsencode(victim)) for a in argv
                ):
                    os.kill(pid, signal.SIGSTOP)
                    stopped = pid
                    break
            time.sleep(0.01)
        assert stopped is not None, "no ffmpeg was seen reading " + victim
        at = time.monotonic()
        out, err = process.communicate(timeout=300)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err), (
            time.monotonic() - at
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if stopped is not None and Path(f"/proc/{stopped}").exists():
            os.kill(stopped, signal.SIGKILL)  # the ffmpeg this test stopped, if still there


def test_a_hung_ffmpeg_is_stopped_after_the_limit(corpus: Path) -> None:
    silent = corpus / "ok" / "silent.m4a"  # twenty minutes: ffmpeg runs the whole audit long
    done, after = _run_with_a_hung_ffmpeg(
        ["audit", "-q", "--ffmpeg-timeout", "2", silent], "silent.m4a"
    )
    assert done.returncode == 2, done.stderr
    line = _one_line(done)
    assert shown(silent) in line and b"ffmpeg gave no audio for 2 s (hung?); stopped it" in line
    assert after < 60, after


def test_a_batch_stops_a_hung_ffmpeg_and_goes_on(corpus: Path, tmp_path: Path) -> None:
    ok = corpus / "ok"
    db = tmp_path / "audits.db"
    done, _ = _run_with_a_hung_ffmpeg(
        ["batch", ok / "silent.m4a", ok / "short.wav", "--db", db, "--ffmpeg-timeout", "2"],
        "silent.m4a",
    )
    assert done.returncode == 3, done.stderr
    con = sqlite3.connect(db)
    try:
        rows = dict(
            (Path(p).name, (s, c))
            for p, s, c in con.execute("SELECT source_path, status, cause FROM audits")
        )
    finally:
        con.close()
    assert rows["silent.m4a"] == ("failed", "ffmpeg gave no audio for 2 s (hung?); stopped it")
    assert rows["short.wav"] == ("done", None)


def test_odd_but_valid_media_is_audited_with_no_findings(corpus: Path, tmp_path: Path) -> None:
    ok = corpus / "ok"
    names = ("short.wav", "silent.m4a", "music.wav", "two-streams.mp4")
    out = tmp_path / "report.json"
    # --ffmpeg-timeout 3: the limit counts only time spent waiting for ffmpeg. While twenty minutes
    # of windows are transcribed ffmpeg sits on a full pipe far longer than 3 s, which is no hang.
    done = cli(
        "audit", *(ok / n for n in names), "--format", "json", "-o", out, "--fail-on", "low",
        "-q", "--ffmpeg-timeout", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr  # --fail-on low: not even a low finding
    docs = {Path(d["source"]["path"]).name: d for d in json.loads(out.read_text("utf-8"))}
    assert set(docs) == set(names)
    for name, doc in docs.items():
        assert doc["findings"] == [], name
    assert 0.25 < docs["short.wav"]["source"]["duration"] < 0.4
    assert docs["silent.m4a"]["source"]["duration"] == pytest.approx(1200, abs=1)
    assert docs["silent.m4a"]["transcript"]["segments"] == []  # no hallucinated words
    assert docs["two-streams.mp4"]["source"]["audio_streams"] == 2
    # The second audio stream holds the claims.
    second = cli("audit", ok / "two-streams.mp4", "--audio-stream", "1", "--format", "jsonl", "-q")
    assert second.returncode == 0, second.stderr  # nothing high in these 12 s
    categories = {json.loads(line)["category"] for line in second.stdout.splitlines()}
    assert "absolute.superlative" in categories, second.stdout.decode()


def test_batch_records_every_broken_file_and_goes_on(corpus: Path, tmp_path: Path) -> None:
    prefix = _deny_reading()
    db = tmp_path / "audits.db"
    done = cli("batch", corpus, "--db", db, prefix=prefix or [], timeout=600)
    assert done.returncode == 3, done.stderr  # some failed; the run finished
    stderr = done.stderr.decode("utf-8", "replace")
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = {
            os.path.basename(os.fsencode(path)): (status, cause)
            for path, status, cause in con.execute("SELECT source_path, status, cause FROM audits")
        }
        counts = dict(
            con.execute(
                "SELECT a.source_path, COUNT(f.id) FROM audits a "
                "LEFT JOIN findings f ON f.audit_id = a.id GROUP BY a.id"
            )
        )
    finally:
        con.close()
    expected_failures = {
        b"empty.mp4": "empty file",
        b"text.mp4": "not a media file",
        b"truncated.mp4": "truncated",
        b"no-audio.mp4": "no audio stream",
        b"hang.mp4": "a playlist that points at other files",
        b"hang-at-once.mp4": "a playlist that points at other files",
        b"stream.mp4": "a playlist that points at other files",
        # the database holds names as text: undecodable bytes as \xNN
        **{shown(n).replace(b"\\n", b"\n"): "not a media file" for n in ODD_NAMES},
    }
    for name, cause in expected_failures.items():
        assert name in rows, (name, sorted(rows))
        status, recorded = rows[name]
        assert status == "failed" and cause in recorded, (name, status, recorded)
    for name in (b"short.wav", b"silent.m4a", b"music.wav", b"two-streams.mp4", b"part.wav"):
        assert rows[name][0] == "done", (name, rows[name])
    assert all(n == 0 for n in counts.values()), counts  # clean talk, silence, noise, tone
    assert "symlink loop" in stderr
    assert "pipe.wav: not a regular file" in stderr
    if prefix is not None:  # the unreadable file: reported, counted, not audited
        assert b"locked.wav" not in rows
        assert "locked.wav: Permission denied" in stderr
        assert ", 1 unreadable;" in stderr


def test_valid_media_with_odd_names_is_audited_and_named_in_reports(
    corpus: Path, tmp_path: Path
) -> None:
    folder = os.fsencode(tmp_path)
    talk = os.path.join(folder, b"new\nline \xff.wav")
    shutil.copy(corpus / "ok" / "short.wav", os.fsdecode(talk))
    claims = os.path.join(folder, b"-claims \xfe'\".mp4")
    shutil.copy(corpus / "ok" / "two-streams.mp4", os.fsdecode(claims))
    out = tmp_path / "report.json"
    clips = tmp_path / "clips"
    done = cli(
        "audit", "--format", "json", "-o", out, "--audio-stream", "1", "--clips", clips,
        "--fail-on", "never", "-q", "--", claims,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text("utf-8"))
    assert os.fsencode(doc["source"]["path"]) == claims  # written as \\udcfe: the same name back
    assert doc["findings"] and all(Path(f["clip"]).is_file() for f in doc["findings"])
    table = cli("audit", "--format", "table", "-q", "--", talk)  # to stdout
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(talk.replace(b"\xff", b"\\udcff") + b"  (00:00, 0 findings)")
