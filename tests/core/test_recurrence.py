"""app.core.recurrence: Google RRULE lines <-> canonical Recurrence <-> Graph patternedRecurrence.

Oracles, independent of the code under test:
* dateutil's own reading of the Google lines (``rrulestr``) for what a rule means;
* ``graph_dates`` below, a direct reading of Graph's documented pattern semantics (api-spec §2.6,
  §3.3: first occurrence on or after ``startDate``, ``dayOfMonth`` past the month's end on its
  last day, relative patterns over the union of days, inclusive local ``endDate``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule as du
from hypothesis import assume, given
from hypothesis import strategies as st
from reference import load_payload

from app.core import recurrence
from app.core.model import DaySpan, Recurrence, TimeSpan
from app.core.recurrence import (
    RecurrenceError,
    Unmappable,
    describe,
    expand,
    normalize_rrule,
    recurrence_from_google,
    recurrence_from_graph,
    recurrence_to_google,
    recurrence_to_graph,
)
from app.core.timezones import iana_to_windows, windows_to_iana

UTC = dt.UTC
NY = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
ZONES = ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
WD = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
GRAPH_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
GRAPH_INDEX = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}
MONTH_MIN = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def timed(local: dt.datetime, tz: str = "America/New_York", hours: int = 1) -> TimeSpan:
    """A TimeSpan starting at the naive wall time ``local`` in ``tz``."""
    start = local.replace(tzinfo=ZoneInfo(tz))
    return TimeSpan(start, start + dt.timedelta(hours=hours), tz, tz)


def allday(day: dt.date) -> DaySpan:
    return DaySpan(day, day + dt.timedelta(days=1))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local_date(point: dt.datetime | dt.date, when: TimeSpan | DaySpan) -> dt.date:
    if isinstance(point, dt.datetime):
        assert isinstance(when, TimeSpan)
        return point.astimezone(ZoneInfo(when.start_tz)).date()
    return point


def dateutil_points(
    lines: list[str], when: TimeSpan | DaySpan, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime | dt.date]:
    """What dateutil makes of the Google lines, as canonical points in [start, end)."""
    if isinstance(when, TimeSpan):
        dtstart = when.start.astimezone(ZoneInfo(when.start_tz))
        rset = du.rrulestr(
            "\n".join(lines), dtstart=dtstart, forceset=True, tzids=lambda name: ZoneInfo(name)
        )
        out: list[dt.datetime | dt.date] = []
        for value in rset:
            instant = value.astimezone(UTC)
            if instant >= end + dt.timedelta(days=2):
                break
            if start <= instant < end:
                out.append(instant)
        return sorted(set(out), key=str)
    dtstart_naive = dt.datetime.combine(when.start, dt.time())
    rset = du.rrulestr("\n".join(lines), dtstart=dtstart_naive, forceset=True)
    days: list[dt.datetime | dt.date] = []
    for value in rset:
        midnight = value.replace(tzinfo=UTC)
        if midnight >= end:
            break
        if start <= midnight:
            days.append(value.date())
    return days


def sort_points(points: list[dt.datetime | dt.date]) -> list[dt.datetime | dt.date]:
    return sorted(set(points), key=str)


# --------------------------------------------------------------------------- Graph oracle


def graph_dates(g: dict[str, Any], limit_day: dt.date) -> list[dt.date]:
    """Occurrence dates of a Graph patternedRecurrence, read straight from Graph's docs."""
    p, r = g["pattern"], g["range"]
    kind, n = p["type"], p["interval"]
    start = dt.date.fromisoformat(r["startDate"])
    days = {GRAPH_DAYS.index(d.lower()) for d in p.get("daysOfWeek", [])}

    def candidates() -> Any:
        if kind == "daily":
            day = start
            while True:
                yield day
                day += dt.timedelta(days=n)
        elif kind == "weekly":
            first = GRAPH_DAYS.index(p.get("firstDayOfWeek", "sunday"))
            week = start - dt.timedelta(days=(start.weekday() - first) % 7)
            while True:
                for offset in range(7):
                    day = week + dt.timedelta(days=offset)
                    if day.weekday() in days:
                        yield day
                week += dt.timedelta(weeks=n)
        else:
            yearly = kind.endswith("Yearly")
            month_index = start.year * 12 + (p["month"] if yearly else start.month) - 1
            while True:
                year, month = divmod(month_index, 12)
                month += 1
                length = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
                if kind.startswith("absolute"):
                    yield dt.date(year, month, min(p["dayOfMonth"], length))
                else:
                    hits = [
                        dt.date(year, month, d)
                        for d in range(1, length + 1)
                        if dt.date(year, month, d).weekday() in days
                    ]
                    yield hits[GRAPH_INDEX[p.get("index", "first")]]
                month_index += n * (12 if yearly else 1)

    out: list[dt.date] = []
    for day in candidates():
        if day < start:
            continue
        if day > limit_day:
            break
        if r["type"] == "numbered" and len(out) >= r["numberOfOccurrences"]:
            break
        if r["type"] == "endDate" and day > dt.date.fromisoformat(r["endDate"]):
            break
        out.append(day)
    return out


def graph_points(
    g: dict[str, Any],
    when: TimeSpan | DaySpan,
    cancelled: list[dt.date],
    start: dt.datetime,
    end: dt.datetime,
) -> list[dt.datetime | dt.date]:
    """Graph's occurrences (minus cancelled ones) as canonical points in [start, end)."""
    out: list[dt.datetime | dt.date] = []
    for day in graph_dates(g, end.date() + dt.timedelta(days=2)):
        if day in cancelled:
            continue
        point: dt.datetime | dt.date
        if isinstance(when, TimeSpan):
            tz = ZoneInfo(when.start_tz)
            wall = when.start.astimezone(tz).replace(tzinfo=None)
            point = dt.datetime.combine(day, wall.time(), tzinfo=tz).astimezone(UTC)
            instant = point
        else:
            point = day
            instant = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
        if start <= instant < end:
            out.append(point)
    return sort_points(out)


def echoed(g: dict[str, Any], event_zone: str = "Pacific Standard Time") -> dict[str, Any]:
    """The same recurrence as Graph answers it: every field filled in, days Sunday first."""
    p = {"month": 0, "dayOfMonth": 0, "firstDayOfWeek": "sunday", "index": "first", **g["pattern"]}
    if "daysOfWeek" in p:
        order = {name: (i + 1) % 7 for i, name in enumerate(GRAPH_DAYS)}
        p["daysOfWeek"] = sorted((d.lower() for d in p["daysOfWeek"]), key=order.__getitem__)
    r = {
        "endDate": "0001-01-01",
        "recurrenceTimeZone": event_zone,
        "numberOfOccurrences": 0,
        **g["range"],
    }
    return {"pattern": p, "range": r}


# --------------------------------------------------------------------------- concrete: Google


def test_weekly_mon_wed_fri_with_a_removed_occurrence() -> None:
    when = timed(dt.datetime(2026, 1, 5, 9))  # a Monday
    # Wednesday Jan 7 was moved to its own event: the series names it in an EXDATE.
    lines = [
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10",
        "EXDATE;TZID=America/New_York:20260107T090000",
    ]
    rec = recurrence_from_google(lines, when)
    assert rec == Recurrence("FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10", (utc(2026, 1, 7, 14),), ())
    # The same EXDATE in UTC, or as a date, is the same series.
    for other in ("EXDATE:20260107T140000Z", "EXDATE;VALUE=DATE:20260107"):
        assert recurrence_from_google([lines[0], other], when) == rec
    assert recurrence_to_google(rec, when) == lines
    # Graph: the pattern without the EXDATE; the occurrence comes back as a cancelled one.
    g = recurrence_to_graph(rec, when)
    assert g == {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": ["monday", "wednesday", "friday"],
            "firstDayOfWeek": "monday",
        },
        "range": {
            "type": "numbered",
            "startDate": "2026-01-05",
            "numberOfOccurrences": 10,
            "recurrenceTimeZone": "Eastern Standard Time",
        },
    }
    assert recurrence_from_graph(echoed(g), when, [dt.date(2026, 1, 7)]) == rec
    got = expand(rec, when, utc(2026, 1, 1), utc(2026, 2, 1))
    assert [local_date(p, when).day for p in got] == [5, 9, 12, 14, 16, 19, 21, 23, 26]
    assert describe(rec, when) == "Weekly on Mon, Wed, Fri, 10 times, except 1 date"


