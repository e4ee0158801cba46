"""VAD padding on a stream: the shared clips laid end to end with pauses, audited whole.

    .venv/bin/python scripts/bench_padding.py

For pauses of 0.3, 0.8 and 1.5 s and both orders of the clips, audits the stream with 400 ms of
silence kept before each stretch of speech (faster-whisper's padding) and with 200 ms (the
default here; 400 ms after it in both), and prints the character error rate of the whole
transcript, the recall of the expected categories (a finding counts for a clip when it starts
within 1 s of it) and findings of other categories near a clip. Closer to a broadcast than the
single clips of `bench.py --only quality`. Where chunks start and end moves the error rate by a
few points from run to run of the same audio; read differences smaller than that as none.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor import speech  # noqa: E402
from auditor.audit import Auditor  # noqa: E402
from auditor.options import AuditOptions  # noqa: E402
from scripts.bench import CLIPS, RATE, REAL, _chars, edit_distance  # noqa: E402

Item = tuple[Path, str, set[str]]  # clip, what is said, expected categories


def items() -> list[Item]:
    rows = csv.DictReader((CLIPS / "sentences.tsv").open(encoding="utf-8"), delimiter="\t")
    out: list[Item] = [
        (
            CLIPS / f"{r['id']}.wav",
            r["text"],
            set() if r["expect"] == "-" else set(r["expect"].split(",")),
        )
        for r in rows
    ]
    for line in (REAL / "text").read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append((REAL / f"{line.split()[0]}.wav", "".join(line.split()[1:]), set()))
    return out


def samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def stream(sequence: list[Item], pause: float, target: Path) -> list[tuple[float, float, set[str]]]:
    """Write the clips with `pause` seconds between them; return each clip's span."""
    gap = np.zeros(int(pause * RATE), dtype=np.int16)
    parts: list[np.ndarray] = []
    spans = []
    at = 0
    for path, _, expected in sequence:
        clip = samples(path)
        spans.append((at / RATE, (at + clip.shape[0]) / RATE, expected))
        parts += [clip, gap]
        at += clip.shape[0] + gap.shape[0]
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.concatenate(parts).tobytes())
    return spans


def main() -> None:
    auditor = Auditor(AuditOptions())
    clips = items()
    print("| pause s | order | padding before ms | CER | recall | other findings near a clip | s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="auditor-padding-") as tmp:
        for pause in (0.3, 0.8, 1.5):
            for order, sequence in (("as listed", clips), ("reversed", clips[::-1])):
                path = Path(tmp) / "stream.wav"
                spans = stream(sequence, pause, path)
                reference = _chars("".join(text for _, text, _ in sequence))
                for padding in (400, 200):
                    speech.SPEECH_PAD_MS = padding
                    started = time.perf_counter()
                    result = auditor.audit(str(path))
                    took = time.perf_counter() - started
                    cer = edit_distance(reference, _chars(result.transcript.text)) / len(reference)
                    expected = found = other = 0
                    for start, end, want in spans:
                        near = start - 1
                        got = {f.category for f in result.findings if near <= f.start <= end + 1}
                        expected += len(want)
                        found += len(want & got)
                        other += len(got - want)
                    print(
                        f"| {pause} | {order} | {padding} | {cer:.3f} | {found}/{expected} | "
                        f"{other} | {took:.1f} |"
                    )


if __name__ == "__main__":
    main()
