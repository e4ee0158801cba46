"""The batch database: SQLite in WAL mode, one row per (content, settings), claims, findings.

Guarantees the batch relies on:

- Every write is one transaction (`BEGIN IMMEDIATE` ... `COMMIT`). An audit becomes `done` in the
  same transaction that stores its transcript and findings, so a crash at any moment leaves either
  the whole result or none of it; a crash never leaves a `done` row without its data.
- A file is audited by whoever holds its claim. A claim names its owner (host:pid:token) and is
  kept alive by heartbeats; a claim whose owner is a dead process on this host, or whose heartbeat
  is older than the lease, may be taken over. Two batch runs on one database never audit the same
  content twice at the same time.
- Audits are keyed by (content SHA-256, settings key). The settings key covers the model and the
  speech settings, not the lexicon: `rescan` re-runs a newer lexicon over stored transcripts, and
  each finding records the lexicon version that produced it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
import os
import shutil
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from auditor.decisions import DECISIONS, OPEN, Decision, DecisionChange, ReviewedFinding
from auditor.errors import InputError, StoreError
from auditor.findings import CHANNELS, FINDING_FIELDS, Finding, SoundCheck, finding_id
from auditor.options import DEFAULT_SCREEN_INTERVAL, AsrOptions, AuditOptions, ScreenOptions
from auditor.results import AuditResult, ResolvedModel, SourceInfo
from auditor.screentext import ScreenText
from auditor.severity import SEVERITIES, rank
from auditor.times import utc_now
from auditor.transcript import Transcript

log = logging.getLogger("auditor")

T = TypeVar("T")


def _in_bound_parts(values: Sequence[T]) -> list[Sequence[T]]:
    """`values` in runs short enough to bind in one statement (SQLite allows 999 parameters
    in older builds)."""
    return [values[at : at + 500] for at in range(0, len(values), 500)]


# 2: audits.product_category; 3: finding ids, channel, why, evidence, screen; 4: decisions; 5:
# sound checks (4 and 5 add tables only: an older database gains them and loses nothing)
SCHEMA_VERSION = 5
DEFAULT_LEASE = 300.0  # seconds without a heartbeat before another run may take a claim over

_SCHEMA = """
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
    screen TEXT,
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
    created TEXT NOT NULL,
    channel TEXT NOT NULL DEFAULT 'speech',
    why TEXT,
    heard_logprob REAL,
    term_logprob REAL,
    box TEXT,
    fid TEXT
);
CREATE INDEX IF NOT EXISTS findings_audit ON findings(audit_id, lexicon_version);
CREATE INDEX IF NOT EXISTS findings_fid ON findings(fid);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    fid TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('open', 'confirmed', 'dismissed')),
    note TEXT,
    reviewer TEXT NOT NULL,
    decided TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    category TEXT NOT NULL,
    rule TEXT NOT NULL,
    matched TEXT NOT NULL,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    lexicon_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_fid ON decisions(fid, id);
