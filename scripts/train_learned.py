"""Train the learned model (auditor.learned) on the development sets and write lexicons/learned.tsv.

    python scripts/train_learned.py              # train on every development row, write the model
    python scripts/train_learned.py --validate   # the choice of settings: train without the
                                                 # fourth and later real gatherings, score the
                                                 # rules with and without the model on them;
                                                 # writes nothing
    python scripts/train_learned.py --folds 5    # cross-validation on the real development
                                                 # rows at several thresholds; writes nothing

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
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.learned import LearnedModel, train, write_model  # noqa: E402
from auditor.lexicon import LEARNED_FILE, load_lexicon  # noqa: E402
from auditor.normalize import normalize  # noqa: E402
from auditor.scan import Scanner  # noqa: E402
from scripts.eval import Score  # noqa: E402

DATA = ROOT / "tests" / "data"
STRENGTH = 3.0
THRESHOLD = 0.8
FOURTH_GATHERING = 1209  # first id (rd1209) of the fourth gathering; later ones follow it


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _labels(row: dict[str, str]) -> frozenset[str]:
    return frozenset() if row["expect"] == "-" else frozenset(row["expect"].split(","))


def _examples(rows: list[dict[str, str]]) -> tuple[list[str], list[frozenset[str]], list[str]]:
    """Rows as the trainer takes them: normalised texts, their labels, and the categories."""
    labels = [_labels(r) for r in rows]
    categories = sorted({c for label in labels for c in label})
    return [normalize(r["text"]).text for r in rows], labels, categories


def training_rows() -> tuple[list[str], list[frozenset[str]], list[str]]:
    """What the model is trained on: every development row."""
    return _examples(_rows(DATA / "real" / "dev.tsv") + _rows(DATA / "devset.tsv"))


def _fit(examples: tuple[list[str], list[frozenset[str]], list[str]]) -> LearnedModel:
    return train(*examples, threshold=THRESHOLD, strength=STRENGTH)


def validate(real: list[dict[str, str]], synthetic: list[dict[str, str]]) -> None:
    early = [r for r in real if int(r["id"][2:]) < FOURTH_GATHERING]
    late = [r for r in real if int(r["id"][2:]) >= FOURTH_GATHERING and r["doubtful"] != "yes"]
    lexicon = load_lexicon()
    model = _fit(_examples(early + synthetic))
    for title, lex in (
        ("rules", dataclasses.replace(lexicon, learned=None)),
        ("rules + model", dataclasses.replace(lexicon, learned=model)),
    ):
        scanners: dict[str, Scanner] = {}
        score = Score()
        for r in late:
            product = r["product"] or "general"
            if product not in scanners:  # setdefault would build a scanner for every row
                scanners[product] = Scanner(lex, product)
            scanner = scanners[product]
            found = {m.category for m in scanner.scan(r["text"])}
            score.add(r["id"], r["text"], set(_labels(r)), found)
        precision, recall = score.micro()
        print(f"{title:<14} precision {precision:.3f}  recall {recall:.3f}"
              f"  on {len(late)} scored rows of the fourth and later gatherings")  # fmt: skip
    print("(the rules were partly written from these rows, so the rules' own figure is high)")


def cross_validate(real: list[dict[str, str]], synthetic: list[dict[str, str]], folds: int) -> None:
    """Each fold of the real development rows (a fixed random split) scored by the rules alone
    and with a model trained on the other folds and the synthetic rows, at several thresholds.
    The rules were written from all of these rows, so their own figure is high; what the model
    adds is the measure. One scan per fold at the lowest threshold: a finding at a higher one is
    a learned finding whose probability reaches it (the model's choice per sentence is ranked by
    probability, so filtering gives what a scan at that threshold would, but for probabilities
    within 0.0005 of a threshold: findings carry them rounded to three places)."""
    thresholds = (0.7, 0.75, 0.8, 0.85, 0.9)
    order = list(range(len(real)))
    random.Random(13).shuffle(order)
    fold_of = {row: k % folds for k, row in enumerate(order)}
    lexicon = load_lexicon()
    rules = Score()
    scores = {t: Score() for t in thresholds}
    for fold in range(folds):
        train_on = [r for i, r in enumerate(real) if fold_of[i] != fold] + synthetic
        scored = [r for i, r in enumerate(real) if fold_of[i] == fold and r["doubtful"] != "yes"]
        model = dataclasses.replace(_fit(_examples(train_on)), threshold=min(thresholds))
        with_model = dataclasses.replace(lexicon, learned=model)
        scanners: dict[str, Scanner] = {}
        for r in scored:
            product = r["product"] or "general"
            if product not in scanners:
                scanners[product] = Scanner(with_model, product)
            scanner = scanners[product]
            matches = scanner.scan(r["text"])
            expected = set(_labels(r))
            rules.add(
                r["id"], r["text"], expected, {m.category for m in matches if m.kind != "learned"}
            )
            for t, score in scores.items():
                found = {
                    m.category for m in matches if m.kind != "learned" or m.model_probability >= t
                }
                score.add(r["id"], r["text"], expected, found)
        print(f"fold {fold + 1} of {folds}: {len(scored)} scored rows", flush=True)
    precision, recall = rules.micro()
    print(f"{'rules alone':<22} precision {precision:.3f}  recall {recall:.3f}")
    for t, score in scores.items():
        precision, recall = score.micro()
        print(f"{f'rules + model at {t:g}':<22} precision {precision:.3f}  recall {recall:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", action="store_true", help="score the settings, write nothing")
    parser.add_argument(
        "--folds", type=int, default=0, help="cross-validate on the real dev rows, write nothing"
    )
    args = parser.parse_args()
    real = _rows(DATA / "real" / "dev.tsv")
    synthetic = _rows(DATA / "devset.tsv")
    if args.validate:
        validate(real, synthetic)
        return
    if args.folds > 1:
        cross_validate(real, synthetic, args.folds)
        return
    examples = training_rows()
    model = _fit(examples)
    target = ROOT / "lexicons" / LEARNED_FILE
    write_model(model, target)
    print(f"wrote {target}: {len(model.vocabulary)} n-grams, {len(model.categories)} categories, "
          f"from {len(examples[0])} rows")  # fmt: skip


if __name__ == "__main__":
    main()
