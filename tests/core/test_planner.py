"""The decision table of ARCHITECTURE.md, row by row, plus the identity rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from app.core import identity
from app.core.model import Event, EventRef, Provider, Status, TimeSpan
from app.core.planner import Context, Link, Origin, Plan, SideRead, plan
from app.core.rules import ConflictPolicy, Direction, PairRules, PrivacyMode, Side

NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
START = dt.datetime(2026, 11, 24, 14, tzinfo=dt.UTC)


def ev(side: Side, eid: str, title: str = "Meeting", etag: str = "1", **kw: object) -> Event:
    provider = Provider.MICROSOFT if side is Side.A else Provider.GOOGLE
    when = TimeSpan(START, START + dt.timedelta(hours=1), "UTC", "UTC")
    base = Event(
        ref=EventRef(provider, f"cal-{side.value}", eid), when=when, title=title, etag=etag
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def linked(rules: PairRules, a: Event, b: Event, origin: Origin = Origin.A, lid: int = 1) -> Link:
    assert a.ref and b.ref
    return Link(lid, origin, a.ref.event_id, b.ref.event_id, a.etag, b.etag, rules.view(a), a, b)


def run(
    rules: PairRules,
    links: list[Link],
    a: list[Event] = (),  # type: ignore[assignment]
    b: list[Event] = (),  # type: ignore[assignment]
    a_deleted: set[str] = frozenset(),  # type: ignore[assignment]
    b_deleted: set[str] = frozenset(),  # type: ignore[assignment]
    conflicts: frozenset[int] = frozenset(),
) -> Plan:
    ctx = Context(
        rules,
        SideRead("cal-a", {e.ref.event_id: e for e in a if e.ref}, frozenset(a_deleted)),
        SideRead("cal-b", {e.ref.event_id: e for e in b if e.ref}, frozenset(b_deleted)),
        rules.window(NOW),
        conflicts,
    )
    return plan(ctx, links)


TWO_WAY = PairRules()


def kinds(p: Plan) -> list[tuple[str, str | None]]:
    return [(a.kind.value, a.side.value if a.side else None) for a in p.actions]


def test_changed_on_a_only_writes_a_to_b() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    lk = linked(TWO_WAY, a0, b0)
    p = run(TWO_WAY, [lk], a=[replace(a0, title="New title", etag="2")])
    assert kinds(p) == [("update", "b")]
    assert p.actions[0].event is not None and p.actions[0].event.title == "New title"
    assert p.actions[0].etag == "1"


def test_changed_on_b_only_writes_b_to_a() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(TWO_WAY, [linked(TWO_WAY, a0, b0)], b=[replace(b0, location="Room 2", etag="2")])
    assert kinds(p) == [("update", "a")]
    assert p.actions[0].event is not None and p.actions[0].event.location == "Room 2"


def test_server_churn_alone_is_recorded_not_written() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(TWO_WAY, [linked(TWO_WAY, a0, b0)], a=[replace(a0, etag="99")])
    assert kinds(p) == [("record", None)]
    assert p.actions[0].link is not None and p.actions[0].link.a_etag == "99"


def test_same_edit_on_both_sides_writes_nothing() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(
        TWO_WAY,
        [linked(TWO_WAY, a0, b0)],
        a=[replace(a0, title="Same", etag="2")],
        b=[replace(b0, title="Same", etag="2")],
    )
    assert kinds(p) == [("record", None)]


def test_different_fields_on_each_side_merge() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(
        TWO_WAY,
        [linked(TWO_WAY, a0, b0)],
        a=[replace(a0, title="Title from A", etag="2")],
        b=[replace(b0, location="Room from B", etag="2")],
    )
    assert sorted(kinds(p)) == [("update", "a"), ("update", "b")]
    for action in p.actions:
        assert action.event is not None
        assert (action.event.title, action.event.location) == ("Title from A", "Room from B")


def test_same_field_both_sides_asks_and_writes_nothing() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(
        TWO_WAY,
        [linked(TWO_WAY, a0, b0)],
        a=[replace(a0, title="A's", etag="2")],
        b=[replace(b0, title="B's", etag="2")],
    )
    assert kinds(p) == [("conflict", None)]
    assert p.actions[0].fields == ("title",)


@pytest.mark.parametrize(
    ("policy", "winner"),
    [
        (ConflictPolicy.A_WINS, "A's"),
        (ConflictPolicy.B_WINS, "B's"),
        (ConflictPolicy.NEWEST, "B's"),
    ],
)
def test_conflict_policies(policy: ConflictPolicy, winner: str) -> None:
    rules = PairRules(conflict_policy=policy)
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(
        rules,
        [linked(rules, a0, b0)],
        a=[replace(a0, title="A's", etag="2", updated=NOW)],
        b=[replace(b0, title="B's", etag="2", updated=NOW + dt.timedelta(minutes=1))],
    )
    written = {a.event.title for a in p.actions if a.event is not None}
    assert written == {winner}


def test_open_conflict_keeps_both_versions() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(
        TWO_WAY,
        [linked(TWO_WAY, a0, b0)],
        a=[replace(a0, title="x", etag="3")],
        conflicts=frozenset({1}),
    )
    assert p.actions == []


def test_deleted_origin_unchanged_copy_is_deleted() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(TWO_WAY, [linked(TWO_WAY, a0, b0)], a_deleted={"a1"})
    assert kinds(p) == [("delete", "b")]
    assert p.deletes == 1


def test_deleted_origin_edited_copy_the_edit_wins() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(
        TWO_WAY,
        [linked(TWO_WAY, a0, b0)],
        a_deleted={"a1"},
        b=[replace(b0, title="kept", etag="2")],
    )
    assert kinds(p) == [("create", "a")]
    assert p.actions[0].event is not None and p.actions[0].event.title == "kept"
    assert p.actions[0].link is not None and p.actions[0].link.origin is Origin.B


def test_two_way_deleted_copy_deletes_the_origin() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(TWO_WAY, [linked(TWO_WAY, a0, b0)], b_deleted={"b1"})
    assert kinds(p) == [("delete", "a")]


def test_one_way_deleted_copy_is_recreated_with_a_new_key() -> None:
    rules = PairRules(direction=Direction.A_TO_B)
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(rules, [linked(rules, a0, b0)], b_deleted={"b1"})
    assert kinds(p) == [("create", "b")]
    tag = identity.tag_for("cal-a", "a1", "cal-b")
    assert p.actions[0].key == identity.key_for(tag, 1)


def test_one_way_copy_edits_are_put_back() -> None:
    rules = PairRules(direction=Direction.A_TO_B)
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    p = run(rules, [linked(rules, a0, b0)], b=[replace(b0, title="vandalised", etag="2")])
    assert kinds(p) == [("update", "b")]
    assert p.actions[0].event is not None and p.actions[0].event.title == "Meeting"


def test_new_event_is_copied_with_a_derived_key_and_tag() -> None:
    p = run(TWO_WAY, [], a=[ev(Side.A, "a9", "Fresh")])
    assert kinds(p) == [("create", "b")]
    act = p.actions[0]
    tag = identity.tag_for("cal-a", "a9", "cal-b")
    assert act.key == identity.key_for(tag, 0)
    assert act.event is not None and act.event.tag == identity.provenance(tag, "a9")


def test_our_copy_is_linked_not_copied_back() -> None:
    tag = identity.tag_for("cal-a", "a9", "cal-b")
    copy = ev(
        Side.B, identity.key_for(tag, 0), "Fresh", tag=tag, created_key=identity.key_for(tag, 0)
    )
    p = run(TWO_WAY, [], a=[ev(Side.A, "a9", "Fresh")], b=[copy])
    assert kinds(p) == [("link", None)]


def test_copy_whose_origin_is_not_visible_is_never_copied() -> None:
    tag = identity.tag_for("cal-a", "unknown", "cal-b")
    p = run(TWO_WAY, [], b=[ev(Side.B, "b7", tag=tag)])
    assert p.actions == []


def test_pasted_duplicate_becomes_its_own_event_and_never_deletes() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    tag = identity.tag_for("cal-a", "a1", "cal-b")
    lk = linked(TWO_WAY, a0, replace(b0, tag=tag))
    pasted = ev(Side.B, "pasted1", "Meeting", tag=tag)  # the tag came along with copy/paste
    p = run(TWO_WAY, [lk], b=[pasted])
    assert kinds(p) == [("retag", "b"), ("create", "a")]
    assert p.deletes == 0


def test_second_copy_made_by_another_device_is_removed() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    tag = identity.tag_for("cal-a", "a1", "cal-b")
    lk = linked(TWO_WAY, a0, b0)
    extra = ev(Side.B, "b2", tag=tag, created_key=identity.key_for(tag, 0))
    p = run(TWO_WAY, [lk], b=[extra])
    assert kinds(p) == [("delete", "b")]
    assert p.actions[0].event_id == "b2"


def test_twins_are_linked_not_copied() -> None:
    uid = "040000008200E00074C5B7101A82E008"
    p = run(
        TWO_WAY, [], a=[ev(Side.A, "a1", ical_uid=uid)], b=[ev(Side.B, "b1", ical_uid=uid.lower())]
    )
    assert kinds(p) == [("link", None)]
    assert p.actions[0].link is not None and p.actions[0].link.origin is Origin.TWIN


def test_removing_one_twin_never_removes_the_other() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    lk = replace(linked(TWO_WAY, a0, b0), origin=Origin.TWIN)
    p = run(TWO_WAY, [lk], a_deleted={"a1"})
    assert kinds(p) == [("unlink", None)]


def test_events_that_leave_the_window_leave_their_copy_alone() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    far = NOW + dt.timedelta(days=400)
    moved = replace(a0, etag="2", when=TimeSpan(far, far + dt.timedelta(hours=1), "UTC", "UTC"))
    assert run(TWO_WAY, [linked(TWO_WAY, a0, b0)], a=[moved]).actions == []


def test_busy_blocks_hide_the_title_and_ignore_title_edits() -> None:
    rules = PairRules(direction=Direction.A_TO_B, privacy=PrivacyMode.BUSY)
    p = run(rules, [], a=[ev(Side.A, "a1", "Salary review", description="secret")])
    copy = p.actions[0].event
    assert copy is not None
    assert (copy.title, copy.description) == ("Busy", "")
    a0 = ev(Side.A, "a1", "Salary review")
    lk = linked(rules, a0, ev(Side.B, "b1", "Busy"))
    assert kinds(run(rules, [lk], a=[replace(a0, title="Renamed", etag="2")])) == [("record", None)]


def test_cancelled_status_counts_as_deleted() -> None:
    a0, b0 = ev(Side.A, "a1"), ev(Side.B, "b1")
    gone = replace(a0, status=Status.CANCELLED, etag="2")
    assert kinds(run(TWO_WAY, [linked(TWO_WAY, a0, b0)], a=[gone])) == [("delete", "b")]
