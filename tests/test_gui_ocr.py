"""The window with the real Engine on scans: a passage read by OCR is boxed on its page image."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses

import pytest

from rag.settings import Settings
from rag.types import Source
from tests.test_ocr_engine import _folder

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def _as_source(hit) -> Source:
    return Source(
        number=1,
        chunk_id=hit.chunk_id,
        file=hit.file,
        page=hit.page,
        start=hit.start,
        end=hit.end,
        text=hit.text,
        score=hit.score,
        ocr=hit.ocr,
        ocr_confidence=hit.ocr_confidence,
    )


def _painted(viewer) -> bool:
    image = viewer.page_view.pixmap().toImage()
    ratio = image.devicePixelRatio()
    box = viewer.highlight_box
    inside = image.pixelColor(int(box.center().x() * ratio), int((box.top() + 1) * ratio))
    return not box.isEmpty() and inside != image.pixelColor(2, 2)


def test_ocr_passages_are_boxed_on_the_scanned_pdf_and_on_the_photo(
    qtbot, config_dir, tmp_path, monkeypatch
):
    from app.main_window import MainWindow
    from rag.engine import Engine

    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    docs = _folder(tmp_path)
    settings = Settings()
    engine = Engine(settings)
    w = MainWindow(engine, settings, preload_model=False)
    qtbot.addWidget(w)
    w.show()
    try:
        with qtbot.waitSignal(w.index_finished, timeout=300_000):
            w.open_folder(docs)
        viewer = w.sources.viewer

        scan = engine.search("What is the monthly rent for the Rotterdam warehouse?", k=1)[0]
        assert scan.file == "lease-scan.pdf" and scan.ocr
        with qtbot.waitSignal(w.passage_shown, timeout=60_000):
            w.show_source(_as_source(scan))
        assert viewer.stack.currentWidget() is viewer.page_scroll
        assert viewer.image is None and viewer.page == 0 and viewer.passage_rects
        assert _painted(viewer)
        assert "OCR" in viewer.note.text() and "OCR" in viewer.title.text()

        photo = engine.search("When does the canteen close on Fridays?", k=1)[0]
        assert photo.file == "canteen-photo.jpg" and photo.ocr
        with qtbot.waitSignal(w.passage_shown, timeout=60_000):
            w.show_source(_as_source(photo))
        assert viewer.image is not None and viewer.passage_rects
        assert _painted(viewer)
        # The box sits where the text is: in the upper half of the photographed page.
        shown = viewer.page_view.pixmap().deviceIndependentSize()
        assert viewer.highlight_box.center().y() < 0.6 * shown.height()
        assert dataclasses.is_dataclass(photo)
    finally:
        w.close()
        engine.close()
