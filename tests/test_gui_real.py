"""The window with the real Engine: the sample folder, the small bundled model, a citation."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
from pathlib import Path

import pytest

from rag.settings import Settings
from rag.types import Answer

pytestmark = [pytest.mark.gui, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "northwind"


def test_real_engine_indexes_the_sample_folder_answers_and_opens_a_citation(qtbot, config_dir):
    from app.main_window import MainWindow
    from rag.engine import Engine

    settings = Settings()
    settings = dataclasses.replace(
        settings, model=dataclasses.replace(settings.model, model="small")
    )
    engine = Engine(settings)
    w = MainWindow(engine, settings, preload_model=False)
    qtbot.addWidget(w)
    w.show()
    try:
        with qtbot.waitSignal(w.index_finished, timeout=300_000) as indexed:
            w.open_folder(EXAMPLES)
        report = indexed.args[0]
        assert not isinstance(report, BaseException), report
        assert w.library.tree.topLevelItemCount() == len(report.files) >= 5
        with qtbot.waitSignal(w.answer_finished, timeout=300_000) as answered:
            w.ask("What is the nightly hotel limit?")
        answer = answered.args[0]
        assert isinstance(answer, Answer), answer
        assert answer.sources and w.chat.transcript.toPlainText().count("Quarry:") == 1
        first = answer.sources[0]
        with qtbot.waitSignal(w.passage_shown, timeout=60_000):
            w.open_citation(0, first.number)
        viewer = w.sources.viewer
        if first.file.endswith(".pdf"):
            assert viewer.page == (first.page or 1) - 1 and viewer.passage_rects
        else:
            shown = "".join(viewer.highlighted_text().split())
            assert shown and shown[:30] in "".join(first.text.split())
        assert "Smol" in w.model_label.text()
    finally:
        w.close()
        engine.close()
