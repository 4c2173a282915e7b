"""The canonical event: one shape for whatever cloud an event came from.

Providers translate to and from it; the planner compares snapshots of it. Everything is frozen so
that a snapshot stored for a link can never be changed by accident, and ``content_hash`` ignores
what servers churn (etag, updated, sequence, field order, id formats) so that only a change a
person made counts as a change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any


class ShowAs(StrEnum):
    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OUT_OF_OFFICE = "oof"
    WORKING_ELSEWHERE = "workingElsewhere"


class Privacy(StrEnum):
    NORMAL = "normal"  # Google "default"/"public", Graph "normal"
    PERSONAL = "personal"  # Graph only; Google has no equivalent and gets "private"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class Status(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"  # Google's organiser-tentative event; Graph has no such status
    CANCELLED = "cancelled"


class Response(StrEnum):
    NEEDS_ACTION = "needsAction"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


class Provider(StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"
    MEMORY = "memory"


@dataclass(frozen=True, order=True)
class Person:
    email: str
    name: str = ""


@dataclass(frozen=True, order=True)
class Attendee:
    email: str
    name: str = ""
    response: Response = Response.NEEDS_ACTION
    optional: bool = False
    resource: bool = False


@dataclass(frozen=True, order=True)
class Reminder:
    minutes: int
    method: str = "popup"  # "popup" or "email"; Graph holds one popup reminder only


@dataclass(frozen=True)
class TimeSpan:
    """A timed event: aware instants, and the IANA zones the person set them in.

    The zones matter for recurring series (a series expands in its own zone) and for how the copy
    looks; the instants are what must never shift.
    """

    start: dt.datetime
    end: dt.datetime
    start_tz: str
    end_tz: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("TimeSpan needs aware datetimes")
        # Compare instants: within one zone Python compares wall times and ignores the DST fold,
        # which would refuse 01:45 EDT -> 01:15 EST (30 minutes across the repeated hour).
        if self.end.astimezone(dt.UTC) < self.start.astimezone(dt.UTC):
            raise ValueError(f"event ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class DaySpan:
    """An all-day event: dates, end exclusive (as both Google and Graph count them)."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if isinstance(self.start, dt.datetime) or isinstance(self.end, dt.datetime):
            raise ValueError("DaySpan holds dates, not datetimes")
        if self.end <= self.start:
            raise ValueError(
                f"all-day event ends ({self.end}) on or before it starts ({self.start})"
            )


When = TimeSpan | DaySpan


@dataclass(frozen=True)
class Recurrence:
    """A series rule in RFC 5545 terms, filled in by core.recurrence.

    ``rrule`` is the RRULE value without the "RRULE:" prefix; ``exdates``/``rdates`` are
    original starts (UTC instants, or dates for all-day series).
    """

    rrule: str
    exdates: tuple[dt.datetime | dt.date, ...] = ()
    rdates: tuple[dt.datetime | dt.date, ...] = ()


@dataclass(frozen=True)
class EventRef:
    """Where an event lives: enough to read, update or delete it again."""

    provider: Provider
    calendar_id: str
    event_id: str


@dataclass(frozen=True)
class Event:
    # Identity and server metadata: never part of the content hash.
    ref: EventRef | None
    when: When
    title: str = ""
    ical_uid: str | None = None
    etag: str | None = None
    updated: dt.datetime | None = None
    # Content.
    description: str = ""  # plain text
    description_html: str | None = None  # the original HTML, kept for a lossless write-back
    location: str = ""
    show_as: ShowAs = ShowAs.BUSY
    privacy: Privacy = Privacy.NORMAL
    status: Status = Status.CONFIRMED
    reminders: tuple[Reminder, ...] = ()
    reminders_default: bool = True  # Google "useDefault"; Graph: reminder on with the default
    categories: tuple[str, ...] = ()
    color: str | None = None  # Google colorId; Graph categories carry colour by name
    organizer: Person | None = None
    attendees: tuple[Attendee, ...] = ()
    online_meeting_url: str | None = None
    recurrence: Recurrence | None = None
    # For an occurrence or exception of a series: the series' id and the original start.
    series_id: str | None = None
    original_start: dt.datetime | dt.date | None = None
    # Provenance tag read from the event (see ARCHITECTURE.md "Identity across crashes").
    tag: str | None = None
    # The idempotency key the event was created with, when the cloud shows it (a Google id
    # chosen by us, a Graph transactionId): tells our own copies from pasted duplicates.
    created_key: str | None = None
    # What a write had to drop or shorten, shown to the person on the item.
    losses: tuple[str, ...] = field(default=(), compare=False)
    # Where the event opens in its cloud's web calendar (Google htmlLink, Graph webLink).
    web_link: str | None = None
    # The fingerprint of the last synced view, kept in our extended property (core.fingerprint).
    synced: str | None = None

    @property
    def all_day(self) -> bool:
        return isinstance(self.when, DaySpan)

    @property
    def is_series(self) -> bool:
        return self.recurrence is not None

    def content_hash(self) -> str:
        return content_hash(self)

    def with_changes(self, **changes: Any) -> Event:
        return replace(self, **changes)


# Fields that are identity, server churn or our bookkeeping, not what a person edits.
_NOT_CONTENT = {
    "ref",
    "etag",
    "updated",
    "ical_uid",
    "tag",
    "created_key",
    "losses",
    "series_id",
    "web_link",
    "synced",
}


