"""App settings: how often to sync, which notifications, start at login."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.services.app_service import NOTICE_KINDS, AppService
from app.services.scheduler import MAX_INTERVAL, MIN_INTERVAL
from app.ui.widgets import Message, apply_lock, describe_error, lock_note


class SettingsPage(QWidget):
    def __init__(self, svc: AppService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        s = svc.settings
        self.interval = QSpinBox()
        self.interval.setRange(
            int(MIN_INTERVAL.total_seconds() // 60), int(MAX_INTERVAL.total_seconds() // 60)
        )
        self.interval.setSuffix(" minutes")
        self.interval.setValue(s.interval_minutes)
        self.interval.editingFinished.connect(self._interval)
        interval_row = QHBoxLayout()
        interval_row.addWidget(self.interval)
        interval_row.addWidget(lock_note(apply_lock(svc, "interval", self.interval)))
        interval_row.addStretch(1)

        self.notify: dict[str, QCheckBox] = {}
        notes = QGroupBox("Tell me when")
        nv = QVBoxLayout(notes)
        for kind, text in NOTICE_KINDS.items():
            box = QCheckBox(text)
            box.setChecked(s.notify.get(kind, True))
            box.toggled.connect(lambda on, k=kind: self.svc.set_notify(k, on))
            reason = apply_lock(svc, f"notify.{kind}", box)
            row = QHBoxLayout()
            row.addWidget(box)
            row.addWidget(lock_note(reason))
            row.addStretch(1)
            nv.addLayout(row)
            self.notify[kind] = box

        self.login = QCheckBox("Start Meridian when I sign in to this computer")
        self.login.setChecked(self._login_enabled())
        self.login.toggled.connect(self._login)
        login_row = QHBoxLayout()
        login_row.addWidget(self.login)
        login_row.addWidget(lock_note(apply_lock(svc, "start_at_login", self.login)))
        login_row.addStretch(1)
        self.message = Message()

        form = QFormLayout()
        form.addRow("Sync every", interval_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(notes)
        layout.addLayout(login_row)
        layout.addWidget(self.message)
        layout.addStretch(1)

    def _login_enabled(self) -> bool:
        if self.svc.autostart is None:
            return self.svc.settings.start_at_login
        try:
            return self.svc.autostart.enabled()
        except OSError:
            return self.svc.settings.start_at_login

    def _interval(self) -> None:
        if self.interval.value() != self.svc.settings.interval_minutes:
            self.svc.set_interval(self.interval.value())

    def _login(self, on: bool) -> None:
        try:
            self.svc.set_start_at_login(on)
        except OSError as exc:
            self.message.error(f"Could not change start at login: {describe_error(exc)}")
            self.login.blockSignals(True)
            self.login.setChecked(not on)
            self.login.blockSignals(False)
