"""The HTML report: one self-contained, offline page per run.

Summary, an inline-SVG timeline, a findings table with playable evidence, filters, the transcript
with flagged words marked, and the audit trail. No external resource: CSS and JavaScript are
inline and a Content-Security-Policy allows only those exact inline blocks (by hash), so even a
tag that slipped through escaping could not run. Everything a recording or transcript contributes
is escaped with `html.escape`; the data the script needs is JSON with `<`, `>`, `&`, U+2028 and
U+2029 escaped. Media (the source and the clips) is referenced by URLs relative to the report.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from auditor.files import printable
from auditor.findings import CHANNELS, Finding, sound_evidence_text
from auditor.results import AuditResult, Clip
from auditor.screen import overlap
from auditor.severity import SEVERITIES, highest, rank
from auditor.thumbs import screen_shots
from auditor.times import clock, utc_now
from auditor.transcript import Segment

LEAD_IN = 0.5  # seconds of the source played before a finding's first word
SEVERITY_COLOURS = {"high": "#b3261e", "medium": "#c77700", "low": "#2f6db3"}
_TIMELINE_WIDTH = 1000.0


@cache
def asset(name: str) -> str:
    """A file of auditor/assets (the report's CSS and JavaScript), inlined into every page."""
    return resources.files("auditor").joinpath("assets", name).read_text(encoding="utf-8")


def style() -> str:
    return asset("report.css")


def esc(text: object) -> str:
    return html.escape(printable(text), quote=True)


def script_json(data: Any) -> str:
    """JSON safe inside <script>: no `</script>`, `<!--`, entities or JS line terminators."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return printable(text)


def media_url(path: str, report: str | None) -> str:
    """A URL for `path` relative to the report's folder (the working folder for stdout)."""
    base = os.path.dirname(os.path.abspath(report)) if report and report != "-" else os.getcwd()
    target = os.path.abspath(path)
    try:
        rel = os.path.relpath(target, base)
    except ValueError:  # another drive on Windows: no relative path exists
        return Path(target).as_uri()
    # Percent-encode the original bytes: '#', '?', ':', quotes and spaces cannot end the path.
    return urllib.parse.quote(os.fsencode(rel.replace(os.sep, "/")), safe="/")


def highlight(context: str, matched: str) -> str:
    """The sentence, escaped, with the matched words in <mark> (ignoring spaces and punctuation)."""
    keep = [(i, ch) for i, ch in enumerate(context) if ch.isalnum()]
    stripped = "".join(ch for _, ch in keep).lower()
    target = "".join(ch for ch in matched if ch.isalnum()).lower()
    at = stripped.find(target) if target else -1
    if at < 0:
        return esc(context)
    first, last = keep[at][0], keep[at + len(target) - 1][0] + 1
    return f"{esc(context[:first])}<mark>{esc(context[first:last])}</mark>{esc(context[last:])}"


def _segment_html(segment: Segment, findings: Sequence[Finding]) -> tuple[str, bool]:
    """A transcript line: words overlapping a finding are marked (consecutive ones together)."""
    words = segment.words or ()
    if not words:
        hits = [f for f in findings if f.start < segment.end and f.end > segment.start]
        return esc(segment.text), bool(hits)
    parts: list[str] = []
    run: list[str] = []
    run_hits: list[Finding] = []
    flagged = False

    def close_run() -> None:
        if run:
            cats = ", ".join(dict.fromkeys(f.category for f in run_hits))
            worst = highest(f.severity for f in run_hits) or ""
            parts.append(
                f'<mark class="sev-{esc(worst)}" title="{esc(cats)}">{"".join(run)}</mark>'
            )
            run.clear()
            run_hits.clear()

    for word in words:
        hits = [f for f in findings if word.start < f.end - 1e-3 and word.end > f.start + 1e-3]
        if hits:
            flagged = True
            run.append(esc(word.text))
            run_hits.extend(h for h in hits if h not in run_hits)
        else:
            close_run()
            parts.append(esc(word.text))
    close_run()
    return "".join(parts), flagged


_LANES = {"speech": (8.0, "said"), "screen": (36.0, "shown")}  # top of each lane, its label
_LANE_HEIGHT = 24.0
_AXIS = 64.0


def _timeline(result: AuditResult, rec: int) -> str:
    """Findings on a time axis: what was said in the top lane, what was shown below it."""
    duration = max(result.source.duration, max((f.end for f in result.findings), default=0.0), 1.0)
    scale = _TIMELINE_WIDTH / duration
    step = next(
        (s for s in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800) if duration / s <= 12), 3600
    )
    ticks = []
    t = 0
    while t <= duration:
        x = t * scale
        anchor = "start" if t == 0 else "middle"
        ticks.append(
            f'<line x1="{x:.1f}" y1="{_AXIS:.0f}" x2="{x:.1f}" y2="{_AXIS + 6:.0f}" class="tick"/>'
            f'<text x="{x:.1f}" y="{_AXIS + 18:.0f}" text-anchor="{anchor}">{clock(t)}</text>'
        )
        t += step
    lanes = "".join(
        f'<rect class="track" x="0" y="{top:.0f}" width="{_TIMELINE_WIDTH:.0f}" '
        f'height="{_LANE_HEIGHT:.0f}"/><text class="lane" x="4" y="{top + 16:.0f}">{label}</text>'
        for top, label in _LANES.values()
    )
    markers = []
    for index, f in enumerate(result.findings):
        x = f.start * scale
        width = max(4.0, (f.end - f.start) * scale)
        colour = SEVERITY_COLOURS.get(f.severity, "#555")
        top = _LANES.get(f.channel, _LANES["speech"])[0]
        shown = "shown" if f.channel == "screen" else "said"
        label = f"{clock(f.start)} {f.severity} {f.category} ({shown}): {f.matched}"
        markers.append(
            f'<g class="marker" data-finding="{index}" data-rec="{rec}" '
            f'data-severity="{esc(f.severity)}" data-category="{esc(f.category)}" '
            f'data-channel="{esc(f.channel)}" '
            f'tabindex="0" role="button" aria-label="{esc(label)}">'
            f"<title>{esc(label)}</title>"
            f'<rect x="{x:.1f}" y="{top:.0f}" width="{width:.1f}" height="{_LANE_HEIGHT:.0f}" '
            f'rx="2" fill="{colour}"/></g>'
        )
    return (
        f'<svg class="timeline" id="timeline-{rec}" data-rec="{rec}" '
        f'data-duration="{duration:.3f}" '
        f'viewBox="-8 0 {_TIMELINE_WIDTH + 16:.0f} {_AXIS + 24:.0f}" '
        f'role="img" aria-label="Timeline of the recording: findings said and shown">'
        f'{lanes}<line x1="0" y1="{_AXIS:.0f}" x2="{_TIMELINE_WIDTH:.0f}" y2="{_AXIS:.0f}" '
        f'class="axis"/>'
        f"{''.join(ticks)}{''.join(markers)}"
        f'<line class="playhead" x1="0" y1="4" x2="0" y2="{_AXIS:.0f}"/>'
        f"</svg>"
    )


