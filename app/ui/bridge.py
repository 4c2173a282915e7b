"""The one way from worker threads to the GUI thread: Qt signals on a QObject of the GUI thread.

The services call plain callbacks on their worker threads (scheduler jobs, sign-ins). Here those
callbacks are ``Signal.emit``; a signal emitted on another thread reaches slots of objects living
in the GUI thread through a queued connection, so no widget is ever touched off the GUI thread.
``submit`` runs blocking work (sign-in, calendar lists, previews) on a thread the same way.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from app.services.app_service import AppService

log = logging.getLogger(__name__)

OnOk = Callable[[Any], None]
OnError = Callable[[BaseException], None]


class Bridge(QObject):
    run_started = Signal(str)  # pair id
    run_finished = Signal(object)  # the run's result as a dict (RunResult.as_dict + name, at)
    status_changed = Signal()
    notice = Signal(object)  # app.services.app_service.Notice
    crashed = Signal(str)  # an unexpected exception's report, from any thread
    _done = Signal(int, object, object)  # token, result, exception

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tokens = itertools.count(1)
        self._pending: dict[int, tuple[OnOk | None, OnError | None]] = {}
        self._done.connect(self._deliver)

    def attach(self, svc: AppService) -> None:
        """Route the service's worker-thread callbacks through the signals."""
        svc.on_run_started = self.run_started.emit
        svc.on_run_finished = self.run_finished.emit
        svc.on_changed = self.status_changed.emit
        svc.on_notice = self.notice.emit

    def submit(
        self,
        fn: Callable[[], Any],
        on_ok: OnOk | None = None,
        on_error: OnError | None = None,
        *,
        name: str = "meridian-task",
    ) -> threading.Thread:
        """Run ``fn`` on a thread; ``on_ok(result)`` or ``on_error(exc)`` run on the GUI thread."""
        token = next(self._tokens)
        self._pending[token] = (on_ok, on_error)

        def work() -> None:
            try:
                result = fn()
            except BaseException as exc:  # handed to on_error (or the crash dialog)
                self._done.emit(token, None, exc)
            else:
                self._done.emit(token, result, None)

        thread = threading.Thread(target=work, name=name, daemon=True)
        thread.start()
        return thread

    @Slot(int, object, object)
    def _deliver(self, token: int, result: Any, exc: BaseException | None) -> None:
        on_ok, on_error = self._pending.pop(token, (None, None))
        if exc is None:
            if on_ok is not None:
                on_ok(result)
        elif on_error is not None:
            on_error(exc)
        else:
            log.error("background task failed", exc_info=exc)
            raise exc
