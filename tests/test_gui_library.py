"""Libraries, saved conversations, settings dialog, first minutes and the reading viewer,
driven offscreen with pytest-qt against the scripted FakeEngine and real files."""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QWheelEvent

from app.chat_view import cite_url
from app.libraries_panel import ALL
from rag import paths
from rag.conversations import ConversationStore
from rag.libraries import Libraries
from rag.settings import Settings
from tests.fake_engine import FakeEngine, Passage
from tests.test_gui import (
    PDF_PASSAGE,
    anchor_position,
    ask,
    open_and_index,
    point_of,
    shown,
)

pytestmark = pytest.mark.gui

SENTENCE = "The per diem abroad is EUR 60 per day."
NOTES = (
    "# Travel rules\n\nAll trips are approved in advance. "
    f"{SENTENCE} Receipts are kept for seven years.\n\nHotels are booked through the portal.\n"
)


@pytest.fixture
def two_folders(tmp_path: Path) -> tuple[Path, Path]:
    a = tmp_path / "Policies"
    b = tmp_path / "Handbook"
    a.mkdir()
    b.mkdir()
    (a / "travel.md").write_text(NOTES, encoding="utf-8")
    (a / "expenses.txt").write_text("Expense claims\nClaims are paid monthly.\n", "utf-8")
    (b / "security.md").write_text("# Passwords\n\nPasswords have 14 characters.\n", "utf-8")
    return a, b


def engine_for(*, answer: str | None = None, **kw) -> FakeEngine:
    passage = f"All trips are approved in advance. {SENTENCE} Receipts are kept for seven years."
    return FakeEngine(
        passages=[Passage("travel.md", None, passage)],
        answer=answer or "The per diem abroad is EUR 60 a day [1]. It is paid daily.",
        **kw,
    )


def test_two_libraries_listed_switched_asked_across_and_one_removed(
    qtbot, window, two_folders, data_dir
):
    a, b = two_folders
    engine = engine_for()
    w = window(engine)
    open_and_index(qtbot, w, a)
    open_and_index(qtbot, w, b)
    names = w.library_list.names()
    assert names == ["Policies", "Handbook"]
    state = w.library_list.item("Policies").text()
    assert "2 files" in state and "6 passages" in state and "indexed" in state
    assert w.library_list.item(ALL) is not None  # two libraries: "ask all" appears
    assert Libraries().get("Handbook").files == 1  # the registry is on disk

    # Switching shows the other library at once; its index opens on a worker.
    w.library_list.list.setCurrentItem(w.library_list.item("Policies"))
    assert w.library_name == "Policies" and w.windowTitle() == "Quarry — Policies"
    qtbot.waitUntil(lambda: not w.workers.busy("index"), timeout=10_000)
    answer = ask(qtbot, w, "What is the per diem abroad?")
    assert engine.asked_folders == [a.resolve()]
    assert answer.sources[0].file == "travel.md"

    w.library_list.list.setCurrentItem(w.library_list.item(ALL))
    answer = ask(qtbot, w, "What is the per diem abroad?")
    assert sorted(engine.asked_folders) == sorted([a.resolve(), b.resolve()])
    assert Path(answer.sources[0].file) == a.resolve() / "travel.md"  # across: absolute
    with qtbot.waitSignal(w.passage_shown, timeout=5000):
        w.open_citation(0, 1)
    assert SENTENCE in w.sources.viewer.highlighted_text()

    # File → Libraries lists them too, and switches.
    w._fill_libraries_menu()
    entries = [a.text() for a in w.libraries_menu.actions() if a.isCheckable()]
    assert entries == ["Policies", "Handbook", "All libraries"]
    [handbook] = [a for a in w.libraries_menu.actions() if a.text() == "Handbook"]
    handbook.trigger()
    assert w.library_name == "Handbook"
    qtbot.waitUntil(lambda: not w.workers.busy("index"), timeout=10_000)

    # Renaming keeps the library's conversations (they belong to its folder).
    w.library_list.list.setCurrentItem(w.library_list.item("Policies"))
    before = w.history.ids()
    assert before
    w.rename_library("Policies", "Travel <b>rules</b>")
    assert w.library_list.names() == ["Travel <b>rules</b>", "Handbook"]
    assert w.windowTitle() == "Quarry — Travel <b>rules</b>" and w.history.ids() == before
    w.rename_library("Travel <b>rules</b>", "Policies")

    # Removing deletes the index, never the documents.
    w.library_list.list.setCurrentItem(w.library_list.item("Handbook"))
    qtbot.waitUntil(lambda: not w.workers.busy("index"), timeout=10_000)
    index = paths.index_dir_for(b)
    index.mkdir(parents=True, exist_ok=True)
    (index / "catalog.sqlite").write_bytes(b"x")
    w.remove_library("Handbook", confirmed=True)
    qtbot.waitUntil(lambda: w.library_list.names() == ["Policies"], timeout=5000)
    assert not index.exists()
    assert (b / "security.md").read_text(encoding="utf-8").startswith("# Passwords")
    assert w.library_list.item(ALL) is None and w.library_name == "Policies"


