"""Word segmentation for the scanner: jieba, with its dictionary read from a fast cache.

jieba loads its dictionary (350,000 words and their prefixes) from a marshal cache in about 0.6 s,
and `jieba.posseg` parses the dictionary text again for part-of-speech tags in about 0.25 s, on
every start. An audit of one short recording, or `scan-text` on one file, pays that each time.
The first run writes both as plain text and integers under AUDITOR_HOME/cache, which reads back in
about 0.15 s; later runs hand them to a jieba Tokenizer directly. Without a writable cache folder
it falls back to jieba's own loading, only slower.
"""

from __future__ import annotations

import array
import hashlib
import logging
import struct
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from auditor.files import atomic_file, auditor_home

log = logging.getLogger("auditor")

CACHE_FORMAT = 3
_MAGIC = b"auditor-jieba\n"
# format, total, then the byte sizes of: words, frequencies, tag index, tagged words
_HEADER = struct.Struct("<6q")


@dataclass(frozen=True)
class Dictionary:
    freq: dict[str, int]  # word (or prefix of a word, with 0) -> frequency, as jieba keeps it
    total: int
    tags: dict[str, str]  # word -> jieba part-of-speech tag (only the tags asked for)


_IMPORTING = threading.Lock()


def import_jieba() -> ModuleType:
    """jieba, imported without `pkg_resources`. jieba's `_compat` imports it (about 0.1 s on every
    start, and a deprecation warning in recent setuptools) only to open its own data files, and
    opens them with plain `open()` when that import fails: the same files of an installed
    package. Nothing in the auditor uses `pkg_resources`; if something already imported it, it
    is left alone."""
    with _IMPORTING:
        if "jieba" not in sys.modules and "pkg_resources" not in sys.modules:
            sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # import fails
            try:
                import jieba
            finally:
                del sys.modules["pkg_resources"]
    import jieba

    module: ModuleType = jieba
    return module


def _jieba_dict_path() -> Path:
    jieba = import_jieba()
    return Path(str(jieba.__file__)).resolve().parent / str(jieba.DEFAULT_DICT_NAME)


def _cache_path(folder: Path) -> Path:
    jieba = import_jieba()
    dictionary = _jieba_dict_path()
    stat = dictionary.stat()
    key = f"{CACHE_FORMAT}|{jieba.__version__}|{dictionary}|{stat.st_size}|{stat.st_mtime_ns}"
    return folder / f"jieba-{hashlib.sha256(key.encode()).hexdigest()[:16]}.bin"


def _from_jieba() -> Dictionary:
    jieba = import_jieba()
    from jieba import posseg

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    tags: dict[str, str] = posseg.dt.word_tag_tab
    return Dictionary(dict(tokenizer.FREQ), int(tokenizer.total), dict(tags))


def _write(path: Path, dictionary: Dictionary) -> None:
    by_tag: dict[str, list[str]] = {}
    for word, tag in dictionary.tags.items():
        by_tag.setdefault(tag, []).append(word)
    groups = [(tag, "\n".join(words).encode("utf-8")) for tag, words in sorted(by_tag.items())]
    blobs = [
        "\n".join(dictionary.freq).encode("utf-8"),
        array.array("q", dictionary.freq.values()).tobytes(),
        "\n".join(f"{tag}\t{len(words)}" for tag, words in groups).encode("utf-8"),
        b"".join(words for _, words in groups),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as handle:  # whole or not at all: two processes may write it at once
        handle.write(_MAGIC)
        handle.write(_HEADER.pack(CACHE_FORMAT, dictionary.total, *map(len, blobs)))
        for blob in blobs:
            handle.write(blob)
    for other in path.parent.glob("jieba-*.bin"):  # caches of other jieba versions
        if other != path:
            other.unlink(missing_ok=True)


def _read(path: Path, tags: frozenset[str] | None) -> Dictionary:
    # Plain text split on newlines and an integer array: several times faster than jieba's
    # marshal cache or a pickle, and nothing in it is executed. Tagged words are grouped by tag,
    # so only the groups asked for are read.
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        raise ValueError("not a dictionary cache")
    version, total, *sizes = _HEADER.unpack_from(data, len(_MAGIC))
    if version != CACHE_FORMAT:
        raise ValueError(f"cache format {version}")
    offset = len(_MAGIC) + _HEADER.size
    blobs = []
    for size in sizes:
        blobs.append(data[offset : offset + size])
        offset += size
    if offset != len(data):
        raise ValueError("truncated dictionary cache")
    words = blobs[0].decode("utf-8").split("\n")
    counts = array.array("q")
    counts.frombytes(blobs[1])
    freq = dict(zip(words, counts.tolist(), strict=True))
    tagged: dict[str, str] = {}
    at = 0
    for line in blobs[2].decode("utf-8").split("\n"):
        tag, size = line.split("\t")
        group = blobs[3][at : at + int(size)]
        at += int(size)
        if tags is None or tag in tags:
            tagged.update(dict.fromkeys(group.decode("utf-8").split("\n"), tag))
    return Dictionary(freq, total, tagged)


def load_dictionary(
    tags: frozenset[str] | None = None, cache_folder: Path | None = None
) -> Dictionary:
    """jieba's dictionary, and the part-of-speech tags of its words that have one of `tags`
    (None: all), from the cache when it is there and sound."""
    if cache_folder is None:
        cache_folder = auditor_home() / "cache"
    try:
        path = _cache_path(cache_folder)
    except OSError:
        return _from_jieba()
    try:
        return _read(path, tags)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, struct.error) as exc:  # damaged: build it again
        log.debug("ignoring the word cache %s: %s", path, exc)
    dictionary = _from_jieba()
    try:
        _write(path, dictionary)
    except OSError as exc:  # a read-only home: slower starts, same results
        log.debug("cannot write the word cache %s: %s", path, exc)
    if tags is None:
        return dictionary
    kept = {word: tag for word, tag in dictionary.tags.items() if tag in tags}
    return Dictionary(dictionary.freq, dictionary.total, kept)


def tokenizer(dictionary: Dictionary, words: Iterable[str], min_freq: int = 500) -> Any:
    """A private jieba Tokenizer over `dictionary` that also knows `words` (the lexicon's terms),
    each at least as frequent as `min_freq`, so that jieba cuts them whole."""
    jieba = import_jieba()

    jieba.setLogLevel(logging.WARNING)
    out = jieba.Tokenizer()
    out.FREQ = dict(dictionary.freq)  # add_word changes it: keep the cached one intact
    out.total = dictionary.total
    out.initialized = True
    for word in words:
        out.add_word(word, freq=max(out.FREQ.get(word, 0), min_freq))
    return out
