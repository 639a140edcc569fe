"""Shows a cited passage where it stands: on its PDF page, or in its document's text.

PDF pages are rendered with QtPdf and the passage is painted over them: its
characters are found in PDFium's own page text (whitespace may differ from the
text the index holds, so the match ignores it) and ``getSelectionAtIndex``
gives their outlines. Pages and images read by OCR have no text to find: the
core hands their boxes over (``boxes``, in page points or image pixels) and
they are painted the same way. Other documents are shown as plain text, never
as HTML, with the passage selected and scrolled into view.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QImage,
    QImageReader,
    QPainter,
    QPalette,
    QPixmap,
    QTextCursor,
)
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


# Highlighter colours: paper stays white in either theme, so these are fixed, not themed.
PASSAGE_MARK = "#fff4c2"  # light yellow: the whole passage the answer drew on
SENTENCE_MARK = "#ffc21a"  # strong amber: the sentence that supports the claim
ZOOM_STEPS = (0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)


class PdfPage(QLabel):
    """One rendered page with the passage's outlines painted on it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.highlight_rects: list[QRectF] = []  # in page points

    def render(
        self,
        doc: QPdfDocument,
        page: int,
        width: int,
        rects: list[QRectF],
        strong: list[QRectF] = (),
    ) -> tuple[QRectF, QRectF]:
        """Render ``page`` at ``width`` pixels with the passage (``rects``) lightly and the
        supporting sentence (``strong``) strongly marked; returns both boxes in pixels."""
        points = doc.pagePointSize(page)
        if points.width() <= 0:
            return QRectF(), QRectF()
        ratio = self.devicePixelRatioF()
        scale = width / points.width()
        size = QSize(int(width * ratio), int(points.height() * scale * ratio))
        return self._paint(doc.render(page, size), scale, rects, strong)

    def render_image(
        self, picture: QImage, width: int, rects: list[QRectF], strong: list[QRectF] = ()
    ) -> tuple[QRectF, QRectF]:
        """An image (a photographed or scanned page) at ``width``; rects in its pixels."""
        if picture.width() <= 0:
            return QRectF(), QRectF()
        ratio = self.devicePixelRatioF()
        scale = width / picture.width()
        size = QSize(int(width * ratio), int(picture.height() * scale * ratio))
        scaled = picture.scaled(
            size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        return self._paint(scaled, scale, rects, strong)

    def _paint(
        self, rendered: QImage, scale: float, rects: list[QRectF], strong: Sequence[QRectF]
    ) -> tuple[QRectF, QRectF]:
        self.highlight_rects = rects
        ratio = self.devicePixelRatioF()
        # PDF pages are paper: transparent parts show white, whatever the theme.
        image = QImage(rendered.size(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        painter.drawImage(0, 0, rendered)
        # Multiply keeps the text under the marks black and readable on white paper.
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
        boxes = []
        for group, mark in ((rects, PASSAGE_MARK), (strong, SENTENCE_MARK)):
            colour = QColor(mark)
            box = QRectF()
            for r in group:
                px = QRectF(r.x() * scale, r.y() * scale, r.width() * scale, r.height() * scale)
                painter.fillRect(
                    QRectF(px.x() * ratio, px.y() * ratio, px.width() * ratio, px.height() * ratio),
                    colour,
                )
                box = box.united(px)
            boxes.append(box)
        painter.end()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(ratio)
        self.setPixmap(pixmap)
        return boxes[0], boxes[1]


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
        self.zoom_out_button = QPushButton("−", self)
        self.zoom_out_button.setToolTip("Zoom out (Ctrl+−, or Ctrl+wheel)")
        self.zoom_out_button.clicked.connect(self.zoom_out)
        self.zoom_label = QPushButton("Fit width", self)
        self.zoom_label.setToolTip("Fit the page to the width of the viewer (Ctrl+0)")
        self.zoom_label.setFlat(True)
        self.zoom_label.clicked.connect(self.zoom_reset)
        self.zoom_in_button = QPushButton("+", self)
        self.zoom_in_button.setToolTip("Zoom in (Ctrl++, or Ctrl+wheel)")
        self.zoom_in_button.clicked.connect(self.zoom_in)
        for b in (self.prev_button, self.next_button, self.zoom_out_button, self.zoom_in_button):
            b.setFixedWidth(b.fontMetrics().horizontalAdvance("▶") * 3)

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
        bar.addWidget(self.zoom_out_button)
        bar.addWidget(self.zoom_label)
        bar.addWidget(self.zoom_in_button)
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
        self.sentence_rects: list[QRectF] = []
        self.highlight_box = QRectF()  # the passage, in pixels of the rendered page
        self.sentence_box = QRectF()  # the supporting sentence
        self.image: QImage | None = None  # the page image shown, for image files
        self.selection: tuple[int, int] | None = None  # in the text view
        self.focus: tuple[int, int] | None = None  # the supporting sentence, in the text view
        self.zoom = 1.0  # times "fit to width"
        self._text_zoom = 0  # font steps in the text view
        for view in (self.page_scroll.viewport(), self.text.viewport()):
            view.installEventFilter(self)
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
        self.image = None
        self.title.setText("Click a citation [n] to see its passage here.")
        self.note.setText("")
        self.text.clear()
        self.open_button.setEnabled(False)
        self._set_pdf_controls(False)
        self.stack.setCurrentWidget(self.text)

    def show_passage(
        self,
        path: Path,
        page: int | None,
        text: str,
        start: int,
        end: int,
        heading: str,
        focus: tuple[int, int] | None = None,
        boxes: Sequence[Sequence[float]] = (),
        focus_boxes: Sequence[Sequence[float]] = (),
        note: str = "",
    ) -> None:
        """Open ``path`` at ``page`` (1-based) with text[start:end] marked lightly and
        ``focus`` (the supporting sentence, offsets into ``text``) marked strongly.

        ``boxes`` and ``focus_boxes`` (x0, y0, x1, y1) mark the same on a page image
        read by OCR; ``note`` says so ("Read by OCR, 93% sure")."""
        self.path = Path(path)
        self.title.setText(heading)
        self.open_button.setEnabled(self.path.exists())
        self.note.setText("")
        self.selection = None
        self.focus = None
        self.image = None
        passage = text[start:end]
        sentence = text[focus[0] : focus[1]] if focus else ""
        rects, strong = _rects(boxes), _rects(focus_boxes)
        if self.path.suffix.lower() == ".pdf" and self._show_pdf(
            page or 1, passage, sentence, rects, strong, note
        ):
            return
        if QImageReader(str(self.path)).canRead() and self._show_image(
            page or 1, rects, strong, note
        ):
            return
        self._show_text(text, start, end, focus)
        if note:
            self.note.setText(f"{self.note.text()} {note}".strip())

    # -- PDF -----------------------------------------------------------------------
    def _show_pdf(
        self,
        page: int,
        passage: str,
        sentence: str = "",
        rects: Sequence[QRectF] = (),
        strong: Sequence[QRectF] = (),
        note: str = "",
    ) -> bool:
        self.pdf.close()
        if self.pdf.load(str(self.path)) != QPdfDocument.Error.None_:
            self.note.setText("The PDF could not be displayed; showing its text instead.")
            return False
        index = min(max(page - 1, 0), self.pdf.pageCount() - 1)
        self.passage_page = index
        self.passage_rects = list(rects)
        self.sentence_rects = list(strong)
        page_text = "" if rects else self.pdf.getAllText(index).text()
        where = locate(page_text, passage) if page_text else None
        if where:
            self.passage_rects = self._outline(index, *where)
            found = locate(page_text[where[0] : where[1]], sentence) if sentence else None
            if found:
                self.sentence_rects = self._outline(index, where[0] + found[0], where[0] + found[1])
        self.note.setText(
            f"Page {page} of {self.pdf.pageCount()}"
            + ("" if self.passage_rects else " (the passage could not be marked on this page)")
            + (f" · {note}" if note else "")
        )
        self.stack.setCurrentWidget(self.page_scroll)
        self._set_pdf_controls(True)
        self.go_to_page(index)
        return True

    def _outline(self, page: int, start: int, end: int) -> list[QRectF]:
        selection = self.pdf.getSelectionAtIndex(page, start, end - start)
        return [poly.boundingRect() for poly in selection.bounds()]

    # -- images ----------------------------------------------------------------------
    def _show_image(
        self, page: int, rects: Sequence[QRectF], strong: Sequence[QRectF], note: str = ""
    ) -> bool:
        """A photographed or scanned page (one frame of a multi-page TIFF) with its boxes."""
        reader = QImageReader(str(self.path))
        reader.setAutoTransform(True)  # EXIF orientation, as the OCR saw it
        if page > 1:
            reader.jumpToImage(page - 1)
        picture = reader.read()
        if picture.isNull():
            self.note.setText("The image could not be displayed; showing its text instead.")
            return False
        self.image = picture
        self.passage_page = 0
        self.passage_rects = list(rects)
        self.sentence_rects = list(strong)
        self.note.setText(
            ("" if rects else "The passage could not be marked on this image.")
            + (f" {note}" if note else "")
        )
        self.stack.setCurrentWidget(self.page_scroll)
        self._set_pdf_controls(False)
        self.go_to_page(0)
        return True

    def go_to_page(self, index: int, scroll: bool = True) -> None:
        width = int(max(self.page_scroll.viewport().width() - 2, 200) * self.zoom)
        if self.image is not None:
            self.page = index = 0
        elif self.pdf.pageCount() == 0:
            return
        else:
            index = min(max(index, 0), self.pdf.pageCount() - 1)
            self.page = index
            self.prev_button.setEnabled(index > 0)
            self.next_button.setEnabled(index < self.pdf.pageCount() - 1)
        here = index == self.passage_page
        rects = self.passage_rects if here else []
        strong = self.sentence_rects if here else []
        if self.image is not None:
            self.highlight_box, self.sentence_box = self.page_view.render_image(
                self.image, width, rects, strong
            )
        else:
            self.highlight_box, self.sentence_box = self.page_view.render(
                self.pdf, index, width, rects, strong
            )
        if not scroll:
            return
        if rects:
            box = self.sentence_box if strong else self.highlight_box
            self.page_view.adjustSize()
            self.page_scroll.widget().adjustSize()
            self.page_scroll.ensureVisible(
                int(box.center().x()),
                int(box.center().y()),
                self.page_scroll.viewport().width() // 3,
                self.page_scroll.viewport().height() // 3,
            )
        else:
            self.page_scroll.verticalScrollBar().setValue(0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.stack.currentWidget() is self.page_scroll:
            self._rerender.start()

    # -- text ------------------------------------------------------------------------
    def _show_text(
        self, text: str, start: int, end: int, focus: tuple[int, int] | None = None
    ) -> None:
        self._set_pdf_controls(False)
        self.stack.setCurrentWidget(self.text)
        self.text.setPlainText(text)
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        self.selection = (start, end)
        marks = [self._mark(start, end, QColor(PASSAGE_MARK))]
        if focus and start <= focus[0] < focus[1] <= end:
            self.focus = focus
            marks.append(self._mark(*focus, QColor(SENTENCE_MARK)))
        self.text.setExtraSelections(marks)
        start, end = self.focus or (start, end)
        end_cursor = QTextCursor(self.text.document())
        end_cursor.setPosition(end)
        self.text.setTextCursor(end_cursor)
        start_cursor = QTextCursor(self.text.document())
        start_cursor.setPosition(start)
        self.text.setTextCursor(start_cursor)
        self.text.centerCursor()
        if not self.note.text():
            self.note.setText("The passage is highlighted.")

    def _mark(self, start: int, end: int, colour: QColor) -> QTextEdit.ExtraSelection:
        mark = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        mark.cursor = cursor
        mark.format.setBackground(colour)
        mark.format.setForeground(QColor("black"))  # dark text on the light marks, any theme
        return mark

    def focused_text(self) -> str:
        """The supporting sentence marked in the text view ("" when none)."""
        if self.focus is None:
            return ""
        return self.text.toPlainText()[self.focus[0] : self.focus[1]]

    # -- zoom ------------------------------------------------------------------------
    def set_zoom(self, zoom: float) -> None:
        """PDF pages: ``zoom`` times the width that fits; text: font steps follow it."""
        self.zoom = min(max(zoom, ZOOM_STEPS[0]), ZOOM_STEPS[-1])
        self.zoom_label.setText("Fit width" if self.zoom == 1.0 else f"{self.zoom:.0%}")
        steps = round((self.zoom - 1.0) * 4)
        self.text.zoomIn(steps - self._text_zoom)
        self._text_zoom = steps
        if self.stack.currentWidget() is self.page_scroll:
            self.go_to_page(self.page)

    def zoom_in(self) -> None:
        self.set_zoom(next((z for z in ZOOM_STEPS if z > self.zoom + 1e-6), ZOOM_STEPS[-1]))

    def zoom_out(self) -> None:
        self.set_zoom(
            next((z for z in reversed(ZOOM_STEPS) if z < self.zoom - 1e-6), ZOOM_STEPS[0])
        )

    def zoom_reset(self) -> None:
        self.set_zoom(1.0)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if (
            event.type() == QEvent.Type.Wheel
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            if event.angleDelta().y() > 0:
                self.zoom_in()
            elif event.angleDelta().y() < 0:
                self.zoom_out()
            return True
        return super().eventFilter(watched, event)

    def highlighted_text(self) -> str:
        if self.selection is None:
            return ""
        return self.text.toPlainText()[self.selection[0] : self.selection[1]]

    def open_externally(self) -> None:
        if self.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path)))


def _rects(boxes: Sequence[Sequence[float]]) -> list[QRectF]:
    return [QRectF(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes]
