"""Review commands: decisions on findings (review), the review page (serve), evidence packages
(export, verify)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence

import click

from auditor.cli.common import (
    clip_padding_option,
    db_option,
    decision_filter_option,
    decision_line,
    format_option,
    run,
    since_option,
    since_option_value,
    source_glob_option,
    status,
    write_output,
)
from auditor.decisions import DECISIONS
from auditor.errors import EXIT_FINDINGS, EXIT_OK
from auditor.report import SUMMARY_FORMATS


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return ""


class _DecideByDefault(click.Group):
    """`auditor review --db FILE ID... --decision X` is `auditor review decide ...`; the other
    subcommands are named."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["decide", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DecideByDefault)
def review() -> None:
    """Decide on findings: confirm, dismiss or reopen them, with a note (history is kept).

    `auditor review --db FILE ID... --decision confirmed` records a decision (the `decide`
    command); ids are those of `auditor findings`.
    """


@review.command()
@db_option("The batch database (SQLite) written by `auditor batch`.")
@click.argument("ids", nargs=-1, required=True)
@click.option(
    "--decision",
    type=click.Choice(DECISIONS),
    required=True,
    help="confirmed: a claim to act on; dismissed: not one; open: undecided again.",
)
@click.option("--note", default=None, help="Why, for the history and the evidence package.")
@click.option(
    "--reviewer",
    default=None,
    help="Who decides (default: the login name).",
)
def decide(
    ids: Sequence[str], db: str, decision: str, note: str | None, reviewer: str | None
) -> None:
    """Record a decision on the current findings with these IDS (all or none)."""

    def body() -> int:
        from auditor.store import Store

        with Store(db, create=False) as store:
            changes = store.decide(list(ids), decision, reviewer or _user(), note)
        for change in changes:
            was = change.previous.decision if change.previous else "open"
            click.echo(f"{decision_line(change.decision)}  (was {was})")
        return EXIT_OK

    run(body)


@review.command()
@db_option("The batch database (SQLite) written by `auditor batch`.")
@click.argument("ids", nargs=-1)
@format_option(("table", "jsonl"), "Output format.", default="table")
def history(db: str, ids: Sequence[str], fmt: str) -> None:
    """Every decision recorded on these findings (all when no IDS are given), oldest first."""

    def body() -> int:
        from auditor.store import Store

        with Store(db, create=False) as store:
            rows = store.decision_history(list(ids))
        if fmt == "jsonl":
            text = "".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in rows)
        else:
            text = "".join(
                decision_line(d) + (f"  note: {d.note}" if d.note else "") + "\n" for d in rows
            )
        write_output(text, None)
        return EXIT_OK

    run(body)


@review.command("suggest-allow")
@db_option("The batch database (SQLite) written by `auditor batch`.")
@click.option(
    "--min-count",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Only phrases dismissed at least this many times.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the TOML to this file (atomically) instead of stdout.",
)
def suggest_allow(db: str, min_count: int, output: str | None) -> None:
    """Print allow-list entries (custom lexicon TOML) drawn from dismissed findings' phrases.

    Each entry is the dismissed words with the word either side, with the sentences and notes it
    comes from as comments: a person checks them, keeps what is right and adopts the file with
    `auditor rescan --lexicon FILE`.
    """

    def body() -> int:
        from auditor.store import FindingQuery, Store
        from auditor.suggest import render_allow_toml, suggest_allow
        from auditor.times import utc_now

        with Store(db, create=False) as store:
            dismissed = store.reviewed_findings(FindingQuery(decisions=("dismissed",)))
        suggestions = suggest_allow(dismissed, min_count)
        write_output(render_allow_toml(suggestions, db, utc_now()), output)
        return EXIT_OK

    run(body)


@click.command()
@db_option("The batch database (SQLite) written by `auditor batch`; decisions are stored in it.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs a token (made and printed if none).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--token",
    default=None,
    help="Require this token on every request (off loopback one is generated when not given).",
)
@click.option("--read-only", is_flag=True, help="Show the findings; refuse every decision.")
@click.option(
    "--reviewer",
    default=None,
    help="Name the page offers as reviewer (default: the login name on loopback, none off it).",
)
def serve(
    db: str, host: str, port: int, token: str | None, read_only: bool, reviewer: str | None
) -> None:
    """Run the review page: a queue of findings to hear and confirm or dismiss, in a browser.

    Decisions go into the same database, safely next to a running batch. Stop with Ctrl-C.
    """

    def body() -> int:
        from auditor.review_app import ServeOptions, is_loopback, new_token
        from auditor.review_app import serve as run_server

        local = is_loopback(host)
        options = ServeOptions(
            database=db,
            host=host,
            port=port,
            token=token or (None if local else new_token()),
            read_only=read_only,
            reviewer=reviewer if reviewer is not None else (_user() if local else ""),
        )

        def ready(url: str) -> None:
            if not local:
                status("anyone with the URL below can review: share it only with reviewers")
            mode = " (read-only)" if read_only else ""
            status(f"review page{mode} at {url}  (Ctrl-C stops it)")

        try:
            run_server(options, ready)
        except KeyboardInterrupt:
            status("stopped")
        return EXIT_OK

    run(body)


@click.command()
@db_option("The batch database (SQLite) written by `auditor batch`; only read.")
@decision_filter_option(
    "Package findings with this current decision (repeatable).", default=("confirmed",)
)
@source_glob_option()
@since_option()
@clip_padding_option()
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The zip to write (atomically: complete or not there).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def export(
    db: str,
    decisions: Sequence[str],
    source_glob: str | None,
    since: str | None,
    clip_padding: float,
    output: str,
    quiet: bool,
) -> None:
    """Write an evidence package: per recording its clips, findings with decisions and notes,
    and its page, with a manifest of every file's SHA-256.

    The recordings' content is hashed again before clips are cut from it; one that is missing or
    changed is packaged without clips, said on stderr and in the manifest. Exit status: 0 written,
    2 nothing matches or bad input, 4 the database or the disk.
    """
    since_iso = since_option_value(since)

    def body() -> int:
        from auditor.evidence import export_package

        done = export_package(
            db,
            output,
            decisions=tuple(decisions),
            source_glob=source_glob,
            since=since_iso,
            padding=clip_padding,
            progress=None if quiet else status,
        )
        for problem in done.unverified:
            status(f"no clips for {problem}")
        if not quiet:
            status(
                f"{done.path}: {done.findings} finding(s) from {done.recordings} recording(s), "
                f"{done.clips} clip(s), {done.files} files"
            )
        return EXIT_OK

    run(body)


@click.command()
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@format_option(SUMMARY_FORMATS, "Output format.", default="table")
def verify(package: str, fmt: str) -> None:
    """Check an evidence package: every file against the SHA-256 and size in its manifest.

    Exit status: 0 it verifies, 1 a file differs, is missing or is not listed, 2 not a package.
    """

    def body() -> int:
        import zipfile

        from auditor.errors import InputError
        from auditor.evidence import verify_package

        try:
            problems = verify_package(package)
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise InputError(package, f"not an evidence package: {exc}") from exc
        if fmt == "json":
            click.echo(json.dumps({"package": package, "problems": problems}, ensure_ascii=False))
        else:
            for problem in problems:
                click.echo(f"{package}: {problem}")
            if not problems:
                click.echo(f"{package}: every file matches its manifest")
        return EXIT_FINDINGS if problems else EXIT_OK

    run(body)


def register(group: click.Group) -> None:
    for command in (review, serve, export, verify):
        group.add_command(command)
