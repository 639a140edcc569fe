"""Turn a folder into index entries in two phases: text first, then meaning.

Phase one reads: scan, skip what is unchanged, load, chunk, and write each file's
chunks without vectors. The lexical index has them at once, so the whole folder
can be searched and asked long before the embedding model has seen it (reading
is about ten times faster than embedding on a CPU). Loading and chunking the
next files runs on a producer thread while the main thread writes, and at most a
few files' chunks are held in memory at once.

Phase two embeds: the chunks waiting for a vector are taken from the store in
batches across files (so a folder of many small files fills whole batches) and
given their vectors; search uses every vector written so far. Reading keeps about
one core busy, so where the embedder runs on several cores (``embedder.lanes``) one
of them starts embedding while later files are still read: the chunks written first
are often embedded before phase two begins.

Both phases resume where they stopped: each file's chunks are written in one
transaction (a very large file in parts of ``_PART_CHUNKS``, and read again from
its start if stopped midway), and the store remembers which chunks still wait for
a vector, so a crash, a kill or "Stop" loses at most the batch in hand.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from rag import multilingual
from rag.chunking import contextual_text, with_page_headings
from rag.errors import os_reason
from rag.loaders import OCR_OFF_REASON, LoadError, LoadOptions, NoTextError, load
from rag.profiles import Profile, build_profile
from rag.progress import estimate_left
from rag.scan import content_hash, file_fingerprint, scan_folder
from rag.text import in_chinese
from rag.types import Chunk, FileReport, FileStatus, IndexProgress, IndexReport, Page

ProgressFn = Callable[[int, int, IndexProgress], None]
StopFn = Callable[[], bool]
EmbedTextFn = Callable[[object], str]

_PREFETCH = 2  # files loaded ahead of the writer; bounds memory on large folders
_PART_CHUNKS = 2000  # chunks of one file written per transaction; bounds memory on big files
_EMBED_GROUP = 256  # chunks embedded between checks for cancellation and progress
_EARLY_GROUP = 32  # chunks embedded at a time while reading: phase two waits for one group
_FLUSH_EVERY = 8192  # embedded chunks between saves of the vectors file


@dataclass
class _Work:
    """One file's outcome from the producer: chunks to embed, or a report to record."""

    path: Path
    rel: str
    size: int
    mtime_ns: int
    digest: str
    chunks: list[Chunk] | None = None
    profile: Profile | None = None
    report: FileReport | None = None  # set when there is nothing to embed
    touch_only: bool = False  # content unchanged, only the fingerprint moved
    append: bool = False  # a later part of a file written in parts
    more: bool = False  # more parts of this file follow
    written: int = 0  # chunks of this file in the parts before this one


