"""What every command shares: terminal output, the one place errors become exit codes, and the
options several commands take (declared once, so the commands cannot drift apart; each command
words its own help where the meaning differs).

Command modules import this module and the library, never each other or `auditor.cli`.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from auditor.decisions import DECISIONS, Decision
from auditor.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    AuditorError,
)
from auditor.files import printable, write_atomic
from auditor.options import (
    DECODINGS,
    DEFAULT_CLIP_PADDING,
    DEFAULT_DECODING,
    DEFAULT_SCREEN_INTERVAL,
    PRODUCT_CATEGORIES,
    AsrOptions,
    ScreenOptions,
)
from auditor.severity import FAIL_ON_CHOICES
from auditor.times import clock, utc_moment

log = logging.getLogger("auditor")

R = TypeVar("R")


# -- output ------------------------------------------------------------------------------------


def setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("auditor: %(message)s"))
    root = logging.getLogger("auditor")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def error(message: str) -> None:
    """One line on stderr: a file name may hold a newline, which must not split the message;
    its undecodable bytes (surrogate escapes) are shown as \\xNN."""
    text = printable(message)
    click.echo("auditor: error: " + text.replace("\n", "\\n").replace("\r", "\\r"), err=True)


def status(message: str) -> None:
    click.echo(f"auditor: {message}", err=True)


def write_output(text: str, output: str | None) -> None:
    """The command's result: to `output` atomically, or to stdout when there is none (or '-')."""
    if output and output != "-":
        try:
            write_atomic(output, text)
        except OSError as exc:  # disk full, no such folder: the environment (exit 4), one line
            raise AuditorError(f"cannot write {output}: {exc.strerror or exc}") from exc
    else:  # bytes, encoded as write_atomic does, so a name with undecodable bytes cannot fail
        click.echo(text.encode("utf-8", "backslashreplace"), nl=False)


def decision_line(decision: Decision) -> str:
    """One decision on one line: the finding's id, what was decided by whom and when, and what
    the finding was (where, when in the recording, the words)."""
    return (
        f"{decision.finding_id}  {decision.decision} by {decision.reviewer} at "
        f"{decision.decided}: {decision.source} {clock(decision.start)} "
        f"「{decision.matched}」 {decision.category}"
    )


def default_format(output: str | None = None) -> str:
    """table for a person at a terminal, jsonl for a program or a file."""
    return "table" if sys.stdout.isatty() and not output else "jsonl"


# -- exit codes --------------------------------------------------------------------------------


def run(action: Callable[[], int]) -> None:
    """Run a command body and exit with its code; a library error becomes its one-line message
    and the exit code it carries (`auditor.errors`)."""
    try:
        code = action()
    except AuditorError as exc:
        error(str(exc))
        code = exc.exit_code
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        error("interrupted")
        code = EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so in one line, keep the traceback for -vv
        log.debug("internal error", exc_info=True)
        error(f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback)")
        code = EXIT_INTERNAL
    sys.exit(code)


# -- shared options ----------------------------------------------------------------------------


