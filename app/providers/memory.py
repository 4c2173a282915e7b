"""An in-memory calendar service: the engine's test double and the dry-run target.

It keeps the same promises as the real providers (cursor semantics, etags, idempotent creates
with keys that stay reserved after a delete, tags, twins), so the contract suite runs against it
unchanged, and it can fail on demand like a real service.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from app.core.model import Event, EventRef, Provider, Response
from app.errors import (
    AlreadyExists,
    CursorExpired,
    NotFound,
    PreconditionFailed,
    ProviderError,
    Rejected,
)
from app.providers.base import (
    Calendar,
    CalendarProvider,
    Changes,
    OpKind,
    Window,
    WriteOp,
    WriteResult,
)


@dataclass
class _Cal:
    info: Calendar
    events: dict[str, Event] = field(default_factory=dict)
    changed_at: dict[str, int] = field(default_factory=dict)  # id -> seq of last change
    deleted_at: dict[str, int] = field(default_factory=dict)  # id -> seq of deletion
    keys: dict[str, str] = field(default_factory=dict)  # idempotency key -> event id
    epoch: int = 0


_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# One clock for every instance, like the wall clock both clouds stamp "last modified" with.
_TICKS = itertools.count(1)


class MemoryProvider(CalendarProvider):
    kind = Provider.MEMORY
    max_batch = 50

    def __init__(self, calendars: Sequence[str] = ("primary",)) -> None:
        super().__init__()
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        # Ids (and so iCalendar UIDs) are unique across instances, as they are across clouds.
        self._prefix = secrets.token_hex(3)
        self._cals: dict[str, _Cal] = {}
        for cid in calendars:
            self.add_calendar(cid)
        # Fault injection for engine tests: called before each op; may raise or return an error.
        self.before_op: Callable[[str, WriteOp], ProviderError | None] | None = None
        # Responses a real service would have mailed: (organizer, event id, comment).
        self.responses: list[tuple[str, str, str]] = []

    # --- test helpers -------------------------------------------------------------------------

    def add_calendar(
        self, calendar_id: str, name: str | None = None, owner: str | None = None
    ) -> None:
        self._cals[calendar_id] = _Cal(
            Calendar(calendar_id, name or calendar_id, primary=not self._cals, owner=owner)
        )

    def expire_cursors(self, calendar_id: str) -> None:
        self._cals[calendar_id].epoch += 1

    def all_events(self, calendar_id: str) -> list[Event]:
        return list(self._cals[calendar_id].events.values())

    def _new_id(self) -> str:
        return f"mem{self._prefix}{next(self._ids)}"

    # --- contract ---------------------------------------------------------------------------

    def _cal(self, calendar_id: str) -> _Cal:
        try:
            return self._cals[calendar_id]
        except KeyError:
            raise NotFound(f"Calendar {calendar_id} does not exist.") from None

    def list_calendars(self) -> list[Calendar]:
        self.stats.count("calendars")
        return [c.info for c in self._cals.values()]

    def read_changes(self, calendar_id: str, cursor: str | None, window: Window) -> Changes:
        self.stats.count("read")
        cal = self._cal(calendar_id)
        now = next(self._seq)
        if cursor is None:
            events = tuple(
                e
                for e in cal.events.values()
                if e.recurrence is not None or window.overlaps(e.when)
            )
            return Changes(events, (), self._cursor(cal, now), full=True)
        epoch, _, since_s = cursor.partition(":")
        if not since_s.isdigit() or int(epoch) != cal.epoch:
            raise CursorExpired("The change cursor expired; a full read is needed.")
        since = int(since_s)
        events = tuple(cal.events[i] for i, s in cal.changed_at.items() if s > since)
        deleted = tuple(i for i, s in cal.deleted_at.items() if s > since)
        return Changes(events, deleted, self._cursor(cal, now), full=False)

    @staticmethod
    def _cursor(cal: _Cal, seq: int) -> str:
        return f"{cal.epoch}:{seq}"

    def get_events(self, calendar_id: str, ids: Sequence[str]) -> dict[str, Event | None]:
        self.stats.count("get")
        cal = self._cal(calendar_id)
        return {i: cal.events.get(i) for i in ids}

    def find_tagged(self, calendar_id: str, tag: str) -> list[Event]:
        self.stats.count("find")
        return [e for e in self._cal(calendar_id).events.values() if e.tag == tag]

    def find_by_ical_uid(self, calendar_id: str, ical_uid: str) -> list[Event]:
        self.stats.count("find")
        return [e for e in self._cal(calendar_id).events.values() if e.ical_uid == ical_uid]

    def decline(
        self, calendar_id: str, event_id: str, *, comment: str = "", notify: bool = True
    ) -> None:
        self.stats.count("respond")
        cal = self._cal(calendar_id)
        current = cal.events.get(event_id)
        if current is None:
            raise NotFound(f"Event {event_id} does not exist any more.")
        me = (cal.info.owner or calendar_id).lower()
        organizer = current.organizer.email if current.organizer else ""
        if organizer.lower() == me:
            raise Rejected("You organize this meeting: only its guests can decline it.")
        if not any(a.email.lower() == me for a in current.attendees):
            raise Rejected("You are not invited to this event, so there is nothing to decline.")
        attendees = tuple(
            replace(a, response=Response.DECLINED) if a.email.lower() == me else a
            for a in current.attendees
        )
        self._store(cal, event_id, replace(current, attendees=attendees), keep=current)
        if notify:
            self.responses.append((organizer, event_id, comment))

    def apply(self, calendar_id: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        cal = self._cal(calendar_id)
        results: list[WriteResult] = []
        for start in range(0, len(ops), self.max_batch):
            self.stats.count("batch")
            for op in ops[start : start + self.max_batch]:
                try:
                    results.append(self._apply_one(calendar_id, cal, op))
                except ProviderError as err:
                    results.append(WriteResult(op, error=err))
        return results

    def _apply_one(self, calendar_id: str, cal: _Cal, op: WriteOp) -> WriteResult:
        if self.before_op is not None:
            injected = self.before_op(calendar_id, op)
            if injected is not None:
                raise injected
        if op.kind is OpKind.CREATE:
            assert op.event is not None and op.key is not None
            existing = cal.keys.get(op.key)
            if existing is not None:
                if existing in cal.events:
                    return WriteResult(op, cal.events[existing])
                raise AlreadyExists(f"The key {op.key} was used for an event that was deleted.")
            eid = self._new_id()
            cal.keys[op.key] = eid
            # The cloud shows the key a copy was made with (Google id, Graph transactionId).
            return WriteResult(op, self._store(cal, eid, replace(op.event, created_key=op.key)))
        assert op.event_id is not None
        current = cal.events.get(op.event_id)
        if op.kind is OpKind.DELETE:
            if current is None:
                return WriteResult(op)  # already gone: nothing to do
            self._check_etag(current, op)
            del cal.events[op.event_id]
            cal.changed_at.pop(op.event_id, None)
            cal.deleted_at[op.event_id] = next(self._seq)
            return WriteResult(op)
        if current is None:
            raise NotFound(f"Event {op.event_id} does not exist any more.")
        self._check_etag(current, op)
        assert op.event is not None
        return WriteResult(op, self._store(cal, op.event_id, op.event, keep=current))

    @staticmethod
    def _check_etag(current: Event, op: WriteOp) -> None:
        if op.etag is not None and op.etag != current.etag:
            raise PreconditionFailed(f"Event {op.event_id} changed since it was read.")

    def _store(self, cal: _Cal, eid: str, event: Event, keep: Event | None = None) -> Event:
        seq = next(self._seq)
        stored = replace(
            event,
            ref=EventRef(Provider.MEMORY, cal.info.id, eid),
            etag=str(seq),
            # Like a server's "last modified": later writes get later stamps.
            updated=_EPOCH + dt.timedelta(seconds=next(_TICKS)),
            ical_uid=(keep.ical_uid if keep else None) or event.ical_uid or f"{eid}@memory",
        )
        cal.events[eid] = stored
        cal.changed_at[eid] = seq
        cal.deleted_at.pop(eid, None)
        return stored

    # Edits "by a person" in tests: the same as a write, without counting requests.
    def put(self, calendar_id: str, event: Event, event_id: str | None = None) -> Event:
        cal = self._cal(calendar_id)
        eid = event_id or (event.ref.event_id if event.ref else self._new_id())
        return self._store(cal, eid, event, keep=cal.events.get(eid))

    def remove(self, calendar_id: str, event_id: str) -> None:
        cal = self._cal(calendar_id)
        cal.events.pop(event_id, None)
        cal.changed_at.pop(event_id, None)
        cal.deleted_at[event_id] = next(self._seq)
