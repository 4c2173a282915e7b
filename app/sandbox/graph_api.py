"""Microsoft Graph v1.0 (Outlook calendar) emulator: routes, ``/me`` and calendars.

The pieces: graph_store (data, ids, series), graph_model (request bodies), graph_render
(responses), graph_query (OData options), graph_events (event endpoints), graph_delta
(calendarView/delta) and graph_batch ($batch). Behaviour follows api-spec.md §2; choices the
sources leave open are marked [U] and, where a client could depend on them, are switches in
``state.Switches`` (graph_*).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.sandbox import graph_batch, graph_delta, graph_events
from app.sandbox import graph_model as gm
from app.sandbox import graph_query as gq
from app.sandbox import graph_render as gr
from app.sandbox import graph_store as gs
from app.sandbox.errors import GRAPH
from app.sandbox.graph_events import json_response, resolve
from app.sandbox.httpcore import ApiError, Context, Response, Router
from app.sandbox.state import SandboxState

_PREFIXES = ("/v1.0/me", "/v1.0/users/{user}")
# Where events live: path -> scope (see graph_events.Call.calendar).
_EVENT_BASES = (
    ("/events", "any"),
    ("/calendar/events", "default"),
    ("/calendars/{cid}/events", "cid"),
)
_VIEW_BASES = (("", "default"), ("/calendar", "default"), ("/calendars/{cid}", "cid"))


def register(router: Router) -> None:
    def add(method: str, path: str, name: str, handler: Callable[[Context], Response]) -> None:
        for prefix in _PREFIXES:
            router.add(GRAPH, method, prefix + path, name, handler)

    def scoped(fn: Callable[[Context, str], Response], scope: str) -> Callable[[Context], Response]:
        return lambda ctx: fn(ctx, scope)

    add("GET", "", "me.get", get_me)
    add("GET", "/calendars", "calendars.list", list_calendars)
    add("POST", "/calendars", "calendars.create", create_calendar)
    add("GET", "/calendar", "calendars.get", get_default_calendar)
    add("GET", "/calendars/{cid}", "calendars.get", get_calendar)
    add("PATCH", "/calendars/{cid}", "calendars.update", update_calendar)
    add("DELETE", "/calendars/{cid}", "calendars.delete", delete_calendar)
    for base, scope in _EVENT_BASES:
        list_scope = "default" if scope == "any" else scope
        add("GET", base, "events.list", scoped(graph_events.list_events, list_scope))
        add("POST", base, "events.create", scoped(graph_events.create_event, list_scope))
        add("GET", base + "/{eid}", "events.get", scoped(graph_events.get_event, scope))
        add("PATCH", base + "/{eid}", "events.update", scoped(graph_events.update_event, scope))
        add("DELETE", base + "/{eid}", "events.delete", scoped(graph_events.delete_event, scope))
        add(
            "POST",
            base + "/{eid}/cancel",
            "events.cancel",
            scoped(graph_events.cancel_event, scope),
        )
        add(
            "POST",
            base + "/{eid}/decline",
            "events.decline",
            scoped(graph_events.decline_event, scope),
        )
        add(
            "GET",
            base + "/{eid}/instances",
            "events.instances",
            scoped(graph_events.instances, scope),
        )
    for base, scope in _VIEW_BASES:
        # Graph's path segments are case-insensitive; clients spell calendarView both ways.
        for segment in ("/calendarView", "/calendarview"):
            add(
                "GET",
                base + segment,
                "calendarView.list",
                scoped(graph_events.calendar_view, scope),
            )
            add(
                "GET",
                base + segment + "/delta",
                "calendarView.delta",
                scoped(graph_delta.delta, scope),
            )
    router.add(GRAPH, "POST", "/v1.0/$batch", "batch", graph_batch.batch)


def init_user(state: SandboxState, user: dict[str, Any]) -> None:
    """A new Microsoft user's mailbox, with the default calendar "Calendar"."""
    with state.lock:
        gs.create_mailbox(state, user)


def expire_sync_tokens(state: SandboxState, user_id: str | None) -> int:
    """Invalidate delta/skip tokens: they then answer 410 SyncStateNotFound + Location."""
    return graph_delta.expire(state, user_id)


