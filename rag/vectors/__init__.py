"""The vector index registry: which implementations exist and how to open one.

Each implementation is one module exposing ``NAME`` and ``open_index(directory,
dim, uid)`` (see :mod:`rag.vectors.base`). The index settings choose one by
name; the store records the name in the index metadata. Modules are imported
only when used, so ``import rag`` never pulls in FAISS.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.vectors.base import VectorIndex

DEFAULT = "faiss"
_MODULES = {"faiss": "rag.vectors.faiss_index"}


def names() -> tuple[str, ...]:
    """The names the index settings accept."""
    return tuple(_MODULES)


def open_index(name: str, directory: Path, dim: int, uid: str) -> VectorIndex:
    """Open implementation ``name`` for the index in ``directory`` (see VectorBackend)."""
    try:
        module = _MODULES[name]
    except KeyError:
        raise ValueError(
            f"unknown vector index {name!r}; choose one of {', '.join(names())}"
        ) from None
    return importlib.import_module(module).open_index(directory, dim, uid)


__all__ = ["DEFAULT", "names", "open_index"]
