"""The libraries a person keeps, with their state, and the conversations of the one chosen.

Both lists are views of the core's registries (``rag.libraries``,
``rag.conversations``); this module only draws them and says what was clicked.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.plain import tip
from rag.conversations import ConversationInfo
from rag.libraries import Library

ALL = "\x00all"  # the list entry that asks every library at once


def when(seconds: float) -> str:
    """'14:02' today, 'Mon 14:02' this week, '3 May 2025' before."""
    t = time.localtime(seconds)
    now = time.localtime()
    if t[:3] == now[:3]:
        return time.strftime("%H:%M", t)
    if time.time() - seconds < 6 * 86400:
        return time.strftime("%a %H:%M", t)
    return time.strftime("%d %b %Y", t)


def _heading(text: str, parent: QWidget) -> QLabel:
    """The bold title above each of the two lists."""
    label = QLabel(text, parent)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _entry_list(parent: QWidget) -> QListWidget:
    """A list of two-line entries (a name, then its state) that wraps long names instead of
    scrolling sideways in the narrow side column."""
    entries = QListWidget(parent)
    entries.setWordWrap(True)
    entries.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return entries


class LibrariesPanel(QWidget):
    library_chosen = Signal(str)  # a library name, or ALL
    add_requested = Signal()
    remove_requested = Signal(str)
    rename_requested = Signal(str)
    reindex_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        heading = _heading("Libraries", self)
        self.list = _entry_list(self)
        self.list.setToolTip(
            "Each library is a folder with its own index. Drop a folder here to add it."
        )
        self.list.currentItemChanged.connect(self._on_current)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemDoubleClicked.connect(
            lambda item: (
                self.rename_requested.emit(item.data(Qt.ItemDataRole.UserRole))
                if item.data(Qt.ItemDataRole.UserRole) != ALL
                else None
            )
        )
        self.add_button = QPushButton("Add…", self)
        self.add_button.setToolTip("Add a folder of documents as a library (Ctrl+O)")
        self.add_button.clicked.connect(self.add_requested)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip(
            "Remove the library: its index and conversations are deleted, its files are not touched"
        )
        self.remove_button.clicked.connect(self._on_remove)
        row = QHBoxLayout()
        row.addWidget(heading, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        self.progress: dict[str, str] = {}  # library name -> indexing progress line

    def set_libraries(self, libraries: list[Library], current: str | None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for lib in libraries:
            self._add_item(lib.name, lib.name, self._state(lib), lib.folder, lib.state())
        if len(libraries) > 1:
            state = "ask every library at once"
            self._add_item(ALL, "All libraries", state, "", state)
        self.list.blockSignals(False)
        self.select(current)

    def _state(self, lib: Library) -> str:
        return self.progress.get(lib.name) or lib.state()

    def _add_item(self, key: str, name: str, state: str, folder: str, base: str) -> None:
        item = QListWidgetItem(f"{name}\n{state}")
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setData(Qt.ItemDataRole.UserRole + 1, base)
        item.setToolTip(tip(f"{name}\n{folder}\n{state}" if folder else f"{name}: {state}"))
        font = item.font()
        if key == ALL:
            font.setItalic(True)
        item.setFont(font)
        self.list.addItem(item)

    def set_progress(self, name: str, line: str) -> None:
        """Show indexing progress in the library's own row ('' when it is done)."""
        if line:
            self.progress[name] = line
        else:
            self.progress.pop(name, None)
        item = self.item(name)
        if item is not None:
            title = item.text().split("\n", 1)[0]
            state = line or item.data(Qt.ItemDataRole.UserRole + 1) or ""
            item.setText(f"{title}\n{state}")

    def item(self, key: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == key:
                return self.list.item(i)
        return None

    def names(self) -> list[str]:
        return [
            self.list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.list.count())
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) != ALL
        ]

    def select(self, key: str | None) -> None:
        item = self.item(key) if key else None
        self.list.blockSignals(True)
        self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.remove_button.setEnabled(item is not None and key != ALL)

    def current(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _on_current(self, item: QListWidgetItem | None, _previous=None) -> None:
        key = item.data(Qt.ItemDataRole.UserRole) if item else None
        self.remove_button.setEnabled(key is not None and key != ALL)
        if key:
            self.library_chosen.emit(key)

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        key = item.data(Qt.ItemDataRole.UserRole) if item else None
        if not key or key == ALL:
            return
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename_requested.emit(key))
        menu.addAction("Re-index", lambda: self.reindex_requested.emit(key))
        menu.addSeparator()
        menu.addAction("Remove…", lambda: self.remove_requested.emit(key))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _on_remove(self) -> None:
        key = self.current()
        if key and key != ALL:
            self.remove_requested.emit(key)


class ConversationsPanel(QWidget):
    """The saved conversations of the library shown: search, open, rename, delete."""

    conversation_chosen = Signal(int)
    new_requested = Signal()
    rename_requested = Signal(int)
    delete_requested = Signal(int)
    search_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        heading = _heading("Conversations", self)
        self.new_button = QPushButton("New", self)
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.new_requested)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search conversations…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.search_changed)
        self.list = _entry_list(self)
        self.list.itemActivated.connect(self._on_open)
        self.list.itemClicked.connect(self._on_open)
        self.rename_button = QPushButton("Rename…", self)
        self.rename_button.clicked.connect(lambda: self._emit_current(self.rename_requested))
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.clicked.connect(lambda: self._emit_current(self.delete_requested))
        top = QHBoxLayout()
        top.addWidget(heading, 1)
        top.addWidget(self.new_button)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.rename_button)
        bottom.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addLayout(bottom)
        self.list.currentItemChanged.connect(self._update_buttons)
        self._update_buttons()

    def set_conversations(self, items: list[ConversationInfo], current: int | None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for c in items:
            item = QListWidgetItem(
                f"{c.title}\n{when(c.updated)} · {c.turns} question{'s' if c.turns != 1 else ''}"
            )
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setToolTip(tip(c.title))
            if c.id == current:
                f = QFont(item.font())
                f.setBold(True)
                item.setFont(f)
            self.list.addItem(item)
            if c.id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._update_buttons()

    def ids(self) -> list[int]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def _update_buttons(self, *_args) -> None:
        on = self.list.currentItem() is not None
        self.rename_button.setEnabled(on)
        self.delete_button.setEnabled(on)

    def _emit_current(self, signal) -> None:
        item = self.list.currentItem()
        if item is not None:
            signal.emit(item.data(Qt.ItemDataRole.UserRole))

    def _on_open(self, item: QListWidgetItem) -> None:
        self.conversation_chosen.emit(item.data(Qt.ItemDataRole.UserRole))
