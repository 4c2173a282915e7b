"""Sync health in numbers, per pair and overall, read from the state database.

* latency: from a change on the source calendar to its copy written (median, 95th percentile);
* conflicts: merged automatically, resolved by the conflict policy, by the person, still open;
* overlaps found and acted on; runs, failures and held runs; requests per side.

Where the numbers come from: ``runs``, ``conflicts``, ``overlaps`` and the ``audit`` rows the
engine writes for every copy. A copy's latency is its audit time minus the source event's
``updated`` stamp; the engine may put that stamp in the audit details (``source_changed_at``);
until it does, it is taken from the link's snapshot of the source event, for the newest write
of each item only (older writes' sources were overwritten since).

When policy names a folder or an HTTPS endpoint, ``publish_daily`` writes a small anonymous
summary of the previous day there: counts and latencies, no names, addresses or ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import platform
import sqlite3
import statistics
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app import __version__
from app.policy import EffectivePolicy
from app.store.repo import Repo

log = logging.getLogger(__name__)

MAX_LATENCY = dt.timedelta(days=7)  # beyond this a snapshot is stale, not a slow sync
SUMMARY_SCHEMA = 1


@dataclass(frozen=True)
class Latency:
    samples: int = 0
    median_s: float | None = None
    p95_s: float | None = None

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        if not seconds:
            return cls()
        ordered = sorted(seconds)
        p95 = ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]  # nearest rank
        return cls(len(ordered), round(statistics.median(ordered), 3), round(p95, 3))


@dataclass
class PairMetrics:
    pair_id: str
    runs: int = 0
    failures: int = 0
    held: int = 0
    latency: Latency = field(default_factory=Latency)
    conflicts_merged: int = 0  # copies written by merging edits of both sides
    conflicts_by_policy: int = 0  # same field edited on both sides, settled by the policy
    conflicts_by_person: int = 0
    conflicts_open: int = 0
    overlaps_found: int = 0
    overlaps_acted: int = 0
    requests: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Metrics:
    since: str | None
    until: str | None
    pairs: list[PairMetrics]
    overall: PairMetrics

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "overall": self.overall.as_dict(),
            "pairs": [p.as_dict() for p in self.pairs],
        }


def compute(
    conn: sqlite3.Connection, since: str | None = None, until: str | None = None
) -> Metrics:
    """Metrics over [since, until) (ISO UTC timestamps; None: unbounded)."""
    conn.row_factory = sqlite3.Row
    pairs: dict[str, PairMetrics] = {}

    def pm(pair_id: str) -> PairMetrics:
        return pairs.setdefault(pair_id, PairMetrics(pair_id))

    for row in conn.execute("SELECT id FROM pairs ORDER BY id"):
        pm(row["id"])
    lo, hi = since or "", until or "\uffff"

    for r in conn.execute(
        "SELECT pair_id, status, requests FROM runs WHERE started_at >= ? AND started_at < ?",
        (lo, hi),
    ):
        m = pm(r["pair_id"])
        m.runs += 1
        m.failures += r["status"] == "failed"
        m.held += r["status"] == "held"
        for side, n in _json(r["requests"], {}).items():
            m.requests[side] = m.requests.get(side, 0) + int(n)

    # Open conflicts are a state (counted whenever they were found); resolved ones by when.
    for r in conn.execute(
        "SELECT pair_id, resolved_at FROM conflicts "
        "WHERE resolved_at IS NULL OR (resolved_at >= ? AND resolved_at < ?)",
        (lo, hi),
    ):
        m = pm(r["pair_id"])
        if r["resolved_at"] is None:
            m.conflicts_open += 1
        else:
            m.conflicts_by_person += 1

    samples: dict[str, list[float]] = defaultdict(list)
    newest: dict[tuple[str, str, str], sqlite3.Row] = {}
    for r in conn.execute(
        "SELECT * FROM audit WHERE at >= ? AND at < ? AND actor = 'sync' ORDER BY id", (lo, hi)
    ):
        if r["pair_id"] is None:
            continue
        why = r["why"] or ""
        if r["action"] == "updated" and why == "merged":
            pm(r["pair_id"]).conflicts_merged += 1
        if "conflict policy" in why:
            # The planner's reason when the conflict policy settled a clash (see LATER notes).
            pm(r["pair_id"]).conflicts_by_policy += 1
        if r["action"] in ("created", "updated") and r["side"] and r["item_id"]:
            newest[(r["pair_id"], r["side"], r["item_id"])] = r
    snapshots = _source_stamps(conn, {k[0] for k in newest})
    for (pair_id, side, item), r in newest.items():
        changed = _json(r["details"], {}).get("source_changed_at") or snapshots.get(
            (pair_id, side, item)
        )
        seconds = _seconds_between(changed, r["at"])
        if seconds is not None:
            samples[pair_id].append(seconds)

    for r in conn.execute(
        "SELECT pair_id, acted_at FROM overlaps WHERE found_at >= ? AND found_at < ?", (lo, hi)
    ):
        m = pm(r["pair_id"])
        m.overlaps_found += 1
        m.overlaps_acted += r["acted_at"] is not None

    for pair_id, values in samples.items():
        pm(pair_id).latency = Latency.of(values)
    overall = _sum(list(pairs.values()), [s for v in samples.values() for s in v])
    return Metrics(since, until, list(pairs.values()), overall)


def _source_stamps(conn: sqlite3.Connection, pair_ids: set[str]) -> dict[tuple[str, str, str], str]:
    """(pair, side written, item written) -> when the source side's snapshot was last edited."""
    out: dict[tuple[str, str, str], str] = {}
    for pair_id in pair_ids:
        for r in conn.execute(
            "SELECT a_id, b_id, a_event, b_event FROM links WHERE pair_id = ?", (pair_id,)
        ):
            for side, other in (("a", "b"), ("b", "a")):
                source = _json(r[f"{other}_event"], None)
                stamp = source.get("updated") if isinstance(source, dict) else None
                if isinstance(stamp, list) and stamp:
                    out[(pair_id, side, r[f"{side}_id"])] = stamp[0]
    return out


