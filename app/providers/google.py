"""Google Calendar v3 behind the ``CalendarProvider`` contract, with google-api-python-client.

Reading: ``events.list`` with ``singleEvents=false`` (a series is its master, its exceptions and
its cancelled occurrences, as the contract wants), windowed on the first, full read and then
``syncToken`` with the same other parameters (time bounds are forbidden with it, api-spec §1.4).
Incremental reads therefore report a change wherever the event now lies, inside the window or
not (as the sandbox does; [U] for Google), like MemoryProvider: the engine sorts them.

Writing: batches of at most 50 calls. Creates use the idempotency key as the event id (our keys
are base32hex, the alphabet Google allows; other keys are encoded into it), so a retried create
meets 409 and is answered with the event it made the first time. Every write says
``sendUpdates=none``: a copy must never mail the guests of the meeting it copies (peer-failures:
"attendees spammed"), and attendees are never written at all (google_map puts them in the text).
The one exception is ``decline``: the person's own answer to an invitation, which Google has no
call for; it patches the self attendee's responseStatus and tells the organizer when asked to.

Transport, retries and the mapping of Google's errors live in ``google_http``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import (
    Callable,
    Generator,
    Iterable,
    Iterator,
    MutableMapping,
    Sequence,
)
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, Final, Literal
from urllib.parse import quote

import google.auth.credentials

from app.core.model import Event, Provider, Status
from app.errors import (
    AlreadyExists,
    AuthRequired,
    CursorExpired,
    ItemError,
    NotFound,
    Offline,
    ProviderError,
    Rejected,
    ServiceUnavailable,
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
from app.providers.google_http import (
    DEFAULT_API_ENDPOINT,
    DEFAULT_BATCH_URI,
    MAX_BATCH,
    Action,
    BatchRequest,
    CallableCredentials,
    Failure,
    GoogleTransport,
    Part,
    Request,
    RetryPolicy,
    error_for,
)
from app.providers.google_map import event_from_google, event_to_google, instance_id, tag_filter

log = logging.getLogger(__name__)

_GOOGLE_ID: Final = re.compile(r"[a-v0-9]{5,1024}")  # client-chosen event ids (api-spec §1.3)
# An occurrence's id: its series' id and its original start (google_map.instance_id).
_INSTANCE_ID: Final = re.compile(r"([a-z0-9]+)_(\d{8}(?:T\d{6}Z)?)")
# events.list's maximum (api-spec §1.4; the default is 250): a first read of 5,000 events is 2
# pages, not 20. Pages may still come back shorter (or empty); nextPageToken decides.
PAGE_SIZE: Final = 2500
MAX_PAGES: Final = 10_000  # a server that never stops paging is broken, not busy
# Write batches sent at once on a long run of writes: enough to hide most of the round trips
# (about 100 ms each at 30 ms latency) without pressing Google's per-user quota harder.
BATCHES_IN_FLIGHT: Final = 3
_VERBS: Final = {"insert": "POST", "patch": "PATCH", "delete": "DELETE"}
# Errors about the account or the service as a whole, not about one event.
ACCOUNT_ERRORS: Final = (AuthRequired, Offline, ServiceUnavailable)

__all__ = [
    "DEFAULT_API_ENDPOINT",
    "DEFAULT_BATCH_URI",
    "GoogleProvider",
    "RetryPolicy",
    "event_id_for_key",
]


@dataclass
class _Write:
    """One op as a Google call."""

    index: int
    op: WriteOp
    method: Literal["insert", "patch", "delete"]
    event_id: str | None = None  # patch/delete target
    body: dict[str, Any] | None = None
    losses: tuple[str, ...] = ()
    etag: str | None = None


class GoogleProvider(CalendarProvider):
    kind = Provider.GOOGLE
    max_batch = MAX_BATCH
    reads_concurrently = True

    def __init__(
        self,
        credentials: google.auth.credentials.Credentials | Callable[[], str],
        *,
        api_endpoint: str = DEFAULT_API_ENDPOINT,
        batch_uri: str = DEFAULT_BATCH_URI,
        ca_cert: str | None = None,
        timeout: float = 30,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        page_size: int = PAGE_SIZE,
    ) -> None:
        """``credentials``: google-auth credentials (refreshed by the library on expiry or 401),
        or a callable returning a fresh access token. ``ca_cert``: a CA bundle for httplib2
        (None: its default bundle). ``sleep``/``rand`` drive the backoff (injectable for tests).
        """
        super().__init__()
        if not isinstance(credentials, google.auth.credentials.Credentials):
            credentials = CallableCredentials(credentials)
        self._t = GoogleTransport(
            credentials,
            api_endpoint=api_endpoint,
            batch_uri=batch_uri,
            ca_cert=ca_cert,
            timeout=timeout,
            policy=retry or RetryPolicy(),
            stats=self.stats,
            sleep=sleep,
            rand=rand,
        )
        self._page_size = page_size
        # A request went through (a read or a write batch): the token and the network work, so
        # write batches may go several at once.
        self._proven = False
        # Calendar zones seen in list answers: they name the zone of a bare-offset dateTime.
        self._zones: dict[str, str] = {}

    # --- reading ------------------------------------------------------------------------------

    def list_calendars(self) -> list[Calendar]:
        items: list[dict[str, Any]] = []
        for page in self._pages(
            "calendars",
            lambda svc, token: svc.calendarList().list(maxResults=250, pageToken=token),
            "read",
        ):
            items += [i for i in page.get("items") or [] if isinstance(i, dict) and i.get("id")]
        me = next((str(i["id"]) for i in items if i.get("primary")), None)
        out = []
        for i in items:
            if i.get("deleted"):
                continue
            if isinstance(i.get("timeZone"), str):
                self._zones[i["id"]] = i["timeZone"]
            role = i.get("accessRole")
            out.append(
                Calendar(
                    id=str(i["id"]),
                    name=str(i.get("summaryOverride") or i.get("summary") or i["id"]),
                    primary=bool(i.get("primary")),
                    writable=role in ("writer", "owner"),
                    time_zone=i.get("timeZone"),
                    # The owner's address decides "declined" exclusions: ours for calendars we own.
                    owner=i.get("dataOwner") or (me if role == "owner" else None),
                )
            )
        return out

    def read_changes(self, calendar_id: str, cursor: str | None, window: Window) -> Changes:
        """A cursor is Google's nextSyncToken; "" (no token was given) means read everything."""
        if cursor:
            return self._read(calendar_id, window, cursor)
        try:
            return self._read(calendar_id, window, None)
        except CursorExpired:
            # A page token can expire in the middle of a long full read: start over once.
            return self._read(calendar_id, window, None)

    def _read(self, calendar_id: str, window: Window, sync_token: str | None) -> Changes:
        # showDeleted is left at its default (false) on both reads: the docs call setting it to
        # false with a syncToken "not allowed", and the parameters must stay the same (§1.4).
        params: dict[str, Any] = {
            "calendarId": calendar_id,
            "singleEvents": False,
            "maxResults": self._page_size,
        }
        if sync_token is not None:
            params["syncToken"] = sync_token
        else:
            params["timeMin"] = _rfc3339(window.start)
            params["timeMax"] = _rfc3339(window.end)
        events: dict[str, Event] = {}
        deleted: dict[str, None] = {}
        skipped: list[Skipped] = []
        last: dict[str, Any] = {}
        for page in self._pages(
            "read", lambda svc, token: svc.events().list(pageToken=token, **params), "read"
        ):
            zone = self._note_zone(calendar_id, page)
            for item in page.get("items") or []:
                if _is_deletion(item):
                    events.pop(item["id"], None)
                    deleted[item["id"]] = None
                    continue
                try:
                    event = event_from_google(item, calendar_id, zone)
                except ItemError as err:
                    skipped.append(Skipped(_id_of(item), err.message))
                    continue
                assert event.ref is not None
                deleted.pop(event.ref.event_id, None)
                events[event.ref.event_id] = event
            last = page
        self._proven = True
        folded: dict[str, Event | None] = dict(events)
        _fold_cancelled(folded, events.values())
        events = {k: v for k, v in folded.items() if v is not None}
        return Changes(
            tuple(events.values()),
            tuple(deleted),
            str(last.get("nextSyncToken") or ""),
            full=sync_token is None,
            skipped=tuple(skipped),
        )

    def get_events(self, calendar_id: str, ids: Sequence[str]) -> dict[str, Event | None]:
        """Ids Google could not answer for clearly (unreadable, forbidden) are left out: unknown
        is not gone, and None would make the engine delete the other side's copy."""
        out: dict[str, Event | None] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start : start + MAX_BATCH]
            answers = self._t.batch("get", [self._get(calendar_id, i) for i in chunk])
            for eid, answer in zip(chunk, answers, strict=True):
                known, event = self._found(calendar_id, eid, answer)
                if known:
                    out[eid] = event
        self._fold_by_instances(calendar_id, out)
        return out

    def occurrences(
        self, calendar_id: str, series_ids: Sequence[str], window: Window
    ) -> dict[str, list[Event] | None]:
        """events.instances of each series in the window, 50 series a batch (api-spec §1.6)."""
        out: dict[str, list[Event] | None] = {}
        unique = list(dict.fromkeys(series_ids))
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start : start + MAX_BATCH]
            answers = self._t.batch(
                "get", [self._instances(calendar_id, m, window, None) for m in chunk]
            )
            for master_id, answer in zip(chunk, answers, strict=True):
                events: list[Event] = []
                for _ in range(MAX_PAGES):
                    if isinstance(answer, Failure):
                        err = error_for(answer, "get")
                        if isinstance(err, ACCOUNT_ERRORS):
                            raise err
                        if err is None:
                            out[master_id] = None  # the series is gone
                        break
                    zone = self._note_zone(calendar_id, answer)
                    for item in answer.get("items") or []:
                        if item.get("status") == Status.CANCELLED.value:
                            continue
                        try:
                            events.append(event_from_google(item, calendar_id, zone))
                        except ItemError as err:
                            log.warning("Google occurrence %s unreadable: %s", _id_of(item), err)
                    token = answer.get("nextPageToken")
                    if not token:
                        out[master_id] = events
                        break
                    request = self._instances(calendar_id, master_id, window, token)
                    answer = self._t.call("get", request)
        return out

    @staticmethod
    def _instances(calendar_id: str, master_id: str, window: Window, token: str | None) -> Request:
        return lambda svc: svc.events().instances(
            calendarId=calendar_id,
            eventId=master_id,
            timeMin=window.start.isoformat(),
            timeMax=window.end.isoformat(),
            maxResults=2500,
            pageToken=token,
        )

    def occurrence_of(self, event_id: str) -> str | None:
        match = _INSTANCE_ID.fullmatch(event_id)
        return match.group(1) if match else None

    def _fold_by_instances(self, calendar_id: str, found: dict[str, Event | None]) -> None:
        """A master fetched by id does not bring its cancelled instances: ask for them."""
        masters = [eid for eid, e in found.items() if e is not None and e.recurrence is not None]
        for start in range(0, len(masters), MAX_BATCH):
            chunk = masters[start : start + MAX_BATCH]
            answers = self._t.batch(
                "get", [self._cancelled_instances(calendar_id, m) for m in chunk]
            )
            zone = self._zones.get(calendar_id)
            cancelled: list[Event] = []
            for answer in answers:
                if isinstance(answer, Failure) or not isinstance(answer, dict):
                    continue  # the master stays as read; the next change brings the rest
                for item in answer.get("items") or []:
                    if item.get("status") == Status.CANCELLED.value:
                        with contextlib.suppress(ItemError):
                            cancelled.append(event_from_google(item, calendar_id, zone))
            _fold_cancelled(found, cancelled)

    @staticmethod
    def _cancelled_instances(calendar_id: str, master_id: str) -> Request:
        return lambda svc: svc.events().instances(
            calendarId=calendar_id, eventId=master_id, showDeleted=True, maxResults=2500
        )

    def _found(self, calendar_id: str, eid: str, answer: Any) -> tuple[bool, Event | None]:
        """An events.get answer: (True, the event or None when gone), or (False, None)."""
        if isinstance(answer, Failure):
            err = error_for(answer, "get")
            if err is None:
                return True, None
            if isinstance(err, ACCOUNT_ERRORS):
                raise err
            log.warning("Google event %s could not be fetched: %s", eid, err.message)
            return False, None
        if answer.get("status") == Status.CANCELLED.value:
            return True, None
        try:
            return True, event_from_google(answer, calendar_id, self._zones.get(calendar_id))
        except ItemError as err:
            log.warning("Google event %s could not be read: %s", eid, err.message)
            return False, None

    def find_tagged(self, calendar_id: str, tag: str) -> list[Event]:
        found = self._find(calendar_id, privateExtendedProperty=tag_filter(tag))
        return [e for e in found if e.tag == tag]

    def find_by_ical_uid(self, calendar_id: str, ical_uid: str) -> list[Event]:
        return [e for e in self._find(calendar_id, iCalUID=ical_uid) if e.ical_uid == ical_uid]

    def _find(self, calendar_id: str, **query: str) -> list[Event]:
        params = {"calendarId": calendar_id, "singleEvents": False, "maxResults": self._page_size}
        out: list[Event] = []
        for page in self._pages(
            "find", lambda svc, token: svc.events().list(pageToken=token, **params, **query), "read"
        ):
            zone = self._note_zone(calendar_id, page)
            for item in page.get("items") or []:
                try:
                    event = event_from_google(item, calendar_id, zone)
                except ItemError as err:
                    log.warning("Google event %s could not be read: %s", _id_of(item), err.message)
                    continue
                if event.status is not Status.CANCELLED:
                    out.append(event)
        return out

    def _pages(
        self, kind: str, make: Callable[[Any, str | None], Any], action: Action
    ) -> Iterator[dict[str, Any]]:
        """Every page of a list call; pages may be empty and still have a nextPageToken."""
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._t.call(kind, _bind(make, token))
            if isinstance(page, Failure):
                err = error_for(page, action)
                raise err if err is not None else _gone(action)
            yield page
            token = page.get("nextPageToken") or None
            if token is None:
                return
        raise ServiceUnavailable("Google Calendar kept sending more pages; trying again later.")

    def _note_zone(self, calendar_id: str, page: dict[str, Any]) -> str | None:
        zone = page.get("timeZone")
        if isinstance(zone, str) and zone:
            self._zones[calendar_id] = zone
        return self._zones.get(calendar_id)

    # --- writing ------------------------------------------------------------------------------

    def apply(self, calendar_id: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Account-level trouble (sign-in, network, throttling past the retries) is raised when
        nothing was written; after some writes succeeded it is reported on the ops not done, so
        that what was written is never forgotten."""
        results: list[WriteResult | None] = [None] * len(ops)
        for start, done in self.apply_iter(calendar_id, ops):
            results[start : start + len(done)] = done
        final = [r for r in results if r is not None]
        assert len(final) == len(ops)
        if not any(r.ok for r in final):
            for r in final:
                if isinstance(r.error, ACCOUNT_ERRORS):
                    raise r.error
        return final

    def apply_iter(
        self, calendar_id: str, ops: Sequence[WriteOp]
    ) -> Generator[tuple[int, list[WriteResult]], None, None]:
        """The results of each batch as it completes (see ``apply`` for account trouble).

        Up to ``BATCHES_IN_FLIGHT`` batches go at once, each on a connection of its own, so
        their round trips overlap; the caller commits one batch's results while the others are
        on the way. Until a request has gone through (a read, or a batch), the first goes
        alone: a token or network problem then costs one batch, not several. Once Google
        throttles, one at a time (the quota, not the latency, is then what limits). After an
        account error no new batch starts; the ops not done then carry the error, or it is
        raised if nothing was written.
        """
        results: list[WriteResult | None] = [None] * len(ops)
        waiting = deque(
            range(i, min(i + MAX_BATCH, len(ops))) for i in range(0, len(ops), MAX_BATCH)
        )
        failed: list[range] = []
        error: ProviderError | None = None

        def finished(chunk: range) -> tuple[int, list[WriteResult]]:
            part = [r for r in (results[i] for i in chunk) if r is not None]
            assert len(part) == len(chunk)
            return chunk.start, part

        if waiting and not self._proven:
            chunk = waiting.popleft()
            try:
                self._apply_chunk(calendar_id, ops, chunk, results)
            except ACCOUNT_ERRORS as err:
                error = err
                failed.append(chunk)
            else:
                self._proven = True
                yield finished(chunk)
        running: dict[Future[None], range] = {}
        with ThreadPoolExecutor(BATCHES_IN_FLIGHT, thread_name_prefix="google") as pool:

            def send_more() -> None:
                limit = 1 if self._t.throttled else BATCHES_IN_FLIGHT
                while error is None and waiting and len(running) < limit:
                    chunk = waiting.popleft()
                    future = pool.submit(self._apply_chunk, calendar_id, ops, chunk, results)
                    running[future] = chunk

            send_more()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                ready: list[range] = []
                for future in done:
                    chunk = running.pop(future)
                    exc = future.exception()
                    if exc is None:
                        ready.append(chunk)
                    elif isinstance(exc, ACCOUNT_ERRORS):
                        error = error or exc
                        failed.append(chunk)
                    else:
                        raise exc
                send_more()  # before handing results over: batches fly while the caller commits
                for chunk in ready:
                    yield finished(chunk)
                send_more()
        if error is None:
            return
        if not any(r is not None and r.ok for r in results):
            raise error  # nothing written: the account's trouble, not the items'
        for chunk in [*failed, *waiting]:
            yield chunk.start, [results[i] or WriteResult(ops[i], error=error) for i in chunk]

    def _apply_chunk(
        self,
        calendar_id: str,
        ops: Sequence[WriteOp],
        indexes: range,
        results: list[WriteResult | None],
    ) -> None:
        writes: list[_Write] = []
        for i in indexes:
            planned = _plan(i, ops[i])
            if isinstance(planned, WriteResult):
                results[i] = planned
            else:
                writes.append(planned)
        writes = self._check_targets(calendar_id, writes, results)
        answers = self._t.batch("batch", [self._write_request(calendar_id, w) for w in writes])
        retry_creates: list[_Write] = []
        for w, answer in zip(writes, answers, strict=True):
            result = self._written(calendar_id, w, answer)
            if isinstance(result.error, AlreadyExists) and w.method == "insert":
                retry_creates.append(w)  # 409: made by an earlier try, or deleted since
            else:
                results[w.index] = result
        if retry_creates:
            self._existing_creates(calendar_id, retry_creates, results)

    def _check_targets(
        self, calendar_id: str, writes: list[_Write], results: list[WriteResult | None]
    ) -> list[_Write]:
        """Updates without an etag get the current one first.

        A PATCH with status "confirmed" undeletes a deleted Google event (§1.5: the organizer's
        copy keeps its details "so they can be undeleted"); the contract wants NotFound. With
        the etag just read as If-Match, a deletion in between answers 412 instead.
        """
        blind = [w for w in writes if w.op.kind is OpKind.UPDATE and w.etag is None]
        if not blind:
            return writes
        answers = self._t.batch("get", [self._get(calendar_id, w.event_id or "") for w in blind])
        dropped: set[int] = set()
        for w, answer in zip(blind, answers, strict=True):
            if isinstance(answer, Failure):
                err = error_for(answer, "update")
            elif answer.get("status") == Status.CANCELLED.value:
                err = _gone("update")
            else:
                w.etag = answer.get("etag") if isinstance(answer.get("etag"), str) else None
                continue
            if isinstance(err, ACCOUNT_ERRORS):
                raise err
            results[w.index] = WriteResult(w.op, error=err)
            dropped.add(w.index)
        return [w for w in writes if w.index not in dropped]

    def _write_request(self, calendar_id: str, w: _Write) -> BatchRequest:
        """A write as a batch part: the URL, query and JSON body the client library would build
        for events.insert/patch/delete (its builder cost 0.13 ms a call, a third of our CPU per
        batch). Writes only ever travel in batches."""
        path = f"calendars/{quote(calendar_id, safe='')}/events"
        if w.method != "insert":
            path += f"/{quote(w.event_id or '', safe='')}"
        headers = {"accept": "*/*" if w.method == "delete" else "application/json"}
        body = None
        if w.method != "delete":
            headers["content-type"] = "application/json"
            body = json.dumps(w.body or {})
        if w.etag is not None:
            headers["If-Match"] = w.etag
        query = "sendUpdates=none" if w.method == "delete" else "sendUpdates=none&alt=json"
        part = Part(_VERBS[w.method], f"{self._t.api_endpoint}{path}?{query}", headers, body)
        return lambda svc: part

    def _written(self, calendar_id: str, w: _Write, answer: Any) -> WriteResult:
        if isinstance(answer, Failure):
            action: Action = "update" if w.method == "patch" else w.method
            err = error_for(answer, action)
            return WriteResult(w.op, error=err)  # err None: a delete of something gone
        if w.method == "delete":
            return WriteResult(w.op)
        return self._parsed(calendar_id, w, answer)

    def _parsed(self, calendar_id: str, w: _Write, answer: dict[str, Any]) -> WriteResult:
        try:
            event = event_from_google(answer, calendar_id, self._zones.get(calendar_id))
        except ItemError as err:
            return WriteResult(w.op, error=err)
        return WriteResult(w.op, event.with_changes(losses=w.losses))

    def _existing_creates(
        self, calendar_id: str, writes: list[_Write], results: list[WriteResult | None]
    ) -> None:
        """After 409 on a create: the event our key made is returned (an idempotent retry), unless
        it was deleted, since Google keeps a deleted event's id reserved (AlreadyExists)."""
        answers = self._t.batch("get", [self._get(calendar_id, w.event_id or "") for w in writes])
        for w, answer in zip(writes, answers, strict=True):
            if isinstance(answer, Failure):
                err = error_for(answer, "get")
                if err is not None:
                    results[w.index] = WriteResult(w.op, error=err)
                    continue
            elif answer.get("status") != Status.CANCELLED.value:
                results[w.index] = self._parsed(calendar_id, w, answer)
                continue
            results[w.index] = WriteResult(w.op, error=error_for(Failure(409, "", ""), "insert"))

    # --- responding ---------------------------------------------------------------------------

    def decline(
        self, calendar_id: str, event_id: str, *, comment: str = "", notify: bool = True
    ) -> None:
        answer = self._t.call("get", self._get(calendar_id, event_id))
        if isinstance(answer, Failure):
            raise error_for(answer, "get") or _no_event()
        if not isinstance(answer, dict) or answer.get("status") == Status.CANCELLED.value:
            raise _no_event()
        if (answer.get("organizer") or {}).get("self") is True:
            raise Rejected(
                "Meridian declines only invitations from others. To call off a meeting you "
                "organize, delete it in Google Calendar.",
                title="You organize this meeting",
            )
        # The whole list goes back (a patch replaces arrays), only our own entry changed.
        attendees = [dict(a) for a in answer.get("attendees") or [] if isinstance(a, dict)]
        mine = [a for a in attendees if a.get("self") is True]
        if not mine:
            raise Rejected(
                "This calendar is not on the event's guest list, so there is no invitation to "
                "decline.",
                title="Not invited",
            )
        for a in mine:
            a["responseStatus"] = "declined"
            if comment:
                a["comment"] = comment
        etag = answer.get("etag")

        def make(svc: Any) -> Any:
            request = svc.events().patch(
                calendarId=calendar_id,
                eventId=event_id,
                body={"attendees": attendees},
                sendUpdates="all" if notify else "none",
            )
            if isinstance(etag, str):
                request.headers["If-Match"] = etag
            return request

        done = self._t.call("respond", make)
        if isinstance(done, Failure) and (err := error_for(done, "update")) is not None:
            raise err

    @staticmethod
    def _get(calendar_id: str, event_id: str) -> Request:
        return lambda svc: svc.events().get(calendarId=calendar_id, eventId=event_id)


def _plan(index: int, op: WriteOp) -> _Write | WriteResult:
    """The Google call for one op, or the op's result when it cannot be written at all."""
    if op.kind is OpKind.DELETE:
        return _Write(index, op, "delete", event_id=op.event_id, etag=op.etag)
    event = op.event
    assert event is not None
    exception = event.series_id is not None and event.original_start is not None
    try:
        body, losses = event_to_google(event, for_update=op.kind is OpKind.UPDATE or exception)
    except ItemError as err:
        return WriteResult(op, error=err)
    if exception:
        # One occurrence of a series has a fixed id: PATCH it, whether it is new to us or not.
        assert event.series_id is not None and event.original_start is not None
        target = op.event_id
        if op.kind is OpKind.CREATE or not (target or "").startswith(f"{event.series_id}_"):
            target = instance_id(event.series_id, event.original_start)
        etag = op.etag if op.kind is OpKind.UPDATE else None
        return _Write(index, op, "patch", event_id=target, body=body, losses=losses, etag=etag)
    if op.kind is OpKind.CREATE:
        assert op.key is not None
        body["id"] = event_id_for_key(op.key)
        return _Write(index, op, "insert", event_id=body["id"], body=body, losses=losses)
    return _Write(index, op, "patch", event_id=op.event_id, body=body, losses=losses, etag=op.etag)


def event_id_for_key(key: str) -> str:
    """The Google event id a create with this idempotency key uses.

    Our keys (core.identity) are base32hex already and are used as they are, so a copy can be
    told by its id alone. Any other key is base32hex-encoded: still one id per key, and valid.
    """
    if _GOOGLE_ID.fullmatch(key):
        return key
    return base64.b32hexencode(key.encode("utf-8")).decode("ascii").rstrip("=").lower()


def _bind(make: Callable[[Any, str | None], Any], token: str | None) -> Request:
    return lambda svc: make(svc, token)


def _is_deletion(item: Any) -> bool:
    """A cancelled master or single (not an occurrence): the event is gone."""
    return (
        isinstance(item, dict)
        and item.get("status") == Status.CANCELLED.value
        and not item.get("recurringEventId")
        and isinstance(item.get("id"), str)
        and bool(item["id"])
    )


def _id_of(item: Any) -> str:
    eid = item.get("id") if isinstance(item, dict) else None
    return eid if isinstance(eid, str) else ""


def _gone(action: Action) -> ProviderError:
    return NotFound(f"Google Calendar: the target of this {action} no longer exists.")


def _no_event() -> NotFound:
    return NotFound("The event no longer exists in Google Calendar.")


def _rfc3339(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fold_cancelled(
    events: MutableMapping[str, Event | None], cancelled: Iterable[Event | None]
) -> None:
    """Cancelled instances become EXDATEs of their master, as Graph's cancelledOccurrences do.

    One canonical series on both clouds: the master carries every cancelled occurrence, so a
    cancellation travels with the master (the cancelled instance events stay listed too, as
    the contract says, and the planner leaves them alone).
    """
    extra: dict[str, set[dt.datetime | dt.date]] = {}
    for ev in list(cancelled):
        if ev is None or ev.status is not Status.CANCELLED:
            continue
        if ev.series_id and ev.original_start is not None:
            extra.setdefault(ev.series_id, set()).add(ev.original_start)
    for master_id, dates in extra.items():
        master = events.get(master_id)
        if master is None or master.recurrence is None:
            continue
        rec = master.recurrence
        merged = tuple(sorted(set(rec.exdates) | dates, key=_stamp_key))
        events[master_id] = replace(master, recurrence=replace(rec, exdates=merged))


def _stamp_key(value: dt.datetime | dt.date) -> tuple[str, str]:
    return (type(value).__name__, value.isoformat())
