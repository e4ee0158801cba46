"""Command-line interface: parse options, call the library, turn errors into messages and codes."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import click

from auditor import __version__
from auditor.cli_options import asr_options, ffmpeg_timeout_option, lexicon_option, product_option
from auditor.errors import AuditorError, InputError, LexiconError
from auditor.findings import FAIL_ON_CHOICES, fails

if TYPE_CHECKING:
    from auditor.asr import AsrOptions

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2  # bad input or usage (click uses 2 for usage errors too)
EXIT_ENVIRONMENT = 4  # model or ffmpeg missing or broken: not the input's fault
EXIT_INTERNAL = 70

log = logging.getLogger("auditor")


def _setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("auditor: %(message)s"))
    root = logging.getLogger("auditor")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def _error(message: str) -> None:
    # One line: a file name may hold a newline, which must not split the message.
    # Undecodable bytes of a file name (surrogate escapes) are shown as \xNN.
    text = message.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    click.echo("auditor: error: " + text.replace("\n", "\\n").replace("\r", "\\r"), err=True)


def _status(message: str) -> None:
    click.echo(f"auditor: {message}", err=True)


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
            _status(f"transcribing {self.label}")
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


def _write_output(text: str, output: str | None) -> None:
    from auditor.report import write_atomic

    if output and output != "-":
        try:
            write_atomic(output, text)
        except OSError as exc:  # disk full, no such folder: the environment (exit 4), one line
            raise AuditorError(f"cannot write {output}: {exc.strerror or exc}") from exc
    else:  # bytes, encoded as write_atomic does, so a name with undecodable bytes cannot fail
        click.echo(text.encode("utf-8", "backslashreplace"), nl=False)


def _run(action: Callable[[], int]) -> None:
    """Run a command body; map library errors to one-line messages and exit codes."""
    try:
        code = action()
    except (InputError, LexiconError) as exc:
        _error(str(exc))
        code = EXIT_INPUT
    except AuditorError as exc:
        _error(str(exc))
        code = EXIT_ENVIRONMENT
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        _error("interrupted")
        code = 130
    except Exception as exc:  # a bug: say so in one line, keep the traceback for -v
        log.debug("internal error", exc_info=True)
        _error(f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback)")
        code = EXIT_INTERNAL
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Audit recorded live-commerce broadcasts for claims forbidden in Chinese advertising."""
    _setup_logging(verbose)


_fail_on_option = click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a finding at or above this severity is found.",
)
_product_option = product_option(
    "What is sold: turns on rules and exemptions that apply only to some goods "
    "(热销 in a drug ad; medical words for a registered drug)."
)
_lexicon_option = lexicon_option()


