"""Learning from dismissals: allow-list entries (custom lexicon TOML) drawn from the phrases of
findings that reviewers dismissed, for a person to check and adopt.

An entry is the matched words with the word before and the word after them in the sentence (as
jieba cuts it, the lexicon's terms kept whole): wide enough not to allow the term everywhere,
narrow enough to cover the same harmless phrase in other sentences (我最好的朋友 gives 我最好的). An
allow phrase exempts a match that lies inside it (`lexicons/README.md`), so every entry is checked
to hold the matched words once normalised; a dismissal whose words stand alone in their sentence
gives no entry (allowing the bare term would hide every claim with it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.decisions import ReviewedFinding
from auditor.files import printable
from auditor.normalize import normalize, normalize_term
from auditor.segment import load_dictionary, tokenizer

_EXAMPLES = 3  # sentences and notes quoted per entry


@dataclass
class AllowSuggestion:
    phrase: str  # as it was said (simplified characters)
    dismissed: int = 0
    rules: set[str] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Suggestions:
    entries: tuple[AllowSuggestion, ...]
    dismissed: int  # dismissed findings read
    unplaced: tuple[ReviewedFinding, ...]  # gave no entry: see `phrase_around`


def _is_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


def _beside(tokens: Sequence[tuple[str, int, int]], at: int, step: int) -> int:
    """The index of the word next to token `at` in direction `step`, over spaces but not over
    punctuation (the next clause is another phrase); `at` when there is none."""
    i = at + step
    while 0 <= i < len(tokens) and tokens[i][0].isspace():
        i += step
    if 0 <= i < len(tokens) and _is_word(tokens[i][0]):
        return i
    return at


def phrase_around(context: str, matched: str, cutter: Any) -> str | None:
    """The matched words with one word either side, from the sentence; None when the words cannot
    be found in it or have no word beside them."""
    target = normalize_term(matched)
    norm = normalize(context)
    at = norm.text.find(target) if target else -1
    if at < 0:
        return None
    begin, end = norm.source_span(at, at + len(target))
    text = norm.simplified or context
    tokens = [(w, a, b) for w, a, b in cutter.tokenize(text) if b > a]
    inside = [i for i, (_, a, b) in enumerate(tokens) if a < end and b > begin]
    if not inside:
        return None
    first = _beside(tokens, inside[0], -1)
    last = _beside(tokens, inside[-1], +1)
    phrase = text[tokens[first][1] : tokens[last][2]]
    held = normalize_term(phrase)
    if held == target or target not in held:
        return None
    return phrase


def suggest_allow(dismissed: Sequence[ReviewedFinding], min_count: int = 1) -> Suggestions:
    """Entries from dismissed findings, those dismissed most often first."""
    cutter = tokenizer(load_dictionary(), {r.finding.matched for r in dismissed})
    by_phrase: dict[str, AllowSuggestion] = {}
    unplaced: list[ReviewedFinding] = []
    for row in dismissed:
        f = row.finding
        phrase = phrase_around(f.context, f.matched, cutter)
        if phrase is None:
            unplaced.append(row)
            continue
        entry = by_phrase.setdefault(normalize_term(phrase), AllowSuggestion(phrase))
        entry.dismissed += 1
        entry.rules.add(f.rule)
        entry.ids.append(f.id)
        if len(entry.examples) < _EXAMPLES and f.context not in entry.examples:
            entry.examples.append(f.context)
        note = row.current.note if row.current else None
        if note and len(entry.notes) < _EXAMPLES and note not in entry.notes:
            entry.notes.append(note)
    entries = sorted(
        (e for e in by_phrase.values() if e.dismissed >= min_count),
        key=lambda e: (-e.dismissed, e.phrase),
    )
    return Suggestions(tuple(entries), len(dismissed), tuple(unplaced))


def _comment(text: str) -> str:
    """Text for one TOML comment line."""
    return " ".join(printable(text).split())


def _quoted(items: Iterable[str]) -> str:
    return "; ".join(f"「{_comment(item)}」" for item in items)


def render_allow_toml(suggestions: Suggestions, database: str, made: str) -> str:
    """A custom lexicon holding the entries as `allow`, each with why it is there as a comment."""
    lines = [
        f"# Allow-list entries drawn from {suggestions.dismissed} dismissed finding(s) of "
        f"{_comment(database)}, {made}.",
        "# Check every entry before adopting it: an allowed phrase is never a claim, in any",
        "# recording. Keep those you agree with, save this as allow.toml, then:",
        f"#   auditor rescan --db {_comment(database)} --lexicon allow.toml",
    ]
    for row in suggestions.unplaced:
        lines.append(
            f"# not suggested: {row.finding.id} 「{_comment(row.finding.matched)}」 has no word "
            f"beside it in 「{_comment(row.finding.context)}」"
        )
    lines.append("allow = [")
    for entry in suggestions.entries:
        why = f"    # dismissed {entry.dismissed}x, {', '.join(sorted(entry.rules))}: "
        why += _quoted(entry.examples)
        if entry.notes:
            why += f"; notes: {_quoted(entry.notes)}"
        lines.append(why)
        # A JSON string is a TOML basic string (\", \\, \n and \uXXXX escapes alike).
        lines.append(f"    {json.dumps(entry.phrase, ensure_ascii=False)},")
    lines.append("]")
    return "\n".join(lines) + "\n"
