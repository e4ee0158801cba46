"""Scan stage: find lexicon claims in text, drop the exempt ones, return character spans.

Four ways to find a candidate, cheapest first:
1. terms, with one Aho-Corasick automaton over the normalised text (exemption phrases, the words
   of word classes and the literals of patterns ride along);
2. combinations: a rule's parts (word classes: an efficacy verb and a disease, a reference price
   and an amount ...) found near each other in one clause, in order or either order;
3. regular-expression patterns over the normalised text, and word rules (最 + an adjective) told
   apart with jieba around each head character;
4. sound-alikes: the same terms on sound keys (auditor.phonetic), for what speech recognition
   wrote with the wrong characters, and in recognised speech, around the words the recogniser
   was unsure of, runs of syllables near a term by a weighted distance (auditor.similarity: a
   final or initial confused, a syllable dropped or added). Kept only with support: the
   category's context words nearby, a long term, a rule that opts in, or another claim word of
   the category right beside it (_chained); and not when the recogniser was sure of other
   words. `auditor.verify` then checks them against the audio.
The heavier checks (jieba word boundaries, exemptions, clause bounds) run only around candidates.
A claim's category follows the product sold (`as_product` in categories.toml), and words that make
one claim make one finding: a match inside another match's words gives way to it.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ahocorasick_rs
import numpy as np

from auditor import readings, segment
from auditor.anchors import first_characters, required_literals
from auditor.findings import Why
from auditor.lexicon import LEARNED, Combination, Exemption, Lexicon, Part, Rule
from auditor.normalize import Normalized, normalize, normalize_term
from auditor.phonetic import fuzzy_syllable, is_cjk, sound_keys, term_sound_keys
from auditor.similarity import Syllable, allowed, distance, heard_syllables, syllables

log = logging.getLogger("auditor")

# A short term inside a longer word is no claim (包过 in 打包过程, 招财 in 招财猫): checked with
# jieba for terms up to this many characters.
SHORT_TERM = 2
# Sound-alike support: how far to look for the category's context words (normalised characters).
CONTEXT_WINDOW = 24
# A term this long is very unlikely to be matched by sound by chance.
LONG_SOUNDALIKE = 4
# Characters between two claim words of one category that still make them one chain (_chained).
CHAIN_GAP = 1
# Above this recognition probability the recogniser heard the words it wrote: no sound-alike
# without context.
SURE_PROBABILITY = 0.97
# Weighted sound-alikes are looked for only in windows holding a word the recogniser was less
# sure of than this: a confident recogniser wrote what was said, and the search stays cheap
# (scripts/bench_soundalike.py measured the hard media with it).
NEAR_UNSURE = 0.9
# How to find sound-alikes: none; "keys", equal sound keys only; "near", keys and the weighted
# distance (the default; the others are for measuring what each adds).
SOUNDALIKE_SEARCHES = ("none", "keys", "near")
# The learned model reads sentences of at least this many normalised characters: fewer say too
# little for n-grams to weigh (好用, 回购).
LEARNED_SHORTEST = 4
# ... and sentences longer than this clause by clause (recognised speech runs on without stops).
LEARNED_LONGEST = 60


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
    category: str = ""  # the rule's category, for the product sold
    legal_basis: str = ""
    model_probability: float = 1.0  # kind learned: the model's probability of the category


@dataclass(frozen=True)
class _Routed:
    """What a rule's matches say for the product sold: category, severity, legal basis."""

    category: str
    severity: str
    legal_basis: str


@dataclass(frozen=True)
class _ClassWord:
    word_class: str  # a term of this word class ends here
    length: int


@dataclass(frozen=True)
class _Term:
    rule: Rule
    term: str
    key: str  # normalised term


@dataclass(frozen=True)
class _Anchor:
    pattern: int  # index into Scanner._regexes: that pattern can only match where this is


# The longest word a combination part is expected to have: bounds where its chains can start.
_LONGEST_PART = 8
# A lexicon term inside a word this long is part of an idiom that makes the claim (活血化瘀).
IDIOM_LENGTH = 4


def _automaton(keys: list[str]) -> ahocorasick_rs.AhoCorasick:
    """An Aho-Corasick automaton reporting every match of `keys`, overlapping ones too, as
    (index into keys, start, end) in order of end: a key that is a suffix of another (血糖 of
    降血糖) is found as well."""
    return ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MatchKind.Standard)


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


