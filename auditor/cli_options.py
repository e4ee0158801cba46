"""Options shared by several commands (`audit`, `batch`, `rescan`, `scan-text`): declared once, so
the commands cannot drift apart; each command words its own help where the meaning differs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

R = TypeVar("R")

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


_ASR_FIELDS = ("model", "device", "compute_type", "language", "beam_size", "batch_size")


def asr_options(command: Callable[..., R]) -> Callable[..., R]:
    """Add the speech-recognition options, and hand the command one `asr: AsrOptions` built from
    them (plus `audio_stream`), so each command does not map the options again."""

    @functools.wraps(command)
    def with_asr(*args: Any, **kwargs: Any) -> R:
        from auditor.asr import AsrOptions  # heavy imports only when a command runs

        kwargs["asr"] = AsrOptions(**{name: kwargs.pop(name) for name in _ASR_FIELDS})
        return command(*args, **kwargs)

    decorated: Callable[..., R] = with_asr
    for option in reversed(_ASR_OPTIONS):
        decorated = option(decorated)
    return decorated


def lexicon_option(
    help: str = "Extra lexicon TOML file (repeatable): adds, overrides or disables rules.",
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    return click.option(
        "--lexicon", "lexicons", multiple=True, type=click.Path(dir_okay=False), help=help
    )


def product_option(
    help: str, default: str | None = "general"
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    from auditor.lexicon import PRODUCT_CATEGORIES

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
