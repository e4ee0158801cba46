"""Sound-alike keys: what a Chinese character sounds like, tone-free and with common confusions
merged, as one code point per character so that offsets stay those of the normalised text.

Speech recognition writes the sound it heard with the wrong characters (稳赚 -> 文赚, 防癌 -> 妨碍,
生发 -> 生化). Matching the lexicon's terms on these keys finds them; the scanner decides whether
the context makes the claim plausible.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from auditor.readings import first_readings, phrase_readings

# The private use area of the first plane: never in normalised text (normalisation drops private
# use characters), and two bytes a character, so a key string is as cheap to search as the text
# (keys in a supplementary plane made the sound automaton's pass about 30% slower).
_KEY_BASE = 0xE000
_KEY_LIMIT = 0xF8FF  # the area's last code point: Mandarin has about 400 syllables, 281 fuzzy
# Initials and finals that Mandarin speakers and recognisers confuse (the usual "fuzzy pinyin").
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FINALS = (("iang", "ian"), ("uang", "uan"), ("ang", "an"), ("eng", "en"), ("ing", "in"))
_HU = re.compile(r"^hu(?=[aeio])")  # hua/hui/huan sound like fa/fei/fan in many accents


@lru_cache(maxsize=8192)
def fuzzy_syllable(syllable: str) -> str:
    """Tone-free syllable with confusable initials and finals merged: 评 ping and 频 pin agree."""
    plain = "".join(
        c for c in unicodedata.normalize("NFD", syllable) if not unicodedata.combining(c)
    )
    plain = plain.replace("ü", "v").lower()
    for long, short in _INITIALS:
        if plain.startswith(long):
            plain = short + plain[len(long) :]
            break
    plain = _HU.sub("f", plain)
    if plain.startswith("h"):
        plain = "f" + plain[1:]
    for long, short in _FINALS:
        if plain.endswith(long):
            plain = plain[: -len(long)] + short
            break
    return plain


_SYLLABLE_IDS: dict[str, int] = {}
_SYLLABLE_IDS_LOCK = threading.Lock()


def _key(syllable: str) -> str:
    fuzzy = fuzzy_syllable(syllable)
    known = _SYLLABLE_IDS.get(fuzzy)
    if known is None:
        # Under the lock: two threads (two audits of a batch worker) keying two new syllables
        # at once would otherwise both read one len() and share a key.
        with _SYLLABLE_IDS_LOCK:
            known = _SYLLABLE_IDS.setdefault(fuzzy, len(_SYLLABLE_IDS))
    if _KEY_BASE + known > _KEY_LIMIT:
        raise ValueError(f"more fuzzy syllables than sound keys: {fuzzy!r}")
    return chr(_KEY_BASE + known)


@lru_cache(maxsize=1)
def _key_lut() -> npt.NDArray[np.uint32]:
    """Code point -> sound key of its most common reading; no reading: the character itself."""
    lut = np.arange(0x110000, dtype=np.uint32)
    for code, reading in first_readings().items():
        if code < 0x110000:
            lut[code] = ord(_key(reading))
    # Normalised text writes numbers as digits: 独一无二 is 独1无2, and a misheard 独一五二 is
    # 独152. Digits sound like their Chinese names.
    for digit, name in enumerate("零一二三四五六七八九"):
        lut[ord(str(digit))] = lut[ord(name)]
    return lut


def sound_keys(normalised: str) -> str:
    """Keys of heard text: one per character of normalised text (same length, same offsets).

    Each character takes its most common reading: the recogniser chose it for that sound.
    """
    codes = np.frombuffer(normalised.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _key_lut()[codes].tobytes().decode("utf-32-le")


def term_sound_keys(normalised_term: str) -> str:
    """Keys of a lexicon term as it is spoken: readings in context (辟邪 is bì xié, not pì)."""
    _key_lut()  # the same syllable ids as heard text
    out: list[str] = []
    for run in re.findall(
        r"[\u3400-\u4dbf\u4e00-\u9fff]+|[^\u3400-\u4dbf\u4e00-\u9fff]+", normalised_term
    ):
        if not is_cjk(run[0]):
            out.append(sound_keys(run))  # digits sound like their Chinese names
            continue
        readings = phrase_readings(run, "tone")
        if len(readings) != len(run):  # a reading it does not know: fall back to the usual one
            out.append(sound_keys(run))
        else:
            out.extend(_key(r) for r in readings)
    return "".join(out)


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
