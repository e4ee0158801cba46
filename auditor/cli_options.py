"""Options shared by commands that transcribe (`audit`, `batch`): declared once, so the commands
cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])

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
        help="Speech chunks (up to 30 s each) decoded together; 1 decodes one after another. "
        "8 measured fastest on CPU; a GPU may like 16.",
    ),
    click.option(
        "--audio-stream",
        type=click.IntRange(0),
        default=0,
        show_default=True,
        help="Which audio stream to transcribe (0 = first).",
    ),
)


def asr_options(command: F) -> F:
    """Add the speech-recognition options, in their usual order."""
    for option in reversed(_ASR_OPTIONS):
        command = option(command)
    return command
