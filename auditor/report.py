"""Report stage: render audit results as table, JSON, JSON Lines, CSV, HTML or subtitles.

The format names each command offers are defined here, next to the code that renders them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from auditor.decisions import ReviewedFinding
from auditor.findings import (
    FINDING_FIELDS,
    Finding,
    TextFinding,
    Why,
    sound_evidence_text,
    why_text,
)
from auditor.results import AuditResult, Clip
from auditor.times import clock

AUDIT_FORMATS = ("table", "json", "jsonl", "csv", "html", "srt", "vtt")  # auditor audit
ONE_RECORDING_FORMATS = ("srt", "vtt")  # the transcript of one recording as subtitles
TEXT_FORMATS = ("table", "jsonl")  # auditor scan-text
FINDINGS_FORMATS = ("table", "jsonl", "csv")  # auditor findings (from a batch database)
SUMMARY_FORMATS = ("table", "json")  # status, rescan, models, lexicon list


def render_table(results: Sequence[AuditResult]) -> str:
    out: list[str] = []
    for result in results:
        count = len(result.findings)
        out.append(
            f"{result.source.path}  ({clock(result.source.duration)}, "
            f"{count} finding{'s' if count != 1 else ''})"
        )
        for f in result.findings:
            out.append(
                f"  {clock(f.start)}  {f.severity:<6}  {f.category:<24}  「{f.matched}」  "
                f"{f.context}{_notes(f)}{_why_note(f.why)}"
            )
        if not count:
            out.append("  no findings")
    return "\n".join(out) + "\n"


def _notes(f: Finding) -> str:
    """What a table line adds after the sentence: shown on screen (until when), the match kind."""
    notes = [f"on screen to {clock(f.end)}"] if f.channel == "screen" else []
    if f.match != "exact":
        evidence = sound_evidence_text(f)
        notes.append(f"{f.match}: {evidence}" if evidence else f.match)
    return "".join(f"  [{note}]" for note in notes)


def _why_note(why: Why) -> str:
    """The parts of a combination that matched ('  (predicate 降 + object 血糖)'); nothing for a
    plain term or pattern, whose matched words are their own reason."""
    return f"  ({why_text(why)})" if len(why) > 1 else ""


def render_json(results: Sequence[AuditResult]) -> str:
    documents = [r.to_dict() for r in results]
    payload = documents[0] if len(documents) == 1 else documents
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def render_jsonl(findings: Iterable[Finding | TextFinding | ReviewedFinding]) -> str:
    return "".join(json.dumps(f.to_dict(), ensure_ascii=False) + "\n" for f in findings)


def render_csv(
    findings: Iterable[Finding | ReviewedFinding], fields: Sequence[str] = FINDING_FIELDS
) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for f in findings:
        row = f.to_dict()
        row["why"] = json.dumps(row["why"], ensure_ascii=False) if row["why"] else ""
        if "box" in row:
            row["box"] = json.dumps(row["box"])
        writer.writerow(row)
    return buffer.getvalue()


def _with_clips(
    results: Sequence[AuditResult], clips: Sequence[Sequence[Clip]]
) -> list[dict[str, Any]]:
    """Each result's document with a `clip` path on every finding (from --clips)."""
    documents = [r.to_dict() for r in results]
    for doc, rec_clips in zip(documents, clips, strict=True):
        for finding, clip in zip(doc["findings"], rec_clips, strict=True):
            finding["clip"] = clip.path
    return documents


def render_audit(
    results: Sequence[AuditResult],
    fmt: str,
    output: str | None = None,
    clips: Sequence[Sequence[Clip]] | None = None,
    clip_padding: float | None = None,
) -> str:
    """`output` is where the report goes (html links media relative to it); `clips` from --clips."""
    findings = [r.identified(f) for r in results for f in r.findings]
    if fmt == "table":
        return render_table(results)
    if fmt == "json":
        if clips is None:
            return render_json(results)
        docs = _with_clips(results, clips)
        return json.dumps(docs[0] if len(docs) == 1 else docs, ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        if clips is None:
            return render_jsonl(findings)
        rows = [f for doc in _with_clips(results, clips) for f in doc["findings"]]
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if fmt == "html":
        from auditor.report_html import render_html

        return render_html(results, output, clips, clip_padding)
    if fmt in ONE_RECORDING_FORMATS:
        from auditor.subtitles import render_subtitles

        if len(results) != 1:
            raise ValueError(f"--format {fmt} takes one recording, got {len(results)}")
        return render_subtitles(results[0], fmt)
    if fmt == "csv":
        return render_csv(findings)
    raise ValueError(f"unknown format {fmt!r}")


def render_text_findings(findings: Sequence[TextFinding], fmt: str) -> str:
    if fmt == "jsonl":
        return render_jsonl(findings)
    lines = [
        f"line {f.line}:{f.char_start}-{f.char_end}  {f.severity:<6}  {f.category:<24}  "
        f"「{f.matched}」{_why_note(f.why)}"
        for f in findings
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def render_findings_table(rows: Iterable[ReviewedFinding]) -> str:
    """Findings of many recordings, one line each, with the id to decide on and the decision
    (`auditor findings` on a terminal)."""
    return "".join(
        f"{r.finding.id}  {r.finding.source}  {clock(r.finding.start)}  "
        f"{r.finding.severity:<6}  {r.decision:<9}  {r.finding.category:<24}  "
        f"「{r.finding.matched}」  {r.finding.context}{_notes(r.finding)}"
        f"{_why_note(r.finding.why)}\n"
        for r in rows
    )
