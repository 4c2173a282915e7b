"""Storage of the Graph emulator: mailboxes, calendars, events, ids, change keys, series.

Everything lives in ``state.data["graph"]`` as plain JSON values (the state is snapshotted):

``{"mailboxes": {user_id: mailbox}}`` where a mailbox holds ``calendars``, ``events`` (singles,
series masters and exceptions; occurrences are virtual), ``tx`` (transactionId -> event id),
``tombstones`` (deleted ids, for delta) and ``sync`` (delta rounds, see graph_delta.py).

Times are stored as UTC instants (ISO strings) plus the zone name the client gave, so a response
can be rendered in any ``Prefer: outlook.timezone`` and still report ``originalStartTimeZone``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from app.core import timezones
from app.sandbox import recurrence
from app.sandbox.httpcore import ApiError
from app.sandbox.state import SandboxState

ID_PREFIX = "AAMkAD"  # what real Exchange ids start with; the rest is ours
_EVENT, _OCC, _CAL = b"E", b"O", b"C"
_TOMBSTONE_CAP = 20_000
MAX_EXPAND = 5000  # occurrences per series and request; bounds noEnd series over wide windows
ZERO_TIME = "0001-01-01T00:00:00Z"  # Graph's "never" for responseStatus.time
# Exchange's global object id: class id, instance date (zero on a master), creation FILETIME...
_GOID_CLASS = "040000008200E00074C5B7101A82E008"
_tick_lock = threading.Lock()
_last_tick = 0


def not_found() -> ApiError:
    return ApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def malformed_id() -> ApiError:
    return ApiError(400, "ErrorInvalidIdMalformed", "Id is malformed.")


# --- time helpers ------------------------------------------------------------------------


def to_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def now_stamp() -> str:
    """DateTimeOffset as Graph writes it: UTC with 7 fractional digits (100 ns ticks)."""
    global _last_tick
    with _tick_lock:
        # Strictly increasing, so lastModifiedDateTime never sorts before createdDateTime.
        _last_tick = max(time.time_ns() // 100, _last_tick + 1)
        tick = _last_tick
    seconds, fraction = divmod(tick, 10**7)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{fraction:07d}Z"


def offset_stamp(value: datetime) -> str:
    """``originalStart``: a DateTimeOffset in UTC without fractions ("2019-04-16T20:30:00Z")."""
    return f"{value.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def zone_or_utc(name: str | None) -> ZoneInfo:
    return (timezones.zone(name) if name else None) or ZoneInfo("UTC")


def windows_name(name: str) -> str:
    """``originalStartTimeZone`` is reported with Windows names (api-spec §2.11)."""
    return _windows_name(name) if isinstance(name, str) else name


@lru_cache(maxsize=1024)
def _windows_name(name: str) -> str:
    # Two per rendered event, and iana_to_windows() resolves aliases on every call.
    return timezones.iana_to_windows(name) or name


def overlaps(start: datetime, end: datetime, ws: datetime | None, we: datetime | None) -> bool:
    """Half-open window test, the same rule recurrence.py uses (a zero-length item is a point)."""
    if we is not None and start >= we:
        return False
    if ws is None:
        return True
    return end > ws or (end == start == ws)


# --- ids -----------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    # Graph ids are base64 with the URL-unsafe characters swapped (they end in "=").
    return base64.b64encode(raw).decode().replace("+", "-").replace("/", "_")


_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def _unb64(text: str) -> bytes | None:
    # base64.b64decode(validate=True), without its per-call overhead (one per delta row).
    try:
        data = text.replace("-", "+").replace("_", "/").encode("ascii")
    except UnicodeEncodeError:
        return None
    if _BASE64.fullmatch(data) is None:
        return None
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        return None


def _mbx_key(mbx: dict[str, Any]) -> bytes:
    return bytes.fromhex(mbx["key"])


def new_event_id(mbx: dict[str, Any]) -> str:
    return ID_PREFIX + _b64(_EVENT + _mbx_key(mbx) + secrets.token_bytes(16))


def new_calendar_id(mbx: dict[str, Any]) -> str:
    return ID_PREFIX + _b64(_CAL + _mbx_key(mbx) + secrets.token_bytes(16))


@lru_cache(maxsize=4096)
def _occurrence_prefix(master_id: str) -> bytes:
    raw = _unb64(master_id[len(ID_PREFIX) :])
    assert raw is not None and raw[:1] == _EVENT
    return _OCC + raw[1:]


def occurrence_id(master_id: str, original_start: datetime) -> str:
    """Deterministic id of a virtual occurrence: the master's id bytes plus the original start."""
    seconds = int(original_start.astimezone(UTC).timestamp())
    return ID_PREFIX + _b64(_occurrence_prefix(master_id) + seconds.to_bytes(8, "big", signed=True))