def test_a_folder_dropped_on_the_window_becomes_a_library(qtbot, window, two_folders):
    a, _b = two_folders
    w = window(engine_for())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(a))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(w.index_finished, timeout=10_000):
        w.dropEvent(event)
    assert w.library_list.names() == ["Policies"] and w.folder == a.resolve()


def test_a_conversation_is_saved_as_it_happens_and_reopens_after_a_restart(
    qtbot, window, two_folders, data_dir, tmp_path
):
    a, _b = two_folders
    w = window(engine_for())
    open_and_index(qtbot, w, a)
    ask(qtbot, w, "What is the per diem abroad?")
    ask(qtbot, w, "And is it paid daily?")
    as_asked = w.chat.transcript.toPlainText()
    w.close()
    db = data_dir / "conversations.sqlite"
    assert db.is_file()

    # A fresh window, a fresh store on the same SQLite file: as after a restart.
    w2 = window(engine_for())
    open_and_index(qtbot, w2, a)
    assert len(w2.history.ids()) == 1
    assert w2.history.list.item(0).text().startswith("What is the per diem abroad?")
    w2.open_conversation(w2.history.ids()[0])
    text = w2.chat.transcript.toPlainText()
    assert text == as_asked  # the same transcript: answers, evidence, notes, footers
    assert "You: What is the per diem abroad?" in text and "You: And is it paid daily?" in text
    assert "The per diem abroad is EUR 60 a day [1]." in text
    weak = text.index("It is paid daily")
    tip = shown(w2.chat.transcript.tooltip_at(point_of(w2, weak + 3) + QPoint(6, 0)))
    assert tip.startswith("Weakly supported")  # marks survive
    with qtbot.waitSignal(w2.passage_shown, timeout=5000):
        qtbot.mouseClick(
            w2.chat.transcript.viewport(),
            Qt.MouseButton.LeftButton,
            pos=point_of(w2, anchor_position(w2, cite_url(0, 1))),
        )
    viewer = w2.sources.viewer
    assert viewer.focused_text() == SENTENCE  # the supporting sentence, strongly marked
    assert SENTENCE in viewer.highlighted_text()

    # Follow-ups continue the reopened conversation, and it keeps one entry.
    ask(qtbot, w2, "Who books hotels?")
    assert len(w2.history.ids()) == 1
    conv = w2.conversation_id
    w2.conversations.rename(conv, "Per diem")
    w2.history.search.setText("hotels")
    assert w2.history.ids() == [conv]
    w2.history.search.setText("zeppelin")
    assert w2.history.ids() == []
    w2.history.search.setText("")
    out = tmp_path / "conversation.json"
    w2.export_json(out)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["title"] == "Per diem" and len(data["turns"]) == 3
    assert data["turns"][0]["answer"]["sources"][0]["file"] == "travel.md"

    # Ctrl+N starts an empty conversation; deleting removes it from the file.
    qtbot.keyClick(w2, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert w2.conversation_id is None and w2.chat.empty.isVisible()
    store = ConversationStore(db)
    assert [c.title for c in store.list(str(a.resolve()))] == ["Per diem"]
    store.delete(conv)
    store.close()
    w2.refresh_conversations()
    assert w2.history.ids() == []


def test_a_question_is_kept_when_the_answer_never_finishes(qtbot, window, two_folders, data_dir):
    a, _b = two_folders
    w = window(engine_for(answer="word " * 300, token_delay=0.02))
    open_and_index(qtbot, w, a)
    w.ask("What happens if Quarry crashes now?")
    qtbot.waitUntil(lambda: "word" in w.chat.transcript.toPlainText(), timeout=5000)
    store = ConversationStore(data_dir / "conversations.sqlite")  # as another process sees it
    [info] = store.list()
    saved = store.load(info.id)
    assert saved.turns[0].question == "What happens if Quarry crashes now?"
    assert saved.turns[0].answer is None
    store.close()


def test_empty_chat_offers_questions_from_the_documents_and_says_it_is_reading(
    qtbot, window, two_folders
):
    a, _b = two_folders
    w = window(engine_for(token_delay=0.05))
    open_and_index(qtbot, w, a)
    offered = w.chat.suggested_questions()
    assert [b.isVisible() for b in w.chat.suggestions] == [True, True, False]
    assert offered == [
        "What does expenses say about expense claims?",
        "What does travel say about travel rules?",
    ]
    assert "Ctrl+Enter" in w.chat.empty_blurb.text()
    w.chat.suggestions[1].click()
    assert "reading up to 5 passages…" in w.chat.transcript.toPlainText()
    qtbot.waitUntil(lambda: not w.workers.busy("ask"), timeout=10_000)
    text = w.chat.transcript.toPlainText()
    assert "You: What does travel say about travel rules?" in text and "reading up" not in text


def test_settings_dialog_writes_settings_the_command_line_reads(qtbot, window, config_dir):
    from app.settings_dialog import SettingsDialog
    from rag.cli import build_parser
    from rag.settings import LiveSettings

    w = window()
    messages: list[str] = []

    def fill() -> None:
        d: SettingsDialog = w.settings_dialog
        d.controls["index"]["chunk_tokens"].set(100)
        d.controls["index"]["chunk_overlap"].set(100)
        d.accept()  # refused: overlap must be smaller than the chunk
        messages.append(d.error.text())
        d.controls["index"]["chunk_overlap"].set(20)
        d.controls["retrieval"]["k"].set(9)
        d.controls["retrieval"]["relevance_floor"].set(0.45)
        d.controls["decoding"]["temperature"].set(0.6)
        d.accept()

    QTimer.singleShot(0, fill)
    w.open_settings()
    assert messages == ["“Chunk overlap” (100) must be smaller than “Chunk tokens” (100)."]
    on_disk = Settings.load()
    assert (on_disk.retrieval.k, on_disk.retrieval.relevance_floor) == (9, 0.45)
    assert (on_disk.index.chunk_tokens, on_disk.index.chunk_overlap) == (100, 20)
    assert on_disk.decoding.temperature == pytest.approx(0.6)
    cli = LiveSettings.from_args(Settings.load(), build_parser().parse_args([])).effective
    assert cli.retrieval.k == 9 and cli.index.chunk_tokens == 100
    assert w.model_panel.decoding.controls["temperature"].get() == pytest.approx(0.6)
    import argparse

    settings_flags = argparse.ArgumentParser()
    Settings.add_arguments(settings_flags)
    every_setting = {a.dest for a in settings_flags._actions} - {"help", "preset"}
    in_dialog = {n for group in SettingsDialog(Settings()).controls.values() for n in group}
    assert in_dialog == every_setting  # every flag a setting has, and nothing else


def test_the_page_opens_readable_zooms_and_marks_the_supporting_sentence(qtbot, window, docs):
    engine = FakeEngine(
        passages=[Passage("policy.pdf", 2, PDF_PASSAGE)],
        answer="Travel is capped at 2,000 dollars per trip [1].",
    )
    w = window(engine)
    open_and_index(qtbot, w, docs)
    ask(qtbot, w, "What is the travel cap?")
    with qtbot.waitSignal(w.passage_shown, timeout=5000):
        w.open_citation(0, 1)
    viewer = w.sources.viewer
    assert viewer.sentence_rects and viewer.passage_rects
    width = viewer.page_view.pixmap().width()
    fit = viewer.page_scroll.viewport().width()
    assert abs(width / viewer.page_view.pixmap().devicePixelRatio() - fit) < 8  # fit to width
    wheel = QWheelEvent(
        QPointF(20, 20),
        QPointF(20, 20),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(viewer.page_scroll.viewport(), wheel)
    assert viewer.zoom == 1.25 and viewer.page_view.pixmap().width() > width * 1.2
    qtbot.keyClick(w, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom == 1.0
    qtbot.keyClick(w, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom == 1.25
    qtbot.keyClick(w, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom == 1.0
    # the sentence is painted strongly: its centre differs from the light passage colour
    image = viewer.page_view.pixmap().toImage()
    ratio = image.devicePixelRatio()
    box = viewer.sentence_box
    assert image.pixelColor(int(box.left() * ratio + 2), int(box.center().y() * ratio)) != (
        image.pixelColor(5, 5)
    )


def test_f8_steps_through_the_citations(qtbot, window, docs):
    from tests.test_gui import make_engine

    w = window(make_engine())
    open_and_index(qtbot, w, docs)
    ask(qtbot, w, "What is the travel cap?")
    with qtbot.waitSignal(w.passage_shown, timeout=5000) as first:
        qtbot.keyClick(w, Qt.Key.Key_F8)
    with qtbot.waitSignal(w.passage_shown, timeout=5000) as second:
        qtbot.keyClick(w, Qt.Key.Key_F8)
    with qtbot.waitSignal(w.passage_shown, timeout=5000) as back:
        qtbot.keyClick(w, Qt.Key.Key_F8, Qt.KeyboardModifier.ShiftModifier)
    assert {first.args[0].number, second.args[0].number} == {1, 2}
    assert back.args[0].number == first.args[0].number


def test_dark_theme_and_about(qtbot, window, monkeypatch):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from app.about import about_text

    w = window()
    w.set_theme("dark")
    try:
        assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80
        assert Settings.load().ui.theme == "dark"
    finally:
        w.set_theme("light")
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 180
    text = about_text()
    assert "Apache-2.0" in text and "PySide6" in text and str(paths.data_dir()) in text
    assert "Qwen2.5 Coder 1.5B Instruct" in text and "Qwen2.5 Coder 0.5B Instruct" in text
    menus = [a.text().replace("&", "") for a in w.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Help"]


def test_the_system_theme_is_followed_when_it_changes(qtbot):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from app import theme

    app = QApplication.instance()
    chosen = {"theme": "system"}
    theme.follow_system(lambda: chosen["theme"])
    hints = app.styleHints()
    try:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # as the desktop does on a switch
        assert app.palette().color(QPalette.ColorRole.Window).lightness() < 80
        chosen["theme"] = "light"  # a fixed choice is not overridden by the system
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert app.palette().color(QPalette.ColorRole.Window).lightness() < 80
        chosen["theme"] = "system"
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert app.palette().color(QPalette.ColorRole.Window).lightness() > 180
    finally:
        theme.apply("light")


def test_switching_to_dark_redraws_the_transcript_in_dark_colours(qtbot, window, docs):
    from PySide6.QtGui import QPalette

    from tests.test_gui import make_engine

    w = window(make_engine())
    open_and_index(qtbot, w, docs)
    ask(qtbot, w, "What is the travel cap?")
    try:
        w.set_theme("dark")
        link = w.palette().color(QPalette.ColorRole.Link)

        def cite_colour():
            cursor = w.chat.transcript.textCursor()
            cursor.setPosition(anchor_position(w, cite_url(0, 1)) + 1)
            return cursor.charFormat().foreground().color()

        qtbot.waitUntil(lambda: cite_colour() == link, timeout=5000)
        assert w.chat.transcript.toPlainText().count("You: What is the travel cap?") == 1
    finally:
        w.set_theme("light")


def test_pages_render_sharp_on_a_hidpi_screen(docs, tmp_path):
    """At 200 % scaling the page is drawn with twice the pixels, not blown up."""
    import subprocess
    import sys

    probe = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from app import theme
theme.prepare_hidpi()
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.source_viewer import SourceViewer
v = SourceViewer()
v.resize(500, 700)
v.show()
app.processEvents()
text = "{PDF_PASSAGE}"
v.show_passage({str(docs / "policy.pdf")!r}, 2, text, 0, len(text), "policy.pdf")
app.processEvents()
p = v.page_view.pixmap()
print(p.devicePixelRatio(), p.width(), p.deviceIndependentSize().width(), len(v.passage_rects))
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    ratio, pixels, logical, marks = out.stdout.split()[-4:]
    assert float(ratio) == 2.0 and int(marks) > 0
    assert int(pixels) == pytest.approx(2 * float(logical), abs=2)
