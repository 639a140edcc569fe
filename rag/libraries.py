"""Named libraries: the folders a person asks about, each with its own index.

The registry is one small JSON file in the data folder, written atomically. A
library is a name and a folder, plus what its last indexing found (files,
passages, when), so the window can list them all with their state without
opening a single index. Removing a library deletes its index and its saved
conversations; the documents themselves are never touched.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rag import paths

log = logging.getLogger(__name__)

SCHEMA = 1


class LibraryError(ValueError):
    """A library cannot be added, found or removed; the message says why in words."""


@dataclass(frozen=True)
class Library:
    name: str
    folder: str  # absolute path
    added: float = 0.0  # seconds since the epoch
    last_indexed: float = 0.0  # 0 = never
    files: int = 0  # files ready to ask about after the last indexing
    passages: int = 0
    problems: int = 0  # files skipped or failed

    @property
    def path(self) -> Path:
        return Path(self.folder)

    @property
    def index_dir(self) -> Path:
        return paths.index_dir_for(self.path)

    def state(self) -> str:
        """'12 files · 1,204 passages · indexed 3 May 14:02' (or why it cannot be used)."""
        if not self.path.is_dir():
            return "folder missing"
        if not self.last_indexed:
            return "not indexed yet"
        when = time.strftime("%d %b %H:%M", time.localtime(self.last_indexed))
        files = f"{self.files} file{'s' if self.files != 1 else ''}"
        return f"{files} · {self.passages:,} passages · indexed {when}"


class Libraries:
    """The registry of libraries, kept in ``<data>/libraries.json``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / "libraries.json"
        self._lock = threading.Lock()
        self._items: list[Library] = self._read()

    # -- reading -------------------------------------------------------------------
    def _read(self) -> list[Library]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("Ignoring unreadable library list %s: %s", self.path, exc)
            return []
        known = {f.name for f in dataclasses.fields(Library)}
        out = []
        for item in data.get("libraries", []) if isinstance(data, dict) else []:
            try:
                out.append(Library(**{k: v for k, v in item.items() if k in known}))
            except TypeError:
                continue
        return out

    def all(self) -> list[Library]:
        with self._lock:
            return list(self._items)

    def names(self) -> list[str]:
        return [lib.name for lib in self.all()]

    def get(self, name: str) -> Library:
        for lib in self.all():
            if lib.name == name:
                return lib
        known = ", ".join(self.names()) or "none yet"
        raise LibraryError(f"There is no library named {name!r} (libraries: {known}).")

    def find_folder(self, folder: Path) -> Library | None:
        folder = Path(folder).expanduser().resolve()
        for lib in self.all():
            if Path(lib.folder) == folder:
                return lib
        return None

    # -- changing ------------------------------------------------------------------
    def _write(self) -> None:
        """Temp file then rename, so a crash keeps the previous list."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {"schema": SCHEMA, "libraries": [dataclasses.asdict(x) for x in self._items]}
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def add(self, folder: Path, name: str | None = None) -> Library:
        """Add ``folder`` (named after it unless ``name`` is given); an existing library of
        the same folder is returned as it is."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise LibraryError(f"{folder} is not a folder that exists.")
        folder = folder.resolve()
        existing = self.find_folder(folder)
        if existing is not None:
            return existing
        with self._lock:
            taken = {x.name for x in self._items}
            base = (name or folder.name or str(folder)).strip() or "Library"
            unique, n = base, 2
            while unique in taken:
                unique, n = f"{base} ({n})", n + 1
            lib = Library(unique, str(folder), added=time.time())
            self._items.append(lib)
            self._write()
        return lib

    def rename(self, name: str, new_name: str) -> Library:
        new_name = new_name.strip()
        if not new_name:
            raise LibraryError("A library needs a name.")
        with self._lock:
            if new_name != name and any(x.name == new_name for x in self._items):
                raise LibraryError(f"There is already a library named {new_name!r}.")
            for i, lib in enumerate(self._items):
                if lib.name == name:
                    self._items[i] = dataclasses.replace(lib, name=new_name)
                    self._write()
                    return self._items[i]
        raise LibraryError(f"There is no library named {name!r}.")

    def record_index(self, name: str, files: int, passages: int, problems: int) -> Library:
        """Remember what an indexing run left: the list shows it without opening the index."""
        with self._lock:
            for i, lib in enumerate(self._items):
                if lib.name == name:
                    self._items[i] = dataclasses.replace(
                        lib,
                        last_indexed=time.time(),
                        files=files,
                        passages=passages,
                        problems=problems,
                    )
                    self._write()
                    return self._items[i]
        raise LibraryError(f"There is no library named {name!r}.")

    def remove(self, name: str) -> Library:
        """Forget the library and delete its index; its folder and files stay as they are."""
        lib = self.get(name)
        index = lib.index_dir
        root = (paths.data_dir() / "indexes").resolve()
        if index.exists() and index.resolve().parent == root:  # never anything else
            shutil.rmtree(index, ignore_errors=True)
        with self._lock:
            self._items = [x for x in self._items if x.name != name]
            self._write()
        return lib
