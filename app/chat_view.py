"""The conversation: questions, streamed answers, citation links and support marks.

Answers are written into the document with QTextCursor.insertText, never as
HTML, so whatever a model or a document says is shown literally; the only
links are the citation anchors Quarry sets itself (``quarry:cite/<answer>/<n>``).
"""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.plain import tip
from rag.text import CITATION, citation_numbers
from rag.types import Answer, Support

CITE_SCHEME = "quarry"
_MARKER = re.compile(r"\s?(?:" + CITATION.pattern + ")", re.IGNORECASE)
# Wavy underlines in these hues read on light and dark backgrounds alike.
_WEAK = QColor(214, 140, 0)
_UNSUPPORTED = QColor(220, 50, 47)
_MARK_TIPS = {
    Support.WEAK: "Weakly supported by the sources",
    Support.UNSUPPORTED: "Not supported by the sources",
    Support.UNCITED: "No source supports this, and it cites none",
}


def cite_url(answer: int, source: int) -> str:
    return f"{CITE_SCHEME}:cite/{answer}/{source}"


def evidence_url(answer: int, index: int) -> str:
    return f"{CITE_SCHEME}:evidence/{answer}/{index}"


def parse_cite(url: QUrl, kind: str = "cite") -> tuple[int, int] | None:
    """(answer, source number) of a citation link; ``kind="evidence"``: (answer, evidence index)."""
    if url.scheme() != CITE_SCHEME:
        return None
    parts = url.path().split("/")
    if len(parts) != 3 or parts[0] != kind:
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None


