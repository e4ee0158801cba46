"""Benchmark batch audits: `batch --workers N` against separate `audit` runs, and `rescan` speed.

    .venv/bin/python scripts/bench_batch.py [--files 6] [--workers 2] [--rescan-hours 20]

1. Makes FILES recordings from the sample (sections of sample_media/demo.mp4 and the test clips),
   audits each with its own `auditor audit` process (model loaded every time, as a cron loop over
   files would), then all of them with one `auditor batch --workers N` into a fresh database.
2. Stores synthetic transcripts (Mandarin sentences at a speaking pace, word times and
   probabilities) worth RESCAN_HOURS of audio in a database and times `rescan` over them,
   reported per 1,000 hours.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.batch import rescan  # noqa: E402
from auditor.lexicon import load_lexicon  # noqa: E402
from auditor.media import find_ffmpeg  # noqa: E402
from auditor.options import AuditOptions  # noqa: E402
from auditor.results import AuditResult, ResolvedModel, SourceInfo  # noqa: E402
from auditor.store import Store, new_owner  # noqa: E402
from auditor.transcript import Segment, Transcript, Word  # noqa: E402

SENTENCES = (
    "大家好欢迎来到小美的直播间",
    "这款精华液是全网第一效果最好",
    "第一步先把脸洗干净然后再涂水乳",
    "原价三百九十九今天直播间只要三十九全网最低价",
    "最近很多朋友在问发货的问题",
    "这件外套是纯棉的摸起来很舒服",
    "每人最多限购两件拍下就发货",
    "这个保健品可以抗癌老人一定要吃",
    "国家级的品质人民大会堂都在用",
    "喜欢的宝宝可以点一下关注",
)
CHARS_PER_SECOND = 4.0  # a brisk Mandarin sales pitch


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditor.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def make_media(folder: Path, count: int) -> list[Path]:
    ffmpeg = find_ffmpeg()
    demo = ROOT / "sample_media" / "demo.mp4"
    clips = sorted((ROOT / "tests" / "data" / "clips").glob("*.wav"))
    made: list[Path] = []
    for index in range(count):
        target = folder / f"rec{index:02d}.mp4"
        if index % 2 == 0:  # a 15-second section of the sample, different for each file
            start = str((index * 7) % 30)
            args = ["-ss", start, "-t", "15", "-i", str(demo), "-c:v", "copy", "-c:a", "aac"]
        else:
            args = ["-i", str(clips[index % len(clips)]), "-c:a", "aac"]
        subprocess.run(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-y", *args, str(target)], check=True
        )
        made.append(target)
    return made


def audio_seconds(db: Path) -> float:
    info = json.loads(_cli("status", "--db", str(db), "--format", "json").stdout)
    return float(info["audio_hours"]) * 3600.0


def bench_throughput(files: int, workers: int) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "media"
        folder.mkdir()
        media = make_media(folder, files)
        _cli("audit", str(media[0]), "--format", "jsonl", "-q")  # warm the model cache once
        started = time.monotonic()
        for path in media:
            done = _cli("audit", str(path), "--format", "jsonl", "-q", "--fail-on", "never")
            if done.returncode != 0:
                raise SystemExit(f"audit {path} failed: {done.stderr}")
        singles = time.monotonic() - started
        results: list[tuple[str, float, float]] = [("sum of single `audit` runs", singles, 0.0)]
        for n in sorted({1, workers}):
            db = Path(tmp) / f"batch{n}.db"
            started = time.monotonic()
            done = _cli("batch", str(folder), "--db", str(db), "--workers", str(n), "-q")
            elapsed = time.monotonic() - started
            if done.returncode != 0:
                raise SystemExit(f"batch failed: {done.stderr}")
            results.append((f"`batch --workers {n}`", elapsed, audio_seconds(db)))
            again = time.monotonic()
            _cli("batch", str(folder), "--db", str(db), "-q")
            results.append((f"  same again (nothing to do, {n})", time.monotonic() - again, 0.0))
        audio = max(r[2] for r in results)
        for label, seconds, _ in results:
            speed = f"{audio / seconds:6.1f}x" if not label.startswith("  ") else "-"
            rows.append((label, f"{len(media)}", f"{seconds:7.1f} s", speed))
        rows.append(("audio in all", "", f"{audio:7.1f} s", ""))
    return rows


def synthetic_transcript(seconds: float, rng: random.Random) -> Transcript:
    segments: list[Segment] = []
    clock = 0.0
    while clock < seconds:
        sentence = rng.choice(SENTENCES)
        words = []
        start = clock
        for char in sentence:
            words.append(Word(clock, clock + 0.22, char, round(rng.uniform(0.6, 1.0), 4)))
            clock += 1.0 / CHARS_PER_SECOND
        segments.append(Segment(start, clock, sentence, tuple(words)))
        clock += 0.8
    return Transcript(tuple(segments), "zh", clock)


def bench_rescan(hours: float) -> list[tuple[str, str, str, str]]:
    rng = random.Random(5)
    per_file = 1800.0  # half-hour recordings
    count = max(1, round(hours * 3600 / per_file))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rescan.db"
        fill = time.monotonic()
        with Store(db) as store:
            owner = new_owner()
            for index in range(count):
                sha = f"{index:064x}"
                store.record_path(f"/archive/rec{index}.mp4", sha, 1, 0, 0)
                _, row = store.claim(sha, "bench", {}, f"/archive/rec{index}.mp4", owner)
                result = AuditResult(
                    source=SourceInfo(f"/archive/rec{index}.mp4", 1, sha, per_file, "mp4", True, 1),
                    transcript=synthetic_transcript(per_file, rng),
                    findings=(),
                    options=AuditOptions(),
                    model=ResolvedModel("base", "", None),
                    device="cpu",
                    compute_type="int8",
                    lexicon_version="none",
                    started="",
                    finished="",
                    tool_version="bench",
                )
                store.finish(row.id, owner, result)
        fill = time.monotonic() - fill
        size = os.path.getsize(db) + (
            os.path.getsize(str(db) + "-wal") if os.path.exists(str(db) + "-wal") else 0
        )
        lexicon = load_lexicon()
        with Store(db) as store:
            summary = rescan(store, lexicon)
        stored_hours = summary.audio_seconds / 3600
        per_1000 = summary.elapsed * 1000 / stored_hours
        return [
            ("stored transcripts", f"{count}", f"{stored_hours:7.1f} h", f"{size / 1e6:.0f} MB"),
            ("rescan", f"{summary.findings} findings", f"{summary.elapsed:7.1f} s", ""),
            ("rescan per 1,000 h", "", f"{per_1000:7.0f} s", f"{per_1000 / 60:.1f} min"),
            ("(filling the database)", "", f"{fill:7.1f} s", ""),
        ]


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6, help="recordings to make and audit")
    parser.add_argument("--workers", type=int, default=2, help="batch worker processes")
    parser.add_argument("--rescan-hours", type=float, default=20.0, help="transcript hours")
    parser.add_argument("--skip-asr", action="store_true", help="only the rescan benchmark")
    args = parser.parse_args()
    os.environ.setdefault("AUDITOR_HOME", str(Path(tempfile.gettempdir()) / "auditor-bench"))
    print(f"machine: {os.cpu_count()} CPU cores; AUDITOR_HOME={os.environ['AUDITOR_HOME']}")
    if not args.skip_asr:
        rows = bench_throughput(args.files, args.workers)
        print(table("\nthroughput", ("run", "files", "wall", "audio/wall"), rows))
    rows = bench_rescan(args.rescan_hours)
    print(table("\nrescan (no speech recognition)", ("what", "n", "time", ""), rows))


if __name__ == "__main__":
    main()
