"""The quoted evidence under an answer, clicked open at its sentence; and the Markdown export
and copy, which show document and model text literally."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument

from app.chat_view import evidence_url
from rag.render import conversation_markdown, format_answer
from rag.types import Answer, AnswerSentence, Evidence, Source, Support
from tests.fake_engine import FakeEngine
from tests.test_gui import anchor_position, ask, make_engine, open_and_index, point_of

pytestmark = pytest.mark.gui

SENTENCE = "Travel is capped at 2,000 dollars per trip."


class EvidenceEngine(FakeEngine):
    """The scripted engine, with the evidence sentence the real one would quote."""

    def ask(self, question, *args, **kwargs):
        answer = super().ask(question, *args, **kwargs)
        first = answer.sources[0]
        page_text = self.source_text(first.file, first.page)
        start = page_text.index(SENTENCE)
        ev = Evidence(
            first.number,
            first.file,
            first.page,
            start,
            start + len(SENTENCE),
            SENTENCE,
            0.9,
            strong=True,
        )
        return dataclasses.replace(answer, evidence=[ev])


def test_evidence_is_quoted_under_the_answer_and_opens_its_sentence(qtbot, window, docs):
    w = window(EvidenceEngine(passages=make_engine().passages))
    open_and_index(qtbot, w, docs)
    answer = ask(qtbot, w, "What is the travel cap?")
    text = w.chat.transcript.toPlainText()
    assert f"“{SENTENCE}”" in text and "[1] policy.pdf, page 2" in text
    ev = answer.evidence[0]
    with qtbot.waitSignal(w.passage_shown, timeout=5000) as shown:
        qtbot.mouseClick(
            w.chat.transcript.viewport(),
            Qt.MouseButton.LeftButton,
            pos=point_of(w, anchor_position(w, evidence_url(0, 0))),
        )
    opened = shown.args[0]
    assert (opened.file, opened.page, opened.start, opened.end) == (
        ev.file,
        ev.page,
        ev.start,
        ev.end,
    )
    viewer = w.sources.viewer
    assert viewer.page == 1 and viewer.passage_rects  # the sentence, found on page 2
    assert w.sources.list.currentItem().data(Qt.ItemDataRole.UserRole) == ev.source


HOSTILE = (
    '<img src="/etc/passwd"> <a href="http://evil.example">x</a> <b>bold</b> <style>*{}</style>'
)


def test_markdown_export_and_copy_show_document_and_model_text_literally(qtbot):
    name = 'odd <img src="x.png"> <b>name</b>.pdf'
    src = Source(1, 1, name, 2, 0, 40, f"Passage {HOSTILE} ends.", 0.9)
    answer = Answer(
        question=f"Why {HOSTILE}?",
        text=f"The answer {HOSTILE} [1].",
        sentences=[
            AnswerSentence(
                f"The answer {HOSTILE} [1].", 0, 10, (), Support.WEAK, f"closest: {HOSTILE}"
            )
        ],
        sources=[src],
        evidence=[Evidence(1, name, 2, 0, 20, f"Evidence {HOSTILE}.", 0.8)],
        note=f"note {HOSTILE}",
    )
    md = conversation_markdown(Path(f"/docs/{HOSTILE}"), [(answer.question, answer)])
    assert "<img" not in md and "<a " not in md and "<b>" not in md and "<style>" not in md
    doc = QTextDocument()
    doc.setMarkdown(md)
    html = doc.toHtml()
    assert "<img" not in html and 'evil.example"' not in html and "<style>*" not in html
    shown = doc.toPlainText()
    for piece in (
        '<img src="/etc/passwd">',
        '<a href="http://evil.example">x</a>',
        "<b>bold</b>",
        "<style>*{}</style>",
        '<img src="x.png"> <b>name</b>.pdf',
    ):
        assert piece in shown
    assert "Evidence" in shown and "[1]" in shown
    copied = format_answer(answer, details=False)
    assert f"The answer {HOSTILE} [1]." in copied and f"“Evidence {HOSTILE}.”" in copied
