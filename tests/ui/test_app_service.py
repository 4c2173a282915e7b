"""The tray app's façade against the sandbox: runs, conflicts, notices, state, settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from shots import shoot
from uikit import World, sync_and_wait, wait_for_run

from app.core.rules import PairRules, Side
from app.services.app_service import Notice, Settings, TrayState, overall_state
from app.ui.bridge import Bridge
from app.ui.pairs_page import PairsPage


def _pair(**kw: Any) -> dict[str, Any]:
    base = {
        "conflicts": 0,
        "held": None,
        "needs_sign_in": False,
        "paused": None,
        "last_status": "ok",
    }
    return {**base, **kw}


def test_overall_state_priorities() -> None:
    ok = _pair()
    assert overall_state([ok], syncing=False, paused=False) is TrayState.IDLE
    assert overall_state([], syncing=False, paused=False) is TrayState.IDLE
    assert overall_state([ok], syncing=True, paused=False) is TrayState.SYNCING
    assert overall_state([_pair(conflicts=1)], syncing=False, paused=True) is TrayState.ATTENTION
    assert overall_state([_pair(held="x")], syncing=False, paused=False) is TrayState.ATTENTION
    sign_in = _pair(needs_sign_in=True)
    assert overall_state([sign_in], syncing=False, paused=False) is TrayState.ATTENTION
    assert overall_state([ok], syncing=False, paused=True) is TrayState.PAUSED
    assert overall_state([_pair(paused="x")], syncing=False, paused=False) is TrayState.PAUSED
    err = _pair(last_status="error")
    off = _pair(last_status="offline")
    assert overall_state([ok, err, off], syncing=False, paused=False) is TrayState.ERROR
    assert overall_state([ok, off], syncing=False, paused=False) is TrayState.OFFLINE


def test_settings_round_trip_and_tolerate_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    s = Settings.load(path)
    assert s.interval_minutes == 5 and all(s.notify.values())
    s.interval_minutes, s.notify["held"], s.setup_done = 15, False, True
    s.save(path)
    again = Settings.load(path)
    assert (again.interval_minutes, again.notify["held"], again.setup_done) == (15, False, True)
    path.write_text("{not json")
    assert Settings.load(path).interval_minutes == 5


def test_sync_conflict_resolved_with_googles_version_reaches_both_sides(world: World) -> None:
    notices: list[Notice] = []
    world.svc.on_notice = notices.append
    pair = world.pair()
    world.add_event(pair, "Dentist")
    first = sync_and_wait(world.svc, pair.id)
    assert first["status"] == "ok" and first["created"] == 1
    assert "Dentist" in world.titles(pair, Side.B)
    world.edit(pair, Side.A, "Dentist", title="Dentist (Outlook)")
    world.edit(pair, Side.B, "Dentist", title="Dentist (Google)")
    second = sync_and_wait(world.svc, pair.id)
    assert second["conflicts"] == 1
    assert [n.kind for n in notices] == ["conflicts"]
    [conflict] = world.svc.conflicts()
    assert conflict["fields"] == ["title"]
    world.svc.resolve_conflict(conflict["id"], Side.B)
    third = sync_and_wait(world.svc, pair.id)
    assert third["updated"] == 1, third
    assert "Dentist (Google)" in world.titles(pair, Side.A)
    assert "Dentist (Google)" in world.titles(pair, Side.B)
    assert world.svc.conflicts() == []
    assert [n.kind for n in notices] == ["conflicts"]  # told once, not again


def test_sign_in_needed_is_told_once_and_shows_attention(world: World) -> None:
    notices: list[Notice] = []
    world.svc.on_notice = notices.append
    pair = world.pair()
    assert sync_and_wait(world.svc, pair.id)["status"] == "ok"
    assert world.svc.state() is TrayState.IDLE
    world.admin.revoke(world.google_user.id)
    world.admin.expire_access(world.google_user.id)
    assert sync_and_wait(world.svc, pair.id)["status"] == "needs-sign-in"
    sync_and_wait(world.svc, pair.id)
    assert [n.kind for n in notices] == ["sign-in"]
    assert world.svc.state() is TrayState.ATTENTION


def test_failing_for_over_an_hour_is_told_once_and_kinds_can_be_turned_off(world: World) -> None:
    now = [dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)]
    world.svc.clock = lambda: now[0]
    notices: list[Notice] = []
    world.svc.on_notice = notices.append
    pair = world.pair()
    world.admin.add_fault(503, path="/calendar/v3", count=-1, retry_after=3600)
    assert sync_and_wait(world.svc, pair.id)["status"] in ("offline", "error")
    now[0] += dt.timedelta(minutes=61)
    sync_and_wait(world.svc, pair.id)
    sync_and_wait(world.svc, pair.id)
    assert [n.kind for n in notices] == ["failing"]
    world.admin.clear_faults()
    world.svc.set_notify("conflicts", False)
    assert sync_and_wait(world.svc, pair.id)["status"] == "ok"
    assert world.svc.state() is TrayState.IDLE


def test_draft_pair_previews_then_starts(world: World) -> None:
    ms, g = world.sign_in_both()
    draft = world.svc.add_pair(ms.id, "primary", g.id, "primary", PairRules(), draft=True)
    assert world.svc.pairs() == [] and world.svc.scheduler.pair_ids() == []
    world.add_event(draft, "Lunch")
    preview = world.svc.preview(draft.id)
    assert (preview.status, preview.counts["created"]) == ("dry-run", 1)
    assert "Lunch" not in world.titles(draft, Side.B)
    first = wait_for_run(world.svc, lambda: world.svc.start_pair(draft.id))
    assert [p.id for p in world.svc.pairs()] == [draft.id]
    assert first["created"] == 1
    assert "Lunch" in world.titles(draft, Side.B)


def test_a_mass_delete_is_held_told_once_and_decided_from_the_pairs_page(
    qtbot: QtBot, world: World
) -> None:
    notices: list[Notice] = []
    world.svc.on_notice = notices.append
    pair = world.pair()
    for i in range(12):
        world.add_event(pair, f"Class {i}", days=1 + i)
    assert sync_and_wait(world.svc, pair.id)["created"] == 12
    prov, cal = world.provider(pair, Side.A)
    for title, event in world.events(pair, Side.A).items():
        assert event.ref is not None and title.startswith("Class")
        prov.delete(cal, event.ref.event_id)
    assert sync_and_wait(world.svc, pair.id)["status"] == "held"
    assert sync_and_wait(world.svc, pair.id)["status"] == "held"
    assert [n.kind for n in notices] == ["held"]
    assert world.svc.state() is TrayState.ATTENTION
    assert len(world.titles(pair, Side.B)) == 12  # nothing was deleted

    page = PairsPage(world.svc, Bridge())
    qtbot.addWidget(page)
    page.show()
    assert page.confirm.isVisible() and "deletions held" in page.state.text()
    shoot(page, "pairs-page-held")
    done = wait_for_run(world.svc, lambda: qtbot.mouseClick(page.refuse, Qt.MouseButton.LeftButton))
    assert done["status"] == "ok" and done["deleted"] == 0
    assert len(world.titles(pair, Side.B)) == 12  # refused: the copies stay


def test_a_kind_turned_off_is_not_told(world: World) -> None:
    notices: list[Notice] = []
    world.svc.on_notice = notices.append
    world.svc.set_notify("conflicts", False)
    pair = world.pair()
    world.add_event(pair, "Standup")
    sync_and_wait(world.svc, pair.id)
    world.edit(pair, Side.A, "Standup", title="Standup A")
    world.edit(pair, Side.B, "Standup", title="Standup B")
    assert sync_and_wait(world.svc, pair.id)["conflicts"] == 1
    assert notices == []  # off: not told...
    assert world.svc.state() is TrayState.ATTENTION  # ...but the tray still shows it


def test_settings_locked_by_policy_are_reported_as_set_by_the_organization(tmp_path: Path) -> None:
    from app.policy import Locations, load_policy
    from app.services.app_service import policy_lock

    etc = tmp_path / "etc" / "meridian"
    etc.mkdir(parents=True)
    (etc / "policy.json").write_text(  # what IT pushes
        '{"schema_version": 1, "locked": {"direction": "outlook_to_google", '
        '"fields_outlook_to_google": ["time", "title"]}}'
    )
    policy = load_policy(Locations("linux", root=tmp_path))
    assert policy.errors == []
    locked = policy_lock(policy)
    assert locked("pair.direction") == "Set by your organization"
    assert locked("pair.fields") == "Set by your organization"
    assert locked("pair.privacy") is None
    assert locked("interval") is None


def test_the_main_window_health_line_counts_the_runs(world: World) -> None:
    pair = world.pair()
    world.add_event(pair, "Standup")
    assert sync_and_wait(world.svc, pair.id)["status"] == "ok"
    import re

    line = world.svc.health_summary()
    found = re.match(r"Last 7 days: (\d+) syncs, 0 failed;", line)
    assert found and int(found.group(1)) >= 1, line
    assert "conflicts: 0 merged" in line


def test_housekeeping_prunes_the_audit_log_at_most_hourly(world: World) -> None:
    import datetime as dt

    world.svc.repo.audit("person", "ancient")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    world.svc.housekeeping(later)  # the default retention is a year
    assert [r for r in world.svc.repo.audit_rows() if r["action"] == "ancient"] == []
    world.svc.repo.audit("person", "ancient")
    world.svc.housekeeping(later + dt.timedelta(minutes=5))  # within the hour: nothing runs
    assert [r["action"] for r in world.svc.repo.audit_rows()].count("ancient") == 1