@dataclass(frozen=True)
class _Near:
    """A term's syllables, for the weighted sound-alike search, and one of its positions."""

    item: _Term
    syllables: tuple[Syllable, ...]
    at: int  # the syllable of the term that the index found


def _unsure(probabilities: Sequence[float], start: int, end: int) -> bool:
    """Whether the recogniser was less than sure (SURE_PROBABILITY) of a word among the
    characters [start, end) of the text it wrote; true where no probability is known."""
    heard = probabilities[start:end]
    return not heard or min(heard) < SURE_PROBABILITY


def _chained(unsupported: list[Match], found: list[Match]) -> list[Match]:
    """The sound-alikes short of support that sit beside another claim of their category (at
    most CHAIN_GAP characters apart): claims are said as chains of terms (消炎杀菌, 防癌抗癌,
    辟邪镇宅), and two claim words of one kind heard side by side support each other where one
    alone, with no context word, is too weak (沙君 alone is no 杀菌; 销银沙君 is 消炎杀菌). The
    word boundaries of misheard characters do not count against a chained one: 银沙 is a word
    only because the recogniser wrote 银 for 炎."""
    kept = []
    for m in unsupported:
        others = [o for o in (*found, *unsupported) if o is not m and o.category == m.category]
        if any(
            o.norm_start - CHAIN_GAP <= m.norm_end
            and m.norm_start <= o.norm_end + CHAIN_GAP
            and not (o.norm_start < m.norm_end and m.norm_start < o.norm_end)
            for o in others
        ):
            kept.append(m)
    return kept


