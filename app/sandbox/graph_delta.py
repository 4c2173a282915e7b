"""``calendarView/delta``: rounds of pages over a window, and the sync state behind the tokens.

Like Exchange, the server keeps the sync state and the token names it (that is why an expired
token answers ``SyncStateNotFound``). A round is computed in full when it begins, from what the
previous round reported (``known``: id -> change key) and a watermark (the change sequence when
that round began), so nothing that changes while a client pages through a round is lost: it is
either on a later page already or in the next round. Tokens also carry the calendar and the
window, so a 410 can point at the initial request again (api-spec §2.5).
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import quote

from app.sandbox import graph_query as gq
from app.sandbox import graph_render as gr
from app.sandbox import graph_store as gs
from app.sandbox.graph_events import Call, json_response, resolve
from app.sandbox.httpcore import ApiError, Context, Response
from app.sandbox.state import SandboxState

# [U] api-spec §2.5 gives no default page size for calendarView/delta; 10 is what Graph's other
# event collections use, and a small default makes clients that ignore nextLink fail early.
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000  # odata.maxpagesize is honoured up to this
_STATE_CAP = 200  # sync states kept per mailbox; older tokens expire, as Exchange's cache does


def _encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("s"), str) else None


def _sync(mbx: dict[str, Any]) -> dict[str, Any]:
    return mbx["sync"]  # type: ignore[no-any-return]


def _store(mbx: dict[str, Any], record: dict[str, Any]) -> str:
    sync = _sync(mbx)
    sid = secrets.token_hex(8)
    sync["states"][sid] = record
    sync["order"].append(sid)
    while len(sync["order"]) > _STATE_CAP:
        sync["states"].pop(sync["order"].pop(0), None)
    return sid


def expire(state: SandboxState, user_id: str | None) -> int:
    """Forget the sync states of one user (or everyone); their tokens then answer 410."""
    n = 0
    with state.lock:
        for uid, mbx in gs.graph_data(state).items():
            if user_id in (None, uid):
                n += len(mbx["sync"]["states"])
                mbx["sync"] = {"states": {}, "order": []}
        state.mark_dirty()
    return n


def _gone(call: Call, payload: dict[str, Any] | None) -> ApiError:
    headers = {}
    if payload and isinstance(payload.get("ws"), str) and isinstance(payload.get("we"), str):
        # "a Location header containing a request URL with an empty $deltaToken" (§2.5)
        headers["Location"] = (
            f"{call.view.origin}{call.req.raw_path}?startDateTime={quote(payload['ws'], safe='')}"
            f"&endDateTime={quote(payload['we'], safe='')}&$deltatoken="
        )
    highest = len(_sync(call.mbx)["order"])
    return ApiError(
        410,
        "SyncStateNotFound",
        f"The sync state generation is not found; generation=0;[highest={highest}].",
        headers=headers,
    )


def delta(ctx: Context, scope: str) -> Response:
    call = resolve(ctx)
    req = call.req
    skiptoken, deltatoken = gq.qarg(req, "$skiptoken"), gq.qarg(req, "$deltatoken")
    states = _sync(call.mbx)["states"]
    if skiptoken:
        payload = _decode(skiptoken)
        record = states.get(payload["s"]) if payload else None
        if payload is None or record is None or record["kind"] != "round":
            raise _gone(call, payload)
        return _page(call, payload["s"], record, int(payload.get("o", 0)))
    if deltatoken:
        payload = _decode(deltatoken)
        record = states.get(payload["s"]) if payload else None
        if payload is None or record is None or record["kind"] != "delta":
            raise _gone(call, payload)
        if record["mark"] < call.mbx["tomb_floor"]:
            raise _gone(call, payload)  # deletions since then were forgotten
        return _begin(call, record["cal"], record["ws"], record["we"], record)
    cal = call.write_calendar(scope)
    _, _, ws_text, we_text = gq.parse_window(req)
    return _begin(call, cal["id"], ws_text, we_text, None)


def _window(record_ws: str, record_we: str) -> tuple[datetime, datetime]:
    return gq.parse_instant(record_ws, "StartDateTime"), gq.parse_instant(record_we, "EndDateTime")


def _current(
    call: Call, cal_id: str, ws: datetime, we: datetime
) -> tuple[list[list[str]], dict[str, str], set[str]]:
    """Rows of the window now (kind, id), their change keys, and masters with rows in it."""
    include_masters = call.state.settings.switches.graph_delta_includes_series_master
    rows: list[tuple[datetime, int, str, str]] = []
    known: dict[str, str] = {}
    masters: set[str] = set()
    for ev in gs.events_of(call.mbx, cal_id):
        if ev["type"] == "singleInstance":
            start, end = gs.from_iso(ev["start"]), gs.from_iso(ev["end"])
            if gs.overlaps(start, end, ws, we):
                rows.append((start, 1, "event", ev["id"]))
                known[ev["id"]] = ev["changeKey"]
        elif ev["type"] == "seriesMaster":
            insts = gs.series_instances(call.mbx, ev, ws, we)
            if not insts:
                continue
            masters.add(ev["id"])
            if include_masters:
                # [U] §2.5: keeper.sh saw the master row, with the series' first start.
                rows.append((gs.from_iso(ev["start"]), 0, "event", ev["id"]))
                known[ev["id"]] = ev["changeKey"]
            for inst in insts:
                if inst.exception is not None:
                    rows.append((inst.start, 1, "event", inst.id))
                    known[inst.id] = inst.exception["changeKey"]
                else:
                    # A stub carries no fields of the master, but changes with it.
                    rows.append((inst.start, 1, "occ", inst.id))
                    known[inst.id] = ev["changeKey"]
    rows.sort()
    return [[kind, item_id] for _, _, kind, item_id in rows], known, masters


def _silenced(call: Call, item_id: str) -> bool:
    """A cancelled occurrence, which Graph does not signal unless the switch says so (§2.5)."""
    if call.state.settings.switches.graph_delta_signals_cancelled_occurrence:
        return False
    try:
        parsed = gs.parse_id(call.mbx, item_id)
    except ApiError:
        return False
    if parsed.kind != "occurrence" or parsed.original_start is None:
        return False
    master = call.mbx["events"].get(parsed.id)
    return master is not None and gs.to_iso(parsed.original_start) in master["cancelled"]


def _begin(
    call: Call, cal_id: str, ws_text: str, we_text: str, previous: dict[str, Any] | None
) -> Response:
    if cal_id not in call.mbx["calendars"]:
        raise gs.not_found()
    ws, we = _window(ws_text, we_text)
    mark = int(call.state.data["seq"])  # every later change has a higher sequence number
    current, known, masters = _current(call, cal_id, ws, we)
    if previous is None:
        rows = current
    else:
        rows = [r for r in current if previous["known"].get(r[1]) != known[r[1]]]
        seen = {r[1] for r in current}
        removed = [i for i in previous["known"] if i not in seen and not _silenced(call, i)]
        # Items changed or deleted outside the window are reported as removed too (§2.5).
        for ev in gs.events_of(call.mbx, cal_id):
            if ev["seq"] > previous["mark"] and ev["id"] not in seen and ev["id"] not in masters:
                removed.append(ev["id"])
        for tomb in call.mbx["tombstones"]:
            fresh = tomb["seq"] > previous["mark"] and tomb["calendar"] == cal_id
            if fresh and not _silenced(call, tomb["id"]):
                removed.append(tomb["id"])
        rows += [["removed", i] for i in dict.fromkeys(removed) if i not in seen]
    base = {"cal": cal_id, "ws": ws_text, "we": we_text}
    delta_sid = _store(call.mbx, {"kind": "delta", **base, "mark": mark, "known": known})
    round_sid = _store(call.mbx, {"kind": "round", **base, "rows": rows, "next": delta_sid})
    return _page(call, round_sid, _sync(call.mbx)["states"][round_sid], 0)


def _page(call: Call, round_sid: str, record: dict[str, Any], offset: int) -> Response:
    size = min(call.view.max_page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    rows = record["rows"][offset : offset + size]
    base = {"c": record["cal"], "ws": record["ws"], "we": record["we"]}
    link = f"{call.view.origin}{call.req.raw_path}?"
    body: dict[str, Any] = {
        "@odata.context": f"{call.view.origin}/v1.0/$metadata#Collection(event)"
    }
    if offset + size < len(record["rows"]):
        token = _encode({"s": round_sid, "o": offset + size, **base})
        body["@odata.nextLink"] = link + "$skiptoken=" + token
    else:
        body["@odata.deltaLink"] = link + "$deltatoken=" + _encode({"s": record["next"], **base})
    body["value"] = [_row(call, kind, item_id) for kind, item_id in rows]
    applied = ["odata.track-changes"]
    if call.view.max_page_size:
        applied.append(f"odata.maxpagesize={size}")
    return json_response(call, 200, body, *applied)


def _row(call: Call, kind: str, item_id: str) -> dict[str, Any]:
    """Render a row as it is now; what vanished since the round began reads as removed."""
    if kind == "removed":
        return gr.removed_doc(item_id)
    try:
        item = gs.find_item(call.mbx, item_id)
    except ApiError:
        return gr.removed_doc(item_id)
    if isinstance(item, dict):
        return {"@odata.type": gr.ODATA_EVENT, **gr.event_doc(item, call.view)}
    if item.exception is not None:
        return {"@odata.type": gr.ODATA_EVENT, **gr.instance_doc(item, call.view)}
    return gr.stub_doc(item, call.view)