def test_google_until_for_the_end_of_a_local_day_is_kept_as_google_writes_it() -> None:
    # Recorded: Google's own UI trims a Chicago series with UNTIL=...T045959Z.
    items = load_payload("google_incsync_split_this_and_following__compass_edit_following.json")[
        "items"
    ]
    old, new = items
    when = TimeSpan(
        dt.datetime.fromisoformat(old["start"]["dateTime"]),
        dt.datetime.fromisoformat(old["end"]["dateTime"]),
        old["start"]["timeZone"],
        old["end"]["timeZone"],
    )
    rec = recurrence_from_google(old["recurrence"], when)
    assert rec.rrule == "FREQ=DAILY;UNTIL=20250327T045959Z"
    assert recurrence_to_google(rec, when) == old["recurrence"]
    g = recurrence_to_graph(rec, when)
    assert g["range"] == {
        "type": "endDate",
        "startDate": "2025-03-24",
        "endDate": "2025-03-26",
        "recurrenceTimeZone": "Central Standard Time",
    }
    assert recurrence_from_graph(echoed(g, "Central Standard Time"), when) == rec
    assert expand(rec, when, utc(2025, 3, 1), utc(2025, 4, 1)) == [
        utc(2025, 3, 24, 12, 30),
        utc(2025, 3, 25, 12, 30),
        utc(2025, 3, 26, 12, 30),
    ]
    new_when = TimeSpan(
        dt.datetime.fromisoformat(new["start"]["dateTime"]),
        dt.datetime.fromisoformat(new["end"]["dateTime"]),
        new["start"]["timeZone"],
        new["end"]["timeZone"],
    )
    new_rec = recurrence_from_google(new["recurrence"], new_when)
    assert new_rec.rrule == "FREQ=DAILY"
    assert recurrence_to_graph(new_rec, new_when)["range"]["type"] == "noEnd"


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        # The time of the last occurrence (Google's documentation example style).
        ("20250326T123000Z", "20250327T045959Z"),
        # Before that day's occurrence: the day is not included.
        ("20250326T100000Z", "20250326T045959Z"),
        # Floating and DATE values are read in the series zone.
        ("20250326T073000", "20250327T045959Z"),
        ("20250326", "20250327T045959Z"),
        # The first occurrence itself.
        ("20250324T123000Z", "20250325T045959Z"),
    ],
)
def test_until_becomes_the_end_of_the_last_local_day(until: str, expected: str) -> None:
    when = timed(dt.datetime(2025, 3, 24, 7, 30), "America/Chicago")
    rec = recurrence_from_google([f"RRULE:FREQ=DAILY;UNTIL={until}"], when)
    assert rec.rrule == f"FREQ=DAILY;UNTIL={expected}"


def test_a_google_rule_ending_before_it_starts_is_refused_with_the_reason() -> None:
    """RFC 5545 would keep the first date alone; the series is listed instead (issue 5)."""
    when = timed(dt.datetime(2025, 3, 24, 7, 30), "America/Chicago")
    with pytest.raises(RecurrenceError, match=r"ends \(UNTIL\) before the series' first date"):
        recurrence_from_google(["RRULE:FREQ=DAILY;UNTIL=20250101T000000Z"], when)


def test_all_day_series_use_dates() -> None:
    when = allday(dt.date(2026, 1, 5))
    lines = ["RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260202", "EXDATE;VALUE=DATE:20260112"]
    rec = recurrence_from_google(lines, when)
    assert rec == Recurrence("FREQ=WEEKLY;BYDAY=MO;UNTIL=20260202", (dt.date(2026, 1, 12),))
    assert recurrence_to_google(rec, when) == lines
    # A UTC UNTIL on an all-day series means its UTC date.
    assert (
        recurrence_from_google(["RRULE:FREQ=WEEKLY;UNTIL=20260202T235959Z"], when).rrule
        == rec.rrule
    )
    g = recurrence_to_graph(rec, when)
    # No recurrenceTimeZone: Graph then reads the dates in the event's own zone.
    assert g["range"] == {"type": "endDate", "startDate": "2026-01-05", "endDate": "2026-02-02"}
    assert recurrence_from_graph(echoed(g), when, [dt.date(2026, 1, 12)]) == rec
    assert expand(rec, when, utc(2026, 1, 1), utc(2026, 3, 1)) == [
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 19),
        dt.date(2026, 1, 26),
        dt.date(2026, 2, 2),
    ]


def test_exdate_in_a_repeated_hour_round_trips_through_utc() -> None:
    # 01:30 on 2026-11-01 happens twice in New York; a TZID value can only name the first.
    when = timed(dt.datetime(2026, 10, 1, 1, 30))
    second_pass = dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY).astimezone(UTC)
    rec = Recurrence("FREQ=DAILY", (utc(2026, 11, 1, 5, 30), second_pass))
    lines = recurrence_to_google(rec, when)
    assert lines == [
        "RRULE:FREQ=DAILY",
        "EXDATE;TZID=America/New_York:20261101T013000",
        "EXDATE:20261101T063000Z",
    ]
    assert recurrence_from_google(lines, when) == rec


def test_rdate_lines() -> None:
    when = timed(dt.datetime(2026, 1, 5, 9), "Europe/Berlin")
    lines = ["RRULE:FREQ=WEEKLY;BYDAY=MO", "RDATE;TZID=Europe/Berlin:20260108T090000"]
    rec = recurrence_from_google(lines, when)
    assert rec.rdates == (utc(2026, 1, 8, 8),)
    assert recurrence_to_google(rec, when) == lines
    assert expand(rec, when, utc(2026, 1, 1), utc(2026, 1, 13)) == [
        utc(2026, 1, 5, 8),
        utc(2026, 1, 8, 8),
        utc(2026, 1, 12, 8),
    ]
    with pytest.raises(Unmappable) as err:
        recurrence_to_graph(rec, when)
    assert err.value.kind == "RDATE"


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ([], "no RRULE"),
        (["EXDATE:20260105T140000Z"], "no RRULE"),
        (["RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"], "2 RRULE lines"),
        (["RRULE:FREQ=DAILY;COUNT=3;UNTIL=20260301T000000Z"], "both COUNT and UNTIL"),
        (["RRULE:FREQ=DAILY", "EXRULE:FREQ=WEEKLY"], "EXRULE"),
        (["RRULE:FREQ=FORTNIGHTLY"], "unknown FREQ"),
        (["RRULE:BYDAY=MO"], "no FREQ"),
        (["RRULE:FREQ=WEEKLY;BYDAY=XX"], "bad BYDAY"),
        (["RRULE:FREQ=WEEKLY;INTERVAL=0"], "INTERVAL"),
        (["RRULE:FREQ=WEEKLY;FREQ=DAILY"], "twice"),
        (["RRULE:FREQ=MONTHLY;BYMONTHDAY=32"], "BYMONTHDAY"),
        (["RRULE:FREQ=DAILY;UNTIL=2026-03-01"], "not a date"),
        (["RRULE:FREQ=DAILY;X-NAME=1"], "unknown part"),
        (["RRULE:FREQ=MONTHLY;BYSETPOS=1"], "BYSETPOS needs"),
        (["RRULE:FREQ=WEEKLY;BYMONTHDAY=1"], "BYMONTHDAY cannot"),
        (["RRULE:FREQ=DAILY", "RDATE;VALUE=PERIOD:20260105T090000Z/PT1H"], "PERIOD"),
        (["RRULE:FREQ=DAILY", "EXDATE;TZID=Mars/Olympus:20260105T090000"], "TZID"),
        (["RRULE:FREQ=DAILY", "DTSTART:20260105T090000Z"], "unsupported"),
        (["RRULE:FREQ=HOURLY"], "all-day"),
    ],
)
def test_google_lines_that_are_refused(lines: list[str], words: str) -> None:
    when: TimeSpan | DaySpan = timed(dt.datetime(2026, 1, 5, 9))
    if words == "all-day":
        when = allday(dt.date(2026, 1, 5))
    with pytest.raises(RecurrenceError) as err:
        recurrence_from_google(lines, when)
    assert words in str(err.value)
    assert not isinstance(err.value, Unmappable)
    assert isinstance(err.value, ValueError)


