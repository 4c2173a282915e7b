"""The decision table: last synced state x side A x side B -> actions (ARCHITECTURE.md).

Pure: no I/O. The engine gathers what each side reported, calls ``plan`` and applies the actions
one by one, committing each outcome in its own transaction. Principles:

- "Changed" means the etag moved AND the synced view differs from the snapshot, so server churn
  is never a change.
- Only an explicit deletion is a deletion. Absence from a read is not (the engine confirms
  absences by id before they reach the planner): no "empty read" can delete anything.
- A copy is recognised by its tag (or the tag inside its id/transactionId) and linked, never
  copied back; a tag that points at an origin already linked elsewhere is a pasted duplicate,
  which becomes an origin of its own and never causes the original's deletion.
- One-way pairs keep copies equal to their origins; two-way pairs merge field by field and
  apply the conflict policy where the same field changed on both sides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.core import fingerprint, identity
from app.core.evolve import evolve
from app.core.fingerprint import Fingerprint, view_hash
from app.core.model import Event, Status, TimeSpan, content_dict
from app.core.recurrence import RecurrenceError, expand
from app.core.rules import ConflictPolicy, PairRules, Side
from app.core.stored import Stored, decode_event, decode_mapping


class Origin(StrEnum):
    A = "a"
    B = "b"
    TWIN = "twin"  # the same meeting on both calendars (same iCalUID): linked, never copied


@dataclass(frozen=True)
class Link:
    id: int | None
    origin: Origin
    a_id: str
    b_id: str
    a_etag: str | None
    b_etag: str | None
    # The store passes these three as their JSON text; each is decoded when first read, since a
    # run reads the snapshots of the few links that changed only (app/core/stored.py). The
    # descriptors belong to the class, not to an instance (hence the noqa).
    view: Stored[Mapping[str, Any]] = Stored(decode_mapping)  # noqa: RUF009
    # The last known full events, to write back without a re-read.
    a_event: Stored[Event | None] = Stored(decode_event, None)  # noqa: RUF009
    b_event: Stored[Event | None] = Stored(decode_event, None)  # noqa: RUF009
    key_gen: int = 0

    def id_on(self, side: Side) -> str:
        return self.a_id if side is Side.A else self.b_id

    def etag_on(self, side: Side) -> str | None:
        return self.a_etag if side is Side.A else self.b_etag

    def event_on(self, side: Side) -> Event | None:
        return self.a_event if side is Side.A else self.b_event

    @property
    def view_hash(self) -> str:
        return view_hash(self.view)


@dataclass(frozen=True)
class SideRead:
    """What one side reported this run."""

    calendar_id: str
    events: Mapping[str, Event]  # changed events (every event in the window after a full read)
    deleted: frozenset[str] = frozenset()  # confirmed deletions (incl. confirmed absences)
    full: bool = False
    owner: str | None = None  # the calendar owner's address (for "declined" exclusions)


# A link's etag for a side whose write failed while the other side took the merged view:
# BEHIND + the etag it had. The next run writes the synced view there (core.planner._behind).
BEHIND = "!behind:"


class Kind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LINK = "link"
    RECORD = "record"
    UNLINK = "unlink"
    CONFLICT = "conflict"
    RETAG = "retag"


@dataclass(frozen=True)
class Action:
    kind: Kind
    side: Side | None = None  # where the write goes
    link: Link | None = None  # the link as it will be stored after success (None: removed)
    old_link_id: int | None = None
    event: Event | None = None  # what to write (create/update/retag)
    event_id: str | None = None  # update/delete/retag target
    etag: str | None = None  # precondition
    key: str | None = None  # create: idempotency key
    origin_event: Event | None = None  # create: the event the copy is made from
    reason: str = ""
    fields: tuple[str, ...] = ()  # conflict: the fields changed differently on both sides

    def describe(self) -> str:
        where = f" on {self.side.value}" if self.side else ""
        return f"{self.kind.value}{where}: {self.reason}"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    deletes: int = 0  # what the deletions remove, a series counting each of its occurrences

    def add(self, action: Action, weight: int = 1) -> None:
        self.actions.append(_stamped(action))
        if action.kind is Kind.DELETE:
            self.deletes += weight

    def count(self, kind: Kind) -> int:
        return sum(1 for a in self.actions if a.kind is kind)


def _stamped(action: Action) -> Action:
    """A write carries the fingerprint of the synced view it establishes (core.fingerprint),
    one generation newer than any known for the link, on either side or on this device."""
    lk, event = action.link, action.event
    if action.kind not in (Kind.CREATE, Kind.UPDATE) or lk is None or event is None:
        return action
    if event.status is Status.CANCELLED:
        return action  # a cancelled occurrence is not an event that keeps properties
    known = fingerprint.newest(*_synced_texts(lk), event.synced)
    awaits: dict[str, frozenset[str]] = {}
    other = action.side.other if action.side is not None else None
    there = lk.event_on(other) if other is not None and action.kind is Kind.UPDATE else None
    if other is not None and there is not None:
        # What the other side still has to receive in this generation (a merge).
        now = content_dict(there)
        awaits[other.value] = frozenset(f for f, v in lk.view.items() if now.get(f) != v)
    stamp = fingerprint.of_view(lk.view, (known.generation if known else 0) + 1, awaits)
    return evolve(action, event=evolve(event, synced=stamp.text()))


def _synced_texts(lk: Link) -> tuple[str | None, ...]:
    return tuple(e.synced if e is not None else None for e in (lk.a_event, lk.b_event))


def weight(event: Event | None, window: tuple[dt.datetime, dt.datetime]) -> int:
    """How many events a deletion of ``event`` removes from the window: a series counts its
    occurrences (the mass-delete guard's measure), anything else one."""
    if event is None or event.recurrence is None:
        return 1
    try:
        return max(1, len(expand(event.recurrence, event.when, window[0], window[1])))
    except RecurrenceError:
        return 1


@dataclass(frozen=True)
class Context:
    rules: PairRules
    a: SideRead
    b: SideRead
    window: tuple[dt.datetime, dt.datetime]
    open_conflicts: frozenset[int] = frozenset()  # link ids waiting for the person

    def read(self, side: Side) -> SideRead:
        return self.a if side is Side.A else self.b


def in_window(event: Event, window: tuple[dt.datetime, dt.datetime]) -> bool:
    if event.recurrence is not None:
        return True  # a series is judged by its occurrences, which the provider windows
    when = event.when
    if isinstance(when, TimeSpan):
        return when.end > window[0] and when.start < window[1]
    start = dt.datetime.combine(when.start, dt.time(), dt.UTC) - dt.timedelta(hours=14)
    end = dt.datetime.combine(when.end, dt.time(), dt.UTC) + dt.timedelta(hours=12)
    return end > window[0] and start < window[1]


def plan(ctx: Context, links: Iterable[Link]) -> Plan:
    out = Plan()
    links = list(links)
    by_side = {
        Side.A: {lk.a_id: lk for lk in links},
        Side.B: {lk.b_id: lk for lk in links},
    }
    for lk in links:
        _plan_link(ctx, lk, out)
    _plan_unlinked(ctx, by_side, out)
    _plan_exceptions(ctx, by_side, out)
    return out


# --- linked items --------------------------------------------------------------------------


def _changed(ctx: Context, lk: Link, side: Side) -> tuple[Event | None, bool, bool]:
    """(current event, changed, deleted) of a link's side."""
    read = ctx.read(side)
    eid = lk.id_on(side)
    if eid in read.deleted:
        return None, False, True
    cur = read.events.get(eid)
    if cur is None:
        return None, False, False
    if cur.status is Status.CANCELLED:
        return None, False, True
    stored = lk.etag_on(side)
    if stored is not None and stored.startswith(BEHIND):
        return cur, False, False  # judged by _edited_while_behind, against its old content
    changed = cur.etag != stored and view_hash(ctx.rules.view(cur)) != lk.view_hash
    return cur, changed, False


def _edited_while_behind(ctx: Context, lk: Link, side: Side, cur: Event | None) -> set[str] | None:
    """For a side whose write failed while the other side took the merged view (the engine
    stored its etag behind ``BEHIND``): the fields a person changed there since, compared with
    the content it had then (the link keeps that event), not with the view it never received.
    None when the side is not behind (or was not read)."""
    stored, then = lk.etag_on(side), lk.event_on(side)
    if cur is None or then is None or stored is None or not stored.startswith(BEHIND):
        return None
    if cur.etag == stored[len(BEHIND) :]:
        return set()  # untouched since
    now, before = ctx.rules.view(cur), ctx.rules.view(then)
    return {f for f in now if now[f] != before.get(f)}


def _newer_base(lk: Link, *current: Event | None) -> Fingerprint | None:
    """The fingerprint another device left on these events, if newer than what this device
    synced last (its snapshot): then changes are judged against it."""
    theirs = fingerprint.newest(*(e.synced for e in current if e is not None))
    mine = fingerprint.newest(*_synced_texts(lk))
    if theirs is not None and (mine is None or theirs.generation > mine.generation):
        return theirs
    return None


def _moved(
    ctx: Context, base: Fingerprint, event: Event, missed: frozenset[str] = frozenset()
) -> bool:
    view = ctx.rules.view(event)
    return any(base.moved(view, f) for f in view if f not in missed)


def _missed(base: Fingerprint, side: Side, *own: Event | None) -> frozenset[str]:
    """Fields a merge sent to ``side`` in ``base``'s generation that never arrived there."""
    mine = fingerprint.newest(*(e.synced for e in own if e is not None))
    return base.missed_by(side.value, mine)


def _plan_link(ctx: Context, lk: Link, out: Plan) -> None:
    a_cur, a_changed, a_del = _changed(ctx, lk, Side.A)
    b_cur, b_changed, b_del = _changed(ctx, lk, Side.B)
    if a_cur is None and b_cur is None and not a_del and not b_del:
        return  # nothing reported on either side
    base = _newer_base(lk, a_cur, b_cur)
    missed = {Side.A: frozenset[str](), Side.B: frozenset[str]()}
    if base is not None:
        # Another device synced since this one: what it established is the base.
        missed = {
            Side.A: _missed(base, Side.A, a_cur, lk.a_event),
            Side.B: _missed(base, Side.B, b_cur, lk.b_event),
        }
        a_changed = (
            a_cur is not None
            and a_cur.etag != lk.a_etag
            and _moved(ctx, base, a_cur, missed[Side.A])
        )
        b_changed = (
            b_cur is not None
            and b_cur.etag != lk.b_etag
            and _moved(ctx, base, b_cur, missed[Side.B])
        )
    if lk.id in ctx.open_conflicts:
        return  # both versions stay as they are until the person chooses
    if lk.origin is Origin.TWIN:
        if a_del or b_del:
            # Declining or deleting one invitation never removes the other one.
            out.add(Action(Kind.UNLINK, old_link_id=lk.id, reason="one twin was removed"))
        else:
            out.add(Action(Kind.RECORD, link=_refresh(ctx, lk, a_cur, b_cur), old_link_id=lk.id))
        return
    origin = Side(lk.origin.value)
    copy = origin.other
    cur = {Side.A: a_cur, Side.B: b_cur}
    changed = {Side.A: a_changed, Side.B: b_changed}
    deleted = {Side.A: a_del, Side.B: b_del}
    if not ctx.rules.direction.copies_from(origin):
        # The pair no longer copies this way (settings changed): forget the link, touch nothing.
        if a_del or b_del:
            out.add(Action(Kind.UNLINK, old_link_id=lk.id, reason="direction no longer copies it"))
        return
    two_way = ctx.rules.direction.copies_from(copy)
    o_event = cur[origin]
    if o_event is not None:
        why_not = ctx.rules.excluded(o_event, ctx.read(origin).owner)
        if why_not is not None:
            _delete(ctx, lk, copy, out, f"the original is now excluded: {why_not}")
            return
        if not in_window(o_event, ctx.window):
            return  # left the window: the copy is left alone (never deleted for that)

    if deleted[origin] and deleted[copy]:
        out.add(Action(Kind.UNLINK, old_link_id=lk.id, reason="deleted on both sides"))
        return
    if deleted[origin]:
        if two_way and changed[copy]:
            _recreate(ctx, lk, origin, from_side=copy, source=cur[copy], out=out)
        else:
            _delete(ctx, lk, copy, out, "the original was deleted")
        return
    if deleted[copy]:
        if two_way and not changed[origin]:
            _delete(ctx, lk, origin, out, "its copy was deleted on the other calendar")
        else:
            source = cur[origin] or lk.event_on(origin)
            if source is not None:
                _recreate(ctx, lk, copy, from_side=origin, source=source, out=out)
        return

    for side in (origin, copy):
        if not (side is copy or two_way):
            continue
        source = cur[side.other] or lk.event_on(side.other)
        edited = _edited_while_behind(ctx, lk, side, cur[side])
        if edited is not None and source is not None:
            # Our write there failed last time and the other side has the synced view: carry
            # it out, with any fields the person edited there since, on both sides.
            src = cur[side]
            assert src is not None
            merged = evolve(source, **{f: getattr(src, f) for f in edited})
            reason = "a write that failed is carried out"
            _write(ctx, lk, side, merged=merged, out=out, current=cur, reason=reason, both=True)
            return
    if (missed[Side.A] or missed[Side.B]) and a_cur is not None and b_cur is not None:
        # A merge of another device's reached one side only: finish it, with any edit since.
        _merge(ctx, lk, cur, out, base, missed)
        return
    if not changed[origin] and not changed[copy]:
        if (a_cur is not None and a_cur.etag != lk.a_etag) or (
            b_cur is not None and b_cur.etag != lk.b_etag
        ):
            record = _refresh(ctx, lk, a_cur, b_cur)
            if base is not None:
                # Another device's sync, adopted as this device's snapshot: its view too.
                seen = a_cur if a_cur is not None else b_cur
                assert seen is not None
                record = evolve(record, view=ctx.rules.view(seen))
            out.add(Action(Kind.RECORD, link=record, old_link_id=lk.id))
        return
    if not two_way:
        # One-way: the copy follows its origin; edits made to the copy are put back.
        source = cur[origin] or lk.event_on(origin)
        if source is not None:
            _write(ctx, lk, copy, merged=source, out=out, current=cur, reason="copy follows origin")
        return
    if changed[origin] != changed[copy]:
        winner = origin if changed[origin] else copy
        src = cur[winner]
        assert src is not None
        _write(
            ctx, lk, winner.other, merged=src, out=out, current=cur, reason=f"edited on {winner}"
        )
        return
    _merge(ctx, lk, cur, out, base)


def _refresh(ctx: Context, lk: Link, a_cur: Event | None, b_cur: Event | None) -> Link:
    return evolve(
        lk,
        a_etag=_etag(a_cur, lk.a_etag),
        b_etag=_etag(b_cur, lk.b_etag),
        a_event=_keep_synced(a_cur, lk.a_event),
        b_event=_keep_synced(b_cur, lk.b_event),
    )


def _keep_synced(current: Event | None, known: Event | None) -> Event | None:
    """The event read now, keeping the fingerprint known for it when the read left our
    properties out (Graph's delta): the snapshot must not forget its generation."""
    if current is None:
        return known
    if current.synced is None and known is not None and known.synced is not None:
        return evolve(current, synced=known.synced)
    return current


def _merge(
    ctx: Context,
    lk: Link,
    cur: dict[Side, Event | None],
    out: Plan,
    base: Fingerprint | None = None,
    missed: Mapping[Side, frozenset[str]] | None = None,
) -> None:
    """Field by field against the last synced view: the snapshot, or ``base`` when newer.
    ``missed``: fields a side never received from a merge (still old there, not edited)."""
    a, b = cur[Side.A], cur[Side.B]
    assert a is not None and b is not None
    va, vb = ctx.rules.view(a), ctx.rules.view(b)
    if va == vb:
        out.add(Action(Kind.RECORD, link=_linked(ctx, lk, a, b), old_link_id=lk.id))
        return
    snap = lk.view
    take: dict[str, Side] = {}
    clashes: list[str] = []
    for f in ctx.rules.synced_fields:
        if va.get(f) == vb.get(f):
            continue
        if base is not None:
            a_moved, b_moved = base.moved(va, f), base.moved(vb, f)
        else:
            a_moved, b_moved = va.get(f) != snap.get(f), vb.get(f) != snap.get(f)
        if missed and f in missed.get(Side.A, ()):
            a_moved, b_moved = False, True  # B has what A was to receive (or edited it since)
        elif missed and f in missed.get(Side.B, ()):
            a_moved, b_moved = True, False
        if a_moved and not b_moved:
            take[f] = Side.A
        elif b_moved and not a_moved:
            take[f] = Side.B
        else:
            clashes.append(f)
    if clashes:
        policy = ctx.rules.conflict_policy
        # (A link being recovered has no row yet to hang a question on: newest wins there.)
        if policy is ConflictPolicy.ASK and lk.id is not None:
            out.add(
                Action(
                    Kind.CONFLICT,
                    # Both current versions, for the person to choose from; the snapshot
                    # stays as it was until they do.
                    link=evolve(lk, a_event=a, b_event=b),
                    old_link_id=lk.id,
                    fields=tuple(clashes),
                    reason="the same field was changed on both calendars",
                )
            )
            return
        for f in clashes:
            take[f] = _policy_winner(policy, a, b)
    merged = evolve(a, **{f: getattr(b if take.get(f) is Side.B else a, f) for f in take})
    _write(ctx, lk, Side.A, merged=merged, out=out, current=cur, reason="merged", both=True)


def _policy_winner(policy: ConflictPolicy, a: Event, b: Event) -> Side:
    if policy is ConflictPolicy.A_WINS:
        return Side.A
    if policy is ConflictPolicy.B_WINS:
        return Side.B
    a_t, b_t = a.updated, b.updated
    if a_t is None or b_t is None:
        return Side.A if b_t is None else Side.B
    return Side.B if b_t > a_t else Side.A


def _write(
    ctx: Context,
    lk: Link,
    target: Side,
    *,
    merged: Event,
    out: Plan,
    current: dict[Side, Event | None],
    reason: str,
    both: bool = False,
) -> None:
    """Make ``target`` (and with ``both`` the other side too) show ``merged``'s synced view."""
    view = ctx.rules.view(merged)
    origin = Side(lk.origin.value)
    new_link = evolve(_refresh(ctx, lk, current[Side.A], current[Side.B]), view=view)
    wrote = False
    for side in (target, target.other) if both else (target,):
        base = current[side] or lk.event_on(side)
        if base is not None and ctx.rules.view(base) == view:
            continue
        if side is origin:
            if base is None:
                continue  # nothing known to write back onto (next read brings it)
            new_event = ctx.rules.apply_view(base, merged)
        else:
            source = ctx.rules.apply_view(current[origin] or lk.event_on(origin) or merged, merged)
            new_event = _render(ctx, origin, lk.id_on(origin), source)
            if base is not None and base.series_id is not None:
                # A modified occurrence stays one: its series and original start on that side.
                new_event = evolve(
                    new_event, series_id=base.series_id, original_start=base.original_start
                )
        out.add(
            Action(
                Kind.UPDATE,
                side=side,
                link=new_link,
                old_link_id=lk.id,
                event=new_event,
                event_id=lk.id_on(side),
                etag=_etag(current[side], lk.etag_on(side)),
                reason=reason,
            )
        )
        wrote = True
    if not wrote:  # (a flag, not a scan of the plan: that made planning quadratic)
        out.add(Action(Kind.RECORD, link=new_link, old_link_id=lk.id, reason=reason))


def _etag(event: Event | None, fallback: str | None) -> str | None:
    return event.etag if event is not None else fallback


def _linked(ctx: Context, lk: Link, a: Event, b: Event) -> Link:
    return evolve(
        lk,
        view=ctx.rules.view(a),
        a_etag=a.etag,
        b_etag=b.etag,
        a_event=_keep_synced(a, lk.a_event),
        b_event=_keep_synced(b, lk.b_event),
    )


def _delete(ctx: Context, lk: Link, side: Side, out: Plan, reason: str) -> None:
    event = lk.event_on(side)
    out.add(
        Action(
            Kind.DELETE,
            side=side,
            old_link_id=lk.id,
            event_id=lk.id_on(side),
            etag=None,  # the etag may have moved with an edit we did not read: delete anyway
            event=event,
            reason=reason,
        ),
        weight(event or lk.event_on(side.other), ctx.window),
    )


def _recreate(
    ctx: Context, lk: Link, target: Side, *, from_side: Side, source: Event | None, out: Plan
) -> None:
    if source is None:
        return
    origin_id = lk.id_on(from_side)
    tag = _tag(ctx, from_side, origin_id)
    gen = lk.key_gen + 1 if Origin(from_side.value) is lk.origin else 0
    out.add(
        Action(
            Kind.CREATE,
            side=target,
            old_link_id=lk.id,
            event=_render(ctx, from_side, origin_id, source),
            origin_event=source,
            key=identity.key_for(tag, min(gen, identity.MAX_GENERATION)),
            reason="re-created: the edit wins over the deletion",
            link=evolve(
                lk,
                id=lk.id,
                origin=Origin(from_side.value),
                key_gen=gen,
                view=ctx.rules.view(source),
            ),
        )
    )


# --- unlinked items -----------------------------------------------------------------------


def _unlinked(ctx: Context, side: Side, linked: dict[str, Link]) -> dict[str, Event]:
    return {
        eid: e
        for eid, e in ctx.read(side).events.items()
        if eid not in linked and e.status is not Status.CANCELLED and e.series_id is None
    }


def _plan_unlinked(ctx: Context, by_side: dict[Side, dict[str, Link]], out: Plan) -> None:
    """New events: our copies are claimed first, then twins; what is left is copied."""
    fresh = {side: _unlinked(ctx, side, by_side[side]) for side in (Side.A, Side.B)}
    claimed: set[tuple[Side, str]] = set()
    origins: dict[Side, dict[str, Event]] = {Side.A: {}, Side.B: {}}
    for side in (Side.A, Side.B):
        # Hashing every origin id is only needed when an unlinked event carries a tag.
        tagged = any(_tag_of(e) for e in fresh[side].values())
        tags_there = _origin_tags(ctx, side.other, side, by_side[side.other]) if tagged else {}
        for eid, event in fresh[side].items():
            own = _classify_tagged(ctx, side, eid, event, tags_there, by_side, out)
            if own is None:
                claimed.add((side, eid))
                if tag := _tag_of(event):
                    claimed.add((side.other, tags_there.get(tag, "")))
            else:
                origins[side][eid] = own
    b_by_uid = _by_uid(origins[Side.B])  # (an index: a scan per origin was quadratic)
    for a_id, a_ev in origins[Side.A].items():
        if (Side.A, a_id) in claimed:
            continue
        twin = _find_twin(a_ev, b_by_uid, claimed)
        if twin is not None:
            assert twin.ref is not None
            claimed |= {(Side.A, a_id), (Side.B, twin.ref.event_id)}
            out.add(_twin_link(ctx, a_ev, twin))
    for side in (Side.A, Side.B):
        for eid, event in origins[side].items():
            if (side, eid) not in claimed:
                _copy_new(ctx, side, eid, event, out)


def _tag(ctx: Context, origin: Side, origin_id: str) -> str:
    return identity.tag_for(
        ctx.read(origin).calendar_id, origin_id, ctx.read(origin.other).calendar_id
    )


def _render(ctx: Context, origin: Side, origin_id: str, source: Event) -> Event:
    """The copy of ``source`` (living on ``origin``) as the other side gets it."""
    tag = identity.provenance(_tag(ctx, origin, origin_id), origin_id)
    return ctx.rules.render_copy(source, tag)


def _tag_of(event: Event) -> str | None:
    """The tag of one of our copies (from its key or its tag property), else None."""
    return identity.tag_from_key(event.created_key) or identity.split_provenance(event.tag)[0]


def _classify_tagged(
    ctx: Context,
    side: Side,
    eid: str,
    event: Event,
    tags_there: dict[str, str],
    by_side: dict[Side, dict[str, Link]],
    out: Plan,
) -> Event | None:
    """Handle an unlinked event that carries our tag; returns it back if it is an origin."""
    key_tag = identity.tag_from_key(event.created_key)
    tag = _tag_of(event)
    if tag is None:
        return event
    if tag not in tags_there:
        _, origin_id = identity.split_provenance(event.tag)
        if origin_id is not None and origin_id in ctx.read(side.other).deleted:
            # A copy whose origin is gone, found by a device with no link for it (a second
            # laptop, a rebuilt database): the deletion reaches it too.
            out.add(
                Action(
                    Kind.DELETE,
                    side=side,
                    event_id=eid,
                    event=event,
                    reason="its original was deleted",
                )
            )
        return None  # a copy whose origin we do not see: never copy a copy
    origin_id = tags_there[tag]
    lk = by_side[side.other].get(origin_id)
    if lk is None:
        # Our copy whose link was lost (a crash between write and commit, a rebuilt database,
        # another device): link it, never copy it back.
        _recovered(ctx, side, eid, event, origin_id, out)
        return None
    if lk.id_on(side) == eid:
        return None
    if key_tag is not None:
        # A second copy made by Meridian itself (two devices raced past the cloud's
        # idempotency): remove the extra one; the linked copy stays.
        out.add(
            Action(
                Kind.DELETE,
                side=side,
                event_id=eid,
                event=event,
                reason="a second copy of the same event",
            )
        )
        return None
    # A pasted duplicate of a copy: an event of its own, with the tag removed so it can never
    # be mistaken for the copy (or cause the original's deletion).
    own = evolve(event, tag=None)
    out.add(
        Action(
            Kind.RETAG,
            side=side,
            event=own,
            event_id=eid,
            etag=event.etag,
            reason="a pasted copy becomes an event of its own",
        )
    )
    return own


def _twin_link(ctx: Context, a_ev: Event, b_ev: Event) -> Action:
    assert a_ev.ref is not None and b_ev.ref is not None
    return Action(
        Kind.LINK,
        link=Link(
            None,
            Origin.TWIN,
            a_ev.ref.event_id,
            b_ev.ref.event_id,
            a_ev.etag,
            b_ev.etag,
            ctx.rules.view(a_ev),
            a_ev,
            b_ev,
        ),
        reason="the same meeting is on both calendars",
    )


def _origin_tags(
    ctx: Context, origin: Side, target: Side, linked: dict[str, Link]
) -> dict[str, str]:
    """tag -> origin id for every origin we know on ``origin`` (linked or just read)."""
    o_cal, t_cal = ctx.read(origin).calendar_id, ctx.read(target).calendar_id
    ids = set(ctx.read(origin).events) | set(linked)
    return {identity.tag_for(o_cal, i, t_cal): i for i in ids}


def _by_uid(candidates: dict[str, Event]) -> dict[str, list[tuple[str, Event]]]:
    """Candidates by lower-cased iCalendar UID, each list in the candidates' order."""
    out: dict[str, list[tuple[str, Event]]] = {}
    for oid, candidate in candidates.items():
        if candidate.ical_uid:
            out.setdefault(candidate.ical_uid.lower(), []).append((oid, candidate))
    return out


def _find_twin(
    event: Event, by_uid: dict[str, list[tuple[str, Event]]], claimed: set[tuple[Side, str]]
) -> Event | None:
    if not event.ical_uid:
        return None
    for oid, candidate in by_uid.get(event.ical_uid.lower(), ()):
        if (Side.B, oid) not in claimed:
            return candidate
    return None


def _recovered(ctx: Context, side: Side, eid: str, copy: Event, origin_id: str, out: Plan) -> None:
    """Link our copy found without a link, and bring the two up to date if they differ.

    There is no snapshot for such a pair. In a two-way pair the fingerprint on the events (the
    last synced view, core.fingerprint) gives a field-level merge; without one the side
    modified last wins (in a one-way pair, always the origin): after a crash the origin moved
    on since the copy was written; on a fresh device the person may have edited the copy since.
    """
    origin = side.other
    o_event = ctx.read(origin).events.get(origin_id)
    a_id, b_id = (eid, origin_id) if side is Side.A else (origin_id, eid)
    a_ev, b_ev = (copy, o_event) if side is Side.A else (o_event, copy)
    # An origin not read this run gets no etag: its next appearance is compared by content.
    link = Link(
        None,
        Origin(origin.value),
        a_id,
        b_id,
        a_ev.etag if a_ev else None,
        b_ev.etag if b_ev else None,
        ctx.rules.view(copy),
        a_ev,
        b_ev,
    )
    reason = "found our copy (after a crash, a rebuild or another device)"
    if o_event is None or ctx.rules.view(o_event) == link.view:
        out.add(Action(Kind.LINK, link=link, reason=reason))
        return
    base = fingerprint.newest(copy.synced, o_event.synced)
    if base is not None and ctx.rules.direction.copies_from(side):
        # The last synced view travels on the events: merge field by field against it, as if
        # the snapshot had never been lost.
        missed = {s: _missed(base, s, a_ev if s is Side.A else b_ev) for s in Side}
        _merge(ctx, link, {Side.A: a_ev, Side.B: b_ev}, out, base, missed)
        return
    copy_newer = (
        copy.updated is not None and o_event.updated is not None and copy.updated > o_event.updated
    )
    if copy_newer and ctx.rules.direction.copies_from(side):
        out.add(
            Action(
                Kind.UPDATE,
                side=origin,
                link=link,
                event=ctx.rules.apply_view(o_event, copy),
                event_id=origin_id,
                etag=o_event.etag,
                reason=reason + "; its newer edit goes back to the original",
            )
        )
        return
    out.add(
        Action(
            Kind.UPDATE,
            side=side,
            link=evolve(link, view=ctx.rules.view(o_event)),
            event=_render(ctx, origin, origin_id, o_event),
            event_id=eid,
            etag=copy.etag,
            reason=reason + "; brought up to date",
        )
    )


def _copy_new(ctx: Context, side: Side, eid: str, event: Event, out: Plan) -> None:
    if not ctx.rules.direction.copies_from(side):
        return
    if ctx.rules.excluded(event, ctx.read(side).owner) is not None:
        return
    if not in_window(event, ctx.window):
        return
    out.add(_create_copy(ctx, side, eid, event, "new event"))


def _create_copy(
    ctx: Context, side: Side, eid: str, origin: Event, reason: str, **also: Any
) -> Action:
    """Create the copy of ``origin`` (living on ``side``, with ``also`` set) on the other side,
    and link them."""
    a_id, b_id = (eid, "") if side is Side.A else ("", eid)
    on_a = side is Side.A
    tag = _tag(ctx, side, eid)  # (once: the copy's tag property and its key both hold it)
    copy = ctx.rules.render_copy(origin, identity.provenance(tag, eid))
    return Action(
        Kind.CREATE,
        side=side.other,
        event=evolve(copy, **also) if also else copy,
        origin_event=origin,
        key=identity.key_for(tag, 0),
        reason=reason,
        link=Link(
            None,
            Origin(side.value),
            a_id,
            b_id,
            origin.etag if on_a else None,
            None if on_a else origin.etag,
            ctx.rules.view(origin),
            origin if on_a else None,
            None if on_a else origin,
        ),
    )


# --- modified occurrences of series ---------------------------------------------------------


def plan_exceptions(ctx: Context, links: Iterable[Link]) -> Plan:
    """Only the modified occurrences: the engine calls this again once a run's new series are
    linked, so their occurrences are copied in the same run (they are not read again later)."""
    links = list(links)
    out = Plan()
    _plan_exceptions(
        ctx, {Side.A: {lk.a_id: lk for lk in links}, Side.B: {lk.b_id: lk for lk in links}}, out
    )
    return out


def _plan_exceptions(ctx: Context, by_side: dict[Side, dict[str, Link]], out: Plan) -> None:
    """Pair modified occurrences by (linked series, original start in UTC); copy the rest.

    Cancelled occurrences need nothing here: both providers fold them into the master's
    EXDATEs, so a cancellation travels with the master.
    """
    claimed: set[tuple[Side, str]] = set()
    for side in (Side.A, Side.B):
        other = side.other
        for eid, ev in ctx.read(side).events.items():
            if (
                ev.series_id is None
                or ev.original_start is None
                or ev.status is Status.CANCELLED
                or eid in by_side[side]
                or (side, eid) in claimed
            ):
                continue
            master = by_side[side].get(ev.series_id)
            if master is None:
                continue  # its series is not linked yet: it comes with the series next run
            twin_id = master.id_on(other)
            twin = next(
                (
                    (oid, o)
                    for oid, o in ctx.read(other).events.items()
                    if o.series_id == twin_id
                    and _same_start(o.original_start, ev.original_start)
                    and o.status is not Status.CANCELLED
                    and oid not in by_side[other]
                ),
                None,
            )
            origin = Side(master.origin.value) if master.origin is not Origin.TWIN else side
            if twin is not None:
                oid, o = twin
                claimed |= {(side, eid), (other, oid)}
                a_ev, b_ev = (ev, o) if side is Side.A else (o, ev)
                assert a_ev.ref is not None and b_ev.ref is not None
                newer = ev if (ev.updated or _EPOCH) >= (o.updated or _EPOCH) else o
                link = Link(
                    None,
                    Origin(origin.value),
                    a_ev.ref.event_id,
                    b_ev.ref.event_id,
                    a_ev.etag,
                    b_ev.etag,
                    ctx.rules.view(newer),
                    a_ev,
                    b_ev,
                )
                out.add(Action(Kind.LINK, link=link, reason="the same occurrence on both sides"))
                if ctx.rules.view(ev) != ctx.rules.view(o):
                    target, src = (other, ev) if newer is ev else (side, o)
                    tgt = o if target is other else ev
                    assert tgt.ref is not None
                    out.add(
                        Action(
                            Kind.UPDATE,
                            side=target,
                            link=link,
                            event=ctx.rules.apply_view(tgt, src),
                            event_id=tgt.ref.event_id,
                            etag=tgt.etag,
                            reason="a moved or edited occurrence",
                        )
                    )
                continue
            if not ctx.rules.direction.copies_from(side) or not in_window(ev, ctx.window):
                continue
            claimed.add((side, eid))
            why = "a moved or edited occurrence"
            start = ev.original_start
            out.add(_create_copy(ctx, side, eid, ev, why, series_id=twin_id, original_start=start))


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _same_start(x: dt.datetime | dt.date | None, y: dt.datetime | dt.date | None) -> bool:
    if isinstance(x, dt.datetime) and isinstance(y, dt.datetime):
        return x.astimezone(dt.UTC) == y.astimezone(dt.UTC)
    return x == y
