"""No half-written output (issue 7): SIGKILL at spread-out moments, and a full disk.

A report written with `audit -o` is either the old file (or absent) or the complete new one; the
batch database passes `PRAGMA integrity_check` after every kill and keeps every stored result
when the disk fills up.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT, db_rows, run_cli

CLIPS = DATA / "clips"
TALK = CLIPS / "d05.wav"


def _auditor(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "auditor.cli", *map(str, args)]


def _kill_after(args: list[str], seconds: float) -> int | None:
    """Start `args`, SIGKILL it after `seconds`; its exit status if it ended first, else None."""
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        return None


def _is_complete_report(text: str) -> bool:
    doc = json.loads(text)  # raises on a half-written file
    return isinstance(doc["findings"], list) and doc["transcript"]["segments"] != []


def test_sigkill_during_audit_leaves_the_old_report_or_the_complete_new_one(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report.json"
    args = _auditor("audit", TALK, "--format", "json", "-o", target, "--fail-on", "never", "-q")
    started = time.monotonic()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, timeout=300)
    full = time.monotonic() - started
    assert _is_complete_report(target.read_text("utf-8"))
    old = '{"old": "report"}\n'
    seen: list[str] = []
    # Spread over the run, thicker near its end, where the report is written.
    for i, fraction in enumerate((0.15, 0.5, 0.8, 0.93, 1.0, 1.05)):
        if i % 3 == 2:
            target.unlink(missing_ok=True)  # and where there was no report before
        else:
            target.write_text(old, encoding="utf-8")
        code = _kill_after(args, full * fraction)
        if not target.exists():
            seen.append("absent")
            assert i % 3 == 2
        elif (text := target.read_text("utf-8")) == old:
            seen.append("old")
        else:
            assert _is_complete_report(text), (fraction, text[:200])
            seen.append("new")
        if code is not None:
            assert code == 0
    # what each kill left, for the log; every one of them was checked above
    print("kills left:", seen)


def test_sigkill_during_batch_at_many_moments_keeps_the_database_sound(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("d05.wav", "d10.wav", "IT0011W0001.wav"):
        shutil.copy(CLIPS / name, archive / name)
    db = tmp_path / "audits.db"
    args = _auditor("batch", archive, "--db", db)
    for delay in (0.5, 1.5, 3.0, 4.5, 6.0):
        _kill_after(args, delay)
        if db.exists():
            assert db_rows(db, "PRAGMA integrity_check") == [("ok",)], delay
            half_done = "SELECT COUNT(*) FROM audits WHERE status = 'done' AND transcript IS NULL"
            assert db_rows(db, half_done) == [(0,)], delay
    final = run_cli("batch", str(archive), "--db", str(db))
    assert final.returncode == 0, final.stderr
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert db_rows(db, "SELECT status, COUNT(*) FROM audits GROUP BY status") == [("done", 3)]
    duplicates = db_rows(
        db,
        'SELECT audit_id, lexicon_version, rule, start, "end" FROM findings '
        'GROUP BY audit_id, lexicon_version, rule, start, "end" HAVING COUNT(*) > 1',
    )
    assert duplicates == []


# -- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards; skipped where mounting is not permitted."""
    folder = tmp_path / "small"
    folder.mkdir()
    mount = shutil.which("mount")
    if mount is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path, room: int = 0) -> Path:
    """Write until the filesystem is full, in ever smaller pieces, then free `room` bytes."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        os.ftruncate(fd, os.fstat(fd).st_size - room)
    finally:
        os.close(fd)
    return filler


def test_a_report_on_a_full_disk_is_a_clear_error_and_the_old_one_stays(small_disk: Path) -> None:
    target = small_disk / "report.json"
    old = '{"old": "report"}\n'
    target.write_text(old, encoding="utf-8")
    _fill(small_disk)
    done = run_cli("audit", str(TALK), "--format", "json", "-o", str(target), "-q")
    assert done.returncode == 4, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [f"auditor: error: cannot write {target}: No space left on device"]
    assert target.read_text("utf-8") == old
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "report.json"]  # no temp


# No room at all: the database cannot even be opened (WAL needs its shared-memory file). 64 KiB:
# it opens, and a write fails at commit.
@pytest.mark.parametrize("room_kib", [0, 64])
def test_a_database_on_a_full_disk_is_a_clear_error_and_keeps_itsdb_rows(
    small_disk: Path, room_kib: int
) -> None:
    db = small_disk / "audits.db"
    first = run_cli("batch", str(CLIPS / "d10.wav"), "--db", str(db))
    assert first.returncode == 0, first.stderr
    filler = _fill(small_disk, room_kib * 1024)
    second = run_cli("batch", str(TALK), str(CLIPS / "d23.wav"), "--db", str(db))
    assert second.returncode == 4, second.stderr  # the environment, not the input
    last = second.stderr.strip().splitlines()[-1]
    assert last.startswith(f"auditor: error: {db}: "), second.stderr
    assert last.endswith("(no space left on the device)"), second.stderr
    assert "Traceback" not in second.stderr
    filler.unlink()  # room for SQLite's shared-memory file, to read what is there
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    rows = db_rows(db, "SELECT source_path, status, transcript IS NOT NULL FROM audits")
    done = [(Path(str(p)).name, s, t) for p, s, t in rows if s == "done"]
    assert done == [("d10.wav", "done", 1)]
    status = run_cli("status", "--db", str(db), "--format", "json")
    assert json.loads(status.stdout)["audits"]["done"] == 1


def test_a_report_into_a_missing_folder_fails_before_any_audio(tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "report.json"
    started = time.monotonic()
    done = run_cli("audit", str(TALK), "--format", "json", "-o", str(target))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"auditor: error: {target}: its folder does not exist"]
    assert time.monotonic() - started < 20  # no model loaded, nothing transcribed