class Scanner:
    def __init__(
        self, lexicon: Lexicon, product: str = "general", soundalikes: str = "near"
    ) -> None:
        self.lexicon = lexicon
        self.product = product
        if soundalikes not in SOUNDALIKE_SEARCHES:
            raise ValueError(
                f"soundalikes must be one of {SOUNDALIKE_SEARCHES}, not {soundalikes!r}"
            )
        self.soundalikes = soundalikes
        rules = [r for r in lexicon.rules if r.products is None or product in r.products]
        self._rules = rules
        self._routed = {rule.id: self._route(rule) for rule in rules}
        # Categories that give way when the same words also make a claim of another category.
        self._fallback = frozenset(c.id for c in lexicon.categories.values() if c.fallback)
        self._combined = [r for r in rules if r.combination is not None]
        used_classes = {
            p.word_class for r in self._combined if r.combination for p in r.combination.parts
        }
        # A class's figure patterns, each with the characters its matches can start with.
        self._class_patterns = {
            c: tuple((p, first_characters(p)) for p in lexicon.classes[c].patterns)
            for c in used_classes
            if lexicon.classes[c].patterns
        }
        # Fuzzy key of a syllable -> the terms holding it, for the weighted sound-alike search.
        self._near: dict[str, list[_Near]] = {}
        entries: dict[str, list[_Term | Exemption | _Anchor | _ClassWord]] = {}
        sounds: dict[str, list[_Term]] = {}
        for rule in rules:
            for term in rule.terms:
                item = _Term(rule, term, normalize_term(term))
                entries.setdefault(item.key, []).append(item)
                cjk = sum(1 for c in item.key if is_cjk(c))
                if rule.soundalike != "never" and cjk >= 2 and soundalikes != "none":
                    sounds.setdefault(term_sound_keys(item.key), []).append(item)
                    self._index_near(item)
        for exemption in lexicon.exemptions:
            for phrase in exemption.phrases:
                entries.setdefault(phrase, []).append(exemption)
        # The lead parts' words of two or more characters ride in the automaton; every other
        # word of a class (and one-character words, which must touch their neighbour) is looked
        # up only around them: ordinary speech is full of 今天, 提高 and 一定.
        lead_classes = {
            r.combination.parts[r.combination.lead].word_class
            for r in self._combined
            if r.combination
        }
        for class_id in sorted(lead_classes):
            for word in lexicon.classes[class_id].terms:
                if len(word) > 1:
                    entries.setdefault(word, []).append(_ClassWord(class_id, len(word)))
        self._class_lookup: dict[str, tuple[ahocorasick_rs.AhoCorasick, int]] = {}  # longest word
        for class_id in sorted(used_classes):
            words_of = {
                w
                for w in lexicon.classes[class_id].terms
                if class_id not in lead_classes or len(w) == 1
            }
            if words_of:
                lookup = _automaton(sorted(words_of))
                self._class_lookup[class_id] = (lookup, max(map(len, words_of)))
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
        self._automaton = _automaton(list(entries))
        self._entries = list(entries.values())  # what each key of the automaton stands for
        self._sound_automaton = _automaton(list(sounds))
        self._sounds = list(sounds.values())
        self._has_sounds = bool(sounds)
        readings.save()  # the terms' readings, for the next start (auditor.readings)
        self._word_rules = [r for r in rules if r.word is not None]
        # One rule per category for the learned model's findings, routed like any other.
        self._learned_rules: dict[str, Rule] = {}
        if lexicon.learned is not None:
            for category in lexicon.learned.categories:
                known = lexicon.categories[category]
                rule = Rule(
                    id=f"{category}/{LEARNED}",
                    category=category,
                    severity=known.severity,
                    legal_basis=known.legal_basis,
                    terms=(),
                    patterns=(),
                    origin=lexicon.files[-1],
                    severity_by_product=known.severity_by_product,
                )
                self._learned_rules[category] = rule
                self._routed[rule.id] = self._route(rule)
        self._contextual = [e for e in lexicon.exemptions if e.kind != "phrase"]
        self._contextual_cache: dict[tuple[str, str | None, str], list[_ContextCheck]] = {}
        # Part-of-speech tags that word rules look for: only those are loaded.
        self._word_tags = frozenset(t for r in self._word_rules if r.word for t in r.word.pos)
        self._word_terms = frozenset(
            t.key
            for items in entries.values()
            for t in items
            if isinstance(t, _Term) and len(t.key) <= IDIOM_LENGTH and all(map(is_cjk, t.key))
        )

    def _index_near(self, item: _Term) -> None:
        if self.soundalikes != "near":
            return
        said = syllables(item.key)
        if any(s is None for s in said):
            return  # figures or Latin letters in the term: the sound keys alone
        known = tuple(s for s in said if s is not None)
        for at, syllable in enumerate(known):
            key = fuzzy_syllable(syllable.initial + syllable.final)
            self._near.setdefault(key, []).append(_Near(item, known, at))

    def _route(self, rule: Rule) -> _Routed:
        category = self.lexicon.categories[rule.category]
        routed = self.lexicon.categories[category.for_product(self.product)]
        if routed.id == category.id:
            return _Routed(category.id, rule.severity_for(self.product), rule.legal_basis)
        return _Routed(
            routed.id,
            dict(routed.severity_by_product).get(self.product, routed.severity),
            routed.legal_basis,
        )

    def scan(self, text: str, probabilities: Sequence[float] | None = None) -> list[Match]:
        """Claims in `text`. `probabilities`, one per character of `text` when it comes from
        speech recognition, is how sure the recogniser was of the word holding each character."""
        norm = normalize(text)
        bounds = _Bounds(text, norm)
        candidates, phrases, anchored, words = self._terms(text, norm)
        candidates += self._combinations(text, norm, words, bounds)
        candidates += self._patterns(text, norm, anchored)
        simplified = norm.simplified
        candidates = [m for m in candidates if not self._inside_longer_word(m, simplified)]
        # After that check: a term inside a longer word (最好 of 最|好吃) leaves its place to a
        # word rule, which reads the words jieba cut there.
        candidates += self._words(text, norm, candidates)
        unsupported: list[Match] = []  # sound-alikes short of support, for _chained
        if self._has_sounds:
            candidates += self._soundalikes(text, norm, candidates, probabilities, unsupported)
        if self._near and probabilities is not None:
            candidates += self._near_soundalikes(text, norm, candidates, probabilities, unsupported)
        if probabilities is not None:  # recognised speech: written text holds nothing misheard
            unsure = [m for m in unsupported if _unsure(probabilities, m.start, m.end)]
            candidates += _chained(unsure, candidates)
        candidates = [m for m in candidates if self._in_context(m, norm.text)]
        kept = [m for m in candidates if not self._exempt(m, norm.text, phrases, bounds)]
        found = _resolve_overlaps(kept, self._fallback)
        if self._learned_rules:
            learned = self._learned(text, norm, bounds, found)
            found += [m for m in learned if not self._exempt(m, norm.text, phrases, bounds)]
            found.sort(key=lambda m: (m.start, m.end))
        return found

    def _learned(
        self, text: str, norm: Normalized, bounds: _Bounds, found: list[Match]
    ) -> list[Match]:
        """What the learned model finds in each sentence (each clause of a long one), for
        categories no rule found there."""
        model = self.lexicon.learned
        assert model is not None
        out: list[Match] = []
        clauses = bounds.cuts("clause")
        cuts = []
        for a, b in itertools.pairwise([0, *bounds.cuts("sentence"), len(norm.text)]):
            cuts.append(a)
            if b - a > LEARNED_LONGEST:  # a finding should be a span a reviewer can read
                cuts += clauses[bisect.bisect_right(clauses, a) : bisect.bisect_left(clauses, b)]
        cuts.append(len(norm.text))
        # The categories rules found in each sentence (a match may run over a cut).
        there: dict[int, set[str]] = {}
        for m in found:
            first = bisect.bisect_right(cuts, m.norm_start) - 1
            last = bisect.bisect_left(cuts, m.norm_end) - 1
            for sentence_index in range(max(0, first), max(first, last) + 1):
                there.setdefault(sentence_index, set()).add(m.category)
        units: list[tuple[int, int, int]] = []  # sentence index, start, end: punctuation trimmed
        for sentence_index, (a, b) in enumerate(itertools.pairwise(cuts)):
            while a < b and not norm.text[a].isalnum():
                a += 1
            while b > a and not norm.text[b - 1].isalnum():
                b -= 1
            if b - a >= LEARNED_SHORTEST:
                units.append((sentence_index, a, b))
        if not units:
            return out
        every = model.probabilities_of([norm.text[a:b] for _, a, b in units])
        for (sentence_index, a, b), probabilities in zip(units, every, strict=True):
            sentence = norm.text[a:b]
            # Most likely first: two categories the goods route to one (medical.claim and
            # food.disease_claim for a tea) make one finding, the likelier one's.
            ranked = sorted(range(len(model.categories)), key=lambda i: -probabilities[i])
            reported = set(there.get(sentence_index, ()))
            for index in ranked:
                category = model.categories[index]
                p = float(probabilities[index])
                rule = self._learned_rules.get(category)
                if p < model.threshold or rule is None:
                    continue
                routed = self._routed[rule.id].category  # what the finding would report
                if routed in reported:
                    continue
                evidence = model.evidence(sentence, category)
                if not any(len(gram) > 1 for gram in evidence):
                    continue  # characters alone (首 and 1 in 换一首歌) are no reason
                match = self._match(
                    text,
                    norm,
                    rule,
                    None,
                    a,
                    b,
                    kind="learned",
                    why=(("model", LEARNED), ("evidence", " ".join(evidence))),
                )
                reported.add(routed)
                out.append(dataclasses.replace(match, model_probability=round(p, 3)))
        return out

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
        why: Why = (),
    ) -> Match:
        start, end = norm.source_span(n_start, n_end)
        if kind is None:
            written = text[start:end]
            kind = "exact" if written in (term, norm.text[n_start:n_end]) else "variant"
        routed = self._routed[rule.id]
        return Match(
            rule,
            term,
            start,
            end,
            n_start,
            n_end,
            kind,
            routed.severity,
            support,
            why,
            routed.category,
            routed.legal_basis,
        )

    def _terms(
        self, text: str, norm: Normalized
    ) -> tuple[list[Match], _Phrases, dict[int, set[int]], dict[str, list[tuple[int, int]]]]:
        """Term matches, exemption phrases, for each anchored pattern the lines (by their start
        in the normalised text) where one of its literals was found, and the words of each word
        class (normalised spans, in order of end)."""
        found: list[Match] = []
        phrases: list[tuple[int, int, Exemption]] = []
        anchored: dict[int, set[int]] = {}
        words: dict[str, list[tuple[int, int]]] = {}
        entries = self._entries
        for key, n_start, n_end in self._automaton.find_matches_as_indexes(
            norm.text, overlapping=True
        ):
            for item in entries[key]:
                if isinstance(item, _Term):
                    found.append(self._match(text, norm, item.rule, item.term, n_start, n_end))
                elif isinstance(item, _ClassWord):
                    words.setdefault(item.word_class, []).append((n_start, n_end))
                elif isinstance(item, _Anchor):
                    line = norm.text.rfind("\n", 0, n_start) + 1
                    anchored.setdefault(item.pattern, set()).add(line)
                else:
                    phrases.append((n_start, n_end, item))
        phrases.sort(key=lambda p: p[0])
        return found, _Phrases(phrases, [p[0] for p in phrases]), anchored, words

    def _combinations(
        self,
        text: str,
        norm: Normalized,
        words: dict[str, list[tuple[int, int]]],
        bounds: _Bounds,
    ) -> list[Match]:
        """Matches of the combination rules: each rule's parts near each other, in one clause
        (or sentence), found from the words of its rarest part outwards."""
        found: list[Match] = []
        if not words:
            return found
        index = _Words(
            norm.text,
            {c: sorted(hits) for c, hits in words.items()},
            self._class_patterns,
            self._class_lookup,
        )
        for rule in self._combined:
            combination = rule.combination
            assert combination is not None
            parts = combination.parts
            lead = parts[combination.lead].word_class
            if not index.spans.get(lead):
                continue
            reach = sum(
                (combination.gap if p.gap is None else p.gap) + _LONGEST_PART for p in parts
            )
            orders = [parts]
            if combination.order == "any":
                orders.append(parts[::-1])
            seen: set[tuple[int, int]] = set()
            for ordered in orders:
                first_is_lead = ordered[0].word_class == lead
                for near, _ in index.spans[lead]:
                    lo = near if first_is_lead else max(0, near - reach)
                    for hit in _combine(ordered, index, combination, bounds, lo, near + 1):
                        n_start, n_end = hit[0][0], hit[-1][1]
                        if (n_start, n_end) in seen:
                            continue
                        seen.add((n_start, n_end))
                        why = tuple(
                            (part.name, norm.text[a:b])
                            for part, (a, b) in zip(ordered, hit, strict=True)
                        )
                        found.append(self._match(text, norm, rule, None, n_start, n_end, why=why))
        return found

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
            category = self._routed[rule.id].category
            taken = {m.norm_start for m in found_terms if m.category == category}
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
                if word_rule.head + next_word in word_rule.exceptions:
                    return None  # 最|辛苦 cut in two is excepted as 最辛苦 in one word is
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
        self,
        text: str,
        norm: Normalized,
        found: list[Match],
        probabilities: Sequence[float] | None,
        unsupported: list[Match],
    ) -> list[Match]:
        """Terms whose sound keys equal the heard ones; those short of support go to
        `unsupported` (see _chained)."""
        keys = sound_keys(norm.text)
        taken = {(m.norm_start, m.norm_end, m.rule.id) for m in found}
        out: list[Match] = []
        for key, n_start, n_end in self._sound_automaton.find_matches_as_indexes(
            keys, overlapping=True
        ):
            for item in self._sounds[key]:
                heard = norm.text[n_start:n_end]
                if heard == item.key or (n_start, n_end, item.rule.id) in taken:
                    continue
                support = self._context_support(norm.text, n_start, n_end, item.rule.category)
                plausible = self._plausible(item, norm, n_start, n_end, support, probabilities)
                if not plausible and probabilities is None:
                    continue  # written text: nothing misheard to chain (_chained)
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
                inside = self._inside_longer_word(match, norm.simplified)
                (out if plausible and not inside else unsupported).append(match)
        return out

    def _near_soundalikes(
        self,
        text: str,
        norm: Normalized,
        found: list[Match],
        probabilities: Sequence[float],
        unsupported: list[Match],
    ) -> list[Match]:
        """Terms whose syllables are within `similarity.allowed` of a run of heard syllables
        holding a word the recogniser was unsure of (below NEAR_UNSURE). Each syllable of the
        term found among the heard ones places the term there, give or take a syllable at each end
        (one added, in a long term); the nearest run wins. A run shorter than the term (a syllable
        dropped) is not taken: its free edge makes any word that ends like a term near it (准时结束
        holds 时结束, a syllable from 随时结束), and the recogniser, when it drops a syllable,
        mostly drops it from a figure (三百九十九 written 399, docs/soundalike-errors.md)."""
        n = len(norm.text)
        probs = np.asarray(probabilities, dtype=np.float64)
        starts = np.minimum(norm.starts, max(0, probs.size - 1))
        unsure = probs[starts] < NEAR_UNSURE if probs.size else np.zeros(n, bool)
        if not unsure.any():
            return []
        before = np.concatenate(([0], np.cumsum(unsure)))  # unsure characters before each offset
        heard = heard_syllables(norm.text)
        held: dict[str, list[tuple[int, int]]] = {}  # spans each rule has matched already
        for m in found:
            held.setdefault(m.rule.id, []).append((m.norm_start, m.norm_end))
        seen: set[tuple[int, int, int]] = set()
        candidates: list[tuple[float, int, int, int, _Term]] = []
        reach = 10  # the longest term of interest, plus one
        offsets = np.arange(n)
        lo, hi = np.maximum(0, offsets - reach), np.minimum(n, offsets + reach + 1)
        near = np.flatnonzero(before[hi] > before[lo])  # an unsure character within reach
        for p in near.tolist():
            here = heard[p]
            if here is None:
                continue
            for entry in self._near.get(fuzzy_syllable(here.initial + here.final), ()):
                size = len(entry.syllables)
                origin = p - entry.at
                for a in (origin, origin - 1, origin + 1):
                    for b in (a + size, a + size + 1):
                        if a < 0 or b > n or not a <= p < b:
                            continue
                        if b - a != size and size < LONG_SOUNDALIKE:
                            continue  # a syllable added: only in a long term
                        if before[b] == before[a] or (a, b, id(entry.item)) in seen:
                            continue  # sure of every word there, or measured already
                        seen.add((a, b, id(entry.item)))
                        window = heard[a:b]
                        if any(s is None for s in window):
                            continue
                        limit = allowed(size)
                        d = distance(entry.syllables, window, limit)  # type: ignore[arg-type]
                        if 0 < d <= limit:
                            candidates.append((d, abs(b - a - size), a, b, entry.item))
        # The nearest first, and the same number of syllables before one dropped or added; a
        # rule's words are matched once (no second, wider window around an exact match).
        out: list[Match] = []
        for _, _, a, b, item in sorted(candidates, key=lambda c: c[:3]):
            spans = held.setdefault(item.rule.id, [])
            if any(x < b and a < y for x, y in spans) or norm.text[a:b] == item.key:
                continue
            support = self._context_support(norm.text, a, b, item.rule.category)
            plausible = self._plausible(item, norm, a, b, support, probabilities)
            match = self._match(text, norm, item.rule, item.term, a, b, "sound-alike", support)
            if plausible and not self._inside_longer_word(match, norm.simplified):
                out.append(match)
                spans.append((a, b))
            else:
                unsupported.append(match)
        return out

    def _in_context(self, match: Match, norm_text: str) -> bool:
        """A rule that needs context has it: the product implies it, or the category's context
        words are near the match or in it."""
        if not match.rule.needs_context:
            return True
        category = self.lexicon.categories[match.category]
        if self.product in category.implied_by:
            return True
        inside = norm_text[match.norm_start : match.norm_end]
        return any(w in inside for w in category.context) or self._context_support(
            norm_text, match.norm_start, match.norm_end, match.category
        )

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
        return _unsure(probabilities, *norm.source_span(n_start, n_end))

    # -- checks -----------------------------------------------------------------------------

    def _inside_longer_word(self, match: Match, simplified: str) -> bool:
        """A short term that starts or ends inside a word of the sentence (包过 in 打包过程), or
        lies inside a slightly longer word (招财 in 招财猫), is not that term. A longer word is
        an idiom that carries the claim (活血化瘀) and does not count."""
        if match.term is None and not match.why:
            return False  # a pattern: its own boundaries
        key = normalize_term(match.term) if match.term else simplified[match.start : match.end]
        if len(key) > SHORT_TERM:
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

    def _contextual_for(self, category: str, term: str | None, rule: Rule) -> list[_ContextCheck]:
        """The before/after/clause exemptions for matches of this category and term, as few
        regular expressions as possible: those with the same kind and window (or span) are
        joined into one alternation, which matches exactly when one of them does."""
        key = (category, term, rule.id)
        found = self._contextual_cache.get(key)
        if found is None:
            groups: dict[tuple[str, int, str], list[re.Pattern[str]]] = {}
            for e in self._contextual:
                if e.applies_to(category, term, self.product, rule.category, rule.id):
                    assert e.pattern is not None
                    groups.setdefault((e.kind, e.window, e.span), []).append(e.pattern)
            found = [
                _ContextCheck(kind, window, pattern, span)
                for (kind, window, span), patterns in groups.items()
                for pattern in _joined(patterns)
            ]
            self._contextual_cache[key] = found
        return found

    def _exempt(self, match: Match, norm_text: str, phrases: _Phrases, bounds: _Bounds) -> bool:
        # Phrases are sorted by start; only those starting at most 16 characters before can hold
        # the match.
        first = bisect.bisect_left(phrases.starts, match.norm_start - 16)
        last = bisect.bisect_right(phrases.starts, match.norm_start, lo=first)
        for _, b, exemption in phrases.items[first:last]:
            if match.norm_end <= b and exemption.applies_to(
                match.category, match.term, self.product, match.rule.category, match.rule.id
            ):
                return True
        checks = self._contextual_for(match.category, match.term, match.rule)
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
            elif check.kind == "clause":
                # The clause (or clauses) the match lies in: a disclaimer or a warning that names
                # the claim to deny it (不能代替药物治疗疾病, 切勿听信…包治百病).
                a, b = bounds.around(check.span, match.norm_start, match.norm_end)
                if check.pattern.search(norm_text[a:b]):
                    return True
            else:
                right = min(line_end, match.norm_end + check.window)
                if check.pattern.match(norm_text[match.norm_end : right]):
                    return True
        return False


