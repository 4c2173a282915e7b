"""The conflict popup against real conflicts made through the sandbox: keep a side, per field,
always, snooze; it never takes the focus and never asks again about a choice already made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from shots import shoot
from uikit import World

from app.core.rules import ConflictPolicy, Side
from app.store.repo import PairRow
from app.ui.bridge import Bridge
from app.ui.conflict_dialog import HIGHLIGHT, PLAIN, ConflictDialog, ConflictQueue

WAIT = 10_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def queue(world: World, bridge: Bridge) -> Iterator[ConflictQueue]:
    q = ConflictQueue(world.svc, bridge)
    yield q
    q._close()


def _conflict(
    qtbot: QtBot, world: World, bridge: Bridge, pair: PairRow, edits: dict[str, tuple[dict, dict]]
) -> None:
    """Copy events across, then change each differently on both sides (``title: (a, b)``)."""
    for title in edits:
        world.add_event(pair, title)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT):
        world.svc.sync_now(pair.id)
    for title, (a, b) in edits.items():
        world.edit(pair, Side.A, title, **a)
        world.edit(pair, Side.B, title, **b)


def _shown(
    qtbot: QtBot, queue: ConflictQueue, bridge: Bridge, world: World, pair: PairRow
) -> ConflictDialog:
    with qtbot.waitSignal(queue.shown, timeout=WAIT) as shown:
        world.svc.sync_now(pair.id)
    dlg = shown.args[0]
    assert isinstance(dlg, ConflictDialog) and dlg.isVisible()
    return dlg


def test_keep_googles_version_reaches_both_calendars(
    qtbot: QtBot,
    world: World,
    bridge: Bridge,
    queue: ConflictQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The offscreen platform activates every window it shows (it ignores the attribute), so
    # what is checked is that the popup asks for no activation and says it wants none.
    asked: list[str] = []
    monkeypatch.setattr(ConflictDialog, "activateWindow", lambda self: asked.append("activate"))
    monkeypatch.setattr(ConflictDialog, "raise_", lambda self: asked.append("raise"))
    monkeypatch.setattr(ConflictDialog, "setFocus", lambda self, *a: asked.append("focus"))
    pair = world.pair()
    _conflict(
        qtbot,
        world,
        bridge,
        pair,
        {
            "Dentist": (
                {"title": "Dentist (moved by Outlook)"},
                {"title": "Dentist (moved by Google)"},
            )
        },
    )
    dlg = _shown(qtbot, queue, bridge, world, pair)
    # Non-modal and shown without taking the focus from whatever the person is doing.
    assert not dlg.isModal()
    assert dlg.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    assert asked == []
    a_cell, b_cell = dlg.cells["title"]
    assert (a_cell.text(), b_cell.text()) == (
        "Dentist (moved by Outlook)",
        "Dentist (moved by Google)",
    )
    assert a_cell.styleSheet() == HIGHLIGHT and dlg.cells["when"][0].styleSheet() == PLAIN
    assert not dlg.keep_fields.isVisible()  # one field: per-field choice adds nothing
    shoot(dlg, "conflict-dialog")
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:
        qtbot.mouseClick(dlg.keep_b, LEFT)
    assert run.args[0]["updated"] == 1
    assert "Dentist (moved by Google)" in world.titles(pair, Side.A)
    assert "Dentist (moved by Google)" in world.titles(pair, Side.B)
    assert queue.current is None and world.svc.conflicts() == []
    queue.check()
    assert queue.current is None  # never shown again


def test_per_field_then_snooze_then_always(
    qtbot: QtBot, world: World, bridge: Bridge, queue: ConflictQueue
) -> None:
    now = [dt.datetime.now(dt.UTC)]
    world.svc.clock = lambda: now[0]
    pair = world.pair()
    offsite = (
        {"title": "Offsite (Outlook)", "location": "Room A"},
        {"title": "Offsite (Google)", "location": "Room B"},
    )
    _conflict(qtbot, world, bridge, pair, {"Offsite": offsite})
    first = _shown(qtbot, queue, bridge, world, pair)
    assert set(first.choices) == {"title", "location"} and first.keep_fields.isVisible()
    shoot(first, "conflict-dialog-fields")
    qtbot.mouseClick(first.choices["title"].buttons()[0], LEFT)  # title: Outlook's
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT):  # the choice is synced at once
        qtbot.mouseClick(first.keep_fields, LEFT)
    assert queue.current is None
    for side in Side:
        events = world.events(pair, side)
        assert events["Offsite (Outlook)"].location == "Room B"

    _conflict(
        qtbot, world, bridge, pair, {"Review": ({"title": "Review A"}, {"title": "Review B"})}
    )
    second = _shown(qtbot, queue, bridge, world, pair)

    # Later: gone for an hour, then back.
    qtbot.mouseClick(second.snooze, LEFT)
    assert queue.current is None and world.svc.conflicts() == []
    queue.check()
    assert queue.current is None
    now[0] += dt.timedelta(minutes=61)
    with qtbot.waitSignal(queue.shown, timeout=WAIT) as again:
        queue.check()
    third = again.args[0]
    assert third.conflict_id == second.conflict_id

    # Always Outlook's: resolved, and the pair's policy remembers it.
    qtbot.mouseClick(third.always, LEFT)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT):
        qtbot.mouseClick(third.keep_a, LEFT)
    assert world.svc.rules(pair.id).conflict_policy is ConflictPolicy.A_WINS
    assert "Review A" in world.titles(pair, Side.B)
    assert queue.current is None and world.svc.conflicts() == []


def test_a_conflict_resolved_elsewhere_closes_its_popup(
    qtbot: QtBot, world: World, bridge: Bridge, queue: ConflictQueue
) -> None:
    pair = world.pair()
    _conflict(qtbot, world, bridge, pair, {"Call": ({"title": "Call A"}, {"title": "Call B"})})
    dlg = _shown(qtbot, queue, bridge, world, pair)
    world.svc.sync.resolve_conflict(dlg.conflict_id, Side.A)  # as `meridian conflicts resolve`
    queue.check()
    assert queue.current is None and not dlg.isVisible()
