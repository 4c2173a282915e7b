"""The whole desktop app: the demo (`meridian --sandbox`), first launch (up to a conflict resolved
on both sides), single instance."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWizard
from pytestqt.qtbot import QtBot
from shots import shoot
from uikit import Cloud, World, slot

from app.cli import _demo_service
from app.sandbox.seed import HOME_EMAIL, WORK_EMAIL
from app.ui.app import DesktopApp
from app.ui.conflict_dialog import ConflictDialog
from app.ui.single_instance import SingleInstance, instance_name

WAIT = 15_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DesktopApp]:
    svc, cleanup = _demo_service(tmp_path / "profile")
    ui = DesktopApp(svc, tray_available=lambda: False)
    yield ui
    ui.shutdown()
    cleanup()


def test_demo_mode_syncs_the_seeded_calendars(qtbot: QtBot, demo: DesktopApp) -> None:
    svc = demo.svc
    assert sorted(a.email for a in svc.accounts()) == sorted([WORK_EMAIL, HOME_EMAIL])
    [pair] = svc.pairs()
    assert pair.name == "Work \u2194 Home"
    with qtbot.waitSignal(demo.bridge.run_finished, timeout=WAIT) as first:
        demo.start()
    assert first.args[0]["status"] == "ok" and first.args[0]["created"] >= 8
    assert first.args[0]["linked"] >= 1  # the meeting on both calendars is linked, not copied
    # No tray on this desktop: the window shows instead; no wizard (the demo is set up).
    assert demo.window.isVisible() and demo.wizard is None
    assert demo.window.windowTitle() == "Meridian \u2014 sandbox demo"
    qtbot.waitUntil(lambda: demo.window.pairs.state.text() == "Up to date", timeout=WAIT)
    shoot(demo.window, "demo-pairs")
    demo.window.tabs.setCurrentWidget(demo.window.activity)
    assert demo.window.activity.table.rowCount() >= 10
    shoot(demo.window, "demo-activity")


def test_first_launch_opens_the_wizard_and_quit_quits(
    qtbot: QtBot, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ui = DesktopApp(world.svc, tray_available=lambda: True)
    ui.start()
    try:
        assert ui.wizard is not None and ui.wizard.isVisible()
        assert not ui.window.isVisible()  # in the tray
        quits: list[bool] = []
        monkeypatch.setattr(QApplication, "quit", lambda: quits.append(True))
        ui.tray.menu.aboutToShow.emit()
        ui.tray.action("Open Meridian").trigger()
        assert ui.window.isVisible()
        ui.window.close()
        assert not ui.window.isVisible() and not quits  # closing never quits
        ui.tray.action("Quit Meridian").trigger()
        assert quits == [True]
    finally:
        ui.wizard and ui.wizard.reject()
        ui.shutdown()


def _subjects(outlook: Cloud, google: Cloud) -> tuple[set[str], set[str]]:
    """Event titles on each side, read from the clouds' own APIs."""
    a = {e["subject"] for e in outlook.call("GET", "/me/events")["value"]}
    items = google.call("GET", "calendars/primary/events")["items"]
    return a, {e.get("summary", "") for e in items if e["status"] != "cancelled"}


