"""The index stays true under two processes, damage, a full and a read-only disk, and
file names that are not UTF-8 (issue 10), tested with real Quarry processes.

Each scenario runs ``main.py --search`` (or ``--search -``) in child processes on a
small folder of text files, then compares what is left on disk with a clean index
of the same folder built in this process: the same chunks, a saved vector file whose
ids are exactly the catalog's, and the same hits.

A full disk is a tmpfs with 96 KB free and a read-only data folder a tmpfs remounted
read-only where this machine lets the tests mount (root with CAP_SYS_ADMIN);
elsewhere the same errors are injected into the child at the SQLite and OS
boundary (tests/faults/sitecustomize.py), and a non-root user gets a real
read-only folder from chmod.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import paths, store
from rag.engine import Engine
from rag.settings import IndexSettings, Settings
from rag.types import FileStatus
from rag.vectors import faiss_index

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FAULTS = Path(__file__).resolve().parent / "faults"

TOPICS = {
    "violin": "The violin is a wooden string instrument played with a bow; its four strings "
    "are tuned in fifths and it sings the melody in an orchestra.",
    "zeppelin": "A zeppelin is a rigid airship with a fabric skin over a metal frame, lifted "
    "by hydrogen or helium gas cells, that crossed the Atlantic in the 1930s.",
    "whale": "The blue whale is the largest animal known to have lived; it filters krill "
    "through baleen plates and calls to others across hundreds of kilometres of ocean.",
    "volcano": "A volcano erupts when magma rises through the crust; ash clouds from large "
    "eruptions can cool the climate for a year or more.",
    "bread": "Sourdough bread rises with wild yeast and lactic bacteria kept alive in a "
    "starter that bakers feed with flour and water every day.",
    "glacier": "Glaciers are rivers of ice that move downhill under their own weight, "
    "carving U-shaped valleys and leaving moraines where they melt.",
    "chess": "In chess the knight moves in an L shape and is the only piece that can jump "
    "over others; castling moves the king two squares toward a rook.",
    "coffee": "Coffee beans are the roasted seeds of a cherry grown on shrubs in the "
    "tropics; arabica grows at altitude and tastes milder than robusta.",
}
QUESTIONS = [
    "musical instrument with strings",
    "airship filled with gas",
    "largest animal in the ocean",
    "how does a knight move",
]


def make_folder(folder: Path, copies: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        for name, text in TOPICS.items():
            # Copies differ in length, so no two passages tie in any ranking.
            extra = " These notes were checked again." * i
            (folder / f"{name}-{i}.txt").write_text(
                f"{name.capitalize()} notes, part {i}.\n\n{text}{extra}\n", "utf-8"
            )
    return folder


def quarry(
    data: Path, *args: str, fault: str = "", stdin=None, popen: bool = False, timeout: float = 300
):
    env = {
        **os.environ,
        "QUARRY_DATA_DIR": str(data),
        "PYTHONPATH": os.pathsep.join(([str(FAULTS)] if fault else []) + [str(ROOT)]),
        "QUARRY_TEST_FAULT": fault,
    }
    # The float model: the int8 one's vectors depend a little on which texts share a
    # batch, and these tests compare indexes built in different batches.
    cmd = [sys.executable, str(ROOT / "main.py"), "--embedding-runtime", "torch", *args]
    if popen:
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    return subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, input=stdin
    )


@contextlib.contextmanager
def data_dir(monkeypatch, data: Path):
    with monkeypatch.context() as m:
        m.setenv("QUARRY_DATA_DIR", str(data))
        yield


@pytest.fixture(scope="module")
def embedder():
    """The bundled model on torch, as the child processes run it; loaded once."""
    from rag.embeddings import Embedder

    return Embedder("default", runtime="torch")


def engine_for(embedder) -> Engine:
    engine = Engine(Settings(index=IndexSettings(embedding_runtime="torch")))
    engine._embedder = embedder  # loaded once for all tests
    return engine


def saved_state(data: Path, folder: Path) -> dict:
    """What is on disk, read without opening (and so repairing) the index."""
    directory = paths_index(data, folder)
    conn = sqlite3.connect(f"file:{directory / store.CATALOG}?mode=ro", uri=True)
    try:
        uid, generation = conn.execute("SELECT uid, generation FROM state").fetchone()
        chunks = sorted(
            conn.execute(
                "SELECT f.path, c.page, c.start, c.end, c.text FROM chunks c "
                "JOIN files f ON f.id = c.file_id"
            ).fetchall()
        )
        ids = sorted(r[0] for r in conn.execute("SELECT id FROM chunks"))
        dup = conn.execute("SELECT count(*) - count(DISTINCT path) FROM files").fetchone()[0]
    finally:
        conn.close()
    header = faiss_index.read_header(directory / faiss_index.FILE)
    vectors = faiss_index.open_index(directory, 384, uid)
    return {
        "chunks": chunks,
        "catalog_ids": ids,
        "vector_ids": sorted(vectors.ids().tolist()),
        "vector_generation": header["generation"] if header else None,
        "generation": generation,
        "duplicate_files": dup,
    }


def build_here(data: Path, folder: Path, embedder, monkeypatch):
    """Index ``folder`` into ``data`` in this process (the cheap way to set a scene)."""
    with data_dir(monkeypatch, data), engine_for(embedder) as engine:
        return engine.index(folder)


def hits(engine: Engine) -> list[list[tuple]]:
    return [
        [(h.file, h.page, h.start, h.end, h.score) for h in engine.search(q, 5)] for q in QUESTIONS
    ]


def assert_same_hits(got: list[list[tuple]], want: list[list[tuple]]) -> None:
    """The same passages in the same order at the top, and the same scores all the way
    down (lower places may swap between passages of equal score)."""
    for g, w in zip(got, want, strict=True):
        assert [h[:4] for h in g[:3]] == [h[:4] for h in w[:3]]
        assert [h[4] for h in g] == pytest.approx([h[4] for h in w], abs=0.005)


@pytest.fixture
def clean(tmp_path_factory, embedder, monkeypatch):
    """A clean index of a folder built in this process: (its state, its hits)."""

    def build(folder: Path):
        data = tmp_path_factory.mktemp("clean-data")
        with data_dir(monkeypatch, data), engine_for(embedder) as engine:
            engine.index(folder)
            found = hits(engine)
        return saved_state(data, folder), found

    return build


def assert_like_clean(data: Path, folder: Path, clean_state, embedder, monkeypatch) -> None:
    state_before = saved_state(data, folder)
    state, clean_hits = clean_state
    assert state_before["duplicate_files"] == 0
    assert state_before["chunks"] == state["chunks"]
    assert state_before["vector_ids"] == state_before["catalog_ids"]
    assert state_before["vector_generation"] == state_before["generation"]
    with data_dir(monkeypatch, data), engine_for(embedder) as engine:
        engine.open_folder(folder)
        assert_same_hits(hits(engine), clean_hits)
        report = engine.index()  # a true index: nothing left to do
        assert report.count(FileStatus.INDEXED) == 0 and not report.removed


def test_two_writers_started_together_leave_a_true_index(tmp_path, embedder, clean, monkeypatch):
    folder = make_folder(tmp_path / "docs")
    data = tmp_path / "data"
    procs = [
        quarry(data, "--docs", str(folder), "--search", QUESTIONS[0], popen=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    summaries = [err for _, err in outs]
    assert sum("32 files indexed" in s for s in summaries) == 1, summaries  # not twice
    assert_like_clean(data, folder, clean(folder), embedder, monkeypatch)


def test_a_long_lived_reader_and_a_writer(tmp_path, embedder, clean, monkeypatch):
    folder = make_folder(tmp_path / "docs", copies=2)
    data = tmp_path / "data"
    reader = quarry(data, "--docs", str(folder), "--search", "-", popen=True, stdin=subprocess.PIPE)
    reader.stdin.write("whale\n")
    reader.stdin.flush()
    assert "whale" in reader.stdout.readline()
    (folder / "whale-0.txt").write_text(
        "Whale notes, part 0.\n\nA humpback whale sings songs that change every season.\n",
        "utf-8",
    )
    (folder / "harp.txt").write_text("The harp is a string instrument plucked by hand.\n")
    writer = quarry(data, "--docs", str(folder), "--search", "humpback songs")
    assert writer.returncode == 0, writer.stderr
    assert "2 files indexed" in writer.stderr
    reader.stdin.write("humpback whale songs\n")
    reader.stdin.flush()
    line = reader.stdout.readline()  # the reader searches what the writer wrote
    assert '"file": "whale-0.txt"' in line.split("}")[0] and "humpback" in line
    reader.stdin.close()
    assert reader.wait(timeout=120) == 0, reader.stderr.read()
    assert_like_clean(data, folder, clean(folder), embedder, monkeypatch)


def damage_middle(db: Path) -> None:
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(size // 2 // 4096 * 4096)
        f.write(os.urandom(8192))


def test_damage_in_the_middle_of_the_catalog_is_rebuilt(tmp_path, embedder, clean, monkeypatch):
    folder = make_folder(tmp_path / "docs")
    data = tmp_path / "data"
    build_here(data, folder, embedder, monkeypatch)
    damage_middle(paths_index(data, folder) / store.CATALOG)
    run = quarry(data, "--docs", str(folder), "--search", QUESTIONS[0])
    assert run.returncode == 0, run.stderr
    assert "rebuilding the index" in run.stderr and "damaged" in run.stderr
    assert "32 files indexed" in run.stderr and "Traceback" not in run.stderr
    assert_like_clean(data, folder, clean(folder), embedder, monkeypatch)


def paths_index(data: Path, folder: Path) -> Path:
    old = os.environ.get("QUARRY_DATA_DIR")
    os.environ["QUARRY_DATA_DIR"] = str(data)
    try:
        return paths.index_dir_for(folder)
    finally:
        os.environ["QUARRY_DATA_DIR"] = old or ""


@contextlib.contextmanager
def tmpfs(where: Path, size: str):
    """A real tmpfs of ``size`` at ``where``, or None where mounting is not allowed."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        ok = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                capture_output=True,
                timeout=30,
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        ok = False
    try:
        yield where if ok else None
    finally:
        if ok:
            for _ in range(50):
                if subprocess.run(["umount", str(where)], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)


