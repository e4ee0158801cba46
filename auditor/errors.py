"""Every error the library raises on purpose, each carrying its own outcome.

`exit_code` is what a command exits with when the error stops it, and `batch_status` what a batch
records for the file it happened on: `failed` (that file's fault; the batch goes on) or `fatal`
(the environment: model or ffmpeg; the batch stops). One handler in the CLI and one in the batch
read these; nothing else maps exception types to outcomes.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # something at or above --fail-on was found
EXIT_INPUT = 2  # bad input or usage (click uses 2 for usage errors too)
EXIT_FAILED = 3  # batch: ran; some files could not be audited (recorded with their cause)
EXIT_ENVIRONMENT = 4  # model, ffmpeg or database unavailable: not the input's fault
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70  # a bug


class AuditorError(Exception):
    """Base class. `str(err)` is a complete one-line message for a person."""

    exit_code = EXIT_ENVIRONMENT
    batch_status = "failed"

    @property
    def cause(self) -> str:
        """The message without the file name, for a row that already names the file."""
        return str(self)


class PathError(AuditorError):
    """An error about one file: the message is `path: cause`."""

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self._cause = cause
        super().__init__(f"{path}: {cause}")

    @property
    def cause(self) -> str:
        return self._cause


class InputError(PathError):
    """A media file cannot be audited: missing, empty, not media, no audio, truncated."""

    exit_code = EXIT_INPUT


class MediaToolError(AuditorError):
    """ffmpeg is missing or failed for a reason that is not the input's fault."""

    batch_status = "fatal"


class ModelError(AuditorError):
    """A speech model cannot be found, assembled or loaded."""

    batch_status = "fatal"


class StoreError(PathError):
    """The database cannot be opened or used. The message names the file and the cause."""


class LexiconError(AuditorError):
    """A lexicon file is malformed. The message names the file, the line and the problem."""

    exit_code = EXIT_INPUT

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}")