def _summary(result: AuditResult) -> str:
    by_severity = Counter(f.severity for f in result.findings)
    by_category: dict[str, tuple[str, int]] = {}
    for f in result.findings:
        _, n = by_category.get(f.category, (f.severity, 0))
        by_category[f.category] = (f.severity, n + 1)
    badges = "".join(
        f'<span class="badge sev-{s}">{by_severity.get(s, 0)} {s}</span>' for s in SEVERITIES
    )
    rows = "".join(
        f'<tr><td>{esc(cat)}</td><td><span class="sev sev-{esc(sev)}">{esc(sev)}</span></td>'
        f'<td class="num">{n}</td></tr>'
        for cat, (sev, n) in sorted(
            by_category.items(), key=lambda kv: (-rank(kv[1][0]), -kv[1][1], kv[0])
        )
    )
    categories = (
        '<table class="categories"><thead><tr><th>category</th><th>severity</th>'
        f'<th class="num">findings</th></tr></thead><tbody>{rows}</tbody></table>'
        if rows
        else ""
    )
    return (
        '<div class="summary">'
        f'<div class="total"><span class="big">{len(result.findings)}</span> '
        f"finding{'s' if len(result.findings) != 1 else ''} {badges}"
        f'<p class="channels">{_channel_counts(result)}</p></div>'
        "<dl>"
        f"<dt>length</dt><dd>{clock(result.source.duration)} "
        f"({result.source.duration:.1f} s)</dd>"
        f"<dt>model</dt><dd>{esc(result.model.name)} ({esc(result.device)}, "
        f"{esc(result.compute_type)})</dd>"
        f"<dt>lexicon version</dt><dd><code>{esc(result.lexicon_version)}</code></dd>"
        f"<dt>screen text</dt><dd>{esc(_screen_note(result))}</dd>"
        "</dl>"
        f"{categories}</div>"
    )