def no_temporary_files(data: Path) -> list[Path]:
    return [p for p in data.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("how", ["tmpfs", "simulated"])
def test_a_full_disk_ends_in_one_sentence(tmp_path, embedder, clean, monkeypatch, how):
    folder = make_folder(tmp_path / "docs")
    with tmpfs(tmp_path / "disk", "8m") as disk:
        if how == "tmpfs":
            if disk is None:
                pytest.skip("this machine does not let the tests mount a tmpfs")
            data = disk / "data"
            data.mkdir()
            (disk / "filler").write_bytes(b"\0" * (8 * 1024 * 1024 - 96 * 1024))  # 96 KB free
            full = quarry(data, "--docs", str(folder), "--search", QUESTIONS[0])
        else:
            data = tmp_path / "data"
            full = quarry(data, "--docs", str(folder), "--search", QUESTIONS[0], fault="disk-full")
        assert full.returncode == 1, full.stderr
        assert "Traceback" not in full.stderr
        (last,) = [line for line in full.stderr.splitlines() if line.startswith("quarry:")]
        assert "disk is full" in last and "free some disk space" in last
        assert no_temporary_files(data) == []
        if how == "tmpfs":
            (disk / "filler").unlink()
        report = build_here(data, folder, embedder, monkeypatch)  # space again: it resumes
        assert not report.problems
        assert_like_clean(data, folder, clean(folder), embedder, monkeypatch)


def _digest(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in directory.iterdir()
        if p.name in (store.CATALOG, faiss_index.FILE)
    }


@pytest.mark.parametrize("how", ["mount", "simulated"])
def test_a_read_only_data_folder_keeps_and_uses_its_index(
    tmp_path, embedder, clean, monkeypatch, how
):
    folder = make_folder(tmp_path / "docs", copies=2)
    with tmpfs(tmp_path / "disk", "64m") as disk:
        if how == "mount" and disk is None and os.geteuid() == 0:
            pytest.skip("root without the right to mount: only the simulation runs")
        data = (disk if how == "mount" and disk is not None else tmp_path) / "data"
        build_here(data, folder, embedder, monkeypatch)
        index = paths_index(data, folder)
        before = _digest(index)
        fault = ""
        if how == "simulated":
            fault = "read-only"
        elif disk is not None:
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        else:  # not root: a folder without write permission is read-only for real
            for p in [data, *data.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o222)
        try:
            run = quarry(
                data, "--docs", str(folder), "--search", QUESTIONS[0], "--json", fault=fault
            )
        finally:
            if how == "mount" and disk is not None:
                subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
            elif not fault:
                for p in [data, *data.rglob("*")]:
                    p.chmod(p.stat().st_mode | 0o200)
        assert run.returncode == 0, run.stderr
        assert "read-only" in run.stderr and "Traceback" not in run.stderr
        assert '"file": "violin-' in run.stdout
        assert _digest(index) == before  # the index survives, untouched
        assert_like_clean(data, folder, clean(folder), embedder, monkeypatch)


def test_file_names_that_are_not_utf8_stay_apart(tmp_path, embedder, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    raw = os.fsencode(folder)
    for byte, text in ((b"\xfe", TOPICS["violin"]), (b"\xff", TOPICS["zeppelin"])):
        with open(raw + b"/bad" + byte + b".txt", "wb") as f:
            f.write(text.encode())
    data = tmp_path / "data"
    first = quarry(data, "--docs", str(folder), "--search", QUESTIONS[0], "--json")
    assert first.returncode == 0, first.stderr
    assert "2 files indexed" in first.stderr
    assert '"file": "bad\\\\xfe.txt"' in first.stdout
    with data_dir(monkeypatch, data), engine_for(embedder) as engine:
        report = engine.index(folder)
        assert (report.count(FileStatus.UNCHANGED), report.count(FileStatus.INDEXED)) == (2, 0)
        assert engine.search(QUESTIONS[1], 1)[0].file == "bad\\xff.txt"
        assert sorted(f.file for f in engine.files()) == ["bad\\xfe.txt", "bad\\xff.txt"]
        for shown, text in (("bad\\xfe.txt", "violin"), ("bad\\xff.txt", "zeppelin")):
            assert os.path.exists(engine.absolute_path(shown))
            assert text in engine.source_text(shown, None)
