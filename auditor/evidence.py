"""Evidence packages: the reviewed findings of a batch database as one zip for a case file.

Layout, under one top folder named after the zip:

    index.html                          every finding in the package, with its decision and note
    recordings/<audit>-<name>/page.html the recording's report, with the packaged findings
    recordings/<audit>-<name>/findings.json   those findings, decisions, notes and history
    recordings/<audit>-<name>/clips/    one evidence clip per finding (cut from the recording)
    manifest.json                       what, from where, by which tool, model and lexicon, and
                                        the SHA-256 and size of every other file in the package
    SHA256SUMS                          the same hashes (and the manifest's) for `sha256sum -c`

The recording itself is not packaged; its SHA-256 and size are, and its content is hashed again
before clips are cut from it: a recording that is missing or no longer has the audited content
gets no clips, and the manifest says so. The zip is built beside the target and renamed into place
when complete (`auditor.files.atomic_file`), so a failed or killed export leaves no partial file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.clips import DEFAULT_PADDING, clip_name, clip_window, cut_clip, safe_part
from auditor.decisions import Decision, ReviewedFinding
from auditor.errors import AuditorError, InputError
from auditor.files import atomic_file, printable, sha256_file, write_atomic
from auditor.report_html import csp_hash, esc, highlight, render_html, style
from auditor.results import AuditResult, Clip
from auditor.store import FindingQuery, Store, StoredResult
from auditor.times import clock, utc_now

log = logging.getLogger("auditor")

PACKAGE_FORMAT = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
_STORED = (".mp4", ".m4a")  # already compressed: stored as they are


@dataclass(frozen=True)
class ExportSummary:
    path: str
    recordings: int
    findings: int
    clips: int
    files: int  # in the package, manifest and sums included
    unverified: tuple[str, ...]  # recordings packaged without clips: 'path: why'


def _digest(path: Path) -> tuple[str, int]:
    return sha256_file(str(path)), path.stat().st_size


def _locate(store: Store, audit_id: int, sha256: str) -> tuple[str | None, str]:
    """Where the audited content is now, and the check's outcome: verified, changed, missing."""
    outcome = "missing"
    for path in store.media_paths(audit_id):
        if not os.path.isfile(path):
            continue
        if sha256_file(path) == sha256:
            return path, "verified"
        outcome = "changed"
    return None, outcome


def _history(history: Sequence[Decision]) -> list[dict[str, Any]]:
    return [
        {"decision": d.decision, "reviewer": d.reviewer, "decided": d.decided, "note": d.note}
        for d in history
    ]


@dataclass(frozen=True)
class _Packaged:
    """One recording in the package."""

    folder: str  # relative to the package's top folder
    stored: StoredResult
    rows: tuple[ReviewedFinding, ...]
    clips: tuple[str | None, ...]  # per row, relative to the package
    source_check: str
    source_at: str | None


def _package_recording(
    store: Store,
    staging: Path,
    rows: Sequence[ReviewedFinding],
    padding: float,
) -> _Packaged:
    audit_id = rows[0].audit_id
    stored = store.stored_result(audit_id)
    result = stored.result
    stem = safe_part(Path(result.source.path).stem)
    folder = f"recordings/{audit_id:06d}-{stem}"
    target = staging / folder
    (target / "clips").mkdir(parents=True)
    source_at, check = _locate(store, audit_id, result.source.sha256)
    clips: list[str | None] = [None] * len(rows)
    if source_at is not None:
        found = replace(result, source=replace(result.source, path=source_at))
        stream = int(stored.settings.get("audio_stream", 0))
        for index, row in enumerate(rows):
            start, end = clip_window(row.finding, padding, result.source.duration)
            name = clip_name(stem, index + 1, row.finding, result.source.has_video)
            try:
                cut_clip(found, start, end, target / "clips" / name, stream)
            except InputError as exc:  # that clip is missing from the evidence: said so below
                log.warning("%s", exc)
                continue
            clips[index] = f"{folder}/clips/{name}"
    history: dict[str, list[Decision]] = {}
    for decision in store.decision_history([r.finding.id for r in rows]):
        history.setdefault(decision.finding_id, []).append(decision)
    findings = []
    for row, clip in zip(rows, clips, strict=True):
        entry = row.to_dict()
        entry["clip"] = os.path.relpath(clip, folder) if clip else None
        entry["history"] = _history(history.get(row.finding.id, []))
        findings.append(entry)
    document = {
        "source": {**result.source.to_dict(), "check": check, "found_at": source_at},
        "audit": {
            "id": audit_id,
            "finished": result.finished,
            "tool_version": result.tool_version,
            "model": {"name": result.model.name, "sha256": result.model.sha256},
            "device": result.device,
            "compute_type": result.compute_type,
            "lexicon_version": result.lexicon_version,
            "product_category": result.options.product_category,
            "settings": stored.settings,
        },
        "findings": findings,
    }
    write_atomic(
        target / "findings.json", json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    )
    page = target / "page.html"
    shown = replace(result, findings=tuple(r.finding for r in rows))
    all_clips = all(clips)
    write_atomic(
        page,
        render_html(
            [shown],
            str(page),
            clips=[[Clip(str(staging / c), 0.0, 0.0) for c in clips if c]] if all_clips else None,
            padding=padding if all_clips else None,
            settings=stored.settings,
            home="../../index.html",
            # The recording is not in the package: its page plays it where it was found.
            media=[Path(source_at).resolve().as_uri() if source_at else ""],
        ),
    )
    return _Packaged(folder, stored, tuple(rows), tuple(clips), check, source_at)


