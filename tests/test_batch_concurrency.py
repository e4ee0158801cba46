"""Two `batch` runs on one database at once (issue 7): the second says what it waits for.

tests/test_batch.py shows two simultaneous runs share the work (no file audited twice, integrity
ok); this one starts the second run while the first holds a file, and checks that the second
says which file it is waiting for, then skips it as done, without auditing it again.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import DEMO, ROOT, run_cli


def _running(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=5)
    try:
        row = con.execute("SELECT COUNT(*) FROM audits WHERE status = 'running'").fetchone()
        return int(row[0])
    except sqlite3.OperationalError:  # the schema is being created
        return 0
    finally:
        con.close()


def test_a_second_run_names_the_file_it_waits_for_and_audits_nothing(tmp_path: Path) -> None:
    recording = tmp_path / "archive" / "live.mp4"
    recording.parent.mkdir()
    shutil.copy(DEMO, recording)
    db = tmp_path / "audits.db"
    first = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", "batch", str(recording.parent), "--db", str(db)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _running(db) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert _running(db) == 1, "the first run never claimed the recording"
        second = run_cli("batch", str(recording.parent), "--db", str(db), timeout=300)
    finally:
        first_code = first.wait(timeout=300)
    first_err = first.stderr.read() if first.stderr else ""
    assert first_code == 0, first_err
    assert second.returncode == 0, second.stderr
    waiting = re.search(
        r"waiting for 1 file\(s\) being audited by another run \(first: (.+)\)", second.stderr
    )
    assert waiting and waiting.group(1) == str(recording), second.stderr
    assert f"{recording}: already audited" in second.stderr
    assert "0 audited" in second.stderr and "1 already done" in second.stderr
    assert "1 audited" in first_err
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT status, attempts FROM audits").fetchall() == [("done", 1)]
    finally:
        con.close()


OPEN_AND_WRITE = """
import sys
from auditor.store import Store
with Store(sys.argv[1]) as store:
    store.record_path(sys.argv[2], "0" * 64, 1, 1, 1)
"""


def test_many_processes_opening_a_new_database_at_once_all_get_in(tmp_path: Path) -> None:
    """Creating the schema and switching to WAL must not fail with 'database is locked' when
    several runs start together on a database that does not exist yet."""
    db = tmp_path / "new.db"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_WRITE, str(db), f"/archive/{index}.mp4"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(8)
    ]
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read() if run.stderr else ""
        if run.stderr:
            run.stderr.close()
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT COUNT(*) FROM paths").fetchone()[0] == 8
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
