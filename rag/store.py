"""The index of one folder on disk: a SQLite catalog, a lexical index and FAISS vectors.

Layout of the index directory::

    catalog.sqlite   files, chunks (text, offsets and the vector as float32 bytes,
                     empty until the chunk is embedded), the chunks still waiting
                     for a vector, an FTS5 table over rag.lexical tokens per chunk
                     and one per document (its name, title and whole text), and the
                     index metadata
    vectors.faiss    the FAISS index (IndexIDMap2 over IndexFlatIP, chunk ids as ids)
    vectors.json     which catalog (uid, generation) vectors.faiss reflects, and its SHA-256

The SQLite catalog is the truth. Each change to a file's chunks is one
transaction that also bumps a generation counter, so a crash or SIGKILL at any
moment leaves either the old or the new chunks of that file, never a mix.
vectors.faiss is only a cache of the vectors already in SQLite: it is used when
its generation and checksum match the catalog, and otherwise rebuilt from the
stored vectors (about a second per 100k chunks). The checksum is verified before
FAISS parses the file, so a truncated, stale or tampered file is never read.
Nothing here uses pickle; a tampered index folder cannot run code.

Threads: one SQLite connection (``check_same_thread=False``) and the in-memory
FAISS index are shared behind one re-entrant lock, so the GUI may search from one
worker while another indexes. Writers hold the lock only for a file's own
transaction (embedding happens before ``replace_file``), so searches wait at most
that long. One process at a time should write to an index.

Text first: a file's chunks may be written without vectors (searchable by their
words at once) and given vectors later, in batches across files; the ``pending``
table lists the chunks still waiting, so the embedding resumes where it stopped
after a restart. A chunk whose text the model cannot read (Chinese under an
English-only model) leaves ``pending`` with no vector and is found by words alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag import lexical
from rag.types import Chunk, FileStatus

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 3: document profiles
CATALOG = "catalog.sqlite"
VECTORS = "vectors.faiss"
VECTORS_INFO = "vectors.json"
PRUNE_FROM = 5_000  # chunks; below this lexical search uses every query token
COMMON_SHARE = 0.1

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
    """The index cannot be opened or written (disk full, permissions, ...)."""


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
        self, directory: Path, conn: sqlite3.Connection, dim: int, rebuilt: bool, reason: str
    ) -> None:
        self.directory = directory
        self.dim = dim
        self.rebuilt = rebuilt  # True when an existing index was discarded on open
        self.rebuild_reason = reason  # why, in words ("" when not rebuilt)
        self._conn = conn
        self._lock = threading.RLock()
        self._faiss: faiss.Index | None = None
        self._ml: tuple | None = None  # multilingual (generation, ids, vectors, id set)
        self._saved_generation = -1
        self._closed = False
        with _transaction(conn):
            conn.execute(_PENDING)
        self._load_vectors()

    # -- opening -------------------------------------------------------------
    @classmethod
    def open(cls, directory: Path | str, meta: dict[str, Any]) -> IndexStore:
        """Open the index in ``directory``, creating it if needed.

        ``meta`` describes how the caller builds the index (embedding model id,
        ``dim``, chunker settings, ...; JSON values). An existing index built
        differently, of another schema, or unreadable is deleted and started
        afresh; ``rebuilt`` and ``rebuild_reason`` on the result say so.
        """
        directory = Path(directory)
        if "dim" not in meta or not isinstance(meta["dim"], int) or meta["dim"] < 1:
            raise ValueError(
                f"meta must give the vector dimension as a positive int 'dim', "
                f"got {meta.get('dim')!r}"
            )
        wanted = {**meta, "schema_version": SCHEMA_VERSION, "lexical_version": lexical.VERSION}
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexStoreError(f"Cannot create the index folder {directory}: {exc}") from exc
        reason = ""
        db = directory / CATALOG
        if db.exists():
            conn: sqlite3.Connection | None = None
            try:
                conn = _connect(db)
                stored = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                reason = _meta_difference(stored, wanted)
                if not reason:
                    return cls(directory, conn, meta["dim"], False, "")
                conn.close()
            except sqlite3.DatabaseError as exc:
                if conn is not None:
                    conn.close()
                reason = f"the index catalog was unreadable ({exc})"
            log.info("Rebuilding the index in %s: %s", directory, reason)
            _remove_index_files(directory)
        try:
            conn = _connect(db)
            with _transaction(conn):
                for statement in _SCHEMA.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [(k, _encode_meta(v)) for k, v in wanted.items()],
                )
        except sqlite3.Error as exc:
            raise IndexStoreError(f"Cannot create the index in {directory}: {exc}") from exc
        return cls(directory, conn, meta["dim"], bool(reason), reason)

    # -- files ---------------------------------------------------------------
    def file_record(self, rel: str) -> FileRecord | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT path, hash, size, mtime_ns, status, reason, chunks FROM files "
                "WHERE path = ?",
                (rel,),
            ).fetchone()
        return _record(row) if row else None

    def all_files(self) -> list[FileRecord]:
        with self._lock:
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
    ) -> list[int]:
        """Make ``chunks`` (with their ``vectors``) the only chunks of file ``rel``.

        One transaction: after a crash the file has either all its old chunks or
        all its new ones. Returns the new chunk ids. With ``vectors=None`` the
        chunks are searchable by their words at once and wait in ``pending`` for
        :meth:`set_vectors`. ``profile`` (a :class:`rag.profiles.Profile` as JSON) is
        kept with the file; ``ml_vectors`` are multilingual vectors of some chunks, by
        their position in ``chunks`` (see :mod:`rag.multilingual`).
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
        with self._lock:
            with self._write():
                old = self._delete_chunks_of(rel)
                file_id = self._upsert_file(
                    rel, hash, size, mtime_ns, FileStatus.INDEXED, "", len(chunks)
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
                            chunk.text,
                            chunk.title,
                            chunk.heading,
                            b"" if waiting else vec.tobytes(),
                        ),
                    )
                    ids.append(cur.lastrowid)
                    if waiting:
                        self._conn.execute("INSERT INTO pending VALUES (?)", (cur.lastrowid,))
                    self._conn.execute(
                        "INSERT INTO lex (rowid, tokens) VALUES (?, ?)",
                        (cur.lastrowid, lexical.index_text(chunk.title, chunk.heading, chunk.text)),
                    )
                self._conn.execute(
                    "INSERT INTO docs (rowid, tokens) VALUES (?, ?)",
                    (file_id, lexical.index_text(_file_words(rel), *_document_text(chunks))),
                )
                for i, vec in (ml_vectors or {}).items():
                    self._conn.execute(
                        "INSERT INTO ml_vectors VALUES (?, ?)",
                        (ids[i], np.asarray(vec, dtype=np.float32).tobytes()),
                    )
                self._conn.execute("DELETE FROM profiles WHERE file_id = ?", (file_id,))
                if profile is not None:
                    self._conn.execute(
                        "INSERT INTO profiles VALUES (?, ?)", (file_id, _encode_meta(profile))
                    )
            if waiting:
                ids_added, vectors_added = np.zeros(0, np.int64), vectors[:0]
            else:
                ids_added, vectors_added = np.asarray(ids, dtype=np.int64), vectors[: len(ids)]
            self._faiss_update(old, ids_added, vectors_added)
        return ids

    def pending_chunks(self, limit: int) -> list[StoredChunk]:
        """Up to ``limit`` chunks still waiting for a vector, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id, f.path, c.page, c.start, c.end, c.text, c.title, c.heading "
                "FROM pending p JOIN chunks c ON c.id = p.chunk_id "
                "JOIN files f ON f.id = c.file_id ORDER BY p.chunk_id LIMIT ?",
                (limit,),
            ).fetchall()
        return [StoredChunk(*r) for r in rows]

    def count_pending(self) -> int:
        """Chunks searchable by their words that have no vector yet."""
        with self._lock:
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
            with self._write():
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
                self._faiss_update(
                    np.zeros(0, np.int64),
                    np.asarray([int(ids[i]) for i in done], dtype=np.int64),
                    vectors[done],
                )
        return len(done)

    def record_problem(
        self, rel: str, hash: str, size: int, mtime_ns: int, status: FileStatus | str, reason: str
    ) -> None:
        """Remember that ``rel`` could not be indexed (and drop any chunks it had), so an
        unchanged bad file is reported again without being read again."""
        status = FileStatus(status)
        with self._lock:
            with self._write():
                old = self._delete_chunks_of(rel)
                self._upsert_file(rel, hash, size, mtime_ns, status, reason, 0)
            self._faiss_update(old, np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32))

    def touch_file(self, rel: str, size: int, mtime_ns: int) -> None:
        """Record a new size/mtime for a file whose content hash did not change, so the
        next run skips it without hashing. Vectors are untouched: no generation bump."""
        with self._lock:
            if self._closed:
                raise IndexStoreError("the index is closed")
            with _transaction(self._conn):
                self._conn.execute(
                    "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, rel)
                )

    def remove_file(self, rel: str) -> bool:
        """Forget ``rel`` and its chunks; False when it was not in the index."""
        with self._lock:
            with self._write():
                old = self._delete_chunks_of(rel)
                gone = self._conn.execute("DELETE FROM files WHERE path = ?", (rel,)).rowcount
            self._faiss_update(old, np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32))
        return bool(gone)

    def profiles(self) -> dict[str, dict]:
        """Each indexed file's profile (JSON, see :mod:`rag.profiles`), by path."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT f.path, p.profile FROM profiles p JOIN files f ON f.id = p.file_id"
            ).fetchall()
        return {path: json.loads(text) for path, text in rows}

    def _multilingual(self) -> tuple[int, np.ndarray, np.ndarray, frozenset[int]]:
        with self._lock:
            generation = self.generation
            if self._ml is None or self._ml[0] != generation:
                rows = self._conn.execute("SELECT chunk_id, vector FROM ml_vectors").fetchall()
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
                matrix = vecs.reshape(len(rows), -1) if len(rows) else vecs
                self._ml = (generation, ids, matrix, frozenset(ids.tolist()))
            return self._ml

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
        return self._multilingual()[3]

    def multilingual_search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` chunks nearest ``vector`` in the multilingual space (only the chunks
        that have a multilingual vector), as (chunk id, cosine), best first."""
        _, ids, matrix, _ = self._multilingual()
        if not len(ids) or k < 1:
            return []
        scores = matrix @ np.asarray(vector, dtype=np.float32)
        top = np.argsort(-scores)[:k]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def has_multilingual(self) -> bool:
        with self._lock:
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

    # -- search --------------------------------------------------------------
    def dense_search(
        self, vector: np.ndarray, k: int, within: Iterable[int] | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` chunks nearest ``vector`` as (chunk id, cosine similarity), best first;
        only among the chunk ids ``within`` when given."""
        import faiss

        q = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise ValueError(f"query vector has {q.shape[1]} dimensions, the index {self.dim}")
        with self._lock:
            index = self._faiss
            if index is None or index.ntotal == 0 or k < 1:
                return []
            # One query is faster on one thread: OpenMP's hand-offs cost more than they
            # save, and far more when the cores are busy (indexing, the LLM): measured
            # 14 ms against 72 ms at 100k chunks. Affects only this calling thread.
            faiss.omp_set_num_threads(1)
            if within is not None:
                allowed = np.fromiter(within, dtype=np.int64)
                if not len(allowed):
                    return []
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
                scores, ids = index.search(q, min(k, len(allowed)), params=params)
            else:
                scores, ids = index.search(q, min(k, index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

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
        with self._lock:
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
        with self._lock:
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
        with self._lock:
            for i in range(0, len(values), 500):
                part = values[i : i + 500]
                rows += self._conn.execute(sql + f"({','.join('?' * len(part))})", part)
        return rows

    def outline(self, limit: int = 200) -> list[tuple[str, str, str]]:
        """Distinct (file, title, heading) triples in file order, at most ``limit``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT f.path, c.title, c.heading FROM chunks c "
                "JOIN files f ON f.id = c.file_id ORDER BY f.path, c.id LIMIT ?",
                (int(limit),),
            ).fetchall()
        return [(str(a), str(b or ""), str(c or "")) for a, b, c in rows]

    def count_chunks(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def count_vectors(self) -> int:
        """Chunks that have a vector (the rest wait in ``pending`` or are found by words)."""
        with self._lock:
            return int(
                self._conn.execute(
                    "SELECT count(*) FROM chunks WHERE length(vector) > 0"
                ).fetchone()[0]
            )

    @property
    def generation(self) -> int:
        """Bumped by every change; tells a saved vectors file which catalog it reflects."""
        with self._lock:
            return int(self._conn.execute("SELECT generation FROM state").fetchone()[0])

    def _uid(self) -> str:
        """Random per catalog, so vectors saved for a deleted catalog never match a new one."""
        return str(self._conn.execute("SELECT uid FROM state").fetchone()[0])

    # -- saving --------------------------------------------------------------
    def flush(self) -> None:
        """Save the vectors to vectors.faiss atomically if they changed since the last save.

        Call at the end of an indexing run (and now and then during a long one, so a
        restart after a crash rebuilds less); correctness never depends on it.
        """
        import faiss

        with self._lock:
            generation = self.generation
            if self._faiss is None or generation == self._saved_generation:
                return
            data = faiss.serialize_index(self._faiss).tobytes()
            info = {
                "uid": self._uid(),
                "generation": generation,
                "ntotal": int(self._faiss.ntotal),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            _atomic_write(self.directory / VECTORS, data)
            _atomic_write(self.directory / VECTORS_INFO, json.dumps(info).encode())
            self._saved_generation = generation

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
                self._faiss = None

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------
    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        if self._closed:
            raise IndexStoreError("the index is closed")
        try:
            with _transaction(self._conn):
                yield
                self._conn.execute("UPDATE state SET generation = generation + 1")
        except sqlite3.Error as exc:
            raise IndexStoreError(f"Could not write the index in {self.directory}: {exc}") from exc

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
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET hash = excluded.hash, "
                "size = excluded.size, mtime_ns = excluded.mtime_ns, status = excluded.status, "
                "reason = excluded.reason, chunks = excluded.chunks RETURNING id",
                (rel, hash, size, mtime_ns, status.value, reason, n_chunks),
            ).fetchone()[0]
        )

    def _faiss_update(self, remove: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Mirror a committed change in memory; on any failure, rebuild from the catalog."""
        try:
            if len(remove):
                self._faiss.remove_ids(remove)
            if len(ids):
                self._faiss.add_with_ids(vectors, ids)
        except Exception:  # the catalog is committed; the vectors can always be rebuilt
            log.exception("Updating the in-memory vectors failed; rebuilding them")
            self._faiss = self._vectors_from_catalog()

    def _load_vectors(self) -> None:
        """Use vectors.faiss if it provably reflects the catalog, else rebuild it."""
        generation = self.generation
        count = self.count_vectors()
        index = self._read_saved_vectors(generation, count)
        if index is not None:
            self._faiss = index
            self._saved_generation = generation
            return
        self._faiss = self._vectors_from_catalog()
        self._saved_generation = -1  # the next flush writes a fresh file

    def _read_saved_vectors(self, generation: int, count: int) -> faiss.Index | None:
        import faiss

        try:
            info = json.loads((self.directory / VECTORS_INFO).read_text(encoding="utf-8"))
            if (
                info.get("uid") != self._uid()
                or info.get("generation") != generation
                or info.get("ntotal") != count
            ):
                return None
            data = (self.directory / VECTORS).read_bytes()
            if hashlib.sha256(data).hexdigest() != info.get("sha256"):
                log.warning(
                    "vectors.faiss in %s does not match its checksum; rebuilding", self.directory
                )
                return None
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
            if index.d != self.dim or index.ntotal != count:
                return None
            return index
        except (OSError, ValueError, TypeError, AttributeError, RuntimeError):
            return None

    def _vectors_from_catalog(self) -> faiss.Index:
        import faiss

        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        with self._lock:
            cur = self._conn.execute(
                "SELECT id, vector FROM chunks WHERE length(vector) > 0 ORDER BY id"
            )
            while batch := cur.fetchmany(20_000):
                ids = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
                vecs = np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32)
                index.add_with_ids(vecs.reshape(len(batch), self.dim), ids)
        return index


# -- helpers -------------------------------------------------------------------
def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: atomic, durable at checkpoints
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _meta_difference(stored: dict[str, str], wanted: dict[str, Any]) -> str:
    """Why an index built with ``stored`` settings cannot serve ``wanted`` ("" if it can)."""
    changes = []
    for key in sorted(set(stored) | set(wanted)):
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


def _record(row: tuple) -> FileRecord:
    return FileRecord(row[0], row[1], row[2], row[3], FileStatus(row[4]), row[5], row[6])


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _remove_index_files(directory: Path) -> None:
    for name in (
        CATALOG,
        CATALOG + "-wal",
        CATALOG + "-shm",
        VECTORS,
        VECTORS_INFO,
        VECTORS + ".tmp",
        VECTORS_INFO + ".tmp",
    ):
        p = directory / name
        if p.is_dir():
            shutil.rmtree(p)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
