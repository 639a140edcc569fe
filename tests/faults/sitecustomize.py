"""Disk faults for child processes of tests/test_index_processes.py, where the real
thing (a full or read-only mount) cannot be made: mounting needs privileges.

Put this folder first on PYTHONPATH and set QUARRY_TEST_FAULT; Python imports
this module at start-up. Below QUARRY_DATA_DIR it makes files behave as on a full
disk (``disk-full``) or a read-only mount (``read-only``): SQLite gets the
errors it reports in those cases (SQLITE_FULL through ``max_page_count``, which
SQLite itself enforces; SQLITE_READONLY), and Python's file writes get ENOSPC
or EROFS from the OS calls that would fail.
"""

from __future__ import annotations

import builtins
import errno
import os
import sqlite3

_FAULT = os.environ.get("QUARRY_TEST_FAULT", "")
_ROOT = os.path.realpath(os.environ.get("QUARRY_DATA_DIR", "/nonexistent"))


def _inside(path) -> bool:
    try:
        text = os.fsdecode(path)
    except TypeError:
        return False
    if text.startswith("file:"):
        text = text[5:].split("?", 1)[0]
    return os.path.realpath(text).startswith(_ROOT)


def _install() -> None:
    real_connect = sqlite3.connect
    real_open = builtins.open
    real_os_open = os.open
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    code = errno.ENOSPC if _FAULT == "disk-full" else errno.EROFS

    def connect(database, *args, **kwargs):
        if not _inside(database):
            return real_connect(database, *args, **kwargs)
        if _FAULT == "read-only" and "mode=ro" not in os.fsdecode(database):
            err = sqlite3.OperationalError("attempt to write a readonly database")
            err.sqlite_errorcode = 8  # SQLITE_READONLY
            raise err
        conn = real_connect(database, *args, **kwargs)
        if _FAULT == "disk-full":
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + 24}")  # about 100 KB more
        return conn

    def open_(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and _inside(file):
            raise OSError(code, os.strerror(code), os.fsdecode(file))
        return real_open(file, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        if flags & write_flags and _inside(path):
            if _FAULT == "disk-full" and os.fsdecode(path).endswith(".lock"):
                return real_os_open(path, flags, *args, **kwargs)  # empty: takes no space
            raise OSError(code, os.strerror(code), os.fsdecode(path))
        return real_os_open(path, flags, *args, **kwargs)

    sqlite3.connect = connect
    builtins.open = open_
    os.open = os_open


if _FAULT in ("disk-full", "read-only"):
    _install()