class TranscriptView(QTextBrowser):
    """A read-only transcript whose text fragments may carry their own tooltips."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setUndoRedoEnabled(False)

    def tooltip_at(self, pos: QPoint) -> str:
        cursor = self.cursorForPosition(pos)
        tip = cursor.charFormat().toolTip()
        if not tip:  # the format after the cursor, when it sits at a fragment start
            cursor.movePosition(QTextCursor.MoveOperation.NextCharacter)
            tip = cursor.charFormat().toolTip()
        return tip

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.ToolTip:
            tip = self.tooltip_at(event.pos())
            if tip:
                QToolTip.showText(event.globalPos(), tip, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)


class ChatView(QWidget):
    NO_FOLDER = (
        "Choose a folder of PDFs, Word files, notes or web pages (or drop one on this "
        "window). Quarry indexes it on this computer, and every answer cites the page and "
        "passage it came from. Nothing leaves your machine."
    )
    ask_requested = Signal(str)
    stop_requested = Signal()
    citation_clicked = Signal(int, int)  # answer index, source number
    evidence_clicked = Signal(int, int)  # answer index, index into Answer.evidence
    copy_requested = Signal()
    export_requested = Signal()
    choose_folder_requested = Signal()
    suggestion_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transcript = TranscriptView(self)
        self.transcript.anchorClicked.connect(self._on_anchor)
        self.empty = QWidget(self)
        empty_layout = QVBoxLayout(self.empty)
        empty_layout.addStretch(1)
        title = QLabel("Ask questions of your documents", self.empty)
        title.setTextFormat(Qt.TextFormat.PlainText)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setWordWrap(True)
        blurb = QLabel(self.NO_FOLDER, self.empty)
        blurb.setTextFormat(Qt.TextFormat.PlainText)
        blurb.setWordWrap(True)
        blurb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_title, self.empty_blurb = title, blurb
        self.suggestions: list[QPushButton] = []
        suggestions = QVBoxLayout()
        for _ in range(3):
            b = QPushButton("", self.empty)
            b.setFlat(False)
            b.setVisible(False)
            # Long questions must not widen the window: the button takes the width it gets.
            b.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            b.clicked.connect(
                lambda _=False, b=b: self.suggestion_chosen.emit(b.property("question"))
            )
            suggestions.addWidget(b)
            self.suggestions.append(b)
        self.choose_button = QPushButton("Choose a folder…", self.empty)
        self.choose_button.clicked.connect(self.choose_folder_requested)
        empty_layout.addWidget(title)
        empty_layout.addWidget(blurb)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.choose_button)
        row.addStretch(1)
        empty_layout.addLayout(row)
        empty_layout.addSpacing(12)
        empty_layout.addLayout(suggestions)
        empty_layout.addStretch(2)

        self.question = QPlainTextEdit(self)
        self.question.setPlaceholderText("Ask a question about your documents (Ctrl+Enter to send)")
        self.question.setTabChangesFocus(True)
        self.question.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.question.setFixedHeight(self.question.fontMetrics().lineSpacing() * 3 + 16)
        self.send_button = QPushButton("Ask", self)
        self.send_button.setToolTip("Send the question (Ctrl+Enter)")
        self.send_button.clicked.connect(self.submit)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.setEnabled(False)
        self.copy_button = QPushButton("Copy answer", self)
        self.copy_button.clicked.connect(self.copy_requested)
        self.export_button = QPushButton("Export…", self)
        self.export_button.setToolTip("Save the conversation and its sources as Markdown")
        self.export_button.clicked.connect(self.export_requested)
        for b in (self.copy_button, self.export_button):
            b.setEnabled(False)

        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        ask_row = QHBoxLayout()
        ask_row.addWidget(self.question, 1)
        ask_row.addLayout(buttons)
        tools = QHBoxLayout()
        self.hint = QLabel("", self)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        tools.addWidget(self.hint, 1)
        self.find_box = QLineEdit(self)
        self.find_box.setPlaceholderText("Find in this conversation (Enter: next)")
        self.find_box.setClearButtonEnabled(True)
        self.find_box.returnPressed.connect(self.find_next)
        self.find_box.setVisible(False)
        tools.addWidget(self.find_box, 1)
        tools.addWidget(self.copy_button)
        tools.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(tools)
        layout.addLayout(ask_row)
        self._stream_start: int | None = None
        self._placeholder = False
        self.answers = 0
        self.set_empty(True)

    # -- state -----------------------------------------------------------------------
    def set_empty(self, empty: bool) -> None:
        """Before a folder is chosen, invite choosing one instead of showing a blank chat."""
        if empty:
            self.show_welcome(None, [])
            return
        self.empty.setVisible(False)
        self.transcript.setVisible(True)

    def show_welcome(self, library: str | None, suggestions: list[str]) -> None:
        """The empty chat: what to do next, and questions drawn from the library's documents."""
        if library is None:
            self.empty_title.setText("Ask questions of your documents")
            self.empty_blurb.setText(self.NO_FOLDER)
        else:
            self.empty_title.setText(f"Ask {library}")
            self.empty_blurb.setText(
                "Type a question below and press Ctrl+Enter. The answer cites its sources "
                "like [1]: click one to read the page it came from, with the supporting "
                "sentence highlighted. Underlined sentences are weakly supported or not at "
                "all; hover over them to see why."
                + ("\n\nOr start with one of these:" if suggestions else "")
            )
        self.choose_button.setVisible(library is None)
        for button, text in zip(self.suggestions, [*suggestions, "", "", ""], strict=False):
            button.setProperty("question", text)
            button.setToolTip(tip(text))
            button.setVisible(bool(text))
        self._elide_suggestions()
        self.empty.setVisible(True)
        self.transcript.setVisible(False)

    def suggested_questions(self) -> list[str]:
        return [b.property("question") for b in self.suggestions if b.property("question")]

    def _elide_suggestions(self) -> None:
        """Long questions are shortened on their button (the whole one is asked)."""
        for b in self.suggestions:
            text = b.property("question") or ""
            width = max(self.empty.width() - 60, 120)
            b.setText(b.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, width))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide_suggestions()

    def clear(self) -> None:
        """Forget the transcript (a new or another conversation is about to be shown)."""
        self.transcript.clear()
        self.answers = 0
        self._stream_start = None
        self._placeholder = False
        self.hint.setText("")
        for b in (self.copy_button, self.export_button):
            b.setEnabled(False)

    def set_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)

    def submit(self) -> None:
        text = self.question.toPlainText().strip()
        if text and self.send_button.isEnabled():
            self.question.clear()
            self.ask_requested.emit(text)

    def _on_anchor(self, url: QUrl) -> None:
        cite = parse_cite(url)
        if cite:
            self.citation_clicked.emit(*cite)
        quote = parse_cite(url, "evidence")
        if quote:
            self.evidence_clicked.emit(*quote)

    # -- writing -----------------------------------------------------------------------
    def _end(self) -> QTextCursor:
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _muted(self) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setForeground(self.palette().brush(QPalette.ColorRole.PlaceholderText))
        return fmt

    def _new_block(self, cursor: QTextCursor, top: float = 0.0) -> None:
        block = QTextBlockFormat()
        block.setTopMargin(top)
        if self.transcript.document().isEmpty():
            cursor.setBlockFormat(block)
        else:
            cursor.insertBlock(block, QTextCharFormat())

    def add_question(self, question: str) -> None:
        self.set_empty(False)
        cursor = self._end()
        self._new_block(cursor, top=14)
        who = QTextCharFormat()
        who.setFontWeight(QFont.Weight.Bold)
        cursor.insertText("You: ", who)
        cursor.insertText(question, QTextCharFormat())
        self._scroll_to_end()

    def begin_answer(self, status: str = "reading the sources…") -> None:
        """Start an answer; ``status`` says what happens until its first word arrives."""
        cursor = self._end()
        self._new_block(cursor, top=6)
        who = QTextCharFormat()
        who.setFontWeight(QFont.Weight.Bold)
        cursor.insertText("Quarry: ", who)
        cursor.insertText("", QTextCharFormat())
        self._stream_start = cursor.position()
        self.set_status(status)
        self._scroll_to_end()

    def set_status(self, status: str) -> None:
        """Shown in place of the answer until its first word ("reading 5 passages…")."""
        if self._stream_start is None:
            return
        cursor = self._end()
        cursor.setPosition(self._stream_start, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        fmt = self._muted()
        fmt.setFontItalic(True)
        cursor.insertText(status, fmt)
        self._placeholder = True
        self.hint.setText(status[:1].upper() + status[1:])

    def append_token(self, text: str) -> None:
        if self._stream_start is None:
            return
        if self._placeholder:
            cursor = self._end()
            cursor.setPosition(self._stream_start, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            self._placeholder = False
        if self.hint.text():
            self.hint.setText("")
        bar = self.transcript.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        self._end().insertText(text, QTextCharFormat())
        if at_end:
            bar.setValue(bar.maximum())

    def _take_stream(self) -> QTextCursor:
        """Select what was streamed so far, to replace it with the finished answer."""
        cursor = self._end()
        if self._stream_start is not None:
            cursor.setPosition(self._stream_start, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
        self._stream_start = None
        self._placeholder = False
        self.hint.setText("")
        return cursor

    def finish_answer(self, answer: Answer) -> int:
        """Replace the streamed text with the checked answer; returns its index."""
        index = self.answers
        self.answers += 1
        cursor = self._take_stream()
        if answer.refused:
            self._write_refusal(cursor, answer)
        else:
            self._write_answer(cursor, answer, index)
            self._write_evidence(cursor, answer, index)
        self._write_footer(cursor, answer)
        for b in (self.copy_button, self.export_button):
            b.setEnabled(True)
        self._scroll_to_end()
        return index

    def fail_answer(self, message: str) -> None:
        cursor = self._take_stream()
        fmt = QTextCharFormat()
        fmt.setForeground(_UNSUPPORTED)
        cursor.insertText(f"Could not answer: {message}", fmt)
        self._scroll_to_end()

    def _write_refusal(self, cursor: QTextCursor, answer: Answer) -> None:
        fmt = self._muted()
        fmt.setFontItalic(True)
        fmt.setToolTip(
            tip(answer.note or "Nothing in your documents was relevant enough to answer.")
        )
        cursor.insertText("Not found in your documents. ", fmt)
        if answer.text:
            cursor.insertText(answer.text, fmt)

    def _cite_format(self, answer: int, n: int, checked: bool, title: str) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setAnchor(True)
        fmt.setAnchorHref(cite_url(answer, n))
        fmt.setForeground(self.palette().brush(QPalette.ColorRole.Link))
        fmt.setFontUnderline(not checked)
        if checked:
            fmt.setFontItalic(True)
        fmt.setToolTip(
            tip(
                f"Source {n}: {title}"
                + (
                    " (attributed by Quarry's support check; the model did not cite it)"
                    if checked
                    else ""
                )
            )
        )
        return fmt

    def _write_citations(
        self, cursor: QTextCursor, answer: Answer, index: int, numbers: list[tuple[int, bool]]
    ) -> None:
        titles = {
            s.number: f"{s.file}" + (f", p. {s.page}" if s.page else "") for s in answer.sources
        }
        for n, checked in numbers:
            if n in titles:
                cursor.insertText(f"[{n}]", self._cite_format(index, n, checked, titles[n]))
            else:
                fmt = self._muted()
                fmt.setFontStrikeOut(True)
                fmt.setToolTip(tip(f"The model cited source {n}, which does not exist."))
                cursor.insertText(f"[{n}]", fmt)

    def _write_answer(self, cursor: QTextCursor, answer: Answer, index: int) -> None:
        text = answer.text
        if not answer.sentences:
            self._write_plain_with_links(cursor, text, answer, index)
            return
        pos = 0
        for s in answer.sentences:
            if s.start > pos:
                cursor.insertText(text[pos : s.start], QTextCharFormat())
            body = _MARKER.sub("", text[s.start : s.end]).rstrip()
            trail = text[s.start : s.end][len(text[s.start : s.end].rstrip()) :]
            fmt = QTextCharFormat()
            if s.support is not Support.SUPPORTED:
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                fmt.setUnderlineColor(_WEAK if s.support is Support.WEAK else _UNSUPPORTED)
                why = _MARK_TIPS[s.support]
                fmt.setToolTip(tip(f"{why}: {s.evidence}" if s.evidence else why))
            elif s.evidence:
                fmt.setToolTip(tip(s.evidence))
            # Citations go before the sentence's closing punctuation: "… per trip [1]."
            stop = len(body.rstrip(".!?。！？;；:"))
            cursor.insertText(body[:stop], fmt)
            numbers: list[tuple[int, bool]] = []
            for c in s.citations:
                if all(c.source != n for n, _ in numbers):
                    numbers.append((c.source, c.origin == "check"))
            numbers += [(n, False) for n in s.invalid_citations]
            if numbers:
                cursor.insertText(" ", QTextCharFormat())
            self._write_citations(cursor, answer, index, numbers)
            cursor.insertText(body[stop:], fmt)
            if trail:
                cursor.insertText(trail, QTextCharFormat())
            pos = s.end
        if pos < len(text):
            self._write_plain_with_links(cursor, text[pos:], answer, index)

    def _write_plain_with_links(
        self, cursor: QTextCursor, text: str, answer: Answer, index: int
    ) -> None:
        pos = 0
        for m in _MARKER.finditer(text):
            cursor.insertText(text[pos : m.start()], QTextCharFormat())
            numbers = [(n, False) for n in citation_numbers(m.group(1))]
            self._write_citations(cursor, answer, index, numbers)
            pos = m.end()
        cursor.insertText(text[pos:], QTextCharFormat())

    def _write_evidence(self, cursor: QTextCursor, answer: Answer, index: int) -> None:
        """The answering sentences, quoted under the answer; a click opens each on its page."""
        for i, e in enumerate(answer.evidence):
            block = QTextBlockFormat()
            block.setTopMargin(4 if i == 0 else 0)
            block.setLeftMargin(18)
            cursor.insertBlock(block, QTextCharFormat())
            fmt = QTextCharFormat()
            fmt.setAnchor(True)
            fmt.setAnchorHref(evidence_url(index, i))
            fmt.setForeground(self.palette().brush(QPalette.ColorRole.Link))
            fmt.setFontItalic(True)
            place = f"{e.file}" + (f", page {e.page}" if e.page else "")
            fmt.setToolTip(tip(f"Open {place} at this sentence"))
            if e.part:
                cursor.insertText(f"{e.part}: ", self._muted())
            cursor.insertText(f"“{e.text}”", fmt)
            cursor.insertText(f"  [{e.source}] {place}", self._muted())

    def _write_footer(self, cursor: QTextCursor, answer: Answer) -> None:
        parts = []
        if answer.note:
            parts.append(answer.note)
        marked = sum(1 for s in answer.sentences if s.support is not Support.SUPPORTED)
        if marked:
            parts.append(
                f"{marked} sentence{'s' if marked > 1 else ''} underlined: hover to see why"
            )
        if answer.sources:
            parts.append(f"{len(answer.sources)} source{'s' if len(answer.sources) > 1 else ''}")
        if answer.stats.tokens_per_s:
            parts.append(f"{answer.stats.tokens_per_s:.1f} tokens/s")
        if not parts:
            return
        block = QTextBlockFormat()
        block.setTopMargin(2)
        fmt = self._muted()
        fmt.setFontPointSize(max(self.font().pointSizeF() * 0.85, 7.0))
        cursor.insertBlock(block, fmt)
        cursor.insertText(" · ".join(parts), fmt)

    def _scroll_to_end(self) -> None:
        bar = self.transcript.verticalScrollBar()
        bar.setValue(bar.maximum())

    def show_find(self) -> None:
        self.find_box.setVisible(True)
        self.find_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find_box.selectAll()

    def find_next(self) -> bool:
        """Select the next occurrence of the find text, wrapping to the top once."""
        text = self.find_box.text()
        if not text:
            return False
        if self.transcript.find(text):
            return True
        self.transcript.moveCursor(QTextCursor.MoveOperation.Start)
        return self.transcript.find(text)

    def copy_text(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
