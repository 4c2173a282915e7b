"""Bad input never crashes the app: a calendar deleted in the cloud while a pair uses it, an
account signed out while it syncs, window values out of range (typed, or stored by someone else).
The tray missing at start is covered in test_tray.py and test_app.py (the window shows instead).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from shots import shoot
from uikit import Cloud, World, slot, wait_for_run

from app.core.rules import PairRules
from app.services.app_service import TrayState
from app.ui.bridge import Bridge
from app.ui.main_window import MainWindow
from app.ui.pairs_page import CalendarsDialog

WAIT = 10_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def crashes(bridge: Bridge) -> list[str]:
    """Reports of unexpected exceptions (what would open the traceback dialog)."""
    seen: list[str] = []
    bridge.crashed.connect(seen.append)
    return seen


@pytest.fixture
def window(qtbot: QtBot, world: World, bridge: Bridge) -> Iterator[MainWindow]:
    w = MainWindow(world.svc, bridge)
    qtbot.addWidget(w)
    w.show()
    yield w


def _event(subject: str, days: int = 2, hour: int = 9) -> dict[str, Any]:
    start, end = slot(days, hour)
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
    }


def _google_titles(cloud: Cloud) -> set[str]:
    items = cloud.call("GET", "calendars/primary/events")["items"]
    return {e.get("summary", "") for e in items if e["status"] != "cancelled"}


def test_a_calendar_deleted_in_the_cloud_is_a_clear_issue_until_another_is_chosen(
    qtbot: QtBot, world: World, bridge: Bridge, window: MainWindow, crashes: list[str]
) -> None:
    outlook, google = Cloud(world.sandbox, world.ms_user), Cloud(world.sandbox, world.google_user)
    team = outlook.call("POST", "/me/calendars", {"name": "Team"})
    outlook.call("POST", f"/me/calendars/{team['id']}/events", _event("Standup"))
    google.call(
        "POST",
        "calendars/primary/events",
        {
            "summary": "Gym",
            "start": {"dateTime": slot(3, 18)[0] + "Z"},
            "end": {"dateTime": slot(3, 18)[1] + "Z"},
        },
    )
    ms, g = world.sign_in_both()
    made: list[Any] = []
    run = wait_for_run(
        world.svc,
        lambda: made.append(world.svc.add_pair(ms.id, team["id"], g.id, "primary", PairRules())),
    )
    assert run["created"] == 2
    [pair] = made
    before = _google_titles(google)
    assert before == {"Standup", "Gym"}

    # Someone deletes the calendar in Outlook; the next sync says so, and touches nothing.
    outlook.call("DELETE", f"/me/calendars/{team['id']}")
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as failed:
        world.svc.sync_now(pair.id)
    info = failed.args[0]
    assert info["status"] == "error" and info["deleted"] == 0
    assert "The Outlook calendar \u201cTeam\u201d was deleted" in info["message"]
    assert "Choose another calendar" in info["message"]
    assert _google_titles(google) == before  # nothing deleted on the other side
    [view] = world.svc.pair_views()
    assert view["problem"] == info["message"] and view["issues"] == 0
    assert world.svc.state() is TrayState.ATTENTION
    window.tabs.setCurrentWidget(window.pairs)
    window.refresh()
    page = window.pairs
    assert page.state.text().startswith("Waiting for you: choose another calendar")
    assert page.issues.text() == info["message"]
    shoot(window, "main-pairs-calendar-gone")

    # The pair still opens; "Change..." offers the account's calendars, and syncing resumes.
    qtbot.mouseClick(page.change, LEFT)
    dlg = page.findChild(CalendarsDialog)
    assert dlg is not None and dlg.isVisible()
    qtbot.waitUntil(dlg.ok.isEnabled, timeout=WAIT)
    assert dlg.outlook.calendar.currentText() == "Calendar (main)"  # Team is gone
    assert not dlg.outlook.account.isEnabled()
    assert dlg.google.calendar_id() == pair.config["b"]["calendar"]
    assert "choose another one" in dlg.message.text()
    shoot(dlg, "change-calendars")
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as resumed:
        qtbot.mouseClick(dlg.ok, LEFT)
    assert resumed.args[0]["status"] == "ok" and resumed.args[0]["deleted"] == 0
    qtbot.waitUntil(lambda: page.state.text() == "Up to date", timeout=WAIT)
    [view] = world.svc.pair_views()
    assert view["problem"] is None and view["a_calendar"] == "Calendar"
    # The new calendar gets Google's event; what was copied before stays where it is.
    assert {e["subject"] for e in outlook.call("GET", "/me/events")["value"]} == {"Gym"}
    assert _google_titles(google) == before
    assert crashes == []


@pytest.mark.parametrize("cloud", ["microsoft", "google"])
def test_signing_out_while_it_syncs_ends_the_run_with_a_clear_message(
    cloud: str,
    qtbot: QtBot,
    world: World,
    bridge: Bridge,
    window: MainWindow,
    crashes: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pair = world.pair()
    google = Cloud(world.sandbox, world.google_user)
    start, end = slot(4, 7)
    google.call(
        "POST",
        "calendars/primary/events",
        {"summary": "Swim", "start": {"dateTime": start + "Z"}, "end": {"dateTime": end + "Z"}},
    )
    # Hold the run inside its Google read, after Outlook was read and before anything is written.
    provider = world.svc.sync.provider(pair.config["b"]["account"])
    reading, go = threading.Event(), threading.Event()
    read = provider.read_changes

    def held(*args: Any, **kw: Any) -> Any:
        reading.set()
        go.wait(WAIT / 1000)
        return read(*args, **kw)

    monkeypatch.setattr(provider, "read_changes", held)
    world.svc.sync_now(pair.id)
    qtbot.waitUntil(reading.is_set, timeout=WAIT)

    window.tabs.setCurrentWidget(window.accounts)
    acc = window.accounts
    # Outlook is read already (the next request is a write); Google's read has not begun.
    user = world.ms_user if cloud == "microsoft" else world.google_user
    row = next(r for r in range(2) if acc.table.item(r, 0).text() == user.email)
    acc.table.selectRow(row)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:
        qtbot.mouseClick(acc.sign_out, LEFT)
        qtbot.waitUntil(lambda: acc.table.item(row, 2).text() == "Signed out", timeout=WAIT)
        go.set()
    info = run.args[0]
    assert info["status"] == "needs-sign-in"
    assert info["message"].startswith(f"You signed out of {user.email}")
    assert "sync stopped" in info["message"]
    outlook = Cloud(world.sandbox, world.ms_user)
    assert "Swim" not in {e["subject"] for e in outlook.call("GET", "/me/events")["value"]}
    assert "Signed out of" in acc.message.text()
    window.tabs.setCurrentWidget(window.pairs)
    assert window.pairs.state.text().startswith("Waiting for you: sign in again")
    assert crashes == []

    # Signing in again resumes the pair with fresh tokens (not the signed-out ones).
    acc.table.selectRow(row)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as again:
        qtbot.mouseClick(acc.reconnect, LEFT)
    assert again.args[0]["status"] == "ok" and again.args[0]["created"] == 1
    assert "Swim" in {e["subject"] for e in outlook.call("GET", "/me/events")["value"]}


def test_window_values_out_of_range_are_refused_and_stored_ones_repaired(
    qtbot: QtBot, world: World, bridge: Bridge, crashes: list[str]
) -> None:
    pair = world.pair()
    # A window stored out of range (edited by hand, written by an older version).
    config = dict(pair.config, rules={"window_past_days": -5, "window_future_days": 99999})
    with world.svc.repo.db.tx() as c:
        c.execute("UPDATE pairs SET config = ? WHERE id = ?", (json.dumps(config), pair.id))
    w = MainWindow(world.svc, bridge)  # opens, instead of failing on the pair's settings
    qtbot.addWidget(w)
    w.show()
    page = w.pairs
    assert "The window must be 0-3650 days back" in page.message.text()
    ed = page.editor
    assert (ed.past.value(), ed.future.value()) == (30, 180)  # the defaults, shown to save
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:
        world.svc.sync_now(pair.id)
    assert run.args[0]["status"] == "error" and "window" in run.args[0]["message"]

    # Typed values out of range never reach the pair: the boxes keep to their bounds.
    for box, typed, refused in (
        (ed.past, "-7", -7),
        (ed.past, "99999", 99999),
        (ed.future, "0", 0),
        (ed.future, "abc", None),
    ):
        box.selectAll()
        qtbot.keyClicks(box.lineEdit(), typed)
        box.interpretText()
        assert box.minimum() <= box.value() <= box.maximum() and box.value() != refused, typed
    qtbot.mouseClick(page.save, LEFT)
    rules = world.svc.rules(pair.id)
    assert (rules.window_past_days, rules.window_future_days) == (
        ed.past.value(),
        ed.future.value(),
    )
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as fixed:
        world.svc.sync_now(pair.id)
    assert fixed.args[0]["status"] == "ok"
    assert crashes == []
