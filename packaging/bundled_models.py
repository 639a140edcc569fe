"""The bundled LLMs, assembled once at build time so the installed app ships finished files.

Which models an installer carries, and their sizes and checksums, come from
``models.bundled`` (the listed ones: the default and the fast choice; SmolLM2 is
for tests and stays out). A source checkout assembles them into the user's data
directory on first use; an installer instead carries the finished GGUF files
inside the bundle (read-only, next to the program), so the first start copies
nothing and the user's disk holds each model once.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.bundled import LISTED, BundledModel  # noqa: E402
from models.locate import assemble  # noqa: E402

# Where the frozen app keeps bundled GGUF files, relative to its bundle folder
# (sys._MEIPASS). Not "models": that name belongs to the Python package.
BUNDLE_SUBDIR = "bundled_models"


def carried() -> tuple[BundledModel, ...]:
    """The models an installer carries."""
    return LISTED


def assemble_all(dest_dir: Path) -> list[Path]:
    """Each carried model's GGUF in ``dest_dir``, assembled and checked (reused while its
    checksum sidecar holds, so a rebuild does not hash gigabytes again)."""
    return [assemble(m, dest_dir / m.filename) for m in carried()]


def carried_bytes() -> int:
    return sum(m.size for m in carried())
