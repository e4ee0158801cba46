"""Hard media for sound-alike work: the shared speech clips as a fast, loud live stream.

    python scripts/make_hard_media.py                      # all variants into out/hard/
    python scripts/make_hard_media.py --subset tests/data/hard   # the small committed subset
    python scripts/make_hard_media.py --heldout --out out/hard-heldout   # other seeds, held out
    python scripts/make_hard_media.py --mine out/hard      # audit them and list what was misheard

Each recording holds every clip of `sentences.tsv` once, in a seeded order, each sped up 1.1-1.35x
and pitch-shifted a few semitones (the imageio-ffmpeg binary's `rubberband` filter), with short
gaps, laid over generated background music (chords of sines and noise beats) at a set level below
the voice, with echo and noise, stereo, encoded as low-bitrate AAC or Opus. `labels.tsv` beside
them is the ground truth: which clip is where (seconds) and the categories it should produce.
Nothing here is random at run time: the same seed gives the same files.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.media import find_ffmpeg  # noqa: E402

SHARED = ROOT.parent / "shared" / "media" / "zh_tts"
CLIPS = SHARED if (SHARED / "sentences.tsv").is_file() else ROOT / "tests" / "data" / "zh_tts"
RATE = 48000  # mixing rate; the encoders resample to the variant's own rate
LABELS = "labels.tsv"
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Variant:
    name: str
    seed: int
    music_db: float  # music level below the voice (RMS over the speech), dB
    noise_db: float  # white noise below the voice, dB
    echo: bool
    codec: str  # aac | opus
    bitrate: str
    rate: int  # output sample rate


# The committed subset is the first two; the rest go to out/ (README "Sound-alike findings").
VARIANTS = (
    Variant("aac64-music10-echo", 1, 10.0, 30.0, True, "aac", "64k", 44100),
    Variant("opus32-music12-noise", 2, 12.0, 24.0, False, "opus", "32k", 48000),
    Variant("aac64-music8", 3, 8.0, 35.0, False, "aac", "64k", 48000),
    Variant("opus48-music10-echo", 4, 10.0, 28.0, True, "opus", "48k", 48000),
    Variant("aac48-music14-noise-echo", 5, 14.0, 22.0, True, "aac", "48k", 44100),
    Variant("opus24-music10", 6, 10.0, 30.0, False, "opus", "24k", 48000),
)
SUBSET = 2
# Held out: other seeds (so other clip orders, tempos, pitches and music) and other mixes of the
# same distortions. The confusion costs and the verification margin were set on VARIANTS; these
# measure how far that carries (`--heldout`, into out/hard-heldout/).
HELDOUT = (
    Variant("aac56-music9-noise", 7, 9.0, 26.0, False, "aac", "56k", 44100),
    Variant("opus40-music11-echo", 8, 11.0, 32.0, True, "opus", "40k", 48000),
    Variant("aac32-music12", 9, 12.0, 34.0, False, "aac", "32k", 44100),
    Variant("opus28-music8-noise-echo", 10, 8.0, 25.0, True, "opus", "28k", 48000),
    Variant("aac64-music13-echo", 11, 13.0, 30.0, True, "aac", "64k", 48000),
    Variant("opus36-music10-noise", 12, 10.0, 23.0, False, "opus", "36k", 48000),
)


@dataclass(frozen=True)
class Clip:
    id: str
    expect: str
    text: str


def read_clips(folder: Path) -> list[Clip]:
    with (folder / "sentences.tsv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [Clip(r["id"], r["expect"], r["text"]) for r in rows]


def _ffmpeg_f32(args: list[str]) -> FloatArray:
    done = subprocess.run(
        [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", *args],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(done.stdout, dtype=np.float32).copy()


def stretched(path: Path, tempo: float, semitones: float) -> FloatArray:
    """The clip at `tempo` times its speed and shifted by `semitones`, mono float at RATE."""
    pitch = 2.0 ** (semitones / 12.0)
    return _ffmpeg_f32(
        [
            "-i",
            str(path),
            "-af",
            f"aresample={RATE},rubberband=tempo={tempo:.3f}:pitch={pitch:.4f}",
            "-ac",
            "1",
            "-f",
            "f32le",
            "pipe:",
        ]
    )


def music(seconds: float, rng: np.random.Generator) -> FloatArray:
    """Generated background music: a chord of sines that changes every bar, a bass note, and a
    noise beat on each quarter, so that it never stops under the speech (as in a live stream)."""
    n = int(seconds * RATE)
    t = np.arange(n, dtype=np.float64) / RATE
    out = np.zeros(n)
    bpm = rng.uniform(96, 128)
    beat = 60.0 / bpm
    bar = 4 * beat
    roots = rng.choice([196.0, 220.0, 246.9, 261.6, 293.7], size=int(seconds / bar) + 2)
    which = (t // bar).astype(int)
    root = roots[which]
    for ratio, gain in ((1.0, 0.5), (1.26, 0.35), (1.5, 0.35), (2.0, 0.2), (0.5, 0.6)):
        out += gain * np.sin(2 * np.pi * root * ratio * t)
    phase = (t % beat) / beat
    hits = np.exp(-phase * 18.0) * rng.standard_normal(n) * 0.8
    out += hits
    scaled: FloatArray = (out / np.max(np.abs(out))).astype(np.float32)
    return scaled


def _rms(x: FloatArray) -> float:
    loud = x[np.abs(x) > 1e-4]
    return float(np.sqrt(np.mean(loud.astype(np.float64) ** 2))) if loud.size else 1e-4


def make_recording(
    variant: Variant, clips: list[Clip], folder: Path, out: Path
) -> list[dict[str, str]]:
    """Write one recording of `variant`; return its label rows."""
    rng = np.random.default_rng(variant.seed)
    order = rng.permutation(len(clips))
    pieces: list[FloatArray] = []
    labels: list[dict[str, str]] = []
    at = int(rng.uniform(0.5, 1.0) * RATE)
    pieces.append(np.zeros(at, np.float32))
    for index in order:
        clip = clips[int(index)]
        tempo = float(rng.uniform(1.1, 1.35))
        semitones = float(rng.choice([-3, -2, -1, 1, 2, 3]) * rng.uniform(0.7, 1.0))
        voice = stretched(folder / f"{clip.id}.wav", tempo, semitones)
        labels.append(
            {
                "recording": f"{variant.name}.{'m4a' if variant.codec == 'aac' else 'opus'}",
                "id": clip.id,
                "start": f"{at / RATE:.2f}",
                "end": f"{(at + voice.size) / RATE:.2f}",
                "expect": clip.expect,
                "tempo": f"{tempo:.2f}",
                "semitones": f"{semitones:+.1f}",
                "text": clip.text,
            }
        )
        gap = np.zeros(int(rng.uniform(0.15, 0.6) * RATE), np.float32)
        pieces += [voice, gap]
        at += voice.size + gap.size
    voice_track = np.concatenate(pieces)
    level = _rms(voice_track)
    bed = music(voice_track.size / RATE, rng) * level * 10 ** (-variant.music_db / 20) * 1.4
    # The music's length comes from seconds and may round a sample off the voice's.
    bed = np.pad(bed, (0, max(0, voice_track.size - bed.size)))[: voice_track.size]
    noise = rng.standard_normal(voice_track.size).astype(np.float32)
    noise *= level * 10 ** (-variant.noise_db / 20)
    left = voice_track + bed + noise
    right = voice_track + np.roll(bed, int(0.011 * RATE)) + noise[::-1]
    stereo = np.stack([left, right], axis=1)
    stereo /= max(1.0, float(np.max(np.abs(stereo))) / 0.95)
    filters = "aecho=0.8:0.6:60|140:0.35|0.2" if variant.echo else "anull"
    codec = ["-c:a", "aac"] if variant.codec == "aac" else ["-c:a", "libopus"]
    target = out / labels[0]["recording"]
    subprocess.run(
        [
            find_ffmpeg(),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "f32le",
            "-ar",
            str(RATE),
            "-ac",
            "2",
            "-i",
            "pipe:",
            "-af",
            filters,
            *codec,
            "-b:a",
            variant.bitrate,
            "-ar",
            str(variant.rate),
            "-ac",
            "2",
            str(target),
        ],
        input=stereo.astype(np.float32).tobytes(),
        check=True,
    )
    return labels


def write_labels(rows: list[dict[str, str]], out: Path) -> None:
    with (out / LABELS).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_labels(folder: Path) -> list[dict[str, str]]:
    with (folder / LABELS).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


# -- mining the model's errors ---------------------------------------------------------------


def heard_per_clip(
    folder: Path, report: dict[str, list[dict[str, object]]]
) -> list[tuple[str, str]]:
    """(spoken, heard) for each labelled clip, from audits' transcripts (words by time)."""
    pairs = []
    for row in read_labels(folder):
        words = report.get(row["recording"], [])
        a, b = float(row["start"]) - 0.2, float(row["end"]) + 0.2
        heard = "".join(
            str(w["text"])
            for w in words
            if a <= float(str(w["start"])) and float(str(w["end"])) <= b
        )
        pairs.append((row["text"], heard))
    return pairs


