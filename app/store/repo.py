"""Repositories over the state database: pairs, links, cursors, runs, issues, conflicts, holds.

The outcome of one item is always written inside one transaction (``Database.tx``; the engine
puts a whole provider batch in one, ``Repo.held``), so a crash at any instant leaves either the
old state or the new one for that item.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from app.core.fingerprint import view_hash
from app.core.planner import Link, Origin
from app.core.rules import Side
from app.core.serialize import event_to_json
from app.core.stored import encoded
from app.store.db import Database

_ORIGINS = {o.value: o for o in Origin}
# json.dumps(view, sort_keys=True, ensure_ascii=False), without a new encoder per call.
_VIEW_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


# (second, its text): a commit stamps every link and audit row, thousands a second.
_last_second: tuple[int, str] = (-1, "")


def now_iso() -> str:
    """``datetime.now(UTC).isoformat(timespec="seconds")``: the same clock, floored to the
    second as ``now()`` does, and formatted once a second."""
    global _last_second
    second = time.time_ns() // 1_000_000_000
    last = _last_second
    if last[0] != second:
        text = dt.datetime.fromtimestamp(second, dt.UTC).isoformat(timespec="seconds")
        last = _last_second = (second, text)
    return last[1]


@dataclass(frozen=True)
class PairRow:
    id: str
    name: str
    config: dict[str, Any]
    enabled: bool
    paused_reason: str | None


@dataclass(frozen=True)
class IssueRow:
    id: int
    pair_id: str
    side: str | None
    item_id: str
    kind: str
    title: str
    message: str
    attempts: int
    next_retry: str | None


_UPDATE_LINK = (
    "UPDATE links SET origin=?, a_id=?, b_id=?, a_etag=?, b_etag=?, view=?, view_hash=?, "
    "a_event=?, b_event=?, key_gen=?, updated_at=? WHERE id=?"
)
# Rows per INSERT ... VALUES (...),(...): 13 values a link row stay under the 999 parameters
# a statement may have in SQLite before 3.32 (the system library of some Linux releases).
_ROWS_PER_INSERT = 64


@functools.cache  # (a few dozen texts at most: widths 8 and 13, up to _ROWS_PER_INSERT rows)
def _rows(width: int, count: int) -> str:
    return ",".join(["(" + ",".join("?" * width) + ")"] * count)


_LINK_INTO = (
    "INSERT INTO links (origin, a_id, b_id, a_etag, b_etag, view, view_hash, a_event, b_event, "
    "key_gen, updated_at, pair_id, id) VALUES "
)
_INSERT_LINK = _LINK_INTO + _rows(13, 1)
_DELETE_LINK = "DELETE FROM links WHERE id = ?"
_AUDIT_INTO = "INSERT INTO audit (at, actor, action, pair_id, side, item_id, why, details) VALUES "
_INSERT_AUDIT = _AUDIT_INTO + _rows(8, 1)


def _insert(conn: sqlite3.Connection, into: str, rows: list[tuple[Any, ...]]) -> None:
    """The rows inserted by a few multi-row statements, in order. ``executemany`` steps its
    statement once per row, and every step hands the GIL over: with Google batches in flight
    in other threads, taking it back cost about 3 ms per batch of links."""
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        sql = into + _rows(len(chunk[0]), len(chunk))
        conn.execute(sql, [value for row in chunk for value in row])


class _Held:
    """Link and audit rows of one transaction, written together when it ends (``Repo.held``)."""

    def __init__(self) -> None:
        self.links: list[tuple[str, tuple[Any, ...]]] = []  # (statement, values), in order
        self.audit: list[tuple[Any, ...]] = []
        self._next_id: int | None = None

    def insert_link(self, row: tuple[Any, ...], conn: sqlite3.Connection) -> int:
        if self._next_id is None:
            # The id SQLite would give (rowid tables take max + 1); this transaction holds the
            # write lock, so nobody else takes it meanwhile.
            found = conn.execute("SELECT coalesce(max(id), 0) FROM links").fetchone()
            self._next_id = int(found[0]) + 1
        link_id = self._next_id
        self._next_id += 1
        self.links.append((_INSERT_LINK, (*row, link_id)))
        return link_id

    def write(self, conn: sqlite3.Connection) -> None:
        """Links in the order they were asked for (a run of inserts goes as one statement, a
        run of another statement as one executemany), then the audit rows, which nothing else
        depends on."""
        for statement, run in itertools.groupby(self.links, key=lambda r: r[0]):
            rows = [values for _, values in run]
            if statement == _INSERT_LINK:
                _insert(conn, _LINK_INTO, rows)
            else:
                conn.executemany(statement, rows)
        if self.audit:
            _insert(conn, _AUDIT_INTO, self.audit)


class Repo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._local = threading.local()
        # When issues become due again: the sync engine sets its own clock here, so that its
        # "due" check and these times come from one clock (tests run the engine at a set time).
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """One transaction in which links and audit rows are written together at its end: one
        statement each instead of two per item. Each statement hands the GIL over, and while
        other threads are busy (batches in flight) taking it back costs up to 5 ms, so per-item
        statements made committing 5,000 items take seconds. Nothing in the block may read the
        links or the audit log back; everything else is written at once, as usual. On an
        exception nothing of the block is written (the transaction rolls back)."""
        with self.db.tx() as conn:
            if self._held() is not None:
                yield  # already inside one
                return
            held = _Held()
            self._local.held = held
            try:
                yield
                held.write(conn)
            finally:
                self._local.held = None

    def _held(self) -> _Held | None:
        held: _Held | None = getattr(self._local, "held", None)
        return held

    # --- pairs -----------------------------------------------------------------------------

    def add_pair(self, pair_id: str, name: str, config: dict[str, Any]) -> None:
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO pairs (id, name, config, created_at) VALUES (?, ?, ?, ?)",
                (pair_id, name, json.dumps(config, sort_keys=True), now_iso()),
            )

    def pairs(self) -> list[PairRow]:
        rows = self.db.conn.execute("SELECT * FROM pairs ORDER BY name").fetchall()
        return [
            PairRow(
                r["id"], r["name"], json.loads(r["config"]), bool(r["enabled"]), r["paused_reason"]
            )
            for r in rows
        ]

    def pair(self, id_or_name: str) -> PairRow | None:
        for p in self.pairs():
            if id_or_name in (p.id, p.name):
                return p
        return None

    def remove_pair(self, pair_id: str) -> None:
        with self.db.tx() as c:
            c.execute("DELETE FROM pairs WHERE id = ?", (pair_id,))

    def repoint_pair(self, pair_id: str, config: dict[str, Any], why: str) -> None:
        """New calendars for a pair: what it knew of the old ones is dropped, not acted on
        (links, pending creates, cursors); open issues, conflicts and overlaps are closed."""
        now = now_iso()
        with self.db.tx() as c:
            c.execute(
                "UPDATE pairs SET config = ? WHERE id = ?",
                (json.dumps(config, sort_keys=True), pair_id),
            )
            for table in ("links", "intents", "cursors"):
                c.execute(f"DELETE FROM {table} WHERE pair_id = ?", (pair_id,))  # noqa: S608
            c.execute(
                "UPDATE issues SET resolved_at = ? WHERE pair_id = ? AND resolved_at IS NULL",
                (now, pair_id),
            )
            c.execute(
                "UPDATE conflicts SET resolved_at = ?, resolution = ? "
                "WHERE pair_id = ? AND resolved_at IS NULL",
                (now, why, pair_id),
            )
            c.execute(
                "UPDATE overlaps SET acted_at = ?, action = ? "
                "WHERE pair_id = ? AND acted_at IS NULL",
                (now, why, pair_id),
            )

    def set_paused(self, pair_id: str, reason: str | None) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE pairs SET paused_reason = ? WHERE id = ?", (reason, pair_id))

    # --- cursors ---------------------------------------------------------------------------

    def cursor(self, pair_id: str, side: Side) -> str | None:
        row = self.db.conn.execute(
            "SELECT cursor FROM cursors WHERE pair_id = ? AND side = ?", (pair_id, side.value)
        ).fetchone()
        return row["cursor"] if row else None

    def set_cursor(self, pair_id: str, side: Side, cursor: str | None) -> None:
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO cursors (pair_id, side, cursor, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (pair_id, side) DO UPDATE SET cursor = excluded.cursor, "
                "updated_at = excluded.updated_at",
                (pair_id, side.value, cursor, now_iso()),
            )

    # --- links -----------------------------------------------------------------------------

    def links(self, pair_id: str) -> list[Link]:
        """Every link of a pair. The view and both snapshots stay JSON text until a caller reads
        them (``app.core.stored``): a run reads those of the few links that changed only."""
        cur = self.db.conn.cursor()
        cur.row_factory = None  # plain tuples: about a microsecond per link less than Row
        rows = cur.execute(
            "SELECT id, origin, a_id, b_id, a_etag, b_etag, view, a_event, b_event, key_gen "
            "FROM links WHERE pair_id = ?",
            (pair_id,),
        )
        origins = _ORIGINS
        return [Link(r[0], origins[r[1]], *r[2:]) for r in rows]

    def save_link(self, pair_id: str, lk: Link) -> int:
        """Insert or replace a link; returns its id. Call inside the item's transaction."""
        # What was loaded and never read goes back as it came (no decoding just to re-encode).
        a_event = encoded(lk, "a_event") or (
            json.dumps(event_to_json(lk.a_event)) if lk.a_event else None
        )
        b_event = encoded(lk, "b_event") or (
            json.dumps(event_to_json(lk.b_event)) if lk.b_event else None
        )
        view = lk.view
        values = (
            lk.origin.value,
            lk.a_id,
            lk.b_id,
            lk.a_etag,
            lk.b_etag,
            _VIEW_JSON.encode(view),
            view_hash(view),
            a_event,
            b_event,
            lk.key_gen,
            now_iso(),
        )
        held = self._held()
        if held is not None:
            if lk.id is not None:
                held.links.append((_UPDATE_LINK, (*values, lk.id)))
                return lk.id
            return held.insert_link((*values, pair_id), self.db.conn)
        with self.db.tx() as c:
            if lk.id is not None:
                c.execute(_UPDATE_LINK, (*values, lk.id))
                return lk.id
            cur = c.execute(_INSERT_LINK, (*values, pair_id, None))  # None: SQLite picks the id
            assert cur.lastrowid is not None
            return cur.lastrowid

    def delete_link(self, link_id: int) -> None:
        held = self._held()
        if held is not None:
            held.links.append((_DELETE_LINK, (link_id,)))  # in order with the others
            return
        with self.db.tx() as c:
            c.execute(_DELETE_LINK, (link_id,))

    def link_count(self, pair_id: str) -> int:
        row = self.db.conn.execute("SELECT count(*) FROM links WHERE pair_id = ?", (pair_id,))
        return int(row.fetchone()[0])

    # --- runs ------------------------------------------------------------------------------

    def start_run(self, pair_id: str) -> int:
        with self.db.tx() as c:
            cur = c.execute(
                "INSERT INTO runs (pair_id, started_at) VALUES (?, ?)", (pair_id, now_iso())
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: dict[str, int],
        requests: dict[str, int],
        error: str | None = None,
    ) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE runs SET finished_at=?, status=?, counts=?, requests=?, error=? WHERE id=?",
                (now_iso(), status, json.dumps(counts), json.dumps(requests), error, run_id),
            )

    def runs(self, pair_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        # Only fixed fragments are joined; values are always bound parameters.
        q = "SELECT * FROM runs" + (" WHERE pair_id = ?" if pair_id else "")  # noqa: S608
        rows = self.db.conn.execute(
            q + " ORDER BY id DESC LIMIT ?", (*([pair_id] if pair_id else []), limit)
        )
        return [
            {**dict(r), "counts": json.loads(r["counts"]), "requests": json.loads(r["requests"])}
            for r in rows
        ]

    # --- issues ----------------------------------------------------------------------------

    def record_issue(
        self,
        pair_id: str,
        side: str | None,
        item_id: str,
        kind: str,
        title: str,
        message: str,
        *,
        due_now: bool = False,
    ) -> IssueRow:
        """Create or bump an issue; retries back off (1, 2, 4, ... runs capped at a day)."""
        with self.db.tx() as c:
            row = c.execute(
                "SELECT * FROM issues WHERE pair_id=? AND side IS ? AND item_id=? AND kind=?",
                (pair_id, side, item_id, kind),
            ).fetchone()
            now = self.clock()
            if row is None:
                attempts = 1
                c.execute(
                    "INSERT INTO issues (pair_id, side, item_id, kind, title, message, attempts, "
                    "first_seen, last_seen, next_retry) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        pair_id,
                        side,
                        item_id,
                        kind,
                        title,
                        message,
                        1,
                        now.isoformat(),
                        now.isoformat(),
                        None if due_now else (now + dt.timedelta(minutes=1)).isoformat(),
                    ),
                )
            else:
                attempts = row["attempts"] + 1
                delay = min(dt.timedelta(minutes=2 ** min(attempts, 11)), dt.timedelta(days=1))
                c.execute(
                    "UPDATE issues SET attempts=?, title=?, message=?, last_seen=?, next_retry=?, "
                    "resolved_at=NULL WHERE id=?",
                    (
                        attempts,
                        title,
                        message,
                        now.isoformat(),
                        (now + delay).isoformat(),
                        row["id"],
                    ),
                )
        found = self.issues(pair_id, item_id=item_id, kind=kind)
        return found[0]

    def resolve_issue(self, issue_id: int) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE issues SET resolved_at=? WHERE id=?", (now_iso(), issue_id))

    def resolve_issues(self, pair_id: str, item_id: str, *, keep: Iterable[str] = ()) -> None:
        """Resolve an item's open issues, except those of the kinds in ``keep``."""
        kept = set(keep)
        with self.db.tx() as c:
            rows = c.execute(
                "SELECT id, kind FROM issues WHERE pair_id=? AND item_id=? AND resolved_at IS NULL",
                (pair_id, item_id),
            ).fetchall()
            now = now_iso()
            c.executemany(
                "UPDATE issues SET resolved_at=? WHERE id=?",
                [(now, r["id"]) for r in rows if r["kind"] not in kept],
            )

    def issues(
        self, pair_id: str | None = None, *, item_id: str | None = None, kind: str | None = None
    ) -> list[IssueRow]:
        q = "SELECT * FROM issues WHERE resolved_at IS NULL"
        args: list[Any] = []
        for col, val in (("pair_id", pair_id), ("item_id", item_id), ("kind", kind)):
            if val is not None:
                q += f" AND {col} = ?"
                args.append(val)
        return [
            IssueRow(
                r["id"],
                r["pair_id"],
                r["side"],
                r["item_id"],
                r["kind"],
                r["title"],
                r["message"],
                r["attempts"],
                r["next_retry"],
            )
            for r in self.db.conn.execute(q + " ORDER BY id", args)
        ]

    # --- conflicts -------------------------------------------------------------------------

    def open_conflict_links(self, pair_id: str) -> frozenset[int]:
        rows = self.db.conn.execute(
            "SELECT link_id FROM conflicts WHERE pair_id=? AND resolved_at IS NULL", (pair_id,)
        )
        return frozenset(r[0] for r in rows)

    def add_conflict(
        self, pair_id: str, link_id: int, fields: list[str], a: dict[str, Any], b: dict[str, Any]
    ) -> int:
        with self.db.tx() as c:
            cur = c.execute(
                "INSERT INTO conflicts "
                "(pair_id, link_id, fields, a_version, b_version, created_at) "
                "VALUES (?,?,?,?,?,?)",
                (pair_id, link_id, json.dumps(fields), json.dumps(a), json.dumps(b), now_iso()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def conflicts(self, pair_id: str | None = None, open_only: bool = True) -> list[dict[str, Any]]:
        q = "SELECT * FROM conflicts WHERE 1=1"
        args: list[Any] = []
        if pair_id:
            q += " AND pair_id = ?"
            args.append(pair_id)
        if open_only:
            q += " AND resolved_at IS NULL"
        out = []
        for r in self.db.conn.execute(q + " ORDER BY id", args):
            d = dict(r)
            for k in ("fields", "a_version", "b_version"):
                d[k] = json.loads(d[k])
            out.append(d)
        return out

    def resolve_conflict(self, conflict_id: int, resolution: str, remember: bool) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE conflicts SET resolved_at=?, resolution=?, remember=? WHERE id=?",
                (now_iso(), resolution, int(remember), conflict_id),
            )

    # --- schedule overlaps ------------------------------------------------------------------

    def add_overlap(
        self, pair_id: str, a_id: str, b_id: str, a_title: str, b_title: str, start: dt.datetime
    ) -> bool:
        """Record an overlap once (True when it is new)."""
        with self.db.tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO overlaps "
                "(pair_id, a_id, b_id, a_summary, b_summary, start, found_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (pair_id, a_id, b_id, a_title, b_title, start.isoformat(), now_iso()),
            )
            return cur.rowcount == 1

    def overlaps(self, pair_id: str | None = None, open_only: bool = True) -> list[dict[str, Any]]:
        q = "SELECT * FROM overlaps WHERE 1=1"
        args: list[Any] = []
        if pair_id:
            q += " AND pair_id = ?"
            args.append(pair_id)
        if open_only:
            q += " AND acted_at IS NULL"
        return [dict(r) for r in self.db.conn.execute(q + " ORDER BY start", args)]

    def act_on_overlap(self, overlap_id: int, action: str) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE overlaps SET acted_at=?, action=? WHERE id=?",
                (now_iso(), action, overlap_id),
            )

    # --- guard holds -----------------------------------------------------------------------

    def open_hold(self, pair_id: str) -> dict[str, Any] | None:
        row = self.db.conn.execute(
            "SELECT * FROM guard_holds WHERE pair_id=? AND decided_at IS NULL ORDER BY id DESC",
            (pair_id,),
        ).fetchone()
        return {**dict(row), "details": json.loads(row["details"])} if row else None

    def decided_hold(self, pair_id: str) -> dict[str, Any] | None:
        """The person's answer to a hold that no run has acted on yet."""
        row = self.db.conn.execute(
            "SELECT * FROM guard_holds WHERE pair_id=? AND decision IN ('approve', 'refuse') "
            "ORDER BY id DESC",
            (pair_id,),
        ).fetchone()
        return {**dict(row), "details": json.loads(row["details"])} if row else None

    def add_hold(self, pair_id: str, reason: str, details: dict[str, Any]) -> int:
        with self.db.tx() as c:
            cur = c.execute(
                "INSERT INTO guard_holds (pair_id, reason, details, created_at) VALUES (?,?,?,?)",
                (pair_id, reason, json.dumps(details), now_iso()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def decide_hold(self, hold_id: int, decision: str) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE guard_holds SET decided_at=?, decision=? WHERE id=?",
                (now_iso(), decision, hold_id),
            )

    # --- audit -----------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        *,
        pair_id: str | None = None,
        side: str | None = None,
        item_id: str | None = None,
        why: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        row = (now_iso(), actor, action, pair_id, side, item_id, why, json.dumps(details or {}))
        held = self._held()
        if held is not None:
            held.audit.append(row)
            return
        with self.db.tx() as c:
            c.execute(_INSERT_AUDIT, row)

    def audit_rows(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        q = "SELECT * FROM audit" + (" WHERE at >= ?" if since else "") + " ORDER BY id"  # noqa: S608
        for r in self.db.conn.execute(q, (since,) if since else ()):
            yield {**dict(r), "details": json.loads(r["details"])}
