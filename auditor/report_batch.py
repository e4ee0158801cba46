"""Batch reports: an index of every recording in a batch database, and one page per recording.

The database is read, never written (`PRAGMA query_only`). The index rows stream from one query
ranked by findings (high, then medium, then all), and each recording's page is rendered and
written before the next recording is read, so memory does not grow with the number of
recordings. Every page is written atomically; the index last, so it never links a missing page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from auditor.clips import safe_part
from auditor.errors import InputError
from auditor.files import atomic_file, write_atomic
from auditor.report_html import csp_hash, esc, render_html, style
from auditor.store import RankedAudit, Store
from auditor.times import clock, utc_now

log = logging.getLogger("auditor")

PAGES = "recordings"  # subfolder of the output folder that holds one page per recording


@dataclass(frozen=True)
class BatchReport:
    index: str  # path of the index page
    recordings: int  # rows in the index
    pages: int  # recording pages written (done audits)


def page_name(audit_id: int, source_path: str) -> str:
    return f"{audit_id:06d}-{safe_part(Path(source_path).stem)}.html"


def _index_head(counts: dict[str, int], generated: str) -> str:
    total = sum(counts.values())
    state = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "empty"
    csp = f"default-src 'none'; style-src {csp_hash(style())}; base-uri 'none'; form-action 'none'"
    return (
        '<!doctype html>\n<html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>auditor batch report: {total} recordings</title>"
        f"<style>{style()}</style></head><body>"
        f'<header><h1>Batch audit report</h1><p class="muted">{total} recordings ({esc(state)}), '
        "ranked by findings (high, then medium, then all). "
        f"Generated {esc(generated)}.</p></header><main>"
        '<table class="index"><thead><tr><th class="num">#</th><th>recording</th><th>status</th>'
        '<th class="num">high</th><th class="num">medium</th><th class="num">low</th>'
        '<th class="num">findings</th><th>length</th><th>audited</th></tr></thead><tbody>\n'
    )


def _index_row(rank: int, row: RankedAudit, page: str | None) -> str:
    path = row.source_path
    name = f'<a href="{esc(page)}">{esc(path)}</a>' if page else esc(path)
    status = esc(row.status)
    if row.cause:
        status += f"<br><small>{esc(row.cause)}</small>"
    length = clock(row.duration) if row.duration else ""
    return (
        f'<tr class="status-{esc(row.status)}"><td class="num">{rank}</td>'
        f'<td class="path">{name}</td><td>{status}</td>'
        f'<td class="num">{row.high}</td><td class="num">{row.medium}</td>'
        f'<td class="num">{row.low}</td><td class="num">{row.total}</td>'
        f"<td>{length}</td><td>{esc(row.finished or '')}</td></tr>\n"
    )


def write_batch_report(db_path: str, out_dir: str) -> BatchReport:
    """Write `out_dir/index.html` and `out_dir/recordings/<id>-<stem>.html` per done audit."""
    with Store(db_path, read_only=True) as store:
        out = Path(out_dir)
        pages_dir = out / PAGES
        try:
            pages_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                out_dir, f"cannot create the report folder: {exc.strerror or exc}"
            ) from exc
        generated = utc_now()
        recordings = pages = 0
        with atomic_file(out / "index.html") as handle:
            handle.write(_index_head(store.audit_counts(), generated).encode("utf-8"))
            for rank, row in enumerate(store.ranked_audits(), 1):
                page = None
                if row.status == "done":
                    name = page_name(row.id, row.source_path)
                    stored = store.stored_result(row.id)
                    target = pages_dir / name
                    write_atomic(
                        target,
                        render_html(
                            [stored.result],
                            str(target),
                            generated=generated,
                            settings=stored.settings,
                            home="../index.html",
                        ),
                    )
                    page = f"{PAGES}/{name}"
                    pages += 1
                handle.write(_index_row(rank, row, page).encode("utf-8"))
                recordings += 1
            handle.write(b"</tbody></table></main></body></html>\n")
    log.info("batch report: %d recordings, %d pages in %s", recordings, pages, out_dir)
    return BatchReport(str(out / "index.html"), recordings, pages)
