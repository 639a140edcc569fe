"""The engine end to end on real files, the real embedding model and the real index."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rag.engine import FolderError
from rag.types import FileStatus

pytestmark = pytest.mark.slow

TRAVEL = """# Travel policy

Employees of Contoso may book economy class for flights under six hours.
The daily meal allowance in Berlin is 62 euros. Hotel stays above 180 euros per
night need approval from a director.
"""
IT = """IT equipment

Every new engineer receives a laptop with 32 GB of memory. Laptops are replaced
every three years. Lost devices must be reported to the service desk within 24 hours.
"""
ZH = "报销制度\n\n员工出差的住宿标准为每晚不超过六百元。报销申请须在出差结束后十五日内提交。\n"


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "travel.md").write_text(TRAVEL, encoding="utf-8")
    (d / "it.txt").write_text(IT, encoding="utf-8")
    (d / "报销.txt").write_text(ZH, encoding="utf-8")
    (d / "layers.psd").write_bytes(b"8BPS" + b"\0" * 32)
    return d


def test_index_then_search_finds_the_right_file(engine, tmp_path):
    folder = _folder(tmp_path)
    progress = []
    report = engine.index(folder, on_progress=lambda d, t, p: progress.append((d, t, p.stage)))
    assert report.count(FileStatus.INDEXED) == 3
    assert [f.file for f in report.problems] == ["layers.psd"]
    assert (
        "not a supported" in report.problems[0].reason
        or "unsupported" in report.problems[0].reason.lower()
    )
    assert progress[-1] == (3, 3, "done")

    hits = engine.search("How much is the meal allowance in Berlin?", k=3)
    assert hits[0].file == "travel.md"
    assert "62 euros" in hits[0].text
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert engine.search("住宿标准", k=3)[0].file == "报销.txt"

    statuses = {f.file: f.status for f in engine.files()}
    assert statuses["travel.md"] is FileStatus.INDEXED
    assert statuses["layers.psd"] is FileStatus.SKIPPED


def test_reindex_is_incremental(engine, tmp_path):
    folder = _folder(tmp_path)
    first = engine.index(folder)
    total = sum(f.chunks for f in engine.files())

    started = time.monotonic()
    again = engine.index(folder)
    assert time.monotonic() - started < 1.0
    assert again.count(FileStatus.UNCHANGED) == 3 and again.chunks_added == 0

    # Touching a file without changing it costs a hash, not a re-embed.
    os.utime(folder / "it.txt", None)
    assert engine.index(folder).count(FileStatus.UNCHANGED) == 3

    # A changed file replaces only its own chunks; a deleted one's chunks go.
    (folder / "it.txt").write_text(IT.replace("32 GB", "64 GB"), encoding="utf-8")
    (folder / "travel.md").unlink()
    third = engine.index(folder)
    assert [f.file for f in third.files if f.status is FileStatus.INDEXED] == ["it.txt"]
    assert third.removed == ["travel.md"]
    hits = engine.search("laptop memory", k=5)
    assert "64 GB" in hits[0].text
    assert all(h.file != "travel.md" for h in engine.search("meal allowance Berlin", k=10))
    assert sum(f.chunks for f in engine.files()) < total + 1
    assert first.chunks_added >= 3


def test_changed_chunker_settings_rebuild_the_index(engine, tmp_path):
    folder = _folder(tmp_path)
    engine.index(folder)
    s = engine.settings
    engine.update_settings(replace(s, index=replace(s.index, chunk_tokens=64, chunk_overlap=8)))
    engine.open_folder(folder)
    assert engine.rebuild_reason
    report = engine.index()
    assert report.count(FileStatus.INDEXED) == 3


def test_cancelled_run_is_completed_by_the_next(engine, tmp_path):
    folder = _folder(tmp_path)
    done: list[int] = []
    report = engine.index(
        folder,
        on_progress=lambda d, t, p: done.append(d),
        should_stop=lambda: max(done, default=0) >= 1,
    )
    assert report.cancelled
    done = engine.index(folder)
    assert not done.cancelled
    assert {f.file for f in engine.files() if f.status is FileStatus.INDEXED} == {
        "travel.md",
        "it.txt",
        "报销.txt",
    }


def test_missing_folder_is_a_clear_error(engine, tmp_path):
    with pytest.raises(FolderError, match="does not exist"):
        engine.open_folder(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(FolderError, match="not a folder"):
        engine.open_folder(tmp_path / "f.txt")
