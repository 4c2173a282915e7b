"""Google Calendar v3 event resources <-> the canonical ``Event``: pure functions, no HTTP.

Reading (``event_from_google``)
- Times: a ``dateTime``'s offset fixes the instant; the zone it is shown in is ``timeZone``, else
  the calendar's zone (``calendar_tz``), else the offset itself: "UTC" for +00:00, the IANA fixed
  zone "Etc/GMT-5" for a whole-hour offset such as +05:00, and "UTC" for offsets such as +05:30
  that no IANA fixed zone names (the instant never moves, only its presentation).
  A ``dateTime`` without an offset is a wall time in ``timeZone`` and is unreadable without one.
- Descriptions: HTML (``htmltext.looks_like_html``) is kept in ``description_html`` and rendered
  into ``description``. When our own meeting-details block ends the description (plain text, or
  the escaped ``<pre>`` block we append to HTML), organizer, attendees and join link come from it.
  A calendar owner's own event with no guests has no organizer (it would only name the owner).
- Cancelled items have a minimal form whatever Google included: status, ref, and for an instance
  ``series_id``/``original_start``; ``when`` is the original start (zero length), or the epoch for
  a cancelled master or single, which a provider reports as deleted instead.

Writing (``event_to_google``)
- Never ``attendees`` or ``organizer``: they travel in the description (``copynote``).
- What Google cannot hold is kept in ``extendedProperties.private`` so that it reads back:
  ``meridianShowAs`` (tentative, oof, workingElsewhere), ``meridianPrivacy`` (personal),
  ``meridianCategories`` (a JSON list), and ``meridianDescFormat`` ("text:<digest>" or
  "html:<digest>") when the HTML test would guess a description's format wrong. Each is honoured
  on read only while Google's own fields still agree with it (an edit in Google's UI wins).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import re
from typing import Any, Final

from app.core.identity import tag_from_key
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
    When,
)
from app.core.recurrence import RecurrenceError, recurrence_from_google, recurrence_to_google
from app.core.timezones import canonical_iana, to_utc, zone
from app.errors import ItemError, Unparseable
from app.providers import copynote
from app.providers.htmltext import html_to_text, looks_like_html

# [U] Google documents no limit on descriptions; 8 KB is what its web UI lets a person type.
# Counted in code points. A longer description is shortened (never the meeting-details block).
GOOGLE_MAX_DESCRIPTION: Final = 8192
SHORTENED_MARKER: Final = "… [shortened by Meridian]"
MAX_OVERRIDES: Final = 5  # reminders.overrides (api-spec §1.3)
MAX_REMINDER_MINUTES: Final = 40320
MAX_PROPERTY_VALUE: Final = 1024  # extendedProperties values; longer ones are truncated (§1.8)
COLOR_IDS: Final = frozenset(str(n) for n in range(1, 12))

TAG_KEY: Final = "meridianSource"
SYNCED_KEY: Final = "meridianSynced"  # the last synced view (core.fingerprint)
SHOW_AS_KEY: Final = "meridianShowAs"
PRIVACY_KEY: Final = "meridianPrivacy"
CATEGORIES_KEY: Final = "meridianCategories"
DESC_FORMAT_KEY: Final = "meridianDescFormat"
_MANAGED_KEYS: Final = (SHOW_AS_KEY, PRIVACY_KEY, CATEGORIES_KEY, DESC_FORMAT_KEY)

_RESPONSES: Final = {r.value: r for r in Response}
_VISIBILITY: Final = {
    "default": Privacy.NORMAL,
    "public": Privacy.NORMAL,
    "private": Privacy.PRIVATE,
    "confidential": Privacy.CONFIDENTIAL,
}
_VISIBILITY_OUT: Final = {
    Privacy.NORMAL: "default",
    Privacy.PERSONAL: "private",
    Privacy.PRIVATE: "private",
    Privacy.CONFIDENTIAL: "confidential",
}
# Working elsewhere does not block time (Google's own workingLocation events are transparent).
_TRANSPARENT: Final = frozenset({ShowAs.FREE, ShowAs.WORKING_ELSEWHERE})
_EVENT_TYPES: Final = {
    "outOfOffice": ShowAs.OUT_OF_OFFICE,
    "workingLocation": ShowAs.WORKING_ELSEWHERE,
}
_STATUSES: Final = {s.value: s for s in Status}
_SHOW_AS_VALUES: Final = frozenset(s.value for s in ShowAs)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?"
)
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def tag_filter(tag: str) -> str:
    """The ``privateExtendedProperty`` query value that finds our copies with this tag."""
    return f"{TAG_KEY}={tag}"


def instance_id(series_id: str, original_start: dt.datetime | dt.date) -> str:
    """Google's id of one occurrence: ``<id>_<YYYYMMDDTHHMMSSZ>`` (UTC), or ``<id>_<YYYYMMDD>``.

    Observed, not documented (api-spec §1.5); the all-day form is [U].
    """
    if isinstance(original_start, dt.datetime):
        return f"{series_id}_{to_utc(original_start).strftime('%Y%m%dT%H%M%SZ')}"
    return f"{series_id}_{original_start.strftime('%Y%m%d')}"


# --- reading ----------------------------------------------------------------------------------


def event_from_google(
    item: dict[str, Any], calendar_id: str, calendar_tz: str | None = None
) -> Event:
    """Read one Google event resource. Raises ``Unparseable`` naming the id and the reason."""
    if not isinstance(item, dict):
        raise Unparseable(f"Google event: not an object but {type(item).__name__}")
    event_id = item.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise Unparseable(f"Google event: no id ({_show(event_id)})")
    try:
        return _read(item, event_id, calendar_id, calendar_tz)
    except Unparseable:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise Unparseable(f"Google event {event_id!r}: {exc}") from exc


class _Bad(ValueError):
    """Why an item cannot be read; event_from_google turns it into Unparseable."""


def _read(item: dict[str, Any], event_id: str, calendar_id: str, calendar_tz: str | None) -> Event:
    ref = EventRef(Provider.GOOGLE, calendar_id, event_id)
    series_id = _opt_str(item, "recurringEventId")
    original_start = _original_start(item.get("originalStartTime"), calendar_tz)
    status = _STATUSES.get(_opt_str(item, "status") or "confirmed")
    if status is None:
        raise _Bad(f"unknown status {_show(item.get('status'))}")
    meta: dict[str, Any] = {
        # Server metadata is read leniently: a wrong type there says nothing about the event.
        "ical_uid": item.get("iCalUID") if isinstance(item.get("iCalUID"), str) else None,
        "etag": item.get("etag") if isinstance(item.get("etag"), str) else None,
        "updated": _lenient_instant(item.get("updated")),
        # Our copies have ids we chose (core.identity keys), so the id names the tag as well.
        "created_key": event_id if tag_from_key(event_id) else None,
        "web_link": item.get("htmlLink") if isinstance(item.get("htmlLink"), str) else None,
    }
    if status is Status.CANCELLED:
        return Event(ref, _placeholder(original_start), status=status, series_id=series_id,
                     original_start=original_start, tag=tag_from_key(event_id), **meta)  # fmt: skip
    when = _when(item, calendar_tz)
    private = _private_props(item)
    description, description_html, details = _read_description(item, private)
    attendees = tuple(_attendee(a) for a in _list(item, "attendees") if a.get("email"))
    organizer = _organizer(item.get("organizer"), calendar_id, bool(attendees))
    url = _meeting_url(item)
    if details is not None:
        organizer, attendees = details.organizer, details.attendees
        url = details.online_meeting_url or url
    reminders_default, reminders = _reminders(item.get("reminders"))
    color = _opt_str(item, "colorId")
    return Event(
        ref,
        when,
        title=_opt_str(item, "summary") or "",
        description=description,
        description_html=description_html,
        location=_opt_str(item, "location") or "",
        show_as=_show_as(item, private),
        privacy=_privacy(item, private),
        status=status,
        reminders=reminders,
        reminders_default=reminders_default,
        categories=_categories(private.get(CATEGORIES_KEY)),
        color=color,
        organizer=organizer,
        attendees=attendees,
        online_meeting_url=url,
        recurrence=_recurrence_in(item, when) if series_id is None else None,
        series_id=series_id,
        original_start=original_start,
        tag=private.get(TAG_KEY) or tag_from_key(event_id),
        synced=private.get(SYNCED_KEY),
        **meta,
    )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _opt_str(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):  # no value in messages: it is content
        raise _Bad(f"{key} is not a string but {type(value).__name__}")
    return value


def _list(item: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = item.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Bad(f"{key} is not a list of objects but {type(value).__name__}")
    return value


def _parse_datetime(text: object) -> dt.datetime:
    """RFC 3339 date-time; naive when it has no offset. Raises _Bad."""
    m = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise _Bad(f"not an RFC 3339 dateTime: {_show(text)}")
    if m.group(7) is None and m.group(8) != "z" and m.string[10] == "T":
        # The common shape, which fromisoformat reads alike and five times faster; what it
        # refuses (month 13, offset +24:00) goes the long way, which says why.
        with contextlib.suppress(ValueError):
            return dt.datetime.fromisoformat(m.string)
    return _datetime_of(m)


def _datetime_of(m: re.Match[str]) -> dt.datetime:
    y, mo, d, h, mi, s, frac, off = m.groups()
    tz: dt.tzinfo | None = None
    if off in ("Z", "z"):
        tz = dt.UTC
    elif off:
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            raise _Bad(f"bad offset in {_show(m.string)}")
        tz = dt.timezone((-1 if off[0] == "-" else 1) * dt.timedelta(hours=oh, minutes=om))
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tz)
    except ValueError as exc:
        raise _Bad(f"invalid dateTime {_show(m.string)}: {exc}") from exc


def _lenient_instant(value: object) -> dt.datetime | None:
    try:
        parsed = _parse_datetime(value)
    except _Bad:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None


def _parse_date(text: object) -> dt.date:
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise _Bad(f"not a date (YYYY-MM-DD): {_show(text)}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise _Bad(f"invalid date {_show(text)}: {exc}") from exc


def _fixed_zone_name(offset: dt.timedelta) -> str:
    """An IANA name for a bare offset: Etc/GMT-N for whole hours (POSIX sign), else UTC."""
    seconds = int(offset.total_seconds())
    if seconds % 3600 == 0 and -12 <= seconds // 3600 <= 14 and seconds:
        return f"Etc/GMT{-seconds // 3600:+d}"
    return "UTC"


def _zone_of(name: object) -> str | None:
    if not isinstance(name, str) or zone(name) is None:
        return None
    return canonical_iana(name)


def _read_datetime(value: dict[str, Any], calendar_tz: str | None) -> tuple[dt.datetime, str]:
    tz_field = value.get("timeZone")
    if tz_field is not None and not isinstance(tz_field, str):
        raise _Bad(f"timeZone is not a string: {_show(tz_field)}")
    parsed = _parse_datetime(value.get("dateTime"))
    named = _zone_of(tz_field)
    if parsed.tzinfo is None:
        if named is None:
            raise _Bad(f"dateTime {value['dateTime']!r} has no offset and no known timeZone")
        local = parsed.replace(tzinfo=zone(named))
        return local.astimezone(dt.UTC).astimezone(zone(named)), named  # skipped times move on
    offset = parsed.utcoffset()
    assert offset is not None
    name = named or _zone_of(calendar_tz) or _fixed_zone_name(offset)
    return parsed.astimezone(zone(name)), name


def _edt(value: object, what: str, calendar_tz: str | None) -> tuple[dt.datetime, str] | dt.date:
    if not isinstance(value, dict):
        raise _Bad(f"no {what} ({_show(value)})")
    has_date, has_time = value.get("date") is not None, value.get("dateTime") is not None
    if has_date == has_time:
        raise _Bad(f"{what} needs exactly one of date and dateTime: {_show(value)}")
    if has_date:
        return _parse_date(value["date"])
    return _read_datetime(value, calendar_tz)


def _when(item: dict[str, Any], calendar_tz: str | None) -> When:
    start = _edt(item.get("start"), "start", calendar_tz)
    end = _edt(item.get("end"), "end", calendar_tz)
    if isinstance(start, tuple) and isinstance(end, tuple):
        return TimeSpan(start[0], end[0], start[1], end[1])
    if isinstance(start, dt.date) and isinstance(end, dt.date):
        return DaySpan(start, end)
    raise _Bad("start and end must both be dates or both be dateTimes")


def _original_start(value: object, calendar_tz: str | None) -> dt.datetime | dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):  # the G-REC example shows a bare string (api-spec §1.3)
        value = {"dateTime": value}
    parsed = _edt(value, "originalStartTime", calendar_tz)
    return parsed[0].astimezone(dt.UTC) if isinstance(parsed, tuple) else parsed


def _placeholder(original_start: dt.datetime | dt.date | None) -> When:
    if isinstance(original_start, dt.datetime):
        return TimeSpan(original_start, original_start, "UTC", "UTC")
    if isinstance(original_start, dt.date):
        return DaySpan(original_start, original_start + dt.timedelta(days=1))
    return TimeSpan(_EPOCH, _EPOCH, "UTC", "UTC")


def _private_props(item: dict[str, Any]) -> dict[str, str]:
    props = item.get("extendedProperties") or {}
    private = props.get("private") if isinstance(props, dict) else None
    if not isinstance(private, dict):
        return {}
    return {k: v for k, v in private.items() if isinstance(k, str) and isinstance(v, str)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read_description(
    item: dict[str, Any], private: dict[str, str]
) -> tuple[str, str | None, copynote.MeetingDetails | None]:
    raw = _opt_str(item, "description") or ""
    fmt, _, digest = private.get(DESC_FORMAT_KEY, "").partition(":")
    is_html = fmt == "html" if fmt in ("html", "text") and digest == _digest(raw) else None
    if not (looks_like_html(raw) if is_html is None else is_html):
        text, details = copynote.split(raw)
        return text, None, details
    head, details = _split_html_block(raw)
    if details is not None:
        return html_to_text(head), head, details
    text, details = copynote.split(html_to_text(raw))
    # A block we cannot cut out of the HTML would travel on with it: keep the plain text only.
    return text, (None if details is not None else raw), details


def _split_html_block(markup: str) -> tuple[str, copynote.MeetingDetails | None]:
    """Cut the ``<pre>`` block ``copynote.append_html`` adds, if it is there intact."""
    start = markup.rfind("<pre>")
    if start < 0 or not markup.endswith("</pre>"):
        return markup, None
    head, details = copynote.split(html.unescape(markup[start + 5 : -6]))
    if head or details is None:
        return markup, None
    return markup[:start], details


def _attendee(a: dict[str, Any]) -> Attendee:
    email = _opt_str(a, "email") or ""  # callers skip guests without an address
    response = _RESPONSES.get(_opt_str(a, "responseStatus") or "", Response.NEEDS_ACTION)
    for flag in ("optional", "resource"):
        if a.get(flag) is not None and not isinstance(a[flag], bool):
            raise _Bad(f"attendee {flag} is not a boolean: {_show(a[flag])}")
    return Attendee(email, _opt_str(a, "displayName") or "", response,
                    bool(a.get("optional")), bool(a.get("resource")))  # fmt: skip


def _organizer(value: object, calendar_id: str, has_guests: bool) -> Person | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad(f"organizer is not an object: {_show(value)}")
    email = _opt_str(value, "email")
    if not email:
        return None
    is_self = value.get("self") is True or email.lower() == calendar_id.lower()
    if is_self and not has_guests:
        return None
    return Person(email, _opt_str(value, "displayName") or "")


def _meeting_url(item: dict[str, Any]) -> str | None:
    link = _opt_str(item, "hangoutLink")
    if link:
        return link
    conference = item.get("conferenceData")
    points = conference.get("entryPoints") if isinstance(conference, dict) else None
    for point in points if isinstance(points, list) else []:
        if isinstance(point, dict) and point.get("entryPointType") == "video":
            uri = point.get("uri")
            if isinstance(uri, str) and uri:
                return uri
    return None


def _reminders(value: object) -> tuple[bool, tuple[Reminder, ...]]:
    if value is None:
        return True, ()
    if not isinstance(value, dict):
        raise _Bad(f"reminders is not an object: {_show(value)}")
    use_default = value.get("useDefault", False)
    if not isinstance(use_default, bool):
        raise _Bad(f"reminders.useDefault is not a boolean: {_show(use_default)}")
    out = []
    for o in _list(value, "overrides"):
        minutes, method = o.get("minutes"), _opt_str(o, "method") or "popup"
        if not isinstance(minutes, int) or isinstance(minutes, bool):
            raise _Bad(f"reminder minutes is not an integer: {_show(minutes)}")
        out.append(Reminder(minutes, method))
    return use_default, tuple(out)


def _show_as(item: dict[str, Any], private: dict[str, str]) -> ShowAs:
    event_type = _opt_str(item, "eventType")
    if event_type in _EVENT_TYPES:
        return _EVENT_TYPES[event_type]
    transparent = _opt_str(item, "transparency") == "transparent"
    kept = private.get(SHOW_AS_KEY)
    if kept in _SHOW_AS_VALUES and (ShowAs(kept) in _TRANSPARENT) == transparent:
        return ShowAs(kept)
    return ShowAs.FREE if transparent else ShowAs.BUSY


def _privacy(item: dict[str, Any], private: dict[str, str]) -> Privacy:
    privacy = _VISIBILITY.get(_opt_str(item, "visibility") or "default", Privacy.NORMAL)
    if privacy is Privacy.PRIVATE and private.get(PRIVACY_KEY) == Privacy.PERSONAL.value:
        return Privacy.PERSONAL
    return privacy


def _categories(value: str | None) -> tuple[str, ...]:
    try:
        parsed = json.loads(value) if value else []
    except ValueError:
        return ()  # truncated or edited by hand: categories are not worth failing the event
    if not isinstance(parsed, list) or not all(isinstance(c, str) for c in parsed):
        return ()
    return tuple(parsed)


def _recurrence_in(item: dict[str, Any], when: When) -> Recurrence | None:
    lines = item.get("recurrence")
    if not lines:
        return None
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise _Bad(f"recurrence is not a list of strings: {_show(lines)}")
    try:
        return recurrence_from_google(lines, when)
    except RecurrenceError as exc:
        raise _Bad(f"unreadable recurrence {_show(lines)}: {exc}") from exc


# --- writing ----------------------------------------------------------------------------------


def event_to_google(
    event: Event, *, for_update: bool = False
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The body for events.insert (``for_update`` False) or events.update/patch, and the losses.

    A cancelled occurrence gives ``{"status": "cancelled"}``: PATCH it onto the instance id
    (``instance_id``); a PUT would also need start and end. With ``for_update`` the body names
    every field we manage, with null for the ones to clear, so a PATCH leaves nothing stale; our
    tag is never cleared.
    """
    if event.status is Status.CANCELLED:
        return {"status": Status.CANCELLED.value}, ()
    losses: list[str] = []
    body: dict[str, Any] = {"summary": event.title}
    description, is_html = _description_out(event, losses)
    if description or for_update:
        body["description"] = description
    if event.location or for_update:
        body["location"] = event.location
    body["start"], body["end"] = _when_out(event.when, losses)
    body["status"] = event.status.value
    body["transparency"] = "transparent" if event.show_as in _TRANSPARENT else "opaque"
    body["visibility"] = _VISIBILITY_OUT[event.privacy]
    if event.color in COLOR_IDS:
        body["colorId"] = event.color
    else:
        if event.color is not None:
            losses.append(f"color {event.color!r} has no Google equivalent (colors 1 to 11)")
        if for_update:
            body["colorId"] = None
    body["reminders"] = _reminders_out(event, losses)
    if event.recurrence is not None and event.series_id is None:
        body["recurrence"] = _recurrence_out(event)
    private: dict[str, str | None] = dict.fromkeys(_MANAGED_KEYS) if for_update else {}
    if event.show_as in (ShowAs.TENTATIVE, ShowAs.OUT_OF_OFFICE, ShowAs.WORKING_ELSEWHERE):
        private[SHOW_AS_KEY] = event.show_as.value
    if event.privacy is Privacy.PERSONAL:
        private[PRIVACY_KEY] = event.privacy.value
    if event.categories:
        private[CATEGORIES_KEY] = _categories_out(event.categories, losses)
    if looks_like_html(description) != is_html:
        private[DESC_FORMAT_KEY] = f"{'html' if is_html else 'text'}:{_digest(description)}"
    if event.tag is not None:
        private[TAG_KEY] = event.tag
    if event.synced is not None:  # (never cleared: an old fingerprint is still a fingerprint)
        private[SYNCED_KEY] = event.synced
    if private:
        body["extendedProperties"] = {"private": private}
    if event.series_id is not None and event.original_start is not None:
        body["recurringEventId"] = event.series_id
        body["originalStartTime"] = _original_out(event.original_start)
    return body, tuple(losses)


