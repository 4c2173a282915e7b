"""Reading Graph request bodies the way OData does, and turning them into stored events.

OData rejects what the type does not define (400 ``RequestBodyRead``), literals of the wrong type,
and unknown enum members. Everything is validated and the new event is built as a copy before
anything is stored, so a rejected request leaves the store exactly as it was.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from typing import Any

from app.core import timezones
from app.sandbox import graph_store as gs
from app.sandbox import recurrence
from app.sandbox.httpcore import ApiError

MAX_ATTENDEES = 500  # api-spec §2.3

_S, _B, _I, _D = "Edm.String", "Edm.Boolean", "Edm.Int32", "Edm.Double"
_ENUMS: dict[str, tuple[str, ...]] = {
    "bodyType": ("text", "html"),
    "freeBusyStatus": ("unknown", "free", "tentative", "busy", "oof", "workingElsewhere"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "importance": ("low", "normal", "high"),
    "attendeeType": ("required", "optional", "resource"),
    "responseType": (
        "none",
        "organizer",
        "tentativelyAccepted",
        "accepted",
        "declined",
        "notResponded",
    ),
    "onlineMeetingProviderType": (
        "unknown",
        "skypeForBusiness",
        "skypeForConsumer",
        "teamsForBusiness",
    ),
    "locationType": (
        "default",
        "conferenceRoom",
        "homeAddress",
        "businessAddress",
        "geoCoordinates",
        "streetAddress",
        "hotel",
        "restaurant",
        "localBusiness",
        "postalAddress",
    ),
    "locationUniqueIdType": ("unknown", "locationStore", "directory", "private", "bing"),
    "calendarColor": (
        "auto",
        "lightBlue",
        "lightGreen",
        "lightOrange",
        "lightGray",
        "lightYellow",
        "lightTeal",
        "lightPink",
        "lightBrown",
        "lightRed",
        "maxColor",
    ),
}

# type -> property -> spec: a primitive name, ("enum", name), ("obj", type), ("list", spec), "any"
_TYPES: dict[str, dict[str, Any]] = {
    "event": {
        "subject": _S,
        "body": ("obj", "itemBody"),
        "start": ("obj", "dateTimeTimeZone"),
        "end": ("obj", "dateTimeTimeZone"),
        "isAllDay": _B,
        "showAs": ("enum", "freeBusyStatus"),
        "sensitivity": ("enum", "sensitivity"),
        "importance": ("enum", "importance"),
        "categories": ("list", _S),
        "location": ("obj", "location"),
        "locations": ("list", ("obj", "location")),
        "attendees": ("list", ("obj", "attendee")),
        "recurrence": ("obj", "patternedRecurrence"),
        "isReminderOn": _B,
        "reminderMinutesBeforeStart": _I,
        "responseRequested": _B,
        "allowNewTimeProposals": _B,
        "hideAttendees": _B,
        "isOnlineMeeting": _B,
        "onlineMeetingProvider": ("enum", "onlineMeetingProviderType"),
        "transactionId": _S,
        "originalStartTimeZone": _S,
        "originalEndTimeZone": _S,
        "singleValueExtendedProperties": ("list", ("obj", "singleValueLegacyExtendedProperty")),
        # Read-only or server-computed: accepted and ignored, so GET-modify-PATCH works.
        "id": "any",
        "changeKey": "any",
        "createdDateTime": "any",
        "lastModifiedDateTime": "any",
        "iCalUId": "any",
        "type": "any",
        "seriesMasterId": "any",
        "originalStart": "any",
        "isOrganizer": "any",
        "isCancelled": "any",
        "webLink": "any",
        "bodyPreview": "any",
        "hasAttachments": "any",
        "responseStatus": "any",
        "onlineMeeting": "any",
        "onlineMeetingUrl": "any",
        "isDraft": "any",
        "cancelledOccurrences": "any",
        # [U] the organizer of an event in one's own calendar is always the mailbox owner.
        "organizer": ("obj", "recipient"),
    },
    "itemBody": {"contentType": ("enum", "bodyType"), "content": _S},
    "dateTimeTimeZone": {"dateTime": _S, "timeZone": _S},
    "location": {
        "displayName": _S,
        "locationEmailAddress": _S,
        "locationUri": _S,
        "uniqueId": _S,
        "locationType": ("enum", "locationType"),
        "uniqueIdType": ("enum", "locationUniqueIdType"),
        "address": ("obj", "physicalAddress"),
        "coordinates": ("obj", "outlookGeoCoordinates"),
    },
    "physicalAddress": {
        k: _S for k in ("street", "city", "state", "countryOrRegion", "postalCode")
    },
    "outlookGeoCoordinates": {
        k: _D for k in ("accuracy", "altitude", "altitudeAccuracy", "latitude", "longitude")
    },
    "attendee": {
        "emailAddress": ("obj", "emailAddress"),
        "type": ("enum", "attendeeType"),
        "status": ("obj", "responseStatus"),
        "proposedNewTime": "any",
    },
    "emailAddress": {"name": _S, "address": _S},
    "recipient": {"emailAddress": ("obj", "emailAddress")},
    "responseStatus": {"response": ("enum", "responseType"), "time": _S},
    # Values are checked by recurrence.normalize_graph_recurrence with Graph's own messages.
    "patternedRecurrence": {
        "pattern": ("obj", "recurrencePattern"),
        "range": ("obj", "recurrenceRange"),
    },
    "recurrencePattern": {
        k: "any"
        for k in (
            "type",
            "interval",
            "month",
            "dayOfMonth",
            "daysOfWeek",
            "firstDayOfWeek",
            "index",
        )
    },
    "recurrenceRange": {
        k: "any"
        for k in ("type", "startDate", "endDate", "recurrenceTimeZone", "numberOfOccurrences")
    },
    "singleValueLegacyExtendedProperty": {"id": _S, "value": _S},
    "calendar": {
        "name": _S,
        "color": ("enum", "calendarColor"),
        "hexColor": "any",
        "id": "any",
        "changeKey": "any",
        "canEdit": "any",
        "canShare": "any",
        "canViewPrivateItems": "any",
        "isDefaultCalendar": "any",
        "isRemovable": "any",
        "isTallyingResponses": "any",
        "owner": "any",
        "allowedOnlineMeetingProviders": "any",
        "defaultOnlineMeetingProvider": "any",
    },
    "cancelParameters": {"comment": _S},
    # event-decline's parameters; a proposed time is a timeSlot {start, end}.
    "declineParameters": {
        "comment": _S,
        "sendResponse": _B,
        "proposedNewTime": ("obj", "timeSlot"),
    },
    "timeSlot": {"start": ("obj", "dateTimeTimeZone"), "end": ("obj", "dateTimeTimeZone")},
}
_EXT_ID = re.compile(
    r"^(String|Integer|Boolean|SystemTime|Binary|Guid|Double|Currency|Long|Short|Float)\s+"
    r"(\{[0-9a-fA-F-]{36}\}\s+(Name|Id)\s+\S.*|0x[0-9a-fA-F]{4})$"
)


def body_read(message: str) -> ApiError:
    return ApiError(400, "RequestBodyRead", message)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(400, "BadRequest", "Empty Payload. JSON content expected.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"Invalid JSON. {exc}") from None


def _literal(value: Any, expected: str) -> ApiError:
    shown = json.dumps(value) if not isinstance(value, str) else value
    return body_read(f"Cannot convert the literal '{shown}' to the expected type '{expected}'.")


def check(value: Any, type_name: str) -> dict[str, Any]:
    """Validate an object of a Graph type; returns a copy with enum members in canonical case."""
    if not isinstance(value, dict):
        kind = "StartArray" if isinstance(value, list) else "PrimitiveValue"
        raise body_read(
            f"An unexpected '{kind}' node was found when reading from the JSON reader. "
            "A 'StartObject' node was expected."
        )
    props = _TYPES[type_name]
    out: dict[str, Any] = {}
    for key, item in value.items():
        if "@" in key:  # instance annotations such as "@odata.type"
            continue
        if key not in props:
            raise body_read(
                f"The property '{key}' does not exist on type 'microsoft.graph.{type_name}'. "
                "Make sure to only use property names that are defined by the type or mark the "
                "type as open type."
            )
        out[key] = _check_value(item, props[key])
    return out


def _check_value(value: Any, spec: Any) -> Any:
    if value is None or spec == "any":
        return value
    if spec == _S:
        if not isinstance(value, str):
            raise _literal(value, _S)
        return value
    if spec == _B:
        if not isinstance(value, bool):
            raise _literal(value, _B)
        return value
    if spec == _I:
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**31 - 1:
            raise _literal(value, _I)
        return value
    if spec == _D:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _literal(value, _D)
        return value
    kind, arg = spec
    if kind == "enum":
        table = {v.lower(): v for v in _ENUMS[arg]}
        if not isinstance(value, str) or value.lower() not in table:
            raise body_read(
                f"The string '{value}' is not a valid enumerated type constant ({arg})."
            )
        return table[value.lower()]
    if kind == "obj":
        return check(value, arg)
    if not isinstance(value, list):
        raise body_read(
            "An unexpected 'StartObject' node was found when reading from the JSON reader. "
            "A 'StartArray' node was expected."
        )
    return [_check_value(v, arg) for v in value]


# --- times ---------------------------------------------------------------------------------


def unsupported_zone(name: Any) -> ApiError:
    # [U] api-spec §2.11: the code Graph uses for a zone it does not know (seen in the wild).
    return ApiError(
        400,
        "TimeZoneNotSupportedException",
        f"A valid TimeZone value must be specified. The following TimeZone value is not "
        f"supported: '{name if name is not None else ''}'.",
    )


def read_dtz(value: dict[str, Any], prop: str) -> tuple[datetime, str]:
    """A dateTimeTimeZone -> (aware instant, zone name as given)."""
    text = value.get("dateTime")
    if not text:
        raise ApiError(400, "ErrorInvalidRequest", f"The '{prop}.dateTime' value is required.")
    # [U] no timeZone means UTC, as for every other Graph dateTime without a zone.
    name = value.get("timeZone") or "UTC"
    if timezones.zone(name) is None:
        raise unsupported_zone(name)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):  # a bare date, as jasonjoh's all-day example
        text += "T00:00:00"
    try:
        return timezones.graph_datetime_to_aware(text, name), name
    except ValueError:
        pass
    try:
        # [U] a dateTime with an offset: the instant it names is used.
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ApiError(
            400, "ErrorInvalidRequest", f"The value '{text}' of '{prop}.dateTime' is not valid."
        ) from None
    return parsed, name


# --- building events -----------------------------------------------------------------------


def _location(loc: dict[str, Any] | None) -> dict[str, Any]:
    loc = dict(loc or {})
    name = loc.get("displayName") or ""
    out: dict[str, Any] = {
        "displayName": name,
        "locationType": loc.get("locationType") or "default",
    }
    if name:
        out["uniqueId"] = loc.get("uniqueId") or name
        out["uniqueIdType"] = loc.get("uniqueIdType") or "private"
    else:
        out["uniqueIdType"] = "unknown"
        out["address"] = {}
        out["coordinates"] = {}
    for key in ("address", "coordinates", "locationEmailAddress", "locationUri"):
        if loc.get(key) is not None:
            out[key] = loc[key]
    return out


def _locations_entry(loc: dict[str, Any]) -> dict[str, Any]:
    # As recorded (api-spec §5, user-post-events ex1): the same place, without its uniqueId.
    out = {k: v for k, v in loc.items() if k not in ("uniqueId", "uniqueIdType")}
    out["uniqueIdType"] = "unknown"
    return out


def _attendees(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(items) > MAX_ATTENDEES:
        # [U] api-spec §2.3 documents the limit, not the error.
        raise ApiError(
            400,
            "ErrorExceededMaxRecipientLimit",
            f"An event can have at most {MAX_ATTENDEES} attendees.",
        )
    out = []
    for att in items:
        email = att.get("emailAddress") or {}
        address = (email.get("address") or "").strip()
        if "@" not in address:
            raise ApiError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        out.append(
            {
                "type": att.get("type") or "required",
                "status": {"response": "none", "time": gs.ZERO_TIME},
                "emailAddress": {"name": email.get("name") or address, "address": address},
            }
        )
    return out


def default_props() -> dict[str, Any]:
    return {
        "subject": "",
        "body": {"contentType": "html", "content": ""},
        "showAs": "busy",
        "sensitivity": "normal",
        "importance": "normal",
        "categories": [],
        "location": _location(None),
        "locations": [],
        "attendees": [],
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "responseRequested": True,
        "allowNewTimeProposals": True,
        "hideAttendees": False,
        "isOnlineMeeting": False,
        "onlineMeetingProvider": "unknown",
    }


_PLAIN = (
    "showAs",
    "sensitivity",
    "importance",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "allowNewTimeProposals",
    "hideAttendees",
    "isOnlineMeeting",
    "onlineMeetingProvider",
)


def apply_changes(
    ev: dict[str, Any], body: dict[str, Any], *, creating: bool, series_member: bool = False
) -> set[str]:
    """Apply a checked event body to ``ev`` (a copy the caller may still throw away).

    Returns the names of the properties that were set. Raises ApiError on invalid values.
    """
    props = ev["props"]
    for key in _PLAIN:
        if key in body:
            if body[key] is None:
                spec = _TYPES["event"][key]
                expected = spec if isinstance(spec, str) else f"microsoft.graph.{spec[1]}"
                raise _literal(None, expected)
            props[key] = body[key]
    if "reminderMinutesBeforeStart" in body and body["reminderMinutesBeforeStart"] < 0:
        raise _literal(body["reminderMinutesBeforeStart"], _I)
    if "subject" in body:
        props["subject"] = body["subject"] or ""
    if "body" in body:
        b = body["body"] or {}
        props["body"] = {
            "contentType": b.get("contentType") or "text",
            "content": b.get("content") or "",
        }
    if "categories" in body:
        props["categories"] = list(body["categories"] or [])
    if "attendees" in body:
        props["attendees"] = _attendees(body["attendees"] or [])
    if body.get("locations") is not None:
        locs = [_location(x) for x in body["locations"]]
        props["locations"] = [_locations_entry(x) for x in locs]
        props["location"] = locs[0] if locs else _location(None)
    elif "location" in body:
        loc = _location(body["location"])
        props["location"] = loc
        props["locations"] = [_locations_entry(loc)] if loc["displayName"] else []
    if not creating and "transactionId" in body and body["transactionId"] != ev["transactionId"]:
        # [U] §2.3: "you can't change transactionId in a subsequent update".
        raise ApiError(400, "ErrorInvalidRequest", "The transactionId cannot be changed.")
    if creating and body.get("transactionId"):
        ev["transactionId"] = body["transactionId"]
    for prop in body.get("singleValueExtendedProperties") or []:
        pid, value = prop.get("id"), prop.get("value")
        if not pid or not _EXT_ID.match(pid.strip()):
            raise ApiError(
                400, "ErrorInvalidProperty", f"The extended property id '{pid}' is invalid."
            )
        if value is None:
            raise _literal(None, _S)
        ev["ext"][pid.strip().lower()] = [pid.strip(), value]
    _apply_times(ev, body, creating=creating)
    member = series_member or ev["type"] == "exception"
    if member and body.get("recurrence") is not None:
        raise ApiError(400, "ErrorInvalidRequest", "The recurrence of an occurrence cannot be set.")
    return set(body)


def _apply_times(ev: dict[str, Any], body: dict[str, Any], *, creating: bool) -> None:
    if creating and (not body.get("start") or not body.get("end")):
        # [U] Graph's behaviour without start/end is undocumented; refusing catches client bugs.
        raise ApiError(400, "ErrorInvalidRequest", "The event must have a start and an end.")
    for prop in ("start", "end"):
        if prop in body:
            if body[prop] is None:
                raise _literal(None, "microsoft.graph.dateTimeTimeZone")
            instant, name = read_dtz(body[prop], prop)
            ev[prop] = gs.to_iso(instant)
            ev[prop + "Zone"] = name
    if "isAllDay" in body and body["isAllDay"] is not None:
        ev["allDay"] = body["isAllDay"]
    start, end = gs.from_iso(ev["start"]), gs.from_iso(ev["end"])
    if end < start:
        raise ApiError(
            400, "ErrorCalendarEndDateIsEarlierThanStartDate", "EndDate is earlier than StartDate"
        )
    if ev["allDay"]:
        _check_all_day(ev, start, end)


def _check_all_day(ev: dict[str, Any], start: datetime, end: datetime) -> None:
    # [U] api-spec §2.3: midnight to midnight in one zone; the messages follow what Exchange
    # said to the Office 365 SDKs (OfficeDev/Office-365-SDK-for-Java#5).
    if timezones.canonical_iana(ev["startZone"]) != timezones.canonical_iana(ev["endZone"]):
        raise ApiError(
            400,
            "ErrorInvalidRequest",
            "Your request can't be completed. An all-day event must have the same start and end "
            "time zone.",
        )
    zone = gs.zone_or_utc(ev["startZone"])
    ls, le = start.astimezone(zone), end.astimezone(zone)
    if ls.time() != datetime.min.time() or le.time() != datetime.min.time():
        raise ApiError(
            400,
            "ErrorInvalidRequest",
            "Your request can't be completed. The start and end times of an all-day event must "
            "be set to midnight.",
        )
    if le.date() <= ls.date():
        raise ApiError(
            400,
            "ErrorInvalidRequest",
            "The duration of an event marked as All day must be at least 24 hours.",
        )


def normalize_recurrence(ev: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """The recurrence as Graph echoes it; 400 with recurrence.py's code on bad input."""
    zone_name = ev["startZone"]
    local = gs.from_iso(ev["start"]).astimezone(gs.zone_or_utc(zone_name))
    try:
        out = recurrence.normalize_graph_recurrence(rec, local, gs.windows_name(zone_name))
    except recurrence.GraphRecurrenceError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    if timezones.zone(out["range"]["recurrenceTimeZone"]) is None:
        raise unsupported_zone(out["range"]["recurrenceTimeZone"])
    return out


