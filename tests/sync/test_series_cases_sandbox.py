"""Issue 5's cases, each in both directions, through the sandbox's real APIs.

After each sync, both clouds' own expansions (Google singleEvents, Graph calendarView) list the
same occurrences at the same instants, and the next sync writes nothing: nothing duplicated,
nothing lost, nothing shifted, nothing re-created.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from machine import NOW
from test_machine_sandbox import SandboxWorld

from app.core.model import DaySpan, Event, Recurrence, TimeSpan
from app.core.rules import PairRules, Side
from app.providers.base import Window, WriteOp
from app.sandbox.admin import trusting_session
from app.sandbox.server import Sandbox
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, RunResult, SideSpec

BOTH = pytest.mark.parametrize(
    "origin", [Side.A, Side.B], ids=["outlook-to-google", "google-to-outlook"]
)


@pytest.fixture
def world(sandbox: Sandbox, tmp_path: Path) -> SandboxWorld:
    SandboxWorld.sandbox = sandbox
    return SandboxWorld(tmp_path)


def rules(past: int = 30, future: int = 120) -> PairRules:
    return PairRules(window_past_days=past, window_future_days=future)


def window_of(r: PairRules) -> Window:
    return Window(*r.window(NOW))


def sync(world: SandboxWorld, tmp_path: Path, r: PairRules) -> RunResult:
    repo = Repo(Database(tmp_path / "state.db"))
    if repo.pair("p") is None:
        repo.add_pair("p", "p", {})
    spec = PairSpec("p", "p", r, SideSpec(world.a, world.a_cal), SideSpec(world.b, world.b_cal))
    result = Engine(repo, clock=lambda: NOW).run(spec)
    assert result.status == "ok" and result.counts["errors"] == 0, result
    return result


def issues(tmp_path: Path) -> list[Any]:
    return Repo(Database(tmp_path / "state.db")).issues("p")


def settle(world: SandboxWorld, tmp_path: Path, r: PairRules) -> RunResult:
    """Sync, then sync again: the second run must find nothing left to write."""
    first = sync(world, tmp_path, r)
    again = sync(world, tmp_path, r)
    writes = {k: again.counts[k] for k in ("created", "updated", "deleted")}
    assert writes == {"created": 0, "updated": 0, "deleted": 0}, again
    return first


def occurrences(world: SandboxWorld, side: Side, window: Window) -> list[tuple[str, str]]:
    """(UTC start + length, title) of every occurrence in the window, as the cloud itself
    expands it; all-day occurrences by their date."""
    sb = SandboxWorld.sandbox
    http = trusting_session(sb.ca_cert)
    lo = window.start.isoformat().replace("+00:00", "Z")
    hi = window.end.isoformat().replace("+00:00", "Z")
    out: list[tuple[str, str]] = []
    if side is Side.B:
        url = f"{sb.urls.google_api}calendars/{world.b_cal}/events"
        params: dict[str, Any] = {
            "singleEvents": "true",
            "timeMin": lo,
            "timeMax": hi,
            "maxResults": 2500,
        }
        body = http.get(url, params=params, headers=world.g.auth(), timeout=30).json()
        assert "nextPageToken" not in body
        for i in body["items"]:
            if "date" in i["start"]:
                out.append((i["start"]["date"], i["summary"]))
                continue
            start = dt.datetime.fromisoformat(i["start"]["dateTime"]).astimezone(dt.UTC)
            end = dt.datetime.fromisoformat(i["end"]["dateTime"]).astimezone(dt.UTC)
            out.append((_span(start, end), i["summary"]))
    else:
        url = f"{sb.urls.graph}/me/calendars/{world.a_cal}/calendarView"
        params = {"startDateTime": lo, "endDateTime": hi, "$top": 1000}
        body = http.get(url, params=params, headers=world.m.auth(), timeout=30).json()
        assert "@odata.nextLink" not in body
        for i in body["value"]:
            if i["isAllDay"]:
                out.append((i["start"]["dateTime"][:10], i["subject"]))
                continue
            start = dt.datetime.fromisoformat(i["start"]["dateTime"][:19]).replace(tzinfo=dt.UTC)
            end = dt.datetime.fromisoformat(i["end"]["dateTime"][:19]).replace(tzinfo=dt.UTC)
            out.append((_span(start, end), i["subject"]))
    return sorted(out)


def _span(start: dt.datetime, end: dt.datetime) -> str:
    """``2026-11-25T08:00Z+30m``: the start in UTC and the length (the end, as an instant)."""
    return f"{start:%Y-%m-%dT%H:%MZ}+{int((end - start).total_seconds() // 60)}m"


def same_on_both(world: SandboxWorld, origin: Side, window: Window) -> list[tuple[str, str]]:
    expected = occurrences(world, origin, window)
    assert expected, "the case must have occurrences in the window"
    assert occurrences(world, origin.other, window) == expected
    assert max(Counter(expected).values()) == 1, "an occurrence is listed twice"
    return expected


def timed(start: dt.datetime, minutes: int, title: str, rrule: str) -> Event:
    zone = str(start.tzinfo)
    span = TimeSpan(start, start + dt.timedelta(minutes=minutes), zone, zone)
    return Event(ref=None, when=span, title=title, recurrence=Recurrence(rrule))


def graph_post(world: SandboxWorld, body: dict[str, Any]) -> str:
    """Create an event with Graph's own JSON, as Outlook does (for patterns we never write)."""
    sb = SandboxWorld.sandbox
    http = trusting_session(sb.ca_cert)
    url = f"{sb.urls.graph}/me/calendars/{world.a_cal}/events"
    answer = http.post(url, json=body, headers=world.m.auth(), timeout=30)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


