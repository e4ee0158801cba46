"""`auditor batch` on real media, real ffmpeg, the real model and a real SQLite file.

The media are made here from the sample and the test clips: a clip of the sample with claims, clean
speech, a broken file, a renamed duplicate and a symlink loop.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import click
import pytest

from auditor.batch import Task, after_worker_death
from tests.conftest import DATA, DEMO, ROOT, child_pids, db_rows, run_cli


def _ffmpeg(ffmpeg_bin: str, *args: str) -> None:
    subprocess.run(
        [ffmpeg_bin, "-nostdin", "-loglevel", "error", "-y", *args], check=True, timeout=120
    )


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, ffmpeg_bin: str) -> Path:
    root = tmp_path_factory.mktemp("archive")
    (root / "2026-11-27" / "old").mkdir(parents=True)
    (root / "2026-11-28").mkdir()
    claims = root / "2026-11-27" / "claims.mp4"  # the sample's 全网第一 ... 全网最低价 part
    _ffmpeg(ffmpeg_bin, "-ss", "4", "-t", "15", "-i", str(DEMO), "-c", "copy", str(claims))
    shutil.copy(claims, root / "2026-11-28" / "renamed copy.mp4")  # same content, new name
    _ffmpeg(
        ffmpeg_bin, "-i", str(DATA / "clips" / "d05.wav"), "-c:a", "aac",
        str(root / "2026-11-28" / "talk.m4a"),
    )  # fmt: skip
    shutil.copy(DATA / "clips" / "d10.wav", root / "2026-11-27" / "old" / "talk2.wav")
    (root / "2026-11-28" / "broken.mp4").write_text("half an upload\n", encoding="utf-8")
    (root / "2026-11-28" / "notes.txt").write_text("not media\n", encoding="utf-8")
    (root / "2026-11-27" / "old" / "loop").symlink_to("..")  # a folder symlink loop
    os.mkfifo(root / "2026-11-28" / "stuck.mp4")  # reading it would never end
    return root


def _summary(stderr: str) -> dict[str, int]:
    line = [x for x in stderr.splitlines() if " audited, " in x][-1]
    names = ("audited", "failed", "already done", "failed before")
    return {name: int(re.findall(rf"(\d+) {name}(?:,|;)", line)[0]) for name in names}


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and not _zombie(p)]
    return alive


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _start_batch(folder: Path, db: Path) -> subprocess.Popen[str]:
    """`auditor batch FOLDER --db DB` in the background, its stderr kept."""
    return subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", "batch", str(folder), "--db", str(db)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def killed_and_resumed(media: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Run a batch, SIGKILL it once the first file is stored, run it again."""
    db = tmp_path_factory.mktemp("db") / "audits.db"
    process = _start_batch(media, db)
    deadline = time.monotonic() + 120
    done_at_kill: object = 0
    while time.monotonic() < deadline and process.poll() is None:
        if db.exists():
            try:
                done_at_kill = db_rows(db, "SELECT COUNT(*) FROM audits WHERE status = 'done'")[0][
                    0
                ]
            except sqlite3.OperationalError:  # the schema is being created
                done_at_kill = 0
            if done_at_kill:
                break
        time.sleep(0.05)
    assert process.poll() is None, "the batch ended before it could be killed"
    workers = child_pids(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    orphans_left = _wait_gone(workers, 15.0)
    integrity_after_kill = db_rows(db, "PRAGMA integrity_check")[0][0]
    counts = dict(db_rows(db, "SELECT status, COUNT(*) FROM audits GROUP BY status"))
    half_done = db_rows(
        db, "SELECT COUNT(*) FROM audits WHERE status = 'done' AND transcript IS NULL"
    )[0][0]
    second = run_cli("batch", str(media), "--db", str(db))
    return {
        "db": db,
        "counts_at_kill": counts,
        "integrity_after_kill": integrity_after_kill,
        "half_done": half_done,
        "workers": workers,
        "orphans_left": orphans_left,
        "second": second,
    }


def test_a_killed_batch_resumes_and_audits_every_file_exactly_once(
    killed_and_resumed: dict[str, object],
) -> None:
    db = killed_and_resumed["db"]
    assert isinstance(db, Path)
    assert killed_and_resumed["integrity_after_kill"] == "ok"
    assert killed_and_resumed["half_done"] == 0
    assert killed_and_resumed["workers"], "no worker process was running"
    assert killed_and_resumed["orphans_left"] == []  # workers stop when the driver is killed
    second = killed_and_resumed["second"]
    assert isinstance(second, subprocess.CompletedProcess)
    assert second.returncode == 3, second.stderr  # the broken file failed; everything else done
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    rows = db_rows(
        db, "SELECT source_path, status, cause, attempts FROM audits ORDER BY source_path"
    )
    by_name = {Path(str(r[0])).name: r for r in rows}
    # four distinct contents: the renamed copy is the same content as claims.mp4
    assert set(by_name) == {"claims.mp4", "talk.m4a", "talk2.wav", "broken.mp4"}
    assert by_name["broken.mp4"][1] == "failed"
    assert "not a media file" in str(by_name["broken.mp4"][2])
    assert all(r[1] == "done" for name, r in by_name.items() if name != "broken.mp4")
    # what was done before the kill was not done again
    counts = killed_and_resumed["counts_at_kill"]
    assert isinstance(counts, dict)
    assert counts.get("running", 0) >= 1, counts  # killed while a file was in progress
    summary = _summary(second.stderr)
    assert summary["already done"] == counts.get("done", 0)
    assert summary["failed before"] == counts.get("failed", 0)
    assert sum(summary.values()) == 4, second.stderr
    duplicates = db_rows(
        db,
        'SELECT audit_id, lexicon_version, rule, start, "end", COUNT(*) FROM findings '
        'GROUP BY audit_id, lexicon_version, rule, start, "end" HAVING COUNT(*) > 1',
    )
    assert duplicates == []
    [(paths_of_claims,)] = db_rows(
        db,
        "SELECT COUNT(*) FROM paths WHERE sha256 = "
        "(SELECT sha256 FROM audits WHERE source_path LIKE '%claims.mp4')",
    )
    assert paths_of_claims == 2  # the renamed duplicate is known, and was not transcribed
    assert "symlink loop" in second.stderr
    assert "stuck.mp4: not a regular file" in second.stderr


def test_a_third_run_transcribes_nothing_and_is_fast(
    killed_and_resumed: dict[str, object], media: Path
) -> None:
    db = killed_and_resumed["db"]
    assert isinstance(db, Path)
    started = time.monotonic()
    third = run_cli("batch", str(media), "--db", str(db))
    elapsed = time.monotonic() - started
    assert third.returncode == 3, third.stderr  # the broken file is still failed (not retried)
    assert _summary(third.stderr) == {
        "audited": 0,
        "failed": 0,
        "already done": 3,
        "failed before": 1,
    }
    assert "starting" not in third.stderr  # no worker, no model loaded
    assert elapsed < 15, elapsed
    retried = run_cli("batch", str(media), "--db", str(db), "--retry-failed")
    assert retried.returncode == 3 and _summary(retried.stderr)["failed"] == 1


def test_findings_rows_are_the_audit_commandsdb_rows(
    killed_and_resumed: dict[str, object], media: Path
) -> None:
    db = str(killed_and_resumed["db"])
    done = run_cli("findings", "--db", db, "--source", "*claims.mp4", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    from_db = [json.loads(line) for line in done.stdout.splitlines()]
    claims = media / "2026-11-27" / "claims.mp4"
    single = run_cli("audit", str(claims), "--format", "jsonl", "--fail-on", "never", "-q")
    assert single.returncode == 0, single.stderr
    from_audit = [json.loads(line) for line in single.stdout.splitlines()]
    # The same rows, each with its review decision (none made here: open).
    assert [row.pop("decision") for row in from_db] == ["open"] * len(from_db)
    assert from_db == from_audit
    assert {f["category"] for f in from_db} >= {"absolute.superlative", "price.fake_reference"}
    high = run_cli("findings", "--db", db, "--severity", "high", "--format", "csv")
    assert high.returncode == 0
    lines = high.stdout.splitlines()
    assert lines[0].startswith("source,category,rule,severity")
    assert all(",high," in line for line in lines[1:]) and len(lines) > 1
    price = run_cli("findings", "--db", db, "--category", "price", "--format", "jsonl")
    assert {json.loads(x)["category"] for x in price.stdout.splitlines()} == {
        "price.fake_reference"
    }
    future = run_cli("findings", "--db", db, "--since", "2999-01-01", "--format", "jsonl")
    assert future.returncode == 0 and future.stdout == ""
    assert run_cli("findings", "--db", db, "--since", "yesterday").returncode == 2


def test_status_counts_and_rescan_without_speech_recognition(
    killed_and_resumed: dict[str, object], tmp_path: Path
) -> None:
    db = str(killed_and_resumed["db"])
    done = run_cli("status", "--db", db, "--format", "json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["audits"] == {"done": 3, "failed": 1, "pending": 0, "running": 0}
    assert 0 < info["audio_hours"] < 0.02
    assert info["findings"]["total"] == sum(info["findings"][s] for s in ("high", "medium", "low"))
    assert info["failed"][0]["source"].endswith("broken.mp4")
    extra = tmp_path / "extra.toml"
    extra.write_text(
        '[[rule]]\nid = "absolute.superlative/welcome"\ncategory = "absolute.superlative"\n'
        'terms = ["外套"]\n',
        encoding="utf-8",
    )
    env = {"AUDITOR_HOME": str(tmp_path / "no-model-here")}  # rescan must not need the model
    rescanned = run_cli("rescan", "--db", db, "--lexicon", str(extra), "--format", "json", env=env)
    assert rescanned.returncode == 0, rescanned.stderr
    summary = json.loads(rescanned.stdout)
    assert summary["audits"] == 3 and summary["findings"] > info["findings"]["total"]
    assert not (tmp_path / "no-model-here" / "models").exists()
    after = json.loads(run_cli("status", "--db", db, "--format", "json").stdout)
    assert after["lexicon_versions"] == {summary["lexicon_version"]: 3}
    back = run_cli("rescan", "--db", db, "--format", "json")  # the built-in lexicon again
    assert json.loads(back.stdout)["findings"] == info["findings"]["total"]


def test_changed_content_is_redone_and_a_manifest_works(tmp_path: Path, ffmpeg_bin: str) -> None:
    clip = tmp_path / "x.wav"
    shutil.copy(DATA / "clips" / "d23.wav", clip)
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"# tonight\n{clip}\n{tmp_path / 'gone.mp4'}\n\n", encoding="utf-8")
    db = str(tmp_path / "a.db")
    first = run_cli("batch", "--from-list", str(manifest), "--db", db)
    assert first.returncode == 3 and "gone.mp4" in first.stderr  # a listed file is missing
    assert _summary(first.stderr)["audited"] == 1
    shutil.copy(DATA / "clips" / "IT0011W0001.wav", clip)  # same name, new content
    second = run_cli("batch", str(clip), "--db", db)
    assert second.returncode == 0, second.stderr
    assert _summary(second.stderr)["audited"] == 1
    assert db_rows(Path(db), "SELECT COUNT(*) FROM audits WHERE status = 'done'") == [(2,)]


def test_two_runs_at_once_share_the_work(media: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    only_good = [str(media / "2026-11-27"), str(media / "2026-11-28" / "talk.m4a")]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "auditor.cli", "batch", *only_good, "--db", db],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in runs]
    for code, stderr in results:
        assert code == 0, stderr
    audited = sum(_summary(stderr)["audited"] for _, stderr in results)
    assert audited == 3  # claims.mp4, talk2.wav, talk.m4a: each by one run only
    assert db_rows(Path(db), "PRAGMA integrity_check") == [("ok",)]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("batch", "--db", str(tmp_path / "a.db")).returncode == 2
    assert run_cli("batch", ".", "--db", "x.db", "--ray-address", "auto").returncode == 2
    missing = run_cli("status", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "none.db" in missing.stderr
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 100, encoding="utf-8")
    bad = run_cli("status", "--db", str(junk))
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, bad.stderr
    nowhere = run_cli("batch", str(tmp_path), "--db", str(tmp_path / "no" / "a.db"))
    assert nowhere.returncode == 2 and "its folder does not exist" in nowhere.stderr


def test_every_batch_option_has_help() -> None:
    from auditor.cli import archive

    for command in (archive.batch, archive.rescan, archive.status_command, archive.findings):
        assert command.help, command.name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{command.name} {param.opts}"


def _reproducible(row: str) -> tuple[object, ...]:
    """What two runs with the same settings key must agree on (README "Reproducibility")."""
    f = json.loads(row)
    return (
        f["source"],
        f["category"],
        f["rule"],
        f["severity"],
        f["matched"],
        f["start"],
        f["end"],
    )


def test_a_local_ray_run_gives_the_same_findings(
    killed_and_resumed: dict[str, object], media: Path, tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    folder = media / "2026-11-27"
    db = str(tmp_path / "ray.db")
    env = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    done = run_cli(
        "batch", str(folder), "--db", db, "--executor", "ray", "--threads", "1", env=env,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _summary(done.stderr)["audited"] == 2
    local_db = str(killed_and_resumed["db"])
    ray_rows = run_cli("findings", "--db", db, "--format", "jsonl").stdout.splitlines()
    local_rows = run_cli(
        "findings", "--db", local_db, "--source", f"{folder}/*", "--format", "jsonl"
    ).stdout.splitlines()
    assert ray_rows and [_reproducible(r) for r in ray_rows] == [
        _reproducible(r) for r in local_rows
    ]
    for ray_row, local_row in zip(ray_rows, local_rows, strict=True):
        ray_confidence = json.loads(ray_row)["confidence"]
        local_confidence = json.loads(local_row)["confidence"]
        assert abs(ray_confidence - local_confidence) <= 0.01, (ray_row, local_row)


def test_a_dead_worker_fails_the_file_that_killed_it_and_no_other() -> None:
    first, second = (Task(i, f"/x/{i}.mp4", "0" * 64, 1) for i in (1, 2))
    # One file in flight: it killed the worker.
    assert after_worker_death([first]) == (first, [])
    # Two in flight at once: either may have; both go again, each to be audited alone.
    killer, again = after_worker_death([first, second])
    assert killer is None
    assert again == [replace(first, alone=True), replace(second, alone=True)]
    # A file audited alone that dies is the one; the file held behind it goes again.
    alone = replace(first, alone=True)
    assert after_worker_death([alone, second]) == (alone, [second])
    assert after_worker_death([]) == (None, [])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_worker_killed_with_two_files_in_flight_fails_neither(
    ffmpeg_bin: str, tmp_path: Path
) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    names = ("a.m4a", "b.m4a")
    for name, clip in zip(names, ("d05.wav", "d10.wav"), strict=True):
        # A clip, then six minutes of silence: ffmpeg reads on window by window (so both files
        # are seen being read at once), while little is decoded.
        _ffmpeg(
            ffmpeg_bin, "-i", str(DATA / "clips" / clip), "-af", "apad=pad_dur=360",
            "-c:a", "aac", str(folder / name),
        )  # fmt: skip
    db = tmp_path / "two.db"
    process = _start_batch(folder, db)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        for worker in child_pids(process.pid):
            below = [_cmdline(pid) for pid in child_pids(worker, recursive=True)]
            if all(any(name in line for line in below) for name in names):
                os.kill(worker, signal.SIGKILL)
                killed = worker
                break
        time.sleep(0.02)
    assert killed is not None, "the worker was never seen reading both files at once"
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    statuses = db_rows(db, "SELECT status FROM audits ORDER BY source_path")
    assert statuses == [("done",), ("done",)], stderr
