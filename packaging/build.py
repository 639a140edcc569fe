"""Build the current platform's Quarry installer from this checkout.

    .venv/bin/python packaging/build.py            # bundle + the platform's installers
    .venv/bin/python packaging/build.py --fast     # Linux: quickly compressed .deb only (tests)

Linux gives ``quarry_<version>_<arch>.deb`` and ``quarry-<version>-linux-<arch>.tar.gz``;
Windows a setup ``.exe`` (when Inno Setup's ISCC is on PATH) and a ``.zip``;
macOS ``Quarry.app`` inside ``Quarry-<version>-macos-<arch>.dmg``. GPU variants
(``--variant cuda`` / ``metal``) carry a suffix in their file names and must be
built in an environment whose llama-cpp-python was compiled for that GPU (see
LLAMA_CMAKE_ARGS); the build checks the libraries before it starts.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import stat
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# How llama-cpp-python must be compiled for each variant (the release workflow
# uses these). CPU builds are portable AVX2, never native: a native build can
# emit instructions (AMX, AVX-512) that fault on the user's CPU.
LLAMA_CMAKE_ARGS = {
    "cpu": "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DLLAVA_BUILD=OFF",
    "cuda": "-DGGML_CUDA=on -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON "
    "-DGGML_F16C=ON -DLLAVA_BUILD=OFF",
    "metal": "-DGGML_METAL=on -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF",
}


def _qt_check_depends() -> list[str]:
    sys.path.insert(0, str(ROOT))
    try:
        from app.qt_check import DEB_DEPENDS as qt_depends
    finally:
        sys.path.pop(0)
    return list(qt_depends)


# Shared libraries the system must provide (everything else is in the bundle):
# glibc, and the GL/xcb stack Qt's window needs. Measured with ldd over the bundle.
# The xcb helper libraries come from app/qt_check.py, which diagnoses them at start.
DEB_DEPENDS = ["libgl1", "libegl1", "libxcb1", *_qt_check_depends()]


class BuildError(RuntimeError):
    """A precondition of the build is not met; the message says what to do."""


def project_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def default_variant() -> str:
    return "metal" if sys.platform == "darwin" and platform.machine() == "arm64" else "cpu"


def check_llama_variant(variant: str) -> None:
    """Refuse to label a bundle with a GPU it was not compiled for (or the reverse)."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("llama-cpp-python is not installed; run `make install` first.")
    names = " ".join(
        p.name for p in (Path(next(iter(spec.submodule_search_locations))) / "lib").iterdir()
    )
    has_cuda = "ggml-cuda" in names
    if variant == "cuda" and not has_cuda:
        raise BuildError(
            "--variant cuda, but llama-cpp-python has no CUDA library; reinstall it "
            f'with CMAKE_ARGS="{LLAMA_CMAKE_ARGS["cuda"]}".'
        )
    if variant == "cpu" and has_cuda:
        raise BuildError(
            "This llama-cpp-python was built with CUDA; a CPU build needs "
            f'CMAKE_ARGS="{LLAMA_CMAKE_ARGS["cpu"]}".'
        )
    if variant == "metal" and sys.platform != "darwin":
        raise BuildError("The Metal variant is built on macOS only.")


def sources_mtime() -> float:
    """The newest modification time among the files that end up in the bundle."""
    newest = (ROOT / "main.py").stat().st_mtime
    for folder in ("rag", "models", "app", "packaging", "examples"):
        for p in (ROOT / folder).rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts:
                newest = max(newest, p.stat().st_mtime)
    return newest


def build_bundle(work: Path, reuse: bool) -> Path:
    """Run PyInstaller on quarry.spec; the one-folder bundle is ``work/dist/quarry``."""
    bundle = work / "dist" / "quarry"
    exe = bundle / ("quarry.exe" if sys.platform == "win32" else "quarry")
    if sys.platform == "darwin":
        bundle = work / "dist" / "Quarry.app"
        exe = bundle / "Contents" / "MacOS" / "Quarry"
    if reuse and exe.is_file() and exe.stat().st_mtime > sources_mtime():
        print(f"build: reusing {bundle} (newer than every source file)")
        return bundle
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "pyinstaller"),
            str(HERE / "quarry.spec"),
        ],
        check=True,
        cwd=ROOT,
    )
    print(f"build: PyInstaller took {time.monotonic() - started:.0f} s")
    share_model_files(work / "pyinstaller", bundle)
    return bundle


