"""One contract test-suite, run against every provider (memory, Google and Graph via the sandbox).

A backend's test module subclasses ``ProviderContract`` and supplies an ``env`` fixture.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from app.core.model import DaySpan, Event, TimeSpan
from app.errors import AlreadyExists, CursorExpired, NotFound, PreconditionFailed
from app.providers.base import CalendarProvider, Window, WriteOp

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class ProviderEnv:
    provider: CalendarProvider
    calendar_id: str
    expire_cursors: Callable[[], None]
    today: dt.date
    # Google keeps a deleted event's id reserved (a create with it is refused); Graph's
    # transactionId only finds events that still exist. The engine copes with both.
    reserves_deleted_keys: bool = True


def window_around(today: dt.date) -> Window:
    start = dt.datetime.combine(today - dt.timedelta(days=30), dt.time(), dt.UTC)
    return Window(start, start + dt.timedelta(days=120))


def timed(today: dt.date, title: str, hour: int = 9, zone: ZoneInfo = NY, **kw: object) -> Event:
    start = dt.datetime.combine(today + dt.timedelta(days=2), dt.time(hour), zone)
    name = str(zone.key)
    when = TimeSpan(start, start + dt.timedelta(minutes=45), name, name)
    return Event(ref=None, when=when, title=title, **kw)  # type: ignore[arg-type]


def all_day(today: dt.date, title: str) -> Event:
    d = today + dt.timedelta(days=5)
    return Event(ref=None, when=DaySpan(d, d + dt.timedelta(days=2)), title=title)


def _ids(events: tuple[Event, ...] | list[Event]) -> set[str]:
    return {e.ref.event_id for e in events if e.ref is not None}


class ProviderContract:
    def test_lists_a_writable_primary_calendar(self, env: ProviderEnv) -> None:
        cals = env.provider.list_calendars()
        assert any(c.id == env.calendar_id or c.primary for c in cals)
        assert all(c.name for c in cals)

    def test_created_event_reads_back_with_the_same_content(self, env: ProviderEnv) -> None:
        p, cal, w = env.provider, env.calendar_id, window_around(env.today)
        base = p.read_changes(cal, None, w)
        for original in (
            timed(env.today, "Café ☕ planning — Zürich", description="Agenda:\n1. ünïcode"),
            timed(env.today, "Berlin call", hour=15, zone=BERLIN, location="Raum 3"),
            all_day(env.today, "Offsite"),
        ):
            created = p.create(cal, original, key=f"k{abs(hash(original.title)) % 10**12:012d}a")
            assert created.ref is not None and created.etag
            assert created.content_hash() == original.content_hash(), created
        changes = p.read_changes(cal, base.cursor, w)
        titles = {e.title for e in changes.events}
        assert {"Café ☕ planning — Zürich", "Berlin call", "Offsite"} <= titles

    def test_incremental_read_sees_exactly_the_changes(self, env: ProviderEnv) -> None:
        p, cal, w = env.provider, env.calendar_id, window_around(env.today)
        a = p.create(cal, timed(env.today, "A"), key="contractinca01")
        b = p.create(cal, timed(env.today, "B", hour=11), key="contractincb01")
        cursor = p.read_changes(cal, None, w).cursor
        quiet = p.read_changes(cal, cursor, w)
        assert quiet.events == () and quiet.deleted == ()
        assert a.ref and b.ref
        p.update(cal, a.ref.event_id, a.with_changes(title="A2"), etag=a.etag)
        p.delete(cal, b.ref.event_id, etag=b.etag)
        changes = p.read_changes(cal, quiet.cursor, w)
        assert [e.title for e in changes.events if e.ref and e.ref.event_id == a.ref.event_id] == [
            "A2"
        ]
        assert b.ref.event_id in changes.deleted
        assert b.ref.event_id not in _ids(changes.events)

    def test_full_read_is_windowed(self, env: ProviderEnv) -> None:
        p, cal = env.provider, env.calendar_id
        far = timed(env.today + dt.timedelta(days=400), "Far away")
        created = p.create(cal, far, key="contractfar0001")
        full = p.read_changes(cal, None, window_around(env.today))
        assert full.full
        assert created.ref and created.ref.event_id not in _ids(full.events)

    def test_expired_cursor_raises(self, env: ProviderEnv) -> None:
        p, cal, w = env.provider, env.calendar_id, window_around(env.today)
        cursor = p.read_changes(cal, None, w).cursor
        env.expire_cursors()
        with pytest.raises(CursorExpired):
            p.read_changes(cal, cursor, w)
        assert p.read_changes(cal, None, w).full

    def test_create_is_idempotent_per_key(self, env: ProviderEnv) -> None:
        p, cal = env.provider, env.calendar_id
        first = p.create(cal, timed(env.today, "Once"), key="contractonce001")
        again = p.create(cal, timed(env.today, "Once"), key="contractonce001")
        assert first.ref == again.ref
        assert len(p.find_by_ical_uid(cal, first.ical_uid or "")) == 1

    def test_a_deleted_events_key_never_brings_it_back(self, env: ProviderEnv) -> None:
        p, cal = env.provider, env.calendar_id
        ev = p.create(cal, timed(env.today, "Short-lived"), key="contractgone001")
        assert ev.ref
        p.delete(cal, ev.ref.event_id)
        if env.reserves_deleted_keys:
            with pytest.raises(AlreadyExists):
                p.create(cal, timed(env.today, "Short-lived"), key="contractgone001")
        else:
            again = p.create(cal, timed(env.today, "Short-lived"), key="contractgone001")
            assert again.ref and again.ref != ev.ref
        assert p.get_events(cal, [ev.ref.event_id]) == {ev.ref.event_id: None}

    def test_stale_etag_is_refused(self, env: ProviderEnv) -> None:
        p, cal = env.provider, env.calendar_id
        ev = p.create(cal, timed(env.today, "Guarded"), key="contractetag001")
        assert ev.ref
        fresh = p.update(cal, ev.ref.event_id, ev.with_changes(title="Guarded 2"), etag=ev.etag)
        with pytest.raises(PreconditionFailed):
            p.update(cal, ev.ref.event_id, ev.with_changes(title="stale"), etag=ev.etag)
        with pytest.raises(PreconditionFailed):
            p.delete(cal, ev.ref.event_id, etag=ev.etag)
        p.delete(cal, ev.ref.event_id, etag=fresh.etag)

    def test_deleting_twice_is_fine_and_updating_a_gone_event_is_not(
        self, env: ProviderEnv
    ) -> None:
        p, cal = env.provider, env.calendar_id
        ev = p.create(cal, timed(env.today, "Twice"), key="contracttwice01")
        assert ev.ref
        p.delete(cal, ev.ref.event_id)
        p.delete(cal, ev.ref.event_id)
        with pytest.raises(NotFound):
            p.update(cal, ev.ref.event_id, ev)

    def test_get_events_by_id(self, env: ProviderEnv) -> None:
        p, cal = env.provider, env.calendar_id
        ev = p.create(cal, timed(env.today, "Fetch me"), key="contractget0001")
        gone = p.create(cal, timed(env.today, "Gone"), key="contractget0002")
        assert ev.ref and gone.ref
        p.delete(cal, gone.ref.event_id)
        got = p.get_events(cal, [ev.ref.event_id, gone.ref.event_id])
        fetched = got[ev.ref.event_id]
        assert fetched is not None and fetched.title == "Fetch me"
        assert got[gone.ref.event_id] is None

    def test_tagged_copies_are_found(self, env: ProviderEnv) -> None:
        p, cal = env.provider, env.calendar_id
        tagged = p.create(cal, timed(env.today, "Copy", tag="src-abc-123"), key="contracttag0001")
        p.create(cal, timed(env.today, "Original"), key="contracttag0002")
        found = p.find_tagged(cal, "src-abc-123")
        assert [e.ref for e in found] == [tagged.ref]
        assert found[0].tag == "src-abc-123"

    def test_batch_of_writes_keeps_order_and_reports_per_item(self, env: ProviderEnv) -> None:
        p, cal = env.provider, env.calendar_id
        ops = [
            WriteOp.create(timed(env.today, f"Bulk {i}"), key=f"contractbulk{i:03d}")
            for i in range(30)
        ]
        ops.append(WriteOp.update("doesnotexist99", timed(env.today, "ghost")))
        results = p.apply(cal, ops)
        assert [r.event.title for r in results[:30] if r.event] == [f"Bulk {i}" for i in range(30)]
        assert all(r.ok for r in results[:30])
        assert isinstance(results[30].error, NotFound)
