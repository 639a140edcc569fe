"""The window driven offscreen with pytest-qt, against the scripted FakeEngine.

The fake reads real files (a real PDF made with reportlab, real text files), so
the source viewer is exercised on real QtPdf rendering and real text.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QTextCursor

from app.chat_view import cite_url
from app.main_window import MainWindow
from app.workers import Workers
from models.decoding import DecodingParams
from models.options import options
from rag.settings import Settings
from rag.types import Answer
from tests.conftest import GUI_PDF_PASSAGE as PDF_PASSAGE
from tests.fake_engine import FakeEngine, Passage

pytestmark = pytest.mark.gui


def make_engine(**kw) -> FakeEngine:
    passages = [
        Passage("policy.pdf", 2, PDF_PASSAGE),
        Passage("notes.md", None, "hotels are booked through the portal"),
    ]
    return FakeEngine(passages=passages, **kw)


def open_and_index(qtbot, w: MainWindow, folder: Path) -> None:
    with qtbot.waitSignal(w.index_finished, timeout=10_000):
        w.open_folder(folder)


def ask(qtbot, w: MainWindow, question: str) -> Answer:
    with qtbot.waitSignal(w.answer_finished, timeout=10_000) as blocker:
        w.chat.question.setPlainText(question)
        qtbot.keyClick(w.chat.question, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    return blocker.args[0]


def anchor_position(w: MainWindow, href: str) -> int:
    doc = w.chat.transcript.document()
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.charFormat().anchorHref() == href:
                return frag.position()
            it += 1
        block = block.next()
    raise AssertionError(f"no link {href}")


def all_hrefs(w: MainWindow) -> list[str]:
    out = []
    block = w.chat.transcript.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isAnchor() or fmt.anchorHref():
                out.append(fmt.anchorHref())
            it += 1
        block = block.next()
    return out


def shown(text: str) -> str:
    """What Qt displays for a tooltip or auto-format label: rich text when it guesses so."""
    from PySide6 import QtGui
    from PySide6.QtGui import QTextDocument

    if not QtGui.Qt.mightBeRichText(text):
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def point_of(w: MainWindow, position: int) -> QPoint:
    cursor = QTextCursor(w.chat.transcript.document())
    cursor.setPosition(position + 1)
    rect = w.chat.transcript.cursorRect(cursor)
    return QPoint(rect.left() - 2, rect.center().y())


def test_index_then_ask_streams_and_citation_opens_pdf_page_highlighted(qtbot, window, docs):
    w = window()
    assert w.chat.empty.isVisible()  # no folder yet: the window invites choosing one
    progress: list[tuple[int, int]] = []
    w.library.progress.valueChanged.connect(
        lambda v: progress.append((v, w.library.progress.maximum()))
    )
    open_and_index(qtbot, w, docs)
    assert progress and progress[-1] == (3, 3)
    assert "1 failed" in w.library.summary.text()
    broken = w.library.item_for("broken.pdf")
    assert broken is not None and broken.text(1) == "failed"
    assert "damaged" in shown(broken.toolTip(1))

    streamed: list[int] = []
    w.chat.transcript.textChanged.connect(
        lambda: streamed.append(len(w.chat.transcript.toPlainText()))
    )
    answer = ask(qtbot, w, "What is the travel cap?")
    assert len(set(streamed)) > 10  # the answer grew piece by piece before it was finished
    assert "Travel is capped at 2,000 dollars per trip" in w.chat.transcript.toPlainText()
    assert w.speed_label.text().startswith("Last answer:")

    href = cite_url(0, 1)
    with qtbot.waitSignal(w.passage_shown, timeout=5000) as opened:
        qtbot.mouseClick(
            w.chat.transcript.viewport(),
            Qt.MouseButton.LeftButton,
            pos=point_of(w, anchor_position(w, href)),
        )
    assert opened.args[0] == answer.sources[0]
    viewer = w.sources.viewer
    assert viewer.stack.currentWidget() is viewer.page_scroll
    assert viewer.page == 1  # 0-based: the passage's page 2
    assert viewer.passage_rects, "the passage was not found on the rendered PDF page"
    image = viewer.page_view.pixmap().toImage()
    box = viewer.highlight_box
    ratio = image.devicePixelRatio()
    centre = image.pixelColor(int(box.center().x() * ratio), int(box.top() * ratio + 1))
    assert centre != image.pixelColor(5, 5)  # the highlight is painted, not just computed
    # the passage sits about 2/3 down the page in PDF coordinates (y=500 of 842 from the bottom)
    page_h = image.height() / ratio
    assert 0.25 * page_h < box.center().y() < 0.5 * page_h


def test_weak_and_unsupported_sentences_are_marked_with_reasons(qtbot, window, docs):
    w = window()
    open_and_index(qtbot, w, docs)
    answer = ask(qtbot, w, "Hotels?")
    text = w.chat.transcript.toPlainText()
    weak = text.index("Hotels are booked")
    tip = shown(w.chat.transcript.tooltip_at(point_of(w, weak + 3) + QPoint(6, 0)))
    assert tip.startswith("Weakly supported") and answer.sentences[1].evidence in tip
    unsupported = text.index("likes tea")
    tip = shown(w.chat.transcript.tooltip_at(point_of(w, unsupported + 2) + QPoint(6, 0)))
    assert tip.startswith("Not supported")


def test_html_in_answers_and_documents_is_shown_literally(qtbot, window, docs):
    w = window()
    open_and_index(qtbot, w, docs)
    ask(qtbot, w, "Who is the CEO?")
    assert "The <b>CEO</b> likes tea" in w.chat.transcript.toPlainText()
    assert all(h.startswith("quarry:cite/") for h in all_hrefs(w))
    with qtbot.waitSignal(w.passage_shown, timeout=5000):
        w.open_citation(0, 2)
    viewer = w.sources.viewer
    assert viewer.stack.currentWidget() is viewer.text
    assert "<script>alert('owned')</script> <b>bold</b>" in viewer.text.toPlainText()
    assert viewer.highlighted_text() == "hotels are booked through the portal"


PAYLOAD = (
    "<img src='/etc/quarry-probe.png'> <a href='http://example.com/x'>link</a> "
    "<b>bold</b> <style>body{color:red}</style>"
)
# No "/" in a file name: the same tags, unclosed.
NAME_PAYLOAD = "<img src=probe.png> <a href=x> <b>b <style>p{} notes.md"


def _everything_shown(w: MainWindow) -> list[tuple[str, str]]:
    """(where, displayed text) of every tooltip, label and view the window has."""
    from PySide6.QtWidgets import QLabel, QListWidget, QTreeWidget, QWidget

    out: list[tuple[str, str]] = []
    for widget in w.findChildren(QWidget):
        if widget.toolTip():
            out.append((f"tooltip of {type(widget).__name__}", shown(widget.toolTip())))
        if isinstance(widget, QLabel):
            text = widget.text()
            as_rich = widget.textFormat() == Qt.TextFormat.RichText or (
                widget.textFormat() == Qt.TextFormat.AutoText
            )
            out.append((f"label {text[:30]!r}", shown(text) if as_rich else text))
        if isinstance(widget, QListWidget):
            for i in range(widget.count()):
                out.append(("list item tooltip", shown(widget.item(i).toolTip())))
                out.append(("list item", widget.item(i).text()))
        if isinstance(widget, QTreeWidget):
            for i in range(widget.topLevelItemCount()):
                item = widget.topLevelItem(i)
                for col in range(widget.columnCount()):
                    out.append(("tree item tooltip", shown(item.toolTip(col))))
    block = w.chat.transcript.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            tip = it.fragment().charFormat().toolTip()
            if tip:
                out.append(("transcript tooltip", shown(tip)))
            it += 1
        block = block.next()
    out.append(("transcript", w.chat.transcript.toPlainText()))
    return out


def test_markup_in_passages_file_names_and_answers_stays_text(qtbot, window, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / NAME_PAYLOAD).write_text(f"Intro.\nThe rule: {PAYLOAD} ends here.\n", "utf-8")
    engine = FakeEngine(
        passages=[Passage(NAME_PAYLOAD, None, f"The rule: {PAYLOAD} ends here.")],
        answer=f"The answer is {PAYLOAD} [1]. It is also weak. Unsupported {PAYLOAD}.",
    )
    w = window(engine)
    open_and_index(qtbot, w, folder)
    ask(qtbot, w, f"What about {PAYLOAD}?")
    with qtbot.waitSignal(w.passage_shown, timeout=5000):
        w.open_citation(0, 1)
    everything = _everything_shown(w)
    raw_markup = [
        (where, text)
        for where, text in everything
        if "<img" not in text and ("probe.png" in text or "example.com" in text)
    ]
    assert not raw_markup, f"shown as markup, not text: {raw_markup}"
    carrying = {where for where, text in everything if "<img src=" in text}
    for where in (
        "transcript",
        "transcript tooltip",  # the citation's file name, and the evidence quoting the passage
        "list item tooltip",  # the sources panel: the passage
        "tree item tooltip",  # the library panel: the file name
    ):
        assert where in carrying, f"{where} lost the text: {sorted(carrying)}"
    assert any("<style>" in t and "<b>" in t for _, t in everything if _ == "transcript")
    assert PAYLOAD in w.sources.viewer.text.toPlainText()

    (folder / NAME_PAYLOAD).unlink()  # "Could not open <name>: …" names the file literally
    w.sources.show_answer(w.answers[0], 0)
    w.show_source(w.answers[0].sources[0])
    qtbot.waitUntil(lambda: w.sources.viewer.note.text().startswith("Could not open"), timeout=5000)
    note = w.sources.viewer.note
    assert note.textFormat() == Qt.TextFormat.PlainText and "<img src=probe.png>" in note.text()


def test_stop_cancels_mid_answer(qtbot, window, docs):
    script = "word " * 400
    w = window(make_engine(answer=script, token_delay=0.02))
    open_and_index(qtbot, w, docs)
    with qtbot.waitSignal(w.answer_finished, timeout=10_000) as blocker:
        w.ask("Tell me everything")
        qtbot.waitUntil(lambda: len(w.chat.transcript.toPlainText()) > 60, timeout=5000)
        assert w.chat.stop_button.isEnabled()
        qtbot.keyClick(w.chat.question, Qt.Key.Key_Escape)
    answer = blocker.args[0]
    assert answer.note == "Stopped at your request."
    assert answer.stats.stop_reason == "cancelled"
    assert 0 < len(answer.text) < len(script) / 2
    qtbot.waitUntil(lambda: w.chat.send_button.isEnabled(), timeout=2000)
    assert "Stopped at your request." in w.chat.transcript.toPlainText()


def test_refusal_looks_like_a_refusal_and_follow_ups_keep_history(qtbot, window, docs, tmp_path):
    engine = make_engine()
    w = window(engine)
    open_and_index(qtbot, w, docs)
    ask(qtbot, w, "What is the travel cap?")
    refusal = ask(qtbot, w, "What will the weather be?")
    assert refusal.refused
    text = w.chat.transcript.toPlainText()
    assert "Not found in your documents" in text and "Could not answer" not in text
    assert engine.asked[1][1][0].question == "What is the travel cap?"
    assert engine.asked[1][1][0].answer.startswith("Travel is capped")

    out = tmp_path / "conversation.md"
    w.export_markdown(out)
    md = out.read_text(encoding="utf-8")
    assert "## What is the travel cap?" in md and "1. policy.pdf, page 2" in md
    assert "Not found in your documents" in md
    w.copy_last_answer()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text().startswith("Your documents do not say.")


def test_bad_model_file_shows_a_dialog(qtbot, window, tmp_path, monkeypatch):
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(
        "app.main_window.warn",
        lambda parent, title, text: shown.append((title, text)),
    )
    w = window()
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a model at all")
    with qtbot.waitSignal(w.model_loaded, timeout=5000):
        w.load_model(str(bad))
    assert shown and shown[0][0] == "Could not load the model"
    assert "not a GGUF model file" in shown[0][1]
    assert w.settings.model.model == "default"  # a failed load does not change the setting
    with qtbot.waitSignal(w.model_loaded, timeout=5000):
        w.load_model("small")
    assert "SmolLM2" in w.model_label.text()


def test_server_url_field_switches_to_a_model_server_and_back(qtbot, window):
    engine = make_engine()
    w = window(engine)
    field = w.model_panel.server_url
    assert field.text() == "" and "OpenAI-compatible" in field.toolTip()
    with qtbot.waitSignal(w.model_loaded, timeout=5000):
        field.setText(" http://127.0.0.1:8000/v1 ")
        field.editingFinished.emit()
    assert w.settings.model.llm_url == "http://127.0.0.1:8000/v1"
    assert engine.settings.model.llm_url == "http://127.0.0.1:8000/v1"  # the engine was told
    assert w.settings.model.model == "default"  # a local choice means nothing to a server
    with qtbot.waitSignal(w.model_loaded, timeout=5000):
        field.setText("")
        field.editingFinished.emit()
    assert w.settings.model.llm_url == ""


def test_model_loads_at_start(qtbot, window, docs):
    engine = make_engine()
    w = window(engine, preload=True)
    open_and_index(qtbot, w, docs)
    with qtbot.waitSignal(w.answer_finished, timeout=5000) as blocker:
        w.ask("What is the travel cap?")
    assert isinstance(blocker.args[0], Answer)
    assert engine.model_info is not None and "Qwen" in w.model_label.text()
    assert w.chat.transcript.toPlainText().count("You: What is the travel cap?") == 1


def test_decoding_panel_has_a_control_for_every_option(qtbot, window):
    w = window()
    controls = w.model_panel.decoding.controls
    assert list(controls) == [f.name for f, _ in options(DecodingParams)]
    for f, spec in options(DecodingParams):
        assert controls[f.name].widget.toolTip().startswith(spec.help)
        assert controls[f.name].get() == getattr(w.settings.decoding, f.name)


def test_settings_survive_a_restart(qtbot, window, docs, config_dir):
    w = window()
    open_and_index(qtbot, w, docs)
    w.model_panel.decoding.controls["temperature"].widget.setValue(0.7)
    w.model_panel.gpu_layers.setValue(0)
    w.resize(790, 560)
    size = (w.width(), w.height())
    w.close()
    saved = Settings.load()
    assert saved.decoding.temperature == pytest.approx(0.7)
    assert saved.ui.preset == "custom" and saved.model.gpu_layers == 0
    assert Path(saved.ui.folder) == docs.resolve()

    again = window(settings=saved)
    assert again.model_panel.decoding.controls["temperature"].get() == pytest.approx(0.7)
    assert again.model_panel.decoding.preset.currentData() == "custom"
    assert again.model_panel.gpu_layers.value() == 0
    assert (again.width(), again.height()) == size


def test_gui_thread_stays_responsive_while_indexing_and_generating(qtbot, window, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        (folder / f"doc{i:02}.txt").write_text(f"Document {i}. Travel is capped.", "utf-8")
    engine = FakeEngine(
        passages=[Passage("doc01.txt", None, "Travel is capped.")],
        index_delay=0.02,
        token_delay=0.002,
        answer="token " * 500 + "[1].",
    )
    w = window(engine)
    beats: list[float] = []
    timer = QTimer(w)
    timer.setInterval(5)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    with qtbot.waitSignal(w.index_finished, timeout=20_000):
        w.open_folder(folder)
        qtbot.wait(100)
        w.ask("While indexing: what is the cap?")  # asked of what is already indexed
    qtbot.waitUntil(lambda: not w.workers.busy("ask"), timeout=20_000)
    with qtbot.waitSignal(w.answer_finished, timeout=20_000):
        w.ask("And again?")
    timer.stop()
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    worst = max(gaps)
    print(f"heartbeat: {len(beats)} beats, max gap {worst * 1000:.1f} ms")
    assert len(beats) > 50
    assert worst < 0.25, f"the GUI thread was blocked for {worst * 1000:.0f} ms"


def test_workers_stop_and_wait_on_shutdown(qtbot):
    workers = Workers()
    seen: list[str] = []

    def loop(job):
        while not job.should_stop():
            time.sleep(0.01)
        return "stopped"

    workers.start("loop", loop, done=seen.append)
    assert workers.busy("loop")
    started = time.perf_counter()
    assert workers.shutdown(2000)
    assert time.perf_counter() - started < 1.0
    qtbot.waitUntil(lambda: seen == ["stopped"], timeout=1000)


def test_failed_job_reports_its_error(qtbot):
    workers = Workers()

    def boom(_job):
        raise FileNotFoundError("no such file: a.pdf")

    errors: list[BaseException] = []
    workers.start("x", boom, failed=errors.append, done=lambda r: errors.append(AssertionError()))
    qtbot.waitUntil(lambda: bool(errors), timeout=2000)
    assert isinstance(errors[0], FileNotFoundError) and "a.pdf" in str(errors[0])


def test_emitting_many_signals_keeps_the_interpreter_intact():
    """PySide6 6.12.0 on Python 3.11 lost a reference to True per emit and the process
    aborted after a few thousand streamed tokens; the pinned PySide6 must not."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Box(QObject):
        ping = Signal(str)

    box = Box()
    box.ping.connect(lambda _text: None)
    before = sys.getrefcount(True)
    for _ in range(5000):
        box.ping.emit("token")
    assert sys.getrefcount(True) >= before - 2