def _description_out(event: Event, losses: list[str]) -> tuple[str, bool]:
    details = copynote.MeetingDetails(event.organizer, event.attendees, event.online_meeting_url)
    if event.description_html is not None:
        person, marker = event.description_html, html.escape(SHORTENED_MARKER)
        full = copynote.append_html(person, details)
    else:
        person, marker = event.description, SHORTENED_MARKER
        full = copynote.append(person, details)
    if len(full) <= GOOGLE_MAX_DESCRIPTION:
        return full, event.description_html is not None
    block = len(full) - len(person)
    if not person and not details.empty and event.description_html is None:
        block += 2  # append() puts a blank line between the text and the block
    budget = max(GOOGLE_MAX_DESCRIPTION - block - len(marker), 0)
    if event.description_html is not None:
        shortened = _cut_html(person, budget) + marker
        full = copynote.append_html(shortened, details)
    else:
        full = copynote.append(person[:budget] + marker, details)
    losses.append(f"description shortened to {GOOGLE_MAX_DESCRIPTION:,} characters")
    return full, event.description_html is not None


def _cut_html(markup: str, budget: int) -> str:
    """At most ``budget`` characters, never ending inside a tag or a character reference."""
    cut = markup[:budget]
    lt = cut.rfind("<")
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    amp = cut.rfind("&")
    if amp > cut.rfind(";") and len(cut) - amp <= 32:  # the longest named reference is 32
        cut = cut[:amp]
    return cut


