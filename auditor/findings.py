"""Findings: what was said, when, which rule it breaks, and how sure we are. Data only; they are
made from the scanner's matches by `auditor.detect`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The fields of a finding in every report and in the database, in this order.
FINDING_FIELDS = (
    "source",
    "category",
    "rule",
    "severity",
    "matched",
    "term",
    "start",
    "end",
    "context",
    "legal_basis",
    "confidence",
    "match",
)


@dataclass(frozen=True)
class Finding:
    source: str
    category: str
    rule: str
    severity: str  # for the product being sold (a superlative is high for cosmetics)
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
