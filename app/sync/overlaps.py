"""Schedule overlaps: a busy meeting on one calendar that collides with one on the other.

Only originals count: a copy of ours mirrors an event of the same calendar, and a twin is the
same meeting. Free, declined and cancelled events never block time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.core import identity
from app.core.model import Event, Response, ShowAs, Status, TimeSpan
from app.core.planner import Link, Origin
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
    known: Mapping[Side, Iterable[Event]],
    links: Iterable[Link],
    owners: Mapping[Side, str | None],
) -> list[Overlap]:
    """Overlaps between events changed this run and the other calendar's known events."""
    twins = {(lk.a_id, lk.b_id) for lk in links if lk.origin is Origin.TWIN}
    found: dict[tuple[str, str], Overlap] = {}
    for side in (Side.A, Side.B):
        others = [o for o in known[side.other] if _blocks_time(o, owners[side.other])]
        for ev in changed[side]:
            if ev.ref is None or not _blocks_time(ev, owners[side]):
                continue
            assert isinstance(ev.when, TimeSpan)
            for o in others:
                assert isinstance(o.when, TimeSpan) and o.ref is not None
                if not (ev.when.start < o.when.end and o.when.start < ev.when.end):
                    continue
                a, b = (ev, o) if side is Side.A else (o, ev)
                assert a.ref is not None and b.ref is not None
                key = (a.ref.event_id, b.ref.event_id)
                if key in twins:
                    continue
                start = max(ev.when.start, o.when.start).astimezone(dt.UTC)
                found[key] = Overlap(key[0], key[1], a.title, b.title, start)
    return list(found.values())
