"""Folder scanning on a real tree with the odd entries real folders hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.loaders import load
from rag.scan import content_hash, file_fingerprint, scan_folder
from rag.types import FileStatus


def touch(path: Path, text: str = "Some text.\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def reasons(problems) -> dict[str, tuple[FileStatus, str]]:
    return {p.file: (p.status, p.reason) for p in problems}


def test_supported_files_sorted_with_relative_paths(tmp_path):
    for name in (
        "b.md",
        "a.TXT",
        "sub/c.pdf",
        "sub/deeper/d.HTML",
        "e.docx",
        "f.htm",
        "g.markdown",
    ):
        touch(tmp_path / name)
    documents, problems = scan_folder(tmp_path)
    rels = [rel for _, rel in documents]
    assert rels == [
        "a.TXT",
        "b.md",
        "e.docx",
        "f.htm",
        "g.markdown",
        "sub/c.pdf",
        "sub/deeper/d.HTML",
    ]
    assert all(path.is_absolute() and path.is_file() for path, _ in documents)
    assert problems == []
    assert scan_folder(tmp_path) == (documents, problems)  # deterministic


def test_unsupported_listed_hidden_skipped_quietly(tmp_path):
    touch(tmp_path / "keep.txt")
    touch(tmp_path / "sheet.xlsx")
    touch(tmp_path / "Makefile")
    touch(tmp_path / ".hidden.txt")
    touch(tmp_path / "~$report.docx")
    touch(tmp_path / ".git" / "config.txt")
    touch(tmp_path / "Thumbs.db")
    documents, problems = scan_folder(tmp_path)
    assert [rel for _, rel in documents] == ["keep.txt"]
    assert reasons(problems) == {
        "Makefile": (FileStatus.SKIPPED, "unsupported file type (without an extension)"),
        "sheet.xlsx": (FileStatus.SKIPPED, "unsupported file type ('.xlsx')"),
    }


def test_symlinks_followed_and_loops_reported(tmp_path):
    touch(tmp_path / "docs" / "a.txt")
    os.symlink(tmp_path / "docs", tmp_path / "docs" / "again")  # a loop back to its parent
    os.symlink("self.txt", tmp_path / "self.txt")  # a link to itself
    os.symlink(tmp_path / "missing.txt", tmp_path / "dangling.txt")
    outside = touch(tmp_path.parent / f"{tmp_path.name}-outside" / "linked.md")
    os.symlink(outside, tmp_path / "linked.md")
    os.symlink(tmp_path / "docs", tmp_path / "docs-alias")
    documents, problems = scan_folder(tmp_path)

    assert [rel for _, rel in documents] == ["linked.md", "docs/a.txt"]
    found = reasons(problems)
    assert found["docs/again"] == (FileStatus.SKIPPED, "symbolic link loop: leads back to docs")
    assert found["docs-alias"] == (FileStatus.SKIPPED, "same folder as docs, already scanned")
    assert found["self.txt"][0] is FileStatus.FAILED
    assert "loop" in found["self.txt"][1]
    assert found["dangling.txt"] == (
        FileStatus.FAILED,
        "broken symbolic link: its target does not exist",
    )


def test_fifo_is_not_read(tmp_path):
    touch(tmp_path / "ok.txt")
    os.mkfifo(tmp_path / "pipe.txt")
    documents, problems = scan_folder(tmp_path)  # must not block on the FIFO
    assert [rel for _, rel in documents] == ["ok.txt"]
    assert reasons(problems)["pipe.txt"][0] is FileStatus.SKIPPED


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads files whatever their permissions",
)
def test_unreadable_file_and_folder(tmp_path):
    touch(tmp_path / "private.txt").chmod(0)
    (tmp_path / "locked").mkdir()
    touch(tmp_path / "locked" / "x.txt")
    (tmp_path / "locked").chmod(0)
    try:
        documents, problems = scan_folder(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert documents == []
    found = reasons(problems)
    assert found["private.txt"] == (FileStatus.FAILED, "cannot be read: permission denied")
    assert found["locked"][0] is FileStatus.FAILED


def test_non_utf8_file_name(tmp_path):
    raw = os.fsencode(tmp_path) + b"/r\xe9sum\xe9.txt"  # Latin-1 bytes, not UTF-8
    with open(raw, "wb") as f:
        f.write(b"Ten years in logistics.\n")
    documents, problems = scan_folder(tmp_path)
    ((path, rel),) = documents
    assert rel == "r\\xe9sum\\xe9.txt"  # readable, and distinct from any other name
    rel.encode("utf-8")  # a valid str for SQLite and JSON
    assert os.fsencode(path) == raw
    assert "logistics" in next(load(path).pages).text
    assert problems == []


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        scan_folder(tmp_path / "nope")
    touch(tmp_path / "file.txt")
    with pytest.raises(NotADirectoryError):
        scan_folder(tmp_path / "file.txt")


def test_fingerprint_and_hash(tmp_path):
    path = touch(tmp_path / "a.txt", "x" * 3_000_000)
    size, mtime = file_fingerprint(path)
    assert size == 3_000_000 and mtime > 0
    digest = content_hash(path)
    assert len(digest) == 64
    touch(path, "x" * 2_999_999 + "y")
    assert content_hash(path) != digest
