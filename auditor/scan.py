"""Scan stage: find lexicon claims in text, drop the exempt ones, return character spans.

Three ways to find a candidate, cheapest first:
1. terms, with one Aho-Corasick automaton over the normalised text (exemption phrases ride along);
2. regular-expression patterns over the normalised text, and word rules (最 + an adjective) told
   apart with jieba around each head character;
3. sound-alikes: the same terms on sound keys (auditor.phonetic), for what speech recognition
   wrote with the wrong characters. Kept only with support: the category's context words nearby,
   a long term, or a rule that opts in; and not when the recogniser was sure of other words.
The heavier checks (jieba word boundaries, exemptions) run only around candidates.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from auditor import segment
from auditor.anchors import required_literals
from auditor.findings import Why
from auditor.lexicon import Exemption, Lexicon, Rule
from auditor.normalize import Normalized, normalize, normalize_term
from auditor.phonetic import is_cjk, sound_keys, term_sound_keys

log = logging.getLogger("auditor")

# A short term inside a longer word is no claim (包过 in 打包过程, 招财 in 招财猫): checked with
# jieba for terms up to this many characters.
SHORT_TERM = 2
# Sound-alike support: how far to look for the category's context words (normalised characters).
CONTEXT_WINDOW = 24
# A term this long is very unlikely to be matched by sound by chance.
LONG_SOUNDALIKE = 4
# Above this recognition probability the recogniser heard the words it wrote: no sound-alike
# without context.
SURE_PROBABILITY = 0.97


@dataclass(frozen=True)
class Match:
    rule: Rule
    term: str | None  # the lexicon term (or the word, for word rules); None for a pattern
    start: int  # span in the original (un-normalised) text
    end: int
    norm_start: int  # span in the normalised text
    norm_end: int
    kind: str  # exact | variant | sound-alike
    severity: str
    context_support: bool = False  # sound-alike only: the category's context words were near
    why: Why = ()  # the rule's parts and the words that matched them; () for a plain term

    @property
    def category(self) -> str:
        return self.rule.category


@dataclass(frozen=True)
class _Term:
    rule: Rule
    term: str
    key: str  # normalised term


@dataclass(frozen=True)
class _Anchor:
    pattern: int  # index into Scanner._regexes: that pattern can only match where this is


# A lexicon term inside a word this long is part of an idiom that makes the claim (活血化瘀).
IDIOM_LENGTH = 4


@lru_cache(maxsize=4)
def _tokenizer(terms: frozenset[str], tags: frozenset[str]) -> tuple[Any, dict[str, str]]:
    """A private jieba tokenizer that knows the lexicon's terms as words, and POS tags.

    Without HMM (which invents words such as 会押题) and with the terms in its dictionary, jieba
    splits 能溶脂 as 能 / 溶脂 but keeps 打包 / 过程 and 招财猫 whole. Part-of-speech tags come
    from jieba's own tag table; both load from a cache (auditor.segment).
    """
    dictionary = _dictionary(tags)
    return segment.tokenizer(dictionary, terms), dictionary.tags


@lru_cache(maxsize=2)
def _dictionary(tags: frozenset[str]) -> segment.Dictionary:
    """Read once per process, however many scanners (one per product category in a rescan)."""
    return segment.load_dictionary(tags)


class Scanner:
    def __init__(self, lexicon: Lexicon, product: str = "general") -> None:
        import ahocorasick

        self.lexicon = lexicon
        self.product = product
        rules = [r for r in lexicon.rules if r.products is None or product in r.products]
        self._rules = rules
        self._severity = {rule.id: rule.severity_for(product) for rule in rules}
        self._automaton = ahocorasick.Automaton()
        entries: dict[str, list[_Term | tuple[Exemption, int] | _Anchor]] = {}
        sounds: dict[str, list[_Term]] = {}
        for rule in rules:
            for term in rule.terms:
                item = _Term(rule, term, normalize_term(term))
                entries.setdefault(item.key, []).append(item)
                cjk = sum(1 for c in item.key if is_cjk(c))
                if rule.soundalike != "never" and cjk >= 2:
                    sounds.setdefault(term_sound_keys(item.key), []).append(item)
        for exemption in lexicon.exemptions:
            for phrase in exemption.phrases:
                entries.setdefault(phrase, []).append((exemption, len(phrase)))
        # Patterns run only on the lines holding one of their literals (auditor.anchors), found
        # in the same automaton pass as the terms; a pattern without one runs over all the text.
        self._regexes = [(rule, pattern) for rule in rules for pattern in rule.patterns]
        self._unanchored: list[int] = []
        for index, (_, pattern) in enumerate(self._regexes):
            literals = required_literals(pattern)
            if literals is None:
                self._unanchored.append(index)
                continue
            for literal in literals:
                entries.setdefault(normalize_term(literal), []).append(_Anchor(index))
        for key, value in entries.items():
            self._automaton.add_word(key, value)
        self._automaton.make_automaton()
        self._sound_automaton = ahocorasick.Automaton()
        for key, items in sounds.items():
            self._sound_automaton.add_word(key, items)
        self._has_sounds = bool(sounds)
        if self._has_sounds:
            self._sound_automaton.make_automaton()
        self._word_rules = [r for r in rules if r.word is not None]
        self._contextual = [e for e in lexicon.exemptions if e.kind != "phrase"]
        self._contextual_cache: dict[tuple[str, str | None], list[_ContextCheck]] = {}
        # Part-of-speech tags that word rules look for: only those are loaded.
        self._word_tags = frozenset(t for r in self._word_rules if r.word for t in r.word.pos)
        self._word_terms = frozenset(
            t.key
            for items in entries.values()
            for t in items
            if isinstance(t, _Term) and len(t.key) <= IDIOM_LENGTH and all(map(is_cjk, t.key))
        )

    def scan(self, text: str, probabilities: Sequence[float] | None = None) -> list[Match]:
        """Claims in `text`. `probabilities`, one per character of `text` when it comes from
        speech recognition, is how sure the recogniser was of the word holding each character."""
        norm = normalize(text)
        candidates, phrases, anchored = self._terms(text, norm)
        candidates += self._patterns(text, norm, anchored)
        candidates += self._words(text, norm, candidates)
        simplified = norm.simplified
        candidates = [m for m in candidates if not self._inside_longer_word(m, simplified)]
        if self._has_sounds:
            candidates += self._soundalikes(text, norm, candidates, probabilities)
        kept = [m for m in candidates if not self._exempt(m, norm.text, phrases)]
        return _resolve_overlaps(kept)

    # -- candidates -----------------------------------------------------------------------

    def _match(
        self,
        text: str,
        norm: Normalized,
        rule: Rule,
        term: str | None,
        n_start: int,
        n_end: int,
        kind: str | None = None,
        support: bool = False,
    ) -> Match:
        start, end = norm.source_span(n_start, n_end)
        if kind is None:
            written = text[start:end]
            kind = "exact" if written in (term, norm.text[n_start:n_end]) else "variant"
        return Match(rule, term, start, end, n_start, n_end, kind, self._severity[rule.id], support)

    def _terms(
        self, text: str, norm: Normalized
    ) -> tuple[list[Match], _Phrases, dict[int, set[int]]]:
        """Term matches, exemption phrases, and for each anchored pattern the lines (by their
        start in the normalised text) where one of its literals was found."""
        found: list[Match] = []
        phrases: list[tuple[int, int, Exemption]] = []
        anchored: dict[int, set[int]] = {}
        for end_index, items in self._automaton.iter(norm.text):
            for item in items:
                if isinstance(item, _Anchor):
                    line = norm.text.rfind("\n", 0, end_index) + 1
                    anchored.setdefault(item.pattern, set()).add(line)
                elif isinstance(item, tuple):
                    exemption, length = item
                    phrases.append((end_index + 1 - length, end_index + 1, exemption))
                else:
                    n_start = end_index - len(item.key) + 1
                    found.append(
                        self._match(text, norm, item.rule, item.term, n_start, end_index + 1)
                    )
        phrases.sort(key=lambda p: p[0])
        return found, _Phrases(phrases, [p[0] for p in phrases]), anchored

    def _patterns(self, text: str, norm: Normalized, anchored: dict[int, set[int]]) -> list[Match]:
        spans: list[tuple[int, re.Match[str]]] = []
        for index in self._unanchored:
            spans += ((index, m) for m in self._regexes[index][1].finditer(norm.text))
        for index, lines in anchored.items():
            pattern = self._regexes[index][1]
            for line in lines:
                end = norm.text.find("\n", line)
                end = len(norm.text) if end < 0 else end
                spans += ((index, m) for m in pattern.finditer(norm.text, line, end))
        return [
            self._match(text, norm, self._regexes[index][0], None, m.start(), m.end())
            for index, m in spans
            if m.end() > m.start()
        ]

    def _words(self, text: str, norm: Normalized, found_terms: list[Match]) -> list[Match]:
        found: list[Match] = []
        for rule in self._word_rules:
            assert rule.word is not None
            head = rule.word.head
            # A term already found there (最好) or a word of its own (最近) needs no jieba.
            taken = {m.norm_start for m in found_terms if m.category == rule.category}
            position = norm.text.find(head)
            while position >= 0:
                pair = norm.text[position : position + 2]
                if position in taken or pair in rule.word.exceptions:
                    position = norm.text.find(head, position + 1)
                    continue
                match = self._word_at(text, norm, rule, position)
                if match is not None:
                    found.append(match)
                position = norm.text.find(head, position + 1)
        return found

    def _word_at(self, text: str, norm: Normalized, rule: Rule, position: int) -> Match | None:
        assert rule.word is not None
        word_rule = rule.word
        source_at = norm.source_span(position, position + 1)[0]
        line_start = text.rfind("\n", 0, source_at) + 1
        line_end = text.find("\n", source_at)
        line_end = len(text) if line_end < 0 else line_end
        left = max(line_start, source_at - 5)
        window = norm.simplified[left : min(line_end, source_at + 8)]
        tokenizer, tags = _tokenizer(self._word_terms, self._word_tags)
        tokens = []
        offset = left
        for word in tokenizer.cut(window, HMM=False):
            tokens.append((offset, offset + len(word), word, tags.get(word, "")))
            offset += len(word)
        for index, (a, b, word, flag) in enumerate(tokens):
            if not a <= source_at < b:
                continue
            if word == word_rule.head and a == source_at:
                following = [t for t in tokens[index + 1 :] if t[2].strip()][:1]
                if not following:
                    return None
                _, end, next_word, next_flag = following[0]
                if next_flag in word_rule.pos or next_word in word_rule.words:
                    return self._source_match(text, norm, rule, a, end)
                return None
            if (
                a == source_at
                and word.startswith(word_rule.head)
                and len(word) > 1
                and word not in word_rule.exceptions
                and (flag in word_rule.pos or word[1:] in word_rule.words)
            ):
                return self._source_match(text, norm, rule, a, b)
            return None
        return None

    def _source_match(
        self, text: str, norm: Normalized, rule: Rule, start: int, end: int
    ) -> Match | None:
        n_start = bisect.bisect_left(norm.starts, start)
        n_end = bisect.bisect_left(norm.starts, end)
        if n_end <= n_start:
            return None
        return self._match(text, norm, rule, normalize_term(text[start:end]), n_start, n_end)

    def _soundalikes(
        self, text: str, norm: Normalized, found: list[Match], probabilities: Sequence[float] | None
    ) -> list[Match]:
        keys = sound_keys(norm.text)
        taken = {(m.norm_start, m.norm_end, m.rule.id) for m in found}
        out: list[Match] = []
        for end_index, items in self._sound_automaton.iter(keys):
            for item in items:
                n_start, n_end = end_index - len(item.key) + 1, end_index + 1
                heard = norm.text[n_start:n_end]
                if heard == item.key or (n_start, n_end, item.rule.id) in taken:
                    continue
                support = self._context_support(norm.text, n_start, n_end, item.rule.category)
                if not self._plausible(item, norm, n_start, n_end, support, probabilities):
                    continue
                match = self._match(
                    text,
                    norm,
                    item.rule,
                    item.term,
                    n_start,
                    n_end,
                    kind="sound-alike",
                    support=support,
                )
                if not self._inside_longer_word(match, norm.simplified):
                    out.append(match)
        return out

    def _context_support(self, norm_text: str, n_start: int, n_end: int, category: str) -> bool:
        words = self.lexicon.categories[category].context
        if not words:
            return False
        line_start = norm_text.rfind("\n", 0, n_start) + 1
        line_end = norm_text.find("\n", n_end)
        line_end = len(norm_text) if line_end < 0 else line_end
        before = norm_text[max(line_start, n_start - CONTEXT_WINDOW) : n_start]
        after = norm_text[n_end : min(line_end, n_end + CONTEXT_WINDOW)]
        return any(w in before or w in after for w in words)

    @staticmethod
    def _plausible(
        item: _Term,
        norm: Normalized,
        n_start: int,
        n_end: int,
        support: bool,
        probabilities: Sequence[float] | None,
    ) -> bool:
        if item.rule.soundalike == "always" or support:
            return True
        if len(item.key) < LONG_SOUNDALIKE:
            return False
        if probabilities is None:
            return True
        a, b = norm.source_span(n_start, n_end)
        heard = [probabilities[i] for i in range(a, b) if i < len(probabilities)]
        return not heard or min(heard) < SURE_PROBABILITY

    # -- checks -----------------------------------------------------------------------------

    def _inside_longer_word(self, match: Match, simplified: str) -> bool:
        """A short term that starts or ends inside a word of the sentence (包过 in 打包过程), or
        lies inside a slightly longer word (招财 in 招财猫), is not that term. A longer word is
        an idiom that carries the claim (活血化瘀) and does not count."""
        if match.term is None or len(normalize_term(match.term)) > SHORT_TERM:
            return False
        if match.rule.word is not None:
            return False  # word rules were cut by jieba already
        tokenizer = _tokenizer(self._word_terms, self._word_tags)[0]
        if not _word_may_hold(tokenizer.FREQ, simplified, match.start, match.end):
            return False
        left = max(0, match.start - 5)
        right = min(len(simplified), match.end + 5)
        offset = left
        for token in tokenizer.cut(simplified[left:right], HMM=False):
            a, b = offset, offset + len(token)
            offset = b
            if b <= match.start or a >= match.end:
                continue
            inside = a <= match.start and match.end <= b and b - a > match.end - match.start
            crossing = a < match.start < b or a < match.end < b
            if (inside or crossing) and b - a < IDIOM_LENGTH:
                return True
        return False

    def _contextual_for(self, category: str, term: str | None) -> list[_ContextCheck]:
        """The before/after exemptions for matches of this category and term, as few regular
        expressions as possible: those with the same kind and window are joined into one
        alternation, which matches exactly when one of them does."""
        key = (category, term)
        found = self._contextual_cache.get(key)
        if found is None:
            groups: dict[tuple[str, int], list[re.Pattern[str]]] = {}
            for e in self._contextual:
                if e.applies_to(category, term, self.product):
                    assert e.pattern is not None
                    groups.setdefault((e.kind, e.window), []).append(e.pattern)
            found = [
                _ContextCheck(kind, window, pattern)
                for (kind, window), patterns in groups.items()
                for pattern in _joined(patterns)
            ]
            self._contextual_cache[key] = found
        return found

    def _exempt(self, match: Match, norm_text: str, phrases: _Phrases) -> bool:
        # Phrases are sorted by start; only those starting at most 16 characters before can hold
        # the match.
        first = bisect.bisect_left(phrases.starts, match.norm_start - 16)
        last = bisect.bisect_right(phrases.starts, match.norm_start, lo=first)
        for _, b, exemption in phrases.items[first:last]:
            if match.norm_end <= b and exemption.applies_to(
                match.category, match.term, self.product
            ):
                return True
        checks = self._contextual_for(match.category, match.term)
        if not checks:
            return False
        line_start = norm_text.rfind("\n", 0, match.norm_start) + 1
        line_end = norm_text.find("\n", match.norm_end)
        if line_end < 0:
            line_end = len(norm_text)
        for check in checks:
            if check.kind == "before":
                left = max(line_start, match.norm_start - check.window)
                # Slices, not pos/endpos: the patterns anchor with ^ and $ on the window itself.
                if check.pattern.search(norm_text[left : match.norm_start]):
                    return True
            else:
                right = min(line_end, match.norm_end + check.window)
                if check.pattern.match(norm_text[match.norm_end : right]):
                    return True
        return False


@dataclass(frozen=True)
class _ContextCheck:
    kind: str  # before | after
    window: int
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class _Phrases:
    """Exemption phrases found in a text, sorted by start, with their starts for bisect."""

    items: list[tuple[int, int, Exemption]]
    starts: list[int]


def _joined(patterns: list[re.Pattern[str]]) -> list[re.Pattern[str]]:
    if len(patterns) == 1:
        return patterns
    try:
        return [re.compile("|".join(f"(?:{p.pattern})" for p in patterns), patterns[0].flags)]
    except re.error:  # e.g. two patterns naming the same group: keep them apart
        return patterns


def _word_may_hold(freq: dict[str, int], text: str, start: int, end: int) -> bool:
    """Whether any dictionary word shorter than an idiom straddles or holds text[start:end].

    A cheap test with the dictionary alone, so that jieba runs only where it could matter.
    """
    for a, b in _straddling_spans(end - start):
        if start + a >= 0 and start + b <= len(text) and freq.get(text[start + a : start + b]):
            return True
    return False


@lru_cache(maxsize=8)
def _straddling_spans(length: int) -> tuple[tuple[int, int], ...]:
    """Spans, relative to a term of `length` characters at 0, of the words shorter than an
    idiom that start or end inside the term, or hold it and more."""
    return tuple(
        (a, b)
        for a in range(1 - IDIOM_LENGTH, length)
        for b in range(max(a + 2, 1), a + IDIOM_LENGTH)
        if a < 0 < b or a < length < b or (a <= 0 and length <= b and b - a > length)
    )


def _resolve_overlaps(matches: list[Match]) -> list[Match]:
    """Keep one match per span and category; drop a match lying inside a longer one.

    全网最低价 holds 最低价: the longer, more specific claim is the finding. An exact or variant
    match wins over a sound-alike of the same span. Matches are taken in order of start, and only
    those still open at a start can hold it, so this stays linear on long texts.
    """
    rank = {"exact": 0, "variant": 0, "sound-alike": 1}
    ordered = sorted(
        matches, key=lambda m: (m.norm_start, -(m.norm_end - m.norm_start), rank[m.kind])
    )
    kept: list[Match] = []
    open_: list[Match] = []
    for m in ordered:
        open_ = [k for k in open_ if k.norm_end > m.norm_start]
        inside = any(
            k.norm_start <= m.norm_start
            and m.norm_end <= k.norm_end
            and (
                k.norm_end - k.norm_start > m.norm_end - m.norm_start
                or k.category == m.category
                or rank[m.kind] > rank[k.kind]
            )
            for k in open_
        )
        if not inside:
            kept.append(m)
            open_.append(m)
    return kept
