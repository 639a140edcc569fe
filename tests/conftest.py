"""Test-session environment: offline, headless Qt, and private data/config folders.

Set at import time, before any test module imports the code under test, so no
test can read or write the real user's settings, indexes or models.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="quarry-tests-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QUARRY_DATA_DIR", str(_SESSION_DIR / "data"))
os.environ["QUARRY_CONFIG_DIR"] = str(_SESSION_DIR / "config")
# The int8 export of the embedding model is made once per session, whatever data
# folder a test uses.
os.environ.setdefault("QUARRY_CACHE_DIR", str(_SESSION_DIR / "cache"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "northwind"
EVALSETS = ROOT.parent / "shared" / "evalsets"


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def embedder():
    """The real bundled embedding model, loaded once per session."""
    from rag.embeddings import Embedder

    return Embedder("default")


@pytest.fixture
def config_dir(tmp_path, monkeypatch) -> Path:
    """A fresh, empty config folder for tests about persisted settings."""
    d = tmp_path / "config"
    monkeypatch.setenv("QUARRY_CONFIG_DIR", str(d))
    return d