def test_count_with_until_is_refused_everywhere() -> None:
    when = timed(dt.datetime(2026, 1, 5, 9))
    rule = "FREQ=DAILY;COUNT=3;UNTIL=20260301T000000Z"
    for call in (
        lambda: normalize_rrule(rule),
        lambda: recurrence_to_graph(Recurrence(rule), when),
        lambda: recurrence_to_google(Recurrence(rule), when),
    ):
        with pytest.raises(RecurrenceError, match="COUNT and UNTIL"):
            call()


# --------------------------------------------------------------------------- concrete: Graph


def test_monthly_last_friday_is_relative_monthly_index_last() -> None:
    when = timed(dt.datetime(2026, 1, 30, 16), "Europe/Berlin")  # the last Friday of January
    expected = Recurrence("FREQ=MONTHLY;BYDAY=-1FR;COUNT=12")
    for spelling in (
        "FREQ=MONTHLY;BYDAY=-1FR;COUNT=12",
        "FREQ=MONTHLY;COUNT=12;BYDAY=FR;BYSETPOS=-1",
    ):
        assert recurrence_from_google([f"RRULE:{spelling}"], when) == expected
    g = recurrence_to_graph(expected, when)
    assert g == {
        "pattern": {
            "type": "relativeMonthly",
            "interval": 1,
            "daysOfWeek": ["friday"],
            "index": "last",
        },
        "range": {
            "type": "numbered",
            "startDate": "2026-01-30",
            "numberOfOccurrences": 12,
            "recurrenceTimeZone": "W. Europe Standard Time",
        },
    }
    request = {
        "pattern": {
            "type": "relativeMonthly",
            "interval": 1,
            "daysOfWeek": ["Friday"],
            "index": "last",
        },
        "range": {"type": "numbered", "startDate": "2026-01-30", "numberOfOccurrences": 12},
    }
    assert recurrence_from_graph(request, when) == expected
    assert recurrence_from_graph(echoed(g), when) == expected
    assert describe(expected) == "Monthly on the last Friday, 12 times"


def test_relative_yearly() -> None:
    # The second Monday of October, every 2 years, until the end of 2036 (all-day).
    when = allday(dt.date(2026, 10, 12))
    rec = recurrence_from_google(
        ["RRULE:FREQ=YEARLY;INTERVAL=2;BYMONTH=10;BYDAY=MO;BYSETPOS=2;UNTIL=20361231"], when
    )
    assert rec.rrule == "FREQ=YEARLY;INTERVAL=2;BYDAY=2MO;BYMONTH=10;UNTIL=20361231"
    g = recurrence_to_graph(rec, when)
    assert g["pattern"] == {
        "type": "relativeYearly",
        "interval": 2,
        "daysOfWeek": ["monday"],
        "index": "second",
        "month": 10,
    }
    assert recurrence_from_graph(echoed(g), when) == rec
    got = expand(rec, when, utc(2026, 1, 1), utc(2040, 1, 1))
    assert got == [
        dt.date(y, 10, d) for y, d in ((2026, 12), (2028, 9), (2030, 14), (2032, 11))
    ] + [
        dt.date(2034, 10, 9),
        dt.date(2036, 10, 13),
    ]
    assert got == graph_points(g, when, [], utc(2026, 1, 1), utc(2040, 1, 1))
    assert describe(rec, when) == "Every 2 years on the second Monday of Oct, until Dec 31, 2036"
    # Weekdays with a position: the first weekday of March.
    first_weekday = {
        "pattern": {
            "type": "relativeYearly",
            "interval": 1,
            "month": 3,
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "index": "first",
        },
        "range": {"type": "noEnd", "startDate": "2027-03-01"},
    }
    rec = recurrence_from_graph(first_weekday, allday(dt.date(2027, 3, 1)))
    assert rec.rrule == "FREQ=YEARLY;BYDAY=MO,TU,WE,TH,FR;BYMONTH=3;BYSETPOS=1"
    assert describe(rec) == "Yearly on the first weekday of Mar"


def test_recorded_graph_series_master() -> None:
    event = load_payload(
        "graph_event_create_recurring_seriesMaster_response__docs_user-post-events_ex3.json"
    )
    zone_name = windows_to_iana(event["start"]["timeZone"])
    assert zone_name == "America/Los_Angeles"
    when = timed(dt.datetime.fromisoformat(event["start"]["dateTime"][:19]), zone_name, hours=2)
    rec = recurrence_from_graph(event["recurrence"], when)
    # End of 2017-12-31 in Pacific time (PST, UTC-8) is 2018-01-01 07:59:59Z.
    assert rec == Recurrence("FREQ=WEEKLY;BYDAY=MO;UNTIL=20180101T075959Z")
    assert recurrence_to_google(rec, when) == ["RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20180101T075959Z"]
    back = recurrence_to_graph(rec, when)
    assert back["range"] == {
        "type": "endDate",
        "startDate": "2017-09-04",
        "endDate": "2017-12-31",
        "recurrenceTimeZone": "Pacific Standard Time",
    }
    got = expand(rec, when, utc(2017, 1, 1), utc(2019, 1, 1))
    assert len(got) == 17
    assert got[0] == utc(2017, 9, 4, 19)  # 12:00 PDT
    assert got[-1] == utc(2017, 12, 25, 20)  # 12:00 PST: the wall time stays across DST
    assert got == graph_points(back, when, [], utc(2017, 1, 1), utc(2019, 1, 1))


def test_numbered_and_end_date_ranges() -> None:
    when = timed(dt.datetime(2026, 3, 2, 9), "Asia/Kolkata")
    pattern = {"type": "daily", "interval": 3}
    numbered = {
        "pattern": pattern,
        "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 4},
    }
    by_date = {
        "pattern": pattern,
        "range": {"type": "endDate", "startDate": "2026-03-02", "endDate": "2026-03-11"},
    }
    a = recurrence_from_graph(numbered, when)
    b = recurrence_from_graph(by_date, when)
    assert a.rrule == "FREQ=DAILY;INTERVAL=3;COUNT=4"
    assert b.rrule == "FREQ=DAILY;INTERVAL=3;UNTIL=20260311T182959Z"  # 23:59:59 IST
    window = (utc(2026, 1, 1), utc(2027, 1, 1))
    assert expand(a, when, *window) == expand(b, when, *window)
    assert len(expand(b, when, *window)) == 4
    # Echoed forms carry the unused range fields with defaults.
    assert recurrence_from_graph(echoed(numbered, "India Standard Time"), when) == a
    assert recurrence_from_graph(echoed(by_date, "India Standard Time"), when) == b
    assert recurrence_to_graph(a, when)["range"]["numberOfOccurrences"] == 4
    assert recurrence_to_graph(b, when)["range"]["endDate"] == "2026-03-11"


