"""The engine end to end on memory providers: the peer failures of single events, by name."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from world import NOW, World, event, new_world

from app.core.model import Recurrence, ShowAs
from app.core.rules import Direction, PairRules, Side
from app.errors import Rejected
from app.providers.base import WriteOp


@pytest.fixture
def world(tmp_path: Path) -> World:
    return new_world(tmp_path)


def test_first_sync_copies_both_ways_and_then_stays_quiet(world: World) -> None:
    world.a.put("work", event("Standup"))
    world.b.put("home", event("Dentist", hour=15))
    r = world.sync()
    assert r.counts["created"] == 2
    assert world.titles(Side.A) == world.titles(Side.B) == ["Dentist", "Standup"]
    quiet = world.sync()
    assert quiet.counts["created"] == quiet.counts["updated"] == 0
    # A poll with no changes costs one request per calendar.
    assert quiet.requests == {"a": 1, "b": 1}


def test_duplicates_every_sync_cannot_happen(world: World) -> None:
    for i in range(5):
        world.a.put("work", event(f"Meeting {i}", hour=8 + i))
    for _ in range(4):
        world.sync()
    assert len(world.b.all_events("home")) == 5
    assert len(world.a.all_events("work")) == 5


def test_edit_and_delete_flow_both_ways(world: World) -> None:
    a = world.a.put("work", event("Planning"))
    world.sync()
    world.a.put("work", replace(a, title="Planning (moved)"))
    world.sync()
    assert world.titles(Side.B) == ["Planning (moved)"]
    copy = world.b.all_events("home")[0]
    world.b.put("home", replace(copy, location="Room 4"))
    world.sync()
    assert world.a.all_events("work")[0].location == "Room 4"
    assert copy.ref is not None
    world.b.remove("home", copy.ref.event_id)
    world.sync()
    assert world.titles(Side.A) == []


def test_crash_between_write_and_commit_makes_no_duplicate(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.a.put("work", event("Quarterly review"))
    engine, repo = world.engine()
    real_save = repo.save_link
    monkeypatch.setattr(
        repo, "save_link", lambda *a, **k: (_ for _ in ()).throw(SystemExit("crash"))
    )
    with pytest.raises(SystemExit):
        engine.run(world.spec())
    assert len(world.b.all_events("home")) == 1  # the copy was written, its link was not
    monkeypatch.setattr(repo, "save_link", real_save)
    world.quiet()
    assert world.titles(Side.B) == ["Quarterly review"]
    assert world.titles(Side.A) == ["Quarterly review"]


def test_second_device_running_the_same_pair_makes_no_duplicate(world: World) -> None:
    world.a.put("work", event("All hands"))
    world.b.put("home", event("Gym", hour=18))
    world.sync("laptop.db")
    world.sync("desktop.db")
    world.sync("laptop.db")
    world.sync("desktop.db")
    assert world.titles(Side.A) == world.titles(Side.B) == ["All hands", "Gym"]


def test_lost_database_is_rebuilt_through_tags_without_duplicates(world: World) -> None:
    for i in range(3):
        world.a.put("work", event(f"Item {i}", hour=9 + i))
    world.sync()
    (world.path / "state.db").unlink()
    for suffix in ("-wal", "-shm"):
        (world.path / f"state.db{suffix}").unlink(missing_ok=True)
    r = world.sync()
    assert r.counts["linked"] == 3 and r.counts["created"] == 0
    assert len(world.b.all_events("home")) == 3


def test_a_lost_database_keeps_different_field_edits_made_on_both_sides(world: World) -> None:
    """No snapshot, yet a field-level merge: the last synced view travels on the events."""
    world.a.put("work", event("Review"))
    world.sync()
    copy, origin = world.b.all_events("home")[0], world.a.all_events("work")[0]
    world.a.put("work", replace(origin, location="Room 4"))  # the person, in Outlook
    world.b.put("home", replace(copy, title="Design review"))  # and in Google
    (world.path / "state.db").unlink()
    for suffix in ("-wal", "-shm"):
        (world.path / f"state.db{suffix}").unlink(missing_ok=True)
    world.quiet()
    for side_events in (world.a.all_events("work"), world.b.all_events("home")):
        assert [(e.title, e.location) for e in side_events] == [("Design review", "Room 4")]


def test_a_second_device_with_an_older_snapshot_does_not_undo_the_persons_edit(
    world: World,
) -> None:
    """The laptop carries an edit across; the person edits the copy again; the desktop, whose
    snapshot predates both, sees both sides changed. The fingerprint the laptop left tells it
    which change is the person's: nothing is treated as a conflict, nothing is undone."""
    world.a.put("work", event("Review"))
    world.sync("laptop.db")
    world.sync("desktop.db")
    origin = world.a.all_events("work")[0]
    world.a.put("work", replace(origin, title="Review (v2)"))
    world.sync("laptop.db")  # v2 reaches Google
    copy = world.b.all_events("home")[0]
    world.b.put("home", replace(copy, title="Review (v3)"))
    r = world.sync("desktop.db")
    assert r.counts["conflicts"] == 0
    assert world.titles(Side.A) == world.titles(Side.B) == ["Review (v3)"]