# --- /me -----------------------------------------------------------------------------------


def get_me(ctx: Context) -> Response:
    call = resolve(ctx)
    user = ctx.state.user(call.uid) or {}
    doc: dict[str, Any] = {
        "@odata.context": f"{call.view.origin}/v1.0/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": user.get("name"),
        "givenName": None,
        "jobTitle": None,
        "mail": user.get("email"),
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": None,
        "userPrincipalName": user.get("email"),
        "id": call.uid,
    }
    select = gq.qarg(ctx.request, "$select")
    if select:
        names = {n.strip() for n in select.split(",")}
        doc = {k: v for k, v in doc.items() if k in names or k in ("@odata.context", "id")}
    return json_response(call, 200, doc)


# --- calendars -----------------------------------------------------------------------------


def _calendar_response(call: graph_events.Call, status: int, cal: dict[str, Any]) -> Response:
    doc = {
        "@odata.context": call.context_url("calendars/$entity"),
        **gr.calendar_doc(cal, call.owner),
    }
    return json_response(call, status, doc)


def list_calendars(ctx: Context) -> Response:
    call = resolve(ctx)
    top, skip = gq.paging(ctx.request)
    cals = gs.calendars_in_order(call.mbx)
    chunk, next_link = gq.page(ctx.request, call.view.origin, cals, top, skip)
    body: dict[str, Any] = {
        "@odata.context": call.context_url("calendars"),
        "value": [gr.calendar_doc(c, call.owner) for c in chunk],
    }
    if next_link:
        body["@odata.nextLink"] = next_link
    return json_response(call, 200, body)


def get_default_calendar(ctx: Context) -> Response:
    call = resolve(ctx)
    return _calendar_response(call, 200, call.mbx["calendars"][call.mbx["default_calendar"]])


def get_calendar(ctx: Context) -> Response:
    call = resolve(ctx)
    return _calendar_response(call, 200, gs.calendar_by_id(call.mbx, ctx.params["cid"]))


def _name_taken(mbx: dict[str, Any], name: str, except_id: str | None = None) -> None:
    for cal in mbx["calendars"].values():
        if cal["name"].lower() == name.lower() and cal["id"] != except_id:
            raise ApiError(
                409, "ErrorFolderExists", "A folder with the specified name already exists."
            )


def create_calendar(ctx: Context) -> Response:
    call = resolve(ctx)
    body = gm.check(gm.parse_json(ctx.request.body), "calendar")
    name = (body.get("name") or "").strip()
    if not name:
        raise ApiError(400, "ErrorInvalidRequest", "The calendar name is required.")
    _name_taken(call.mbx, name)
    cal = gs.new_calendar(ctx.state, call.mbx, name, color=body.get("color") or "auto")
    return _calendar_response(call, 201, cal)


def update_calendar(ctx: Context) -> Response:
    call = resolve(ctx)
    cal = gs.calendar_by_id(call.mbx, ctx.params["cid"])
    body = gm.check(gm.parse_json(ctx.request.body), "calendar")
    name = body.get("name")
    if name is not None:
        if not name.strip():
            raise ApiError(400, "ErrorInvalidRequest", "The calendar name is required.")
        _name_taken(call.mbx, name.strip(), cal["id"])
    if name is not None:
        cal["name"] = name.strip()
    if body.get("color"):
        cal["color"] = body["color"]
    gs.touch(ctx.state, call.mbx, cal)
    return _calendar_response(call, 200, cal)


def delete_calendar(ctx: Context) -> Response:
    call = resolve(ctx)
    cal = gs.calendar_by_id(call.mbx, ctx.params["cid"])
    if cal["isDefaultCalendar"]:
        # [U] Exchange's code for deleting a distinguished folder; the status is a guess.
        raise ApiError(
            400, "ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted."
        )
    for ev in gs.events_of(call.mbx, cal["id"]):
        del call.mbx["events"][ev["id"]]
    del call.mbx["calendars"][cal["id"]]
    ctx.state.mark_dirty()
    return Response.empty(204, call.view.headers())
