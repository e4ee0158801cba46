"""Findings: what was said or shown, when, which rule it breaks, why, and how sure we are. Data
only; they are made from the scanner's matches by `auditor.detect`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# The fields of a finding in every report and in the database, in this order (CSV columns; the
# first twelve are those of the first releases).
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
    "channel",
    "why",
    "id",
    "heard_logprob",
    "term_logprob",
    "box",
)
# Fields written only when they hold something: evidence that some findings carry.
OPTIONAL_FIELDS = ("heard_logprob", "term_logprob", "box")
CHANNELS = ("speech", "screen")

Why = tuple[tuple[str, str], ...]  # the parts of the rule that matched: (part, words), in order
Box = tuple[int, int, int, int]  # screen text: left, top, width, height in pixels of the frame


@dataclass(frozen=True)
class SoundCheck:
    """What the audio said of one sound-alike (auditor.verify): the words heard, the term they
    were taken for, their time, and how likely each text is there. Kept with the audit, the
    term's support or not, so that a rescan judges the same words the same way without the
    audio."""

    matched: str
    term: str
    start: float
    end: float
    heard_logprob: float
    term_logprob: float

    @property
    def key(self) -> tuple[str, str, float, float]:
        return sound_key(self.matched, self.term, self.start, self.end)

    def supports(self, margin: float) -> bool:
        """Whether the term is at most `margin` nats less likely than what was heard."""
        return self.term_logprob >= self.heard_logprob - margin


def sound_key(matched: str, term: str, start: float, end: float) -> tuple[str, str, float, float]:
    return matched, term, round(start, 3), round(end, 3)


@dataclass(frozen=True)
class Finding:
    source: str
    category: str
    rule: str
    severity: str  # for the product being sold (a superlative is high for cosmetics)
    matched: str  # the words as transcribed or read (simplified)
    term: str | None  # the lexicon term, None for a pattern or a combination
    start: float  # seconds: start of the first matched word (screen: the text appears)
    end: float  # seconds: end of the last matched word (screen: the text is gone)
    context: str
    legal_basis: str
    confidence: float
    match: str  # exact | variant | sound-alike | learned (auditor.learned: no rule)
    channel: str = "speech"  # speech | screen
    why: Why = ()
    heard_logprob: float | None = None  # sound-alike: how likely the heard words were
    term_logprob: float | None = None  # ... and the lexicon term, for the same audio
    box: Box | None = None  # screen findings: where the text was
    id: str = ""  # stable across rescans of the same content (see finding_id)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "category": self.category,
            "rule": self.rule,
            "severity": self.severity,
            "matched": self.matched,
            "term": self.term,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "context": self.context,
            "legal_basis": self.legal_basis,
            "confidence": self.confidence,
            "match": self.match,
            "channel": self.channel,
            "why": dict(self.why),
        }
        if self.id:
            out["id"] = self.id
        for name in OPTIONAL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if name == "box" else value
        return out

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Finding:
        """A finding read back from `to_dict` (a JSON report or jsonl row)."""
        box = row.get("box")
        return cls(
            source=row["source"],
            category=row["category"],
            rule=row["rule"],
            severity=row["severity"],
            matched=row["matched"],
            term=row.get("term"),
            start=float(row["start"]),
            end=float(row["end"]),
            context=row["context"],
            legal_basis=row["legal_basis"],
            confidence=float(row["confidence"]),
            match=row["match"],
            channel=row.get("channel", "speech"),
            why=tuple((str(k), str(v)) for k, v in (row.get("why") or {}).items()),
            heard_logprob=row.get("heard_logprob"),
            term_logprob=row.get("term_logprob"),
            box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])) if box else None,
            id=row.get("id", ""),
        )


def finding_id(content_sha256: str, finding: Finding) -> str:
    """An id that stays the same whenever the same finding is made again on the same content
    (a rescan with a newer lexicon, another run): content, channel, rule, words and time."""
    key = json.dumps(
        [
            content_sha256,
            finding.channel,
            finding.rule,
            finding.matched,
            round(float(finding.start), 2),
            round(float(finding.end), 2),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def why_text(why: Why) -> str:
    """The parts that matched, for a table: 'predicate 降 + object 血糖'."""
    return " + ".join(f"{part} {words}" for part, words in why)


def sound_evidence_text(f: Finding) -> str:
    """A verified sound-alike's evidence, for a report: 'term 稳赚 -4.3 vs heard -2.0'; nothing
    when the finding was not checked against the audio."""
    if f.heard_logprob is None or f.term_logprob is None:
        return ""
    return f"term {f.term} {f.term_logprob:.1f} vs heard {f.heard_logprob:.1f}"


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
    why: Why = ()

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)  # flat fields: no need for asdict's deep copy
        out["why"] = dict(self.why)
        return out
