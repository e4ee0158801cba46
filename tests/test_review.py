"""The review workflow: decisions on findings (CLI and store), rescans that keep them, allow-list
suggestions, evidence packages, and the review page in a real Chromium against `auditor serve`.

The batch database holds the real audit of the demo (its transcript, findings and recording) and a
remuxed copy of the demo under a file name that is an HTML injection, with markup in a finding's
sentence and legal basis; `auditor serve` runs as a user runs it, a separate process on a free port.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import urllib.parse
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import av
import pytest

from auditor.decisions import DECISIONS
from auditor.errors import InputError
from auditor.evidence import MANIFEST, SUMS, verify_package
from auditor.files import sha256_file
from auditor.findings import Finding
from auditor.results import AuditResult
from auditor.segment import load_dictionary, tokenizer
from auditor.store import FindingQuery, Store, new_owner
from auditor.suggest import phrase_around
from tests.conftest import DEMO, ROOT, Page, db_rows, run_cli

SETTINGS = {"model": "base", "language": "zh", "beam_size": 5, "audio_stream": 0}
KEY = "review-test"
HOSTILE_NAME = '"><img src=x onerror=alert(1)>.mp4'
EVIL_CONTEXT = "</script><script>window.pwned=1</script><img src=x onerror=alert(2)>全网第一"
EVIL_LAW = "<iframe src=javascript:alert(3)>"


# -- the database ------------------------------------------------------------------------------


def _add(store: Store, result: AuditResult, path: str, findings: list[Finding]) -> None:
    """Store `result` as the batch would: its content (real SHA-256 of `path`) done, with these
    findings (their ids computed by the store for this content)."""
    sha = sha256_file(path)
    owner = new_owner()
    store.record_path(path, sha, os.path.getsize(path), 0, 0)
    _, row = store.claim(sha, KEY, SETTINGS, path, owner)
    stored = replace(
        result,
        source=replace(result.source, path=path, sha256=sha, size=os.path.getsize(path)),
        findings=tuple(replace(f, source=path, id="") for f in findings),
    )
    assert store.finish(row.id, owner, stored)


@dataclass(frozen=True)
class Archive:
    db: Path
    hostile: Path  # the recording with a markup name
    findings: int


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory, demo_report: dict[str, Any], ffmpeg_bin: str
) -> Archive:
    folder = tmp_path_factory.mktemp("review")
    hostile = folder / HOSTILE_NAME
    subprocess.run(  # the same timeline, other bytes: another content to the batch
        [
            ffmpeg_bin,
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            f"file:{DEMO}",
            "-c",
            "copy",
            "-metadata",
            "title=copy",
            f"file:{hostile}",
        ],
        check=True,
    )
    result = AuditResult.from_dict(demo_report)
    findings = list(result.findings)
    evil = [replace(findings[0], context=EVIL_CONTEXT, legal_basis=EVIL_LAW), *findings[1:]]
    db = folder / "audits.sqlite"
    with Store(db) as store:
        _add(store, result, str(DEMO), findings)
        _add(store, result, str(hostile), evil)
    return Archive(db, hostile, 2 * len(findings))


@pytest.fixture
def archive(template: Archive, tmp_path: Path) -> Archive:
    """A fresh copy of the database for each test (decisions change it)."""
    db = tmp_path / "audits.sqlite"
    shutil.copyfile(template.db, db)
    return replace(template, db=db)


def _rows(db: Path, *args: str) -> list[dict[str, Any]]:
    done = run_cli("findings", "--db", str(db), "--format", "jsonl", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _state(db: Path) -> dict[str, str]:
    return {str(k): str(v) for k, v in db_rows(db, "SELECT fid, decision FROM review_state")}


# -- decisions from the command line ----------------------------------------------------------


def test_rows_carry_ids_and_decisions_and_review_records_them(archive: Archive) -> None:
    rows = _rows(archive.db)
    assert len(rows) == archive.findings
    assert {r["decision"] for r in rows} == {"open"}
    assert len({r["id"] for r in rows}) == len(rows)
    first, second = rows[0]["id"], rows[1]["id"]
    done = run_cli(
        "review",
        "--db",
        str(archive.db),
        first,
        second,
        "--decision",
        "confirmed",
        "--note",
        "原价虚构",
        "--reviewer",
        "alice",
    )
    assert done.returncode == 0, done.stderr
    assert first in done.stdout and "confirmed by alice" in done.stdout
    confirmed = _rows(archive.db, "--decision", "confirmed")
    assert [r["id"] for r in confirmed] == [first, second]
    assert all(r["reviewer"] == "alice" and r["note"] == "原价虚构" for r in confirmed)
    assert len(_rows(archive.db, "--decision", "open")) == archive.findings - 2
    both = _rows(archive.db, "--decision", "open", "--decision", "confirmed")
    assert len(both) == archive.findings
    # A change is a new row; the history keeps the old one.
    again = run_cli("review", "--db", str(archive.db), first, "--decision", "dismissed")
    assert again.returncode == 0 and "(was confirmed)" in again.stdout
    history = run_cli("review", "history", "--db", str(archive.db), first, "--format", "jsonl")
    decisions = [json.loads(line)["decision"] for line in history.stdout.splitlines()]
    assert decisions == ["confirmed", "dismissed"]
    csv = run_cli("findings", "--db", str(archive.db), "--format", "csv")
    assert csv.stdout.splitlines()[0].endswith(",decision,reviewer,decided,note")
    table = run_cli("findings", "--db", str(archive.db), "--format", "table")
    assert first in table.stdout and "dismissed" in table.stdout
    status = run_cli("status", "--db", str(archive.db))
    assert f"review     {archive.findings - 2} open, 1 confirmed, 1 dismissed" in status.stdout


def test_a_bad_id_records_nothing(archive: Archive) -> None:
    good = _rows(archive.db)[0]["id"]
    done = run_cli(
        "review", "--db", str(archive.db), good, "feedface00000000", "--decision", "confirmed"
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "no current finding with id 'feedface00000000'" in done.stderr
    assert _state(archive.db) == {}
    bad = run_cli("review", "--db", str(archive.db), good, "--decision", "maybe")
    assert bad.returncode == 2 and "maybe" in bad.stderr


def test_decisions_survive_rescans_and_a_lost_one_is_reported(
    archive: Archive, tmp_path: Path
) -> None:
    rows = _rows(archive.db)
    target = rows[0]
    run_cli(
        "review",
        "--db",
        str(archive.db),
        target["id"],
        "--decision",
        "confirmed",
        "--reviewer",
        "bob",
    )
    same = run_cli("rescan", "--db", str(archive.db))
    assert same.returncode == 0, same.stderr
    assert "no longer found" not in same.stdout
    assert [r["id"] for r in _rows(archive.db)] == [r["id"] for r in rows]
    assert [r["id"] for r in _rows(archive.db, "--decision", "confirmed")] == [target["id"]]
    # A lexicon that no longer makes the decided finding: said so, decision kept in history.
    lexicon = tmp_path / "off.toml"
    lexicon.write_text(f'disable = ["{target["rule"]}"]\n', encoding="utf-8")
    off = run_cli("rescan", "--db", str(archive.db), "--lexicon", str(lexicon), "--format", "json")
    assert off.returncode == 0, off.stderr
    summary = json.loads(off.stdout)
    assert [d["id"] for d in summary["no_longer_found"]] == [target["id"]]
    assert summary["no_longer_found"][0]["matched"] == target["matched"]
    table = run_cli("rescan", "--db", str(archive.db), "--lexicon", str(lexicon))
    assert "no longer found" not in table.stdout  # already gone before this one
    assert _rows(archive.db, "--decision", "confirmed") == []
    history = run_cli("review", "history", "--db", str(archive.db), "--format", "jsonl")
    assert [json.loads(x)["id"] for x in history.stdout.splitlines()] == [target["id"]]
    back = run_cli("rescan", "--db", str(archive.db))
    assert f"found again (its decision applies again): {target['id']}" in back.stdout
    assert [r["id"] for r in _rows(archive.db, "--decision", "confirmed")] == [target["id"]]


def test_store_pages_cover_every_finding_once_in_each_order(archive: Archive) -> None:
    with Store(archive.db) as store:
        everything = store.reviewed_findings()
        ids = [r.finding.id for r in everything]
        store.decide(ids[:3], "dismissed", "carol")
        for order in ("severity", "source", "newest", "confidence", "category"):
            paged = [
                r.finding.id
                for offset in range(0, len(ids), 7)
                for r in store.reviewed_findings(None, order, offset, 7)
            ]
            assert sorted(paged) == sorted(ids), order
            whole = [r.finding.id for r in store.reviewed_findings(None, order)]
            assert paged == whole, order
            # Next to a finding: forwards from the first, then backwards from the last.
            walked = whole[:1]
            while page := store.reviewed_findings(None, order, limit=4, after=walked[-1]):
                walked += [r.finding.id for r in page]
            assert walked == whole, order
            back = whole[-1:]
            while page := store.reviewed_findings(
                None, order, limit=4, after=back[0], backwards=True
            ):
                back = [r.finding.id for r in page] + back
            assert back == whole, order
        with pytest.raises(InputError, match="no current finding"):
            store.reviewed_findings(None, "source", limit=4, after="feedface00000000")
        open_query = FindingQuery(decisions=("open",))
        assert store.decision_counts(open_query) == {
            "open": len(ids) - 3,
            "confirmed": 0,
            "dismissed": 3,
        }
        dismissed = store.reviewed_findings(FindingQuery(decisions=("dismissed",)), "source", 0, 50)
        assert sorted(r.finding.id for r in dismissed) == sorted(ids[:3])
        high = store.decision_counts(FindingQuery(min_severity="high"))
        assert sum(high.values()) == sum(r.finding.severity == "high" for r in everything)


def test_a_later_decision_by_someone_else_is_a_reported_conflict(archive: Archive) -> None:
    with Store(archive.db) as store:
        fid = store.reviewed_findings()[0].finding.id
        [first] = store.decide([fid], "confirmed", "alice", seen={fid: 0})
        assert not first.conflict and first.previous is None
        [late] = store.decide([fid], "dismissed", "bob", "背景音", seen={fid: 0})
        assert late.conflict and late.previous is not None
        assert late.previous.reviewer == "alice"
        assert [d.decision for d in store.decision_history([fid])] == ["confirmed", "dismissed"]


# -- learning from dismissals ------------------------------------------------------------------


def test_phrase_around_takes_a_word_either_side() -> None:
    cutter = tokenizer(load_dictionary(), ["最好"])
    assert phrase_around("这是我最好的朋友", "最好", cutter) == "我最好的"
    assert phrase_around("最好", "最好", cutter) is None  # the bare term: never suggested
    assert phrase_around("好，最好。", "最好", cutter) is None
    assert phrase_around("這是我最好的朋友", "最好", cutter) == "我最好的"


def test_suggested_allow_list_clears_the_dismissed_phrase_only(
    archive: Archive, tmp_path: Path
) -> None:
    rows = [r for r in _rows(archive.db) if r["source"] == str(DEMO)]
    dismissed = next(r for r in rows if r["matched"] == "顶级")
    kept = next(r for r in rows if r["matched"] == "全网第一")
    run_cli(
        "review",
        "--db",
        str(archive.db),
        dismissed["id"],
        "--decision",
        "dismissed",
        "--note",
        "说的是供应链",
    )
    out = tmp_path / "allow.toml"
    done = run_cli("review", "suggest-allow", "--db", str(archive.db), "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    allow = tomllib.loads(text)["allow"]
    assert len(allow) == 1 and "顶级" in allow[0] and allow[0] != "顶级"
    assert "说的是供应链" in text  # the reviewer's note, as a comment
    assert run_cli("lexicon", "check", str(out)).returncode == 0
    text_in = f"{dismissed['context']}\n{kept['context']}\n"

    def matched(*lexicon: str) -> set[str]:
        done = run_cli("scan-text", "-", "--format", "jsonl", *lexicon, stdin=text_in)
        return {json.loads(x)["matched"] for x in done.stdout.splitlines()}

    matched_before = matched()
    matched_after = matched("--lexicon", str(out))
    assert "顶级" in matched_before and "顶级" not in matched_after
    assert "全网第一" in matched_after  # a claim elsewhere is still found


# -- evidence packages -------------------------------------------------------------------------


def _decide(db: Path, ids: list[str], decision: str, note: str, reviewer: str = "alice") -> None:
    done = run_cli(
        "review",
        "--db",
        str(db),
        *ids,
        "--decision",
        decision,
        "--note",
        note,
        "--reviewer",
        reviewer,
    )
    assert done.returncode == 0, done.stderr


def test_export_packages_confirmed_findings_with_a_manifest_that_verifies(
    archive: Archive, tmp_path: Path, demo_report: dict[str, Any]
) -> None:
    rows = _rows(archive.db)
    demo_rows = [r for r in rows if r["source"] == str(DEMO)]
    hostile_rows = [r for r in rows if r["source"] == str(archive.hostile)]
    confirmed = [demo_rows[0]["id"], demo_rows[3]["id"], hostile_rows[0]["id"]]
    _decide(archive.db, confirmed, "confirmed", "虚构原价 <b>x</b>")
    _decide(archive.db, [demo_rows[1]["id"]], "dismissed", "not a claim")
    case = tmp_path / "case.zip"
    done = run_cli("export", "--db", str(archive.db), "-o", str(case))
    assert done.returncode == 0, done.stderr
    assert "3 finding(s) from 2 recording(s), 3 clip(s)" in done.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers
    with zipfile.ZipFile(case) as package:  # the standard library opens it
        assert package.testzip() is None
        names = package.namelist()
        assert all(n.startswith("case/") for n in names)
        manifest = json.loads(package.read("case/" + MANIFEST))
        listed = {f["path"]: f for f in manifest["files"]}
        for name in names:
            inner = name.split("/", 1)[1]
            if inner in (MANIFEST, SUMS):
                continue
            data = package.read(name)
            assert hashlib.sha256(data).hexdigest() == listed[inner]["sha256"], inner
            assert len(data) == listed[inner]["size"]
        assert {n.split("/", 1)[1] for n in names} == {*listed, MANIFEST, SUMS}
        sums = package.read("case/" + SUMS).decode()
        assert f"{hashlib.sha256(package.read('case/' + MANIFEST)).hexdigest()}  {MANIFEST}" in sums
        package.extractall(tmp_path / "out")
    assert verify_package(str(case)) == []
    if shutil.which("sha256sum"):
        check = subprocess.run(
            ["sha256sum", "-c", "--quiet", SUMS], cwd=tmp_path / "out" / "case", check=False
        )
        assert check.returncode == 0
    # The manifest: the source's hash and size, model, lexicon and tool versions, time.
    assert manifest["tool"]["name"] == "auditor" and manifest["made"]
    assert manifest["selection"]["decision"] == ["confirmed"]
    by_source = {r["source"]["path"]: r for r in manifest["recordings"]}
    demo = by_source[str(DEMO)]
    assert demo["source"]["sha256"] == demo_report["source"]["sha256"]
    assert demo["source"]["size"] == demo_report["source"]["size"]
    assert demo["source"]["check"] == "verified"
    assert demo["model"]["sha256"] == demo_report["model"]["sha256"]
    assert demo["lexicon_version"] == demo_report["lexicon"]["version"]
    assert demo["findings"] == demo["clips"] == 2
    # Per recording: findings with decisions, notes and history; clips that hold the finding.
    folder = tmp_path / "out" / "case" / demo["folder"]
    doc = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    assert [f["id"] for f in doc["findings"]] == [demo_rows[0]["id"], demo_rows[3]["id"]]
    for f in doc["findings"]:
        assert f["decision"] == "confirmed" and f["note"] == "虚构原价 <b>x</b>"
        assert f["history"][0]["reviewer"] == "alice"
        with av.open(str(folder / f["clip"])) as clip:
            assert clip.duration is not None
            seconds = clip.duration / 1e6
            assert abs(seconds - (f["end"] - f["start"] + 4.0)) < 0.5 or f["start"] < 2.0
    assert (folder / "page.html").is_file()
    verified = run_cli("verify", str(case))
    assert verified.returncode == 0 and "every file matches" in verified.stdout


def test_a_tampered_package_does_not_verify(archive: Archive, tmp_path: Path) -> None:
    _decide(archive.db, [_rows(archive.db)[0]["id"]], "confirmed", "x")
    case = tmp_path / "case.zip"
    assert run_cli("export", "--db", str(archive.db), "-o", str(case), "-q").returncode == 0
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(case) as source, zipfile.ZipFile(tampered, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("findings.json"):
                data = data.replace(b'"confirmed"', b'"dismissed"', 1)
            target.writestr(item, data)
    done = run_cli("verify", str(tampered))
    assert done.returncode == 1 and "findings.json: SHA-256 or size differs" in done.stdout


def test_export_of_nothing_writes_nothing_and_a_missing_source_gets_no_clips(
    archive: Archive, tmp_path: Path
) -> None:
    case = tmp_path / "none.zip"
    nothing = run_cli("export", "--db", str(archive.db), "-o", str(case))
    assert nothing.returncode == 2 and "no current finding matches" in nothing.stderr
    assert not case.exists()
    hostile_row = next(r for r in _rows(archive.db) if r["source"] == str(archive.hostile))
    _decide(archive.db, [hostile_row["id"]], "confirmed", "x")
    moved = archive.hostile.with_name("moved-away.mp4")
    archive.hostile.rename(moved)
    try:
        done = run_cli("export", "--db", str(archive.db), "-o", str(case), "--source", "*onerror*")
    finally:
        moved.rename(archive.hostile)
    assert done.returncode == 0, done.stderr
    assert "no clips for" in done.stderr and ": missing" in done.stderr
    with zipfile.ZipFile(case) as package:
        manifest = json.loads(package.read("none/" + MANIFEST))
    [recording] = manifest["recordings"]
    assert recording["source"]["check"] == "missing" and recording["clips"] == 0
    assert verify_package(str(case)) == []


def test_exported_pages_render_markup_as_text(page: Page, archive: Archive, tmp_path: Path) -> None:
    hostile_row = next(r for r in _rows(archive.db) if r["context"] == EVIL_CONTEXT)
    _decide(archive.db, [hostile_row["id"]], "confirmed", "<script>window.pwned=2</script>")
    case = tmp_path / "case.zip"
    assert run_cli("export", "--db", str(archive.db), "-o", str(case), "-q").returncode == 0
    with zipfile.ZipFile(case) as package:
        package.extractall(tmp_path)
    p = page.open(tmp_path / "case" / "index.html")
    assert page.dialogs == [] and p.locator("img, iframe").count() == 0
    text = p.locator("table.index").inner_text()
    assert HOSTILE_NAME in text and "<script>window.pwned=2</script>" in text
    p.locator("table.index a").first.click()
    p.wait_for_load_state("load")
    assert page.dialogs == [] and p.evaluate("() => window.pwned") is None
    assert EVIL_LAW in p.locator("table.findings").inner_text()
    p.locator("#f-0-0 button.play-clip").click()
    page.wait_playing()
    assert page.errors == []


# -- the review page ---------------------------------------------------------------------------


class Server:
    """`auditor serve` as a user runs it, in its own process; its stderr is collected."""

    def __init__(self, db: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "auditor.cli", "serve", "--db", str(db), "--port", "0", *args],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stderr is not None
        self.lines: list[str] = []
        while not self.lines or "review page" not in self.lines[-1]:
            line = self.process.stderr.readline()
            assert line, "".join(self.lines) + "auditor serve exited"
            self.lines.append(line)
        self.done = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        printed = urllib.parse.urlsplit(self.lines[-1].split(" at ", 1)[1].split()[0])
        self.port = int(printed.port or 0)
        parts = printed._replace(netloc=f"127.0.0.1:{self.port}")  # what this machine can reach
        self.url = urllib.parse.urlunsplit(parts)
        self.token = urllib.parse.parse_qs(parts.query).get("token", [""])[0]

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
        self.done.set()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def csrf(self) -> str:
        """The CSRF token of the queue page, read as a browser would."""
        status, _, body = self.request("GET", "/")
        assert status == 200
        found = re.search(rb'id="review-data">(.*?)</script>', body)
        assert found is not None
        token: str = json.loads(found.group(1))["csrf"]
        return token

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@contextmanager
def serving(db: Path, *args: str) -> Iterator[Server]:
    server = Server(db, *args)
    try:
        yield server
    finally:
        server.stop()


def _open(page: Page, server: Server, query: str = "") -> Any:
    url = server.url if not query else server.url.split("?")[0] + query
    page.page.goto(url)
    page.page.wait_for_load_state("load")
    return page.page


def _shown_ids(p: Any) -> list[str]:
    ids: list[str] = p.evaluate(
        "() => [...document.querySelectorAll('tr.finding')].map(r => r.dataset.id)"
    )
    return ids


def _data(p: Any) -> dict[str, Any]:
    """The page's own data block."""
    text = p.locator("#review-data").text_content()
    data: dict[str, Any] = json.loads(text)
    return data


