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