CREATE TABLE IF NOT EXISTS sound_checks (
    audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE,
    matched TEXT NOT NULL,
    term TEXT NOT NULL,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    heard_logprob REAL NOT NULL,
    term_logprob REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sound_checks_audit ON sound_checks(audit_id);
CREATE TABLE IF NOT EXISTS review_state (
    fid TEXT PRIMARY KEY,
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    decision TEXT NOT NULL
) WITHOUT ROWID;
"""


class Claim(Enum):
    CLAIMED = "claimed"  # this run now owns the audit and must do it
    DONE = "done"  # already audited with these settings
    FAILED = "failed"  # failed before; not retried without --retry-failed
    BUSY = "busy"  # another live run holds the claim


@dataclass(frozen=True)
class AuditRow:
    id: int
    sha256: str
    settings_key: str
    status: str
    cause: str | None
    source_path: str
    claim_owner: str | None


@dataclass(frozen=True)
class StoredTranscript:
    audit_id: int
    source: str
    transcript: str  # JSON: Transcript.to_dict()
    product_category: str
    screen: str | None = None  # JSON: ScreenText.to_dict(); None without a screen pass


def new_owner() -> str:
    """A claim owner: host, pid, and a random token so a reused pid is never mistaken for us."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str) -> bool:
    """True when the owner is a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _space_note(path: str) -> str:
    """' (no space left on the device)' when the database's filesystem is full, else ''."""
    try:
        free = shutil.disk_usage(Path(path).parent).free
    except OSError:
        return ""
    return " (no space left on the device)" if free < 256 * 1024 else ""


class Store:
    """One connection to the batch database, and every SQL statement the project runs on it.

    Use from one thread; the batch driver is the writer. `create=False` refuses a missing file
    (commands that read a batch); `read_only=True` also never writes, not even a schema upgrade
    (reports), and refuses a database whose schema is not this auditor's.
    """

    def __init__(
        self,
        path: str | Path,
        lease: float = DEFAULT_LEASE,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        self.path = str(path)
        self.lease = lease
        self.read_only = read_only
        if not (create and not read_only) and not Path(self.path).is_file():
            raise InputError(self.path, "no such database (run `auditor batch --db` first)")
        if not Path(self.path).parent.is_dir():
            raise InputError(self.path, "its folder does not exist")
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 60000")
            # --source globs in SQL, with fnmatch's own rules, so pages of findings can be counted
            self._db.create_function("auditor_glob", 2, _glob, deterministic=True)
            if read_only:
                self._db.execute("PRAGMA query_only = ON")
                self._check_schema()
                return
            self._settle(self._use_wal)
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._settle(self._migrate)
        except sqlite3.OperationalError as exc:  # disk full, read-only, I/O: not the file's fault
            raise StoreError(self.path, f"cannot open it: {exc}{_space_note(self.path)}") from exc
        except sqlite3.DatabaseError as exc:
            raise InputError(self.path, f"not a usable SQLite database: {exc}") from exc

    def _check_schema(self) -> None:
        """For a reader: the schema must be this auditor's (a reader never upgrades it)."""
        try:
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version == SCHEMA_VERSION:
                self._db.execute("SELECT 1 FROM audits LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(self.path, f"not a batch database: {exc}") from exc
        if version != SCHEMA_VERSION:
            self._db.close()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    self.path,
                    f"database schema {version} is newer than this auditor's; upgrade it",
                )
            raise InputError(
                self.path,
                f"database schema {version} is older than this auditor's {SCHEMA_VERSION} "
                "(run `auditor status --db` once to upgrade it)",
            )

    def _settle(self, step: Callable[[], None], patience: float = 60.0) -> None:
        """Run an opening step again while another process holds the lock it needs.

        Switching a new database to WAL, or creating its tables, while a second process opens it
        too can fail at once with "database is locked" (SQLite does not wait there, to avoid a
        deadlock): two nightly runs started together must both get in.
        """
        deadline = time.monotonic() + patience
        while True:
            try:
                step()
                return
            except (sqlite3.OperationalError, StoreError) as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _use_wal(self) -> None:
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(self.path, f"cannot use WAL journal mode (got {mode})")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(
                self.path, f"cannot start a transaction: {exc}{_space_note(self.path)}"
            ) from exc
        try:
            yield self._db
        except sqlite3.Error as exc:  # disk full, I/O error, corrupt page: one line, file named
            self._rollback()
            raise StoreError(
                self.path, f"database write failed: {exc}{_space_note(self.path)}"
            ) from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise StoreError(self.path, f"cannot commit: {exc}{_space_note(self.path)}") from exc

    def _rollback(self) -> None:
        if self._db.in_transaction:  # SQLite may already have rolled back (disk full)
            self._db.execute("ROLLBACK")

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                self.path,
                f"database schema {version} is newer than this auditor knows ({SCHEMA_VERSION}); "
                "upgrade auditor",
            )
        if version == SCHEMA_VERSION:
            return
        with self.transaction() as db:
            # Again inside the transaction: another process may have upgraded it meanwhile.
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version == SCHEMA_VERSION:
                return
            if version and version < 2:  # the scan's product category, kept for rescan
                db.execute(
                    "ALTER TABLE audits ADD COLUMN product_category TEXT NOT NULL DEFAULT 'general'"
                )
            if version and version < 3:
                _upgrade_to_3(db)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- identity ------------------------------------------------------------------------------

    def cached_sha256(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        """The content hash recorded for this path when size, mtime and inode are unchanged."""
        row = self._db.execute(
            "SELECT sha256 FROM paths WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
            (path, size, mtime_ns, inode),
        ).fetchone()
        return str(row["sha256"]) if row else None

    def record_path(self, path: str, sha256: str, size: int, mtime_ns: int, inode: int) -> None:
        stamp = utc_now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO files(sha256, size, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(sha256) DO UPDATE SET last_seen = excluded.last_seen",
                (sha256, size, stamp, stamp),
            )
            db.execute(
                "INSERT INTO paths(path, sha256, size, mtime_ns, inode, seen) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "sha256 = excluded.sha256, size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "inode = excluded.inode, seen = excluded.seen",
                (path, sha256, size, mtime_ns, inode, stamp),
            )

    def enqueue(self, sha256: str, key: str, settings: dict[str, Any], path: str) -> None:
        """Record that this content waits to be audited with these settings (if not known yet)."""
        stamp = utc_now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO audits(sha256, settings_key, settings, status, source_path, created, "
                "updated) VALUES (?, ?, ?, 'pending', ?, ?, ?) "
                "ON CONFLICT(sha256, settings_key) DO NOTHING",
                (sha256, key, json.dumps(settings, sort_keys=True), path, stamp, stamp),
            )

    # -- claims --------------------------------------------------------------------------------

    def claim(
        self,
        sha256: str,
        key: str,
        settings: dict[str, Any],
        path: str,
        owner: str,
        retry_failed: bool = False,
    ) -> tuple[Claim, AuditRow]:
        """Take the audit of this content with these settings, unless done, failed or busy."""
        stamp = utc_now()
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM audits WHERE sha256 = ? AND settings_key = ?", (sha256, key)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO audits(sha256, settings_key, settings, status, source_path, "
                    "claim_owner, heartbeat, attempts, created, started, updated) "
                    "VALUES (?, ?, ?, 'running', ?, ?, ?, 1, ?, ?, ?)",
                    (
                        sha256,
                        key,
                        json.dumps(settings, sort_keys=True),
                        path,
                        owner,
                        time.time(),
                        stamp,
                        stamp,
                        stamp,
                    ),
                )
                return Claim.CLAIMED, self._row(db, sha256, key)
            status = row["status"]
            if status == "done":
                if row["source_path"] != path and not os.path.exists(row["source_path"]):
                    db.execute(  # the file was moved or renamed: follow it
                        "UPDATE audits SET source_path = ?, updated = ? WHERE id = ?",
                        (path, stamp, row["id"]),
                    )
                return Claim.DONE, self._row(db, sha256, key)
            if status == "failed" and not retry_failed:
                return Claim.FAILED, self._row(db, sha256, key)
            if status == "running" and row["claim_owner"] != owner and self._alive(row):
                return Claim.BUSY, self._row(db, sha256, key)
            db.execute(
                "UPDATE audits SET status = 'running', claim_owner = ?, heartbeat = ?, "
                "attempts = attempts + 1, source_path = ?, started = ?, updated = ?, cause = NULL "
                "WHERE id = ?",
                (owner, time.time(), path, stamp, stamp, row["id"]),
            )
            return Claim.CLAIMED, self._row(db, sha256, key)

    def _alive(self, row: sqlite3.Row) -> bool:
        owner = row["claim_owner"]
        if not owner or _owner_is_dead(str(owner)):
            return False
        return time.time() - float(row["heartbeat"] or 0.0) < self.lease

    @staticmethod
    def _row(db: sqlite3.Connection, sha256: str, key: str) -> AuditRow:
        row = db.execute(
            "SELECT * FROM audits WHERE sha256 = ? AND settings_key = ?", (sha256, key)
        ).fetchone()
        return _typed(AuditRow, row)

    def heartbeat(self, owner: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE audits SET heartbeat = ? WHERE claim_owner = ? AND status = 'running'",
                (time.time(), owner),
            )

    def release(self, owner: str) -> int:
        """Give back every claim this owner still holds (back to pending)."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE audits SET status = 'pending', claim_owner = NULL, heartbeat = NULL, "
                "updated = ? WHERE claim_owner = ? AND status = 'running'",
                (utc_now(), owner),
            )
            return cursor.rowcount

    # -- results -------------------------------------------------------------------------------

    def finish(self, audit_id: int, owner: str, result: AuditResult) -> bool:
        """Store a finished audit, its transcript and findings in one transaction.

        False when the claim was lost (nothing written).
        """
        stamp = utc_now()
        source = result.source
        with self.transaction() as db:
            if not self._owns(db, audit_id, owner):
                return False
            db.execute(
                "UPDATE audits SET status = 'done', cause = NULL, duration = ?, format = ?, "
                "has_video = ?, audio_streams = ?, model_name = ?, model_sha256 = ?, device = ?, "
                "compute_type = ?, tool_version = ?, transcript = ?, lexicon_version = ?, "
                "product_category = ?, screen = ?, claim_owner = NULL, heartbeat = NULL, "
                "started = ?, finished = ?, updated = ? WHERE id = ?",
                (
                    source.duration,
                    source.format,
                    int(source.has_video),
                    source.audio_streams,
                    result.model.name,
                    result.model.sha256,
                    result.device,
                    result.compute_type,
                    result.tool_version,
                    json.dumps(
                        result.transcript.to_dict(), ensure_ascii=False, separators=(",", ":")
                    ),
                    result.lexicon_version,
                    result.options.product_category,
                    json.dumps(result.screen.to_dict(), ensure_ascii=False, separators=(",", ":"))
                    if result.screen is not None
                    else None,
                    result.started,
                    result.finished,
                    stamp,
                    audit_id,
                ),
            )
            self._replace_findings(db, audit_id, result.lexicon_version, result.findings, stamp)
            db.execute("DELETE FROM sound_checks WHERE audit_id = ?", (audit_id,))
            db.executemany(
                'INSERT INTO sound_checks(audit_id, matched, term, start, "end", heard_logprob, '
                "term_logprob) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (audit_id, c.matched, c.term, c.start, c.end, c.heard_logprob, c.term_logprob)
                    for c in result.sound_checks
                ],
            )
            return True

    def fail(self, audit_id: int, owner: str, cause: str) -> bool:
        stamp = utc_now()
        with self.transaction() as db:
            if not self._owns(db, audit_id, owner):
                return False
            db.execute(
                "UPDATE audits SET status = 'failed', cause = ?, claim_owner = NULL, "
                "heartbeat = NULL, finished = ?, updated = ? WHERE id = ?",
                (cause, stamp, stamp, audit_id),
            )
            return True

    @staticmethod
    def _owns(db: sqlite3.Connection, audit_id: int, owner: str) -> bool:
        row = db.execute(
            "SELECT 1 FROM audits WHERE id = ? AND claim_owner = ? AND status = 'running'",
            (audit_id, owner),
        ).fetchone()
        if row is None:
            log.warning("audit %d: claim lost (another run took it over); result dropped", audit_id)
        return row is not None

    @staticmethod
    def _replace_findings(
        db: sqlite3.Connection,
        audit_id: int,
        lexicon_version: str,
        findings: Sequence[Finding],
        stamp: str,
    ) -> None:
        db.execute(
            "DELETE FROM findings WHERE audit_id = ? AND lexicon_version = ?",
            (audit_id, lexicon_version),
        )
        sha256 = str(
            db.execute("SELECT sha256 FROM audits WHERE id = ?", (audit_id,)).fetchone()[0]
        )
        db.executemany(
            "INSERT INTO findings(audit_id, lexicon_version, category, rule, severity, matched, "
            'term, start, "end", context, legal_basis, confidence, match, created, channel, why, '
            "heard_logprob, term_logprob, box, fid) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    audit_id,
                    lexicon_version,
                    f.category,
                    f.rule,
                    f.severity,
                    f.matched,
                    f.term,
                    f.start,
                    f.end,
                    f.context,
                    f.legal_basis,
                    f.confidence,
                    f.match,
                    stamp,
                    f.channel,
                    json.dumps(dict(f.why), ensure_ascii=False) if f.why else None,
                    f.heard_logprob,
                    f.term_logprob,
                    json.dumps(list(f.box)) if f.box else None,
                    f.id or finding_id(sha256, f),
                )
                for f in findings
            ],
        )

    # -- rescan --------------------------------------------------------------------------------

    def done_transcripts(self, batch: int = 200) -> Iterator[list[StoredTranscript]]:
        """Every done audit's transcript, in chunks."""
        last = 0
        while True:
            rows = self._db.execute(
                "SELECT id, source_path, transcript, product_category, screen FROM audits "
                "WHERE status = 'done' AND id > ? ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            last = int(rows[-1]["id"])
            yield [
                StoredTranscript(
                    int(r["id"]),
                    str(r["source_path"]),
                    str(r["transcript"]),
                    str(r["product_category"]),
                    r["screen"],
                )
                for r in rows
            ]

    def sound_checks(self, audit_ids: Sequence[int]) -> dict[int, list[SoundCheck]]:
        """What the audio said of the sound-alikes of these audits, when they were audited."""
        out: dict[int, list[SoundCheck]] = {a: [] for a in audit_ids}
        for part in _in_bound_parts(audit_ids):
            rows = self._db.execute(
                'SELECT audit_id, matched, term, start, "end", heard_logprob, term_logprob '
                f"FROM sound_checks WHERE audit_id IN ({', '.join('?' * len(part))}) "
                "ORDER BY audit_id, start",
                tuple(part),
            ).fetchall()
            for r in rows:
                out[int(r[0])].append(SoundCheck(r[1], r[2], r[3], r[4], r[5], r[6]))
        return out

    def replace_findings(
        self, items: Sequence[tuple[int, str, Sequence[Finding]]], lexicon_version: str
    ) -> None:
        """Store a rescan's (audit id, product category, findings) for many audits at once and
        make them the current set."""
        stamp = utc_now()
        with self.transaction() as db:
            for audit_id, product, findings in items:
                self._replace_findings(db, audit_id, lexicon_version, findings, stamp)
                db.execute(
                    "UPDATE audits SET lexicon_version = ?, product_category = ?, updated = ? "
                    "WHERE id = ?",
                    (lexicon_version, product, stamp, audit_id),
                )

    # -- reading -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        counts = {s: 0 for s in ("done", "failed", "pending", "running")}
        counts.update(self.audit_counts())
        hours = self._db.execute(
            "SELECT COALESCE(SUM(duration), 0) FROM audits WHERE status = 'done'"
        ).fetchone()[0]
        severities = dict.fromkeys(SEVERITIES, 0)
        for row in self._db.execute(
            "SELECT f.severity, COUNT(*) AS n FROM findings f JOIN audits a ON a.id = f.audit_id "
            "AND a.lexicon_version = f.lexicon_version GROUP BY f.severity"
        ):
            severities[str(row["severity"])] = int(row["n"])
        lexicons = {
            str(r["lexicon_version"]): int(r["n"])
            for r in self._db.execute(
                "SELECT lexicon_version, COUNT(*) AS n FROM audits WHERE status = 'done' "
                "GROUP BY lexicon_version"
            )
        }
        channels = dict.fromkeys(CHANNELS, 0)
        for row in self._db.execute(
            "SELECT f.channel, COUNT(*) AS n FROM findings f JOIN audits a ON a.id = f.audit_id "
            "AND a.lexicon_version = f.lexicon_version GROUP BY f.channel"
        ):
            channels[str(row["channel"])] = int(row["n"])
        screen = self._db.execute(
            "SELECT COUNT(*) FROM audits WHERE status = 'done' AND screen IS NOT NULL"
        ).fetchone()[0]
        files = self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        keys = self._db.execute("SELECT COUNT(DISTINCT settings_key) FROM audits").fetchone()[0]
        paths = self._db.execute("SELECT COUNT(*) FROM paths").fetchone()[0]
        failures = [
            {"source": str(r["source_path"]), "cause": str(r["cause"] or "")}
            for r in self._db.execute(
                "SELECT source_path, cause FROM audits WHERE status = 'failed' ORDER BY id"
            )
        ]
        return {
            "database": self.path,
            "schema_version": SCHEMA_VERSION,
            "audits": counts,
            "files": int(files),
            "paths": int(paths),
            "settings_keys": int(keys),
            "audio_hours": round(float(hours) / 3600.0, 3),
            "findings": {**severities, "total": sum(severities.values())},
            "channels": channels,
            "screen_text": int(screen),  # done audits with stored screen text
            "lexicon_versions": lexicons,
            "failed": failures,
            "decisions": self.decision_counts(),
        }

    def findings(self, query: FindingQuery | None = None) -> list[Finding]:
        """Current findings, in order of source and time: of each content's latest audit, with
        the lexicon version that audit was last scanned with."""
        return [r.finding for r in self.reviewed_findings(query)]

    # -- review --------------------------------------------------------------------------------

    def reviewed_findings(
        self,
        query: FindingQuery | None = None,
        order: str = "source",
        offset: int = 0,
        limit: int | None = None,
        after: str | None = None,
        backwards: bool = False,
    ) -> list[ReviewedFinding]:
        """Current findings with their current decisions, sorted by one of QUEUE_ORDERS (each
        ends on the row id, so pages never overlap).

        `limit`: a page of them, from `offset`, or the next ones after the finding with id
        `after` in that order (the previous ones with `backwards`). Pages by `after` do not move
        when findings before them are decided out of the queue, and cost the same however deep.
        InputError when `after` is no current finding.
        """
        query = query or FindingQuery()
        where, params = _where(query)
        keys = [*QUEUE_ORDERS[order], ("f.id", False)]
        select = f"SELECT {_REVIEWED_COLUMNS} {_CURRENT_FROM} LEFT JOIN decisions d ON d.id = "
        if limit is None:
            sql = f"{select}r.decision_id {_CURRENT_WHERE}{where} {_order_by(keys)}"
            return [_reviewed(row) for row in self._db.execute(sql, params)]
        if after is not None:
            if backwards:
                keys = [(key, not descending) for key, descending in keys]
            beyond, values = self._beyond(keys, after)
            where += beyond
            params += values
            offset = 0
        # A page: sort only the row ids (a narrow sort, however deep the page), then read the
        # page's rows whole. Only decided ones: start from the decisions.
        decided = bool(query.decisions) and OPEN not in query.decisions
        source = _DECIDED_FROM if decided else _CURRENT_FROM
        page = [
            int(r[0])
            for r in self._db.execute(
                f"SELECT f.id {source} {_CURRENT_WHERE}{where} {_order_by(keys)} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        ]
        if backwards:
            page.reverse()
        if not page:
            return []
        rows = self._db.execute(
            f"{select}r.decision_id WHERE f.id IN ({','.join('?' * len(page))})", page
        )
        by_id = {int(row["row_id"]): _reviewed(row) for row in rows}
        return [by_id[i] for i in page]

    def _beyond(self, keys: list[tuple[str, bool]], finding_id: str) -> tuple[str, list[Any]]:
        """SQL for "after this finding in this order" (keys: expression, descending), and its
        parameters: the finding's own sort values."""
        row = self._db.execute(
            f"SELECT {', '.join(k for k, _ in keys)} {_CURRENT_FROM} {_CURRENT_WHERE} "
            "AND f.fid = ? LIMIT 1",
            (finding_id,),
        ).fetchone()
        if row is None:
            raise InputError(self.path, f"no current finding with id {finding_id!r}")
        either: list[str] = []
        values: list[Any] = []
        for i, (key, descending) in enumerate(keys):
            same = [f"{k} = ?" for k, _ in keys[:i]]
            either.append(
                "(" + " AND ".join([*same, f"{key} {'<' if descending else '>'} ?"]) + ")"
            )
            values.extend([*row[:i], row[i]])
        return " AND (" + " OR ".join(either) + ")", values

    def decision_counts(self, query: FindingQuery | None = None) -> dict[str, int]:
        """Current findings per decision (open, confirmed, dismissed) under the query's other
        filters: the queue's counts, and its length for any choice of decisions."""
        where, params = _where(query or FindingQuery(), with_decisions=False)
        total = int(
            self._db.execute(
                f"SELECT COUNT(*) {_FINDINGS_FROM} {_CURRENT_WHERE}{where}", params
            ).fetchone()[0]
        )
        # Counted from the decisions (a lookup per finding would cost more): the rest are open.
        counts = dict.fromkeys(DECISIONS, 0)
        for row in self._db.execute(
            f"SELECT r.decision, COUNT(*) AS n {_DECIDED_FROM} {_CURRENT_WHERE}{where} GROUP BY 1",
            params,
        ):
            counts[str(row["decision"])] = int(row["n"])
        counts[OPEN] = total - sum(n for d, n in counts.items() if d != OPEN)
        return counts

    def categories(self) -> list[str]:
        """The category ids of the stored findings (for a filter's choices)."""
        return [str(r[0]) for r in self._db.execute("SELECT DISTINCT category FROM findings")]

    def decide(
        self,
        ids: Sequence[str],
        decision: str,
        reviewer: str,
        note: str | None = None,
        seen: dict[str, int] | None = None,
    ) -> list[DecisionChange]:
        """Record `decision` on the current findings with these ids, all in one transaction: a
        history row each (with what the finding is now), which becomes its current decision.

        Nothing is recorded when any id is not a current finding. `seen` maps an id to the history
        row its reviewer last saw (0: none); a change made since by someone else is a conflict,
        reported, never lost: both rows stay in the history and the later one is current.
        """
        if decision not in DECISIONS:
            raise InputError(self.path, f"unknown decision {decision!r} (one of {DECISIONS})")
        reviewer = reviewer.strip()
        if not reviewer:
            raise InputError(self.path, "a decision needs the reviewer's name")
        note = (note or "").strip() or None
        wanted = list(dict.fromkeys(ids))
        stamp = utc_now()
        changes: list[DecisionChange] = []
        with self.transaction() as db:
            found: dict[str, sqlite3.Row] = {}
            for chunk in _in_bound_parts(wanted):
                for row in db.execute(
                    "SELECT f.fid, a.sha256, a.source_path, f.category, f.rule, f.matched, "
                    f'f.start, f."end", f.lexicon_version {_CURRENT_FROM} {_CURRENT_WHERE} '
                    f"AND f.fid IN ({','.join('?' * len(chunk))})",
                    chunk,
                ):
                    found.setdefault(str(row["fid"]), row)
            missing = [i for i in wanted if i not in found]
            if missing:
                more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
                raise InputError(self.path, f"no current finding with id {missing[0]!r}{more}")
            for fid in wanted:
                row = found[fid]
                previous = self._current_decision(db, fid)
                cursor = db.execute(
                    "INSERT INTO decisions(fid, decision, note, reviewer, decided, sha256, source, "
                    'category, rule, matched, start, "end", lexicon_version) '
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fid,
                        decision,
                        note,
                        reviewer,
                        stamp,
                        row["sha256"],
                        row["source_path"],
                        row["category"],
                        row["rule"],
                        row["matched"],
                        row["start"],
                        row["end"],
                        row["lexicon_version"],
                    ),
                )
                db.execute(
                    "INSERT INTO review_state(fid, decision_id, decision) VALUES (?, ?, ?) "
                    "ON CONFLICT(fid) DO UPDATE SET decision_id = excluded.decision_id, "
                    "decision = excluded.decision",
                    (fid, cursor.lastrowid, decision),
                )
                made = self._current_decision(db, fid)
                assert made is not None
                last_seen = (seen or {}).get(fid)
                conflict = last_seen is not None and (previous.id if previous else 0) != last_seen
                changes.append(DecisionChange(made, previous, conflict))
        return changes

    @staticmethod
    def _current_decision(db: sqlite3.Connection, fid: str) -> Decision | None:
        row = db.execute(
            f"SELECT {_DECISION_COLUMNS} FROM review_state r JOIN decisions d "
            "ON d.id = r.decision_id WHERE r.fid = ?",
            (fid,),
        ).fetchone()
        return _typed(Decision, row) if row else None

    def decision_history(self, ids: Sequence[str] = ()) -> list[Decision]:
        """Every decision ever recorded on these findings (all findings when none), oldest
        first."""
        sql = f"SELECT {_DECISION_COLUMNS} FROM decisions d"
        if ids:
            sql += f" WHERE d.fid IN ({','.join('?' * len(ids))})"
        return [_typed(Decision, r) for r in self._db.execute(sql + " ORDER BY d.id", list(ids))]

    def decided_but_gone(self) -> list[Decision]:
        """The current decisions (confirmed or dismissed) on findings that the current findings no
        longer hold: a rescan or a newer audit did not make them again. Their history stays."""
        return [
            _typed(Decision, r)
            for r in self._db.execute(
                f"SELECT {_DECISION_COLUMNS} FROM review_state r JOIN decisions d "
                f"ON d.id = r.decision_id WHERE r.decision != '{OPEN}' AND NOT EXISTS "
                f"(SELECT 1 {_CURRENT_FROM} {_CURRENT_WHERE} AND f.fid = d.fid) "
                "ORDER BY d.source, d.start, d.fid"
            )
        ]

    def media_paths(self, audit_id: int) -> list[str]:
        """Where an audit's recording may be: the path it was audited at, then the other paths
        its content was seen at (a moved file)."""
        rows = self._db.execute(
            "SELECT source_path AS path, 0 AS later FROM audits WHERE id = ? UNION ALL "
            "SELECT p.path, 1 AS later FROM paths p JOIN audits a ON a.sha256 = p.sha256 "
            "WHERE a.id = ? ORDER BY later, path",
            (audit_id, audit_id),
        )
        return list(dict.fromkeys(str(r["path"]) for r in rows))

    # -- batch reports ---------------------------------------------------------------------------

    def audit_counts(self) -> dict[str, int]:
        """Audits by status."""
        return {
            str(r[0]): int(r[1])
            for r in self._db.execute("SELECT status, COUNT(*) FROM audits GROUP BY status")
        }

    def ranked_audits(self, batch: int = 50) -> Iterator[RankedAudit]:
        """Every audit with its current findings counted by severity, most severe first (high,
        then medium, then all), streamed: any number of recordings fits in memory."""
        cursor = self._db.execute(_RANKED)
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield _typed(RankedAudit, row)

    def stored_result(self, audit_id: int) -> StoredResult:
        """A done audit as an AuditResult, with the settings the batch stored for it."""
        row = self._db.execute(
            "SELECT a.*, fl.size FROM audits a JOIN files fl ON fl.sha256 = a.sha256 "
            "WHERE a.id = ?",
            (audit_id,),
        ).fetchone()
        if row is None or row["status"] != "done":
            raise StoreError(self.path, f"audit {audit_id} is not a done audit")
        settings: dict[str, Any] = json.loads(row["settings"])
        source = str(row["source_path"])
        findings = tuple(
            _finding(f, source)
            for f in self._db.execute(
                f"SELECT {_FINDING_COLUMNS} FROM findings f WHERE audit_id = ? "
                'AND lexicon_version = ? ORDER BY start, "end", rule',
                (audit_id, row["lexicon_version"]),
            )
        )
        asr = AsrOptions(
            model=str(settings.get("model", row["model_name"] or "")),
            device=str(row["device"] or ""),
            compute_type=str(row["compute_type"] or ""),
            language=str(settings.get("language", "")),
        )
        result = AuditResult(
            source=SourceInfo(
                path=source,
                size=int(row["size"]),
                sha256=str(row["sha256"]),
                duration=float(row["duration"] or 0.0),
                format=str(row["format"] or ""),
                has_video=bool(row["has_video"]),
                audio_streams=int(row["audio_streams"] or 0),
            ),
            transcript=Transcript.from_dict(json.loads(row["transcript"])),
            findings=findings,
            options=AuditOptions(
                asr=asr,
                audio_stream=int(settings.get("audio_stream", 0)),
                product_category=str(row["product_category"]),
                screen=ScreenOptions(
                    enabled=bool(settings.get("screen_enabled", True)),
                    interval=float(settings.get("screen_interval", DEFAULT_SCREEN_INTERVAL)),
                ),
            ),
            model=ResolvedModel(str(row["model_name"] or ""), "", row["model_sha256"]),
            device=str(row["device"] or ""),
            compute_type=str(row["compute_type"] or ""),
            lexicon_version=str(row["lexicon_version"] or ""),
            started=str(row["started"] or ""),
            finished=str(row["finished"] or ""),
            tool_version=str(row["tool_version"] or ""),
            screen=ScreenText.from_dict(json.loads(row["screen"])) if row["screen"] else None,
        )
        return StoredResult(result, settings)


@dataclass(frozen=True)
class FindingQuery:
    """Which current findings to read. None or empty: no filter on that."""

    since: str | None = None  # ISO 8601 UTC: recordings audited at or after this
    min_severity: str | None = None  # this severity or above
    categories: tuple[str, ...] = ()  # category ids, or prefixes of them ('price')
    source_glob: str | None = None  # fnmatch pattern on the recording's path
    decisions: tuple[str, ...] = ()  # open, confirmed, dismissed: their current decision
    channels: tuple[str, ...] = ()  # speech, screen
    audit_id: int | None = None  # one recording's audit
    ids: tuple[str, ...] = ()  # these findings (stable ids) only


@dataclass(frozen=True)
class RankedAudit:
    id: int
    status: str
    cause: str | None
    source_path: str
    duration: float | None
    finished: str | None
    high: int
    medium: int
    low: int
    total: int


@dataclass(frozen=True)
class StoredResult:
    result: AuditResult
    settings: dict[str, Any]  # what the batch stored as the audit's transcript settings


_FINDING_COLUMNS = ", ".join(
    "f.fid AS id" if name == "id" else f'f."{name}"' for name in FINDING_FIELDS if name != "source"
)

# The current findings: of each content's latest done audit, scanned with the lexicon version that
# audit was last scanned with; `r` is the finding's current decision, when it has one.
_FINDINGS_FROM = (
    "FROM findings f JOIN audits a ON a.id = f.audit_id AND a.lexicon_version = f.lexicon_version"
)
_CURRENT_FROM = f"{_FINDINGS_FROM} LEFT JOIN review_state r ON r.fid = f.fid"
# The same, for decided findings only: read from the (far fewer) decisions.
_DECIDED_FROM = (
    "FROM review_state r JOIN findings f ON f.fid = r.fid "
    "JOIN audits a ON a.id = f.audit_id AND a.lexicon_version = f.lexicon_version"
)
_CURRENT_WHERE = (
    "WHERE a.status = 'done' "
    # one audit per content: the latest, when other settings audited it too
    "AND a.id = (SELECT b.id FROM audits b WHERE b.sha256 = a.sha256 "
    "AND +b.status = 'done' ORDER BY b.finished DESC, b.id DESC LIMIT 1)"
)
# How the review queue (and `findings`) may sort: (expression, descending) in turn; every order
# ends on the row id. No expression is ever NULL (done audits have their `finished`).
QUEUE_ORDERS: dict[str, list[tuple[str, bool]]] = {
    "source": [("a.source_path", False), ("f.start", False), ('f."end"', False), ("f.rule", False)],
    "severity": [
        ("CASE f.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END", False),
        ("a.finished", True),
        ("a.source_path", False),
        ("f.start", False),
    ],
    "newest": [("a.finished", True), ("a.source_path", False), ("f.start", False)],
    "confidence": [("f.confidence", True), ("a.source_path", False), ("f.start", False)],
    "category": [("f.category", False), ("a.source_path", False), ("f.start", False)],
}


def _order_by(keys: list[tuple[str, bool]]) -> str:
    return "ORDER BY " + ", ".join(f"{k} DESC" if descending else k for k, descending in keys)


_DECISION_FIELDS = [f.name for f in dataclasses.fields(Decision)]


def _decision_columns(prefix: str) -> str:
    """The columns of `decisions d` named as Decision's fields, each with `prefix`."""
    column = {"finding_id": "fid"}
    return ", ".join(f'd."{column.get(n, n)}" AS "{prefix}{n}"' for n in _DECISION_FIELDS)


_DECISION_COLUMNS = _decision_columns("")
_REVIEWED_COLUMNS = (
    "f.id AS row_id, a.id AS audit_id, a.source_path AS source, a.finished AS audited, "
    f"a.has_video, {_FINDING_COLUMNS}, {_decision_columns('d_')}"
)

_RANKED = """
SELECT a.id, a.status, a.cause, a.source_path, a.duration, a.finished,
       COALESCE(SUM(f.severity = 'high'), 0) AS high,
       COALESCE(SUM(f.severity = 'medium'), 0) AS medium,
       COALESCE(SUM(f.severity = 'low'), 0) AS low,
       COUNT(f.id) AS total
FROM audits a
LEFT JOIN findings f ON f.audit_id = a.id AND f.lexicon_version = a.lexicon_version
GROUP BY a.id
ORDER BY high DESC, medium DESC, total DESC, a.status = 'done' DESC, a.source_path, a.id
"""


def _typed(kind: type[T], row: sqlite3.Row) -> T:
    """A row as the dataclass `kind`, field by column name (never by position)."""
    return kind(**{f.name: row[f.name] for f in dataclasses.fields(kind)})  # type: ignore[arg-type]


def _glob(path: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(path, pattern)


def _where(query: FindingQuery, with_decisions: bool = True) -> tuple[str, list[Any]]:
    """The query's filters as SQL to add to _CURRENT_WHERE, and their parameters."""
    sql = ""
    params: list[Any] = []
    if query.since:
        sql += " AND a.finished >= ?"
        params.append(query.since)
    if query.min_severity:
        kept = [s for s in SEVERITIES if rank(s) >= rank(query.min_severity)]
        sql += f" AND f.severity IN ({','.join('?' * len(kept))})"
        params.extend(kept)
    if query.categories:
        # the id itself, or ids under it as a prefix ('price' holds 'price.fake_reference')
        either = "f.category = ? OR substr(f.category, 1, ?) = ?"
        sql += " AND (" + " OR ".join([either] * len(query.categories)) + ")"
        for category in query.categories:
            params.extend((category, len(category) + 1, category + "."))
    if query.channels:
        sql += f" AND f.channel IN ({','.join('?' * len(query.channels))})"
        params.extend(query.channels)
    if query.source_glob is not None:
        sql += " AND auditor_glob(a.source_path, ?)"
        params.append(query.source_glob)
    if query.audit_id is not None:
        sql += " AND a.id = ?"
        params.append(query.audit_id)
    if query.ids:
        sql += f" AND f.fid IN ({','.join('?' * len(query.ids))})"
        params.extend(query.ids)
    if with_decisions and query.decisions:
        sql += f" AND COALESCE(r.decision, '{OPEN}') IN ({','.join('?' * len(query.decisions))})"
        params.extend(query.decisions)
    return sql, params


def _reviewed(row: sqlite3.Row) -> ReviewedFinding:
    current = None
    if row["d_id"] is not None:
        current = Decision(**{name: row[f"d_{name}"] for name in _DECISION_FIELDS})
    return ReviewedFinding(
        finding=_finding(row),
        audit_id=int(row["audit_id"]),
        audited=str(row["audited"] or ""),
        has_video=bool(row["has_video"]),
        current=current,
    )


def _finding(row: sqlite3.Row, source: str | None = None) -> Finding:
    values = {name: row[name] for name in FINDING_FIELDS if name != "source"}
    values["why"] = tuple(json.loads(values["why"]).items()) if values["why"] else ()
    values["box"] = tuple(json.loads(values["box"])) if values["box"] else None
    values["id"] = values["id"] or ""
    return Finding(source=source if source is not None else str(row["source"]), **values)


def _upgrade_to_3(db: sqlite3.Connection) -> None:
    """Schema 2 -> 3: findings gain channel, why, evidence figures, box and a stable id (computed
    here for the findings already stored); audits gain the screen text of their recording."""
    db.execute("ALTER TABLE audits ADD COLUMN screen TEXT")
    for column in (
        "channel TEXT NOT NULL DEFAULT 'speech'",
        "why TEXT",
        "heard_logprob REAL",
        "term_logprob REAL",
        "box TEXT",
        "fid TEXT",
    ):
        db.execute(f"ALTER TABLE findings ADD COLUMN {column}")
    rows = db.execute(
        'SELECT f.id, a.sha256, f.rule, f.matched, f.start, f."end" FROM findings f '
        "JOIN audits a ON a.id = f.audit_id"
    ).fetchall()
    db.executemany(
        "UPDATE findings SET fid = ? WHERE id = ?",
        [
            (
                finding_id(
                    str(row[1]),
                    Finding(
                        "", "", str(row[2]), "", str(row[3]), None, row[4], row[5], "", "", 0, ""
                    ),
                ),
                row[0],
            )
            for row in rows
        ],
    )
