"""Unexpected exceptions on the GUI thread and on workers: a dialog with a copyable report."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot
from shots import shoot

from app.ui.bridge import Bridge
from app.ui.errors import ExceptionHandler

WAIT = 5_000


@pytest.mark.qt_no_exception_capture
def test_errors_anywhere_show_one_dialog_and_the_app_goes_on(qtbot: QtBot) -> None:
    bridge = Bridge()
    handler = ExceptionHandler(bridge)
    handler.install()
    try:
        # In a Qt slot on the GUI thread.
        button = QPushButton("Boom")
        qtbot.addWidget(button)
        button.clicked.connect(lambda: 1 / 0)
        QTimer.singleShot(0, button.click)
        qtbot.waitUntil(
            lambda: handler.dialog is not None and handler.dialog.isVisible(), timeout=WAIT
        )
        dlg = handler.dialog
        assert dlg is not None
        assert "ZeroDivisionError" in dlg.text.toPlainText()
        assert "Meridian 0.1.0" in dlg.text.toPlainText()
        shoot(dlg, "error-dialog")

        # On a worker thread: reported through the bridge, appended to the same dialog.
        def worker() -> None:
            raise RuntimeError("worker failed")

        with qtbot.waitSignal(bridge.crashed, timeout=WAIT):
            threading.Thread(target=worker, name="sync-worker").start()
        assert "worker failed" in dlg.text.toPlainText()
        assert "Thread: sync-worker" in dlg.text.toPlainText()
        assert len(handler.reports) == 2

        # A background task without an error callback ends up here too.
        with qtbot.waitSignal(bridge.crashed, timeout=WAIT):
            bridge.submit(lambda: {}["missing"])
        assert "KeyError" in dlg.text.toPlainText()

        qtbot.mouseClick(dlg.copy, Qt.MouseButton.LeftButton)
        assert "ZeroDivisionError" in QGuiApplication.clipboard().text()
        assert dlg.copy.text() == "Copied"
        # The event loop is still alive and well.
        with qtbot.waitSignal(bridge.run_started, timeout=WAIT):
            QTimer.singleShot(0, lambda: bridge.run_started.emit("still alive"))
    finally:
        handler.uninstall()
        if handler.dialog is not None:
            handler.dialog.close()
