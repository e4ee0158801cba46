"""Sound-alike findings: recall and false findings with and without phonetic matching and
acoustic verification, and what verification adds to the audit time.

    python scripts/bench_soundalike.py                 # every set, then the 4-minute timing
    python scripts/bench_soundalike.py --sets hard-subset --no-timing --details

Sets: `clean` the shared speech clips (tests/data/zh_tts, one claim set per file), `hard` the
recordings of scripts/make_hard_media.py (made into out/hard/ when missing), `hard-subset` its
committed part (tests/data/hard), `hard-heldout` six more made with other seeds and mixes
(out/hard-heldout/; nothing was tuned on them), `real` the four real recordings
(../shared/media/real_zh, no claims). Each recording is transcribed once (default options);
then its transcript is scanned with each sound-alike mode (none: exact and variant only; keys:
equal sound keys; near: keys and the weighted syllable distance) and, for `+verify`, the
sound-alikes are checked against the audio.

Scoring, per labelled clip and category (as scripts/eval.py does per utterance): a category the
clip should produce and a finding within the clip's time gives is found; any other finding (in a
clip that should not produce that category, or outside every clip) is false.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.audit import Auditor  # noqa: E402
from auditor.detect import scan_recording  # noqa: E402
from auditor.findings import Finding  # noqa: E402
from auditor.lexicon import load_lexicon  # noqa: E402
from auditor.media import find_ffmpeg  # noqa: E402
from auditor.options import AuditOptions  # noqa: E402
from auditor.scan import Scanner  # noqa: E402
from auditor.transcript import Transcript  # noqa: E402
from auditor.verify import TERM_MARGIN  # noqa: E402

CLEAN = ROOT / "tests" / "data" / "zh_tts"
SUBSET = ROOT / "tests" / "data" / "hard"
HARD = ROOT / "out" / "hard"
HELDOUT = ROOT / "out" / "hard-heldout"
REAL = ROOT.parent / "shared" / "media" / "real_zh"
MODES = ("none", "keys", "near", "keys+verify", "near+verify")
SLACK = 0.5  # seconds a finding may lie outside its clip (word times are rough at the edges)


@dataclass(frozen=True)
class Slot:
    start: float
    end: float
    expected: frozenset[str]
    text: str


@dataclass
class Tally:
    found: int = 0
    claims: int = 0
    false: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.claims if self.claims else 1.0

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.claims += other.claims
        self.false += other.false
        self.missed += other.missed


def score(findings: tuple[Finding, ...] | list[Finding], slots: list[Slot]) -> Tally:
    """Found claims and false findings of one recording against its labelled clips."""
    tally = Tally(claims=sum(len(s.expected) for s in slots))
    hit: set[tuple[int, str]] = set()
    wrong: set[tuple[int, str]] = set()
    for f in findings:
        mid = (f.start + f.end) / 2
        near = [
            (abs(mid - (s.start + s.end) / 2), i)
            for i, s in enumerate(slots)
            if s.start - SLACK <= mid <= s.end + SLACK
        ]
        where = min(near)[1] if near else -1
        if where >= 0 and f.category in slots[where].expected:
            hit.add((where, f.category))
        elif (where, f.category) not in wrong:
            wrong.add((where, f.category))
            said = slots[where].text if where >= 0 else "(between clips)"
            tally.false.append(f"{f.category} {f.matched}->{f.term} [{f.match}] in {said}")
    tally.found = len(hit)
    for i, s in enumerate(slots):
        tally.missed += [f"{c}: {s.text}" for c in sorted(s.expected) if (i, c) not in hit]
    return tally


def _expected(value: str) -> frozenset[str]:
    return frozenset() if value == "-" else frozenset(value.split(","))


def recordings(name: str) -> list[tuple[Path, list[Slot]]]:
    """The recordings of a set, each with its labelled clips."""
    if name == "clean":
        with (CLEAN / "sentences.tsv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
        return [
            (CLEAN / f"{r['id']}.wav", [Slot(0.0, 1e9, _expected(r["expect"]), r["text"])])
            for r in rows
        ]
    if name == "real":
        return [(p, [Slot(0.0, 1e9, frozenset(), p.stem)]) for p in sorted(REAL.glob("*.wav"))]
    folder = {"hard-subset": SUBSET, "hard-heldout": HELDOUT}.get(name, HARD)
    if not (folder / "labels.tsv").is_file():
        heldout = ["--heldout"] if folder == HELDOUT else []
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_hard_media.py"), "--out",
                        str(folder), *heldout], check=True)  # fmt: skip
    return labelled_recordings(folder)


def labelled_recordings(folder: Path) -> list[tuple[Path, list[Slot]]]:
    with (folder / "labels.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    out: dict[str, list[Slot]] = {}
    for r in rows:
        slot = Slot(float(r["start"]), float(r["end"]), _expected(r["expect"]), r["text"])
        out.setdefault(r["recording"], []).append(slot)
    return [(folder / name, slots) for name, slots in out.items()]


def findings_by_mode(
    auditor: Auditor, path: Path, transcript: Transcript, scanners: dict[str, Scanner]
) -> dict[str, tuple[Finding, ...]]:
    """What each mode reports for one transcript (verification checks the audio)."""
    info = auditor.check_input(str(path))
    out: dict[str, tuple[Finding, ...]] = {}
    for mode in MODES:
        base = mode.split("+")[0]
        found = scan_recording(str(path), transcript, None, scanners[base])
        if mode.endswith("+verify"):
            found = auditor.verified(found, transcript, info)
        out[mode] = found
    return out


def run_sets(names: list[str], details: bool) -> None:
    lexicon = load_lexicon()
    scanners = {m: Scanner(lexicon, soundalikes=m) for m in ("none", "keys", "near")}
    auditor = Auditor(AuditOptions(verify=False), lexicon)
    evidence: list[tuple[bool, float, str]] = []  # (a true claim, term - heard, what)
    print(f"{'set':<12} {'mode':<12} {'claims':>6} {'found':>6} {'recall':>6} {'false':>6}")
    for name in names:
        tallies = {mode: Tally() for mode in MODES}
        for path, slots in recordings(name):
            transcript = auditor.audit(str(path)).transcript
            by_mode = findings_by_mode(auditor, path, transcript, scanners)
            for mode, found in by_mode.items():
                tallies[mode].add(score(found, slots))
            unverified = auditor.verified(by_mode["near"], transcript,
                                          auditor.check_input(str(path)), math.inf)  # fmt: skip
            for f in unverified:
                if f.term_logprob is None or f.heard_logprob is None:
                    continue
                true = score([f], slots).found > 0
                gap = f.term_logprob - f.heard_logprob
                per = gap / max(1, len(f.term or ""))
                evidence.append((true, gap, f"{per:6.2f}/char  {name} {f.matched}->{f.term}"))
        for mode, t in tallies.items():
            print(f"{name:<12} {mode:<12} {t.claims:>6} {t.found:>6} {t.recall:>6.3f} "
                  f"{len(t.false):>6}")  # fmt: skip
            if details and mode in ("near", "near+verify"):
                for line in t.false:
                    print(f"    false  {line}")
                for line in t.missed:
                    print(f"    missed {line}")
    if evidence:
        print(f"\nsound-alike evidence, term - heard log probability (kept at >= {-TERM_MARGIN}):")
        for true, gap, what in sorted(evidence, key=lambda e: e[1]):
            print(f"    {'claim' if true else 'false'} {gap:8.2f}  {what}")


def four_minutes(folder: Path) -> Path:
    """A 4-minute recording of the hard media, for the timing (made once, in out/)."""
    target = ROOT / "out" / "hard-4min.m4a"
    if target.is_file():
        return target
    names = [p for p, _ in labelled_recordings(folder)] * 4
    # The recordings mix AAC and Opus at 44.1 and 48 kHz: the concat demuxer would copy their
    # packets into one stream that decodes only from the start. Decode each and join the samples.
    inputs = [arg for p in names for arg in ("-i", str(p))]
    joined = "".join(f"[{i}:a]aformat=sample_rates=48000:channel_layouts=stereo[a{i}];"
                     for i in range(len(names)))  # fmt: skip
    joined += "".join(f"[a{i}]" for i in range(len(names))) + f"concat=n={len(names)}:v=0:a=1"
    subprocess.run([find_ffmpeg(), "-nostdin", "-loglevel", "error", "-y", *inputs,
                    "-filter_complex", joined, "-t", "240", "-c:a", "aac", "-b:a", "64k",
                    str(target)], check=True)  # fmt: skip
    return target


def timing(runs: int) -> None:
    """Audit time of a 4-minute recording with and without verification, alternating runs."""
    recordings("hard")  # made when missing
    path = str(four_minutes(HARD))
    lexicon = load_lexicon()
    plain = Auditor(AuditOptions(verify=False), lexicon)
    checked = Auditor(AuditOptions(verify=True), lexicon)
    plain.audit(path)  # load the model and tables once each, untimed
    checked.audit(path)
    seconds: dict[bool, list[float]] = {False: [], True: []}
    verified = 0
    for _ in range(runs):
        for on, auditor in ((False, plain), (True, checked)):
            started = time.perf_counter()
            result = auditor.audit(path)
            seconds[on].append(time.perf_counter() - started)
            if on:
                verified = sum(1 for f in result.findings if f.term_logprob is not None)
    off, on = statistics.median(seconds[False]), statistics.median(seconds[True])
    print(f"\n4-minute recording ({path}), median of {runs} alternating runs each:")
    print(f"    audit without verification  {off:7.2f} s")
    print(f"    audit with verification     {on:7.2f} s   ({verified} sound-alikes checked)")
    print(f"    added by verification       {on - off:7.2f} s   ratio {on / off:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sets = ["clean", "hard-subset", "hard", "hard-heldout", "real"]
    parser.add_argument("--sets", nargs="+", default=sets, choices=sets)
    parser.add_argument("--details", action="store_true", help="each false finding and miss")
    parser.add_argument("--no-timing", action="store_true", help="skip the 4-minute timing")
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each kind")
    args = parser.parse_args()
    run_sets(args.sets, args.details)
    if not args.no_timing:
        timing(args.runs)


if __name__ == "__main__":
    main()