def format_option(
    choices: Sequence[str], help: str, default: str | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """--format, as the `fmt` argument. Without a default the command picks one at run time."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(tuple(choices)),
        default=default,
        show_default=default is not None,
        help=help,
    )


def fail_on_option() -> Callable[[Callable[..., R]], Callable[..., R]]:
    return click.option(
        "--fail-on",
        type=click.Choice(FAIL_ON_CHOICES),
        default="high",
        show_default=True,
        help="Exit 1 when a finding at or above this severity is found.",
    )


def db_option(
    help: str = "The batch database (SQLite). Created by `batch` when missing.",
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    return click.option("--db", "db", required=True, type=click.Path(dir_okay=False), help=help)


_ASR_OPTIONS = (
    click.option(
        "--model",
        default="base",
        show_default=True,
        help="Whisper model: a name (base, small, large-v3, ...) or a CTranslate2 folder.",
    ),
    click.option(
        "--device",
        type=click.Choice(("auto", "cpu", "cuda")),
        default="auto",
        show_default=True,
        help="Where to run speech recognition; auto uses CUDA when CTranslate2 sees a GPU "
        "(for a batch, as the driver sees it).",
    ),
    click.option(
        "--compute-type",
        default="default",
        show_default=True,
        help="CTranslate2 compute type; default is int8 on CPU, float16 on CUDA.",
    ),
    click.option(
        "--language",
        default="zh",
        show_default=True,
        help="Spoken language code, or 'auto' to detect it.",
    ),
    click.option(
        "--beam-size",
        type=click.IntRange(1, 20),
        default=5,
        show_default=True,
        help="Beam size for decoding (1 is faster but makes more errors on real speech).",
    ),
    click.option(
        "--decoding",
        type=click.Choice(DECODINGS),
        default=DEFAULT_DECODING,
        show_default=True,
        help="beam: --beam-size everywhere; greedy: beam 1 everywhere (about a fifth less "
        "CPU, nearly twice the errors on real speech); adaptive (experimental): greedy, then "
        "beam search again where the greedy text is doubtful or holds an unsure claim, "
        "measured slower and less accurate than beam so far (scripts/bench.py --only decoding).",
    ),
    click.option(
        "--batch-size",
        type=click.IntRange(1, 64),
        default=8,
        show_default=True,
        help="Speech chunks (up to 30 s each) decoded together, split between the CPU workers; "
        "1 decodes one after another. On 2 cores 4 is as fast as 8 with a third less memory; a "
        "GPU may like 16.",
    ),
    click.option(
        "--audio-stream",
        type=click.IntRange(0),
        default=0,
        show_default=True,
        help="Which audio stream to transcribe (0 = first).",
    ),
)


_ASR_FIELDS = (
    "model",
    "device",
    "compute_type",
    "language",
    "beam_size",
    "decoding",
    "batch_size",
)


def asr_options(command: Callable[..., R]) -> Callable[..., R]:
    """Add the speech-recognition options, and hand the command one `asr: AsrOptions` built from
    them (plus `audio_stream`), so each command does not map the options again."""

    @functools.wraps(command)
    def with_asr(*args: Any, **kwargs: Any) -> R:
        kwargs["asr"] = AsrOptions(**{name: kwargs.pop(name) for name in _ASR_FIELDS})
        return command(*args, **kwargs)

    decorated: Callable[..., R] = with_asr
    for option in reversed(_ASR_OPTIONS):
        decorated = option(decorated)
    return decorated


def _remember_learned(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta["auditor.learned"] = value


def _with_learned(
    ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    if not ctx.meta.get("auditor.learned"):
        return value
    from auditor.lexicon import LEARNED_SWITCH

    return (LEARNED_SWITCH, *value)


def lexicon_option(
    help: str = "Extra lexicon TOML file (repeatable): adds, overrides or disables rules.",
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """`--lexicon FILE` (repeatable) and `--learned`, which puts the learned model's switch
    before those files (so that one of them may still disable it)."""
    lexicon = click.option(
        "--lexicon",
        "lexicons",
        multiple=True,
        type=click.Path(dir_okay=False),
        help=help,
        callback=_with_learned,
    )
    learned = click.option(
        "--learned",
        is_flag=True,
        is_eager=True,  # read before --lexicon, whose value it extends
        expose_value=False,
        callback=_remember_learned,
        help="Also report claims no rule names, found by a model learned from real and written "
        "examples (auditor.learned): more claims found, more false ones (README).",
    )

    def both(f: Callable[..., R]) -> Callable[..., R]:
        return learned(lexicon(f))

    return both


def product_option(
    help: str, default: str | None = "general"
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    return click.option(
        "--product-category",
        type=click.Choice(PRODUCT_CATEGORIES),
        default=default,
        show_default=default is not None,
        help=help,
    )


def ffmpeg_timeout_option(help: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    return click.option(
        "--ffmpeg-timeout", type=click.FloatRange(0), default=600.0, show_default=True, help=help
    )


def since_option(
    help: str = "Only recordings audited at or after this date or time (ISO 8601; UTC if no zone).",
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """--since; `since_option_value` turns what was given into the store's UTC form."""
    return click.option("--since", help=help)


def since_option_value(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return utc_moment(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM])",
            param_hint="--since",
        ) from exc


def source_glob_option(
    help: str = "Only recordings whose path matches this glob (e.g. '*/2026-11-*/*.mp4').",
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    return click.option("--source", "source_glob", default=None, help=help)


def decision_filter_option(
    help: str, default: Sequence[str] = ()
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """--decision, repeatable, as the `decisions` argument."""
    return click.option(
        "--decision",
        "decisions",
        multiple=True,
        type=click.Choice(DECISIONS),
        default=tuple(default),
        show_default=bool(default),
        help=help,
    )


def clip_padding_option() -> Callable[[Callable[..., R]], Callable[..., R]]:
    return click.option(
        "--clip-padding",
        type=click.FloatRange(0, 60),
        default=DEFAULT_CLIP_PADDING,
        show_default=True,
        help="Seconds of the recording kept before and after a finding in its clip.",
    )


def verify_option() -> Callable[[Callable[..., R]], Callable[..., R]]:
    return click.option(
        "--verify/--no-verify",
        default=True,
        show_default=True,
        help="Check each sound-alike finding against the audio: keep it only when the "
        "recogniser finds the lexicon term nearly as likely as the words it wrote.",
    )


def screen_options(command: Callable[..., R]) -> Callable[..., R]:
    """Add --screen/--no-screen and --screen-interval, and hand the command one
    `screen: ScreenOptions` built from them."""

    @functools.wraps(command)
    def with_screen(*args: Any, **kwargs: Any) -> R:
        kwargs["screen"] = ScreenOptions(
            enabled=kwargs.pop("screen_enabled"), interval=kwargs.pop("screen_interval")
        )
        return command(*args, **kwargs)

    decorated: Callable[..., R] = with_screen
    decorated = click.option(
        "--screen-interval",
        type=click.FloatRange(0.2, 60),
        default=DEFAULT_SCREEN_INTERVAL,
        show_default=True,
        help="Seconds between the video frames read for screen text (only keyframes are decoded "
        "when the video has one at least this often).",
    )(decorated)
    decorated = click.option(
        "--screen/--no-screen",
        "screen_enabled",
        default=True,
        show_default=True,
        help="Read the text burned into the video (captions, banners, stickers) and scan it as "
        "the speech is scanned; files without video skip it.",
    )(decorated)
    return decorated