def index_folder(
    folder: Path,
    store,
    embedder,
    chunker,
    *,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    embed: bool = True,
    embed_text: EmbedTextFn | None = None,
    load_options: LoadOptions | None = None,
) -> IndexReport:
    """Bring ``store`` up to date with ``folder`` and say what happened to every file.

    With ``embed=False`` only phase one runs; the chunks wait for
    :func:`embed_pending`. ``embed_text(chunk)`` is the text given to the embedding
    model for a stored chunk (by default its profile line, heading and text:
    :func:`rag.chunking.contextual_text`). ``load_options`` says
    whether to OCR scans and where OCR results are cached; OCR progress ("OCR page
    12 of 40") is reported from the loading thread.
    """
    started = time.monotonic()
    on_progress = on_progress or (lambda done, total, detail: None)
    load_options = load_options or LoadOptions()
    should_stop = should_stop or (lambda: False)
    report = IndexReport(folder=str(folder))

    on_progress(0, 0, IndexProgress("", 0, 0.0, "scanning"))
    entries, problems = scan_folder(folder)
    present = {rel for _, rel in entries} | {p.file for p in problems}
    records = {rec.path: rec for rec in store.all_files()}  # one query, not one per file
    for rel in records:
        if rel not in present:
            store.remove_file(rel)
            report.removed.append(rel)
    for p in problems:
        rec = records.get(p.file)
        if rec is None or rec.status != p.status or rec.reason != p.reason:
            store.record_problem(p.file, "", 0, 0, p.status, p.reason)
    report.files.extend(problems)

    # Files whose size and time are as recorded cost one stat here, and never reach the
    # loader thread: re-opening an unchanged folder of thousands of files stays cheap.
    changed = []
    for path, rel in entries:
        rec = records.get(rel)
        if rec is not None and rec.reason == OCR_OFF_REASON and load_options.ocr:
            rec = None  # a scan skipped while OCR was off: read it now
        if rec is not None and rec.hash:
            try:
                if file_fingerprint(path) == (rec.size, rec.mtime_ns):
                    report.files.append(
                        FileReport(rel, FileStatus.UNCHANGED, rec.reason, rec.chunks)
                    )
                    continue
            except OSError:
                pass  # reported by the loader thread with its reason
        changed.append((path, rel))

    total = len(entries)
    chunks_written = 0
    done = total - len(changed)
    stop = threading.Event()

    def ocr_progress(rel: str, note: str) -> None:
        elapsed = time.monotonic() - started
        eta = estimate_left(done, total, elapsed)
        on_progress(
            done, total, IndexProgress(rel, chunks_written, elapsed, "ocr", eta=eta, note=note)
        )

    works: queue.Queue[_Work | BaseException | None] = queue.Queue(maxsize=_PREFETCH)
    producer = threading.Thread(
        target=_produce,
        args=(changed, store, chunker, works, stop, load_options, ocr_progress),
        name="quarry-ingest-loader",
        daemon=True,
    )
    producer.start()
    early = _EarlyEmbedder(store, embedder, embed_text) if embed and changed else None
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
            elapsed = time.monotonic() - started
            eta = estimate_left(done, total, elapsed)
            on_progress(done, total, IndexProgress(item.rel, chunks_written, elapsed, eta=eta))
            file_report = _store_one(item, store)
            if item.chunks:
                chunks_written += len(item.chunks)
            elif item.written:  # a file that failed after some of its parts were written
                chunks_written -= item.written
            if item.more:
                continue
            report.files.append(file_report)
            done += 1
            elapsed = time.monotonic() - started
            eta = estimate_left(done, total, elapsed)
            on_progress(done, total, IndexProgress(item.rel, chunks_written, elapsed, eta=eta))
    finally:
        stop.set()
        _drain(works)
        producer.join(timeout=30)
        if early is not None:
            report.embedded = report.embedded_while_reading = early.finish()
    report.searchable_seconds = time.monotonic() - started
    if embed and not report.cancelled:
        ready = report.count(FileStatus.INDEXED) + report.count(FileStatus.UNCHANGED)
        embedded, stopped = embed_pending(
            store,
            embedder,
            on_progress=lambda d, t, p: on_progress(
                d,
                t,
                IndexProgress(
                    "", chunks_written, time.monotonic() - started, p.stage, ready, p.eta
                ),
            ),
            should_stop=should_stop,
            embed_text=embed_text,
        )
        report.embedded += embedded
        report.cancelled = stopped
    report.pending = store.count_pending()
    elapsed = time.monotonic() - started
    on_progress(done, total, IndexProgress("", chunks_written, elapsed, "saving"))
    store.flush()
    report.seconds = time.monotonic() - started
    on_progress(done, total, IndexProgress("", chunks_written, report.seconds, "done"))
    return report


def embed_pending(
    store,
    embedder,
    *,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    embed_text: EmbedTextFn | None = None,
) -> tuple[int, bool]:
    """Phase two: give every chunk waiting in ``store`` its vector, a batch at a time.

    Reports ``on_progress(embedded, total, IndexProgress(stage="embedding"))`` with
    the time left at this run's rate. Chunks the model cannot read (mostly Chinese
    under an English-only model) are left without a vector: the lexical index finds
    them. Returns (chunks embedded, whether it stopped early).
    """
    on_progress = on_progress or (lambda done, total, detail: None)
    should_stop = should_stop or (lambda: False)
    embed_text = embed_text or _chunk_text
    started = time.monotonic()
    done = embedded = since_flush = 0
    total = store.count_pending()
    if total:
        on_progress(0, total, IndexProgress("", 0, 0.0, "embedding"))
    while True:
        if should_stop():
            return embedded, True
        batch = store.pending_chunks(_EMBED_GROUP)
        if not batch:
            break
        got, readable = _embed_group(store, embedder, batch, embed_text)
        embedded += got
        done += len(batch)
        since_flush += readable
        if since_flush >= _FLUSH_EVERY:  # a crash now rebuilds less at the next start
            store.flush()
            since_flush = 0
        total = max(total, done + store.count_pending())
        elapsed = time.monotonic() - started
        on_progress(
            done,
            total,
            IndexProgress("", 0, elapsed, "embedding", eta=estimate_left(done, total, elapsed)),
        )
    return embedded, False