def _channel_counts(result: AuditResult) -> str:
    said = sum(f.channel == "speech" for f in result.findings)
    return f"{said} said, {len(result.findings) - said} shown on screen"


def _screen_note(result: AuditResult) -> str:
    """What the screen pass did, in a few words."""
    screen = result.screen
    if screen is None:
        if not result.source.has_video:
            return "none (no video)"
        return (
            "not read" if not result.options.screen.enabled else "none (the video was unreadable)"
        )
    note = (
        f"{len(screen.spans)} line(s) read; {screen.sampled} frame(s) every {screen.interval:g} s "
        f"({screen.mode}), {screen.read} read"
    )
    return note + (f", {screen.corrupt} undecodable, skipped" if screen.corrupt else "")


def _filters(result: AuditResult, rec: int) -> str:
    severities = [s for s in SEVERITIES if any(f.severity == s for f in result.findings)]
    categories = sorted({f.category for f in result.findings})
    sev_boxes = "".join(
        f'<label><input type="checkbox" class="f-sev" value="{esc(s)}" checked> '
        f'<span class="sev sev-{esc(s)}">{esc(s)}</span></label>'
        for s in severities
    )
    cat_boxes = "".join(
        f'<label><input type="checkbox" class="f-cat" value="{esc(c)}" checked> {esc(c)}</label>'
        for c in categories
    )
    channels = [c for c in CHANNELS if any(f.channel == c for f in result.findings)]
    channel_boxes = "".join(
        f'<label><input type="checkbox" class="f-chan" value="{esc(c)}" checked> '
        f"{'said' if c == 'speech' else 'shown'}</label>"
        for c in channels
    )
    return (
        f'<form class="filters" id="filters-{rec}" data-rec="{rec}">'
        f"<fieldset><legend>severity</legend>{sev_boxes}</fieldset>"
        f"<fieldset><legend>category</legend>{cat_boxes}</fieldset>"
        f"<fieldset><legend>channel</legend>{channel_boxes}</fieldset>"
        f'<p class="count">showing <span class="shown">{len(result.findings)}</span> of '
        f"{len(result.findings)}</p></form>"
    )


def _evidence(f: Finding, shot: str | None) -> str:
    """The sentence said, or for a screen finding the picture of the text and how long it stayed."""
    said = highlight(f.context, f.matched)
    if f.channel != "screen":
        return said
    picture = (
        f'<button type="button" class="shot-button" title="play the recording from here">'
        f'<img class="shot" src="{esc(shot)}" alt="{esc(f.context)}"></button><br>'
        if shot
        else ""
    )
    return (
        f'{picture}<span class="shown">shown</span> {said} '
        f"<small>on screen {clock(f.start)}–{clock(f.end)}</small>"
    )


def _why_html(f: Finding) -> str:
    """The parts of a combination that matched, each named (predicate 降 + object 血糖)."""
    if len(f.why) < 2:
        return ""
    parts = " + ".join(
        f'<span class="part">{esc(part)} <b>{esc(words)}</b></span>' for part, words in f.why
    )
    return f'<br><small class="why">why: {parts}</small>'


def _sound_html(f: Finding) -> str:
    """A verified sound-alike's log probabilities: how well its term fits the audio."""
    evidence = sound_evidence_text(f)
    if not evidence:
        return ""
    title = "summed log probability of the tokens of each text for this audio"
    return f'<br><small class="evidence" title="{title}">{esc(evidence)}</small>'