def test_graph_end_date_is_read_in_the_recurrence_zone() -> None:
    # Toronto's Windows zone is Eastern Standard Time (whose default is New York): same zone.
    when = timed(dt.datetime(2026, 1, 5, 10), "America/Toronto")
    assert iana_to_windows("America/Toronto") == "Eastern Standard Time"
    g = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {
            "type": "endDate",
            "startDate": "2026-01-05",
            "endDate": "2026-01-09",
            "recurrenceTimeZone": "Eastern Standard Time",
        },
    }
    assert recurrence_from_graph(g, when).rrule == "FREQ=DAILY;UNTIL=20260110T045959Z"
    # A recurrence zone far east of the series: 2026-01-09 ends at 14:59:59Z, before that
    # day's 10:00 EST (15:00Z) occurrence, so the last day included is the day before.
    g["range"]["recurrenceTimeZone"] = "Tokyo Standard Time"
    assert recurrence_from_graph(g, when).rrule == "FREQ=DAILY;UNTIL=20260109T045959Z"


def test_graph_day_of_month_past_short_months_is_the_last_day() -> None:
    cases = [
        (31, dt.date(2026, 1, 31), "FREQ=MONTHLY;BYMONTHDAY=-1", "Monthly on the last day"),
        (
            30,
            dt.date(2026, 1, 30),
            "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1",
            "Monthly on day 30 (the last day in shorter months)",
        ),
        (
            29,
            dt.date(2026, 1, 29),
            "FREQ=MONTHLY;BYMONTHDAY=28,29;BYSETPOS=-1",
            "Monthly on day 29 (the last day in shorter months)",
        ),
    ]
    for day, start, rrule, words in cases:
        g = {
            "pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": day},
            "range": {"type": "noEnd", "startDate": start.isoformat()},
        }
        for when in (timed(dt.datetime.combine(start, dt.time(8)), "Europe/Berlin"), allday(start)):
            rec = recurrence_from_graph(echoed(g), when)
            assert rec.rrule == rrule
            assert describe(rec) == words
            assert recurrence_to_graph(rec, when)["pattern"] == g["pattern"]
            window = (utc(2026, 1, 1), utc(2028, 1, 1))
            got = expand(rec, when, *window)
            assert got == graph_points(g, when, [], *window)
            assert [local_date(p, when) for p in got][1:3] == [
                dt.date(2026, 2, 28),
                dt.date(2026, 3, min(day, 31)),
            ]
    # Yearly on Feb 29 in Outlook is Feb 28 in other years: the last day of February.
    g = {
        "pattern": {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 29, "month": 2},
        "range": {"type": "noEnd", "startDate": "2028-02-29"},
    }
    when = allday(dt.date(2028, 2, 29))
    rec = recurrence_from_graph(g, when)
    assert rec.rrule == "FREQ=YEARLY;BYMONTHDAY=-1;BYMONTH=2"
    assert describe(rec) == "Yearly on the last day of Feb"
    assert recurrence_to_graph(rec, when)["pattern"] == g["pattern"]
    assert expand(rec, when, utc(2028, 1, 1), utc(2031, 1, 1)) == [
        dt.date(2028, 2, 29),
        dt.date(2029, 2, 28),
        dt.date(2030, 2, 28),
    ]
    # April 31 is always April 30.
    g = {
        "pattern": {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 31, "month": 4},
        "range": {"type": "noEnd", "startDate": "2026-04-30"},
    }
    assert recurrence_from_graph(g, allday(dt.date(2026, 4, 30))).rrule == (
        "FREQ=YEARLY;BYMONTHDAY=30;BYMONTH=4"
    )


def test_graph_start_that_is_not_an_occurrence_is_excluded() -> None:
    # Graph: "the first occurrence may be this date or later". RFC 5545 always has DTSTART.
    when = timed(dt.datetime(2026, 1, 6, 9))  # a Tuesday
    g = {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": ["monday"],
            "firstDayOfWeek": "sunday",
        },
        "range": {"type": "numbered", "startDate": "2026-01-06", "numberOfOccurrences": 3},
    }
    rec = recurrence_from_graph(g, when)
    assert rec == Recurrence("FREQ=WEEKLY;BYDAY=MO;COUNT=4", (utc(2026, 1, 6, 14),))
    window = (utc(2026, 1, 1), utc(2026, 3, 1))
    assert expand(rec, when, *window) == graph_points(g, when, [], *window)
    # (dateutil would not count the start towards COUNT; RFC 5545 and Google do.)
    # ... and it maps back, since the excluded start is what Graph leaves out anyway.
    assert recurrence_to_graph(rec, when)["range"]["numberOfOccurrences"] == 3
    assert recurrence_from_graph(recurrence_to_graph(rec, when), when) == rec


@pytest.mark.parametrize(
    "payload",
    [
        "not a dict",
        {"pattern": {"type": "daily"}},
        {"pattern": {"type": "hourly", "interval": 1}, "range": {"type": "noEnd"}},
        {"pattern": {"type": "weekly", "interval": 1}, "range": {"type": "noEnd"}},
        {"pattern": {"type": "daily", "interval": 0}, "range": {"type": "noEnd"}},
        {"pattern": {"type": "daily", "interval": "1"}, "range": {"type": "noEnd"}},
        {"pattern": {"type": "absoluteMonthly", "interval": 1}, "range": {"type": "noEnd"}},
        {
            "pattern": {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 3},
            "range": {"type": "noEnd"},
        },
        {
            "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["funday"]},
            "range": {"type": "noEnd"},
        },
        {
            "pattern": {
                "type": "relativeMonthly",
                "interval": 1,
                "daysOfWeek": ["monday"],
                "index": "fifth",
            },
            "range": {"type": "noEnd"},
        },
        {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 0},
        },
        {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "endDate", "endDate": "0001-13-01"},
        },
        {"pattern": {"type": "daily", "interval": 1}, "range": {"type": "sometimes"}},
    ],
)
def test_graph_payloads_that_are_refused(payload: Any) -> None:
    with pytest.raises(RecurrenceError):
        recurrence_from_graph(payload, timed(dt.datetime(2026, 1, 5, 9)))


# --------------------------------------------------------------------------- Unmappable


def first_start(rrule: str, base: dt.datetime) -> dt.datetime:
    occurrence = next(iter(du.rrulestr(rrule, dtstart=base)))
    assert isinstance(occurrence, dt.datetime)
    return occurrence


