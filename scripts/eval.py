"""Precision and recall of the scanner, per category, on the labelled development set.

    python scripts/eval.py [--devset tests/data/devset.tsv] [--errors]
    python scripts/eval.py --clips ../shared/media/zh_tts   # end to end through `auditor audit`

Scoring is per utterance and category: a category the utterance should produce and does is a true
positive, one it produces but should not is a false positive, one it misses a false negative.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.lexicon import load_lexicon  # noqa: E402
from auditor.scan import Scanner  # noqa: E402


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, item: str, text: str, expected: set[str], found: set[str]) -> None:
        for c in expected & found:
            self.tp[c] += 1
        for c in found - expected:
            self.fp[c] += 1
            self.errors.append(f"FP {item} {c}: {text}")
        for c in expected - found:
            self.fn[c] += 1
            self.errors.append(f"FN {item} {c}: {text}")

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    def micro(self) -> tuple[float, float]:
        tp, fp, fn = sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())
        return self._ratio(tp, tp + fp), self._ratio(tp, tp + fn)

    def table(self) -> str:
        cats = sorted(set(self.tp) | set(self.fp) | set(self.fn))
        lines = [f"{'category':<26} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}"]
        for c in cats:
            p = self._ratio(self.tp[c], self.tp[c] + self.fp[c])
            r = self._ratio(self.tp[c], self.tp[c] + self.fn[c])
            lines.append(
                f"{c:<26} {self.tp[c]:>4} {self.fp[c]:>4} {self.fn[c]:>4} {p:>9.3f} {r:>7.3f}"
            )
        p, r = self.micro()
        lines.append(
            f"{'micro':<26} {sum(self.tp.values()):>4} {sum(self.fp.values()):>4} "
            f"{sum(self.fn.values()):>4} {p:>9.3f} {r:>7.3f}"
        )
        return "\n".join(lines)


def read_labelled(path: Path) -> Iterable[tuple[str, set[str], str]]:
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            expect = set() if row["expect"] == "-" else set(row["expect"].split(","))
            yield row["id"], expect, row["text"]


def evaluate_text(devset: Path, scanner: Scanner | None = None) -> Score:
    scanner = scanner or Scanner(load_lexicon())
    score = Score()
    for item, expected, text in read_labelled(devset):
        score.add(item, text, expected, {m.category for m in scanner.scan(text)})
    return score


def evaluate_clips(clips: Path) -> Score:
    """Every clip of a folder with sentences.tsv, through the real `auditor audit` in one run."""
    labelled = list(read_labelled(clips / "sentences.tsv"))
    wavs = [str(clips / f"{item}.wav") for item, _, _ in labelled]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor.cli",
            "audit",
            "-q",
            "--format",
            "jsonl",
            "--fail-on",
            "never",
            *wavs,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    found: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        row = json.loads(line)
        found.setdefault(Path(row["source"]).stem, set()).add(row["category"])
    score = Score()
    for item, expected, text in labelled:
        score.add(item, text, expected, found.get(item, set()))
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=ROOT / "tests/data/devset.tsv")
    parser.add_argument("--clips", type=Path, help="evaluate end to end on these speech clips")
    parser.add_argument("--errors", action="store_true", help="list each false finding and miss")
    args = parser.parse_args()
    score = evaluate_clips(args.clips) if args.clips else evaluate_text(args.devset)
    print(f"{'clips ' + str(args.clips) if args.clips else 'text ' + str(args.devset)}")
    print(score.table())
    if args.errors:
        print("\n".join(score.errors))


if __name__ == "__main__":
    main()
