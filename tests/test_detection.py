"""Detection measured, not hoped: precision and recall on labelled text and on real speech."""

from __future__ import annotations

import pytest

from auditor.detect import confidence
from auditor.lexicon import load_lexicon
from auditor.scan import Scanner
from scripts.eval import evaluate_clips, evaluate_text
from tests.conftest import DATA


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(load_lexicon())


def test_development_set_precision_and_recall() -> None:
    score = evaluate_text(DATA / "devset.tsv")
    precision, recall = score.micro()
    assert precision >= 0.95 and recall >= 0.95, score.table()


def test_held_out_set_stays_close() -> None:
    # Written without sight of the lexicon; the lexicon was never tuned on it. A guard against
    # overfitting the development set, at the level measured when it was written.
    score = evaluate_text(DATA / "heldout.tsv")
    precision, recall = score.micro()
    assert precision >= 0.93 and recall >= 0.88, score.table()


def test_real_claims_stay_at_the_level_measured() -> None:
    # Claims quoted from real public cases (tests/data/real/README.md). The held-out part was
    # never tuned on; its figures (P 0.848, R 0.580 on 2026-12-03; 0.861 / 0.585 on 2026-12-07
    # and 2026-12-08)
    # are below the target of 0.90 / 0.80: this guards them against falling further, it does
    # not claim the target.
    dev = evaluate_text(DATA / "real" / "dev.tsv").micro()
    held_out = evaluate_text(DATA / "real" / "heldout.tsv").micro()
    assert dev[0] >= 0.93 and dev[1] >= 0.70, dev
    assert held_out[0] >= 0.84 and held_out[1] >= 0.56, held_out


def test_end_to_end_on_speech_clips() -> None:
    """The 24 shared clips through the real `auditor audit`: recall >= 0.85, <= 1 false finding."""
    score = evaluate_clips(DATA / "zh_tts")
    _, recall = score.micro()
    assert recall >= 0.85, score.table()
    assert sum(score.fp.values()) <= 1, score.table()


def _found(scanner: Scanner, text: str) -> list[tuple[str, str, str]]:
    return [(m.category, text[m.start : m.end], m.kind) for m in scanner.scan(text)]


@pytest.mark.parametrize(
    ("heard", "category", "term"),
    [
        ("跟着老师投资文賺不賠", "finance.guarantee", "稳赚不赔"),
        ("我们老师是命体组的 押题很准", "education.guarantee", "命题组"),
        ("这个保健品可以妨礙 老人家一定要吃", "food.disease_claim", "防癌"),
        ("我们调打所有大牌", "conduct.disparage", "吊打"),
        ("这个手工雕刻全世界獨一五二", "absolute.superlative", "独一无二"),
        ("这个摆件可以閉鞋震窄 放在家里", "superstition", "辟邪"),
        ("这个药酒喝了要到病除", "medical.efficacy", "药到病除"),
        ("这个洗发水可以生化 头发长得快", "cosmetics.special_claim", "生发"),
        ("这是我用过醉好用的气垫", "absolute.superlative", "最好用"),
        ("这个价格是全网最底价", "price.fake_reference", "全网最低价"),
    ],
)
def test_sound_alikes_are_found(scanner: Scanner, heard: str, category: str, term: str) -> None:
    hits = [m for m in scanner.scan(heard) if m.category == category]
    assert hits, _found(scanner, heard)
    assert any(m.kind == "sound-alike" and m.term is not None for m in hits)
    sound = next(m for m in hits if m.kind == "sound-alike")
    assert heard[sound.start : sound.end] != sound.term  # matched is what was heard


@pytest.mark.parametrize(
    "text",
    [
        "这个枕头很软，不会妨碍你休息",
        "我大学学的是生化实验",
        "我们去文化馆看展览",
        "他今天喝醉了好难受",
    ],
)
def test_sound_alikes_need_support(scanner: Scanner, text: str) -> None:
    assert scanner.scan(text) == []


def test_a_sure_recogniser_vetoes_a_bare_sound_alike(scanner: Scanner) -> None:
    text = "这个独一五二的设计"
    assert any(m.kind == "sound-alike" for m in scanner.scan(text))
    assert scanner.scan(text, probabilities=[0.99] * len(text)) == []
    assert scanner.scan(text, probabilities=[0.4] * len(text)) != []


def test_sound_alike_confidence_is_lower_and_rises_with_doubt() -> None:
    assert confidence("sound-alike", 0.9) < confidence("variant", 0.9) < confidence("exact", 0.9)
    assert confidence("sound-alike", 0.3) > confidence("sound-alike", 0.9)
    assert confidence("sound-alike", 0.5, True) > confidence("sound-alike", 0.5, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("快递已经打包过程很快", []),  # 包过 straddles 打包 / 过程
        ("这个招财猫造型的存钱罐", []),  # 招财 inside 招财猫
        ("这款身体乳能溶脂燃脂", ["cosmetics.special_claim"]),  # 能 / 溶脂
        ("这个艾草贴可以活血化瘀", ["medical.claim"]),  # an idiom carries the claim
        ("这是市面上最便宜的", ["absolute.superlative"]),  # 最 + adjective
        ("这款是今年最流行的", ["absolute.superlative"]),
        ("这是最新款", []),
        ("最近很多人问", []),
        ("这个冬天最冷的时候", []),
    ],
)
def test_words_not_strings(scanner: Scanner, text: str, expected: list[str]) -> None:
    assert sorted({m.category for m in scanner.scan(text)}) == expected


def test_product_category_turns_rules_on_and_exemptions() -> None:
    lexicon = load_lexicon()
    general, drug, cosmetics = (Scanner(lexicon, p) for p in ("general", "drug", "cosmetics"))
    assert general.scan("这款药品热销中") == []
    assert [m.category for m in drug.scan("这款药品热销中")] == ["medical.claim"]
    assert [m.category for m in general.scan("这个药膏可以消炎")] == ["medical.claim"]
    assert drug.scan("这个药膏可以消炎") == []  # registered drugs may state their indication
    assert [m.category for m in drug.scan("吃了药到病除")] == ["medical.efficacy"]  # never allowed
    [plain] = general.scan("这款面霜效果最好")
    [strict] = cosmetics.scan("这款面霜效果最好")
    assert (plain.severity, strict.severity) == ("medium", "high")
