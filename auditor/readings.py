"""Pinyin readings for the sound-alike search: pypinyin's answers, kept on disk.

pypinyin takes about 0.2 s to import (it reads its phrase dictionary) and about 0.15 s more to read
the lexicon's terms, on every start of an audit or a scan. Its answers depend only on its own files
and on the text asked about, so the first run keeps them under AUDITOR_HOME/cache: the most common
reading of each character, in pypinyin's order (the order fixes the ids of the sound keys), and the
readings of each phrase asked for. Later runs read them back without importing pypinyin, and ask
it only about phrases it has not answered yet (a custom lexicon's terms). A damaged cache is
ignored and written again; without a writable cache folder, pypinyin answers every time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import threading
from pathlib import Path
from typing import Any

from auditor.files import atomic_file, auditor_home

__all__ = ["first_readings", "phrase_readings", "save"]

log = logging.getLogger("auditor")

CACHE_FORMAT = 1
# How pypinyin is asked: the readings with tone marks (bì), or with tone figures (bi4), the
# neutral tone written as 5 or not.
STYLES = ("tone", "tone3", "tone3-5")


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.loaded = False
        self.path: Path | None = None
        self.first: dict[int, str] | None = None
        self.phrases: dict[str, list[str]] = {}
        self.changed = False


_CACHE = _Cache()


def _cache_path() -> Path | None:
    """Where the cache lives, named after pypinyin's own files (their size and time), so that
    another pypinyin never reads this one's answers; None when pypinyin cannot be found."""
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.origin:
        return None
    package = Path(spec.origin).resolve().parent
    parts = [str(CACHE_FORMAT), str(package)]
    for name in ("__init__.py", "pinyin_dict.py", "phrases_dict.py", "core.py"):
        try:
            stat = (package / name).stat()
        except OSError:
            continue
        parts.append(f"{name}|{stat.st_size}|{stat.st_mtime_ns}")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return auditor_home() / "cache" / f"pinyin-{key}.json"


def _load() -> None:
    if _CACHE.loaded:
        return
    _CACHE.loaded = True
    try:
        _CACHE.path = _cache_path()
        if _CACHE.path is None:
            return
        data = json.loads(_CACHE.path.read_bytes())
        if data.get("format") != CACHE_FORMAT:
            raise ValueError(f"cache format {data.get('format')}")
        first = {int(code): str(reading) for code, reading in data["first"]}
        phrases = {str(k): [str(r) for r in v] for k, v in data["phrases"].items()}
    except FileNotFoundError:
        return
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.debug("ignoring the pinyin cache %s: %s", _CACHE.path, exc)
        return
    _CACHE.first, _CACHE.phrases = first, phrases


def first_readings() -> dict[int, str]:
    """Code point -> the character's most common reading (with tone marks), in pypinyin's order."""
    with _CACHE.lock:
        _load()
        if _CACHE.first is None:
            from pypinyin.pinyin_dict import pinyin_dict

            _CACHE.first = {code: readings.split(",")[0] for code, readings in pinyin_dict.items()}
            _CACHE.changed = True
        return _CACHE.first


def phrase_readings(run: str, style: str) -> list[str]:
    """pypinyin's readings of a run of Chinese characters in context (辟邪 is bì xié), in one of
    STYLES; as many as pypinyin gives, which may be fewer than the characters."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    key = f"{style}\t{run}"
    with _CACHE.lock:
        _load()
        known = _CACHE.phrases.get(key)
        if known is None:
            known = _ask_pypinyin(run, style)
            _CACHE.phrases[key] = known
            _CACHE.changed = True
        return list(known)


def _ask_pypinyin(run: str, style: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    options: dict[str, Any] = {"style": Style.TONE if style == "tone" else Style.TONE3}
    if style == "tone3-5":
        options["neutral_tone_with_five"] = True
    return [str(r) for r in lazy_pinyin(run, **options)]


def save() -> None:
    """Write the cache if pypinyin answered anything new since it was read (whole or not at all:
    two processes may write it at once)."""
    with _CACHE.lock:
        if not _CACHE.changed or _CACHE.path is None:
            return
        data = {
            "format": CACHE_FORMAT,
            "first": list(first_readings().items()),
            "phrases": _CACHE.phrases,
        }
        try:
            _CACHE.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(_CACHE.path) as handle:
                handle.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        except OSError as exc:  # a read-only home: slower starts, same readings
            log.debug("cannot write the pinyin cache %s: %s", _CACHE.path, exc)
            return
        _CACHE.changed = False
        for other in _CACHE.path.parent.glob("pinyin-*.json"):  # other pypinyin versions
            if other != _CACHE.path:
                other.unlink(missing_ok=True)