def test_first_launch_to_a_working_pair_and_a_conflict_resolved_on_both_sides(
    qtbot: QtBot, world: World
) -> None:
    """The journey of issue 7's "done when", by clicks only, checked through both APIs."""
    outlook, google = Cloud(world.sandbox, world.ms_user), Cloud(world.sandbox, world.google_user)
    start, end = slot(3, 12)
    lunch = outlook.call(
        "POST",
        "/me/events",
        {
            "subject": "Team lunch",
            "start": {"dateTime": start, "timeZone": "UTC"},
            "end": {"dateTime": end, "timeZone": "UTC"},
        },
    )
    ui = DesktopApp(world.svc, tray_available=lambda: True)
    ui.start()
    try:
        # First launch: the wizard, nothing to read first.
        wiz = ui.wizard
        assert wiz is not None and wiz.isVisible()

        def next_page() -> None:
            button = wiz.button(QWizard.WizardButton.NextButton)
            qtbot.waitUntil(button.isEnabled, timeout=WAIT)
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

        qtbot.mouseClick(wiz.microsoft.button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(wiz.microsoft.isComplete, timeout=WAIT)
        next_page()
        qtbot.mouseClick(wiz.google.button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(wiz.google.isComplete, timeout=WAIT)
        next_page()
        qtbot.waitUntil(wiz.calendars.isComplete, timeout=WAIT)
        next_page()
        assert wiz.preset.group.checkedId() == 0  # two-way, everything: the default
        next_page()
        qtbot.waitUntil(wiz.preview.isComplete, timeout=WAIT)
        assert "1 event copied to Google" in wiz.preview.summary.text()
        with qtbot.waitSignal(ui.bridge.run_finished, timeout=WAIT) as first:
            qtbot.mouseClick(
                wiz.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton
            )
        assert first.args[0]["status"] == "ok" and first.args[0]["created"] == 1
        assert _subjects(outlook, google) == ({"Team lunch"}, {"Team lunch"})

        # The same event changed on both sides, each in its own cloud.
        [copy] = google.call("GET", "calendars/primary/events")["items"]
        outlook.call("PATCH", f"/me/events/{lunch['id']}", {"subject": "Team lunch at 1"})
        google.call(
            "PATCH", f"calendars/primary/events/{copy['id']}", {"summary": "Team lunch, Room 4"}
        )

        # Sync now from the tray: the conflict popup appears on its own.
        ui.tray.menu.aboutToShow.emit()
        with qtbot.waitSignal(ui.popups.shown, timeout=WAIT) as shown:
            ui.tray.action("Sync now").trigger()
        dlg = shown.args[0]
        assert isinstance(dlg, ConflictDialog) and dlg.isVisible()
        assert [c.text() for c in dlg.cells["title"]] == ["Team lunch at 1", "Team lunch, Room 4"]
        ui.tray.menu.aboutToShow.emit()
        assert ui.tray.action("Conflicts waiting (1)").isEnabled()

        # Resolved by a click: Google's version, on both sides.
        with qtbot.waitSignal(ui.bridge.run_finished, timeout=WAIT) as resolved:
            qtbot.mouseClick(dlg.keep_b, Qt.MouseButton.LeftButton)
        assert resolved.args[0]["status"] == "ok" and resolved.args[0]["updated"] == 1
        assert _subjects(outlook, google) == ({"Team lunch, Room 4"}, {"Team lunch, Room 4"})
        assert ui.popups.current is None and world.svc.conflicts() == []
        assert world.admin.outbox() == []  # a copy never mails anyone
    finally:
        ui.shutdown()


def test_a_second_instance_brings_the_first_forward(qtbot: QtBot, tmp_path: Path) -> None:
    name = instance_name(tmp_path, user=f"test-{uuid.uuid4().hex[:8]}")
    first = SingleInstance(name)
    assert first.claim()
    try:
        with qtbot.waitSignal(first.activated, timeout=WAIT):
            assert SingleInstance(name).claim() is False
    finally:
        first.release()
    # After the first is gone (or crashed) the next launch claims it again.
    again = SingleInstance(name)
    assert again.claim()
    again.release()
    assert instance_name(tmp_path, "a") != instance_name(tmp_path, "b")


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _wait_for(lines: queue.Queue[str], text: str, seen: list[str]) -> None:
    while True:
        line = lines.get(timeout=WAIT / 1000)
        seen.append(line)
        if text in line:
            return


def test_meridian_sandbox_runs_and_a_second_launch_defers(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, "-m", "app", "--profile-dir", str(tmp_path / "p"), "--sandbox"]
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    assert first.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(first.stderr, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _wait_for(lines, "Meridian is running.", seen)
        second = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0, "".join(seen)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_the_gui_against_a_sandbox_url_uses_the_sandbox_clouds(
    world: World, tmp_path: Path
) -> None:
    import argparse

    from app.cli import _app_service

    args = argparse.Namespace(
        sandbox=world.sandbox.urls.root,
        profile_dir=tmp_path / "p",
        sandbox_ca=world.sandbox.ca_cert,
    )
    svc = _app_service(args)  # the service itself: run_gui takes it as it is
    try:
        assert svc.sync.repo.db.path.parent == (tmp_path / "p").resolve()
        assert svc.sync.endpoints.graph.startswith(world.sandbox.urls.root)
        assert svc.accounts() == [] and not svc.demo
    finally:
        svc.repo.db.close()