def test_a_merge_whose_write_fails_on_one_side_is_finished_later(world: World) -> None:
    """Different fields edited on both sides; Outlook refuses the merged write once. Google has
    taken the merge already: the link says Outlook is behind, so Outlook's old content is not
    taken for an edit, and the next attempt (after the back-off) carries the merge out."""
    world.a.put("work", event("Review"))
    world.sync()
    origin, copy = world.a.all_events("work")[0], world.b.all_events("home")[0]
    world.a.put("work", replace(origin, description="agenda"))
    world.b.put("home", replace(copy, location="Room 4"))
    world.a.before_op = lambda cal, op: Rejected("refused once")
    first = world.sync()
    world.a.before_op = None
    assert first.counts["errors"] == 1 and first.counts["updated"] == 1
    later = NOW + dt.timedelta(hours=1)
    assert world.sync(at=later).counts["updated"] == 1
    for side_events in (world.a.all_events("work"), world.b.all_events("home")):
        assert [(e.description, e.location) for e in side_events] == [("agenda", "Room 4")]
    assert world.sync(at=later).counts["updated"] == 0


@pytest.mark.parametrize("again", ["Room 5", "Room 4"], ids=["new-value", "same-value"])
def test_an_edit_made_while_a_merge_waits_to_be_finished_keeps_both(
    world: World, again: str
) -> None:
    """Google refuses its half of a merge; the person then edits the Google copy again (or
    saves it unchanged). The retry judges Google's fields against what Google had when the
    write failed: its new edit counts, its old values do not undo Outlook's edit."""
    world.a.put("work", event("Review"))
    world.sync()
    origin, copy = world.a.all_events("work")[0], world.b.all_events("home")[0]
    world.a.put("work", replace(origin, description="agenda"))
    world.b.put("home", replace(copy, location="Room 4"))
    world.b.before_op = lambda cal, op: Rejected("refused once")
    assert world.sync().counts["errors"] == 1
    world.b.before_op = None
    world.b.put("home", replace(world.b.all_events("home")[0], location=again))
    later = NOW + dt.timedelta(hours=1)
    world.sync(at=later)
    for side_events in (world.a.all_events("work"), world.b.all_events("home")):
        assert [(e.description, e.location) for e in side_events] == [("agenda", again)]
    assert world.sync(at=later).counts["updated"] == 0


def test_copy_paste_of_a_copy_never_deletes_the_original(world: World) -> None:
    world.a.put("work", event("Board meeting"))
    world.sync()
    copy = world.b.all_events("home")[0]
    pasted = world.b.put(
        "home", replace(copy, ref=None, etag=None, created_key=None), event_id="pasted-1"
    )
    assert pasted.tag == copy.tag  # the tag came along, as Outlook copy/paste does
    world.quiet(3)
    assert "Board meeting" in world.titles(Side.A)
    assert len(world.a.all_events("work")) == 2  # the original and a copy of the pasted event
    assert world.b.get_events("home", ["pasted-1"])["pasted-1"] is not None


def test_mass_deletion_stops_the_pair_and_asks(world: World) -> None:
    for i in range(12):
        world.a.put("work", event(f"E{i}", day=1 + i % 5, hour=8 + i % 8))
    world.sync()
    for e in world.a.all_events("work"):
        assert e.ref is not None
        world.a.remove("work", e.ref.event_id)
    r = world.sync()
    assert r.status == "held"
    assert len(world.b.all_events("home")) == 12  # nothing deleted
    assert world.sync().status == "held"  # asked once, still waiting; nothing repeats


