"""Microsoft Graph (Outlook calendar) behind the CalendarProvider contract.

HTTP, retries and errors live in graph_http; JSON <-> Event in graph_map. This module decides
which requests to make (api-spec §2, §3.4):

* Reading changes: ``/me/calendars/{id}/calendarView/delta`` over the window, 1,000 per page
  (``Prefer: odata.maxpagesize``), following nextLinks to the deltaLink, which is the cursor.
  Singles come from the delta rows as they are (delta cannot expand extended properties, so the
  tag of our copies is taken from their transactionId, core.identity). What else lives in our
  properties (reminders "as the calendar's default", the exact IANA zone, a text body that
  Outlook renders as HTML, Google's colour, a tentative status) then reads as Outlook shows it;
  ``expand_changes=True`` reads changed singles again by id, at one more request per 20.
  Anything of a series (master row, occurrence stub, exception) names its master; each master
  is fetched once, with ``cancelledOccurrences`` and the expanded ``exceptionOccurrences``, and
  delivered as master + exceptions + cancelled occurrences (delta does not signal cancelled
  occurrences, §2.5).
* ``@removed`` means "deleted" *or* "changed outside the window" (§2.5), so removed ids are
  confirmed by id: only a 404 is reported as deleted; what still exists is reported as changed
  (the planner leaves copies of events that left the window alone).
* Writes go through ``$batch``: POST with ``transactionId`` = the op's key, PATCH/DELETE with
  ``If-Match: W/"<changeKey>"`` (the ``@odata.etag`` we return as ``Event.etag``). Graph's answer
  to a write leaves extended properties out (§2.8), so the ones we wrote are read back as sent.
* Series members: an exception is written by PATCHing the occurrence found with ``/instances``
  around its original start; a cancelled one by DELETEing it. A series' EXDATEs, which Graph
  cannot take in a body, are deleted the same way after the master is written.
* A cancelled occurrence has no event of its own any more; it is named by Graph's own notation
  ``OID.<seriesMasterId>.<local date>`` (as in ``cancelledOccurrences``), on read and write.
* Keys of deleted events: Graph's transactionId dedupe does not know deleted events (the sandbox
  creates a new event; real Graph documents nothing, §2.3 [U]), and a stateless provider cannot
  know that a key was used by an event since deleted. A create with such a key therefore makes
  a new event. That is what the engine does anyway after AlreadyExists (it moves on to the next
  key generation), so nothing depends on it; the contract's Google-shaped test is overridden in
  tests/providers/test_microsoft_contract.py with this behaviour, and says why.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import quote

from app.core import identity, timezones
from app.core.identity import tag_from_key
from app.core.model import Event, Provider, Status
from app.core.recurrence import RecurrenceError, Unmappable, recurrence_to_graph
from app.errors import (
    AlreadyExists,
    CursorExpired,
    ItemError,
    NotFound,
    ProviderError,
    Rejected,
    ServiceUnavailable,
    Unparseable,
)
from app.providers.base import (
    Calendar,
    CalendarProvider,
    Changes,
    OpKind,
    Skipped,
    Window,
    WriteOp,
    WriteResult,
)
from app.providers.graph_http import BATCH_ITEMS, Call, GraphHttp, Outcome, Reply, RetryPolicy
from app.providers.graph_map import event_from_graph, event_to_graph, expand_query, tag_filter
from app.providers.graph_series import (
    MASTER_QUERY,
    ZONE_QUERY,
    cancelled_occurrence,
    index_instances,
    instance_spans,
    instances_path,
    is_member_op,
    iso,
    occurrence_key,
    query,
    series_events,
    with_tag,
)

log = logging.getLogger(__name__)

# The largest delta page we ask for: fewer round trips on a first sync (10 instead of 40 for
# 10,000 rows). Graph documents no maximum; Graph may send smaller pages, and nextLinks
# follow either way.
PAGE_SIZE: Final = 1000
_EXT: Final = "singleValueExtendedProperties"
_WITH_PROPS: Final = query(("$expand", expand_query()))


@dataclass(frozen=True)
class _Step:
    """A write to send, and how to read its outcome."""

    call: Call
    finish: Callable[[Outcome], WriteResult]


@dataclass(frozen=True)
class _Occurrence:
    """Where an exception op lands: its series' zone and the occurrence (None: not there)."""

    zone: dt.tzinfo
    item: Mapping[str, Any] | None


