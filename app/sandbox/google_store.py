"""Google Calendar v3 sandbox: the data model, validation, rendering and opaque tokens.

``state.data["google"]`` (JSON only, snapshotted to disk)::

    calendars: {cal_id: {id, owner, summary, description, timeZone, primary, micros, ...}}
    cal_list:  {uid: {cal_id: {seq, deleted}}}
    events:    {cal_id: {series_id: Series}}
    epochs / issued: {uid: int}   sync-token generation / tokens handed out since
    secret, clock                 token MAC key, last micro-timestamp handed out

A ``Series`` is ``{"res": event, "seq": n, "exc": {instance_id: event}, "hist": [...]}``: a
single event, or a recurring master with its exceptions. Google treats a series as one object
(api-spec §1.5, payloads ``google_incsync_*``): any change to the master or an instance bumps
``seq``, ``updated`` and ``etag`` of all of them, and the change feed carries them together.
Plain instances are never stored; they are expanded from the master on demand.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.sandbox import recurrence as rr
from app.sandbox.httpcore import ApiError
from app.sandbox.state import SandboxState


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


EVENT_ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")  # base32hex, api-spec §1.3
_B32HEX = "0123456789abcdefghijklmnopqrstuv"
# singleEvents without timeMax: expand this far past now (or past timeMin) [U] §1.6. Google does
# not document its limit; a year covers any sync window the app uses.
HORIZON = timedelta(days=366)
MAX_INSTANCES = 10_000  # per series and request, so a MINUTELY rule cannot stall the server
# updatedMin older than this -> 410 updatedMinTooLongAgo [U] §1.4: the real limit is undocumented.
UPDATED_MIN_MAX_AGE = timedelta(days=30)
HIST_KEEP = 10  # earlier recurrence definitions kept to report vanished instances (singleEvents)

_STR_FIELDS = ("summary", "description", "location")
_BOOL_FIELDS = words(
    "anyoneCanAddSelf guestsCanInviteOthers guestsCanModify guestsCanSeeOtherGuests privateCopy "
    "locked endTimeUnspecified attendeesOmitted"
)
_OBJ_FIELDS = words(
    "source conferenceData gadget focusTimeProperties outOfOfficeProperties "
    "workingLocationProperties birthdayProperties"
)
_ENUMS = {
    "status": ("confirmed", "tentative", "cancelled"),
    "transparency": ("opaque", "transparent"),
    "visibility": ("default", "public", "private", "confidential"),
}
EVENT_TYPES = ("default", "focusTime", "outOfOffice", "workingLocation")
_RESPONSE = ("needsAction", "declined", "tentative", "accepted")
# Key order of a rendered event, as in the recorded payloads.
_ORDER = words(
    "kind etag id status htmlLink created updated summary description location colorId creator "
    "organizer start end endTimeUnspecified recurrence recurringEventId originalStartTime "
    "transparency visibility iCalUID sequence attendees attendeesOmitted extendedProperties "
    "anyoneCanAddSelf guestsCanInviteOthers guestsCanModify guestsCanSeeOtherGuests privateCopy "
    "locked reminders source attachments eventType"
)
# Server-controlled fields carried over from the stored event on update/patch.
SERVER_FIELDS = words(
    "kind etag id htmlLink created updated creator organizer iCalUID sequence recurringEventId "
    "originalStartTime eventType"
)
EVENT_COLORS = tuple(str(n) for n in range(1, 12))


# --------------------------------------------------------------------------- state access


def gdata(state: SandboxState) -> dict[str, Any]:
    g: dict[str, Any] = state.data.setdefault("google", {})
    if "calendars" not in g:
        g.update(calendars={}, cal_list={}, events={}, epochs={}, issued={}, clock=0)
        g["secret"] = secrets.token_hex(16)
    return g


def now_micros(g: dict[str, Any]) -> int:
    """Wall clock in microseconds, strictly increasing so every change has its own etag."""
    micros = max(int(time.time() * 1_000_000), int(g.get("clock", 0)) + 1)
    g["clock"] = micros
    return micros


def _seconds_text(t: datetime) -> str:
    """``t.strftime("%Y-%m-%dT%H:%M:%S")``; isoformat is several times faster and the same
    from year 1000 on (glibc's %Y does not pad shorter years)."""
    if t.year < 1000:
        return t.strftime("%Y-%m-%dT%H:%M:%S")
    return t.replace(tzinfo=None).isoformat(timespec="seconds")


def fmt_updated(micros: int) -> str:
    t = datetime.fromtimestamp(micros / 1_000_000, UTC)
    return f"{_seconds_text(t)}.{t.microsecond // 1000:03d}Z"


def fmt_created(micros: int) -> str:
    # Recorded payloads show created with whole seconds: "2025-03-24T12:58:18.000Z".
    return _seconds_text(datetime.fromtimestamp(micros // 1_000_000, UTC)) + ".000Z"


def etag(micros: int, bump: int = 0) -> str:
    # Recorded etags are quoted decimals about twice the microsecond clock ("3485815948352798").
    return f'"{2 * micros + bump}"'


def new_id() -> str:
    return "".join(secrets.choice(_B32HEX) for _ in range(26))


def calendar_of(state: SandboxState, uid: str | None, cal_id: str) -> dict[str, Any]:
    """The caller's calendar; anyone else's is indistinguishable from a missing one (404)."""
    g = gdata(state)
    user = state.user(uid) if uid else None
    if user is None:
        raise not_found()
    if cal_id == "primary":
        cal_id = user["email"]
    cal = g["calendars"].get(cal_id)
    if cal is None or cal["owner"] != uid:
        raise not_found()
    return dict(cal)


# --------------------------------------------------------------------------- time


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FRACTION = re.compile(r"\.(\d+)")


def parse_rfc3339(text: str) -> datetime | None:
    """A datetime (naive when the text has no offset), or None when it is not RFC 3339."""
    if not isinstance(text, str) or not _RFC3339.match(text):
        return None
    frac = _FRACTION.search(text)
    clean = text.upper().replace("Z", "+00:00")
    if frac:
        clean = clean.replace(frac.group(0), "." + (frac.group(1) + "000000")[:6])
    try:
        return datetime.fromisoformat(clean)
    except ValueError:
        return None


def zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or name.startswith(("/", ".")):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def fmt_dt(aware: datetime, tz: ZoneInfo) -> str:
    text = aware.astimezone(tz).replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def edt_instant(edt: dict[str, Any], day_zone: ZoneInfo) -> datetime:
    """Start/end instant of an EventDateTime; all-day dates begin at midnight in ``day_zone``."""
    if "date" in edt:
        return datetime.combine(date.fromisoformat(edt["date"]), datetime.min.time(), day_zone)
    return datetime.fromisoformat(edt["dateTime"])


def bounds(res: dict[str, Any], day_zone: ZoneInfo) -> tuple[datetime, datetime]:
    return edt_instant(res["start"], day_zone), edt_instant(res["end"], day_zone)


def duration(res: dict[str, Any]) -> timedelta:
    if "date" in res["start"]:
        return date.fromisoformat(res["end"]["date"]) - date.fromisoformat(res["start"]["date"])
    return bounds(res, ZoneInfo("UTC"))[1] - bounds(res, ZoneInfo("UTC"))[0]


# --------------------------------------------------------------------------- validation


def invalid(field: str, message: str | None = None) -> ApiError:
    return ApiError(
        400,
        "invalid",
        message or f"Invalid value for field '{field}'.",
        locationType="parameter",
        location=field,
    )


def required(field: str, message: str) -> ApiError:
    return ApiError(400, "required", message, locationType="parameter", location=field)


def not_found() -> ApiError:
    return ApiError(404, "notFound", "Not Found")


def gone() -> ApiError:
    return ApiError(410, "deleted", "Resource has been deleted")


def duplicate() -> ApiError:
    return ApiError(409, "duplicate", "The requested identifier already exists.")


def time_range_empty(location: str) -> ApiError:
    message = "The specified time range is empty."
    return ApiError(400, "timeRangeEmpty", message, locationType="parameter", location=location)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def norm_edt(value: Any, field: str, cal_tz: str) -> dict[str, Any]:
    """Validate an EventDateTime and store it the way Google echoes it."""
    if value is None:
        raise required(field, f"Missing {field} time.")
    if not isinstance(value, dict):
        raise invalid(field)
    d, dtv, tzv = value.get("date"), value.get("dateTime"), value.get("timeZone")
    for key, v in (("date", d), ("dateTime", dtv), ("timeZone", tzv)):
        if v is not None and not isinstance(v, str):
            raise invalid(f"{field}.{key}")
    tz = None
    if tzv:
        tz = zone(tzv)
        if tz is None:
            raise invalid(f"{field}.timeZone", f"Invalid time zone definition for {field} time.")
    if d and dtv:
        raise invalid(field, f"Invalid {field} time.")
    if dtv:
        parsed = parse_rfc3339(dtv)
        if parsed is None:
            raise invalid(f"{field}.dateTime")
        if parsed.tzinfo is None:
            if tz is None:
                raise required(
                    f"{field}.timeZone", f"Missing time zone definition for {field} time."
                )
            parsed = parsed.replace(tzinfo=tz)
        out: dict[str, Any] = {"dateTime": fmt_dt(parsed, tz or zone(cal_tz) or ZoneInfo("UTC"))}
        if tzv:
            out["timeZone"] = tzv
        return out
    if d:
        if not _DATE.match(d):
            raise invalid(f"{field}.date")
        try:
            date.fromisoformat(d)
        except ValueError:
            raise invalid(f"{field}.date") from None
        return {"date": d}
    raise required(field, f"Missing {field} time.")


def _str(body: dict[str, Any], key: str, out: dict[str, Any]) -> None:
    if body.get(key) is not None:
        if not isinstance(body[key], str):
            raise invalid(key)
        out[key] = body[key]


def _attendees(value: Any, organizer_email: str, owner_email: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid("attendees")
    out = []
    for i, a in enumerate(value):
        where = f"attendees[{i}]"
        if not isinstance(a, dict):
            raise invalid(where)
        email = a.get("email")
        if email is None:
            raise required(f"{where}.email", "Missing attendee email.")
        item: dict[str, Any] = {}
        for key in ("email", "displayName", "comment"):
            _str(a, key, item)
        for key in ("optional", "resource"):
            if a.get(key) is not None:
                if not isinstance(a[key], bool):
                    raise invalid(f"{where}.{key}")
                item[key] = a[key]
        status = a.get("responseStatus") or "needsAction"
        if status not in _RESPONSE:
            raise invalid(f"{where}.responseStatus")
        if a.get("additionalGuests") is not None:
            if not is_int(a["additionalGuests"]):
                raise invalid(f"{where}.additionalGuests")
            item["additionalGuests"] = a["additionalGuests"]
        if email.lower() == organizer_email.lower():
            item["organizer"] = True
        if email.lower() == owner_email.lower():
            item["self"] = True
        item["responseStatus"] = status
        out.append(item)
    return out


def _reminders(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("reminders")
    use_default = value.get("useDefault", False)
    if not isinstance(use_default, bool):
        raise invalid("reminders.useDefault")
    out: dict[str, Any] = {"useDefault": use_default}
    overrides = value.get("overrides")
    if overrides is not None:
        if not isinstance(overrides, list):
            raise invalid("reminders.overrides")
        if use_default and overrides:
            raise invalid(
                "reminders", "Cannot specify both default reminders and overrides at the same time."
            )
        if len(overrides) > 5:
            raise invalid("reminders.overrides", "Too many reminders.")
        items = []
        for i, o in enumerate(overrides):
            ok = isinstance(o, dict) and o.get("method") in ("email", "popup")
            minutes: Any = o.get("minutes") if isinstance(o, dict) else None
            if not ok or not is_int(minutes):
                raise invalid(f"reminders.overrides[{i}]")
            if not 0 <= minutes <= 40320:
                raise invalid(f"reminders.overrides[{i}].minutes")
            items.append({"method": o["method"], "minutes": minutes})
        if items:
            out["overrides"] = items
    return out


def _ext_props(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("extendedProperties")
    out: dict[str, Any] = {}
    total = 0
    for kind in ("private", "shared"):
        props = value.get(kind)
        if props is None:
            continue
        if not isinstance(props, dict):
            raise invalid(f"extendedProperties.{kind}")
        clean = {}
        for k, v in props.items():
            if v is None:
                continue
            if not isinstance(v, str):
                raise invalid(f"extendedProperties.{kind}.{k}")
            if len(k) > 44:  # "longer keys will be silently dropped" (§1.8)
                continue
            clean[k] = v[:1024]  # "values will be silently truncated"
        total += len(clean)
        if clean:
            out[kind] = clean
    if total > 300:
        raise invalid("extendedProperties", "Too many extended properties.")
    return out


def validate_event(
    body: Any,
    *,
    cal: dict[str, Any],
    organizer_email: str,
    instance: bool,
    importing: bool = False,
) -> dict[str, Any]:
    """The writable fields of ``body``, validated and normalised; raises before anything changes.

    Unknown top-level fields are ignored: Calendar v3 is an Apiary API that drops fields it does
    not know rather than rejecting them [U] §1.3. Read-only fields are ignored here too.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "parseError", "Parse Error")
    out: dict[str, Any] = {}
    for key in _STR_FIELDS:
        _str(body, key, out)
    for key in _BOOL_FIELDS:
        if body.get(key) is not None:
            if not isinstance(body[key], bool):
                raise invalid(key)
            out[key] = body[key]
    for key in _OBJ_FIELDS:
        if body.get(key) is not None:
            if not isinstance(body[key], dict):
                raise invalid(key)
            out[key] = body[key]
    if body.get("attachments") is not None:
        if not isinstance(body["attachments"], list):
            raise invalid("attachments")
        out["attachments"] = body["attachments"]
    for key, allowed in _ENUMS.items():
        if body.get(key) is not None:
            if body[key] not in allowed:
                raise invalid(key)
            out[key] = body[key]
    if body.get("colorId") is not None:
        if body["colorId"] not in EVENT_COLORS:
            raise invalid("colorId")
        out["colorId"] = body["colorId"]
    start = norm_edt(body.get("start"), "start", cal["timeZone"])
    end = norm_edt(body.get("end"), "end", cal["timeZone"])
    if ("date" in start) != ("date" in end):
        raise invalid("end", "Start and end times must either both be date or both be dateTime.")
    utc = ZoneInfo("UTC")
    begin_at, end_at = edt_instant(start, utc), edt_instant(end, utc)
    if end_at < begin_at or ("date" in start and end_at == begin_at):
        raise time_range_empty("end")
    out["start"], out["end"] = start, end
    owner_email = cal["id"]  # "self" marks the calendar this copy of the event lives in
    if importing and body.get("organizer") is not None:
        org = body["organizer"]
        if not isinstance(org, dict) or not isinstance(org.get("email"), str):
            raise invalid("organizer")
        organizer_email = org["email"]
        out["organizer"] = {
            k: org[k] for k in ("email", "displayName") if isinstance(org.get(k), str)
        }
    if body.get("attendees") is not None:
        attendees = _attendees(body["attendees"], organizer_email, owner_email)
        if attendees:
            out["attendees"] = attendees
    out["reminders"] = (
        _reminders(body["reminders"]) if body.get("reminders") is not None else {"useDefault": True}
    )
    if body.get("extendedProperties") is not None:
        props = _ext_props(body["extendedProperties"])
        if props:
            out["extendedProperties"] = props
    if body.get("recurrence") is not None and not instance:
        lines = body["recurrence"]
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise invalid("recurrence")
        if lines:
            problem = rr.validate_google_recurrence(lines, start)
            if problem is not None:
                raise invalid("recurrence", problem)
            out["recurrence"] = list(lines)
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON merge semantics (RFC 7396): objects merge, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def ordered(res: dict[str, Any]) -> dict[str, Any]:
    out = {k: res[k] for k in _ORDER if k in res}
    out.update((k, v) for k, v in res.items() if k not in out)
    return out


def html_link(event_id: str, cal_id: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {cal_id}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def times_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    utc = ZoneInfo("UTC")
    return (
        bounds(old, utc) != bounds(new, utc)
        or ("date" in old["start"]) != ("date" in new["start"])
        or old.get("recurrence") != new.get("recurrence")
    )


# --------------------------------------------------------------------------- rendering


def minimal(res: dict[str, Any]) -> dict[str, Any]:
    """What list results carry for cancelled items (api-spec §1.5, COMPASS payloads)."""
    out = {k: res[k] for k in ("kind", "etag", "id", "status")}
    if "recurringEventId" in res:
        out["recurringEventId"] = res["recurringEventId"]
        out["originalStartTime"] = res["originalStartTime"]
    return out


def render(
    res: dict[str, Any],
    tz: ZoneInfo | None = None,
    max_attendees: int | None = None,
    *,
    encode_only: bool = False,
) -> dict[str, Any]:
    """A deep copy of a stored event, dateTimes shown in ``tz`` (the ``timeZone`` parameter).

    ``encode_only``: the caller encodes the result at once and keeps nothing, so when nothing
    is to change ``res`` itself serves (the JSON is the same; a copy costs ~15 us per event).
    """
    if encode_only and tz is None and max_attendees is None:
        return res
    out: dict[str, Any] = json.loads(json.dumps(res))
    if tz is not None:
        for key in ("start", "end", "originalStartTime"):
            if key in out and "dateTime" in out[key]:
                out[key]["dateTime"] = fmt_dt(datetime.fromisoformat(out[key]["dateTime"]), tz)
    if max_attendees is not None and len(out.get("attendees", [])) > max_attendees:
        out["attendees"] = out["attendees"][:max_attendees]
        out["attendeesOmitted"] = True
    return out


@lru_cache(maxsize=2048)
def _expand(
    lines: str,
    start: str,
    ws: datetime | None,
    we: datetime | None,
    dur: timedelta,
    day_tz: str,
    limit: int,
) -> tuple[rr.Occurrence, ...]:
    try:
        occ = rr.expand_google(
            json.loads(lines), json.loads(start), ws, we, limit, duration=dur, all_day_zone=day_tz
        )
    except rr.GoogleRecurrenceError:
        return ()  # stored rules were validated on write; never fail a read over one
    return tuple(occ)


def occurrences(
    master: dict[str, Any],
    ws: datetime | None,
    we: datetime | None,
    day_tz: str = "UTC",
    limit: int = MAX_INSTANCES,
) -> tuple[rr.Occurrence, ...]:
    """The series' occurrences overlapping [ws, we) (all-day ones in ``day_tz``), cached."""
    if not master.get("recurrence"):
        return ()
    start = json.dumps(master["start"], sort_keys=True)
    rec = json.dumps(master["recurrence"])
    return _expand(rec, start, ws, we, duration(master), day_tz, limit)


def original_start(occ: rr.Occurrence, master: dict[str, Any]) -> dict[str, Any]:
    if occ.date is not None:
        return {"date": occ.date.isoformat()}
    tzname = master["start"].get("timeZone", "UTC")
    return {
        "dateTime": fmt_dt(occ.original_start_utc, zone(tzname) or ZoneInfo("UTC")),
        "timeZone": tzname,
    }


def virtual_instance(master: dict[str, Any], occ: rr.Occurrence) -> dict[str, Any]:
    """A plain (unmodified) instance of a series, as events.instances shows it."""
    inst = {k: v for k, v in master.items() if k != "recurrence"}
    inst["id"] = rr.google_instance_id(master["id"], occ)
    inst["htmlLink"] = html_link(inst["id"], master["organizer"]["email"])
    inst["recurringEventId"] = master["id"]
    inst["originalStartTime"] = original_start(occ, master)
    if occ.date is not None:
        inst["start"] = {"date": occ.date.isoformat()}
        inst["end"] = {"date": (occ.date + duration(master)).isoformat()}
    else:
        inst["start"] = dict(inst["originalStartTime"])
        end_tzname = master["end"].get("timeZone") or master["start"].get("timeZone", "UTC")
        end_at = occ.original_start_utc + duration(master)
        inst["end"] = {"dateTime": fmt_dt(end_at, zone(end_tzname) or ZoneInfo("UTC"))}
        if "timeZone" in master["end"]:
            inst["end"]["timeZone"] = master["end"]["timeZone"]
    return ordered(inst)


def find_occurrence(master: dict[str, Any], instance_id: str) -> rr.Occurrence | None:
    """The occurrence an instance id names, if the master's recurrence produces it."""
    parsed = rr.parse_google_instance_suffix(instance_id)
    if parsed is None or parsed[0] != master["id"] or not master.get("recurrence"):
        return None
    when = parsed[1]
    all_day = "date" in master["start"]
    if isinstance(when, datetime) == all_day:
        return None
    rec = json.dumps(master["recurrence"])
    index = _instance_index(
        master["id"], rec, json.dumps(master["start"], sort_keys=True), duration(master)
    )
    if index is not None:
        return index.get(instance_id)
    at = when if isinstance(when, datetime) else datetime.combine(when, datetime.min.time(), UTC)
    for occ in occurrences(master, at - timedelta(microseconds=1), at + timedelta(seconds=1)):
        if rr.google_instance_id(master["id"], occ) == instance_id:
            return occ
    return None


@lru_cache(maxsize=512)
def _instance_index(
    master_id: str, lines: str, start: str, dur: timedelta
) -> dict[str, rr.Occurrence] | None:
    """Every instance of a series that ends (COUNT or UNTIL on each rule), by instance id;
    None for one that does not, or has more than MAX_INSTANCES. Writing 500 exceptions would
    otherwise expand their series from its start once each. Keyed on what the expansion
    depends on, so an edited rule or start is a new entry; callers must not change it."""
    rules = [line for line in json.loads(lines) if line.upper().startswith("RRULE")]
    if not all("COUNT=" in r.upper() or "UNTIL=" in r.upper() for r in rules):
        return None
    every = _expand(lines, start, None, None, dur, "UTC", MAX_INSTANCES)
    if len(every) >= MAX_INSTANCES:
        return None
    return {rr.google_instance_id(master_id, occ): occ for occ in every}


# --------------------------------------------------------------------------- changes


def touch_series(
    g: dict[str, Any],
    state: SandboxState,
    cal_id: str,
    series: dict[str, Any],
    edited: str | None = None,
) -> int:
    """Record a change to a series: new seq, and new updated/etag on every member (§1.5)."""
    micros = now_micros(g)
    seq = state.next_seq()
    series["seq"] = seq
    stamp = fmt_updated(micros)
    series["res"]["updated"], series["res"]["etag"] = stamp, etag(micros)
    for inst_id, exc in series.get("exc", {}).items():
        exc["updated"], exc["etag"] = stamp, etag(micros, 1 if inst_id == edited else 0)
    g["calendars"][cal_id]["micros"] = micros
    return seq


def remember_definition(series: dict[str, Any], old: dict[str, Any], at: int) -> None:
    """Keep the replaced recurrence so singleEvents feeds can report instances that vanished.

    ``at`` is the change that replaced it: a client synced before ``at`` may hold its instances.
    """
    if not old.get("recurrence"):
        return
    hist = series.setdefault("hist", [])
    hist.append(
        {"at": at, "recurrence": old["recurrence"], "start": old["start"], "end": old["end"]}
    )
    del hist[:-HIST_KEEP]


def cancel_orphans(series: dict[str, Any]) -> None:
    """After a master edit, exceptions whose original start left the set are cancelled."""
    master = series["res"]
    for inst_id, exc in series.get("exc", {}).items():
        if exc["status"] != "cancelled" and find_occurrence(master, inst_id) is None:
            exc["status"] = "cancelled"


def resolve(
    g: dict[str, Any], cal_id: str, event_id: str
) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """(series, instance id or None, the event as stored or expanded); 404 when unknown."""
    events = g["events"].get(cal_id, {})
    if event_id in events:
        return events[event_id], None, events[event_id]["res"]
    parsed = rr.parse_google_instance_suffix(event_id)
    if parsed is not None and parsed[0] in events:
        series = events[parsed[0]]
        master = series["res"]
        res = series.get("exc", {}).get(event_id)
        if res is None:
            occ = find_occurrence(master, event_id)
            res = virtual_instance(master, occ) if occ is not None else None
        if res is not None:
            if master["status"] == "cancelled":
                res = {**res, "status": "cancelled"}  # the whole series is gone
            return series, event_id, res
    raise not_found()


def organizer(cal: dict[str, Any], given: dict[str, Any] | None = None) -> dict[str, Any]:
    if given is not None:  # events.import may name another organizer
        org = dict(given)
        if org["email"].lower() == cal["id"].lower():
            org["self"] = True
        return org
    if cal["primary"]:
        return {"email": cal["id"], "self": True}
    return {"email": cal["id"], "displayName": cal["summary"], "self": True}


def claim_id(body: dict[str, Any], events: dict[str, Any], state: SandboxState) -> str:
    """The new event's id: the client's (checked, and free) or a fresh one."""
    eid = body.get("id")
    if eid is None:
        eid = new_id()
        while eid in events:
            eid = new_id()
        return eid
    if not isinstance(eid, str) or not EVENT_ID_RE.match(eid):
        raise invalid("id", "Invalid resource id value.")
    existing = events.get(eid)
    if existing is not None and (
        existing["res"]["status"] != "cancelled"
        or state.settings.switches.google_deleted_ids_reserved  # §1.7: deleted ids stay taken
    ):
        raise duplicate()
    return eid


def create(
    state: SandboxState,
    g: dict[str, Any],
    cal: dict[str, Any],
    user: dict[str, Any],
    eid: str,
    fields: dict[str, Any],
    ical: str | None,
    event_type: str,
) -> dict[str, Any]:
    """Store a new event (single or master) and return it."""
    creator = {"email": user["email"], "self": True} if cal["primary"] else {"email": user["email"]}
    # etag and updated are placeholders here (for the key order); touch_series fills them in.
    res: dict[str, Any] = {"kind": "calendar#event", "etag": "", "id": eid}
    res["status"] = fields.pop("status", "confirmed")
    res.update(htmlLink=html_link(eid, cal["id"]), created=fmt_created(now_micros(g)), updated="")
    res.update(creator=creator, organizer=organizer(cal, fields.pop("organizer", None)))
    res.update(fields)
    res.update(iCalUID=ical or f"{eid}@google.com", sequence=0, eventType=event_type)
    series: dict[str, Any] = {"res": ordered(res), "seq": 0, "exc": {}}
    g["events"].setdefault(cal["id"], {})[eid] = series
    touch_series(g, state, cal["id"], series)
    return dict(series["res"])


def compose(cur: dict[str, Any], fields: dict[str, Any], cal: dict[str, Any]) -> dict[str, Any]:
    """The replacement of ``cur``: writable fields from the request, the rest from the server."""
    new = {k: cur[k] for k in SERVER_FIELDS if k in cur}
    if "organizer" in fields:
        new["organizer"] = organizer(cal, fields.pop("organizer"))
    new["status"] = fields.pop("status", "confirmed")
    new.update(fields)
    new["sequence"] = int(cur.get("sequence", 0)) + (1 if times_changed(cur, new) else 0)
    return ordered(copy.deepcopy(new))  # an instance's copy must not share objects with its master


def commit_master(
    state: SandboxState, g: dict[str, Any], cal_id: str, series: dict[str, Any], new: dict[str, Any]
) -> None:
    """Replace a series' master; a new recurrence or start cancels exceptions it no longer has."""
    old = series["res"]
    series["res"] = new
    redefined = old.get("recurrence") != new.get("recurrence") or old["start"] != new["start"]
    if redefined:
        cancel_orphans(series)
    seq = touch_series(g, state, cal_id, series)
    if redefined:
        remember_definition(series, old, seq)


# --------------------------------------------------------------------------- tokens


def make_token(g: dict[str, Any], payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    mac = hmac.new(g["secret"].encode(), raw, hashlib.sha256).digest()[:8]
    return base64.urlsafe_b64encode(mac + raw).decode()


def read_token(g: dict[str, Any], token: str) -> dict[str, Any] | None:
    """The payload of a token this sandbox made, or None for anything garbled or foreign."""
    try:
        blob = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4))
    except (ValueError, UnicodeError):
        return None
    mac, raw = blob[:8], blob[8:]
    good = hmac.new(g["secret"].encode(), raw, hashlib.sha256).digest()[:8]
    if len(blob) < 9 or not hmac.compare_digest(mac, good):
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def epoch(g: dict[str, Any], uid: str) -> int:
    return int(g["epochs"].get(uid, 0))


def issue_sync_token(g: dict[str, Any], uid: str, kind: str, cal_id: str, seq: int) -> str:
    g["issued"][uid] = int(g["issued"].get(uid, 0)) + 1
    return make_token(g, {"k": kind, "u": uid, "c": cal_id, "e": epoch(g, uid), "s": seq})


def full_sync_required() -> ApiError:
    return ApiError(
        410,
        "fullSyncRequired",
        "Sync token is no longer valid, a full sync is required.",
        domain="calendar",
        locationType="parameter",
        location="syncToken",
    )


def check_token(
    g: dict[str, Any],
    state: SandboxState,
    token: str,
    kinds: tuple[str, ...],
    uid: str,
    cal_id: str,
) -> dict[str, Any]:
    """A sync or page token's payload; anything unknown, foreign or expired -> 410 (§1.4)."""
    payload = read_token(g, token)
    if (
        payload is None
        or payload.get("k") not in kinds
        or payload.get("u") != uid
        or payload.get("c") != cal_id
        or payload.get("e") != epoch(g, uid)
        or not isinstance(payload.get("s", 0), int)
        or payload.get("s", 0) > state.data["seq"]
    ):
        raise full_sync_required()
    return payload
