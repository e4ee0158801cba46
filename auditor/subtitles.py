"""Subtitles: the transcript as SRT or WebVTT cues, with flagged cues marked.

Cues are the transcript's segments, ordered by time and never overlapping (a cue that would start
before the previous one ends starts when it ends; one left with no time is merged into the
previous cue). A cue that holds a finding starts with "⚠ [category]". A claim shown on screen is
a cue of its own for as long as it was shown, "⚠ [category] on screen: ...", which may overlap
the speech cues (in WebVTT it sits at the top of the picture, `line:0`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.files import printable
from auditor.findings import Finding
from auditor.results import AuditResult
from auditor.times import cue_time

FLAG = "⚠"
_MIN_CUE = 0.001  # seconds


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    categories: tuple[str, ...] = ()
    screen: bool = False  # a claim shown on screen, not speech

    @property
    def label(self) -> str:
        if not self.categories:
            return self.text
        where = " on screen:" if self.screen else ""
        return f"{FLAG} [{', '.join(self.categories)}]{where} {self.text}"


def _categories(start: float, end: float, findings: Sequence[Finding]) -> tuple[str, ...]:
    seen: list[str] = []
    for f in findings:
        if f.start < end and f.end > start and f.category not in seen:
            seen.append(f.category)
    return tuple(seen)


def _one_line(text: str) -> str:
    # A blank line ends a cue and "-->" starts a timing line: neither may appear in cue text.
    return " ".join(text.split()).replace("-->", "->")


def build_cues(result: AuditResult) -> list[Cue]:
    """The speech cues, then the screen cues, in one order of time."""
    return sorted(speech_cues(result) + screen_cues(result), key=lambda c: (c.start, c.screen))


def screen_cues(result: AuditResult) -> list[Cue]:
    """One cue per claim shown on screen, for as long as it was shown."""
    return [
        Cue(f.start, max(f.end, f.start + _MIN_CUE), _one_line(f.context), (f.category,), True)
        for f in result.findings
        if f.channel == "screen"
    ]


def speech_cues(result: AuditResult) -> list[Cue]:
    """Ordered, non-overlapping cues; each finding marks the cue its words fall in."""
    said = [f for f in result.findings if f.channel == "speech"]
    ordered = sorted(
        (s for s in result.transcript.segments if s.text.strip()), key=lambda s: (s.start, s.end)
    )
    spans: list[tuple[float, float, str]] = []
    for seg in ordered:
        start = max(0.0, seg.start, spans[-1][1] if spans else 0.0)
        end = max(seg.end, start)
        text = _one_line(seg.text)
        if end - start < _MIN_CUE:
            if spans:  # no time left: the words join the previous cue
                prev = spans[-1]
                spans[-1] = (prev[0], prev[1], f"{prev[2]} {text}")
                continue
            end = start + _MIN_CUE
        spans.append((start, end, text))
    cues: list[Cue] = []
    for start, end, text in spans:
        cues.append(Cue(start, end, text, _categories(start, end, said)))
    # A finding between cues (in a pause) still marks the nearest cue before it.
    for f in said:
        if cues and not any(f.category in c.categories and c.start < f.end for c in cues):
            index = max((i for i, c in enumerate(cues) if c.start <= f.start), default=0)
            c = cues[index]
            cues[index] = Cue(c.start, c.end, c.text, (*c.categories, f.category))
    return cues


def render_srt(result: AuditResult) -> str:
    blocks = []
    for number, cue in enumerate(build_cues(result), 1):
        timing = f"{cue_time(cue.start, ',')} --> {cue_time(cue.end, ',')}"
        blocks.append(f"{number}\n{timing}\n{cue.label}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_note(text: str) -> str:
    return _one_line(printable(text))  # a file name's undecodable bytes as \xNN


def render_vtt(result: AuditResult) -> str:
    """WebVTT with the audit trail in a NOTE block (players ignore it, people can read it)."""
    src = result.source
    trail = [
        f"auditor {result.tool_version}",
        f"source {_vtt_note(src.path)}",
        f"source sha256 {src.sha256} size {src.size}",
        f"model {_vtt_note(result.model.name)} sha256 {result.model.sha256 or 'unknown'}",
        f"lexicon {result.lexicon_version}",
        f"run {result.started} to {result.finished}",
        f"findings {len(result.findings)}",
    ]
    if result.screen is not None:
        shown = sum(f.channel == "screen" for f in result.findings)
        trail.append(
            f"screen text {len(result.screen.spans)} lines, {shown} finding(s) shown on screen"
        )
    out = ["WEBVTT", "", "NOTE", *trail, ""]
    for number, cue in enumerate(build_cues(result), 1):
        timing = f"{cue_time(cue.start, '.')} --> {cue_time(cue.end, '.')}"
        if cue.screen:
            timing += " line:0"  # at the top of the picture, clear of the speech cues
        out.extend([str(number), timing, _vtt_escape(cue.label), ""])
    return "\n".join(out)


def render_subtitles(result: AuditResult, fmt: str) -> str:
    if fmt == "srt":
        return render_srt(result)
    if fmt == "vtt":
        return render_vtt(result)
    raise ValueError(f"unknown subtitle format {fmt!r}")
