"""The screen pass: text burned into the video, read once per appearance, as spans of time.

Frames are sampled every `interval` seconds (`auditor.frames`) and compared, as small grey
images in cells of 8x8 pixels, with what was last read there. Reading (detection and
recognition, `auditor.ocr`) runs only where:

- something changed since it was last read AND looks the same as in the previous sample: new
  content that stays put, as an overlay does. A host moving in front of the camera keeps
  changing and is read only when it pauses; a logo or a fixed caption is read once.
- a line already read looks different: that line alone is recognised again (no detection); if
  its text is still the same (or nearly: OCR may read a character differently), its span goes on,
  otherwise it ends and its place is read afresh.

So a banner shown for 15 s is one span, read once or twice, and a static frame costs one
comparison of two 320-pixel-wide grey images. Text must stay on screen for two samples (4 s at
the default interval) to be read for sure; a line is dated from the first sample that showed it,
so it is found at most one interval after it appeared.
"""

from __future__ import annotations

import difflib
import logging
import threading
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from auditor.findings import Box
from auditor.frames import Frame, FrameSampler
from auditor.ocr import TextLine, TextReader
from auditor.options import DEFAULT_SCREEN_INTERVAL
from auditor.screentext import ScreenSpan, ScreenText

log = logging.getLogger("auditor")

THUMB_WIDTH = 320  # pixels across of the grey image frames are compared at
CELL = 8  # pixels of that image per side of a cell
CHANGE = 8.0  # mean grey difference (0-255) of a cell that counts as changed
MARGIN = 2  # cells added around a changed area before it is read (text must not be cut)
SIMILAR = 0.75  # two readings of a line are the same text (difflib ratio)
SAME_PLACE = 0.5  # two boxes are the same place (intersection over union)
MIN_CHARACTERS = 2  # letters or digits a line needs to be kept

Grey = npt.NDArray[np.float32]


def similar_text(a: str, b: str) -> bool:
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= SIMILAR


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


@dataclass
class _Track:
    """A line being shown: its best reading so far, and how its place looked when read."""

    text: str
    box: Box
    confidence: float
    start: float
    last: float  # the latest sample that showed it
    snapshot: Grey  # its place in the grey image when last confirmed
    frames: int = 1

    def reading(self, line: TextLine) -> None:
        if line.confidence > self.confidence:
            self.text, self.confidence, self.box = line.text, line.confidence, line.box

    def span(self, end: float) -> ScreenSpan:
        return ScreenSpan(
            self.start, max(end, self.start), self.text, self.box, self.confidence, self.frames
        )