def _format_instant(local: dt.datetime) -> str:
    offset = local.utcoffset()
    assert offset is not None
    if offset.total_seconds() % 60:  # RFC 3339 offsets have no seconds (historic LMT offsets)
        local, offset = local.astimezone(dt.UTC), dt.timedelta(0)
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
        f"T{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    )
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _edt_out(instant: dt.datetime, tz_name: str, losses: list[str]) -> dict[str, str]:
    name = _zone_of(tz_name)
    if name is None:
        losses.append(f"time zone {tz_name!r} is unknown to Google; written in UTC")
        name = "UTC"
    tz = zone(name)
    assert tz is not None
    return {"dateTime": _format_instant(to_utc(instant).astimezone(tz)), "timeZone": name}


def _when_out(when: When, losses: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    if isinstance(when, DaySpan):
        return {"date": when.start.isoformat()}, {"date": when.end.isoformat()}
    return _edt_out(when.start, when.start_tz, losses), _edt_out(when.end, when.end_tz, losses)


def _original_out(original: dt.datetime | dt.date) -> dict[str, str]:
    if isinstance(original, dt.datetime):
        return {"dateTime": _format_instant(to_utc(original)), "timeZone": "UTC"}
    return {"date": original.isoformat()}


def _reminders_out(event: Event, losses: list[str]) -> dict[str, Any]:
    if event.reminders_default:
        if event.reminders:
            losses.append(f"{len(event.reminders)} reminders replaced by the calendar's default")
        return {"useDefault": True}
    overrides = []
    for r in event.reminders[:MAX_OVERRIDES]:
        minutes = min(max(r.minutes, 0), MAX_REMINDER_MINUTES)
        method = r.method if r.method in ("popup", "email") else "popup"
        if (minutes, method) != (r.minutes, r.method):
            losses.append(f"reminder {r.method} {r.minutes} min written as {method} {minutes} min")
        overrides.append({"method": method, "minutes": minutes})
    if len(event.reminders) > MAX_OVERRIDES:
        losses.append(f"{MAX_OVERRIDES} reminders kept out of {len(event.reminders)}")
    return {"useDefault": False, "overrides": overrides}


def _categories_out(categories: tuple[str, ...], losses: list[str]) -> str:
    kept = list(categories)
    while len(text := json.dumps(kept, ensure_ascii=False)) > MAX_PROPERTY_VALUE:
        kept.pop()
    if len(kept) < len(categories):
        losses.append(f"{len(kept)} categories kept out of {len(categories)}")
    return text


def _recurrence_out(event: Event) -> list[str]:
    assert event.recurrence is not None
    try:
        return recurrence_to_google(event.recurrence, event.when)
    except RecurrenceError as exc:
        name = repr(event.ref.event_id) if event.ref is not None else "(new)"
        raise ItemError(f"event {name}: recurrence cannot be written to Google: {exc}") from exc
