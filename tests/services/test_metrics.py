"""Metrics per pair and overall, and the anonymous daily health summary."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.model import Event, TimeSpan
from app.core.planner import Link, Origin
from app.policy import merge
from app.policy.sources import parse_document
from app.services import metrics
from app.services.metrics import Latency, compute, health_summary, publish_daily
from app.store.db import Database
from app.store.repo import Repo

T0 = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    r = Repo(Database(tmp_path / "state.db"))
    r.add_pair("p1", "Work to home", {"b": {"account": "g-1", "calendar": "alex@gmail.com"}})
    r.add_pair("p2", "Second", {})
    yield r
    r.db.close()


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat(timespec="seconds")


def add_run(repo: Repo, pair: str, status: str, minutes: float, requests: dict[str, int]) -> None:
    with repo.db.tx() as c:
        c.execute(
            "INSERT INTO runs (pair_id, started_at, finished_at, status, counts, requests) "
            "VALUES (?,?,?,?,?,?)",
            (pair, at(minutes), at(minutes + 1), status, "{}", json.dumps(requests)),
        )


def add_audit(repo: Repo, minutes: float, action: str, *, pair: str = "p1", **kw: Any) -> None:
    with repo.db.tx() as c:
        c.execute(
            "INSERT INTO audit (at, actor, action, pair_id, side, item_id, why, details) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                at(minutes),
                kw.get("actor", "sync"),
                action,
                pair,
                kw.get("side", "b"),
                kw.get("item", f"item-{minutes}"),
                kw.get("why", "new event"),
                json.dumps(kw.get("details", {})),
            ),
        )


def test_latency_is_median_and_nearest_rank_p95() -> None:
    lat = Latency.of([float(s) for s in range(1, 101)])
    assert (lat.samples, lat.median_s, lat.p95_s) == (100, 50.5, 95.0)
    assert Latency.of([]) == Latency()
    assert Latency.of([7.0]).p95_s == 7.0


def test_counts_per_pair_and_overall(repo: Repo) -> None:
    add_run(repo, "p1", "ok", 0, {"a": 2, "b": 3})
    add_run(repo, "p1", "failed", 10, {"a": 1, "b": 0})
    add_run(repo, "p1", "held", 20, {"a": 1, "b": 1})
    add_run(repo, "p2", "ok", 5, {"a": 1, "b": 1})
    for seconds in (10, 20, 30, 40, 600):
        changed = (T0 + dt.timedelta(minutes=30, seconds=-seconds)).isoformat()
        add_audit(repo, 30, "created", item=f"c{seconds}", details={"source_changed_at": changed})
    add_audit(repo, 31, "updated", why="merged")
    add_audit(repo, 31, "updated", why="merged")
    add_audit(repo, 32, "updated", why="conflict policy: the newest edit wins")
    add_audit(repo, 33, "account.sign_in", actor="person", pair=None)  # type: ignore[arg-type]
    c1 = repo.add_conflict("p1", 1, ["title"], {}, {})
    repo.add_conflict("p1", 2, ["location"], {}, {})
    repo.resolve_conflict(c1, "a", remember=False)
    with repo.db.tx() as c:
        c.execute(
            "INSERT INTO overlaps (pair_id, a_id, b_id, a_summary, b_summary, start, found_at, "
            "acted_at, action) VALUES ('p2','x','y','s1','s2',?,?,?,'declined')",
            (at(0), at(1), at(2)),
        )
        c.execute(
            "INSERT INTO overlaps (pair_id, a_id, b_id, a_summary, b_summary, start, found_at) "
            "VALUES ('p2','x2','y2','s1','s2',?,?)",
            (at(0), at(1)),
        )
    m = compute(repo.db.conn)
    p1 = next(p for p in m.pairs if p.pair_id == "p1")
    p2 = next(p for p in m.pairs if p.pair_id == "p2")
    assert (p1.runs, p1.failures, p1.held) == (3, 1, 1)
    assert p1.requests == {"a": 4, "b": 4}
    assert p1.latency == Latency(5, 30.0, 600.0)
    assert (p1.conflicts_merged, p1.conflicts_by_policy) == (2, 1)
    assert (p1.conflicts_by_person, p1.conflicts_open) == (1, 1)
    assert (p2.overlaps_found, p2.overlaps_acted) == (2, 1)
    assert (m.overall.runs, m.overall.failures, m.overall.requests) == (4, 1, {"a": 5, "b": 5})
    assert m.overall.latency.samples == 5
    # A window of time sees only its own runs.
    later = compute(repo.db.conn, since=at(4), until=at(15))
    assert later.overall.runs == 2 and later.overall.latency.samples == 0


def test_latency_from_the_link_snapshot_when_the_audit_has_no_stamp(repo: Repo) -> None:
    start = T0 + dt.timedelta(days=1)
    origin = Event(
        ref=None, when=TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC"), updated=T0
    )
    repo.save_link("p1", Link(None, Origin.A, "a-1", "b-1", None, None, {}, a_event=origin))
    add_audit(repo, 1.5, "created", side="b", item="b-1")  # 90 s after the source edit
    add_audit(repo, 0.5, "created", side="b", item="b-2")  # no link: no sample
    p1 = next(p for p in compute(repo.db.conn).pairs if p.pair_id == "p1")
    assert p1.latency == Latency(1, 90.0, 90.0)


def test_stale_or_negative_latencies_are_not_samples(repo: Repo) -> None:
    future = (T0 + dt.timedelta(hours=2)).isoformat()
    ancient = (T0 - dt.timedelta(days=30)).isoformat()
    add_audit(repo, 1, "created", item="x", details={"source_changed_at": future})
    add_audit(repo, 1, "created", item="y", details={"source_changed_at": ancient})
    assert compute(repo.db.conn).overall.latency.samples == 0


def test_health_summary_is_anonymous(repo: Repo) -> None:
    add_run(repo, "p1", "ok", 0, {"a": 1, "b": 1})
    summary = health_summary(repo.db.conn, T0.date(), "install-1")
    text = json.dumps(summary)
    for private in ("p1", "p2", "Work to home", "alex@gmail.com", "g-1"):
        assert private not in text
    assert summary["overall"]["runs"] == 1 and len(summary["pairs"]) == 2
    assert summary == health_summary(repo.db.conn, T0.date(), "install-1")  # stable labels
    assert (
        health_summary(repo.db.conn, T0.date() - dt.timedelta(days=1), "i")["overall"]["runs"] == 0
    )


def _policy(**locked: Any):  # type: ignore[no-untyped-def]
    return merge([parse_document({"schema_version": 1, "locked": locked}, "p.json", "machine")])


def test_publish_daily_to_a_folder_and_an_endpoint(repo: Repo, tmp_path: Path) -> None:
    add_run(repo, "p1", "ok", 0, {"a": 1, "b": 1})
    posted: list[tuple[str, dict[str, Any]]] = []
    policy = _policy(
        metrics_folder=str(tmp_path / "health"), metrics_endpoint="https://health.example/m"
    )
    now = T0 + dt.timedelta(days=1, hours=3)
    done = publish_daily(repo, policy, now, post=lambda u, s: posted.append((u, s)))
    assert len(done) == 2
    (written,) = (tmp_path / "health").glob("meridian-health-*-2026-11-20.json")
    assert json.loads(written.read_text())["overall"]["runs"] == 1
    assert posted[0][0] == "https://health.example/m" and posted[0][1]["day"] == "2026-11-20"
    # Once per day.
    assert publish_daily(repo, policy, now + dt.timedelta(hours=1), post=posted.append) == []  # type: ignore[arg-type]
    assert metrics.installation_id(repo) == posted[0][1]["installation"]


def test_publish_daily_retries_a_failed_destination(repo: Repo) -> None:
    policy = _policy(metrics_endpoint="https://health.example/m")
    now = T0 + dt.timedelta(days=1)

    def down(url: str, summary: dict[str, Any]) -> None:
        raise ConnectionError("offline")

    assert publish_daily(repo, policy, now, post=down) == []
    calls: list[str] = []
    assert publish_daily(repo, policy, now, post=lambda u, s: calls.append(u)) == [
        "https://health.example/m"
    ]


def test_publish_daily_without_a_destination_does_nothing(repo: Repo) -> None:
    assert publish_daily(repo, _policy(), T0, post=lambda u, s: None) == []
