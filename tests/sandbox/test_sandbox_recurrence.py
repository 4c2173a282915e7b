"""Recurrence expansion: Google (RFC 5545) and Graph (Exchange) semantics, side by side."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import load_payload

from app.sandbox import recurrence as rec
from app.sandbox.recurrence import (
    GoogleRecurrenceError,
    GraphRecurrenceError,
    Occurrence,
    expand_google,
    expand_graph,
    google_instance_id,
    graph_occurrence_date,
    normalize_graph_recurrence,
    parse_google_instance_suffix,
    validate_google_recurrence,
)


def payload(name: str) -> Any:
    return load_payload(name)


NY, BERLIN, CHICAGO = (
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/Chicago"),
)


def gstart(local: datetime) -> dict[str, str]:
    """A Google EventDateTime for an aware local datetime in a ZoneInfo zone."""
    assert isinstance(local.tzinfo, ZoneInfo)
    return {"dateTime": local.isoformat(), "timeZone": local.tzinfo.key}


def local_days(occs: list[Occurrence]) -> list[date]:
    return [o.date if o.date else graph_occurrence_date(o) for o in occs]


def graph_rec(pattern: dict[str, Any], **rng: Any) -> dict[str, Any]:
    return {"pattern": pattern, "range": {"type": "noEnd", **rng}}


# ----------------------------------------------------------------------------- Google


def test_google_weekly_interval_two_mon_wed_fri() -> None:
    start = datetime(2026, 1, 7, 9, 0, tzinfo=BERLIN)  # a Wednesday
    occs = expand_google(["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR;COUNT=6"], gstart(start))
    assert local_days(occs) == [
        date(2026, 1, 7),
        date(2026, 1, 9),
        date(2026, 1, 19),
        date(2026, 1, 21),
        date(2026, 1, 23),
        date(2026, 2, 2),
    ]
    assert all(o.local_start.time() == time(9) for o in occs if isinstance(o.local_start, datetime))


@pytest.mark.parametrize(
    ("wkst", "expected_days"),
    [("MO", [5, 10, 19, 24]), ("SU", [5, 17, 19, 31])],  # RFC 5545 §3.8.5.3 examples
)
def test_google_wkst_changes_interval_weeks(wkst: str, expected_days: list[int]) -> None:
    start = datetime(1997, 8, 5, 9, 0, tzinfo=NY)
    lines = [f"RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST={wkst}"]
    assert local_days(expand_google(lines, gstart(start))) == [
        date(1997, 8, d) for d in expected_days
    ]


def test_google_monthly_last_friday() -> None:
    start = datetime(2026, 1, 30, 16, 0, tzinfo=NY)
    occs = expand_google(["RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=4"], gstart(start))
    assert local_days(occs) == [
        date(2026, 1, 30),
        date(2026, 2, 27),
        date(2026, 3, 27),
        date(2026, 4, 24),
    ]


def test_google_yearly_feb_29_skips_non_leap_years() -> None:
    start = datetime(2024, 2, 29, 12, 0, tzinfo=BERLIN)
    occs = expand_google(["RRULE:FREQ=YEARLY;COUNT=3"], gstart(start))
    assert local_days(occs) == [date(2024, 2, 29), date(2028, 2, 29), date(2032, 2, 29)]


def test_google_monthly_31st_skips_short_months() -> None:
    start = datetime(2026, 1, 31, 8, 0, tzinfo=NY)
    occs = expand_google(["RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"], gstart(start))
    assert local_days(occs) == [date(2026, 1, 31), date(2026, 3, 31), date(2026, 5, 31)]


@pytest.mark.parametrize(
    ("zone", "first", "offsets"),
    [
        (NY, date(2026, 3, 6), [-5, -5, -4, -4]),  # spring forward on 2026-03-08
        (BERLIN, date(2026, 10, 23), [2, 2, 1, 1]),  # fall back on 2026-10-25
    ],
)
def test_google_daily_keeps_local_time_across_dst(
    zone: ZoneInfo, first: date, offsets: list[int]
) -> None:
    start = datetime.combine(first, time(9), tzinfo=zone)
    occs = expand_google(["RRULE:FREQ=DAILY;COUNT=4"], gstart(start))
    local = [o.local_start for o in occs if isinstance(o.local_start, datetime)]
    assert [t.time() for t in local] == [time(9)] * 4
    assert [t.utcoffset() for t in local] == [timedelta(hours=h) for h in offsets]
    assert [o.original_start_utc.hour for o in occs] == [9 - h for h in offsets]


def test_google_until_045959z_in_chicago_ends_the_previous_local_day() -> None:
    """The recorded "this and following" trim: UNTIL is 23:59:59 local on 2025-03-26."""
    body = payload("google_incsync_split_this_and_following__compass_edit_following.json")
    master = next(i for i in body["items"] if i["id"] == "4k3h1bqn0pmn2qmvc7m0b6ip2q")
    assert master["recurrence"] == ["RRULE:FREQ=DAILY;UNTIL=20250327T045959Z"]
    occs = expand_google(master["recurrence"], master["start"])
    assert local_days(occs) == [date(2025, 3, 24), date(2025, 3, 25), date(2025, 3, 26)]
    assert (
        google_instance_id(master["id"], occs[0]) == "4k3h1bqn0pmn2qmvc7m0b6ip2q_20250324T123000Z"
    )


def test_google_exdate_forms_remove_instances() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=BERLIN)
    lines = [
        "RRULE:FREQ=DAILY;COUNT=5",
        "EXDATE;TZID=Europe/Berlin:20260106T090000",
        "EXDATE:20260107T080000Z",  # the same instant, written in UTC
        "EXDATE;VALUE=DATE:20260108",  # [U] a DATE removes that local day
    ]
    assert local_days(expand_google(lines, gstart(start))) == [date(2026, 1, 5), date(2026, 1, 9)]
    assert validate_google_recurrence(lines, gstart(start)) is None


def test_google_rdate_and_exrule() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=BERLIN)  # Monday
    lines = [
        "RRULE:FREQ=DAILY;COUNT=7",
        "EXRULE:FREQ=WEEKLY;BYDAY=SA,SU",
        "RDATE;TZID=Europe/Berlin:20260120T090000",
    ]
    days = local_days(expand_google(lines, gstart(start)))
    assert days == [date(2026, 1, d) for d in (5, 6, 7, 8, 9, 20)]


def test_google_dtstart_off_pattern_is_first_instance_and_counts() -> None:
    start = datetime(2026, 1, 6, 9, 0, tzinfo=NY)  # a Tuesday, rule says Mondays
    occs = expand_google(["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"], gstart(start))
    assert local_days(occs) == [date(2026, 1, 6), date(2026, 1, 12), date(2026, 1, 19)]
    # Graph's rule for the same start: the first occurrence is the first Monday.
    graph = graph_rec(
        {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        type="numbered",
        startDate="2026-01-06",
        numberOfOccurrences=3,
    )
    assert local_days(expand_graph(graph, start)) == [date(2026, 1, d) for d in (12, 19, 26)]


def test_google_all_day_weekly() -> None:
    lines = ["RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20260119", "EXDATE;VALUE=DATE:20260108"]
    occs = expand_google(lines, {"date": "2026-01-05"}, duration=timedelta(days=1))
    assert [o.date for o in occs] == [
        date(2026, 1, 5),
        date(2026, 1, 12),
        date(2026, 1, 15),
        date(2026, 1, 19),
    ]
    assert occs[0].local_start == date(2026, 1, 5)
    assert occs[0].original_start_utc == datetime(2026, 1, 5, tzinfo=UTC)
    assert occs[0].all_day
    assert google_instance_id("abc123", occs[1]) == "abc123_20260112"
    assert parse_google_instance_suffix("abc123_20260112") == ("abc123", date(2026, 1, 12))
    # [U] a UTC date-time UNTIL on an all-day series compares against UTC midnights.
    until_z = expand_google(["RRULE:FREQ=DAILY;UNTIL=20260107T000000Z"], {"date": "2026-01-05"})
    assert [o.date for o in until_z] == [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)]


def test_google_all_day_window_uses_calendar_zone() -> None:
    lines = ["RRULE:FREQ=DAILY;COUNT=3"]
    window = (datetime(2026, 1, 6, 4, 0, tzinfo=UTC), datetime(2026, 1, 6, 4, 30, tzinfo=UTC))
    one_day = timedelta(days=1)
    in_utc = expand_google(lines, {"date": "2026-01-05"}, *window, duration=one_day)
    in_ny = expand_google(
        lines, {"date": "2026-01-05"}, *window, duration=one_day, all_day_zone="America/New_York"
    )
    assert [o.date for o in in_utc] == [date(2026, 1, 6)]
    assert [o.date for o in in_ny] == [date(2026, 1, 5)]


def test_google_window_is_half_open_on_end_and_start() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=BERLIN)
    lines = ["RRULE:FREQ=DAILY"]
    ws = datetime(2026, 1, 6, 9, 0, tzinfo=BERLIN)
    we = datetime(2026, 1, 8, 9, 0, tzinfo=BERLIN)
    hour = timedelta(hours=1)
    assert local_days(expand_google(lines, gstart(start), ws, we, duration=hour)) == [
        date(2026, 1, 6),
        date(2026, 1, 7),
    ]
    # An occurrence that ends exactly at window_start is out; one still running is in.
    ws_late = ws + hour
    assert local_days(expand_google(lines, gstart(start), ws_late, we, duration=hour)) == [
        date(2026, 1, 7)
    ]
    assert local_days(
        expand_google(lines, gstart(start), ws_late - timedelta(seconds=1), we, duration=hour)
    )[0] == date(2026, 1, 6)
    # Zero-length occurrences are points in [window_start, window_end).
    assert local_days(expand_google(lines, gstart(start), ws, we)) == [
        date(2026, 1, 6),
        date(2026, 1, 7),
    ]
    assert len(expand_google(lines, gstart(start), limit=5)) == 5
    assert expand_google(lines, gstart(start), limit=0) == []


def test_google_instance_id_of_recorded_cancelled_instance() -> None:
    cancelled = payload("google_event_cancelled_instance__compass.json")
    start = {"dateTime": "2025-03-24T08:00:00-05:00", "timeZone": "America/Chicago"}
    occs = expand_google(["RRULE:FREQ=DAILY"], start, limit=3)
    original = datetime.fromisoformat(cancelled["originalStartTime"]["dateTime"])
    occ = next(o for o in occs if o.original_start_utc == original)
    assert google_instance_id(cancelled["recurringEventId"], occ) == cancelled["id"]
    assert cancelled["id"].endswith("_20250325T130000Z")
    assert parse_google_instance_suffix(cancelled["id"]) == (
        cancelled["recurringEventId"],
        datetime(2025, 3, 25, 13, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("instance_id", "expected"),
    [
        ("4k3h1bqn0pmn2qmvc7m0b6ip2q_R20250327T123000", None),  # a split series' master id
        (
            "4k3h1bqn0pmn2qmvc7m0b6ip2q_R20250327T123000_20250328T173000Z",
            (
                "4k3h1bqn0pmn2qmvc7m0b6ip2q_R20250327T123000",
                datetime(2025, 3, 28, 17, 30, tzinfo=UTC),
            ),
        ),
        ("plainmasterid", None),
        ("abc_20251340", None),  # no 40th of month 13
        ("_20250101", None),
    ],
)
def test_parse_google_instance_suffix(instance_id: str, expected: object) -> None:
    assert parse_google_instance_suffix(instance_id) == expected


TIMED = {"dateTime": "2026-01-05T09:00:00+01:00", "timeZone": "Europe/Berlin"}


@pytest.mark.parametrize(
    ("lines", "start", "message"),
    [
        (["RRULE:FREQ=DAILY;COUNT=3;UNTIL=20260110T000000Z"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["RRULE:FREQ=FORTNIGHTLY"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["RRULE:INTERVAL=2"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["RRULE:FREQ=DAILY;INTERVAL=0"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["RRULE:FREQ=WEEKLY;BYDAY=XX"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["RRULE:FREQ=MONTHLY;BYMONTHDAY=32"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["RRULE:FREQ=DAILY;FREQ=WEEKLY"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["RRULE:FREQ=DAILY;UNTIL=tomorrow"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["FREQ=DAILY"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["not a rule at all"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (["DTSTART:20260105T090000Z", "RRULE:FREQ=DAILY"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (
            ["RRULE:FREQ=DAILY", "EXDATE;TZID=Mars/Olympus:20260106T090000"],
            TIMED,
            rec.GOOGLE_INVALID_RECURRENCE,
        ),
        (["RDATE;VALUE=PERIOD:20260106T090000Z/PT1H"], TIMED, rec.GOOGLE_INVALID_RECURRENCE),
        (
            ["RRULE:FREQ=DAILY"],
            {"dateTime": "2026-01-05T09:00:00+01:00"},
            rec.GOOGLE_MISSING_TIME_ZONE,
        ),
        (["RRULE:FREQ=DAILY"], {**TIMED, "timeZone": "Not/AZone"}, rec.GOOGLE_INVALID_TIME_ZONE),
    ],
)
def test_validate_google_rejects(lines: list[str], start: dict[str, str], message: str) -> None:
    assert validate_google_recurrence(lines, start) == message
    with pytest.raises(GoogleRecurrenceError) as info:
        expand_google(lines, start)
    assert info.value.message == message
    assert info.value.reason == "invalid"


@pytest.mark.parametrize(
    "lines",
    [
        [],
        ["RRULE:FREQ=DAILY"],
        ["RRULE:FREQ=WEEKLY;BYDAY=MO;"],  # a trailing ";" is tolerated
        ["rrule:freq=weekly;byday=mo,we;wkst=su;until=20260301T000000Z"],
        ["RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=12"],
        ["RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "EXDATE;VALUE=DATE:20280229"],
        ["RRULE:FREQ=DAILY;UNTIL=20260131"],  # [U] a DATE UNTIL on a timed series is accepted
    ],
)
def test_validate_google_accepts(lines: list[str]) -> None:
    assert validate_google_recurrence(lines, TIMED) is None


def test_google_non_recurring_timed_event_needs_no_zone() -> None:
    assert validate_google_recurrence([], {"dateTime": "2026-01-05T09:00:00Z"}) is None


# ----------------------------------------------------------------------------- Graph


def test_normalize_graph_matches_recorded_series_master_response() -> None:
    request = payload("graph_event_create_recurring_request__docs_user-post-events_ex3.json")
    response = payload(
        "graph_event_create_recurring_seriesMaster_response__docs_user-post-events_ex3.json"
    )
    start = datetime.fromisoformat(request["start"]["dateTime"]).replace(
        tzinfo=ZoneInfo("America/Los_Angeles")
    )
    got = normalize_graph_recurrence(request["recurrence"], start, request["start"]["timeZone"])
    assert got == response["recurrence"]
    assert json.dumps(got) == json.dumps(response["recurrence"])  # key order too


def test_normalize_graph_defaults_per_type() -> None:
    start = datetime(2026, 1, 15, 9, 0, tzinfo=BERLIN)
    daily = normalize_graph_recurrence(
        graph_rec(
            {"type": "Daily", "interval": 2, "dayOfMonth": 0},
            type="numbered",
            startDate="2026-01-15",
            numberOfOccurrences=5,
        ),
        start,
        "W. Europe Standard Time",
    )
    assert daily == {
        "pattern": {
            "type": "daily",
            "interval": 2,
            "month": 0,
            "dayOfMonth": 0,
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": {
            "type": "numbered",
            "startDate": "2026-01-15",
            "endDate": "0001-01-01",
            "recurrenceTimeZone": "W. Europe Standard Time",
            "numberOfOccurrences": 5,
        },
    }
    relative = normalize_graph_recurrence(
        graph_rec(
            {
                "type": "relativeYearly",
                "interval": 1,
                "month": 3,
                "daysOfWeek": ["Friday", "monday", "FRIDAY"],
                "index": "Last",
            },
            startDate="2026-01-15",
            recurrenceTimeZone="UTC",
        ),
        start,
        "W. Europe Standard Time",
    )
    assert relative["pattern"] == {
        "type": "relativeYearly",
        "interval": 1,
        "month": 3,
        "dayOfMonth": 0,
        "daysOfWeek": ["monday", "friday"],
        "firstDayOfWeek": "sunday",
        "index": "last",
    }
    assert relative["range"]["recurrenceTimeZone"] == "UTC"
    assert relative["range"]["endDate"] == "0001-01-01"
    assert relative["range"]["numberOfOccurrences"] == 0
    # The echo is accepted back unchanged (a sync engine PATCHes what it read).
    assert normalize_graph_recurrence(relative, start, "x") == relative


BASE_START = datetime(2026, 1, 15, 9, 0, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("pattern", "rng", "code"),
    [
        ({"type": "weekly", "interval": 1}, {}, "ErrorInvalidRecurrencePattern"),
        ({"type": "weekly", "interval": 1, "daysOfWeek": []}, {}, "ErrorInvalidRecurrencePattern"),
        ({"type": "daily"}, {}, "ErrorInvalidRecurrencePattern"),
        ({"type": "daily", "interval": 0}, {}, "ErrorInvalidRecurrencePattern"),
        ({"type": "absoluteMonthly", "interval": 1}, {}, "ErrorInvalidRecurrencePattern"),
        (
            {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 32},
            {},
            "ErrorInvalidRecurrencePattern",
        ),
        ({"type": "daily", "interval": 1, "dayOfMonth": -1}, {}, "ErrorInvalidRecurrencePattern"),
        (
            {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 5},
            {},
            "ErrorInvalidRecurrencePattern",
        ),
        (
            {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 5, "month": 13},
            {},
            "ErrorInvalidRecurrencePattern",
        ),
        ({"type": "relativeMonthly", "interval": 1}, {}, "ErrorInvalidRecurrencePattern"),
        (
            {"type": "relativeYearly", "interval": 1, "daysOfWeek": ["monday"]},
            {},
            "ErrorInvalidRecurrencePattern",
        ),
        ({"type": "hourly", "interval": 1}, {}, "RequestBodyRead"),
        ({"type": "weekly", "interval": 1, "daysOfWeek": ["funday"]}, {}, "RequestBodyRead"),
        (
            {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "x"},
            {},
            "RequestBodyRead",
        ),
        (
            {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["monday"], "index": "fifth"},
            {},
            "RequestBodyRead",
        ),
        ({"type": "daily", "interval": "1"}, {}, "RequestBodyRead"),
        ({"type": "daily", "interval": True}, {}, "RequestBodyRead"),
        ({"type": "daily", "interval": 1}, {"type": "forever"}, "RequestBodyRead"),
        ({"type": "daily", "interval": 1}, {"type": None}, "ErrorInvalidRecurrenceRange"),
        ({"type": "daily", "interval": 1}, {"type": "numbered"}, "ErrorInvalidRecurrenceRange"),
        (
            {"type": "daily", "interval": 1},
            {"type": "numbered", "numberOfOccurrences": 0},
            "ErrorInvalidRecurrenceRange",
        ),
        ({"type": "daily", "interval": 1}, {"type": "endDate"}, "ErrorInvalidRecurrenceRange"),
        (
            {"type": "daily", "interval": 1},
            {"type": "endDate", "endDate": "2026-01-14"},
            "ErrorInvalidRecurrenceRange",
        ),
        (
            {"type": "daily", "interval": 1},
            {"type": "endDate", "endDate": "14/01/2026"},
            "RequestBodyRead",
        ),
        ({"type": "daily", "interval": 1}, {"startDate": None}, "ErrorInvalidRecurrenceRange"),
        (
            {"type": "daily", "interval": 1},
            {"startDate": "2026-01-16"},
            "ErrorInvalidRecurrenceRange",
        ),
    ],
)
def test_normalize_graph_rejects(pattern: dict[str, Any], rng: dict[str, Any], code: str) -> None:
    body = {"pattern": pattern, "range": {"type": "noEnd", "startDate": "2026-01-15", **rng}}
    with pytest.raises(GraphRecurrenceError) as info:
        normalize_graph_recurrence(body, BASE_START, "W. Europe Standard Time")
    assert info.value.code == code
    assert info.value.status == 400
    assert info.value.message


def test_graph_weekly_interval_two_uses_first_day_of_week() -> None:
    start = datetime(1997, 8, 5, 9, 0, tzinfo=NY)
    for first_day, expected in (("monday", [5, 10, 19, 24]), ("sunday", [5, 17, 19, 31])):
        graph = graph_rec(
            {
                "type": "weekly",
                "interval": 2,
                "daysOfWeek": ["tuesday", "sunday"],
                "firstDayOfWeek": first_day,
            },
            type="numbered",
            startDate="1997-08-05",
            numberOfOccurrences=4,
        )
        assert local_days(expand_graph(graph, start)) == [date(1997, 8, d) for d in expected]


def test_graph_weekly_mon_wed_fri_interval_two() -> None:
    start = datetime(2026, 1, 8, 9, 0, tzinfo=BERLIN)  # Thursday: not itself an occurrence
    graph = graph_rec(
        {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "wednesday", "friday"]},
        type="endDate",
        startDate="2026-01-08",
        endDate="2026-01-23",  # a Friday: endDate is inclusive
    )
    # Sunday-first weeks: Jan 4-10 (only Fri 9 is on/after startDate), then Jan 18-24.
    assert local_days(expand_graph(graph, start)) == [date(2026, 1, d) for d in (9, 19, 21, 23)]
    graph["range"]["endDate"] = "2026-01-22"
    assert local_days(expand_graph(graph, start)) == [date(2026, 1, d) for d in (9, 19, 21)]


def test_graph_relative_monthly_last_friday_and_union_of_days() -> None:
    start = datetime(2026, 1, 1, 16, 0, tzinfo=NY)
    last_friday = graph_rec(
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
        type="numbered",
        startDate="2026-01-01",
        numberOfOccurrences=3,
    )
    assert local_days(expand_graph(last_friday, start)) == [
        date(2026, 1, 30),
        date(2026, 2, 27),
        date(2026, 3, 27),
    ]
    second_weekday = graph_rec(
        {
            "type": "relativeMonthly",
            "interval": 1,
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "index": "second",
        },
        type="numbered",
        startDate="2026-01-01",
        numberOfOccurrences=3,
    )
    assert local_days(expand_graph(second_weekday, start)) == [
        date(2026, 1, 2),
        date(2026, 2, 3),
        date(2026, 3, 3),
    ]


def test_graph_absolute_yearly_feb_29_clamps_to_feb_28() -> None:
    """Graph/Exchange: dayOfMonth past the month's end falls on its last day [U, likely].

    Google's FREQ=YEARLY from 2024-02-29 skips 2025-2027 instead (see the Google test).
    """
    start = datetime(2024, 2, 29, 12, 0, tzinfo=BERLIN)
    graph = graph_rec(
        {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 29},
        type="numbered",
        startDate="2024-02-29",
        numberOfOccurrences=5,
    )
    assert local_days(expand_graph(graph, start)) == [
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]


def test_graph_absolute_monthly_31_clamps_and_switch_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = datetime(2026, 1, 31, 8, 0, tzinfo=NY)
    graph = graph_rec(
        {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
        type="numbered",
        startDate="2026-01-31",
        numberOfOccurrences=4,
    )
    assert local_days(expand_graph(graph, start)) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    monkeypatch.setattr(rec, "GRAPH_CLAMP_DAY_OF_MONTH", False)
    assert local_days(expand_graph(graph, start)) == [
        date(2026, 1, 31),
        date(2026, 3, 31),
        date(2026, 5, 31),
        date(2026, 7, 31),
    ]


def test_graph_first_occurrence_is_first_fit_on_or_after_start_date() -> None:
    start = datetime(2026, 1, 10, 9, 0, tzinfo=BERLIN)
    graph = graph_rec(
        {"type": "absoluteMonthly", "interval": 2, "dayOfMonth": 5}, startDate="2026-01-10"
    )
    assert local_days(expand_graph(graph, start, limit=3)) == [
        date(2026, 3, 5),
        date(2026, 5, 5),
        date(2026, 7, 5),
    ]


@pytest.mark.parametrize(
    ("zone", "first", "offsets"),
    [(NY, date(2026, 3, 6), [-5, -5, -4, -4]), (BERLIN, date(2026, 10, 23), [2, 2, 1, 1])],
)
def test_graph_daily_keeps_local_time_across_dst(
    zone: ZoneInfo, first: date, offsets: list[int]
) -> None:
    start = datetime.combine(first, time(9), tzinfo=zone)
    graph = graph_rec(
        {"type": "daily", "interval": 1},
        type="numbered",
        startDate=first.isoformat(),
        numberOfOccurrences=4,
    )
    occs = expand_graph(graph, start)
    assert [o.original_start_utc.hour for o in occs] == [9 - h for h in offsets]
    assert {o.local_start.time() for o in occs if isinstance(o.local_start, datetime)} == {time(9)}


def test_nonexistent_local_time_uses_the_offset_before_the_gap() -> None:
    """RFC 5545: 02:30 on the spring-forward day becomes 03:30 EDT (07:30Z); both agree."""
    start = datetime(2026, 3, 7, 2, 30, tzinfo=NY)
    google = expand_google(["RRULE:FREQ=DAILY;COUNT=3"], gstart(start))
    graph = expand_graph(
        graph_rec(
            {"type": "daily", "interval": 1},
            type="numbered",
            startDate="2026-03-07",
            numberOfOccurrences=3,
        ),
        start,
    )
    assert google == graph
    assert [o.original_start_utc.hour for o in graph] == [7, 7, 6]
    assert graph[1].local_start == datetime(2026, 3, 8, 3, 30, tzinfo=NY)


def test_graph_start_date_check_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    body = graph_rec({"type": "daily", "interval": 1}, startDate="2026-01-20")
    with pytest.raises(GraphRecurrenceError):
        normalize_graph_recurrence(body, BASE_START, "UTC")
    monkeypatch.setattr(rec, "GRAPH_REQUIRE_START_DATE_MATCH", False)
    assert normalize_graph_recurrence(body, BASE_START, "UTC")["range"]["startDate"] == "2026-01-20"


def test_graph_occurrence_date_is_local_date() -> None:
    start = datetime(2026, 1, 5, 23, 30, tzinfo=NY)  # 04:30 UTC the next day
    occs = expand_graph(
        graph_rec({"type": "daily", "interval": 1}, startDate="2026-01-05"), start, limit=2
    )
    assert occs[0].original_start_utc.date() == date(2026, 1, 6)
    assert graph_occurrence_date(occs[0]) == date(2026, 1, 5)
    assert f"OID.AAMk=.{graph_occurrence_date(occs[1])}" == "OID.AAMk=.2026-01-06"


def test_graph_window_and_duration() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=BERLIN)
    graph = graph_rec({"type": "daily", "interval": 1}, startDate="2026-01-05")
    ws = datetime(2026, 1, 7, 9, 30, tzinfo=BERLIN)
    we = datetime(2026, 1, 9, 9, 0, tzinfo=BERLIN)
    assert local_days(expand_graph(graph, start, timedelta(hours=1), ws, we)) == [
        date(2026, 1, 7),
        date(2026, 1, 8),
    ]
    assert local_days(expand_graph(graph, start, timedelta(0), ws, we)) == [date(2026, 1, 8)]
    with pytest.raises(ValueError, match="aware"):
        expand_graph(graph, start.replace(tzinfo=None))


# ----------------------------------------------------------------------------- property

_RRULE_DAY = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
_SETPOS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}


def to_rrule(recurrence: dict[str, Any], zone: ZoneInfo) -> str:
    """api-spec §3.3 mapping table: Graph patternedRecurrence -> one RRULE line."""
    p, r = recurrence["pattern"], recurrence["range"]
    days = ",".join(_RRULE_DAY[d] for d in p.get("daysOfWeek", []))
    freq = {"daily": "DAILY", "weekly": "WEEKLY"}.get(p["type"]) or (
        "MONTHLY" if "Monthly" in p["type"] else "YEARLY"
    )
    parts = [f"FREQ={freq}", f"INTERVAL={p['interval']}"]
    if p["type"] == "weekly":
        parts += [f"BYDAY={days}", f"WKST={_RRULE_DAY[p.get('firstDayOfWeek', 'sunday')]}"]
    if p["type"].endswith("Yearly"):
        parts.append(f"BYMONTH={p['month']}")
    if p["type"].startswith("absolute"):
        parts.append(f"BYMONTHDAY={p['dayOfMonth']}")
    if p["type"].startswith("relative"):
        parts += [f"BYDAY={days}", f"BYSETPOS={_SETPOS[p.get('index', 'first')]}"]
    if r["type"] == "numbered":
        parts.append(f"COUNT={r['numberOfOccurrences']}")
    elif r["type"] == "endDate":
        end = datetime.combine(date.fromisoformat(r["endDate"]), time(23, 59, 59), tzinfo=zone)
        parts.append(f"UNTIL={end.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    return "RRULE:" + ";".join(parts)


@st.composite
def mappable(draw: st.DrawFn) -> tuple[dict[str, Any], datetime]:
    kind = draw(
        st.sampled_from(
            [
                "daily",
                "weekly",
                "absoluteMonthly",
                "relativeMonthly",
                "absoluteYearly",
                "relativeYearly",
            ]
        )
    )
    pattern: dict[str, Any] = {"type": kind, "interval": draw(st.integers(1, 3))}
    if kind in ("weekly", "relativeMonthly", "relativeYearly"):
        days = draw(st.sets(st.sampled_from(list(_RRULE_DAY)), min_size=1))
        pattern["daysOfWeek"] = sorted(days, key=list(_RRULE_DAY).index)
    if kind == "weekly":
        pattern["firstDayOfWeek"] = draw(st.sampled_from(list(_RRULE_DAY)))
    if kind.startswith("relative"):
        pattern["index"] = draw(st.sampled_from(list(_SETPOS)))
    if kind.startswith("absolute"):
        pattern["dayOfMonth"] = draw(st.integers(1, 28))  # where RFC 5545 and Exchange agree
    if kind.endswith("Yearly"):
        pattern["month"] = draw(st.integers(1, 12))
    start_day = draw(st.dates(date(2024, 1, 1), date(2027, 12, 31)))
    rng: dict[str, Any] = {
        "type": draw(st.sampled_from(["noEnd", "numbered", "endDate"])),
        "startDate": start_day.isoformat(),
    }
    if rng["type"] == "numbered":
        rng["numberOfOccurrences"] = draw(st.integers(1, 15))
    elif rng["type"] == "endDate":
        rng["endDate"] = (start_day + timedelta(days=draw(st.integers(0, 800)))).isoformat()
    zone = draw(
        st.sampled_from(
            [NY, BERLIN, CHICAGO, ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Sydney")]
        )
    )
    clock = time(
        draw(st.integers(5, 22)), draw(st.sampled_from([0, 15, 30, 45]))
    )  # not in a DST gap
    return {"pattern": pattern, "range": rng}, datetime.combine(start_day, clock, tzinfo=zone)


@settings(max_examples=100, deadline=None)
@given(mappable())
def test_graph_and_mapped_rrule_expand_identically(case: tuple[dict[str, Any], datetime]) -> None:
    recurrence, start = case
    assert isinstance(start.tzinfo, ZoneInfo)
    graph = expand_graph(recurrence, start, limit=25)
    if not graph:  # nothing fits before endDate: no first instance to anchor DTSTART on
        return
    first = graph[0].local_start
    assert isinstance(first, datetime)
    google = expand_google([to_rrule(recurrence, start.tzinfo)], gstart(first), limit=25)
    assert google == graph
    assert (
        normalize_graph_recurrence(recurrence, start, "tz")["pattern"]["type"]
        == recurrence["pattern"]["type"]
    )


@settings(max_examples=100, deadline=None)
@given(
    mappable(),
    st.datetimes(datetime(2024, 1, 1), datetime(2030, 1, 1)),
    st.integers(0, 24 * 40),
    st.integers(0, 180),
)
def test_window_equals_filtered_full_expansion(
    case: tuple[dict[str, Any], datetime], ws_naive: datetime, hours: int, minutes: int
) -> None:
    recurrence, start = case
    duration = timedelta(minutes=minutes)
    ws = ws_naive.replace(tzinfo=UTC)
    we = ws + timedelta(hours=hours)
    full = expand_graph(recurrence, start, duration, limit=400)
    if len(full) == 400 and we > full[-1].original_start_utc:
        return  # the window reaches past what the bounded full expansion covers
    expected = [
        o
        for o in full
        if o.original_start_utc < we
        and (
            o.original_start_utc + duration > ws
            or (duration == timedelta(0) and o.original_start_utc == ws)
        )
    ]
    assert expand_graph(recurrence, start, duration, ws, we, limit=400) == expected
