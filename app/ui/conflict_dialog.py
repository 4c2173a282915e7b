"""Conflicts: the same event changed in both calendars, shown one at a time, never grabbing focus.

``ConflictDialog`` puts both versions side by side, the differing fields highlighted, and offers
keep Outlook's / keep Google's / per field, "always do this for this pair" and snooze.
``ConflictQueue`` shows the waiting conflicts one after another: a conflict already decided (here,
on the command line, or by an "always" choice) is never shown again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.core.model import DaySpan, Event
from app.core.rules import Side
from app.core.serialize import event_from_json
from app.services.app_service import AppService
from app.ui.bridge import Bridge
from app.ui.widgets import Message, describe_error

LABELS = {
    "title": "Title",
    "when": "Time",
    "location": "Location",
    "description": "Description",
    "description_html": "Description",
    "show_as": "Show as",
    "privacy": "Privacy",
    "reminders": "Reminders",
    "reminders_default": "Reminders",
    "categories": "Categories",
    "color": "Colour",
    "organizer": "Organizer",
    "attendees": "Attendees",
    "online_meeting_url": "Meeting link",
    "recurrence": "Repeats",
}
CONTEXT = ("title", "when", "location")  # shown even when equal, so the event is recognisable
HIGHLIGHT = "background: #fff4d6; color: #4a3500; padding: 3px;"  # plus a bold font
PLAIN = "padding: 3px;"
SNOOZE_MINUTES = 60


def _when(e: Event) -> str:
    w = e.when
    if isinstance(w, DaySpan):
        last = w.end - dt.timedelta(days=1)
        days = w.start.strftime("%a %d %b %Y")
        return days + ("" if last == w.start else f" \u2013 {last.strftime('%a %d %b %Y')}")
    start, end = w.start, w.end
    text = start.strftime("%a %d %b %Y, %H:%M") + "\u2013"
    text += end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%a %d %b %H:%M")
    return f"{text} ({w.start_tz})"


def field_text(e: Event | None, field: str) -> str:
    """How one field of a version reads to a person."""
    if e is None:
        return "(deleted)"
    if field == "when":
        return _when(e)
    value: Any = getattr(e, field, None)
    if field == "attendees":
        return ", ".join(a.email for a in e.attendees) or "none"
    if field == "organizer":
        return e.organizer.email if e.organizer else "none"
    if field == "recurrence":
        return e.recurrence.rrule if e.recurrence else "does not repeat"
    if field == "reminders":
        return ", ".join(f"{r.minutes} min" for r in e.reminders) or "default"
    if field == "categories":
        return ", ".join(e.categories) or "none"
    if hasattr(value, "value"):
        return str(value.value).replace("_", " ")
    text = str(value) if value not in (None, "") else "(empty)"
    return text if len(text) <= 300 else text[:299] + "\u2026"


class ConflictDialog(QDialog):
    decided = Signal(int, object, bool)  # conflict id, Side or {field: Side}, remember
    snoozed = Signal(int)

    def __init__(self, conflict: dict[str, Any], pair_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.conflict = conflict
        self.conflict_id = int(conflict["id"])
        self.setWindowTitle("Changed in both calendars")
        self.setModal(False)
        # Shown while the person works elsewhere: it must not take the keyboard from them.
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        a = event_from_json(conflict["a_version"]) if conflict["a_version"] else None
        b = event_from_json(conflict["b_version"]) if conflict["b_version"] else None
        self.fields: list[str] = list(dict.fromkeys(conflict["fields"]))
        either = a or b
        title = either.title if either is not None else "An event"
        intro = QLabel(
            f"<b>{_html(title)}</b> was changed in Outlook and in Google since the last sync "
            f"of <i>{_html(pair_name)}</i>. Which version should both calendars keep?"
        )
        intro.setWordWrap(True)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        bold = QFont()
        bold.setBold(True)
        for col, text in ((1, "Outlook"), (2, "Google")):
            head = QLabel(text)
            head.setFont(bold)
            head.setStyleSheet(PLAIN)
            grid.addWidget(head, 0, col)
        self.choices: dict[str, QButtonGroup] = {}
        self.cells: dict[str, tuple[QLabel, QLabel]] = {}
        # The event's own order (title, time, place, ...), whichever fields are in conflict.
        order = list(LABELS)
        rows = sorted(set(CONTEXT) | set(self.fields), key=lambda f: [*order, f].index(f))
        by_label: dict[str, str] = {}  # row label -> the field shown in that row
        rows_shown = {LABELS.get(f, f) for f in self.fields}
        for f in rows:
            label = LABELS.get(f, f)
            if label in by_label:
                # Description and its HTML read as one row and follow the same choice.
                if by_label[label] in self.choices:
                    self.choices[f] = self.choices[by_label[label]]
                continue
            by_label[label] = f
            r = grid.rowCount()
            va, vb = field_text(a, f), field_text(b, f)
            differs = f in self.fields
            if not differs and va == vb == "(empty)":
                continue  # context that tells nothing
            name = QLabel(label)
            name.setStyleSheet(PLAIN)
            grid.addWidget(name, r, 0, Qt.AlignmentFlag.AlignTop)
            cells = []
            for col, text in ((1, va), (2, vb)):
                cell = QLabel(text)
                cell.setWordWrap(True)
                cell.setMinimumWidth(220)
                cell.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                cell.setStyleSheet(HIGHLIGHT if differs else PLAIN)
                if differs:
                    # A bold font (not a style sheet weight) so the label measures itself bold.
                    cell.setFont(bold)
                grid.addWidget(cell, r, col)
                cells.append(cell)
            self.cells[f] = (cells[0], cells[1])
            if differs and len(rows_shown) > 1:  # one row: the two buttons below suffice
                group = QButtonGroup(self)
                pick = QHBoxLayout()
                for side, text in ((Side.A, "Outlook's"), (Side.B, "Google's")):
                    radio = QRadioButton(text)
                    radio.setProperty("side", side.value)
                    group.addButton(radio)
                    pick.addWidget(radio)
                group.buttons()[1].setChecked(True)
                grid.addLayout(pick, r, 3)
                self.choices[f] = group
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)

        self.keep_a = QPushButton("Keep Outlook's")
        self.keep_b = QPushButton("Keep Google's")
        self.keep_fields = QPushButton("Keep the chosen fields")
        self.keep_fields.setVisible(len(rows_shown) > 1)
        self.always = QCheckBox("Always do this for this pair")
        self.snooze = QPushButton("Later")
        self.snooze.setToolTip(f"Ask again in {SNOOZE_MINUTES} minutes")
        for button in (self.keep_a, self.keep_b, self.keep_fields, self.snooze):
            button.setAutoDefault(False)  # Enter typed elsewhere must not decide anything
        self.keep_a.clicked.connect(lambda: self._decide(Side.A))
        self.keep_b.clicked.connect(lambda: self._decide(Side.B))
        self.keep_fields.clicked.connect(self._decide_fields)
        self.snooze.clicked.connect(lambda: self.snoozed.emit(self.conflict_id))
        self.message = Message()

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        buttons = QHBoxLayout()
        buttons.addWidget(self.snooze)
        buttons.addStretch(1)
        buttons.addWidget(self.keep_fields)
        buttons.addWidget(self.keep_a)
        buttons.addWidget(self.keep_b)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(line)
        layout.addWidget(self.message)
        layout.addWidget(self.always, 0, Qt.AlignmentFlag.AlignRight)
        layout.addLayout(buttons)
        self.setMinimumWidth(640)

    def _decide(self, side: Side) -> None:
        self.decided.emit(self.conflict_id, side, self.always.isChecked())

    def _decide_fields(self) -> None:
        choice: dict[str, Side] = {}
        for f, group in self.choices.items():
            checked = group.checkedButton()
            choice[f] = Side(checked.property("side")) if checked else Side.B
        sides = set(choice.values())
        if len(sides) == 1:  # the same side for every field is simply that version
            self._decide(sides.pop())
            return
        # "Always" cannot mean a per-field mix: only whole versions become a pair's policy.
        self.decided.emit(self.conflict_id, choice, False)

    def set_busy(self, busy: bool) -> None:
        for b in (self.keep_a, self.keep_b, self.keep_fields, self.snooze, self.always):
            b.setEnabled(not busy)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ConflictQueue(QObject):
    """Shows waiting conflicts one at a time, after syncs and when asked from the tray."""

    shown = Signal(object)  # the ConflictDialog now on screen

    def __init__(self, svc: AppService, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.bridge = bridge
        self.current: ConflictDialog | None = None
        self.decided: set[int] = set()
        bridge.run_finished.connect(lambda _r: self.check())
        bridge.status_changed.connect(self.check)

    @Slot()
    def check(self) -> None:
        """Show the next waiting conflict, unless one is on screen (and still open)."""
        waiting = [c for c in self.svc.conflicts() if c["id"] not in self.decided]
        if self.current is not None:
            if self.current.conflict_id in {c["id"] for c in waiting}:
                return
            self._close()  # decided elsewhere meanwhile (another window, the command line)
        if waiting:
            self._show(waiting[0])

    def _show(self, conflict: dict[str, Any]) -> None:
        names = {p.id: p.name for p in self.svc.pairs()}
        dlg = ConflictDialog(conflict, names.get(conflict["pair_id"], "a pair"))
        dlg.decided.connect(self._decided)
        dlg.snoozed.connect(self._snoozed)
        dlg.rejected.connect(lambda: self._snoozed(dlg.conflict_id))  # closing = later
        self.current = dlg
        dlg.show()
        self.shown.emit(dlg)

    def _close(self) -> None:
        if self.current is not None:
            dlg, self.current = self.current, None
            dlg.blockSignals(True)
            dlg.close()
            dlg.deleteLater()

    def _decided(self, conflict_id: int, keep: Side | dict[str, Side], remember: bool) -> None:
        dlg = self.current
        if dlg is not None:
            dlg.set_busy(True)

        def done(_result: object) -> None:
            self.decided.add(conflict_id)
            # The resolution's own "changed" signal may have moved the queue on already.
            if self.current is dlg:
                self._close()
            self.check()

        def failed(exc: BaseException) -> None:
            if dlg is not None:
                dlg.set_busy(False)
                dlg.message.error(describe_error(exc))

        self.bridge.submit(
            lambda: self.svc.resolve_conflict(conflict_id, keep, remember=remember), done, failed
        )

    def _snoozed(self, conflict_id: int) -> None:
        self.svc.snooze(conflict_id, SNOOZE_MINUTES)
        self._close()
        self.check()
