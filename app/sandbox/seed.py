"""The demo seed: one person with a work Outlook mailbox and a personal Google calendar.

Everything is created through the public API paths (via the dispatcher, no sockets), so the seed
is only as rich as the emulation is faithful, and it exercises the same validation as clients.
Dates are relative to today so the demo always has something this week.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from app.sandbox.controls import create_user
from app.sandbox.httpcore import Headers, Request, Response
from app.sandbox.state import SandboxState

WORK_EMAIL = "alex.rivera@contoso.com"
HOME_EMAIL = "alex.rivera.home@gmail.com"
NY = ZoneInfo("America/New_York")

Dispatch = Callable[[Request], Response]


class SeedError(RuntimeError):
    pass


class _Api:
    def __init__(self, dispatch: Dispatch, token: str) -> None:
        self.dispatch = dispatch
        self.token = token

    def call(self, method: str, target: str, body: Any = None, **headers: str) -> Any:
        h = {"Authorization": f"Bearer {self.token}", **headers}
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        resp = self.dispatch(Request(method, target, Headers(h), data))
        if resp.status >= 300:
            raise SeedError(f"seed: {method} {target} -> {resp.status} {resp.body[:300]!r}")
        return resp.json_body()


def _monday(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=today.weekday())


def _g_time(d: dt.date, hh: int, mm: int, tz: str = "America/New_York") -> dict[str, str]:
    local = dt.datetime(d.year, d.month, d.day, hh, mm, tzinfo=ZoneInfo(tz))
    return {"dateTime": local.isoformat(), "timeZone": tz}


def _m_time(d: dt.date, hh: int, mm: int, tz: str = "Eastern Standard Time") -> dict[str, str]:
    return {"dateTime": f"{d.isoformat()}T{hh:02d}:{mm:02d}:00", "timeZone": tz}


def seed_if_empty(sandbox: Any) -> dict[str, Any]:
    """Seed a fresh sandbox; a state folder that already has users is left as it is."""
    state: SandboxState = sandbox.state
    if state.users():
        return {"seeded": False, "reason": "the sandbox already has users"}
    return seed_demo(state, sandbox.dispatcher.handle)


def seed_demo(
    state: SandboxState, dispatch: Dispatch, today: dt.date | None = None
) -> dict[str, Any]:
    today = today or dt.datetime.now(NY).date()
    work = create_user(state, "microsoft", WORK_EMAIL, "Alex Rivera")
    home = create_user(state, "google", HOME_EMAIL, "Alex Rivera")
    graph = _Api(dispatch, work["access_token"])
    google = _Api(dispatch, home["access_token"])
    twin_uid = _seed_work(graph, today)
    _seed_home(google, today, twin_uid)
    return {
        "seeded": True,
        "microsoft": {"id": work["user"]["id"], "email": WORK_EMAIL},
        "google": {"id": home["user"]["id"], "email": HOME_EMAIL},
    }


def _seed_work(graph: _Api, today: dt.date) -> str:
    """Outlook: recurring meetings with exceptions and a cancellation, all-day, zones, private."""
    mon = _monday(today) - dt.timedelta(weeks=3)
    ev = "/v1.0/me/events"
    standup = graph.call(
        "POST",
        ev,
        {
            "subject": "Team standup",
            "body": {"contentType": "text", "content": "Daily blockers, 15 minutes."},
            "start": _m_time(mon, 9, 30),
            "end": _m_time(mon, 9, 45),
            "location": {"displayName": "Teams"},
            "recurrence": {
                "pattern": {
                    "type": "weekly",
                    "interval": 1,
                    "daysOfWeek": ["monday", "wednesday", "friday"],
                    "firstDayOfWeek": "monday",
                },
                "range": {"type": "noEnd", "startDate": mon.isoformat()},
            },
        },
    )
    # Move next week's Wednesday standup to 11:00 and cancel the Friday after it.
    wed = mon + dt.timedelta(weeks=4, days=2)
    fri = wed + dt.timedelta(days=2)
    after = fri + dt.timedelta(days=1)
    window = f"startDateTime={wed.isoformat()}T00:00:00Z&endDateTime={after.isoformat()}T00:00:00Z"
    inst = graph.call("GET", f"{ev}/{standup['id']}/instances?{window}")["value"]
    by_day = {i["start"]["dateTime"][:10]: i for i in inst}
    moved = by_day.get(wed.isoformat())
    if moved:
        graph.call(
            "PATCH",
            f"{ev}/{moved['id']}",
            {
                "start": _m_time(wed, 11, 0),
                "end": _m_time(wed, 11, 15),
                "subject": "Team standup (moved)",
            },
        )
    cancelled = by_day.get(fri.isoformat())
    if cancelled:
        graph.call("DELETE", f"{ev}/{cancelled['id']}")

    last_friday_start = mon.replace(day=1)
    graph.call(
        "POST",
        ev,
        {
            "subject": "Ops review",
            "start": _m_time(last_friday_start, 15, 0),
            "end": _m_time(last_friday_start, 16, 0),
            "recurrence": {
                "pattern": {
                    "type": "relativeMonthly",
                    "interval": 1,
                    "daysOfWeek": ["friday"],
                    "index": "last",
                },
                "range": {
                    "type": "numbered",
                    "startDate": last_friday_start.isoformat(),
                    "numberOfOccurrences": 12,
                },
            },
        },
    )
    offsite = _monday(today) + dt.timedelta(weeks=2, days=3)
    graph.call(
        "POST",
        ev,
        {
            "subject": "Company offsite",
            "isAllDay": True,
            "showAs": "oof",
            "start": {
                "dateTime": f"{offsite.isoformat()}T00:00:00",
                "timeZone": "Eastern Standard Time",
            },
            "end": {
                "dateTime": f"{(offsite + dt.timedelta(days=2)).isoformat()}T00:00:00",
                "timeZone": "Eastern Standard Time",
            },
        },
    )
    tue = _monday(today) + dt.timedelta(days=1)
    graph.call(
        "POST",
        ev,
        {
            "subject": "Call with Berlin office",
            "start": _m_time(tue + dt.timedelta(weeks=1), 10, 0, "W. Europe Standard Time"),
            "end": _m_time(tue + dt.timedelta(weeks=1), 10, 45, "W. Europe Standard Time"),
            "showAs": "busy",
        },
    )
    graph.call(
        "POST",
        ev,
        {
            "subject": "Doctor appointment",
            "sensitivity": "private",
            "showAs": "oof",
            "start": _m_time(tue + dt.timedelta(days=2), 8, 0),
            "end": _m_time(tue + dt.timedelta(days=2), 9, 0),
        },
    )
    graph.call(
        "POST",
        ev,
        {
            "subject": "Lunch & learn: accessibility",
            "showAs": "tentative",
            "start": _m_time(today + dt.timedelta(days=3), 12, 0),
            "end": _m_time(today + dt.timedelta(days=3), 13, 0),
        },
    )
    # The meeting Alex is invited to at both addresses: an outside organiser, one iCalendar UID.
    twin = graph.call(
        "POST",
        ev,
        {
            "subject": "Partner sync: Contoso x Fabrikam",
            "start": _m_time(today + dt.timedelta(days=1), 16, 0),
            "end": _m_time(today + dt.timedelta(days=1), 16, 30),
            "location": {"displayName": "Fabrikam HQ, Room 4"},
        },
    )
    return str(twin["iCalUId"])


def _seed_home(google: _Api, today: dt.date, twin_uid: str) -> None:
    """Google: a weekly series with a moved and a cancelled instance, all-day, zones, private."""
    cal = "/calendar/v3/calendars/primary/events"
    thu = _monday(today) - dt.timedelta(weeks=3) + dt.timedelta(days=3)
    climbing = google.call(
        "POST",
        cal,
        {
            "summary": "Climbing",
            "location": "Brooklyn Boulders",
            "start": _g_time(thu, 19, 0),
            "end": _g_time(thu, 21, 0),
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TH"],
        },
    )
    moved_day = thu + dt.timedelta(weeks=4)
    moved_utc = dt.datetime(moved_day.year, moved_day.month, moved_day.day, 19, 0, tzinfo=NY)
    moved_id = f"{climbing['id']}_{moved_utc.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
    google.call(
        "PATCH",
        f"{cal}/{moved_id}",
        {"start": _g_time(moved_day, 20, 0), "end": _g_time(moved_day, 22, 0)},
    )
    gone_day = thu + dt.timedelta(weeks=5)
    gone_utc = dt.datetime(gone_day.year, gone_day.month, gone_day.day, 19, 0, tzinfo=NY)
    google.call(
        "DELETE", f"{cal}/{climbing['id']}_{gone_utc.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
    )

    google.call(
        "POST",
        cal,
        {
            "summary": "Sam's birthday",
            "start": {"date": "2024-02-29"},
            "end": {"date": "2024-03-01"},
            "recurrence": ["RRULE:FREQ=YEARLY"],
            "transparency": "transparent",
        },
    )
    trip = _monday(today) + dt.timedelta(weeks=5)
    google.call(
        "POST",
        cal,
        {
            "summary": "Vacation: Lisbon",
            "start": {"date": trip.isoformat()},
            "end": {"date": (trip + dt.timedelta(days=5)).isoformat()},
        },
    )
    google.call(
        "POST",
        cal,
        {
            "summary": "Call with family in Tokyo",
            "start": _g_time(today + dt.timedelta(days=2), 8, 0, "Asia/Tokyo"),
            "end": _g_time(today + dt.timedelta(days=2), 9, 0, "Asia/Tokyo"),
        },
    )
    google.call(
        "POST",
        cal,
        {
            "summary": "Therapy",
            "visibility": "private",
            "start": _g_time(today + dt.timedelta(days=4), 17, 0),
            "end": _g_time(today + dt.timedelta(days=4), 18, 0),
        },
    )
    google.call(
        "POST",
        cal + "/import",
        {
            "iCalUID": twin_uid,
            "summary": "Partner sync: Contoso x Fabrikam",
            "start": _g_time(today + dt.timedelta(days=1), 16, 0),
            "end": _g_time(today + dt.timedelta(days=1), 16, 30),
            "location": "Fabrikam HQ, Room 4",
            "organizer": {"email": "jordan@fabrikam.example", "displayName": "Jordan Lee"},
            "attendees": [
                {
                    "email": "jordan@fabrikam.example",
                    "organizer": True,
                    "responseStatus": "accepted",
                },
                {"email": HOME_EMAIL, "self": True, "responseStatus": "accepted"},
                {"email": WORK_EMAIL, "responseStatus": "accepted"},
            ],
        },
    )
