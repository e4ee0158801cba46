"""Benchmark: what the screen pass costs an audit, and its peak memory.

    .venv/bin/python scripts/bench_screen.py                  # 10 min of 720p, 3 rounds
    .venv/bin/python scripts/bench_screen.py --minutes 2 --rounds 2

A 720p, 25 fps recording with a keyframe every 2 s (as live streams are pushed) of a live room
whose host keeps moving, a shop name on screen all the time and an overlay every 20 s (claims
and clean ones, 12 s each, in five places), over the shared speech clips (scripts/bench.py's
recording). Each run is a fresh `auditor audit` process, alternating `--no-screen` and the
default (screen on); medians are compared. Then the screen pass alone (frames, OCR, spans) in a
process of its own, on that recording and on the same with a keyframe only every 10 s (every
frame decoded): wall and CPU time and peak RSS. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench import audit_cmd, make_recording, measure  # noqa: E402
from scripts.screen_media import Overlay, make_video  # noqa: E402

TEXTS = (
    ("全网最低价 仅此一天", "price.fake_reference"),
    ("每单限购3件", None),
    ("吊牌价1299 到手价199", "price.fake_reference"),
    ("满199减20", None),
    ("行业领先 官方特供", "absolute.superlative"),
    ("小美精华液 30ml", None),
    ("扫码加微信 领专属福利", "diversion.offplatform"),
    ("纯棉T恤 XL码", None),
)
PLACES = ((0.05, 0.82), (0.62, 0.06), (0.05, 0.45), (0.55, 0.70), (0.30, 0.18))

SCREEN_ONLY = """
import sys, time, resource
from auditor.audit import screen_threads
from auditor.screen import read_screen
from auditor.media import probe
info = probe(sys.argv[1])
t, c = time.perf_counter(), time.process_time()
screen = read_screen(info.path, duration=info.duration, threads=screen_threads(0))
print(time.perf_counter() - t, time.process_time() - c, len(screen.spans), screen.sampled,
      screen.read, screen.mode)
"""


def overlays(seconds: float) -> list[Overlay]:
    out = [Overlay("小美旗舰店 新品上市", 0.0, seconds, 0.02, 0.03, 0.045, box="black@0.5")]
    start, index = 3.0, 0
    while start + 12 < seconds:
        text, expect = TEXTS[index % len(TEXTS)]
        x, y = PLACES[index % len(PLACES)]
        out.append(Overlay(text, start, start + 12.0, x, y, 0.06, expect=expect))
        start += 20.0
        index += 1
    return out


def build(folder: Path, seconds: float, gop: float) -> Path:
    speech = make_recording(seconds, folder / "speech.m4a")
    target = folder / f"room-{gop:g}s.mp4"
    return make_video(
        target, seconds, overlays(seconds), speech, size=(1280, 720), gop_seconds=gop, crf=28
    )


def screen_alone(path: Path) -> tuple[float, float, float, str]:
    import subprocess

    args = [sys.executable, "-c", SCREEN_ONLY, str(path)]
    wall, cpu, rss = measure(args)
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    fields = done.stdout.split()
    detail = (
        f"{fields[2]} lines, {fields[3]} frames sampled ({' '.join(fields[5:])}), {fields[4]} read"
    )
    return wall, cpu, rss, detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"building {args.minutes:g} min of 720p (keyframe every 2 s) ...", flush=True)
        video = build(folder, seconds, 2.0)
        print(f"  {video.stat().st_size / 1e6:.1f} MB, {len(overlays(seconds))} overlays")
        runs: dict[str, list[tuple[float, float, float]]] = {"--no-screen": [], "screen": []}
        for round_ in range(args.rounds):
            for name in ("--no-screen", "screen"):
                extra = ("--no-screen",) if name == "--no-screen" else ()
                runs[name].append(measure(audit_cmd(video, *extra)))
                wall, cpu, rss = runs[name][-1]
                print(f"  round {round_ + 1} {name:<11} {wall:6.1f} s wall, {cpu:6.1f} s CPU, "
                      f"{rss:5.0f} MiB peak", flush=True)  # fmt: skip
        off = statistics.median(w for w, _, _ in runs["--no-screen"])
        on = statistics.median(w for w, _, _ in runs["screen"])
        ratios = [s[0] / n[0] for s, n in zip(runs["screen"], runs["--no-screen"], strict=True)]
        print(
            f"audit wall time, median: {off:.1f} s without the screen pass, {on:.1f} s with it: "
            f"{(on / off - 1) * 100:+.0f}% (round by round: "
            f"{', '.join(f'{(r - 1) * 100:+.0f}%' for r in ratios)}; target <= +25%)"
        )
        rss_off = max(r for _, _, r in runs["--no-screen"])
        rss_on = max(r for _, _, r in runs["screen"])
        print(f"peak RSS: {rss_off:.0f} MiB without, {rss_on:.0f} MiB with the screen pass")
        wall, cpu, rss, detail = screen_alone(video)
        print(
            f"screen pass alone: {wall:.1f} s wall, {cpu:.1f} s CPU, {rss:.0f} MiB peak; {detail}"
        )
        print("building the same with a keyframe every 10 s ...", flush=True)
        sparse = build(folder, seconds, 10.0)
        wall, cpu, rss, detail = screen_alone(sparse)
        print(
            f"screen pass alone, keyframe every 10 s: {wall:.1f} s wall, {cpu:.1f} s CPU, "
            f"{rss:.0f} MiB peak; {detail}"
        )


if __name__ == "__main__":
    main()
