"""Videos with text burned in at known times, for the screen channel's tests, demo and benchmark.

A calm "live room" (a backdrop, a shelf, a host who moves all the time, sensor noise) under
overlays drawn with ffmpeg's drawtext in Debian's WenQuanYi Micro Hei (fonts-wqy-microhei), over
speech given as a WAV file. Each overlay says whether it carries a claim (its expected category)
or is clean, so the key written beside a video is the answer a test checks against.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auditor.media import find_ffmpeg

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
RATE = 16_000


@dataclass(frozen=True)
class Overlay:
    text: str
    start: float  # seconds: drawn from here
    end: float  # ... to here
    x: float  # left edge, as a share of the width
    y: float  # top edge, as a share of the height
    size: float = 0.06  # font size, as a share of the height
    colour: str = "white"
    box: str = "0xb3261e@0.85"  # the box behind the text (drawtext boxcolor)
    expect: str | None = None  # the category it must be found under; None: clean

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def font() -> Path:
    if not FONT.is_file():
        raise SystemExit(f"{FONT} is missing: apt-get install fonts-wqy-microhei")
    return FONT


def _escape(path: Path) -> str:
    # A path inside a filter graph: ':' and '\\' and quotes would end the option.
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def filter_graph(
    size: tuple[int, int], fps: int, seconds: float, overlays: Sequence[Overlay], folder: Path
) -> str:
    """The lavfi graph of the room and its overlays (each overlay's text in a file of its own)."""
    w, h = size
    host_w, host_h = int(w * 0.22), int(h * 0.55)
    parts = [
        f"color=c=0x3d4b5c:size={w}x{h}:rate={fps}:duration={seconds}",
        # a shelf with three products: still, and without text
        f"drawbox=x={int(w * 0.05)}:y={int(h * 0.30)}:w={int(w * 0.9)}:h={int(h * 0.04)}"
        ":color=0x8a6d4b:t=fill",
        *(
            f"drawbox=x={int(w * px)}:y={int(h * 0.18)}:w={int(w * 0.06)}:h={int(h * 0.12)}"
            f":color={c}:t=fill"
            for px, c in ((0.10, "0xe0c090"), (0.80, "0x90c0e0"), (0.88, "0xc090e0"))
        ),
        # the host: always moving, pausing now and then
        f"drawbox=x='{w // 2 - host_w // 2}+{int(w * 0.18)}*sin(t*0.9)*gt(mod(t\\,9)\\,2)'"
        f":y='{int(h * 0.35)}+{int(h * 0.04)}*sin(t*2.3)':w={host_w}:h={host_h}"
        ":color=0xd9a066:t=fill",
        f"drawbox=x='{w // 2 - host_w // 4}+{int(w * 0.18)}*sin(t*0.9)*gt(mod(t\\,9)\\,2)'"
        f":y='{int(h * 0.22)}+{int(h * 0.04)}*sin(t*2.3)':w={host_w // 2}:h={int(h * 0.14)}"
        ":color=0xf0c8a0:t=fill",
        "noise=alls=5:allf=t",
    ]
    for index, overlay in enumerate(overlays):
        text_file = folder / f"overlay-{index}.txt"
        text_file.write_text(overlay.text, encoding="utf-8")
        parts.append(
            f"drawtext=fontfile='{_escape(font())}':textfile='{_escape(text_file)}'"
            f":fontsize={int(h * overlay.size)}:fontcolor={overlay.colour}"
            f":box=1:boxcolor={overlay.box}:boxborderw={max(4, int(h * 0.012))}"
            f":x={int(w * overlay.x)}:y={int(h * overlay.y)}"
            f":enable='between(t\\,{overlay.start}\\,{overlay.end})'"
        )
    return ",".join(parts)


def speech_track(clips: Sequence[Path], gap: float, seconds: float, target: Path) -> Path:
    """The clips one after another, each followed by `gap` seconds of silence, repeated to
    `seconds`, as a 16 kHz mono WAV."""
    samples = []
    for path in clips:
        with wave.open(str(path)) as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
                raise SystemExit(f"{path}: expected 16 kHz mono 16-bit")
            samples.append(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16))
    pause = np.zeros(int(gap * RATE), dtype=np.int16)
    total = int(seconds * RATE)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        written = index = 0
        while samples and written < total:
            chunk = np.concatenate([samples[index % len(samples)], pause])[: total - written]
            out.writeframes(chunk.tobytes())
            written += chunk.shape[0]
            index += 1
        out.writeframes(np.zeros(max(0, total - written), dtype=np.int16).tobytes())
    return target


def make_video(
    target: Path,
    seconds: float,
    overlays: Sequence[Overlay],
    speech: Path,
    size: tuple[int, int] = (640, 360),
    fps: int = 25,
    gop_seconds: float = 2.0,
    crf: int = 32,
) -> Path:
    """An H.264 + AAC MP4 of the room with its overlays and the speech in `speech` (a WAV)."""
    with tempfile.TemporaryDirectory() as tmp:
        graph = filter_graph(size, fps, seconds, overlays, Path(tmp))
        args = [
            find_ffmpeg(),
            "-nostdin",
            "-y",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            graph,
            "-i",
            str(speech),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            str(crf),
            "-g",
            str(max(1, round(gop_seconds * fps))),
            "-keyint_min",
            str(max(1, round(gop_seconds * fps))),
            "-sc_threshold",
            "0",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "48k",
            "-ac",
            "1",
            "-t",
            str(seconds),
            "-movflags",
            "+faststart",
            str(target),
        ]
        subprocess.run(args, check=True)
    return target
