"""The contract every calendar backend meets (and tests/providers/contract.py checks).

Small on purpose, like vdirsyncer's storage API: list calendars, read changes since a cursor,
get by id, apply a batch of writes, find our copies. Each provider hides its cloud's quirks behind
it: Google's sync tokens and instance ids, Graph's delta stubs, cancelledOccurrences and $batch.

A series is always delivered as its master (with ``recurrence``), its exceptions (``series_id`` +
``original_start``) and its cancelled occurrences (the same, with ``status`` cancelled); plain
occurrences are implied by the master and never listed.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from app.core.model import DaySpan, Event, Provider, When
from app.errors import ProviderError


@dataclass(frozen=True)
class Window:
    """The sync window, computed once in UTC for both sides (peer-failures: window edge)."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.utcoffset() != dt.timedelta(0) or self.end.utcoffset() != dt.timedelta(0):
            raise ValueError("a Window is in UTC")
        if self.end <= self.start:
            raise ValueError("a Window ends after it starts")

    def overlaps(self, when: When) -> bool:
        """Same rule as both APIs: ends after the window starts and starts before it ends."""
        if isinstance(when, DaySpan):
            # An all-day event covers whole days in every zone on Earth: be generous (UTC-12
            # to UTC+14) so a day at the edge is in on both sides or on neither.
            start = dt.datetime.combine(when.start, dt.time(), dt.UTC) - dt.timedelta(hours=14)
            end = dt.datetime.combine(when.end, dt.time(), dt.UTC) + dt.timedelta(hours=12)
            return end > self.start and start < self.end
        return when.end > self.start and when.start < self.end


@dataclass(frozen=True)
class Calendar:
    id: str
    name: str
    primary: bool = False
    writable: bool = True
    time_zone: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class Skipped:
    """An item the provider could not read: named, with the reason, so the person can see it."""

    event_id: str
    reason: str


@dataclass(frozen=True)
class Changes:
    events: tuple[Event, ...]
    deleted: tuple[str, ...]
    cursor: str
    full: bool  # a full read: what is not listed does not exist (within the window)
    skipped: tuple[Skipped, ...] = ()


class OpKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class WriteOp:
    kind: OpKind
    event: Event | None = None  # create, update
    event_id: str | None = None  # update, delete
    key: str | None = None  # create: idempotency key (Google id / Graph transactionId)
    etag: str | None = None  # update, delete: precondition

    @staticmethod
    def create(event: Event, key: str) -> WriteOp:
        return WriteOp(OpKind.CREATE, event=event, key=key)

    @staticmethod
    def update(event_id: str, event: Event, etag: str | None = None) -> WriteOp:
        return WriteOp(OpKind.UPDATE, event=event, event_id=event_id, etag=etag)

    @staticmethod
    def delete(event_id: str, etag: str | None = None) -> WriteOp:
        return WriteOp(OpKind.DELETE, event_id=event_id, etag=etag)


@dataclass(frozen=True)
class WriteResult:
    op: WriteOp
    event: Event | None = None  # the state after the write (None after a delete)
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RequestStats:
    """HTTP requests this provider made (a batch counts once): exact, for tests and benchmarks."""

    requests: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, n: int = 1) -> None:
        self.requests += n
        self.by_kind[kind] = self.by_kind.get(kind, 0) + n


class CalendarProvider(ABC):
    kind: Provider
    max_batch: int = 1
    # True when read_changes returns events without our properties (Graph's delta): the engine
    # then reads changed copies of ours again with get_events before comparing them.
    changes_lack_properties: bool = False
    # True when read_changes may run on another thread while the other side's provider reads
    # (each talks to its own cloud on connections of its own): the engine then reads both
    # sides at once. Test doubles that share state between sides leave it False.
    reads_concurrently: bool = False

    def __init__(self) -> None:
        self.stats = RequestStats()

    @abstractmethod
    def list_calendars(self) -> list[Calendar]: ...

    @abstractmethod
    def read_changes(self, calendar_id: str, cursor: str | None, window: Window) -> Changes:
        """First call (cursor None) is a full read of the window; raises CursorExpired."""

    @abstractmethod
    def get_events(self, calendar_id: str, ids: Sequence[str]) -> dict[str, Event | None]:
        """Current state by id; None for ids that no longer exist."""

    @abstractmethod
    def apply(self, calendar_id: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Run writes (batched where the cloud allows); one result per op, in order.

        A create whose key was used before returns the existing event (idempotent retry);
        a delete of something already gone succeeds. Errors are per item, never raised,
        except for errors that concern the whole account (AuthRequired, Offline, ...).
        """

    def apply_iter(
        self, calendar_id: str, ops: Sequence[WriteOp]
    ) -> Generator[tuple[int, list[WriteResult]], None, None]:
        """``apply``, with the results handed over as they come: (index of the first op, the
        results of the ops from there on), in any order, each op once. The engine commits each
        part while the rest is still being written. By default everything comes at the end.
        """
        yield 0, self.apply(calendar_id, ops)

    @abstractmethod
    def find_tagged(self, calendar_id: str, tag: str) -> list[Event]:
        """Events carrying our provenance tag with this value."""

    @abstractmethod
    def find_by_ical_uid(self, calendar_id: str, ical_uid: str) -> list[Event]:
        """Events with this iCalendar UID (twins: one meeting invited at both addresses)."""

    @abstractmethod
    def decline(
        self, calendar_id: str, event_id: str, *, comment: str = "", notify: bool = True
    ) -> None:
        """Decline an invitation the calendar's owner received; with ``notify`` the organizer
        is told (the person's own choice: the one write that may mail someone).

        Raises NotFound when the event is gone, and Rejected when the owner organizes it or is
        not invited to it.
        """

    # --- series another calendar cannot hold (app/sync/occurrences.py) ---------------------

    def cannot_hold(self, event: Event) -> str | None:
        """Why this calendar cannot hold ``event``'s repeat rule, in words; None if it can."""
        return None

    def occurrences(
        self, calendar_id: str, series_ids: Sequence[str], window: Window
    ) -> dict[str, list[Event] | None]:
        """Each series' occurrences in the window as the cloud expands them (exceptions
        included, cancelled ones left out), each with an id ``get_events`` and ``apply`` accept;
        None for a series that is gone, and no entry where the answer was unclear."""
        raise NotImplementedError(f"{type(self).__name__} does not list occurrences")

    def occurrence_of(self, event_id: str) -> str | None:
        """The series an occurrence id from ``occurrences`` belongs to; None for other ids."""
        return None

    # --- one-item conveniences over apply() ------------------------------------------------

    def _one(self, calendar_id: str, op: WriteOp) -> WriteResult:
        result = self.apply(calendar_id, [op])[0]
        if result.error is not None:
            raise result.error
        return result

    def create(self, calendar_id: str, event: Event, key: str) -> Event:
        created = self._one(calendar_id, WriteOp.create(event, key)).event
        assert created is not None
        return created

    def update(
        self, calendar_id: str, event_id: str, event: Event, etag: str | None = None
    ) -> Event:
        updated = self._one(calendar_id, WriteOp.update(event_id, event, etag)).event
        assert updated is not None
        return updated

    def delete(self, calendar_id: str, event_id: str, etag: str | None = None) -> None:
        self._one(calendar_id, WriteOp.delete(event_id, etag))
