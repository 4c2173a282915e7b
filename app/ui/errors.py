"""Unexpected exceptions: logged, shown in a dialog with a report to copy; the app keeps running.

``sys.excepthook`` catches what escapes on the GUI thread (Qt slots and event handlers included:
PySide6 hands those to it), ``threading.excepthook`` what escapes a worker thread. Worker
threads must not touch widgets, so both go through the bridge's ``crashed`` signal.
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
import traceback
from types import TracebackType
from typing import Any

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, __version__
from app.ui.bridge import Bridge

log = logging.getLogger(__name__)


def report_text(
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
    thread: str | None = None,
) -> str:
    """The copyable report: versions and the traceback (no settings, no account data)."""
    head = [
        f"{APP_NAME} {__version__}",
        f"Python {platform.python_version()}, PySide6 {PYSIDE_VERSION}, "
        f"{platform.system()} {platform.release()} ({platform.machine()})",
        f"Thread: {thread or threading.current_thread().name}",
        "",
    ]
    return "\n".join(head) + "".join(traceback.format_exception(exc_type, exc, tb))


class ErrorDialog(QDialog):
    def __init__(self, report: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{APP_NAME} ran into a problem")
        self.setModal(False)
        intro = QLabel(
            f"Something unexpected went wrong. {APP_NAME} keeps running and your calendars are "
            "safe: an interrupted sync picks up where it stopped. If this happens again, copy "
            "the report below and send it to your IT department."
        )
        intro.setWordWrap(True)
        self.text = QPlainTextEdit(report)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.copy = QPushButton("Copy report")
        self.copy.clicked.connect(self.copy_report)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(680, 420)

    def add(self, report: str) -> None:
        self.text.appendPlainText("\n" + "-" * 60 + "\n" + report)

    def copy_report(self) -> None:
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(self.text.toPlainText())
        self.copy.setText("Copied")


class ExceptionHandler(QObject):
    """Installs both hooks; shows one dialog at a time (later reports are appended to it)."""

    def __init__(self, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.dialog: ErrorDialog | None = None
        self.reports: list[str] = []
        self._prev_sys: Any = None
        self._prev_thread: Any = None
        bridge.crashed.connect(self.show_report)

    def install(self) -> None:
        self._prev_sys, sys.excepthook = sys.excepthook, self._sys_hook
        self._prev_thread, threading.excepthook = threading.excepthook, self._thread_hook

    def uninstall(self) -> None:
        if self._prev_sys is not None:
            sys.excepthook = self._prev_sys
            threading.excepthook = self._prev_thread
            self._prev_sys = self._prev_thread = None

    def _sys_hook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt | SystemExit):
            self._prev_sys(exc_type, exc, tb)
            return
        self._report(report_text(exc_type, exc, tb))

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread else None
        self._report(report_text(args.exc_type, args.exc_value, args.exc_traceback, name))

    def _report(self, report: str) -> None:
        log.error("unexpected error\n%s", report)
        # From a worker this is queued to the GUI thread; on it, it runs at once.
        self.bridge.crashed.emit(report)

    @Slot(str)
    def show_report(self, report: str) -> None:
        self.reports.append(report)
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.add(report)
            return
        self.dialog = ErrorDialog(report)
        self.dialog.show()
