"""The on-disk index: round trips, incremental changes, rebuilds and crash safety.

Vectors are random unit vectors: these tests are about storage, not meaning.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from rag import lexical, store
from rag.store import IndexStore
from rag.types import Chunk, FileStatus
from rag.vectors import faiss_index

DIM = 16
META = {"embedding_model": "test-model@0", "dim": DIM, "chunk_tokens": 200}


def unit(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def chunks_for(rel: str, texts: list[str], page: int | None = 1) -> list[Chunk]:
    out, pos = [], 0
    for t in texts:
        out.append(Chunk(rel, page, pos, pos + len(t), t, title="Northwind handbook"))
        pos += len(t)
    return out


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


def test_round_trip_survives_reopen(index_dir: Path) -> None:
    vecs = unit(3)
    with IndexStore.open(index_dir, META) as s:
        assert not s.rebuild_reason
        ids = s.replace_file(
            "a/policy.txt",
            "h1",
            120,
            5,
            chunks_for(
                "a/policy.txt",
                [
                    "Travel is booked in economy.",
                    "Laptops are replaced every 3 years.",
                    "Meals cost at most $1,200 per trip.",
                ],
            ),
            vecs,
        )
        assert s.dense_search(vecs[1], 1) == [(ids[1], pytest.approx(1.0, abs=1e-5))]
    with IndexStore.open(index_dir, META) as s:
        assert not s.rebuild_reason
        assert s.count_chunks() == 3
        rec = s.file_record("a/policy.txt")
        assert (rec.hash, rec.size, rec.mtime_ns, rec.status, rec.chunks) == (
            "h1",
            120,
            5,
            FileStatus.INDEXED,
            3,
        )
        row = s.chunks([ids[2]], with_vectors=True)[0]
        assert (row.file, row.page, row.text, row.title) == (
            "a/policy.txt",
            1,
            "Meals cost at most $1,200 per trip.",
            "Northwind handbook",
        )
        np.testing.assert_array_equal(row.vector, vecs[2])
        assert s.dense_search(vecs[2], 1)[0][0] == ids[2]
        assert s.file_record("missing.txt") is None


def test_replace_and_remove_are_incremental(index_dir: Path) -> None:
    with IndexStore.open(index_dir, META) as s:
        a_ids = s.replace_file(
            "a.txt", "h1", 1, 1, chunks_for("a.txt", ["alpha", "beta"]), unit(2, 1)
        )
        b_ids = s.replace_file("b.txt", "h1", 1, 1, chunks_for("b.txt", ["gamma"]), unit(1, 2))
        new_ids = s.replace_file("a.txt", "h2", 1, 2, chunks_for("a.txt", ["delta"]), unit(1, 3))
        assert s.count_chunks() == 2
        assert s.chunks(a_ids) == []  # the old chunks of a.txt are gone...
        assert [c.text for c in s.chunks(b_ids + new_ids)] == ["gamma", "delta"]  # ...only they
        assert s.lexical_search("alpha", 5) == []
        assert [i for i, _ in s.lexical_search("delta", 5)] == new_ids
        assert s.remove_file("b.txt") and not s.remove_file("b.txt")
        assert [f.path for f in s.all_files()] == ["a.txt"]
        hits = s.dense_search(unit(1, 2)[0], 10)
        assert [i for i, _ in hits] == new_ids  # FAISS forgot b.txt too


def test_a_problem_file_is_remembered_and_loses_its_chunks(index_dir: Path) -> None:
    with IndexStore.open(index_dir, META) as s:
        s.replace_file("r.pdf", "h1", 1, 1, chunks_for("r.pdf", ["old text"]), unit(1))
        s.record_problem("r.pdf", "h2", 9, 2, FileStatus.FAILED, "the PDF is encrypted")
        rec = s.file_record("r.pdf")
        assert (rec.hash, rec.status, rec.reason, rec.chunks) == (
            "h2",
            FileStatus.FAILED,
            "the PDF is encrypted",
            0,
        )
        assert s.count_chunks() == 0 and s.dense_search(unit(1)[0], 3) == []


def test_changed_settings_rebuild_the_index(index_dir: Path) -> None:
    with IndexStore.open(index_dir, META) as s:
        s.replace_file("a.txt", "h", 1, 1, chunks_for("a.txt", ["x"]), unit(1))
    with IndexStore.open(index_dir, {**META, "embedding_model": "other@1"}) as s:
        assert "embedding_model" in s.rebuild_reason and "other@1" in s.rebuild_reason
        assert s.count_chunks() == 0 and s.all_files() == []
    with IndexStore.open(index_dir, {**META, "embedding_model": "other@1"}) as s:
        assert not s.rebuild_reason


def test_an_unreadable_catalog_is_rebuilt(index_dir: Path) -> None:
    index_dir.mkdir(parents=True)
    (index_dir / store.CATALOG).write_bytes(b"this is not a database" * 100)
    with IndexStore.open(index_dir, META) as s:
        assert "damaged" in s.rebuild_reason
        s.replace_file("a.txt", "h", 1, 1, chunks_for("a.txt", ["x"]), unit(1))
        assert s.count_chunks() == 1


def test_meta_must_give_the_dimension(index_dir: Path) -> None:
    with pytest.raises(ValueError, match="dim"):
        IndexStore.open(index_dir, {"embedding_model": "m"})


def test_wrong_vector_shape_is_refused(index_dir: Path) -> None:
    with IndexStore.open(index_dir, META) as s, pytest.raises(ValueError, match="shape"):
        s.replace_file("a.txt", "h", 1, 1, chunks_for("a.txt", ["x", "y"]), unit(1))


def _populated(index_dir: Path) -> tuple[list[int], np.ndarray]:
    vecs = unit(40, 7)
    ids = []
    with IndexStore.open(index_dir, META) as s:
        for i in range(4):
            ids += s.replace_file(
                f"f{i}.txt",
                "h",
                1,
                1,
                chunks_for(f"f{i}.txt", [f"passage {i}-{j}" for j in range(10)]),
                vecs[i * 10 : (i + 1) * 10],
            )
        s.remove_file("f1.txt")
    return ids, vecs


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage", "stale", "flipped-byte"])
def test_a_damaged_vectors_file_is_rebuilt_from_the_catalog(index_dir: Path, damage: str) -> None:
    _, vecs = _populated(index_dir)
    with IndexStore.open(index_dir, META) as s:
        expected = [s.dense_search(v, 5) for v in vecs[::3]]
    path = index_dir / faiss_index.FILE
    data = path.read_bytes()
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif damage == "flipped-byte":
        path.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    else:  # the catalog changed after the vectors were saved, e.g. killed before a flush
        with IndexStore.open(index_dir, META) as s:
            s.remove_file("f3.txt")
            expected = [s.dense_search(v, 5) for v in vecs[::3]]
            s.read_only = True  # skip the flush: the file on disk is now stale
    with IndexStore.open(index_dir, META) as s:
        got = [s.dense_search(v, 5) for v in vecs[::3]]
    assert [[i for i, _ in g] for g in got] == [[i for i, _ in e] for e in expected]
    assert np.allclose([d for g in got for _, d in g], [d for e in expected for _, d in e])


def test_vectors_file_is_used_when_it_matches(index_dir: Path, monkeypatch) -> None:
    _populated(index_dir)
    real_add = faiss_index.FaissIndex.add

    def add(self, ids, vectors):
        assert not len(ids), "vectors added although the saved ones matched the catalog"
        real_add(self, ids, vectors)

    monkeypatch.setattr(faiss_index.FaissIndex, "add", add)
    with IndexStore.open(index_dir, META) as s:
        assert len(s.vectors) == 30


def test_a_failure_inside_replace_keeps_the_old_chunks(index_dir: Path, monkeypatch) -> None:
    old_vecs = unit(2, 1)
    with IndexStore.open(index_dir, META) as s:
        old = s.replace_file("a.txt", "h1", 1, 1, chunks_for("a.txt", ["alpha", "beta"]), old_vecs)
        calls = {"n": 0}
        real = lexical.index_text

        def failing(*parts: str) -> str:
            calls["n"] += 1
            if calls["n"] == 2:  # after the old chunks were deleted and one new one written
                raise OSError("disk full")
            return real(*parts)

        monkeypatch.setattr(lexical, "index_text", failing)
        with pytest.raises(store.IndexStoreError, match="disk full"):
            s.replace_file(
                "a.txt", "h2", 1, 2, chunks_for("a.txt", ["gamma", "delta", "eps"]), unit(3, 2)
            )
        monkeypatch.undo()
        assert [c.text for c in s.chunks(old)] == ["alpha", "beta"]
        assert s.count_chunks() == 2 and s.file_record("a.txt").hash == "h1"
        assert [i for i, _ in s.lexical_search("gamma", 5)] == []
        assert s.dense_search(old_vecs[0], 1)[0][0] == old[0]


_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from rag.store import IndexStore
    from rag.types import Chunk
    meta = {"embedding_model": "test-model@0", "dim": 16, "chunk_tokens": 200}
    s = IndexStore.open(sys.argv[1], meta)
    rng = np.random.default_rng(0)
    i = 0
    while True:
        n = 1 + i % 7
        v = rng.normal(size=(n, 16)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        rel = f"f{i % 13}.txt"
        s.replace_file(rel, str(i), n, i, [Chunk(rel, 1, j, j + 1, f"text {i} {j}")
                                           for j in range(n)], v)
        if i % 5 == 0:
            s.flush()
        if i == 20:
            print("ready", flush=True)
        i += 1
""")


