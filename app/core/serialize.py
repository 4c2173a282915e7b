"""Events to JSON and back, exactly (for the link snapshots in the state database)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from app.core.model import (
    Attendee,
    DaySpan,
    Event,
    EventRef,
    Person,
    Privacy,
    Provider,
    Recurrence,
    Reminder,
    Response,
    ShowAs,
    Status,
    TimeSpan,
)


def _dt(value: dt.datetime) -> list[str]:
    # The instant in UTC plus the zone key, so the datetime comes back in the same zone.
    key = getattr(value.tzinfo, "key", None) or "UTC"
    return [value.astimezone(dt.UTC).isoformat(), key]


def _from_dt(raw: list[str]) -> dt.datetime:
    return dt.datetime.fromisoformat(raw[0]).astimezone(ZoneInfo(raw[1]))


def _stamp(value: dt.datetime | dt.date) -> Any:
    return _dt(value) if isinstance(value, dt.datetime) else value.isoformat()


def _from_stamp(raw: Any) -> dt.datetime | dt.date:
    return _from_dt(raw) if isinstance(raw, list) else dt.date.fromisoformat(raw)


def event_to_json(e: Event) -> dict[str, Any]:
    # (Enum members' ``_value_``: the same text as ``.value``, which is a descriptor call in
    # Python; a run stores two events per link it writes.)
    when: dict[str, Any]
    w = e.when
    if isinstance(w, TimeSpan):
        when = {
            "start": _dt(w.start),
            "end": _dt(w.end),
            "start_tz": w.start_tz,
            "end_tz": w.end_tz,
        }
    else:
        when = {"start_date": w.start.isoformat(), "end_date": w.end.isoformat()}
    ref, rec, organizer = e.ref, e.recurrence, e.organizer
    out = {
        "ref": [ref.provider._value_, ref.calendar_id, ref.event_id] if ref else None,
        "when": when,
        "title": e.title,
        "ical_uid": e.ical_uid,
        "etag": e.etag,
        "updated": _dt(e.updated) if e.updated else None,
        "description": e.description,
        "description_html": e.description_html,
        "location": e.location,
        "show_as": e.show_as._value_,
        "privacy": e.privacy._value_,
        "status": e.status._value_,
        "reminders": [[r.minutes, r.method] for r in e.reminders],
        "reminders_default": e.reminders_default,
        "categories": list(e.categories),
        "color": e.color,
        "organizer": [organizer.email, organizer.name] if organizer else None,
        "attendees": [
            [a.email, a.name, a.response._value_, a.optional, a.resource] for a in e.attendees
        ],
        "online_meeting_url": e.online_meeting_url,
        "recurrence": None
        if rec is None
        else {
            "rrule": rec.rrule,
            "exdates": [_stamp(x) for x in rec.exdates],
            "rdates": [_stamp(x) for x in rec.rdates],
        },
        "series_id": e.series_id,
        "original_start": _stamp(e.original_start) if e.original_start is not None else None,
        "tag": e.tag,
        "created_key": e.created_key,
        "losses": list(e.losses),
    }
    # Only when a cloud named one (an event built here has none): snapshots stay small.
    if e.web_link:
        out["web_link"] = e.web_link
    if e.synced:
        out["synced"] = e.synced
    return out


def event_from_json(d: dict[str, Any]) -> Event:
    w = d["when"]
    when: TimeSpan | DaySpan
    if "start" in w:
        when = TimeSpan(_from_dt(w["start"]), _from_dt(w["end"]), w["start_tz"], w["end_tz"])
    else:
        when = DaySpan(dt.date.fromisoformat(w["start_date"]), dt.date.fromisoformat(w["end_date"]))
    rec = d["recurrence"]
    return Event(
        ref=EventRef(Provider(d["ref"][0]), d["ref"][1], d["ref"][2]) if d["ref"] else None,
        when=when,
        title=d["title"],
        ical_uid=d["ical_uid"],
        etag=d["etag"],
        updated=_from_dt(d["updated"]) if d["updated"] else None,
        description=d["description"],
        description_html=d["description_html"],
        location=d["location"],
        show_as=ShowAs(d["show_as"]),
        privacy=Privacy(d["privacy"]),
        status=Status(d["status"]),
        reminders=tuple(Reminder(m, k) for m, k in d["reminders"]),
        reminders_default=d["reminders_default"],
        categories=tuple(d["categories"]),
        color=d["color"],
        organizer=Person(*d["organizer"]) if d["organizer"] else None,
        attendees=tuple(Attendee(a[0], a[1], Response(a[2]), a[3], a[4]) for a in d["attendees"]),
        online_meeting_url=d["online_meeting_url"],
        recurrence=None
        if rec is None
        else Recurrence(
            rec["rrule"],
            tuple(_from_stamp(x) for x in rec["exdates"]),
            tuple(_from_stamp(x) for x in rec["rdates"]),
        ),
        series_id=d["series_id"],
        original_start=_from_stamp(d["original_start"])
        if d["original_start"] is not None
        else None,
        tag=d["tag"],
        created_key=d.get("created_key"),
        losses=tuple(d["losses"]),
        web_link=d.get("web_link"),
        synced=d.get("synced"),
    )
