"""Runs one pair: read both sides, guard, plan, apply, commit.

The order of commits is what makes a crash harmless: the outcomes of each provider batch are
committed in one transaction right after its writes (each item's whole or not at all), and the
change cursors advance only after every item of the run has been committed or recorded as an
issue. A crash anywhere therefore replays some reads,
and the planner recognises what was already written (copy tags, idempotency keys), so nothing is
created twice and no edit is lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from app.core import fingerprint, identity
from app.core.evolve import evolve
from app.core.model import Event
from app.core.planner import (
    BEHIND,
    Action,
    Context,
    Kind,
    Link,
    Origin,
    Plan,
    SideRead,
    plan,
    plan_exceptions,
    weight,
)
from app.core.rules import PairRules, Side
from app.core.serialize import event_to_json
from app.errors import (
    AlreadyExists,
    CursorExpired,
    ItemError,
    NotFound,
    PreconditionFailed,
    ProviderError,
)
from app.providers.base import CalendarProvider, Changes, Window, WriteOp, WriteResult
from app.store.repo import IssueRow, Repo
from app.sync import occurrences, overlaps

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # an item that failed this often is shown, no longer retried by itself
BOOKKEEPING_PER_TX = 100  # links recorded per transaction
RETRY = "retry"  # an invisible marker: read this item again next run
EMPTY_READ_MIN_LINKS = 3
SHRINK_MIN_LINKS = 10
SHRINK_SHARE = 0.5


@dataclass(frozen=True)
class SideSpec:
    provider: CalendarProvider
    calendar_id: str
    owner: str | None = None


@dataclass(frozen=True)
class PairSpec:
    id: str
    name: str
    rules: PairRules
    a: SideSpec
    b: SideSpec

    def side(self, side: Side) -> SideSpec:
        return self.a if side is Side.A else self.b


@dataclass
class RunResult:
    pair_id: str
    status: str = "ok"  # ok | held | dry-run
    counts: Counter[str] = field(default_factory=Counter)
    requests: dict[str, int] = field(default_factory=dict)
    message: str = ""
    plan: Plan | None = None

    def as_dict(self) -> dict[str, Any]:
        keys = (
            "created",
            "updated",
            "deleted",
            "linked",
            "conflicts",
            "overlaps",
            "skipped",
            "errors",
        )
        return {
            "pair": self.pair_id,
            "status": self.status,
            "message": self.message,
            **{k: self.counts.get(k, 0) for k in keys},
            "requests": self.requests,
        }


class Engine:
    def __init__(self, repo: Repo, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.repo = repo
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        repo.clock = self.clock  # retries fall due by the clock that checks them

    def run(self, spec: PairSpec, *, dry_run: bool = False) -> RunResult:
        result = RunResult(spec.id)
        before = {s: spec.side(s).provider.stats.requests for s in Side}
        run_id = None if dry_run else self.repo.start_run(spec.id)
        try:
            self._run(spec, result, dry_run)
        except Exception as exc:
            result.status = "failed"
            result.message = str(exc)
            raise
        finally:
            result.requests = {
                s.value: spec.side(s).provider.stats.requests - before[s] for s in Side
            }
            if run_id is not None:
                self.repo.finish_run(
                    run_id,
                    result.status,
                    dict(result.counts),
                    result.requests,
                    result.message or None,
                )
        return result

    # --- the run -------------------------------------------------------------------------------

    def _run(self, spec: PairSpec, result: RunResult, dry_run: bool) -> None:
        waiting = self.repo.open_hold(spec.id)
        if waiting is not None:
            result.status = "held"
            result.message = waiting["reason"]
            return
        # The person's answer to the last hold applies to this one run: "approve" lets the
        # held deletions (or the suspicious read) through, "refuse" keeps every event.
        decided = self.repo.decided_hold(spec.id)
        decision = decided["decision"] if decided else None
        start, end = spec.rules.window(self.clock())
        window = Window(start, end)
        links = self.repo.links(spec.id)
        changes = self._changes(spec, window)
        reads: dict[Side, SideRead] = {}
        cursors: dict[Side, str] = {}
        for side in Side:
            reads[side], cursors[side] = self._read(
                spec, side, window, links, result, changes[side]
            )
        self._confirm_origins(spec, reads, links)
        self._read_fingerprints(spec, reads, links)
        held = "" if decision else self._suspicious(spec, reads, links)
        if held:
            result.status = "held"
            result.message = held
            if not dry_run:
                self.repo.add_hold(spec.id, held, {"links": len(links)})
            return
        ctx = Context(
            spec.rules,
            reads[Side.A],
            reads[Side.B],
            (start, end),
            self.repo.open_conflict_links(spec.id),
        )
        the_plan = plan(ctx, links)
        result.plan = the_plan
        if dry_run:
            result.status = "dry-run"
            for action in the_plan.actions:
                result.counts[_COUNT_NAME[action.kind]] += 1
            return
        if decision is None and self._too_many_deletes(spec, the_plan, links, (start, end)):
            result.status = "held"
            result.message = (
                f"This sync would delete {the_plan.deletes} events (a series counts each "
                "occurrence). Nothing was changed; confirm or refuse the deletions to go on."
            )
            self.repo.add_hold(
                spec.id,
                result.message,
                {"deletes": [a.event_id for a in the_plan.actions if a.kind is Kind.DELETE]},
            )
            return
        if decided is not None:
            self.repo.decide_hold(decided["id"], f"{decision}:applied")
            if decision == "refuse":
                the_plan.actions = [
                    replace(a, kind=Kind.UNLINK) if a.kind is Kind.DELETE else a
                    for a in the_plan.actions
                ]
        self._apply(spec, the_plan, result)
        if the_plan.actions:
            links = self.repo.links(spec.id)  # cheap: snapshots are decoded only when read
        if any(a.kind in (Kind.CREATE, Kind.LINK) and a.event_id is None for a in the_plan.actions):
            # Series linked in this run: their modified occurrences, read this run, follow now.
            extra = plan_exceptions(ctx, links)
            self._apply(spec, extra, result)
            if extra.actions:
                links = self.repo.links(spec.id)
        self._record_overlaps(spec, reads, links, result)
        for side in Side:
            self.repo.set_cursor(spec.id, side, cursors[side])

    def _changes(self, spec: PairSpec, window: Window) -> dict[Side, Changes]:
        """Both sides' changes since their cursors. Each side waits on its own cloud, so where
        both providers allow it the two reads run at the same time (one round trip of waiting
        instead of two). Should both fail, side A's error is the one raised, as before."""
        # The window slides at midnight UTC. Graph's delta link keeps the window it began with,
        # and neither cloud reports an unchanged event the window has just reached: so the
        # first run of each day reads the whole window again (links exist, nothing is copied
        # twice) and the cursor remembers which day it belongs to.
        day = window.start.date().isoformat()
        cursors: dict[Side, str | None] = {}
        for side in Side:
            stored_day, _, stored = (self.repo.cursor(spec.id, side) or "").partition("|")
            cursors[side] = stored if stored_day == day and stored else None

        def read(side: Side) -> Changes:
            s = spec.side(side)
            try:
                return s.provider.read_changes(s.calendar_id, cursors[side], window)
            except CursorExpired:
                log.info("pair %s side %s: cursor expired, reading everything", spec.name, side)
                return s.provider.read_changes(s.calendar_id, None, window)

        if not all(spec.side(side).provider.reads_concurrently for side in Side):
            return {side: read(side) for side in Side}
        with ThreadPoolExecutor(1, thread_name_prefix="read") as pool:
            other = pool.submit(read, Side.B)
            mine = read(Side.A)  # on an error, leaving the block still waits for the other
            return {Side.A: mine, Side.B: other.result()}

    def _read(
        self,
        spec: PairSpec,
        side: Side,
        window: Window,
        links: Sequence[Link],
        result: RunResult,
        changes: Changes,
    ) -> tuple[SideRead, str]:
        s = spec.side(side)
        day = window.start.date().isoformat()
        events: dict[str, Event] = {e.ref.event_id: e for e in changes.events if e.ref is not None}
        deleted = set(changes.deleted)
        for skipped in changes.skipped:
            result.counts["skipped"] += 1
            self.repo.record_issue(
                spec.id,
                side.value,
                skipped.event_id,
                "unreadable",
                "An event could not be read",
                skipped.reason,
            )
        # Items that failed before are fetched again (with backoff) so their change is not lost:
        # on both sides of the link, since the change being carried may have come from either
        # (and that side's cursor has already moved past it).
        now = self.clock().isoformat()
        open_issues = self.repo.issues(spec.id)
        pending = [i for i in open_issues if i.kind in ("write", RETRY)]
        due = {
            (i.side, i.item_id)
            for i in pending
            if i.attempts < MAX_ATTEMPTS and (i.next_retry is None or i.next_retry <= now)
        }
        wanted = {item for s_, item in due if s_ == side.value}
        if due:  # (no pass over every link when nothing is due)
            there = side.other
            wanted |= {lk.id_on(side) for lk in links if (there.value, lk.id_on(there)) in due}
        retry = [i for i in wanted if i and i not in events]
        if s.provider.changes_lack_properties and events:
            # Copies someone else changed (not our own writes coming back: those have the etag
            # the link stored) are read again in full, so they compare field by field.
            etags = {lk.id_on(side): lk.etag_on(side) for lk in links}
            stale = [
                eid
                for eid, ev in events.items()
                if identity.tag_from_key(ev.created_key) and etags.get(eid) != ev.etag
            ]
            if stale:
                for eid, full in s.provider.get_events(s.calendar_id, stale).items():
                    if full is not None:
                        events[eid] = full
        expanded = self._expand_series(spec, side, window, links, events, deleted, open_issues)
        absent: list[str] = []
        if changes.full:
            # Not being listed is not being deleted: confirm each absence by id.
            linked_ids = {lk.id_on(side) for lk in links}
            absent = [i for i in linked_ids if i not in events and i not in deleted]
        for marker in pending:
            # A retry marker has done its job once its item is read again (a failure again
            # leaves a new one); issues the person sees stay until the write succeeds.
            if marker.kind == RETRY and marker.side == side.value and marker.item_id in wanted:
                self.repo.resolve_issue(marker.id)
        if retry or absent:
            for eid, ev in s.provider.get_events(s.calendar_id, [*retry, *absent]).items():
                if ev is None:
                    deleted.add(eid)  # asked by id and gone: an explicit deletion
                elif eid in retry:
                    events[eid] = ev
        occurrences.strip(events, expanded)
        read = SideRead(s.calendar_id, events, frozenset(deleted), changes.full, s.owner)
        return read, f"{day}|{changes.cursor}"

    def _expand_series(
        self,
        spec: PairSpec,
        side: Side,
        window: Window,
        links: Sequence[Link],
        events: dict[str, Event],
        deleted: set[str],
        open_issues: Sequence[IssueRow],
    ) -> set[str]:
        """Series the other side cannot hold become their occurrences (app/sync/occurrences.py);
        returns the series copied that way."""
        if not spec.rules.direction.copies_from(side):
            return set()
        s, target = spec.side(side), spec.side(side.other).provider
        notices = {
            i.item_id: i
            for i in open_issues
            if i.kind == occurrences.NOTICE and i.side == side.value
        }
        try:
            got = occurrences.expand(
                s.provider, s.calendar_id, target, side, events, deleted, links, window, notices
            )
        except NotImplementedError:
            return set()  # a cloud that holds every rule the other side has
        for series, why in got.notices.items():
            if series not in notices:
                self.repo.record_issue(
                    spec.id,
                    side.value,
                    series,
                    occurrences.NOTICE,
                    "Copied as separate events",
                    occurrences.notice(why, window),
                )
        for eid, (title, message) in got.problems.items():
            self.repo.record_issue(
                spec.id, side.value, eid, occurrences.SERIES_PROBLEM, title, message
            )
        for i in open_issues:
            # Read again (or gone) without the problem: the person fixed it.
            fixed = i.item_id in events or i.item_id in deleted
            if i.kind == occurrences.SERIES_PROBLEM and fixed and i.item_id not in got.problems:
                self.repo.resolve_issue(i.id)
        for series in got.ended & notices.keys():
            self.repo.resolve_issue(notices[series].id)
        for series in got.held:
            self.repo.record_issue(
                spec.id,
                side.value,
                series,
                RETRY,
                "Will be tried again",
                "occurrences",
                due_now=True,
            )
        return (notices.keys() | got.notices.keys()) - got.ended

    def _record_overlaps(
        self, spec: PairSpec, reads: dict[Side, SideRead], links: Sequence[Link], result: RunResult
    ) -> None:
        if not any(reads[side].events for side in Side):
            return  # nothing new or moved: no new overlap

        def known(side: Side) -> Iterator[Event]:
            """The side's events: as read this run, else as last stored for a link."""
            read = reads[side]
            for lk in links:
                # A copy mirrors an event of the other calendar: only origins (and twins) count,
                # so the copies' snapshots are never decoded.
                if lk.origin is not Origin.TWIN and lk.origin.value != side.value:
                    continue
                eid = lk.id_on(side)
                if eid not in read.events and eid not in read.deleted:
                    stored = lk.event_on(side)
                    if stored is not None:
                        yield stored
            yield from read.events.values()

        changed = {side: reads[side].events.values() for side in Side}
        twins = ((lk.a_id, lk.b_id) for lk in links if lk.origin is Origin.TWIN)
        owners = {side: reads[side].owner for side in Side}
        for o in overlaps.find(changed, known, twins, owners):
            if self.repo.add_overlap(spec.id, o.a_id, o.b_id, o.a_title, o.b_title, o.start):
                result.counts["overlaps"] += 1

    def _read_fingerprints(
        self, spec: PairSpec, reads: dict[Side, SideRead], links: Sequence[Link]
    ) -> None:
        """Events changed on both sides need their fingerprints (core.fingerprint): a second
        device may have synced them since; so do originals whose copy has no link here and
        differs. Graph's delta leaves our properties out, so those few are read again by id; a
        quiet run or a change on one side costs nothing."""
        a, b = reads[Side.A].events, reads[Side.B].events
        if not a or not b:
            return
        both = [lk for lk in links if lk.a_id in a and lk.b_id in b]
        for side in Side:
            s, read = spec.side(side), reads[side]
            if not s.provider.changes_lack_properties:
                continue
            ids = [lk.id_on(side) for lk in both]
            ids += self._awaited(side, reads, links)
            ids += self._unlinked_origins(spec, side, reads, links)
            wanted = [i for i in dict.fromkeys(ids) if read.events[i].synced is None]
            if not wanted:
                continue
            events = dict(read.events)
            for eid, full in s.provider.get_events(s.calendar_id, wanted).items():
                if full is not None:
                    events[eid] = full
            reads[side] = replace(read, events=events)

    @staticmethod
    def _awaited(side: Side, reads: dict[Side, SideRead], links: Sequence[Link]) -> list[str]:
        """Events on ``side`` that a merge on the other side says are to receive fields: whether
        they did shows only in their own fingerprint."""
        there = reads[side.other].events
        waiting = [
            eid
            for eid, ev in there.items()
            if ev.synced and (fp := fingerprint.parse(ev.synced)) and side.value in fp.awaits
        ]
        if not waiting:
            return []
        by_other = {lk.id_on(side.other): lk.id_on(side) for lk in links}
        out = []
        for eid in waiting:
            mine = by_other.get(eid) or identity.split_provenance(there[eid].tag)[1]
            if mine is not None and mine in reads[side].events:
                out.append(mine)
        return out

    @staticmethod
    def _unlinked_origins(
        spec: PairSpec, side: Side, reads: dict[Side, SideRead], links: Sequence[Link]
    ) -> list[str]:
        """Originals on ``side`` whose copy this device has no link for (a crash before the
        commit, a second device, a rebuilt database), where the two differ. The planner merges
        them against the newest fingerprint, and that may be the original's: say a sync put the
        copy's edit on the original and crashed before its commit, and the copy was edited
        again. Judged against the copy's older fingerprint, the original's value would look
        like an edit made there, and could win over the newer one."""
        mine, linked = reads[side].events, {lk.id_on(side) for lk in links}
        out = []
        for copy in reads[side.other].events.values():
            origin = identity.split_provenance(copy.tag)[1]
            if origin is None or origin in linked or origin not in mine:
                continue
            if spec.rules.view(copy) != spec.rules.view(mine[origin]):
                out.append(origin)
        return out

    def _confirm_origins(
        self, spec: PairSpec, reads: dict[Side, SideRead], links: Sequence[Link]
    ) -> None:
        """Look up, by id, the origins of copies we have no link for.

        A second device or a rebuilt database meets copies whose origin did not change (so is
        not in the read) or was deleted before this device ever saw it. Asking by id tells
        which: the planner then links the copy, or deletes it with its origin.
        """
        for side in Side:
            if not reads[side].events:
                continue  # nothing read: no pass over every link
            other = side.other
            linked_here = {lk.id_on(side) for lk in links}
            linked_there = {lk.id_on(other) for lk in links}
            there = reads[other]
            wanted: list[str] = []
            for eid, event in reads[side].events.items():
                tag, origin_id = identity.split_provenance(event.tag)
                if eid in linked_here or tag is None or origin_id is None:
                    continue
                if origin_id in there.events or origin_id in there.deleted:
                    continue
                if origin_id in linked_there:
                    continue
                if tag != identity.tag_for(there.calendar_id, origin_id, reads[side].calendar_id):
                    continue  # not a copy between these two calendars
                wanted.append(origin_id)
            if not wanted:
                continue
            s = spec.side(other)
            found = s.provider.get_events(s.calendar_id, wanted)
            events = dict(there.events)
            deleted = set(there.deleted)
            for origin_id, ev in found.items():
                if ev is None:
                    deleted.add(origin_id)
                else:
                    events[origin_id] = ev
            reads[other] = replace(there, events=events, deleted=frozenset(deleted))

    def _suspicious(
        self, spec: PairSpec, reads: dict[Side, SideRead], links: Sequence[Link]
    ) -> str:
        for side, read in reads.items():
            if not read.full:
                continue
            linked = len(links)
            present = len(read.events)
            name = "Outlook" if side is Side.A else "Google"
            if linked >= EMPTY_READ_MIN_LINKS and present == 0:
                return (
                    f"{name} answered with no events at all although {linked} are synced. "
                    "Nothing was changed. If the calendar really is empty, confirm to go on."
                )
            if linked >= SHRINK_MIN_LINKS and len(read.deleted) > linked * SHRINK_SHARE:
                return (
                    f"{name} reports {len(read.deleted)} of {linked} synced events as gone. "
                    "Nothing was changed; confirm or refuse the deletions to go on."
                )
        return ""

    @staticmethod
    def _too_many_deletes(
        spec: PairSpec,
        the_plan: Plan,
        links: Sequence[Link],
        window: tuple[dt.datetime, dt.datetime],
    ) -> bool:
        """More deletions than both the count and the share allow, counted in occurrences."""
        r = spec.rules
        if the_plan.deletes <= r.max_deletes:
            return False  # (the common case: no pass over every link)
        synced = sum(weight(lk.a_event or lk.b_event, window) for lk in links)
        return the_plan.deletes > r.max_delete_share * max(synced, 1)

    # --- applying --------------------------------------------------------------------------

    def _apply(self, spec: PairSpec, the_plan: Plan, result: RunResult) -> None:
        self._latest: dict[int, Link] = {}
        self._made: dict[tuple[str, str], int] = {}  # links this run inserted, by their ids
        # Links (by their two ids) whose write failed on one side this run.
        self._behind: dict[tuple[str, str], tuple[Side, str]] = {}
        writes: dict[Side, list[Action]] = {Side.A: [], Side.B: []}
        bookkeeping: list[Action] = []
        for action in the_plan.actions:
            if action.side is not None and action.kind in _WRITES:
                writes[action.side].append(action)
            else:
                bookkeeping.append(action)
        for start in range(0, len(bookkeeping), BOOKKEEPING_PER_TX):
            with self.repo.held():  # each action is whole; a crash loses only recomputable ones
                for action in bookkeeping[start : start + BOOKKEEPING_PER_TX]:
                    self._commit_bookkeeping(spec, action, result)
        for side in Side:
            pending = writes[side]
            for _round in range(3):  # re-try creates whose key was burnt by a deleted copy
                if not pending:
                    break
                pending = self._write(spec, side, pending, result)

    def _write(
        self, spec: PairSpec, side: Side, actions: Sequence[Action], result: RunResult
    ) -> list[Action]:
        """Send the writes and commit their outcomes; returns the follow-ups to send again.

        Each batch's outcomes are committed as they come (``apply_iter``), while the provider's
        other batches are still on the way: the commits then cost little wall time.
        """
        s = spec.side(side)
        follow: list[Action] = []
        # Issues are resolved only where some are open (usually none: no query per item). An
        # item is committed once per call, so issues recorded meanwhile are never its own.
        open_items = {i.item_id for i in self.repo.issues(spec.id)}
        sending = s.provider.apply_iter(s.calendar_id, [_op(a) for a in actions])
        with contextlib.closing(sending) as parts:  # a failed commit stops the sending
            for start, results in parts:
                done = actions[start : start + len(results)]
                follow += self._commit_writes(spec, side, done, results, result, open_items)
        return follow

    def _commit_writes(
        self,
        spec: PairSpec,
        side: Side,
        actions: Sequence[Action],
        results: Sequence[WriteResult],
        result: RunResult,
        open_items: set[str],
    ) -> list[Action]:
        """Commit the outcomes of some writes; returns the follow-ups to send again.

        One transaction per provider batch, its links and audit rows written together
        (``Repo.held``), not several statements and transactions per item. Each item's outcome
        is still whole or absent: an item either commits completely inside its batch's
        transaction or fails before writing anything.
        """
        size = max(spec.side(side).provider.max_batch, 1)
        pending: list[Action] = []
        for start in range(0, len(actions), size):
            stop: ProviderError | None = None
            with self.repo.held():
                for action, res in zip(
                    actions[start : start + size], results[start : start + size], strict=True
                ):
                    try:
                        nxt = self._commit_write(spec, side, action, res, result, open_items)
                    except ProviderError as exc:
                        # An account-level failure, raised before this item wrote anything:
                        # what the batch committed so far stays committed.
                        stop = exc
                        break
                    if nxt is not None:
                        pending.append(nxt)
            if stop is not None:
                raise stop
        return pending

    def _commit_bookkeeping(self, spec: PairSpec, action: Action, result: RunResult) -> None:
        if action.kind is Kind.LINK and action.link is not None:
            self.repo.save_link(spec.id, action.link)
            result.counts["linked"] += 1
            self.repo.audit(
                "sync", "linked", pair_id=spec.id, item_id=action.link.a_id, why=action.reason
            )
        elif action.kind is Kind.RECORD and action.link is not None:
            self.repo.save_link(spec.id, action.link)
        elif action.kind is Kind.UNLINK and action.old_link_id is not None:
            self.repo.delete_link(action.old_link_id)
        elif action.kind is Kind.CONFLICT and action.link is not None:
            lk = action.link
            assert lk.id is not None, "only linked items can be in conflict"
            self.repo.add_conflict(
                spec.id,
                lk.id,
                list(action.fields),
                event_to_json(lk.a_event) if lk.a_event else {},
                event_to_json(lk.b_event) if lk.b_event else {},
            )
            result.counts["conflicts"] += 1

    def _commit_write(
        self,
        spec: PairSpec,
        side: Side,
        action: Action,
        res: WriteResult,
        result: RunResult,
        open_items: set[str],
    ) -> Action | None:
        """Commit one write's outcome; returns a follow-up action to retry, if any."""
        item = _item_id(action)
        if res.error is not None:
            return self._write_failed(spec, side, action, res.error, item, result)
        if action.kind is Kind.DELETE:
            if action.old_link_id is not None:
                self.repo.delete_link(action.old_link_id)
            result.counts["deleted"] += 1
            self._audit(spec, "deleted", side, action.event_id, action.reason)
            return None
        written = res.event
        assert written is not None and written.ref is not None
        if action.kind is Kind.RETAG or action.link is None:
            return None
        planned = action.link
        if planned.id is None and (made := self._made.get((planned.a_id, planned.b_id))):
            planned = evolve(planned, id=made)  # a recovered link written on both sides
        base = self._latest.get(planned.id) if planned.id is not None else None
        lk = _with_side(base or planned, side, written)
        if base is not None:
            lk = evolve(lk, view=planned.view, origin=planned.origin)
        failed = self._behind.get((planned.a_id, planned.b_id))
        if failed is not None and failed[0] is not side:
            lk = _marked(lk, *failed)
        link_id = self.repo.save_link(spec.id, lk)
        self._latest[link_id] = evolve(lk, id=link_id)
        if action.link.id is None:
            self._made[(action.link.a_id, action.link.b_id)] = link_id
        settled = {item, lk.a_id, lk.b_id}
        if failed is not None and failed[0] is not side:
            settled.discard(lk.id_on(failed[0]))  # its failure stays listed, and retried
        for done in settled & open_items:
            # Notes about the series itself stay until the series changes (occurrences.py).
            self.repo.resolve_issues(spec.id, done, keep=occurrences.SERIES_NOTES)
        if written.losses:
            # What the other calendar could not hold (a zone unknown to Outlook, a description
            # shortened...): written as closely as it allows, and listed on the item.
            self.repo.record_issue(
                spec.id,
                side.value,
                written.ref.event_id,
                "loss",
                "Copied with changes",
                "; ".join(written.losses),
            )
        kind = "created" if action.kind is Kind.CREATE else "updated"
        result.counts[kind] += 1
        source = action.origin_event or (action.link.event_on(side.other) if action.link else None)
        changed = source.updated if source is not None else None
        self.repo.audit(
            "sync",
            kind,
            pair_id=spec.id,
            side=side.value,
            item_id=written.ref.event_id,
            why=action.reason,
            # When the change was made on the other calendar: the sync latency metric.
            details={"source_changed_at": changed.isoformat()} if changed else None,
        )
        return None

    def _write_failed(
        self,
        spec: PairSpec,
        side: Side,
        action: Action,
        err: Exception,
        item: str,
        result: RunResult,
    ) -> Action | None:
        if isinstance(err, AlreadyExists) and action.kind is Kind.CREATE and action.link:
            # Google keeps a deleted event's id reserved: the next generation of the key.
            gen = action.link.key_gen + 1
            tag = identity.tag_from_key(action.key)
            if tag is not None and gen <= identity.MAX_GENERATION:
                return replace(
                    action, key=identity.key_for(tag, gen), link=replace(action.link, key_gen=gen)
                )
        shown = isinstance(err, ItemError) and not isinstance(err, NotFound)
        if not shown and not isinstance(err, PreconditionFailed | NotFound):
            raise err
        # A failed create is retried from its origin; anything else from its target.
        where = side.other if action.kind is Kind.CREATE else side
        if shown:
            assert isinstance(err, ItemError)
            result.counts["errors"] += 1
            self.repo.record_issue(spec.id, where.value, item, "write", err.title, err.message)
        # The change this write carried was read from a side whose cursor has moved on: mark
        # both sides of the link to be read again next run, or that change would be lost.
        lk = action.link
        if action.kind is Kind.UPDATE and lk is not None:
            # In a merge the other side may take (or have taken) the merged view: the link then
            # says this side is behind, so its old content is not taken for an edit next run.
            mark = BEHIND + (action.etag or "")
            self._behind[(lk.a_id, lk.b_id)] = (side, mark)
            link_id = lk.id if lk.id is not None else self._made.get((lk.a_id, lk.b_id))
            saved = self._latest.get(link_id) if link_id is not None else None
            if link_id is not None and saved is not None:
                self._latest[link_id] = _marked(saved, side, mark)
                self.repo.save_link(spec.id, self._latest[link_id])
        marks = {(s, lk.id_on(s)) for s in Side if lk is not None and lk.id_on(s)}
        marks.add((where, item))
        for s, eid in marks:
            if eid and not (shown and (s, eid) == (where, item)):
                self.repo.record_issue(
                    spec.id,
                    s.value,
                    eid,
                    RETRY,
                    "Will be tried again",
                    type(err).__name__,
                    due_now=True,
                )
        return None

    def _audit(self, spec: PairSpec, what: str, side: Side, item: str | None, why: str) -> None:
        self.repo.audit("sync", what, pair_id=spec.id, side=side.value, item_id=item, why=why)


