"""Every error the library raises on purpose. The CLI turns these into messages and exit codes."""

from __future__ import annotations


class AuditorError(Exception):
    """Base class. `str(err)` is a complete one-line message for a person."""


class InputError(AuditorError):
    """A media file cannot be audited: missing, empty, not media, no audio, truncated."""

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{path}: {cause}")


class MediaToolError(AuditorError):
    """ffmpeg is missing or failed for a reason that is not the input's fault."""


class ModelError(AuditorError):
    """A speech model cannot be found, assembled or loaded."""


class StoreError(AuditorError):
    """The database cannot be opened or used. The message names the file and the cause."""

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{path}: {cause}")


class LexiconError(AuditorError):
    """A lexicon file is malformed. The message names the file, the line and the problem."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}")
