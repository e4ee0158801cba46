"""Transcript stage: segments and words with times, and the map from text offsets back to times.

The transcript's text is the concatenation of its words (simplified Chinese). Every character of
that text knows which word it came from, so any character span found by the scanner maps back to
the start of its first word and the end of its last word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Segments are joined with this separator unless one already ends a sentence. It is punctuation,
# so the scanner's normaliser drops it: a claim split by a pause still matches.
SEGMENT_JOINER = "，"
_SENTENCE_END = "。！？!?；;，,、…"
# A finding's context is the clause around it, widened by whole clauses up to this many
# characters: a reviewer reads a sentence, not the 150 characters a fast stream gives in one run.
CONTEXT_CHARS = 40
# Where a clause ends in unpunctuated speech: a pause between words this long (seconds) ...
CLAUSE_PAUSE = 0.35
# ... or a word that begins a new clause.
CLAUSE_WORDS = frozenset(
    [
        "然后",
        "但是",
        "所以",
        "而且",
        "还有",
        "那么",
        "因为",
        "如果",
        "不过",
        "另外",
        "其实",
        "就是说",
        "接下来",
        "我跟你说",
        "你看",
        "大家",
        "家人们",
        "宝宝们",
        "姐妹们",
        "朋友们",
        "兄弟们",
        "好的",
        "对吧",
        "好吧",
        "来",
        "注意",
        "记住",
        "重点",
    ]
)
_CLAUSE_MARKS = frozenset("，,。！？!?；;：:…、 \t\u3000")


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "probability": round(self.probability, 4),
        }


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def to_dict(self, with_words: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
        }
        if with_words:
            out["words"] = [w.to_dict() for w in self.words]
        return out


@dataclass(frozen=True)
class Transcript:
    segments: tuple[Segment, ...]
    language: str
    duration: float

    @property
    def text(self) -> str:
        return self.view().text

    def view(self) -> TranscriptText:
        return TranscriptText.build(self.segments)

    def to_dict(self, with_words: bool = True) -> dict[str, Any]:
        return {
            "language": self.language,
            "duration": round(self.duration, 3),
            "segments": [s.to_dict(with_words) for s in self.segments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            segments=tuple(
                Segment(
                    s["start"], s["end"], s["text"], tuple(Word(**w) for w in s.get("words", ()))
                )
                for s in data["segments"]
            ),
            language=data.get("language", "zh"),
            duration=float(data.get("duration", 0.0)),
        )


@dataclass(frozen=True)
class TranscriptText:
    """The whole transcript as one string, with each character's word and segment."""

    text: str
    words: tuple[Word, ...]
    char_word: tuple[int, ...]  # index into `words`, or -1 for a joiner between segments
    char_segment: tuple[int, ...]
    segments: tuple[Segment, ...] = field(repr=False)

    @classmethod
    def build(cls, segments: tuple[Segment, ...]) -> TranscriptText:
        parts: list[str] = []
        words: list[Word] = []
        char_word: list[int] = []
        char_segment: list[int] = []
        for s_index, segment in enumerate(segments):
            if parts and parts[-1] and parts[-1][-1] not in _SENTENCE_END:
                parts.append(SEGMENT_JOINER)
                char_word.append(-1)
                char_segment.append(s_index - 1)
            seg_words = segment.words or (Word(segment.start, segment.end, segment.text),)
            for word in seg_words:
                parts.append(word.text)
                words.append(word)
                char_word.extend([len(words) - 1] * len(word.text))
                char_segment.extend([s_index] * len(word.text))
        return cls("".join(parts), tuple(words), tuple(char_word), tuple(char_segment), segments)

    def word_indices(self, start: int, end: int) -> list[int]:
        """Indices of the words that characters [start, end) came from, in order, no repeats."""
        seen: list[int] = []
        for index in self.char_word[start:end]:
            if index >= 0 and (not seen or seen[-1] != index):
                seen.append(index)
        return seen

    def span_times(self, start: int, end: int) -> tuple[float, float]:
        indices = self.word_indices(start, end)
        if not indices:
            raise ValueError(f"characters {start}:{end} hold no word")
        return self.words[indices[0]].start, self.words[indices[-1]].end

    def char_probabilities(self) -> list[float]:
        """How sure the recogniser was of the word holding each character (1.0 for joiners)."""
        return [self.words[i].probability if i >= 0 else 1.0 for i in self.char_word]

    def span_probability(self, start: int, end: int) -> float:
        indices = self.word_indices(start, end)
        return min((self.words[i].probability for i in indices), default=1.0)

    def context(self, start: int, end: int) -> str:
        """The clause around characters [start, end), widened by whole clauses while it stays
        within about CONTEXT_CHARS characters, inside the segment(s) the span lies in; always
        holding the span. Clauses end at punctuation, at pauses between words and before the
        words that begin one (然后, 家人们 ...)."""
        if not self.text:
            return ""
        start = min(max(0, start), len(self.text) - 1)
        end = max(start + 1, min(end, len(self.text)))
        first, last = self.char_segment[start], self.char_segment[end - 1]
        lo = start
        while lo > 0 and self.char_segment[lo - 1] >= first:
            lo -= 1
        hi = end
        while hi < len(self.text) and self.char_segment[hi] <= last:
            hi += 1
        cuts = self._clause_cuts(lo, hi)
        a = max(c for c in cuts if c <= start)
        b = min(c for c in cuts if c >= end)
        while True:  # widen by the shorter neighbouring clause while the context stays short
            wider = []
            left = max((c for c in cuts if c < a), default=None)
            if left is not None and b - left <= CONTEXT_CHARS:
                wider.append((a - left, left, b))
            right = min((c for c in cuts if c > b), default=None)
            if right is not None and right - a <= CONTEXT_CHARS:
                wider.append((right - b, a, right))
            if not wider:
                break
            _, a, b = min(wider)
        if b - a > CONTEXT_CHARS:  # one long clause: the words around the span
            room = max(0, CONTEXT_CHARS - (end - start)) // 2
            a, b = self._word_edge(max(a, start - room), a), self._word_edge(min(b, end + room), b)
            a, b = min(a, start), max(b, end)
        return self.text[a:b].strip("".join(_CLAUSE_MARKS))

    def _clause_cuts(self, lo: int, hi: int) -> list[int]:
        """Offsets in [lo, hi] where a clause may begin, lo and hi included."""
        cuts = {lo, hi}
        previous: Word | None = None
        for at in range(lo, hi):
            ch = self.text[at]
            if ch in _CLAUSE_MARKS:
                cuts.add(at + 1)
                continue
            index = self.char_word[at]
            if index < 0 or (at > lo and self.char_word[at - 1] == index):
                continue  # not the first character of a word
            word = self.words[index]
            if previous is not None and (
                word.start - previous.end >= CLAUSE_PAUSE or word.text in CLAUSE_WORDS
            ):
                cuts.add(at)
            previous = word
        return sorted(cuts)

    def _word_edge(self, at: int, limit: int) -> int:
        """`at` moved to the start of the word it falls in (never past `limit`)."""
        index = self.char_word[at] if at < len(self.char_word) else -1
        while at > limit and index >= 0 and self.char_word[at - 1] == index:
            at -= 1
        return at
