"""The learned model (auditor.learned): trained, written, read back and validated; found claims
carry their evidence; `--learned` turns it on and `disable = ["learned"]` off; and its figures on
the real held-out rows and the real recordings."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from auditor.errors import LexiconError
from auditor.learned import grams, load_model, train, write_model
from auditor.lexicon import LEARNED_SWITCH, load_lexicon
from auditor.normalize import normalize
from auditor.scan import Scanner
from scripts.eval import evaluate_text, learned_lexicon
from tests.conftest import DATA, run_cli

CATEGORIES = ["superstition", "finance.guarantee"]
ROWS = [
    ("这个摆件能镇宅辟邪", {"superstition"}),
    ("戴上这个手串能转运", {"superstition"}),
    ("放在家里风水特别好", {"superstition"}),
    ("跟着老师投资稳赚", {"finance.guarantee"}),
    ("每个月都有固定收益", {"finance.guarantee"}),
    ("投资这个项目躺着赚钱", {"finance.guarantee"}),
    ("今天天气很好", set()),
    ("大家可以看一下颜色", set()),
    ("这个杯子很好看", set()),
    ("一号链接已经上了", set()),
]


def _tiny() -> tuple[list[str], list[frozenset[str]]]:
    return [normalize(t).text for t, _ in ROWS], [frozenset(c) for _, c in ROWS]


def test_training_learns_the_words_of_each_category() -> None:
    texts, labels = _tiny()
    model = train(texts, labels, CATEGORIES, threshold=0.5, min_rows=1)
    superstition, finance = (
        model.probabilities(normalize(t).text) for t in ("镇宅转运", "稳赚收益")
    )
    assert superstition[0] > 0.5 > superstition[1]
    assert finance[1] > 0.5 > finance[0]
    assert max(model.probabilities(normalize("今天大家看一下").text)) < 0.5
    assert any("镇宅" in g for g in model.evidence(normalize("这个能镇宅").text, "superstition"))


def test_a_model_reads_back_as_it_was_written(tmp_path: Path) -> None:
    texts, labels = _tiny()
    model = train(texts, labels, CATEGORIES, threshold=0.6, min_rows=1)
    path = tmp_path / "model.tsv"
    write_model(model, path)
    again = load_model(path, CATEGORIES)
    assert again.threshold == 0.6 and again.categories == tuple(CATEGORIES)
    sentence = normalize("跟着老师镇宅").text
    assert np.allclose(again.probabilities(sentence), model.probabilities(sentence), atol=1e-2)
    assert again.version and again.version == load_model(path, CATEGORIES).version


def test_sentences_scored_together_score_as_one_by_one() -> None:
    texts, labels = _tiny()
    model = train(texts, labels, CATEGORIES, threshold=0.5, min_rows=1)
    sentences = ["镇宅转运", "", "qqq", "稳赚收益", "qqq", "今天大家看一下"]  # some know no n-gram
    together = model.probabilities_of([normalize(t).text for t in sentences])

    def alone(text: str) -> np.ndarray:  # tf-idf, l2 norm, logistic: written out again
        counts = {g: c for g, c in grams(text).items() if g in model.vocabulary}
        z = model.intercepts.copy()
        if counts:
            rows = [model.vocabulary[g] for g in counts]
            x = np.array([1 + math.log(c) for c in counts.values()]) * model.idf[rows]
            z += (x / np.linalg.norm(x)) @ model.weights[rows]
        return 1 / (1 + np.exp(-z))

    one_by_one = np.array([alone(normalize(t).text) for t in sentences])
    assert together.shape == (len(sentences), len(CATEGORIES))
    assert np.allclose(together, one_by_one)
    assert np.allclose(together[1], 1 / (1 + np.exp(-model.intercepts)))  # nothing but the bias


@pytest.mark.parametrize(
    ("lines", "line", "problem"),
    [
        (["a model?"], 1, "not a learned model"),
        (
            ["auditor-learned 1", "threshold=2\tlongest=3", "gram\tidf\tsuperstition", "\t0\t0"],
            2,
            "threshold must lie in",
        ),
        (
            ["auditor-learned 1", "threshold=0.8\tlongest=3", "gram\tidf\tmagic", "\t0\t0"],
            3,
            "unknown category 'magic'",
        ),
        (
            [
                "auditor-learned 1",
                "threshold=0.8\tlongest=3",
                "gram\tidf\tsuperstition",
                "\t0\t0",
                "风水\t1.5",
            ],
            5,
            "expected 3 columns",
        ),
        (
            [
                "auditor-learned 1",
                "threshold=0.8\tlongest=3",
                "gram\tidf\tsuperstition",
                "\t0\t0",
                "风水\t1.5\tlots",
            ],
            5,
            "not a number",
        ),
    ],
)
def test_a_malformed_model_names_file_and_line(
    tmp_path: Path, lines: list[str], line: int, problem: str
) -> None:
    path = tmp_path / "model.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LexiconError) as caught:
        load_model(path, CATEGORIES)
    assert caught.value.path == str(path) and caught.value.line == line
    assert problem in str(caught.value)


# A claim in words no rule names (made up here, not a row of the sets).
UNNAMED = "吃了我们家的粉，胃胀便秘都少了"


def test_the_model_is_off_unless_asked_for(tmp_path: Path) -> None:
    plain, learned = load_lexicon(), learned_lexicon()
    assert plain.learned is None and learned.learned is not None
    assert plain.version != learned.version  # findings of the two are told apart in the store
    assert not Scanner(plain, "food").scan(UNNAMED)
    off = tmp_path / "off.toml"
    off.write_text('disable = ["learned"]\n', encoding="utf-8")
    assert load_lexicon([LEARNED_SWITCH, off]).learned is None


def test_a_learned_finding_says_which_words_weighed() -> None:
    stdin = UNNAMED + "\n大家好，欢迎来到直播间\n"
    done = run_cli("scan-text", "-", "--format", "jsonl", "--learned", "--product-category",
                   "food", "--fail-on", "never", stdin=stdin)  # fmt: skip
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["line"] for r in rows] == [1], rows  # nothing in the greeting
    [row] = rows
    assert row["match"] == "learned" and row["rule"] == "food.disease_claim/learned"
    assert row["why"]["model"] == "learned" and row["why"]["evidence"]
    assert row["matched"] == UNNAMED  # the sentence, punctuation trimmed
    assert run_cli("scan-text", "-", "--format", "jsonl", "--product-category", "food",
                   stdin=UNNAMED + "\n").stdout == ""  # fmt: skip


def test_the_model_adds_real_claims_at_the_level_measured() -> None:
    # Trained on development rows only; the real held-out rows were measured once, after the
    # settings were chosen on the fourth gathering (scripts/train_learned.py --validate):
    # 0.803 / 0.675 with the model against 0.848 / 0.580 for the rules alone (2026-12-03);
    # 0.809 / 0.679 after retraining with the sixth gathering; 0.820 / 0.689 against 0.861 /
    # 0.585 after the eighth, 0.817 / 0.693 after the ninth (2026-12-07), 0.828 / 0.703 after the
    # tenth (2026-12-08).
    rules = evaluate_text(DATA / "real" / "heldout.tsv").micro()
    both = evaluate_text(DATA / "real" / "heldout.tsv", learned_lexicon()).micro()
    assert both[1] >= rules[1] + 0.06, (rules, both)
    assert both[0] >= 0.78, both


def test_real_speech_gives_nothing_with_the_model() -> None:
    clips = sorted((DATA / "clips").glob("[BIT]*.wav"))
    assert len(clips) == 4
    done = run_cli("audit", "-q", "--format", "jsonl", "--learned", "--fail-on", "never",
                   *map(str, clips))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_committed_model_is_the_one_the_development_rows_train() -> None:
    # scripts/train_learned.py must be rerun whenever the development sets change.
    from scripts.train_learned import training_rows

    texts, labels, categories = training_rows()
    fresh = train(texts, labels, categories, threshold=0.8)
    committed = learned_lexicon().learned
    assert committed is not None
    assert committed.categories == fresh.categories
    # A bool, not the comparison: pytest's diff of two vocabularies of 15,000 n-grams takes
    # longer than CI waits.
    same_vocabulary = committed.vocabulary == fresh.vocabulary
    assert same_vocabulary, "lexicons/learned.tsv is stale: run scripts/train_learned.py"
    assert np.allclose(committed.weights, fresh.weights, atol=2e-3)
    assert np.allclose(committed.intercepts, fresh.intercepts, atol=2e-3)


def test_two_categories_the_goods_route_to_one_make_one_finding() -> None:
    # For a tea, a medical claim is a food disease claim: a model sure of both reports it once.
    # A made-up model in which only the two characters 晕好 together mark a claim.
    both = {"medical.claim", "food.disease_claim"}
    claims = ["喝完晕好", "吃完晕好", "泡水晕好", "这茶晕好"]
    clean = ["头很好", "晕车", "好了好了", "头发好了", "晕倒了", "喝完再说", "吃完饭", "泡水喝",
             "这茶好喝", "车好了", "很好吃", "晕了", "好看"]  # fmt: skip
    rows = [(t, both) for t in claims] + [(t, set()) for t in clean]
    model = train([normalize(t).text for t, _ in rows], [frozenset(c) for _, c in rows],
                  ["food.disease_claim", "medical.claim"], threshold=0.5, min_rows=1)  # fmt: skip
    lexicon = dataclasses.replace(load_lexicon(), learned=model)
    sentence = "现在晕好"
    assert all(p >= 0.5 for p in model.probabilities(normalize(sentence).text))
    found = [m for m in Scanner(lexicon, "food").scan(sentence) if m.kind == "learned"]
    assert [m.category for m in found] == ["food.disease_claim"]
    anywhere = [m for m in Scanner(lexicon, "general").scan(sentence) if m.kind == "learned"]
    assert sorted(m.category for m in anywhere) == ["food.disease_claim", "medical.claim"]
