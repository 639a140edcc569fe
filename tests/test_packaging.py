"""The Linux installer as a user gets it: the .deb unpacked, run with a bare environment.

No Python, no PYTHONPATH, no HF cache and no network reach the program: only
PATH=/usr/bin:/bin and an empty HOME. The bundle is built once (PyInstaller,
about eight minutes on two cores) and reused while it is newer than every
source file; the .deb is built with fast compression, which is all a test needs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "northwind"
QUESTION = "How many days of paid holiday do full-time employees get per year?"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or shutil.which("dpkg-deb") is None,
        reason="the .deb is built and unpacked with dpkg-deb on Linux",
    ),
]


def _skip_if_disk_full(output: str, where: Path) -> None:
    """A machine whose disk fills up cannot say anything about the installer."""
    if "No space left on device" in output:
        free = shutil.disk_usage(where).free / 2**30
        pytest.skip(f"the disk filled up while building or unpacking the .deb ({free:.1f} GB free)")


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory):
    """The .deb, built (or its bundle reused) and unpacked into a temporary root.

    The bundle, the .deb and the unpacked copy are each a few GB: the unpacked
    copy is removed when the module ends, and the bundle kept for reuse only
    while the disk has room for both.
    """
    pytest.importorskip("PyInstaller")
    out = tmp_path_factory.mktemp("deb")
    build = subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "build.py"),
            "--fast",
            "--reuse-bundle",
            "--work",
            str(ROOT / "build"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=40 * 60,
    )
    if build.returncode:
        shutil.rmtree(out, ignore_errors=True)
        _skip_if_disk_full(build.stdout + build.stderr, ROOT)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (deb,) = out.glob("quarry_*.deb")
    root = tmp_path_factory.mktemp("root")
    installed = 1024 * int(
        subprocess.run(
            ["dpkg-deb", "--field", str(deb), "Installed-Size"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    if shutil.disk_usage(root).free < 1.5 * installed:
        for scratch in ("dist", "pyinstaller"):  # rebuilt on the next run
            shutil.rmtree(ROOT / "build" / scratch, ignore_errors=True)
    unpack = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
    deb.unlink()
    if unpack.returncode:
        shutil.rmtree(root, ignore_errors=True)
        _skip_if_disk_full(unpack.stderr, ROOT)
    assert unpack.returncode == 0, unpack.stderr[-3000:]
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One empty HOME for both runs, so the second reuses the first one's index."""
    return tmp_path_factory.mktemp("home")


def _run(root: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(home), **env}
    return subprocess.run(
        [str(root / "opt" / "quarry" / "quarry"), *args],
        env=bare,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=15 * 60,
    )


def test_package_installs_a_launcher_a_menu_entry_and_an_icon(unpacked: Path) -> None:
    launcher = (unpacked / "usr" / "bin" / "quarry").read_text()
    assert "exec /opt/quarry/quarry" in launcher
    assert os.access(unpacked / "usr" / "bin" / "quarry", os.X_OK)
    desktop = (unpacked / "usr" / "share" / "applications" / "quarry.desktop").read_text()
    assert "Exec=quarry" in desktop and "Icon=quarry" in desktop
    assert (unpacked / "usr/share/icons/hicolor/256x256/apps/quarry.png").stat().st_size > 1000
    # Nothing outside the three trees a package may own.
    tops = {p.relative_to(unpacked).parts[:2] for p in unpacked.rglob("*") if p.is_file()}
    assert tops <= {("opt", "quarry"), ("usr", "bin"), ("usr", "share")}, tops


def test_ask_answers_with_citations_in_a_bare_environment(unpacked: Path, home: Path) -> None:
    r = _run(unpacked, home, "--docs", str(SAMPLE), "--ask", QUESTION, "--json", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    answer = json.loads(r.stdout.strip().splitlines()[-1])
    assert not answer["refused"], answer
    assert answer["sources"] and answer["text"].strip()
    cited = {c["source"] for s in answer["sentences"] for c in s["citations"]}
    assert cited, {key: answer.get(key) for key in ("text", "model_text", "note", "evidence")}
    numbers = {s["number"] for s in answer["sources"]}
    assert cited <= numbers
    assert {s["file"] for s in answer["sources"]} <= {p.name for p in SAMPLE.iterdir()}
    # It wrote only under the user's data (and config) folders.
    written = [p.relative_to(home).parts for p in home.rglob("*") if p.is_file()]
    assert written
    outside = [
        p
        for p in written
        if p[:3] != (".local", "share", "Quarry") and p[:2] != (".config", "Quarry")
    ]
    assert not outside, outside
    # Passages were embedded by the int8 export on onnxruntime, not by the torch fallback.
    assert any(home.rglob("model.int8.onnx")), "the bundle fell back to torch for embeddings"


def test_smoke_test_opens_the_window_indexes_and_answers(unpacked: Path, home: Path) -> None:
    r = _run(unpacked, home, "--smoke-test", "--docs", str(SAMPLE), QT_QPA_PLATFORM="offscreen")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "smoke test: answered" in r.stdout, r.stdout
