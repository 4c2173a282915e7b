"""Graph event endpoints: list, get, create, update, delete, cancel, decline, instances,
calendarView."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from app.sandbox import graph_model as gm
from app.sandbox import graph_query as gq
from app.sandbox import graph_render as gr
from app.sandbox import graph_store as gs
from app.sandbox.httpcore import ApiError, Context, Request, Response
from app.sandbox.state import SandboxState

# $select names Graph knows on an event (navigation properties included).
EVENT_PROPS = {
    "@odata.etag",
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "onlineMeeting",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "originalStart",
    "cancelledOccurrences",
    "exceptionOccurrences",
    "instances",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
    "attachments",
    "calendar",
    "extensions",
}
_EXPANDABLE = {"singleValueExtendedProperties", "exceptionOccurrences"}
# [Derived] fields whose change makes Exchange send a meeting update to the attendees; personal
# fields (categories, reminders, showAs, extended properties) do not.
_MEETING_FIELDS = {
    "attendees",
    "start",
    "end",
    "subject",
    "body",
    "location",
    "locations",
    "recurrence",
    "isAllDay",
    "isOnlineMeeting",
}
_ORGANIZER_ONLY = (
    "Your request can't be completed. You need to be an organizer to cancel a meeting."
)
# [O] Exchange's response code for a decline of one's own meeting, which Graph answers with 400
# (its OData error table); the text is the EWS description of the code.
_ORGANIZER_DECLINES = (
    "The user is the organizer of this meeting, and cannot, therefore, decline it."
)


@dataclass
class Call:
    """One Graph request after the mailbox and the caller's preferences are known."""

    ctx: Context
    uid: str
    mbx: dict[str, Any]
    view: gr.View

    @property
    def state(self) -> SandboxState:
        return self.ctx.state

    @property
    def req(self) -> Request:
        return self.ctx.request

    @property
    def owner(self) -> dict[str, str]:
        return dict(self.mbx["owner"])

    def calendar(self, scope: str) -> dict[str, Any] | None:
        """The calendar a route addresses: ``cid`` from the path, ``default``, or ``any``."""
        if scope == "cid":
            return gs.calendar_by_id(self.mbx, self.ctx.params["cid"])
        if scope == "default":
            return self.mbx["calendars"][self.mbx["default_calendar"]]  # type: ignore[no-any-return]
        return None

    def write_calendar(self, scope: str) -> dict[str, Any]:
        # /me/events lists and creates in the default calendar; ids resolve mailbox-wide.
        return self.calendar(scope) or self.calendar("default")  # type: ignore[return-value]

    def context_url(self, what: str) -> str:
        return f"{self.view.origin}/v1.0/$metadata#users('{self.uid}')/{what}"


def resolve(ctx: Context) -> Call:
    """Check the ``/users/{id|upn}`` segment against the caller and load the mailbox."""
    assert ctx.user_id is not None
    uid = ctx.user_id
    segment = ctx.params.get("user")
    if segment is not None:
        me = ctx.state.user(uid) or {}
        if segment.lower() not in (uid.lower(), str(me.get("email", "")).lower()):
            other = ctx.state.user(segment) or ctx.state.find_user("microsoft", segment)
            if other is not None and other["service"] == "microsoft":
                raise ApiError(
                    403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
                )
            raise ApiError(404, "ErrorInvalidUser", f"The requested user '{segment}' is invalid.")
    return Call(ctx, uid, gs.mailbox(ctx.state, uid), gr.make_view(ctx.request.headers))


def json_response(call: Call, status: int, payload: Any, *extra: str) -> Response:
    return Response.json(status, payload, call.view.headers(*extra))


# --- collections ---------------------------------------------------------------------------


def _ext_filter(opts: dict[str, str]) -> gq.Pred | None:
    return gq.parse_filter(opts.get("$filter"))


def _with_expand(
    doc: dict[str, Any], ev: dict[str, Any], expand: dict[str, dict[str, str]]
) -> dict[str, Any]:
    if "singleValueExtendedProperties" in expand:
        pred = _ext_filter(expand["singleValueExtendedProperties"])
        props = [p for p in gr.ext_props(ev) if pred is None or pred(p)]
        if props:  # Graph leaves the property out when nothing matches
            doc["singleValueExtendedProperties"] = props
    return doc


