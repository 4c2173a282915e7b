"""Schedule overlaps put to the person: keep both, decline one through its cloud, or open one in
its web calendar; snooze.

The engine records overlaps between the originals of the two calendars (app/sync/overlaps.py).
Before one is shown both events are read again by id, so an overlap that solved itself since (an
event moved, deleted, declined or freed) is closed rather than shown. Declining is offered only
for an invitation the person received (not a meeting they organize, not a plain event); on a copy
Meridian made, the decline goes to its origin, which is what the organizer invited.

``OverlapActions`` is a part of AppService: it uses the service's sync facade, store, clock,
scheduler and I/O lock.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.core import identity
from app.core.model import Event, Response, ShowAs, Status, TimeSpan
from app.core.planner import Link
from app.core.rules import Side
from app.errors import UsageError
from app.services.accounts import AccountService
from app.services.scheduler import SyncScheduler
from app.services.sync_service import SyncService
from app.store.repo import PairRow, Repo

CLOUD = {Side.A: "Outlook", Side.B: "Google"}
SOLVED = "no longer overlapping"


@dataclass(frozen=True)
class OverlapEvent:
    """One of the two events as its calendar has it now, and what may be done with it."""

    side: Side
    event: Event
    calendar: str  # the calendar's name
    account: str  # the account's address
    copy: bool  # a copy Meridian made: its origin is the other side's event
    organizer: str  # "" (not a meeting), "you", or the organizer's name or address
    decline: tuple[Side, str] | None  # where a decline goes (side, event id); None: not offered
    why_not: str = ""  # why declining is not offered

    @property
    def cloud(self) -> str:
        return CLOUD[self.side]


@dataclass(frozen=True)
class OverlapView:
    id: int
    pair_id: str
    pair_name: str
    start: dt.datetime
    a: OverlapEvent
    b: OverlapEvent

    def side(self, side: Side) -> OverlapEvent:
        return self.a if side is Side.A else self.b


class OverlapActions:
    """AppService's overlap part (its attributes are the service's own)."""

    sync: SyncService
    repo: Repo
    accounts_svc: AccountService
    scheduler: SyncScheduler
    clock: Callable[[], dt.datetime]
    on_changed: Callable[[], None]
    _io: threading.RLock
    _told: set[str]
    _snoozed_overlaps: dict[int, dt.datetime]

    # --- what waits -----------------------------------------------------------------------------

    def overlaps(self) -> list[dict[str, object]]:
        """Open overlaps still ahead, without the snoozed ones, soonest first."""
        now = self.clock()
        return [
            o
            for o in self.repo.overlaps()
            if self._snoozed_overlaps.get(int(o["id"]), now) <= now
            and dt.datetime.fromisoformat(str(o["start"])) >= now
        ]

    def new_overlaps(self) -> int:
        """How many overlaps still ahead the person was not told about yet (told now)."""
        now = self.clock()
        new = [
            o
            for o in self.repo.overlaps()
            if f"o{o['id']}" not in self._told and dt.datetime.fromisoformat(str(o["start"])) >= now
        ]
        self._told.update(f"o{o['id']}" for o in new)
        return len(new)

    def snooze_overlap(self, overlap_id: int, minutes: int = 60) -> None:
        self._snoozed_overlaps[overlap_id] = self.clock() + dt.timedelta(minutes=minutes)

    # --- looking at one -------------------------------------------------------------------------

    def overlap_view(self, overlap_id: int) -> OverlapView | None:
        """Both events read again (blocking: call from a worker thread); None when the overlap
        is decided already or solved itself, which closes it."""
        row = next((o for o in self.repo.overlaps() if o["id"] == overlap_id), None)
        if row is None:
            return None
        pair = self.sync.pair(str(row["pair_id"]))
        ids = {Side.A: str(row["a_id"]), Side.B: str(row["b_id"])}
        me = {side: self._addresses(pair, side) for side in Side}
        with self._io:
            now = {side: self._read(pair, side, [ids[side]]).get(ids[side]) for side in Side}
            a, b = now[Side.A], now[Side.B]
            if a is None or b is None or not _overlapping(a, b, me[Side.A], me[Side.B]):
                self.repo.act_on_overlap(overlap_id, SOLVED)
                self.on_changed()
                return None
            found = {Side.A: a, Side.B: b}
            links = self.repo.links(pair.id)
            sides = {side: self._describe(pair, side, found[side], links, me) for side in Side}
        return OverlapView(
            overlap_id,
            pair.id,
            pair.name,
            dt.datetime.fromisoformat(str(row["start"])),
            sides[Side.A],
            sides[Side.B],
        )

    def _read(self, pair: PairRow, side: Side, ids: list[str]) -> dict[str, Event | None]:
        conf = pair.config[side.value]
        return self.sync.provider(conf["account"]).get_events(conf["calendar"], ids)

    def _addresses(self, pair: PairRow, side: Side) -> set[str]:
        """Who "you" are in a calendar: the account's address, and the calendar's own id (a
        Google calendar's id is its address)."""
        conf = pair.config[side.value]
        account = self.accounts_svc.get(conf["account"])
        return {account.email.lower(), str(conf["calendar"]).lower()}

    def _describe(
        self,
        pair: PairRow,
        side: Side,
        event: Event,
        links: Iterable[Link],
        me: dict[Side, set[str]],
    ) -> OverlapEvent:
        conf = pair.config[side.value]
        account = self.accounts_svc.get(conf["account"]).email
        calendar = str(conf.get("calendar_name") or conf["calendar"])
        assert event.ref is not None
        tag, origin_id = identity.split_provenance(event.tag)
        is_copy = bool(identity.tag_from_key(event.created_key) or tag)
        target_side, target_id, invitation = side, event.ref.event_id, event
        if is_copy:
            # Decline what the organizer invited: the origin, on the other side.
            target_side = side.other
            linked = [lk for lk in links if lk.id_on(side) == event.ref.event_id]
            origin_id = linked[0].id_on(side.other) if linked else origin_id
            origin = None
            if origin_id:
                origin = self._read(pair, target_side, [origin_id]).get(origin_id)
            if origin is None:
                return OverlapEvent(
                    side, event, calendar, account, True, _organizer(event, me[side]), None,
                    "Its original, which Meridian copied here, is not there any more.",
                )  # fmt: skip
            target_id, invitation = origin_id or "", origin
        why_not = _why_not(invitation, me[target_side])
        return OverlapEvent(
            side,
            event,
            calendar,
            account,
            is_copy,
            _organizer(invitation, me[target_side]),
            None if why_not else (target_side, target_id),
            why_not,
        )

    # --- the person's answers -------------------------------------------------------------------

    def keep_both(self, overlap_id: int) -> None:
        """Both stay: remembered, so this pair of events is never asked about again."""
        row = self._open(overlap_id)
        self.repo.act_on_overlap(overlap_id, "kept both")
        self.repo.audit("person", "overlap: kept both", pair_id=str(row["pair_id"]))
        self.on_changed()

    def decline_overlap(
        self, overlap_id: int, side: Side, *, comment: str = "", notify: bool = True
    ) -> None:
        """Decline the invitation behind one of the two events through its cloud (blocking)."""
        self._open(overlap_id)
        view = self.overlap_view(overlap_id)
        if view is None:
            raise UsageError(
                "The two events no longer overlap (one was moved, deleted or declined), so "
                "there is nothing to decline.",
                title="Nothing to decline",
            )
        chosen = view.side(side)
        if chosen.decline is None:
            raise UsageError(chosen.why_not, title="This event cannot be declined")
        target_side, target_id = chosen.decline
        conf = self.sync.pair(view.pair_id).config[target_side.value]
        with self._io:
            provider = self.sync.provider(conf["account"])
            provider.decline(conf["calendar"], target_id, comment=comment, notify=notify)
        what = f"declined in {CLOUD[target_side]}" + ("" if notify else " without telling")
        self.repo.act_on_overlap(overlap_id, what)
        self.repo.audit(
            "person",
            "overlap: declined",
            pair_id=view.pair_id,
            side=target_side.value,
            item_id=target_id,
            why=what,
        )
        self.scheduler.sync_now(view.pair_id)  # the other calendar follows at once
        self.on_changed()

    def _open(self, overlap_id: int) -> dict[str, object]:
        row = next((o for o in self.repo.overlaps() if o["id"] == overlap_id), None)
        if row is None:
            raise UsageError("This overlap was already dealt with.", title="Nothing to do")
        return row


def _mine(event: Event, me: set[str]) -> Response | None:
    return next((a.response for a in event.attendees if a.email.lower() in me), None)


def _overlapping(a: Event, b: Event, me_a: set[str], me_b: set[str]) -> bool:
    """Both still take time (not cancelled, free or declined) and still meet."""
    for e, me in ((a, me_a), (b, me_b)):
        if e.status is Status.CANCELLED or e.show_as is ShowAs.FREE:
            return False
        if _mine(e, me) is Response.DECLINED or not isinstance(e.when, TimeSpan):
            return False
    assert isinstance(a.when, TimeSpan) and isinstance(b.when, TimeSpan)
    return a.when.start < b.when.end and b.when.start < a.when.end


def _organizer(event: Event, me: set[str]) -> str:
    if event.organizer is None or not event.attendees:
        return ""
    if event.organizer.email.lower() in me:
        return "you"
    return event.organizer.name or event.organizer.email


def _why_not(event: Event, me: set[str]) -> str:
    """Why this event is no invitation to decline ("" when it is one)."""
    organizer = _organizer(event, me)
    if not organizer:
        return "It is not a meeting: there is no invitation to decline."
    if organizer == "you":
        return "You organize this meeting: only its guests can decline it."
    if _mine(event, me) is None:
        return "You are not on its guest list."
    return ""