def _index(packaged: Sequence[_Packaged], selection: dict[str, Any], made: str) -> str:
    rows = []
    for item in packaged:
        page = f"{item.folder}/page.html"
        for row, clip in zip(item.rows, item.clips, strict=True):
            f = row.finding
            decision = row.current
            clip_cell = f'<a href="{esc(clip)}">clip</a>' if clip else "none"
            rows.append(
                f'<tr class="sev-{esc(f.severity)}"><td class="path"><a href="{esc(page)}">'
                f"{esc(f.source)}</a></td><td>{clock(f.start)}</td>"
                f'<td><span class="sev sev-{esc(f.severity)}">{esc(f.severity)}</span></td>'
                f"<td>{esc(f.category)}<br><small>{esc(f.rule)}</small></td>"
                f'<td class="said">{highlight(f.context, f.matched)}</td>'
                f"<td>{esc(row.decision)}</td>"
                f"<td>{esc(decision.reviewer if decision else '')}<br>"
                f"<small>{esc(decision.decided if decision else '')}</small></td>"
                f"<td>{esc((decision.note or '') if decision else '')}</td>"
                f"<td><code>{esc(f.id)}</code></td><td>{clip_cell}</td></tr>"
            )
    csp = f"default-src 'none'; style-src {csp_hash(style())}; base-uri 'none'; form-action 'none'"
    total = sum(len(p.rows) for p in packaged)
    return (
        '<!doctype html>\n<html lang="zh-Hans"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>auditor evidence package: {total} findings</title>"
        f"<style>{style()}</style></head><body>"
        f'<header><h1>Evidence package</h1><p class="muted">{total} finding(s) from '
        f"{len(packaged)} recording(s), selected by {esc(json.dumps(selection))}. Made {esc(made)} "
        f"by auditor {esc(__version__)}; every file's SHA-256 is in {MANIFEST} and {SUMS}.</p>"
        '</header><main><table class="index"><thead><tr><th>recording</th><th>time</th>'
        "<th>severity</th><th>category</th><th>what was said</th><th>decision</th>"
        "<th>reviewer</th><th>note</th><th>finding id</th><th>evidence</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></main></body></html>\n"
    )


def _manifest(
    packaged: Sequence[_Packaged],
    files: list[dict[str, Any]],
    database: str,
    selection: dict[str, Any],
    made: str,
) -> dict[str, Any]:
    recordings = []
    for item in packaged:
        result: AuditResult = item.stored.result
        recordings.append(
            {
                "folder": item.folder,
                "audit_id": item.rows[0].audit_id,
                "source": {
                    "path": printable(result.source.path),
                    "sha256": result.source.sha256,
                    "size": result.source.size,
                    "duration": result.source.duration,
                    "check": item.source_check,
                    "found_at": printable(item.source_at) if item.source_at else None,
                },
                "model": {"name": result.model.name, "sha256": result.model.sha256},
                "lexicon_version": result.lexicon_version,
                "audited_by": {"tool": "auditor", "version": result.tool_version},
                "audited": result.finished,
                "findings": len(item.rows),
                "clips": sum(1 for c in item.clips if c),
            }
        )
    return {
        "package": "auditor evidence package",
        "format": PACKAGE_FORMAT,
        "made": made,
        "tool": {"name": "auditor", "version": __version__},
        "database": printable(os.path.abspath(database)),
        "selection": selection,
        "recordings": recordings,
        "files": files,
    }


