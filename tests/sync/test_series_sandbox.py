"""Recurring series end to end through the sandbox, in both directions.

After a sync both clouds' own expansions (Google singleEvents, Graph calendarView) show the same
occurrences at the same instants: nothing duplicated, nothing lost, nothing shifted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from machine import NOW
from test_machine_sandbox import WINDOW, SandboxWorld

from app.core.model import Event, Recurrence, TimeSpan
from app.core.rules import PairRules, Side
from app.sandbox.admin import trusting_session
from app.sandbox.server import Sandbox
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, SideSpec

NY = ZoneInfo("America/New_York")


@pytest.fixture
def world(sandbox: Sandbox, tmp_path: Path) -> SandboxWorld:
    SandboxWorld.sandbox = sandbox
    return SandboxWorld(tmp_path)


def sync(world: SandboxWorld, tmp_path: Path, rules: PairRules | None = None) -> None:
    repo = Repo(Database(tmp_path / "state.db"))
    if repo.pair("p") is None:
        repo.add_pair("p", "p", {})
    spec = PairSpec(
        "p",
        "p",
        rules or PairRules(),
        SideSpec(world.a, world.a_cal),
        SideSpec(world.b, world.b_cal),
    )
    result = Engine(repo, clock=lambda: NOW).run(spec)
    assert result.status == "ok" and result.counts["errors"] == 0, result


def occurrences(world: SandboxWorld, side: Side) -> list[tuple[str, str]]:
    """(UTC start, title) of every occurrence in the window, as the cloud itself expands it."""
    sb = SandboxWorld.sandbox
    http = trusting_session(sb.ca_cert)
    lo, hi = (
        WINDOW.start.isoformat().replace("+00:00", "Z"),
        WINDOW.end.isoformat().replace("+00:00", "Z"),
    )
    out: list[tuple[str, str]] = []
    if side is Side.B:
        url = f"{sb.urls.google_api}calendars/{world.b_cal}/events"
        params = {"singleEvents": "true", "timeMin": lo, "timeMax": hi, "maxResults": 2500}
        items = http.get(url, params=params, headers=world.g.auth(), timeout=10).json()["items"]
        for i in items:
            start = dt.datetime.fromisoformat(i["start"]["dateTime"]).astimezone(dt.UTC)
            out.append((start.strftime("%Y-%m-%dT%H:%MZ"), i["summary"]))
    else:
        url = f"{sb.urls.graph}/me/calendars/{world.a_cal}/calendarView"
        params = {"startDateTime": lo, "endDateTime": hi, "$top": 1000}
        items = http.get(url, params=params, headers=world.m.auth(), timeout=10).json()["value"]
        for i in items:
            start = dt.datetime.fromisoformat(i["start"]["dateTime"][:19]).replace(tzinfo=dt.UTC)
            out.append((start.strftime("%Y-%m-%dT%H:%MZ"), i["subject"]))
    return sorted(out)


def standup(first: dt.date) -> Event:
    start = dt.datetime.combine(first, dt.time(9, 0), NY)
    return Event(
        ref=None,
        when=TimeSpan(
            start, start + dt.timedelta(minutes=15), "America/New_York", "America/New_York"
        ),
        title="Team standup",
        recurrence=Recurrence("FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    )


@pytest.mark.parametrize("origin", [Side.A, Side.B], ids=["outlook-to-google", "google-to-outlook"])
def test_weekly_standup_with_a_moved_and_a_cancelled_occurrence(
    world: SandboxWorld, tmp_path: Path, origin: Side
) -> None:
    monday = (NOW - dt.timedelta(days=NOW.weekday())).date()  # the window spans the March DST
    master = world.person_put(origin, standup(monday))
    assert master.ref is not None
    cal, person = world.calendar(origin), world.person[origin]
    moved_from = dt.datetime.combine(
        monday + dt.timedelta(days=9), dt.time(9, 0), NY
    )  # a Wednesday
    moved_to = moved_from + dt.timedelta(hours=2)
    exception = Event(
        ref=None,
        when=TimeSpan(
            moved_to, moved_to + dt.timedelta(minutes=15), "America/New_York", "America/New_York"
        ),
        title="Team standup (moved)",
        series_id=master.ref.event_id,
        original_start=moved_from.astimezone(dt.UTC),
    )
    person.create(cal, exception, key="person-moved")
    gone = dt.datetime.combine(monday + dt.timedelta(days=11), dt.time(9, 0), NY)  # that Friday
    current = person.get_events(cal, [master.ref.event_id])[master.ref.event_id]
    assert current is not None and current.recurrence is not None
    rec = current.recurrence
    without_friday = Recurrence(rec.rrule, (*rec.exdates, gone.astimezone(dt.UTC)))
    person.update(cal, master.ref.event_id, replace(current, recurrence=without_friday))
    expected = occurrences(world, origin)
    assert "Team standup (moved)" in {t for _, t in expected}
    assert gone.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ") not in {s for s, _ in expected}

    sync(world, tmp_path)
    sync(world, tmp_path)  # quiet: nothing more to do, nothing duplicated
    assert occurrences(world, origin.other) == expected
    assert occurrences(world, origin) == expected


@pytest.mark.parametrize("origin", [Side.B, Side.A], ids=["google-to-outlook", "outlook-to-google"])
def test_a_series_with_a_hundred_moved_occurrences_costs_batches(
    world: SandboxWorld, tmp_path: Path, origin: Side
) -> None:
    """Exception storms (peer-failures): many exceptions sync in batches, not a round each."""
    sb = SandboxWorld.sandbox
    first = (NOW - dt.timedelta(days=NOW.weekday())).date() - dt.timedelta(days=14)
    start = dt.datetime.combine(first, dt.time(8, 0), NY)
    daily = Event(
        ref=None,
        when=TimeSpan(
            start, start + dt.timedelta(minutes=30), "America/New_York", "America/New_York"
        ),
        title="Daily check-in",
        recurrence=Recurrence("FREQ=DAILY;COUNT=120"),
    )
    master = world.person_put(origin, daily)
    assert master.ref is not None
    cal, person = world.calendar(origin), world.person[origin]
    moved = []
    for n in range(100):
        was = start + dt.timedelta(days=n)
        now = was + dt.timedelta(hours=1)
        moved.append(
            Event(
                ref=None,
                when=TimeSpan(
                    now, now + dt.timedelta(minutes=30), "America/New_York", "America/New_York"
                ),
                title=f"Check-in {n}",
                series_id=master.ref.event_id,
                original_start=was.astimezone(dt.UTC),
            )
        )
    from app.providers.base import WriteOp

    results = person.apply(
        cal, [WriteOp.create(e, key=f"person-storm-{n}") for n, e in enumerate(moved)]
    )
    assert all(r.ok for r in results)
    expected = occurrences(world, origin)
    since = sb.state.log.last_seq
    sync(world, tmp_path)
    requests = [e for e in sb.state.log.entries(since) if not e.batched]
    assert occurrences(world, origin.other) == expected
    # Bounded: a few reads and one batch per 20 (Graph) or 50 (Google) exceptions, with room for
    # Graph finding each occurrence in batches too; never one round trip per occurrence.
    assert len(requests) <= 40, len(requests)
