"""Series on Graph, without HTTP: what a master's GET delivers and how occurrences are found.

A series reaches the engine as its master, its exceptions (``series_id`` + ``original_start``)
and its cancelled occurrences (the same, ``status`` cancelled), as base.py says. Graph gives
them in one GET of the master: ``exceptionOccurrences`` expanded and ``cancelledOccurrences``
selected (api-spec §2.7). A cancelled occurrence has no event of its own any more, so it is
named in Graph's own notation, ``OID.<seriesMasterId>.<local date>``, both when read and when
written; its ``when`` is a zero-length placeholder at the original start, as on Google.

To write an exception the occurrence is found with ``/instances`` around its original start,
matching ``originalStart`` (api-spec §3.4); nearby occurrences of one series share a listing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Final
from urllib.parse import quote

from app.core.identity import tag_from_key
from app.core.model import DaySpan, Event, EventRef, Provider, Status, TimeSpan
from app.errors import Unparseable
from app.providers.base import OpKind, Skipped, WriteOp
from app.providers.graph_map import (
    event_from_graph,
    exceptions_from_master,
    expand_query,
    occurrence_date_from_oid,
)

_SAFE: Final = ",()'/:$"  # OData punctuation stays readable; spaces, braces, quotes are encoded


def query(*params: tuple[str, str]) -> str:
    """A query string as Graph reads it (``%20`` for spaces, never ``+``)."""
    return "?" + "&".join(f"{k}={quote(v, safe=_SAFE)}" for k, v in params)


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Everything graph_map reads; a master's GET needs $select for cancelledOccurrences (§2.3).
MASTER_FIELDS: Final = (
    "subject,body,start,end,isAllDay,originalStartTimeZone,originalEndTimeZone,recurrence,type,"
    "seriesMasterId,iCalUId,changeKey,lastModifiedDateTime,location,showAs,sensitivity,"
    "isReminderOn,reminderMinutesBeforeStart,categories,organizer,attendees,isOrganizer,"
    "onlineMeeting,onlineMeetingUrl,isCancelled,transactionId,originalStart,"
    "cancelledOccurrences,exceptionOccurrences"
)
MASTER_QUERY: Final = query(
    ("$select", MASTER_FIELDS), ("$expand", f"exceptionOccurrences,{expand_query()}")
)
# Enough of a master to know its zone, which names the local date of an occurrence.
ZONE_QUERY: Final = query(("$select", "start,isAllDay,originalStartTimeZone,type"))


def with_tag(event: Event) -> Event:
    """Our copies' tag is inside their transactionId when the properties were not returned
    (delta never returns them, core.identity)."""
    if event.tag is None and (tag := tag_from_key(event.created_key)) is not None:
        return replace(event, tag=tag)
    return event


def cancelled_occurrence(
    calendar_id: str, series_id: str, day: dt.date, original: dt.datetime | dt.date
) -> Event:
    """The occurrence of ``series_id`` on local ``day`` (original start ``original``), cancelled."""
    if isinstance(original, dt.datetime):
        when: TimeSpan | DaySpan = TimeSpan(original, original, "UTC", "UTC")
    else:
        when = DaySpan(original, original + dt.timedelta(days=1))
    return Event(
        EventRef(Provider.MICROSOFT, calendar_id, f"OID.{series_id}.{day.isoformat()}"),
        when,
        status=Status.CANCELLED,
        series_id=series_id,
        original_start=original,
    )


def series_events(
    item: Mapping[str, Any], calendar_id: str, parse: Callable[[Any], Event]
) -> tuple[list[Event], list[Skipped]]:
    """Master, exceptions and cancelled occurrences from a master GET with ``MASTER_QUERY``.

    Raises Unparseable when the master itself cannot be read; a bad exception or occurrence
    id is skipped alone.
    """
    master = parse(item)
    assert master.ref is not None
    mid = master.ref.event_id
    out, skipped = [master], []
    for raw in item.get("exceptionOccurrences") or []:
        one = {**item, "exceptionOccurrences": [raw]}  # so a bad one spoils only itself
        try:
            out.extend(with_tag(e) for e in exceptions_from_master(one, calendar_id))
        except Unparseable as exc:
            rid = raw.get("id") if isinstance(raw, Mapping) else None
            skipped.append(Skipped(str(rid or mid), exc.message))
    for oid in item.get("cancelledOccurrences") or []:
        try:
            day = occurrence_date_from_oid(oid)
        except ValueError as exc:
            skipped.append(Skipped(mid, f"Outlook listed a cancelled occurrence oddly: {exc}"))
            continue
        original: dt.datetime | dt.date = day
        if isinstance(master.when, TimeSpan):  # at the series' wall time, in its zone
            start = master.when.start
            original = dt.datetime.combine(day, start.time(), start.tzinfo).astimezone(dt.UTC)
        out.append(cancelled_occurrence(calendar_id, mid, day, original))
    return out, skipped


def is_member_op(op: WriteOp) -> bool:
    """An op on one occurrence that needs it found first: a new exception or cancellation,
    or an exception to cancel (DELETE instead of PATCH)."""
    ev = op.event
    if ev is None or ev.series_id is None or ev.original_start is None:
        return False
    return op.kind is OpKind.CREATE or (op.kind is OpKind.UPDATE and ev.status is Status.CANCELLED)


def occurrence_key(original: dt.datetime | dt.date) -> str:
    """How two original starts compare: instants in UTC, dates as dates (never equal)."""
    return iso(original) if isinstance(original, dt.datetime) else original.isoformat()


def _around(original: dt.datetime | dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A day either side of an original start (more for all-day: its zone is not known)."""
    if isinstance(original, dt.datetime):
        return original - dt.timedelta(days=1), original + dt.timedelta(days=1)
    start = dt.datetime.combine(original - dt.timedelta(days=1), dt.time(), dt.UTC)
    return start, start + dt.timedelta(days=3)


# Occurrences closer than this share one /instances listing: a series has at most one
# occurrence a day on Graph, so a gap of a week costs at most seven extra rows.
MERGE_GAP: Final = dt.timedelta(days=7)
INSTANCES_PAGE: Final = 1000


def instance_spans(
    originals: Iterable[dt.datetime | dt.date],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The /instances ranges that find every one of ``originals``: one per cluster, so 500
    exceptions of a daily series cost one listing, not 500."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for lo, hi in sorted(_around(o) for o in originals):
        if merged and lo - merged[-1][1] <= MERGE_GAP:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def instances_path(series_path: str, start: dt.datetime, end: dt.datetime) -> str:
    params = (
        ("startDateTime", iso(start)),
        ("endDateTime", iso(end)),
        ("$top", str(INSTANCES_PAGE)),
    )
    return f"{series_path}/instances{query(*params)}"


def index_instances(listing: Any) -> dict[str, Mapping[str, Any]]:
    """The instances of an ``/instances`` answer by ``occurrence_key`` of their original start."""
    values = listing.get("value") if isinstance(listing, Mapping) else None
    out: dict[str, Mapping[str, Any]] = {}
    for item in values if isinstance(values, list) else []:
        try:
            found = event_from_graph(item, "").original_start
        except Unparseable:
            continue
        if found is not None:
            out[occurrence_key(found)] = dict(item)
    return out
