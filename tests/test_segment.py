"""The word-segmentation cache: what it reads back is jieba's own dictionary and tags, a damaged
or unwritable cache costs time but never changes a result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor import segment

TAGS = frozenset({"a", "ad", "an", "z"})


@pytest.fixture(scope="module")
def jieba_own() -> segment.Dictionary:
    return segment._from_jieba()


def test_cache_reads_back_jiebas_dictionary(tmp_path: Path, jieba_own: segment.Dictionary) -> None:
    built = segment.load_dictionary(TAGS, cache_folder=tmp_path)  # builds and writes the cache
    (cache,) = tmp_path.glob("jieba-*.bin")
    read = segment.load_dictionary(TAGS, cache_folder=tmp_path)
    assert read.freq == jieba_own.freq == built.freq
    assert read.total == jieba_own.total
    want = {w: t for w, t in jieba_own.tags.items() if t in TAGS}
    assert read.tags == want == built.tags
    assert len(want) > 1000
    assert segment.load_dictionary(None, cache_folder=tmp_path).tags == jieba_own.tags
    assert cache.stat().st_size > 1_000_000


def test_damaged_cache_is_rebuilt(tmp_path: Path, jieba_own: segment.Dictionary) -> None:
    segment.load_dictionary(TAGS, cache_folder=tmp_path)
    (cache,) = tmp_path.glob("jieba-*.bin")
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) // 2])  # cut short, as by a full disk
    assert segment.load_dictionary(TAGS, cache_folder=tmp_path).freq == jieba_own.freq
    assert cache.read_bytes() == data


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_home_still_segments(tmp_path: Path, jieba_own: segment.Dictionary) -> None:
    tmp_path.chmod(0o500)
    try:
        assert segment.load_dictionary(TAGS, cache_folder=tmp_path / "cache").freq == jieba_own.freq
    finally:
        tmp_path.chmod(0o700)


def test_unwritable_cache_folder_still_segments(
    tmp_path: Path, jieba_own: segment.Dictionary
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    read = segment.load_dictionary(TAGS, cache_folder=blocker)
    assert read.freq == jieba_own.freq


def test_tokenizer_cuts_like_jieba_with_the_added_words(tmp_path: Path) -> None:
    import jieba

    reference = jieba.Tokenizer()
    reference.initialize()
    words = ["溶脂", "押题"]
    for word in words:
        reference.add_word(word, freq=max(reference.FREQ.get(word, 0), 500))
    ours = segment.tokenizer(segment.load_dictionary(TAGS, cache_folder=tmp_path), words)
    for text in ("这个能溶脂", "老师会押题", "打包过程很快", "招财猫摆件", "最近很忙"):
        assert list(ours.cut(text, HMM=False)) == list(reference.cut(text, HMM=False))


def test_jieba_is_imported_without_pkg_resources_and_still_reads_its_own_files() -> None:
    # A fresh interpreter: in this one, jieba and pkg_resources may be imported already.
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from auditor import segment\n"
        "jieba = segment.import_jieba()\n"
        "from jieba import finalseg, posseg\n"
        "assert 'pkg_resources' not in sys.modules, 'pkg_resources was imported'\n"
        "assert finalseg.start_P and posseg.char_state_tab_P\n"  # read from jieba's files
        "print('/'.join(finalseg.cut('黄婷婷唱歌')))\n"  # unknown words: the HMM tables
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip().split("/") == ["黄婷婷", "唱歌"]