def _seconds_between(start: Any, end: Any) -> float | None:
    try:
        a = dt.datetime.fromisoformat(str(start))
        b = dt.datetime.fromisoformat(str(end))
    except ValueError:
        return None
    if a.tzinfo is None or b.tzinfo is None:
        return None
    delta = b - a
    if delta < dt.timedelta(0) or delta > MAX_LATENCY:
        return None
    return delta.total_seconds()


def _sum(pairs: list[PairMetrics], all_samples: list[float]) -> PairMetrics:
    total = PairMetrics("*")
    for m in pairs:
        for name in (
            "runs",
            "failures",
            "held",
            "conflicts_merged",
            "conflicts_by_policy",
            "conflicts_by_person",
            "conflicts_open",
            "overlaps_found",
            "overlaps_acted",
        ):
            setattr(total, name, getattr(total, name) + getattr(m, name))
        for side, n in m.requests.items():
            total.requests[side] = total.requests.get(side, 0) + n
    total.latency = Latency.of(all_samples)
    return total


def _json(text: Any, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except (TypeError, ValueError):
        return default


# --- the daily health summary ------------------------------------------------------------------

_INSTALLATION_KEY = "metrics.installation"
_PUBLISHED_KEY = "metrics.last_published_day"


def health_summary(conn: sqlite3.Connection, day: dt.date, installation: str) -> dict[str, Any]:
    """An anonymous summary of ``day`` (UTC): numbers only; pairs by a meaningless label."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    m = compute(conn, start.isoformat(), (start + dt.timedelta(days=1)).isoformat())

    def strip(p: PairMetrics) -> dict[str, Any]:
        d = p.as_dict()
        d.pop("pair_id")
        return d

    return {
        "schema": SUMMARY_SCHEMA,
        "day": day.isoformat(),
        "installation": installation,
        "app_version": __version__,
        "os": platform.system(),
        "overall": strip(m.overall),
        "pairs": {
            _label(installation, p.pair_id): strip(p)
            for p in sorted(m.pairs, key=lambda p: _label(installation, p.pair_id))
        },
    }


def _label(installation: str, pair_id: str) -> str:
    return "pair-" + hashlib.sha256(f"{installation}:{pair_id}".encode()).hexdigest()[:8]


def installation_id(repo: Repo) -> str:
    """A random id for this profile (not derived from anything about the person or machine)."""
    with repo.db.tx() as c:
        row = c.execute("SELECT value FROM settings WHERE key = ?", (_INSTALLATION_KEY,)).fetchone()
        if row is not None:
            return str(row[0])
        value = uuid.uuid4().hex
        c.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (_INSTALLATION_KEY, value))
        return value


Poster = Callable[[str, dict[str, Any]], None]


def _post(url: str, summary: dict[str, Any]) -> None:
    import requests

    r = requests.post(url, json=summary, timeout=15)
    r.raise_for_status()


def publish_daily(
    repo: Repo,
    policy: EffectivePolicy,
    now: dt.datetime | None = None,
    *,
    post: Poster = _post,
) -> list[str]:
    """Write yesterday's summary where policy says, once per day; returns where it went.

    Call it from the scheduler (hourly is fine: it does nothing until a new day has ended, and
    retries a destination that failed next time).
    """
    folder, endpoint = policy.value("metrics_folder"), policy.value("metrics_endpoint")
    if not folder and not endpoint:
        return []
    now = now or dt.datetime.now(dt.UTC)
    day = (now.astimezone(dt.UTC) - dt.timedelta(days=1)).date()
    row = repo.db.conn.execute(
        "SELECT value FROM settings WHERE key = ?", (_PUBLISHED_KEY,)
    ).fetchone()
    if row is not None and row[0] >= day.isoformat():
        return []
    installation = installation_id(repo)
    summary = health_summary(repo.db.conn, day, installation)
    done: list[str] = []
    failed = False
    if folder:
        try:
            target = Path(folder) / f"meridian-health-{installation[:12]}-{day.isoformat()}.json"
            _write_atomic(target, json.dumps(summary, indent=2, sort_keys=True))
            done.append(str(target))
        except OSError as exc:
            failed = True
            log.warning("could not write the health summary to %s: %s", folder, exc)
    if endpoint:
        try:
            post(endpoint, summary)
            done.append(endpoint)
        except Exception as exc:
            failed = True
            log.warning("could not send the health summary to %s: %s", endpoint, type(exc).__name__)
    if not failed:
        with repo.db.tx() as c:
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_PUBLISHED_KEY, day.isoformat()),
            )
    return done


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".meridian-", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
