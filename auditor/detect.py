"""Detection: scan a transcript or plain text and turn the scanner's matches into findings.

`claim_of` is the one place that decides what a finding says about its match (category, rule,
severity for the product sold, words, legal basis), so an audit and `scan-text` cannot disagree.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from auditor.findings import Box, Finding, TextFinding, Why
from auditor.scan import Match, Scanner
from auditor.screentext import ScreenText, ScreenView
from auditor.transcript import Transcript, TranscriptText

# How much a match kind is worth before the recogniser's own word probabilities are counted.
_KIND_CONFIDENCE = {"exact": 0.95, "variant": 0.85, "sound-alike": 0.6, "learned": 0.7}


@dataclass(frozen=True)
class Claim:
    """What every finding says about its match, wherever the match was found: its fields are
    fields of both Finding and TextFinding."""

    category: str
    rule: str
    severity: str
    matched: str
    term: str | None
    legal_basis: str
    match: str
    why: Why


def claim_of(match: Match, text: str) -> Claim:
    """The claim a match of `text` makes. The severity is the match's: the rule's, adjusted for
    the product the scanner was built for. `why` names the parts that matched; a plain term or
    pattern is its own reason."""
    matched = text[match.start : match.end]
    why = match.why or ((("term", match.term),) if match.term else (("pattern", matched),))
    return Claim(
        category=match.category,
        rule=match.rule.id,
        severity=match.severity,
        matched=matched,
        term=match.term,
        legal_basis=match.rule.legal_basis,
        match=match.kind,
        why=why,
    )


def confidence(
    kind: str,
    word_probability: float,
    context_support: bool = False,
    model_probability: float = 1.0,
) -> float:
    """How sure we are that this was said and is a claim.

    An exact or variant match is only as sure as the recogniser was of its words. A sound-alike
    is the opposite: the less sure the recogniser was of the characters it wrote, the likelier it
    misheard the term; and it is less sure without the category's context words nearby. A
    learned finding (no rule, auditor.learned) is as sure as the model and the recogniser both.
    """
    p = max(0.0, min(1.0, word_probability))
    base = _KIND_CONFIDENCE.get(kind, 0.5) * max(0.0, min(1.0, model_probability))
    if kind == "sound-alike":
        return round(base * (0.7 + 0.3 * (1.0 - p)) * (1.0 if context_support else 0.85), 3)
    return round(base * (0.6 + 0.4 * p), 3)


def speech_finding(source: str, view: TranscriptText, match: Match) -> Finding:
    start, end = view.span_times(match.start, match.end)
    return Finding(
        source=source,
        start=start,
        end=end,
        context=view.context(match.start, match.end),
        confidence=confidence(
            match.kind,
            view.span_probability(match.start, match.end),
            match.context_support,
            match.model_probability,
        ),
        **claim_of(match, view.text).__dict__,
    )


def scan_transcript(source: str, transcript: Transcript, scanner: Scanner) -> tuple[Finding, ...]:
    """The findings of a transcript, in order of time."""
    view = transcript.view()
    matches = scanner.scan(view.text, view.char_probabilities())
    findings = [speech_finding(source, view, m) for m in matches]
    return tuple(sorted(findings, key=lambda f: (f.start, f.end, f.rule)))


def screen_finding(source: str, view: ScreenView, match: Match) -> Finding:
    """A claim shown on screen: from when all its lines were shown to when the first was gone,
    where (the box around them), and the OCR's confidence in them (a sound-alike, which OCR does
    not make but an evader may write, at most the sound-alike's share of it)."""
    spans = [view.spans[i] for i in view.span_indices(match.start, match.end)]
    start = max(s.start for s in spans)
    end = min(s.end for s in spans)
    if end < start:  # lines of one overlay that came and went at slightly different samples
        start, end = min(s.start for s in spans), max(s.end for s in spans)
    read = min(s.confidence for s in spans)
    share = _KIND_CONFIDENCE["sound-alike"] if match.kind == "sound-alike" else 1.0
    return Finding(
        source=source,
        start=start,
        end=end,
        context=view.context(match.start),
        confidence=round(read * share, 3),
        channel="screen",
        box=_union([s.box for s in spans]),
        **claim_of(match, view.text).__dict__,
    )


def _union(boxes: list[Box]) -> Box:
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    return (left, top, right - left, bottom - top)


