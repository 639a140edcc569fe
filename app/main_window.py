"""The window: library on the left, chat in the middle, sources and model on the right.

It reaches the core only through the engine's methods, always on a worker, so the
GUI thread only ever updates widgets. It owns its workers and its settings, and
saves the settings whenever they change and when it closes.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QSplitter,
    QTabWidget,
)

from app.chat_view import ChatView
from app.libraries_panel import ALL, ConversationsPanel, LibrariesPanel
from app.library_panel import LibraryPanel
from app.model_panel import ModelPanel, describe_model
from app.plain import confirm, warn
from app.sources_panel import SourcesPanel, source_heading
from app.workers import Job, Workers
from rag import errors, paths
from rag.conversations import ALL_LIBRARIES, ConversationError, ConversationStore
from rag.engine_api import EngineAPI
from rag.highlight import supporting_span
from rag.libraries import Libraries, LibraryError
from rag.progress import status_line
from rag.render import conversation_markdown, format_answer
from rag.settings import LiveSettings, Settings
from rag.suggest import first_questions
from rag.types import Answer, Source, Turn


def _encode(data: QByteArray) -> str:
    return base64.b64encode(bytes(data.data())).decode("ascii")


def _decode(text: str) -> QByteArray:
    try:
        return QByteArray(base64.b64decode(text.encode("ascii"), validate=True))
    except ValueError:
        return QByteArray()


class MainWindow(QMainWindow):
    index_finished = Signal(object)  # IndexReport
    answer_finished = Signal(object)  # Answer (or the exception's message, a str)
    model_loaded = Signal(object)  # ModelInfo, or the exception
    passage_shown = Signal(object)  # Source
    folder_changed = Signal()  # files in the open folder were added, changed or removed

    def __init__(
        self,
        engine: EngineAPI,
        settings: LiveSettings | Settings,
        *,
        save_settings: bool = True,
        preload_model: bool = True,
        libraries: Libraries | None = None,
        conversations: ConversationStore | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        # The one owner of the live settings: saved values with this run's flags on top.
        self.live = settings if isinstance(settings, LiveSettings) else LiveSettings(settings)
        settings = self.live.effective
        self.save_settings = save_settings
        self.preload_model = preload_model  # load the LLM at start, so the first answer is quick
        self._pending_question: str | None = None
        self.workers = Workers(self)
        self.folder: Path | None = None
        self.exchanges: list[tuple[str, Answer | str]] = []
        self.answers: list[Answer] = []
        self._ask_job: Job | None = None
        self._index_job: Job | None = None
        self._after_index: list = []  # run once the index job ends (switch, remove)
        self._index_folder: Path | None = None
        self.libraries = libraries if libraries is not None else Libraries()
        self.conversations = conversations
        self._own_conversations = conversations is None
        if conversations is None:
            try:
                self.conversations = ConversationStore()
            except ConversationError as exc:  # the window still works, without history
                problem = str(exc)
                QTimer.singleShot(0, lambda: self.statusBar().showMessage(problem, 15000))
        self.library_name: str | None = None  # the library shown, or ALL
        self.conversation_id: int | None = None
        self._turn_id: int | None = None
        self.suggested: list[str] = []
        self._watcher = None  # rag.sync.FolderWatcher of the open folder
        # The watcher's thread only raises this flag; a timer of the window reads it, so no
        # call crosses into Qt from another thread (or reaches a window already deleted).
        self._folder_dirty = threading.Event()
        self._sync_timer = QTimer(self)
        self._sync_timer.setInterval(300)
        self._sync_timer.timeout.connect(self._check_folder_changed)
        self._sync_timer.start()
        self.setWindowTitle("Quarry")
        self.setAcceptDrops(True)

        self.chat = ChatView(self)
        self.setCentralWidget(self.chat)
        self.library_list = LibrariesPanel(self)
        self.history = ConversationsPanel(self)
        self.library = LibraryPanel(self)
        self.sources = SourcesPanel(self)
        self.model_panel = ModelPanel(
            settings.decoding,
            settings.ui.preset,
            settings.model.model,
            settings.model.gpu_layers,
            paths.models_dir(),
            self,
            llm_url=settings.model.llm_url,
        )
        left = QSplitter(Qt.Orientation.Vertical, self)
        for part in (self.library_list, self.history, self.library):
            left.addWidget(part)
        left.setStretchFactor(0, 2)
        left.setStretchFactor(1, 3)
        left.setStretchFactor(2, 3)
        self.library_dock = self._dock("Library", left, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.right_tabs = QTabWidget(self)
        self.right_tabs.addTab(self.sources, "Sources")
        self.right_tabs.addTab(self.model_panel, "Model && decoding")
        self.right_dock = self._dock(
            "Sources and model", self.right_tabs, Qt.DockWidgetArea.RightDockWidgetArea
        )

        self.model_label = QLabel("Model: not loaded yet", self)
        self.device_label = QLabel("", self)
        self.speed_label = QLabel("", self)
        for w in (self.model_label, self.device_label, self.speed_label):
            w.setTextFormat(Qt.TextFormat.PlainText)
            self.statusBar().addPermanentWidget(w)

        self.chat.ask_requested.connect(self.ask)
        self.chat.stop_requested.connect(self.stop_answer)
        self.chat.citation_clicked.connect(self.open_citation)
        self.chat.evidence_clicked.connect(self.open_evidence)
        self.chat.copy_requested.connect(self.copy_last_answer)
        self.chat.export_requested.connect(self.export_dialog)
        self.chat.choose_folder_requested.connect(self.choose_folder)
        self.chat.suggestion_chosen.connect(self.ask)
        self.library.choose_folder_requested.connect(self.choose_folder)
        self.library_list.library_chosen.connect(self.switch_library)
        self.library_list.add_requested.connect(self.choose_folder)
        self.library_list.remove_requested.connect(self.remove_library)
        self.library_list.rename_requested.connect(self.rename_library)
        self.library_list.reindex_requested.connect(
            lambda name: self.start_index() if name == self.library_name else None
        )
        self.history.conversation_chosen.connect(self.open_conversation)
        self.history.new_requested.connect(self.new_conversation)
        self.history.rename_requested.connect(self.rename_conversation)
        self.history.delete_requested.connect(self.delete_conversation)
        self.history.search_changed.connect(lambda _text: self.refresh_conversations())
        self.library.reindex_requested.connect(self.start_index)
        self.library.stop_requested.connect(lambda: self.workers.stop("index"))
        self.folder_changed.connect(self._on_folder_changed)
        self.sources.source_chosen.connect(self.show_source)
        self.model_panel.load_requested.connect(self.load_model)
        self.model_panel.gpu_layers_changed.connect(self._on_gpu_layers)
        self.model_panel.server_url_changed.connect(self._on_server_url)
        self.model_panel.decoding.changed.connect(self._on_decoding)

        self._shortcut("Ctrl+Return", self.chat.submit)
        self._shortcut("Ctrl+Enter", self.chat.submit)
        self._shortcut("Escape", self.stop_answer)
        self._build_menus()

        self.resize(1400, 860)
        self.resizeDocks(
            [self.library_dock, self.right_dock], [300, 640], Qt.Orientation.Horizontal
        )
        self.refresh_libraries()
        if settings.ui.geometry:
            self.restoreGeometry(_decode(settings.ui.geometry))
        if settings.ui.state:
            self.restoreState(_decode(settings.ui.state))
        # The model list (and preload) waits until indexing has opened the folder: first use
        # of the embedding and LLM libraries from two threads at once can fail mid-import.
        self._models_listed = False
        QTimer.singleShot(0, lambda: None if self.folder else self._list_models())

    def _dock(self, title: str, widget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _shortcut(self, keys, slot) -> QShortcut:
        sc = QShortcut(QKeySequence(keys), self)
        sc.setContext(Qt.ShortcutContext.WindowShortcut)
        sc.activated.connect(slot)
        return sc

    def _build_menus(self) -> None:
        """File, Edit, View and Help, with the usual shortcuts."""
        bar = self.menuBar()

        def action(menu, text, slot, keys=None, tip_text="") -> QAction:
            a = QAction(text, self)
            if keys is not None:
                a.setShortcuts(
                    [QKeySequence(k) for k in keys]
                    if isinstance(keys, list)
                    else [QKeySequence(keys)]
                )
            if tip_text:
                a.setStatusTip(tip_text)
            a.triggered.connect(lambda _checked=False: slot())
            menu.addAction(a)
            return a

        file = bar.addMenu("&File")
        action(
            file,
            "&Add library folder…",
            self.choose_folder,
            QKeySequence.StandardKey.Open,
            "Add a folder of documents as a library",
        )
        self.libraries_menu = file.addMenu("&Libraries")
        self.libraries_menu.aboutToShow.connect(self._fill_libraries_menu)
        action(file, "&New conversation", self.new_conversation, QKeySequence.StandardKey.New)
        action(file, "Re-&index library", self.start_index, "F5")
        file.addSeparator()
        action(
            file, "Export conversation as &Markdown…", lambda: self.export_dialog("md"), "Ctrl+E"
        )
        action(file, "Export conversation as &JSON…", lambda: self.export_dialog("json"))
        file.addSeparator()
        action(file, "&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        file.addSeparator()
        action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        action(edit, "&Copy answer", self.copy_last_answer, "Ctrl+Shift+C")
        action(edit, "&Find in conversation…", self.chat.show_find, QKeySequence.StandardKey.Find)
        action(edit, "Find &next", self.chat.find_next, QKeySequence.StandardKey.FindNext)
        action(edit, "Ask a &question", self.focus_question, "Ctrl+L")

        view = bar.addMenu("&View")
        for dock in (self.library_dock, self.right_dock):
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        viewer = self.sources.viewer
        action(view, "Zoom &in", viewer.zoom_in, [QKeySequence.StandardKey.ZoomIn, "Ctrl+="])
        action(view, "Zoom &out", viewer.zoom_out, QKeySequence.StandardKey.ZoomOut)
        action(view, "&Fit page to width", viewer.zoom_reset, "Ctrl+0")
        action(view, "Next &citation", lambda: self.step_citation(1), "F8")
        action(view, "&Previous citation", lambda: self.step_citation(-1), "Shift+F8")
        view.addSeparator()
        themes = view.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name, text in (
            ("system", "Follow the &system"),
            ("light", "&Light"),
            ("dark", "&Dark"),
        ):
            a = QAction(text, self, checkable=True)
            a.setChecked(self.settings.ui.theme == name)
            a.triggered.connect(lambda _checked=False, n=name: self.set_theme(n))
            group.addAction(a)
            themes.addAction(a)
            self.theme_actions[name] = a

        help_menu = bar.addMenu("&Help")
        action(help_menu, "&About Quarry", self.show_about)

    def _fill_libraries_menu(self) -> None:
        """File → Libraries: every library (the shown one checked), to switch to."""
        menu = self.libraries_menu
        menu.clear()
        names = self.libraries.names()
        for name in [*names, ALL] if len(names) > 1 else names:
            a = menu.addAction("All libraries" if name == ALL else name.replace("&", "&&"))
            a.setCheckable(True)
            a.setChecked(name == self.library_name)
            a.triggered.connect(lambda _checked=False, n=name: self.switch_library(n))
        if not names:
            menu.addAction("No libraries yet").setEnabled(False)
        menu.addSeparator()
        current = self.library_name not in (None, ALL)
        rename = menu.addAction("Rename…", lambda: self.rename_library(self.library_name))
        remove = menu.addAction("Remove…", lambda: self.remove_library(self.library_name))
        rename.setEnabled(current)
        remove.setEnabled(current)

    def open_settings(self) -> None:
        """The settings dialog; what it changes is used at once and saved."""
        from app.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        self.settings_dialog = dialog
        if dialog.exec() and dialog.result_settings is not None:
            self.apply_settings(dialog.result_settings)
        self.settings_dialog = None

    def apply_settings(self, new: Settings) -> None:
        old = self.settings
        if new == old:
            return
        self._set_settings(new)
        self.model_panel.decoding.set_params(new.decoding, new.ui.preset)
        self.model_panel.gpu_layers.blockSignals(True)
        self.model_panel.gpu_layers.setValue(new.model.gpu_layers)
        self.model_panel.gpu_layers.blockSignals(False)
        engine = self.engine
        if new.model != old.model:
            self.load_model(new.model.model)  # reloads with the new model settings
        elif new.index != old.index or new.retrieval != old.retrieval:
            self.workers.start("settings", lambda _job: engine.update_settings(new))
        if new.index != old.index and self.folder is not None:
            self.start_index()  # the index is rebuilt for the new chunking

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """The transcript's colours are written into its text: redraw it in the new ones."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and not self.workers.busy("ask"):
            QTimer.singleShot(0, self._redraw_chat)

    def _redraw_chat(self) -> None:
        if not self.exchanges or self.workers.busy("ask"):
            return
        self.chat.clear()
        self.chat.set_empty(False)
        for question, answer in self.exchanges:
            self.chat.add_question(question)
            self.chat.begin_answer("")
            if isinstance(answer, Answer):
                self.chat.finish_answer(answer)
            else:
                self.chat.fail_answer(answer)

    def set_theme(self, name: str) -> None:
        from app import theme

        theme.apply(name)
        self._set_settings(replace(self.settings, ui=replace(self.settings.ui, theme=name)))
        self.theme_actions[name].setChecked(True)

    def show_about(self) -> None:
        from app.about import AboutDialog

        AboutDialog(self).exec()

    def focus_question(self) -> None:
        self.chat.question.setFocus(Qt.FocusReason.ShortcutFocusReason)

    # -- settings --------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The settings in use (saved ones plus this run's command-line flags)."""
        return self.live.effective

    def _set_settings(self, settings: Settings) -> None:
        """Use ``settings`` from now on; what changed is saved (flags never are)."""
        self.live.change(settings)
        if self.save_settings:
            try:
                self.live.save()
            except OSError as exc:
                why = errors.reason(exc)
                self.statusBar().showMessage(f"Could not save settings: {why}.", 8000)

    def _on_decoding(self, params, preset: str) -> None:
        self._set_settings(
            replace(self.settings, decoding=params, ui=replace(self.settings.ui, preset=preset))
        )

    def _on_gpu_layers(self, layers: int) -> None:
        self._set_settings(
            replace(self.settings, model=replace(self.settings.model, gpu_layers=layers))
        )

    def _on_server_url(self, url: str) -> None:
        """Switch between a model server and this computer: list that side's models and load
        its default (a model named on one side means nothing on the other)."""
        model = replace(self.settings.model, llm_url=url, model="default")
        self._set_settings(replace(self.settings, model=model))
        self._models_listed = False
        self._list_models()
        self.load_model("default")

    # -- libraries ---------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = str(self.folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of documents", start)
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path, index: bool = True) -> None:
        """Add ``folder`` as a library (if it is not one yet), show it and bring its index
        up to date in the background."""
        try:
            lib = self.libraries.add(Path(folder))
        except LibraryError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return
        self.refresh_libraries()
        self.switch_library(lib.name, index=index)

    def refresh_libraries(self) -> None:
        self.library_list.set_libraries(self.libraries.all(), self.library_name)

    def switch_library(self, name: str, index: bool = True) -> None:
        """Show library ``name`` (or ALL) at once; its index opens on a worker."""
        if name == self.library_name:
            return
        if name == ALL:
            self.library_name, self.folder = ALL, None
            self._watch(None)
            self.library.set_folder(None)
            self.library.folder_label.setText("All libraries: questions search every one")
            self.library.set_files([])
            self.setWindowTitle("Quarry — all libraries")
        else:
            try:
                lib = self.libraries.get(name)
            except LibraryError as exc:
                self.statusBar().showMessage(str(exc), 8000)
                return
            self.library_name, self.folder = lib.name, lib.path
            self._watch(self.folder)
            self.library.set_folder(self.folder)
            self.library.set_files([])
            self.setWindowTitle(f"Quarry — {lib.name}")
            self._set_settings(
                replace(self.settings, ui=replace(self.settings.ui, folder=str(self.folder)))
            )
        self.library_list.select(name)
        self.suggested = []
        self.new_conversation()
        if index and name != ALL:
            self.start_index()

    def _watch(self, folder: Path | None) -> None:
        """Follow the shown library's files (the watcher's thread raises _folder_dirty)."""
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self._folder_dirty.clear()
        if folder is not None:
            from rag.sync import FolderWatcher

            try:
                self._watcher = FolderWatcher(folder, self._folder_dirty.set)
            except OSError as exc:
                why = errors.reason(exc)
                self.statusBar().showMessage(f"Not following changes in the folder: {why}.", 8000)

    def _check_folder_changed(self) -> None:
        if self._folder_dirty.is_set():
            self._folder_dirty.clear()
            self.folder_changed.emit()

    def _on_folder_changed(self) -> None:
        """Re-index after a change; a run in progress is stopped and started again (both
        phases resume), so a saved file is searchable within seconds, not after the
        meaning index of the whole folder is complete."""
        if self.folder is None:
            return
        if self.workers.busy("index"):
            if self.start_index not in self._after_index:
                self._after_index.append(self.start_index)
            self.workers.stop("index")
        else:
            self.start_index()

    def rename_library(self, name: str, new_name: str | None = None) -> None:
        """Give a library another name (its index and conversations stay as they are)."""
        if new_name is None:
            new_name, ok = QInputDialog.getText(self, "Rename library", "Name:", text=name)
            if not ok:
                return
        try:
            lib = self.libraries.rename(name, new_name)
        except LibraryError as exc:
            warn(self, "Could not rename the library", str(exc))
            return
        if self.library_name == name:
            self.library_name = lib.name
            self.setWindowTitle(f"Quarry — {lib.name}")
            if self.conversation_id is None and not self.answers:
                self.chat.show_welcome(lib.name, self.suggested)
        self.library_list.progress.pop(name, None)
        self.refresh_libraries()

    def remove_library(self, name: str, confirmed: bool = False) -> None:
        """Forget a library: its index and conversations are deleted, its files are not."""
        try:
            lib = self.libraries.get(name)
        except LibraryError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return
        if not confirmed and not confirm(
            self,
            "Remove library",
            f"Remove the library {lib.name}?\n\nIts index and saved conversations are "
            f"deleted. The documents in {lib.folder} are not touched.",
        ):
            return
        if self.workers.busy("index"):  # the index may be this one's: stop, then remove
            self._after_index.append(lambda: self.remove_library(name, confirmed=True))
            self.workers.stop("index")
            return
        if self.engine.folder is not None and Path(self.engine.folder) == lib.path:
            self.engine.close_folder()
        self.libraries.remove(name)
        if self.conversations is not None:
            self.conversations.delete_library(lib.folder)
        self.statusBar().showMessage(
            f"Removed {lib.name}; the files in {lib.folder} are untouched.", 8000
        )
        if self.library_name == name:
            self.library_name, self.folder = None, None
            self._watch(None)
            self.library.set_folder(None)
            self.library.set_files([])
            rest = self.libraries.names()
            self.refresh_libraries()
            if rest:
                self.switch_library(rest[0])
            else:
                self.new_conversation()
        else:
            self.refresh_libraries()

    def start_index(self) -> None:
        if self.folder is None:
            return
        if self.workers.busy("index"):
            if self._index_folder == self.folder:
                return
            self._after_index.append(self.start_index)  # another library: stop it first
            self.workers.stop("index")
            return
        folder, engine, name = self.folder, self.engine, self.library_name
        self._index_folder = folder

        def work(job: Job):
            if engine.folder is None or Path(engine.folder).resolve() != folder:
                engine.open_folder(folder)
            report = engine.index(folder, on_progress=job.on_progress, should_stop=job.should_stop)
            return report, engine.files(), engine.outline()

        self.library.set_indexing(True)
        self.statusBar().showMessage("Indexing… you can already ask about what is indexed.")

        listed = {"files": False}

        def progress(done: int, total: int, detail) -> None:
            if self.folder == folder:
                self.library.show_progress(done, total, detail)
            self.library_list.set_progress(name, "indexing: " + status_line(done, total, detail))
            self._list_models()
            if getattr(detail, "stage", "") == "embedding" and not listed["files"]:
                listed["files"] = True  # every file is searchable now: list them
                self.library.set_files(self.engine.files())

        self._index_job = self.workers.start(
            "index",
            work,
            progress=progress,
            done=lambda result: self._index_done(name, folder, result),
            failed=lambda exc: self._index_failed(name, folder, exc),
            finished=self._index_ended,
        )

    def _index_ended(self) -> None:
        self._index_folder = None
        pending, self._after_index = self._after_index, []
        for fn in pending:
            fn()

    def _index_done(self, name: str, folder: Path, result) -> None:
        self._list_models()
        report, files, outline = result
        self.library_list.set_progress(name, "")
        ready = [f for f in files if f.status.value in ("indexed", "unchanged") and f.chunks]
        with contextlib.suppress(LibraryError):  # unless it was removed meanwhile
            self.libraries.record_index(
                name, len(ready), sum(f.chunks for f in ready), len(report.problems)
            )
        self.refresh_libraries()
        if self.folder == folder:
            self.library.set_indexing(False)
            self.library.show_report(report)
            self.library.set_files(files)
            self.statusBar().showMessage(self.library.summary.text(), 10000)
            self.suggested = first_questions(outline)
            if not self.answers and self.conversation_id is None:
                self.chat.show_welcome(name, self.suggested)
        self.index_finished.emit(report)

    def _index_failed(self, name: str, folder: Path, exc: BaseException) -> None:
        self._list_models()
        self.library_list.set_progress(name, "")
        if self.folder == folder:
            self.library.set_indexing(False)
            self.library.show_error(str(exc))
            self.statusBar().showMessage(f"Indexing failed: {exc}", 10000)
        self.index_finished.emit(exc)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if any(Path(u.toLocalFile()).is_dir() for u in event.mimeData().urls() if u.isLocalFile()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        """A folder dropped on the window becomes a library (the last one is shown)."""
        folders = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        folders = [f for f in folders if f.is_dir()]
        for folder in folders[:-1]:
            try:
                self.libraries.add(folder)
            except LibraryError as exc:
                self.statusBar().showMessage(str(exc), 8000)
        if folders:
            self.open_folder(folders[-1])
            event.acceptProposedAction()

    # -- conversations -----------------------------------------------------------------
    def _library_key(self) -> str:
        return ALL_LIBRARIES if self.library_name == ALL else str(self.folder or "")

    def refresh_conversations(self) -> None:
        if self.conversations is None or self.library_name is None:
            self.history.set_conversations([], None)
            return
        items = self.conversations.list(self._library_key(), self.history.search.text())
        self.history.set_conversations(items, self.conversation_id)

    def new_conversation(self) -> None:
        """An empty chat for the library shown (Ctrl+N); saved once the first question is."""
        if self.workers.busy("ask"):
            self.stop_answer()
        self.conversation_id = None
        self._turn_id = None
        self.exchanges, self.answers = [], []
        self.chat.clear()
        self.sources.clear()
        if self.library_name is None:
            self.chat.set_empty(True)
        else:
            label = "all libraries" if self.library_name == ALL else self.library_name
            self.chat.show_welcome(label, self.suggested)
        self.refresh_conversations()
        self.focus_question()

    def open_conversation(self, conversation: int) -> None:
        """Show a saved conversation as it was: answers, marks and working citations."""
        if self.conversations is None or conversation == self.conversation_id:
            return
        if self.workers.busy("ask"):
            self.statusBar().showMessage("Wait for the answer to finish, or stop it.", 5000)
            return
        try:
            saved = self.conversations.load(conversation)
        except ConversationError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return
        self.conversation_id = conversation
        self.exchanges, self.answers = [], []
        self.chat.clear()
        self.sources.clear()
        self.chat.set_empty(False)
        for turn in saved.turns:
            self.chat.add_question(turn.question)
            self.chat.begin_answer("")
            if turn.answer is not None:
                self.chat.finish_answer(turn.answer)
                self.answers.append(turn.answer)
                self.exchanges.append((turn.question, turn.answer))
            else:
                message = turn.error or "This answer was interrupted before it was finished."
                self.chat.fail_answer(message)
                self.exchanges.append((turn.question, message))
        self.refresh_conversations()

    def rename_conversation(self, conversation: int) -> None:
        if self.conversations is None:
            return
        info = self.conversations.info(conversation)
        if info is None:
            return
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=info.title)
        if ok and title.strip():
            self.conversations.rename(conversation, title)
            self.refresh_conversations()

    def delete_conversation(self, conversation: int) -> None:
        if self.conversations is None:
            return
        if not confirm(
            self, "Delete conversation", "Delete this conversation? This cannot be undone."
        ):
            return
        self.conversations.delete(conversation)
        if conversation == self.conversation_id:
            self.new_conversation()
        else:
            self.refresh_conversations()

    def _save_question(self, question: str) -> None:
        """Write the question the moment it is asked (a crash keeps it)."""
        if self.conversations is None or self.library_name is None:
            return
        try:
            if self.conversation_id is None:
                self.conversation_id = self.conversations.start(self._library_key(), question)
            self._turn_id = self.conversations.add_question(self.conversation_id, question)
        except ConversationError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            self._turn_id = None
        self.refresh_conversations()

    def _save_answer(self, answer: Answer | str) -> None:
        if self.conversations is None or self._turn_id is None:
            return
        try:
            self.conversations.set_answer(self._turn_id, answer)
        except ConversationError as exc:
            self.statusBar().showMessage(str(exc), 8000)
        self._turn_id = None
        self.refresh_conversations()

    # -- asking ------------------------------------------------------------------------
    def _folders(self) -> list[Path]:
        if self.library_name == ALL:
            return [lib.path for lib in self.libraries.all() if lib.path.is_dir()]
        return [self.folder] if self.folder is not None else []

    def ask(self, question: str) -> None:
        if self.workers.busy("ask"):
            return
        if self.workers.busy("model"):  # asked while the model loads: ask once it is ready
            if self._pending_question != question:
                self._pending_question = question
                self.chat.add_question(question)
                self.chat.begin_answer("loading the model…")
                self.chat.set_busy(True)
                self._save_question(question)
            return
        folders = self._folders()
        if not folders:
            self.chat.set_empty(True)
            self.statusBar().showMessage("Add a folder first (Ctrl+O).", 6000)
            return
        history = [Turn(q, a.text) for q, a in self.exchanges if isinstance(a, Answer)]
        decoding, engine = self.settings.decoding, self.engine
        k = self.settings.retrieval.k
        many = f" in {len(folders)} libraries" if len(folders) > 1 else ""
        status = f"reading up to {k} passage{'s' if k != 1 else ''}{many}…"
        if self._pending_question != question:
            self.chat.add_question(question)
            self.chat.begin_answer(status)
            self._save_question(question)
        else:
            self.chat.set_status(status)
        self._pending_question = None
        self.chat.set_busy(True)
        self._question = question
        self._ask_job = self.workers.start(
            "ask",
            lambda job: engine.ask(
                question,
                history,
                decoding,
                on_token=job.on_token,
                should_stop=job.should_stop,
                folders=folders,
            ),
            token=self.chat.append_token,
            done=self._answer_done,
            failed=self._answer_failed,
            finished=lambda: self.chat.set_busy(False),
        )

    def stop_answer(self) -> None:
        if self.workers.busy("ask"):
            self.workers.stop("ask")
            self.statusBar().showMessage("Stopping…", 3000)

    def _answer_done(self, answer: Answer) -> None:
        index = self.chat.finish_answer(answer)
        self.answers.append(answer)
        self.exchanges.append((self._question, answer))
        self._save_answer(answer)
        self.sources.show_answer(answer, index)
        if answer.stats.tokens_per_s:
            self.speed_label.setText(f"Last answer: {answer.stats.tokens_per_s:.1f} tokens/s")
        self._show_model(getattr(self.engine, "model_info", None))
        self.answer_finished.emit(answer)

    def _answer_failed(self, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        self.chat.fail_answer(message)
        self.exchanges.append((self._question, message))
        self._save_answer(message)
        self.answer_finished.emit(message)

    # -- sources -----------------------------------------------------------------------
    def open_citation(self, answer_index: int, number: int) -> None:
        if not 0 <= answer_index < len(self.answers):
            return
        self.right_tabs.setCurrentWidget(self.sources)
        self.right_dock.show()
        self.sources.show_answer(self.answers[answer_index], answer_index)
        self.sources.select(number)

    def open_evidence(self, answer_index: int, i: int) -> None:
        """Open an evidence sentence's source, highlighting that sentence, not the passage."""
        if not 0 <= answer_index < len(self.answers):
            return
        answer = self.answers[answer_index]
        if not 0 <= i < len(answer.evidence):
            return
        e = answer.evidence[i]
        source = next((s for s in answer.sources if s.number == e.source), None)
        if source is None:
            return
        self.right_tabs.setCurrentWidget(self.sources)
        self.right_dock.show()
        self.sources.show_answer(answer, answer_index)
        self.sources.blockSignals(True)  # the passage itself is not opened: the sentence is
        try:
            self.sources.select(e.source)
        finally:
            self.sources.blockSignals(False)
        self.show_source(replace(source, start=e.start, end=e.end, text=e.text))

    def step_citation(self, step: int) -> None:
        """Show the next (or previous) source of the answer shown (F8 / Shift+F8)."""
        if self.sources.answer is None and self.answers:
            self.sources.show_answer(self.answers[-1], len(self.answers) - 1)
        self.right_tabs.setCurrentWidget(self.sources)
        self.sources.step(step)

    def _resolve(self, file: str) -> Path:
        """A source's file on disk: absolute already (asked across libraries), or in the
        library the conversation belongs to."""
        if Path(file).is_absolute() or self.folder is None:
            return Path(file)
        return self.folder / file

    def show_source(self, source: Source) -> None:
        """Read the passage's page text on a worker (documents can be slow to parse)."""
        engine = self.engine
        path = self._resolve(source.file)
        answer = self.sources.answer
        claims = [
            s.text
            for s in (answer.sentences if answer else [])
            if any(c.source == source.number for c in s.citations)
        ]
        self.sources.viewer.title.setText(source_heading(source))
        self.sources.viewer.note.setText("Opening…")

        # The answering sentence the core quoted for this source, when it chose one;
        # else the passage sentence that shares most words with the citing claims.
        quoted = next(
            (
                (e.start, e.end)
                for e in getattr(answer, "evidence", None) or []
                if e.source == source.number and e.page == source.page
            ),
            None,
        )

        def work(_job: Job):
            text = engine.source_text(str(path), source.page)
            passage = text[source.start : source.end]
            span = supporting_span(passage, claims) if claims else None
            focus = (source.start + span[0], source.start + span[1]) if span else None
            if quoted and 0 <= quoted[0] < quoted[1] <= len(text):
                focus = quoted
            # Pages read by OCR have no text layer to find the passage in: their boxes.
            boxes = engine.passage_boxes(str(path), source.page, source.start, source.end)
            strong = engine.passage_boxes(str(path), source.page, *focus) if focus else []
            return text, focus, boxes, strong

        def done(result) -> None:
            text, focus, boxes, strong = result
            self.sources.show_passage(source, path, text, focus, boxes, strong)
            self.passage_shown.emit(source)

        def failed(exc: BaseException) -> None:
            self.sources.viewer.note.setText(f"Could not open {source.file}: {exc}")

        self.workers.start("source", work, done=done, failed=failed)

    def copy_last_answer(self) -> None:
        if self.answers:
            self.chat.copy_text(format_answer(self.answers[-1], details=False))
            self.statusBar().showMessage("Answer copied.", 3000)

    def export_dialog(self, kind: str = "md") -> None:
        md, js = "Markdown (*.md)", "JSON (*.json)"
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export the conversation",
            str(Path.home() / f"quarry-conversation.{kind}"),
            f"{js};;{md}" if kind == "json" else f"{md};;{js}",
        )
        if not path:
            return
        if chosen == js or path.endswith(".json"):
            self.export_json(Path(path))
        else:
            self.export_markdown(Path(path))

    def export_json(self, path: Path) -> None:
        """The conversation whole (answers with sentences, marks and sources), as JSON."""
        import json

        if self.conversations is not None and self.conversation_id is not None:
            data = self.conversations.load(self.conversation_id).to_json()
        else:
            data = {
                "title": "",
                "library": self._library_key(),
                "turns": [
                    {
                        "question": q,
                        "answer": a.to_json() if isinstance(a, Answer) else None,
                        "error": a if isinstance(a, str) else "",
                    }
                    for q, a in self.exchanges
                ],
            }
        try:
            path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        except OSError as exc:
            warn(self, "Could not export", f"Could not write {path}: {errors.reason(exc)}.")
            return
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def export_markdown(self, path: Path) -> None:
        try:
            path.write_text(conversation_markdown(self.folder, self.exchanges), encoding="utf-8")
        except OSError as exc:
            warn(self, "Could not export", f"Could not write {path}: {errors.reason(exc)}.")
            return
        self.statusBar().showMessage(f"Saved {path}", 5000)

    # -- model -------------------------------------------------------------------------
    def _list_models(self) -> None:
        """List the models and start loading the chosen one, once per window."""
        if self._models_listed:
            return
        self._models_listed = True
        engine = self.engine

        def done(result) -> None:
            models, device = result
            self.model_panel.set_models(models, self.settings.model.model)
            self.model_panel.set_device(device)
            self.device_label.setText(device)
            if self.preload_model and getattr(self.engine, "model_info", None) is None:
                self.load_model(self.settings.model.model)

        self.workers.start(
            "models",
            lambda _job: (engine.available_models(), engine.device),
            done=done,
            failed=lambda exc: self.model_panel.set_device(str(exc)),
        )

    def load_model(self, spec: str) -> None:
        if self.workers.busy("model"):
            return
        if self.workers.busy("ask"):
            self.statusBar().showMessage(
                "Wait for the answer to finish, or stop it, before changing the model.", 6000
            )
            return
        settings = replace(self.settings, model=replace(self.settings.model, model=spec))
        engine = self.engine

        def work(job: Job):
            engine.update_settings(settings)
            return engine.load_model(spec, on_progress=job.on_progress), engine.device

        def progress(*args) -> None:
            nums = [a for a in args if isinstance(a, int | float)]
            if len(nums) >= 2:
                self.model_panel.show_load_progress(nums[0], nums[1])
            elif nums:
                self.model_panel.show_load_progress(nums[0], 1.0)

        def done(result) -> None:
            info, device = result
            self._set_settings(settings)
            self.model_panel.set_loading(False)
            self.model_panel.set_device(device)
            self.device_label.setText(device)
            self._show_model(info)
            self.model_loaded.emit(info)

        def failed(exc: BaseException) -> None:
            self.model_panel.set_loading(False)
            warn(self, "Could not load the model", str(exc) or repr(exc))
            self.model_loaded.emit(exc)

        def finished() -> None:
            if self._pending_question is not None:
                self.ask(self._pending_question)

        self.model_panel.set_loading(True)
        self.statusBar().showMessage(f"Loading {Path(spec).name}…", 5000)
        self.workers.start(
            "model", work, progress=progress, done=done, failed=failed, finished=finished
        )

    def _show_model(self, info: Any) -> None:
        if info is not None:
            self.model_label.setText(f"Model: {describe_model(info)}")

    # -- lifetime ------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        ui = replace(
            self.settings.ui, geometry=_encode(self.saveGeometry()), state=_encode(self.saveState())
        )
        self._set_settings(replace(self.settings, ui=ui))
        self._watch(None)
        self.workers.shutdown(10_000)
        if self.conversations is not None and self._own_conversations:
            self.conversations.close()
            self.conversations = None
        super().closeEvent(event)
