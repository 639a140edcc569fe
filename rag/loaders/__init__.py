"""Turn a document file into a title and a stream of pages of plain text.

A registry of loaders, one module per format in this package. Each module
declares ``SUFFIXES`` and ``load(path, options) -> LoadedDocument`` (the
:class:`~rag.loaders._common.Loader` protocol); this package finds them, so a
new format is one new module. Everything else in Quarry (the folder scan, the
support check's file-name pattern, the test fakes, the installer) asks
:func:`supported_suffixes` instead of keeping its own list.

Every failure is a :class:`LoadError` whose ``reason`` a person understands
("password-protected", "empty file"). ``load`` raises what it can tell from
the start of the file; iterating ``pages`` may raise too, so callers treat the
whole iteration as the load.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path
from types import ModuleType

from rag.errors import os_reason
from rag.loaders._common import (
    DEFAULT_OPTIONS,
    OCR_OFF_REASON,
    LoadedDocument,
    Loader,
    LoadError,
    LoadOptions,
    NoTextError,
    check_size,
)

__all__ = [
    "OCR_OFF_REASON",
    "LoadError",
    "LoadOptions",
    "LoadedDocument",
    "Loader",
    "NoTextError",
    "hidden_imports",
    "load",
    "loader_for",
    "loaders",
    "supported_suffixes",
]


@cache
def loaders() -> tuple[ModuleType, ...]:
    """Every loader module of this package, in name order (helpers start with "_")."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not isinstance(getattr(module, "SUFFIXES", None), frozenset) or not callable(
            getattr(module, "load", None)
        ):
            raise TypeError(f"{module.__name__} is not a loader: it needs SUFFIXES and load()")
        found.append(module)
    return tuple(found)


@cache
def _by_suffix() -> dict[str, ModuleType]:
    table: dict[str, ModuleType] = {}
    for module in loaders():
        for suffix in module.SUFFIXES:
            if suffix in table:
                raise TypeError(f"{suffix} is claimed by {table[suffix].__name__} and {module}")
            table[suffix] = module
    return table


def supported_suffixes() -> frozenset[str]:
    """The lower-case file suffixes (".pdf", ...) that some loader reads."""
    return frozenset(_by_suffix())


def loader_for(path: Path | str) -> ModuleType | None:
    return _by_suffix().get(Path(path).suffix.lower())


def hidden_imports() -> list[str]:
    """The libraries loaders import lazily (``REQUIRES``), for the installer to bundle."""
    return sorted({name for module in loaders() for name in getattr(module, "REQUIRES", ())})


def load(path: Path, options: LoadOptions = DEFAULT_OPTIONS) -> LoadedDocument:
    """Open any supported document; raises LoadError with a reason for the user."""
    path = Path(path)
    loader = loader_for(path)
    if loader is None:
        suffix = path.suffix.lower()
        raise LoadError(
            f"unsupported file type ('{suffix}')" if suffix else "unsupported file type"
        )
    try:
        check_size(path)
        return loader.load(path, options)
    except FileNotFoundError as err:
        raise LoadError("the file no longer exists") from err
    except IsADirectoryError as err:
        raise LoadError("is a folder, not a file") from err
    except OSError as err:  # permission denied, a disk read error, ...
        raise LoadError(f"cannot be read: {os_reason(err)}") from err
