"""Links and audit rows held for one transaction (``Repo.held``) are written as if each had been
written on its own: the same rows, ids and order, several multi-row inserts included."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from app.core.model import Event, EventRef, Provider, TimeSpan
from app.core.planner import Link, Origin
from app.store import repo as repo_module
from app.store.db import Database
from app.store.repo import Repo

LINKS = "SELECT id, origin, a_id, b_id, a_etag, b_etag, view, view_hash, a_event, b_event"
LINKS += " FROM links"
AUDIT = "SELECT id, actor, action, pair_id, side, item_id, why, details FROM audit"


def _event(i: int) -> Event:
    start = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC) + dt.timedelta(hours=i)
    when = TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC")
    return Event(ref=EventRef(Provider.GOOGLE, "c", f"g{i}"), when=when, title=f"Ünïcode {i}")


def _link(i: int, link_id: int | None = None) -> Link:
    ev = _event(i)
    return Link(link_id, Origin.A, f"a{i}", f"b{i}", "1", "2", {"title": ev.title}, ev, None)


def _steps(repo: Repo) -> None:
    """Inserts (more than one statement's worth), then updates, a delete, more inserts."""
    n = repo_module._ROWS_PER_INSERT + 7
    ids = [repo.save_link("p", _link(i)) for i in range(n)]
    repo.save_link("p", _link(1, ids[1]))
    repo.save_link("p", Link(ids[2], Origin.B, "a2", "b2", None, "9", {}, None, _event(2)))
    repo.delete_link(ids[3])
    ids += [repo.save_link("p", _link(i)) for i in range(n, n + 5)]
    for i in ids:
        repo.audit("sync", "created", pair_id="p", item_id=str(i), details={"at": i})


def _rows(repo: Repo, query: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in repo.db.conn.execute(query + " ORDER BY id")]


def _repo(path: Path) -> Repo:
    repo = Repo(Database(path))
    repo.add_pair("p", "p", {})
    return repo


def test_held_rows_are_those_written_one_by_one(tmp_path: Path) -> None:
    alone, held = _repo(tmp_path / "alone.db"), _repo(tmp_path / "held.db")
    _steps(alone)
    with held.held():
        _steps(held)
    assert _rows(held, LINKS) == _rows(alone, LINKS)
    assert _rows(held, AUDIT) == _rows(alone, AUDIT)
    assert len(_rows(held, LINKS)) == repo_module._ROWS_PER_INSERT + 11


def test_a_failed_held_write_leaves_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "state.db")
    repo.save_link("p", _link(0))
    with pytest.raises(sqlite3.IntegrityError), repo.held():
        for i in range(1, 80):
            repo.save_link("p", _link(i))
        repo.save_link("p", _link(0))  # the same a_id again: refused
        repo.audit("sync", "created", pair_id="p")
    assert len(_rows(repo, LINKS)) == 1
    assert _rows(repo, AUDIT) == []
