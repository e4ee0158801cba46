"""Habits the code keeps: every command and option explained, a library that never prints or
exits, errors from one module, and a README reference that cannot drift from the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import click
import pytest

from auditor import errors
from auditor.cli import main
from tests.conftest import ROOT

PACKAGE = ROOT / "auditor"
# The CLI modules are the only place that talks to the terminal and chooses exit codes.
CLI_MODULES = {"cli.py", "cli_batch.py", "cli_report.py", "cli_options.py", "__main__.py"}


def _commands(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found += _commands(sub, f"{path} {name}")
    return found


@pytest.mark.parametrize(("path", "command"), _commands(main, "auditor"), ids=lambda v: str(v))
def test_every_command_and_option_has_help(path: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"{path} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"{path} {param.opts[0]} has no help text"


def _library_files() -> list[Path]:
    return [p for p in sorted(PACKAGE.glob("*.py")) if p.name not in CLI_MODULES]


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: p.name)
def test_library_never_prints_or_exits(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else (func.attr if isinstance(func, ast.Attribute) else "")
            )
            owner = (
                func.value.id
                if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name))
                else ""
            )
            assert name not in {"print", "exit", "quit"} or owner not in {"", "sys", "os"}, (
                f"{path.name}:{node.lineno} calls {owner + '.' if owner else ''}{name}"
            )
            assert (owner, name) != ("click", "echo"), f"{path.name}:{node.lineno} echoes"
        if isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert module != "click", f"{path.name}:{node.lineno} imports click"


def test_exceptions_are_defined_in_the_errors_module_only() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                assert not any(b.endswith(("Error", "Exception")) for b in bases), (
                    f"{path.name}:{node.lineno} defines {node.name}; put it in errors.py"
                )
    assert issubclass(errors.InputError, errors.AuditorError)


def test_readme_command_reference_matches_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "-I", str(ROOT), str(ROOT / "README.md")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_is_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()
