"""Numbered schema migrations; ``PRAGMA user_version`` is the number applied.

Never edit a released migration: append a new one. Statements are separated by ';'.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: accounts, pairs, sync state, runs, issues, conflicts, overlaps, guard holds, audit.
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        provider TEXT NOT NULL CHECK (provider IN ('google', 'microsoft', 'memory')),
        email TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        tenant TEXT,
        status TEXT NOT NULL DEFAULT 'ok',
        status_told INTEGER NOT NULL DEFAULT 0,
        added_at TEXT NOT NULL,
        UNIQUE (provider, email)
    );
    CREATE TABLE pairs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        config TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        paused_reason TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE cursors (
        pair_id TEXT NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        side TEXT NOT NULL CHECK (side IN ('a', 'b')),
        cursor TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (pair_id, side)
    );
    CREATE TABLE links (
        id INTEGER PRIMARY KEY,
        pair_id TEXT NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        origin TEXT NOT NULL CHECK (origin IN ('a', 'b', 'twin')),
        a_id TEXT NOT NULL,
        b_id TEXT NOT NULL,
        a_etag TEXT,
        b_etag TEXT,
        view TEXT NOT NULL,
        view_hash TEXT NOT NULL,
        a_event TEXT,
        b_event TEXT,
        key_gen INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        UNIQUE (pair_id, a_id),
        UNIQUE (pair_id, b_id)
    );
    CREATE TABLE intents (
        id INTEGER PRIMARY KEY,
        pair_id TEXT NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        target TEXT NOT NULL CHECK (target IN ('a', 'b')),
        origin_id TEXT NOT NULL,
        key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (pair_id, target, origin_id)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        pair_id TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        counts TEXT NOT NULL DEFAULT '{}',
        requests TEXT NOT NULL DEFAULT '{}',
        error TEXT
    );
    CREATE INDEX runs_by_pair ON runs (pair_id, started_at);
    CREATE TABLE issues (
        id INTEGER PRIMARY KEY,
        pair_id TEXT NOT NULL,
        side TEXT,
        item_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        message TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        next_retry TEXT,
        resolved_at TEXT,
        UNIQUE (pair_id, side, item_id, kind)
    );
    CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY,
        pair_id TEXT NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        link_id INTEGER NOT NULL,
        fields TEXT NOT NULL,
        a_version TEXT NOT NULL,
        b_version TEXT NOT NULL,
        created_at TEXT NOT NULL,
        resolved_at TEXT,
        resolution TEXT,
        remember INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE overlaps (
        id INTEGER PRIMARY KEY,
        pair_id TEXT NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        a_id TEXT NOT NULL,
        b_id TEXT NOT NULL,
        a_summary TEXT NOT NULL,
        b_summary TEXT NOT NULL,
        start TEXT NOT NULL,
        found_at TEXT NOT NULL,
        acted_at TEXT,
        action TEXT,
        UNIQUE (pair_id, a_id, b_id)
    );
    CREATE TABLE guard_holds (
        id INTEGER PRIMARY KEY,
        pair_id TEXT NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        reason TEXT NOT NULL,
        details TEXT NOT NULL,
        created_at TEXT NOT NULL,
        decided_at TEXT,
        decision TEXT
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        pair_id TEXT,
        side TEXT,
        item_id TEXT,
        why TEXT NOT NULL DEFAULT '',
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_by_time ON audit (at);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
]
