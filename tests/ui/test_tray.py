"""The tray: one icon per state, tooltip, a menu rebuilt on open, notifications, no tray."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot
from shots import SHOTS, shoot
from uikit import World

from app.core.rules import Side
from app.services.app_service import Notice, TrayState
from app.ui.bridge import Bridge
from app.ui.icons import state_icon
from app.ui.tray import Tray

WAIT = 10_000


@pytest.fixture
def tray(world: World, bridge: Bridge) -> Iterator[Tray]:
    t = Tray(world.svc, bridge, available=lambda: True)
    assert t.start()
    yield t
    t.hide()


def _shows(tray: Tray, state: TrayState) -> bool:
    return tray.state is state and tray.icon.icon().cacheKey() == state_icon(state).cacheKey()


def _menu(tray: Tray) -> list[str]:
    tray.menu.aboutToShow.emit()
    return [a.text() for a in tray.menu.actions() if a.text()]


def test_icons_differ_for_every_state_and_theme(qtbot: QtBot) -> None:
    keys = set()
    for state in TrayState:
        for variant in ("light", "dark"):
            image = state_icon(state, variant).pixmap(32, 32).toImage()
            assert not image.isNull()
            keys.add(bytes(image.constBits()))
    assert len(keys) == 2 * len(TrayState)


def test_states_menu_and_tooltip_follow_the_sync(
    qtbot: QtBot, world: World, bridge: Bridge, tray: Tray
) -> None:
    assert _shows(tray, TrayState.IDLE)
    pair = world.pair()
    qtbot.waitUntil(lambda: "Last sync: never" not in tray.icon.toolTip(), timeout=WAIT)
    assert tray.icon.toolTip().startswith("Meridian: Up to date")
    assert "Next sync:" in tray.icon.toolTip()
    assert _menu(tray) == [
        "Up to date",
        "Sync now",
        "Pause syncing",
        "Export diagnostics\u2026",
        "Open Meridian",
        "Quit Meridian",
    ]

    # Syncing: shown while a run is under way (the sandbox answers slowly).
    world.admin.set_latency(150)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT):
        with qtbot.waitSignal(bridge.run_started, timeout=WAIT):
            tray.menu.aboutToShow.emit()
            tray.action("Sync now").trigger()
        assert _shows(tray, TrayState.SYNCING)
    world.admin.set_latency(0)
    assert _shows(tray, TrayState.IDLE)

    # Paused for an hour from the menu; the menu then offers to resume.
    tray.menu.aboutToShow.emit()
    with qtbot.waitSignal(bridge.status_changed, timeout=WAIT):
        tray.action("For 1 hour").trigger()
    assert _shows(tray, TrayState.PAUSED)
    assert "Paused until" in tray.icon.toolTip() and "Next sync: paused" in tray.icon.toolTip()
    assert "Resume syncing" in _menu(tray)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT):
        tray.action("Resume syncing").trigger()
    assert _shows(tray, TrayState.IDLE)

    # Offline: the clouds cannot be reached.
    world.admin.add_fault(503, path="/", count=-1, retry_after=3600)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:
        world.svc.sync_now(pair.id)
    assert run.args[0]["status"] == "offline"
    assert _shows(tray, TrayState.OFFLINE)
    world.admin.clear_faults()

    # Error: the server refuses the request itself.
    world.admin.add_fault(400, path="/calendar/v3", count=-1)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:
        world.svc.sync_now(pair.id)
    assert run.args[0]["status"] == "error", run.args
    assert _shows(tray, TrayState.ERROR)
    world.admin.clear_faults()

    # Attention: a conflict waits; the menu says how many and offers to show them.
    world.add_event(pair, "Gym")
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT):
        world.svc.sync_now(pair.id)
    world.edit(pair, Side.A, "Gym", title="Gym (Outlook)")
    world.edit(pair, Side.B, "Gym", title="Gym (Google)")
    messages: list[tuple[str, str]] = []
    tray.message.connect(lambda t, m: messages.append((t, m)))
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT):
        world.svc.sync_now(pair.id)
    assert _shows(tray, TrayState.ATTENTION)
    assert messages == [("1 conflict to look at", messages[0][1])]
    items = _menu(tray)
    assert items[0] == "1 conflict waiting" and "Conflicts waiting (1)\u2026" in items
    with qtbot.waitSignal(tray.conflicts_requested, timeout=WAIT):
        tray.action("Conflicts waiting").trigger()
    shoot(tray.menu, "tray-menu")
    _icon_sheet()


def test_menu_entries_emit_open_and_quit(qtbot: QtBot, tray: Tray) -> None:
    tray.menu.aboutToShow.emit()
    with qtbot.waitSignal(tray.open_requested, timeout=WAIT):
        tray.action("Open Meridian").trigger()
    with qtbot.waitSignal(tray.quit_requested, timeout=WAIT):
        tray.action("Quit Meridian").trigger()
    with qtbot.waitSignal(tray.open_requested, timeout=WAIT):
        tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)


def test_notifications_use_the_tray_bubble(
    qtbot: QtBot, tray: Tray, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[tuple[str, str, QSystemTrayIcon.MessageIcon]] = []
    monkeypatch.setattr(tray.icon, "showMessage", lambda t, m, icon, ms: shown.append((t, m, icon)))
    tray.notify(Notice("held", "Sync held", "Confirm the deletions"))
    assert shown == [("Sync held", "Confirm the deletions", QSystemTrayIcon.MessageIcon.Warning)]


def test_no_tray_at_start_shows_the_window_and_keeps_trying(
    qtbot: QtBot, world: World, bridge: Bridge
) -> None:
    answers = [False, False, True]
    tray = Tray(world.svc, bridge, available=lambda: answers.pop(0) if answers else True)
    tray._retry.setInterval(10)
    with qtbot.waitSignal(tray.unavailable, timeout=WAIT):
        assert tray.start() is False
    qtbot.waitUntil(tray.icon.isVisible, timeout=WAIT)
    tray.hide()


def _icon_sheet() -> None:
    """All tray icons on a light and a dark panel, at 16, 32 and 64 px."""
    states = list(TrayState)
    image = QImage(len(states) * 80 + 20, 2 * 130, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    for row, (variant, bg) in enumerate((("light", "#f3f4f6"), ("dark", "#111827"))):
        painter.fillRect(0, row * 130, image.width(), 130, bg)
        for col, state in enumerate(states):
            x, y = 10 + col * 80, row * 130 + 10
            for size in (16, 32, 64):
                pix = state_icon(state, variant).pixmap(size, size)
                painter.drawPixmap(QPoint(x, y), pix)
                y += size + 6
    painter.end()
    SHOTS.mkdir(parents=True, exist_ok=True)
    image.save(str(SHOTS / "tray-icons.png"))


def test_export_diagnostics_from_the_menu_writes_a_bundle(qtbot: QtBot, tray: Tray) -> None:
    import zipfile
    from pathlib import Path

    assert any(t.startswith("Export diagnostics") for t in _menu(tray))
    with qtbot.waitSignal(tray.exported, timeout=10_000) as sig:
        tray.action("Export diagnostics").trigger()
    bundle = Path(sig.args[0])
    assert bundle.exists()
    names = zipfile.ZipFile(bundle).namelist()
    assert any(n.endswith("README.txt") for n in names)
