"""Batch reports: an index of every recording in a batch database, and one page per recording.

The database is read, never written (`PRAGMA query_only`). The index rows stream from one query
ranked by findings (high, then medium, then all), and each recording's page is rendered and
written before the next recording is read, so memory does not grow with the number of
recordings. Every page is written atomically; the index last, so it never links a missing page.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.asr import AsrOptions
from auditor.audit import AuditOptions, AuditResult, SourceInfo
from auditor.clips import safe_part
from auditor.errors import InputError
from auditor.findings import Finding
from auditor.models import ResolvedModel
from auditor.report import write_atomic
from auditor.report_html import STYLE, clock, csp_hash, esc, render_html
from auditor.store import SCHEMA_VERSION, StoreError
from auditor.transcript import Transcript

log = logging.getLogger("auditor")

PAGES = "recordings"  # subfolder of the output folder that holds one page per recording

_RANKED = """
SELECT a.id, a.status, a.cause, a.source_path, a.duration, a.finished,
       COALESCE(SUM(f.severity = 'high'), 0) AS high,
       COALESCE(SUM(f.severity = 'medium'), 0) AS medium,
       COALESCE(SUM(f.severity = 'low'), 0) AS low,
       COUNT(f.id) AS total
FROM audits a
LEFT JOIN findings f ON f.audit_id = a.id AND f.lexicon_version = a.lexicon_version
GROUP BY a.id
ORDER BY high DESC, medium DESC, total DESC, a.status = 'done' DESC, a.source_path, a.id
"""
_FINDINGS = """
SELECT category, rule, severity, matched, term, start, "end", context, legal_basis, confidence,
       match
