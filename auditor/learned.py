"""Claims no rule names: a character n-gram model learned from the labelled sets.

Real claims are a long tail of wording; rules written from one gathering of real phrasing found
about half of the claims of the next (tests/data/real/README.md). A linear model over character
n-grams (one to three characters of the normalised text, tf-idf weighted, one logistic
regression per category) learns the wording of every labelled development row at once. It runs
after the rules, on each sentence, and adds a finding only for a category no rule found there:
its `why` names the n-grams that weighed most, and its confidence is the model's probability.

The model is data, like the lexicons: `lexicons/learned.tsv`, written by
`scripts/train_learned.py` from the development sets only (never a held-out one), validated on
load with errors that name file and line.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from auditor.errors import LexiconError
from auditor.files import write_atomic

__all__ = ["LearnedModel", "grams", "load_model", "tfidf", "train", "write_model"]

LONGEST_GRAM = 3
FORMAT = "auditor-learned 1"

Floats = npt.NDArray[np.float64]


def grams(text: str, longest: int = LONGEST_GRAM) -> Counter[str]:
    """Character n-grams of one to `longest` characters, with their counts."""
    return Counter(
        [text[i : i + n] for n in range(1, longest + 1) for i in range(len(text) - n + 1)]
    )


def tfidf(
    text: str, vocabulary: dict[str, int], idf: Floats, longest: int
) -> tuple[list[int], Floats]:
    """A sentence's known n-grams (their rows) and its tf-idf values, l2-normalised: sublinear
    counts (1 + log) times idf, n-grams outside the vocabulary left out."""
    known = [(vocabulary[g], c) for g, c in grams(text, longest).items() if g in vocabulary]
    if not known:
        return [], np.zeros(0)
    rows = [row for row, _ in known]
    values = (1.0 + np.log([c for _, c in known])) * idf[rows]
    return rows, values / np.linalg.norm(values)


@dataclass(frozen=True)
class LearnedModel:
    categories: tuple[str, ...]
    threshold: float  # a category is found when its probability reaches this
    longest: int
    vocabulary: dict[str, int]  # n-gram -> row of idf and weights
    idf: Floats  # (features,)
    weights: Floats  # (features, categories)
    intercepts: Floats  # (categories,)
    version: str  # content hash of the file

    @cached_property
    def _names(self) -> list[str]:
        names = [""] * len(self.vocabulary)
        for gram, row in self.vocabulary.items():
            names[row] = gram
        return names

    def _vector(self, text: str) -> tuple[list[int], Floats]:
        return tfidf(text, self.vocabulary, self.idf, self.longest)

    def probabilities(self, text: str) -> Floats:
        """Each category's probability for one sentence of normalised text."""
        probabilities: Floats = self.probabilities_of([text])[0]
        return probabilities

    def probabilities_of(self, texts: Sequence[str]) -> Floats:
        """(texts, categories): each category's probability for each sentence."""
        z = np.tile(self.intercepts, (len(texts), 1))
        for i, text in enumerate(texts):
            rows, values = self._vector(text)
            if rows:
                z[i] += values @ self.weights[rows]
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def evidence(self, text: str, category: str, top: int = 3) -> tuple[str, ...]:
        """The n-grams of `text` that weighed most for `category`, heaviest first."""
        rows, values = self._vector(text)
        if not rows:
            return ()
        column = self.categories.index(category)
        share = values * self.weights[rows, column]
        order = [i for i in np.argsort(-share) if share[i] > 0]
        picked: list[str] = []
        for i in order:
            gram = self._names[rows[i]]
            if any(gram in kept for kept in picked):
                continue  # 血糖 says all that 血 would
            picked = [kept for kept in picked if kept not in gram] + [gram]
            if len(picked) == top:
                break
        return tuple(picked)


