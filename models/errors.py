"""The one error the model layer raises for things a person can fix, and the wording of
operating-system errors for the whole of Quarry.

``os_reason`` is here rather than in :mod:`rag.errors` (which re-exports it,
beside its SQLite wording) because a model file that cannot be read is met in
this layer, which never imports ``rag``: one phrase per error everywhere.
"""

from __future__ import annotations

import errno


class ModelError(Exception):
    """A model file cannot be used; the message names the file and says what to do."""


_OS_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "it does not exist",
    errno.ENOTDIR: "a part of its path is not a folder",
    errno.ELOOP: "symbolic link loop",
    errno.EIO: "a disk read or write failed",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EMFILE: "too many files are open",
    errno.EFBIG: "the file would be larger than the system allows",
}


def os_reason(exc: OSError) -> str:
    """A short lower-case phrase for ``exc`` ("permission denied", "the disk is full")."""
    return _OS_REASONS.get(exc.errno) or (exc.strerror or str(exc) or type(exc).__name__).lower()