def _utc(value: dt.datetime) -> str:
    u = value.astimezone(dt.UTC)
    if u.year >= 1000 and type(u) is dt.datetime:
        # The same text as the strftime below, at a fifth of its cost (a view holds several);
        # %Y is not zero-padded below 1000 on every platform, so those years keep strftime.
        return u.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    return u.strftime("%Y-%m-%dT%H:%M:%SZ")


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # Instants compare in UTC so that Graph's UTC answer and Google's local one agree.
        return _utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, TimeSpan):
        return {"start": _norm(value.start), "end": _norm(value.end)}
    if isinstance(value, DaySpan):
        return {"startDate": _norm(value.start), "endDate": _norm(value.end)}
    if isinstance(value, tuple):
        return [_norm(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _norm(getattr(value, f.name)) for f in fields(value)}
    return value


# What _norm returns unchanged. The helpers below give _norm's result for the types an event
# holds without its generic walk (``fields()`` per value), and hand anything else to _norm.
_AS_IS = frozenset({str, bool, int, float, type(None)})


def _plain(value: Any) -> Any:
    return value if type(value) in _AS_IS else _norm(value)


def _item(value: Any) -> Any:
    t = type(value)
    if t is Attendee:
        return {
            "email": _plain(value.email),
            "name": _plain(value.name),
            "response": _norm(value.response),
            "optional": _plain(value.optional),
            "resource": _plain(value.resource),
        }
    if t is Reminder:
        return {"minutes": _plain(value.minutes), "method": _plain(value.method)}
    if t is Person:
        return {"email": _plain(value.email), "name": _plain(value.name)}
    return _plain(value)


def _items(values: Any) -> Any:
    return [_item(v) for v in values] if type(values) is tuple else _norm(values)


def _when(event: Event) -> Any:
    w = event.when
    if type(w) is TimeSpan:
        out = {"start": _norm(w.start), "end": _norm(w.end)}
    elif type(w) is DaySpan:
        out = {"startDate": _norm(w.start), "endDate": _norm(w.end)}
    else:
        out = _norm(w)
    if event.recurrence is not None and isinstance(event.when, TimeSpan):
        # A series expands in its zone, so for series the zone is content, not presentation.
        out["tz"] = event.when.start_tz
    return out


# Order never matters to a person: attendees, reminders and categories compare as sets.
def _attendees(event: Event) -> Any:
    out = sorted(_items(event.attendees), key=lambda a: a["email"].lower())
    for a in out:
        a["email"] = a["email"].lower()
    return out


def _reminders(event: Event) -> Any:
    return sorted(_items(event.reminders), key=lambda r: (r["minutes"], r["method"]))


def _categories(event: Event) -> Any:
    return sorted(_items(event.categories))


def _recurrence(event: Event) -> Any:
    r = event.recurrence
    if type(r) is Recurrence:
        out: Any = {
            "rrule": _plain(r.rrule),
            "exdates": _items(r.exdates),
            "rdates": _items(r.rdates),
        }
    else:
        out = _norm(r)
    if out:
        # A set of dates: the order a cloud lists them in is not content.
        for key in ("exdates", "rdates"):
            out[key] = sorted(out[key])
    return out


_SPECIAL: dict[str, Any] = {
    "when": _when,
    "attendees": _attendees,
    "reminders": _reminders,
    "categories": _categories,
    "recurrence": _recurrence,
    "organizer": lambda e: _item(e.organizer),
}


def _field(name: str) -> Any:
    return _SPECIAL.get(name) or (lambda e: _plain(getattr(e, name)))


# Content field -> its normalised value, in the order of the dataclass (that of content_dict).
# HTML is kept for write-back only; the plain text is what the person sees and edits.
_CONTENT: dict[str, Any] = {
    f.name: _field(f.name)
    for f in fields(Event)
    if f.name not in _NOT_CONTENT and f.name != "description_html"
}


def content_dict(event: Event) -> dict[str, Any]:
    """The person-visible content of an event, normalised for comparison and hashing."""
    if type(event) is not Event:
        return _content_dict(event)
    return {name: norm(event) for name, norm in _CONTENT.items()}


def content_fields(event: Event, names: Iterable[str]) -> dict[str, Any]:
    """``content_dict`` restricted to ``names`` (in their order): only those are computed."""
    if type(event) is not Event:
        content = _content_dict(event)
        return {f: content[f] for f in names if f in content}
    table = _CONTENT
    return {f: table[f](event) for f in names if f in table}


def _content_dict(event: Event) -> dict[str, Any]:
    """content_dict's generic form, for a subclass of Event (whose fields may be others)."""
    out: dict[str, Any] = {}
    for f in fields(event):
        if f.name in _NOT_CONTENT:
            continue
        out[f.name] = _norm(getattr(event, f.name))
    out["attendees"] = sorted(out["attendees"], key=lambda a: a["email"].lower())
    for a in out["attendees"]:
        a["email"] = a["email"].lower()
    out["reminders"] = sorted(out["reminders"], key=lambda r: (r["minutes"], r["method"]))
    out["categories"] = sorted(out["categories"])
    if out.get("recurrence"):
        for key in ("exdates", "rdates"):
            out["recurrence"][key] = sorted(out["recurrence"][key])
    if event.recurrence is not None and isinstance(event.when, TimeSpan):
        out["when"]["tz"] = event.when.start_tz
    out.pop("description_html")
    return out


def content_hash(event: Event) -> str:
    blob = json.dumps(
        content_dict(event), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def changed_fields(a: Event, b: Event) -> set[str]:
    """Names of content fields that differ between two versions of the same event."""
    da, db = content_dict(a), content_dict(b)
    return {k for k in da.keys() | db.keys() if da.get(k) != db.get(k)}
