"""The vector index registry: which implementations exist and how to open one.

Each implementation is one module exposing ``NAME`` and ``open_index(directory,
dim, uid, space)`` (see :mod:`rag.vectors.base`). The index settings choose one
by name; the store records the name in the index metadata. Each opened index holds
one vector *space* (the main embedding model's, or the multilingual model's for the
passages it cannot read): an implementation keeps each space apart, as a file or
a collection of its own. Modules are imported only when used, so ``import rag``
never pulls in FAISS.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from rag.vectors.base import MAIN, MULTILINGUAL

if TYPE_CHECKING:
    from rag.vectors.base import VectorIndex

DEFAULT = "faiss"
_MODULES = {"faiss": "rag.vectors.faiss_index"}


def names() -> tuple[str, ...]:
    """The names the index settings accept."""
    return tuple(_MODULES)


def open_index(name: str, directory: Path, dim: int, uid: str, space: str = MAIN) -> VectorIndex:
    """Open implementation ``name`` for vector ``space`` of the index in ``directory``
    (see VectorBackend)."""
    try:
        module = _MODULES[name]
    except KeyError:
        raise ValueError(
            f"unknown vector index {name!r}; choose one of {', '.join(names())}"
        ) from None
    return importlib.import_module(module).open_index(directory, dim, uid, space)


__all__ = ["DEFAULT", "MAIN", "MULTILINGUAL", "names", "open_index"]