def share_model_files(assembled: Path, bundle: Path) -> None:
    """Make the bundle's GGUF files hard links to the ones assembled for it.

    PyInstaller copies every data file; for the bundled LLMs that is gigabytes
    stored twice in the build tree, which is what fills a small disk.
    """
    sources = {p.name: p for p in assembled.rglob("*.gguf")}
    for copy in bundle.rglob("*.gguf"):
        src = sources.get(copy.name)
        if src is None or copy.samefile(src) or src.stat().st_size != copy.stat().st_size:
            continue
        tmp = copy.with_name(f".linking-{copy.name}")
        try:
            os.link(src, tmp)
            os.replace(tmp, copy)
        except OSError:  # another file system: keep the copy
            tmp.unlink(missing_ok=True)


def tree_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def _place(src: Path, dest: Path, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    dest.chmod(mode)


def _link_or_copy(src: str, dest: str) -> None:
    """Hard links make staging a 2 GB tree instant; copy across file systems."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def build_deb(
    bundle: Path, work: Path, out: Path, version: str, variant: str, compress: bool
) -> Path:
    """A .deb installing the bundle in /opt/quarry, ``quarry`` in /usr/bin, and a menu entry.

    Every installed file is in the package's file list, so removing it leaves nothing.
    """
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()
    root = work / "deb" / "root"
    shutil.rmtree(root.parent, ignore_errors=True)
    shutil.copytree(bundle, root / "opt" / "quarry", symlinks=True, copy_function=_link_or_copy)
    _place(HERE / "linux" / "quarry.sh", root / "usr" / "bin" / "quarry", 0o755)
    _place(
        HERE / "linux" / "quarry.desktop",
        root / "usr" / "share" / "applications" / "quarry.desktop",
        0o644,
    )
    icons = root / "usr" / "share" / "icons" / "hicolor"
    _place(HERE / "icons" / "quarry.png", icons / "256x256" / "apps" / "quarry.png", 0o644)
    _place(HERE / "icons" / "quarry.svg", icons / "scalable" / "apps" / "quarry.svg", 0o644)
    doc = root / "usr" / "share" / "doc" / "quarry" / "copyright"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(
        "Quarry is MIT licensed. The bundled components keep their own licences;\n"
        "see /opt/quarry/_internal/*.dist-info.\n",
        encoding="utf-8",
    )
    for d, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(d, name), 0o755)
        for name in files:
            p = os.path.join(d, name)
            if not os.path.islink(p):
                executable = os.stat(p).st_mode & stat.S_IXUSR
                os.chmod(p, 0o755 if executable else 0o644)
    glibc = os.confstr("CS_GNU_LIBC_VERSION").split()[-1]
    control = (HERE / "linux" / "control.in").read_text(encoding="utf-8")
    for key, value in {
        "VERSION": version,
        "ARCH": arch,
        "VARIANT": variant,
        "INSTALLED_KB": str(tree_size(root) // 1024 + 1),
        "DEPENDS": ", ".join([f"libc6 (>= {glibc})", *DEB_DEPENDS]),
    }.items():
        control = control.replace(f"@{key}@", value)
    debian = root / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(control, encoding="utf-8")
    _place(HERE / "linux" / "postrm", debian / "postrm", 0o755)
    name = "quarry" if variant == "cpu" else f"quarry-{variant}"
    deb = out / f"{name}_{version}_{arch}.deb"
    out.mkdir(parents=True, exist_ok=True)
    # gzip, not xz: the bulk is model weights and machine code that xz barely
    # shrinks, while it would take many minutes on two cores. Even the fast level
    # halves the machine code, which keeps a test build's disk use down.
    try:
        subprocess.run(
            [
                "dpkg-deb",
                "--root-owner-group",
                "-Zgzip",
                "-z9" if compress else "-z1",
                "--build",
                str(root),
                str(deb),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError:
        deb.unlink(missing_ok=True)  # half a package is only in the way
        raise
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    return deb


def build_tarball(bundle: Path, out: Path, version: str, variant: str) -> Path:
    arch = platform.machine().lower()
    suffix = "" if variant == "cpu" else f"-{variant}"
    stem = f"quarry{suffix}-{version}-linux-{arch}"
    tgz = out / f"{stem}.tar.gz"
    with tarfile.open(tgz, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=stem)
        tar.add(HERE / "linux" / "quarry.desktop", arcname=f"{stem}/quarry.desktop")
        tar.add(HERE / "icons" / "quarry.png", arcname=f"{stem}/quarry.png")
    return tgz


def build_windows(bundle: Path, work: Path, out: Path, version: str, variant: str) -> list[Path]:
    """A zip always; a setup .exe when Inno Setup's compiler is installed."""
    suffix = "" if variant == "cpu" else f"-{variant}"
    made = [
        Path(
            shutil.make_archive(
                str(out / f"quarry{suffix}-{version}-windows-x64"),
                "zip",
                bundle.parent,
                bundle.name,
            )
        )
    ]
    iscc = shutil.which("iscc") or shutil.which("ISCC")
    default_iscc = (
        Path(os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)"))
        / "Inno Setup 6"
        / "ISCC.exe"
    )
    if iscc is None and default_iscc.is_file():
        iscc = str(default_iscc)
    if iscc is None:
        print("build: Inno Setup (ISCC) not found; made the .zip only")
        return made
    setup_name = f"quarry{suffix}-{version}-windows-x64-setup"
    subprocess.run(
        [
            iscc,
            f"/DAppVersion={version}",
            f"/DSourceDir={bundle}",
            f"/DOutputDir={out}",
            f"/DOutputName={setup_name}",
            f"/DIconFile={write_windows_icon(work)}",
            str(HERE / "windows" / "quarry.iss"),
        ],
        check=True,
    )
    made.append(out / f"{setup_name}.exe")
    return made


def build_dmg(app: Path, work: Path, out: Path, version: str, variant: str) -> Path:
    """Quarry.app and an Applications link in a compressed disk image (drag to install)."""
    suffix = "" if variant in ("cpu", "metal") else f"-{variant}"
    stage = work / "dmg"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    subprocess.run(["ditto", str(app), str(stage / "Quarry.app")], check=True)
    (stage / "Applications").symlink_to("/Applications")
    dmg = out / f"Quarry{suffix}-{version}-macos-{platform.machine()}.dmg"
    subprocess.run(
        [
            "hdiutil",
            "create",
            "-volname",
            "Quarry",
            "-srcfolder",
            str(stage),
            "-ov",
            "-format",
            "UDZO",
            str(dmg),
        ],
        check=True,
    )
    shutil.rmtree(stage)
    return dmg


def write_windows_icon(work: Path) -> Path:
    """Inno Setup wants an .ico; make it from the PNG (Pillow comes with the dependencies)."""
    from PIL import Image

    ico = work / "quarry.ico"
    work.mkdir(parents=True, exist_ok=True)
    Image.open(HERE / "icons" / "quarry.png").save(
        ico, sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
    )
    return ico


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--variant",
        choices=sorted(LLAMA_CMAKE_ARGS),
        default=default_variant(),
        help="Which llama.cpp build this bundle carries (default: %(default)s).",
    )
    p.add_argument("--version", default=project_version())
    p.add_argument("--work", type=Path, default=ROOT / "build", help="Scratch folder.")
    p.add_argument("--out", type=Path, default=ROOT / "dist", help="Where installers go.")
    p.add_argument(
        "--reuse-bundle",
        action="store_true",
        help="Skip PyInstaller when the bundle is newer than every source file.",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="Linux: a quickly compressed .deb and no .tar.gz (for tests).",
    )
    p.add_argument(
        "--print-cmake-args",
        action="store_true",
        help="Print the CMAKE_ARGS that llama-cpp-python needs for --variant, and exit.",
    )
    ns = p.parse_args(argv)
    if ns.print_cmake_args:
        print(LLAMA_CMAKE_ARGS[ns.variant])
        return 0
    try:
        check_llama_variant(ns.variant)
        bundle = build_bundle(ns.work, ns.reuse_bundle)
        ns.out.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        if sys.platform.startswith("linux"):
            made = [
                build_deb(bundle, ns.work, ns.out, ns.version, ns.variant, compress=not ns.fast)
            ]
            if not ns.fast:
                made.append(build_tarball(bundle, ns.out, ns.version, ns.variant))
        elif sys.platform == "win32":
            made = build_windows(bundle, ns.work, ns.out, ns.version, ns.variant)
        elif sys.platform == "darwin":
            made = [build_dmg(bundle, ns.work, ns.out, ns.version, ns.variant)]
        else:
            raise BuildError(f"No installer recipe for {sys.platform}.")
    except (BuildError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 1
    print(f"build: installers took {time.monotonic() - started:.0f} s")
    print(f"build: bundle {tree_size(bundle) / 2**20:,.0f} MiB")
    for f in made:
        print(f"build: {f} ({f.stat().st_size / 2**20:,.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
