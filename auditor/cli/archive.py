"""Archive commands: batch, rescan, status, findings, on a batch database."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from auditor.cli.common import (
    asr_options,
    db_option,
    decision_filter_option,
    decision_line,
    default_format,
    ffmpeg_timeout_option,
    format_option,
    lexicon_option,
    product_option,
    run,
    screen_options,
    since_option,
    since_option_value,
    source_glob_option,
    status,
    verify_option,
    write_output,
)
from auditor.errors import EXIT_FAILED, EXIT_OK
from auditor.findings import CHANNELS
from auditor.options import AUTO_WORKERS, AsrOptions, ScreenOptions
from auditor.report import FINDINGS_FORMATS, SUMMARY_FORMATS
from auditor.severity import SEVERITIES
from auditor.times import hours_clock

if TYPE_CHECKING:
    from auditor.batch import BatchEvent, BatchProgress


def _workers_value(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """--workers: a count of processes, 1 to 256, or `auto` (AUTO_WORKERS)."""
    text = value.strip().lower()
    if text == "auto":
        return AUTO_WORKERS
    try:
        count = int(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number of workers nor 'auto'") from None
    if not 1 <= count <= 256:
        raise click.BadParameter(f"{count} is not in the range 1<=x<=256 (or 'auto')")
    return count


class _BatchDisplay:
    """Progress on stderr: a live bar on a terminal, one plain line per file otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.live = sys.stderr.isatty() and not quiet
        self._drawn = False

    def __call__(self, event: BatchEvent) -> None:
        p = event.progress
        important = event.kind in ("problem", "failed", "waiting")
        if self.quiet and not important:
            return
        if self.live:
            if event.kind in ("skip", "done"):
                self._bar(p)
                return
            self._clear()
            status(event.message if not important else f"{event.kind}: {event.message}")
            if p.total:
                self._bar(p)
            return
        if event.kind in ("done", "failed", "skip"):
            status(f"[{p.finished}/{p.total}] {event.kind}: {event.message}")
        else:
            status(f"{event.kind}: {event.message}")

    def _bar(self, p: BatchProgress) -> None:
        width = 24
        filled = int(width * p.finished / p.total) if p.total else width
        eta = p.eta()
        click.echo(
            f"\rauditor: [{'#' * filled}{'.' * (width - filled)}] {p.finished}/{p.total} files, "
            f"{p.audio_seconds / 3600:.2f} h audio, "
            f"ETA {hours_clock(eta) if eta is not None else '--:--:--'} ",
            err=True,
            nl=False,
        )
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            click.echo("\r\033[K", err=True, nl=False)
            self._drawn = False

    def close(self) -> None:
        if self._drawn:
            click.echo("", err=True)
            self._drawn = False


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@db_option()
@click.option(
    "--from-list",
    type=click.Path(dir_okay=False, allow_dash=False),
    help="A manifest: one file or folder per line (blank lines and # comments ignored).",
)
@click.option(
    "--ext",
    "extensions",
    multiple=True,
    help="File extension to look for in folders (repeatable; default: common audio and video).",
)
@click.option(
    "--workers",
    metavar="N|auto",
    default="1",
    callback=_workers_value,
    show_default=True,
    help="Worker processes (local executor); each loads the model once. auto: the layout "
    "timed fastest on this machine (measured on the first file once, then kept).",
)
@click.option(
    "--threads",
    type=click.IntRange(0, 256),
    default=0,
    show_default=True,
    help="CPU threads per worker (Ray: CPUs per task); 0 = cores / workers locally, 2 on Ray.",
)
@click.option(
    "--executor",
    type=click.Choice(("local", "ray")),
    default="local",
    show_default=True,
    help="Run the per-file tasks in local processes or as Ray tasks.",
)
@click.option(
    "--ray-address",
    default=None,
    help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start a local Ray.",
)
@click.option("--retry-failed", is_flag=True, help="Try files that failed in earlier runs again.")
@click.option(
    "--rehash",
    is_flag=True,
    help="Hash every file again even when its size, mtime and inode are unchanged.",
)
@asr_options
@screen_options
@verify_option()
@ffmpeg_timeout_option(
    "Stop ffmpeg and record the file as failed when it gives no audio for this many seconds; "
    "0 = no limit."
)
@lexicon_option("Extra lexicon TOML file (repeatable) for the findings of this run.")
@product_option(
    "What is sold, as in `auditor audit`; a scan setting like the lexicon (see rescan)."
)
@click.option("-q", "--quiet", is_flag=True, help="Only problems and failures on stderr.")
def batch(
    paths: Sequence[str],
    db: str,
    from_list: str | None,
    extensions: Sequence[str],
    workers: int,
    threads: int,
    executor: str,
    ray_address: str | None,
    retry_failed: bool,
    rehash: bool,
    asr: AsrOptions,
    audio_stream: int,
    screen: ScreenOptions,
    verify: bool,
    ffmpeg_timeout: float,
    lexicons: Sequence[str],
    product_category: str,
    quiet: bool,
) -> None:
    """Audit every media file under PATHS not yet audited with these settings, into --db.

    Files are identified by the SHA-256 of their content: a moved or renamed file is not
    transcribed again, a changed one is. A killed run resumes where it stopped. Exit status:
    0 every file done, 3 some failed (see `auditor status`), 2 usage, 4 model or ffmpeg
    unavailable.
    """
    if not paths and not from_list:
        raise click.UsageError("give PATHS, --from-list FILE, or both")
    if ray_address and executor != "ray":
        raise click.UsageError("--ray-address needs --executor ray")
    if workers == AUTO_WORKERS and executor != "local":
        raise click.UsageError("--workers auto is for the local executor (Ray places its tasks)")
    exts: list[str] = []
    for value in extensions:
        exts.extend(e.strip() for e in value.split(",") if e.strip())

    def body() -> int:
        from auditor.batch import DEFAULT_EXTENSIONS, BatchConfig, run_batch
        from auditor.lexicon import load_lexicon
        from auditor.options import AuditOptions
        from auditor.store import Store

        load_lexicon(lexicons)  # a broken lexicon fails before any audio is touched
        options = AuditOptions(
            asr=asr,
            audio_stream=audio_stream,
            ffmpeg_timeout=ffmpeg_timeout or None,
            lexicons=tuple(lexicons),
            product_category=product_category,
            screen=screen,
            verify=verify,
        )
        config = BatchConfig(
            paths=tuple(paths),
            extensions=tuple(exts) or DEFAULT_EXTENSIONS,
            from_list=from_list,
            workers=workers,
            threads=threads,
            retry_failed=retry_failed,
            rehash=rehash,
            executor=executor,
            ray_address=ray_address,
        )
        display = _BatchDisplay(quiet)
        with Store(db) as store:
            gone_before = {d.finding_id for d in store.decided_but_gone()}
            try:
                summary = run_batch(store, options, config, on_event=display)
            finally:
                display.close()
            # Audited again with other settings, a recording's words and times move: its decided
            # findings may not be made again. Said, as rescan says it.
            lost = [d for d in store.decided_but_gone() if d.finding_id not in gone_before]
        for decision in lost:
            status(f"no longer found (decision kept in the history): {decision_line(decision)}")
        if not quiet:
            status(
                f"{summary.found} file(s) ({summary.duplicates} duplicate path(s)): "
                f"{summary.audited} audited, {summary.failed} failed, "
                f"{summary.done_before} already done, {summary.failed_before} failed before, "
                f"{summary.problems} unreadable; {summary.audio_seconds / 3600:.2f} h audio "
                f"in {summary.elapsed:.1f} s"
            )
        return EXIT_OK if summary.ok else EXIT_FAILED

    run(body)


