"""Habits the code keeps: every command and option explained, a library that never prints or
exits, errors from one module, a README reference that cannot drift from the CLI, and an import
graph without cycles that follows CONTRIBUTING's layers."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from auditor import errors
from auditor.cli import main
from tests.conftest import ROOT

PACKAGE = ROOT / "auditor"


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
    # The CLI (auditor/cli/ and `python -m auditor`) is the only place that talks to the terminal
    # and chooses exit codes.
    return [p for p in sorted(PACKAGE.glob("*.py")) if p.name != "__main__.py"]


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
    for path in sorted(PACKAGE.rglob("*.py")):
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


# -- the import graph --------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module imported, name taken from it) for every import of an auditor module in the
    file: at the top, inside functions and under TYPE_CHECKING alike."""
    found: list[tuple[int, str, str | None]] = []
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name in MODULES]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base not in MODULES:
                continue
            for alias in node.names:
                child = f"{base}.{alias.name}"
                if child in MODULES:  # a module taken from its package: `from auditor import x`
                    found.append((node.lineno, child, None))
                else:
                    found.append((node.lineno, base, alias.name))
    return found


def _graph() -> dict[str, set[str]]:
    return {
        name: {target for _, target, _ in _imports(path) if target != name}
        for name, path in MODULES.items()
    }


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            # a package's __init__ may register its own submodules (auditor.cli)
            if target.startswith(node + "."):
                continue
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_no_private_names_from_other_modules() -> None:
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, target, taken in _imports(path):
            private = taken is not None and taken.startswith("_") and not taken.startswith("__")
            assert not (private and target != name), (
                f"{path.relative_to(ROOT)}:{line} imports {taken} from {target}"
            )
        aliases = {
            (a.asname or a.name).split(".")[-1]: f"{n.module}.{a.name}"
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("auditor")
            for a in n.names
            if f"{n.module}.{a.name}" in MODULES
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                pytest.fail(
                    f"{path.relative_to(ROOT)}:{node.lineno} uses {aliases[node.value.id]}."
                    f"{node.attr}"
                )


def _layers() -> list[tuple[str, list[str]]]:
    """CONTRIBUTING's layer diagram, top layer first: `layer  module module ...` lines in the
    fenced block after "## Shape of the code"."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    block = re.search(r"## Shape of the code.*?```text\n(.*?)```", text, re.S)
    assert block, "CONTRIBUTING.md has no layer diagram"
    layers = []
    for line in block.group(1).splitlines():
        if line.strip():
            layer, *modules = line.split()
            layers.append((layer, modules))
    return layers


def _layer_of() -> dict[str, int]:
    """Module -> layer number (0 = the bottom layer)."""
    layers = _layers()
    out: dict[str, int] = {}
    for height, (_, modules) in enumerate(reversed(layers)):
        for module in modules:
            name = "auditor" if module == "auditor" else f"auditor.{module}"
            assert name not in out, f"{module} is in two layers of CONTRIBUTING's diagram"
            if name.endswith(".*"):  # a package's submodules
                for known in MODULES:
                    if known.startswith(name[:-1]):
                        out[known] = height
            else:
                out[name] = height
    return out


def test_every_module_is_in_the_layer_diagram() -> None:
    layer = _layer_of()
    missing = sorted(set(MODULES) - set(layer))
    assert not missing, f"add to CONTRIBUTING's layer diagram: {', '.join(missing)}"
    stale = sorted(set(layer) - set(MODULES))
    assert not stale, f"CONTRIBUTING's layer diagram names modules that do not exist: {stale}"


def test_imports_follow_the_layer_diagram() -> None:
    layer = _layer_of()
    names = [name for name, _ in reversed(_layers())]
    for module, path in MODULES.items():
        for line, target, _ in _imports(path):
            if target.startswith(module + "."):
                continue  # a package registering its submodules
            assert layer[target] <= layer[module], (
                f"{path.relative_to(ROOT)}:{line}: {module} ({names[layer[module]]}) imports "
                f"{target} ({names[layer[target]]}), a higher layer"
            )
