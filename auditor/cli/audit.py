"""`auditor audit` and `auditor scan-text`: one recording or one text at a time, a report out."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from typing import TextIO

import click

from auditor.cli.common import (
    asr_options,
    clip_padding_option,
    default_format,
    error,
    fail_on_option,
    ffmpeg_timeout_option,
    format_option,
    lexicon_option,
    product_option,
    run,
    screen_options,
    status,
    verify_option,
    write_output,
)
from auditor.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, InputError
from auditor.options import AsrOptions, ScreenOptions
from auditor.report import AUDIT_FORMATS, ONE_RECORDING_FORMATS, TEXT_FORMATS
from auditor.severity import fails

_PRODUCT_HELP = (
    "What is sold: turns on rules and exemptions that apply only to some goods "
    "(热销 in a drug ad; medical words for a registered drug)."
)


class _Progress:
    """Transcription progress on stderr: a live line on a terminal, else a start line.

    Nothing is shown before the first report, so a file that cannot be audited gets only its
    one error line.
    """

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.live = enabled and sys.stderr.isatty()
        self._shown = False

    def __call__(self, done: float, total: float) -> None:
        if self.enabled and not self._shown and not self.live:
            status(f"transcribing {self.label}")
        self._shown = self._shown or self.enabled
        if self.live and total > 0:
            percent = 100.0 * done / total
            click.echo(
                f"\rauditor: transcribing {self.label}: {done:6.1f}/{total:.1f} s "
                f"({percent:3.0f}%)",
                err=True,
                nl=False,
            )

    def close(self) -> None:
        if self.live and self._shown:
            click.echo("", err=True)


@click.command()
# readable=False: an unreadable file is the library's one-line input error, not a usage error.
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False))
@format_option(
    AUDIT_FORMATS,
    "Output format. Default: table on a terminal, jsonl otherwise. html: a self-contained "
    "report with playable evidence; srt, vtt: the transcript as subtitles, flagged cues marked "
    "(one recording).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the report to this file (atomically) instead of stdout.",
)
@asr_options
@screen_options
@verify_option()
@ffmpeg_timeout_option(
    "Stop ffmpeg and report the file when it gives no audio for this many seconds (a hung "
    "read, e.g. from a FIFO); 0 = no limit."
)
@lexicon_option()
@fail_on_option()
@product_option(_PRODUCT_HELP)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
@click.option(
    "--clips",
    "clips_dir",
    type=click.Path(file_okay=False),
    help="Cut one evidence clip per finding into this folder (created if needed); json, jsonl "
    "and html reports link them.",
)
@clip_padding_option()
def audit(
    paths: Sequence[str],
    fmt: str | None,
    output: str | None,
    asr: AsrOptions,
    audio_stream: int,
    screen: ScreenOptions,
    verify: bool,
    ffmpeg_timeout: float,
    lexicons: Sequence[str],
    fail_on: str,
    quiet: bool,
    clips_dir: str | None,
    clip_padding: float,
    product_category: str,
) -> None:
    """Transcribe recordings and report the prohibited claims in them, with times.

    Exit status: 0 nothing at or above --fail-on, 1 something found, 2 bad input or usage,
    4 model or ffmpeg unavailable.
    """
    fmt = fmt or default_format(output)
    if fmt in ONE_RECORDING_FORMATS and len(paths) > 1:
        raise click.UsageError(f"--format {fmt} takes one recording, got {len(paths)}")

    def body() -> int:
        from auditor.audit import Auditor
        from auditor.options import AuditOptions
        from auditor.report import render_audit
        from auditor.results import AuditResult

        options = AuditOptions(
            asr=asr,
            audio_stream=audio_stream,
            lexicons=tuple(lexicons),
            product_category=product_category,
            ffmpeg_timeout=ffmpeg_timeout or None,
            screen=screen,
            verify=verify,
        )
        if output and output != "-" and not os.path.isdir(os.path.dirname(output) or "."):
            # before any audio: not after an hour of transcription
            raise InputError(output, "its folder does not exist")
        if clips_dir:
            from auditor.clips import prepare_folder

            prepare_folder(clips_dir)
        auditor = Auditor(options, status=None if quiet else status, preload=True)
        results: list[AuditResult] = []
        bad_input = False
        for path in paths:
            progress = _Progress(click.format_filename(path), enabled=not quiet)
            try:
                results.append(auditor.audit(path, progress=progress))
            except InputError as exc:
                error(str(exc))
                bad_input = True
            finally:
                progress.close()
        if results:
            clips = None
            if clips_dir:
                from auditor.clips import cut_clips

                clips = cut_clips(results, clips_dir, clip_padding, audio_stream)
            write_output(render_audit(results, fmt, output, clips, clip_padding), output)
        if bad_input:
            return EXIT_INPUT
        severities = [f.severity for r in results for f in r.findings]
        return EXIT_FINDINGS if fails(severities, fail_on) else EXIT_OK

    run(body)


@click.command("scan-text")
@click.argument("source", default="-", type=click.Path(allow_dash=True, dir_okay=False))
@format_option(TEXT_FORMATS, "Output format. Default: table on a terminal, jsonl otherwise.")
@lexicon_option()
@fail_on_option()
@product_option(_PRODUCT_HELP)
@click.option(
    "--jobs",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes scanning a large text at once; 0: one per usable core.",
)
def scan_text(
    source: str,
    fmt: str | None,
    lexicons: Sequence[str],
    fail_on: str,
    product_category: str,
    jobs: int,
) -> None:
    """Scan text (one utterance per line; '-' for stdin) without any speech recognition."""
    fmt = fmt or default_format()

    def body() -> int:
        from auditor.asr import usable_cpus
        from auditor.detect import line_blocks, scan_blocks
        from auditor.findings import TextFinding
        from auditor.lexicon import load_lexicon
        from auditor.report import render_text_findings
        from auditor.scan import Scanner

        scanner = Scanner(load_lexicon(lexicons), product_category)
        stream: TextIO
        if source == "-":
            stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        else:
            try:
                stream = open(source, encoding="utf-8", errors="replace")  # noqa: SIM115
            except OSError as exc:
                raise InputError(source, exc.strerror or str(exc)) from exc
        findings: list[TextFinding] = []
        with stream:
            # One scan per block of whole lines, in parallel for a large text.
            blocks = line_blocks(stream)
            for block_findings in scan_blocks(scanner, blocks, jobs or usable_cpus()):
                findings.extend(block_findings)
        write_output(render_text_findings(findings, fmt), None)
        return EXIT_FINDINGS if fails([f.severity for f in findings], fail_on) else EXIT_OK

    run(body)


def register(group: click.Group) -> None:
    group.add_command(audit)
    group.add_command(scan_text)
