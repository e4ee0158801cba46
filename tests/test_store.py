"""The batch database on real SQLite: claims, leases, atomic results, schema versions, rescan."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from auditor.batch import rescan
from auditor.detect import scan_recording
from auditor.errors import InputError, StoreError
from auditor.findings import Finding, SoundCheck, finding_id
from auditor.lexicon import load_lexicon
from auditor.options import AuditOptions
from auditor.results import AuditResult, ResolvedModel, SourceInfo
from auditor.scan import Scanner
from auditor.store import SCHEMA_VERSION, Claim, Store, new_owner
from auditor.transcript import Segment, Transcript, Word
from auditor.verify import apply_checks

SETTINGS = {"model": "base", "beam_size": 5}
KEY = "k1"


def _result(
    transcript: Transcript,
    findings: Sequence[Finding] = (),
    lexicon_version: str = "v1",
    product_category: str = "general",
    sound_checks: Sequence[SoundCheck] = (),
) -> AuditResult:
    return AuditResult(
        source=SourceInfo("a.mp4", 10, "s1", 3.0, "wav", False, 1),
        transcript=transcript,
        findings=tuple(findings),
        options=AuditOptions(product_category=product_category),
        model=ResolvedModel("base", "", "x"),
        device="cpu",
        compute_type="int8",
        lexicon_version=lexicon_version,
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:05+00:00",
        tool_version="0",
        sound_checks=tuple(sound_checks),
    )


def _transcript(text: str) -> Transcript:
    words = tuple(Word(0.5 * i, 0.5 * i + 0.4, ch, 0.9) for i, ch in enumerate(text))
    return Transcript((Segment(0.0, 0.5 * len(text), text, words),), "zh", 0.5 * len(text))


def _open(path: Path, lease: float = 300.0) -> Store:
    store = Store(path, lease=lease)
    store.record_path("a.mp4", "s1", 10, 0, 0)  # audits refer to known content
    return store


def _finding(rule: str = "r") -> Finding:
    return Finding(
        "a.mp4",
        "absolute.superlative",
        rule,
        "medium",
        "最好",
        "最好",
        1,
        2,
        "c",
        "l",
        0.9,
        "exact",
    )


def test_claim_is_exclusive_while_the_owner_lives(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with _open(db) as one, _open(db) as two:
        me, other = new_owner(), new_owner()
        claim, row = one.claim("s1", KEY, SETTINGS, "a.mp4", me)
        assert claim is Claim.CLAIMED
        assert two.claim("s1", KEY, SETTINGS, "a.mp4", other)[0] is Claim.BUSY
        assert one.finish(row.id, me, _result(_transcript("最好"), [_finding()], "v1"))
        assert two.claim("s1", KEY, SETTINGS, "b.mp4", other)[0] is Claim.DONE
        # another key (other settings) is another audit of the same content
        assert two.claim("s1", "k2", SETTINGS, "a.mp4", other)[0] is Claim.CLAIMED


def test_a_dead_owners_claim_is_taken_over_and_its_late_result_dropped(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with _open(db) as store:
        dead = f"{socket.gethostname()}:999999999:dead"  # no such pid on this host
        claim, row = store.claim("s1", KEY, SETTINGS, "a.mp4", dead)
        assert claim is Claim.CLAIMED
        me = new_owner()
        assert store.claim("s1", KEY, SETTINGS, "a.mp4", me)[0] is Claim.CLAIMED
        assert not store.finish(row.id, dead, _result(_transcript("x"), [], "v1"))
        assert store.finish(row.id, me, _result(_transcript("x"), [], "v1"))


def test_an_expired_lease_is_taken_over(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with _open(db) as one, _open(db, lease=0.0) as two:
        one.claim("s1", KEY, SETTINGS, "a.mp4", "otherhost:1:x")
        assert two.claim("s1", KEY, SETTINGS, "a.mp4", new_owner())[0] is Claim.CLAIMED


def test_failed_is_kept_until_retry_and_release_returns_claims(tmp_path: Path) -> None:
    with _open(tmp_path / "a.db") as store:
        me = new_owner()
        _, row = store.claim("s1", KEY, SETTINGS, "bad.mp4", me)
        assert store.fail(row.id, me, "not a media file")
        claim, row = store.claim("s1", KEY, SETTINGS, "bad.mp4", me)
        assert claim is Claim.FAILED and row.cause == "not a media file"
        assert (
            store.claim("s1", KEY, SETTINGS, "bad.mp4", me, retry_failed=True)[0] is Claim.CLAIMED
        )
        assert store.release(me) == 1
        assert store.status()["audits"]["pending"] == 1


def test_done_always_has_its_transcript(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with _open(db) as store:
        store.claim("s1", KEY, SETTINGS, "a.mp4", new_owner())
    raw = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("UPDATE audits SET status = 'done'")
    raw.close()


def test_a_newer_schema_or_a_non_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    Store(db).close()
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        Store(db)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match=r"junk\.db: not a usable SQLite database"):
        Store(junk)


def test_rescan_records_the_lexicon_version_and_keeps_history(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(
        '[[rule]]\nid = "absolute.superlative/hello"\ncategory = "absolute.superlative"\n'
        'terms = ["大家好"]\n',
        encoding="utf-8",
    )
    with _open(tmp_path / "a.db") as store:
        me = new_owner()
        _, row = store.claim("s1", KEY, SETTINGS, "a.mp4", me)
        store.finish(row.id, me, _result(_transcript("大家好这是最好的"), [], "old"))
        base = rescan(store, load_lexicon())
        assert base.audits == 1 and base.findings >= 1
        assert {f.matched for f in store.findings()} == {"最好"}
        custom = load_lexicon([extra])
        summary = rescan(store, custom)
        assert summary.lexicon_version == custom.version != base.lexicon_version
        assert {f.matched for f in store.findings()} == {"大家好", "最好"}
        rescan(store, custom)  # again: replaces that version's findings, no duplicates
        assert len(store.findings()) == summary.findings
        assert store.status()["lexicon_versions"] == {custom.version: 1}
        versions = {
            r[0]
            for r in store._db.execute("SELECT DISTINCT lexicon_version FROM findings")  # history
        }
        assert versions == {base.lexicon_version, custom.version}


def test_a_rescan_judges_sound_alikes_by_what_the_audio_said_when_audited(tmp_path: Path) -> None:
    """The audit asked the audio about two sound-alikes (auditor.verify): it supported one and
    not the other. A rescan, which reads no audio, keeps the first with its figures and leaves
    the second out; without stored checks (audited with --no-verify) both stay, counted."""
    transcript = _transcript("这个理财文赚不赔大家放心私信我发你恋睫")
    found = scan_recording("a.mp4", transcript, None, Scanner(load_lexicon()))
    sound = {f.matched: f for f in found if f.match == "sound-alike"}
    supported, unsupported = sound["文赚不赔"], sound["私信我发你恋睫"]
    checks = [
        SoundCheck(f.matched, f.term or "", f.start, f.end, -9.0, term)
        for f, term in ((supported, -12.5), (unsupported, -30.0))
    ]
    audited = apply_checks(found, checks)
    assert unsupported not in audited
    for name, stored in (("checked.db", checks), ("unchecked.db", [])):
        with _open(tmp_path / name) as store:
            me = new_owner()
            _, row = store.claim("s1", KEY, SETTINGS, "a.mp4", me)
            store.finish(row.id, me, _result(transcript, audited, "old", sound_checks=stored))
            summary = rescan(store, load_lexicon())
            heard = {
                (f.matched, f.heard_logprob, f.term_logprob)
                for f in store.findings()
                if f.match == "sound-alike"
            }
        if stored:
            assert heard == {("文赚不赔", -9.0, -12.5)}
            assert summary.unverified == 0
        else:
            assert heard == {("文赚不赔", None, None), ("私信我发你恋睫", None, None)}
            assert summary.unverified == 2


def test_transcript_round_trips_through_the_store(tmp_path: Path) -> None:
    transcript = _transcript("原价三百")
    with _open(tmp_path / "a.db") as store:
        me = new_owner()
        _, row = store.claim("s1", KEY, SETTINGS, "a.mp4", me)
        store.finish(row.id, me, _result(transcript, [], "v"))
        [[row]] = list(store.done_transcripts())
    assert Transcript.from_dict(json.loads(row.transcript)) == transcript
    assert row.product_category == "general"


def test_findings_come_from_each_contents_latest_audit(tmp_path: Path) -> None:
    with _open(tmp_path / "a.db") as store:
        me = new_owner()
        for key, rule in (("old-settings", "r-old"), ("new-settings", "r-new")):
            _, row = store.claim("s1", key, SETTINGS, "a.mp4", me)
            store.finish(row.id, me, _result(_transcript("最好"), [_finding(rule)], "v"))
        assert [f.rule for f in store.findings()] == ["r-new"]
        assert store.status()["settings_keys"] == 2


# The schema as auditor 0.1 wrote it (version 2; version 1 had no audits.product_category).
SCHEMA_2 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paths (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL REFERENCES files(sha256),
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS paths_sha256 ON paths(sha256);
CREATE TABLE IF NOT EXISTS audits (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL REFERENCES files(sha256),
    settings_key TEXT NOT NULL,
    settings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    cause TEXT,
    source_path TEXT NOT NULL,
    duration REAL,
    format TEXT,
    has_video INTEGER,
    audio_streams INTEGER,
    model_name TEXT,
    model_sha256 TEXT,
    device TEXT,
    compute_type TEXT,
    tool_version TEXT,
    transcript TEXT,
    lexicon_version TEXT,
    product_category TEXT NOT NULL DEFAULT 'general',
    claim_owner TEXT,
    heartbeat REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    updated TEXT NOT NULL,
    UNIQUE (sha256, settings_key),
    CHECK (status != 'done' OR transcript IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS audits_status ON audits(status);
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY,
    audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE,
    lexicon_version TEXT NOT NULL,
    category TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    matched TEXT NOT NULL,
    term TEXT,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    context TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    confidence REAL NOT NULL,
    match TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_audit ON findings(audit_id, lexicon_version);
"""