def _count(p: Any, decision: str) -> int:
    return int(p.locator(f"#count-{decision}").inner_text())


def test_queue_lists_the_open_findings_with_counts(page: Page, archive: Archive) -> None:
    with Store(archive.db) as store:
        first = store.reviewed_findings()[0].finding.id
        store.decide([first], "dismissed", "carol")
        expected = {
            r.finding.id for r in store.reviewed_findings(FindingQuery(decisions=("open",)))
        }
    with serving(archive.db) as server:
        p = _open(page, server)
        assert set(_shown_ids(p)) == expected and first not in _shown_ids(p)
        assert _count(p, "open") == archive.findings - 1 and _count(p, "dismissed") == 1
        assert _count(p, "confirmed") == 0
        assert p.locator("#total").inner_text() == str(archive.findings - 1)
        # Nothing but the server itself: no CDN, font or remote script.
        assert all(u.startswith(server.url.split("?")[0]) for u in page.requests), page.requests
        assert page.errors == []


def test_play_starts_at_the_findings_time(
    page: Page, archive: Archive, demo_report: dict[str, Any]
) -> None:
    with serving(archive.db) as server:
        p = _open(page, server, "?sort=source&source=" + urllib.parse.quote(str(DEMO)))
        index = 4
        start = demo_report["findings"][index]["start"]
        p.locator(f"tr.finding[data-index='{index}']").click()
        page.wait_playing(start - 0.6)
        state = page.media_state()
        assert state["error"] is None and state["src"].endswith("/media/1")
        assert start - 0.6 <= state["t"] <= start + 1.5, state
        assert demo_report["findings"][index]["legal_basis"] in p.locator("#d-law").inner_text()
        p.locator("#play-clip").click()
        p.wait_for_function(
            "() => { const m = document.getElementById('player'); "
            "return m.currentSrc.includes('/clip/') && !m.paused && m.currentTime > 0.2; }",
            timeout=30_000,
        )
        assert page.errors == []


