"""The pinyin cache: a start that reads it gives the sound keys and findings that pypinyin gives,
without importing pypinyin; a damaged or unwritable cache costs time, never a result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditor import readings

# Sound keys of every term the scanner indexes by sound, the syllables the near search reads,
# and findings that only a sound-alike search makes (文赚 heard for 稳赚, 妨碍 for 防癌).
SCRIPT = r"""
import json, sys
from auditor.lexicon import load_lexicon
from auditor.phonetic import sound_keys, term_sound_keys
from auditor.scan import Scanner
from auditor.similarity import heard_syllables, syllables
scanner = Scanner(load_lexicon())
said = ["这个理财文赚不赔，零风险", "这个保健品可以妨碍抗癌", "戴上这个能避邪招财", "全网最低价"]
found = [
    [(m.rule.id, m.start, m.end, m.kind) for m in scanner.scan(s, probabilities=[0.5] * len(s))]
    for s in said
]
imported = "pypinyin" in sys.modules
keys = sorted({term_sound_keys(t.key) for items in scanner._sounds for t in items})
near = sorted({repr(syllables(n.item.key)) for ns in scanner._near.values() for n in ns})
print(json.dumps({
    "imported": imported,
    "found": found,
    "keys": keys,
    "near": near,
    "heard": repr(heard_syllables("避邪稳赚12")) + sound_keys("独1无2"),
}))
"""


def _run(home: Path) -> dict[str, object]:
    env = {**os.environ, "AUDITOR_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _answers(result: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in result.items() if k != "imported"}


@dataclass(frozen=True)
class Uncached:
    home: Path  # where that run wrote its cache
    result: dict[str, object]  # what pypinyin itself answers


@pytest.fixture(scope="module")
def uncached(tmp_path_factory: pytest.TempPathFactory) -> Uncached:
    """A start in a home with no cache, and the cache that it wrote."""
    home = tmp_path_factory.mktemp("home")
    result = _run(home)
    assert result["imported"], "a start without a cache asks pypinyin"
    return Uncached(home, result)


def test_a_start_from_the_cache_gives_pypinyins_answers_without_importing_it(
    uncached: Uncached,
) -> None:
    (cache,) = (uncached.home / "cache").glob("pinyin-*.json")
    again = _run(uncached.home)
    assert not again["imported"], "pypinyin was imported though every reading was in the cache"
    assert _answers(again) == _answers(uncached.result)
    assert again["found"] and all(again["found"])  # the sound-alike findings are there
    assert json.loads(cache.read_bytes())["format"] == readings.CACHE_FORMAT


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"format": 1}', b'{"format": 99}'])
def test_a_damaged_cache_is_ignored_and_written_again(
    tmp_path: Path, uncached: Uncached, damage: bytes
) -> None:
    first = _run(tmp_path)
    (cache,) = (tmp_path / "cache").glob("pinyin-*.json")
    cache.write_bytes(damage)
    damaged = _run(tmp_path)
    assert damaged["imported"]
    assert _answers(damaged) == _answers(first) == _answers(uncached.result)
    assert json.loads(cache.read_bytes())["format"] == readings.CACHE_FORMAT


def test_an_unwritable_home_still_reads_with_pypinyin(tmp_path: Path, uncached: Uncached) -> None:
    home = tmp_path / "a-file"
    home.write_text("not a folder")  # the cache folder cannot be made under it
    result = _run(home)
    assert _answers(result) == _answers(uncached.result)


def test_phrase_readings_refuses_an_unknown_style() -> None:
    with pytest.raises(ValueError, match="style"):
        readings.phrase_readings("辟邪", "tone2")