def test_deleting_a_series_counts_its_occurrences_for_the_mass_delete_guard(world: World) -> None:
    """One deleted series can wipe months of meetings: the guard counts occurrences, so a daily
    series asks first, while a weekly one among many events goes through."""
    for i in range(40):
        world.a.put("work", event(f"E{i}", day=1 + i % 20, hour=8 + i % 8))
    daily = world.a.put("work", event("Daily check-in", recurrence=Recurrence("FREQ=DAILY")))
    weekly = world.a.put("work", event("Weekly 1:1", recurrence=Recurrence("FREQ=WEEKLY;COUNT=8")))
    world.sync()
    assert weekly.ref is not None and daily.ref is not None
    world.a.remove("work", weekly.ref.event_id)  # 8 occurrences: under the guard's 10
    assert world.sync().counts["deleted"] == 1
    world.a.remove("work", daily.ref.event_id)  # every day of the window: far more than 10
    held = world.sync()
    assert held.status == "held" and "series counts each occurrence" in held.message
    assert "Daily check-in" in world.titles(Side.B)  # nothing deleted while it asks


def test_an_occurrence_whose_series_is_gone_is_listed_and_the_rest_syncs(world: World) -> None:
    orphan = world.a.put(
        "work",
        event("Orphan", series_id="no-such-series", original_start=NOW + dt.timedelta(days=2)),
    )
    world.a.put("work", event("Lunch", hour=12))
    r = world.sync()
    assert r.status == "ok" and world.titles(Side.B) == ["Lunch"]
    _, repo = world.engine()
    assert orphan.ref is not None
    listed = repo.issues("p1", item_id=orphan.ref.event_id)
    assert [(i.kind, i.title) for i in listed] == [("series", "An occurrence without its series")]
    world.quiet()


@pytest.mark.parametrize("approve", [True, False])
def test_the_persons_answer_to_a_held_deletion_is_carried_out_once(
    world: World, approve: bool
) -> None:
    for i in range(12):
        world.a.put("work", event(f"E{i}", day=1 + i % 5, hour=8 + i % 8))
    world.sync()
    for e in world.a.all_events("work"):
        assert e.ref is not None
        world.a.remove("work", e.ref.event_id)
    assert world.sync().status == "held"
    _, repo = world.engine()
    hold = repo.open_hold("p1")
    assert hold is not None
    repo.decide_hold(hold["id"], "approve" if approve else "refuse")
    done = world.sync()
    assert done.status == "ok"
    assert len(world.b.all_events("home")) == (0 if approve else 12)
    again = world.sync()  # the answer was used up; nothing is held or deleted again
    assert again.status == "ok" and again.counts["deleted"] == 0


def test_empty_read_after_cursor_loss_deletes_nothing(world: World) -> None:
    for i in range(4):
        world.a.put("work", event(f"E{i}", hour=9 + i))
    world.sync()
    # The service "loses" everything on a full read but the events still exist by id.
    world.a.expire_cursors("work")
    real = world.a.read_changes

    def empty_full_read(cal, cursor, window):  # type: ignore[no-untyped-def]
        ch = real(cal, cursor, window)
        return replace(ch, events=()) if ch.full else ch

    world.a.read_changes = empty_full_read  # type: ignore[method-assign]
    r = world.sync()
    assert r.status == "held"
    assert len(world.b.all_events("home")) == 4


def test_an_item_that_fails_is_listed_and_the_rest_syncs(world: World) -> None:
    world.a.put("work", event("Good"))
    world.a.put("work", event("Bad", hour=11))

    def reject_bad(cal: str, op: WriteOp) -> Rejected | None:
        return Rejected("The event is invalid.") if op.event and op.event.title == "Bad" else None

    world.b.before_op = reject_bad
    r = world.sync()
    assert r.counts["created"] == 1 and r.counts["errors"] == 1
    _, repo = world.engine()
    assert [i.message for i in repo.issues("p1")] == ["The event is invalid."]
    world.b.before_op = None
    world.sync(at=NOW + dt.timedelta(hours=1))  # retried after the back-off: issue resolved
    assert world.titles(Side.B) == ["Bad", "Good"]


def test_one_way_pair_never_copies_back(world: World) -> None:
    world.b.put("home", event("Private dinner"))
    world.a.put("work", event("Work"))
    world.sync(rules=PairRules(direction=Direction.A_TO_B))
    assert world.titles(Side.A) == ["Work"]
    assert world.titles(Side.B) == ["Private dinner", "Work"]


def test_a_device_without_a_link_recreates_a_missing_copy_instead_of_deleting(world: World) -> None:
    """A fresh device cannot tell "the copy was deleted" from "never copied": it never deletes
    an original on that guess. Google (and the memory service) keep the used key reserved, so
    the new copy gets the next generation of the key."""
    world.a.put("work", event("Keep me"))
    world.sync("laptop.db")
    copy = world.b.all_events("home")[0]
    assert copy.ref is not None
    world.b.remove("home", copy.ref.event_id)
    world.sync("desktop.db")
    assert world.titles(Side.A) == world.titles(Side.B) == ["Keep me"]
    assert world.b.all_events("home")[0].created_key != copy.created_key


