"""The main window: pairs, accounts, recent activity, settings. Closing it only hides it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QWidget

from app import APP_NAME
from app.services.app_service import AppService
from app.ui.accounts_page import AccountsPage
from app.ui.activity_page import ActivityPage
from app.ui.bridge import Bridge
from app.ui.icons import app_icon
from app.ui.pairs_page import PairsPage
from app.ui.settings_page import SettingsPage
from app.ui.text import STATE_TEXT, when


class MainWindow(QMainWindow):
    def __init__(self, svc: AppService, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        title = APP_NAME + (" \u2014 sandbox demo" if svc.demo else "")
        self.setWindowTitle(title)
        self.setWindowIcon(app_icon())
        self.pairs = PairsPage(svc, bridge)
        self.accounts = AccountsPage(svc, bridge)
        self.activity = ActivityPage(svc)
        self.settings = SettingsPage(svc)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.pairs, "Pairs")
        self.tabs.addTab(self.accounts, "Accounts")
        self.tabs.addTab(self.activity, "Activity")
        self.tabs.addTab(self.settings, "Settings")
        self.tabs.currentChanged.connect(lambda _i: self.refresh())
        self.setCentralWidget(self.tabs)
        self.state = QLabel()
        self.statusBar().addPermanentWidget(self.state)
        self.pairs.changed.connect(self.refresh)
        self.accounts.changed.connect(self.refresh)
        bridge.run_finished.connect(lambda _r: self.refresh())
        bridge.status_changed.connect(self.refresh)
        self.resize(920, 640)
        self.refresh()

    def refresh(self) -> None:
        """Re-read what the current tab shows (cheap: the local database only)."""
        page = self.tabs.currentWidget()
        if page is self.pairs:
            self.pairs.refresh()
        elif page is self.accounts:
            self.accounts.refresh()
        elif page is self.activity:
            self.activity.refresh()
        state = self.svc.state()
        last = self.svc.last_synced()
        self.state.setText(f"{STATE_TEXT[state]}  \u00b7  last sync {when(last)}")

    def show_message(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}", 30_000)

    def bring_to_front(self) -> None:
        self.showNormal()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Meridian keeps syncing in the tray; only "Quit" ends it.
        event.ignore()
        self.hide()