@dataclass(frozen=True)
class ParsedId:
    kind: str  # "event" | "occurrence" | "calendar"
    id: str  # the event or calendar id; for an occurrence, the master's id
    original_start: datetime | None = None


def parse_id(mbx: dict[str, Any], text: str) -> ParsedId:
    """Decode an id; malformed -> 400, another mailbox's id -> 404 (as Graph answers)."""
    raw = _unb64(text[len(ID_PREFIX) :]) if text.startswith(ID_PREFIX) else None
    if raw is None or len(raw) not in (25, 33) or raw[:1] not in (_EVENT, _OCC, _CAL):
        raise malformed_id()
    if raw[1:9] != _mbx_key(mbx):
        raise not_found()
    if raw[:1] == _OCC:
        if len(raw) != 33:
            raise malformed_id()
        master = ID_PREFIX + _b64(_EVENT + raw[1:25])
        try:
            start = datetime.fromtimestamp(int.from_bytes(raw[25:], "big", signed=True), UTC)
        except (OverflowError, OSError, ValueError):
            raise malformed_id() from None
        return ParsedId("occurrence", master, start)
    if len(raw) != 25:
        raise malformed_id()
    return ParsedId("event" if raw[:1] == _EVENT else "calendar", text)


def new_ical_uid() -> str:
    filetime = int((datetime.now(UTC) - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10**7)
    return (
        _GOID_CLASS
        + "00000000"
        + filetime.to_bytes(8, "little").hex().upper()
        + "0" * 16
        + "10000000"
        + secrets.token_hex(16).upper()
    )


def occurrence_ical_uid(master_uid: str, day: dt.date) -> str:
    """Exchange puts the instance date into bytes 16-19 of the global object id, which is why
    every occurrence has its own iCalUId (api-spec §2.3)."""
    return master_uid[:32] + f"{day.year:04X}{day.month:02X}{day.day:02X}" + master_uid[40:]


# --- mailboxes -----------------------------------------------------------------------------


def graph_data(state: SandboxState) -> dict[str, Any]:
    return state.data.setdefault("graph", {}).setdefault("mailboxes", {})  # type: ignore[no-any-return]


def create_mailbox(state: SandboxState, user: dict[str, Any]) -> dict[str, Any]:
    mbx: dict[str, Any] = {
        "key": hashlib.sha256(user["id"].encode()).hexdigest()[:16],
        "guid": secrets.token_hex(16),
        "owner": {"name": user["name"], "address": user["email"]},
        "calendars": {},
        "default_calendar": "",
        "events": {},
        "tx": {},
        "tombstones": [],
        "tomb_floor": 0,
        "sync": {"states": {}, "order": []},
    }
    graph_data(state)[user["id"]] = mbx
    cal = new_calendar(state, mbx, "Calendar", default=True)
    mbx["default_calendar"] = cal["id"]
    state.mark_dirty()
    return mbx


def mailbox(state: SandboxState, uid: str) -> dict[str, Any]:
    mbx = graph_data(state).get(uid)
    if mbx is None:
        user = state.user(uid)
        if user is None:
            raise not_found()
        mbx = create_mailbox(state, user)
    return mbx


def mailbox_of_address(state: SandboxState, address: str) -> tuple[str, dict[str, Any]] | None:
    user = state.find_user("microsoft", address)
    if user is None:
        return None
    return user["id"], mailbox(state, user["id"])


def change_key(mbx: dict[str, Any], seq: int) -> str:
    # Real change keys are a store GUID plus a counter, hence the shared prefix.
    return base64.b64encode(bytes.fromhex(mbx["guid"]) + seq.to_bytes(4, "big")).decode()


def touch(state: SandboxState, mbx: dict[str, Any], item: dict[str, Any]) -> None:
    """Record a write: new sequence number, changeKey and lastModifiedDateTime."""
    seq = state.next_seq()
    item["seq"] = seq
    item["changeKey"] = change_key(mbx, seq)
    item["modified"] = now_stamp()


def new_calendar(
    state: SandboxState,
    mbx: dict[str, Any],
    name: str,
    *,
    default: bool = False,
    color: str = "auto",
) -> dict[str, Any]:
    cal: dict[str, Any] = {
        "id": new_calendar_id(mbx),
        "name": name,
        "color": color,
        "hexColor": "",
        "isDefaultCalendar": default,
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "isRemovable": not default,
        "isTallyingResponses": True,
        "order": len(mbx["calendars"]),
    }
    touch(state, mbx, cal)
    mbx["calendars"][cal["id"]] = cal
    return cal


def calendar_by_id(mbx: dict[str, Any], cal_id: str) -> dict[str, Any]:
    parsed = parse_id(mbx, cal_id)
    cal = mbx["calendars"].get(parsed.id) if parsed.kind == "calendar" else None
    if cal is None:
        raise not_found()
    return cal  # type: ignore[no-any-return]


def calendars_in_order(mbx: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(mbx["calendars"].values(), key=lambda c: c["order"])


def add_tombstone(state: SandboxState, mbx: dict[str, Any], event_id: str, cal_id: str) -> None:
    tombs: list[dict[str, Any]] = mbx["tombstones"]
    tombs.append({"id": event_id, "calendar": cal_id, "seq": state.next_seq()})
    if len(tombs) > _TOMBSTONE_CAP:
        # Delta tokens older than what is dropped here can no longer see every deletion.
        mbx["tomb_floor"] = tombs[0]["seq"]
        del tombs[: len(tombs) - _TOMBSTONE_CAP]


# --- series --------------------------------------------------------------------------------


def series_zone(master: dict[str, Any]) -> ZoneInfo:
    name = master["recurrence"]["range"].get("recurrenceTimeZone")
    zone = _zone(name) if isinstance(name, str) and name else None
    return zone or zone_or_utc(master["startZone"])


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    # timezones.zone() resolves aliases on every call; names map to zones for good.
    return timezones.zone(name)


def duration(ev: dict[str, Any]) -> timedelta:
    return from_iso(ev["end"]) - from_iso(ev["start"])


@dataclass(frozen=True)
class _Expansion:
    """Every occurrence of a bounded series, for the inputs it was computed from."""

    start: str
    zone: str
    rule: dict[str, Any]  # a private copy of the recurrence: an edit in place cannot go unnoticed
    occurrences: tuple[recurrence.Occurrence, ...] | None  # None: unbounded or too long
    starts: tuple[datetime, ...]
    start_set: frozenset[datetime]


class _ExpansionMemo:
    """Master id -> its expansion. Reading a series (delta pages, ``is_series_start`` for each
    occurrence id) would otherwise expand it again for every row; an entry only serves while
    the master's start, zone and recurrence still equal what it was computed from."""

    BUDGET = 200_000  # occurrences held (~40 MB); beyond that, or that many series, it starts over

    def __init__(self) -> None:
        self._entries: dict[str, _Expansion] = {}
        self._held = 0
        self._lock = threading.Lock()  # writers only: a reader sees an entry or no entry

    def get(self, master: dict[str, Any]) -> _Expansion | None:
        memo = self._entries.get(master["id"])
        rec = master["recurrence"]
        if (
            memo is not None
            and memo.start == master["start"]
            and memo.zone == master["startZone"]
            and memo.rule == rec
            and recurrence.graph_numbers_exact(rec)  # == takes True or 1.0 for 1
        ):
            return memo
        return None

    def put(self, master_id: str, memo: _Expansion) -> None:
        with self._lock:
            old = self._entries.pop(master_id, None)
            self._held -= len(old.starts) if old is not None else 0
            if self._held + len(memo.starts) > self.BUDGET or len(self._entries) >= self.BUDGET:
                self._entries.clear()  # many sandboxes in one test run: start over
                self._held = 0
            self._entries[master_id] = memo
            self._held += len(memo.starts)


_EXPANSIONS = _ExpansionMemo()


def _expansion(master: dict[str, Any]) -> _Expansion:
    memo = _EXPANSIONS.get(master)
    if memo is not None:
        return memo
    rec = copy.deepcopy(master["recurrence"])
    occs: tuple[recurrence.Occurrence, ...] | None = None
    if rec["range"].get("type") != "noEnd":
        first = from_iso(master["start"]).astimezone(series_zone(master))
        found = recurrence.expand_graph(rec, first, timedelta(0), None, None, MAX_EXPAND + 1)
        occs = tuple(found) if len(found) <= MAX_EXPAND else None
    starts = tuple(o.original_start_utc for o in occs or ())
    memo = _Expansion(master["start"], master["startZone"], rec, occs, starts, frozenset(starts))
    _EXPANSIONS.put(master["id"], memo)
    return memo


def expand(
    master: dict[str, Any],
    ws: datetime | None,
    we: datetime | None,
    limit: int = MAX_EXPAND,
) -> list[recurrence.Occurrence]:
    memo = _expansion(master)
    if memo.occurrences is not None:
        return recurrence.graph_window(
            memo.occurrences, memo.starts, duration(master), ws, we, limit
        )
    first = from_iso(master["start"]).astimezone(series_zone(master))
    return recurrence.expand_graph(master["recurrence"], first, duration(master), ws, we, limit)


def local_date(master: dict[str, Any], original_start: datetime) -> dt.date:
    return original_start.astimezone(series_zone(master)).date()


def is_series_start(master: dict[str, Any], original_start: datetime) -> bool:
    memo = _expansion(master)
    if memo.occurrences is not None:
        return original_start in memo.start_set
    near = expand(
        master, original_start - timedelta(seconds=1), original_start + timedelta(seconds=1)
    )
    return any(o.original_start_utc == original_start for o in near)


def neighbours(
    master: dict[str, Any], original_start: datetime
) -> tuple[datetime | None, datetime | None]:
    """Original starts of the occurrences before and after ``original_start``."""
    for days in (45, 800, 40_000):
        span = timedelta(days=days)
        occs = [
            o.original_start_utc
            for o in expand(master, original_start - span, original_start + span, 100_000)
        ]
        before = [o for o in occs if o < original_start]
        after = [o for o in occs if o > original_start]
        if (before or days == 40_000) and (after or days == 40_000):
            return (before[-1] if before else None), (after[0] if after else None)
    return None, None


@dataclass(frozen=True)
class Instance:
    """One row of an expanded series: a virtual occurrence or a stored exception."""

    kind: str  # "occurrence" | "exception"
    master: dict[str, Any]
    original_start: datetime
    start: datetime
    end: datetime
    exception: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        # Asked for several times per row (sorting, delta's known map, rendering), so kept once
        # made; by hand, as functools.cached_property takes a lock on every access (3.11).
        found: str | None = self.__dict__.get("_id")
        if found is None:
            if self.exception is not None:
                found = str(self.exception["id"])
            else:
                found = occurrence_id(self.master["id"], self.original_start)
            object.__setattr__(self, "_id", found)  # not a field: eq and repr ignore it
        return found


def series_instances(
    mbx: dict[str, Any], master: dict[str, Any], ws: datetime | None, we: datetime | None
) -> list[Instance]:
    """Occurrences and exceptions of a series in a window; cancelled occurrences are left out."""
    cancelled = set(master["cancelled"])
    exceptions: dict[str, str] = master["exceptions"]
    span = duration(master)
    out: list[Instance] = []
    for occ in expand(master, ws, we):
        key = to_iso(occ.original_start_utc)
        if key in cancelled or key in exceptions:
            continue
        start = occ.original_start_utc
        out.append(Instance("occurrence", master, start, start, start + span))
    for key, eid in exceptions.items():
        exc = mbx["events"].get(eid)
        if exc is None:
            continue
        start, end = from_iso(exc["start"]), from_iso(exc["end"])
        if overlaps(start, end, ws, we):
            out.append(Instance("exception", master, from_iso(key), start, end, exc))
    out.sort(key=lambda i: (i.start, i.id))
    return out


def events_of(mbx: dict[str, Any], cal_id: str | None) -> list[dict[str, Any]]:
    return [e for e in mbx["events"].values() if cal_id is None or e["calendar"] == cal_id]


def view_rows(
    mbx: dict[str, Any], cal_id: str, ws: datetime, we: datetime
) -> list[tuple[datetime, str, dict[str, Any] | Instance]]:
    """What calendarView shows: singles and series instances overlapping the window."""
    rows: list[tuple[datetime, str, dict[str, Any] | Instance]] = []
    for ev in events_of(mbx, cal_id):
        if ev["type"] == "singleInstance":
            start, end = from_iso(ev["start"]), from_iso(ev["end"])
            if overlaps(start, end, ws, we):
                rows.append((start, ev["id"], ev))
        elif ev["type"] == "seriesMaster":
            for inst in series_instances(mbx, ev, ws, we):
                rows.append((inst.start, inst.id, inst))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


# --- lookups -------------------------------------------------------------------------------


def find_item(
    mbx: dict[str, Any], event_id: str, cal_id: str | None = None
) -> dict[str, Any] | Instance:
    """A stored event, or an Instance for an occurrence id (an exception if one was made)."""
    parsed = parse_id(mbx, event_id)
    if parsed.kind == "calendar":
        raise not_found()
    if parsed.kind == "event":
        ev = mbx["events"].get(parsed.id)
        if ev is None or (cal_id is not None and ev["calendar"] != cal_id):
            raise not_found()
        return ev  # type: ignore[no-any-return]
    master = mbx["events"].get(parsed.id)
    assert parsed.original_start is not None
    if master is None or master["type"] != "seriesMaster":
        raise not_found()
    if cal_id is not None and master["calendar"] != cal_id:
        raise not_found()
    key = to_iso(parsed.original_start)
    if key in master["cancelled"] or not is_series_start(master, parsed.original_start):
        raise not_found()
    span = duration(master)
    exc_id = master["exceptions"].get(key)
    if exc_id is not None:
        exc = mbx["events"][exc_id]
        return Instance(
            "exception",
            master,
            parsed.original_start,
            from_iso(exc["start"]),
            from_iso(exc["end"]),
            exc,
        )
    start = parsed.original_start
    return Instance("occurrence", master, start, start, start + span)


# --- mail the real service would send ------------------------------------------------------


def attendee_addresses(ev: dict[str, Any], owner: str) -> list[str]:
    out = []
    for att in ev["props"].get("attendees") or []:
        address = (att.get("emailAddress") or {}).get("address") or ""
        if address and address.lower() != owner.lower() and address not in out:
            out.append(address)
    return out


def send_mail(
    state: SandboxState,
    uid: str,
    kind: str,
    recipients: list[str],
    event_id: str,
    why: str,
) -> None:
    if recipients:
        state.record_mail("microsoft", uid, kind, recipients, event_id, why)