def scan_screen(source: str, screen: ScreenText | None, scanner: Scanner) -> tuple[Finding, ...]:
    """The findings of a recording's screen text, in order of time; () without any."""
    if screen is None or not screen.spans:
        return ()
    view = ScreenView.build(screen)
    matches = scanner.scan(view.text, view.char_probabilities())
    findings = [screen_finding(source, view, m) for m in matches]
    return tuple(sorted(findings, key=lambda f: (f.start, f.end, f.rule)))


def scan_recording(
    source: str, transcript: Transcript, screen: ScreenText | None, scanner: Scanner
) -> tuple[Finding, ...]:
    """What was said and what was shown, in order of time (speech first at the same moment)."""
    findings = scan_transcript(source, transcript, scanner) + scan_screen(source, screen, scanner)
    return tuple(sorted(findings, key=lambda f: (f.start, f.channel != "speech", f.end, f.rule)))


# Lines scanned by one call of the scanner, at least (whole lines): a scan costs more per
# character as its text grows (longer lists to search and sort), so five million characters scan
# about a quarter faster in blocks of this size than at once (scripts/bench_scan.py, 2026-12-07).
SCAN_BLOCK = 250_000


def scan_lines(scanner: Scanner, text: str, line_number: int = 1) -> list[TextFinding]:
    """Findings in text holding one utterance per line; `line_number` is the number of the text's
    first line.

    A newline survives normalisation as a hard boundary, so no claim spans two lines: the text is
    scanned in blocks of many whole lines (SCAN_BLOCK characters or more), with the same findings
    as line by line and far faster.
    """
    blocks = _numbered(_whole_lines(text, SCAN_BLOCK), line_number)
    return [f for block, first in blocks for f in _scan_block(scanner, block, first)]


def line_blocks(stream: TextIO) -> Iterator[str]:
    """A text stream in blocks of whole lines, SCAN_BLOCK characters or so each, read as they are
    needed: what `scan_blocks` takes. (Blocks of a million characters left one of two processes
    idle for a fifth of a five-million-character scan: 3 blocks against 2.)"""
    return iter(lambda: "".join(stream.readlines(SCAN_BLOCK)), "")


def _whole_lines(text: str, size: int) -> Iterator[str]:
    """`text` cut after the first newline at or past every `size` characters."""
    start = 0
    while start < len(text):
        cut = text.find("\n", start + size)
        end = len(text) if cut < 0 else cut + 1
        yield text[start:end]
        start = end


def _scan_block(scanner: Scanner, text: str, line_number: int) -> list[TextFinding]:
    out: list[TextFinding] = []
    line = line_number
    line_start = 0  # offset of line `line` in text
    # Matches come in order of start, so lines are counted forward once.
    for match in scanner.scan(text):
        newlines = text.count("\n", line_start, match.start)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", line_start, match.start) + 1
        out.append(
            TextFinding(
                line=line,
                char_start=match.start - line_start,
                char_end=match.end - line_start,
                **claim_of(match, text).__dict__,
            )
        )
    return out


def scan_blocks(
    scanner: Scanner, blocks: Iterable[str], jobs: int = 1
) -> Iterator[list[TextFinding]]:
    """Findings of consecutive blocks of whole lines, block by block, in order, with line numbers
    counted across blocks. With `jobs` > 1 and more than one block, blocks are scanned in that many
    forked processes, which share the scanner's loaded tables (Linux and other systems that fork;
    elsewhere one process)."""
    numbered = _numbered(blocks)
    first = next(numbered, None)
    if first is None:
        return
    second = next(numbered, None)
    if second is None or jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for job in itertools.chain([first], [second] if second else [], numbered):
            yield scan_lines(scanner, *job)
        return
    global _FORKED_SCANNER
    scanner.scan("最好")  # load the word dictionary once, before the processes share it
    _FORKED_SCANNER = scanner
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            yield from pool.imap(_scan_forked, itertools.chain([first, second], numbered))
    finally:
        _FORKED_SCANNER = None


_FORKED_SCANNER: Scanner | None = None  # what forked scanning processes use


def _scan_forked(job: tuple[str, int]) -> list[TextFinding]:
    assert _FORKED_SCANNER is not None, "only in a process forked by scan_blocks"
    return scan_lines(_FORKED_SCANNER, *job)


def _numbered(blocks: Iterable[str], line: int = 1) -> Iterator[tuple[str, int]]:
    """Each block with the number of its first line, `line` the first block's."""
    for block in blocks:
        yield block, line
        line += block.count("\n")
