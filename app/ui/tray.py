"""The tray icon: state at a glance, a menu rebuilt each time it opens, and notifications.

Closing windows never quits (QApplication.quitOnLastWindowClosed is off); only "Quit" does.
When the desktop has no tray yet (a panel that starts after us at login, or none at all), the
app shows its main window instead and keeps checking for a while.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app import APP_NAME
from app.services.app_service import AppService, Notice, TrayState
from app.ui.bridge import Bridge
from app.ui.icons import state_icon
from app.ui.text import STATE_TEXT, plural, when

RETRY_MS = 2000
RETRIES = 30  # a minute: long enough for a panel that starts after us at login
_WARN = {"sign-in", "held", "failing"}


class Tray(QObject):
    exported = Signal(str)  # the diagnostic bundle just written
    open_requested = Signal()
    conflicts_requested = Signal()
    quit_requested = Signal()
    unavailable = Signal()  # no tray at start: show the main window instead
    message = Signal(str, str)  # a notification (also when it cannot be shown in the tray)

    def __init__(
        self,
        svc: AppService,
        bridge: Bridge,
        *,
        available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.svc = svc
        self._available = available
        self.state: TrayState | None = None
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self._retry = QTimer(self)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self._try_show)
        self._tries = 0
        bridge.run_started.connect(self.refresh)
        bridge.run_finished.connect(self.refresh)
        bridge.status_changed.connect(self.refresh)
        bridge.notice.connect(self.notify)
        self.rebuild_menu()
        self.refresh()

    # --- showing --------------------------------------------------------------------------------

    def start(self) -> bool:
        """Show the icon; False (and ``unavailable``) when the desktop has no tray now."""
        if self._available():
            self.icon.show()
            return True
        self.unavailable.emit()
        self._retry.start()
        return False

    @Slot()
    def _try_show(self) -> None:
        self._tries += 1
        if self._available():
            self._retry.stop()
            self.icon.show()
        elif self._tries >= RETRIES:
            self._retry.stop()

    def hide(self) -> None:
        self._retry.stop()
        self.icon.hide()

    @Slot(QSystemTrayIcon.ActivationReason)
    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()

    # --- state ----------------------------------------------------------------------------------

    @Slot()
    def refresh(self, *_args: object) -> None:
        state = self.svc.state()
        if state is not self.state:
            self.state = state
            self.icon.setIcon(state_icon(state))
        self.icon.setToolTip(self.tooltip())

    def headline(self) -> str:
        state = self.state or TrayState.IDLE
        if state is TrayState.PAUSED and self.svc.scheduler.paused_until:
            return f"Paused until {when(self.svc.scheduler.paused_until)}"
        if state is TrayState.ATTENTION:
            waiting = self.waiting()
            if waiting:
                return f"{waiting} waiting"
        return STATE_TEXT[state]

    def waiting(self) -> str:
        """What waits for the person ("1 conflict, 2 overlaps"); "" when nothing does."""
        c, o = len(self.svc.conflicts()), len(self.svc.overlaps())
        return ", ".join(plural(n, w) for n, w in ((c, "conflict"), (o, "overlap")) if n)

    def tooltip(self) -> str:
        nxt = self.svc.scheduler.next_run()
        lines = [
            f"{APP_NAME}: {self.headline()}",
            f"Last sync: {when(self.svc.last_synced())}",
            f"Next sync: {when(nxt) if nxt else 'paused' if self.svc.scheduler.paused else '-'}",
        ]
        return "\n".join(lines)

    # --- the menu -------------------------------------------------------------------------------

    @Slot()
    def rebuild_menu(self) -> None:
        """Rebuilt on every open, so it always shows the state of this moment."""
        m = self.menu
        m.clear()
        self.refresh()
        head = m.addAction(self.headline())
        head.setEnabled(False)
        m.addSeparator()
        self._add(m, "Sync now", lambda: self.svc.sync_now())
        if self.svc.scheduler.paused:
            self._add(m, "Resume syncing", self.svc.resume)
        else:
            pause = m.addMenu("Pause syncing")
            self._add(pause, "For 1 hour", lambda: self.svc.pause(1))
            self._add(pause, "Until I resume", lambda: self.svc.pause(None))
        c, o = len(self.svc.conflicts()), len(self.svc.overlaps())
        if c or o:
            what = "Conflicts and overlaps" if c and o else "Conflicts" if c else "Overlaps"
            self._add(m, f"{what} waiting ({c + o})\u2026", self.conflicts_requested.emit)
        m.addSeparator()
        self._add(m, "Export diagnostics\u2026", self.export_diagnostics)
        self._add(m, f"Open {APP_NAME}", self.open_requested.emit)
        self._add(m, f"Quit {APP_NAME}", self.quit_requested.emit)

    @Slot()
    def export_diagnostics(self) -> None:
        """Make the bundle support asks for, then show it in the file manager."""
        bundle = self.svc.export_diagnostics()
        self.exported.emit(str(bundle))
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(bundle.parent)))

    def _add(self, menu: QMenu, text: str, slot: Callable[[], object]) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def action(self, text: str) -> QAction:
        """The menu entry starting with ``text`` (submenus included), for tests and automation."""
        for a in _all_actions(self.menu):
            if a.text().startswith(text):
                return a
        raise KeyError(text)

    # --- notifications --------------------------------------------------------------------------

    @Slot(object)
    def notify(self, notice: Notice) -> None:
        self.message.emit(notice.title, notice.message)
        if self.icon.isVisible() and self.icon.supportsMessages():
            kind = (
                QSystemTrayIcon.MessageIcon.Warning
                if notice.kind in _WARN
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.icon.showMessage(notice.title, notice.message, kind, 10_000)


def _all_actions(menu: QMenu) -> list[QAction]:
    out: list[QAction] = []
    for a in menu.actions():
        out.append(a)
        if a.menu() is not None:
            sub = a.menu()
            assert isinstance(sub, QMenu)
            out.extend(_all_actions(sub))
    return out
