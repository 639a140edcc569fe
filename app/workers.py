"""The one way the window runs slow work: a plain-Python callable on a thread pool.

The callable receives a :class:`Job` and passes its ``on_progress``, ``on_token``
and ``should_stop`` to the core, which knows nothing of Qt. Those calls become
signals, delivered on the GUI thread because the Job lives there. The callable
never touches widgets. Each window owns one :class:`Workers`, so closing the
window stops and waits for exactly its own jobs and teardown stays short.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class Job(QObject):
    """One background call: its signals, and the flag that asks it to stop."""

    progress = Signal(object)  # the arguments of on_progress, as a tuple
    token = Signal(str)
    done = Signal(object)  # the callable's return value
    failed = Signal(object)  # the exception it raised
    finished = Signal()  # after done or failed, always

    def __init__(self, name: str, fn: Callable[[Job], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._fn = fn
        self._stop = threading.Event()
        self.running = False

    # The three callables handed to the core; they are called on the worker thread.
    def on_progress(self, *args: Any) -> None:
        self.progress.emit(args)

    def on_token(self, text: str) -> None:
        self.token.emit(text)

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            result = self._fn(self)
        except BaseException as exc:  # noqa: BLE001 - reported to the window, never swallowed
            log.debug("job %s failed", self.name, exc_info=True)
            self.failed.emit(exc)
        else:
            self.done.emit(result)
        finally:
            self.finished.emit()


class _Runnable(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job = job

    def run(self) -> None:
        self._job._run()


class Workers(QObject):
    """The jobs of one window, on a pool that only this window uses."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._jobs: set[Job] = set()

    def start(
        self,
        name: str,
        fn: Callable[[Job], Any],
        *,
        done: Callable[[Any], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
        progress: Callable[..., None] | None = None,
        token: Callable[[str], None] | None = None,
        finished: Callable[[], None] | None = None,
    ) -> Job:
        """Run ``fn(job)`` in the background; the handlers run on the GUI thread."""
        job = Job(name, fn, self)
        job.finished.connect(lambda: self._forget(job))  # first, so handlers see it finished
        if done:
            job.done.connect(done)
        if failed:
            job.failed.connect(failed)
        if progress:
            job.progress.connect(lambda args: progress(*args))
        if token:
            job.token.connect(token)
        if finished:
            job.finished.connect(finished)
        job.running = True
        self._jobs.add(job)
        self._pool.start(_Runnable(job))
        return job

    def _forget(self, job: Job) -> None:
        job.running = False
        self._jobs.discard(job)
        job.deleteLater()

    def busy(self, name: str | None = None) -> bool:
        return any(name is None or j.name == name for j in self._jobs)

    def stop(self, name: str | None = None) -> None:
        for job in list(self._jobs):
            if name is None or job.name == name:
                job.stop()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Ask every job to stop and wait for them; False if one is still running."""
        self.stop()
        return self._pool.waitForDone(timeout_ms)
