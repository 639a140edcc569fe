"""Before Qt starts: are the system libraries its window needs installed?

Qt's own answer to a missing ``libxcb-cursor0`` is "could not load the Qt platform
plugin "xcb"" and an abort, which names no package. This module asks the dynamic
linker (``ldd``) which libraries Qt's window and platform plugin cannot find, and
says which packages provide them on Debian/Ubuntu and Fedora. It never imports
PySide6 (it runs before it), and it is the one list of those libraries: the
.deb's dependencies are built from it too.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora package)
QT_SYSTEM_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libnss3.so": ("libnss3", "nss"),
}
# What a fresh desktop install most often lacks: declared by the .deb, listed in the README.
DEB_DEPENDS = [
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xkb1",
    "libxkbcommon-x11-0",
    "libfontconfig1",
    "libdbus-1-3",
]

_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)
_CANNOT_OPEN = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")


def qt_libraries(platform: str | None = None) -> list[Path]:
    """The Qt libraries (and the platform plugin) the window loads, found without importing
    PySide6; empty where they cannot be found (then nothing is checked)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations)))
    qt = root / "Qt"
    lib = qt / "lib" if (qt / "lib").is_dir() else root
    wanted = [lib / f"libQt6{m}.so.6" for m in ("Gui", "Widgets", "Pdf")]
    if platform in (None, "", "xcb"):
        wanted += [lib / "libQt6XcbQpa.so.6", qt / "plugins" / "platforms" / "libqxcb.so"]
    return [p for p in wanted if p.is_file()]


def missing_libraries(libraries: list[Path]) -> list[str]:
    """Sonames that ``libraries`` need and the dynamic linker cannot find, in order."""
    missing: list[str] = []
    ldd = shutil.which("ldd")
    for path in libraries:
        if ldd:
            try:
                out = subprocess.run(
                    [ldd, str(path)], capture_output=True, text=True, timeout=30
                ).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            found = _NOT_FOUND.findall(out)
        else:  # no ldd: loading it names the first library it lacks
            import ctypes

            try:
                ctypes.CDLL(str(path))
                found = []
            except OSError as exc:
                found = _CANNOT_OPEN.findall(str(exc))
        missing += [name for name in found if name not in missing]
    return missing


def explain(missing: list[str]) -> str:
    """What is missing and the commands that install it, in plain words."""
    debian = sorted({QT_SYSTEM_LIBRARIES[m][0] for m in missing if m in QT_SYSTEM_LIBRARIES})
    fedora = sorted({QT_SYSTEM_LIBRARIES[m][1] for m in missing if m in QT_SYSTEM_LIBRARIES})
    lines = [
        "Quarry cannot open its window: the system lacks libraries that Qt needs ("
        + ", ".join(missing)
        + ")."
    ]
    if debian:
        lines.append(f"On Debian or Ubuntu: sudo apt install {' '.join(debian)}")
        lines.append(f"On Fedora: sudo dnf install {' '.join(fedora)}")
    unknown = [m for m in missing if m not in QT_SYSTEM_LIBRARIES]
    if unknown:
        lines.append(
            "Install the package that provides "
            + ", ".join(unknown)
            + " with your package manager."
        )
    lines.append("The command-line modes (--ask, --search) work without them.")
    return "\n".join(lines)


def check(libraries: list[Path] | None = None) -> str | None:
    """None when the window can start, else the message to print (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    if libraries is None:
        platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
        libraries = qt_libraries(platform)
    missing = missing_libraries(libraries)
    return explain(missing) if missing else None
