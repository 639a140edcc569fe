"""The command line as a user runs it: exit codes, JSON shapes, the summary, and a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag.cli import ProgressBar
from rag.types import IndexProgress

ROOT = Path(__file__).resolve().parent.parent


def quarry(
    *args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def test_missing_folder_exits_non_zero_with_a_message(tmp_path):
    r = quarry("--docs", str(tmp_path / "missing"), "--search", "x")
    assert r.returncode == 1
    assert "does not exist" in r.stderr


def test_search_needs_docs():
    r = quarry("--search", "x")
    assert r.returncode == 2 and "--docs" in r.stderr


def test_invalid_flag_value_names_the_flag(tmp_path):
    r = quarry("--docs", str(tmp_path), "--search", "x", "--k", "0")
    assert r.returncode == 2 and "k must be between 1 and 100" in r.stderr


def test_progress_line_shows_both_phases_with_time_left():
    line = ProgressBar.line(3, 10, IndexProgress("reports/q3.pdf", 120, 6.0, eta=140.0))
    assert "3 of 10 files read" in line and "120 chunks" in line
    assert "about 2 min left" in line and "reports/q3.pdf" in line
    line = ProgressBar.line(
        350, 1000, IndexProgress("", 1000, 30.0, "embedding", files_ready=46, eta=360.0)
    )
    assert "all 46 files searchable · meaning index 35%, about 6 min left" in line


@pytest.mark.slow
def test_nothing_indexable_exits_non_zero(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    r = quarry("--docs", str(tmp_path), "--search", "x")
    assert r.returncode == 3
    assert "nothing could be indexed" in r.stderr
    assert "a.png" in r.stderr and "empty.txt" in r.stderr  # the summary names each file


@pytest.mark.slow
def test_search_json_and_stdin_lines(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "fleet.md").write_text(
        "# Fleet\n\nThe company owns 14 delivery vans, all electric since 2021.\n", encoding="utf-8"
    )
    (docs / "hr.txt").write_text("Annual leave is 28 days for every employee.\n", encoding="utf-8")
    (docs / "bad.txt").write_bytes(bytes(range(256)) * 40)
    r = quarry("--docs", str(docs), "--search", "how many vans", "--json", "--k", "2")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["question"] == "how many vans"
    assert out["hits"][0]["file"] == "sub/fleet.md"
    assert out["hits"][0]["page"] is None
    assert isinstance(out["hits"][0]["score"], float)
    assert "bad.txt" in r.stderr  # listed in the summary with its reason

    r = quarry("--docs", str(docs), "--search", "-", "--quiet", stdin="vans\n\nannual leave days\n")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["question"] for x in lines] == ["vans", "annual leave days"]
    assert lines[1]["hits"][0]["file"] == "hr.txt"


_DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from rag.engine import Engine
    def progress(done, total, detail):
        print(done, flush=True)
    with Engine() as e:
        e.index(Path(sys.argv[1]), on_progress=progress)
""")


@pytest.mark.slow
def test_sigkill_mid_index_leaves_a_consistent_index(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        body = "\n\n".join(
            f"Report {i} paragraph {j}: the depot in region {i} shipped "
            f"{i * 100 + j} parcels in week {j}."
            for j in range(30)
        )
        (docs / f"report{i:02d}.txt").write_text(body, encoding="utf-8")
    env = {**os.environ, "QUARRY_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(docs)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        for line in proc.stdout:
            if int(line) >= 5:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    from rag.engine import Engine
    from rag.types import FileStatus

    monkeypatch.setenv("QUARRY_DATA_DIR", env["QUARRY_DATA_DIR"])
    with Engine() as e:
        report = e.index(docs)
        assert not report.cancelled
        assert report.count(FileStatus.UNCHANGED) >= 4  # kept from before the kill
        files = e.files()
        assert {f.status for f in files} == {FileStatus.INDEXED}
        per_file = {f.file: f.chunks for f in files}
        assert e._store.count_chunks() == sum(per_file.values())
        hits = e.search("region 7 shipped parcels week 3", k=10)
        assert len({(h.file, h.start) for h in hits}) == len(hits)
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "clean"))
    with Engine() as clean:
        clean.index(docs)
        assert {f.file: f.chunks for f in clean.files()} == per_file
