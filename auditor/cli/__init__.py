"""Command-line interface: the `auditor` group, and each command family registered on it.

Each command module (`audit`, `info`, `archive`, `report`, `review`) defines its commands and a
`register(group)`; they share `auditor.cli.common` and never import each other or this module.
The library never imports `auditor.cli`.
"""

from __future__ import annotations

import click

from auditor import __version__
from auditor.cli import archive, audit, info, report, review
from auditor.cli.common import setup_logging

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Audit recorded live-commerce broadcasts for claims forbidden in Chinese advertising."""
    setup_logging(verbose)


for _family in (audit, info, archive, report, review):
    _family.register(main)
