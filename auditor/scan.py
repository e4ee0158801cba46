"""Scan stage: find lexicon terms and patterns in text, drop exempt ones, return character spans.

Terms are found with one Aho-Corasick automaton over the normalised text; the heavier checks
(exemptions, overlap resolution) run only around the candidates it yields.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.lexicon import Exemption, Lexicon, Rule
from auditor.normalize import Normalized, normalize, normalize_term


@dataclass(frozen=True)
class Match:
    rule: Rule
    term: str | None  # the lexicon term, None for a pattern match
    start: int  # span in the original (un-normalised) text
    end: int
    norm_start: int  # span in the normalised text
    norm_end: int
    kind: str  # "exact": the text as written is the term; "variant": only after normalising

    @property
    def category(self) -> str:
        return self.rule.category


class Scanner:
    def __init__(self, lexicon: Lexicon) -> None:
        import ahocorasick

        self.lexicon = lexicon
        self._automaton = ahocorasick.Automaton()
        entries: dict[str, list[tuple[Rule, str]]] = {}
        for rule in lexicon.rules:
            for term in rule.terms:
                entries.setdefault(normalize_term(term), []).append((rule, term))
        for key, value in entries.items():
            self._automaton.add_word(key, value)
        self._has_terms = bool(entries)
        if self._has_terms:
            self._automaton.make_automaton()
        self._pattern_rules = [r for r in lexicon.rules if r.patterns]
        self._phrases = [e for e in lexicon.exemptions if e.kind == "phrase"]
        self._contextual = [e for e in lexicon.exemptions if e.kind != "phrase"]

    def scan(self, text: str) -> list[Match]:
        norm = normalize(text)
        candidates = self._candidates(text, norm)
        if not candidates:
            return []
        phrase_spans = self._phrase_spans(norm.text)
        kept = [m for m in candidates if not self._exempt(m, norm.text, phrase_spans)]
        return _resolve_overlaps(kept)

    def _candidates(self, text: str, norm: Normalized) -> list[Match]:
        found: list[Match] = []
        if self._has_terms:
            for end_index, hits in self._automaton.iter(norm.text):
                for rule, term in hits:
                    n_start = end_index - len(normalize_term(term)) + 1
                    found.append(_make_match(text, norm, rule, term, n_start, end_index + 1))
        for rule in self._pattern_rules:
            for pattern in rule.patterns:
                for m in pattern.finditer(norm.text):
                    if m.end() > m.start():
                        found.append(_make_match(text, norm, rule, None, m.start(), m.end()))
        return found

    def _phrase_spans(self, norm_text: str) -> list[tuple[int, int, Exemption]]:
        spans = []
        for exemption in self._phrases:
            for phrase in exemption.phrases:
                start = norm_text.find(phrase)
                while start >= 0:
                    spans.append((start, start + len(phrase), exemption))
                    start = norm_text.find(phrase, start + 1)
        return spans

    def _exempt(
        self, match: Match, norm_text: str, phrase_spans: list[tuple[int, int, Exemption]]
    ) -> bool:
        for a, b, exemption in phrase_spans:
            if (
                a <= match.norm_start
                and match.norm_end <= b
                and exemption.applies_to(match.category, match.term)
            ):
                return True
        for exemption in self._contextual:
            if not exemption.applies_to(match.category, match.term):
                continue
            assert exemption.pattern is not None
            if exemption.kind == "before":
                window = norm_text[max(0, match.norm_start - exemption.window) : match.norm_start]
                if exemption.pattern.search(window):
                    return True
            else:
                window = norm_text[match.norm_end : match.norm_end + exemption.window]
                if exemption.pattern.match(window):
                    return True
        return False


def _make_match(
    text: str, norm: Normalized, rule: Rule, term: str | None, n_start: int, n_end: int
) -> Match:
    start, end = norm.source_span(n_start, n_end)
    written = text[start:end]
    kind = "exact" if written in (term, norm.text[n_start:n_end]) else "variant"
    return Match(rule, term, start, end, n_start, n_end, kind)


def _resolve_overlaps(matches: list[Match]) -> list[Match]:
    """Keep one match per span and rule; drop a match lying inside a longer one.

    全网最低价 holds 最低价: the longer, more specific claim is the finding.
    """
    ordered = sorted(matches, key=lambda m: (m.norm_start, -(m.norm_end - m.norm_start)))
    kept: list[Match] = []
    for m in ordered:
        inside = any(
            k.norm_start <= m.norm_start
            and m.norm_end <= k.norm_end
            and (k.norm_end - k.norm_start > m.norm_end - m.norm_start or k.category == m.category)
            for k in kept
        )
        if not inside:
            kept.append(m)
    return kept
