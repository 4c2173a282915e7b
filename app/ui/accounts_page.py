"""Accounts: connect (sign in through the browser), reconnect, sign out."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.accounts import Account
from app.services.app_service import AppService
from app.ui.bridge import Bridge
from app.ui.widgets import Message, apply_lock, describe_error

STATUS_TEXT = {"ok": "Connected", "needs_sign_in": "Sign in again", "signed_out": "Signed out"}
SERVICE = {"microsoft": "Outlook (Microsoft 365)", "google": "Google Calendar"}


class AccountsPage(QWidget):
    changed = Signal()

    def __init__(self, svc: AppService, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.bridge = bridge
        self._cancel: threading.Event | None = None
        self._accounts: list[Account] = []

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Account", "Service", "Status"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.connect_ms = QPushButton("Connect Microsoft\u2026")
        self.connect_google = QPushButton("Connect Google\u2026")
        self.reconnect = QPushButton("Reconnect")
        self.sign_out = QPushButton("Sign out")
        self.connect_ms.clicked.connect(lambda: self.start_sign_in("microsoft"))
        self.connect_google.clicked.connect(lambda: self.start_sign_in("google"))
        self.reconnect.clicked.connect(self._reconnect)
        self.sign_out.clicked.connect(self._sign_out)
        apply_lock(svc, "accounts.add", self.connect_ms, self.connect_google)

        self.waiting = QLabel("Waiting for you to sign in in your browser\u2026")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self._cancel_sign_in)
        wait_row = QHBoxLayout()
        wait_row.addWidget(self.waiting, 1)
        wait_row.addWidget(self.cancel)
        self.waiting.hide()
        self.cancel.hide()
        self.message = Message()

        buttons = QHBoxLayout()
        for b in (self.connect_ms, self.connect_google):
            buttons.addWidget(b)
        buttons.addStretch(1)
        for b in (self.reconnect, self.sign_out):
            buttons.addWidget(b)

        intro = QLabel(
            "Meridian reads and writes the calendars of these accounts. Sign-in happens in your "
            "browser; passwords never pass through Meridian."
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(wait_row)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected()
        self._accounts = self.svc.accounts()
        self.table.setRowCount(len(self._accounts))
        for row, a in enumerate(self._accounts):
            cells = [a.email, SERVICE.get(a.provider, a.provider), STATUS_TEXT[a.status.value]]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 2 and a.status.value != "ok":
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(row, col, item)
            if selected and a.id == selected.id:
                self.table.selectRow(row)
        self._update_buttons()

    def selected(self) -> Account | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self._accounts[rows[0].row()] if rows else None

    def _update_buttons(self) -> None:
        a = self.selected()
        busy = self._cancel is not None
        self.reconnect.setEnabled(a is not None and not busy)
        self.sign_out.setEnabled(a is not None and a.status.value != "signed_out" and not busy)
        for b in (self.connect_ms, self.connect_google):
            b.setEnabled(not busy and self.svc.locked("accounts.add") is None)

    # --- signing in -----------------------------------------------------------------------------

    def start_sign_in(self, provider: str, account_id: str | None = None) -> None:
        cancel = threading.Event()
        self._cancel = cancel
        self.message.clear()
        self.waiting.show()
        self.cancel.show()
        self._update_buttons()
        if account_id:
            self.bridge.submit(
                lambda: self.svc.reconnect(account_id, cancel), self._signed_in, self._failed
            )
        else:
            self.bridge.submit(
                lambda: self.svc.add_account(provider, cancel), self._signed_in, self._failed
            )

    def _signed_in(self, account: Account) -> None:
        self._done()
        self.message.info(f"Connected: {account.label}")
        self.refresh()
        self.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        cancelled = self._cancel is not None and self._cancel.is_set()
        self._done()
        self.message.error("Sign-in cancelled." if cancelled else describe_error(exc))
        self.refresh()

    def _done(self) -> None:
        self._cancel = None
        self.waiting.hide()
        self.cancel.hide()
        self._update_buttons()

    def _cancel_sign_in(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _reconnect(self) -> None:
        a = self.selected()
        if a is not None:
            self.start_sign_in(a.provider, a.id)

    def _sign_out(self) -> None:
        a = self.selected()
        if a is None:
            return
        self.sign_out.setEnabled(False)

        def done(_result: object) -> None:
            self.message.info(f"Signed out of {a.label}. Its pairs are paused until you reconnect.")
            self.refresh()
            self.changed.emit()

        def failed(exc: BaseException) -> None:
            self.message.error(describe_error(exc))
            self.refresh()

        # Signing out of Google revokes the grant over the network: not on the GUI thread.
        self.bridge.submit(lambda: self.svc.sign_out(a.id), done, failed)
