"""Train the learned model (auditor.learned) on the development sets and write lexicons/learned.tsv.

    python scripts/train_learned.py              # train on every development row, write the model
    python scripts/train_learned.py --validate   # the choice of settings: train without the
                                                 # fourth and later real gatherings, score the
                                                 # rules with and without the model on them;
                                                 # writes nothing

Only development rows are read: `tests/data/real/dev.tsv` (doubted rows too: the label of a
doubted row is still a gatherer's reading of real wording) and `tests/data/devset.tsv`. The
held-out sets are never read here. The settings (strength 3, threshold 0.8) were chosen with
--validate on 2026-12-03: of those tried (strength 3 to 30, threshold 0.5 to 0.9, n-grams of
one to three or two to four characters), they gained the most recall for the least precision
on rows no rule had been written for.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.learned import LearnedModel, train, write_model  # noqa: E402
from auditor.lexicon import LEARNED_FILE, load_lexicon  # noqa: E402
from auditor.normalize import normalize  # noqa: E402
from auditor.scan import Scanner  # noqa: E402

DATA = ROOT / "tests" / "data"
STRENGTH = 3.0
THRESHOLD = 0.8
FOURTH_GATHERING = 1209  # first id (rd1209) of the fourth gathering; later ones follow it


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _labels(row: dict[str, str]) -> frozenset[str]:
    return frozenset() if row["expect"] == "-" else frozenset(row["expect"].split(","))


def _fit(rows: list[dict[str, str]], categories: list[str]) -> LearnedModel:
    texts = [normalize(r["text"]).text for r in rows]
    return train(texts, [_labels(r) for r in rows], categories, THRESHOLD, STRENGTH)


def training_rows() -> tuple[list[str], list[frozenset[str]], list[str]]:
    """What the model is trained on: every development row (normalised), its labels, and the
    categories."""
    rows = _rows(DATA / "real" / "dev.tsv") + _rows(DATA / "devset.tsv")
    categories = sorted({c for r in rows for c in _labels(r)})
    return [normalize(r["text"]).text for r in rows], [_labels(r) for r in rows], categories


def validate(real: list[dict[str, str]], synthetic: list[dict[str, str]]) -> None:
    early = [r for r in real if int(r["id"][2:]) < FOURTH_GATHERING]
    late = [r for r in real if int(r["id"][2:]) >= FOURTH_GATHERING and r["doubtful"] != "yes"]
    lexicon = load_lexicon()
    categories = sorted({c for r in early + synthetic for c in _labels(r)})
    model = _fit(early + synthetic, categories)
    rules_only = dataclasses.replace(lexicon, learned=None)
    with_model = dataclasses.replace(lexicon, learned=model)
    for title, lex in (("rules", rules_only), ("rules + model", with_model)):
        scanners: dict[str, Scanner] = {}
        tp = fp = fn = 0
        for r in late:
            product = r["product"] or "general"
            scanner = scanners.setdefault(product, Scanner(lex, product))
            found = {m.category for m in scanner.scan(r["text"])}
            expected = _labels(r)
            tp += len(found & expected)
            fp += len(found - expected)
            fn += len(expected - found)
        print(f"{title:<14} precision {tp / max(1, tp + fp):.3f}  recall {tp / max(1, tp + fn):.3f}"
              f"  on {len(late)} scored rows of the fourth and later gatherings")  # fmt: skip
    print("(the rules were partly written from these rows, so the rules' own figure is high)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", action="store_true", help="score the settings, write nothing")
    args = parser.parse_args()
    real = _rows(DATA / "real" / "dev.tsv")
    synthetic = _rows(DATA / "devset.tsv")
    if args.validate:
        validate(real, synthetic)
        return
    texts, labels, categories = training_rows()
    model = train(texts, labels, categories, THRESHOLD, STRENGTH)
    target = ROOT / "lexicons" / LEARNED_FILE
    write_model(model, target)
    print(f"wrote {target}: {len(model.vocabulary)} n-grams, {len(categories)} categories, "
          f"from {len(texts)} rows")  # fmt: skip


if __name__ == "__main__":
    main()
