"""Folder sync on real files: changes are noticed within seconds, bursts cost one re-index."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from rag.sync import FolderWatcher


class Calls:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.event = threading.Event()

    def __call__(self) -> None:
        self.times.append(time.monotonic())
        self.event.set()

    def wait(self, timeout: float = 10.0) -> bool:
        ok = self.event.wait(timeout)
        self.event.clear()
        return ok


@pytest.fixture(params=["notify", "poll"])
def watched(request, tmp_path: Path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "old.txt").write_text("The depot opens at seven.\n")
    calls = Calls()
    with FolderWatcher(
        folder, calls, settle=0.5, poll_interval=0.3, polling=request.param == "poll"
    ) as w:
        time.sleep(0.4)  # the polling observer takes its first snapshot
        yield folder, calls, w


def test_add_change_rename_and_delete_are_each_noticed(watched) -> None:
    folder, calls, _ = watched
    (folder / "new.txt").write_text("Fresh note.\n")
    assert calls.wait()
    (folder / "old.txt").write_text("The depot opens at eight.\n")
    assert calls.wait()
    (folder / "new.txt").rename(folder / "renamed.txt")
    assert calls.wait()
    (folder / "renamed.txt").unlink()
    assert calls.wait()
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.md").write_text("# Deep\n")
    assert calls.wait()


def test_ten_saves_in_a_row_cost_one_reindex(watched) -> None:
    folder, calls, w = watched
    for i in range(10):
        (folder / "old.txt").write_text(f"Draft {i} of the depot note.\n")
        time.sleep(0.05)
    assert calls.wait()
    time.sleep(w.settle + w.poll_interval + 0.5)
    assert len(calls.times) == 1


def test_hidden_and_lock_files_are_ignored(watched) -> None:
    folder, calls, w = watched
    (folder / ".~lock.old.txt#").write_text("lock")
    (folder / "~$old.docx").write_text("lock")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    assert not calls.wait(w.settle + w.poll_interval + 1.0)


def test_reading_files_is_not_a_change(watched) -> None:
    folder, calls, w = watched
    for _ in range(3):
        (folder / "old.txt").read_text()
    assert not calls.wait(w.settle + w.poll_interval + 1.0)


def test_no_call_after_close(tmp_path: Path) -> None:
    calls = Calls()
    w = FolderWatcher(tmp_path, calls, settle=0.3)
    w.close()
    (tmp_path / "late.txt").write_text("x")
    assert not calls.wait(1.0)


@pytest.mark.slow
def test_an_open_folder_stays_in_step_with_its_files(tmp_path, monkeypatch) -> None:
    """The engine and the watcher together, as the window uses them: a file saved into the
    folder is searchable seconds later; a deleted one is gone."""
    from rag.engine import Engine

    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "depot.txt").write_text("The depot opens at seven in the morning.\n")
    with Engine() as engine:
        engine.index(folder)
        reports = []
        done = threading.Event()

        def reindex() -> None:
            reports.append(engine.index())
            done.set()

        with FolderWatcher(folder, reindex, settle=0.5):
            for i in range(10):  # ten saves of one new file
                (folder / "fleet.md").write_text(f"# Fleet\n\nWe own {i + 5} electric vans.\n")
                time.sleep(0.03)
            assert done.wait(30)
            done.clear()
            hits = engine.search("How many electric vans?", 3)
            assert hits[0].file == "fleet.md" and "14 electric vans" in hits[0].text
            (folder / "depot.txt").unlink()
            assert done.wait(30)
        assert len(reports) == 2
        assert reports[1].removed == ["depot.txt"]
        assert {f.file for f in engine.files()} == {"fleet.md"}
