"""The content hash decides what counts as a change: server churn must not, edits must."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.model import (
    Attendee,
    DaySpan,
    Event,
    EventRef,
    Provider,
    Recurrence,
    Response,
    TimeSpan,
    changed_fields,
)

NY = ZoneInfo("America/New_York")
UTC = dt.UTC


def _event(**kw: object) -> Event:
    start = dt.datetime(2026, 3, 9, 9, 30, tzinfo=NY)
    base: dict[str, object] = {
        "ref": EventRef(Provider.GOOGLE, "primary", "abc123"),
        "when": TimeSpan(
            start, start + dt.timedelta(minutes=30), "America/New_York", "America/New_York"
        ),
        "title": "Standup",
    }
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def test_server_churn_is_not_a_change() -> None:
    a = _event(etag='"1"', updated=dt.datetime(2026, 1, 1, tzinfo=UTC), ical_uid="x@google.com")
    b = _event(
        ref=EventRef(Provider.MICROSOFT, "cal", "AAMk=="),
        etag='W/"2"',
        updated=dt.datetime(2026, 2, 1, tzinfo=UTC),
        ical_uid="040000008200E0",
    )
    assert a.content_hash() == b.content_hash()


def test_same_instant_in_another_zone_is_the_same_single_event() -> None:
    a = _event()
    utc_start = dt.datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    b = _event(when=TimeSpan(utc_start, utc_start + dt.timedelta(minutes=30), "UTC", "UTC"))
    assert a.content_hash() == b.content_hash()


def test_a_series_zone_is_content() -> None:
    rec = Recurrence("FREQ=WEEKLY;BYDAY=MO")
    a = _event(recurrence=rec)
    utc_start = dt.datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    b = _event(
        recurrence=rec, when=TimeSpan(utc_start, utc_start + dt.timedelta(minutes=30), "UTC", "UTC")
    )
    # Weekly at 09:30 New York is not weekly at 13:30 UTC: after DST they differ by an hour.
    assert a.content_hash() != b.content_hash()


def test_attendee_order_and_email_case_do_not_matter() -> None:
    x = Attendee("Ann@Example.com", "Ann", Response.ACCEPTED)
    y = Attendee("bob@example.com", "Bob")
    assert (
        _event(attendees=(x, y)).content_hash()
        == _event(
            attendees=(y, Attendee("ann@example.com", "Ann", Response.ACCEPTED))
        ).content_hash()
    )


def test_each_edit_is_a_change() -> None:
    base = _event()
    for key, value in (
        ("title", "Standup!"),
        ("description", "agenda"),
        ("location", "Room 1"),
        ("attendees", (Attendee("a@example.com"),)),
        ("when", DaySpan(dt.date(2026, 3, 9), dt.date(2026, 3, 10))),
    ):
        edited = base.with_changes(**{key: value})
        assert edited.content_hash() != base.content_hash()
        assert changed_fields(base, edited) == {key}


def test_invalid_spans_are_refused() -> None:
    start = dt.datetime(2026, 3, 9, 9, tzinfo=NY)
    with pytest.raises(ValueError, match="before it starts"):
        TimeSpan(start, start - dt.timedelta(hours=1), "America/New_York", "America/New_York")
    with pytest.raises(ValueError, match="aware"):
        TimeSpan(start.replace(tzinfo=None), start, "UTC", "UTC")
    with pytest.raises(ValueError, match="on or before"):
        DaySpan(dt.date(2026, 3, 9), dt.date(2026, 3, 9))


@given(st.text(max_size=50), st.text(max_size=200))
def test_hash_is_a_function_of_content(title: str, description: str) -> None:
    a = _event(title=title, description=description)
    b = _event(title=title, description=description, etag="other")
    assert a.content_hash() == b.content_hash()
    assert (a.content_hash() == _event(title=title + "x").content_hash()) is False
