"""`batch --workers auto`: which layouts are timed, which one is picked, what is kept, and a real
batch that times them on its own first file (real ffmpeg, the real model, real processes)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.layout import (
    WORKER_MEMORY,
    Layout,
    LayoutChoice,
    Trial,
    candidates,
    cut_sample,
    load_choice,
    machine_key,
    pick,
    save_choice,
)
from auditor.media import probe
from tests.conftest import DATA, DEMO, run_cli


def test_the_layouts_timed_share_the_cores_fewest_workers_first() -> None:
    assert candidates(2) == [Layout(1, 2), Layout(2, 1)]
    assert candidates(1) == [Layout(1, 1)]
    assert candidates(16) == [Layout(1, 16), Layout(2, 8), Layout(4, 4), Layout(8, 2)]
    # --threads fixed by the user: as many workers of that many threads as the cores hold
    assert candidates(8, threads=2) == [Layout(1, 2), Layout(2, 2), Layout(4, 2)]
    assert candidates(4, threads=3) == [Layout(1, 3)]


def test_the_layouts_timed_side_by_side_fit_in_memory() -> None:
    # 1 + 2 workers fit, 1 + 2 + 4 do not
    assert candidates(16, memory=4 * WORKER_MEMORY) == [Layout(1, 16), Layout(2, 8)]
    # one worker is always possible: the batch runs with it whatever the memory
    assert candidates(16, memory=WORKER_MEMORY // 2) == [Layout(1, 16)]


def _trial(workers: int, speed: float) -> Trial:
    return Trial(Layout(workers, 8 // workers), audio_seconds=speed * 10, wall=10.0)


def test_more_workers_are_picked_only_when_clearly_faster() -> None:
    assert pick([_trial(1, 20.0), _trial(2, 30.0), _trial(4, 25.0)]) == Layout(2, 4)
    # within 10 % of the fastest, the one with fewer processes (memory, start-up) wins
    assert pick([_trial(1, 20.0), _trial(2, 21.5)]) == Layout(1, 8)
    assert pick([_trial(1, 10.0), _trial(2, 20.0), _trial(4, 21.9)]) == Layout(2, 4)
    with pytest.raises(ValueError):
        pick([])


def test_a_measured_layout_is_kept_per_machine_and_settings(auditor_home: Path) -> None:
    settings = {"model": "base", "beam_size": 5, "device": "cpu"}
    key = machine_key(settings, cores=2, threads=0)
    assert key == machine_key(dict(settings), cores=2, threads=0)
    others = {
        machine_key({**settings, "beam_size": 1}, cores=2, threads=0),
        machine_key(settings, cores=4, threads=0),
        machine_key(settings, cores=2, threads=1),
    }
    assert key not in others and len(others) == 3
    choice = LayoutChoice(
        Layout(2, 1), (_trial(1, 20.0), _trial(2, 30.0)), "2026-12-08", "/archive/a.mp4"
    )
    path = save_choice(key, choice)
    try:
        assert path is not None and path.parent == auditor_home / "cache"
        assert load_choice(key) == choice
        assert "2 worker(s) x 1 thread(s)" in choice.describe()
        # damaged, or written by another format: measured again, never trusted
        path.write_text("{not json", encoding="utf-8")
        assert load_choice(key) is None
        data = choice.to_json()
        path.write_text(json.dumps({**data, "format": 99}), encoding="utf-8")
        assert load_choice(key) is None
        path.write_text(json.dumps({**data, "layout": {"workers": 0, "threads": 1}}))
        assert load_choice(key) is None
    finally:
        if path is not None:
            path.unlink(missing_ok=True)


def test_a_sample_keeps_the_video_and_silence_gives_none(tmp_path: Path, ffmpeg_bin: str) -> None:
    cut = cut_sample(str(DEMO), 0, tmp_path)
    assert cut is not None
    sample, speech = cut
    info = probe(str(sample))
    assert info.has_video and sample.suffix == ".mp4"
    assert 5.0 <= speech <= info.duration + 0.5 and info.duration <= 31.0
    quiet = tmp_path / "quiet.m4a"
    subprocess.run(
        [ffmpeg_bin, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "anullsrc=r=16000:cl=mono", "-t", "20", str(quiet)],
        check=True, timeout=60,
    )  # fmt: skip
    folder = tmp_path / "quiet-sample"
    folder.mkdir()
    assert cut_sample(str(quiet), 0, folder) is None


@pytest.fixture
def no_kept_layout(auditor_home: Path) -> Path:
    cache = auditor_home / "cache"
    for old in cache.glob("layout-*.json"):
        old.unlink()
    yield cache
    for made in cache.glob("layout-*.json"):
        made.unlink()


def _findings(db: Path) -> list[tuple[str, str, float]]:
    rows = run_cli("findings", "--db", str(db), "--format", "jsonl").stdout.splitlines()
    found = [json.loads(r) for r in rows]
    return sorted((Path(f["source"]).name, f["category"], round(f["start"], 1)) for f in found)


def test_workers_auto_times_the_layouts_once_then_uses_what_it_kept(
    tmp_path: Path, ffmpeg_bin: str, no_kept_layout: Path
) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    subprocess.run(
        [ffmpeg_bin, "-nostdin", "-loglevel", "error", "-ss", "4", "-t", "15", "-i", str(DEMO),
         "-c", "copy", str(folder / "claims.mp4")],
        check=True, timeout=60,
    )  # fmt: skip
    shutil.copy(DATA / "clips" / "d05.wav", folder / "talk.wav")
    shutil.copy(DATA / "clips" / "d10.wav", folder / "talk2.wav")

    first = run_cli("batch", str(folder), "--db", str(tmp_path / "a.db"), "--workers", "auto")
    assert first.returncode == 0, first.stderr
    assert "workers auto: timing" in first.stderr
    kept = list(no_kept_layout.glob("layout-*.json"))
    assert len(kept) == 1
    choice = LayoutChoice.from_json(json.loads(kept[0].read_text(encoding="utf-8")))
    assert {t.layout.workers for t in choice.trials} == {c.workers for c in candidates(2)}
    assert all(t.audio_seconds > 0 and t.wall > 0 for t in choice.trials)
    started = re.findall(r"starting (\d+) worker process", first.stderr)
    assert started == [str(choice.layout.workers)]

    again = run_cli("batch", str(folder), "--db", str(tmp_path / "b.db"), "--workers", "auto")
    assert again.returncode == 0, again.stderr
    assert "timing" not in again.stderr and f"workers auto: {choice.layout}" in again.stderr

    one = run_cli("batch", str(folder), "--db", str(tmp_path / "c.db"), "--workers", "1")
    assert one.returncode == 0, one.stderr
    assert _findings(tmp_path / "a.db") == _findings(tmp_path / "c.db")
    assert _findings(tmp_path / "a.db")  # the claims clip has findings to compare


def test_workers_auto_with_one_file_times_nothing(tmp_path: Path, no_kept_layout: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(DATA / "clips" / "d05.wav", folder / "talk.wav")
    done = run_cli("batch", str(folder), "--db", str(tmp_path / "a.db"), "--workers", "auto")
    assert done.returncode == 0, done.stderr
    assert "timing" not in done.stderr and "starting 1 worker process" in done.stderr
    assert not list(no_kept_layout.glob("layout-*.json"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workers", "0"), "not in the range"),
        (("--workers", "many"), "neither a number of workers nor 'auto'"),
        (("--workers", "auto", "--executor", "ray"), "--workers auto is for the local executor"),
    ],
)
def test_a_wrong_workers_value_is_a_usage_error(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = run_cli("batch", str(tmp_path), "--db", str(tmp_path / "a.db"), *args)
    assert done.returncode == 2
    assert message in done.stderr