def new_event(mbx: dict[str, Any], cal_id: str, owner: dict[str, str]) -> dict[str, Any]:
    """A blank stored event; the caller applies the request body and touches it."""
    stamp = gs.now_stamp()
    return {
        "id": gs.new_event_id(mbx),
        "calendar": cal_id,
        "type": "singleInstance",
        "seq": 0,
        "changeKey": "",
        "created": stamp,
        "modified": stamp,
        "iCalUId": gs.new_ical_uid(),
        "start": "",
        "end": "",
        "startZone": "UTC",
        "endZone": "UTC",
        "allDay": False,
        "props": default_props(),
        "recurrence": None,
        "cancelled": [],
        "exceptions": {},
        "seriesMasterId": None,
        "originalStart": None,
        "transactionId": None,
        "ext": {},
        "isOrganizer": True,
        "organizer": {"emailAddress": dict(owner)},
        "responseStatus": {"response": "organizer", "time": gs.ZERO_TIME},
        "isCancelled": False,
    }


def exception_from(
    mbx: dict[str, Any], master: dict[str, Any], original_start: datetime
) -> dict[str, Any]:
    """A stored exception made from an occurrence: the master's fields at the occurrence time.

    It keeps the occurrence's id, as Exchange keeps an occurrence's id when it is modified.
    """
    ev = copy.deepcopy(master)
    span = gs.duration(master)
    ev.update(
        id=gs.occurrence_id(master["id"], original_start),
        type="exception",
        start=gs.to_iso(original_start),
        end=gs.to_iso(original_start + span),
        recurrence=None,
        cancelled=[],
        exceptions={},
        seriesMasterId=master["id"],
        originalStart=gs.to_iso(original_start),
        iCalUId=gs.occurrence_ical_uid(master["iCalUId"], gs.local_date(master, original_start)),
        transactionId=None,
        created=gs.now_stamp(),
    )
    ev.pop("copies", None)
    return ev


def check_boundary(
    master: dict[str, Any], original_start: datetime, new_start: datetime, new_end: datetime
) -> None:
    """Outlook's rule: an occurrence may not move to or past a neighbour's day (api-spec §2.7)."""
    zone = gs.series_zone(master)
    before, after = gs.neighbours(master, original_start)
    day, span = new_start.astimezone(zone).date(), gs.duration(master)
    # The message also says "overlapping", which only multi-day occurrences can reach.
    crossing_before = before is not None and (
        day <= before.astimezone(zone).date() or new_start < before + span
    )
    crossing_after = after is not None and (day >= after.astimezone(zone).date() or new_end > after)
    if crossing_before or crossing_after:
        raise ApiError(
            400,
            "ErrorOccurrenceCrossingBoundary",
            "Modified occurrence is crossing or overlapping adjacent occurrence.",
        )
