"""The folder, its files with their index status, and indexing progress a person can read."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.plain import tip as plain_tip
from rag.progress import format_duration, status_line
from rag.types import FileReport, FileStatus, IndexProgress, IndexReport

STATUS_WORDS = {
    FileStatus.INDEXED: "indexed",
    FileStatus.UNCHANGED: "indexed",
    FileStatus.SKIPPED: "skipped",
    FileStatus.FAILED: "failed",
}


class LibraryPanel(QWidget):
    choose_folder_requested = Signal()
    reindex_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder_label = QLabel("No folder chosen", self)
        self.folder_label.setTextFormat(Qt.TextFormat.PlainText)
        self.folder_label.setWordWrap(True)
        font = self.folder_label.font()
        font.setBold(True)
        self.folder_label.setFont(font)
        self.choose_button = QPushButton("Choose folder…", self)
        self.choose_button.setToolTip("Choose the folder of documents to ask about (Ctrl+O)")
        self.choose_button.clicked.connect(self.choose_folder_requested)
        self.reindex_button = QPushButton("Re-index", self)
        self.reindex_button.setToolTip("Bring the index up to date; unchanged files are skipped")
        self.reindex_button.clicked.connect(self._on_reindex)
        self.reindex_button.setEnabled(False)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.current = QLabel("", self)
        self.current.setTextFormat(Qt.TextFormat.PlainText)
        self.current.setWordWrap(True)
        self.summary = QLabel("", self)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["File", "Status", "Chunks"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSortingEnabled(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)

        buttons = QHBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.reindex_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.folder_label)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.current)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        self.indexing = False

    def _on_reindex(self) -> None:
        (self.stop_requested if self.indexing else self.reindex_requested).emit()

    def set_folder(self, folder: Path | None) -> None:
        self.folder_label.setText(str(folder) if folder else "No folder chosen")
        self.folder_label.setToolTip(plain_tip(str(folder)) if folder else "")
        self.reindex_button.setEnabled(folder is not None)

    def set_indexing(self, on: bool) -> None:
        self.indexing = on
        self.progress.setVisible(on)
        self.reindex_button.setText("Stop indexing" if on else "Re-index")
        if on:
            self.progress.setRange(0, 0)  # busy until the first file count arrives
            self.current.setText("Opening the index and loading the embedding model…")
            self.summary.setText("")

    def show_progress(self, done: int, total: int, detail: IndexProgress | None) -> None:
        embedding = detail is not None and detail.stage == "embedding"
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat("meaning index %p%" if embedding else f"{done} / {total} files")
        line = status_line(done, total, detail)
        if detail is not None and detail.file:
            line += f"\nNow: {detail.file}"
        elif embedding:
            line += "\nYou can search and ask now; answers improve as this completes."
        self.current.setText(line)

    def show_report(self, report: IndexReport) -> None:
        failed = report.count(FileStatus.FAILED)
        skipped = report.count(FileStatus.SKIPPED)
        ready = report.count(FileStatus.INDEXED) + report.count(FileStatus.UNCHANGED)
        head = "Indexing stopped" if report.cancelled else "Indexed"
        text = f"{head}: {ready} file{'s' if ready != 1 else ''} ready"
        if report.chunks_added:
            text += f" ({report.chunks_added:,} new chunks)"
        text += f" in {format_duration(report.seconds)}."
        if report.pending:
            text += f" {report.pending:,} passages wait for the meaning index."
        if failed or skipped:
            text += f" {failed} failed, {skipped} skipped: hover over a file for the reason."
        self.current.setText("")
        self.summary.setText(text)
        tips = [f"{p.file}: {p.reason}" for p in report.problems][:20]
        self.summary.setToolTip(plain_tip("\n".join(tips)))

    def show_error(self, message: str) -> None:
        self.current.setText("")
        self.summary.setText(f"Indexing failed: {message}")

    def set_files(self, files: list[FileReport]) -> None:
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        for f in files:
            item = QTreeWidgetItem(
                [
                    f.file,
                    STATUS_WORDS.get(f.status, str(f.status)),
                    str(f.chunks) if f.chunks else "",
                ]
            )
            item.setData(2, Qt.ItemDataRole.DisplayRole, f.chunks)
            tip = f"{f.file}: {f.reason}" if f.reason else f.file
            if f.profile:
                tip += f"\n{f.profile}"
            for col in range(3):
                item.setToolTip(col, plain_tip(tip))
            if f.status is FileStatus.FAILED:
                item.setIcon(
                    1, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
                )
            elif f.status is FileStatus.SKIPPED:
                item.setIcon(
                    1, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation)
                )
            self.tree.addTopLevelItem(item)
        self.tree.setSortingEnabled(True)
        self.tree.sortItems(0, Qt.SortOrder.AscendingOrder)

    def item_for(self, file: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            if self.tree.topLevelItem(i).text(0) == file:
                return self.tree.topLevelItem(i)
        return None
