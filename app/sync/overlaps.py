"""Schedule overlaps: a busy meeting on one calendar that collides with one on the other.

Only originals count: a copy of ours mirrors an event of the same calendar, and a twin is the
same meeting. Free, declined and cancelled events never block time.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from app.core import identity
from app.core.model import Event, Response, ShowAs, Status, TimeSpan
from app.core.rules import Side


@dataclass(frozen=True)
class Overlap:
    a_id: str
    b_id: str
    a_title: str
    b_title: str
    start: dt.datetime


def _blocks_time(event: Event, owner: str | None) -> bool:
    if event.status is Status.CANCELLED or event.show_as is ShowAs.FREE:
        return False
    if not isinstance(event.when, TimeSpan) or event.recurrence is not None:
        return False  # all-day markers and whole series are not meetings at an instant
    if identity.tag_from_key(event.created_key) or identity.split_provenance(event.tag)[0]:
        return False  # our copy: it mirrors an event of the other calendar
    if owner:
        for a in event.attendees:
            if a.email.lower() == owner.lower() and a.response is Response.DECLINED:
                return False
    return True


def find(
    changed: Mapping[Side, Iterable[Event]],
    known: Callable[[Side], Iterable[Event]],
    twins: Iterable[tuple[str, str]],
    owners: Mapping[Side, str | None],
) -> list[Overlap]:
    """Overlaps between events changed this run and the other calendar's known events.

    ``known(side)`` is asked only for a side facing a changed event that blocks time: building
    it decodes stored snapshots, which a run with no such change (an echo, a copy) never needs.
    """
    twin_pairs = set(twins)
    found: dict[tuple[str, str], Overlap] = {}
    for side in (Side.A, Side.B):
        mine = [
            _span(e) for e in changed[side] if e.ref is not None and _blocks_time(e, owners[side])
        ]
        if not mine:
            continue
        # Sorted by start: each changed event scans only those starting within the longest
        # event's length before it, not the whole calendar.
        others = sorted(
            (_span(o) for o in known(side.other) if _blocks_time(o, owners[side.other])),
            key=lambda x: x[0],
        )
        starts = [start for start, _, _ in others]
        longest = max((end - start for start, end, _ in others), default=dt.timedelta(0))
        for ev_start, ev_end, ev in mine:
            lo = bisect.bisect_right(starts, ev_start - longest)
            hi = bisect.bisect_left(starts, ev_end)
            for o_start, o_end, o in others[lo:hi]:
                if o_end <= ev_start or o.ref is None:
                    continue
                a, b = (ev, o) if side is Side.A else (o, ev)
                assert a.ref is not None and b.ref is not None
                key = (a.ref.event_id, b.ref.event_id)
                if key in twin_pairs:
                    continue
                found[key] = Overlap(key[0], key[1], a.title, b.title, max(ev_start, o_start))
    return list(found.values())


def _span(event: Event) -> tuple[dt.datetime, dt.datetime, Event]:
    """(start, end) in UTC: instants compare safely, wall times in one zone ignore the DST fold."""
    assert isinstance(event.when, TimeSpan)
    return event.when.start.astimezone(dt.UTC), event.when.end.astimezone(dt.UTC), event
