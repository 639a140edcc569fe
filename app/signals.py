"""Emitting Qt signals from Python without corrupting the interpreter.

PySide6 6.12.0 on Python 3.11 drops one reference to ``True`` on every
``Signal.emit()`` call (the bool it returns is not increfed). ``True`` is not
immortal before Python 3.12, so a few thousand emits - one per streamed token -
free it and the process aborts with "Fatal Python error: bool_dealloc". Every
emit in app/ goes through :func:`emit`, which detects the fault once at import
and gives the reference back only where it is lost.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    ping = Signal()


def _emit_loses_true() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(4):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    for _ in range(max(lost, 0)):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return lost >= 4


LOSES_TRUE = _emit_loses_true()


def emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)``, safe to call from any thread and any number of times."""
    signal.emit(*args)
    if LOSES_TRUE:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
