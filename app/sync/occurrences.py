"""Series the other calendar cannot hold travel as their occurrences (issue 5, api-spec §3.3).

Outlook holds fewer repeat rules than Google: "every Feb 29", extra dates (RDATE), several days
of the month... Such a series is not written as a series (Graph would refuse it, or worse, hold
a different one). Instead each of its occurrences inside the window is read from its own cloud,
where it has an id of its own (Google: the series id and the original start), and travels as a
single event, linked by that id:

- a change of the series reaches every occurrence copy (the series is read again, and each
  occurrence compares as usual); an occurrence that disappears (a new rule, a cancellation)
  takes its copy with it; deleting the series deletes them all;
- in a two-way pair an edit of one copy becomes an exception on the origin side (an edited
  occurrence), and deleting a copy cancels that occurrence;
- the series gets a visible notice, kind ``occurrences``, saying why and what to expect; it goes
  away when the series is deleted or changed into one the other calendar can hold (whose copy
  then replaces the single ones).

The window slides daily with a full read, which lists every master, so occurrences that enter
the window are copied then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field, replace

from app.core.model import Event, Status, TimeSpan
from app.core.planner import Link
from app.core.rules import Side
from app.providers.base import CalendarProvider, Window

NOTICE = "occurrences"  # the issue kind that tells the person, one per series
SERIES_PROBLEM = "series"  # the issue kind of an occurrence whose series is gone
SERIES_NOTES = (NOTICE, SERIES_PROBLEM)  # they stay while the series is as it is
ORPHAN = "An occurrence without its series"
ORPHAN_MESSAGE = (
    "This changed occurrence belongs to a series that no longer exists, so it is not copied. "
    "Delete it, or make it an event of its own, where it was made."
)


@dataclass
class Expansion:
    """What one side's read became: the notices to show and the series to read again."""

    notices: dict[str, str] = field(default_factory=dict)  # series id -> why, in words
    held: set[str] = field(default_factory=set)  # series ids whose occurrences could not be read
    ended: set[str] = field(default_factory=set)  # series no longer copied as occurrences
    # Items to list for the person: id -> (title, message). The rest of the read syncs.
    problems: dict[str, tuple[str, str]] = field(default_factory=dict)


def expand(
    source: CalendarProvider,
    calendar_id: str,
    target: CalendarProvider,
    side: Side,
    events: MutableMapping[str, Event],
    deleted: set[str],
    links: Sequence[Link],
    window: Window,
    noticed: Iterable[str] = (),
) -> Expansion:
    """Replace, in one side's read, each series ``target`` cannot hold by its occurrences.

    ``noticed``: the series whose notice is open, i.e. copied as occurrences until now.
    Mutates ``events`` and ``deleted``.
    """
    out = Expansion()
    noticed = set(noticed)
    if not events and not noticed & deleted:
        return out  # a quiet run
    linked = {lk.id_on(side): lk for lk in links}
    masters: dict[str, str] = {}
    # An occurrence edited alone: read its series' occurrences again (known ones without
    # asking); any other exception whose series we do not know is asked for.
    orphans: set[str] = set()
    for e in events.values():
        if e.series_id and e.series_id not in events and e.series_id not in linked:
            if e.series_id in noticed:
                masters[e.series_id] = ""
            else:
                orphans.add(e.series_id)
    fetched = source.get_events(calendar_id, sorted(orphans)) if orphans else {}
    for eid, ev in list(events.items()):
        if ev.series_id in fetched and fetched[ev.series_id] is None:
            del events[eid]  # never copied: an occurrence of nothing
            out.problems[eid] = (ORPHAN, ORPHAN_MESSAGE)
    for eid, ev in [*events.items(), *((k, v) for k, v in fetched.items() if v is not None)]:
        if ev.recurrence is None or ev.status is Status.CANCELLED:
            continue
        why = target.cannot_hold(ev)
        if why:
            masters[eid] = why
        elif eid in noticed:
            out.ended.add(eid)  # changed into a series the other side holds: copied as one
    out.ended |= noticed & deleted
    if not masters and not out.ended:
        return out  # (the common case: no pass over the links)
    members: dict[str, list[str]] = {}
    for eid in linked:
        series = source.occurrence_of(eid)
        if series is not None:
            members.setdefault(series, []).append(eid)
    for series in out.ended:
        deleted.update(members.get(series, ()))
    if not masters:
        return out
    found = source.occurrences(calendar_id, sorted(masters), window)
    exceptions: dict[str, list[str]] = {}
    for eid, ev in events.items():
        if ev.series_id in masters:
            exceptions.setdefault(ev.series_id, []).append(eid)
    for series, why in masters.items():
        events.pop(series, None)
        for eid in exceptions.get(series, ()):
            del events[eid]  # they come again among the occurrences
        if series not in found:
            out.held.add(series)  # an unclear answer: read again next run, change nothing now
            continue
        occurrences = found[series]
        if occurrences is None:  # the series is gone
            deleted.update(members.get(series, ()))
            out.ended.add(series)
            continue
        current = {o.ref.event_id: single(o) for o in occurrences if o.ref is not None}
        events.update(current)
        if series in linked:
            # Copied as a series until its rule changed: that copy (and its exceptions' copies)
            # make way for the occurrences.
            deleted.add(series)
            deleted.update(members.get(series, ()))
        else:
            deleted.update(
                eid
                for eid in members.get(series, ())
                if eid not in current and _inside(linked[eid], side, window)
            )
        if why:
            out.notices[series] = why
    return out


def strip(events: MutableMapping[str, Event], series: Iterable[str]) -> None:
    """Occurrences fetched by id come back as members of their series: make them single."""
    wanted = set(series)
    for eid, ev in list(events.items()):
        if ev.series_id in wanted:
            events[eid] = single(ev)


def single(occurrence: Event) -> Event:
    """An occurrence as a single event: no series, no original start, and no iCalUID (every
    occurrence shares the series' one, which would make them all twins of one meeting)."""
    return replace(occurrence, series_id=None, original_start=None, ical_uid=None, recurrence=None)


def notice(why: str, window: Window) -> str:
    until = (window.end - dt.timedelta(days=1)).date().isoformat()
    return (
        f"{why}. Its occurrences up to {until} are copied one by one instead, and follow the "
        "series as it changes. To change the whole series, change it where it was made."
    )


def _inside(lk: Link, side: Side, window: Window) -> bool:
    """Whether a linked occurrence lies in the window (one that slid out is kept, not deleted)."""
    ev: Event | None = lk.event_on(side)
    if ev is None:
        return True
    when = ev.when
    if isinstance(when, TimeSpan):
        return when.end > window.start and when.start < window.end
    lo = dt.datetime.combine(when.start, dt.time(), dt.UTC)
    return lo + dt.timedelta(days=1) > window.start and lo < window.end
