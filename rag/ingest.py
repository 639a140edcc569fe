"""Turn a folder into index entries: scan, skip what is unchanged, load, chunk, embed, store.

Loading and chunking the next files runs on a producer thread while the main
thread embeds, so reading PDFs overlaps with the embedding model (the slowest
stage) and at most a few files' chunks are held in memory at once. Each file's
chunks are written in one transaction, so a crash or kill between files leaves a
consistent index and the next run picks up where this one stopped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import os_reason
from rag.loaders import LoadError, NoTextError, load
from rag.scan import content_hash, file_fingerprint, scan_folder
from rag.types import Chunk, FileReport, FileStatus, IndexProgress, IndexReport

ProgressFn = Callable[[int, int, IndexProgress], None]
StopFn = Callable[[], bool]

_PREFETCH = 2  # files loaded ahead of the embedder; bounds memory on large folders
_EMBED_GROUP = 256  # chunks embedded between checks for cancellation


@dataclass
class _Work:
    """One file's outcome from the producer: chunks to embed, or a report to record."""

    path: Path
    rel: str
    size: int
    mtime_ns: int
    digest: str
    chunks: list[Chunk] | None = None
    report: FileReport | None = None  # set when there is nothing to embed
    touch_only: bool = False  # content unchanged, only the fingerprint moved


def index_folder(
    folder: Path,
    store,
    embedder,
    chunker,
    *,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> IndexReport:
    """Bring ``store`` up to date with ``folder`` and say what happened to every file."""
    started = time.monotonic()
    on_progress = on_progress or (lambda done, total, detail: None)
    should_stop = should_stop or (lambda: False)
    report = IndexReport(folder=str(folder))

    on_progress(0, 0, IndexProgress("", 0, 0.0, "scanning"))
    entries, problems = scan_folder(folder)
    present = {rel for _, rel in entries} | {p.file for p in problems}
    for rec in store.all_files():
        if rec.path not in present:
            store.remove_file(rec.path)
            report.removed.append(rec.path)
    for p in problems:
        rec = store.file_record(p.file)
        if rec is None or rec.status != p.status or rec.reason != p.reason:
            store.record_problem(p.file, "", 0, 0, p.status, p.reason)
    report.files.extend(problems)

    total = len(entries)
    chunks_written = 0
    stop = threading.Event()
    works: queue.Queue[_Work | BaseException | None] = queue.Queue(maxsize=_PREFETCH)
    producer = threading.Thread(
        target=_produce,
        args=(entries, store, chunker, works, stop),
        name="quarry-ingest-loader",
        daemon=True,
    )
    producer.start()
    done = 0
    try:
        while True:
            if should_stop():
                report.cancelled = True
                break
            item = works.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            on_progress(
                done, total, IndexProgress(item.rel, chunks_written, time.monotonic() - started)
            )
            file_report = _store_one(item, store, embedder, should_stop)
            if file_report is None:  # cancelled mid-file: nothing of it was written
                report.cancelled = True
                break
            report.files.append(file_report)
            if file_report.status is FileStatus.INDEXED:
                chunks_written += file_report.chunks
            done += 1
            on_progress(
                done, total, IndexProgress(item.rel, chunks_written, time.monotonic() - started)
            )
    finally:
        stop.set()
        _drain(works)
        producer.join(timeout=30)
        on_progress(
            done, total, IndexProgress("", chunks_written, time.monotonic() - started, "saving")
        )
        store.flush()
    report.seconds = time.monotonic() - started
    on_progress(done, total, IndexProgress("", chunks_written, report.seconds, "done"))
    return report


def _produce(
    entries: list[tuple[Path, str]], store, chunker, out: queue.Queue, stop: threading.Event
) -> None:
    try:
        for path, rel in entries:
            if stop.is_set():
                return
            _put(out, _prepare(path, rel, store, chunker), stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(out, exc, stop)
        return
    _put(out, None, stop)


def _put(out: queue.Queue, item, stop: threading.Event) -> None:
    """Put without blocking forever: the consumer may have stopped taking."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def _prepare(path: Path, rel: str, store, chunker) -> _Work:
    """Decide what a file needs, and load and chunk it if it changed."""
    size = mtime_ns = 0
    digest = ""

    def outcome(status: FileStatus, reason: str = "", chunks: int = 0, **kw) -> _Work:
        report = FileReport(rel, status, reason, chunks)
        return _Work(path, rel, size, mtime_ns, digest, report=report, **kw)

    try:
        size, mtime_ns = file_fingerprint(path)
    except OSError as exc:
        return outcome(FileStatus.FAILED, os_reason(exc))
    rec = store.file_record(rel)
    if rec is not None and rec.size == size and rec.mtime_ns == mtime_ns and rec.hash:
        digest = rec.hash
        return outcome(FileStatus.UNCHANGED, rec.reason, rec.chunks)
    try:
        digest = content_hash(path)
    except OSError as exc:
        return outcome(FileStatus.FAILED, os_reason(exc))
    if rec is not None and rec.hash == digest:
        return outcome(FileStatus.UNCHANGED, rec.reason, rec.chunks, touch_only=True)
    try:
        doc = load(path)
        chunks = list(chunker.chunk(rel, doc.title, doc.pages))
    except NoTextError as exc:
        return outcome(FileStatus.SKIPPED, exc.reason)
    except LoadError as exc:
        return outcome(FileStatus.FAILED, exc.reason)
    except MemoryError:
        return outcome(FileStatus.FAILED, "too large to read into memory")
    except Exception as exc:  # a parser bug on one odd file must not stop the folder
        return outcome(FileStatus.FAILED, f"could not be read ({type(exc).__name__}: {exc})")
    if not chunks:
        return outcome(FileStatus.SKIPPED, "no text to index")
    return _Work(path, rel, size, mtime_ns, digest, chunks=chunks)


def _store_one(item: _Work, store, embedder, should_stop: StopFn) -> FileReport | None:
    if item.report is not None:
        status = item.report.status
        if status in (FileStatus.FAILED, FileStatus.SKIPPED):
            store.record_problem(
                item.rel, item.digest, item.size, item.mtime_ns, status, item.report.reason
            )
        elif item.touch_only:
            store.touch_file(item.rel, item.size, item.mtime_ns)
        return item.report
    chunks = item.chunks or []
    texts = [c.text for c in chunks]
    parts = []
    for i in range(0, len(texts), _EMBED_GROUP):
        if should_stop():
            return None
        parts.append(embedder.embed(texts[i : i + _EMBED_GROUP]))
    vectors = np.concatenate(parts) if len(parts) > 1 else parts[0]
    store.replace_file(item.rel, item.digest, item.size, item.mtime_ns, chunks, vectors)
    return FileReport(item.rel, FileStatus.INDEXED, "", len(chunks))
