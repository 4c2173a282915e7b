"""What MicrosoftProvider costs in HTTP requests, counted exactly by the sandbox's request log."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from contract import window_around
from test_microsoft_contract import Connected, connect

from app.core.identity import key_for, tag_for
from app.core.model import Attendee, Event, Person, TimeSpan
from app.providers.base import WriteOp
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

N = 1000


@pytest.fixture
def ms(sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser) -> Iterator[Connected]:
    admin.set_latency(0)
    c = connect(sandbox, admin, ms_user)
    yield c
    c.provider.close()


def mark(admin: SandboxAdmin) -> int:
    return int(admin.requests(since=10**12)["last"])


def http_requests(admin: SandboxAdmin, since: int) -> int:
    """Requests on the wire (a $batch is one; its items are logged as batched)."""
    return int(admin.requests(since=since, service="graph")["http_requests"])


def event(today: dt.date, i: int, **kw: Any) -> Event:
    start = dt.datetime.combine(
        today + dt.timedelta(days=i % 60), dt.time(8 + i % 10), dt.UTC
    ).astimezone(dt.timezone(dt.timedelta(hours=1)))
    when = TimeSpan(start, start + dt.timedelta(minutes=30), "Europe/Berlin", "Europe/Berlin")
    return Event(ref=None, when=when, title=f"Event {i}", **kw)


def creates(today: dt.date, n: int) -> list[WriteOp]:
    return [
        WriteOp.create(event(today, i), key_for(tag_for("src", f"ev{i}", "dst"), 0))
        for i in range(n)
    ]


def test_writing_and_reading_a_thousand_events(ms: Connected, admin: SandboxAdmin) -> None:
    p, cal, today = ms.provider, ms.calendar_id, dt.date.today()
    window = window_around(today)
    cursor = p.read_changes(cal, None, window).cursor  # empty calendar: a fresh cursor

    before, since = p.stats.requests, mark(admin)
    results = p.apply(cal, creates(today, N))
    assert all(r.ok for r in results), [r.error for r in results if r.error][:3]
    assert [r.event.title for r in results if r.event] == [f"Event {i}" for i in range(N)]
    written = http_requests(admin, since)
    assert written == p.stats.requests - before == math.ceil(N / 20)  # 50 $batch requests
    assert ms.sleeps == []  # never over Outlook's four concurrent requests, never throttled

    before, since = p.stats.requests, mark(admin)
    changes = p.read_changes(cal, cursor, window)
    assert len(changes.events) == N and changes.deleted == () and not changes.full
    assert {e.created_key for e in changes.events} == {op.key for op in creates(today, N)}
    assert all(e.tag is not None for e in changes.events)  # from the transactionId
    read = http_requests(admin, since)
    assert read == p.stats.requests - before
    assert read <= math.ceil(N / 250) + 1  # measured: 4 pages of 250

    since = mark(admin)
    full = p.read_changes(cal, None, window)
    assert len(full.events) == N and full.full
    assert http_requests(admin, since) <= math.ceil(N / 250) + 1

    since = mark(admin)
    quiet = p.read_changes(cal, full.cursor, window)
    assert quiet.events == () and quiet.deleted == ()
    assert http_requests(admin, since) == 1


def test_four_batches_are_in_flight_at_most(ms: Connected) -> None:
    http = ms.provider.http
    run = http._run_chunk
    lock, active, peak = threading.Lock(), [0], [0]

    def counting(chunk: Any, kind: str) -> Any:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)  # long enough for every worker to be inside at once
        try:
            return run(chunk, kind)
        finally:
            with lock:
                active[0] -= 1

    http._run_chunk = counting  # type: ignore[method-assign]
    results = ms.provider.apply(ms.calendar_id, creates(dt.date.today(), 200))
    assert all(r.ok for r in results)
    assert peak[0] == 4
    assert len(http._sessions) <= 5  # one per worker thread, and the caller's


def test_a_quiet_poll_costs_one_request(ms: Connected, admin: SandboxAdmin) -> None:
    p, cal, today = ms.provider, ms.calendar_id, dt.date.today()
    p.apply(cal, creates(today, 30))
    cursor = p.read_changes(cal, None, window_around(today)).cursor
    since, before = mark(admin), p.stats.requests
    quiet = p.read_changes(cal, cursor, window_around(today))
    assert quiet.events == () and quiet.deleted == () and quiet.skipped == ()
    assert http_requests(admin, since) == 1 == p.stats.requests - before
    assert p.stats.by_kind["delta"] >= 2


def test_deletions_are_confirmed_in_batches(ms: Connected, admin: SandboxAdmin) -> None:
    """@removed also means "changed outside the window": removed ids cost one $batch per 20."""
    p, cal, today = ms.provider, ms.calendar_id, dt.date.today()
    made = [r.event for r in p.apply(cal, creates(today, 45)) if r.event and r.event.ref]
    cursor = p.read_changes(cal, None, window_around(today)).cursor
    gone = made[:40]
    p.apply(cal, [WriteOp.delete(e.ref.event_id) for e in gone if e.ref])
    moved = made[40]
    assert moved.ref
    far = event(today + dt.timedelta(days=300), 0)
    p.update(cal, moved.ref.event_id, far.with_changes(title="Far now"), etag=moved.etag)
    since = mark(admin)
    changes = p.read_changes(cal, cursor, window_around(today))
    assert set(changes.deleted) == {e.ref.event_id for e in gone if e.ref}
    assert [e.title for e in changes.events] == ["Far now"]  # left the window, not deleted
    assert http_requests(admin, since) == 1 + math.ceil(41 / 20)


def test_a_copy_with_attendees_sends_no_mail(
    ms: Connected, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    p, cal, today = ms.provider, ms.calendar_id, dt.date.today()
    guests = (Attendee("ana@example.com", "Ana"), Attendee("bo@example.org", "Bo"))
    meeting = event(today, 1, attendees=guests, organizer=Person("org@example.com", "Org"))
    created = p.create(cal, meeting, key=key_for(tag_for("src", "meeting", "dst"), 0))
    assert created.ref
    p.update(cal, created.ref.event_id, created.with_changes(title="Moved meeting"))
    assert admin.outbox(ms_user.id) == []
    # The people travel in the description instead, and read back as they were.
    assert created.attendees == guests


def test_expanded_changes_read_back_as_written(ms: Connected, admin: SandboxAdmin) -> None:
    """Delta rows lack our extended properties; expand_changes reads changed singles again."""
    p, cal, today = ms.provider, ms.calendar_id, dt.date.today()
    made = [r.event for r in p.apply(cal, creates(today, 45)) if r.event]
    p.expand_changes = False
    plain = {
        e.ref.event_id: e for e in p.read_changes(cal, None, window_around(today)).events if e.ref
    }
    assert any(plain[m.ref.event_id].content_hash() != m.content_hash() for m in made if m.ref)
    p.expand_changes = True
    since = mark(admin)
    full = p.read_changes(cal, None, window_around(today))
    expanded = {e.ref.event_id: e for e in full.events if e.ref}
    assert all(expanded[m.ref.event_id].content_hash() == m.content_hash() for m in made if m.ref)
    assert http_requests(admin, since) == 1 + math.ceil(45 / 20)
