"""Render the CLI's help text as Markdown for the README (run through cog, checked in CI)."""

from __future__ import annotations

import click

from auditor.cli import main


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found.extend(_walk(command.commands[name], [*path, name]))
    return found


def reference() -> str:
    parts: list[str] = []
    for path, command in _walk(main, ["auditor"]):
        with click.Context(
            command,
            info_name=" ".join(path),
            terminal_width=100,
            max_content_width=100,
            help_option_names=["-h", "--help"],
        ) as ctx:
            text = command.get_help(ctx)
        parts.append(f"### `{' '.join(path)}`\n\n```\n{text}\n```\n\n")
    return "".join(parts)
