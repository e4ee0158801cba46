"""How alike two runs of Mandarin syllables sound: a weighted edit distance over syllables, each
an (initial, final, tone), with what recognisers confuse costing little.

`auditor.phonetic` merges the usual fuzzy-pinyin classes into one key, which finds 稳赚 heard as
文赚 but not a final or initial outside those classes (t/k, j/q/x, ian/uan, ia/iao) nor a syllable
the recogniser dropped or added. Here each difference has a cost (CONFUSION, below): the scanner
takes a window of heard syllables whose distance to a lexicon term is small as a sound-alike
candidate, and `auditor.verify` asks the recogniser whether the term fits the audio.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from auditor.readings import first_readings, phrase_readings

_INITIALS = (
    "zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r",
    "z", "c", "s",
)  # fmt: skip

# Costs of one initial or final heard as another, symmetric, from 0 (the same) to 1. The pairs are
# the confusion classes of Mandarin speech recognition (issue 14), and what the default model got
# wrong on the hard media (docs/soundalike-errors.md, counted there): retroflex and flat initials,
# n/l, f/h, the palatals j/q/x, aspirated and plain stops, the labials b/p/m/f/w (music and codecs
# blur them), an initial l before a bare final, front and back nasal finals, a nasal coda dropped.
# Anything else costs OTHER_INITIAL or OTHER_FINAL: a different sound, not a mishearing.
CONFUSION: dict[frozenset[str], float] = {
    frozenset(pair): cost
    for pairs, cost in (
        ((("zh", "z"), ("ch", "c"), ("sh", "s")), 0.2),
        ((("n", "l"), ("f", "h")), 0.25),
        ((("j", "q"), ("q", "x"), ("j", "x"), ("b", "f"), ("b", "p"), ("m", "n")), 0.3),
        ((("t", "k"), ("d", "t"), ("g", "k"), ("d", "g"), ("b", "m"), ("b", "w")), 0.35),
        ((("zh", "j"), ("ch", "q"), ("sh", "x"), ("r", "l"), ("h", "k"), ("ch", "t")), 0.45),
        ((("m", "l"), ("b", "d"), ("", "l"), ("f", "p")), 0.45),
        ((("", "y"), ("", "w")), 0.2),
        # finals
        ((("an", "ang"), ("en", "eng"), ("in", "ing"), ("ian", "iang"), ("uan", "uang")), 0.2),
        ((("ian", "uan"), ("ia", "iao"), ("in", "en"), ("ing", "eng"), ("eng", "ong")), 0.3),
        ((("i", "in"), ("i", "ing"), ("e", "en"), ("e", "eng"), ("ou", "uo"), ("ua", "uan")), 0.3),
        ((("i", "v"), ("u", "v"), ("e", "uo"), ("o", "uo"), ("ie", "ve"), ("ai", "ei")), 0.35),
        ((("an", "ian"), ("ao", "iao"), ("ou", "iu"), ("ui", "ei"), ("un", "en")), 0.4),
        ((("ai", "an"), ("ao", "ou"), ("an", "in"), ("ong", "ou"), ("iang", "iao")), 0.4),
    )
    for pair in pairs
}
OTHER_INITIAL = 0.6
OTHER_FINAL = 0.7
# Tones are a weak signal: recognisers and fast speech blur them.
TONE = 0.1
# A syllable heard that was not said, or said and not heard.
INDEL = 0.6


@dataclass(frozen=True)
class Syllable:
    initial: str  # "" for none (an, e, yi is "y" + "i")
    final: str
    tone: int  # 1-4, 5 for the neutral tone, 0 unknown
    # A small number for (initial, final, tone), so that `distance` looks pair costs up by an int
    # (hashing two syllables for each cell of its table was most of a scan's time).
    code: int = field(init=False, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        parts = (self.initial, self.final, self.tone)
        code = _CODES.get(parts)
        if code is None:
            # Under the lock: two threads (two audits of a batch worker) interning two new
            # syllables at once would otherwise both read one len() and share a code.
            with _CODES_LOCK:
                code = _CODES.setdefault(parts, len(_CODES))
        object.__setattr__(self, "code", code)

    def __reduce__(self) -> tuple[type[Syllable], tuple[str, str, int]]:
        # Codes are this process's: another process interns the syllable again.
        return Syllable, (self.initial, self.final, self.tone)


_CODES: dict[tuple[str, str, int], int] = {}
_CODES_LOCK = threading.Lock()
_SPAN = 1 << 20  # more syllables than Mandarin has, with tones
_PAIR_COSTS: dict[int, float] = {}  # a.code * _SPAN + b.code -> substitution(a, b)


@lru_cache(maxsize=4096)
def syllable(pinyin: str) -> Syllable:
    """A syllable from pinyin with a tone number (`zhuan4`) or tone marks (`zhuàn`)."""
    import unicodedata

    tone = 0
    plain = []
    for ch in unicodedata.normalize("NFD", pinyin.lower()):
        mark = {"\u0304": 1, "\u0301": 2, "\u030c": 3, "\u0300": 4}.get(ch)
        if mark:
            tone = mark
        elif unicodedata.combining(ch) and ch == "\u0308":
            plain.append("v")  # ü
        elif ch.isdigit():
            tone = int(ch)
        elif not unicodedata.combining(ch):
            plain.append(ch)
    text = "".join(plain).replace("u\u0308", "v").replace("uv", "v").replace("ü", "v")
    initial = next((i for i in _INITIALS if text.startswith(i) and len(text) > len(i)), "")
    if not initial and text[:1] in ("y", "w"):
        initial = text[0]
    final = text[len(initial) :]
    return Syllable(initial, final, tone)


def _pair(a: str, b: str, other: float) -> float:
    if a == b:
        return 0.0
    return CONFUSION.get(frozenset((a, b)), other)


def substitution(a: Syllable, b: Syllable) -> float:
    """The cost of syllable `a` heard as `b`: initial, final and tone differences, at most 1."""
    cost = _pair(a.initial, b.initial, OTHER_INITIAL) + _pair(a.final, b.final, OTHER_FINAL)
    if a.tone and b.tone and a.tone != b.tone:
        cost += TONE
    return min(1.0, cost)


def distance(said: Sequence[Syllable], heard: Sequence[Syllable], limit: float = math.inf) -> float:
    """Weighted edit distance between two syllable runs (substitutions, insertions, deletions);
    `math.inf` as soon as it must exceed `limit` (every alignment crosses every row of the table
    and no step costs less than nothing, so the distance is at least each row's least value)."""
    costs = _PAIR_COSTS
    previous = [j * INDEL for j in range(len(heard) + 1)]
    for i, a in enumerate(said, 1):
        row = [i * INDEL]
        base = a.code * _SPAN
        for j, b in enumerate(heard, 1):
            cost = costs.get(base + b.code)
            if cost is None:
                cost = costs[base + b.code] = substitution(a, b)
            row.append(min(previous[j] + INDEL, row[j - 1] + INDEL, previous[j - 1] + cost))
        if min(row) > limit:
            return math.inf
        previous = row
    return previous[-1]


def syllables(text: str) -> tuple[Syllable | None, ...]:
    """The syllables of text, one per character, each character taking its reading in context
    (pypinyin's phrase readings); None for a character that is no Chinese syllable."""
    from auditor.phonetic import is_cjk

    out: list[Syllable | None] = []
    for ch, reading in zip(text, _readings(text), strict=True):
        out.append(syllable(reading) if is_cjk(ch) and reading[:1].isalpha() else None)
    return tuple(out)


def _readings(text: str) -> list[str]:
    """One reading per character: pypinyin reads a run of non-Chinese characters as one item."""
    from auditor.phonetic import is_cjk

    out: list[str] = []
    run = ""
    for ch in text + "\x00":
        if is_cjk(ch):
            run += ch
            continue
        if run:
            got = phrase_readings(run, "tone3-5")
            if len(got) != len(run):  # a reading it does not know: one character at a time
                got = [phrase_readings(c, "tone3")[0] for c in run]
            out += got
            run = ""
        if ch != "\x00":
            out.append(ch)
    return out


def allowed(length: int) -> float:
    """The largest distance at which a heard run of syllables may be a term of `length`
    syllables: about one confusion per two syllables, never a whole syllable in a short term."""
    return min(PER_SYLLABLE * length, MAX_DISTANCE)


# Measured on the hard media and the clips (scripts/bench_soundalike.py): 0.22 per syllable lets a
# two-syllable term carry one confused initial or final (稳赚 heard 本赚), a three-syllable term
# two (命题组 heard 令体组), and only a term of five or more one unrelated syllable (全网最低价
# heard 全网飞低价); at 0.25 a four-syllable term took one too, and 准时结束 became 随时结束.
PER_SYLLABLE = 0.22
MAX_DISTANCE = 1.0


_DIGIT_NAMES = dict(zip("0123456789", "零一二三四五六七八九", strict=True))


@lru_cache(maxsize=1)
def _common_readings() -> dict[str, str]:
    return {chr(code): reading for code, reading in first_readings().items()}


@lru_cache(maxsize=16384)
def _heard(ch: str) -> Syllable | None:
    reading = _common_readings().get(_DIGIT_NAMES.get(ch, ch))
    return syllable(reading) if reading else None


def heard_syllables(text: str) -> list[Syllable | None]:
    """The syllables of heard (normalised) text, one per character: each character takes its most
    common reading, as `auditor.phonetic` does (the recogniser chose it for that sound), and a
    digit its Chinese name's; None for a character that is no Chinese syllable."""
    return [_heard(ch) for ch in text]