def test_confirm_and_dismiss_by_key_update_the_database_and_counts(
    page: Page, archive: Archive
) -> None:
    with serving(archive.db) as server:
        p = _open(page, server)
        p.locator("#reviewer").fill("dana")
        ids = _shown_ids(p)
        p.locator("tr.finding[data-index='0']").click()
        p.keyboard.press("c")
        p.wait_for_selector(f"tr[data-id='{ids[0]}'][data-decision='confirmed']")
        p.wait_for_function("() => document.getElementById('count-confirmed').textContent === '1'")
        # The selection moved on to the next open finding: dismiss it with a note.
        p.keyboard.press("n")
        p.keyboard.type("主播在念广告法")
        p.keyboard.press("Escape")
        p.keyboard.press("d")
        p.wait_for_selector(f"tr[data-id='{ids[1]}'][data-decision='dismissed']")
        p.wait_for_function("() => document.getElementById('count-dismissed').textContent === '1'")
        assert _count(p, "open") == archive.findings - 2
        p.locator(f"tr[data-id='{ids[0]}']").click()
        p.locator("#reopen").click()
        p.wait_for_selector(f"tr[data-id='{ids[0]}'][data-decision='open']")
        p.wait_for_function(
            "n => document.getElementById('count-open').textContent === String(n)",
            arg=archive.findings - 1,
        )
    assert _state(archive.db) == {ids[0]: "open", ids[1]: "dismissed"}
    notes = db_rows(archive.db, "SELECT fid, decision, note, reviewer FROM decisions ORDER BY id")
    assert notes == [
        (ids[0], "confirmed", None, "dana"),
        (ids[1], "dismissed", "主播在念广告法", "dana"),
        (ids[0], "open", None, "dana"),
    ]
    assert page.errors == []


