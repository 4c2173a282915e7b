"""Schedule overlaps against the sandbox: the popup (keep both, decline one through its cloud after
asking, open in the web calendar, later), the queue that never repeats a choice or takes the
focus, the tray's count and notice, and the service under it (copies decline their origin; an
overlap that solved itself is closed, not shown)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot
from shots import shoot
from uikit import Cloud, World, slot

from app.core.rules import Side
from app.services.app_service import TrayState
from app.ui.bridge import Bridge
from app.ui.overlap_dialog import DeclineDialog, OverlapDialog, PopupQueue
from app.ui.tray import Tray

WAIT = 10_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def queue(world: World, bridge: Bridge) -> Iterator[PopupQueue]:
    q = PopupQueue(world.svc, bridge)
    yield q
    q._close()


class Meeting:
    """An invitation from Boss (another Outlook user) to the person, and the person's own
    Google event at the same time."""

    def __init__(self, world: World, days: int = 2) -> None:
        email = f"boss-{world.ms_user.email}"
        self.boss_user = world.admin.create_user("microsoft", email, "Boss")
        self.boss = Cloud(world.sandbox, self.boss_user)
        self.outlook = Cloud(world.sandbox, world.ms_user)
        self.google = Cloud(world.sandbox, world.google_user)
        start, end = slot(days, 14)
        invite = {
            "subject": "Planning",
            "start": {"dateTime": start, "timeZone": "UTC"},
            "end": {"dateTime": end, "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": world.ms_user.email, "name": "Alex"}}],
        }
        self.boss_event = self.boss.call("POST", "/me/events", invite)
        [self.invitation] = self.outlook.call("GET", "/me/events")["value"]
        half = dt.datetime.fromisoformat(start) + dt.timedelta(minutes=30)
        self.dentist = self.google.call(
            "POST",
            "calendars/primary/events",
            {
                "summary": "Dentist",
                "start": {"dateTime": half.isoformat() + "Z"},
                "end": {"dateTime": (half + dt.timedelta(hours=1)).isoformat() + "Z"},
            },
        )


def _shown(qtbot: QtBot, queue: PopupQueue) -> OverlapDialog:
    with qtbot.waitSignal(queue.shown, timeout=WAIT) as shown:
        queue.check()
    dlg = shown.args[0]
    assert isinstance(dlg, OverlapDialog) and dlg.isVisible()
    return dlg


def _titles(cloud: Cloud) -> set[str]:
    if cloud.user.service == "microsoft":
        return {e["subject"] for e in cloud.call("GET", "/me/events")["value"]}
    items = cloud.call("GET", "calendars/primary/events")["items"]
    return {e.get("summary", "") for e in items if e["status"] != "cancelled"}


def test_decline_one_through_outlook_after_asking(
    qtbot: QtBot,
    world: World,
    bridge: Bridge,
    queue: PopupQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(OverlapDialog, "activateWindow", lambda self: asked.append("activate"))
    monkeypatch.setattr(OverlapDialog, "raise_", lambda self: asked.append("raise"))
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    m = Meeting(world)
    pair = world.pair()  # the first sync copies both ways and records the overlap
    [waiting] = world.svc.overlaps()
    dlg = _shown(qtbot, queue)
    assert dlg.overlap_id == waiting["id"]
    assert not dlg.isModal() and asked == []
    assert dlg.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    outlook, google = dlg.cards[Side.A], dlg.cards[Side.B]
    assert (outlook.title.text(), google.title.text()) == ("Planning", "Dentist")
    assert outlook.who.text() == "Organized by Boss"
    assert google.who.text() == "Your own event"
    assert outlook.decline.isVisibleTo(dlg) and not google.decline.isVisibleTo(dlg)
    assert "not a meeting" in google.decline.toolTip()
    shoot(dlg, "overlap-dialog")

    # Open in the web calendar: each cloud's own link for the event.
    qtbot.mouseClick(outlook.open, LEFT)
    qtbot.mouseClick(google.open, LEFT)
    assert opened == [
        QUrl(m.invitation["webLink"]).toString(),
        QUrl(m.dentist["htmlLink"]).toString(),
    ]

    # Decline asks first; cancelling changes nothing.
    qtbot.mouseClick(outlook.decline, LEFT)
    confirm = dlg.confirm
    assert isinstance(confirm, DeclineDialog) and confirm.isVisible()
    assert confirm.notify.isChecked() and confirm.notify.text() == "Tell Boss that I decline"
    qtbot.mouseClick(confirm.buttons.button(confirm.buttons.StandardButton.Cancel), LEFT)
    assert world.admin.outbox(world.ms_user.id) == [] and queue.current is dlg

    qtbot.mouseClick(outlook.decline, LEFT)
    confirm = dlg.confirm
    assert confirm is not None
    qtbot.keyClicks(confirm.comment, "Sorry, double-booked")
    shoot(confirm, "overlap-decline")
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:  # the decline syncs now
        qtbot.mouseClick(confirm.ok, LEFT)
    assert run.args[0]["status"] == "ok" and run.args[0]["deleted"] == 1
    # Outlook answered the organizer and took the meeting out; its Google copy followed.
    mails = world.admin.outbox(world.ms_user.id)
    assert [(x["kind"], x["recipients"]) for x in mails] == [("response", [m.boss_user.email])]
    theirs = m.boss.call("GET", f"/me/events/{m.boss_event['id']}")
    assert [a["status"]["response"] for a in theirs["attendees"]] == ["declined"]
    assert _titles(m.outlook) == {"Dentist"}
    assert _titles(m.google) == {"Dentist"}
    assert world.svc.overlaps() == [] and queue.current is None
    queue.check()
    assert queue.current is None and queue.loading is None  # never asked again
    [row] = world.svc.repo.overlaps(pair.id, open_only=False)
    assert row["action"] == "declined in Outlook"
    assert "overlaps: 1 found, 1 handled" in world.svc.health_summary()


def test_later_then_keep_both_is_remembered(
    qtbot: QtBot, world: World, bridge: Bridge, queue: PopupQueue
) -> None:
    now = [dt.datetime.now(dt.UTC)]
    world.svc.clock = lambda: now[0]
    pair = world.pair()
    tray = Tray(world.svc, bridge)
    notices: list[str] = []
    bridge.notice.connect(lambda n: notices.append(n.kind))
    Meeting(world)
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:
        world.svc.sync_now(pair.id)
    assert run.args[0]["overlaps"] == 1 and notices == ["overlaps"]
    tray.menu.aboutToShow.emit()
    assert tray.state is TrayState.ATTENTION and tray.headline() == "1 overlap waiting"
    assert tray.action("Overlaps waiting (1)").isEnabled()
    first = _shown(qtbot, queue)

    qtbot.mouseClick(first.snooze, LEFT)  # later: gone for an hour, then back
    assert queue.current is None and world.svc.overlaps() == []
    queue.check()
    assert queue.current is None
    now[0] += dt.timedelta(minutes=61)
    again = _shown(qtbot, queue)
    assert again.overlap_id == first.overlap_id

    qtbot.mouseClick(again.keep, LEFT)
    assert queue.current is None and world.svc.overlaps() == []
    tray.refresh()
    assert tray.state is TrayState.IDLE
    with qtbot.waitSignal(bridge.run_finished, timeout=WAIT) as run:
        world.svc.sync_now(pair.id)
    assert run.args[0]["overlaps"] == 0  # the same two events are never recorded again
    queue.check()
    assert queue.current is None and queue.loading is None
    [row] = world.svc.repo.overlaps(pair.id, open_only=False)
    assert row["action"] == "kept both"
    tray.hide()


def test_a_copy_declines_its_origin_and_a_solved_overlap_closes(qtbot: QtBot, world: World) -> None:
    m = Meeting(world)
    pair = world.pair()
    svc = world.svc
    [found] = svc.overlaps()
    # The Google copy of the invitation against the Outlook copy of the dentist (as if both
    # copies had been found overlapping): each points at its origin on the other side.
    links = {lk.id_on(Side.A): lk.id_on(Side.B) for lk in svc.repo.links(pair.id)}
    back = {b: a for a, b in links.items()}
    copy_in_google = links[m.invitation["id"]]
    copy_in_outlook = back[m.dentist["id"]]
    start = dt.datetime.fromisoformat(str(found["start"]))
    assert svc.repo.add_overlap(pair.id, copy_in_outlook, copy_in_google, "x", "y", start)
    made = next(o for o in svc.overlaps() if o["a_id"] == copy_in_outlook)
    view = svc.overlap_view(int(str(made["id"])))
    assert view is not None
    assert view.b.copy and view.b.decline == (Side.A, m.invitation["id"])
    assert view.b.organizer == "Boss"
    assert view.a.copy and view.a.decline is None and "not a meeting" in view.a.why_not
    svc.decline_overlap(view.id, Side.B, notify=False)
    assert world.admin.outbox(world.ms_user.id) == []  # asked not to tell
    assert "Planning" not in _titles(m.outlook)
    # The first overlap involved the declined invitation: shown again, it closes itself.
    assert svc.overlap_view(int(found["id"])) is None
    [row] = [r for r in svc.repo.overlaps(pair.id, open_only=False) if r["id"] == found["id"]]
    assert row["action"] == "no longer overlapping"
