"""Review page speed: the queue page's response time on a database of 100,000 findings.

Builds a batch database (1,000 recordings of 100 findings each by default, a tenth of them
decided), starts the real `auditor serve` on it and requests queue pages over HTTP as a browser
would: the first page, a deep page, filtered by severity, category, recording glob and decision,
each sort order. Every page is requested `--rounds` times, alternating between the pages; the
figures are the median and the slowest response, whole page (query, count, render, transfer).
Target: under 0.5 s per page.

    .venv/bin/python scripts/bench_review.py
    .venv/bin/python scripts/bench_review.py --recordings 100 --per-recording 100 --rounds 3

A deep page is measured both as `?page=N` (a jump: the rows before it are sorted and skipped) and
as the page's "next" link asks for it (`?after=ID`: the rows after a finding, as cheap as the first
page however deep).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.findings import Finding  # noqa: E402
from auditor.options import AuditOptions  # noqa: E402
from auditor.results import AuditResult, ResolvedModel, SourceInfo  # noqa: E402
from auditor.store import FindingQuery, Store, new_owner  # noqa: E402
from auditor.transcript import Segment, Transcript, Word  # noqa: E402

CATEGORIES = (
    ("absolute.superlative", "medium", "最好"),
    ("price.fake_reference", "high", "全网最低价"),
    ("authority.state", "high", "国家级"),
    ("urgency.inducement", "low", "仅此一次"),
    ("medical.claim", "high", "消炎"),
    ("diversion.offplatform", "medium", "加我微信"),
)


def build(db: Path, recordings: int, per_recording: int, decided_share: float) -> int:
    rng = random.Random(7)
    settings = {"model": "base", "beam_size": 5}
    with Store(db) as store:
        for r in range(recordings):
            sha = f"{r:064x}"
            path = f"/archive/2026-11-{r % 28 + 1:02d}/room-{r:05d}.mp4"
            store.record_path(path, sha, 1_000_000, 0, 0)
            owner = new_owner()
            _, row = store.claim(sha, "k", settings, path, owner)
            findings = []
            for i in range(per_recording):
                category, severity, term = CATEGORIES[rng.randrange(len(CATEGORIES))]
                start = i * 7.0 + rng.random()
                findings.append(
                    Finding(
                        path,
                        category,
                        f"{category}/bench",
                        severity,
                        term,
                        term,
                        start,
                        start + 0.8,
                        f"这个产品{term}，大家快来看看",
                        "《广告法》第九条",
                        round(rng.uniform(0.4, 1.0), 3),
                        "exact",
                    )
                )
            words = (Word(0.0, 0.5, "大家", 0.9),)
            result = AuditResult(
                source=SourceInfo(path, 1_000_000, sha, per_recording * 7.0, "mp4", True, 1),
                transcript=Transcript((Segment(0.0, 0.5, "大家", words),), "zh", 0.5),
                findings=tuple(findings),
                options=AuditOptions(),
                model=ResolvedModel("base", "", "x"),
                device="cpu",
                compute_type="int8",
                lexicon_version="bench",
                started="2026-11-01T00:00:00+00:00",
                finished=f"2026-11-{r % 28 + 1:02d}T00:00:00+00:00",
            )
            store.finish(row.id, owner, result)
        ids = [f.id for f in store.findings()]
        decided = rng.sample(ids, int(len(ids) * decided_share))
        for at in range(0, len(decided), 500):
            chunk = decided[at : at + 500]
            half = len(chunk) // 2
            store.decide(chunk[:half], "confirmed", "bench")
            store.decide(chunk[half:], "dismissed", "bench", "not a claim")
        return len(ids)


def serve(db: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", "serve", "--db", str(db), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    if "review page" not in line:
        process.kill()
        raise SystemExit(f"auditor serve did not start: {line}{process.stderr.read()}")
    return process, line.split(" at ", 1)[1].split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--per-recording", type=int, default=100)
    parser.add_argument("--decided", type=float, default=0.1, help="share of findings decided")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.sqlite"
        began = time.perf_counter()
        total = build(db, args.recordings, args.per_recording, args.decided)
        print(
            f"database: {total:,} findings in {args.recordings:,} recordings, "
            f"{args.decided:.0%} decided ({db.stat().st_size / 1e6:.0f} MB, built in "
            f"{time.perf_counter() - began:.0f} s)"
        )
        deep = max(1, total // 50 // 2)
        with Store(db) as store:  # where page `deep` starts: what its "next" link names
            [before_deep] = store.reviewed_findings(
                FindingQuery(decisions=("open",)), "severity", (deep - 1) * 50 - 1, 1
            )
        pages = {
            "open, by severity, page 1": "/",
            f"open, by severity, page {deep} (?page=)": f"/?page={deep}",
            f"open, by severity, page {deep} (next)": f"/?after={before_deep.finding.id}",
            "all decisions, page 1": "/?decision=all",
            "severity high or above": "/?severity=high",
            "category price.fake_reference": "/?category=price.fake_reference",
            "recording glob */2026-11-07/*": "/?source=*/2026-11-07/*",
            "confirmed": "/?decision=confirmed",
            "sort by confidence": "/?sort=confidence",
            "sort by recording and time": "/?sort=source",
            "sort by newest audit": "/?sort=newest",
            "200 per page": "/?per=200",
        }
        process, url = serve(db)
        base = url.rstrip("/")
        times: dict[str, list[float]] = {name: [] for name in pages}
        try:
            urllib.request.urlopen(base + "/", timeout=60).read()  # warm: first connection
            for _ in range(args.rounds):
                for name, path in pages.items():
                    began = time.perf_counter()
                    with urllib.request.urlopen(base + path, timeout=60) as response:
                        body = response.read()
                    times[name].append(time.perf_counter() - began)
                    assert b'id="review-data"' in body
        finally:
            process.terminate()
            process.wait(timeout=30)
        print(f"queue page response time over HTTP, {args.rounds} rounds (median / slowest):")
        for name, values in times.items():
            print(f"  {name:<40} {statistics.median(values):6.3f} s / {max(values):6.3f} s")
        worst = max(max(v) for v in times.values())
        print(f"slowest page: {worst:.3f} s (target < 0.5 s); cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