def syllable_confusions(pairs: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """Tone-free syllables that were spoken and heard as another, aligned by edit distance."""
    from pypinyin import Style, lazy_pinyin

    from auditor.normalize import normalize

    counts: Counter[tuple[str, str]] = Counter()
    for spoken, heard in pairs:
        s = lazy_pinyin(normalize(spoken).simplified, style=Style.NORMAL)
        h = lazy_pinyin(normalize(heard).simplified, style=Style.NORMAL)
        s = [x for x in s if x.isalpha()]
        h = [x for x in h if x.isalpha()]
        # Plain edit distance alignment: substitutions are the confusions.
        d = np.zeros((len(s) + 1, len(h) + 1), int)
        d[:, 0] = range(len(s) + 1)
        d[0, :] = range(len(h) + 1)
        for i in range(1, len(s) + 1):
            for j in range(1, len(h) + 1):
                d[i, j] = min(
                    d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (s[i - 1] != h[j - 1])
                )
        i, j = len(s), len(h)
        while i and j:
            if d[i, j] == d[i - 1, j - 1] + (s[i - 1] != h[j - 1]):
                if s[i - 1] != h[j - 1]:
                    counts[(s[i - 1], h[j - 1])] += 1
                i, j = i - 1, j - 1
            elif d[i, j] == d[i - 1, j] + 1:
                counts[(s[i - 1], "-")] += 1
                i -= 1
            else:
                counts[("-", h[j - 1])] += 1
                j -= 1
        for k in range(i):
            counts[(s[k], "-")] += 1
        for k in range(j):
            counts[("-", h[k])] += 1
    return counts


def mine(folder: Path) -> None:
    """Audit every recording of `folder` (the real CLI, JSON with words) and print, per clip,
    what was spoken and heard, then the syllable confusions counted."""
    import tempfile

    recordings = sorted({r["recording"] for r in read_labels(folder)})
    words: dict[str, list[dict[str, object]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in recordings:
            target = Path(tmp) / f"{name}.json"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "auditor.cli",
                    "audit",
                    "-q",
                    "--format",
                    "json",
                    "--fail-on",
                    "never",
                    "-o",
                    str(target),
                    str(folder / name),
                ],
                check=True,
            )
            report = json.loads(target.read_text(encoding="utf-8"))
            words[name] = [w for s in report["transcript"]["segments"] for w in s.get("words", [])]
    pairs = heard_per_clip(folder, words)
    for spoken, heard in pairs:
        if spoken.rstrip("。") != heard:
            print(f"spoken {spoken}\nheard  {heard}\n")
    counts = syllable_confusions(pairs)
    print("spoken -> heard  count")
    for (a, b), n in counts.most_common():
        print(f"{a:>6} -> {b:<6} {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "out" / "hard", help="every variant here"
    )
    parser.add_argument("--subset", type=Path, help="only the committed subset, into this folder")
    parser.add_argument("--mine", type=Path, help="audit the recordings of this folder instead")
    parser.add_argument(
        "--heldout", action="store_true", help="the held-out variants (other seeds) instead"
    )
    args = parser.parse_args()
    if args.mine:
        mine(args.mine)
        return
    out: Path = args.subset or args.out
    out.mkdir(parents=True, exist_ok=True)
    clips = read_clips(CLIPS)
    rows: list[dict[str, str]] = []
    variants = HELDOUT if args.heldout else VARIANTS[:SUBSET] if args.subset else VARIANTS
    for variant in variants:
        rows += make_recording(variant, clips, CLIPS, out)
        print(
            f"{out / rows[-1]['recording']}: {(out / rows[-1]['recording']).stat().st_size} bytes"
        )
    write_labels(rows, out)


if __name__ == "__main__":
    main()
