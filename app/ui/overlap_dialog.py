"""Schedule overlaps: a meeting in Outlook and one in Google at the same time, shown side by side.

``OverlapDialog`` offers keep both, decline one (through its cloud, after ``DeclineDialog`` asks:
declining tells the organizer, the person's own choice), open either in its web calendar, and
later. ``PopupQueue`` shows conflicts and overlaps one popup at a time, conflicts first, never
taking the focus; an overlap is read again before it is shown (app/services/overlap_service.py),
so one that solved itself or was decided already never appears.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.model import Event, TimeSpan
from app.core.rules import Side
from app.errors import MeridianError
from app.services.app_service import AppService, OverlapEvent, OverlapView
from app.ui.bridge import Bridge
from app.ui.conflict_dialog import SNOOZE_MINUTES, ConflictDialog, ConflictQueue
from app.ui.widgets import Message, describe_error, fit

log = logging.getLogger(__name__)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def span_text(event: Event) -> str:
    """The event's time in the computer's zone: ``Tue 12 May, 14:00-15:00`` (an en dash)."""
    w = event.when
    if not isinstance(w, TimeSpan):
        return "All day"
    start, end = w.start.astimezone(), w.end.astimezone()
    until = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%a %H:%M")
    return start.strftime("%a %d %b, %H:%M") + "\u2013" + until


def organizer_text(side: OverlapEvent) -> str:
    if side.organizer == "you":
        return "You organize this meeting"
    if side.organizer:
        return f"Organized by {side.organizer}"
    return "Your own event"


class DeclineDialog(QDialog):
    """Asks before declining: the organizer is told unless the person unticks it."""

    def __init__(self, side: OverlapEvent, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Decline the invitation")
        title = side.event.title or "this meeting"
        # A copy's invitation is its origin's, in the other cloud.
        target = side.decline[0] if side.decline else side.side
        cloud = "Outlook" if target is Side.A else "Google"
        who = side.organizer or "the organizer"
        text = QLabel(
            f"<b>Decline \u201c{_html(title)}\u201d?</b><br>Meridian answers the invitation in "
            f"{cloud} for you. The other calendar follows with the next sync."
        )
        text.setWordWrap(True)
        self.notify = QCheckBox(f"Tell {who} that I decline")
        self.notify.setChecked(True)
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("A note to the organizer (optional)")
        self.notify.toggled.connect(self.comment.setEnabled)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Decline")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addSpacing(4)
        layout.addWidget(self.notify)
        layout.addWidget(self.comment)
        layout.addSpacing(4)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        fit(self)


class OverlapCard(QGroupBox):
    """One of the two events: what it is, where it lives, and its two buttons."""

    def __init__(self, side: OverlapEvent, parent: QWidget | None = None) -> None:
        super().__init__(side.cloud, parent)
        self.side = side
        bold = QFont()
        bold.setBold(True)
        self.title = QLabel(side.event.title or "(no title)")
        self.title.setFont(bold)
        self.title.setWordWrap(True)
        self.when = QLabel(span_text(side.event))
        self.who = QLabel(organizer_text(side))
        self.who.setWordWrap(True)
        same = side.calendar.lower() == side.account.lower()
        where = f"In {side.calendar}" + ("" if same else f" ({side.account})")
        if side.copy:
            where += f", copied by Meridian from {'Google' if side.side is Side.A else 'Outlook'}"
        self.where = QLabel(where)
        self.where.setWordWrap(True)
        for label in (self.title, self.when, self.who, self.where):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open = QPushButton(f"Open in {side.cloud}")
        self.open.setEnabled(bool(side.event.web_link))
        if not side.event.web_link:
            self.open.setToolTip(f"{side.cloud} gave no web address for this event")
        self.decline = QPushButton("Decline\u2026")
        # Offered for invitations only; the lines above say whose event it is.
        self.decline.setVisible(side.decline is not None)
        self.decline.setToolTip(side.why_not or "Decline the invitation")
        for b in (self.open, self.decline):
            b.setAutoDefault(False)  # Enter typed elsewhere must not decide anything
        buttons = QHBoxLayout()
        buttons.addWidget(self.open)
        buttons.addWidget(self.decline)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.when)
        layout.addWidget(self.who)
        layout.addWidget(self.where)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)


class OverlapDialog(QDialog):
    kept = Signal(int)  # overlap id
    declined = Signal(int, object, str, bool)  # overlap id, Side, note, tell the organizer
    snoozed = Signal(int)

    def __init__(self, view: OverlapView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.overlap_id = view.id
        self.setWindowTitle("Meetings at the same time")
        self.setModal(False)
        # Shown while the person works elsewhere: it must not take the keyboard from them.
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        start = view.start.astimezone()
        intro = QLabel(
            f"<b>Two meetings at the same time</b><br>{start.strftime('%a %d %b')} from "
            f"{start.strftime('%H:%M')}, in <i>{_html(view.pair_name)}</i>. Keep both, or "
            "decline one?"
        )
        intro.setWordWrap(True)
        self.cards = {side: OverlapCard(view.side(side)) for side in Side}
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        for col, side in enumerate(Side):
            card = self.cards[side]
            grid.addWidget(card, 0, col)
            grid.setColumnStretch(col, 1)
            card.open.clicked.connect(lambda _c=False, s=side: self.open_in_web(s))
            card.decline.clicked.connect(lambda _c=False, s=side: self.ask_decline(s))
        self.keep = QPushButton("Keep both")
        self.keep.setToolTip("Both stay in your calendars; Meridian does not ask again")
        self.snooze = QPushButton("Later")
        self.snooze.setToolTip(f"Ask again in {SNOOZE_MINUTES} minutes")
        for b in (self.keep, self.snooze):
            b.setAutoDefault(False)
        self.keep.clicked.connect(lambda: self.kept.emit(self.overlap_id))
        self.snooze.clicked.connect(lambda: self.snoozed.emit(self.overlap_id))
        self.message = Message()
        self.confirm: DeclineDialog | None = None

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        buttons = QHBoxLayout()
        buttons.addWidget(self.snooze)
        buttons.addStretch(1)
        buttons.addWidget(self.keep)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addLayout(grid)
        layout.addWidget(self.message)
        layout.addWidget(line)
        layout.addLayout(buttons)
        self.setMinimumWidth(640)
        fit(self)

    def open_in_web(self, side: Side) -> None:
        link = self.view.side(side).event.web_link
        if link:
            QDesktopServices.openUrl(QUrl(link))

    def ask_decline(self, side: Side) -> DeclineDialog:
        """The confirmation, window-modal over this popup; declining happens on its OK."""
        dlg = DeclineDialog(self.view.side(side), self)
        dlg.accepted.connect(
            lambda: self.declined.emit(
                self.overlap_id, side, dlg.comment.text().strip(), dlg.notify.isChecked()
            )
        )
        self.confirm = dlg
        dlg.open()
        return dlg

    def set_busy(self, busy: bool) -> None:
        self.keep.setEnabled(not busy)
        self.snooze.setEnabled(not busy)
        for card in self.cards.values():
            card.decline.setEnabled(not busy)


class PopupQueue(ConflictQueue):
    """Conflicts and overlaps one popup at a time, conflicts first (they hold a pair's sync).

    Each overlap is read again on a worker thread before it shows; while that runs nothing else
    is started, and an overlap decided or solved meanwhile is skipped.
    """

    def __init__(self, svc: AppService, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(svc, bridge, parent)
        self.overlaps_done: set[int] = set()
        self.loading: int | None = None

    @Slot()
    def check(self) -> None:
        conflicts = [c for c in self.svc.conflicts() if c["id"] not in self.decided]
        overlaps = [o for o in self.svc.overlaps() if o["id"] not in self.overlaps_done]
        shown: Any = self.current
        if isinstance(shown, OverlapDialog):
            if shown.overlap_id in {o["id"] for o in overlaps}:
                return
            self._close()  # decided elsewhere, snoozed, or its calendar changed
        elif isinstance(shown, ConflictDialog):
            if shown.conflict_id in {c["id"] for c in conflicts}:
                return
            self._close()
        if conflicts:
            self._show(conflicts[0])
        elif overlaps and self.loading is None:
            self._load(int(str(overlaps[0]["id"])))

    def _load(self, overlap_id: int) -> None:
        self.loading = overlap_id

        def loaded(view: OverlapView | None) -> None:
            self.loading = None
            if view is None:  # solved itself (now closed): on to the next
                self.check()
            elif self.current is None and view.id in {o["id"] for o in self.svc.overlaps()}:
                self._show_overlap(view)

        def failed(exc: BaseException) -> None:
            # Offline, say: the next sync's "finished" tries again.
            self.loading = None
            log.warning("overlap %s not shown: %s", overlap_id, describe_error(exc))

        self.bridge.submit(lambda: self.svc.overlap_view(overlap_id), loaded, failed)

    def _show_overlap(self, view: OverlapView) -> None:
        dlg = OverlapDialog(view)
        dlg.kept.connect(self._kept)
        dlg.declined.connect(self._declined)
        dlg.snoozed.connect(self._overlap_snoozed)
        dlg.rejected.connect(lambda: self._overlap_snoozed(dlg.overlap_id))  # closing = later
        self.current = dlg  # type: ignore[assignment]
        dlg.show()
        self.shown.emit(dlg)

    def _done(self, overlap_id: int) -> None:
        self.overlaps_done.add(overlap_id)
        shown: Any = self.current
        if isinstance(shown, OverlapDialog) and shown.overlap_id == overlap_id:
            self._close()
        self.check()

    def _kept(self, overlap_id: int) -> None:
        try:
            self.svc.keep_both(overlap_id)
        except MeridianError as exc:  # decided meanwhile elsewhere: nothing left to ask
            log.info("keep both: %s", describe_error(exc))
        self._done(overlap_id)

    def _declined(self, overlap_id: int, side: Side, comment: str, notify: bool) -> None:
        dlg: Any = self.current
        if isinstance(dlg, OverlapDialog):
            dlg.set_busy(True)
            dlg.message.info("Declining\u2026")

        def failed(exc: BaseException) -> None:
            if isinstance(dlg, OverlapDialog) and self.current is dlg:
                dlg.set_busy(False)
                dlg.message.error(describe_error(exc))

        self.bridge.submit(
            lambda: self.svc.decline_overlap(overlap_id, side, comment=comment, notify=notify),
            lambda _r: self._done(overlap_id),
            failed,
        )

    def _overlap_snoozed(self, overlap_id: int) -> None:
        self.svc.snooze_overlap(overlap_id, SNOOZE_MINUTES)
        self._close()
        self.check()
