"""Indexing in two phases: text first (searchable by words at once), vectors after,
both resumable; and the store's record of which chunks still wait for a vector."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.ingest import cjk_unreadable, embed_pending, index_folder
from rag.store import IndexStore
from rag.types import Chunk, FileStatus

DIM = 8
META = {"embedding_model": "test-model@0", "dim": DIM, "chunk_tokens": 200}


def _chunks(rel: str, texts: list[str]) -> list[Chunk]:
    out, pos = [], 0
    for t in texts:
        out.append(Chunk(rel, 1, pos, pos + len(t), t))
        pos += len(t) + 1
    return out


def _unit(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_chinese_passage_that_gives_names_in_english_is_unreadable_to_the_english_model():
    """Counted in words: a Latin name spells one word in many letters, a Chinese one in a
    few characters, so a share of letters would call this passage English."""
    assert cjk_unreadable(
        "Internet2 是美国的非营利计算机网络联盟，与 Qwest Communications 合作建立了 Abilene "
        "Network 骨干网。"
    )
    assert not cjk_unreadable(
        "Contoso Ltd. (北京云杉科技股份有限公司) designs frames in Oslo and sells its bicycles "
        "in forty countries through its own shops."
    )
    assert not cjk_unreadable("Laptops are replaced every three years.")


def test_chunks_written_without_vectors_are_found_by_words_and_wait(tmp_path: Path) -> None:
    with IndexStore.open(tmp_path / "ix", META) as s:
        ids = s.replace_file("a.txt", "h", 1, 1, _chunks("a.txt", ["apples", "pears"]), None)
        assert s.count_pending() == 2 and s.count_vectors() == 0
        assert [cid for cid, _ in s.lexical_search("pears", 5)] == [ids[1]]
        assert s.dense_search(_unit(1, 0)[0], 5) == []
        assert s.chunks([ids[0]], with_vectors=True)[0].vector is None
        waiting = s.pending_chunks(10)
        assert [c.id for c in waiting] == ids and waiting[0].text == "apples"
        vecs = _unit(2, 1)
        assert s.set_vectors(ids, vecs) == 2
        assert s.count_pending() == 0 and s.count_vectors() == 2
        assert s.dense_search(vecs[1], 1)[0][0] == ids[1]
    with IndexStore.open(tmp_path / "ix", META) as s:  # the saved vectors are reused
        assert s.count_pending() == 0 and s.dense_search(vecs[0], 1)[0][0] == ids[0]


def test_waiting_chunks_survive_a_reopen_and_stale_ones_are_passed_over(tmp_path: Path) -> None:
    with IndexStore.open(tmp_path / "ix", META) as s:
        old = s.replace_file("a.txt", "h1", 1, 1, _chunks("a.txt", ["one", "two"]), None)
        s.replace_file("b.txt", "h2", 1, 1, _chunks("b.txt", ["three"]), None)
    with IndexStore.open(tmp_path / "ix", META) as s:
        assert s.count_pending() == 3
        taken = s.pending_chunks(2)
        assert [c.id for c in taken] == old
        # a.txt changes while its old chunks are being embedded
        new = s.replace_file("a.txt", "h3", 1, 2, _chunks("a.txt", ["uno"]), None)
        assert s.set_vectors([c.id for c in taken], _unit(2, 2)) == 0
        assert s.dense_search(_unit(1, 3)[0], 5) == []
        rest = s.pending_chunks(10)
        assert sorted(c.id for c in rest) == sorted([*new, old[-1] + 1])
        # a chunk the model cannot read leaves the queue without a vector
        assert s.set_vectors([rest[0].id], None) == 1
        assert s.count_pending() == 1 and s.count_vectors() == 0
        s.remove_file("b.txt")
        assert s.count_pending() == 1 - (rest[1].file == "b.txt")


class _CountingEmbedder:
    """Deterministic vectors from the text; records what it was asked to embed."""

    english_only = True
    dim = DIM

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.stack([_unit(1, sum(map(ord, t)))[0] for t in texts])


class _WordChunker:
    def chunk(self, file, title, pages):
        for page in pages:
            yield Chunk(file, page.number, 0, len(page.text), page.text.strip(), title)


def _docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    for i in range(6):
        (d / f"note{i}.txt").write_text(f"Note {i}: the depot opens at {7 + i} am.\n")
    (d / "报销.txt").write_text("员工出差的住宿标准为每晚不超过六百元。\n", encoding="utf-8")
    return d


def test_text_first_then_vectors_and_both_phases_resume(tmp_path: Path) -> None:
    folder = _docs(tmp_path)
    emb = _CountingEmbedder()
    stages: list[tuple[str, int, int]] = []
    with IndexStore.open(tmp_path / "ix", META) as s:
        # Phase one stops after two files; the next run reads only the rest.
        report = index_folder(
            folder,
            s,
            emb,
            _WordChunker(),
            embed=False,
            on_progress=lambda d, t, p: stages.append((p.stage, d, t)),
            should_stop=lambda: sum(1 for st, d, _ in stages if st == "indexing" and d) >= 4,
        )
        assert report.cancelled and emb.seen == []
        first = {f.file for f in report.files if f.status is FileStatus.INDEXED}
        assert 1 <= len(first) < 7 and s.count_pending() == len(first)
        report = index_folder(folder, s, emb, _WordChunker(), embed=False)
        assert report.count(FileStatus.UNCHANGED) == len(first)
        assert report.count(FileStatus.INDEXED) == 7 - len(first)
        # Everything is searchable by its words before any vector exists.
        assert s.count_pending() == 7 and s.count_vectors() == 0
        assert s.lexical_search("depot", 10) and s.lexical_search("住宿", 10)

        # Phase two stops after its first batch; the next call embeds only the rest.
        progress: list[tuple[int, int, str, float | None]] = []
        import rag.ingest as ingest

        old_group, ingest._EMBED_GROUP = ingest._EMBED_GROUP, 3
        try:
            embedded, stopped = embed_pending(
                s,
                emb,
                on_progress=lambda d, t, p: progress.append((d, t, p.stage, p.eta)),
                should_stop=lambda: len(progress) >= 2,
            )
            assert stopped and embedded == 3 and s.count_pending() == 4
            embedded, stopped = embed_pending(s, emb)
        finally:
            ingest._EMBED_GROUP = old_group
        assert not stopped and s.count_pending() == 0
        assert progress[0][:3] == (0, 7, "embedding") and progress[1][:3] == (3, 7, "embedding")
        assert progress[1][3] is not None and progress[1][3] >= 0
        # The Chinese note was not given to the English-only model, and is still found.
        assert all("住宿" not in t for t in emb.seen) and len(emb.seen) == 6
        assert embedded == 3 and s.count_vectors() == 6
        assert s.lexical_search("住宿", 10)


def test_one_call_runs_both_phases_and_reports_them(tmp_path: Path) -> None:
    folder = _docs(tmp_path)
    seen: list[tuple[str, int, int, int]] = []
    with IndexStore.open(tmp_path / "ix", META) as s:
        report = index_folder(
            folder,
            s,
            _CountingEmbedder(),
            _WordChunker(),
            on_progress=lambda d, t, p: seen.append((p.stage, d, t, p.files_ready)),
        )
        assert not report.cancelled and report.pending == 0 and report.embedded == 6
        assert 0 < report.searchable_seconds <= report.seconds
        stages = [st for st, *_ in seen]
        assert stages.index("embedding") > max(i for i, st in enumerate(stages) if st == "indexing")
        assert ("embedding", 7, 7, 7) in seen and stages[-1] == "done"
        again = index_folder(folder, s, _CountingEmbedder(), _WordChunker())
        assert again.embedded == 0 and again.count(FileStatus.UNCHANGED) == 7


class _TwoLaneEmbedder(_CountingEmbedder):
    """An embedder with two lanes (as the int8 runtime on two cores): records which
    thread asked for how many workers."""

    lanes = 2

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int | None, int]] = []
        self.nice: set[int] = set()  # the priorities of the threads that embedded

    def embed(self, texts: list[str], workers: int | None = None) -> np.ndarray:
        import os
        import sys
        import threading

        self.calls.append((threading.current_thread().name, workers, len(texts)))
        if sys.platform.startswith("linux"):
            self.nice.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().embed(texts)

    def early(self) -> int:
        return sum(n for name, _, n in self.calls if name == "quarry-embed-early")


class _SlowChunker:
    """Twenty chunks a file; after the first files, reading waits until some chunks were
    embedded early (at most a few seconds), as reading a real folder takes its time."""

    def __init__(self, emb: _TwoLaneEmbedder) -> None:
        self.emb = emb
        self.files = 0

    def chunk(self, file, title, pages):
        import time

        self.files += 1
        give_up = time.monotonic() + 10
        while self.files > 4 and not self.emb.early() and time.monotonic() < give_up:
            time.sleep(0.02)
        for page in pages:
            for i in range(20):
                text = f"{file} part {i}: {page.text.strip()}"
                yield Chunk(file, page.number, 0, len(page.text), text, title)


def _twelve_notes(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(12):
        (folder / f"note{i:02d}.txt").write_text(f"Note {i}: the depot opens at {i} am.\n")
    return folder


def test_embedding_starts_on_a_spare_core_while_files_are_still_read(tmp_path: Path) -> None:
    folder, emb = _twelve_notes(tmp_path), _TwoLaneEmbedder()
    stages: list[str] = []
    with IndexStore.open(tmp_path / "ix", META) as s:
        report = index_folder(
            folder, s, emb, _SlowChunker(emb), on_progress=lambda d, t, p: stages.append(p.stage)
        )
        assert not report.cancelled and s.count_pending() == 0 and s.count_vectors() == 240
        early = [c for c in emb.calls if c[0] == "quarry-embed-early"]
        late = [c for c in emb.calls if c[0] != "quarry-embed-early"]
        # One lane embedded while reading went on (the other core read); phase two used both.
        assert early and all(workers == 1 for _, workers, _ in early)
        assert late and all(workers is None for _, workers, _ in late)
        if sys.platform.startswith("linux"):  # early at the lowest priority, phase two not
            assert emb.nice == {19, os.getpriority(os.PRIO_PROCESS, 0)}
        assert report.embedded_while_reading == emb.early() > 0
        assert report.embedded == 240 and len(emb.seen) == len(set(emb.seen)) == 240
        # Phase two still reports itself, counting only what was left to it.
        assert stages.index("embedding") > max(i for i, st in enumerate(stages) if st == "indexing")


def test_a_stop_while_reading_keeps_what_was_embedded_early(tmp_path: Path) -> None:
    folder, emb = _twelve_notes(tmp_path), _TwoLaneEmbedder()
    with IndexStore.open(tmp_path / "ix", META) as s:
        report = index_folder(
            folder,
            s,
            emb,
            _SlowChunker(emb),
            should_stop=lambda: emb.early() > 0 and s.count_chunks() >= 120,
        )
        assert report.cancelled and 0 < report.embedded == report.embedded_while_reading
        assert s.count_vectors() == report.embedded
        assert s.count_vectors() + s.count_pending() == s.count_chunks() < 240
        again = index_folder(folder, s, emb, _SlowChunker(emb))
        assert not again.cancelled and s.count_pending() == 0 and s.count_vectors() == 240
        assert len(emb.seen) == len(set(emb.seen)) == 240  # nothing embedded twice


@pytest.mark.slow
def test_a_question_asked_while_embedding_gets_an_answer_with_a_note(tmp_path, monkeypatch):
    from rag.engine import Engine
    from tests.fakes import FakeLLM

    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "travel.md").write_text(
        "# Travel\n\nThe daily meal allowance in Berlin is 62 euros.\n", encoding="utf-8"
    )
    with Engine() as engine:
        engine.open_folder(folder)
        # Phase one only, as when a question arrives before the meaning index is built.
        index_folder(folder, engine._store, engine.embedder, engine._get_chunker(), embed=False)
        assert engine.meaning_index() == (0, 1)
        hits = engine.search("meal allowance Berlin", 3)
        assert hits and hits[0].file == "travel.md"
        engine._llm = FakeLLM(default_reply="The allowance is 62 euros [1].")
        answer = engine.ask("What is the meal allowance in Berlin?")
        assert "62 euros" in answer.text
        assert "meaning index is 0% built" in answer.note
        report = engine.index()
        assert report.embedded == 1 and engine.meaning_index() == (1, 1)
        assert "meaning index" not in engine.ask("And in Berlin?").note


_HOLDER = """
import sys
from rag.locking import FileLock
lock = FileLock(sys.argv[1])
assert lock.acquire()
print("held", flush=True)
sys.stdin.readline()
"""


@pytest.mark.slow
def test_the_meaning_index_waits_for_another_process_writing_the_index(tmp_path, monkeypatch):
    """Phase two writes vectors only while it holds the index's writer lock: another
    Quarry updating the same index makes it wait, and it finishes after."""
    import subprocess
    import sys
    import threading
    import time

    from rag import store as store_module
    from rag.engine import Engine

    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    folder = _docs(tmp_path)
    with Engine() as engine:
        engine.open_folder(folder)
        store = engine._store
        index_folder(folder, store, engine.embedder, engine._get_chunker(), embed=False)
        waiting_before = store.count_pending()
        assert waiting_before == 7 and store.count_vectors() == 0
        root = Path(__file__).resolve().parents[1]
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(store.directory / store_module.WRITER_LOCK)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root,
            env={**__import__("os").environ, "PYTHONPATH": str(root)},
        )  # fmt: skip
        try:
            assert holder.stdout.readline().strip() == "held"
            stages: list[str] = []
            result = {}
            worker = threading.Thread(
                target=lambda: result.update(
                    report=engine.index(on_progress=lambda d, t, p: stages.append(p.stage))
                )
            )
            worker.start()
            time.sleep(2.0)
            assert stages == ["waiting"]
            assert store.count_pending() == waiting_before and store.count_vectors() == 0
        finally:
            holder.communicate("go\n", timeout=30)
        worker.join(120)
        assert result["report"].embedded == 6 and store.count_pending() == 0
        assert "embedding" in stages and stages[-1] == "done"


def _book(folder: Path, paragraphs: int) -> Path:
    """A long plain-text book: numbered paragraphs of a few sentences each."""
    folder.mkdir()
    book = folder / "book.txt"
    with book.open("w", encoding="utf-8") as f:
        for i in range(paragraphs):
            f.write(
                f"Paragraph {i} of the ledger notes that pallet {i * 7} left the depot. "
                f"The courier signed for invoice {i * 13} and the audit found it in order.\n\n"
            )
    return book


def _index_book(folder: Path, store, monkeypatch, part_chunks: int, **kw):
    import tracemalloc

    import rag.ingest as ingest
    import rag.loaders.text as text_loader
    from rag.chunking import Chunker

    monkeypatch.setattr(ingest, "_PART_CHUNKS", part_chunks)
    monkeypatch.setattr(text_loader, "SECTION_CHARS", 32_000)
    chunker = Chunker(lambda t: len(t.split()), 60, 10)
    tracemalloc.start()
    try:
        report = index_folder(folder, store, _CountingEmbedder(), chunker, embed=False, **kw)
        return report, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_file_too_large_to_hold_is_written_in_parts_and_read_again_if_stopped(
    tmp_path: Path, monkeypatch
) -> None:
    """Memory stays bounded by the part size, not the file's size; a stop between parts
    leaves the file marked unfinished, and the next run replaces what it had."""
    folder = tmp_path / "docs"
    size = _book(folder, 12_000).stat().st_size  # about 1.8 MB, about 4,000 chunks
    with IndexStore.open(tmp_path / "whole", META) as s:
        whole, peak_whole = _index_book(folder, s, monkeypatch, 10**9)
        n = s.count_chunks()
    with IndexStore.open(tmp_path / "parts", META) as s:
        seen: list[int] = []
        stopped, _ = _index_book(
            folder, s, monkeypatch, 200,
            on_progress=lambda d, t, p: seen.append(p.chunks),
            should_stop=lambda: bool(seen) and seen[-1] >= 600,
        )  # fmt: skip
        assert stopped.cancelled and 600 <= s.count_chunks() < n
        assert s.file_record("book.txt").hash == ""  # unfinished: read again next time
        assert s.lexical_search("pallet", 3)  # what was written is searchable meanwhile
        report, peak_parts = _index_book(folder, s, monkeypatch, 200)
        assert report.count(FileStatus.INDEXED) == 1 and report.files[0].chunks == n
        assert s.count_chunks() == n == s.count_pending() == s.file_record("book.txt").chunks
        assert s.file_record("book.txt").hash and whole.files[0].chunks == n
    # Holding every chunk costs many times the file; in parts, the chunker's bounded
    # token-count cache is most of what is held.
    assert n > 3000 and peak_whole > 10 * size
    assert peak_parts < peak_whole / 3, (peak_parts, peak_whole, size)
