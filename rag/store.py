"""The index of one folder on disk: a SQLite catalog with full-text search, and vectors.

Layout of the index directory::

    catalog.sqlite   files, chunks (text, offsets and the vector as float32 bytes,
                     empty until the chunk is embedded), the chunks still waiting
                     for a vector, an FTS5 table over rag.lexical tokens per chunk
                     and one per document (its name, title and whole text), and the
                     index metadata
    vectors.*        the vector index's own saved copy (see rag.vectors), a cache
    writer.lock      held by the one process that updates the index

The SQLite catalog is the truth. Each change to a file's chunks is one
transaction that also bumps a generation counter, so a crash or SIGKILL at any
moment leaves either the old or the new chunks of that file, never a mix.

The vector index (FAISS by default, chosen by name and recorded in the
metadata) is only a view of the vectors already in SQLite. It is kept in step
by chunk id, which SQLite never reuses: on open, and whenever the catalog's
generation is not the one the vectors were last brought to (another process
wrote), the ids held are compared with the catalog's and the difference is
removed or added. So a saved copy that is stale, from another process or from
a killed run is repaired, not trusted, and a long-lived reader sees another
process's changes at its next search. The copy is saved labelled with the
generation it reflects and never over a newer one.

Processes: one writer per index (``writing()`` takes ``writer.lock``; a second
writer waits); readers take no lock, and SQLite's WAL mode never blocks them.
Threads: one SQLite connection (``check_same_thread=False``) and the in-memory
vectors are shared behind one re-entrant lock, so the GUI may search from one
worker while another indexes; writers hold it only for a file's own
transaction.

Text first: a file's chunks may be written without vectors (searchable by their
words at once) and given vectors later, in batches across files; the ``pending``
table lists the chunks still waiting, so the embedding resumes where it stopped
after a restart. A chunk whose text the model cannot read (Chinese under an
English-only model) leaves ``pending`` with no vector and is found by words alone;
the vector index holds only chunks that have a vector.

Such a chunk may have a vector of the multilingual model instead (the
``ml_vectors`` table, see :mod:`rag.multilingual`); those are searched through a
second vector index of the same kind, for the multilingual space, kept in step
with that table by id in the same way.

Damage: ``PRAGMA quick_check`` runs on open; a damaged catalog (on open or at
any later query) raises :class:`IndexDamagedError`, and the caller reopens
with ``rebuild=True``. An index that cannot be opened for any other reason (a
read-only or full disk, no permission) is never deleted: a read-only folder is
opened read-only, anything else raises :class:`IndexStoreError` with one
sentence for a person. Nothing here uses pickle; a tampered index folder cannot
run code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from rag import errors, lexical, vectors
from rag.locking import FileLock
from rag.types import Chunk, FileStatus
from rag.vectors.base import VectorIndex

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 3: document profiles
CATALOG = "catalog.sqlite"
WRITER_LOCK = "writer.lock"
PRUNE_FROM = 5_000  # chunks; below this lexical search uses every query token
COMMON_SHARE = 0.1
_VECTOR_KEY = "vector_index"  # in meta; changing it rebuilds only the vectors

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL,
                    uid TEXT NOT NULL);
INSERT INTO state VALUES (1, 0, lower(hex(randomblob(16))));
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    chunks INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    page INTEGER,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    heading TEXT NOT NULL DEFAULT '',
    vector BLOB NOT NULL
);
CREATE INDEX chunks_by_file ON chunks(file_id);
CREATE VIRTUAL TABLE lex USING fts5(
    tokens, tokenize = "unicode61 remove_diacritics 2 tokenchars '.'");
CREATE VIRTUAL TABLE lex_terms USING fts5vocab(lex, 'row');
CREATE VIRTUAL TABLE docs USING fts5(
    tokens, tokenize = "unicode61 remove_diacritics 2 tokenchars '.'");
CREATE TABLE ml_vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TABLE profiles (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    profile TEXT NOT NULL
);
"""
# Added beside schema 2 without a rebuild: an index made before it simply has no
# chunk waiting for a vector.
_PENDING = "CREATE TABLE IF NOT EXISTS pending (chunk_id INTEGER PRIMARY KEY)"


class IndexStoreError(RuntimeError):
    """The index cannot be opened or written; the message is one sentence for a person."""


class IndexDamagedError(IndexStoreError):
    """The catalog's bytes are damaged; reopen with ``rebuild=True`` to start afresh."""


class IndexReadOnlyError(IndexStoreError):
    """The index can be searched but not updated (a read-only folder or disk)."""


