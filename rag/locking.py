"""An advisory lock on a file, shared by every process on the machine.

Used for "one writer per index": the lock is taken with ``flock`` (``msvcrt`` on
Windows), so it is released by the operating system when the holder exits,
even when it is killed, and a stale lock file can never block anyone. Readers
never take it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """An exclusive lock held through an open file; not re-entrant."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; OSError when the lock file cannot be made."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if _try_lock(fd):
            self._fd = fd
            return True
        os.close(fd)
        return False

    def acquire(
        self,
        on_wait: Callable[[], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        poll: float = 0.1,
    ) -> bool:
        """Wait for the lock; ``on_wait`` is called once if it has to wait. False when
        ``should_stop`` asked to give up first."""
        waited = False
        while not self.try_acquire():
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            if should_stop is not None and should_stop():
                return False
            time.sleep(poll)
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                _unlock(fd)
            finally:
                os.close(fd)
