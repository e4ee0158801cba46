"""Build the screen channel's test videos in tests/data/screen/, with their answer keys.

    python scripts/make_screen_tests.py

overlays.mp4 (44 s, 640x360, a keyframe every 2 s) shows claim overlays and clean ones
(每单限购3件, 满199减20, a shop name, a product name and size) at known times, over clean speech;
overlays.json says where and when each is drawn and which category a claim must be found under.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.screen_media import Overlay, make_video, speech_track  # noqa: E402

OUT = ROOT / "tests" / "data" / "screen"
CLEAN_SPEECH = ("d01", "d03", "d05", "d07", "d10", "d14")
SECONDS = 44.0
RED = "0xb3261e@0.85"

OVERLAYS = (
    Overlay("小美旗舰店", 0.0, SECONDS, 0.03, 0.04, 0.05, box="black@0.5"),
    Overlay("全网最低价", 3.0, 11.0, 0.05, 0.82, 0.08, box=RED, expect="price.fake_reference"),
    Overlay("每单限购3件", 6.0, 16.0, 0.70, 0.04, 0.05, box="0x2f6db3@0.8"),
    Overlay(
        "吊牌价1299 到手价199", 17.5, 27.5, 0.05, 0.82, 0.07, box=RED, expect="price.fake_reference"
    ),
    Overlay("满199减20", 20.3, 30.3, 0.72, 0.45, 0.06, box="0x2f6db3@0.8"),
    Overlay(
        "行业领先", 24.7, 32.7, 0.40, 0.04, 0.06, box="0xc77700@0.9", expect="absolute.superlative"
    ),
    Overlay(
        "扫码加微信领福利",
        29.1,
        37.1,
        0.30,
        0.55,
        0.06,
        box="black@0.4",
        expect="diversion.offplatform",
    ),
    Overlay("小美精华液 30ml", 31.0, 39.0, 0.03, 0.45, 0.05, box="black@0.6"),
    Overlay("国家级品质", 33.3, 41.3, 0.55, 0.82, 0.07, box=RED, expect="authority.state"),
)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    clips = [ROOT / "tests" / "data" / "zh_tts" / f"{c}.wav" for c in CLEAN_SPEECH]
    with tempfile.TemporaryDirectory() as tmp:
        speech = speech_track(clips, 0.8, SECONDS, Path(tmp) / "speech.wav")
        target = make_video(OUT / "overlays.mp4", SECONDS, OVERLAYS, speech)
    key = {
        "source": target.name,
        "size": [640, 360],
        "speech": list(CLEAN_SPEECH),
        "overlays": [o.to_dict() for o in OVERLAYS],
    }
    (OUT / "overlays.json").write_text(
        json.dumps(key, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
