"""Speech for the recogniser: voice activity in each window, packed into chunks of up to 30 s.

Whisper hears 30 s at a time, padded with silence when there is less. faster-whisper's batched
pipeline finds the speech (Silero VAD), lays it end to end and cuts it into 30 s chunks; run per
window, every window would end with a part-filled chunk that costs a whole one, and would decode
only that window's few chunks together. Here the speech found in each window is carried over:
chunks go to the recogniser in full batches, and only the last one of the recording is
part-filled. Each chunk knows where its pieces lie in the recording, so every time the recogniser
reports maps back.

The voice activity is computed with each window (in the decoding thread, see `auditor.windows`),
so it overlaps the transcription of the window before.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from auditor.media import SAMPLE_RATE

CHUNK_SECONDS = 30.0  # what Whisper hears at once
# Silence kept before and after each stretch of speech (a shorter pause is kept whole).
# faster-whisper's batched pipeline keeps 400 ms on both sides. Less before the speech leaves
# more room for speech in each chunk when the speaker pauses; after it, the fading end of the
# last word needs the full 400 ms (scripts/bench_padding.py, scripts/bench.py --only quality).
SPEECH_PAD_MS = 200  # before
SPEECH_TAIL_MS = 400  # after
MIN_SILENCE_MS = 160  # a pause this long separates two stretches of speech (as faster-whisper)


def vad_options() -> Any:
    from faster_whisper.vad import VadOptions

    padding = (SPEECH_PAD_MS + SPEECH_TAIL_MS) / 1000
    return VadOptions(
        min_silence_duration_ms=MIN_SILENCE_MS,
        speech_pad_ms=0,  # padded here, unevenly
        max_speech_duration_s=CHUNK_SECONDS - padding,
    )


@dataclass(frozen=True)
class Piece:
    """A stretch of speech: where it starts in the recording, and its samples."""

    start: float
    samples: npt.NDArray[np.float32]

    @property
    def duration(self) -> float:
        return float(self.samples.shape[0]) / SAMPLE_RATE


def find_speech(samples: npt.NDArray[np.float32], offset: float) -> list[Piece]:
    """The stretches of speech in `samples`, which start `offset` seconds into the recording."""
    from faster_whisper.vad import get_speech_timestamps

    if samples.shape[0] == 0:
        return []
    stamps = get_speech_timestamps(samples, vad_options(), sampling_rate=SAMPLE_RATE)
    before = SPEECH_PAD_MS * SAMPLE_RATE // 1000
    after = SPEECH_TAIL_MS * SAMPLE_RATE // 1000
    pieces = []
    done = 0  # samples already in a piece: padding never takes audio twice
    for index, stamp in enumerate(stamps):
        start = max(done, stamp["start"] - before)
        following = stamps[index + 1]["start"] if index + 1 < len(stamps) else samples.shape[0]
        # A pause shorter than both paddings is kept whole: the two pieces then join up.
        end = min(stamp["end"] + after, samples.shape[0])
        if following - stamp["end"] < before + after:
            end = min(max(end, following), samples.shape[0])
        if end > start:
            pieces.append(Piece(offset + start / SAMPLE_RATE, samples[start:end].copy()))
            done = end
    return pieces


@dataclass
class Chunk:
    """Pieces of speech laid end to end: what the recogniser hears at once."""

    pieces: list[Piece] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.pieces)


def pack(
    windows: Iterable[list[Piece]], group: int = 8, chunk_seconds: float = CHUNK_SECONDS
) -> Iterator[list[Chunk]]:
    """Chunks in groups of `group` (decoded together: beam search costs about the same for one
    chunk as for eight), each group yielded once full; at the end, what is left, the part-filled
    chunk included. After each window an empty list, so that progress can be reported.

    Pieces keep their order; a piece never spans two chunks (VAD caps them at `chunk_seconds`).
    """
    limit = round(chunk_seconds * SAMPLE_RATE)
    ready: list[Chunk] = []
    open_chunk = Chunk()
    filled = 0
    for pieces in windows:
        for piece in pieces:
            size = piece.samples.shape[0]
            if open_chunk.pieces and filled + size > limit:
                ready.append(open_chunk)
                open_chunk, filled = Chunk(), 0
                if len(ready) >= group:
                    yield ready
                    ready = []
            open_chunk.pieces.append(piece)
            filled += size
        yield []
    if open_chunk.pieces:
        ready.append(open_chunk)
    if ready:
        yield ready


class TimeMap:
    """Times in chunks laid end to end (what the recogniser reports) -> times in the recording."""

    def __init__(self, chunks: Iterable[Chunk], starts: Iterable[float] | None = None) -> None:
        """`starts`: where each chunk begins in the laid-out audio (seconds), when there is
        silence between them; else each follows the one before."""
        self._at: list[float] = []  # where each piece starts in the laid-out audio
        self._start: list[float] = []  # ... and in the recording
        self._length: list[float] = []
        at = 0.0
        chunk_starts = iter(starts) if starts is not None else None
        for chunk in chunks:
            if chunk_starts is not None:
                at = next(chunk_starts)
            for piece in chunk.pieces:
                self._at.append(at)
                self._start.append(piece.start)
                self._length.append(piece.duration)
                at += piece.duration
        self.duration = sum(self._length)  # seconds of speech

    def pieces(self, audio: npt.NDArray[np.float32], a: float, b: float) -> list[Piece]:
        """The laid-out audio between times a and b, as pieces of the recording: cut at the
        seams between the pieces it was laid out from."""
        out: list[Piece] = []
        for at, start, length in zip(self._at, self._start, self._length, strict=True):
            lo, hi = max(a, at), min(b, at + length)
            if hi > lo:
                samples = audio[round(lo * SAMPLE_RATE) : round(hi * SAMPLE_RATE)]
                out.append(Piece(start + lo - at, samples))
        return out

    def __call__(self, t: float, is_end: bool = False) -> float:
        """The recording's time of `t`. An end that falls on the seam of two pieces belongs to
        the earlier one (the word ended before the cut-out pause)."""
        if not self._at:
            return t
        index = (bisect.bisect_left if is_end else bisect.bisect_right)(self._at, t) - 1
        index = max(0, min(index, len(self._at) - 1))
        inside = min(max(t - self._at[index], 0.0), self._length[index])
        return self._start[index] + inside