# --- patterns ---------------------------------------------------------------------------------


@BOTH
def test_monthly_on_the_last_friday(world: SandboxWorld, tmp_path: Path, origin: Side) -> None:
    start = dt.datetime(2026, 10, 30, 16, 0, tzinfo=ZoneInfo("America/New_York"))
    world.person_put(origin, timed(start, 60, "Month-end review", "FREQ=MONTHLY;BYDAY=-1FR"))
    r = rules()
    settle(world, tmp_path, r)
    got = same_on_both(world, origin, window_of(r))
    fridays = [dt.date.fromisoformat(s[:10]) for s, _ in got]
    assert fridays and all(
        d.weekday() == 4 and (d + dt.timedelta(7)).month != d.month for d in fridays
    )


def test_yearly_on_feb_29_from_google_is_copied_as_occurrences(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """Outlook cannot hold "every Feb 29" (it would move it to Feb 28 in other years): the
    occurrences inside the window are copied one by one, and the person is told why."""
    start = dt.datetime(2024, 2, 29, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    leap = timed(start, 60, "Leap-day lunch", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29")
    master = world.person_put(Side.B, leap)
    r = rules(future=1300)  # to mid-2030: one Feb 29 (2028) in the window
    first = settle(world, tmp_path, r)
    got = same_on_both(world, Side.B, window_of(r))
    assert got == [("2028-02-29T11:00Z+60m", "Leap-day lunch")]
    assert first.counts["created"] == 1
    told = [i for i in issues(tmp_path) if i.kind == "occurrences"]
    assert len(told) == 1 and "Feb 29" in told[0].message, told
    assert master.ref is not None and told[0].item_id == master.ref.event_id


def test_yearly_on_feb_29_from_outlook_keeps_outlooks_feb_28(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """Outlook's "every year on Feb 29" falls on Feb 28 in other years; the Google copy says
    exactly that (the last day of February) and lists the same days."""
    graph_post(
        world,
        {
            "subject": "Leap-day lunch",
            "start": {"dateTime": "2024-02-29T12:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2024-02-29T13:00:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {
                "pattern": {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 29},
                "range": {"type": "noEnd", "startDate": "2024-02-29"},
            },
        },
    )
    r = rules(future=1300)
    settle(world, tmp_path, r)
    got = same_on_both(world, Side.A, window_of(r))
    assert [s[:10] for s, _ in got] == ["2027-02-28", "2028-02-29", "2029-02-28", "2030-02-28"]


def test_rdates_from_google_are_copied_as_occurrences_and_follow_the_series(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """The occurrence copies are managed as one series: a change of the Google series reaches
    each of them, and deleting it deletes them all."""
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    weekly = timed(start, 30, "Coaching", "FREQ=WEEKLY;COUNT=4")
    extra = dt.datetime(2026, 11, 27, 15, 0, tzinfo=ZoneInfo("America/New_York"))
    assert weekly.recurrence is not None
    weekly = replace(weekly, recurrence=replace(weekly.recurrence, rdates=(extra,)))
    master = world.person_put(Side.B, weekly)
    assert master.ref is not None
    r = rules()
    settle(world, tmp_path, r)
    assert len(same_on_both(world, Side.B, window_of(r))) == 5

    current = world.person[Side.B].get_events(world.b_cal, [master.ref.event_id])
    renamed = current[master.ref.event_id]
    assert renamed is not None
    world.person_put(Side.B, replace(renamed, title="Coaching (new room)"))
    result = settle(world, tmp_path, r)
    assert result.counts["updated"] == 5 and result.counts["created"] == 0
    got = same_on_both(world, Side.B, window_of(r))
    assert {t for _, t in got} == {"Coaching (new room)"}

    world.person_delete(Side.B, master.ref.event_id)
    result = settle(world, tmp_path, r)
    assert result.counts["deleted"] == 5
    assert occurrences(world, Side.A, window_of(r)) == []
    assert not [i for i in issues(tmp_path) if i.kind == "occurrences"]


def test_a_series_changed_into_one_outlook_holds_becomes_a_real_series(
    world: SandboxWorld, tmp_path: Path
) -> None:
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    weekly = timed(start, 30, "Coaching", "FREQ=WEEKLY;COUNT=4")
    assert weekly.recurrence is not None
    extra = dt.datetime(2026, 11, 27, 15, 0, tzinfo=ZoneInfo("America/New_York"))
    master = world.person_put(
        Side.B, replace(weekly, recurrence=replace(weekly.recurrence, rdates=(extra,)))
    )
    assert master.ref is not None
    r = rules()
    settle(world, tmp_path, r)
    assert [i.kind for i in issues(tmp_path)] == ["occurrences"]
    current = world.person[Side.B].get_events(world.b_cal, [master.ref.event_id])
    series = current[master.ref.event_id]
    assert series is not None and series.recurrence is not None
    world.person_put(Side.B, replace(series, recurrence=replace(series.recurrence, rdates=())))
    settle(world, tmp_path, r)
    assert len(same_on_both(world, Side.B, window_of(r))) == 4
    copies = world.person[Side.A].read_changes(world.a_cal, None, window_of(r)).events
    assert [e.recurrence is not None for e in copies if e.series_id is None] == [True]
    assert not [i for i in issues(tmp_path) if i.kind == "occurrences"]


def test_an_edited_occurrence_copy_in_outlook_becomes_a_google_exception(
    world: SandboxWorld, tmp_path: Path
) -> None:
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    weekly = timed(start, 30, "Coaching", "FREQ=WEEKLY;COUNT=4")
    assert weekly.recurrence is not None
    extra = dt.datetime(2026, 11, 27, 15, 0, tzinfo=ZoneInfo("America/New_York"))
    world.person_put(
        Side.B, replace(weekly, recurrence=replace(weekly.recurrence, rdates=(extra,)))
    )
    r = rules()
    settle(world, tmp_path, r)
    copies = sorted(
        (e for e in world.person[Side.A].read_changes(world.a_cal, None, window_of(r)).events),
        key=lambda e: e.when.start,
    )
    assert len(copies) == 5 and all(c.recurrence is None for c in copies)
    second = copies[1]
    assert second.ref is not None
    world.person_put(Side.A, replace(second, title="Coaching (moved online)"))
    settle(world, tmp_path, r)
    got = same_on_both(world, Side.B, window_of(r))
    assert [t for _, t in got].count("Coaching (moved online)") == 1 and len(got) == 5

    world.person_delete(Side.A, copies[2].ref.event_id if copies[2].ref else "")
    settle(world, tmp_path, r)
    assert len(same_on_both(world, Side.B, window_of(r))) == 4


# --- series edits -----------------------------------------------------------------------------


@BOTH
def test_renaming_the_whole_series_keeps_its_moved_occurrence(
    world: SandboxWorld, tmp_path: Path, origin: Side
) -> None:
    ny = ZoneInfo("America/New_York")
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ny)
    master = world.person_put(origin, timed(start, 30, "Review", "FREQ=WEEKLY;BYDAY=MO;COUNT=6"))
    assert master.ref is not None
    was = start + dt.timedelta(weeks=2)
    moved = TimeSpan(
        was + dt.timedelta(hours=3), was + dt.timedelta(hours=3, minutes=30), str(ny), str(ny)
    )
    exception = Event(
        ref=None,
        when=moved,
        title="Review (afternoon)",
        series_id=master.ref.event_id,
        original_start=was.astimezone(dt.UTC),
    )
    world.person[origin].create(world.calendar(origin), exception, key="person-moved-review")
    r = rules()
    settle(world, tmp_path, r)
    current = world.person[origin].get_events(world.calendar(origin), [master.ref.event_id])
    series = current[master.ref.event_id]
    assert series is not None
    world.person_put(origin, replace(series, title="Design review", location="Room 4"))
    settle(world, tmp_path, r)
    got = same_on_both(world, origin, window_of(r))
    assert Counter(t for _, t in got) == {"Design review": 5, "Review (afternoon)": 1}


@BOTH
def test_a_daily_series_split_this_and_following(
    world: SandboxWorld, tmp_path: Path, origin: Side
) -> None:
    """ "This and following": the series is trimmed with UNTIL and a new one starts on the split
    day (api-spec §1.6 for Google; Outlook ends the range the same way)."""
    ny = ZoneInfo("America/New_York")
    start = dt.datetime(2026, 11, 16, 8, 30, tzinfo=ny)
    master = world.person_put(origin, timed(start, 15, "Daily sync", "FREQ=DAILY;COUNT=30"))
    assert master.ref is not None
    r = rules()
    settle(world, tmp_path, r)
    assert len(same_on_both(world, origin, window_of(r))) == 30

    split = dt.datetime(2026, 11, 30, 8, 30, tzinfo=ny)
    current = world.person[origin].get_events(world.calendar(origin), [master.ref.event_id])
    old = current[master.ref.event_id]
    assert old is not None and old.recurrence is not None
    until = (split - dt.timedelta(seconds=1)).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    trimmed = replace(old, recurrence=replace(old.recurrence, rrule=f"FREQ=DAILY;UNTIL={until}"))
    world.person_put(origin, trimmed)
    later = split + dt.timedelta(hours=1)
    world.person_put(origin, timed(later, 15, "Daily sync (new time)", "FREQ=DAILY;COUNT=16"))

    settle(world, tmp_path, r)
    got = same_on_both(world, origin, window_of(r))
    titles = Counter(t for _, t in got)
    assert titles == {"Daily sync": 14, "Daily sync (new time)": 16}


# --- time ------------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
def test_a_series_across_both_dst_changes_keeps_its_wall_time(
    world: SandboxWorld, tmp_path: Path, origin: Side, zone: str
) -> None:
    tz = ZoneInfo(zone)
    start = dt.datetime(2026, 10, 5, 9, 0, tzinfo=tz)  # before the autumn change
    world.person_put(
        origin, timed(start, 45, "Planning", "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270501T000000Z")
    )
    r = rules(past=60, future=165)  # from late September to early May: both changes
    settle(world, tmp_path, r)
    got = same_on_both(world, origin, window_of(r))
    local = [dt.datetime.fromisoformat(s[:16] + ":00+00:00").astimezone(tz) for s, _ in got]
    assert {(d.hour, d.minute, d.weekday()) for d in local} == {(9, 0, 0)}
    offsets = {d.utcoffset() for d in local}
    assert len(offsets) == 2, "the window must hold occurrences on both sides of the changes"
    # Before the autumn change (Oct 25 in Berlin, Nov 1 in New York), after the spring one.
    assert local[0].date() < dt.date(2026, 10, 25) and local[-1].date() > dt.date(2027, 3, 28)


def test_an_outlook_series_whose_start_and_end_zones_differ(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """Outlook lets a series end in another zone; Google does not: the copy's end is the same
    instant, written in the start's zone, and every occurrence keeps its length."""
    graph_post(
        world,
        {
            "subject": "Coast to coast",
            "start": {"dateTime": "2026-11-24T09:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2026-11-24T13:30:00", "timeZone": "Eastern Standard Time"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"]},
                "range": {"type": "numbered", "startDate": "2026-11-24", "numberOfOccurrences": 8},
            },
        },
    )
    r = rules()
    settle(world, tmp_path, r)
    got = same_on_both(world, Side.A, window_of(r))
    assert len(got) == 8 and {s[-4:] for s, _ in got} == {"+90m"}
    assert got[0][0] == "2026-11-24T17:00Z+90m"


@BOTH
def test_a_series_in_the_organisers_zone_not_the_calendars(
    world: SandboxWorld, tmp_path: Path, origin: Side
) -> None:
    """A meeting organised from India on calendars kept in New York or UTC: its occurrences
    stay at the organiser's wall time (a half-hour offset), on both sides."""
    kolkata = ZoneInfo("Asia/Kolkata")
    start = dt.datetime(2026, 11, 23, 18, 30, tzinfo=kolkata)
    world.person_put(origin, timed(start, 30, "Offshore sync", "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10"))
    r = rules()
    settle(world, tmp_path, r)
    got = same_on_both(world, origin, window_of(r))
    local = {dt.datetime.fromisoformat(s[:16] + ":00+00:00").astimezone(kolkata) for s, _ in got}
    assert len(got) == 10 and {(d.hour, d.minute) for d in local} == {(18, 30)}


@BOTH
def test_changing_the_laptops_zone_between_syncs_moves_no_occurrence(
    world: SandboxWorld, tmp_path: Path, origin: Side, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    world.person_put(origin, timed(start, 30, "Standup", "FREQ=WEEKLY;BYDAY=MO,WE,FR"))
    day = dt.date(2026, 11, 25)
    world.person_put(
        origin,
        Event(
            ref=None,
            when=DaySpan(day, day + dt.timedelta(days=1)),
            title="Offsite",
            recurrence=Recurrence("FREQ=MONTHLY;COUNT=5"),
        ),
    )
    r = rules()
    settle(world, tmp_path, r)
    before = same_on_both(world, origin, window_of(r))
    try:
        for laptop in ("Asia/Tokyo", "America/Los_Angeles"):
            monkeypatch.setenv("TZ", laptop)
            time.tzset()
            again = sync(world, tmp_path, r)
            assert (again.counts["created"], again.counts["updated"], again.counts["deleted"]) == (
                0,
                0,
                0,
            )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert same_on_both(world, origin, window_of(r)) == before
    assert ("2026-11-25", "Offsite") in before  # all-day: a date, in every zone


# --- scale ------------------------------------------------------------------------------------


@BOTH
def test_a_series_with_500_moved_occurrences_syncs_in_batches(
    world: SandboxWorld, tmp_path: Path, origin: Side
) -> None:
    sb = SandboxWorld.sandbox
    ny = ZoneInfo("America/New_York")
    start = dt.datetime(2026, 10, 25, 7, 0, tzinfo=ny)
    master = world.person_put(origin, timed(start, 20, "Check-in", "FREQ=DAILY;COUNT=520"))
    assert master.ref is not None
    moved = []
    for n in range(500):
        was = start + dt.timedelta(days=n)
        now = was + dt.timedelta(hours=2)
        span = TimeSpan(now, now + dt.timedelta(minutes=20), "America/New_York", "America/New_York")
        moved.append(
            Event(
                ref=None,
                when=span,
                title=f"Check-in {n}",
                series_id=master.ref.event_id,
                original_start=was.astimezone(dt.UTC),
            )
        )
    results = world.person[origin].apply(
        world.calendar(origin), [WriteOp.create(e, key=f"p500-{n}") for n, e in enumerate(moved)]
    )
    assert all(res.ok for res in results)
    r = rules(past=30, future=520)
    since = sb.state.log.last_seq
    result = sync(world, tmp_path, r)
    requests = [e for e in sb.state.log.entries(since) if not e.batched]
    assert result.counts["created"] == 501
    # Writes: 501 creates are 26 Graph $batch requests (20 items) or 11 Google batches (50).
    # Outlook finds the 500 occurrences to edit with one /instances listing (one $batch with the
    # series' zone). Reads: a few pages per side, and Outlook's series master by id. Measured:
    # 32 to Outlook, 16 to Google; one round per occurrence would be over 500.
    bound = 26 + 2 + 6 if origin is Side.B else 11 + 7
    assert len(requests) <= bound, Counter(e.endpoint for e in requests)
    got = same_on_both(world, origin, window_of(r))
    assert len(got) == 520 and sum(t != "Check-in" for _, t in got) == 500
    again = sync(world, tmp_path, r)
    assert (again.counts["created"], again.counts["updated"], again.counts["deleted"]) == (0, 0, 0)


# --- bad input --------------------------------------------------------------------------------


def google_post(world: SandboxWorld, body: dict[str, Any]) -> str:
    sb = SandboxWorld.sandbox
    http = trusting_session(sb.ca_cert)
    url = f"{sb.urls.google_api}calendars/{world.b_cal}/events"
    answer = http.post(url, json=body, headers=world.g.auth(), timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_a_series_ending_before_it_starts_is_listed_on_itself_and_the_rest_syncs(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """A rule that ends before its first date is not copied (RFC 5545 would keep that first
    date alone, surely not what was meant): the series is listed with the reason, the rest
    syncs. Rules Google refuses (COUNT with UNTIL, no RRULE) cannot reach Meridian from Google;
    the readers' tests cover them, and test_engine_memory.py unreadable items in the engine."""
    start = {"dateTime": "2026-11-25T09:00:00", "timeZone": "Europe/Berlin"}
    end = {"dateTime": "2026-11-25T09:30:00", "timeZone": "Europe/Berlin"}
    backwards = google_post(
        world,
        {
            "summary": "Ends before it starts",
            "start": start,
            "end": end,
            "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20250101T000000Z"],
        },
    )
    berlin = ZoneInfo("Europe/Berlin")
    lunch = timed(dt.datetime(2026, 11, 26, 12, tzinfo=berlin), 30, "Lunch", "FREQ=WEEKLY;COUNT=3")
    world.person_put(Side.B, lunch)
    r = rules()
    settle(world, tmp_path, r)
    assert Counter(t for _, t in occurrences(world, Side.A, window_of(r))) == {"Lunch": 3}
    listed = [i for i in issues(tmp_path) if i.item_id == backwards]
    assert [i.kind for i in listed] == ["unreadable"]
    assert "ends (UNTIL) before the series' first date" in listed[0].message
