"""`auditor report`: HTML pages for a whole batch database (an index and one page per recording)."""

from __future__ import annotations

import click

from auditor.cli.common import db_option, run, status
from auditor.errors import EXIT_OK


@click.command()
@db_option("The batch database (SQLite) written by `auditor batch`; only read.")
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for index.html and recordings/<id>-<name>.html (created if needed).",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def report(db: str, out_dir: str, quiet: bool) -> None:
    """Write an HTML index of a batch (recordings ranked by findings) and a page per recording.

    Pages are written one at a time, so any number of recordings fits in memory. Exit status:
    0 written, 2 no such database, not a batch database, or a folder that cannot be made,
    4 the database cannot be read.
    """

    def body() -> int:
        from auditor.report_batch import write_batch_report

        done = write_batch_report(db, out_dir)
        if not quiet:
            status(f"{done.index}: {done.recordings} recordings, {done.pages} pages")
        return EXIT_OK

    run(body)


def register(group: click.Group) -> None:
    group.add_command(report)
