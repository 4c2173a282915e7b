"""The first-run wizard end to end against the sandbox, driven by clicks."""

from __future__ import annotations

import datetime as dt
import uuid

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot
from shots import shoot
from uikit import World

from app.core.model import Event, TimeSpan
from app.core.rules import Direction, PrivacyMode, Side
from app.ui.bridge import Bridge
from app.ui.wizard import SetupWizard

WAIT = 10_000
LEFT = Qt.MouseButton.LeftButton


def _next(qtbot: QtBot, wiz: SetupWizard) -> None:
    button = wiz.button(QWizard.WizardButton.NextButton)
    qtbot.waitUntil(button.isEnabled, timeout=WAIT)
    qtbot.mouseClick(button, LEFT)


def _meeting(world: World, account_id: str, calendar_id: str, title: str) -> None:
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start += dt.timedelta(days=1)
    when = TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC")
    provider = world.svc.sync.provider(account_id)
    provider.create(calendar_id, Event(ref=None, when=when, title=title), key=uuid.uuid4().hex)


def test_first_run_connects_picks_previews_and_starts(
    qtbot: QtBot, world: World, bridge: Bridge
) -> None:
    wiz = SetupWizard(world.svc, bridge)
    qtbot.addWidget(wiz)
    wiz.show()
    finish = wiz.button(QWizard.WizardButton.NextButton)

    # 1-2: connect both clouds (the sandbox approves; a real one shows its page in the browser).
    assert not finish.isEnabled()
    shoot(wiz, "wizard-1-connect")
    qtbot.mouseClick(wiz.microsoft.button, LEFT)
    qtbot.waitUntil(lambda: wiz.microsoft.isComplete(), timeout=WAIT)
    assert wiz.microsoft.status.text() == f"Connected: {world.ms_user.email}"
    _next(qtbot, wiz)
    qtbot.mouseClick(wiz.google.button, LEFT)
    qtbot.waitUntil(lambda: wiz.google.isComplete(), timeout=WAIT)
    _next(qtbot, wiz)

    # 3: the calendars, listed from each account.
    cal = wiz.calendars
    qtbot.waitUntil(cal.isComplete, timeout=WAIT)
    shoot(wiz, "wizard-3-calendars")
    ms_id, ms_cal = cal.outlook.account_id(), cal.outlook.calendar_id()
    assert ms_id and ms_cal
    _meeting(world, ms_id, ms_cal, "Budget review")
    _meeting(world, ms_id, ms_cal, "1:1 with Sam")
    _next(qtbot, wiz)

    # 4: work -> personal as Busy.
    work_to_home = wiz.preset.group.button(1)
    # On its label, where a person clicks (the row is wider than what reacts to a click).
    qtbot.mouseClick(work_to_home, LEFT, pos=QPoint(12, work_to_home.height() // 2))
    assert wiz.preset.group.checkedId() == 1
    shoot(wiz, "wizard-4-preset")
    _next(qtbot, wiz)

    # 5: the preview is a dry run: it counts, writes nothing.
    qtbot.waitUntil(wiz.preview.isComplete, timeout=WAIT)
    assert "2 events copied to Google" in wiz.preview.summary.text()
    assert world.svc.pairs() == []  # the draft is not a pair yet
    [g] = [a for a in world.svc.accounts() if a.provider == "google"]
    assert world.svc.sync.provider(g.id).list_calendars()
    shoot(wiz, "wizard-5-preview")

    # Start: the pair exists with the preset and syncs at once.
    start = wiz.button(QWizard.WizardButton.FinishButton)
    assert start.text() == "Start syncing"
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:
        qtbot.mouseClick(start, LEFT)
    assert run.args[0]["created"] == 2
    [pair] = world.svc.pairs()
    rules = world.svc.rules(pair.id)
    assert (rules.direction, rules.privacy) == (Direction.A_TO_B, PrivacyMode.BUSY)
    assert world.titles(pair, Side.B) == {"Busy"}
    assert world.svc.settings.setup_done


def test_cancel_leaves_no_pair_behind(qtbot: QtBot, world: World, bridge: Bridge) -> None:
    world.sign_in_both()
    wiz = SetupWizard(world.svc, bridge)
    qtbot.addWidget(wiz)
    wiz.show()
    assert wiz.microsoft.isComplete()  # already connected: straight on
    _next(qtbot, wiz)
    _next(qtbot, wiz)
    _next(qtbot, wiz)
    _next(qtbot, wiz)
    qtbot.waitUntil(wiz.preview.isComplete, timeout=WAIT)
    assert wiz.draft is not None
    wiz.back()
    _next(qtbot, wiz)  # a second preview replaces the first draft
    qtbot.waitUntil(wiz.preview.isComplete, timeout=WAIT)
    assert len(world.svc.sync.pairs()) == 1
    qtbot.mouseClick(wiz.button(QWizard.WizardButton.CancelButton), LEFT)
    assert world.svc.sync.pairs() == []
    assert not world.svc.settings.setup_done
