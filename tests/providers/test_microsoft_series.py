"""Recurring series on Graph: master + exceptions + cancelled occurrences, read and written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from contract import window_around
from test_microsoft_contract import Connected, connect

from app.core.model import Event, Recurrence, Status, TimeSpan
from app.errors import NotFound
from app.providers.base import Changes, WriteOp
from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.sandbox.server import Sandbox

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def ms(sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser) -> Iterator[Connected]:
    admin.set_latency(0)
    c = connect(sandbox, admin, ms_user)
    yield c
    c.provider.close()


def first_start() -> dt.datetime:
    return dt.datetime.combine(dt.date.today() + dt.timedelta(days=3), dt.time(10), BERLIN)


def occ(n: int) -> dt.datetime:
    """The original start of the n-th occurrence (0-based) of the daily test series, in UTC."""
    return (first_start() + dt.timedelta(days=n)).astimezone(dt.UTC)


def span(start: dt.datetime, minutes: int = 60) -> TimeSpan:
    return TimeSpan(start, start + dt.timedelta(minutes=minutes), "Europe/Berlin", "Europe/Berlin")


def daily(title: str = "Daily", exdates: tuple[dt.datetime, ...] = ()) -> Event:
    rec = Recurrence("FREQ=DAILY;COUNT=10", exdates=exdates)
    return Event(ref=None, when=span(first_start()), title=title, recurrence=rec)


def moved(series_id: str, n: int, title: str = "Moved") -> Event:
    start = occ(n).astimezone(BERLIN) + dt.timedelta(hours=2)
    return Event(
        ref=None, when=span(start), title=title, series_id=series_id, original_start=occ(n)
    )


def cancelled(series_id: str, n: int) -> Event:
    at = occ(n)
    return Event(
        ref=None,
        when=TimeSpan(at, at, "UTC", "UTC"),
        status=Status.CANCELLED,
        series_id=series_id,
        original_start=at,
    )


def of_series(changes: Changes, master_id: str) -> list[Event]:
    return [
        e
        for e in changes.events
        if (e.ref and e.ref.event_id == master_id) or e.series_id == master_id
    ]


def assert_master_exception_cancelled(events: list[Event], master_id: str) -> None:
    masters = [e for e in events if e.recurrence is not None]
    exceptions = [e for e in events if e.series_id and e.status is not Status.CANCELLED]
    gone = [e for e in events if e.status is Status.CANCELLED]
    assert len(events) == 3 and len(masters) == len(exceptions) == len(gone) == 1, events
    master, exc, cancel = masters[0], exceptions[0], gone[0]
    assert master.ref and master.ref.event_id == master_id and master.series_id is None
    assert master.recurrence and occ(5) in master.recurrence.exdates
    assert exc.series_id == master_id and exc.original_start == occ(2)
    assert exc.when.start == occ(2) + dt.timedelta(hours=2)
    assert cancel.series_id == master_id and cancel.original_start == occ(5)
    assert cancel.ref and cancel.ref.event_id.startswith(f"OID.{master_id}.")


def test_series_written_through_the_provider_reads_back(ms: Connected) -> None:
    p, cal, w = ms.provider, ms.calendar_id, window_around(dt.date.today())
    master = p.create(cal, daily(), key="series000001")
    assert master.ref and master.recurrence and master.recurrence.rrule.startswith("FREQ=DAILY")
    mid = master.ref.event_id
    cursor = p.read_changes(cal, None, w).cursor

    results = p.apply(
        cal,
        [WriteOp.create(moved(mid, 2), "exc0000001"), WriteOp.create(cancelled(mid, 5), "c01")],
    )
    assert all(r.ok for r in results), [r.error for r in results]
    exc, cancel = results[0].event, results[1].event
    assert exc and exc.title == "Moved" and exc.series_id == mid and exc.original_start == occ(2)
    assert cancel and cancel.status is Status.CANCELLED and cancel.original_start == occ(5)

    full = p.read_changes(cal, None, w)
    assert_master_exception_cancelled(of_series(full, mid), mid)
    # The delta does not signal the cancelled occurrence, but the master changed with it.
    since = p.read_changes(cal, cursor, w)
    assert_master_exception_cancelled(of_series(since, mid), mid)
    # Written and read, the cancelled occurrence has the same id.
    assert cancel.ref in {e.ref for e in full.events}

    # Writing the same again changes nothing (a retry after a crash).
    again = p.apply(
        cal,
        [WriteOp.create(moved(mid, 2), "exc0000001"), WriteOp.create(cancelled(mid, 5), "c01")],
    )
    assert all(r.ok for r in again) and again[1].event == cancel
    assert_master_exception_cancelled(of_series(p.read_changes(cal, None, w), mid), mid)


def test_series_made_in_outlook_reads_as_master_exception_and_cancellation(
    ms: Connected, sandbox: Sandbox, ms_user: SandboxUser
) -> None:
    graph = trusting_session(sandbox.ca_cert)
    graph.headers["Authorization"] = f"Bearer {ms.tokens.current}"
    base = sandbox.urls.graph
    start = first_start()
    body = {
        "subject": "Standup",
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "Europe/Berlin"},
        "end": {
            "dateTime": (start + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "Europe/Berlin",
        },
        "recurrence": {
            "pattern": {"type": "daily", "interval": 1},
            "range": {
                "type": "numbered",
                "startDate": start.date().isoformat(),
                "numberOfOccurrences": 10,
            },
        },
    }
    r = graph.post(f"{base}/me/events", json=body, timeout=10)
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    window = {"startDateTime": occ(0).isoformat(), "endDateTime": occ(9).isoformat()}
    r = graph.get(f"{base}/me/events/{mid}/instances", params={**window, "$top": "20"}, timeout=10)
    by_start: dict[str, Any] = {i["originalStart"]: i for i in r.json()["value"]}

    def instance(n: int) -> str:
        return str(by_start[occ(n).strftime("%Y-%m-%dT%H:%M:%SZ")]["id"])

    new_start = (occ(2) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    new_end = (occ(2) + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
    r = graph.patch(
        f"{base}/me/events/{instance(2)}",
        json={
            "start": {"dateTime": new_start, "timeZone": "UTC"},
            "end": {"dateTime": new_end, "timeZone": "UTC"},
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert graph.delete(f"{base}/me/events/{instance(5)}", timeout=10).status_code == 204

    changes = ms.provider.read_changes(ms.calendar_id, None, window_around(dt.date.today()))
    assert changes.skipped == ()
    assert_master_exception_cancelled(of_series(changes, mid), mid)
    assert {e.title for e in of_series(changes, mid) if e.status is Status.CONFIRMED} == {"Standup"}


def test_a_series_with_exdates_cancels_those_occurrences(ms: Connected) -> None:
    p, cal, w = ms.provider, ms.calendar_id, window_around(dt.date.today())
    created = p.create(cal, daily(exdates=(occ(5),)), key="series000002")
    assert created.ref and created.recurrence
    assert occ(5) in created.recurrence.exdates  # Graph shows it cancelled
    mid = created.ref.event_id
    series = of_series(p.read_changes(cal, None, w), mid)
    assert [e.original_start for e in series if e.status is Status.CANCELLED] == [occ(5)]

    # Fetched by id, the master shows its cancellations as read_changes does.
    fetched = p.get_events(cal, [mid])[mid]
    assert fetched and fetched.recurrence and occ(5) in fetched.recurrence.exdates
    assert fetched.content_hash() == created.content_hash()

    # Updating the series with one more EXDATE cancels that one as well.
    more = daily("Daily 2", exdates=(occ(5), occ(7)))
    updated = p.update(cal, mid, more, etag=created.etag)
    assert updated.title == "Daily 2" and updated.recurrence
    assert {occ(5), occ(7)} <= set(updated.recurrence.exdates)


def test_exceptions_are_updated_and_cancelled_by_id(ms: Connected) -> None:
    p, cal, w = ms.provider, ms.calendar_id, window_around(dt.date.today())
    master = p.create(cal, daily(), key="series000003")
    assert master.ref
    mid = master.ref.event_id
    exc = p.create(cal, moved(mid, 2), key="unused")
    assert exc.ref
    renamed = p.update(cal, exc.ref.event_id, exc.with_changes(title="Renamed"), etag=exc.etag)
    assert renamed.title == "Renamed" and renamed.series_id == mid
    assert renamed.ref == exc.ref
    cursor = p.read_changes(cal, None, w).cursor
    gone = p.update(cal, exc.ref.event_id, cancelled(mid, 2), etag=renamed.etag)
    assert gone.status is Status.CANCELLED and gone.original_start == occ(2)
    changes = p.read_changes(cal, cursor, w)
    # Graph does not list the exception as removed (a cancelled occurrence is not signalled,
    # api-spec §2.5); the master changed, and with it comes the cancelled occurrence.
    assert gone.ref in {e.ref for e in changes.events if e.status is Status.CANCELLED}
    assert exc.ref.event_id not in {e.ref.event_id for e in changes.events if e.ref}
    assert p.get_events(cal, [exc.ref.event_id]) == {exc.ref.event_id: None}


def test_an_occurrence_that_is_not_there_is_not_found(ms: Connected) -> None:
    p, cal = ms.provider, ms.calendar_id
    master = p.create(cal, daily(), key="series000004")
    assert master.ref
    mid = master.ref.event_id
    off_pattern = moved(mid, 2).with_changes(original_start=occ(2) + dt.timedelta(minutes=7))
    single = p.create(cal, Event(ref=None, when=span(first_start()), title="One"), key="single01")
    assert single.ref
    results = p.apply(
        cal,
        [
            WriteOp.create(off_pattern, "x1"),
            WriteOp.create(moved(single.ref.event_id, 1), "x2"),  # not a series
            WriteOp.create(moved("AAMkADnotaseries", 1), "x3"),  # no such event
        ],
    )
    assert all(isinstance(r.error, NotFound) for r in results), [r.error for r in results]