def _findings_table(
    result: AuditResult, rec: int, clips: Sequence[Clip] | None, shots: dict[int, str]
) -> str:
    if not result.findings:
        return '<p class="none">No findings.</p>'
    rows = []
    for index, f in enumerate(result.findings):
        clip_cell = (
            '<button type="button" class="play-clip">▶ clip</button>'
            if clips
            else '<span class="muted">—</span>'
        )
        rows.append(
            f'<tr class="finding sev-{esc(f.severity)}" id="f-{rec}-{index}" '
            f'data-finding="{index}" data-rec="{rec}" data-severity="{esc(f.severity)}" '
            f'data-category="{esc(f.category)}" data-channel="{esc(f.channel)}" '
            f'data-start="{f.start:.2f}">'
            f'<td class="num">{index + 1}</td>'
            f'<td><button type="button" class="seek" title="play the recording from here">'
            f"▶ {clock(f.start)}</button></td>"
            f"<td>{esc(f.category)}<br><small>{esc(f.rule)}</small>{_why_html(f)}</td>"
            f'<td><span class="sev sev-{esc(f.severity)}">{esc(f.severity)}</span></td>'
            f'<td class="said">{_evidence(f, shots.get(index))}</td>'
            f'<td class="law">{esc(f.legal_basis)}</td>'
            f'<td class="num">{f.confidence:.2f}</td>'
            f"<td>{esc(f.match)}{_sound_html(f)}</td>"
            f"<td>{clip_cell}</td></tr>"
        )
    return (
        '<table class="findings"><thead><tr><th>#</th><th>time</th><th>category</th>'
        "<th>severity</th><th>what was said or shown</th><th>legal basis</th><th>confidence</th>"
        f"<th>match</th><th>evidence</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _transcript(result: AuditResult, rec: int) -> str:
    items = []
    said = [f for f in result.findings if f.channel == "speech"]
    for index, segment in enumerate(result.transcript.segments):
        body, flagged = _segment_html(segment, said)
        items.append(
            f'<li id="s-{rec}-{index}"{" class=flagged" if flagged else ""}>'
            f'<button type="button" class="seek-to" data-t="{segment.start:.2f}">'
            f"{clock(segment.start)}</button> <span>{body}</span></li>"
        )
    if not items:
        return '<p class="none">No speech was recognised.</p>'
    return f'<ol class="transcript">{"".join(items)}</ol>'


def _screen_text(result: AuditResult) -> str:
    """Every line read on screen, with its time; lines a finding came from are marked."""
    screen = result.screen
    if screen is None or not screen.spans:
        return '<p class="none">No text was read on screen.</p>'
    shown = [f for f in result.findings if f.channel == "screen"]
    items = []
    for span in screen.spans:
        flagged = any(
            f.start < span.end and span.start < f.end and f.box and overlap(f.box, span.box) > 0
            for f in shown
        )
        items.append(
            f"<li{' class=flagged' if flagged else ''}>"
            f'<button type="button" class="seek-to" data-t="{span.start:.2f}">'
            f"{clock(span.start)}</button> <span>{esc(span.text)}</span> "
            f"<small>to {clock(span.end)}, confidence {span.confidence:.2f}</small></li>"
        )
    return f'<ol class="screen-text">{"".join(items)}</ol>'


def _settings_text(settings: dict[str, Any], prefix: str = "") -> str:
    """One `key: value` line per setting, nested keys dotted (compact JSON values).

    Not json.dumps(indent=...): its pure-Python encoder leaves reference cycles per call, which
    a batch of thousands of pages would pile up until the garbage collector runs.
    """
    lines = []
    for key, value in settings.items():
        if isinstance(value, dict):
            lines.append(_settings_text(value, f"{prefix}{key}."))
        else:
            lines.append(f"{prefix}{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines)


def _trail(
    result: AuditResult, padding: float | None, settings: dict[str, Any] | None = None
) -> str:
    src = result.source
    custom = settings
    settings = result.options.to_dict() if settings is None else settings
    rows: list[tuple[str, str]] = [
        ("tool", f"auditor {esc(result.tool_version)}"),
        ("source", esc(src.path)),
        ("source SHA-256", f"<code>{esc(src.sha256)}</code>"),
        ("source size", f"{src.size:,} bytes"),
        (
            "source media",
            f"{esc(src.format)}; {src.duration:.3f} s; "
            f"{'video and ' if src.has_video else ''}{src.audio_streams} audio stream(s)",
        ),
        ("model", f"{esc(result.model.name)} <small>{esc(result.model.path)}</small>"),
        ("model SHA-256", f"<code>{esc(result.model.sha256 or 'unknown')}</code>"),
        ("device", f"{esc(result.device)} ({esc(result.compute_type)})"),
        ("lexicon version", f"<code>{esc(result.lexicon_version)}</code>"),
        ("settings", f"<pre>{esc(_settings_text(settings))}</pre>"),
        ("run started", esc(result.started)),
        ("run finished", esc(result.finished)),
    ]
    if custom is None:  # a batch's stored settings do not list lexicon files; its version does
        lexicons = result.options.lexicons
        rows.insert(9, ("extra lexicons", esc(", ".join(lexicons)) if lexicons else "none"))
    if padding is not None:
        rows.append(("clip padding", f"{padding:g} s either side"))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="trail">{body}</dl>'


def _recording(
    result: AuditResult,
    rec: int,
    report: str | None,
    clips: Sequence[Clip] | None,
    padding: float | None,
    settings: dict[str, Any] | None = None,
    source_url: str | None = None,
) -> str:
    src = esc(media_url(result.source.path, report) if source_url is None else source_url)
    kind = "video" if result.source.has_video else "audio"
    shots = screen_shots(result.source.path, result.findings) if result.screen else {}
    screen_section = (
        f"<details><summary><h3>Screen text</h3></summary>{_screen_text(result)}</details>"
        if result.source.has_video
        else ""
    )
    return (
        f'<section class="recording" id="rec-{rec}" data-rec="{rec}">'
        f'<h2 class="source-name">{esc(result.source.path)}</h2>'
        f"{_summary(result)}"
        f'<div class="player-box"><{kind} class="player" id="player-{rec}" controls '
        f'preload="metadata" src="{src}"></{kind}>'
        f'<p class="player-status" id="status-{rec}" aria-live="polite">'
        f"Click a finding, the timeline or a transcript time to play that moment.</p></div>"
        f"{_timeline(result, rec)}"
        "<h3>Findings</h3>"
        f"{_filters(result, rec) if result.findings else ''}"
        f"{_findings_table(result, rec, clips, shots)}"
        f"<details open><summary><h3>Transcript</h3></summary>{_transcript(result, rec)}</details>"
        f"{screen_section}"
        "<details><summary><h3>Audit trail</h3></summary>"
        f"{_trail(result, padding, settings)}</details>"
        "</section>"
    )


def _data(
    results: Sequence[AuditResult],
    report: str | None,
    clips: Sequence[Sequence[Clip]] | None,
    media: Sequence[str] | None = None,
) -> dict[str, Any]:
    recordings = []
    for rec, result in enumerate(results):
        rec_clips = clips[rec] if clips else None
        recordings.append(
            {
                "source": printable(result.source.path),
                "media": media[rec] if media else media_url(result.source.path, report),
                "duration": result.source.duration,
                "findings": [
                    {
                        "start": round(f.start, 3),
                        "end": round(f.end, 3),
                        "category": f.category,
                        "severity": f.severity,
                        "channel": f.channel,
                        "clip": media_url(rec_clips[i].path, report) if rec_clips else None,
                    }
                    for i, f in enumerate(result.findings)
                ],
            }
        )
    return {"lead": LEAD_IN, "recordings": recordings}


def _home_link(home: str | None) -> str:
    return f'<nav><a href="{esc(home)}">← all recordings</a></nav>' if home else ""


def csp_hash(block: str) -> str:
    digest = hashlib.sha256(block.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def page_csp() -> str:
    """The report's Content-Security-Policy: only its own inline style and script (by hash)."""
    return (
        "default-src 'none'; "
        f"style-src {csp_hash(style())}; script-src {csp_hash(asset('report.js'))}; "
        "media-src 'self' file: blob: data:; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def render_html(
    results: Sequence[AuditResult],
    output: str | None = None,
    clips: Sequence[Sequence[Clip]] | None = None,
    padding: float | None = None,
    generated: str | None = None,
    settings: dict[str, Any] | None = None,
    home: str | None = None,
    media: Sequence[str] | None = None,
) -> str:
    """The whole report as one string. `output` is where it will be written (for media URLs).

    `settings` replaces the recorded options in the audit trail (a batch stores its own);
    `home` is a URL to link back to (a batch index); `media` gives each result's source URL
    (default: its path relative to `output`).
    """
    generated = generated or utc_now()
    total = sum(len(r.findings) for r in results)
    names = ", ".join(os.path.basename(r.source.path) for r in results)
    sections = "".join(
        _recording(
            r,
            i,
            output,
            clips[i] if clips else None,
            padding if clips else None,
            settings,
            media[i] if media else None,
        )
        for i, r in enumerate(results)
    )
    csp = page_csp()
    return (
        "<!doctype html>\n"
        '<html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>auditor report: {esc(names)}</title>"
        f"<style>{style()}</style></head><body>"
        f"{_home_link(home)}"
        '<header><h1>Audit report</h1><p class="muted">'
        f"{len(results)} recording{'s' if len(results) != 1 else ''}, {total} "
        f"finding{'s' if total != 1 else ''}. Generated {esc(generated)} by auditor "
        f"{esc(results[0].tool_version if results else '')}.</p></header>"
        f"<main>{sections}</main>"
        f'<script type="application/json" id="auditor-data">'
        f"{script_json(_data(results, output, clips, media))}</script>"
        f"<script>{asset('report.js')}</script></body></html>\n"
    )
