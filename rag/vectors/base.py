"""What the index store needs from a vector index, whatever keeps the vectors.

SQLite's catalog holds every chunk's vector and is the truth; a vector index is
a fast, rebuildable view of those vectors for nearest-neighbour search. The
store keeps it in step with the catalog by chunk id (ids are never reused, so
"which ids are missing, which are extra" says everything), which lets an
implementation live in this process (FAISS) or on a server shared by a team,
without the retriever knowing which.

An implementation saves itself labelled with the catalog it reflects (the
catalog's random ``uid`` and the ``generation`` its vectors were built from),
so a copy saved by one process is never mistaken for another catalog's, and
a stale copy never replaces a newer one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

# The vector spaces an index keeps: the main embedding model's, and the multilingual
# model's for passages the main one cannot read (rag.multilingual).
MAIN = "main"
MULTILINGUAL = "multilingual"


@runtime_checkable
class VectorIndex(Protocol):
    """Nearest-neighbour search over (chunk id, unit vector) pairs, inner product."""

    name: str  # the registry name, recorded in the index metadata
    space: str  # which vector space of the index it holds (MAIN, MULTILINGUAL)
    dim: int
    generation: int  # the catalog generation these vectors reflect; -1 when unknown

    def __len__(self) -> int: ...

    def ids(self) -> np.ndarray:
        """Every id held, as int64 (any order)."""
        ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (float32, shape (n, dim)) under ``ids`` (int64, new ids only)."""
        ...

    def remove(self, ids: np.ndarray) -> None:
        """Forget ``ids``; ids not held are ignored."""
        ...

    def search(
        self, vector: np.ndarray, k: int, within: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest ids to ``vector`` (shape (dim,)) as (id, inner product), best
        first; only among the ids ``within`` (int64) when given."""
        ...

    def clear(self) -> None:
        """Forget every vector (before a rebuild from the catalog)."""
        ...

    def save(self, uid: str, generation: int) -> bool:
        """Persist, labelled with the catalog ``uid`` and ``generation`` the vectors reflect.

        Returns False, writing nothing, when a copy at least as new is already saved.
        Temporary files are removed when saving fails.
        """
        ...

    def close(self) -> None: ...


class VectorBackend(Protocol):
    """A module in the registry provides ``open_index`` with this signature."""

    def __call__(self, directory: Path, dim: int, uid: str, space: str = MAIN) -> VectorIndex:
        """Load the copy of vector ``space`` saved in ``directory`` for catalog ``uid`` (its
        ``generation`` tells which catalog state it reflects), or an empty index
        (``generation`` -1). Each space is saved apart from the others."""
        ...