@dataclass
class _Grid:
    """Maps between frame pixels, grey-image pixels and cells."""

    scale: float  # frame pixels per grey-image pixel
    rows: int
    cols: int

    def cells_of(self, box: Box) -> tuple[int, int, int, int]:
        """Rows and columns of cells a box covers: r0, r1, c0, c1 (ends excluded)."""
        x0, y0 = box[0] / self.scale, box[1] / self.scale
        x1, y1 = (box[0] + box[2]) / self.scale, (box[1] + box[3]) / self.scale
        r0, c0 = int(y0 // CELL), int(x0 // CELL)
        r1, c1 = int(np.ceil(y1 / CELL)), int(np.ceil(x1 / CELL))
        return (
            max(0, r0),
            min(self.rows, max(r1, r0 + 1)),
            max(0, c0),
            min(self.cols, max(c1, c0 + 1)),
        )

    def region(self, r0: int, r1: int, c0: int, c1: int, width: int, height: int) -> Box:
        """The frame pixels of a block of cells."""
        left = int(c0 * CELL * self.scale)
        top = int(r0 * CELL * self.scale)
        right = min(width, int(np.ceil(c1 * CELL * self.scale)))
        bottom = min(height, int(np.ceil(r1 * CELL * self.scale)))
        return (left, top, max(1, right - left), max(1, bottom - top))


def _cell_means(diff: Grey, rows: int, cols: int) -> Grey:
    means: Grey = diff.reshape(rows, CELL, cols, CELL).mean(axis=(1, 3))
    return means


def _padded(grey: npt.NDArray[np.uint8]) -> Grey:
    """The grey image as float, padded to whole cells."""
    h, w = grey.shape
    rows, cols = -(-h // CELL), -(-w // CELL)
    out: Grey = np.pad(
        grey.astype(np.float32), ((0, rows * CELL - h), (0, cols * CELL - w)), "edge"
    )
    return out


def _components(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int, int, int]]:
    """Bounding blocks (r0, r1, c0, c1) of the connected areas of a cell mask."""
    rows, cols = mask.shape
    seen = np.zeros_like(mask)
    blocks = []
    for r, c in zip(*np.nonzero(mask), strict=True):
        if seen[r, c]:
            continue
        stack = [(int(r), int(c))]
        seen[r, c] = True
        r0, r1, c0, c1 = int(r), int(r) + 1, int(c), int(c) + 1
        while stack:
            y, x = stack.pop()
            r0, r1, c0, c1 = min(r0, y), max(r1, y + 1), min(c0, x), max(c1, x + 1)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < rows and 0 <= nx < cols and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        blocks.append((r0, r1, c0, c1))
    return _merged(blocks)


def _merged(blocks: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Blocks grown by MARGIN cells, overlapping ones joined (a line must not be cut in two)."""
    grown = [(r0 - MARGIN, r1 + MARGIN, c0 - MARGIN, c1 + MARGIN) for r0, r1, c0, c1 in blocks]
    changed = True
    while changed:
        changed = False
        out: list[tuple[int, int, int, int]] = []
        for block in grown:
            for i, other in enumerate(out):
                if (
                    block[0] < other[1]
                    and other[0] < block[1]
                    and block[2] < other[3]
                    and other[2] < block[3]
                ):
                    out[i] = (
                        min(block[0], other[0]),
                        max(block[1], other[1]),
                        min(block[2], other[2]),
                        max(block[3], other[3]),
                    )
                    changed = True
                    break
            else:
                out.append(block)
        grown = out
    return grown


def _cut(box: Box, region: Box, width: int, height: int, slack: int = 3) -> set[str]:
    """The edges of the region, not edges of the frame, that the box reaches."""
    left, top, w, h = region
    sides = {
        "left": left > 0 and box[0] <= left + slack,
        "top": top > 0 and box[1] <= top + slack,
        "right": left + w < width and box[0] + box[2] >= left + w - slack,
        "bottom": top + h < height and box[1] + box[3] >= top + h - slack,
    }
    return {side for side, reached in sides.items() if reached}


def _kept(line: TextLine) -> bool:
    return sum(ch.isalnum() for ch in line.text) >= MIN_CHARACTERS


@dataclass
class _Pass:
    reader: TextReader
    interval: float
    grid: _Grid | None = None
    reference: Grey | None = None  # how each cell looked when it was last read
    previous: Grey | None = None  # the previous sample
    previous_time: float = 0.0
    tracks: list[_Track] = field(default_factory=list)
    ended: list[tuple[_Track, float]] = field(default_factory=list)  # lately, with when
    closed: list[tuple[_Track, float]] = field(default_factory=list)  # for good
    read_frames: int = 0
    width: int = 0
    height: int = 0

    def grey_cut(self, grey: Grey, box: Box) -> Grey:
        assert self.grid is not None
        r0, r1, c0, c1 = self.grid.cells_of(box)
        out: Grey = grey[r0 * CELL : r1 * CELL, c0 * CELL : c1 * CELL].copy()
        return out

    def step(self, frame: Frame) -> None:
        grey = _padded(frame.gray(min(THUMB_WIDTH, frame.width)))
        if self.grid is None or (frame.width, frame.height) != (self.width, self.height):
            self._start(frame, grey)
            return
        assert self.reference is not None and self.previous is not None
        rows, cols = self.grid.rows, self.grid.cols
        changed = _cell_means(np.abs(grey - self.reference), rows, cols) > CHANGE
        stable = _cell_means(np.abs(grey - self.previous), rows, cols) <= CHANGE
        image: npt.NDArray[np.uint8] | None = None
        covered = np.zeros((rows, cols), dtype=bool)
        freed = np.zeros((rows, cols), dtype=bool)
        still: list[_Track] = []
        for track in self.tracks:
            r0, r1, c0, c1 = self.grid.cells_of(track.box)
            place = grey[r0 * CELL : r1 * CELL, c0 * CELL : c1 * CELL]
            if (
                place.shape == track.snapshot.shape
                and float(np.abs(place - track.snapshot).mean()) <= CHANGE
            ):
                track.last, track.frames = frame.time, track.frames + 1
                covered[r0:r1, c0:c1] = True
                still.append(track)
                continue
            if image is None:
                image = frame.bgr()
            text, confidence = self.reader.recognise(image, track.box)
            if confidence and similar_text(text, track.text):
                track.reading(TextLine(text, track.box, confidence))
                track.last, track.frames = frame.time, track.frames + 1
                track.snapshot = place.copy()
                covered[r0:r1, c0:c1] = True
                self.reference[r0 * CELL : r1 * CELL, c0 * CELL : c1 * CELL] = place
                still.append(track)
            else:
                self.ended.append((track, frame.time))
                freed[r0:r1, c0:c1] = True
        self.tracks = still
        new = (changed & stable & ~covered) | freed
        if new.any():
            if image is None:
                image = frame.bgr()
            self.read_frames += 1
            for block in _components(new):
                lines, (r0, r1, c0, c1) = self._read(image, block)
                for line in lines:
                    # Shown since the previous sample when its place looked the same then.
                    lr0, lr1, lc0, lc1 = self.grid.cells_of(line.box)
                    since = stable[lr0:lr1, lc0:lc1].mean() >= 0.8
                    self._found(line, grey, self.previous_time if since else frame.time, frame.time)
                self.reference[r0 * CELL : r1 * CELL, c0 * CELL : c1 * CELL] = grey[
                    r0 * CELL : r1 * CELL, c0 * CELL : c1 * CELL
                ]
        recent: list[tuple[_Track, float]] = []
        for track, end in self.ended:  # a line may come back after a flicker, not much later
            (recent if frame.time - end <= self.interval * 1.5 else self.closed).append(
                (track, end)
            )
        self.ended = recent
        self.previous, self.previous_time = grey, frame.time

    def _read(
        self, image: npt.NDArray[np.uint8], block: tuple[int, int, int, int]
    ) -> tuple[list[TextLine], tuple[int, int, int, int]]:
        """The lines in a block of cells, and the block read. A line that runs into the block's
        edge (inside the frame) may be cut: the block is grown along the line, to the edge of the
        frame on a side where the line was cut (a line is horizontal), and read again."""
        assert self.grid is not None
        rows, cols = self.grid.rows, self.grid.cols
        r0, r1, c0, c1 = (
            max(0, block[0]),
            min(rows, block[1]),
            max(0, block[2]),
            min(cols, block[3]),
        )
        for attempt in range(3):
            region = self.grid.region(r0, r1, c0, c1, self.width, self.height)
            lines = self.reader.read(image, region)
            cut = [(line, _cut(line.box, region, self.width, self.height)) for line in lines]
            cut = [(line, sides) for line, sides in cut if sides]
            if not cut or attempt == 2:
                return lines, (r0, r1, c0, c1)
            for line, sides in cut:
                lr0, lr1, _, _ = self.grid.cells_of(line.box)
                tall = lr1 - lr0 + MARGIN
                c0 = 0 if "left" in sides else c0
                c1 = cols if "right" in sides else c1
                r0 = max(0, min(r0, lr0 - (tall if "top" in sides else MARGIN)))
                r1 = min(rows, max(r1, lr1 + (tall if "bottom" in sides else MARGIN)))
        return lines, (r0, r1, c0, c1)

    def _start(self, frame: Frame, grey: Grey) -> None:
        """The first frame (or the first at a new size): read all of it."""
        self.width, self.height = frame.width, frame.height
        rows, cols = grey.shape[0] // CELL, grey.shape[1] // CELL
        self.grid = _Grid(frame.width / min(THUMB_WIDTH, frame.width), rows, cols)
        for track in self.tracks:
            self.ended.append((track, frame.time))
        self.tracks = []
        self.read_frames += 1
        for line in self.reader.read(frame.bgr()):
            self._found(line, grey, frame.time, frame.time)
        self.reference, self.previous, self.previous_time = grey.copy(), grey, frame.time

    def _found(self, line: TextLine, grey: Grey, since: float, now: float) -> None:
        """A line read in a changed place: the same line again, one back after a flicker, or new
        (shown since the previous sample, which looked the same there)."""
        if not _kept(line):
            return
        for track in self.tracks:
            if overlap(track.box, line.box) >= SAME_PLACE and similar_text(track.text, line.text):
                track.reading(line)
                track.snapshot = self.grey_cut(grey, track.box)
                return
        for index, (track, _) in enumerate(self.ended):
            if overlap(track.box, line.box) >= SAME_PLACE and similar_text(track.text, line.text):
                del self.ended[index]
                track.reading(line)
                track.last, track.frames = now, track.frames + 1
                track.snapshot = self.grey_cut(grey, track.box)
                self.tracks.append(track)
                return
        self.tracks.append(
            _Track(line.text, line.box, line.confidence, since, now, self.grey_cut(grey, line.box))
        )

    def spans(self, duration: float) -> list[ScreenSpan]:
        """Every line read, in order of time; one still shown at the end lasts to the end of
        the video (or one interval past the last sample, when the length is unknown)."""
        out = [track.span(end) for track, end in self.closed + self.ended]
        last = max(duration, self.previous_time) if duration else self.previous_time + self.interval
        out += [track.span(last) for track in self.tracks]
        return sorted(out, key=lambda s: (s.start, s.box[1], s.box[0], s.text))


def read_screen(
    path: str,
    interval: float = DEFAULT_SCREEN_INTERVAL,
    reader: TextReader | None = None,
    duration: float = 0.0,
    audio_stream: int = 0,
    threads: int = 1,
    stop: threading.Event | None = None,
) -> ScreenText:
    """The text a recording's video showed, as spans (see the module's docstring). `stop`, when
    set, ends the pass at the next frame (the audit it belongs to has failed)."""
    sampler = FrameSampler(path, interval, audio_stream, threads)
    state = _Pass(reader or TextReader(threads), interval)
    for frame in sampler:
        if stop is not None and stop.is_set():
            break
        state.step(frame)
    spans = state.spans(duration)
    log.info(
        "%s: screen text: %d frame(s) sampled (%s), %d read, %d undecodable, %d line(s)",
        path,
        sampler.sampled,
        sampler.mode,
        state.read_frames,
        sampler.corrupt,
        len(spans),
    )
    return ScreenText(
        spans=tuple(spans),
        interval=interval,
        width=state.width,
        height=state.height,
        mode=sampler.mode,
        sampled=sampler.sampled,
        read=state.read_frames,
        corrupt=sampler.corrupt,
    )
