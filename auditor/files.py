"""Files: their names as text, their content hash, and writes that are never half done."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def auditor_home() -> Path:
    """Where the auditor keeps what it makes once (the assembled model, caches): AUDITOR_HOME, else
    the user's cache folder."""
    configured = os.environ.get("AUDITOR_HOME")
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("auditor"))


def printable(text: object) -> str:
    """Text that encodes as UTF-8: a file name's undecodable bytes (surrogate escapes, PEP 383)
    become visible `\\xNN`, so a message, a database row or a page can always hold the name."""
    value = str(text)
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A file to write that appears at `path` only once complete: written beside the target,
    flushed to disk, then renamed over it. A crash at any moment leaves either the old file or the
    complete new one; an error inside the block leaves the old file and no temporary."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent if str(target.parent) else "."
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); a report is an ordinary file: 0666 less umask.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, content: str | bytes) -> None:
    """Write `content` to `path` atomically (see `atomic_file`).

    Text is UTF-8; a file name with undecodable bytes in it (surrogate escapes) is written as
    \\udcNN, which JSON reads back as the same name.
    """
    data = content.encode("utf-8", "backslashreplace") if isinstance(content, str) else content
    with atomic_file(path) as handle:
        handle.write(data)
