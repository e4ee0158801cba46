"""Join newly gathered rows of real phrasing into tests/data/real/dev.tsv, the way each gathering
since the second was added (tests/data/real/README.md).

    python scripts/merge_gathered.py round6-a.tsv round6-b.tsv            # report only
    python scripts/merge_gathered.py --write round6-a.tsv round6-b.tsv    # append to dev.tsv

Each input is a gatherer's TSV with the header `expect product text source_url source_kind
doubtful note`. Rows are validated (category ids, product, source kind, doubtful), then left out
when their text (NFKC, lower case, letters and digits only) repeats an earlier new row or a dev
row, or equals, holds or is held by a held-out row (four characters or more): the held-out half
stays the one random half it was. The rest get the next dev ids and are appended. Prints what was
kept and left out; --write also appends. Retrain the learned model afterwards
(scripts/train_learned.py).
"""

from __future__ import annotations

import argparse
import csv
import sys
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.lexicon import load_lexicon  # noqa: E402
from auditor.options import PRODUCT_CATEGORIES  # noqa: E402

REAL = ROOT / "tests" / "data" / "real"
KINDS = {"penalty", "typical_case", "court", "news", "platform", "rule_text"}
COLUMNS = ["expect", "product", "text", "source_url", "source_kind", "doubtful", "note"]


def key(text: str) -> str:
    """A text as compared for repeats: NFKC, lower case, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _problem(row: dict[str, str], categories: set[str]) -> str | None:
    if any(row.get(c) is None for c in COLUMNS):
        return "missing columns"
    if not row["text"].strip():
        return "empty text"
    if row["product"].strip() not in PRODUCT_CATEGORIES:
        return f"unknown product {row['product']!r}"
    if row["source_kind"].strip() not in KINDS:
        return f"unknown source kind {row['source_kind']!r}"
    if row["doubtful"].strip() not in ("yes", "no"):
        return "doubtful must be yes or no"
    expect = row["expect"].strip()
    unknown = [c for c in expect.split(",") if c not in categories] if expect != "-" else []
    return f"unknown category {unknown[0]!r}" if unknown else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--write", action="store_true", help="append the kept rows to dev.tsv")
    args = parser.parse_args()
    categories = set(load_lexicon().categories)
    dev = _rows(REAL / "dev.tsv")
    held = [key(r["text"]) for r in _rows(REAL / "heldout.tsv")]
    known = {key(r["text"]) for r in dev}
    next_id = max(int(r["id"][2:]) for r in dev) + 1
    kept: list[list[str]] = []
    left: Counter[str] = Counter()
    for path in args.files:
        for line, row in enumerate(_rows(path), 2):
            problem = _problem(row, categories)
            if problem:
                print(f"{path}:{line}: {problem}", file=sys.stderr)
                left["invalid"] += 1
                continue
            k = key(row["text"])
            if k in known:
                left["repeats a dev or new row"] += 1
                continue
            if any(k == h or (len(h) >= 4 and h in k) or (len(k) >= 4 and k in h) for h in held):
                left["overlaps a held-out row"] += 1
                continue
            known.add(k)
            cells = [row[c].strip().replace("\t", " ") for c in COLUMNS]
            kept.append([f"rd{next_id + len(kept):04d}", *cells])
    print(f"kept {len(kept)} rows" + (f" ({kept[0][0]} to {kept[-1][0]})" if kept else ""))
    for why, n in sorted(left.items()):
        print(f"left out {n}: {why}")
    if args.write and kept:
        with (REAL / "dev.tsv").open("a", encoding="utf-8", newline="\n") as handle:
            handle.writelines("\t".join(r) + "\n" for r in kept)


if __name__ == "__main__":
    main()