def _old_database(path: Path, version: int) -> None:
    """A database as an earlier auditor left it: one done audit with one finding."""
    raw = sqlite3.connect(path)
    raw.executescript(SCHEMA_2)
    if version == 1:
        raw.execute("ALTER TABLE audits DROP COLUMN product_category")
    raw.execute("INSERT INTO files VALUES ('s1', 10, 'x', 'x')")
    raw.execute(
        "INSERT INTO audits(id, sha256, settings_key, settings, status, source_path, transcript, "
        "lexicon_version, created, updated, duration) VALUES (1, 's1', 'k', '{}', 'done', 'a.mp4', "
        "?, 'v', 'x', 'x', 3.0)",
        (json.dumps(_transcript("最好").to_dict()),),
    )
    raw.execute(
        "INSERT INTO findings(audit_id, lexicon_version, category, rule, severity, matched, term, "
        "start, \"end\", context, legal_basis, confidence, match, created) VALUES (1, 'v', "
        "'absolute.superlative', 'r', 'medium', '最好', '最好', 1, 2, 'c', 'l', 0.9, 'exact', 'x')"
    )
    raw.execute(f"PRAGMA user_version = {version}")
    raw.commit()
    raw.close()


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_database_is_upgraded_in_place(tmp_path: Path, version: int) -> None:
    db = tmp_path / "a.db"
    _old_database(db, version)
    with Store(db) as store:
        assert store.status()["audits"]["done"] == 1
        [[row]] = list(store.done_transcripts())
        assert row.product_category == "general"
        [finding] = store.findings()
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # Findings stored before ids existed get the id the same finding gets when made again.
    assert finding.channel == "speech" and finding.why == ()
    assert finding.id == finding_id("s1", _finding()) != ""


def test_rescan_keeps_or_overrides_each_audits_product_category(tmp_path: Path) -> None:
    with _open(tmp_path / "a.db") as store:
        me = new_owner()
        _, row = store.claim("s1", KEY, SETTINGS, "a.mp4", me)
        store.finish(row.id, me, _result(_transcript("热销"), [], "v", product_category="drug"))
        rescan(store, load_lexicon())
        assert [r.product_category for [r] in store.done_transcripts()] == ["drug"]
        rescan(store, load_lexicon(), "cosmetics")
        assert [r.product_category for [r] in store.done_transcripts()] == ["cosmetics"]
