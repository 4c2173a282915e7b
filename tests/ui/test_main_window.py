"""The main window driven by clicks against the sandbox: accounts, a new pair, its settings,
status, activity, settings with a policy lock; closing only hides. Screenshots of each tab.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from shots import shoot
from uikit import World

from app.core.rules import ConflictPolicy, Direction, PrivacyMode
from app.services.autostart import XdgAutostart
from app.ui.bridge import Bridge
from app.ui.main_window import MainWindow
from app.ui.pairs_page import NewPairDialog

WAIT = 10_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def window(qtbot: QtBot, world: World) -> Iterator[MainWindow]:
    bridge = Bridge()
    bridge.attach(world.svc)
    w = MainWindow(world.svc, bridge)
    qtbot.addWidget(w)
    w.show()
    yield w


def test_connect_accounts_add_a_pair_edit_it_and_see_it_sync(
    qtbot: QtBot, world: World, window: MainWindow
) -> None:
    # Accounts: both sign-ins run through the (sandbox) browser flow.
    window.tabs.setCurrentWidget(window.accounts)
    acc = window.accounts
    qtbot.mouseClick(acc.connect_ms, LEFT)
    assert acc.waiting.isVisible()
    qtbot.waitUntil(lambda: acc.table.rowCount() == 1 and not acc.waiting.isVisible(), timeout=WAIT)
    qtbot.mouseClick(acc.connect_google, LEFT)
    qtbot.waitUntil(lambda: acc.table.rowCount() == 2 and not acc.waiting.isVisible(), timeout=WAIT)
    emails = {acc.table.item(r, 0).text() for r in range(2)}
    assert emails == {world.ms_user.email, world.google_user.email}
    assert {acc.table.item(r, 2).text() for r in range(2)} == {"Connected"}
    shoot(window, "main-accounts")

    # A new pair: calendar pickers fed from the accounts, then the rules.
    window.tabs.setCurrentWidget(window.pairs)
    assert window.pairs.empty.isVisible()
    qtbot.mouseClick(window.pairs.new, LEFT)
    dlg = window.pairs.findChild(NewPairDialog)
    assert dlg is not None
    qtbot.waitUntil(lambda: dlg.ok.isEnabled(), timeout=WAIT)
    assert dlg.outlook.account.currentText() == world.ms_user.email
    assert dlg.google.calendar.currentText().endswith("(main)")
    dlg.editor.privacy.setCurrentIndex(dlg.editor.privacy.findData(PrivacyMode.BUSY.value))
    assert dlg.editor.busy_title.isVisible()
    shoot(dlg, "new-pair-dialog")
    with qtbot.waitSignal(world_bridge(window).run_finished, timeout=WAIT):
        qtbot.mouseClick(dlg.ok, LEFT)
    [pair] = world.svc.pairs()
    assert world.svc.rules(pair.id).privacy is PrivacyMode.BUSY
    qtbot.waitUntil(lambda: window.pairs.state.text() == "Up to date", timeout=WAIT)
    assert window.pairs.list.count() == 1
    assert "Outlook:" in window.pairs.calendars.text()
    assert window.pairs.next.text() not in ("", "paused")

    # Edit the settings and save.
    ed = window.pairs.editor
    ed.direction.setCurrentIndex(ed.direction.findData(Direction.A_TO_B.value))
    ed.policy.setCurrentIndex(ed.policy.findData(ConflictPolicy.B_WINS.value))
    ed.past.setValue(7)
    qtbot.mouseClick(ed.ex_private, LEFT)
    ed.ex_pattern.clear()
    qtbot.keyClicks(ed.ex_pattern, "^lunch")
    qtbot.mouseClick(window.pairs.save, LEFT)
    rules = world.svc.rules(pair.id)
    assert rules.direction is Direction.A_TO_B and rules.conflict_policy is ConflictPolicy.B_WINS
    assert rules.window_past_days == 7 and rules.exclusions.private
    assert rules.exclusions.subject_pattern == "^lunch"
    assert "Saved" in window.pairs.message.text()
    ed.ex_pattern.setText("([")
    qtbot.mouseClick(window.pairs.save, LEFT)
    assert "not a valid expression" in window.pairs.message.text()
    ed.ex_pattern.setText("^lunch")
    shoot(window, "main-pairs")

    # Off and on again.
    qtbot.mouseClick(window.pairs.on, LEFT)
    assert world.svc.pair_views()[0]["off"]
    assert window.pairs.state.text() == "Off"
    qtbot.mouseClick(window.pairs.on, LEFT)
    assert not world.svc.pair_views()[0]["off"]

    # Activity shows what happened, newest first.
    window.tabs.setCurrentWidget(window.activity)
    texts = [
        window.activity.table.item(r, 2).text() for r in range(window.activity.table.rowCount())
    ]
    assert "pair turned on" in texts
    assert "account sign in" in texts
    shoot(window, "main-activity")


def world_bridge(window: MainWindow) -> Bridge:
    return window.pairs.bridge


def test_remove_pair_asks_first(
    qtbot: QtBot, world: World, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.pair()
    window.refresh()
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    qtbot.mouseClick(window.pairs.remove, LEFT)
    assert len(world.svc.pairs()) == 1
    qtbot.mouseClick(window.pairs.remove, LEFT)
    assert world.svc.pairs() == []
    assert window.pairs.empty.isVisible()


def test_settings_save_and_policy_locks_grey_out(
    qtbot: QtBot, world: World, tmp_path: object
) -> None:
    from pathlib import Path

    world.svc.autostart = XdgAutostart(Path(str(tmp_path)) / "xdg")
    world.svc._locked = lambda key: "Managed by Contoso IT" if key == "notify.held" else None
    bridge = Bridge()
    w = MainWindow(world.svc, bridge)
    qtbot.addWidget(w)
    w.show()
    w.tabs.setCurrentWidget(w.settings)
    s = w.settings
    s.interval.selectAll()
    qtbot.keyClicks(s.interval, "15")
    qtbot.keyClick(s.interval, Qt.Key.Key_Return)
    assert world.svc.settings.interval_minutes == 15
    assert world.svc.scheduler.interval.total_seconds() == 15 * 60
    qtbot.mouseClick(s.notify["failing"], LEFT)
    assert world.svc.settings.notify["failing"] is False
    assert not s.notify["held"].isEnabled()
    assert "Set by your organization" in s.notify["held"].toolTip()
    qtbot.mouseClick(s.login, LEFT)
    assert world.svc.autostart.enabled() and world.svc.settings.start_at_login
    shoot(w, "main-settings")
    qtbot.mouseClick(s.login, LEFT)
    assert not world.svc.autostart.enabled()


def test_closing_the_window_only_hides_it(qtbot: QtBot, window: MainWindow) -> None:
    window.close()
    assert not window.isVisible()
    window.bring_to_front()
    assert window.isVisible()


def test_reconnect_after_the_cloud_refused_the_sign_in(
    qtbot: QtBot, world: World, window: MainWindow
) -> None:
    pair = world.pair()
    world.admin.revoke(world.google_user.id)
    world.admin.expire_access(world.google_user.id)
    with qtbot.waitSignal(window.pairs.bridge.run_finished, timeout=WAIT) as run:
        world.svc.sync_now(pair.id)
    assert run.args[0]["status"] == "needs-sign-in"
    assert window.pairs.state.text().startswith("Waiting for you: sign in again\nMeridian can no")
    window.tabs.setCurrentWidget(window.accounts)
    acc = window.accounts
    row = next(r for r in range(2) if acc.table.item(r, 0).text() == world.google_user.email)
    assert acc.table.item(row, 2).text() == "Sign in again"
    shoot(window, "main-accounts-sign-in")
    acc.table.selectRow(row)
    with qtbot.waitSignal(window.pairs.bridge.run_finished, timeout=WAIT) as run:
        qtbot.mouseClick(acc.reconnect, LEFT)
    assert run.args[0]["status"] == "ok"  # signed in again: the pair resumed by itself
    qtbot.waitUntil(lambda: acc.table.item(row, 2).text() == "Connected", timeout=WAIT)


def test_busy_blocks_show_the_fields_they_leave_out_unchecked_and_keep_the_choice(
    qtbot: QtBot, world: World
) -> None:
    from app.core.rules import PairRules, PrivacyMode
    from app.ui.pair_editor import PairEditor

    editor = PairEditor(world.svc)
    qtbot.addWidget(editor)
    editor.set_rules(PairRules())
    busy = editor.privacy.findData(PrivacyMode.BUSY.value)
    editor.privacy.setCurrentIndex(busy)
    assert not editor.fields["description"].isChecked()  # not copied as a busy block
    assert not editor.fields["description"].isEnabled()
    assert editor.fields["show_as"].isChecked() and editor.fields["show_as"].isEnabled()
    editor.privacy.setCurrentIndex(editor.privacy.findData(PrivacyMode.FULL.value))
    assert editor.fields["description"].isChecked()  # the person's choice came back
    assert "description" in editor.rules().fields