def collection(call: Call, items: list[dict[str, Any]], what: str) -> Response:
    """Filter, order, page and render a list of (stored or synthetic) events."""
    req = call.req
    select = gq.parse_select(gq.qarg(req, "$select"), EVENT_PROPS)
    expand = gq.parse_expand(gq.qarg(req, "$expand"), {"singleValueExtendedProperties"})
    pred = gq.parse_filter(gq.qarg(req, "$filter"))
    orderby = gq.parse_orderby(gq.qarg(req, "$orderby"))
    top, skip = gq.paging(req)
    if pred is not None or orderby:
        utc = gr.utc_view(call.view.origin)
        docs = [
            {**gr.event_doc(ev, utc), "singleValueExtendedProperties": gr.ext_props(ev)}
            for ev in items
        ]
        pairs = [(ev, d) for ev, d in zip(items, docs, strict=True) if pred is None or pred(d)]
        for path, desc in reversed(orderby):
            pairs.sort(key=lambda p, path=path: gq.order_key(p[1], path), reverse=desc)  # type: ignore[misc]
        items = [ev for ev, _ in pairs]
    chunk, next_link = gq.page(req, call.view.origin, items, top, skip)
    keep = None if select is None else [*select, *expand]
    value = [
        gq.apply_select(_with_expand(gr.event_doc(ev, call.view), ev, expand), keep) for ev in chunk
    ]
    body: dict[str, Any] = {"@odata.context": call.context_url(what), "value": value}
    if next_link:
        body["@odata.nextLink"] = next_link
    return json_response(call, 200, body)


