"""The signal bridge: worker-thread callbacks arrive on the GUI thread, never elsewhere."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.services.app_service import Notice
from app.ui.bridge import Bridge


def _on_gui_thread() -> bool:
    app = QApplication.instance()
    assert app is not None
    return QThread.currentThread() is app.thread()


def test_signals_emitted_on_a_worker_thread_arrive_on_the_gui_thread(qtbot: QtBot) -> None:
    bridge = Bridge()
    seen: list[tuple[str, bool]] = []
    bridge.run_started.connect(lambda pid: seen.append((pid, _on_gui_thread())))
    bridge.notice.connect(lambda n: seen.append((n.kind, _on_gui_thread())))

    def worker() -> None:
        bridge.run_started.emit("p1")
        bridge.notice.emit(Notice("held", "t", "m"))
        bridge.run_finished.emit({"pair": "p1", "status": "ok"})

    with qtbot.waitSignal(bridge.run_finished, timeout=5000) as blocker:
        threading.Thread(target=worker).start()
    assert blocker.args == [{"pair": "p1", "status": "ok"}]
    assert seen == [("p1", True), ("held", True)]


def test_submit_runs_off_the_gui_thread_and_answers_on_it(qtbot: QtBot) -> None:
    bridge = Bridge()
    where: dict[str, Any] = {}

    def work() -> int:
        where["work"] = _on_gui_thread()
        return 42

    def ok(result: int) -> None:
        where["ok"] = (result, _on_gui_thread())

    with qtbot.waitSignal(bridge._done, timeout=5000):
        bridge.submit(work, ok)
    assert where == {"work": False, "ok": (42, True)}


def test_submit_errors_go_to_the_error_callback(qtbot: QtBot) -> None:
    bridge = Bridge()
    errors: list[BaseException] = []

    def boom() -> None:
        raise ValueError("nope")

    with qtbot.waitSignal(bridge._done, timeout=5000):
        bridge.submit(boom, on_error=errors.append)
    assert [str(e) for e in errors] == ["nope"]


def test_the_service_callbacks_are_the_bridge_signals(qtbot: QtBot) -> None:
    class Svc:
        on_run_started: Any = None
        on_run_finished: Any = None
        on_changed: Any = None
        on_notice: Any = None

    svc = Svc()
    bridge = Bridge()
    bridge.attach(svc)  # type: ignore[arg-type]
    with qtbot.waitSignal(bridge.status_changed, timeout=5000):
        threading.Thread(target=svc.on_changed).start()


@pytest.mark.parametrize("n", [50])
def test_many_emits_from_many_threads_all_arrive_in_order_per_thread(qtbot: QtBot, n: int) -> None:
    bridge = Bridge()
    got: list[str] = []
    bridge.run_started.connect(got.append)
    threads = [
        threading.Thread(target=lambda t=t: [bridge.run_started.emit(f"{t}-{i}") for i in range(n)])
        for t in range(4)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    qtbot.waitUntil(lambda: len(got) == 4 * n, timeout=5000)
    for t in range(4):
        mine = [g for g in got if g.startswith(f"{t}-")]
        assert mine == [f"{t}-{i}" for i in range(n)]