@dataclass(frozen=True)
class _ContextCheck:
    kind: str  # before | after | clause
    window: int
    pattern: re.Pattern[str]
    span: str = "clause"


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


def _resolve_overlaps(matches: list[Match], fallback: frozenset[str] = frozenset()) -> list[Match]:
    """One finding per claim: a match lying inside another match's words gives way to it when
    the other is the specific claim.

    Matches of one category whose words overlap are one claim (扫码加 and 加微信 in 扫码加微信): the
    longest is the finding. 全网最低价 holds 最低价: the longer, more specific claim is the
    finding. What lies inside a
    lexicon term (包治百病 holds 治百病) is part of that claim; a claim of the same category, or of
    a fallback category (a superlative: 最低价 is a price claim), gives way too; and
    a sound-alike gives way to an exact or variant match of the same words. A combination or a
    pattern spans a stretch that can hold a claim of its own kind (三个月摆脱糖尿病: an efficacy
    promise holding a disease claim), so what it holds of another category stays. Matches are
    taken in order of start, and only those still open at a start can hold it, so this stays
    linear on long texts.
    """
    rank = {"exact": 0, "variant": 0, "sound-alike": 1}
    ordered = sorted(
        matches,
        key=lambda m: (
            m.norm_start,
            -(m.norm_end - m.norm_start),
            rank[m.kind],
            m.category in fallback,
            m.term is None,
        ),
    )
    kept: list[Match] = []
    open_: list[Match] = []
    # Where each kept match is, by identity: list.index would compare matches field by field
    # down the whole list, quadratic on a long transcript.
    where: dict[int, int] = {}
    for m in ordered:
        open_ = [k for k in open_ if k.norm_end > m.norm_start]
        same = [k for k in open_ if k.category == m.category]
        if same:  # one claim of a kind: overlapping words are one finding
            longest = max(same, key=lambda k: k.norm_end - k.norm_start)
            if longest.rule is m.rule and m.norm_end > longest.norm_end:
                joined = _joined_matches(longest, m)  # one rule twice: the words of both
            elif m.norm_end - m.norm_start > longest.norm_end - longest.norm_start:
                joined = m
            else:
                continue
            at = where.pop(id(longest))
            kept[at] = joined
            where[id(joined)] = at
            open_ = [joined if k is longest else k for k in open_]
            continue
        inside = any(
            m.norm_end <= k.norm_end
            and (m.category in fallback or k.term is not None or rank[m.kind] > rank[k.kind])
            for k in open_
        )
        if not inside:
            where[id(m)] = len(kept)
            kept.append(m)
            open_.append(m)
    return kept