def export_package(
    database: str,
    output: str,
    decisions: Sequence[str] = ("confirmed",),
    source_glob: str | None = None,
    since: str | None = None,
    padding: float = DEFAULT_PADDING,
    progress: Callable[[str], None] | None = None,
) -> ExportSummary:
    """Write the package of the current findings with these decisions (and recordings matching
    `source_glob`, audited at or after `since`) to `output`, atomically."""
    query = FindingQuery(since=since, source_glob=source_glob, decisions=tuple(decisions))
    selection = {"decision": list(decisions), "source": source_glob, "since": since}
    target = Path(output)
    if not target.parent.is_dir():
        raise InputError(output, "its folder does not exist")
    top = safe_part(target.stem if target.suffix == ".zip" else target.name)
    made = utc_now()
    with Store(database, read_only=True) as store:
        rows = store.reviewed_findings(query)
        if not rows:
            raise InputError(database, f"no current finding matches {json.dumps(selection)}")
        groups: dict[int, list[ReviewedFinding]] = {}
        for row in rows:
            groups.setdefault(row.audit_id, []).append(row)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        except OSError as exc:
            raise AuditorError(f"cannot write beside {output}: {exc.strerror or exc}") from exc
        try:
            packaged = []
            for number, group in enumerate(groups.values(), 1):
                if progress:
                    progress(
                        f"[{number}/{len(groups)}] {printable(group[0].finding.source)}: "
                        f"{len(group)} finding(s)"
                    )
                packaged.append(_package_recording(store, staging, group, padding))
            write_atomic(staging / "index.html", _index(packaged, selection, made))
            return _write_zip(target, top, staging, packaged, database, selection, made)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _write_zip(
    target: Path,
    top: str,
    staging: Path,
    packaged: Sequence[_Packaged],
    database: str,
    selection: dict[str, Any],
    made: str,
) -> ExportSummary:
    files: list[dict[str, Any]] = []
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        digest, size = _digest(path)
        files.append({"path": path.relative_to(staging).as_posix(), "sha256": digest, "size": size})
    manifest = _manifest(packaged, files, database, selection, made)
    write_atomic(staging / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    sums = [(f["sha256"], f["path"]) for f in files]
    sums.append((_digest(staging / MANIFEST)[0], MANIFEST))
    write_atomic(staging / SUMS, "".join(f"{digest}  {name}\n" for digest, name in sums))
    names = [name for _, name in sums] + [SUMS]
    try:
        with atomic_file(target) as handle, zipfile.ZipFile(handle, "w") as archive:
            for name in names:
                kind = zipfile.ZIP_STORED if name.endswith(_STORED) else zipfile.ZIP_DEFLATED
                archive.write(staging / name, f"{top}/{name}", compress_type=kind)
    except OSError as exc:
        raise AuditorError(f"cannot write {target}: {exc.strerror or exc}") from exc
    unverified = tuple(
        f"{printable(p.stored.result.source.path)}: {p.source_check}"
        for p in packaged
        if p.source_check != "verified"
    )
    return ExportSummary(
        path=str(target),
        recordings=len(packaged),
        findings=sum(len(p.rows) for p in packaged),
        clips=sum(1 for p in packaged for c in p.clips if c),
        files=len(names),
        unverified=unverified,
    )


def verify_package(path: str) -> list[str]:
    """Problems with a package: a file whose SHA-256 or size differs from the manifest, a file
    the manifest does not list or one it lists that is missing. Empty when it verifies."""
    problems = []
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        top = names[0].split("/", 1)[0] if names else ""
        manifest = json.loads(archive.read(f"{top}/{MANIFEST}"))
        listed = {f["path"]: f for f in manifest["files"]}
        present = {n.split("/", 1)[1] for n in names if not n.endswith("/")}
        for name in sorted(present - set(listed) - {MANIFEST, SUMS}):
            problems.append(f"{name}: not in the manifest")
        for name, entry in sorted(listed.items()):
            if name not in present:
                problems.append(f"{name}: missing")
                continue
            data = archive.read(f"{top}/{name}")
            if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
                problems.append(f"{name}: SHA-256 or size differs from the manifest")
    return problems
