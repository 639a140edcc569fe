"""Find the documents in a folder, and say why every other file is left out.

The walk is deterministic (sorted names, depth first) so two runs over the same
folder list files in the same order. Symbolic links are followed, to files and
to folders, but a folder already visited (a loop, or the same folder reached
twice) is entered only once. Hidden files and folders, and the lock files that
Office leaves next to open documents, are left out without a word: nobody
expects ``.git`` to be indexed or reported.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from pathlib import Path

from rag.errors import os_reason
from rag.loaders import supported_suffixes
from rag.types import FileReport, FileStatus

# Files that operating systems drop into folders; listing them as "unsupported" is noise.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})

_HASH_BLOCK = 1 << 20


_ESCAPED = re.compile(r"\\(?=\\|x[0-9a-fA-F]{2})")
_ESCAPE = re.compile(r"\\\\|\\x([0-9a-fA-F]{2})")


def display_name(name: str) -> str:
    """A file name as a valid ``str`` for people, databases and JSON, kept distinct.

    On Linux a name may hold bytes that are not UTF-8; Python keeps them as lone
    surrogates, which open the file but cannot be encoded. Those bytes are written
    ``\\xfe`` (and a backslash that would read as such an escape is doubled), so
    ``bad\\xfe.txt`` and ``bad\\xff.txt`` stay two names, readable, and
    :func:`fs_name` turns each back into the exact name on disk.
    """
    if "\\" not in name:
        try:
            name.encode("utf-8")
            return name
        except UnicodeEncodeError:
            pass
    name = _ESCAPED.sub(r"\\\\", name)
    return "".join(
        f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in name
    ).encode("utf-8", "replace").decode("utf-8")


def fs_name(name: str) -> str:
    """The exact name on disk (lone surrogates for non-UTF-8 bytes) of a display_name."""
    if "\\" not in name:
        return name
    return _ESCAPE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)) if m.group(1) else "\\", name)


def is_supported(path: Path | str) -> bool:
    """Whether some loader reads this kind of file (the registry in rag.loaders decides)."""
    return Path(path).suffix.lower() in supported_suffixes()


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower() in _SYSTEM_FILES


def _reason_for_os_error(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symbolic link loop: the link points back to itself"
    if err.errno == errno.ENOENT:  # stat follows links: a listed name that is not there
        return "broken symbolic link: its target does not exist"
    return f"cannot be read: {os_reason(err)}"


def _readable(path: Path) -> OSError | None:
    """Open and close the file, so permission problems show up in the scan, not mid-index.

    O_NONBLOCK keeps a FIFO that slipped through from blocking the scan.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        return err
    os.close(fd)
    return None


def scan_folder(folder: Path) -> tuple[list[tuple[Path, str]], list[FileReport]]:
    """Walk ``folder`` and split its files into documents to index and reported problems.

    Returns ``(documents, problems)``: ``documents`` holds (absolute path,
    "/"-separated path relative to ``folder`` for display) for every supported,
    readable file; ``problems`` holds a SKIPPED or FAILED report with a reason
    for every other file the user would expect to see mentioned. Raises
    ``NotADirectoryError`` or ``FileNotFoundError`` when ``folder`` itself is
    not a folder.
    """
    root = Path(os.path.abspath(folder))
    if not root.exists():
        raise FileNotFoundError(f"folder does not exist: {display_name(str(folder))}")
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {display_name(str(folder))}")

    documents: list[tuple[Path, str]] = []
    problems: list[FileReport] = []
    visited: dict[str, str] = {os.path.realpath(root): ""}  # real path -> relative path shown

    def report(rel: str, status: FileStatus, reason: str) -> None:
        problems.append(FileReport(file=rel, status=status, reason=reason))

    # Depth first with an explicit stack: deep trees must not hit the recursion limit.
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            report(rel_dir or ".", FileStatus.FAILED, "folder " + _reason_for_os_error(err))
            continue

        subfolders: list[tuple[Path, str]] = []
        for entry in entries:
            if _is_hidden(entry.name):
                continue
            path = directory / entry.name
            rel = f"{rel_dir}/{display_name(entry.name)}" if rel_dir else display_name(entry.name)
            try:
                st = os.stat(path)  # follows links
            except OSError as err:
                report(rel, FileStatus.FAILED, _reason_for_os_error(err))
                continue

            if stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(path)
                if real in visited:
                    seen = visited[real] or "the indexed folder itself"
                    here = os.path.realpath(directory)
                    if here == real or here.startswith(real.rstrip(os.sep) + os.sep):
                        reason = f"symbolic link loop: leads back to {seen}"
                    else:
                        reason = f"same folder as {seen}, already scanned"
                    report(rel, FileStatus.SKIPPED, reason)
                    continue
                visited[real] = rel
                subfolders.append((path, rel))
            elif not stat.S_ISREG(st.st_mode):
                report(rel, FileStatus.SKIPPED, "not a regular file (a device, pipe or socket)")
            elif not is_supported(entry.name):
                suffix = Path(entry.name).suffix.lower()
                kind = f"'{display_name(suffix)}'" if suffix else "without an extension"
                report(rel, FileStatus.SKIPPED, f"unsupported file type ({kind})")
            elif (err := _readable(path)) is not None:
                report(rel, FileStatus.FAILED, _reason_for_os_error(err))
            else:
                documents.append((path, rel))

        stack.extend(reversed(subfolders))  # so the first subfolder is walked first
    return documents, problems


def file_fingerprint(path: Path) -> tuple[int, int]:
    """(size, mtime in ns): a cheap test of whether a file may have changed since last time."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (hex), read in 1 MiB blocks so huge files cost no memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
