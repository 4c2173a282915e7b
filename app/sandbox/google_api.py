"""Google Calendar API v3 emulator: routes and handlers (api-spec.md §1, fidelity checklist §4).

The data model, validation, rendering and tokens live in ``google_store``; the multipart batch
endpoint in ``google_batch``. Every handler validates the whole request before it changes
anything, so a rejected write leaves the store (and the change feed) exactly as it was.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from app.sandbox import google_batch
from app.sandbox import google_store as gs
from app.sandbox import recurrence as rr
from app.sandbox.errors import GOOGLE
from app.sandbox.httpcore import ApiError, Context, Request, Response, Router
from app.sandbox.state import SandboxState

# (keyset-paging key, renders the item): only the items on the page are ever rendered.
Item = tuple[tuple[Any, ...], Callable[[], dict[str, Any]]]
# Parameters Google refuses together with syncToken (discovery doc, §1.4).
_NOT_WITH_SYNC = gs.words(
    "iCalUID orderBy privateExtendedProperty q sharedExtendedProperty timeMin timeMax updatedMin"
)
# Full reads using these get no nextSyncToken unless google_sync_token_with_filters [U] §1.4:
# observed for orderBy; the others narrow the set, so a token could not stand for the calendar.
# timeMin/timeMax do not withhold it: a windowed first sync followed by syncToken is the norm.
_WITHHOLD_SYNC = gs.words(
    "orderBy q iCalUID privateExtendedProperty sharedExtendedProperty updatedMin"
)
# Parameters that do not change which items a page holds (left out of the page fingerprint).
_PAGING_ONLY = gs.words(
    "pageToken maxResults alt fields prettyPrint quotaUser key oauth_token userIp"
)
_SEND_UPDATES = ("all", "externalOnly", "none")
_ROLES = ("freeBusyReader", "reader", "writerWithoutPrivateAccess", "writer", "owner")
_CONFERENCE = {"allowedConferenceSolutionTypes": ["hangoutsMeet"]}


def register(router: Router) -> None:
    def add(method: str, pattern: str, name: str, handler: Any) -> None:
        router.add(GOOGLE, method, "/calendar/v3" + pattern, name, handler)

    ev = "/calendars/{calendarId}/events"
    add("GET", "/users/me/calendarList", "calendarList.list", calendar_list_list)
    add("GET", "/users/me/calendarList/{calendarId}", "calendarList.get", calendar_list_get)
    add("POST", "/calendars", "calendars.insert", calendars_insert)
    add("GET", "/calendars/{calendarId}", "calendars.get", calendars_get)
    add("GET", "/colors", "colors.get", colors_get)
    add("GET", ev, "events.list", events_list)
    add("POST", ev, "events.insert", events_insert)
    add("POST", ev + "/import", "events.import", events_import)
    add("GET", ev + "/{eventId}/instances", "events.instances", events_instances)
    add("GET", ev + "/{eventId}", "events.get", events_get)
    add("PUT", ev + "/{eventId}", "events.update", events_update)
    add("PATCH", ev + "/{eventId}", "events.patch", events_patch)
    add("DELETE", ev + "/{eventId}", "events.delete", events_delete)
    # The envelope needs no token of its own: each part authenticates (outer headers are
    # inherited). Named "batch" so it runs without the state lock; parts take it themselves.
    router.add(GOOGLE, "POST", "/batch/calendar/v3", "batch", google_batch.handle, auth=False)


# --------------------------------------------------------------------------- users, calendars


def _add_calendar(
    state: SandboxState, uid: str, cal_id: str, tz: str, *, primary: bool, **extra: Any
) -> dict[str, Any]:
    g = gs.gdata(state)
    micros = gs.now_micros(g)
    cal = {"id": cal_id, "owner": uid, "summary": cal_id, "timeZone": tz, "primary": primary}
    cal.update(micros=micros, etag=gs.etag(micros), colorId="14" if primary else "9")
    # A new Google account's calendar has a 30-minute popup default (COMPASS envelope).
    cal["defaultReminders"] = [{"method": "popup", "minutes": 30}] if primary else []
    cal.update((k, v) for k, v in extra.items() if v is not None)
    g["calendars"][cal_id] = cal
    g["events"][cal_id] = {}
    g["cal_list"].setdefault(uid, {})[cal_id] = {"seq": state.next_seq(), "deleted": False}
    return cal


def init_user(state: SandboxState, user: dict[str, Any]) -> None:
    """Every Google account has a primary calendar whose id and summary are its e-mail."""
    with state.lock:
        _add_calendar(state, user["id"], user["email"], "UTC", primary=True)


def expire_sync_tokens(state: SandboxState, user_id: str | None) -> int:
    """Invalidate outstanding sync and page tokens; returns how many sync tokens were out."""
    with state.lock:
        g = gs.gdata(state)
        n = 0
        for uid in [user_id] if user_id else list(g["cal_list"]):
            g["epochs"][uid] = gs.epoch(g, uid) + 1
            n += int(g["issued"].pop(uid, 0))
        state.mark_dirty()
        return n


def _calendar_resource(cal: dict[str, Any]) -> dict[str, Any]:
    out = {"kind": "calendar#calendar", "etag": cal["etag"], "id": cal["id"]}
    out.update((k, cal[k]) for k in ("summary", "description", "location") if k in cal)
    return {**out, "timeZone": cal["timeZone"], "conferenceProperties": _CONFERENCE}


def _list_entry(cal: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    out = {"kind": "calendar#calendarListEntry", "etag": cal["etag"], "id": cal["id"]}
    out.update((k, cal[k]) for k in ("summary", "description") if k in cal)
    out.update(
        timeZone=cal["timeZone"],
        colorId=cal["colorId"],
        backgroundColor=_CALENDAR_COLORS[int(cal["colorId"]) - 1],
        foregroundColor="#000000",
        selected=True,
        accessRole="owner",
        defaultReminders=cal["defaultReminders"],
    )
    if cal["primary"]:
        kinds = ("eventCreation", "eventChange", "eventCancellation", "eventResponse")
        notes = [{"type": t, "method": "email"} for t in kinds]
        out.update(notificationSettings={"notifications": notes}, primary=True)
    if entry["deleted"]:
        out["deleted"] = True
    return {**out, "conferenceProperties": _CONFERENCE}


def calendars_insert(ctx: Context) -> Response:
    body = _body(ctx)
    if body.get("summary") is None:
        raise gs.required("summary", "Missing title.")
    for key in ("summary", "description", "location", "timeZone"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise gs.invalid(key)
    tz = body.get("timeZone") or "UTC"
    if gs.zone(tz) is None:
        raise gs.invalid("timeZone")
    cal_id = f"c_{gs.new_id()}{gs.new_id()}@group.calendar.google.com"
    extra = {k: body.get(k) for k in ("summary", "description", "location")}
    cal = _add_calendar(ctx.state, ctx.user_id or "", cal_id, tz, primary=False, **extra)
    return Response.json(200, _calendar_resource(cal))


def calendars_get(ctx: Context) -> Response:
    cal = gs.calendar_of(ctx.state, ctx.user_id, ctx.params["calendarId"])
    return Response.json(200, _calendar_resource(cal), {"ETag": cal["etag"]})


def calendar_list_get(ctx: Context) -> Response:
    cal = gs.calendar_of(ctx.state, ctx.user_id, ctx.params["calendarId"])
    entry = gs.gdata(ctx.state)["cal_list"].get(ctx.user_id, {}).get(cal["id"])
    if entry is None or entry["deleted"]:
        raise gs.not_found()
    return Response.json(200, _list_entry(cal, entry))


def calendar_list_list(ctx: Context) -> Response:
    req, uid = ctx.request, ctx.user_id or ""
    g = gs.gdata(ctx.state)
    max_results = _int_param(req, "maxResults", 100, 1, 250)
    show_deleted = _bool_param(req, "showDeleted")
    _bool_param(req, "showHidden")  # validated; nothing is hidden in the sandbox
    if req.arg("minAccessRole") not in (None, *_ROLES):
        raise gs.invalid("minAccessRole")
    sync = req.arg("syncToken")
    if sync is not None:
        for name in ("minAccessRole", "showOwnOrganizationOnly"):
            if req.args(name):
                raise _not_with_sync(name)
    rnd = Round.start(ctx, g, uid, "", "cp", ("cs",), sync)
    items: list[Item] = []
    for cal_id, entry in g["cal_list"].get(uid, {}).items():
        if rnd.since is None and entry["deleted"] and not show_deleted:
            continue
        if rnd.since is not None and entry["seq"] <= rnd.since:
            continue  # incremental reads always include deleted entries (§1.11)
        key = (entry["seq"], cal_id) if rnd.since is not None else (cal_id,)
        items.append((key, partial(_list_entry, g["calendars"][cal_id], entry)))
    body: dict[str, Any] = {"kind": "calendar#calendarList", "etag": f'"p{rnd.snap:x}"'}
    rnd.page(items, max_results, body, sync_kind="cs")
    return Response.json(200, body)


def colors_get(ctx: Context) -> Response:
    def palette(colors: tuple[str, ...]) -> dict[str, Any]:
        return {str(i): {"background": c, "foreground": "#1d1d1d"} for i, c in enumerate(colors, 1)}

    body = {"kind": "calendar#colors", "updated": "2012-02-14T00:00:00.000Z"}
    return Response.json(
        200, {**body, "calendar": palette(_CALENDAR_COLORS), "event": palette(_EVENT_COLORS)}
    )


# --------------------------------------------------------------------------- parameters


def _body(ctx: Context) -> dict[str, Any]:
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "parseError", "Parse Error")
    return body


def _bool_param(req: Request, name: str) -> bool:
    value = req.arg(name)
    if value is not None and value.lower() not in ("true", "false"):
        raise gs.invalid(name, f"Invalid boolean value: '{value}'.")
    return value is not None and value.lower() == "true"


def _int_param(req: Request, name: str, default: int, lo: int, hi: int | None) -> int:
    value = req.arg(name)
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        raise gs.invalid(name, f"Invalid integer value: '{value}'.") from None
    if n < lo or (hi is not None and n > hi):
        bound = f"[{lo}, {hi if hi is not None else '...'}]"
        raise gs.invalid(name, f"Invalid value '{value}'. Values must be within the range: {bound}")
    return n


def _time_param(req: Request, name: str) -> datetime | None:
    value = req.arg(name)
    if value is None:
        return None
    parsed = gs.parse_rfc3339(value)
    if parsed is None or parsed.tzinfo is None:  # an offset is mandatory (§1.4)
        raise ApiError(400, "badRequest", "Bad Request", locationType="parameter", location=name)
    return parsed


def _zone_param(req: Request) -> ZoneInfo | None:
    name = req.arg("timeZone")
    if name is not None and gs.zone(name) is None:
        raise gs.invalid("timeZone", f"Invalid time zone: '{name}'.")
    return gs.zone(name) if name is not None else None


def _not_with_sync(name: str) -> ApiError:
    # The exact body is undocumented [U] §4, §6.9: reason "invalid", naming the parameter.
    return gs.invalid(name, f"The parameter '{name}' cannot be combined with syncToken.")


def _fingerprint(req: Request) -> str:
    items = sorted((k, v) for k, vs in req.query.items() if k not in _PAGING_ONLY for v in vs)
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:12]


def _props(req: Request, name: str) -> list[tuple[str, str]]:
    out = []
    for value in req.args(name):
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise gs.invalid(name, f"Invalid value for {name}: '{value}'.")
        out.append((key, val))
    return out


# --------------------------------------------------------------------------- paging


@dataclass
class Round:
    """One paged read. Its first page fixes ``snap``, the change sequence at that moment; the
    sync token handed out on the last page carries it, so anything changed while the pages were
    read is reported again by the next incremental read and nothing falls between two rounds.
    Pages are keyset-paged (items after ``cursor``), so edits between pages cannot shift them."""

    ctx: Context
    g: dict[str, Any]
    uid: str
    cal_id: str
    page_kind: str
    since: int | None = None  # incremental: changes after this sequence
    snap: int = 0
    cursor: tuple[Any, ...] | None = None

    @classmethod
    def start(
        cls,
        ctx: Context,
        g: dict[str, Any],
        uid: str,
        cal_id: str,
        page_kind: str,
        sync_kinds: tuple[str, ...] = (),
        sync: str | None = None,
    ) -> Round:
        """Garbled, foreign or expired tokens (page tokens too) -> 410 fullSyncRequired [U] §1.4:
        either way the client has to start over. A page token reused with other parameters is
        a client bug -> 400."""
        rnd = cls(ctx, g, uid, cal_id, page_kind, snap=int(ctx.state.data["seq"]))
        page = ctx.request.arg("pageToken")
        if page:
            tok = gs.check_token(g, ctx.state, page, (page_kind,), uid, cal_id)
            if tok.get("f") != _fingerprint(ctx.request):
                raise gs.invalid("pageToken", "The page token does not match the request.")
            rnd.since, rnd.snap = tok.get("since"), int(tok["s"])
            rnd.cursor = tuple(tok["cur"]) if tok.get("cur") is not None else None
        elif sync is not None:
            rnd.since = int(gs.check_token(g, ctx.state, sync, sync_kinds, uid, cal_id)["s"])
        return rnd

    def page(
        self, items: list[Item], max_results: int, body: dict[str, Any], sync_kind: str | None
    ) -> None:
        """Put one page of ``items`` in ``body`` with nextPageToken, or nextSyncToken (last
        page only, and only when ``sync_kind`` is given)."""
        items.sort(key=lambda kv: kv[0])
        if self.cursor is not None:
            items = [kv for kv in items if kv[0] > self.cursor]
        first_page = not self.ctx.request.arg("pageToken")
        if first_page and self.ctx.state.settings.switches.google_short_pages:
            # "may be less than this value, or none at all, even if there are more" (§1.4)
            chunk, more, last = [], True, self.cursor
        else:
            chunk, more = items[:max_results], len(items) > max_results
            last = chunk[-1][0] if chunk else self.cursor
        if more:
            payload = {"k": self.page_kind, "u": self.uid, "c": self.cal_id, "s": self.snap}
            payload.update(e=gs.epoch(self.g, self.uid), since=self.since)
            payload.update(cur=list(last) if last is not None else None)
            body["nextPageToken"] = gs.make_token(
                self.g, {**payload, "f": _fingerprint(self.ctx.request)}
            )
        elif sync_kind is not None:
            body["nextSyncToken"] = gs.issue_sync_token(
                self.g, self.uid, sync_kind, self.cal_id, self.snap
            )
        body["items"] = [render() for _, render in chunk]


# --------------------------------------------------------------------------- reading events


@dataclass
class Query:
    """The filters and rendering options of one events.list / events.instances request."""

    single: bool = False
    show_deleted: bool = False
    tmin: datetime | None = None
    tmax: datetime | None = None
    instances: bool = False  # events.instances: timeMin is inclusive
    q: str | None = None
    ical: str | None = None
    private: list[tuple[str, str]] = field(default_factory=list)
    shared: list[tuple[str, str]] = field(default_factory=list)
    any_prop: bool = False  # switch google_extended_property_or
    updated_min: str | None = None
    event_types: list[str] = field(default_factory=list)
    order: str | None = None
    tz: ZoneInfo | None = None  # the timeZone parameter: how dateTimes are rendered
    day_tz: str = "UTC"  # where all-day events begin and end: timeZone or the calendar's
    max_attendees: int | None = None

    @property
    def include_deleted(self) -> bool:
        return self.show_deleted or self.updated_min is not None

    def day_zone(self) -> ZoneInfo:
        return gs.zone(self.day_tz) or ZoneInfo("UTC")

    def in_window(self, begin: datetime, end: datetime) -> bool:
        """timeMin bounds the END (exclusive; inclusive for instances), timeMax the START."""
        if self.tmin is not None and not (end >= self.tmin if self.instances else end > self.tmin):
            return False
        return self.tmax is None or begin < self.tmax

    def horizon_end(self) -> datetime:
        if self.tmax is not None:
            return self.tmax
        now = _hour()
        return max(now, self.tmin or now) + gs.HORIZON

    def matches(self, res: dict[str, Any]) -> bool:
        if self.ical is not None and res.get("iCalUID") != self.ical:
            return False
        if self.event_types and res.get("eventType", "default") not in self.event_types:
            return False
        if self.updated_min is not None and res.get("updated", "") < self.updated_min:
            return False
        if self.q:
            text = " ".join(str(res.get(k, "")) for k in ("summary", "description", "location"))
            if self.q.lower() not in text.lower():
                return False
        props = res.get("extendedProperties", {})
        checks = [
            [props.get(kind, {}).get(k) == v for k, v in pairs]
            for kind, pairs in (("private", self.private), ("shared", self.shared))
            if pairs
        ]
        if self.any_prop:  # extended-properties guide: OR within a kind, AND across kinds
            return all(any(c) for c in checks)
        return all(all(c) for c in checks)  # discovery doc: all constraints must match

    def key(self, res: dict[str, Any]) -> tuple[Any, ...]:
        begin = gs.edt_instant(res["start"], self.day_zone())
        return self.key_at(res["id"], begin, res["updated"])

    def key_at(self, event_id: str, begin: datetime, updated: str) -> tuple[Any, ...]:
        if self.order == "startTime":
            return (begin.astimezone(UTC).isoformat(), event_id)
        if self.order == "updated":
            return (updated, event_id)
        return (event_id,)  # "an unspecified, stable order"

    def show(self, res: dict[str, Any]) -> dict[str, Any]:
        # Cancelled items keep their details for showDeleted=true; otherwise only the fields
        # Google guarantees (§1.5), as in the recorded incremental responses.
        if res["status"] == "cancelled" and not self.show_deleted:
            return gs.minimal(res)
        return gs.render(res, self.tz, self.max_attendees)


def _list_query(ctx: Context, cal: dict[str, Any]) -> Query:
    req = ctx.request
    lq = Query(
        single=_bool_param(req, "singleEvents"),
        show_deleted=_bool_param(req, "showDeleted"),
        tmin=_time_param(req, "timeMin"),
        tmax=_time_param(req, "timeMax"),
        q=req.arg("q"),
        ical=req.arg("iCalUID"),
        private=_props(req, "privateExtendedProperty"),
        shared=_props(req, "sharedExtendedProperty"),
        any_prop=ctx.state.settings.switches.google_extended_property_or,
        event_types=req.args("eventTypes"),
        order=req.arg("orderBy"),
        tz=_zone_param(req),
        day_tz=req.arg("timeZone") or cal["timeZone"],
        max_attendees=_int_param(req, "maxAttendees", 0, 1, None) or None,
    )
    if lq.tmin is not None and lq.tmax is not None and lq.tmax <= lq.tmin:
        raise gs.time_range_empty("timeMax")
    if lq.order not in (None, "startTime", "updated"):
        raise gs.invalid("orderBy")
    if lq.order == "startTime" and not lq.single:
        message = "The requested ordering is not available for the particular query."
        raise gs.invalid("orderBy", message)
    updated_min = _time_param(req, "updatedMin")
    if updated_min is not None:
        if updated_min < datetime.now(UTC) - gs.UPDATED_MIN_MAX_AGE:
            message = "The requested minimum modification time lies too far in the past."
            raise ApiError(
                410,
                "updatedMinTooLongAgo",
                message,
                domain="calendar",
                locationType="parameter",
                location="updatedMin",
            )
        lq.updated_min = gs.fmt_updated(int(updated_min.timestamp() * 1_000_000))
    return lq


def _occ_bounds(master: dict[str, Any], occ: Any, day: ZoneInfo) -> tuple[datetime, datetime]:
    if occ.date is not None:
        begin = datetime.combine(occ.date, datetime.min.time(), day)
        return begin, begin + gs.duration(master)
    return occ.original_start_utc, occ.original_start_utc + gs.duration(master)


def _hour() -> datetime:
    # Whole hours, so that the pages of one read expand to the same horizon (and hit the cache).
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _show_instance(lq: Query, master: dict[str, Any], occ: Any) -> dict[str, Any]:
    return lq.show(gs.virtual_instance(master, occ))


def _collect_full(events: dict[str, Any], lq: Query) -> list[Item]:
    out: list[Item] = []
    day = lq.day_zone()

    def consider(res: dict[str, Any], check_window: bool = True) -> None:
        if check_window and not lq.in_window(*gs.bounds(res, day)):
            return
        if lq.matches(res):
            out.append((lq.key(res), partial(lq.show, res)))

    for series in events.values():
        res, exc = series["res"], series.get("exc", {})
        live = res["status"] != "cancelled"
        if not res.get("recurrence") and not exc:
            if live or lq.include_deleted:
                consider(res)
            continue
        if not live:  # a deleted series: only its master, never as instances (§1.4 showDeleted)
            if lq.include_deleted and not lq.single:
                consider(res)
            continue
        if not res.get("recurrence"):  # a former series (PUT without recurrence): now single
            consider(res)
        elif not lq.single:
            # A master is listed when one of its occurrences overlaps the window.
            first = gs.occurrences(res, lq.tmin, lq.tmax, lq.day_tz, limit=3)
            if (lq.tmin is None and lq.tmax is None) or any(
                lq.in_window(*_occ_bounds(res, o, day)) for o in first
            ):
                consider(res, check_window=False)
        elif lq.matches(res):  # plain instances share the master's filterable fields
            for occ in gs.occurrences(res, lq.tmin, lq.horizon_end(), lq.day_tz):
                inst_id = rr.google_instance_id(res["id"], occ)
                begin, end = _occ_bounds(res, occ, day)
                if inst_id not in exc and lq.in_window(begin, end):
                    key = lq.key_at(inst_id, begin, res["updated"])
                    out.append((key, partial(_show_instance, lq, res, occ)))
        for inst in exc.values():
            # Cancelled exceptions are listed when singleEvents and showDeleted are both false.
            if inst["status"] != "cancelled" or not lq.single or lq.include_deleted:
                consider(inst)
    return out


def _collect_changes(events: dict[str, Any], lq: Query, since: int) -> list[Item]:
    """Everything changed after ``since``; deletions are always included (§1.4, §1.5).

    The window of the first full read does not limit later incremental reads: a change is
    reported wherever the event now lies [U] §1.4 (timeMin/timeMax are refused with syncToken).
    """
    out: list[Item] = []
    horizon = _hour() + gs.HORIZON
    for series in events.values():
        seq, res, exc = series["seq"], series["res"], series.get("exc", {})
        if seq <= since:
            continue

        def add(item: dict[str, Any], seq: int = seq) -> None:
            if item["status"] == "cancelled" or not lq.event_types or lq.matches(item):
                out.append(((seq, item["id"]), partial(lq.show, item)))

        live = res["status"] != "cancelled"
        if not live or not lq.single or not (res.get("recurrence") or series.get("hist")):
            # A series travels as one: its master and all its exceptions (COMPASS payloads).
            # A deleted series is reported by its master alone [U] §1.5 (COMPASS delete_all).
            add(res)
            for inst in exc.values() if live else ():
                add(inst)
            continue
        current = set()  # singleEvents: the instances, and those that a redefinition removed
        if not res.get("recurrence"):
            add(res)  # no longer recurring: the event itself
        for occ in gs.occurrences(res, None, horizon, lq.day_tz):
            inst_id = rr.google_instance_id(res["id"], occ)
            current.add(inst_id)
            if inst_id not in exc and (not lq.event_types or lq.matches(res)):
                out.append(((seq, inst_id), partial(_show_instance, lq, res, occ)))
        for inst in exc.values():
            add(inst)
        for old in series.get("hist", []):
            if old["at"] <= since:
                continue
            before = {**res, "start": old["start"], "end": old["end"]}
            before["recurrence"] = old["recurrence"]
            for occ in gs.occurrences(before, None, horizon, lq.day_tz):
                inst_id = rr.google_instance_id(res["id"], occ)
                if inst_id not in current and inst_id not in exc:
                    current.add(inst_id)
                    gone = {"kind": "calendar#event", "etag": res["etag"], "id": inst_id}
                    gone.update(status="cancelled", recurringEventId=res["id"])
                    add({**gone, "originalStartTime": gs.original_start(occ, before)})
    return out


def _envelope(cal: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "calendar#events",
        "etag": f'"p{cal["micros"]:x}"',
        "summary": cal["summary"],
        "description": cal.get("description", ""),
        "updated": gs.fmt_updated(cal["micros"]),
        "timeZone": cal["timeZone"],
        "accessRole": "owner",
        "defaultReminders": cal["defaultReminders"],
    }


def events_list(ctx: Context) -> Response:
    req, uid = ctx.request, ctx.user_id or ""
    g = gs.gdata(ctx.state)
    cal = gs.calendar_of(ctx.state, uid, ctx.params["calendarId"])
    max_results = _int_param(req, "maxResults", 250, 1, 2500)
    sync = req.arg("syncToken")
    if sync is not None:
        for name in _NOT_WITH_SYNC:
            if req.args(name):
                raise _not_with_sync(name)
    lq = _list_query(ctx, cal)
    rnd = Round.start(ctx, g, uid, cal["id"], "ep", ("es",), sync)
    events = g["events"].get(cal["id"], {})
    if rnd.since is not None:
        items = _collect_changes(events, lq, rnd.since)
    else:
        items = _collect_full(events, lq)
    switches = ctx.state.settings.switches
    withheld = rnd.since is None and any(req.args(name) for name in _WITHHOLD_SYNC)
    sync_ok = not withheld or switches.google_sync_token_with_filters
    body = _envelope(cal)
    rnd.page(items, max_results, body, sync_kind="es" if sync_ok else None)
    return Response.json(200, body)


def events_instances(ctx: Context) -> Response:
    req, uid = ctx.request, ctx.user_id or ""
    g = gs.gdata(ctx.state)
    cal = gs.calendar_of(ctx.state, uid, ctx.params["calendarId"])
    series = g["events"].get(cal["id"], {}).get(ctx.params["eventId"])
    if series is None:
        raise gs.not_found()
    if series["res"]["status"] == "cancelled":
        raise gs.gone()
    max_results = _int_param(req, "maxResults", 250, 1, 2500)
    lq = Query(
        show_deleted=_bool_param(req, "showDeleted"),
        tmin=_time_param(req, "timeMin"),
        tmax=_time_param(req, "timeMax"),
        instances=True,
        tz=_zone_param(req),
        day_tz=req.arg("timeZone") or cal["timeZone"],
        max_attendees=_int_param(req, "maxAttendees", 0, 1, None) or None,
    )
    original = _time_param(req, "originalStart")
    rnd = Round.start(ctx, g, uid, cal["id"], "ip")
    master, exc, day = series["res"], series.get("exc", {}), lq.day_zone()
    items: list[Item] = []

    def consider(res: dict[str, Any], orig: datetime, occ: Any = None) -> None:
        if res["status"] == "cancelled" and not lq.show_deleted:
            return
        if original is not None and orig != original:
            return
        if lq.in_window(*(_occ_bounds(res, occ, day) if occ else gs.bounds(res, day))):
            render = partial(_show_instance, lq, res, occ) if occ else partial(lq.show, res)
            items.append(((orig.astimezone(UTC).isoformat(), res["id"]), render))

    if not master.get("recurrence"):
        consider(master, gs.edt_instant(master["start"], day))  # [U] §1.6: its only instance
    ws = lq.tmin - timedelta(microseconds=1) if lq.tmin else None  # timeMin is inclusive here
    for occ in gs.occurrences(master, ws, lq.horizon_end(), lq.day_tz):
        if rr.google_instance_id(master["id"], occ) not in exc:
            consider(master, occ.original_start_utc, occ)
    for inst_id, inst in exc.items():
        when = rr.parse_google_instance_suffix(inst_id)
        if when is not None:
            at = when[1]
            consider(inst, at if isinstance(at, datetime) else datetime.combine(at, time(), UTC))
    body = _envelope(cal)
    rnd.page(items, max_results, body, sync_kind=None)  # instances has no sync tokens
    return Response.json(200, body)


def _etag_matches(header: str, current: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or current in tags or current.strip('"') in tags


def events_get(ctx: Context) -> Response:
    g = gs.gdata(ctx.state)
    cal = gs.calendar_of(ctx.state, ctx.user_id, ctx.params["calendarId"])
    _, _, res = gs.resolve(g, cal["id"], ctx.params["eventId"])
    tz = _zone_param(ctx.request)
    max_attendees = _int_param(ctx.request, "maxAttendees", 0, 1, None) or None
    inm = ctx.request.headers.get("If-None-Match")
    if inm and _etag_matches(inm, res["etag"]):
        return Response.empty(304, {"ETag": res["etag"]})
    # get returns cancelled events too, with their details (§1.5).
    return Response.json(
        200, gs.render(res, tz, max_attendees, encode_only=True), {"ETag": res["etag"]}
    )


# --------------------------------------------------------------------------- writing events


def _send_updates(req: Request) -> str:
    value = req.arg("sendUpdates")
    if value is None:
        # Absent means "none": the deprecated sendNotifications defaults to false and the API
        # mails guests only when asked to (§1.7), so a sync engine never spams by default.
        return "all" if _bool_param(req, "sendNotifications") else "none"
    if value not in _SEND_UPDATES:
        raise gs.invalid("sendUpdates")
    return value


def _notify(
    state: SandboxState,
    uid: str,
    send: str,
    kind: str,
    res: dict[str, Any],
    old: dict[str, Any] | None,
    why: str,
) -> None:
    """Record the mails Google would send: only guests other than the organizer get them."""
    if send == "none":
        return
    organizer = res["organizer"]["email"].lower()
    known = {u["email"].lower() for u in state.users("google")}

    def guests(r: dict[str, Any] | None) -> set[str]:
        emails = {a["email"] for a in (r or {}).get("attendees", [])}
        emails = {e for e in emails if e.lower() != organizer}
        # externalOnly: "non-Google Calendar guests", i.e. addresses with no sandbox account.
        return {e for e in emails if e.lower() not in known} if send == "externalOnly" else emails

    now, before = guests(res), guests(old)
    if kind == "update":
        plan = [("invitation", now - before), ("update", now & before)]
        plan.append(("cancellation", before - now))
    else:
        plan = [(kind, now | before)]
    for mail_kind, recipients in plan:
        if recipients:
            state.record_mail("google", uid, mail_kind, sorted(recipients), res["id"], why)


def _reply(
    state: SandboxState,
    uid: str,
    send: str,
    res: dict[str, Any],
    old: dict[str, Any],
    why: str,
) -> None:
    """A guest's copy: changing its own responseStatus answers the organizer, nobody else.

    [Derived] Google mails the organizer a guest's response (as its web UI does); a guest's
    other edits stay on the guest's copy and mail no one.
    """
    if send == "none":
        return

    def mine(r: dict[str, Any]) -> str | None:
        return next((a["responseStatus"] for a in r.get("attendees", []) if a.get("self")), None)

    organizer = res["organizer"]["email"]
    known = {u["email"].lower() for u in state.users("google")}
    if send == "externalOnly" and organizer.lower() in known:
        return
    if mine(res) is not None and mine(res) != mine(old):
        state.record_mail("google", uid, "reply", [organizer], res["id"], why)


def _write_ctx(ctx: Context) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    cal = gs.calendar_of(ctx.state, ctx.user_id, ctx.params["calendarId"])
    user = ctx.state.user(ctx.user_id or "")
    assert user is not None
    return gs.gdata(ctx.state), cal, user


def _check_if_match(ctx: Context, res: dict[str, Any]) -> None:
    header = ctx.request.headers.get("If-Match")
    if header and not _etag_matches(header, res["etag"]):
        raise ApiError(
            412,
            "conditionNotMet",
            "Precondition Failed",
            locationType="header",
            location="If-Match",
        )


def events_insert(ctx: Context) -> Response:
    g, cal, user = _write_ctx(ctx)
    body = _body(ctx)
    send = _send_updates(ctx.request)
    events = g["events"].get(cal["id"], {})
    eid = gs.claim_id(body, events, ctx.state)
    ical = body.get("iCalUID")
    if ical is not None:
        if not isinstance(ical, str) or not ical:
            raise gs.invalid("iCalUID")
        # [U] §1.7: a second live event with the same iCalUID is refused like a duplicate id.
        if any(
            s["res"].get("iCalUID") == ical and s["res"]["status"] != "cancelled"
            for s in events.values()
        ):
            raise gs.duplicate()
    event_type = body.get("eventType") or "default"
    if event_type not in gs.EVENT_TYPES:
        raise gs.invalid("eventType")
    fields = gs.validate_event(body, cal=cal, organizer_email=cal["id"], instance=False)
    res = gs.create(ctx.state, g, cal, user, eid, fields, ical, event_type)
    _notify(
        ctx.state, user["id"], send, "invitation", res, None, f"events.insert sendUpdates={send}"
    )
    return Response.json(200, gs.render(res, encode_only=True), {"ETag": res["etag"]})


def events_import(ctx: Context) -> Response:
    g, cal, user = _write_ctx(ctx)
    body = _body(ctx)
    ical = body.get("iCalUID")
    if ical is None:
        raise gs.required("iCalUID", "Missing iCalUID.")
    if not isinstance(ical, str) or not ical:
        raise gs.invalid("iCalUID")
    if body.get("eventType", "default") != "default":
        raise gs.invalid("eventType", "Only events with an eventType of default may be imported.")
    fields = gs.validate_event(
        body, cal=cal, organizer_email=cal["id"], instance=False, importing=True
    )
    events = g["events"].get(cal["id"], {})
    same = [s for s in events.values() if s["res"].get("iCalUID") == ical]
    same.sort(key=lambda s: s["res"]["status"] == "cancelled")  # a live one first
    if same:
        # [U] §1.7: importing an iCalUID the calendar already holds updates that event (the
        # documented way to migrate); switch google_import_upsert=False answers 409 instead.
        if not ctx.state.settings.switches.google_import_upsert:
            raise gs.duplicate()
        gs.commit_master(ctx.state, g, cal["id"], same[0], gs.compose(same[0]["res"], fields, cal))
        res = same[0]["res"]
    else:
        eid = gs.claim_id(body, events, ctx.state)
        res = gs.create(ctx.state, g, cal, user, eid, fields, ical, "default")
    return Response.json(200, gs.render(res, encode_only=True), {"ETag": res["etag"]})


def _modify(ctx: Context, *, patch: bool) -> Response:
    g, cal, user = _write_ctx(ctx)
    series, inst, cur = gs.resolve(g, cal["id"], ctx.params["eventId"])
    body = _body(ctx)
    send = _send_updates(ctx.request)
    _check_if_match(ctx, cur)
    if inst is not None and series["res"]["status"] == "cancelled":
        raise gs.gone()
    source = body
    if patch:  # JSON merge into the stored event, then validated exactly like an update
        source = gs.merge_patch({k: v for k, v in cur.items() if k not in gs.SERVER_FIELDS}, body)
    organizer = cur["organizer"]["email"]
    fields = gs.validate_event(source, cal=cal, organizer_email=organizer, instance=bool(inst))
    new = gs.compose(cur, fields, cal)
    if inst is not None:  # editing an instance makes (or replaces) an exception
        series.setdefault("exc", {})[inst] = new
        gs.touch_series(g, ctx.state, cal["id"], series, edited=inst)
    else:
        gs.commit_master(ctx.state, g, cal["id"], series, new)
    kind = "cancellation" if new["status"] == "cancelled" != cur["status"] else "update"
    why = f"events.{'patch' if patch else 'update'} sendUpdates={send}"
    if cur["organizer"].get("self"):
        _notify(ctx.state, user["id"], send, kind, new, cur, why)
    else:
        _reply(ctx.state, user["id"], send, new, cur, why)
    return Response.json(200, gs.render(new, encode_only=True), {"ETag": new["etag"]})


def events_update(ctx: Context) -> Response:
    return _modify(ctx, patch=False)


def events_patch(ctx: Context) -> Response:
    return _modify(ctx, patch=True)


def events_delete(ctx: Context) -> Response:
    g, cal, user = _write_ctx(ctx)
    series, inst, cur = gs.resolve(g, cal["id"], ctx.params["eventId"])
    send = _send_updates(ctx.request)
    if cur["status"] == "cancelled":
        raise gs.gone()
    _check_if_match(ctx, cur)
    if inst is not None:  # deleting one instance leaves a cancelled exception
        series.setdefault("exc", {})[inst] = copy.deepcopy({**cur, "status": "cancelled"})
        gs.touch_series(g, ctx.state, cal["id"], series, edited=inst)
    else:
        series["res"]["status"] = "cancelled"
        gs.touch_series(g, ctx.state, cal["id"], series)
    why = f"events.delete sendUpdates={send}"
    _notify(ctx.state, user["id"], send, "cancellation", cur, None, why)
    return Response.empty(204)


# colors.get as recorded (payloads/google_colors_get__sudopark_TodoCalendar.json).
_CALENDAR_COLORS = gs.words(
    "#ac725e #d06b64 #f83a22 #fa573c #ff7537 #ffad46 #42d692 #16a765 #7bd148 #b3dc6c #fbe983 "
    "#fad165 #92e1c0 #9fe1e7 #9fc6e7 #4986e7 #9a9cff #b99aff #c2c2c2 #cabdbf #cca6ac #f691b2 "
    "#cd74e6 #a47ae2"
)
_EVENT_COLORS = gs.words(
    "#a4bdfc #7ae7bf #dbadff #ff887c #fbd75b #ffb878 #46d6db #e1e1e1 #5484ed #51b749 #dc2127"
)