@main.command()
# readable=False: an unreadable file is the library's one-line input error, not a usage error.
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json", "jsonl", "csv", "html", "srt", "vtt")),
    default=None,
    help="Output format. Default: table on a terminal, jsonl otherwise. html: a self-contained "
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
@ffmpeg_timeout_option(
    "Stop ffmpeg and report the file when it gives no audio for this many seconds (a hung "
    "read, e.g. from a FIFO); 0 = no limit."
)
@_lexicon_option
@_fail_on_option
@_product_option
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
@click.option(
    "--clips",
    "clips_dir",
    type=click.Path(file_okay=False),
    help="Cut one evidence clip per finding into this folder (created if needed); json, jsonl "
    "and html reports link them.",
)
@click.option(
    "--clip-padding",
    type=click.FloatRange(0, 60),
    default=2.0,
    show_default=True,
    help="Seconds of the recording kept before and after a finding in its clip.",
)
def audit(
    paths: Sequence[str],
    fmt: str | None,
    output: str | None,
    asr: AsrOptions,
    audio_stream: int,
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
    from auditor.audit import AuditOptions, Auditor, AuditResult
    from auditor.report import render_audit

    fmt = fmt or ("table" if sys.stdout.isatty() and not output else "jsonl")
    if fmt in ("srt", "vtt") and len(paths) > 1:
        raise click.UsageError(f"--format {fmt} takes one recording, got {len(paths)}")

    def body() -> int:
        options = AuditOptions(
            asr=asr,
            audio_stream=audio_stream,
            lexicons=tuple(lexicons),
            product_category=product_category,
            ffmpeg_timeout=ffmpeg_timeout or None,
        )
        if output and output != "-" and not os.path.isdir(os.path.dirname(output) or "."):
            # before any audio: not after an hour of transcription
            raise InputError(output, "its folder does not exist")
        if clips_dir:
            from auditor.clips import prepare_folder

            prepare_folder(clips_dir)
        auditor = Auditor(options, status=None if quiet else _status)
        results: list[AuditResult] = []
        bad_input = False
        for path in paths:
            progress = _Progress(click.format_filename(path), enabled=not quiet)
            try:
                results.append(auditor.audit(path, progress=progress))
            except InputError as exc:
                _error(str(exc))
                bad_input = True
            finally:
                progress.close()
        if results:
            clips = None
            if clips_dir:
                from auditor.clips import cut_clips

                clips = cut_clips(results, clips_dir, clip_padding, audio_stream)
            _write_output(render_audit(results, fmt, output, clips, clip_padding), output)
        if bad_input:
            return EXIT_INPUT
        severities = [f.severity for r in results for f in r.findings]
        return EXIT_FINDINGS if fails(severities, fail_on) else EXIT_OK

    _run(body)


@main.command("scan-text")
@click.argument("source", default="-", type=click.Path(allow_dash=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "jsonl")),
    default=None,
    help="Output format. Default: table on a terminal, jsonl otherwise.",
)
@_lexicon_option
@_fail_on_option
@_product_option
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
    from auditor.asr import usable_cpus
    from auditor.findings import TextFinding, scan_blocks
    from auditor.lexicon import load_lexicon
    from auditor.report import render_text_findings
    from auditor.scan import Scanner

    fmt = fmt or ("table" if sys.stdout.isatty() else "jsonl")

    def body() -> int:
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
            # Whole lines, about a million characters at a time: one scan per block (in parallel
            # for a large text), memory bounded by the blocks in flight.
            blocks = iter(lambda: "".join(stream.readlines(1 << 20)), "")
            for block_findings in scan_blocks(scanner, blocks, jobs or usable_cpus()):
                findings.extend(block_findings)
        _write_output(render_text_findings(findings, fmt), None)
        return EXIT_FINDINGS if fails([f.severity for f in findings], fail_on) else EXIT_OK

    _run(body)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="Output format.",
)
def models(fmt: str) -> None:
    """List known speech models, where they are on disk, and which one is the default."""
    from auditor.models import list_models

    def body() -> int:
        entries = list_models()
        if fmt == "json":
            click.echo(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=2))
        else:
            for e in entries:
                mark = "*" if e.default else " "
                state = e.path if e.path else "not on disk"
                click.echo(f"{mark} {e.name:<15} {state}")
        return EXIT_OK

    _run(body)


@main.group()
def lexicon() -> None:
    """Inspect and validate lexicons."""


@lexicon.command("list")
@_lexicon_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="Output format.",
)
def lexicon_list(lexicons: Sequence[str], fmt: str) -> None:
    """Show categories with their severity and rule counts, and the lexicon version."""
    from auditor.lexicon import load_lexicon

    def body() -> int:
        lex = load_lexicon(lexicons)
        counts = lex.counts()
        if fmt == "json":
            payload: dict[str, Any] = {
                "version": lex.version,
                "files": list(lex.files),
                "categories": [
                    {
                        "id": c.id,
                        "severity": c.severity,
                        "legal_basis": c.legal_basis,
                        **counts[c.id],
                    }
                    for c in lex.categories.values()
                ],
            }
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return EXIT_OK
        click.echo(f"lexicon version {lex.version} ({len(lex.files)} files)")
        for c in lex.categories.values():
            n = counts[c.id]
            click.echo(
                f"  {c.id:<26} {c.severity:<6} {n['rules']:>3} rules {n['terms']:>4} terms "
                f"{n['patterns']:>3} patterns"
            )
        click.echo(f"  exemptions: {len(lex.exemptions)}")
        return EXIT_OK

    _run(body)


@lexicon.command("check")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
def lexicon_check(paths: Sequence[str]) -> None:
    """Validate lexicon files (the built-in ones, plus PATHS); name file, line and problem."""
    from auditor.lexicon import load_lexicon

    def body() -> int:
        lex = load_lexicon(paths)
        click.echo(
            f"ok: {len(lex.files)} files, {len(lex.rules)} rules, "
            f"{len(lex.exemptions)} exemptions, version {lex.version}"
        )
        return EXIT_OK

    _run(body)


from auditor.cli_batch import COMMANDS as _BATCH_COMMANDS  # noqa: E402  (batch, rescan, status, findings)

for _command in _BATCH_COMMANDS:
    main.add_command(_command)

from auditor.cli_report import report as _report_command  # noqa: E402  (auditor report --db)

main.add_command(_report_command)


if __name__ == "__main__":  # pragma: no cover
    main()
