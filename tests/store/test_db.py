"""The state database opens, migrates with a backup, and survives corruption without deletion."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.store import db as dbmod
from app.store.db import Database
from app.store.migrations import MIGRATIONS


def test_fresh_database_is_wal_and_current(tmp_path: Path) -> None:
    d = Database(tmp_path / "state.db")
    assert d.report.created
    assert d.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert d.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert d.integrity() == "ok"


def test_corrupt_database_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Database(path).close()
    garbage = b"SQLite format 3\x00" + b"\xff" * 4096
    path.write_bytes(garbage)
    d = Database(path)
    assert d.report.moved_aside is not None
    assert d.report.moved_aside.read_bytes() == garbage
    assert d.report.reason is not None
    assert "integrity" in d.report.reason or "could not be read" in d.report.reason
    assert d.integrity() == "ok"


def test_migration_backs_up_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    d = Database(path)
    d.conn.execute("INSERT INTO settings VALUES ('k', 'v')")
    d.close()
    monkeypatch.setattr(dbmod, "MIGRATIONS", [*MIGRATIONS, "CREATE TABLE extra (x INTEGER)"])
    again = Database(path)
    assert again.report.migrated_from == len(MIGRATIONS)
    backup = tmp_path / f"state.db.v{len(MIGRATIONS)}.bak"
    assert backup.exists()
    with sqlite3.connect(backup) as b:
        assert b.execute("SELECT value FROM settings WHERE key='k'").fetchone()[0] == "v"
    assert again.conn.execute("SELECT value FROM settings").fetchone()[0] == "v"


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Database(path).conn.execute("PRAGMA user_version = 999")
    with pytest.raises(RuntimeError, match="newer Meridian"):
        Database(path)


def test_transactions_roll_back_on_error(tmp_path: Path) -> None:
    d = Database(tmp_path / "state.db")
    with pytest.raises(ValueError), d.tx() as c:
        c.execute("INSERT INTO settings VALUES ('a', '1')")
        raise ValueError("boom")
    assert d.conn.execute("SELECT count(*) FROM settings").fetchone()[0] == 0
