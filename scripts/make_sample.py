"""Build sample_media/demo.mp4 from the shared Mandarin speech clips, and its answer key.

The demo is a short "broadcast": clean talk, traps that must not be flagged, and claims of several
categories, each clip separated by a pause, over a small synthetic live room (scripts/screen_media)
that shows one clean overlay and one that carries a claim, drawn with ffmpeg's drawtext in
WenQuanYi Micro Hei (apt-get install fonts-wqy-microhei). The answer key (demo.expected.json)
records where each clip and overlay lies and which categories it should produce, so tests can
check that findings come at the right second.

    python scripts/make_sample.py [--clips ../shared/media/zh_tts] [--out sample_media]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.screen_media import Overlay, make_video

# Clean talk and traps mixed with claims the default model hears well enough to match.
DEMO_CLIPS = ("d01", "d02", "d03", "d04", "d07", "d11", "d14", "d13", "d18", "d17", "d23")
GAP_SECONDS = 0.8
RATE = 16_000
OVERLAYS = (
    Overlay("小美精华液 30ml 每单限购3件", 4.0, 14.0, 0.04, 0.06, 0.06, box="black@0.55"),
    Overlay(
        "吊牌价1299 到手价199",
        27.0,
        35.0,
        0.05,
        0.80,
        0.08,
        box="0xb3261e@0.85",
        expect="price.fake_reference",
    ),
)


def clip_duration(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def build(clips_dir: Path, out_dir: Path) -> Path:
    table = {
        row["id"]: row
        for row in csv.DictReader(
            (clips_dir / "sentences.tsv").open(encoding="utf-8"), delimiter="\t"
        )
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    gap = b"\x00\x00" * int(GAP_SECONDS * RATE)
    key: list[dict[str, object]] = []
    cursor = GAP_SECONDS
    with tempfile.TemporaryDirectory() as tmp:
        joined = Path(tmp) / "speech.wav"
        with wave.open(str(joined), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(gap)
            for clip_id in DEMO_CLIPS:
                path = clips_dir / f"{clip_id}.wav"
                with wave.open(str(path)) as w:
                    if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
                        raise SystemExit(f"{path}: expected 16 kHz mono 16-bit")
                    out.writeframes(w.readframes(w.getnframes()))
                duration = clip_duration(path)
                row = table[clip_id]
                expect = [] if row["expect"] == "-" else row["expect"].split(",")
                key.append(
                    {
                        "id": clip_id,
                        "start": round(cursor, 3),
                        "end": round(cursor + duration, 3),
                        "text": row["text"],
                        "expect": expect,
                    }
                )
                cursor += duration + GAP_SECONDS
                out.writeframes(gap)
        target = make_video(
            out_dir / "demo.mp4", cursor, OVERLAYS, joined, size=(640, 360), fps=10, crf=34
        )
    (out_dir / "demo.expected.json").write_text(
        json.dumps(
            {"source": "demo.mp4", "clips": key, "overlays": [o.to_dict() for o in OVERLAYS]},
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return target


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=root.parent / "shared/media/zh_tts")
    parser.add_argument("--out", type=Path, default=root / "sample_media")
    args = parser.parse_args()
    target = build(args.clips, args.out)
    print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