def list_events(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    cal = call.write_calendar(scope)
    # "The list contains single instance meetings and series masters" (api-spec §2.4).
    items = [
        ev
        for ev in gs.events_of(call.mbx, cal["id"])
        if ev["type"] in ("singleInstance", "seriesMaster")
    ]
    items.sort(key=lambda e: (e["start"], e["id"]))
    return collection(call, items, "events")


def calendar_view(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    cal = call.write_calendar(scope)
    ws, we, _, _ = gq.parse_window(call.req)
    rows = gs.view_rows(call.mbx, cal["id"], ws, we)
    items = [r if isinstance(r, dict) else gr.occurrence_event(r) for _, _, r in rows]
    return collection(call, items, "calendarView")


def instances(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    ws, we, _, _ = gq.parse_window(call.req)
    item = gs.find_item(call.mbx, ctx.params["eid"], _cal_id(call, scope))
    rows: list[gs.Instance] = []
    if isinstance(item, dict) and item["type"] == "seriesMaster":
        rows = gs.series_instances(call.mbx, item, ws, we)
    return collection(call, [gr.occurrence_event(i) for i in rows], "events/instances")


def _cal_id(call: Call, scope: str) -> str | None:
    cal = call.calendar(scope)
    return None if cal is None else str(cal["id"])


# --- single events -------------------------------------------------------------------------


def _as_event(item: dict[str, Any] | gs.Instance) -> dict[str, Any]:
    return item if isinstance(item, dict) else gr.occurrence_event(item)


def _etag_of(item: dict[str, Any] | gs.Instance) -> str:
    if isinstance(item, dict):
        return str(item["changeKey"])
    return str((item.exception or item.master)["changeKey"])


def check_if_match(call: Call, item: dict[str, Any] | gs.Instance) -> None:
    """[O/U] api-spec §2.8: If-Match W/"changeKey" -> 412 when the item moved on."""
    header = call.req.headers.get("If-Match")
    if not header or not call.state.settings.switches.graph_if_match:
        return
    wanted = {v.strip().removeprefix("W/").strip('"') for v in header.split(",")}
    if "*" not in wanted and _etag_of(item) not in wanted:
        raise ApiError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed "
            "in the request does not match the current change key for the item.",
        )


def get_event(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    item = gs.find_item(call.mbx, ctx.params["eid"], _cal_id(call, scope))
    ev = _as_event(item)
    select = gq.parse_select(gq.qarg(call.req, "$select"), EVENT_PROPS)
    expand = gq.parse_expand(gq.qarg(call.req, "$expand"), _EXPANDABLE)
    doc = _with_expand(gr.event_doc(ev, call.view), ev, expand)
    if ev["type"] == "seriesMaster":
        # Both only on a GET of the master by id, and cancelledOccurrences only when selected.
        if select is not None and "cancelledOccurrences" in select:
            doc["cancelledOccurrences"] = gr.cancelled_occurrences(ev)
        if "exceptionOccurrences" in expand:
            nested = gq.parse_select(expand["exceptionOccurrences"].get("$select"), EVENT_PROPS)
            excs = [call.mbx["events"][e] for e in ev["exceptions"].values()]
            excs.sort(key=lambda e: e["originalStart"])
            doc["exceptionOccurrences"] = [
                gq.apply_select(gr.event_doc(e, call.view), nested) for e in excs
            ]
    keep = None if select is None else [*select, *expand]
    body = {"@odata.context": call.context_url("events/$entity"), **gq.apply_select(doc, keep)}
    return json_response(call, 200, body)


def _event_body(call: Call) -> dict[str, Any]:
    return gm.check(gm.parse_json(call.req.body), "event")


def create_event(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    cal = call.write_calendar(scope)
    body = _event_body(call)
    tx = body.get("transactionId")
    if tx and call.mbx["tx"].get(tx) in call.mbx["events"]:
        existing = call.mbx["events"][call.mbx["tx"][tx]]
        if not call.state.settings.switches.graph_transaction_id_returns_existing:
            # [U] the alternative reading of §2.3: a retry with a used transactionId is refused.
            raise ApiError(409, "ErrorDuplicateTransactionId", "The transactionId is in use.")
        # [U] §2.3 "to avoid redundant POST operations": the retry gets the first event back.
        return _entity(call, 201, existing)
    ev = gm.new_event(call.mbx, cal["id"], call.owner)
    gm.apply_changes(ev, body, creating=True)
    if body.get("recurrence") is not None:
        ev["recurrence"] = gm.normalize_recurrence(ev, body["recurrence"])
        ev["type"] = "seriesMaster"
    gs.touch(call.state, call.mbx, ev)
    call.mbx["events"][ev["id"]] = ev
    if tx:
        call.mbx["tx"][tx] = ev["id"]
    notify(call, ev, "invitation", gs.attendee_addresses(ev, call.owner["address"]), "created")
    return _entity(call, 201, ev)


def _entity(call: Call, status: int, ev: dict[str, Any]) -> Response:
    doc = {"@odata.context": call.context_url("events/$entity"), **gr.event_doc(ev, call.view)}
    return json_response(call, status, doc)


def update_event(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    item = gs.find_item(call.mbx, ctx.params["eid"], _cal_id(call, scope))
    body = _event_body(call)
    check_if_match(call, item)
    if isinstance(item, gs.Instance):
        return _update_instance(call, item, body)
    ev = copy.deepcopy(item)
    gm.apply_changes(ev, body, creating=False)
    if "recurrence" in body:
        if body["recurrence"] is None:
            if ev["type"] == "seriesMaster":
                # [U] removing the recurrence of a series is not emulated: delete and recreate.
                raise ApiError(
                    400, "ErrorInvalidRequest", "The recurrence of a series cannot be removed."
                )
        elif ev["type"] == "exception":
            raise ApiError(
                400, "ErrorInvalidRequest", "The recurrence of an occurrence cannot be set."
            )
        else:
            ev["recurrence"] = gm.normalize_recurrence(ev, body["recurrence"])
            ev["type"] = "seriesMaster"
    elif ev["type"] == "seriesMaster" and ("start" in body or "end" in body):
        # Moving a series moves its range with it (range.startDate must equal the start date).
        rec = copy.deepcopy(ev["recurrence"])
        local = gs.from_iso(ev["start"]).astimezone(gs.zone_or_utc(ev["startZone"]))
        rec["range"]["startDate"] = local.date().isoformat()
        ev["recurrence"] = gm.normalize_recurrence(ev, rec)
    if ev["type"] == "exception" and ("start" in body or "end" in body):
        master = call.mbx["events"][ev["seriesMasterId"]]
        original = gs.from_iso(ev["originalStart"])
        gm.check_boundary(master, original, gs.from_iso(ev["start"]), gs.from_iso(ev["end"]))
    # Everything is valid: commit.
    if ev["type"] == "seriesMaster":
        _prune_series(call, ev)
    gs.touch(call.state, call.mbx, ev)
    call.mbx["events"][ev["id"]] = ev
    _mail_for_update(call, item, ev, body)
    return _entity(call, 200, ev)


def _update_instance(call: Call, inst: gs.Instance, body: dict[str, Any]) -> Response:
    """PATCH of an occurrence makes an exception; PATCH of an exception updates it."""
    master = inst.master
    if inst.exception is not None:
        ev = copy.deepcopy(inst.exception)
    else:
        ev = gm.exception_from(call.mbx, master, inst.original_start)
    before = copy.deepcopy(ev)
    gm.apply_changes(ev, body, creating=False, series_member=True)
    if "start" in body or "end" in body:
        gm.check_boundary(
            master, inst.original_start, gs.from_iso(ev["start"]), gs.from_iso(ev["end"])
        )
    gs.touch(call.state, call.mbx, ev)
    call.mbx["events"][ev["id"]] = ev
    master["exceptions"][gs.to_iso(inst.original_start)] = ev["id"]
    # Exchange keeps exceptions inside the master item, so the master changes too.
    gs.touch(call.state, call.mbx, master)
    _mail_for_update(call, before, ev, body)
    return _entity(call, 200, ev)


def _prune_series(call: Call, master: dict[str, Any]) -> None:
    """After a series change, drop exceptions and cancellations no longer in the series."""
    for key, exc_id in list(master["exceptions"].items()):
        if not gs.is_series_start(master, gs.from_iso(key)):
            del master["exceptions"][key]
            if call.mbx["events"].pop(exc_id, None) is not None:
                gs.add_tombstone(call.state, call.mbx, exc_id, master["calendar"])
    master["cancelled"] = [
        k for k in master["cancelled"] if gs.is_series_start(master, gs.from_iso(k))
    ]


def _mail_for_update(
    call: Call, before: dict[str, Any], after: dict[str, Any], body: dict[str, Any]
) -> None:
    if not after["isOrganizer"]:
        return
    owner = call.owner["address"]
    old = gs.attendee_addresses(before, owner)
    new = gs.attendee_addresses(after, owner)
    added = [a for a in new if a not in old]
    removed = [a for a in old if a not in new]
    kept = [a for a in new if a in old]
    notify(call, after, "invitation", added, "attendees added")
    notify(call, before, "cancellation", removed, "attendees removed")
    if _MEETING_FIELDS & set(body):
        notify(call, after, "update", kept, "meeting updated")


def delete_event(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    item = gs.find_item(call.mbx, ctx.params["eid"], _cal_id(call, scope))
    check_if_match(call, item)
    # event-delete: deleting a meeting the user organises cancels it for the attendees.
    _remove(call, item, "deleted")
    return Response.empty(204, call.view.headers())


def cancel_event(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    item = gs.find_item(call.mbx, ctx.params["eid"], _cal_id(call, scope))
    if call.req.body.strip():
        gm.check(gm.parse_json(call.req.body), "cancelParameters")
    organiser = item if isinstance(item, dict) else (item.exception or item.master)
    if not organiser["isOrganizer"]:
        # [U] the documented message; the code is not documented.
        raise ApiError(400, "ErrorInvalidRequest", _ORGANIZER_ONLY)
    check_if_match(call, item)
    # event-cancel: the organizer's copy goes to Deleted Items and attendees get a cancellation.
    _remove(call, item, "cancelled")
    return Response.empty(202, call.view.headers())


def decline_event(ctx: Context, scope: str) -> Response:
    """event-decline: 202; the organizer gets the response unless ``sendResponse`` is false."""
    call = resolve(ctx)
    item = gs.find_item(call.mbx, ctx.params["eid"], _cal_id(call, scope))
    raw = call.req.body
    body = gm.check(gm.parse_json(raw), "declineParameters") if raw.strip() else {}
    ev = item if isinstance(item, dict) else (item.exception or item.master)
    if ev["isOrganizer"]:
        raise ApiError(400, "ErrorCalendarIsOrganizerForDecline", _ORGANIZER_DECLINES)
    send = body.get("sendResponse") is not False  # "Optional. Default is true."
    # event-decline: a proposed time is refused (400) when the event takes no proposals, or
    # when the response is not sent.
    proposes = body.get("proposedNewTime") is not None
    if proposes and (not send or not ev["props"]["allowNewTimeProposals"]):
        raise ApiError(
            400,
            "ErrorInvalidRequest",
            "A new time can only be proposed in a response sent to the organizer of a "
            "meeting that allows new time proposals.",
        )
    organizer = str(ev["organizer"]["emailAddress"].get("address") or "")
    if send and organizer:
        event_id = ev["id"] if isinstance(item, dict) else item.id
        gs.send_mail(call.state, call.uid, "response", [organizer], event_id, "meeting declined")
        if isinstance(item, dict):  # [U] responses to one occurrence are not delivered
            _tell_organizer(call, ev, organizer)
    if call.state.settings.switches.graph_decline_removes_event:
        _remove(call, item, "declined")
    else:
        target = ev if isinstance(item, dict) else _exception_of(call, item)
        declined = {"response": "declined", "time": gs.now_stamp()}
        target["responseStatus"] = dict(declined)
        me = call.owner["address"].lower()
        for att in target["props"].get("attendees") or []:  # [U] our own line in the list too
            if str(att.get("emailAddress", {}).get("address", "")).lower() == me:
                att["status"] = dict(declined)
        gs.touch(call.state, call.mbx, target)
    return Response.empty(202, call.view.headers())


def _exception_of(call: Call, inst: gs.Instance) -> dict[str, Any]:
    """The occurrence as an exception of its own (made now if it was a plain occurrence)."""
    if inst.exception is not None:
        return inst.exception
    ev = gm.exception_from(call.mbx, inst.master, inst.original_start)
    call.mbx["events"][ev["id"]] = ev
    inst.master["exceptions"][gs.to_iso(inst.original_start)] = ev["id"]
    return ev


def _tell_organizer(call: Call, ev: dict[str, Any], organizer: str) -> None:
    """The response reaches an organizer's sandbox mailbox: their copy shows us as declined."""
    found = gs.mailbox_of_address(call.state, organizer)
    if found is None:
        return
    _, mbx = found
    me = call.owner["address"].lower()
    for theirs in mbx["events"].values():
        if theirs.get("copies", {}).get(call.uid) != ev["id"]:
            continue
        for att in theirs["props"].get("attendees") or []:
            if str(att.get("emailAddress", {}).get("address", "")).lower() == me:
                att["status"] = {"response": "declined", "time": gs.now_stamp()}
        gs.touch(call.state, mbx, theirs)


def _remove(call: Call, item: dict[str, Any] | gs.Instance, why: str) -> None:
    owner = call.owner["address"]
    if isinstance(item, gs.Instance):
        master = item.master
        key = gs.to_iso(item.original_start)
        source = item.exception or master
        if item.exception is not None:
            del master["exceptions"][key]
            del call.mbx["events"][item.exception["id"]]
            gs.add_tombstone(call.state, call.mbx, item.exception["id"], master["calendar"])
        master["cancelled"] = sorted({*master["cancelled"], key})
        gs.touch(call.state, call.mbx, master)
        if source["isOrganizer"]:
            notify(
                call,
                master,
                "cancellation",
                gs.attendee_addresses(source, owner),
                f"occurrence {why}",
                occurrence=key,
            )
        return
    del call.mbx["events"][item["id"]]
    for exc_id in item["exceptions"].values():
        if call.mbx["events"].pop(exc_id, None) is not None:
            gs.add_tombstone(call.state, call.mbx, exc_id, item["calendar"])
    gs.add_tombstone(call.state, call.mbx, item["id"], item["calendar"])
    if item["isOrganizer"]:
        notify(call, item, "cancellation", gs.attendee_addresses(item, owner), f"meeting {why}")


# --- mail, and delivery to other sandbox mailboxes -----------------------------------------


def notify(
    call: Call,
    ev: dict[str, Any],
    kind: str,
    recipients: list[str],
    why: str,
    *,
    occurrence: str | None = None,
) -> None:
    """Record the mail Exchange would send, and deliver it to attendees who are sandbox users."""
    if not recipients:
        return
    gs.send_mail(call.state, call.uid, kind, recipients, ev["id"], why)
    if ev["type"] == "exception":
        return  # [U] exceptions are not copied into attendees' calendars (see the report)
    for address in recipients:
        found = gs.mailbox_of_address(call.state, address)
        if found is None or found[0] == call.uid:
            continue
        _deliver(call, ev, kind, found[0], found[1], occurrence)


def _deliver(
    call: Call,
    ev: dict[str, Any],
    kind: str,
    uid: str,
    mbx: dict[str, Any],
    occurrence: str | None,
) -> None:
    copies: dict[str, str] = ev.setdefault("copies", {})
    copy_id = copies.get(uid)
    existing = mbx["events"].get(copy_id) if copy_id else None
    if kind == "invitation" and existing is None:
        new = copy.deepcopy(ev)
        new.update(
            id=gs.new_event_id(mbx),
            calendar=mbx["default_calendar"],
            isOrganizer=False,
            responseStatus={"response": "notResponded", "time": gs.ZERO_TIME},
            transactionId=None,
            ext={},
            exceptions={},
            created=gs.now_stamp(),
        )
        new.pop("copies", None)
        gs.touch(call.state, mbx, new)
        mbx["events"][new["id"]] = new
        copies[uid] = new["id"]
        return
    if existing is None:
        return
    if kind == "cancellation" and occurrence is not None:
        existing["cancelled"] = sorted({*existing["cancelled"], occurrence})
    elif kind == "cancellation":
        existing["isCancelled"] = True
        existing["props"]["subject"] = "Canceled: " + ev["props"]["subject"]
    else:
        own = ("id", "calendar", "created", "isOrganizer", "responseStatus", "ext")
        keep = {k: existing[k] for k in own}
        existing.update(copy.deepcopy(ev), **keep, exceptions={}, transactionId=None)
        existing.pop("copies", None)
    gs.touch(call.state, mbx, existing)
