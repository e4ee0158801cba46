"""`auditor lexicon list|check` and `auditor models`: what the auditor knows and has on disk."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from auditor.cli.common import format_option, lexicon_option, run
from auditor.errors import EXIT_OK
from auditor.report import SUMMARY_FORMATS


@click.command()
@format_option(SUMMARY_FORMATS, "Output format.", default="table")
def models(fmt: str) -> None:
    """List known speech models, where they are on disk, and which one is the default."""

    def body() -> int:
        from auditor.models import list_models

        entries = list_models()
        if fmt == "json":
            click.echo(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=2))
        else:
            for e in entries:
                mark = "*" if e.default else " "
                state = e.path if e.path else "not on disk"
                click.echo(f"{mark} {e.name:<15} {state}")
        return EXIT_OK

    run(body)


@click.group()
def lexicon() -> None:
    """Inspect and validate lexicons."""


@lexicon.command("list")
@lexicon_option()
@format_option(SUMMARY_FORMATS, "Output format.", default="table")
def lexicon_list(lexicons: Sequence[str], fmt: str) -> None:
    """Show categories with their severity and rule counts, word classes and their sizes, and
    the lexicon version."""

    def body() -> int:
        from auditor.lexicon import load_lexicon

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
                "classes": [
                    {"id": w.id, "terms": len(w.terms), "patterns": len(w.patterns)}
                    for w in lex.classes.values()
                ],
                "learned": None
                if lex.learned is None
                else {
                    "version": lex.learned.version,
                    "ngrams": len(lex.learned.vocabulary),
                    "threshold": lex.learned.threshold,
                    "categories": list(lex.learned.categories),
                },
            }
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return EXIT_OK
        click.echo(f"lexicon version {lex.version} ({len(lex.files)} files)")
        for c in lex.categories.values():
            n = counts[c.id]
            click.echo(
                f"  {c.id:<26} {c.severity:<6} {n['rules']:>3} rules {n['terms']:>4} terms "
                f"{n['patterns']:>3} patterns {n['combinations']:>2} combinations"
            )
        click.echo(f"  exemptions: {len(lex.exemptions)}")
        click.echo(f"word classes ({len(lex.classes)}):")
        for w in lex.classes.values():
            patterns = f", {len(w.patterns)} patterns" if w.patterns else ""
            click.echo(f"  {w.id:<26} {len(w.terms):>4} words{patterns}")
        model = lex.learned
        if model is None:
            click.echo("learned model: off (--learned turns it on)")
        else:
            click.echo(
                f"learned model: on, {len(model.vocabulary)} n-grams, {len(model.categories)} "
                f"categories, threshold {model.threshold:g} (version {model.version})"
            )
        return EXIT_OK

    run(body)


@lexicon.command("check")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
def lexicon_check(paths: Sequence[str]) -> None:
    """Validate lexicon files (the built-in ones, plus PATHS); name file, line and problem."""

    def body() -> int:
        from auditor.lexicon import load_lexicon

        lex = load_lexicon(paths)
        click.echo(
            f"ok: {len(lex.files)} files, {len(lex.rules)} rules, "
            f"{len(lex.exemptions)} exemptions, version {lex.version}"
        )
        return EXIT_OK

    run(body)


def register(group: click.Group) -> None:
    group.add_command(models)
    group.add_command(lexicon)
