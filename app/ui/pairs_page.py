"""Pairs: the list, each pair's status (last sync, counts, issues, holds) and its settings."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.rules import PairRules
from app.errors import MeridianError
from app.services.app_service import AppService, PairRow
from app.ui.bridge import Bridge
from app.ui.calendar_picker import CalendarPicker
from app.ui.pair_editor import PairEditor
from app.ui.text import SIDE_NAMES, counts, plural, when
from app.ui.widgets import Message, apply_lock, describe_error, fit


def pair_state(p: dict[str, Any]) -> str:
    if p["held"]:
        return "Waiting for you: deletions held"
    if p["needs_sign_in"]:
        return "Waiting for you: sign in again"
    if p.get("problem"):
        return "Waiting for you: choose another calendar"
    if p["conflicts"]:
        return f"Waiting for you: {plural(p['conflicts'], 'conflict')}"
    if p["off"]:
        return "Off"
    if p["paused"]:
        return str(p["paused"])
    status = p["last_status"]
    return {
        None: "Not synced yet",
        "ok": "Up to date",
        "offline": "Offline: will retry",
        "error": "Failing",
        "failed": "Failing",
        "held": "Held",
    }.get(status, str(status))


class NewPairDialog(QDialog):
    """Choose the two calendars and the rules of a new pair."""

    def __init__(self, svc: AppService, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New pair")
        self.setMinimumWidth(680)
        self.svc = svc
        self.bridge = bridge
        self.outlook = CalendarPicker(svc, bridge, "microsoft")
        self.google = CalendarPicker(svc, bridge, "google")
        self.editor = PairEditor(svc)
        self.message = Message()
        form = QFormLayout()
        form.addRow("Outlook calendar", self.outlook)
        form.addRow("Google calendar", self.google)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Add pair")
        self.buttons.accepted.connect(self._add)
        self.buttons.rejected.connect(self.reject)
        for picker in (self.outlook, self.google):
            picker.changed.connect(self._update)
            picker.loaded.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.editor)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self._update()

    def _update(self) -> None:
        ready = all(p.calendar_id() for p in (self.outlook, self.google))
        self.ok.setEnabled(ready)
        errors = [p.error for p in (self.outlook, self.google) if p.error]
        if errors:
            self.message.error(errors[0])

    def _add(self) -> None:
        try:
            rules = self.editor.rules()
        except ValueError as exc:  # an invalid value: the person can correct it
            self.message.error(str(exc))
            return
        a, b = self.outlook, self.google
        a_acc, a_cal, b_acc, b_cal = (
            a.account_id(),
            a.calendar_id(),
            b.account_id(),
            b.calendar_id(),
        )
        if not (a_acc and a_cal and b_acc and b_cal):
            return  # the button is only enabled with both calendars chosen
        self.ok.setEnabled(False)
        self.message.info("Adding the pair\u2026")
        # Adding checks both calendars with their clouds: not on the GUI thread.
        self.bridge.submit(
            lambda: self.svc.add_pair(a_acc, a_cal, b_acc, b_cal, rules), self._added, self._failed
        )

    def _added(self, row: PairRow) -> None:
        self.row = row
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.message.error(describe_error(exc))
        self._update()


class CalendarsDialog(QDialog):
    """Other calendars for a pair (of the same accounts): after one was deleted, say."""

    def __init__(
        self, svc: AppService, bridge: Bridge, view: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change calendars")
        self.setMinimumWidth(680)
        self.svc = svc
        self.bridge = bridge
        self.pair_id = str(view["id"])
        row = svc.sync.pair(self.pair_id)
        self.outlook = CalendarPicker(svc, bridge, "microsoft")
        self.google = CalendarPicker(svc, bridge, "google")
        for side, picker in (("a", self.outlook), ("b", self.google)):
            conf = row.config.get(side, {})
            picker.choose(conf.get("account", ""), conf.get("calendar"))
            picker.changed.connect(self._update)
            picker.loaded.connect(self._update)
        note = QLabel(
            "The events copied so far stay where they are. The next sync reads both calendars "
            "again and copies between the new ones."
        )
        note.setWordWrap(True)
        self.message = Message()
        if view.get("problem"):
            self.message.error(
                "A calendar of this pair was deleted or is no longer shared with you: choose "
                "another one."
            )
        form = QFormLayout()
        form.addRow("Outlook calendar", self.outlook)
        form.addRow("Google calendar", self.google)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Use these calendars")
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self._update()
        fit(self)

    def _update(self) -> None:
        self.ok.setEnabled(all(p.calendar_id() for p in (self.outlook, self.google)))
        errors = [p.error for p in (self.outlook, self.google) if p.error]
        if errors:
            self.message.error(errors[0])

    def _save(self) -> None:
        a, b = self.outlook.calendar_id(), self.google.calendar_id()
        if not (a and b):
            return
        self.ok.setEnabled(False)
        self.message.info("Checking the calendars\u2026")
        self.bridge.submit(
            lambda: self.svc.change_calendars(self.pair_id, a, b),
            lambda _row: self.accept(),
            self._failed,
        )

    def _failed(self, exc: BaseException) -> None:
        self.message.error(describe_error(exc))
        self._update()


class PairsPage(QWidget):
    changed = Signal()

    def __init__(self, svc: AppService, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.bridge = bridge
        self._views: list[dict[str, Any]] = []
        self._loaded: str | None = None

        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(2)
        self.list.currentRowChanged.connect(self._selected)
        self.new = QPushButton("New pair\u2026")
        self.new.clicked.connect(self.new_pair)
        apply_lock(svc, "pairs.add", self.new)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.list, 1)
        lv.addWidget(self.new)

        self.title = QLabel()
        self.title.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.calendars = QLabel()
        self.calendars.setWordWrap(True)
        self.state = QLabel()
        self.last = QLabel()
        self.next = QLabel()
        self.issues = QLabel()
        self.issues.setWordWrap(True)
        self.state.setWordWrap(True)  # a long error must not widen the page past the window
        for lab in (self.calendars, self.state, self.last, self.next, self.issues):
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.on = QCheckBox("Sync this pair")
        self.on.toggled.connect(self._toggle)
        self.sync = QPushButton("Sync now")
        self.sync.clicked.connect(self._sync_now)
        self.confirm = QPushButton("Delete them")
        self.refuse = QPushButton("Keep them")
        self.confirm.clicked.connect(lambda: self._decide(True))
        self.refuse.clicked.connect(lambda: self._decide(False))
        self.remove = QPushButton("Remove pair\u2026")
        self.remove.clicked.connect(self._remove)
        status = QGroupBox("Status")
        sf = QFormLayout(status)
        self.change = QPushButton("Change\u2026")
        self.change.setToolTip("Choose other calendars of the same accounts")
        self.change.clicked.connect(self.change_calendars)
        cal_row = QHBoxLayout()
        cal_row.addWidget(self.calendars, 1)
        cal_row.addWidget(self.change)
        sf.addRow("Calendars", cal_row)
        sf.addRow("State", self.state)
        sf.addRow("Last sync", self.last)
        sf.addRow("Next sync", self.next)
        sf.addRow("Issues", self.issues)
        hold_row = QHBoxLayout()
        hold_row.addWidget(self.confirm)
        hold_row.addWidget(self.refuse)
        hold_row.addStretch(1)
        sf.addRow("", hold_row)
        actions = QHBoxLayout()
        actions.addWidget(self.on)
        actions.addStretch(1)
        actions.addWidget(self.sync)
        actions.addWidget(self.remove)
        sf.addRow(actions)

        self.editor = PairEditor(svc)
        self.save = QPushButton("Save changes")
        self.save.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.save.clicked.connect(self._save)
        self.message = Message()
        settings = QGroupBox("Settings")
        sv = QVBoxLayout(settings)
        sv.addWidget(self.editor)
        save_row = QHBoxLayout()
        save_row.addWidget(self.message, 1)
        save_row.addWidget(self.save)
        sv.addLayout(save_row)

        self.detail = QWidget()
        dv = QVBoxLayout(self.detail)
        dv.addWidget(self.title)
        dv.addWidget(status)
        dv.addWidget(settings)
        dv.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.detail)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.empty = QLabel("No pairs yet. Add one to start syncing.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(scroll)
        split.setStretchFactor(1, 1)
        split.setSizes([220, 640])
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.empty)
        self.refresh()

    # --- reading --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the status; the settings form is only reloaded when another pair is chosen."""
        self._views = self.svc.pair_views()
        current = self._loaded
        self.list.blockSignals(True)
        self.list.clear()
        for v in self._views:
            item = QListWidgetItem(f"{v['name']}\n{pair_state(v)}")
            item.setData(Qt.ItemDataRole.UserRole, v["id"])
            self.list.addItem(item)
        ids = [v["id"] for v in self._views]
        row = ids.index(current) if current in ids else (0 if ids else -1)
        self.list.setCurrentRow(row)
        self.list.blockSignals(False)
        self.detail.setVisible(bool(ids))
        self.empty.setVisible(not ids)
        self._selected(row)

    def _current(self) -> dict[str, Any] | None:
        return next((v for v in self._views if v["id"] == self._loaded), None)

    def _selected(self, row: int) -> None:
        v = self._views[row] if 0 <= row < len(self._views) else None
        if v is None:
            self._loaded = None
            return
        if v["id"] != self._loaded:
            self._loaded = v["id"]
            self.message.clear()
            try:
                self.editor.set_rules(self.svc.rules(v["id"]))
            except MeridianError as exc:
                # Stored settings this version cannot read (edited by hand, an older policy):
                # the defaults are shown, and saving them repairs the pair.
                self.editor.set_rules(PairRules())
                self.message.error(describe_error(exc) + " Save to use the settings shown.")
        self._show(v)

    def _show(self, v: dict[str, Any]) -> None:
        self.title.setText(v["name"])
        self.calendars.setText(
            f"{SIDE_NAMES['a']}: {v['a_calendar']}  \u2194  {SIDE_NAMES['b']}: {v['b_calendar']}"
        )
        state = pair_state(v)
        if v["last_message"] and v["last_status"] not in ("ok", None) and not v.get("problem"):
            state += f"\n{v['last_message']}"
        self.state.setText(state)
        self.last.setText(
            f"{when(v['last_sync'])}" + (f" ({counts(v['last_counts'])})" if v["last_sync"] else "")
        )
        self.next.setText(when(v["next_run"]) if v["next_run"] else "paused")
        issues = [plural(v["issues"], "event") + " could not be synced"] if v["issues"] else []
        if v.get("problem"):
            issues.insert(0, str(v["problem"]))
        if v["held"]:
            issues.append(str(v["held"]))
        notes = list(v.get("notes", ()))
        issues += [f"{n['title']}: {n['message']}" for n in notes[:3]]
        if len(notes) > 3:
            issues.append(f"and {plural(len(notes) - 3, 'more note')}")
        self.issues.setText("\n".join(issues) or "none")
        self.confirm.setVisible(bool(v["held"]))
        self.refuse.setVisible(bool(v["held"]))
        self.on.blockSignals(True)
        self.on.setChecked(not v["off"])
        self.on.blockSignals(False)

    # --- actions --------------------------------------------------------------------------------

    def new_pair(self) -> NewPairDialog:
        dlg = NewPairDialog(self.svc, self.bridge, self)
        dlg.accepted.connect(lambda: self._added(dlg))
        dlg.open()
        return dlg

    def change_calendars(self) -> CalendarsDialog | None:
        v = self._current()
        if v is None:
            return None
        dlg = CalendarsDialog(self.svc, self.bridge, v, self)
        dlg.accepted.connect(self._calendars_changed)
        dlg.open()
        return dlg

    def _calendars_changed(self) -> None:
        self.refresh()
        self.changed.emit()

    def _added(self, dlg: NewPairDialog) -> None:
        self._loaded = dlg.row.id
        self.refresh()
        self.changed.emit()

    def _sync_now(self) -> None:
        if self._loaded:
            self.svc.sync_now(self._loaded)

    def _toggle(self, on: bool) -> None:
        if self._loaded:
            self.svc.set_pair_on(self._loaded, on)
            self.refresh()

    def _save(self) -> None:
        if not self._loaded:
            return
        try:
            self.svc.update_pair(self._loaded, self.editor.rules())
        except Exception as exc:  # an invalid value: said next to the button
            self.message.error(describe_error(exc))
            return
        self.message.info("Saved. The next sync uses the new settings.")

    def _decide(self, approve: bool) -> None:
        if self._loaded:
            self.svc.decide_hold(self._loaded, approve)
            self.refresh()

    def _remove(self) -> None:
        v = self._current()
        if v is None:
            return
        answer = QMessageBox.question(
            self,
            "Remove pair",
            f"Stop syncing {v['name']}?\n\nNo event is deleted from either calendar; the copies "
            "made so far stay where they are.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.svc.remove_pair(v["id"])
        self._loaded = None
        self.refresh()
        self.changed.emit()