def test_a_file_saved_into_the_open_folder_appears_in_the_library(qtbot, window, docs):
    w = window()
    open_and_index(qtbot, w, docs)
    assert w.library.item_for("later.md") is None
    with qtbot.waitSignal(w.index_finished, timeout=15_000):
        for i in range(10):  # an editor saving the same file repeatedly: one re-index
            (docs / "later.md").write_text(f"# Later\n\nDraft {i}.\n", encoding="utf-8")
    qtbot.waitUntil(lambda: w.library.item_for("later.md") is not None, timeout=5_000)
    (docs / "notes.md").unlink()
    qtbot.waitUntil(lambda: w.library.item_for("notes.md") is None, timeout=15_000)


def test_library_panel_shows_the_meaning_index_phase(qtbot):
    from app.library_panel import LibraryPanel
    from rag.types import IndexProgress

    panel = LibraryPanel()
    qtbot.addWidget(panel)
    panel.set_indexing(True)
    panel.show_progress(2, 46, IndexProgress("q3.pdf", 900, 4.0, eta=88.0))
    assert "2 of 46 files read" in panel.current.text() and "q3.pdf" in panel.current.text()
    panel.show_progress(
        350, 1000, IndexProgress("", 23000, 40.0, "embedding", files_ready=46, eta=360.0)
    )
    text = panel.current.text()
    assert "all 46 files searchable · meaning index 35%, about 6 min left" in text
    assert "search and ask now" in text
    assert panel.progress.text() == "meaning index 35%"


def test_command_line_flags_apply_to_one_run_and_are_never_saved(qtbot, window, config_dir):
    from rag.cli import run
    from rag.settings import LiveSettings

    handed: list[LiveSettings] = []
    run(["--temperature", "0.9", "--k", "7"], open_window=lambda s, f, t: handed.append(s) or 0)
    live = handed[0]
    assert live.flags == {"decoding": {"temperature": 0.9}, "retrieval": {"k": 7}}
    w = window(settings=live)
    assert w.settings.decoding.temperature == pytest.approx(0.9) and w.settings.retrieval.k == 7
    w.model_panel.gpu_layers.setValue(0)  # a change made in the window is saved
    w.close()
    saved = Settings.load()
    assert saved.model.gpu_layers == 0
    assert saved.decoding.temperature == Settings().decoding.temperature
    assert saved.retrieval.k == Settings().retrieval.k
    # A flag the window then changes becomes the person's choice, and is saved.
    w = window(settings=live)
    w.model_panel.decoding.controls["temperature"].widget.setValue(0.4)
    w.close()
    assert Settings.load().decoding.temperature == pytest.approx(0.4)
