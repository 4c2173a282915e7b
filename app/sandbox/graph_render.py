"""Events as Graph returns them: the full resource, occurrences, delta stubs, Prefer headers."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from app.core import timezones
from app.sandbox import graph_store as gs
from app.sandbox.httpcore import Headers

ODATA_EVENT = "#microsoft.graph.event"
_PREFER_ITEM = re.compile(r'\s*([\w.\-]+)\s*(?:=\s*(?:"([^"]*)"|([^,;\s]*)))?\s*[,;]?')


@dataclass
class View:
    """How the caller wants items rendered (from the request's Host and Prefer headers)."""

    origin: str
    tz: str = "UTC"
    body_type: str | None = None  # None: HTML, the Graph default
    max_page_size: int | None = None
    applied: list[str] = field(default_factory=list)

    def headers(self, *extra: str) -> dict[str, str]:
        values = [*extra, *self.applied]
        return {"Preference-Applied": ", ".join(values)} if values else {}


def parse_prefer(headers: Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    raw = headers.get("Prefer", "")
    pos = 0
    while pos < len(raw):
        m = _PREFER_ITEM.match(raw, pos)
        if not m or m.end() == pos:
            break
        value = m.group(2) if m.group(2) is not None else (m.group(3) or "")
        out[m.group(1).lower()] = value
        pos = m.end()
    return out


def make_view(headers: Headers) -> View:
    view = View(origin="https://" + (headers.get("Host") or "127.0.0.1"))
    prefer = parse_prefer(headers)
    tz = prefer.get("outlook.timezone")
    # [U] an unknown Prefer zone is ignored (times stay UTC) rather than failing the read.
    if tz and timezones.zone(tz) is not None:
        view.tz = tz
        view.applied.append(f'outlook.timezone="{tz}"')
    body = prefer.get("outlook.body-content-type", "").lower()
    if body in ("text", "html"):
        view.body_type = body
        view.applied.append(f'outlook.body-content-type="{body}"')
    if prefer.get("idtype", "").lower() == "immutableid":
        # Ids here never change (events cannot be moved between calendars), so this holds.
        view.applied.append('IdType="ImmutableId"')
    size = prefer.get("odata.maxpagesize", "")
    if size.isdigit() and int(size) > 0:
        view.max_page_size = int(size)
    return view


# --- bodies --------------------------------------------------------------------------------

_HTML_HEAD = (
    '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    "\r\n</head>\r\n<body>\r\n"
)
_HTML_TAIL = "\r\n</body>\r\n</html>\r\n"


def text_to_html(text: str) -> str:
    if not text:
        return ""
    inner = "<br>\r\n".join(html.escape(line, quote=False) for line in text.split("\n"))
    return f"{_HTML_HEAD}<div>{inner}</div>{_HTML_TAIL}"


def html_document(content: str) -> str:
    """Exchange stores HTML bodies as a whole document."""
    if not content or "<html" in content.lower():
        return content
    return f"{_HTML_HEAD}{content}{_HTML_TAIL}"


def html_to_text(content: str) -> str:
    text = re.sub(r"(?is)<(head|style|script)\b.*?</\1\s*>", "", content)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</(p|div|li|tr|h[1-6])\s*>", "\n", text)
    text = re.sub(r"(?s)<[^>]*>", "", text)
    text = html.unescape(text).replace("\r\n", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def body_doc(body: dict[str, str], want: str | None) -> dict[str, str]:
    kind, content = body["contentType"], body["content"]
    want = want or "html"
    if kind == want:
        return {
            "contentType": kind,
            "content": html_document(content) if kind == "html" else content,
        }
    if want == "html":
        return {"contentType": "html", "content": text_to_html(content)}
    return {"contentType": "text", "content": html_to_text(content)}


def body_preview(body: dict[str, str]) -> str:
    text = body["content"] if body["contentType"] == "text" else html_to_text(body["content"])
    return " ".join(text.split())[:255]


# --- events --------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _view_zone(name: str) -> ZoneInfo | None:
    return timezones.zone(name)


def _when(instant: str, zone_name: str, all_day: bool, view: View) -> dict[str, str]:
    return _when_at(gs.from_iso(instant), zone_name, all_day, view)


def _when_at(at: datetime, zone_name: str, all_day: bool, view: View) -> dict[str, str]:
    if all_day:
        # All-day events come back midnight to midnight whatever zone is asked for
        # (microsoftgraph/microsoft-graph-docs#1802: "by design").
        day = at.astimezone(gs.zone_or_utc(zone_name)).date()
        return {"dateTime": f"{day.isoformat()}T00:00:00.0000000", "timeZone": view.tz}
    # timezones.aware_to_graph, with the view's zone looked up once: two per row of a page.
    tz = _view_zone(view.tz)
    if tz is None or at.tzinfo is None:
        out = timezones.aware_to_graph(at, view.tz)  # raises its ValueError
        return {"dateTime": out["dateTime"], "timeZone": out["timeZone"]}
    try:
        local = at.astimezone(UTC).astimezone(tz)
    except OverflowError:
        out = timezones.aware_to_graph(at, view.tz)  # raises its ValueError
        return {"dateTime": out["dateTime"], "timeZone": out["timeZone"]}
    # isoformat pads the year to 4 digits like aware_to_graph; + "0" makes 7 fraction digits.
    text = local.replace(tzinfo=None).isoformat(timespec="microseconds") + "0"
    return {"dateTime": text, "timeZone": view.tz}


_ID_SAFE = re.compile(r"[A-Za-z0-9_.~=-]*")


def web_link(event_id: str) -> str:
    # Our ids are base64 with "-" and "_": only "=" needs quoting, and quote() is slow.
    if _ID_SAFE.fullmatch(event_id):
        quoted = event_id.replace("=", "%3D")
    else:
        quoted = quote(event_id, safe="")
    return f"https://outlook.office365.com/owa/?itemid={quoted}&exvsurl=1&path=/calendar/item"


def event_doc(ev: dict[str, Any], view: View) -> dict[str, Any]:
    """The full event resource, in the order the recorded responses use."""
    p = ev["props"]
    doc: dict[str, Any] = {
        "@odata.etag": f'W/"{ev["changeKey"]}"',
        "id": ev["id"],
        "createdDateTime": ev["created"],
        "lastModifiedDateTime": ev["modified"],
        "changeKey": ev["changeKey"],
        "categories": list(p["categories"]),
    }
    if ev.get("transactionId"):
        doc["transactionId"] = ev["transactionId"]
    doc.update(
        {
            "originalStartTimeZone": gs.windows_name(ev["startZone"]),
            "originalEndTimeZone": gs.windows_name(ev["endZone"]),
            "iCalUId": ev["iCalUId"],
            "reminderMinutesBeforeStart": p["reminderMinutesBeforeStart"],
            "isReminderOn": p["isReminderOn"],
            "hasAttachments": False,
            "subject": p["subject"],
            "bodyPreview": body_preview(p["body"]),
            "importance": p["importance"],
            "sensitivity": p["sensitivity"],
            "isAllDay": ev["allDay"],
            "isCancelled": ev["isCancelled"],
            "isOrganizer": ev["isOrganizer"],
            "responseRequested": p["responseRequested"],
            "seriesMasterId": ev["seriesMasterId"],
            "showAs": p["showAs"],
            "type": ev["type"],
            "webLink": web_link(ev["id"]),
            "onlineMeetingUrl": None,
            "isOnlineMeeting": p["isOnlineMeeting"],
            "onlineMeetingProvider": p["onlineMeetingProvider"],
            "allowNewTimeProposals": p["allowNewTimeProposals"],
            "isDraft": False,
            "hideAttendees": p["hideAttendees"],
            "onlineMeeting": None,
            "responseStatus": dict(ev["responseStatus"]),
            "body": body_doc(p["body"], view.body_type),
            "start": _when(ev["start"], ev["startZone"], ev["allDay"], view),
            "end": _when(
                ev["end"], ev["startZone"] if ev["allDay"] else ev["endZone"], ev["allDay"], view
            ),
            "location": dict(p["location"]),
            "locations": [dict(x) for x in p["locations"]],
            "recurrence": ev["recurrence"],
            "attendees": [
                {**a, "status": dict(a["status"]), "emailAddress": dict(a["emailAddress"])}
                for a in p["attendees"]
            ],
            "organizer": {"emailAddress": dict(ev["organizer"]["emailAddress"])},
        }
    )
    if ev["originalStart"]:
        doc["originalStart"] = gs.offset_stamp(gs.from_iso(ev["originalStart"]))
    return doc


def occurrence_event(inst: gs.Instance) -> dict[str, Any]:
    """A stored-event-shaped dict for an instance (exceptions are stored as they are)."""
    if inst.exception is not None:
        return inst.exception
    master = inst.master
    day = gs.local_date(master, inst.original_start)
    return {
        **master,
        "id": inst.id,
        "type": "occurrence",
        "start": gs.to_iso(inst.start),
        "end": gs.to_iso(inst.end),
        "recurrence": None,
        "seriesMasterId": master["id"],
        "originalStart": gs.to_iso(inst.original_start),
        "iCalUId": gs.occurrence_ical_uid(master["iCalUId"], day),
        "transactionId": None,
    }


def instance_doc(inst: gs.Instance, view: View) -> dict[str, Any]:
    return event_doc(occurrence_event(inst), view)


def stub_doc(inst: gs.Instance, view: View) -> dict[str, Any]:
    """An occurrence in calendarView/delta (payload graph_calendarView_delta_occurrence_stub)."""
    ck = inst.master["changeKey"]
    start = inst.original_start
    end = start + gs.duration(inst.master)
    all_day, zone = inst.master["allDay"], inst.master["startZone"]
    return {
        "@odata.type": ODATA_EVENT,
        "@odata.etag": f'W/"{ck}"',
        "id": inst.id,
        "seriesMasterId": inst.master["id"],
        "type": "occurrence",
        "start": _when_at(start, zone, all_day, view),
        "end": _when_at(end, zone, all_day, view),
    }


def removed_doc(event_id: str) -> dict[str, Any]:
    return {"@odata.type": ODATA_EVENT, "id": event_id, "@removed": {"reason": "deleted"}}


def cancelled_occurrences(master: dict[str, Any]) -> list[str]:
    """``OID.{masterId}.{yyyy-mm-dd}`` with the local original date (api-spec §2.7)."""
    days = sorted(gs.local_date(master, gs.from_iso(k)) for k in master["cancelled"])
    return [f"OID.{master['id']}.{d.isoformat()}" for d in days]


def ext_props(ev: dict[str, Any]) -> list[dict[str, str]]:
    return [{"id": pid, "value": value} for pid, value in ev["ext"].values()]


def calendar_doc(cal: dict[str, Any], owner: dict[str, str]) -> dict[str, Any]:
    return {
        "id": cal["id"],
        "name": cal["name"],
        "color": cal["color"],
        "hexColor": cal["hexColor"],
        "isDefaultCalendar": cal["isDefaultCalendar"],
        "changeKey": cal["changeKey"],
        "canShare": cal["canShare"],
        "canViewPrivateItems": cal["canViewPrivateItems"],
        "canEdit": cal["canEdit"],
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": cal["isTallyingResponses"],
        "isRemovable": cal["isRemovable"],
        "owner": dict(owner),
    }


def utc_view(origin: str) -> View:
    return View(origin=origin)
