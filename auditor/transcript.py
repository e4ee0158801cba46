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
        """The segment(s) the span lies in: the sentence a reviewer needs to judge it."""
        first = self.char_segment[start] if start < len(self.char_segment) else 0
        last = self.char_segment[max(start, end - 1)] if end - 1 < len(self.char_segment) else first
        return SEGMENT_JOINER.join(s.text for s in self.segments[first : last + 1])
