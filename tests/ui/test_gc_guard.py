"""Garbage is collected on the Qt main thread, never on a worker thread (app/ui/gc_guard.py)."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from app.ui.gc_guard import MainThreadCollector


class _Node:
    ref: Any = None


def test_a_cycle_dropped_while_a_worker_allocates_dies_on_the_main_thread(qtbot: Any) -> None:
    # (The autouse fixture has one running; this one collects sooner.)
    collector = MainThreadCollector(interval_ms=10)
    died_on_main: list[bool] = []
    node = _Node()
    node.ref = node  # only the cyclic collector can free it
    weakref.finalize(
        node, lambda: died_on_main.append(threading.current_thread() is threading.main_thread())
    )
    del node
    kept: list[Any] = []
    # A sync's thread allocating: enough objects to fill the youngest generation many times.
    worker = threading.Thread(target=lambda: kept.extend([] for _ in range(20_000)))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(died_on_main), timeout=5000)
    collector.stop()
    assert died_on_main == [True]
