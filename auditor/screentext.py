"""Screen text: what a recording showed in its frames, as spans of time. Data only.

A span is one line of text read in the same place over consecutive sampled frames: a banner
shown for 15 s is one span, whatever the sampling interval. `auditor.screen` makes them from the
video; `auditor.detect` scans them with the same scanner as the speech; the store keeps them in
`audits.screen`, so `rescan` scans them again without reading the frames again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.findings import Box


@dataclass(frozen=True)
class ScreenSpan:
    start: float  # seconds: the first sampled frame that showed it
    end: float  # seconds: the first sampled frame that no longer did (or the end of the video)
    text: str  # as read
    box: Box  # left, top, width, height in pixels of the frame
    confidence: float  # the OCR's confidence in the text, 0-1
    frames: int = 1  # sampled frames that showed it

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "box": list(self.box),
            "confidence": round(self.confidence, 4),
            "frames": self.frames,
        }

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> ScreenSpan:
        box = row["box"]
        return cls(
            start=float(row["start"]),
            end=float(row["end"]),
            text=str(row["text"]),
            box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])),
            confidence=float(row["confidence"]),
            frames=int(row.get("frames", 1)),
        )


@dataclass(frozen=True)
class ScreenText:
    """The screen pass over one video stream: its spans and what it cost."""

    spans: tuple[ScreenSpan, ...]
    interval: float  # seconds between sampled frames
    width: int  # of the frames, in pixels (boxes are in these)
    height: int
    mode: str  # keyframes | all frames: which frames were decoded
    sampled: int = 0  # frames looked at
    read: int = 0  # of those, frames where some part was read (OCR ran)
    corrupt: int = 0  # packets or frames that could not be decoded (skipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "width": self.width,
            "height": self.height,
            "mode": self.mode,
            "sampled": self.sampled,
            "read": self.read,
            "corrupt": self.corrupt,
            "spans": [s.to_dict() for s in self.spans],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScreenText:
        return cls(
            spans=tuple(ScreenSpan.from_dict(s) for s in data.get("spans", ())),
            interval=float(data.get("interval", 0.0)),
            width=int(data.get("width", 0)),
            height=int(data.get("height", 0)),
            mode=str(data.get("mode", "")),
            sampled=int(data.get("sampled", 0)),
            read=int(data.get("read", 0)),
            corrupt=int(data.get("corrupt", 0)),
        )


# Lines shown together and next to each other are one overlay (a two-line banner): scanned as one
# text, so a claim across the line break is found.
_JOINER = "，"  # punctuation: the normaliser drops it, so a claim may run across it
_BLOCK_END = "\n"  # a hard boundary: no claim spans two overlays


@dataclass(frozen=True)
class ScreenView:
    """All the screen text as one string for the scanner, with each character's span."""

    text: str
    spans: tuple[ScreenSpan, ...]
    char_span: tuple[int, ...]  # index into `spans`, or -1 for a joiner
    char_block: tuple[int, ...]
    blocks: tuple[tuple[int, ...], ...]  # the spans of each overlay, in reading order

    @classmethod
    def build(cls, screen: ScreenText) -> ScreenView:
        spans = screen.spans
        blocks = _blocks(spans, screen.interval)
        parts: list[str] = []
        char_span: list[int] = []
        char_block: list[int] = []
        for b_index, block in enumerate(blocks):
            if b_index:
                parts.append(_BLOCK_END)
                char_span.append(-1)
                char_block.append(b_index - 1)
            for position, s_index in enumerate(block):
                if position:
                    parts.append(_JOINER)
                    char_span.append(-1)
                    char_block.append(b_index)
                text = spans[s_index].text.replace("\n", " ")
                parts.append(text)
                char_span.extend([s_index] * len(text))
                char_block.extend([b_index] * len(text))
        return cls("".join(parts), spans, tuple(char_span), tuple(char_block), tuple(blocks))

    def span_indices(self, start: int, end: int) -> list[int]:
        return sorted({i for i in self.char_span[start:end] if i >= 0})

    def char_probabilities(self) -> list[float]:
        """How sure the OCR was of the line holding each character (1.0 for joiners)."""
        return [self.spans[i].confidence if i >= 0 else 1.0 for i in self.char_span]

    def context(self, start: int) -> str:
        """The whole overlay the match is in, its lines joined by a space."""
        block = self.blocks[self.char_block[start]]
        return " ".join(self.spans[i].text for i in block)


def _blocks(spans: tuple[ScreenSpan, ...], interval: float) -> list[tuple[int, ...]]:
    """Spans grouped into overlays: shown over the same time (to within an interval) and on the
    same or the next line, touching."""
    tolerance = max(interval, 0.5) * 0.6
    groups: list[list[int]] = []
    for index, span in enumerate(spans):
        for group in groups:
            if any(_together(spans[other], span, tolerance) for other in group):
                group.append(index)
                break
        else:
            groups.append([index])
    ordered = [sorted(g, key=lambda i: (spans[i].box[1], spans[i].box[0])) for g in groups]
    return [tuple(g) for g in sorted(ordered, key=lambda g: (spans[g[0]].start, g[0]))]


def _together(a: ScreenSpan, b: ScreenSpan, tolerance: float) -> bool:
    if abs(a.start - b.start) > tolerance or abs(a.end - b.end) > tolerance:
        return False
    (ax, ay, aw, ah), (bx, by, bw, bh) = a.box, b.box
    line = min(ah, bh)
    vertical_gap = max(ay, by) - min(ay + ah, by + bh)
    horizontal_gap = max(ax, bx) - min(ax + aw, bx + bw)
    same_row = abs(ay - by) <= line * 0.5 and horizontal_gap <= line * 1.5
    next_row = 0 <= vertical_gap + line * 0.2 <= line * 1.0 and horizontal_gap < 0
    return same_row or next_row
