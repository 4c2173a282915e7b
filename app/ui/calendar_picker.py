"""Pick an account of one cloud and one of its writable calendars (listed off the GUI thread)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

from app.services.app_service import AppService, Calendar
from app.ui.bridge import Bridge
from app.ui.widgets import describe_error


class CalendarPicker(QWidget):
    loaded = Signal()  # the calendar list of the chosen account arrived (or failed)
    changed = Signal()

    def __init__(
        self, svc: AppService, bridge: Bridge, provider: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.svc = svc
        self.bridge = bridge
        self.provider = provider
        self.error = ""
        self._wanted: str | None = None  # the calendar to choose once the list arrives
        self.account = QComboBox()
        self.calendar = QComboBox()
        self.account.setMinimumContentsLength(18)
        self.calendar.setMinimumContentsLength(18)
        self.account.currentIndexChanged.connect(self._load_calendars)
        self.calendar.currentIndexChanged.connect(lambda _i: self.changed.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.account, 1)
        layout.addWidget(self.calendar, 1)
        self.reload_accounts()

    def reload_accounts(self) -> None:
        current = self.account_id()
        self.account.blockSignals(True)
        self.account.clear()
        for a in self.svc.accounts():
            if a.provider == self.provider and a.status.value == "ok":
                self.account.addItem(a.email, a.id)
        i = self.account.findData(current)
        self.account.setCurrentIndex(max(i, 0) if self.account.count() else -1)
        self.account.blockSignals(False)
        self._load_calendars()

    def choose(self, account_id: str, calendar_id: str | None) -> None:
        """Show this account (only), and this calendar once listed if it still exists."""
        self._wanted = calendar_id
        self.account.blockSignals(True)  # one listing, below
        self.account.setCurrentIndex(self.account.findData(account_id))  # -1: signed out
        self.account.blockSignals(False)
        self.account.setEnabled(False)  # a pair keeps its accounts
        self._load_calendars()

    def account_id(self) -> str | None:
        data = self.account.currentData()
        return str(data) if data else None

    def calendar_id(self) -> str | None:
        data = self.calendar.currentData()
        return str(data) if data else None

    def calendar_name(self) -> str:
        return self.calendar.currentText()

    def _load_calendars(self) -> None:
        self.calendar.clear()
        self.error = ""
        account_id = self.account_id()
        if account_id is None:
            self.calendar.setPlaceholderText("Connect an account first")
            self.loaded.emit()
            return
        self.calendar.setPlaceholderText("Loading calendars\u2026")
        self.bridge.submit(
            lambda: self.svc.calendars(account_id),
            lambda cals: self._show(account_id, cals),
            self._failed,
        )

    def _show(self, account_id: str, calendars: list[Calendar]) -> None:
        if account_id != self.account_id():
            return  # the person chose another account meanwhile
        self.calendar.clear()
        for c in sorted(calendars, key=lambda c: (not c.primary, c.name.lower())):
            if c.writable:
                self.calendar.addItem(c.name + (" (main)" if c.primary else ""), c.id)
        self.calendar.setPlaceholderText("No calendar you can write to")
        # With a placeholder set, Qt leaves nothing selected: choose the wanted or main one.
        wanted = self.calendar.findData(self._wanted) if self._wanted else -1
        self.calendar.setCurrentIndex(wanted if wanted >= 0 else 0 if self.calendar.count() else -1)
        self.loaded.emit()
        self.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self.error = describe_error(exc)
        self.calendar.setPlaceholderText("Could not list the calendars")
        self.loaded.emit()
