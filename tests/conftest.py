"""Shared fixtures. Tests run the real CLI, the real ffmpeg, the real default model and a real
browser (Chromium, driven by Playwright) for every page."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
DEMO = ROOT / "sample_media" / "demo.mp4"
DEMO_KEY = ROOT / "sample_media" / "demo.expected.json"
CHROMIUM = os.environ.get("AUDITOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session", autouse=True)
def auditor_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private cache per test session, so the default model is assembled for real once."""
    home = Path(os.environ.get("AUDITOR_TEST_HOME") or tmp_path_factory.mktemp("auditor-home"))
    os.environ["AUDITOR_HOME"] = str(home)
    return home


def run_cli(
    *args: str,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run `auditor` as a user would: a separate process, real stdout, stderr and exit code."""
    return subprocess.run(
        [sys.executable, "-m", "auditor.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def ffmpeg_bin() -> str:
    from auditor.media import find_ffmpeg

    return find_ffmpeg()


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo") / "demo.json"
    done = run_cli("audit", str(DEMO), "--format", "json", "-o", str(out), "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


@pytest.fixture(scope="session")
def demo_key() -> dict[str, Any]:
    key: dict[str, Any] = json.loads(DEMO_KEY.read_text(encoding="utf-8"))
    return key


def db_rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of a query on a batch database, read with plain sqlite3 as an outsider would."""
    con = sqlite3.connect(db)
    try:
        return list(con.execute(sql))
    finally:
        con.close()


def child_pids(pid: int, recursive: bool = False) -> list[int]:
    """Processes whose parent is `pid`, or every process below it when `recursive` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found.extend(frontier)
        if not recursive:
            break
    return found


# -- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("AUDITOR_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium, or set AUDITOR_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Page:
    """A browser page that records console errors, page errors, dialogs and every request."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")
        return self.page

    def wait_playing(self, after: float = -1.0, timeout: float = 15_000) -> None:
        """Until the page's player plays, past `after` seconds of its media."""
        self.page.wait_for_function(
            "t => { const m = document.querySelector('.player'); "
            "return !m.paused && m.currentTime > t; }",
            arg=after,
            timeout=timeout,
        )

    def media_state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate(
            """() => { const p = document.querySelector('.player');
                return {t: p.currentTime, paused: p.paused, src: p.currentSrc,
                        error: p.error ? p.error.code : null}; }"""
        )
        return state


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    wrapped = Page(browser)
    yield wrapped
    wrapped.context.close()
