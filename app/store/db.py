"""The state database: SQLite in WAL mode, numbered migrations, a backup before each migration.

A database that cannot be opened or fails its integrity check is moved aside (never deleted) and
a fresh one is created; the engine then rebuilds its links from the tags and iCalendar UIDs on
both sides, so a corrupt file costs a slower sync, not duplicates or lost events.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenReport:
    """What happened when the database was opened, for the status view and the bundle."""

    path: Path
    created: bool
    migrated_from: int | None
    moved_aside: Path | None
    reason: str | None


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.RLock()
        self.report = self._open()

    # --- opening, checking, migrating ---------------------------------------------------

    def _open(self) -> OpenReport:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists() and self.path.stat().st_size > 0
        moved: Path | None = None
        reason: str | None = None
        if existed:
            reason = self._health_problem()
            if reason is not None:
                moved = self._move_aside()
                log.warning("state database %s %s; moved to %s", self.path, reason, moved)
                existed = False
        conn = self._conn()
        before = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if before > len(MIGRATIONS):
            raise RuntimeError(
                f"The state database {self.path} was written by a newer Meridian "
                f"(schema {before}, this version knows {len(MIGRATIONS)}). Update Meridian."
            )
        migrated_from = None
        if before < len(MIGRATIONS):
            if existed:
                self._backup(before)
                migrated_from = before
            self._migrate(conn, before)
        return OpenReport(self.path, not existed, migrated_from, moved, reason)

    def _health_problem(self) -> str | None:
        try:
            conn = sqlite3.connect(self.path)
            try:
                row = conn.execute("PRAGMA quick_check").fetchone()
                if row is None or row[0] != "ok":
                    return f"failed its integrity check ({row[0] if row else 'no answer'})"
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            return f"could not be read ({exc})"
        return None

    def _move_aside(self) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        self.path.rename(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        return target

    def _backup(self, version: int) -> None:
        target = self.path.with_name(f"{self.path.name}.v{version}.bak")
        src = sqlite3.connect(self.path)
        try:
            dst = sqlite3.connect(target)
            with dst:
                src.backup(dst)
            dst.close()
        finally:
            src.close()

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # One transaction per migration step: a crash leaves the previous version intact.
            with conn:
                conn.execute("BEGIN")
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    # --- connections and transactions ---------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn()

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction (nested calls join the outer one)."""
        conn = self._conn()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def integrity(self) -> str:
        return str(self._conn().execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def copy_to(self, target: Path) -> None:
        """A consistent copy (for the diagnostic bundle), even while syncing."""
        dst = sqlite3.connect(target)
        try:
            with dst:
                self._conn().backup(dst)
        finally:
            dst.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def remove_backups(path: Path, keep: int = 3) -> None:
    """Keep the newest ``keep`` migration backups."""
    backups = sorted(path.parent.glob(f"{path.name}.v*.bak"), key=lambda p: p.stat().st_mtime)
    for old in backups[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()
