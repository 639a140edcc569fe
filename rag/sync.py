"""Keep an open folder's index in step with the folder: notice changes, re-index once.

``FolderWatcher(folder, on_change)`` calls ``on_change()`` after files in the
folder were added, changed, renamed or deleted and the folder has then been
quiet for ``settle`` seconds. An editor that saves the same file ten times in a
row, or a copy of a hundred files, therefore costs one re-index, not ten or a
hundred; and re-indexing itself is incremental (unchanged files are skipped by
their size and time).

It watches with the operating system's notifications (inotify, FSEvents,
ReadDirectoryChangesW, through watchdog). Where those are unavailable (a network
drive, an exhausted inotify limit) it falls back to a periodic rescan of file
names, sizes and times every ``poll_interval`` seconds.

Hidden files and Office lock files are ignored, as the scan ignores them.
``on_change`` runs on the watcher's own thread; the window turns it into a signal.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SETTLE_S = 1.0  # quiet time after the last change before re-indexing
POLL_S = 5.0  # rescan interval where the operating system cannot notify


def _ignored(path: str, root: str) -> bool:
    rel = os.path.relpath(path, root)
    return any(part.startswith((".", "~$")) for part in Path(rel).parts if part != ".")


class FolderWatcher:
    """Calls ``on_change()`` once per burst of changes in ``folder``; ``close()`` to stop."""

    def __init__(
        self,
        folder: Path,
        on_change: Callable[[], None],
        *,
        settle: float = SETTLE_S,
        poll_interval: float = POLL_S,
        polling: bool = False,
    ) -> None:
        self.folder = Path(folder).resolve()
        self.on_change = on_change
        self.settle = settle
        self.poll_interval = poll_interval
        self.polling = polling  # True when the periodic rescan is in use
        self._last_event = 0.0
        self._dirty = False
        self._cond = threading.Condition()
        self._closed = False
        self._observer = None
        self._start_observer()
        self._thread = threading.Thread(target=self._debounce, name="quarry-sync", daemon=True)
        self._thread.start()

    # -- events --------------------------------------------------------------
    def notice(self, path: str = "") -> None:
        """Record a change (called by the observer; callable by hand for a known change)."""
        if path and _ignored(path, str(self.folder)):
            return
        with self._cond:
            self._dirty = True
            self._last_event = time.monotonic()
            self._cond.notify_all()

    def _start_observer(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return  # reading a file is not changing it (the indexer reads them all)
                if event.is_directory and event.event_type == "modified":
                    return  # follows the change to a file inside, reported on its own
                watcher.notice(os.fsdecode(event.src_path))
                dest = getattr(event, "dest_path", "")
                if dest:
                    watcher.notice(os.fsdecode(dest))

        handler = Handler()
        if not self.polling:
            try:
                observer = Observer()
                observer.schedule(handler, str(self.folder), recursive=True)
                observer.start()
                self._observer = observer
                return
            except OSError as exc:  # e.g. the inotify watch limit, or a network drive
                log.info("Watching %s by rescanning: %s", self.folder, exc)
                self.polling = True
        observer = PollingObserver(timeout=self.poll_interval)
        observer.schedule(handler, str(self.folder), recursive=True)
        observer.start()
        self._observer = observer

    def _debounce(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._dirty:
                    self._cond.wait()
                if self._closed:
                    return
                quiet = time.monotonic() - self._last_event
                if quiet < self.settle:
                    self._cond.wait(self.settle - quiet)
                    continue
                self._dirty = False
            try:
                self.on_change()
            except Exception:  # a failing callback must not end the watching
                log.exception("Folder change handler failed")

    # -- lifetime ------------------------------------------------------------
    def close(self) -> None:
        """Stop watching; no ``on_change`` call starts after this returns."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FolderWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
