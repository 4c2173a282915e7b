"""Python's cyclic garbage, collected on the Qt main thread only.

The collector runs in whichever thread happens to allocate when a generation fills. Syncs run
on worker threads (the scheduler's, the engine's second read, the providers' batches), so a
collection there may finalise a closed window's Qt objects outside the thread that owns them,
and PySide6 then crashes the process (a segfault seen in tests/ui while a sync read Google on
its worker thread). So while the app runs, automatic collection is off, and a timer on the main
thread collects generation by generation as their counts pass the usual thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class MainThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)

    def collect_due(self) -> None:
        """What the automatic collector would have done by now (its own thresholds)."""
        counts, limits = gc.get_count(), self._thresholds
        if counts[0] > limits[0]:
            gc.collect(0)
            if counts[1] > limits[1]:
                gc.collect(1)
                if counts[2] > limits[2]:
                    gc.collect(2)

    def stop(self) -> None:
        """Collect what is left here, and give collection back to the interpreter."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
