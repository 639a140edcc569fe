"""How an operating-system or SQLite error is said to a person: one home for the wording.

Scanning, indexing, the index store and the command line all meet the same few
errors (no permission, a full disk, a read-only folder, a missing folder); each
is worded once here so a file's reason in the report and a one-line message at
the command line say the same thing.

The wording of operating-system errors (:func:`os_reason`) lives in
:mod:`models.errors`, because the model layer reads files too (a model that
cannot be read) and must not import ``rag``; it is re-exported here, the module
the rest of the core asks.
"""

from __future__ import annotations

import errno
import sqlite3

from models.errors import os_reason

__all__ = [
    "os_reason",
    "reason",
    "advice",
    "is_damage",
    "is_read_only",
    "is_disk_full",
    "sqlite_code",
]


# SQLite primary result codes (the low byte of sqlite_errorcode).
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 10, 11, 13, 14, 26

_SQLITE_REASONS = {
    SQLITE_FULL: "the disk is full",
    SQLITE_READONLY: "the index folder is read-only",
    SQLITE_CANTOPEN: "its files cannot be opened (a missing or read-only folder?)",
    SQLITE_PERM: "permission denied",
    SQLITE_BUSY: "another program holds it locked",
    SQLITE_LOCKED: "another program holds it locked",
    SQLITE_IOERR: "a disk read or write failed",
    SQLITE_CORRUPT: "its catalog is damaged",
    SQLITE_NOTADB: "its catalog is damaged",
}


def sqlite_code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code for ``exc`` (None when the driver did not say)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_damage(exc: BaseException) -> bool:
    """True when ``exc`` says the catalog's bytes are damaged (not merely unwritable)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = sqlite_code(exc)
    if code is not None:
        return code in (SQLITE_CORRUPT, SQLITE_NOTADB)
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def is_read_only(exc: BaseException) -> bool:
    """True when ``exc`` says the index cannot be written but may still be read."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    if isinstance(exc, sqlite3.Error):
        return sqlite_code(exc) in (SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM)
    return False


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return sqlite_code(exc) == SQLITE_FULL
    return False


def reason(exc: BaseException) -> str:
    """A short phrase for any error met while reading or writing files or the catalog."""
    if isinstance(exc, OSError):
        return os_reason(exc)
    if isinstance(exc, sqlite3.Error):
        return _SQLITE_REASONS.get(sqlite_code(exc)) or str(exc)
    return str(exc) or type(exc).__name__


def advice(exc: BaseException) -> str:
    """What a person can do about ``exc``, as the end of a sentence ("" when nothing)."""
    if is_disk_full(exc):
        return "free some disk space and try again"
    if is_read_only(exc):
        return "check that the data folder exists and that you may write to it"
    return ""
