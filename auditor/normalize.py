"""Text normalisation for matching, keeping a map from every output character to its source.

Both the transcript and the lexicon's terms pass through `normalize`, so a term matches however it
was written or heard: traditional or simplified, full- or half-width, with spaces or punctuation
inside, with spoken (三百九十九, 百分之百) or written (399, 100%) numbers, in any letter case.
A newline is kept: it is a hard boundary (one utterance per line) that no term crosses.

The work is done by OpenCC, str.translate and one regular expression, not a loop per character:
scanning a year of transcripts must take seconds.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

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
_KEEP_SYMBOLS = "%+\n"
_PERCENT_PREFIX = "百分之"


@dataclass(frozen=True)
class Normalized:
    text: str
    starts: npt.NDArray[np.int64]  # for each character of `text`, where its source begins
    ends: npt.NDArray[np.int64]  # ... and where it ends (exclusive) in the original string
    simplified: str = ""  # the original in simplified characters, same length and offsets

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span [a, b) that produced normalised characters [start, end)."""
        return int(self.starts[start]), int(self.ends[end - 1])


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _simplify(text: str) -> str:
    # OpenCC takes UTF-8: a lone surrogate (from a broken decode) becomes U+FFFD, one for one.
    text = _SURROGATE.sub("\ufffd", text)
    converted: str = _t2s().convert(text)
    if len(converted) == len(text):
        return converted
    # Phrase conversions can change length; fall back to one character at a time to keep offsets.
    return "".join(c if len(c) == 1 else ch for ch, c in ((ch, _t2s().convert(ch)) for ch in text))


@lru_cache(maxsize=1)
def _fold_lut() -> npt.NDArray[np.uint32]:
    """Code point -> folded code point: full-width and compatibility forms to plain, upper case to
    lower case (only where that is one character for one), Chinese digits to digits."""
    lut = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    for code in range(0x20, 0x10000):
        ch = chr(code)
        folded = unicodedata.normalize("NFKC", ch).lower()
        if len(folded) == 1 and folded != ch:
            lut[code] = ord(folded)
    # 二零二四 -> 2024 and 第一 -> 第1 one for one; runs with units (三百九十九) are parsed later.
    for digit, value in _CN_DIGITS.items():
        lut[ord(digit)] = ord(str(value))
    return lut


@lru_cache(maxsize=1)
def _drop_lut() -> npt.NDArray[np.bool_]:
    """True for punctuation, spaces, controls and symbols (not % + or newline): never in a term."""
    lut = np.zeros(sys.maxunicode + 1, dtype=np.bool_)
    for code in range(0x30000):  # the planes that have assigned punctuation and symbols
        if unicodedata.category(chr(code))[0] in "PZCS":
            lut[code] = True
    lut[0xE0000:] = True  # tags, variation selectors and private use: never part of a term
    for keep in _KEEP_SYMBOLS:
        lut[ord(keep)] = False
    return lut


def _codes(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _text(codes: npt.NDArray[np.uint32]) -> str:
    return codes.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


_UNITS = "".join(_CN_UNITS)
# A numeral run that needs parsing: it holds a unit (三百九十九 after digit folding: 3百9十9), or
# follows 百分之. Plain digit runs need nothing. 百分之百 ends its run: with the space between
# gone, 百分之百 一个差评 must not read as 110% 个差评 (a hundred and ten is 百分之一百一十).
_NUMBER_RUN = re.compile(f"百分之百|百分百|百分之[0-9{_UNITS}]+|[0-9]*[{_UNITS}][0-9{_UNITS}]*")


@lru_cache(maxsize=4096)
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
            after_unit = j - i == 1 and i > 0 and run[i - 1] in _CN_UNITS
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
    codes = _fold_lut()[_codes(simplified)]
    # 1. Drop punctuation, spaces and symbols; keep where each remaining character came from.
    kept = np.flatnonzero(~_drop_lut()[codes])
    compact = _text(codes[kept])
    starts = kept.astype(np.int64)
    ends = starts + 1
    # 2. Parse numeral runs with units (三百九十九 -> 399) in what is left, so that a run split by
    #    a space reads as one number and normalising twice changes nothing.
    runs: list[tuple[int, int, int]] = []  # (start, end, length written) in `compact`

    def number(token: re.Match[str]) -> str:
        piece = token.group()
        if piece == "百分百":  # spoken for 百分之百
            runs.append((token.start(), token.end(), 4))
            return "100%"
        percent = piece.startswith(_PERCENT_PREFIX)
        value = chinese_number_value(piece[3:] if percent else piece, bare_unit=percent)
        if value is None:
            return piece  # units alone are words (百货, 千万别): left as they are
        emitted = f"{value}%" if percent else str(value)
        runs.append((token.start(), token.end(), len(emitted)))
        return emitted

    text = _NUMBER_RUN.sub(number, compact)
    if not runs:
        return Normalized(compact, starts, ends, simplified)
    # Every character written for a run maps to the run's whole source span. Done with index
    # arrays, not per run: a year of transcripts holds millions of prices.
    first, last, length = (np.array(column, dtype=np.int64) for column in zip(*runs, strict=True))
    copies = np.ones(len(compact), dtype=np.int64)
    inside = np.zeros(len(compact) + 1, dtype=np.int64)
    np.add.at(inside, first + 1, 1)
    np.add.at(inside, last, -1)
    copies[np.cumsum(inside[:-1]) > 0] = 0
    copies[first] = length
    last_of = np.arange(len(compact), dtype=np.int64)
    last_of[first] = last - 1
    new_starts = np.repeat(starts, copies)
    new_ends = np.repeat(ends[last_of], copies)
    assert new_starts.shape[0] == len(text)
    return Normalized(text, new_starts, new_ends, simplified)


@lru_cache(maxsize=65536)
def normalize_term(term: str) -> str:
    return normalize(term).text