@click.command()
@db_option()
@lexicon_option()
@product_option(
    "Scan every recording as selling this; default: each one's category from its audit.",
    default=None,
)
@format_option(SUMMARY_FORMATS, "Output format of the summary.", default="table")
def rescan(db: str, lexicons: Sequence[str], product_category: str | None, fmt: str) -> None:
    """Scan every stored transcript again with the current lexicon (no speech recognition).

    The new findings become the current ones; each finding records its lexicon version.
    """

    def body() -> int:
        from auditor.batch import rescan as run_rescan
        from auditor.lexicon import load_lexicon
        from auditor.store import Store

        lexicon = load_lexicon(lexicons)
        with Store(db, create=False) as store:
            summary = run_rescan(store, lexicon, product_category)
        if fmt == "json":
            click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        else:
            click.echo(
                f"rescanned {summary.audits} transcript(s), {summary.audio_seconds / 3600:.2f} h, "
                f"with lexicon {summary.lexicon_version}: {summary.findings} finding(s) in "
                f"{summary.elapsed:.2f} s"
            )
            for gone in summary.no_longer_found:
                click.echo(f"no longer found (decision kept in the history): {decision_line(gone)}")
            for back in summary.found_again:
                click.echo(f"found again (its decision applies again): {decision_line(back)}")
            if summary.unverified:
                click.echo(
                    f"{summary.unverified} sound-alike finding(s) not checked against the audio "
                    "(new terms, or audited with --no-verify; a rescan reads no audio): they carry "
                    "no evidence figures"
                )
        return EXIT_OK

    run(body)