def _embed_group(store, embedder, batch, embed_text: EmbedTextFn, **embed_kw) -> tuple[int, int]:
    """Embed one group of waiting chunks and store their vectors. Chunks the model cannot
    read (mostly Chinese under an English-only model, see cjk_unreadable) get a vector of
    the multilingual space instead, or none. Returns (chunks given a vector, chunks the
    model read)."""
    english_only = bool(getattr(embedder, "english_only", False))
    texts = [embed_text(c) for c in batch]
    skip = [english_only and cjk_unreadable(t) for t in texts]
    readable = [i for i, s in enumerate(skip) if not s]
    unreadable = [c.id for c, s in zip(batch, skip, strict=True) if s]
    if unreadable:
        ml = multilingual.shared()
        if ml is not None:  # the multilingual space reads them instead (rag.multilingual)
            texts_ml = [texts[i] for i, s in enumerate(skip) if s]
            store.set_ml_vectors(unreadable, ml.embed_passages(texts_ml))
        store.set_vectors(unreadable, None)
    if not readable:
        return 0, 0
    vectors = embedder.embed([texts[i] for i in readable], **embed_kw)
    return store.set_vectors([batch[i].id for i in readable], vectors), len(readable)


class _EarlyEmbedder:
    """Embeds waiting chunks on a spare core while phase one still reads files.

    Runs only where the embedder has more than one lane (``embedder.lanes``: sessions
    that run side by side, one per core), and uses all but one, leaving a core to
    reading, which is mostly one Python thread. It takes small groups, so phase two
    never waits long for the last one, and reports no progress: phase two's counts
    start from what is left. It starts only when files changed (a resumed phase two
    has nothing to overlap with), and at the lowest priority: reading comes first. The
    writer lock is the caller's, held for both phases; chunks replaced meanwhile are
    passed over by ``set_vectors``.
    """

    def __init__(self, store, embedder, embed_text: EmbedTextFn | None) -> None:
        self.embedded = 0
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        lanes = int(getattr(embedder, "lanes", 1) or 1)
        if lanes < 2:
            return
        self._args = (store, embedder, embed_text or _chunk_text, lanes - 1)
        self._thread = threading.Thread(target=self._run, name="quarry-embed-early", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        store, embedder, embed_text, workers = self._args
        _yield_to_reading()
        try:
            while not self._done.is_set():
                # A group is taken only while more than a group waits: a small folder is
                # embedded by phase two alone, which so always has progress to report.
                if store.count_pending() <= _EARLY_GROUP:
                    self._done.wait(0.2)
                    continue
                batch = store.pending_chunks(_EARLY_GROUP)
                got, _ = _embed_group(store, embedder, batch, embed_text, workers=workers)
                self.embedded += got
        except BaseException as exc:  # re-raised on the indexing thread by finish()
            self._error = exc

    def finish(self) -> int:
        """Stop after the group in hand; the chunks embedded (raises what the thread met)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self.embedded


def _yield_to_reading() -> None:
    """Give the calling thread the lowest CPU priority (Linux sets it per thread), so the
    reading threads, which decide when the folder is searchable, keep the cores they
    want and embedding while reading takes only what is idle. A one-thread onnxruntime
    session computes on the calling thread, so its work is lowered too."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere the call sets a whole process's priority
    with contextlib.suppress(OSError):  # not permitted here: embed at the usual priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _chunk_text(chunk) -> str:
    return contextual_text(chunk)


def _produce(
    entries: list[tuple[Path, str]],
    store,
    chunker,
    out: queue.Queue,
    stop: threading.Event,
    options: LoadOptions,
    ocr_progress: Callable[[str, str], None],
) -> None:
    try:
        for path, rel in entries:
            if stop.is_set():
                return
            file_options = replace(
                options,
                on_progress=lambda note, rel=rel: ocr_progress(rel, note),
                should_stop=stop.is_set,
            )
            for work in _prepare(path, rel, store, chunker, file_options):
                _put(out, work, stop)
                if stop.is_set():
                    return
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


def _prepare(path: Path, rel: str, store, chunker, options: LoadOptions) -> Iterator[_Work]:
    """Decide what a file needs, and load and chunk it if it changed.

    Yields one item per file, except for a file of more than ``_PART_CHUNKS``
    chunks, which comes in parts (see :meth:`rag.store.IndexStore.replace_file`) so
    that a book of thousands of pages is never held in memory whole.
    """
    size = mtime_ns = 0
    digest = ""
    written = 0  # chunks of this file already handed on in earlier parts

    def outcome(status: FileStatus, reason: str = "", chunks: int = 0, **kw) -> _Work:
        report = FileReport(rel, status, reason, chunks)
        return _Work(path, rel, size, mtime_ns, digest, report=report, written=written, **kw)

    try:
        size, mtime_ns = file_fingerprint(path)
    except OSError as exc:
        yield outcome(FileStatus.FAILED, os_reason(exc))
        return
    rec = store.file_record(rel)
    if rec is not None and rec.reason == OCR_OFF_REASON and options.ocr:
        rec = None  # a scan skipped while OCR was off: read it now
    if rec is not None and rec.size == size and rec.mtime_ns == mtime_ns and rec.hash:
        digest = rec.hash
        yield outcome(FileStatus.UNCHANGED, rec.reason, rec.chunks)
        return
    try:
        digest = content_hash(path)
    except OSError as exc:
        yield outcome(FileStatus.FAILED, os_reason(exc))
        return
    if rec is not None and rec.hash == digest:
        yield outcome(FileStatus.UNCHANGED, rec.reason, rec.chunks, touch_only=True)
        return
    profile = None
    part: list[Chunk] = []
    try:
        doc = load(path, replace(options, digest=digest))
        profile, pages = _profiled(rel, doc)
        for chunk in chunker.chunk(rel, profile.line(), with_page_headings(pages)):
            if len(part) == _PART_CHUNKS:
                yield _Work(
                    path, rel, size, mtime_ns, digest, chunks=part, profile=profile,
                    append=written > 0, more=True, written=written,
                )  # fmt: skip
                written += len(part)
                part = []
            part.append(chunk)
    except NoTextError as exc:
        yield outcome(FileStatus.SKIPPED, exc.reason)
        return
    except LoadError as exc:
        yield outcome(FileStatus.FAILED, exc.reason)
        return
    except MemoryError:
        yield outcome(FileStatus.FAILED, "too large to read into memory")
        return
    except Exception as exc:  # a parser bug on one odd file must not stop the folder
        yield outcome(FileStatus.FAILED, f"could not be read ({type(exc).__name__}: {exc})")
        return
    if not part and not written:
        yield outcome(FileStatus.SKIPPED, "no text to index")
        return
    yield _Work(
        path, rel, size, mtime_ns, digest, chunks=part, profile=profile,
        append=written > 0, written=written,
    )  # fmt: skip


_PROFILE_PAGES = 3


def cjk_unreadable(text: str) -> bool:
    """Whether the English-only model cannot read ``text``: it holds more CJK characters than
    Latin words. Such a chunk gets no vector of that model (it would be noise, and costs as
    much as any other); the multilingual space reads it instead. Counted in words, not
    letters, so a Chinese passage that gives names in English ("梅尔菲 (Melfi)") stays
    Chinese."""
    return in_chinese(text)


def _profiled(rel: str, doc) -> tuple[Profile, Iterator[Page]]:
    """The document's profile, read from its first pages, and all its pages again."""
    pages = iter(doc.pages)
    head = list(itertools.islice(pages, _PROFILE_PAGES))
    profile = build_profile(rel, doc.title, [p.text for p in head], doc.meta)
    return profile, itertools.chain(head, pages)


def _store_one(item: _Work, store) -> FileReport:
    """Write one file's outcome: its chunks (waiting for vectors), or its problem."""
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
    profile = item.profile.to_json() if item.profile else None
    store.replace_file(
        item.rel, item.digest, item.size, item.mtime_ns, chunks, None, profile,
        append=item.append, complete=not item.more,
    )  # fmt: skip
    return FileReport(item.rel, FileStatus.INDEXED, "", item.written + len(chunks))
