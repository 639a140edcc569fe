"""Where Quarry keeps what it writes: only under the user's data and config directories.

The data-folder rule lives in :mod:`models.locate` (the model layer needs it and
must not import ``rag``); it is re-exported here for the rest of the core.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from models.locate import APP_NAME, data_dir, models_dir

__all__ = ["APP_NAME", "data_dir", "models_dir", "config_dir", "cache_dir", "index_dir_for"]


def config_dir() -> Path:
    env = os.environ.get("QUARRY_CONFIG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """What Quarry makes from its own files and can make again (the int8 export of the
    embedding model). ``QUARRY_CACHE_DIR`` overrides it (tests share one per session)."""
    env = os.environ.get("QUARRY_CACHE_DIR")
    if env:
        return Path(env)
    return data_dir() / "cache"


def index_dir_for(folder: Path) -> Path:
    """One index per indexed folder, named after it and keyed by its absolute path."""
    folder = Path(folder).resolve()
    key = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in folder.name)[:40] or "root"
    return data_dir() / "indexes" / f"{safe}-{key}"