FROM findings WHERE audit_id = ? AND lexicon_version = ? ORDER BY start, "end", rule
"""


@dataclass(frozen=True)
class BatchReport:
    index: str  # path of the index page
    recordings: int  # rows in the index
    pages: int  # recording pages written (done audits)


def _connect(db_path: str) -> sqlite3.Connection:
    if not Path(db_path).is_file():
        raise InputError(db_path, "no such database (run `auditor batch --db` first)")
    try:
        db = sqlite3.connect(db_path, timeout=60.0)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA query_only = ON")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version != SCHEMA_VERSION:
            db.close()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    db_path, f"database schema {version} is newer than this auditor's; upgrade it"
                )
            raise InputError(
                db_path,
                f"database schema {version} is older than this auditor's {SCHEMA_VERSION} "
                "(run `auditor status --db` once to upgrade it)",
            )
        db.execute("SELECT 1 FROM audits LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise InputError(db_path, f"not a batch database: {exc}") from exc
    return db


def page_name(audit_id: int, source_path: str) -> str:
    return f"{audit_id:06d}-{safe_part(Path(source_path).stem)}.html"


def _result(db: sqlite3.Connection, audit_id: int) -> tuple[AuditResult, dict[str, Any]]:
    """A done audit as an AuditResult, and the settings the batch stored for it."""
    row = db.execute(
        "SELECT a.*, fl.size FROM audits a JOIN files fl ON fl.sha256 = a.sha256 WHERE a.id = ?",
        (audit_id,),
    ).fetchone()
    settings: dict[str, Any] = json.loads(row["settings"])
    source = str(row["source_path"])
    findings = tuple(
        Finding(source, *f) for f in db.execute(_FINDINGS, (audit_id, row["lexicon_version"]))
    )
    asr = AsrOptions(
        model=str(settings.get("model", row["model_name"] or "")),
        device=str(row["device"] or ""),
        compute_type=str(row["compute_type"] or ""),
        language=str(settings.get("language", "")),
    )
    result = AuditResult(
        source=SourceInfo(
            path=source,
            size=int(row["size"]),
            sha256=str(row["sha256"]),
            duration=float(row["duration"] or 0.0),
            format=str(row["format"] or ""),
            has_video=bool(row["has_video"]),
            audio_streams=int(row["audio_streams"] or 0),
        ),
        transcript=Transcript.from_dict(json.loads(row["transcript"])),
        findings=findings,
        options=AuditOptions(asr=asr, audio_stream=int(settings.get("audio_stream", 0))),
        model=ResolvedModel(str(row["model_name"] or ""), "", row["model_sha256"]),
        device=str(row["device"] or ""),
        compute_type=str(row["compute_type"] or ""),
        lexicon_version=str(row["lexicon_version"] or ""),
        started=str(row["started"] or ""),
        finished=str(row["finished"] or ""),
        tool_version=str(row["tool_version"] or ""),
    )
    return result, settings


def _index_rows(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    cursor = db.execute(_RANKED)
    while rows := cursor.fetchmany(50):
        yield from rows


def _index_head(db: sqlite3.Connection, generated: str) -> str:
    counts = {
        str(r[0]): int(r[1])
        for r in db.execute("SELECT status, COUNT(*) FROM audits GROUP BY status")
    }
    total = sum(counts.values())
    state = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "empty"
    csp = f"default-src 'none'; style-src {csp_hash(STYLE)}; base-uri 'none'; form-action 'none'"
    return (
        '<!doctype html>\n<html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>auditor batch report: {total} recordings</title>"
        f"<style>{STYLE}</style></head><body>"
        f'<header><h1>Batch audit report</h1><p class="muted">{total} recordings ({esc(state)}), '
        "ranked by findings (high, then medium, then all). "
        f"Generated {esc(generated)}.</p></header><main>"
        '<table class="index"><thead><tr><th class="num">#</th><th>recording</th><th>status</th>'
        '<th class="num">high</th><th class="num">medium</th><th class="num">low</th>'
        '<th class="num">findings</th><th>length</th><th>audited</th></tr></thead><tbody>\n'
    )


def _index_row(rank: int, row: sqlite3.Row, page: str | None) -> str:
    path = str(row["source_path"])
    name = f'<a href="{esc(page)}">{esc(path)}</a>' if page else esc(path)
    status = str(row["status"])
    if row["cause"]:
        status += f"<br><small>{esc(row['cause'])}</small>"
    length = clock(float(row["duration"])) if row["duration"] else ""
    return (
        f'<tr class="status-{esc(row["status"])}"><td class="num">{rank}</td>'
        f'<td class="path">{name}</td><td>{status}</td>'
        f'<td class="num">{row["high"]}</td><td class="num">{row["medium"]}</td>'
        f'<td class="num">{row["low"]}</td><td class="num">{row["total"]}</td>'
        f"<td>{length}</td><td>{esc(row['finished'] or '')}</td></tr>\n"
    )


def write_batch_report(db_path: str, out_dir: str) -> BatchReport:
    """Write `out_dir/index.html` and `out_dir/recordings/<id>-<stem>.html` per done audit."""
    db = _connect(db_path)
    out = Path(out_dir)
    pages_dir = out / PAGES
    try:
        pages_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            out_dir, f"cannot create the report folder: {exc.strerror or exc}"
        ) from exc
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    index = out / "index.html"
    fd, tmp = tempfile.mkstemp(prefix=".index.html.", suffix=".tmp", dir=out)
    recordings = pages = 0
    try:
        with db, os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_index_head(db, generated))
            for rank, row in enumerate(_index_rows(db), 1):
                page = None
                if row["status"] == "done":
                    name = page_name(int(row["id"]), str(row["source_path"]))
                    result, settings = _result(db, int(row["id"]))
                    target = pages_dir / name
                    write_atomic(
                        target,
                        render_html(
                            [result],
                            str(target),
                            generated=generated,
                            settings=settings,
                            home="../index.html",
                        ),
                    )
                    page = f"{PAGES}/{name}"
                    pages += 1
                handle.write(_index_row(rank, row, page))
                recordings += 1
            handle.write("</tbody></table></main></body></html>\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, index)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        db.close()
    log.info("batch report: %d recordings, %d pages in %s", recordings, pages, out_dir)
    return BatchReport(str(index), recordings, pages)