def _joined_matches(first: Match, second: Match) -> Match:
    """Two overlapping matches of one rule as one, covering the words of both, with the reasons
    of both (扫码加 and 加微信: 扫码加微信)."""

    def why(m: Match) -> Why:
        return m.why or ((("term", m.term),) if m.term else ())

    return dataclasses.replace(
        first,
        term=None,
        end=second.end,
        norm_end=second.norm_end,
        why=why(first) + why(second),
        kind=first.kind if first.kind == second.kind else "variant",
    )


class _Bounds:
    """Clause and sentence bounds of a scanned text, in normalised offsets, found once per scan
    and only when a combination or a clause exemption asks."""

    # Clause cuts: commas, colons, stops, line breaks and spaces (a recogniser's pause).
    CLAUSE = "，,；;：:。！？!?…\n \t\u3000"
    SENTENCE = "。！？!?…\n"

    def __init__(self, text: str, norm: Normalized) -> None:
        self._text = text
        self._norm = norm
        self._cuts: dict[str, list[int]] = {}

    def _of(self, kind: str) -> list[int]:
        cuts = self._cuts.get(kind)
        if cuts is None:
            marks = self.CLAUSE if kind == "clause" else self.SENTENCE
            codes = np.frombuffer(self._text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            where = np.flatnonzero(np.isin(codes, np.array([ord(c) for c in marks], np.uint32)))
            # A cut in the original text falls before the first normalised character after it.
            found = np.searchsorted(self._norm.starts, where)  # sorted: where and starts are
            cuts = found[np.r_[True, found[1:] != found[:-1]]].tolist() if found.size else []
            self._cuts[kind] = cuts
        return cuts

    def cuts(self, kind: str) -> list[int]:
        """Where clauses (or sentences) begin, in normalised offsets (the first is not listed)."""
        return self._of(kind)

    def same(self, kind: str, a: int, b: int) -> bool:
        """Whether normalised offsets a <= b lie in one clause (or sentence)."""
        cuts = self._of(kind)
        return bisect.bisect_right(cuts, a) == bisect.bisect_right(cuts, b)

    def around(self, kind: str, start: int, end: int) -> tuple[int, int]:
        """The normalised span of the clause(s) (or sentences) holding [start, end)."""
        cuts = self._of(kind)
        left = bisect.bisect_right(cuts, start)
        right = bisect.bisect_right(cuts, max(start, end - 1))
        a = cuts[left - 1] if left else 0
        b = cuts[right] if right < len(cuts) else len(self._norm.text)
        return a, b


@dataclass(frozen=True)
class _Words:
    """Where the words of each word class are in one normalised text."""

    text: str
    spans: dict[str, list[tuple[int, int]]]  # lead words found by the automaton, sorted
    patterns: dict[str, tuple[tuple[re.Pattern[str], re.Pattern[str] | None], ...]]
    lookup: dict[str, tuple[ahocorasick_rs.AhoCorasick, int]]  # other words, the longest

    def starting(self, word_class: str, lo: int, hi: int) -> list[tuple[int, int, bool]]:
        """The class's words starting in [lo, hi), longest first at each start, each with
        whether it is one character that is a word (not a figure matched by a pattern)."""
        text = self.text
        hits = self.spans.get(word_class)
        out: list[tuple[int, int, bool]] = []
        if hits:
            at = bisect.bisect_left(hits, (lo, -1))
            out = [(a, b, False) for a, b in hits[at : bisect.bisect_left(hits, (hi, -1), at)]]
        known = self.lookup.get(word_class)
        if known:
            automaton, longest = known
            lo = max(0, lo)
            stop = min(len(text), hi + longest - 1)
            if lo < stop:  # a slice: the automaton would copy the whole text for each window
                for _, start, end in automaton.find_matches_as_indexes(
                    text[lo:stop], overlapping=True
                ):
                    if lo + start < hi:
                        out.append((lo + start, lo + end, end - start == 1))
        for pattern, first in self.patterns.get(word_class, ()):
            begin = max(0, lo)
            if first is not None:  # most windows hold no figure: one search of a class says so
                can_start = first.search(text, begin, hi)
                if can_start is None:
                    continue
                begin = can_start.start()
            for m in pattern.finditer(text, begin, min(len(text), hi + 24)):
                if m.start() >= hi:
                    break
                if m.end() > m.start():
                    out.append((m.start(), m.end(), False))
        if len(out) > 1:
            out.sort(key=_longest_first)
        return out


def _longest_first(span: tuple[int, int, bool]) -> tuple[int, int]:
    return span[0], span[0] - span[1]


def _combine(
    parts: Sequence[Part],
    words: _Words,
    combination: Combination,
    bounds: _Bounds,
    lo: int,
    hi: int,
) -> Iterator[list[tuple[int, int]]]:
    """Each way the parts follow one another, the first part's words starting in [lo, hi): then
    the next part's within `gap` characters after it, and so on, all in one clause or sentence.
    A word of one character must come first and touch the next part: alone it is too common (降
    in 降价, 防 in 防水), and after a part it usually begins another word (血糖降血压). Figures
    matched by a class's patterns may be one character (2 in 只要2位数)."""

    def extend(chain: list[tuple[int, int]], single: bool) -> list[tuple[int, int]] | None:
        if len(chain) == len(parts):
            return chain
        a, b = chain[-1]
        part = parts[len(chain)]
        gap = 0 if single else combination.gap if part.gap is None else part.gap
        for start, end, one in words.starting(part.word_class, b, b + gap + 1):
            if one or start - b > gap:
                continue
            if "\n" in words.text[b:start] or not bounds.same(combination.span, a, start):
                continue
            done = extend([*chain, (start, end)], False)
            if done is not None:
                return done
        return None

    for start, end, one in words.starting(parts[0].word_class, lo, hi):
        found = extend([(start, end)], one)
        if found is not None:
            yield found
