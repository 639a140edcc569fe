"""Shows a cited passage where it stands: on its PDF page, or in its document's text.

PDF pages are rendered with QtPdf and the passage is painted over them: its
characters are found in PDFium's own page text (whitespace may differ from the
text the index holds, so the match ignores it) and ``getSelectionAtIndex``
gives their outlines. Other documents are shown as plain text, never as HTML,
with the passage selected and scrolled into view.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QImage, QPainter, QPalette, QPixmap, QTextCursor
from PySide6.QtPdf import QPdfDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)


def locate(haystack: str, passage: str) -> tuple[int, int] | None:
    """Where ``passage`` occurs in ``haystack``, comparing text with whitespace removed.

    PDFium's page text and the index's page text can differ in line breaks and
    spacing; the words are the same. Returns (start, end) in ``haystack``.
    """
    keep = [i for i, ch in enumerate(haystack) if not ch.isspace()]
    squeezed = "".join(haystack[i] for i in keep)
    target = re.sub(r"\s+", "", passage)
    if not target:
        return None
    for probe in (target, target[:80], target[-80:]):
        at = squeezed.find(probe)
        if at >= 0:
            if probe is target or probe == target[:80]:
                first, last = at, min(at + len(target), len(keep)) - 1
            else:
                last = at + len(probe) - 1
                first = max(last - len(target) + 1, 0)
            return keep[first], keep[last] + 1
    return None


class PdfPage(QLabel):
    """One rendered page with the passage's outlines painted on it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.highlight_rects: list[QRectF] = []  # in page points

    def render(self, doc: QPdfDocument, page: int, width: int, rects: list[QRectF]) -> QRectF:
        """Render ``page`` at ``width`` pixels; returns the highlight's box in pixels."""
        self.highlight_rects = rects
        points = doc.pagePointSize(page)
        if points.width() <= 0:
            return QRectF()
        ratio = self.devicePixelRatioF()
        scale = width / points.width()
        size = QSize(int(width * ratio), int(points.height() * scale * ratio))
        rendered: QImage = doc.render(page, size)
        # PDF pages are paper: transparent parts show white, whatever the theme.
        image = QImage(rendered.size(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        painter.drawImage(0, 0, rendered)
        colour = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        colour.setAlpha(90)
        box = QRectF()
        for r in rects:
            px = QRectF(r.x() * scale, r.y() * scale, r.width() * scale, r.height() * scale)
            painter.fillRect(
                QRectF(px.x() * ratio, px.y() * ratio, px.width() * ratio, px.height() * ratio),
                colour,
            )
            box = box.united(px)
        painter.end()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(ratio)
        self.setPixmap(pixmap)
        return box


class SourceViewer(QWidget):
    """The passage of one source; ``show_passage`` is given everything it needs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Click a citation [n] to see its passage here.", self)
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.note = QLabel("", self)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.open_button = QPushButton("Open in system viewer", self)
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_externally)
        self.prev_button = QPushButton("◀", self)
        self.next_button = QPushButton("▶", self)
        self.prev_button.setToolTip("Previous page")
        self.next_button.setToolTip("Next page")
        self.prev_button.clicked.connect(lambda: self.go_to_page(self.page - 1))
        self.next_button.clicked.connect(lambda: self.go_to_page(self.page + 1))

        self.pdf = QPdfDocument(self)
        self.page_view = PdfPage()
        self.page_scroll = QScrollArea(self)
        self.page_scroll.setWidget(self.page_view)
        self.page_scroll.setWidgetResizable(True)
        self.page_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.page_scroll.setBackgroundRole(QPalette.ColorRole.Dark)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.text)
        self.stack.addWidget(self.page_scroll)

        bar = QHBoxLayout()
        bar.addWidget(self.prev_button)
        bar.addWidget(self.next_button)
        bar.addStretch(1)
        bar.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.note)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        self.path: Path | None = None
        self.page = 0  # 0-based PDF page shown
        self.passage_page = -1
        self.passage_rects: list[QRectF] = []
        self.highlight_box = QRectF()
        self.selection: tuple[int, int] | None = None  # in the text view
        self._rerender = QTimer(self)
        self._rerender.setSingleShot(True)
        self._rerender.setInterval(120)
        self._rerender.timeout.connect(lambda: self.go_to_page(self.page, scroll=False))
        self._set_pdf_controls(False)

    def _set_pdf_controls(self, on: bool) -> None:
        self.prev_button.setVisible(on)
        self.next_button.setVisible(on)

    def clear(self) -> None:
        self.path = None
        self.title.setText("Click a citation [n] to see its passage here.")
        self.note.setText("")
        self.text.clear()
        self.open_button.setEnabled(False)
        self._set_pdf_controls(False)
        self.stack.setCurrentWidget(self.text)

    def show_passage(
        self, path: Path, page: int | None, text: str, start: int, end: int, heading: str
    ) -> None:
        """Open ``path`` at ``page`` (1-based) with text[start:end] marked."""
        self.path = Path(path)
        self.title.setText(heading)
        self.open_button.setEnabled(self.path.exists())
        self.note.setText("")
        self.selection = None
        passage = text[start:end]
        if self.path.suffix.lower() == ".pdf" and self._show_pdf(page or 1, passage):
            return
        self._show_text(text, start, end)

    # -- PDF -----------------------------------------------------------------------
    def _show_pdf(self, page: int, passage: str) -> bool:
        self.pdf.close()
        if self.pdf.load(str(self.path)) != QPdfDocument.Error.None_:
            self.note.setText("The PDF could not be displayed; showing its text instead.")
            return False
        index = min(max(page - 1, 0), self.pdf.pageCount() - 1)
        self.passage_page = index
        self.passage_rects = []
        page_text = self.pdf.getAllText(index).text()
        where = locate(page_text, passage)
        if where:
            selection = self.pdf.getSelectionAtIndex(index, where[0], where[1] - where[0])
            for poly in selection.bounds():
                self.passage_rects.append(poly.boundingRect())
        self.note.setText(
            f"Page {page} of {self.pdf.pageCount()}"
            + ("" if self.passage_rects else " (the passage could not be marked on this page)")
        )
        self.stack.setCurrentWidget(self.page_scroll)
        self._set_pdf_controls(True)
        self.go_to_page(index)
        return True

    def go_to_page(self, index: int, scroll: bool = True) -> None:
        if self.pdf.pageCount() == 0:
            return
        index = min(max(index, 0), self.pdf.pageCount() - 1)
        self.page = index
        self.prev_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < self.pdf.pageCount() - 1)
        width = max(self.page_scroll.viewport().width() - 2, 200)
        rects = self.passage_rects if index == self.passage_page else []
        self.highlight_box = self.page_view.render(self.pdf, index, width, rects)
        if not scroll:
            return
        if rects:
            c = self.highlight_box.center()
            self.page_scroll.ensureVisible(
                int(c.x()),
                int(self.highlight_box.top()),
                10,
                self.page_scroll.viewport().height() // 3,
            )
        else:
            self.page_scroll.verticalScrollBar().setValue(0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.stack.currentWidget() is self.page_scroll:
            self._rerender.start()

    # -- text ------------------------------------------------------------------------
    def _show_text(self, text: str, start: int, end: int) -> None:
        self._set_pdf_controls(False)
        self.stack.setCurrentWidget(self.text)
        self.text.setPlainText(text)
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        self.selection = (start, end)
        mark = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        mark.cursor = cursor
        mark.format.setBackground(self.palette().brush(QPalette.ColorRole.Highlight))
        mark.format.setForeground(self.palette().brush(QPalette.ColorRole.HighlightedText))
        self.text.setExtraSelections([mark])
        end_cursor = QTextCursor(self.text.document())
        end_cursor.setPosition(end)
        self.text.setTextCursor(end_cursor)
        start_cursor = QTextCursor(self.text.document())
        start_cursor.setPosition(start)
        self.text.setTextCursor(start_cursor)
        self.text.centerCursor()
        if not self.note.text():
            self.note.setText("The passage is highlighted.")

    def highlighted_text(self) -> str:
        if self.selection is None:
            return ""
        return self.text.toPlainText()[self.selection[0] : self.selection[1]]

    def open_externally(self) -> None:
        if self.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path)))