@click.command("status")
@db_option()
@format_option(SUMMARY_FORMATS, "Output format.", default="table")
def status_command(db: str, fmt: str) -> None:
    """Counts of done, failed, pending and running audits, audio hours and findings by severity."""

    def body() -> int:
        from auditor.store import Store

        with Store(db, create=False) as store:
            info = store.status()
        if fmt == "json":
            click.echo(json.dumps(info, ensure_ascii=False, indent=2))
            return EXIT_OK
        audits = info["audits"]
        found = info["findings"]
        click.echo(f"database   {info['database']} (schema {info['schema_version']})")
        click.echo(
            f"audits     {audits['done']} done, {audits['failed']} failed, "
            f"{audits['pending']} pending, {audits['running']} running"
        )
        click.echo(f"files      {info['files']} contents at {info['paths']} paths")
        click.echo(f"audio      {info['audio_hours']:.2f} h transcribed")
        channels = info["channels"]
        click.echo(
            f"findings   {found['total']}: {found['high']} high, {found['medium']} medium, "
            f"{found['low']} low; {channels['speech']} said, {channels['screen']} on screen"
        )
        click.echo(f"screen     text stored for {info['screen_text']} audit(s)")
        review = info["decisions"]
        click.echo(
            f"review     {review['open']} open, {review['confirmed']} confirmed, "
            f"{review['dismissed']} dismissed"
        )
        for version, count in info["lexicon_versions"].items():
            click.echo(f"lexicon    {version}: {count} audit(s)")
        for failure in info["failed"]:
            click.echo(f"failed     {failure['source']}: {failure['cause']}")
        return EXIT_OK

    run(body)


@click.command()
@db_option()
@since_option()
@click.option(
    "--severity",
    type=click.Choice(SEVERITIES),
    default=None,
    help="Only findings at or above this severity.",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="Only this category id, or a prefix such as 'price' (repeatable).",
)
@source_glob_option()
@decision_filter_option(
    "Only findings with this current decision (repeatable); open: nobody decided, or reopened."
)
@click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    default=None,
    help="Only what was said (speech) or shown in the video (screen).",
)
@format_option(FINDINGS_FORMATS, "Output format. Default: table on a terminal, jsonl otherwise.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write to this file (atomically) instead of stdout.",
)
def findings(
    db: str,
    since: str | None,
    severity: str | None,
    categories: Sequence[str],
    source_glob: str | None,
    decisions: Sequence[str],
    channel: str | None,
    fmt: str | None,
    output: str | None,
) -> None:
    """The current findings in the database (jsonl rows as in `auditor audit --format jsonl`).

    Each row carries its `decision` (open, confirmed, dismissed; see `auditor review`), and who
    decided, when and the note once someone has.
    """
    since_iso = since_option_value(since)
    fmt = fmt or default_format(output)

    def body() -> int:
        from auditor.decisions import REVIEW_FIELDS
        from auditor.report import render_csv, render_findings_table, render_jsonl
        from auditor.store import FindingQuery, Store

        query = FindingQuery(
            since=since_iso,
            min_severity=severity,
            categories=tuple(categories),
            source_glob=source_glob,
            decisions=tuple(decisions),
            channels=(channel,) if channel else (),
        )
        with Store(db, create=False) as store:
            selected = store.reviewed_findings(query)
        if fmt == "jsonl":
            text = render_jsonl(selected)
        elif fmt == "csv":
            text = render_csv(selected, REVIEW_FIELDS)
        else:
            text = render_findings_table(selected)
        write_output(text, output)
        return EXIT_OK

    run(body)


def register(group: click.Group) -> None:
    for command in (batch, rescan, status_command, findings):
        group.add_command(command)
