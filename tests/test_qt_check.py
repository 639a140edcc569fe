"""A missing Qt system library is named, with the packages to install, before Qt aborts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import qt_check

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("gcc") is None,
    reason="needs Linux and a C compiler to build a library with a missing dependency",
)


@pytest.fixture
def broken_library(tmp_path: Path) -> Path:
    """A real shared library whose dependency ``libquarryprobe.so.1`` is gone."""
    dep = tmp_path / "dep.c"
    dep.write_text("int quarry_probe(void) { return 1; }\n")
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-Wl,-soname,libquarryprobe.so.1",
            "-o",
            str(tmp_path / "libquarryprobe.so.1"),
            str(dep),
        ],
        check=True,
    )
    (tmp_path / "libquarryprobe.so").symlink_to("libquarryprobe.so.1")
    user = tmp_path / "user.c"
    user.write_text("int quarry_probe(void); int use(void) { return quarry_probe(); }\n")
    lib = tmp_path / "libqxcb-probe.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(lib), str(user), f"-L{tmp_path}", "-lquarryprobe"],
        check=True,
    )
    (tmp_path / "libquarryprobe.so.1").unlink()
    (tmp_path / "libquarryprobe.so").unlink()
    return lib


def test_a_missing_library_is_found_by_the_dynamic_linker(broken_library):
    assert qt_check.missing_libraries([broken_library]) == ["libquarryprobe.so.1"]
    message = qt_check.check([broken_library])
    assert message.startswith("Quarry cannot open its window")
    assert "libquarryprobe.so.1" in message and "package manager" in message


def test_the_real_qt_libraries_are_complete_here():
    libraries = qt_check.qt_libraries()
    assert any(p.name == "libQt6Gui.so.6" for p in libraries)
    assert qt_check.check(qt_check.qt_libraries("offscreen")) is None


def test_known_libraries_are_named_with_debian_and_fedora_packages():
    message = qt_check.explain(["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in message
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in message


def test_main_reports_it_and_exits_before_loading_qt(broken_library, monkeypatch, capsys):
    import main

    monkeypatch.setattr(qt_check, "qt_libraries", lambda platform=None: [broken_library])
    code = main.main(["--docs", str(broken_library.parent)])
    assert code == 1
    err = capsys.readouterr().err
    assert "libquarryprobe.so.1" in err and "Traceback" not in err


def test_the_deb_declares_the_qt_libraries():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packaging"))
    try:
        import build
    finally:
        sys.path.pop(0)
    for package in qt_check.DEB_DEPENDS:
        assert package in build.DEB_DEPENDS
