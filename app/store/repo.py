"""Repositories over the state database: pairs, links, cursors, runs, issues, conflicts, holds.

Every write that records the outcome of one item is a single transaction (``Database.tx``), so a
crash at any instant leaves either the old state or the new one for that item.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.core.planner import Link, Origin
from app.core.rules import Side
from app.core.serialize import event_from_json, event_to_json
from app.store.db import Database


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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


class Repo:
    def __init__(self, db: Database) -> None:
        self.db = db

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
        rows = self.db.conn.execute("SELECT * FROM links WHERE pair_id = ?", (pair_id,))
        return [self._link(r) for r in rows]

    @staticmethod
    def _link(r: Any) -> Link:
        return Link(
            id=r["id"],
            origin=Origin(r["origin"]),
            a_id=r["a_id"],
            b_id=r["b_id"],
            a_etag=r["a_etag"],
            b_etag=r["b_etag"],
            view=json.loads(r["view"]),
            a_event=event_from_json(json.loads(r["a_event"])) if r["a_event"] else None,
            b_event=event_from_json(json.loads(r["b_event"])) if r["b_event"] else None,
            key_gen=r["key_gen"],
        )

    def save_link(self, pair_id: str, lk: Link) -> int:
        """Insert or replace a link; returns its id. Call inside the item's transaction."""
        values = (
            lk.origin.value,
            lk.a_id,
            lk.b_id,
            lk.a_etag,
            lk.b_etag,
            json.dumps(lk.view, sort_keys=True, ensure_ascii=False),
            lk.view_hash,
            json.dumps(event_to_json(lk.a_event)) if lk.a_event else None,
            json.dumps(event_to_json(lk.b_event)) if lk.b_event else None,
            lk.key_gen,
            now_iso(),
        )
        with self.db.tx() as c:
            if lk.id is not None:
                c.execute(
                    "UPDATE links SET origin=?, a_id=?, b_id=?, a_etag=?, b_etag=?, view=?, "
                    "view_hash=?, a_event=?, b_event=?, key_gen=?, updated_at=? WHERE id=?",
                    (*values, lk.id),
                )
                return lk.id
            cur = c.execute(
                "INSERT INTO links (origin, a_id, b_id, a_etag, b_etag, view, view_hash, a_event, "
                "b_event, key_gen, updated_at, pair_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (*values, pair_id),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def delete_link(self, link_id: int) -> None:
        with self.db.tx() as c:
            c.execute("DELETE FROM links WHERE id = ?", (link_id,))

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
            now = dt.datetime.now(dt.UTC)
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

    def resolve_issues(self, pair_id: str, item_id: str) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE issues SET resolved_at=? "
                "WHERE pair_id=? AND item_id=? AND resolved_at IS NULL",
                (now_iso(), pair_id, item_id),
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
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO audit (at, actor, action, pair_id, side, item_id, why, details) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (now_iso(), actor, action, pair_id, side, item_id, why, json.dumps(details or {})),
            )

    def audit_rows(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        q = "SELECT * FROM audit" + (" WHERE at >= ?" if since else "") + " ORDER BY id"  # noqa: S608
        for r in self.db.conn.execute(q, (since,) if since else ()):
            yield {**dict(r), "details": json.loads(r["details"])}
