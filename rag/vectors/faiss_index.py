"""FAISS in this process: exact inner-product search (IndexIDMap2 over IndexFlatIP).

Saved as one file per vector space, ``vectors.faiss`` for the main one
(``vectors.multilingual.faiss`` for the multilingual one): a magic line, a JSON header (the catalog
``uid`` and ``generation`` the vectors reflect, their count, dimension and the
SHA-256 of the FAISS bytes) and the bytes of ``faiss.serialize_index``. One
file replaced atomically means a header can never describe another save's
vectors; the checksum is verified before FAISS parses anything, so a truncated
or tampered file is never read (and nothing is unpickled).

Saving takes a short lock (``vectors.lock``, one per space) around "is the copy on disk
newer?" and the rename, so two processes saving at once cannot put an older
copy over a newer one. Readers take no lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
from pathlib import Path

import numpy as np

from rag.locking import FileLock
from rag.vectors.base import MAIN

log = logging.getLogger(__name__)

NAME = "faiss"
FILE = "vectors.faiss"  # of the main space
LOCK = "vectors.lock"
_MAGIC = b"QUARRY-VECTORS 1\n"


def files(space: str = MAIN) -> tuple[str, str]:
    """The names of the saved file and of the save lock of vector ``space``."""
    if space == MAIN:
        return FILE, LOCK
    return f"vectors.{space}.faiss", f"vectors.{space}.lock"


class FaissIndex:
    """One vector space of an index in memory; see the module docstring for the file."""

    name = NAME

    def __init__(
        self, directory: Path, dim: int, index=None, generation: int = -1, space: str = MAIN
    ) -> None:
        import faiss

        self.directory = Path(directory)
        self.dim = dim
        self.space = space
        self.generation = generation
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
            self.index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))

    def clear(self) -> None:
        self.index.reset()

    def search(
        self, vector: np.ndarray, k: int, within: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        import faiss

        q = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise ValueError(f"query vector has {q.shape[1]} dimensions, the index {self.dim}")
        n = self.index.ntotal
        if n == 0 or k < 1:
            return []
        # One query is faster on one thread: OpenMP's hand-offs cost more than they
        # save, and far more when the cores are busy (indexing, the LLM): measured
        # 14 ms against 72 ms at 100k chunks. Affects only this calling thread.
        faiss.omp_set_num_threads(1)
        if within is not None:
            allowed = np.ascontiguousarray(within, dtype=np.int64)
            if not len(allowed):
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
            scores, ids = self.index.search(q, min(k, len(allowed), n), params=params)
        else:
            scores, ids = self.index.search(q, min(k, n))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, uid: str, generation: int) -> bool:
        import faiss

        file, lock_file = files(self.space)
        lock = FileLock(self.directory / lock_file)
        if not lock.try_acquire():
            return False  # another process is saving a copy right now; it is not older
        try:
            saved = read_header(self.directory / file)
            if saved and saved.get("uid") == uid and saved.get("generation", -1) >= generation:
                return False
            data = faiss.serialize_index(self.index).tobytes()
            header = json.dumps(
                {
                    "uid": uid,
                    "generation": generation,
                    "ntotal": int(self.index.ntotal),
                    "dim": self.dim,
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            ).encode()
            _atomic_write(
                self.directory / file, [_MAGIC, struct.pack("<I", len(header)), header, data]
            )
            self.generation = generation
            with contextlib.suppress(OSError):  # the two-file layout of earlier versions
                (self.directory / "vectors.json").unlink(missing_ok=True)
            return True
        finally:
            lock.release()

    def close(self) -> None:
        self.index = None


def open_index(directory: Path, dim: int, uid: str, space: str = MAIN) -> FaissIndex:
    """The saved vectors of ``space`` of catalog ``uid`` when the file is whole, else an
    empty index."""
    import faiss

    path = Path(directory) / files(space)[0]
    try:
        with open(path, "rb") as f:
            header = _header(f)
            data = f.read()
    except FileNotFoundError:
        header = None
    except OSError as exc:
        log.warning("Cannot read %s (%s); rebuilding the vectors from the catalog", path, exc)
        header = None
    if header is None:
        return FaissIndex(directory, dim, space=space)
    if header.get("uid") != uid or header.get("dim") != dim:
        return FaissIndex(directory, dim, space=space)
    if hashlib.sha256(data).hexdigest() != header.get("sha256"):
        log.warning("%s does not match its checksum; rebuilding it from the catalog", path)
        return FaissIndex(directory, dim, space=space)
    try:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError:
        return FaissIndex(directory, dim, space=space)
    if index.d != dim or index.ntotal != header.get("ntotal") or not hasattr(index, "id_map"):
        return FaissIndex(directory, dim, space=space)
    return FaissIndex(directory, dim, index, int(header["generation"]), space)


def read_header(path: Path) -> dict | None:
    """The JSON header of a saved vectors file (None when absent or not ours)."""
    try:
        with open(path, "rb") as f:
            return _header(f)
    except OSError:
        return None


def _header(f) -> dict | None:
    if f.read(len(_MAGIC)) != _MAGIC:
        return None
    try:
        (size,) = struct.unpack("<I", f.read(4))
        if size > 1 << 20:
            return None
        header = json.loads(f.read(size))
    except (struct.error, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _atomic_write(path: Path, parts: list[bytes]) -> None:
    """Write a temporary file beside ``path`` and rename it over; on any failure the
    temporary file is removed and ``path`` is left as it was."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
