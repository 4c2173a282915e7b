"""Microsoft Graph event JSON <-> the canonical Event. Pure functions: no HTTP, no clock.

``event_from_graph`` reads what Graph returns without a ``Prefer: outlook.timezone`` header
(start/end in UTC), with ``$expand=`` + ``expand_query()``. ``event_to_graph`` returns a POST/PATCH
body and the losses a person should see. Choices (api-spec §2.3, §2.8, §2.11, §3.2):

* Zones. Graph reports an event's zone as a Windows name, which maps back to one IANA zone per
  Windows name (CLDR "001": America/Toronto would return as America/New_York). We write the
  Windows name and keep the exact IANA names in ``ZONE_PROP``, honoured on read while Graph still
  reports the zones we wrote (a zone changed in Outlook wins). A zone with no Windows name is
  written in UTC with a loss (the instants never shift). A custom or unknown
  ``originalStartTimeZone`` reads as UTC. A time in the repeated hour of a clock change, which an
  offset-less dateTime cannot name, is written in UTC (a series' start: kept, with a loss).
* All-day: midnight to midnight in one zone, ``all_day_zone`` (default UTC; the provider should
  pass the mailbox's zone so Outlook shows the same days). Read as the local dates Graph returns:
  all-day times come back as midnights whatever zone is asked for.
* Series: start and end are written in the start's zone, which is also ``recurrenceTimeZone``.
  Outlook repeats a series in the zone it has (the Windows name's, or UTC): the rule is mapped
  there, with a loss if that zone's clock differs within a year, and the IANA zone is restored on
  read only when it keeps the same clock. Cancelled occurrences are not part of a body (the
  provider deletes them after the write); ``cancelledOccurrences`` read back as ``exdates``.
* Reminders: Graph holds one. We write the first popup reminder, or Outlook's default of 15
  minutes for "the calendar's default", and keep the whole list and the default flag in
  ``REMINDERS_PROP``, honoured while the native fields agree with it. A reminder set in Outlook
  reads as exactly that popup, never as "default" (Outlook stores a number, not a preference).
* Status: ``isCancelled`` is read-only and Graph has no tentative status: kept in ``STATUS_PROP``.
  ``transactionId`` (set by the provider, echoed only to its setter) reads as ``created_key``.
* Attendees and organizer are never written (a copy with attendees sends meeting requests); they
  travel in the copynote block. Read natively, the organizer counts only for meetings (attendees,
  or someone else organizes), as every Outlook event names the mailbox owner otherwise.
* Bodies: HTML when ``description_html`` is set (Exchange's document wrapper is removed on read),
  else text. Graph answers in HTML by default, rendering a text body as HTML: ``BODY_PROP`` holds
  a digest of the text we wrote, so such a body reads back as text until it is edited in Outlook.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from app.core import timezones
from app.core.model import (
    Attendee,
    DaySpan,
    Event,
    EventRef,
    Person,
    Privacy,
    Provider,
    Reminder,
    Response,
    ShowAs,
    Status,
    TimeSpan,
    When,
)
from app.core.recurrence import recurrence_from_graph, recurrence_to_graph
from app.errors import Unparseable
from app.providers import copynote
from app.providers.htmltext import html_to_text

# One GUID namespace for our named properties (api-spec §2.8: "{type} {guid} Name {name}").
PROPERTY_SET: Final = "{6b1f0d3e-2a7c-4e59-b8d4-3c9e1f5a7d20}"
TAG_PROP: Final = f"String {PROPERTY_SET} Name meridianSource"  # provenance tag
SYNCED_PROP: Final = f"String {PROPERTY_SET} Name meridianSynced"  # core.fingerprint
COLOR_PROP: Final = f"String {PROPERTY_SET} Name meridianColor"  # Google colorId
REMINDERS_PROP: Final = f"String {PROPERTY_SET} Name meridianReminders"  # {"default","list"}
ZONE_PROP: Final = f"String {PROPERTY_SET} Name meridianZone"  # {"start","end","sent"}
STATUS_PROP: Final = f"String {PROPERTY_SET} Name meridianStatus"  # Status value
BODY_PROP: Final = f"String {PROPERTY_SET} Name meridianBody"  # "html" or "text:<digest>"
PROPERTIES: Final = (
    TAG_PROP,
    COLOR_PROP,
    REMINDERS_PROP,
    ZONE_PROP,
    STATUS_PROP,
    BODY_PROP,
    SYNCED_PROP,
)

# [U] Graph documents no subject limit; 255 is the MAPI/EWS subject length.
MAX_SUBJECT: Final = 255
# [U] Graph's one documented bound is 4 MB per request, $batch included. 32,000 code points are
# at most 384 KB as JSON (\u escapes of astral characters, 12 bytes each), so ten fit in a $batch
# even at worst; the provider must size its batches by bytes.
MAX_BODY_CHARS: Final = 32_000
SHORTENED: Final = "… [shortened by Meridian]"
OUTLOOK_DEFAULT_REMINDER: Final = 15  # what Graph gives a new event (recorded responses)

_SHOW_AS: Final = {s.value.lower(): s for s in ShowAs}
_PRIVACY: Final = {p.value: p for p in Privacy}
_RESPONSES: Final = {
    "none": Response.NEEDS_ACTION,
    "notresponded": Response.NEEDS_ACTION,
    "organizer": Response.ACCEPTED,
    "accepted": Response.ACCEPTED,
    "tentativelyaccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
}
_OID_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MIDNIGHT: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T00:00:00(\.0{1,7})?)?")
# Exchange stores an HTML body as a document: "<html><head>..</head><body>\r\n" + body + ...
_DOCUMENT: Final = re.compile(
    r"(?is)\s*<html\b[^>]*>.*?<body\b[^>]*>(?:\r?\n)?(.*?)(?:\r?\n)?</body\s*>"
)
_HTML_BLOCK: Final = re.compile(  # the <pre> block copynote.append_html adds
    r"(?s)<pre\b[^>]*>(?:(?!<pre\b).)*?"
    + re.escape(html.escape(copynote.MARKER_START))
    + r"(?:(?!<pre\b).)*?"
    + re.escape(html.escape(copynote.MARKER_END))
    + r"\s*</pre\s*>"
)


def expand_query() -> str:
    """The ``$expand`` value that brings our extended properties along with an event."""
    ids = " or ".join(f"id eq '{p}'" for p in PROPERTIES)
    return f"singleValueExtendedProperties($filter={ids})"


def tag_filter(tag: str) -> str:
    """The ``$filter`` value finding the events that carry our provenance tag ``tag``."""
    value = tag.replace("'", "''")  # an OData string literal
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{TAG_PROP}' and ep/value eq '{value}')"


def occurrence_date_from_oid(s: str) -> dt.date:
    """The original local date in ``"OID.<seriesMasterId>.<yyyy-mm-dd>"`` (api-spec §2.7)."""
    head, _, tail = s.rpartition(".") if isinstance(s, str) else ("", "", "")
    if not head.startswith("OID.") or not _OID_DATE.fullmatch(tail):
        raise ValueError(f"not an occurrence id: {s!r:.80}")
    return dt.date.fromisoformat(tail)


# --- reading --------------------------------------------------------------------------------


class _Bad(Exception):
    """Why an item cannot be read; becomes Unparseable with the event id."""


def event_from_graph(item: Mapping[str, Any], calendar_id: str) -> Event:
    """One Graph event (single, series master, exception, occurrence or delta stub) -> Event.

    Raises ValueError for an ``@removed`` entry (a deletion: the provider's business) and
    Unparseable, naming the event id and the reason, for anything else it cannot read.
    """
    if not isinstance(item, Mapping):
        raise Unparseable(f"an Outlook event is a {type(item).__name__}, not an object")
    event_id = item.get("id")
    if "@removed" in item:
        raise ValueError(f"Outlook item {event_id!r} is a deletion (@removed), not an event")
    if not isinstance(event_id, str) or not event_id:
        raise Unparseable("an Outlook event has no id")
    try:
        return _read(_camel(item), calendar_id, event_id)
    except (_Bad, ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise Unparseable(f"Outlook event {event_id!r} could not be read: {exc}") from exc


def exceptions_from_master(master: Mapping[str, Any], calendar_id: str) -> list[Event]:
    """The ``exceptionOccurrences`` expanded on a series master (api-spec §2.7) as exceptions.

    What an expanded item omits comes from the master; without ``originalStart`` the original
    start is the ``occurrenceId`` date at the master's local start time.
    """
    out = []
    for raw in master.get("exceptionOccurrences") or []:
        shared = {k: master.get(k) for k in ("isAllDay", "originalStartTimeZone")}
        item = {"type": "exception", "seriesMasterId": master.get("id"), **shared, **_camel(raw)}
        if "originalStart" not in item and isinstance(item.get("occurrenceId"), str):
            try:
                tz = _zone(_reported_zone(item, "originalStartTimeZone") or "UTC")
                local = dt.time()
                if not item.get("isAllDay"):
                    local = _instant(master.get("start"), "start").astimezone(tz).time()
                day = occurrence_date_from_oid(item["occurrenceId"])
                at = dt.datetime.combine(day, local, tz).astimezone(dt.UTC)
                item["originalStart"] = at.isoformat()
            except (_Bad, ValueError) as exc:
                raise Unparseable(f"Outlook event {item.get('id')!r}: {exc}") from exc
        out.append(event_from_graph(item, calendar_id))
    return out


def _camel(item: Mapping[str, Any]) -> dict[str, Any]:
    # A documented response spells "Subject" (api-spec §2.7): accept PascalCase names too.
    out = {k[:1].lower() + k[1:]: v for k, v in item.items() if k[:1].isupper()}
    out.update(item)
    return out


def _read(item: dict[str, Any], calendar_id: str, event_id: str) -> Event:
    ext = _ext_props(item.get("singleValueExtendedProperties"))
    kind = _opt(item, "type", str, "singleInstance")
    series_id = _opt(item, "seriesMasterId", str, None)
    member = kind in ("occurrence", "exception") or series_id is not None
    raw_rec = _opt(item, "recurrence", dict, None)
    all_day = _opt(item, "isAllDay", bool, False)
    graph_zone = _reported_zone(item, "originalStartTimeZone") or "UTC"
    start, end = _instant(item.get("start"), "start"), _instant(item.get("end"), "end")
    when: When
    if all_day:
        when = DaySpan(_day(item["start"], graph_zone), _day(item["end"], graph_zone))
    else:
        zs, ze = _zones(item, ext, start if raw_rec is not None and not member else None)
        when = TimeSpan(start.astimezone(_zone(zs)), end.astimezone(_zone(ze)), zs, ze)

    original: dt.datetime | dt.date | None = None
    raw_original = _opt(item, "originalStart", str, None) if member else None
    if raw_original:
        at = _parse_offset(raw_original, "originalStart")
        original = at.astimezone(_zone(graph_zone)).date() if all_day else at
    elif kind == "occurrence":  # an occurrence starts where it was meant to
        original = when.start if isinstance(when, DaySpan) else start.astimezone(dt.UTC)
    recurrence = None
    if raw_rec is not None and not member:
        cancelled = [occurrence_date_from_oid(s) for s in _list(item, "cancelledOccurrences", str)]
        recurrence = recurrence_from_graph(raw_rec, when, cancelled=cancelled)

    description, description_html, details = _body(item, ext)
    if details is not None:
        organizer, attendees, url = details.organizer, details.attendees, details.online_meeting_url
    else:
        attendees = tuple(_attendee(a) for a in _list(item, "attendees", dict))
        organizer = _person(_opt(item, "organizer", dict, None))
        if not attendees and _opt(item, "isOrganizer", bool, True):
            organizer = None  # the mailbox owner, on every event: it matters for meetings only
        meeting = _opt(item, "onlineMeeting", dict, None) or {}
        url = _opt(meeting, "joinUrl", str, None) or _opt(item, "onlineMeetingUrl", str, None)
    reminders, reminders_default = _reminders(item, ext)
    status = Status.CONFIRMED
    if _opt(item, "isCancelled", bool, False):
        status = Status.CANCELLED
    elif ext.get(STATUS_PROP) in (Status.TENTATIVE.value, Status.CANCELLED.value):
        status = Status(ext[STATUS_PROP])
    change_key = _opt(item, "changeKey", str, None)
    modified = _opt(item, "lastModifiedDateTime", str, None)
    sensitivity = _opt(item, "sensitivity", str, "normal").lower()
    return Event(
        ref=EventRef(Provider.MICROSOFT, calendar_id, event_id),
        when=when,
        title=_opt(item, "subject", str, ""),
        ical_uid=_opt(item, "iCalUId", str, None),
        etag=_opt(item, "@odata.etag", str, None) or (f'W/"{change_key}"' if change_key else None),
        updated=_parse_offset(modified, "lastModifiedDateTime") if modified else None,
        description=description,
        description_html=description_html,
        location=_opt(_opt(item, "location", dict, {}), "displayName", str, ""),
        show_as=_SHOW_AS.get(_opt(item, "showAs", str, "busy").lower(), ShowAs.BUSY),
        privacy=_PRIVACY.get(sensitivity, Privacy.NORMAL),
        status=status,
        reminders=reminders,
        reminders_default=reminders_default,
        categories=tuple(_list(item, "categories", str)),
        color=ext.get(COLOR_PROP) or None,
        organizer=organizer,
        attendees=attendees,
        online_meeting_url=url or None,
        recurrence=recurrence,
        series_id=series_id,
        original_start=original,
        tag=ext.get(TAG_PROP) or None,
        synced=ext.get(SYNCED_PROP) or None,
        created_key=_opt(item, "transactionId", str, None),
        web_link=_opt(item, "webLink", str, None),
    )


def _opt(obj: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Bad(f"{key} is a {type(value).__name__}, not a {kind.__name__}")
    return value


def _list(obj: Mapping[str, Any], key: str, kind: type) -> list[Any]:
    values: list[Any] = _opt(obj, key, list, [])
    if not all(isinstance(v, kind) for v in values):
        raise _Bad(f"{key} holds something other than {kind.__name__} values")
    return values


def _ext_props(raw: Any) -> dict[str, str]:
    # Match ids as Graph may echo them: any case, any spacing.
    ours = {" ".join(p.lower().split()): p for p in PROPERTIES}
    out: dict[str, str] = {}
    for prop in raw if isinstance(raw, list) else []:
        if isinstance(prop, Mapping) and isinstance(prop.get("id"), str):
            known = ours.get(" ".join(prop["id"].lower().split()))
            if known is not None and isinstance(prop.get("value"), str):
                out[known] = prop["value"]
    return out


def _zone(name: str) -> dt.tzinfo:
    return timezones.zone(name) or dt.UTC


def _canonical(name: object) -> str | None:
    return timezones.canonical_iana(name) if isinstance(name, str) else None


def _reported_zone(item: Mapping[str, Any], key: str) -> str | None:
    return _canonical(item.get(key))


def _zones(
    item: Mapping[str, Any], ext: Mapping[str, str], series_start: dt.datetime | None
) -> tuple[str, str]:
    reported = item.get("originalStartTimeZone"), item.get("originalEndTimeZone")
    start = _reported_zone(item, "originalStartTimeZone") or "UTC"
    end = _reported_zone(item, "originalEndTimeZone") or start
    try:
        stored = json.loads(ext.get(ZONE_PROP) or "{}")
        zs, ze, sent = str(stored["start"]), str(stored["end"]), list(stored["sent"])
    except (ValueError, TypeError, KeyError):
        return start, end
    agrees = len(sent) == 2 and all(
        _canonical(a) is not None and _canonical(a) == _canonical(b)
        for a, b in zip(reported, sent, strict=True)
    )
    known = timezones.zone(zs) is not None and timezones.zone(ze) is not None
    # A series repeats in the zone Outlook has: ours only if its clock is the same.
    if agrees and known and (series_start is None or _same_clock(zs, start, series_start)):
        return zs, ze
    return start, end


def _same_clock(a: str, b: str, start: dt.datetime) -> bool:
    """Whether zones ``a`` and ``b`` keep the same time for a year from ``start`` (daily)."""
    za, zb = _zone(a), _zone(b)
    days = (start + dt.timedelta(days=n) for n in range(367))
    return a == b or all(d.astimezone(za).utcoffset() == d.astimezone(zb).utcoffset() for d in days)


def _instant(dtz: Any, what: str) -> dt.datetime:
    if not isinstance(dtz, Mapping) or not isinstance(dtz.get("dateTime"), str):
        raise _Bad(f"{what}.dateTime is missing")
    try:
        return timezones.graph_datetime_to_aware(dtz["dateTime"], dtz.get("timeZone") or "UTC")
    except ValueError as exc:
        raise _Bad(f"{what}: {exc}") from None


def _day(dtz: Mapping[str, Any], zone_name: str) -> dt.date:
    text = dtz["dateTime"]
    if _MIDNIGHT.fullmatch(text):  # Graph's all-day form, whatever zone it names
        return dt.date.fromisoformat(text[:10])
    return _instant(dtz, "isAllDay time").astimezone(_zone(zone_name)).date()


def _parse_offset(text: str, what: str) -> dt.datetime:
    # A DateTimeOffset with up to 7 fractional digits (Python keeps 6).
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise _Bad(f"{what} is not a date-time: {text!r:.40}") from None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _person(raw: Mapping[str, Any] | None) -> Person | None:
    address = _opt(raw, "emailAddress", dict, {}) if raw else {}
    email = _opt(address, "address", str, "")
    return Person(email, _opt(address, "name", str, "")) if email else None


def _attendee(raw: Mapping[str, Any]) -> Attendee:
    person = _person(raw)
    if person is None:
        raise _Bad("an attendee has no e-mail address")
    kind = _opt(raw, "type", str, "required").lower()
    response = _opt(_opt(raw, "status", dict, {}), "response", str, "none").lower()
    return Attendee(
        person.email,
        person.name,
        _RESPONSES.get(response, Response.NEEDS_ACTION),
        optional=kind == "optional",
        resource=kind == "resource",
    )


def _reminders(
    item: Mapping[str, Any], ext: Mapping[str, str]
) -> tuple[tuple[Reminder, ...], bool]:
    on = _opt(item, "isReminderOn", bool, False)
    minutes = _opt(item, "reminderMinutesBeforeStart", int, OUTLOOK_DEFAULT_REMINDER)
    native = (Reminder(minutes, "popup"),) if on else ()
    try:
        stored = json.loads(ext.get(REMINDERS_PROP) or "null")
        default = stored["default"] is True
        listed = tuple(Reminder(int(m), str(method)) for m, method in stored["list"])
    except (ValueError, TypeError, KeyError):
        return native, False
    if _native_reminder(listed, default) == (on, minutes if on else None):
        return listed, default
    return native, False


def _native_reminder(reminders: Sequence[Reminder], default: bool) -> tuple[bool, int | None]:
    popup = next((r for r in reminders if r.method == "popup"), None)
    if popup is not None:
        return True, popup.minutes
    return (True, OUTLOOK_DEFAULT_REMINDER) if default else (False, None)


def _body(
    item: Mapping[str, Any], ext: Mapping[str, str]
) -> tuple[str, str | None, copynote.MeetingDetails | None]:
    body = _opt(item, "body", dict, {})
    content = _opt(body, "content", str, "")
    if _opt(body, "contentType", str, "text").lower() != "html":
        text, details = copynote.split(content)
        return text, None, details
    document = _DOCUMENT.match(content)
    markup: str | None = document.group(1) if document else content
    assert markup is not None
    marker = ext.get(BODY_PROP, "")
    if marker.startswith("text:") and marker[5:] == _text_digest(html_to_text(markup)):
        # Graph's HTML rendering of the text we wrote: its source line breaks are layout.
        text, markup = html_to_text(re.sub(r">\r?\n", ">", markup)), None
    else:
        text = html_to_text(markup)
    text, details = copynote.split(text)
    blocks = list(_HTML_BLOCK.finditer(markup or ""))
    if details is not None and markup is not None and blocks:
        markup = markup[: blocks[-1].start()] + markup[blocks[-1].end() :]
        text = html_to_text(markup)
    if markup is not None and not markup.strip():
        # An empty body (what Graph answers for an event without one) has no formatting to
        # keep; keeping "" would make a later plain-text edit write an empty HTML body.
        markup = None
    return text, markup, details


def _text_digest(text: str) -> str:
    folded = " ".join(text.split())  # an HTML rendering keeps the words, not the spacing
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


# --- writing --------------------------------------------------------------------------------


def event_to_graph(
    event: Event, *, all_day_zone: str = "UTC"
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The POST/PATCH body for ``event`` and what writing it loses, in words for a person.

    ``all_day_zone`` (IANA or Windows name) holds an all-day event's midnights: pass the
    mailbox's zone. Never writes attendees, organizer, read-only fields or ``transactionId``
    (the provider's). ``Unmappable`` from ``recurrence_to_graph`` is not caught.
    """
    losses: list[str] = []
    title = event.title
    if len(title) > MAX_SUBJECT:
        title = title[: MAX_SUBJECT - 1] + "…"
        losses.append(f"the title was shortened to {MAX_SUBJECT} characters")
    text_body, marker = _body_out(event, losses)
    body: dict[str, Any] = {"subject": title, "body": text_body}
    series = event.recurrence is not None
    zones: dict[str, Any] = {}
    if isinstance(event.when, DaySpan):
        zone_name = timezones.iana_to_windows(all_day_zone) or "UTC"
        for key, day in (("start", event.when.start), ("end", event.when.end)):
            body[key] = {"dateTime": f"{day.isoformat()}T00:00:00.0000000", "timeZone": zone_name}
    else:
        span = event.when
        # A series has one zone: its end is written in the start's zone too.
        end_tz = span.start_tz if series else span.end_tz
        zone_name, body["start"] = _when_out(span.start, span.start_tz, series, losses)
        end_name, body["end"] = _when_out(span.end, end_tz, False, losses)
        zones = {"start": span.start_tz, "end": span.end_tz, "sent": [zone_name, end_name]}
    body["isAllDay"] = isinstance(event.when, DaySpan)
    body["showAs"] = event.show_as.value
    body["sensitivity"] = event.privacy.value
    on, minutes = _native_reminder(event.reminders, event.reminders_default)
    body["isReminderOn"] = on
    if minutes is not None:
        body["reminderMinutesBeforeStart"] = minutes
    body["categories"] = list(event.categories)
    body["location"] = {"displayName": event.location}
    if event.recurrence is not None:
        when = event.when
        written = _canonical(zone_name) or "UTC"
        if isinstance(when, TimeSpan) and written != when.start_tz:
            # Outlook repeats the series in the zone it has (UTC for a zone it does not know).
            if not _same_clock(written, when.start_tz, when.start):
                losses.append(
                    f"Outlook repeats the series in {zone_name}, whose clock changes differ "
                    f"from {when.start_tz}'s"
                )
            start, end = when.start.astimezone(_zone(written)), when.end.astimezone(_zone(written))
            when = TimeSpan(start, end, written, written)
        rec = recurrence_to_graph(event.recurrence, when)
        body["recurrence"] = {**rec, "range": {**rec["range"], "recurrenceTimeZone": zone_name}}
    if event.status is Status.CANCELLED:
        losses.append("Outlook cannot mark an event cancelled: it shows there as a normal event")
    reminders = [[r.minutes, r.method] for r in event.reminders]
    props = {
        COLOR_PROP: event.color or "",
        REMINDERS_PROP: _json({"default": event.reminders_default, "list": reminders}),
        ZONE_PROP: _json(zones) if zones else "",
        STATUS_PROP: event.status.value,
        BODY_PROP: marker,
    }
    if event.tag is not None:  # never erase provenance by accident
        props[TAG_PROP] = event.tag
    if event.synced is not None:
        props[SYNCED_PROP] = event.synced
    body["singleValueExtendedProperties"] = [{"id": k, "value": v} for k, v in props.items()]
    return body, tuple(dict.fromkeys(losses))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _when_out(
    instant: dt.datetime, iana: str, series_start: bool, losses: list[str]
) -> tuple[str, dict[str, str]]:
    name = timezones.iana_to_windows(iana)
    if name is None:
        losses.append(f"time zone {iana} is unknown to Outlook; written in UTC")
        name = "UTC"
    text = timezones.aware_to_graph(instant, name)["dateTime"]
    if timezones.to_utc(timezones.graph_datetime_to_aware(text, name)) != timezones.to_utc(instant):
        # The repeated hour of a clock change: an offset-less wall time names the first one.
        # In UTC the instant is exact, but a series must start in the zone it repeats in.
        if not series_start:
            name, text = "UTC", timezones.aware_to_graph(instant, "UTC")["dateTime"]
        else:
            losses.append(
                f"the series starts in the repeated hour of a clock change in {iana}; "
                "Outlook takes the earlier of the two"
            )
    return name, {"dateTime": text, "timeZone": name}


def _body_out(event: Event, losses: list[str]) -> tuple[dict[str, str], str]:
    details = copynote.MeetingDetails(event.organizer, event.attendees, event.online_meeting_url)
    if event.description_html is not None and len(event.description_html) <= MAX_BODY_CHARS:
        content = copynote.append_html(event.description_html, details)
        return {"contentType": "html", "content": content}, "html"
    if event.description_html is not None:
        losses.append("the description was too long for Outlook and lost its formatting")
    text = event.description
    if len(text) > MAX_BODY_CHARS:
        text = text[: MAX_BODY_CHARS - len(SHORTENED)] + SHORTENED
        losses.append(f"the description was shortened to {MAX_BODY_CHARS:,} characters")
    content = copynote.append(text, details)
    return {"contentType": "text", "content": content}, "text:" + _text_digest(content)
