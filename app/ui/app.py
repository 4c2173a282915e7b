"""The desktop app: one instance per user, tray, main window, conflict and overlap popups, and
the first-run wizard.

``run_gui`` owns the QApplication and its event loop; ``DesktopApp`` wires the parts together
(tests build it without an event loop of its own).
"""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from app import APP_ID, APP_NAME
from app.errors import MeridianError
from app.services.app_service import AppService
from app.ui.bridge import Bridge
from app.ui.errors import ExceptionHandler
from app.ui.gc_guard import MainThreadCollector
from app.ui.icons import app_icon
from app.ui.main_window import MainWindow
from app.ui.overlap_dialog import PopupQueue
from app.ui.single_instance import SingleInstance, instance_name
from app.ui.tray import Tray
from app.ui.wizard import SetupWizard


class DesktopApp(QObject):
    def __init__(
        self,
        svc: AppService,
        *,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.svc = svc
        self.bridge = Bridge(self)
        self.bridge.attach(svc)
        self.errors = ExceptionHandler(self.bridge, self)
        self.window = MainWindow(svc, self.bridge)
        self.tray = Tray(svc, self.bridge, available=tray_available, parent=self)
        self.popups = PopupQueue(svc, self.bridge, self)  # conflicts, then schedule overlaps
        self.wizard: SetupWizard | None = None
        self.tray.open_requested.connect(self.window.bring_to_front)
        self.tray.conflicts_requested.connect(self.popups.check)
        self.tray.quit_requested.connect(self.quit)
        self.tray.unavailable.connect(self.window.bring_to_front)
        self.tray.message.connect(self.window.show_message)

    def start(self, *, show_window: bool = False) -> None:
        self.errors.install()
        self.svc.start()
        in_tray = self.tray.start()
        if show_window or not in_tray:
            self.window.bring_to_front()
        if not self.svc.settings.setup_done and not self.svc.pairs():
            self.open_wizard()
        self.popups.check()

    def open_wizard(self) -> SetupWizard:
        if self.wizard is None or not self.wizard.isVisible():
            self.wizard = SetupWizard(self.svc, self.bridge)
            self.wizard.finished.connect(lambda _r: self.window.refresh())
            self.wizard.show()
        return self.wizard

    def quit(self) -> None:
        QApplication.quit()

    def shutdown(self) -> None:
        self.tray.hide()
        self.svc.stop()
        self.errors.uninstall()


def run_gui(make_service: Callable[[], AppService], *, profile_root: Path) -> int:
    """Run until Quit; a second launch for the same profile only brings the first forward.

    ``make_service`` is called only once this is known to be the one instance, so a second
    launch starts nothing (no sandbox, no sign-in, no database).
    """
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else APP_ID])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # closing windows never quits: the tray stays
    single = SingleInstance(instance_name(profile_root))
    if not single.claim():
        print(f"{APP_NAME} is already running: brought it to the front.", file=sys.stderr)
        return 0
    collector = MainThreadCollector(app)  # Qt objects are only ever finalised on this thread
    try:
        svc = make_service()
    except MeridianError as err:
        single.release()
        return show_fatal(err.title, err.message)
    ui = DesktopApp(svc)
    single.activated.connect(ui.window.bring_to_front)
    # Ctrl+C and SIGTERM (a logout, a package upgrade) quit cleanly. Python runs a handler only
    # when its own code runs, and the Qt loop may sleep in C++: the signal also writes a byte
    # to a socket the loop watches, which wakes it to run the handler.
    # exit(), not quit(): Qt 6's quit() first asks every window to close, and ours refuse
    # (closing a window hides it to the tray), which would cancel the quit. Posted, not called:
    # a signal that comes before the loop runs would otherwise be lost (exit() ends only a
    # running loop), and the app would never quit.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: QTimer.singleShot(0, lambda: app.exit(0)))
    waker, wakee = socket.socketpair()
    for s in (waker, wakee):
        s.setblocking(False)
    signal.set_wakeup_fd(waker.fileno())
    notifier = QSocketNotifier(wakee.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(lambda *_: wakee.recv(64))
    tick = QTimer()  # belt and braces where the wake-up socket is not delivered
    tick.start(250)
    tick.timeout.connect(lambda: None)
    ui.start(show_window=svc.demo)
    print(f"{APP_NAME} is running.", file=sys.stderr, flush=True)
    try:
        return app.exec()
    finally:
        ui.shutdown()
        single.release()
        collector.stop()


def show_fatal(title: str, message: str) -> int:
    """A start-up failure (no keyring, a broken profile) said in a window, not only on stderr."""
    app = QApplication.instance() or QApplication([APP_ID])
    assert app is not None
    print(f"{APP_ID}: {title}: {message}", file=sys.stderr)
    QMessageBox.critical(None, f"{APP_NAME}: {title}", message)
    return 1
