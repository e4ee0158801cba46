"""Findings: what was said, when, which rule it breaks, and how sure we are."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from auditor.scan import Match, Scanner
from auditor.transcript import TranscriptText

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}
FAIL_ON_CHOICES = ("high", "medium", "low", "never")
# How much a match kind is worth before the recogniser's own word probabilities are counted.
_KIND_CONFIDENCE = {"exact": 0.95, "variant": 0.85, "sound-alike": 0.6}


@dataclass(frozen=True)
class Finding:
    source: str
    category: str
    rule: str
    severity: str
    matched: str  # the words as transcribed (simplified)
    term: str | None  # the lexicon term, None for a pattern
    start: float  # seconds: start of the first matched word
    end: float  # seconds: end of the last matched word
    context: str
    legal_basis: str
    confidence: float
    match: str  # exact | variant | sound-alike

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)  # flat fields: no need for asdict's deep copy
        out["start"] = round(self.start, 2)
        out["end"] = round(self.end, 2)
        return out


@dataclass(frozen=True)
class TextFinding:
    """A finding in plain text (scan-text): a line and character offsets instead of times."""

    line: int
    category: str
    rule: str
    severity: str
    matched: str
    term: str | None
    char_start: int
    char_end: int
    legal_basis: str
    match: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # flat fields: no need for asdict's deep copy


def confidence(kind: str, word_probability: float, context_support: bool = False) -> float:
    """How sure we are that this was said and is a claim.

    An exact or variant match is only as sure as the recogniser was of its words. A sound-alike
    is the opposite: the less sure the recogniser was of the characters it wrote, the likelier it
    misheard the term; and it is less sure without the category's context words nearby.
    """
    p = max(0.0, min(1.0, word_probability))
    base = _KIND_CONFIDENCE.get(kind, 0.5)
    if kind == "sound-alike":
        return round(base * (0.7 + 0.3 * (1.0 - p)) * (1.0 if context_support else 0.85), 3)
    return round(base * (0.6 + 0.4 * p), 3)


def finding_from_match(source: str, view: TranscriptText, match: Match) -> Finding:
    start, end = view.span_times(match.start, match.end)
    return Finding(
        source=source,
        category=match.category,
        rule=match.rule.id,
        severity=match.severity,
        matched=view.text[match.start : match.end],
        term=match.term,
        start=start,
        end=end,
        context=view.context(match.start, match.end),
        legal_basis=match.rule.legal_basis,
        confidence=confidence(
            match.kind, view.span_probability(match.start, match.end), match.context_support
        ),
        match=match.kind,
    )


def scan_lines(scanner: Scanner, text: str, first_line: int = 1) -> list[TextFinding]:
    """Findings in text holding one utterance per line, scanned in one pass.

    A newline survives normalisation as a hard boundary, so no claim spans two lines; scanning
    the whole text at once instead of line by line is what makes a rescan of a year fast.
    """
    out: list[TextFinding] = []
    line = first_line
    line_start = 0  # offset of line `line` in text
    # Matches come in order of start, so lines are counted forward once.
    for match in scanner.scan(text):
        newlines = text.count("\n", line_start, match.start)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", line_start, match.start) + 1
        rule = match.rule
        out.append(
            TextFinding(
                line,
                match.category,
                rule.id,
                rule.severity,
                text[match.start : match.end],
                match.term,
                match.start - line_start,
                match.end - line_start,
                rule.legal_basis,
                match.kind,
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


def _numbered(blocks: Iterable[str]) -> Iterator[tuple[str, int]]:
    line = 1
    for block in blocks:
        yield block, line
        line += block.count("\n")


def fails(severities: list[str], fail_on: str) -> bool:
    if fail_on == "never":
        return False
    threshold = SEVERITY_RANK[fail_on]
    return any(SEVERITY_RANK[s] >= threshold for s in severities)