@dataclass(frozen=True)
class FileRecord:
    """What the index remembers about one file of the folder."""

    path: str
    hash: str
    size: int
    mtime_ns: int
    status: FileStatus
    reason: str = ""
    chunks: int = 0


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored, with its id (and its vector when asked for)."""

    id: int
    file: str
    page: int | None
    start: int
    end: int
    text: str
    title: str
    heading: str
    vector: np.ndarray | None = None


def _encode_meta(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class IndexStore:
    """One folder's index. Create with :meth:`open`; call :meth:`close` when done."""

    def __init__(
        self,
        directory: Path,
        conn: sqlite3.Connection,
        dim: int,
        reason: str,
        vector_index: str,
        read_only: bool,
    ) -> None:
        self.directory = directory
        self.dim = dim
        self.rebuild_reason = reason  # why an existing index was discarded on open ("" if not)
        self.read_only = read_only  # opened from a folder that cannot be written
        self._conn = conn
        self._lock = threading.RLock()
        self._closed = False
        # The multilingual space: its index (opened once it has vectors), the catalog state
        # it reflects, and its ids (see _multilingual).
        self._ml: VectorIndex | None = None
        self._ml_synced: tuple[str, int] = ("", -1)
        self._ml_ids: frozenset[int] = frozenset()
        self._writer = FileLock(directory / WRITER_LOCK)
        with self._guard("open"):
            if (
                not read_only
                and not conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'pending'"
                ).fetchone()
            ):
                with _transaction(conn):
                    conn.execute(_PENDING)
            uid = self._uid()
            self._vectors: VectorIndex = vectors.open_index(vector_index, directory, dim, uid)
            self._synced: tuple[str, int] = (uid, self._vectors.generation)
            self._sync_vectors()

    # -- opening -------------------------------------------------------------
    @classmethod
    def open(
        cls,
        directory: Path | str,
        meta: dict[str, Any],
        *,
        vector_index: str = vectors.DEFAULT,
        rebuild: bool = False,
    ) -> IndexStore:
        """Open the index in ``directory``, creating it if needed.

        ``meta`` describes how the caller builds the index (embedding model id,
        ``dim``, chunker settings, ...; JSON values). An existing index built
        differently or of another schema is emptied and started afresh; so is a
        damaged one, and any index when ``rebuild`` is set. ``rebuild_reason`` on
        the result says why. ``vector_index`` names the vector index
        implementation (rag.vectors); changing it rebuilds only the vectors.
        A folder that cannot be written is opened read-only (``read_only``);
        any other failure raises :class:`IndexStoreError` and leaves the files be.
        """
        directory = Path(directory)
        if "dim" not in meta or not isinstance(meta["dim"], int) or meta["dim"] < 1:
            raise ValueError(
                f"meta must give the vector dimension as a positive int 'dim', "
                f"got {meta.get('dim')!r}"
            )
        if vector_index not in vectors.names():
            raise ValueError(
                f"unknown vector index {vector_index!r}; choose one of {', '.join(vectors.names())}"
            )
        wanted = {**meta, "schema_version": SCHEMA_VERSION, "lexical_version": lexical.VERSION}
        db = directory / CATALOG
        reason = "a rebuild was asked for" if rebuild else ""
        if not rebuild and db.exists():
            found, reason = cls._existing(directory, meta, wanted, vector_index, locked=False)
            if found is not None:
                return found
        if reason:
            log.info("Rebuilding the index in %s: %s", directory, reason)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with _held(directory):
                if not rebuild and db.exists():
                    # Another process may have made (or rebuilt) it while this one waited.
                    found, why = cls._existing(directory, meta, wanted, vector_index, locked=True)
                    if found is not None:
                        return found
                    reason = why or reason
                _remove_index_files(directory)
                conn = _connect(db)
                try:
                    _reset(conn, wanted, vector_index)
                except BaseException:
                    conn.close()
                    with contextlib.suppress(OSError):  # half made: leave nothing behind
                        _remove_index_files(directory)
                    raise
        except (sqlite3.Error, OSError) as exc:
            if isinstance(exc, OSError) and not db.exists():
                raise IndexStoreError(
                    f"Cannot create the index folder {directory}: {errors.reason(exc)}; "
                    f"{errors.advice(exc) or 'choose another data folder'}."
                ) from exc
            raise _store_error(exc, directory, "create") from exc
        return cls(directory, conn, meta["dim"], reason, vector_index, False)

    @classmethod
    def _existing(
        cls,
        directory: Path,
        meta: dict[str, Any],
        wanted: dict[str, Any],
        vector_index: str,
        locked: bool,
    ) -> tuple[IndexStore | None, str]:
        """Open the catalog that exists in ``directory``: (the store, "") when it serves
        ``wanted`` (emptied in place when it was built differently), or (None, why)
        when it is damaged or unfinished and has to be made afresh."""
        db = directory / CATALOG
        conn: sqlite3.Connection | None = None
        try:
            conn, read_only = _open_existing(db)
            _check_integrity(conn)
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                conn.close()  # created, but the run that created it failed before its commit
                return None, "the index was left unfinished"
            stored = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            reason = _meta_difference(stored, wanted)
            if not reason:
                if stored.get(_VECTOR_KEY) != _encode_meta(vector_index) and not read_only:
                    with _transaction(conn):
                        conn.execute(
                            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            (_VECTOR_KEY, _encode_meta(vector_index)),
                        )
                return cls(directory, conn, meta["dim"], "", vector_index, read_only), ""
            if read_only:
                conn.close()
                raise IndexReadOnlyError(
                    f"The index in {directory} was built with other settings ({reason}) "
                    f"and its folder is read-only, so it cannot be rebuilt; use the "
                    f"settings it was built with or a writable data folder."
                )
            log.info("Rebuilding the index in %s: %s", directory, reason)
            with contextlib.nullcontext() if locked else _held(directory):
                _reset(conn, wanted, vector_index)
            return cls(directory, conn, meta["dim"], reason, vector_index, False), ""
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            if not errors.is_damage(exc):
                raise _store_error(exc, directory, "open") from exc
            return None, f"the index catalog was damaged ({exc})"

    # -- one writer ----------------------------------------------------------
    @contextlib.contextmanager
    def writing(
        self,
        on_wait: Callable[[], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[bool]:
        """Hold the index's writer lock for the block: one process updates an index at a
        time, others wait (``on_wait`` is called once if this one has to). Yields False
        when ``should_stop`` gave up waiting. Raises :class:`IndexReadOnlyError` when the
        index folder cannot be written."""
        if self.read_only:
            raise IndexReadOnlyError(_read_only_sentence(self.directory))
        try:
            got = self._writer.acquire(on_wait, should_stop)
        except OSError as exc:
            if errors.is_read_only(exc):
                self.read_only = True
                raise IndexReadOnlyError(_read_only_sentence(self.directory)) from exc
            raise _store_error(exc, self.directory, "write") from exc
        try:
            if got:  # another process may have written while this one waited
                with self._lock, self._guard("read"):
                    self._ensure_synced()
            yield got
        finally:
            if got:
                self._writer.release()

    # -- files ---------------------------------------------------------------
    def file_record(self, rel: str) -> FileRecord | None:
        with self._lock, self._guard("read"):
            row = self._conn.execute(
                "SELECT path, hash, size, mtime_ns, status, reason, chunks FROM files "
                "WHERE path = ?",
                (rel,),
            ).fetchone()
        return _record(row) if row else None

    def all_files(self) -> list[FileRecord]:
        with self._lock, self._guard("read"):
            rows = self._conn.execute(
                "SELECT path, hash, size, mtime_ns, status, reason, chunks FROM files ORDER BY path"
            ).fetchall()
        return [_record(r) for r in rows]

    def replace_file(
        self,
        rel: str,
        hash: str,
        size: int,
        mtime_ns: int,
        chunks: list[Chunk],
        vectors: np.ndarray | None,
        profile: dict | None = None,
        ml_vectors: dict[int, np.ndarray] | None = None,
        *,
        append: bool = False,
        complete: bool = True,
    ) -> list[int]:
        """Make ``chunks`` (with their ``vectors``) the only chunks of file ``rel``.

        One transaction: after a crash the file has either all its old chunks or
        all its new ones. Returns the new chunk ids. With ``vectors=None`` the
        chunks are searchable by their words at once and wait in ``pending`` for
        :meth:`set_vectors`. ``profile`` (a :class:`rag.profiles.Profile` as JSON) is
        kept with the file; ``ml_vectors`` are multilingual vectors of some chunks, by
        their position in ``chunks`` (see :mod:`rag.multilingual`).

        A file too large to hold in memory is written in parts, each its own
        transaction: the first with ``complete=False``, the next ones with
        ``append=True`` (added to the chunks already there; profile and document
        words stay those of the first part), the last with ``complete=True``. Until
        the last part the file is recorded without its content hash, so an
        interrupted file is read again from its start by the next run.
        """
        waiting = vectors is None
        if waiting:
            vectors = np.zeros((len(chunks), self.dim), dtype=np.float32)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(chunks) and vectors.shape != (len(chunks), self.dim):
            raise ValueError(
                f"expected vectors of shape ({len(chunks)}, {self.dim}) for "
                f"{len(chunks)} chunks of {rel}, got {vectors.shape}"
            )
        recorded_hash = hash if complete else ""
        with self._lock:
            with self._write() as before:
                if append:
                    old = np.zeros(0, np.int64)
                    file_id = self._append_to_file(rel, recorded_hash, len(chunks))
                else:
                    old = self._delete_chunks_of(rel)
                    file_id = self._upsert_file(
                        rel, recorded_hash, size, mtime_ns, FileStatus.INDEXED, "", len(chunks)
                    )
                ids = []
                for chunk, vec in zip(chunks, vectors, strict=False):
                    cur = self._conn.execute(
                        "INSERT INTO chunks (file_id, page, start, end, text, title, heading, "
                        "vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            file_id,
                            chunk.page,
                            chunk.start,
                            chunk.end,
                            _valid(chunk.text),
                            _valid(chunk.title),
                            _valid(chunk.heading),
                            b"" if waiting else vec.tobytes(),
                        ),
                    )
                    ids.append(cur.lastrowid)
                    if waiting:
                        self._conn.execute("INSERT INTO pending VALUES (?)", (cur.lastrowid,))
                    self._conn.execute(
                        "INSERT INTO lex (rowid, tokens) VALUES (?, ?)",
                        (
                            cur.lastrowid,
                            _valid(lexical.index_text(chunk.title, chunk.heading, chunk.text)),
                        ),
                    )
                if not append:
                    self._conn.execute(
                        "INSERT INTO docs (rowid, tokens) VALUES (?, ?)",
                        (
                            file_id,
                            _valid(lexical.index_text(_file_words(rel), *_document_text(chunks))),
                        ),
                    )
                for i, vec in (ml_vectors or {}).items():
                    self._conn.execute(
                        "INSERT INTO ml_vectors VALUES (?, ?)",
                        (ids[i], np.asarray(vec, dtype=np.float32).tobytes()),
                    )
                if not append:
                    self._conn.execute("DELETE FROM profiles WHERE file_id = ?", (file_id,))
                if profile is not None and not append:
                    self._conn.execute(
                        "INSERT INTO profiles VALUES (?, ?)",
                        (file_id, _encode_meta(_valid_values(profile))),
                    )
            if waiting:
                self._vectors_follow(before, old)
            else:
                self._vectors_follow(
                    before, old, np.asarray(ids, dtype=np.int64), vectors[: len(ids)]
                )
        return ids

    def pending_chunks(self, limit: int) -> list[StoredChunk]:
        """Up to ``limit`` chunks still waiting for a vector, oldest first."""
        with self._lock, self._guard("read"):
            rows = self._conn.execute(
                "SELECT c.id, f.path, c.page, c.start, c.end, c.text, c.title, c.heading "
                "FROM pending p JOIN chunks c ON c.id = p.chunk_id "
                "JOIN files f ON f.id = c.file_id ORDER BY p.chunk_id LIMIT ?",
                (limit,),
            ).fetchall()
        return [StoredChunk(*r) for r in rows]

    def count_pending(self) -> int:
        """Chunks searchable by their words that have no vector yet."""
        with self._lock, self._guard("read"):
            return int(self._conn.execute("SELECT count(*) FROM pending").fetchone()[0])

    def set_vectors(self, ids: list[int], vectors: np.ndarray | None) -> int:
        """Give waiting chunks their vectors (``None``: leave them without one, found by
        words alone), in one transaction. Chunks replaced or removed meanwhile are
        passed over. Returns how many chunks were still waiting."""
        if vectors is not None:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            if vectors.shape != (len(ids), self.dim):
                raise ValueError(
                    f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}"
                )
        done: list[int] = []
        with self._lock:
            with self._write() as before:
                for i, cid in enumerate(ids):
                    cid = int(cid)
                    if not self._conn.execute(
                        "DELETE FROM pending WHERE chunk_id = ?", (cid,)
                    ).rowcount:
                        continue
                    if vectors is not None:
                        self._conn.execute(
                            "UPDATE chunks SET vector = ? WHERE id = ?", (vectors[i].tobytes(), cid)
                        )
                    done.append(i)
            if vectors is not None and done:
                self._vectors_follow(
                    before,
                    np.zeros(0, np.int64),
                    np.asarray([int(ids[i]) for i in done], dtype=np.int64),
                    vectors[done],
                )
            else:
                self._vectors_follow(before, np.zeros(0, np.int64))
        return len(done)

    def record_problem(
        self, rel: str, hash: str, size: int, mtime_ns: int, status: FileStatus | str, reason: str
    ) -> None:
        """Remember that ``rel`` could not be indexed (and drop any chunks it had), so an
        unchanged bad file is reported again without being read again."""
        status = FileStatus(status)
        with self._lock:
            with self._write() as before:
                old = self._delete_chunks_of(rel)
                self._upsert_file(rel, hash, size, mtime_ns, status, reason, 0)
            self._vectors_follow(before, old)

    def touch_file(self, rel: str, size: int, mtime_ns: int) -> None:
        """Record a new size/mtime for a file whose content hash did not change, so the
        next run skips it without hashing. Vectors are untouched: no generation bump."""
        with self._lock, self._write(bump=False):
            self._conn.execute(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, rel)
            )

    def remove_file(self, rel: str) -> bool:
        """Forget ``rel`` and its chunks; False when it was not in the index."""
        with self._lock:
            with self._write() as before:
                old = self._delete_chunks_of(rel)
                gone = self._conn.execute("DELETE FROM files WHERE path = ?", (rel,)).rowcount
            self._vectors_follow(before, old)
        return bool(gone)

    def profiles(self) -> dict[str, dict]:
        """Each indexed file's profile (JSON, see :mod:`rag.profiles`), by path."""
        with self._lock, self._guard("read"):
            rows = self._conn.execute(
                "SELECT f.path, p.profile FROM profiles p JOIN files f ON f.id = p.file_id"
            ).fetchall()
        return {path: json.loads(text) for path, text in rows}

    def _multilingual(self) -> tuple[VectorIndex | None, frozenset[int]]:
        """The multilingual space's vector index and ids, brought in step with the
        ``ml_vectors`` table by id when the catalog moved; no index while it is empty."""
        with self._lock, self._guard("read"):
            state = tuple(self._conn.execute("SELECT uid, generation FROM state").fetchone())
            if state == self._ml_synced:
                return self._ml, self._ml_ids
            self._conn.execute("BEGIN")
            try:
                want = self._ids("SELECT chunk_id FROM ml_vectors ORDER BY chunk_id")
                if self._ml is None and len(want):
                    (blob,) = self._conn.execute("SELECT vector FROM ml_vectors LIMIT 1").fetchone()
                    self._ml = vectors.open_index(
                        self._vectors.name,
                        self.directory,
                        len(blob) // 4,
                        state[0],
                        vectors.MULTILINGUAL,
                    )
                if self._ml is not None and self._ml_synced[0] not in ("", state[0]):
                    self._ml.clear()  # another catalog: its ids mean other chunks
                if self._ml is not None:
                    self._mirror(
                        self._ml, want, "SELECT chunk_id, vector FROM ml_vectors WHERE chunk_id IN "
                    )
            finally:
                self._conn.execute("COMMIT")
            self._ml_synced, self._ml_ids = state, frozenset(want.tolist())
            return self._ml, self._ml_ids

    def set_ml_vectors(self, ids: list[int], vectors: np.ndarray) -> None:
        """Give chunks their multilingual vectors (see :mod:`rag.multilingual`)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock, self._write():
            self._conn.executemany(
                "INSERT OR REPLACE INTO ml_vectors SELECT id, ? FROM chunks WHERE id = ?",
                [(v.tobytes(), int(cid)) for cid, v in zip(ids, vectors, strict=True)],
            )

    def multilingual_ids(self) -> frozenset[int]:
        """The chunks that have a multilingual vector."""
        return self._multilingual()[1]

    def multilingual_search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` chunks nearest ``vector`` in the multilingual space (only the chunks
        that have a multilingual vector), as (chunk id, cosine), best first."""
        with self._lock:
            index, _ = self._multilingual()
            return index.search(vector, k) if index is not None else []

    def has_multilingual(self) -> bool:
        with self._lock, self._guard("read"):
            return self._conn.execute("SELECT 1 FROM ml_vectors LIMIT 1").fetchone() is not None

    def chunk_ids_of(self, paths: Iterable[str]) -> list[int]:
        """The ids of every chunk of these files."""
        return [
            int(r[0])
            for r in self._select_in(
                "SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path IN ",
                list(paths),
            )
        ]

    def chunk_ids_headed(self, paths: Iterable[str], prefixes: Iterable[str]) -> list[int]:
        """The ids of the chunks of these files whose heading starts with one of ``prefixes``
        (the statement tags of :mod:`rag.statements`)."""
        prefixes = list(prefixes)
        if not prefixes:
            return []
        like = " OR ".join("substr(c.heading, 1, ?) = ?" for _ in prefixes)
        args = [x for p in prefixes for x in (len(p), p)]
        paths = list(paths)
        out: list[int] = []
        with self._lock, self._guard("read"):
            for i in range(0, len(paths), 200):
                part = paths[i : i + 200]
                out += (
                    int(r[0])
                    for r in self._conn.execute(
                        "SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id "
                        f"WHERE f.path IN ({','.join('?' * len(part))}) AND ({like})",
                        [*part, *args],
                    )
                )
        return out

    # -- search --------------------------------------------------------------
    @property
    def vectors(self) -> VectorIndex:
        """The vector index (kept in step with the catalog by this store)."""
        return self._vectors

    def dense_search(
        self, vector: np.ndarray, k: int, within: Iterable[int] | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` chunks nearest ``vector`` as (chunk id, cosine similarity), best first;
        only among the chunk ids ``within`` when given."""
        q = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"query vector has {q.shape[0]} dimensions, the index {self.dim}")
        with self._lock, self._guard("read"):
            if self._closed:
                raise IndexStoreError("The index is closed.")
            self._ensure_synced()
            if within is not None:
                allowed = np.fromiter(within, dtype=np.int64)
                return self._vectors.search(q, k, allowed) if len(allowed) else []
            return self._vectors.search(q, k)

    def document_search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` files whose whole text best matches ``query`` (BM25), as (path, score).

        Questions name the company, product or period a document is about ("Apple's
        net sales") while the passage that answers them rarely repeats it; ranking
        whole documents tells the retriever which files the question is about.
        """
        tokens = lexical.query_tokens(query)
        if not tokens or k < 1:
            return []
        expr = " OR ".join(f'"{t}"' for t in dict.fromkeys(tokens))
        with self._lock, self._guard("read"):
            rows = self._conn.execute(
                "SELECT f.path, bm25(docs) FROM docs JOIN files f ON f.id = docs.rowid "
                "WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?",
                (expr, k),
            ).fetchall()
        return [(path, -float(score)) for path, score in rows]

    def lexical_search(
        self, query: str, k: int, within: Iterable[str] | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` best BM25 matches for ``query`` as (chunk id, score), best first.

        The score is SQLite's bm25() negated, so higher is better; it only ranks
        within one query. Questions are tokenized by :func:`rag.lexical.query_tokens`
        and any token may match (OR). In a large index, tokens found in more than
        ``COMMON_SHARE`` of the chunks are left out when rarer ones exist: they add
        little to BM25 but most of its cost (14 ms of a search at 100k chunks).
        With ``within`` (file paths), only those files' chunks are searched.
        """
        tokens = self._selective(lexical.query_tokens(query))
        if not tokens or k < 1:
            return []
        expr = " OR ".join(f'"{t}"' for t in tokens)
        sql, args = "SELECT rowid, rank FROM lex WHERE lex MATCH ?", [expr]
        if within is not None:
            paths = list(within)
            if not paths:
                return []
            sql += (
                " AND rowid IN (SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id "
                f"WHERE f.path IN ({','.join('?' * len(paths))}))"
            )
            args += paths
        with self._lock, self._guard("read"):
            rows = self._conn.execute(sql + " ORDER BY rank LIMIT ?", (*args, k)).fetchall()
        return [(int(r), -float(s)) for r, s in rows]

    def _selective(self, tokens: list[str]) -> list[str]:
        n = self.count_chunks()
        if n < PRUNE_FROM or len(tokens) < 2:
            return tokens
        df = self.term_document_counts(tokens)
        known = [t for t in tokens if df[t] > 0]
        rare = [t for t in known if df[t] <= COMMON_SHARE * n]
        return rare or sorted(known, key=df.__getitem__)[:1]

    def term_document_counts(self, tokens: Iterable[str]) -> dict[str, int]:
        """How many chunks contain each lexical token (0 for unknown tokens)."""
        tokens = list(dict.fromkeys(tokens))
        rows = self._select_in("SELECT term, doc FROM lex_terms WHERE term IN ", tokens)
        counts = dict.fromkeys(tokens, 0)
        counts.update({t: int(n) for t, n in rows})
        return counts

    def chunks(self, ids: Iterable[int], with_vectors: bool = False) -> list[StoredChunk]:
        """The stored chunks with these ids, in the order given; unknown ids are left out."""
        ids = [int(i) for i in ids]
        vec_col = "c.vector" if with_vectors else "NULL"
        rows = self._select_in(
            f"SELECT c.id, f.path, c.page, c.start, c.end, c.text, c.title, c.heading, "
            f"{vec_col} FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id IN ",
            ids,
        )
        by_id = {
            r[0]: StoredChunk(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                np.frombuffer(r[8], dtype=np.float32) if r[8] else None,
            )
            for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def lexical_tokens(self, ids: Iterable[int]) -> dict[int, str]:
        """The indexed token text of each chunk (space-separated), by id."""
        rows = self._select_in(
            "SELECT rowid, tokens FROM lex WHERE rowid IN ", [int(i) for i in ids]
        )
        return {int(r): t for r, t in rows}

    def _select_in(self, sql: str, values: list[Any]) -> list[tuple]:
        """Run ``sql + (?, ?, ...)`` in batches that stay under SQLite's variable limit."""
        rows: list[tuple] = []
        with self._lock, self._guard("read"):
            for i in range(0, len(values), 500):
                part = values[i : i + 500]
                rows += self._conn.execute(sql + f"({','.join('?' * len(part))})", part)
        return rows

    def outline(self, limit: int = 200) -> list[tuple[str, str, str]]:
        """Distinct (file, title, heading) triples in file order, at most ``limit``."""
        with self._lock, self._guard("read"):
            rows = self._conn.execute(
                "SELECT DISTINCT f.path, c.title, c.heading FROM chunks c "
                "JOIN files f ON f.id = c.file_id ORDER BY f.path, c.id LIMIT ?",
                (int(limit),),
            ).fetchall()
        return [(str(a), str(b or ""), str(c or "")) for a, b, c in rows]

    def count_chunks(self) -> int:
        with self._lock, self._guard("read"):
            return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def count_vectors(self) -> int:
        """Chunks that have a vector (the rest wait in ``pending`` or are found by words)."""
        with self._lock, self._guard("read"):
            return int(
                self._conn.execute(
                    "SELECT count(*) FROM chunks WHERE length(vector) > 0"
                ).fetchone()[0]
            )

    @property
    def generation(self) -> int:
        """Bumped by every change; tells a saved vector copy which catalog state it reflects."""
        with self._lock, self._guard("read"):
            return int(self._conn.execute("SELECT generation FROM state").fetchone()[0])

    def _uid(self) -> str:
        """Random per catalog, so vectors saved for a deleted catalog never match a new one."""
        return str(self._conn.execute("SELECT uid FROM state").fetchone()[0])

    # -- saving --------------------------------------------------------------
    def flush(self) -> None:
        """Save the vector index, labelled with the generation it reflects, unless a copy
        at least as new is saved already.

        Call at the end of an indexing run (and now and then during a long one, so a
        restart rebuilds less); correctness never depends on it, so a failure to save
        (a full disk) is logged, not raised, and leaves no temporary file.
        """
        with self._lock:
            if self._closed or self.read_only:
                return
            try:
                with self._guard("read"):
                    self._ensure_synced()
                uid, generation = self._synced
                self._vectors.save(uid, generation)
                if self._ml is not None and self._ml_synced[1] >= 0:
                    self._ml.save(*self._ml_synced)
            except (OSError, IndexStoreError) as exc:
                log.warning(
                    "Could not save the vectors of %s (%s); they will be rebuilt from the "
                    "catalog when it is next opened",
                    self.directory,
                    errors.reason(exc.__cause__ or exc),
                )

    def close(self) -> None:
        """Save the vectors if needed and close the catalog; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            try:
                self.flush()
            finally:
                self._closed = True
                self._conn.close()
                self._vectors.close()
                if self._ml is not None:
                    self._ml.close()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn SQLite's and the OS's errors into IndexStoreError (IndexDamagedError for
        damage) with one sentence for a person."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _store_error(exc, self.directory, doing) from exc
        except OSError as exc:
            raise _store_error(exc, self.directory, doing) from exc

    @contextlib.contextmanager
    def _write(self, bump: bool = True) -> Iterator[tuple[str, int]]:
        """One write transaction; yields the catalog's (uid, generation) before it (the
        generation is bumped on commit)."""
        if self._closed:
            raise IndexStoreError("The index is closed.")
        if self.read_only:
            raise IndexReadOnlyError(_read_only_sentence(self.directory))
        with self._guard("write"), _transaction(self._conn):
            uid, generation = self._conn.execute("SELECT uid, generation FROM state").fetchone()
            yield uid, int(generation)
            if bump:
                self._conn.execute("UPDATE state SET generation = generation + 1")

    def _vectors_follow(
        self,
        before: tuple[str, int],
        remove: np.ndarray,
        ids: np.ndarray | None = None,
        vecs: np.ndarray | None = None,
    ) -> None:
        """Mirror this process's committed change in the vectors. When the vectors were
        in step with the catalog just before it, they are in step after it; otherwise
        (another process wrote meanwhile) the next search brings them in step by id."""
        in_step = self._synced == before
        try:
            self._vectors.remove(remove)
            if ids is not None and len(ids):
                self._vectors.add(ids, vecs)
        except Exception:  # the catalog is committed; the vectors can always be rebuilt
            log.exception("Updating the in-memory vectors failed; rebuilding them")
            self._vectors.clear()
            in_step = False
        uid, generation = before
        self._synced = (uid, generation + 1) if in_step else (uid, -1)

    def _ensure_synced(self) -> None:
        """Bring the vectors in step with the catalog if it moved since they last were."""
        uid, generation = self._conn.execute("SELECT uid, generation FROM state").fetchone()
        if (uid, generation) != self._synced:
            self._sync_vectors()

    def _sync_vectors(self) -> None:
        """Compare the ids the vector index holds with the catalog's, and remove the extra
        and add the missing ones, all read in one snapshot of the catalog."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                uid, generation = self._conn.execute("SELECT uid, generation FROM state").fetchone()
                if uid != self._synced[0]:
                    self._vectors.clear()
                want = self._ids("SELECT id FROM chunks WHERE length(vector) > 0 ORDER BY id")
                repaired = self._mirror(
                    self._vectors, want, "SELECT id, vector FROM chunks WHERE id IN "
                )
                if repaired and self._synced == (uid, generation):
                    log.warning(
                        "The saved vectors of %s disagreed with the catalog at the same "
                        "generation; repaired them",
                        self.directory,
                    )
            finally:
                self._conn.execute("COMMIT")
            self._synced = (uid, int(generation))

    def _ids(self, sql: str) -> np.ndarray:
        """The ids one column of ``sql`` gives, as int64."""
        return np.fromiter((r[0] for r in self._conn.execute(sql)), dtype=np.int64)

    def _mirror(self, index: VectorIndex, want: np.ndarray, rows_sql: str) -> bool:
        """Make ``index`` hold exactly the ids ``want`` (sorted): remove the extra ones and
        add the missing ones with their vectors, read by ``rows_sql`` + an id list (id,
        vector). True when anything had to change."""
        have = np.sort(index.ids())
        extra = np.setdiff1d(have, want, assume_unique=True)
        missing = np.setdiff1d(want, have, assume_unique=True)
        index.remove(extra)
        for i in range(0, len(missing), 20_000):
            rows = self._select_in(rows_sql, missing[i : i + 20_000].tolist())
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            index.add(ids, vecs.reshape(len(rows), index.dim))
        return bool(len(extra) or len(missing))

    def _delete_chunks_of(self, rel: str) -> np.ndarray:
        self._conn.execute(
            "DELETE FROM docs WHERE rowid = (SELECT id FROM files WHERE path = ?)", (rel,)
        )
        self._conn.execute(
            "DELETE FROM profiles WHERE file_id = (SELECT id FROM files WHERE path = ?)", (rel,)
        )
        old = np.asarray(
            [
                r[0]
                for r in self._conn.execute(
                    "SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ?",
                    (rel,),
                )
            ],
            dtype=np.int64,
        )
        if len(old):
            self._conn.execute(
                "DELETE FROM lex WHERE rowid IN (SELECT c.id FROM chunks c JOIN files f "
                "ON f.id = c.file_id WHERE f.path = ?)",
                (rel,),
            )
            self._conn.execute(
                "DELETE FROM pending WHERE chunk_id IN (SELECT c.id FROM chunks c JOIN files f "
                "ON f.id = c.file_id WHERE f.path = ?)",
                (rel,),
            )
            self._conn.execute(
                "DELETE FROM chunks WHERE file_id = (SELECT id FROM files WHERE path = ?)", (rel,)
            )
        return old

    def _append_to_file(self, rel: str, hash: str, n_chunks: int) -> int:
        """The id of ``rel``, whose first part is written, counting ``n_chunks`` more."""
        row = self._conn.execute(
            "UPDATE files SET hash = ?, chunks = chunks + ? WHERE path = ? AND status = ? "
            "RETURNING id",
            (hash, n_chunks, rel, FileStatus.INDEXED.value),
        ).fetchone()
        if row is None:
            raise ValueError(f"{rel} has no first part to append to")
        return int(row[0])

    def _upsert_file(
        self,
        rel: str,
        hash: str,
        size: int,
        mtime_ns: int,
        status: FileStatus,
        reason: str,
        n_chunks: int,
    ) -> int:
        return int(
            self._conn.execute(
                "INSERT INTO files (path, hash, size, mtime_ns, status, reason, chunks) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "hash = excluded.hash, size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "status = excluded.status, reason = excluded.reason, chunks = excluded.chunks "
                "RETURNING id",
                (rel, hash, size, mtime_ns, status.value, reason, n_chunks),
            ).fetchone()[0]
        )


# -- helpers -------------------------------------------------------------------
def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: atomic, durable at checkpoints
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _open_existing(db: Path) -> tuple[sqlite3.Connection, bool]:
    """Open an existing catalog for writing, or read-only when its folder cannot be
    written (a read-only mount, no permission). Returns (connection, read_only)."""
    try:
        conn = _connect(db)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn, False
    except sqlite3.OperationalError as exc:
        if not errors.is_read_only(exc):
            raise
        first = exc
    # A WAL catalog needs its -shm file; on a read-only folder it cannot be made, and a
    # catalog closed cleanly has none, so "immutable" (nothing changes it) is the way in.
    for params in ("mode=ro", "mode=ro&immutable=1"):
        conn = sqlite3.connect(
            f"file:{quote(str(db))}?{params}",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=30,
        )
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn, True
        except sqlite3.OperationalError:
            conn.close()
    raise first


def _check_integrity(conn: sqlite3.Connection) -> None:
    """``PRAGMA quick_check``: finds damaged pages (the catalog's b-trees, not the text in
    them) in about the time it takes to read the file once."""
    rows = conn.execute("PRAGMA quick_check").fetchall()
    if rows != [("ok",)]:
        exc = sqlite3.DatabaseError(
            "database disk image is malformed: " + "; ".join(str(r[0]) for r in rows[:3])
        )
        exc.sqlite_errorcode = errors.SQLITE_CORRUPT  # type: ignore[attr-defined]
        raise exc


def _reset(conn: sqlite3.Connection, wanted: dict[str, Any], vector_index: str) -> None:
    """Make ``conn`` an empty catalog of the current schema (a new uid), in one transaction:
    a reader sees the old index or the new one, never a half-made one."""
    with _transaction(conn):
        tables = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        # Virtual (FTS) tables first: dropping one drops its shadow tables too.
        tables.sort(key=lambda t: not (t[1] or "").upper().startswith("CREATE VIRTUAL"))
        for name, _ in tables:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        for statement in _SCHEMA.split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(_PENDING)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [(k, _encode_meta(v)) for k, v in {**wanted, _VECTOR_KEY: vector_index}.items()],
        )


@contextlib.contextmanager
def _held(directory: Path) -> Iterator[None]:
    """The writer lock for the length of a rebuild, waited for if another process writes."""
    lock = FileLock(directory / WRITER_LOCK)
    lock.acquire(on_wait=lambda: log.info("Waiting for another process writing %s", directory))
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # a failed COMMIT may have rolled back already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _store_error(exc: BaseException, directory: Path, doing: str) -> IndexStoreError:
    """One sentence for a person: what failed, why, and what to do."""
    if errors.is_damage(exc):
        return IndexDamagedError(
            f"The index in {directory} is damaged ({exc}); it has to be rebuilt."
        )
    verb = {"open": "open", "create": "create", "read": "read"}.get(doing, "write")
    what = f"Could not {verb} the index in {directory}: {errors.reason(exc)}"
    advice = errors.advice(exc)
    if errors.is_read_only(exc) and doing != "open":
        return IndexReadOnlyError(f"{what}; {advice}." if advice else f"{what}.")
    return IndexStoreError(f"{what}; {advice}." if advice else f"{what}.")


def _read_only_sentence(directory: Path) -> str:
    return (
        f"The index in {directory} is read-only: searching it as saved, without "
        f"checking the folder for changes."
    )


def _meta_difference(stored: dict[str, str], wanted: dict[str, Any]) -> str:
    """Why an index built with ``stored`` settings cannot serve ``wanted`` ("" if it can)."""
    changes = []
    for key in sorted((set(stored) | set(wanted)) - {_VECTOR_KEY}):
        new = _encode_meta(wanted[key]) if key in wanted else None
        if stored.get(key) != new:
            changes.append(f"{key} was {stored.get(key, 'unset')}, now {new or 'unset'}")
    return "; ".join(changes)


def _file_words(rel: str) -> str:
    """A file's name as words ("2023 Q2 NVDA.pdf" -> "2023 Q2 NVDA"): people name files
    after what they are about."""
    name = rel.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return " ".join(rel.split("/")[:-1] + [stem]).replace("_", " ").replace("-", " ")


def _document_text(chunks: list[Chunk]) -> list[str]:
    """The document's title once and each chunk's text, without the overlaps counted twice
    mattering much to BM25 over a whole document."""
    return [chunks[0].title if chunks else "", *(c.text for c in chunks)]


def _valid(text: str) -> str:
    """``text`` as valid UTF-8 for SQLite: a title taken from a file name that is not
    UTF-8 holds lone surrogates; their bytes are written as ``\\xNN``."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decoding made
        return text.encode("utf-8", "replace").decode("utf-8")


def _valid_values(value: Any) -> Any:
    """``value`` (JSON-like) with every string made valid by :func:`_valid`."""
    if isinstance(value, str):
        return _valid(value)
    if isinstance(value, dict):
        return {_valid(str(k)): _valid_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_values(v) for v in value]
    return value


def _record(row: tuple) -> FileRecord:
    return FileRecord(row[0], row[1], row[2], row[3], FileStatus(row[4]), row[5], row[6])


def _remove_index_files(directory: Path) -> None:
    """Delete a damaged index's files (only ever called for damage or a rebuild)."""
    for p in directory.iterdir():
        if p.name == WRITER_LOCK:
            continue
        if p.name.startswith((CATALOG, "vectors.")):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
