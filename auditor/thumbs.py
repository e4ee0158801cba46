"""Evidence pictures: the part of a frame that showed a screen finding, as a small JPEG data: URI
for the HTML report (which loads nothing from anywhere, so the picture is inside the page).

Frames are decoded with PyAV from the recording itself, at the finding's time; one that cannot be
read (the file moved, the frame is damaged) gives no picture, never an error.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from auditor.findings import Box, Finding

log = logging.getLogger("auditor")

SHOT_WIDTH = 240  # pixels across, at most
_MARGIN = 0.35  # of the text's height, kept around it


def _crop(box: Box, width: int, height: int) -> Box:
    left, top, w, h = box
    pad = int(h * _MARGIN)
    x0, y0 = max(0, left - pad), max(0, top - pad)
    x1, y1 = min(width, left + w + pad), min(height, top + h + pad)
    # yuv420p wants even sizes and offsets
    x0, y0 = x0 - x0 % 2, y0 - y0 % 2
    return (x0, y0, max(2, (x1 - x0) // 2 * 2), max(2, (y1 - y0) // 2 * 2))


def _jpeg(frame: Any, box: Box) -> bytes:
    import av

    image = frame.to_ndarray(format="rgb24")
    x, y, w, h = _crop(box, frame.width, frame.height)
    part = image[y : y + h, x : x + w]
    out_w = min(SHOT_WIDTH, w) // 2 * 2 or 2
    out_h = max(2, round(h * out_w / w) // 2 * 2)
    picture = av.VideoFrame.from_ndarray(part.copy(), format="rgb24").reformat(
        width=out_w, height=out_h, format="yuvj420p"
    )
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = out_w, out_h
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    data = b"".join(bytes(p) for p in encoder.encode(picture))
    data += b"".join(bytes(p) for p in encoder.encode(None))
    return data


def screen_shots(path: str, findings: Sequence[Finding]) -> dict[int, str]:
    """A data: URI per screen finding (by its index in `findings`) that has a box."""
    import av

    wanted = [(i, f) for i, f in enumerate(findings) if f.channel == "screen" and f.box]
    if not wanted:
        return {}
    out: dict[int, str] = {}
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        log.debug("%s: no screen shots: %s", path, exc)
        return {}
    with container:
        if not container.streams.video:
            return {}
        stream = container.streams.video[0]
        base = stream.time_base
        if base is None:
            return {}
        zero = float(container.start_time or 0) / 1_000_000
        for index, finding in sorted(wanted, key=lambda item: item[1].start):
            at = finding.start + min(0.5, max(0.0, finding.end - finding.start) / 2)
            assert finding.box is not None
            try:
                container.seek(int((at + zero) / base), stream=stream, backward=True)
                for frame in container.decode(stream):
                    if frame.pts is not None and float(frame.pts * base) - zero >= at - 0.02:
                        data = _jpeg(frame, finding.box)
                        out[index] = "data:image/jpeg;base64," + base64.b64encode(data).decode()
                        break
            except (av.error.FFmpegError, ValueError) as exc:
                log.debug("%s: no screen shot at %.2f s: %s", path, at, exc)
    return out