UNMAPPABLE = [
    ("FREQ=HOURLY", "FREQ=HOURLY"),
    ("FREQ=MINUTELY;INTERVAL=30", "FREQ=MINUTELY"),
    ("FREQ=SECONDLY", "FREQ=SECONDLY"),
    ("FREQ=DAILY;BYHOUR=9,17", "BYHOUR"),
    ("FREQ=WEEKLY;BYDAY=MO;BYHOUR=10", "BYHOUR"),  # the start is at 09:00
    ("FREQ=DAILY;BYMINUTE=0,30", "BYMINUTE"),
    ("FREQ=DAILY;BYSECOND=0,30", "BYSECOND"),
    ("FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY list"),
    ("FREQ=MONTHLY;BYMONTHDAY=-2", "negative BYMONTHDAY"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-2", "negative BYMONTHDAY"),
    ("FREQ=MONTHLY;BYMONTHDAY=29", "BYMONTHDAY 29-31"),
    ("FREQ=MONTHLY;BYMONTHDAY=30", "BYMONTHDAY 29-31"),
    ("FREQ=MONTHLY;BYMONTHDAY=31", "BYMONTHDAY 29-31"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "Feb 29"),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2", "BYSETPOS"),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1", "BYSETPOS"),
    ("FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=5", "BYSETPOS"),
    ("FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=1", "BYSETPOS"),
    ("FREQ=MONTHLY;BYMONTHDAY=1,2,3;BYSETPOS=2", "BYSETPOS"),
    ("FREQ=MONTHLY;BYDAY=MO,WE;BYSETPOS=1", "BYSETPOS day set"),
    ("FREQ=YEARLY;BYMONTH=5;BYDAY=MO,TU,WE,TH,FR,SA;BYSETPOS=-1", "BYSETPOS day set"),
    ("FREQ=WEEKLY;BYDAY=1MO", "ordinal BYDAY in WEEKLY"),
    ("FREQ=DAILY;BYDAY=-1FR", "ordinal BYDAY in WEEKLY"),
    ("FREQ=MONTHLY;BYDAY=1MO,3FR", "BYDAY ordinals"),
    ("FREQ=MONTHLY;BYDAY=1MO,1FR", "BYDAY ordinals"),
    ("FREQ=MONTHLY;BYDAY=5MO", "BYDAY ordinal"),
    ("FREQ=MONTHLY;BYDAY=-2FR", "BYDAY ordinal"),
    ("FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-2", "BYDAY ordinal"),
    ("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "BYWEEKNO"),
    ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY"),
    ("FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=15", "BYMONTH list"),
    ("FREQ=MONTHLY;BYMONTH=3;BYMONTHDAY=15", "BYMONTH"),
    ("FREQ=WEEKLY;BYMONTH=6;BYDAY=MO", "BYMONTH"),
    ("FREQ=DAILY;BYMONTH=12", "BYMONTH"),
    ("FREQ=DAILY;INTERVAL=2;BYDAY=MO,TU", "BYDAY in DAILY"),
    ("FREQ=DAILY;BYMONTHDAY=1,15", "BYMONTHDAY in DAILY"),
    ("FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "BYDAY with BYMONTHDAY"),
    ("FREQ=YEARLY;BYMONTHDAY=15", "YEARLY without BYMONTH"),
    ("FREQ=YEARLY;BYDAY=20MO", "YEARLY without BYMONTH"),
    ("FREQ=MONTHLY;INTERVAL=2;BYDAY=MO", "BYDAY"),
    ("FREQ=YEARLY;BYMONTH=3;BYDAY=MO", "BYDAY"),
    ("FREQ=DAILY;COUNT=1000", "COUNT"),
]


@pytest.mark.parametrize(("rrule", "kind"), UNMAPPABLE)
def test_unmappable_constructs_are_named(rrule: str, kind: str) -> None:
    # Start on the rule's first occurrence from 2026-01-01 09:00, so only the construct fails.
    base = dt.datetime(2026, 1, 1, 9)
    start = base if kind == "BYHOUR" and "BYHOUR=10" in rrule else first_start(rrule, base)
    for when in (timed(start), timed(start, "Australia/Lord_Howe")):
        rec = Recurrence(rrule)
        with pytest.raises(Unmappable) as err:
            recurrence_to_graph(rec, when)
        assert err.value.kind == kind, err.value
        assert kind in str(err.value)
        assert isinstance(err.value, RecurrenceError)
        # Google holds them all: they are expanded into single events for Outlook.
        if "ordinal BYDAY" not in kind and start != base:
            lines = recurrence_to_google(recurrence_from_google([f"RRULE:{rrule}"], when), when)
            hours = 1 if kind in ("FREQ=SECONDLY", "FREQ=MINUTELY") else 24 * 60
            window = (utc(2026, 1, 1), utc(2026, 1, 1) + dt.timedelta(hours=hours))
            assert expand(rec, when, *window) == dateutil_points(lines, when, *window)


def test_yearly_feb_29_from_a_bare_google_rule_is_unmappable() -> None:
    when = allday(dt.date(2028, 2, 29))
    rec = recurrence_from_google(["RRULE:FREQ=YEARLY"], when)
    assert rec.rrule == "FREQ=YEARLY;BYMONTHDAY=29;BYMONTH=2"
    assert describe(rec) == "Yearly on Feb 29"
    with pytest.raises(Unmappable) as err:
        recurrence_to_graph(rec, when)
    assert err.value.kind == "Feb 29"
    assert expand(rec, when, utc(2028, 1, 1), utc(2037, 1, 1)) == [
        dt.date(2028, 2, 29),
        dt.date(2032, 2, 29),
        dt.date(2036, 2, 29),
    ]


def test_start_that_is_not_an_occurrence_is_unmappable() -> None:
    when = timed(dt.datetime(2026, 1, 6, 9))  # a Tuesday
    rec = Recurrence("FREQ=WEEKLY;BYDAY=MO")
    with pytest.raises(Unmappable) as err:
        recurrence_to_graph(rec, when)
    assert err.value.kind == "DTSTART"
    # RFC 5545 (and Google) still has the start as the first occurrence.
    assert expand(rec, when, utc(2026, 1, 1), utc(2026, 1, 20)) == [
        utc(2026, 1, 6, 14),
        utc(2026, 1, 12, 14),
        utc(2026, 1, 19, 14),
    ]
    # A COUNT counts it.
    rec = Recurrence("FREQ=WEEKLY;BYDAY=MO;COUNT=2")
    assert expand(rec, when, utc(2026, 1, 1), utc(2026, 2, 1)) == [
        utc(2026, 1, 6, 14),
        utc(2026, 1, 12, 14),
    ]


def test_count_limit_counts_what_graph_sees() -> None:
    when = timed(dt.datetime(2026, 1, 5, 9))
    assert (
        recurrence_to_graph(Recurrence("FREQ=DAILY;COUNT=999"), when)["range"][
            "numberOfOccurrences"
        ]
        == 999
    )


# --------------------------------------------------------------------------- normal form


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("RRULE:freq=weekly;byday=fr,mo,we;interval=1", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
        ("FREQ=WEEKLY;WKST=MO;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"),
        ("FREQ=WEEKLY;WKST=SU;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"),
        (
            "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=MO,TH",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;WKST=SU",
        ),
        ("FREQ=MONTHLY;BYDAY=+1MO", "FREQ=MONTHLY;BYDAY=1MO"),
        ("FREQ=MONTHLY;BYSETPOS=-1;BYDAY=FR", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("FREQ=YEARLY;BYMONTH=5;BYDAY=SU;BYSETPOS=2", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=5"),
        ("FREQ=MONTHLY;BYDAY=SU,MO,TU,WE,TH,FR,SA;BYSETPOS=3", "FREQ=MONTHLY;BYMONTHDAY=3"),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        ("FREQ=MONTHLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=TU"),
        ("FREQ=WEEKLY;BYDAY=SU,MO,TU,WE,TH,FR,SA", "FREQ=DAILY"),
        ("FREQ=DAILY;INTERVAL=3;BYDAY=SU,MO,TU,WE,TH,FR,SA", "FREQ=DAILY;INTERVAL=3"),
        ("FREQ=MONTHLY;BYMONTHDAY=31,30,29,28,1;BYSETPOS=-1", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,28;BYSETPOS=-1", "FREQ=MONTHLY;BYMONTHDAY=28"),
        (
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1",
            "FREQ=YEARLY;BYMONTHDAY=-1;BYMONTH=2",
        ),
        ("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=-1", "FREQ=YEARLY;BYMONTHDAY=30;BYMONTH=4"),
        ("FREQ=DAILY;UNTIL=20260301T100000Z;", "FREQ=DAILY;UNTIL=20260301T100000Z"),
        ("FREQ=DAILY;COUNT=5;BYHOUR=9,9", "FREQ=DAILY;BYHOUR=9;COUNT=5"),
    ],
)
def test_normal_form_without_a_start(given: str, canonical: str) -> None:
    assert normalize_rrule(given) == canonical
    assert normalize_rrule(canonical) == canonical


def test_normal_form_with_a_start() -> None:
    when = timed(dt.datetime(2026, 1, 5, 9))  # Monday Jan 5
    cases = {
        "FREQ=WEEKLY": "FREQ=WEEKLY;BYDAY=MO",
        "FREQ=MONTHLY": "FREQ=MONTHLY;BYMONTHDAY=5",
        "FREQ=YEARLY": "FREQ=YEARLY;BYMONTHDAY=5;BYMONTH=1",
        "FREQ=YEARLY;BYMONTH=3": "FREQ=YEARLY;BYMONTHDAY=5;BYMONTH=3",
        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0": "FREQ=DAILY",
        "FREQ=HOURLY;BYMINUTE=0": "FREQ=HOURLY",
        "FREQ=HOURLY;BYHOUR=9": "FREQ=HOURLY;BYHOUR=9",
        # WKST changes nothing when every day falls in the same week either way.
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=SU": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=WE": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU",
        "FREQ=WEEKLY;BYDAY=MO,SU;WKST=SU": "FREQ=WEEKLY;BYDAY=MO,SU",
        "FREQ=DAILY;UNTIL=20260110": "FREQ=DAILY;UNTIL=20260111T045959Z",
    }
    for rule, canonical in cases.items():
        assert normalize_rrule(rule, when=when) == canonical, rule
        assert normalize_rrule(canonical, when=when) == canonical
        window = (utc(2026, 1, 1), utc(2027, 6, 1))
        expected = dateutil_points(
            [f"RRULE:{rule}"] if "UNTIL" not in rule else [f"RRULE:{canonical}"],
            when,
            *window,
        )
        if "BYMONTH=3" in rule:  # the start is not an occurrence: RFC 5545 adds it
            expected.insert(0, when.start.astimezone(UTC))
        assert expand(Recurrence(rule), when, *window, limit=20_000) == expected
        assert expand(Recurrence(canonical), when, *window, limit=20_000) == expected


# --------------------------------------------------------------------------- expand


def test_expand_keeps_the_wall_time_across_dst() -> None:
    for zone_name, before, after in (
        ("America/New_York", utc(2026, 3, 7, 14), utc(2026, 3, 9, 13)),
        ("Europe/Berlin", utc(2026, 3, 28, 8), utc(2026, 3, 30, 7)),
        ("Australia/Lord_Howe", utc(2026, 4, 3, 22), utc(2026, 4, 5, 22, 30)),
    ):
        start = dt.datetime(2026, 1, 1, 9, tzinfo=ZoneInfo(zone_name))
        when = TimeSpan(start, start + dt.timedelta(hours=1), zone_name, zone_name)
        got = expand(Recurrence("FREQ=DAILY"), when, utc(2026, 1, 1), utc(2027, 1, 1))
        assert before in got and after in got
        assert {p.astimezone(ZoneInfo(zone_name)).time() for p in got} == {dt.time(9)}  # type: ignore[union-attr]


def test_expand_in_a_skipped_hour_uses_the_pre_transition_offset() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; like Google, it is 03:30 EDT (07:30Z).
    when = timed(dt.datetime(2026, 3, 1, 2, 30))
    got = expand(Recurrence("FREQ=WEEKLY;BYDAY=SU"), when, utc(2026, 3, 1), utc(2026, 3, 16))
    assert got == [utc(2026, 3, 1, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 15, 6, 30)]
    # A cancelled occurrence on that day is the same instant.
    rec = recurrence_from_graph(
        recurrence_to_graph(Recurrence("FREQ=WEEKLY;BYDAY=SU"), when), when, [dt.date(2026, 3, 8)]
    )
    assert rec.exdates == (utc(2026, 3, 8, 7, 30),)


def test_expand_sub_daily_rules_match_dateutil() -> None:
    when = timed(dt.datetime(2026, 3, 7, 22), "America/New_York")
    window = (utc(2026, 3, 8), utc(2026, 3, 10))
    for rrule in (
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=DAILY;BYHOUR=8,22;BYMINUTE=0,30",
        "FREQ=MINUTELY;INTERVAL=90;COUNT=20",
    ):
        lines = [f"RRULE:{rrule}"]
        rec = recurrence_from_google(lines, when)
        assert expand(rec, when, *window) == dateutil_points(lines, when, *window)


def test_weekly_bysetpos_counts_the_whole_first_week() -> None:
    # RFC 5545: BYSETPOS picks from the whole week (Mon Jan 1, Tue Jan 2), then drops what is
    # before DTSTART. dateutil alone would start the first week at DTSTART and find no 2nd day.
    when = timed(dt.datetime(2024, 1, 2, 9))  # a Tuesday
    rec = Recurrence("FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=2;COUNT=3")
    assert expand(rec, when, utc(2024, 1, 1), utc(2024, 3, 1)) == [
        utc(2024, 1, 2, 14),
        utc(2024, 1, 9, 14),
        utc(2024, 1, 16, 14),
    ]
    plain = list(du.rrulestr(rec.rrule, dtstart=when.start))
    assert [d.day for d in plain] == [9, 16, 23]


def test_expand_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    when = timed(dt.datetime(2026, 1, 1, 9))
    with pytest.raises(RecurrenceError, match="more than 10"):
        expand(Recurrence("FREQ=DAILY"), when, utc(2026, 1, 1), utc(2026, 2, 1), limit=10)
    assert (
        len(expand(Recurrence("FREQ=DAILY"), when, utc(2026, 1, 1), utc(2026, 1, 11), limit=10))
        == 10
    )
    # A rule whose limits match no date at all: only the start, and quickly.
    for rrule in ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31"):
        assert expand(Recurrence(rrule), when, utc(2026, 1, 1), utc(2030, 1, 1)) == [
            utc(2026, 1, 1, 14)
        ]
    # A sub-daily rule from long ago skips ahead to the window...
    early = timed(dt.datetime(2000, 1, 1, 0, 7), "Europe/Berlin")
    lines = ["RRULE:FREQ=MINUTELY;INTERVAL=7;BYHOUR=9,10"]
    window = (utc(2026, 3, 29), utc(2026, 3, 30))  # across the spring change
    got = expand(recurrence_from_google(lines, early), early, *window)
    assert len(got) == 17  # 09:00-10:59 local, every 7 minutes from 2000-01-01 00:07
    assert got == dateutil_points(lines, early, *window)
    # ... but with a COUNT it cannot, and reaching the window would take millions of steps.
    monkeypatch.setattr(recurrence, "_SCAN_LIMIT", 1000)
    with pytest.raises(RecurrenceError, match="too many"):
        expand(Recurrence("FREQ=HOURLY;COUNT=5000000"), early, *window)
    with pytest.raises(ValueError, match="aware"):
        expand(Recurrence("FREQ=DAILY"), when, dt.datetime(2026, 1, 1), utc(2026, 2, 1))


# --------------------------------------------------------------------------- describe


@pytest.mark.parametrize(
    ("rrule", "text"),
    [
        ("FREQ=DAILY", "Daily"),
        ("FREQ=DAILY;INTERVAL=3;COUNT=1", "Every 3 days, once"),
        ("FREQ=WEEKLY;BYDAY=MO,WE,FR", "Weekly on Mon, Wed, Fri"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "Every 2 weeks on Tue"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "Monthly on the last Friday"),
        ("FREQ=MONTHLY;BYDAY=2TU", "Monthly on the second Tuesday"),
        ("FREQ=MONTHLY;BYMONTHDAY=15", "Monthly on day 15"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "Monthly on days 1, 15"),
        ("FREQ=MONTHLY;BYMONTHDAY=-2", "Monthly on the second to last day"),
        ("FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=-1", "Monthly on the last weekend day"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "Yearly on Feb 29"),
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "Yearly on the fourth Thursday of Nov"),
        ("FREQ=DAILY;UNTIL=20250327T045959Z", "Daily, until 2025-03-27 04:59 UTC"),
        ("FREQ=YEARLY;BYWEEKNO=20", "Yearly (FREQ=YEARLY;BYWEEKNO=20)"),
        ("FREQ=HOURLY;INTERVAL=4", "Every 4 hours"),
        ("not a rule", "Custom repeat rule (not a rule)"),
    ],
)
def test_describe(rrule: str, text: str) -> None:
    assert describe(Recurrence(rrule)) == text


def test_describe_with_the_series() -> None:
    when = timed(dt.datetime(2025, 3, 24, 7, 30), "America/Chicago")
    rec = Recurrence("FREQ=DAILY;UNTIL=20250327T045959Z", rdates=(utc(2025, 4, 1, 12, 30),))
    assert describe(rec, when) == "Daily, until Mar 26, 2025, plus 1 extra date"


# --------------------------------------------------------------------------- properties


def _spell(parts: list[tuple[str, str]], draw: Any) -> str:
    order = draw(st.permutations(parts[1:]))
    return ";".join(f"{k}={v}" for k, v in [parts[0], *order])


@st.composite
def holdable_series(draw: Any) -> dict[str, Any]:
    """A Graph-holdable series as Google might spell it, starting on an occurrence.

    Returns the Google lines, a plain spelling of the same lines, the TimeSpan/DaySpan and the
    first occurrences (for picking EXDATEs).
    """
    all_day = draw(st.booleans())
    zone_name = draw(st.sampled_from(ZONES))
    kind = draw(st.sampled_from(["daily", "weekly", "absM", "relM", "absY", "relY"]))
    interval = draw(st.integers(1, 3))
    base = draw(st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 12, 31)))
    clock = dt.time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    parts: list[tuple[str, str]] = []
    variants: list[list[tuple[str, str]]] = []

    def day_set() -> tuple[str, int]:
        days = draw(
            st.sampled_from(
                [[d] for d in range(7)] + [[0, 1, 2, 3, 4], [5, 6], [0, 1, 2, 3, 4, 5, 6]]
            )
        )
        shuffled = draw(st.permutations(days))
        return ",".join(WD[d] for d in shuffled), len(days)

    if kind == "daily":
        parts = [("FREQ", "DAILY")]
    elif kind == "weekly":
        days = sorted(draw(st.sets(st.integers(0, 6), min_size=1)))
        parts = [("FREQ", "WEEKLY"), ("BYDAY", ",".join(WD[d] for d in days))]
        if interval > 1:
            parts.append(("WKST", draw(st.sampled_from(["MO", "SU", "SA", "WE"]))))
        elif len(days) < 7:
            variants.append([("FREQ", "DAILY"), ("BYDAY", ",".join(WD[d] for d in reversed(days)))])
    elif kind in ("absM", "absY"):
        yearly = kind == "absY"
        month = draw(st.integers(1, 12))
        choice = draw(
            st.sampled_from(
                ["day", "day", "last", "c29", "c30"] if not yearly else ["day", "day", "last"]
            )
        )
        parts = [("FREQ", "YEARLY" if yearly else "MONTHLY")]
        if yearly:
            parts.append(("BYMONTH", str(month)))
        limit = MONTH_MIN[month] if yearly else 28
        if choice == "day":
            parts.append(("BYMONTHDAY", str(draw(st.integers(1, limit)))))
        elif choice == "last":
            parts.append(("BYMONTHDAY", "-1"))
            if not yearly:
                variants.append([*parts[:-1], ("BYMONTHDAY", "28,29,30,31"), ("BYSETPOS", "-1")])
        else:
            top = 29 if choice == "c29" else 30
            parts += [("BYMONTHDAY", ",".join(map(str, range(28, top + 1)))), ("BYSETPOS", "-1")]
            variants.append(
                [
                    *parts[:-2],
                    ("BYMONTHDAY", ",".join(map(str, range(top, 26, -1)))),
                    ("BYSETPOS", "-1"),
                ]
            )
    else:
        yearly = kind == "relY"
        days_text, size = day_set()
        index = draw(st.sampled_from([1, 2, 3, 4, -1]))
        parts = [("FREQ", "YEARLY" if yearly else "MONTHLY")]
        if yearly:
            parts.append(("BYMONTH", str(draw(st.integers(1, 12)))))
        if size == 1:
            parts.append(("BYDAY", f"{index}{days_text}"))
            variants.append([*parts[:-1], ("BYDAY", days_text), ("BYSETPOS", str(index))])
        else:
            parts += [("BYDAY", days_text), ("BYSETPOS", str(index))]
    if interval > 1:
        parts.insert(1, ("INTERVAL", str(interval)))
        for v in variants:
            v.insert(1, ("INTERVAL", str(interval)))
    elif draw(st.booleans()):
        variants.append([*parts, ("INTERVAL", "1")])

    plain_rule = ";".join(f"{k}={v}" for k, v in parts)
    naive_base = dt.datetime.combine(base, dt.time() if all_day else clock)
    first = next(iter(du.rrulestr(plain_rule, dtstart=naive_base)))
    assert isinstance(first, dt.datetime)
    when: TimeSpan | DaySpan
    if all_day:
        when = allday(first.date())
        dtstart: dt.datetime = first
    else:
        when = timed(first, zone_name)
        dtstart = when.start.astimezone(ZoneInfo(zone_name))
    # Spellings that rely on DTSTART defaults.
    start_local = dtstart
    if kind == "weekly" and parts[-1 if interval == 1 else -2][1] == WD[start_local.weekday()]:
        variants.append([p for p in parts if p[0] != "BYDAY"])
    if kind == "absM" and ("BYMONTHDAY", str(start_local.day)) in parts:
        variants.append([p for p in parts if p[0] != "BYMONTHDAY"])
    if kind == "absY" and ("BYMONTHDAY", str(start_local.day)) in parts:
        variants.append([p for p in parts if p[0] not in ("BYMONTHDAY", "BYMONTH")])
        variants.append([p for p in parts if p[0] != "BYMONTHDAY"])

    occurrences = list(itertools.islice(du.rrulestr(plain_rule, dtstart=dtstart), 40))
    # The range.
    range_kind = draw(st.sampled_from(["none", "count", "until"]))
    end_part: list[tuple[str, str]] = []
    if range_kind == "count":
        count = draw(st.integers(1, 30))
        end_part = [("COUNT", str(count))]
        occurrences = occurrences[:count]
    elif range_kind == "until":
        k = draw(st.integers(0, len(occurrences) - 1))
        last = occurrences[k]
        if all_day:
            stamp = f"{last:%Y%m%d}"
        elif draw(st.booleans()):
            stamp = f"{last.astimezone(UTC):%Y%m%dT%H%M%SZ}"  # the occurrence itself
        else:  # Google's UI: the end of that local day
            nxt = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time(), last.tzinfo)
            stamp = f"{(nxt.astimezone(UTC) - dt.timedelta(seconds=1)):%Y%m%dT%H%M%SZ}"
        end_part = [("UNTIL", stamp)]
        occurrences = occurrences[: k + 1]
    # EXDATEs: some of the occurrences, in the forms Google uses.
    picked = draw(st.lists(st.sampled_from(occurrences), max_size=3, unique=True))
    ex_lines = []
    for occ in picked:
        if all_day:
            ex_lines.append(f"EXDATE;VALUE=DATE:{occ:%Y%m%d}")
            continue
        wall = occ.replace(tzinfo=None)
        tz = ZoneInfo(zone_name)
        odd = (
            wall.replace(tzinfo=tz, fold=0).utcoffset()
            != wall.replace(tzinfo=tz, fold=1).utcoffset()
        )
        if odd or draw(st.booleans()):
            ex_lines.append(f"EXDATE;TZID={zone_name}:{wall:%Y%m%dT%H%M%S}")
        else:  # dateutil cannot compare a UTC value with a gap/fold time, so only plain ones
            ex_lines.append(f"EXDATE:{occ.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    spelled_parts = draw(st.sampled_from([parts, *variants])) + end_part
    return {
        "when": when,
        "plain": [f"RRULE:{plain_rule}" + "".join(f";{k}={v}" for k, v in end_part), *ex_lines],
        "lines": [f"RRULE:{_spell(spelled_parts, draw)}", *ex_lines],
        "window_shift": draw(st.integers(-40, 300)),
        "echo": draw(st.booleans()),
    }


def _window(case: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    when = case["when"]
    start = (
        when.start
        if isinstance(when, TimeSpan)
        else dt.datetime.combine(when.start, dt.time(), UTC)
    )
    begin = start.astimezone(UTC) + dt.timedelta(days=case["window_shift"])
    return begin, begin + dt.timedelta(days=730)


@given(holdable_series())
def test_google_to_graph_and_back_is_the_same_recurrence(case: dict[str, Any]) -> None:
    when = case["when"]
    rec = recurrence_from_google(case["lines"], when)
    # Every spelling of the rule is the same canonical Recurrence.
    assert rec == recurrence_from_google(case["plain"], when)
    assert normalize_rrule(rec.rrule, when=when) == rec.rrule
    assert normalize_rrule(normalize_rrule(rec.rrule)) == normalize_rrule(rec.rrule)
    # Google round trip is exact.
    assert recurrence_from_google(recurrence_to_google(rec, when), when) == rec
    # Graph round trip: the pattern, plus cancelled occurrences for the EXDATEs.
    g = recurrence_to_graph(rec, when)
    cancelled = [local_date(p, when) for p in rec.exdates]
    sent = echoed(g) if case["echo"] else g
    assert recurrence_from_graph(sent, when, cancelled) == rec


@given(holdable_series())
def test_expand_agrees_with_dateutil_and_with_graph(case: dict[str, Any]) -> None:
    when = case["when"]
    window = _window(case)
    rec = recurrence_from_google(case["lines"], when)
    got = expand(rec, when, *window)
    assert got == sort_points(got)
    assert got == dateutil_points(case["lines"], when, *window)
    assert got == dateutil_points(recurrence_to_google(rec, when), when, *window)
    # What Graph would show for the pattern we write, minus the occurrences the caller deletes.
    g = recurrence_to_graph(rec, when)
    cancelled = [local_date(p, when) for p in rec.exdates]
    assert got == graph_points(g, when, cancelled, *window)


@st.composite
def any_series(draw: Any) -> dict[str, Any]:
    """Any daily-or-coarser RFC 5545 rule Google accepts, starting on its first occurrence."""
    all_day = draw(st.booleans())
    zone_name = draw(st.sampled_from(ZONES))
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts: list[tuple[str, str]] = [("FREQ", freq)]
    if draw(st.booleans()):
        parts.append(("INTERVAL", str(draw(st.integers(1, 3)))))
    special = draw(st.sampled_from(["", "", "", "yearday", "weekno"])) if freq == "YEARLY" else ""
    if special == "yearday":
        values = draw(
            st.lists(
                st.integers(1, 365).map(lambda n: n * draw(st.sampled_from([1, -1]))),
                min_size=1,
                max_size=2,
            )
        )
        parts.append(("BYYEARDAY", ",".join(map(str, values))))
    elif special == "weekno":
        values = draw(
            st.lists(
                st.integers(1, 52).map(lambda n: n * draw(st.sampled_from([1, -1]))),
                min_size=1,
                max_size=2,
            )
        )
        parts.append(("BYWEEKNO", ",".join(map(str, values))))
    months: list[int] = []
    if not special and draw(st.integers(0, 1 if freq == "YEARLY" else 3)) == 0:
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
        parts.append(("BYMONTH", ",".join(map(str, months))))
    monthdays: list[int] = []
    if not special and freq != "WEEKLY" and draw(st.booleans()):
        top = 28 if months or freq == "DAILY" else 31
        monthdays = draw(
            st.lists(
                st.integers(1, top).map(lambda n: n * draw(st.sampled_from([1, 1, -1]))),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        parts.append(("BYMONTHDAY", ",".join(map(str, monthdays))))
    days: list[tuple[int, int]] = []
    if draw(st.booleans()) or (freq == "DAILY" and not parts[1:]):
        chosen = draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True))
        ordinals = (
            freq in ("MONTHLY", "YEARLY")
            and not monthdays
            and special != "weekno"
            and draw(st.booleans())
        )
        for d in chosen:
            n = draw(st.sampled_from([0, 1, 2, 4, -1, -2])) if ordinals else 0
            days.append((n, d))
        parts.append(("BYDAY", ",".join(f"{n or ''}{WD[d]}" for n, d in days)))
    plain_days = days and not any(n for n, _ in days)
    # (WEEKLY BYSETPOS: dateutil counts positions from DTSTART, not from the week's start;
    # see test_weekly_bysetpos_counts_the_whole_first_week.)
    if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        size = 0
        if plain_days and not monthdays and not special:
            size = len(days)
        elif monthdays and not days and all(d > 0 for d in monthdays):
            size = len(monthdays)
        if size:
            positions = draw(
                st.lists(
                    st.integers(1, size).map(lambda n: n * draw(st.sampled_from([1, -1]))),
                    min_size=1,
                    max_size=2,
                    unique=True,
                )
            )
            parts.append(("BYSETPOS", ",".join(map(str, positions))))
    if not all_day and freq != "WEEKLY" and draw(st.integers(0, 5)) == 0:
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=2, unique=True))
        parts.append(("BYHOUR", ",".join(map(str, hours))))
    if draw(st.integers(0, 3)) == 0:
        parts.append(("WKST", draw(st.sampled_from(WD))))
    base = draw(st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 12, 31)))
    clock = dt.time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
    rule = ";".join(f"{k}={v}" for k, v in parts)
    naive_base = dt.datetime.combine(base, dt.time() if all_day else clock)
    first = next(iter(du.rrulestr(rule, dtstart=naive_base)), None)
    assume(first is not None and first.year < 2040)
    assert isinstance(first, dt.datetime)
    when = allday(first.date()) if all_day else timed(first, zone_name)
    range_kind = draw(st.sampled_from(["none", "count", "until"]))
    if range_kind == "count":
        parts.append(("COUNT", str(draw(st.integers(1, 60)))))
    elif range_kind == "until":
        # Not before the start: RFC 5545 keeps DTSTART then, dateutil drops it.
        after = dt.timedelta(days=draw(st.integers(0, 800)), hours=draw(st.integers(0, 23)))
        if isinstance(when, DaySpan):
            parts.append(("UNTIL", f"{first + after:%Y%m%d}"))
        else:
            parts.append(("UNTIL", f"{when.start.astimezone(UTC) + after:%Y%m%dT%H%M%SZ}"))
    return {
        "when": when,
        "lines": [f"RRULE:{_spell(parts, draw)}"],
        "window_shift": draw(st.integers(-40, 300)),
    }


@given(any_series())
def test_any_rule_expands_as_dateutil_and_maps_to_graph_only_when_exact(
    case: dict[str, Any],
) -> None:
    when = case["when"]
    window = _window(case)
    rec = recurrence_from_google(case["lines"], when)
    got = expand(rec, when, *window)
    assert got == dateutil_points(case["lines"], when, *window)
    assert recurrence_from_google(recurrence_to_google(rec, when), when) == rec
    assert normalize_rrule(rec.rrule, when=when) == rec.rrule
    try:
        g = recurrence_to_graph(rec, when)
    except Unmappable:
        return
    # Whatever maps must mean the same on Graph, and read back to the same Recurrence.
    assert got == graph_points(g, when, [], *window)
    assert recurrence_from_graph(echoed(g), when) == rec
