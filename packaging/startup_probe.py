"""Startup measurement: exit as soon as Quarry's main window is on screen.

With ``QUARRY_EXIT_WHEN_SHOWN=1`` the installed app (through its runtime hook)
and ``python main.py`` (through measure_startup.py) both load this first. It
wraps ``QMainWindow.show`` so that, once the window is shown and the event loop
has turned once, the process prints the seconds since it was created and leaves
at once. Both are measured the same way, from process creation to that moment.
"""

from __future__ import annotations

import os
import sys


def _since_process_start() -> float:
    import time

    import psutil

    return time.time() - psutil.Process().create_time()


def install() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMainWindow

    show = QMainWindow.show

    def show_then_exit(self: QMainWindow) -> None:
        show(self)

        def done() -> None:
            print(
                f"quarry: window shown after {_since_process_start():.3f} s",
                file=sys.stderr,
                flush=True,
            )
            os._exit(0)

        QTimer.singleShot(0, done)

    QMainWindow.show = show_then_exit  # type: ignore[method-assign]
