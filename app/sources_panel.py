"""The sources of the selected answer, and the viewer for the one chosen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QSplitter, QVBoxLayout, QWidget

from app.plain import tip
from app.source_viewer import SourceViewer
from rag.conversations import title_for
from rag.types import Answer, Source


def source_heading(source: Source) -> str:
    where = f", page {source.page}" if source.page else ""
    mark = f" · {ocr_mark(source)}" if source.ocr else ""
    return f"[{source.number}] {source.file}{where}{mark}"


def ocr_mark(source: Source) -> str:
    """'read by OCR, 93% sure' (and 'low' below the recogniser's threshold): scans can err."""
    from rag.ocr import describe

    return describe(source.ocr_confidence) if source.ocr else ""


class SourcesPanel(QWidget):
    source_chosen = Signal(object)  # rag.types.Source

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Sources of the selected answer", self)
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.currentItemChanged.connect(self._on_current)
        self.viewer = SourceViewer(self)
        split = QSplitter(Qt.Orientation.Vertical, self)
        top = QWidget(split)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.caption)
        top_layout.addWidget(self.list)
        split.addWidget(top)
        split.addWidget(self.viewer)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        self.answer: Answer | None = None
        self.answer_index = -1

    def show_answer(self, answer: Answer, index: int) -> None:
        if index == self.answer_index:
            return
        self.answer, self.answer_index = answer, index
        self.list.blockSignals(True)
        self.list.clear()
        for s in answer.sources:
            snippet = " ".join(s.text.split())
            if len(snippet) > 160:
                snippet = snippet[:157] + "…"
            item = QListWidgetItem(f"{source_heading(s)}\n{snippet}")
            item.setToolTip(tip(s.text[:1500]))
            item.setData(Qt.ItemDataRole.UserRole, s.number)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.caption.setText(
            f"Sources of answer {index + 1}: “{title_for(answer.question)}”"
            if answer.sources
            else "This answer has no sources."
        )

    def clear(self) -> None:
        self.answer, self.answer_index = None, -1
        self.list.clear()
        self.caption.setText("Sources of the selected answer")
        self.viewer.clear()

    def step(self, step: int) -> None:
        """Choose the next (step 1) or previous (-1) source, wrapping around."""
        if self.list.count() == 0:
            return
        row = (self.list.currentRow() + step) % self.list.count()
        self.select(self.list.item(row).data(Qt.ItemDataRole.UserRole))

    def select(self, number: int) -> None:
        """Choose source ``number``; emits source_chosen even when it is already current."""
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == number:
                if self.list.currentRow() == row:
                    self._on_current(self.list.item(row))
                else:
                    self.list.setCurrentRow(row)
                return

    def _on_current(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is None or self.answer is None:
            return
        number = item.data(Qt.ItemDataRole.UserRole)
        for s in self.answer.sources:
            if s.number == number:
                self.source_chosen.emit(s)

    def show_passage(
        self,
        source: Source,
        path: Path,
        text: str,
        focus: tuple[int, int] | None = None,
        boxes=(),
        focus_boxes=(),
    ) -> None:
        """``boxes``/``focus_boxes``: the passage and sentence on a page image read by OCR."""
        mark = ocr_mark(source)
        self.viewer.show_passage(
            path,
            source.page,
            text,
            source.start,
            source.end,
            source_heading(source),
            focus,
            boxes=boxes,
            focus_boxes=focus_boxes,
            note=mark[:1].upper() + mark[1:],
        )
