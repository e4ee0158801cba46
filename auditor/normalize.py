"""Text normalisation for matching, keeping a map from every output character to its source.

Both the transcript and the lexicon's terms pass through `normalize`, so a term matches however it
was written or heard: traditional or simplified, full- or half-width, with spaces or punctuation
inside, with spoken (三百九十九, 百分之百) or written (399, 100%) numbers, in any letter case.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_NUMERAL_CHARS = frozenset(_CN_DIGITS) | frozenset(_CN_UNITS) | frozenset("0123456789")
_KEEP_SYMBOLS = frozenset("%+")
_PERCENT_PREFIX = "百分之"


@dataclass(frozen=True)
class Normalized:
    text: str
    starts: tuple[int, ...]  # for each character of `text`, where its source begins
    ends: tuple[int, ...]  # ... and where it ends (exclusive) in the original string

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span [a, b) that produced normalised characters [start, end)."""
        return self.starts[start], self.ends[end - 1]


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def _simplify(text: str) -> str:
    converted: str = _t2s().convert(text)
    if len(converted) == len(text):
        return converted
    # Phrase conversions can change length; fall back to one character at a time to keep offsets.
    return "".join(c if len(c) == 1 else ch for ch, c in ((ch, _t2s().convert(ch)) for ch in text))


def _fold_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded if len(folded) == 1 else ch.lower()


def _is_dropped(ch: str) -> bool:
    if ch in _KEEP_SYMBOLS:
        return False
    category = unicodedata.category(ch)
    return category[0] in "PZCS"  # punctuation, spaces, controls, symbols


def chinese_number_value(run: str, bare_unit: bool = False) -> int | None:
    """Value of a numeral run such as 三百九十九, 一百五, 3万, 十万; None when it is not a number.

    A run of units alone (百, 千万) is a word (百货, 千万别), not a number, unless it starts with
    十 (十万) or `bare_unit` says the context is numeric (the second 百 of 百分之百).
    """
    if not run:
        return None
    if not any(c in _CN_DIGITS or c.isdigit() for c in run) and not (bare_unit or run[0] == "十"):
        return None
    if not any(c in _CN_UNITS for c in run):
        if all(c in _CN_DIGITS for c in run) or all(c.isdigit() for c in run):
            return int("".join(str(_CN_DIGITS.get(c, c)) for c in run))
        return None
    total = section = number = 0
    last_unit = 0
    after_unit = False  # the current digit came straight after a unit: 一百五 is 150
    i = 0
    while i < len(run):
        c = run[i]
        if c.isdigit():
            j = i
            while j < len(run) and run[j].isdigit():
                j += 1
            number = int(run[i:j])
            i = j
            continue
        if c in _CN_DIGITS:
            number = _CN_DIGITS[c]
            after_unit = i > 0 and run[i - 1] in _CN_UNITS
        else:
            unit = last_unit = _CN_UNITS[c]
            after_unit = False
            if unit >= 10_000:
                section = (section + number) * unit if (section or number) else unit
                total += section
                section = 0
            else:
                section += (number or 1) * unit
            number = 0
        i += 1
    if after_unit and last_unit >= 100:
        number *= last_unit // 10
    return total + section + number


def normalize(text: str) -> Normalized:
    simplified = _simplify(text)
    folded = [_fold_char(c) for c in simplified]
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def emit(piece: str, a: int, b: int) -> None:
        out.extend(piece)
        starts.extend([a] * len(piece))
        ends.extend([b] * len(piece))

    i, n = 0, len(folded)
    while i < n:
        c = folded[i]
        if c in _NUMERAL_CHARS:
            percent = "".join(folded[i : i + 3]) == _PERCENT_PREFIX
            j = i + 3 if percent else i
            k = j
            while k < n and folded[k] in _NUMERAL_CHARS:
                k += 1
            value = chinese_number_value("".join(folded[j:k]), bare_unit=True)
            if percent and value is not None:
                emit(f"{value}%", i, k)
                i = k
                continue
            if not percent:
                run = "".join(folded[i:k])
                value = chinese_number_value(run)
                if value is not None and not run.isdigit():
                    emit(str(value), i, k)
                else:
                    for offset, ch in enumerate(run):
                        emit(ch, i + offset, i + offset + 1)
                i = k
                continue
        if not _is_dropped(c):
            emit(c, i, i + 1)
        i += 1
    return Normalized("".join(out), tuple(starts), tuple(ends))


def normalize_term(term: str) -> str:
    return normalize(term).text