def test_filters_sort_and_pages(page: Page, archive: Archive) -> None:
    with Store(archive.db) as store:
        everything = store.reviewed_findings()
    high = sorted(r.finding.id for r in everything if r.finding.severity == "high")
    category = everything[-1].finding.category
    with serving(archive.db) as server:
        p = _open(page, server)
        p.locator("#f-severity").select_option("high")
        p.locator("#apply").click()
        p.wait_for_load_state("load")
        assert sorted(_shown_ids(p)) == high
        p.locator("#f-severity").select_option("")
        p.locator("#f-category").select_option(category)
        p.locator("#f-sort").select_option("confidence")
        p.locator("#apply").click()
        p.wait_for_load_state("load")
        shown = _shown_ids(p)
        assert sorted(shown) == sorted(
            r.finding.id for r in everything if r.finding.category == category
        )
        confidences = [f["confidence"] for f in _data(p)["findings"]]
        assert confidences == sorted(confidences, reverse=True)
        p.locator("#f-category").select_option("")
        p.locator("#f-source").fill("*onerror*")
        p.locator("#f-per").select_option("25")
        p.locator("#apply").click()
        p.wait_for_load_state("load")
        hostile = {r.finding.id for r in everything if r.finding.source == str(archive.hostile)}
        assert set(_shown_ids(p)) == hostile
        # Pages: 10 a page over the whole queue, each row once, in order.
        pages = -(-len(everything) // 10)
        assert pages >= 2
        p = _open(page, server, "?per=10&sort=source")
        seen = _shown_ids(p)
        assert len(seen) == 10 and p.locator("span.page").first.inner_text() == f"page 1 of {pages}"
        for _ in range(pages - 1):
            p.locator("a.next").first.click()
            p.wait_for_load_state("load")
            seen += _shown_ids(p)
        assert p.locator("a.next").count() == 0 and p.locator("a.prev").count() == 2
        assert seen == [r.finding.id for r in everything]  # the store's order: source, time
        # Deciding a whole page out of the open queue skips nothing: next is after its last.
        p = _open(page, server, "?per=10&sort=source")
        p.locator("#reviewer").fill("fay")
        p.locator("tr.finding[data-index='0']").click()
        for i in range(10):
            p.keyboard.press("c")
            p.wait_for_selector(f"tr[data-id='{seen[i]}'][data-decision='confirmed']")
        p.locator("a.next").first.click()
        p.wait_for_load_state("load")
        assert _shown_ids(p) == seen[10:20]
        p.locator("a.prev").first.click()  # the decided ones are out of the open queue now:
        p.wait_for_load_state("load")  # the first page of what is left
        assert _shown_ids(p) == seen[10:20] and p.locator("a.prev").count() == 0
        assert page.errors == []


def test_hostile_names_and_sentences_render_as_text(page: Page, archive: Archive) -> None:
    with serving(archive.db) as server:
        p = _open(page, server, "?source=*onerror*&sort=source")
        p.wait_for_timeout(300)
        assert page.dialogs == [] and p.evaluate("() => window.pwned") is None
        assert p.locator("img, iframe").count() == 0
        assert p.locator("script").count() == 2  # the data block and the page's own script
        table = p.locator("table.queue").inner_text()
        assert HOSTILE_NAME in table and "</script><script>window.pwned=1</script>" in table
        row = next(i for i, f in enumerate(_data(p)["findings"]) if f["context"] == EVIL_CONTEXT)
        p.locator(f"tr.finding[data-index='{row}']").click()
        assert p.locator("#d-law").inner_text() == EVIL_LAW
        assert p.locator("#d-source").inner_text() == str(archive.hostile)
        # The recording's page, from the detail pane.
        p.locator("#d-recording").click()
        p.wait_for_load_state("load")
        assert p.locator("h2.source-name").inner_text() == str(archive.hostile)
        # No picture but the report's own: a screen finding's crop of the frame (img.shot).
        assert page.dialogs == [] and p.locator("img:not(.shot), iframe").count() == 0
        assert p.evaluate("() => window.pwned") is None
        p.locator("#f-0-1 button.seek").click()
        page.wait_playing()
        assert page.errors == []


def test_off_loopback_every_request_needs_the_token(page: Page, archive: Archive) -> None:
    with serving(archive.db, "--host", "0.0.0.0") as server:
        assert server.token
        assert any("share it only with reviewers" in line for line in server.lines)
        for path in ("/", "/media/1", "/assets/review.js", "/api/history/x", "/nowhere"):
            status, _, _ = server.request("GET", path)
            assert status == 401, path
        assert server.request("GET", "/?token=wrong")[0] == 401
        assert server.request("GET", "/", headers={"Cookie": "auditor_token=wrong"})[0] == 401
        status, headers, _ = server.request("GET", f"/?token={server.token}&sort=source")
        assert status == 303 and headers["location"] == "/?sort=source"
        assert (
            "httponly" in headers["set-cookie"].lower()
            and "samesite=strict" in headers["set-cookie"].lower()
        )
        bearer = {"Authorization": f"Bearer {server.token}"}
        status, headers, body = server.request("GET", "/", headers=bearer)
        assert status == 200 and b"review-data" in body
        assert "default-src 'none'" in headers["content-security-policy"]
        # With the token but without the page's CSRF token: refused, nothing recorded.
        fid = _rows(archive.db)[0]["id"]
        decision = json.dumps({"ids": [fid], "decision": "confirmed", "reviewer": "x"}).encode()
        status, _, _ = server.request(
            "POST", "/api/decide", decision, {**bearer, "Content-Type": "application/json"}
        )
        assert status == 403
        # The browser: the printed URL works, and so do decisions.
        p = _open(page, server)
        assert "token" not in p.url
        p.locator("#reviewer").fill("erin")
        p.locator("tr.finding[data-index='0']").click()
        p.keyboard.press("c")
        p.wait_for_selector("tr.finding[data-index='0'][data-decision='confirmed']")
        assert page.errors == []
    assert list(_state(archive.db).values()) == ["confirmed"]


def test_state_changes_need_the_csrf_token_and_the_loopback_host(archive: Archive) -> None:
    fid = _rows(archive.db)[0]["id"]
    body = json.dumps({"ids": [fid], "decision": "confirmed", "reviewer": "mallory"}).encode()
    with serving(archive.db) as server:
        csrf = server.csrf()
        json_type = {"Content-Type": "application/json"}
        assert server.request("POST", "/api/decide", body, json_type)[0] == 403
        assert (
            server.request("POST", "/api/decide", body, {**json_type, "X-CSRF-Token": "nope"})[0]
            == 403
        )
        form = {"Content-Type": "text/plain", "X-CSRF-Token": csrf}
        assert server.request("POST", "/api/decide", body, form)[0] == 415
        evil_origin = {**json_type, "X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        assert server.request("POST", "/api/decide", body, evil_origin)[0] == 403
        # DNS rebinding: a page of another site that resolves to 127.0.0.1 names itself in Host.
        rebound = {"Host": f"evil.example:{server.port}"}
        assert server.request("GET", "/", headers=rebound)[0] == 403
        assert _state(archive.db) == {}
        ok = server.request("POST", "/api/decide", body, {**json_type, "X-CSRF-Token": csrf})
        assert ok[0] == 200, ok
        assert json.loads(ok[2])["counts"]["confirmed"] == 1
    assert _state(archive.db) == {fid: "confirmed"}
    # Stopped (SIGTERM) as by Ctrl-C: exit 0, its clips folder gone.
    assert server.process.returncode == 0
    server.done.wait(10)
    assert "auditor: stopped\n" in server.lines


def test_read_only_shows_but_refuses_decisions(page: Page, archive: Archive) -> None:
    fid = _rows(archive.db)[0]["id"]
    with serving(archive.db, "--read-only") as server:
        assert "(read-only)" in server.lines[-1]
        p = _open(page, server)
        assert p.locator("#confirm").count() == 0 and p.locator("#read-only").count() == 1
        p.locator("tr.finding[data-index='0']").click()
        p.keyboard.press("c")
        csrf = _data(p)["csrf"]
        body = json.dumps({"ids": [fid], "decision": "confirmed", "reviewer": "x"}).encode()
        headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf}
        assert server.request("POST", "/api/decide", body, headers)[0] == 403
        assert page.errors == []
    assert _state(archive.db) == {}


def test_two_reviewers_lose_no_decision(browser: Any, archive: Archive) -> None:
    alice, bob = Page(browser), Page(browser)
    try:
        with serving(archive.db) as server:
            a = _open(alice, server, "?sort=source")
            b = _open(bob, server, "?sort=source")
            a.locator("#reviewer").fill("alice")
            b.locator("#reviewer").fill("bob")
            ids = _shown_ids(a)
            assert ids == _shown_ids(b) and len(ids) >= 12
            # Each takes a run of findings, key after key without waiting, interleaved.
            a.locator("tr.finding[data-index='0']").click()
            b.locator("tr.finding[data-index='6']").click()
            for _ in range(5):
                a.keyboard.press("c")
                b.keyboard.press("d")
            for i in range(5):
                a.wait_for_selector(f"tr[data-id='{ids[i]}'][data-decision='confirmed']")
                b.wait_for_selector(f"tr[data-id='{ids[6 + i]}'][data-decision='dismissed']")
            # Both decide finding 11; bob had not seen alice's decision: told, and kept.
            a.locator("tr.finding[data-index='11']").click()
            a.keyboard.press("c")
            a.wait_for_selector(f"tr[data-id='{ids[11]}'][data-decision='confirmed']")
            b.locator("tr.finding[data-index='11']").click()
            b.keyboard.press("d")
            b.wait_for_selector(f"tr[data-id='{ids[11]}'][data-decision='dismissed']")
            b.wait_for_function(
                "() => document.getElementById('decide-status').textContent"
                ".includes('Meanwhile alice')"
            )
            # A fresh page shows what both did.
            c = _open(alice, server, "?sort=source&decision=all")
            assert _count(c, "confirmed") == 5 and _count(c, "dismissed") == 6
            assert alice.errors == [] and bob.errors == []
    finally:
        alice.context.close()
        bob.context.close()
    state = _state(archive.db)
    assert [state[i] for i in ids[:5]] == ["confirmed"] * 5
    assert [state[i] for i in ids[6:11]] == ["dismissed"] * 5 and state[ids[11]] == "dismissed"
    history = db_rows(archive.db, "SELECT fid, decision, reviewer FROM decisions ORDER BY id")
    assert len(history) == 12
    assert sorted(r for r in history if r[0] == ids[11]) == [
        (ids[11], "confirmed", "alice"),
        (ids[11], "dismissed", "bob"),
    ]


def test_screenshot_of_the_review_page(page: Page, archive: Archive) -> None:
    with Store(archive.db) as store:
        rows = store.reviewed_findings(FindingQuery(source_glob=str(DEMO)), "severity")
        store.decide([rows[1].finding.id], "confirmed", "alice", "原价虚构，截图存证")
        store.decide([rows[2].finding.id], "dismissed", "alice", "主播在念广告法")
    with serving(archive.db) as server:
        page.page.set_viewport_size({"width": 1400, "height": 860})
        p = _open(page, server, "?decision=all&source=*demo.mp4")
        p.locator("#reviewer").fill("alice")
        p.locator("tr.finding[data-index='3']").click()
        page.wait_playing()
        p.wait_for_timeout(800)
        p.evaluate("() => document.getElementById('player').pause()")
        p.wait_for_function("() => document.querySelectorAll('#history li').length > 0")
        shot = ROOT / "out" / "review-screenshot.png"
        shot.parent.mkdir(exist_ok=True)
        p.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 20_000
        assert page.errors == []


def test_serve_refuses_a_missing_database_and_a_taken_port(
    archive: Archive, tmp_path: Path
) -> None:
    missing = run_cli("serve", "--db", str(tmp_path / "none.sqlite"), "--port", "0")
    assert missing.returncode == 2 and "no such database" in missing.stderr
    with serving(archive.db) as server:
        taken = run_cli("serve", "--db", str(archive.db), "--port", str(server.port))
        assert taken.returncode == 2 and "cannot listen there" in taken.stderr


def test_a_newer_audit_that_does_not_make_a_decided_finding_keeps_it_in_history(
    archive: Archive, demo_report: dict[str, Any]
) -> None:
    with Store(archive.db) as store:
        decided = next(r for r in store.reviewed_findings() if r.finding.source == str(DEMO))
        store.decide([decided.finding.id], "confirmed", "alice")
        assert store.decided_but_gone() == []
        # The same content audited with other settings (another model): other words and times.
        result = AuditResult.from_dict(demo_report)
        moved = [replace(f, start=f.start + 0.3, end=f.end + 0.3) for f in result.findings]
        owner = new_owner()
        _, row = store.claim(result.source.sha256, "other-settings", SETTINGS, str(DEMO), owner)
        later = replace(result, finished="2099-01-01T00:00:00+00:00")
        later = replace(later, findings=tuple(replace(f, id="") for f in moved))
        assert store.finish(row.id, owner, later)
        [gone] = store.decided_but_gone()
        assert gone.finding_id == decided.finding.id and gone.decision == "confirmed"
        assert store.reviewed_findings(FindingQuery(decisions=("confirmed",))) == []
        assert [d.reviewer for d in store.decision_history([decided.finding.id])] == ["alice"]


def test_decisions_are_saved_while_a_batch_writes(
    archive: Archive, demo_report: dict[str, Any]
) -> None:
    """A writer storing audits the way the batch does (one transaction each) while reviewers
    decide through the page: every decision is saved, every audit is stored."""
    result = AuditResult.from_dict(demo_report)
    stop = threading.Event()
    stored: list[int] = []

    def batch_writer() -> None:
        with Store(archive.db) as store:
            while not stop.is_set():
                n = len(stored)
                sha, path = f"{n:064x}", f"/archive/new-{n}.mp4"
                store.record_path(path, sha, 1, 0, 0)
                owner = new_owner()
                _, row = store.claim(sha, KEY, SETTINGS, path, owner)
                fresh = replace(result, source=replace(result.source, path=path, sha256=sha))
                fresh = replace(fresh, findings=tuple(replace(f, id="") for f in result.findings))
                assert store.finish(row.id, owner, fresh)
                stored.append(row.id)

    ids = [r["id"] for r in _rows(archive.db)]
    writer = threading.Thread(target=batch_writer)
    with serving(archive.db) as server:
        csrf = server.csrf()
        headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf}
        writer.start()
        try:
            statuses = []
            for i, fid in enumerate(ids):
                decision = json.dumps(
                    {"ids": [fid], "decision": DECISIONS[1 + i % 2], "reviewer": "rev"}
                ).encode()
                statuses.append(server.request("POST", "/api/decide", decision, headers)[0])
        finally:
            stop.set()
            writer.join(timeout=120)
    assert statuses == [200] * len(ids)
    assert len(_state(archive.db)) == len(ids) and len(stored) > 0
    done = db_rows(archive.db, "SELECT COUNT(*) FROM audits WHERE status = 'done'")[0][0]
    assert done == 2 + len(stored)