def test_sigkill_while_writing_leaves_a_consistent_index(index_dir: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(index_dir)],
        cwd=root,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with IndexStore.open(index_dir, META) as s:
        files = s.all_files()
        assert len(files) == 13
        total = s.count_chunks()
        assert total == sum(f.chunks for f in files)
        assert len(s.vectors) == total
        ids = [r[0] for r in s._conn.execute("SELECT id FROM chunks")]
        assert sorted(s.vectors.ids()) == sorted(ids)
        rows = s.chunks(ids)
        for f in files:  # every file has exactly its latest chunks, none twice
            texts = sorted(r.text for r in rows if r.file == f.path)
            assert texts == sorted(f"text {f.hash} {j}" for j in range(f.chunks))


def test_large_indexes_leave_common_query_tokens_out(index_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(store, "PRUNE_FROM", 1)
    with IndexStore.open(index_dir, META) as s:
        texts = [f"revenue report number {i}" for i in range(20)] + ["revenue of the zebra unit"]
        ids = s.replace_file("r.txt", "h", 1, 1, chunks_for("r.txt", texts), unit(21))
        assert [i for i, _ in s.lexical_search("zebra revenue", 50)] == [ids[-1]]
        assert len(s.lexical_search("revenue report", 50)) == 20  # all common: the rarest, "report"
        monkeypatch.setattr(store, "PRUNE_FROM", 10**9)
        assert len(s.lexical_search("zebra revenue", 50)) == 21


# -- two processes, damage, read-only ------------------------------------------------
def test_a_saved_copy_is_labelled_with_its_own_generation_and_never_goes_back(
    index_dir: Path,
) -> None:
    """Two stores on one index (as two processes would be): the one that closes last
    knew less when it opened, yet its save neither loses the other's vectors nor
    replaces a newer copy."""
    vecs = unit(6, 3)
    with IndexStore.open(index_dir, META) as s:
        s.replace_file("a.txt", "h", 1, 1, chunks_for("a.txt", ["alpha", "beta"]), vecs[:2])
    old = IndexStore.open(index_dir, META)  # a long-lived reader
    with IndexStore.open(index_dir, META) as new:
        b = new.replace_file("b.txt", "h", 1, 1, chunks_for("b.txt", ["gamma"]), vecs[2:3])
        a = new.replace_file("a.txt", "h2", 1, 2, chunks_for("a.txt", ["delta"]), vecs[3:4])
        generation = new.generation
    saved = faiss_index.read_header(index_dir / faiss_index.FILE)
    assert saved["generation"] == generation
    assert old.dense_search(vecs[3], 1)[0][0] == a[0]  # the reader sees the other's change
    old.close()
    assert faiss_index.read_header(index_dir / faiss_index.FILE)["generation"] == generation
    stale = faiss_index.FaissIndex(index_dir, DIM)
    assert not stale.save(saved["uid"], generation - 1)  # an older copy is refused
    with IndexStore.open(index_dir, META) as s:
        catalog = sorted(r[0] for r in s._conn.execute("SELECT id FROM chunks"))
        assert sorted(s.vectors.ids()) == catalog == sorted(a + b)
        assert s.dense_search(vecs[2], 1)[0][0] == b[0]


def test_vectors_that_disagree_with_the_catalog_are_repaired_on_open(index_dir: Path) -> None:
    """The file a pre-fix flush could write: labelled with the catalog's generation, but
    holding another process's ids. The ids are checked, not the label trusted."""
    ids, vecs = _populated(index_dir)
    with IndexStore.open(index_dir, META) as s:
        uid, generation = s._uid(), s.generation
        wrong = faiss_index.FaissIndex(index_dir, DIM)
        wrong.add(np.arange(1000, 1030, dtype=np.int64), unit(30, 99))
        s.read_only = True  # keep this store from saving over the planted file
    (index_dir / faiss_index.FILE).unlink()
    assert wrong.save(uid, generation)
    with IndexStore.open(index_dir, META) as s:
        catalog = sorted(r[0] for r in s._conn.execute("SELECT id FROM chunks"))
        assert sorted(s.vectors.ids()) == catalog
        assert s.dense_search(vecs[25], 1)[0][0] == ids[25]


def test_one_writer_at_a_time_and_readers_never_wait(index_dir: Path) -> None:
    first = IndexStore.open(index_dir, META)
    second = IndexStore.open(index_dir, META)
    waited = []
    try:
        with first.writing() as got:
            assert got
            with second.writing(on_wait=lambda: waited.append(1), should_stop=lambda: True) as g2:
                assert not g2 and waited == [1]
            assert second.dense_search(unit(1)[0], 3) == []  # a reader is not blocked
        with second.writing() as got:
            assert got
    finally:
        first.close()
        second.close()


def _damage_middle(db: Path) -> None:
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(size // 2 // 4096 * 4096)
        f.write(os.urandom(8192))


def _big_catalog(index_dir: Path) -> None:
    with IndexStore.open(index_dir, META) as s:
        for i in range(40):
            texts = [f"passage {i} {j} " + "words " * 60 for j in range(10)]
            s.replace_file(f"f{i}.txt", "h", 1, 1, chunks_for(f"f{i}.txt", texts), unit(10, i))
        s._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_damage_in_the_middle_of_the_catalog_is_found_on_open(index_dir: Path) -> None:
    _big_catalog(index_dir)
    _damage_middle(index_dir / store.CATALOG)
    with IndexStore.open(index_dir, META) as s:
        assert "damaged" in s.rebuild_reason
        assert s.count_chunks() == 0
        s.replace_file("a.txt", "h", 1, 1, chunks_for("a.txt", ["x"]), unit(1))


def test_damage_met_by_a_query_is_an_index_damaged_error(index_dir: Path) -> None:
    _big_catalog(index_dir)
    with IndexStore.open(index_dir, META) as s:
        root = s._conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'chunks'")
        page = root.fetchone()[0]
        with open(index_dir / store.CATALOG, "r+b") as f:  # garbage over the chunks' b-tree
            f.seek((page - 1) * 4096)
            f.write(os.urandom(4096))
        s._conn.execute("PRAGMA cache_size = 0")
        with pytest.raises(store.IndexDamagedError, match="damaged"):
            s.chunks(range(1, 401))
        s.read_only = True


def test_a_read_only_catalog_is_opened_read_only_and_kept(index_dir: Path, monkeypatch) -> None:
    ids, vecs = _populated(index_dir)
    kept = (store.CATALOG, faiss_index.FILE)
    before = {name: (index_dir / name).read_bytes() for name in kept}
    real = store._connect

    def read_only_folder(path):  # what SQLite says when the folder cannot be written
        err = sqlite3.OperationalError("attempt to write a readonly database")
        err.sqlite_errorcode = 8
        raise err

    monkeypatch.setattr(store, "_connect", read_only_folder)
    with IndexStore.open(index_dir, META) as s:
        assert s.read_only and not s.rebuild_reason
        assert s.dense_search(vecs[25], 1)[0][0] == ids[25]
        with pytest.raises(store.IndexReadOnlyError), s.writing():
            pass
        with pytest.raises(store.IndexReadOnlyError):
            s.remove_file("f0.txt")
    monkeypatch.setattr(store, "_connect", real)
    assert {name: (index_dir / name).read_bytes() for name in kept} == before


def test_the_multilingual_space_is_a_vector_index_of_its_own(index_dir: Path) -> None:
    """Multilingual vectors (rag.multilingual) are searched through the same vector index
    protocol as the main ones, saved apart (same dimension here, so a mix-up would show),
    and kept in step with the catalog when files change."""
    main, ml = unit(3, seed=1), unit(3, seed=2)
    texts = ["北京是首都。", "Laptops are replaced.", "钢琴有八十八个键。"]
    with IndexStore.open(index_dir, META) as s:
        ids = s.replace_file(
            "mixed.txt",
            "h",
            1,
            1,
            chunks_for("mixed.txt", texts),
            main,
            ml_vectors={0: ml[0], 2: ml[2]},
        )
        assert s.multilingual_ids() == {ids[0], ids[2]}
        assert s.multilingual_search(ml[2], 1) == [(ids[2], pytest.approx(1.0, abs=1e-5))]
        assert s.multilingual_search(main[1], 5) and ids[1] not in dict(
            s.multilingual_search(main[1], 5)
        )
    saved = faiss_index.files("multilingual")[0]
    assert faiss_index.read_header(index_dir / saved)["ntotal"] == 2
    with IndexStore.open(index_dir, META) as s:
        assert [c for c, _ in s.multilingual_search(ml[0], 2)] == [ids[0], ids[2]]
        assert s.dense_search(main[0], 1)[0][0] == ids[0]
        s.set_ml_vectors([ids[1]], ml[1:2])
        assert s.multilingual_search(ml[1], 1)[0][0] == ids[1]
        s.remove_file("mixed.txt")
        assert s.multilingual_ids() == frozenset() and s.multilingual_search(ml[0], 3) == []
