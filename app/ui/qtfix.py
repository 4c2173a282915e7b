"""Work-around for a PySide6 6.12.0 reference-count bug, installed when ``app.ui`` is imported.

On Python 3.11 (where ``True`` is not immortal) every ``SignalInstance.emit()`` call of
PySide6 6.12.0 returns ``True`` without the reference it owes: after a few hundred emits the
interpreter aborts with "Fatal Python error: bool_dealloc: deallocating True or False". Only
``emit`` called from Python is affected (signals Qt emits itself are not); nothing else we call
was found to leak (tests/ui/test_qtfix.py measures it).

``install`` measures the leak on a private signal and only when it is there wraps ``emit`` to
give the reference back, so a fixed PySide6 runs untouched.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 32
_installed = False


class _Probe(QObject):
    ping = Signal()


def leaks_per_emit() -> int:
    """References to ``True`` lost per ``emit`` call (0 on a healthy PySide6)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    probe.deleteLater()
    return round(lost / _PROBES)


def install() -> bool:
    """Wrap ``SignalInstance.emit`` when it leaks; True when the wrapper is (now) in place."""
    global _installed
    if _installed:
        return True
    lost = leaks_per_emit()
    if lost != 1:
        return False
    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original(self, *args)
        incref(True)  # the reference emit() should have taken for its return value
        return result

    SignalInstance.emit = emit  # type: ignore[method-assign]
    _installed = True
    return True
