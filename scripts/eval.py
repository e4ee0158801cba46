"""Precision and recall of the scanner, per category, on labelled text and on speech clips.

    python scripts/eval.py                           # every labelled set, real and synthetic
    python scripts/eval.py --set real-dev --errors   # each miss and false finding of one set
    python scripts/eval.py --clips tests/data/zh_tts # end to end through `auditor audit`
    python scripts/eval.py --learned                 # the rules and the learned model together

The sets (tests/data/): `real/dev.tsv` and `real/heldout.tsv` hold claims quoted from public penalty
decisions, typical-case notices, court rulings and news, and clean lines real streams and ads say
(tests/data/real/README.md); `devset.tsv` and `heldout.tsv` were written from the taxonomy. A real
row is scanned as selling its `product`; rows whose label the gatherer doubted are left out unless
`--doubtful`. The held-out sets are for measuring only: their errors are never listed.

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

from auditor.lexicon import LEARNED_SWITCH, Lexicon, load_lexicon  # noqa: E402
from auditor.scan import Scanner  # noqa: E402

DATA = ROOT / "tests" / "data"
SETS = {
    "real-dev": DATA / "real" / "dev.tsv",
    "real-heldout": DATA / "real" / "heldout.tsv",
    "dev": DATA / "devset.tsv",
    "heldout": DATA / "heldout.tsv",
}
HELD_OUT = ("real-heldout", "heldout")


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    rows: int = 0

    def add(self, item: str, text: str, expected: set[str], found: set[str]) -> None:
        self.rows += 1
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


@dataclass(frozen=True)
class Row:
    id: str
    expected: frozenset[str]
    text: str
    product: str = "general"
    doubtful: bool = False


def read_labelled(path: Path) -> Iterable[Row]:
    """Rows of a labelled TSV: `id expect text` (synthetic sets, clips) or the real sets' columns
    `id expect product text source_url source_kind doubtful note`."""
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            expect = frozenset() if row["expect"] == "-" else frozenset(row["expect"].split(","))
            yield Row(
                row["id"],
                expect,
                row["text"],
                row.get("product") or "general",
                row.get("doubtful") == "yes",
            )


def evaluate_text(path: Path, lexicon: Lexicon | None = None, doubtful: bool = False) -> Score:
    lexicon = lexicon or load_lexicon()
    scanners: dict[str, Scanner] = {}
    score = Score()
    for row in read_labelled(path):
        if row.doubtful and not doubtful:
            continue
        if row.product not in scanners:
            scanners[row.product] = Scanner(lexicon, row.product)
        found = {m.category for m in scanners[row.product].scan(row.text)}
        score.add(row.id, row.text, set(row.expected), found)
    return score


def learned_lexicon() -> Lexicon:
    """The built-in lexicon with the learned model on, as `--learned` loads it."""
    return load_lexicon([LEARNED_SWITCH])


def evaluate_clips(clips: Path, learned: bool = False) -> Score:
    """Every clip of a folder with sentences.tsv, through the real `auditor audit` in one run."""
    labelled = list(read_labelled(clips / "sentences.tsv"))
    wavs = [str(clips / f"{row.id}.wav") for row in labelled]
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
            *(["--learned"] if learned else []),
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
        record = json.loads(line)
        found.setdefault(Path(record["source"]).stem, set()).add(record["category"])
    score = Score()
    for row in labelled:
        score.add(row.id, row.text, set(row.expected), found.get(row.id, set()))
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set", dest="sets", action="append", choices=sorted(SETS), help="default: all"
    )
    parser.add_argument("--devset", type=Path, help="another labelled TSV file")
    parser.add_argument("--clips", type=Path, help="evaluate end to end on these speech clips")
    parser.add_argument("--doubtful", action="store_true", help="also score doubted real rows")
    parser.add_argument(
        "--learned", action="store_true", help="with the learned model on (`--learned`)"
    )
    parser.add_argument(
        "--errors", action="store_true", help="list each false finding and miss (not held-out)"
    )
    args = parser.parse_args()
    lexicon = learned_lexicon() if args.learned else load_lexicon()
    if args.clips:
        runs = [(f"clips {args.clips}", evaluate_clips(args.clips, args.learned), True)]
    elif args.devset:
        score = evaluate_text(args.devset, lexicon, doubtful=args.doubtful)
        runs = [(f"text {args.devset}", score, True)]
    else:
        runs = [
            (
                f"{name} ({SETS[name].relative_to(ROOT)})",
                evaluate_text(SETS[name], lexicon, args.doubtful),
                name not in HELD_OUT,
            )
            for name in args.sets or list(SETS)
        ]
    for title, score, may_list in runs:
        print(f"{title}: {score.rows} rows")
        print(score.table())
        if args.errors and may_list:
            print("\n".join(score.errors))
        elif args.errors:
            print("(held-out: errors are not listed, so that nothing is tuned on them)")
        print()


if __name__ == "__main__":
    main()