def test_a_busy_meeting_colliding_across_calendars_is_recorded_once(world: World) -> None:
    """Overlaps are between originals of the two calendars: never with a copy or a free event."""
    world.a.put("work", event("Budget review", hour=10))
    world.sync(rules=PairRules(direction=Direction.A_TO_B))
    first = world.b.put("home", event("Dentist", hour=10))
    world.b.put("home", replace(event("Gym", hour=10), show_as=ShowAs.FREE))
    r = world.sync(rules=PairRules(direction=Direction.A_TO_B))
    assert r.counts["overlaps"] == 1
    _, repo = world.engine()
    found = repo.overlaps("p1")
    assert [(o["a_summary"], o["b_summary"]) for o in found] == [("Budget review", "Dentist")]
    world.b.put("home", replace(first, location="Main St"))  # moved/edited again: not twice
    assert world.sync(rules=PairRules(direction=Direction.A_TO_B)).counts["overlaps"] == 0


def test_what_a_calendar_cannot_hold_is_listed_on_the_item(world: World) -> None:
    real = world.b.apply

    def lossy(cal, ops):  # type: ignore[no-untyped-def]
        return [
            replace(
                r, event=replace(r.event, losses=("description shortened to 8,192 characters",))
            )
            if r.event is not None
            else r
            for r in real(cal, ops)
        ]

    world.b.apply = lossy  # type: ignore[method-assign]
    world.a.put("work", event("Long notes"))
    r = world.sync()
    assert r.counts["created"] == 1 and r.counts["errors"] == 0
    _, repo = world.engine()
    assert [(i.kind, i.message) for i in repo.issues("p1")] == [
        ("loss", "description shortened to 8,192 characters")
    ]


def test_the_window_slides_each_day_without_copying_anything_twice(world: World) -> None:
    import datetime as dt

    from world import NOW

    far = world.a.put("work", event("Far ahead", day=200))  # outside the 180-day window today
    world.a.put("work", event("Soon"))
    world.sync()
    assert world.titles(Side.B) == ["Soon"]
    engine, _ = world.engine()
    later = NOW + dt.timedelta(days=25)  # "Far ahead" is now inside the window
    engine.clock = lambda: later
    r = engine.run(world.spec())
    assert r.counts["created"] == 1 and r.counts["updated"] == 0
    assert world.titles(Side.B) == ["Far ahead", "Soon"]
    assert far.ref is not None
    quiet = engine.run(world.spec())
    assert quiet.requests == {"a": 1, "b": 1}  # the rest of the day: one request per calendar


def test_an_event_ending_exactly_at_the_window_edge_is_treated_alike_on_both_sides(
    world: World,
) -> None:
    """One window, computed once in UTC, for both sides (peer-failures: window edge)."""
    import datetime as dt

    from world import NOW

    from app.core.model import Event, TimeSpan

    start, _ = world.rules.window(NOW)
    edge = Event(
        ref=None, when=TimeSpan(start - dt.timedelta(hours=1), start, "UTC", "UTC"), title="Edge"
    )
    world.a.put("work", edge)
    world.b.put("home", replace(edge, title="Edge too"))
    for _ in range(3):
        r = world.sync()
        assert r.counts["created"] == 0  # outside on both sides: neither is copied, ever
    inside = replace(
        edge,
        title="Inside",
        when=TimeSpan(start - dt.timedelta(hours=1), start + dt.timedelta(seconds=1), "UTC", "UTC"),
    )
    world.a.put("work", inside)
    world.sync()
    world.sync()
    assert world.titles(Side.B).count("Inside") == 1


def test_the_laptops_time_zone_changing_moves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Travel: nothing in the engine uses the laptop's zone, so nothing shifts or is re-created."""
    import time

    world.a.put("work", event("Standup", hour=14))
    world.sync()
    before = [(e.title, e.when) for e in world.b.all_events("home")]
    for zone in ("Asia/Tokyo", "America/Los_Angeles"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        r = world.sync()
        assert (r.counts["created"], r.counts["updated"], r.counts["deleted"]) == (0, 0, 0)
    monkeypatch.delenv("TZ")
    time.tzset()
    assert [(e.title, e.when) for e in world.b.all_events("home")] == before
