"""Decisions on findings: a person confirms or dismisses what the auditor found, with a note.

Data only. A decision is keyed by the finding's stable id (`Finding.id`), so it holds across
`rescan` whenever the same finding is made again. Every change is a row of the history; the current
decision of a finding is its latest row, and a finding nobody decided is `open`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.findings import FINDING_FIELDS, Finding

OPEN = "open"
DECISIONS = (OPEN, "confirmed", "dismissed")
# What `auditor findings` writes per row after the finding's own fields (CSV columns).
REVIEW_FIELDS = (*FINDING_FIELDS, "decision", "reviewer", "decided", "note")


@dataclass(frozen=True)
class Decision:
    """One row of a finding's review history, with what the finding was when it was decided (so
    the history still says what was decided after a rescan no longer makes the finding)."""

    id: int  # order of the history: a later decision has a larger id
    finding_id: str
    decision: str  # open | confirmed | dismissed
    note: str | None
    reviewer: str
    decided: str  # ISO 8601 UTC
    source: str
    sha256: str  # content of the recording
    category: str
    rule: str
    matched: str
    start: float
    end: float
    lexicon_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.finding_id,
            "decision": self.decision,
            "note": self.note,
            "reviewer": self.reviewer,
            "decided": self.decided,
            "source": self.source,
            "sha256": self.sha256,
            "category": self.category,
            "rule": self.rule,
            "matched": self.matched,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "lexicon_version": self.lexicon_version,
            "history_row": self.id,
        }


@dataclass(frozen=True)
class ReviewedFinding:
    """A current finding of a batch database with its current decision (None: never decided)."""

    finding: Finding
    audit_id: int
    audited: str  # when its recording's audit finished
    has_video: bool
    current: Decision | None = None

    @property
    def decision(self) -> str:
        return self.current.decision if self.current else OPEN

    def to_dict(self) -> dict[str, Any]:
        """The finding's fields, then `decision`; who decided, when and the note when decided."""
        out = self.finding.to_dict()
        out["decision"] = self.decision
        if self.current is not None:
            out["reviewer"] = self.current.reviewer
            out["decided"] = self.current.decided
            out["note"] = self.current.note
        return out


@dataclass(frozen=True)
class DecisionChange:
    """What one decision did: the new history row and the decision it replaced."""

    decision: Decision
    previous: Decision | None
    conflict: bool  # someone else decided after the reviewer last saw the finding

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.decision.finding_id,
            "decision": self.decision.to_dict(),
            "previous": self.previous.to_dict() if self.previous else None,
            "conflict": self.conflict,
        }