def _item_id(action: Action) -> str:
    if action.kind is Kind.CREATE and action.origin_event and action.origin_event.ref:
        return action.origin_event.ref.event_id
    return action.event_id or ""


_WRITES = {Kind.CREATE, Kind.UPDATE, Kind.DELETE, Kind.RETAG}
_COUNT_NAME = {
    Kind.CREATE: "created",
    Kind.UPDATE: "updated",
    Kind.DELETE: "deleted",
    Kind.LINK: "linked",
    Kind.RECORD: "recorded",
    Kind.UNLINK: "unlinked",
    Kind.CONFLICT: "conflicts",
    Kind.RETAG: "updated",
}


def _op(action: Action) -> WriteOp:
    if action.kind is Kind.CREATE:
        assert action.event is not None and action.key is not None
        return WriteOp.create(action.event, action.key)
    if action.kind in (Kind.UPDATE, Kind.RETAG):
        assert action.event is not None and action.event_id is not None
        return WriteOp.update(action.event_id, action.event, action.etag)
    assert action.event_id is not None
    return WriteOp.delete(action.event_id, action.etag)


# (evolve: dataclasses.replace at a fraction of its cost; a run commits thousands of links.)
def _marked(lk: Link, side: Side, mark: str) -> Link:
    return evolve(lk, a_etag=mark) if side is Side.A else evolve(lk, b_etag=mark)


def _with_side(lk: Link, side: Side, written: Event) -> Link:
    assert written.ref is not None
    if side is Side.A:
        return evolve(lk, a_id=written.ref.event_id, a_etag=written.etag, a_event=written)
    return evolve(lk, b_id=written.ref.event_id, b_etag=written.etag, b_event=written)
