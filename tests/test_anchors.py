"""Pattern anchors: the literals read from a pattern are in every match, and scanning only the
lines that hold them finds exactly what running every pattern over the whole text finds; the
characters a pattern's matches can start with start every match, and skipping the windows that
hold none finds exactly what searching every window finds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.anchors import MIN_ANCHOR_LENGTH, first_characters, required_literals
from auditor.lexicon import load_lexicon
from auditor.normalize import normalize
from auditor.scan import Scanner, _Bounds

DATA = Path(__file__).parent / "data"
LEXICON = load_lexicon()
PATTERNS = [p for rule in LEXICON.rules for p in rule.patterns]
CLASS_PATTERNS = [p for word_class in LEXICON.classes.values() for p in word_class.patterns]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("年化(收益|回报)率?", {"年化收益", "年化回报", "年化收益率", "年化回报率"}),
        (r"\d+人(都)?在抢", {"人在抢", "人都在抢"}),
        (r"差评.{0,4}删(掉|除)", {"差评"}),  # the longer of the two literal runs
        (r"(好|坏)\d+(天见效|周见效)", {"天见效", "周见效"}),
        (r"(?i)abc", None),  # ignores case: the literal could be written otherwise
        (r"\d+(天|周)", None),  # one character: would hit nearly every line
        (r"最.*", None),
        (r"(甲乙|\d+)丙", None),  # one alternative has no literal
    ],
)
def test_literals_read_from_a_pattern(pattern: str, expected: set[str] | None) -> None:
    found = required_literals(re.compile(pattern))
    assert (set(found) if found is not None else None) == expected


def test_most_lexicon_patterns_get_an_anchor() -> None:
    anchored = [p for p in PATTERNS if required_literals(p) is not None]
    assert len(anchored) >= 0.8 * len(PATTERNS)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.pattern[:24])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_holds_one_of_the_literals(
    pattern: re.Pattern[str], data: st.DataObject
) -> None:
    literals = required_literals(pattern)
    if literals is None:
        return
    assert min(map(len, literals)) >= MIN_ANCHOR_LENGTH
    text = data.draw(st.from_regex(pattern, fullmatch=True))
    match = pattern.search(text)
    assert match is not None
    assert any(literal in match.group() for literal in literals), (text, sorted(literals))


def test_anchored_patterns_find_what_a_full_run_finds() -> None:
    """Every pattern over the whole labelled corpus, against the scanner's anchored run."""
    lines = []
    for name in ("devset.tsv", "heldout.tsv"):
        for row in (DATA / name).read_text(encoding="utf-8").splitlines()[1:]:
            lines.append(row.split("\t")[2])
    text = "\n".join(lines)
    norm = normalize(text)
    scanner = Scanner(LEXICON)
    _, _, anchored, _ = scanner._terms(text, norm)
    got = {(m.rule.id, m.norm_start, m.norm_end) for m in scanner._patterns(text, norm, anchored)}
    want = {
        (rule.id, m.start(), m.end())
        for rule in scanner._rules  # the rules for the scanner's goods
        for pattern in rule.patterns
        for m in pattern.finditer(norm.text)
        if m.end() > m.start()
    }
    assert want, "the labelled sets hold pattern claims"
    assert got == want


@pytest.mark.parametrize(
    ("pattern", "starts", "others"),
    [
        (r"\d+元", "7", "元a"),
        (r"(好)?几(百|千)", "好几", "百千"),
        (r"(?=x)y|z", "yz", "x"),  # a look-ahead starts nothing
        (r"a?b", "ab", "c"),  # an optional element: what follows may start
        (r"[a-c\d]x", "ab3", "dx"),
        (r"[\]^-]", "]^-", "a"),  # characters special in a class
    ],
)
def test_first_characters_read_from_a_pattern(pattern: str, starts: str, others: str) -> None:
    first = first_characters(re.compile(pattern))
    assert first is not None
    assert all(first.fullmatch(c) for c in starts)
    assert not any(first.fullmatch(c) for c in others)


@pytest.mark.parametrize("pattern", [r".*", r"(ab)*", r"[^a]b", r"\w+", r"(?i)a", r"^"])
def test_first_characters_unknown(pattern: str) -> None:
    assert first_characters(re.compile(pattern)) is None  # anything, or nothing, may start


@pytest.mark.parametrize("pattern", PATTERNS + CLASS_PATTERNS, ids=lambda p: p.pattern[:24])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_starts_with_one_of_the_first_characters(
    pattern: re.Pattern[str], data: st.DataObject
) -> None:
    first = first_characters(pattern)
    if first is None:
        return
    text = data.draw(st.from_regex(pattern, fullmatch=True))
    match = pattern.search(text)
    assert match is not None
    if match.end() > match.start():
        assert first.match(text, match.start()), (text, first.pattern)


def test_class_figures_found_with_first_characters_as_without() -> None:
    """Combinations over the whole labelled corpus, with the figure patterns' first characters
    and with every window searched."""
    lines = []
    for name in ("devset.tsv", "heldout.tsv"):
        for row in (DATA / name).read_text(encoding="utf-8").splitlines()[1:]:
            lines.append(row.split("\t")[2])
    lines += [
        row.split("\t")[3]
        for name in ("dev.tsv", "heldout.tsv")
        for row in (DATA / "real" / name).read_text(encoding="utf-8").splitlines()[1:]
    ]
    text = "\n".join(lines)
    norm = normalize(text)
    scanner = Scanner(LEXICON)
    assert any(first is not None for p in scanner._class_patterns.values() for _, first in p)
    _, _, _, words = scanner._terms(text, norm)

    def combinations() -> set[tuple[str, int, int]]:
        found = scanner._combinations(text, norm, words, _Bounds(text, norm))
        return {(m.rule.id, m.norm_start, m.norm_end) for m in found}

    with_first = combinations()
    scanner._class_patterns = {
        c: tuple((p, None) for p, _ in patterns) for c, patterns in scanner._class_patterns.items()
    }
    assert with_first and with_first == combinations()