class MicrosoftProvider(CalendarProvider):
    # Delta rows leave out extended properties (api-spec §2.5): the engine reads our copies
    # that someone else changed again by id, so a copy edited in Outlook is compared in full.
    changes_lack_properties = True
    reads_concurrently = True
    kind = Provider.MICROSOFT
    max_batch = BATCH_ITEMS

    def __init__(
        self,
        graph_url: str,
        token: Callable[[bool], str],
        *,
        ca_cert: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        all_day_zone: str = "UTC",
        page_size: int = PAGE_SIZE,
        expand_changes: bool = False,
    ) -> None:
        """``graph_url``: "https://graph.microsoft.com/v1.0" or the sandbox's. ``token(force)``
        returns an access token (a new one when ``force``) or raises AuthRequired. ``ca_cert``:
        None trusts the system. ``all_day_zone``: the mailbox's zone, where all-day events
        are written from midnight to midnight (graph_map). ``expand_changes``: read changed
        singles again by id (one $batch per 20), since delta rows lack our extended properties
        and so read back reminders, zones and text bodies as Outlook shows them, not as written
        (see the module docstring)."""
        super().__init__()
        self.http = GraphHttp(
            graph_url,
            token,
            stats=self.stats,
            ca_cert=ca_cert,
            timeout=(connect_timeout, read_timeout),
            retry=RetryPolicy(max_attempts=max_attempts, max_wait=max_wait),
            sleep=sleep,
        )
        self.all_day_zone = all_day_zone
        self.page_size = page_size
        self.expand_changes = expand_changes

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def _cal(calendar_id: str) -> str:
        return f"/me/calendars/{quote(calendar_id, safe='')}"

    @staticmethod
    def _ev(event_id: str) -> str:
        return f"/me/events/{quote(event_id, safe='')}"

    def _parse(self, item: Any, calendar_id: str, written: Any = None) -> Event:
        """Graph JSON -> Event. ``written``: the extended properties a write sent, which
        Graph's answer to it leaves out (api-spec §2.8)."""
        if written is not None and isinstance(item, Mapping) and _EXT not in item:
            item = {**item, _EXT: written}
        return with_tag(event_from_graph(item, calendar_id))

    def cannot_hold(self, event: Event) -> str | None:
        if event.recurrence is None:
            return None
        try:
            recurrence_to_graph(event.recurrence, event.when)
        except Unmappable as exc:
            return str(exc)
        except RecurrenceError:
            return None  # not a rule at all: the write says so, on the item
        return None

    def _parser(self, calendar_id: str) -> Callable[[Any], Event]:
        return lambda item: self._parse(item, calendar_id)

    # --- calendars ------------------------------------------------------------------------

    def list_calendars(self) -> list[Calendar]:
        out: list[Calendar] = []
        url: str | None = "/me/calendars" + query(("$top", "100"))
        while url:
            body = self.http.send("GET", url, kind="calendars").body or {}
            for c in body.get("value") or []:
                if not isinstance(c, Mapping) or not isinstance(c.get("id"), str):
                    continue
                owner = c.get("owner") or {}
                out.append(
                    Calendar(
                        id=c["id"],
                        name=c.get("name") or "Calendar",
                        primary=bool(c.get("isDefaultCalendar")),
                        writable=c.get("canEdit", True) is not False,
                        owner=owner.get("address"),
                    )
                )
            url = body.get("@odata.nextLink")
        return out

    # --- reading --------------------------------------------------------------------------

    def read_changes(self, calendar_id: str, cursor: str | None, window: Window) -> Changes:
        """The cursor is the deltaLink, which carries its window: with a cursor, ``window``
        is the one of the full read that began the chain (Graph fixes it in the token)."""
        if cursor is not None and not cursor.startswith("https://"):
            raise CursorExpired("The saved Outlook sync position is unusable; reading everything.")
        url = cursor or f"{self._cal(calendar_id)}/calendarView/delta" + query(
            ("startDateTime", iso(window.start)), ("endDateTime", iso(window.end))
        )
        rows: dict[str, Mapping[str, Any]] = {}
        removed: dict[str, None] = {}
        skipped: list[Skipped] = []
        # Singles are parsed page by page, while the next page is on its way; a row replaced
        # later (read again by id below) is parsed again.
        parsed: dict[str, tuple[Mapping[str, Any], Event | Unparseable]] = {}
        next_cursor = ""
        for body in self._delta_pages(url):
            for item in body["value"]:
                eid = item.get("id") if isinstance(item, Mapping) else None
                if not isinstance(eid, str) or not eid:
                    skipped.append(Skipped("", "Outlook listed a change without an event id"))
                elif "@removed" in item:
                    removed[eid] = None
                else:
                    rows[eid] = item
                    if _single(item) and not self._read_again(item):
                        parsed[eid] = (item, self._parse_or_error(item, calendar_id))
            next_cursor = body.get("@odata.deltaLink", "")
        deleted: list[str] = []
        # "@removed" is also what an event changed outside the window gets (§2.5): confirm.
        fetch = list(removed)
        fetch += [i for i, r in rows.items() if i not in removed and self._read_again(r)]
        for eid, outcome in zip(fetch, self._fetch(fetch, "confirm"), strict=True):
            if isinstance(outcome, NotFound):
                rows.pop(eid, None)
                deleted.append(eid)
            elif isinstance(outcome, ItemError):
                # Refused for this item only: listed for the person, the run goes on.
                skipped.append(Skipped(eid, outcome.message))
            elif isinstance(outcome, ProviderError):
                raise outcome
            else:
                rows[eid] = outcome.body
        events: list[Event] = []
        masters: dict[str, None] = {}
        for eid, item in rows.items():
            master_id = item.get("seriesMasterId")
            if item.get("type") == "seriesMaster":
                masters[eid] = None
            elif not _single(item):
                masters[str(master_id)] = None  # an occurrence stub or exception: its master
            else:
                early = parsed.get(eid)
                event = (
                    early[1]
                    if early is not None and early[0] is item
                    else self._parse_or_error(item, calendar_id)
                )
                if isinstance(event, Unparseable):
                    skipped.append(Skipped(eid, event.message))
                else:
                    events.append(event)
        series, gone, bad = self._read_series(calendar_id, list(masters))
        return Changes(
            tuple(events + series),
            tuple(deleted + gone),
            next_cursor,
            full=cursor is None,
            skipped=tuple(skipped + bad),
        )

    def _delta_pages(self, url: str) -> Iterator[Mapping[str, Any]]:
        """The pages of one delta round, up to the one with the deltaLink. The next page is
        asked for as soon as its link is known, so that it travels (and Graph builds it) while
        the caller reads this one: the same requests, less waiting."""
        prefer = {"Prefer": f"odata.maxpagesize={self.page_size}"}

        def fetch(link: str) -> Mapping[str, Any]:
            body = self.http.send("GET", link, kind="delta", headers=prefer).body
            if not isinstance(body, Mapping) or not isinstance(body.get("value"), list):
                raise ServiceUnavailable("Outlook answered with a change list Meridian can't read.")
            return body

        body = fetch(url)
        while True:
            link = body.get("@odata.nextLink")
            if not isinstance(link, str) and not isinstance(body.get("@odata.deltaLink"), str):
                raise ServiceUnavailable("Outlook ended a change list without a link to go on.")
            ahead = self.http.submit(fetch, link) if isinstance(link, str) else None
            try:
                yield body
            except BaseException:  # the caller stopped early (an error): no later page wanted
                if ahead is not None:
                    ahead.cancel()
                raise
            if ahead is None:
                return
            body = ahead.result()

    def _read_again(self, item: Mapping[str, Any]) -> bool:
        """Our copies carry extended properties that delta leaves out (reminders beyond one,
        colour, text bodies...): with ``expand_changes`` changed copies are read again by id,
        or an edit made to a copy in Outlook would look like changes to fields nobody touched.
        Originals have none of ours, so they cost nothing extra; our copies show a
        transactionId."""
        return (
            self.expand_changes
            and _single(item)
            and identity.tag_from_key(item.get("transactionId")) is not None
        )

    def _parse_or_error(self, item: Mapping[str, Any], calendar_id: str) -> Event | Unparseable:
        try:
            return self._parse(item, calendar_id)
        except Unparseable as exc:
            return exc

    def _fetch(self, ids: Sequence[str], kind: str) -> list[Outcome]:
        return self.http.batch([Call("GET", self._ev(i) + _WITH_PROPS) for i in ids], kind=kind)

    def _read_series(
        self, calendar_id: str, master_ids: Sequence[str]
    ) -> tuple[list[Event], list[str], list[Skipped]]:
        """Masters with their exceptions and cancelled occurrences; ids gone; unreadable."""
        events: list[Event] = []
        gone: list[str] = []
        skipped: list[Skipped] = []
        calls = [Call("GET", self._ev(m) + MASTER_QUERY) for m in master_ids]
        # Each batch is read as it arrives, while the next ones are on the way.
        for index, outcome in self.http.batch_iter(calls, kind="series"):
            mid = master_ids[index]
            if isinstance(outcome, NotFound):
                gone.append(mid)
                continue
            if isinstance(outcome, Rejected):
                skipped.append(Skipped(mid, outcome.message))
                continue
            if isinstance(outcome, ProviderError):
                raise outcome
            try:
                found, bad = series_events(outcome.body, calendar_id, self._parser(calendar_id))
            except Unparseable as exc:
                skipped.append(Skipped(mid, exc.message))
                continue
            events += found
            skipped += bad
        return events, gone, skipped

    def get_events(self, calendar_id: str, ids: Sequence[str]) -> dict[str, Event | None]:
        """By id; None when gone. An event that cannot be read is left out (neither present nor
        gone) rather than reported as deleted."""
        unique = list(dict.fromkeys(ids))
        out: dict[str, Event | None] = {}
        masters: list[str] = []
        for eid, outcome in zip(unique, self._fetch(unique, "get"), strict=True):
            if isinstance(outcome, NotFound):
                out[eid] = None
            elif isinstance(outcome, ItemError):
                continue  # refused for this item only: unknown, which is not gone
            elif isinstance(outcome, ProviderError):
                raise outcome
            elif isinstance(outcome.body, Mapping) and outcome.body.get("type") == "seriesMaster":
                masters.append(eid)  # read as read_changes reads it, cancellations included
            else:
                try:
                    out[eid] = self._parse(outcome.body, calendar_id)
                except Unparseable as exc:
                    log.warning("Outlook event %s left out: %s", eid, exc.message)
        series, gone, _ = self._read_series(calendar_id, masters)
        out.update((m, None) for m in gone)
        out.update((e.ref.event_id, e) for e in series if e.ref and e.ref.event_id in masters)
        return out

    def find_tagged(self, calendar_id: str, tag: str) -> list[Event]:
        return self._find(calendar_id, tag_filter(tag))

    def find_by_ical_uid(self, calendar_id: str, ical_uid: str) -> list[Event]:
        return self._find(calendar_id, "iCalUId eq '{}'".format(ical_uid.replace("'", "''")))

    def _find(self, calendar_id: str, odata_filter: str) -> list[Event]:
        out: list[Event] = []
        url: str | None = f"{self._cal(calendar_id)}/events" + query(
            ("$filter", odata_filter), ("$expand", expand_query()), ("$top", "100")
        )
        while url:
            body = self.http.send("GET", url, kind="find").body or {}
            for item in body.get("value") or []:
                try:
                    out.append(self._parse(item, calendar_id))
                except Unparseable as exc:
                    log.warning("Outlook event left out of a search: %s", exc.message)
            url = body.get("@odata.nextLink")
        return out

    # --- responding -----------------------------------------------------------------------

    def decline(
        self, calendar_id: str, event_id: str, *, comment: str = "", notify: bool = True
    ) -> None:
        """event-decline (``POST /me/events/{id}/decline``, 202). Whether the owner organizes
        the meeting is read first, so the person hears why rather than Graph's bare 400
        (ErrorCalendarIsOrganizerForDecline)."""
        found = self.http.send(
            "GET", self._ev(event_id) + query(("$select", "isOrganizer")), kind="get"
        ).body
        if isinstance(found, Mapping) and found.get("isOrganizer") is True:
            raise Rejected(ORGANIZER_DECLINES, title="You organize this meeting")
        body = {"comment": comment, "sendResponse": notify}
        self.http.send("POST", self._ev(event_id) + "/decline", kind="respond", body=body)

    # --- writing --------------------------------------------------------------------------

    def apply(self, calendar_id: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        ops = list(ops)
        results: list[WriteResult | None] = [None] * len(ops)
        located = self._locate([(i, op) for i, op in enumerate(ops) if is_member_op(op)])
        steps: list[tuple[int, _Step]] = []
        for i, op in enumerate(ops):
            try:
                step = self._plan(calendar_id, op, located.get(i))
            except ProviderError as err:
                results[i] = WriteResult(op, error=err)
                continue
            if isinstance(step, WriteResult):
                results[i] = step
            else:
                steps.append((i, step))
        outcomes = self.http.batch([s.call for _, s in steps], kind="write")
        for (i, step), outcome in zip(steps, outcomes, strict=True):
            results[i] = step.finish(outcome)
        done = [r for r in results if r is not None]
        assert len(done) == len(ops)
        self._used_keys(calendar_id, done)
        self._cancel_exdates(calendar_id, done)
        return done

    def _body(self, event: Event) -> tuple[dict[str, Any], tuple[str, ...]]:
        try:
            return event_to_graph(event, all_day_zone=self.all_day_zone)
        except RecurrenceError as exc:
            raise Rejected(f"Outlook cannot hold this repeat rule: {exc}") from None

    def _plan(
        self, calendar_id: str, op: WriteOp, at: _Occurrence | ProviderError | None
    ) -> _Step | WriteResult:
        if isinstance(at, ProviderError):
            raise at
        if op.kind is OpKind.DELETE:
            assert op.event_id is not None
            return _Step(Call("DELETE", self._ev(op.event_id), None, _if_match(op)), _deleted(op))
        event = op.event
        assert event is not None
        if at is not None:
            return self._plan_member(calendar_id, op, event, at)
        if op.kind is OpKind.CREATE:
            assert op.key is not None
            tag = event.tag or tag_from_key(op.key)
            body, losses = self._body(replace(event, tag=tag))
            body["transactionId"] = op.key
            call = Call("POST", f"{self._cal(calendar_id)}/events", body)
        else:
            assert op.event_id is not None
            body, losses = self._body(event)
            call = Call("PATCH", self._ev(op.event_id), body, _if_match(op))
        return _Step(call, lambda o: self._written(calendar_id, op, o, body, losses))

    def _plan_member(
        self, calendar_id: str, op: WriteOp, event: Event, at: _Occurrence
    ) -> _Step | WriteResult:
        """An exception (PATCH its occurrence) or a cancelled occurrence (DELETE it)."""
        assert event.series_id is not None and event.original_start is not None
        original = event.original_start
        day = original.astimezone(at.zone).date() if isinstance(original, dt.datetime) else original
        gone = cancelled_occurrence(calendar_id, event.series_id, day, original)
        target = op.event_id if op.kind is OpKind.UPDATE else None
        if target is None and at.item is not None:
            target = str(at.item["id"])
        if event.status is Status.CANCELLED:
            if target is None:
                return WriteResult(op, gone)  # not there: cancelled already
            call = Call("DELETE", self._ev(target), None, _if_match(op))
            return _Step(
                call, lambda o: WriteResult(op, gone) if _deleted_ok(o) else _failed(op, o)
            )
        if target is None:
            return WriteResult(
                op,
                error=NotFound(
                    f"The occurrence of {original} is not in the Outlook series any more."
                ),
            )
        body, losses = self._body(replace(event, recurrence=None))
        call = Call("PATCH", self._ev(target), body, _if_match(op))
        return _Step(call, lambda o: self._written(calendar_id, op, o, body, losses))

    def _written(
        self,
        calendar_id: str,
        op: WriteOp,
        outcome: Outcome,
        body: Mapping[str, Any],
        losses: tuple[str, ...],
    ) -> WriteResult:
        if isinstance(outcome, ProviderError):
            return WriteResult(op, error=outcome)
        try:
            event = self._parse(outcome.body, calendar_id, written=body.get(_EXT))
        except Unparseable as exc:
            return WriteResult(op, error=exc)
        return WriteResult(op, replace(event, losses=losses))

    def _locate(self, ops: Sequence[tuple[int, WriteOp]]) -> dict[int, _Occurrence | ProviderError]:
        """For series-member ops: the series' zone, and the occurrence at the original start."""
        members: list[tuple[int, str, dt.datetime | dt.date]] = []
        for i, op in ops:
            assert op.event is not None and op.event.series_id is not None
            assert op.event.original_start is not None
            members.append((i, op.event.series_id, op.event.original_start))
        series = list(dict.fromkeys(m for _, m, _ in members))
        zones = self.http.batch(
            [Call("GET", self._ev(m) + ZONE_QUERY) for m in series], kind="locate"
        )
        found, failed = self._occurrences([(m, x) for _, m, x in members])
        out: dict[int, _Occurrence | ProviderError] = {}
        for i, m, original in members:
            master = zones[series.index(m)]
            if isinstance(master, ProviderError):
                out[i] = master
                continue
            if m in failed:
                out[i] = failed[m]
                continue
            zone_name = timezones.canonical_iana(str(master.body.get("originalStartTimeZone")))
            zone = (timezones.zone(zone_name) if zone_name else None) or dt.UTC
            out[i] = _Occurrence(zone, found[m].get(occurrence_key(original)))
        return out

    def _occurrences(
        self, wanted: Sequence[tuple[str, dt.datetime | dt.date]]
    ) -> tuple[dict[str, dict[str, Mapping[str, Any]]], dict[str, ProviderError]]:
        """Each series' occurrences around the wanted original starts, by ``occurrence_key``,
        and the error that stopped a series' listing. Nearby starts share one listing."""
        by_series: dict[str, list[dt.datetime | dt.date]] = {}
        for series_id, original in wanted:
            by_series.setdefault(series_id, []).append(original)
        found: dict[str, dict[str, Mapping[str, Any]]] = {m: {} for m in by_series}
        failed: dict[str, ProviderError] = {}
        spans = [
            (m, instances_path(self._ev(m), lo, hi))
            for m, originals in by_series.items()
            for lo, hi in instance_spans(originals)
        ]
        outcomes = self.http.batch([Call("GET", path) for _, path in spans], kind="locate")
        for (m, _), outcome in zip(spans, outcomes, strict=True):
            while isinstance(outcome, Reply):
                found[m].update(index_instances(outcome.body))
                more = outcome.body.get("@odata.nextLink")
                if not isinstance(more, str):
                    break
                try:  # a listing longer than a page: rare, as Graph repeats at most daily
                    outcome = self.http.send("GET", more, kind="locate")
                except ProviderError as err:
                    outcome = err
            if isinstance(outcome, ProviderError):
                failed.setdefault(m, outcome)
        return found, failed

    def _used_keys(self, calendar_id: str, results: list[WriteResult]) -> None:
        """A create refused as a duplicate transactionId (the other reading of §2.3 [U], the
        sandbox's switch ``graph_transaction_id_returns_existing``): return that event."""
        dupes = [
            (i, r.op)
            for i, r in enumerate(results)
            if r.op.kind is OpKind.CREATE and r.error is not None and r.error.status == 409
        ]
        calls = [
            Call(
                "GET",
                f"{self._cal(calendar_id)}/events"
                + query(
                    ("$filter", "transactionId eq '{}'".format((op.key or "").replace("'", "''"))),
                    ("$expand", expand_query()),
                ),
            )
            for _, op in dupes
        ]
        for (i, op), outcome in zip(dupes, self.http.batch(calls, kind="find"), strict=True):
            found = outcome.body.get("value") if isinstance(outcome, Reply) else None
            if found:
                try:
                    results[i] = WriteResult(op, self._parse(found[0], calendar_id))
                    continue
                except Unparseable:
                    pass
            results[i] = WriteResult(
                op, error=AlreadyExists(f"The key {op.key} was used before in Outlook.")
            )

    def _cancel_exdates(self, calendar_id: str, results: list[WriteResult]) -> None:
        """Delete the occurrences a written series excludes (Graph takes no EXDATE in a body),
        then read the master again so the result shows them cancelled."""
        todo = [
            (i, r.event.ref.event_id, x)
            for i, r in enumerate(results)
            if r.ok and r.event is not None and r.event.ref is not None
            and r.op.event is not None and r.op.event.recurrence is not None
            for x in r.op.event.recurrence.exdates
        ]  # fmt: skip
        if not todo:
            return
        found, unlisted = self._occurrences([(m, x) for _, m, x in todo])
        failed: dict[int, ProviderError] = {}
        deletes: list[tuple[int, Call]] = []
        for i, m, x in todo:
            if m in unlisted:
                failed[i] = unlisted[m]
            elif (item := found[m].get(occurrence_key(x))) is not None:
                deletes.append((i, Call("DELETE", self._ev(str(item["id"])))))
        outcomes = self.http.batch([c for _, c in deletes], kind="write")
        for (i, _), outcome in zip(deletes, outcomes, strict=True):
            if not _deleted_ok(outcome):
                assert isinstance(outcome, ProviderError)
                failed[i] = outcome
        masters = list(dict.fromkeys((i, m) for i, m, _ in todo))
        fresh = self.http.batch(
            [Call("GET", self._ev(m) + MASTER_QUERY) for _, m in masters], kind="series"
        )
        for (i, _), outcome in zip(masters, fresh, strict=True):
            old = results[i]
            if i in failed:
                results[i] = WriteResult(old.op, old.event, failed[i])
            elif isinstance(outcome, Reply) and old.event is not None:
                try:
                    event = self._parse(outcome.body, calendar_id)
                    results[i] = WriteResult(old.op, replace(event, losses=old.event.losses))
                except Unparseable as exc:
                    results[i] = WriteResult(old.op, old.event, exc)


def _single(item: Mapping[str, Any]) -> bool:
    master_id = item.get("seriesMasterId")
    return item.get("type") != "seriesMaster" and not (isinstance(master_id, str) and master_id)


def _if_match(op: WriteOp) -> dict[str, str]:
    # Our etags are Graph's @odata.etag, W/"<changeKey>", which is what If-Match takes (§2.8).
    return {"If-Match": op.etag} if op.etag else {}


def _deleted_ok(outcome: Outcome) -> bool:
    return isinstance(outcome, Reply | NotFound)


def _failed(op: WriteOp, outcome: Outcome) -> WriteResult:
    assert isinstance(outcome, ProviderError)
    return WriteResult(op, error=outcome)


def _deleted(op: WriteOp) -> Callable[[Outcome], WriteResult]:
    # Already gone is deleted (contract): 404, or an id Graph calls malformed.
    return lambda o: WriteResult(op) if _deleted_ok(o) else _failed(op, o)


ORGANIZER_DECLINES: Final = (
    "Meridian declines only invitations from others. To call off a meeting you organize, "
    "cancel it in Outlook."
)