def load_model(path: Path, known_categories: Sequence[str]) -> LearnedModel:
    """Read a model file; a malformed one raises LexiconError naming the file and line."""
    name = str(path)
    try:
        raw = path.read_bytes()
        lines = raw.decode("utf-8").split("\n")
    except OSError as exc:
        raise LexiconError(name, None, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LexiconError(name, None, f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if len(lines) < 4 or lines[0] != FORMAT:
        raise LexiconError(name, 1, f"not a learned model (the first line must be {FORMAT!r})")
    try:
        settings = dict(field.split("=", 1) for field in lines[1].split("\t"))
        threshold, longest = float(settings["threshold"]), int(settings["longest"])
    except (KeyError, ValueError) as exc:
        raise LexiconError(name, 2, "line 2 must give threshold=P and longest=N") from exc
    if not 0.0 < threshold < 1.0 or not 1 <= longest <= 5:
        raise LexiconError(name, 2, "threshold must lie in (0, 1) and longest in 1..5")
    head = lines[2].split("\t")
    if head[:2] != ["gram", "idf"] or len(head) < 3:
        raise LexiconError(name, 3, "line 3 must be: gram, idf, then one column per category")
    categories = tuple(head[2:])
    for category in categories:
        if category not in known_categories:
            raise LexiconError(name, 3, f"unknown category {category!r}")
    vocabulary: dict[str, int] = {}
    numbers: list[list[float]] = []
    intercepts: list[float] | None = None
    for number, line in enumerate(lines[3:], 4):
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != len(head):
            raise LexiconError(name, number, f"expected {len(head)} columns, got {len(cells)}")
        try:
            row = [float(c) for c in cells[1:]]
        except ValueError as exc:
            raise LexiconError(name, number, f"not a number: {exc}") from exc
        if not all(math.isfinite(v) for v in row):
            raise LexiconError(name, number, "numbers must be finite")
        if cells[0] == "":  # the intercepts' row: no n-gram
            intercepts = row[1:]
            continue
        if cells[0] in vocabulary:
            raise LexiconError(name, number, f"n-gram {cells[0]!r} twice")
        vocabulary[cells[0]] = len(numbers)
        numbers.append(row)
    if intercepts is None or not numbers:
        raise LexiconError(name, None, "the model needs n-gram rows and an intercepts row")
    table = np.array(numbers, dtype=np.float64)
    return LearnedModel(
        categories=categories,
        threshold=threshold,
        longest=longest,
        vocabulary=vocabulary,
        idf=table[:, 0],
        weights=table[:, 1:],
        intercepts=np.array(intercepts, dtype=np.float64),
        version=hashlib.sha256(raw).hexdigest()[:16],
    )


def write_model(model: LearnedModel, path: Path) -> None:
    """Write the model file atomically (a crash leaves the old one)."""
    lines = [
        FORMAT,
        f"threshold={model.threshold:g}\tlongest={model.longest}",
        "\t".join(["gram", "idf", *model.categories]),
        "\t".join(["", "0", *(f"{b:.4f}" for b in model.intercepts)]),
    ]
    for gram, row in sorted(model.vocabulary.items(), key=lambda item: item[1]):
        cells = (f"{w:.3f}".rstrip("0").rstrip(".") or "0" for w in model.weights[row])
        lines.append("\t".join([gram, f"{model.idf[row]:.4f}", *cells]))
    write_atomic(path, "\n".join(lines) + "\n")


def train(
    texts: Sequence[str],
    labels: Sequence[frozenset[str]],
    categories: Sequence[str],
    threshold: float,
    strength: float = 3.0,
    steps: int = 400,
    min_rows: int = 2,
) -> LearnedModel:
    """One-vs-rest logistic regressions on tf-idf character n-grams (texts already normalised).

    Each category's classes are weighted to balance (few rows are claims of any one category);
    `strength` is the inverse of the L2 penalty, as C in scikit-learn. Full-batch Adam: the data
    are a few thousand short rows.
    """
    df: Counter[str] = Counter(g for text in texts for g in grams(text))
    kept = sorted(g for g, n in df.items() if n >= min_rows)
    vocabulary = {g: i for i, g in enumerate(kept)}
    n = len(texts)
    idf = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in kept])
    rows: list[int] = []
    cols: list[int] = []
    vals: list[Floats] = []
    for r, text in enumerate(texts):
        known, values = tfidf(text, vocabulary, idf, LONGEST_GRAM)
        rows += [r] * len(known)
        cols += known
        vals.append(values)
    row_of, col_of, value = np.array(rows), np.array(cols), np.concatenate(vals)
    y = np.array([[c in label for c in categories] for label in labels], dtype=np.float64)
    positives = y.sum(axis=0).clip(1, n - 1)
    # Balanced weights: each class of each category weighs half of the whole.
    sample = np.where(y == 1, n / (2 * positives), n / (2 * (n - positives)))
    w = np.zeros((len(kept), len(categories)))
    b = np.zeros(len(categories))
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    rate, beta1, beta2 = 0.1, 0.9, 0.999
    for step in range(1, steps + 1):
        z = np.zeros((n, len(categories)))
        np.add.at(z, row_of, value[:, None] * w[col_of])
        z += b
        p = 1.0 / (1.0 + np.exp(-z))
        g = sample * (p - y)  # d loss / d z, per row and category
        grad_w = np.zeros_like(w)
        np.add.at(grad_w, col_of, value[:, None] * g[row_of])
        grad_w = strength * grad_w + w
        grad_b = strength * g.sum(axis=0)
        m_w = beta1 * m_w + (1 - beta1) * grad_w
        v_w = beta2 * v_w + (1 - beta2) * grad_w**2
        m_b = beta1 * m_b + (1 - beta1) * grad_b
        v_b = beta2 * v_b + (1 - beta2) * grad_b**2
        correction = math.sqrt(1 - beta2**step) / (1 - beta1**step)
        w -= rate * correction * m_w / (np.sqrt(v_w) + 1e-8)
        b -= rate * correction * m_b / (np.sqrt(v_b) + 1e-8)
    return LearnedModel(
        categories=tuple(categories),
        threshold=threshold,
        longest=LONGEST_GRAM,
        vocabulary=vocabulary,
        idf=idf,
        weights=w,
        intercepts=b,
        version="",
    )
