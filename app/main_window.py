"""The window: library on the left, chat in the middle, sources and model on the right.

It reaches the core only through the engine's methods, always on a worker, so the
GUI thread only ever updates widgets. It owns its workers and its settings, and
saves the settings whenever they change and when it closes.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QTabWidget,
)

from app.chat_view import ChatView
from app.library_panel import LibraryPanel
from app.model_panel import ModelPanel, describe_model
from app.plain import warn
from app.sources_panel import SourcesPanel, source_heading
from app.workers import Job, Workers
from rag import paths
from rag.engine_api import EngineAPI
from rag.settings import LiveSettings, Settings
from rag.types import Answer, IndexReport, Source, Turn


def _encode(data: QByteArray) -> str:
    return base64.b64encode(bytes(data.data())).decode("ascii")


def _decode(text: str) -> QByteArray:
    try:
        return QByteArray(base64.b64decode(text.encode("ascii"), validate=True))
    except ValueError:
        return QByteArray()


def conversation_markdown(folder: Path | None, exchanges: list[tuple[str, Answer | str]]) -> str:
    """The conversation with each answer's sources, as a Markdown document."""
    lines = ["# Quarry conversation", ""]
    if folder:
        lines.append(f"Folder: `{folder}`  ")
    lines += [f"Exported: {dt.datetime.now():%Y-%m-%d %H:%M}", ""]
    for question, answer in exchanges:
        lines += [f"## {question}", ""]
        if isinstance(answer, str):
            lines += [f"*Could not answer: {answer}*", ""]
            continue
        if answer.refused:
            lines += ["*Not found in your documents.*", ""]
        lines += [answer.text.strip() or "*(no answer)*", ""]
        if answer.note:
            lines += [f"*{answer.note}*", ""]
        marked = [s for s in answer.sentences if s.support.value != "supported"]
        for s in marked:
            lines.append(f"> {s.support.value}: “{s.text.strip()}” — {s.evidence}")
        if marked:
            lines.append("")
        if answer.sources:
            lines += ["**Sources**", ""]
            for s in answer.sources:
                quote = " ".join(s.text.split())
                lines.append(
                    f"{s.number}. {s.file}"
                    + (f", page {s.page}" if s.page else "")
                    + f" — “{quote}”"
                )
            lines.append("")
    return "\n".join(lines)


def answer_plain_text(answer: Answer) -> str:
    text = answer.text.strip()
    if answer.sources:
        text += "\n\nSources:\n" + "\n".join(
            f"[{s.number}] {s.file}" + (f", page {s.page}" if s.page else "")
            for s in answer.sources
        )
    return text


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
        self._watcher = None  # rag.sync.FolderWatcher of the open folder
        self._reindex_after = False  # the folder changed while indexing: go again when done
        self.setWindowTitle("Quarry")

        self.chat = ChatView(self)
        self.setCentralWidget(self.chat)
        self.library = LibraryPanel(self)
        self.sources = SourcesPanel(self)
        self.model_panel = ModelPanel(
            settings.decoding,
            settings.ui.preset,
            settings.model.model,
            settings.model.gpu_layers,
            paths.models_dir(),
            self,
        )
        self.library_dock = self._dock(
            "Library", self.library, Qt.DockWidgetArea.LeftDockWidgetArea
        )
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
        self.chat.copy_requested.connect(self.copy_last_answer)
        self.chat.export_requested.connect(self.export_dialog)
        self.chat.choose_folder_requested.connect(self.choose_folder)
        self.library.choose_folder_requested.connect(self.choose_folder)
        self.library.reindex_requested.connect(self.start_index)
        self.library.stop_requested.connect(lambda: self.workers.stop("index"))
        self.folder_changed.connect(self._on_folder_changed)
        self.sources.source_chosen.connect(self.show_source)
        self.model_panel.load_requested.connect(self.load_model)
        self.model_panel.gpu_layers_changed.connect(self._on_gpu_layers)
        self.model_panel.decoding.changed.connect(self._on_decoding)

        self._shortcut("Ctrl+Return", self.chat.submit)
        self._shortcut("Ctrl+Enter", self.chat.submit)
        self._shortcut("Escape", self.stop_answer)
        self._shortcut(QKeySequence.StandardKey.Open, self.choose_folder)
        self._shortcut("Ctrl+L", self.focus_question)

        self.resize(1280, 800)
        self.resizeDocks(
            [self.library_dock, self.right_dock], [300, 430], Qt.Orientation.Horizontal
        )
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
                self.statusBar().showMessage(f"Could not save settings: {exc}", 8000)

    def _on_decoding(self, params, preset: str) -> None:
        self._set_settings(
            replace(self.settings, decoding=params, ui=replace(self.settings.ui, preset=preset))
        )

    def _on_gpu_layers(self, layers: int) -> None:
        self._set_settings(
            replace(self.settings, model=replace(self.settings.model, gpu_layers=layers))
        )

    # -- folder and index ------------------------------------------------------------
    def choose_folder(self) -> None:
        start = str(self.folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of documents", start)
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path, index: bool = True) -> None:
        """Show ``folder`` and bring its index up to date in the background."""
        self.folder = Path(folder).expanduser().resolve()
        self.library.set_folder(self.folder)
        self.library.set_files([])
        self.chat.set_empty(False)
        self.setWindowTitle(f"Quarry — {self.folder.name}")
        self._set_settings(
            replace(self.settings, ui=replace(self.settings.ui, folder=str(self.folder)))
        )
        self._watch(self.folder)
        if index:
            self.start_index()

    def _watch(self, folder: Path | None) -> None:
        """Follow the open folder's files (the watcher's thread reaches the window through
        the folder_changed signal)."""
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        if folder is not None:
            from rag.sync import FolderWatcher

            try:
                self._watcher = FolderWatcher(folder, self.folder_changed.emit)
            except OSError as exc:
                self.statusBar().showMessage(f"Not following changes in the folder: {exc}", 8000)

    def _on_folder_changed(self) -> None:
        """Re-index after a change; a run in progress is stopped and started again (both
        phases resume), so a saved file is searchable within seconds, not after the
        meaning index of the whole folder is complete."""
        if self.folder is None:
            return
        if self.workers.busy("index"):
            self._reindex_after = True
            self.workers.stop("index")
        else:
            self.start_index()

    def _index_again_if_changed(self) -> None:
        if self._reindex_after:
            self._reindex_after = False
            QTimer.singleShot(0, self.start_index)

    def start_index(self) -> None:
        if self.folder is None or self.workers.busy("index"):
            return
        folder, engine = self.folder, self.engine

        def work(job: Job):
            if engine.folder is None or Path(engine.folder).resolve() != folder:
                engine.open_folder(folder)
            report = engine.index(folder, on_progress=job.on_progress, should_stop=job.should_stop)
            return report, engine.files()

        self.library.set_indexing(True)
        self.statusBar().showMessage("Indexing… you can already ask about what is indexed.")

        def progress(done: int, total: int, detail) -> None:
            self.library.show_progress(done, total, detail)
            self._list_models()

        self._index_job = self.workers.start(
            "index",
            work,
            progress=progress,
            done=self._index_done,
            failed=self._index_failed,
        )

    def _index_done(self, result: tuple[IndexReport, list]) -> None:
        self._list_models()
        report, files = result
        self.library.set_indexing(False)
        self.library.show_report(report)
        self.library.set_files(files)
        self.statusBar().showMessage(self.library.summary.text(), 10000)
        self.index_finished.emit(report)
        self._index_again_if_changed()

    def _index_failed(self, exc: BaseException) -> None:
        self._list_models()
        self.library.set_indexing(False)
        self.library.show_error(str(exc))
        self.statusBar().showMessage(f"Indexing failed: {exc}", 10000)
        self.index_finished.emit(exc)
        self._index_again_if_changed()

    # -- asking ------------------------------------------------------------------------
    def ask(self, question: str) -> None:
        if self.workers.busy("ask"):
            return
        if self.workers.busy("model"):  # asked while the model loads: ask once it is ready
            self._pending_question = question
            self.chat.add_question(question)
            self.chat.begin_answer()
            self.chat.set_busy(True)
            self.chat.hint.setText("Loading the model…")
            return
        if self.folder is None:
            self.chat.set_empty(True)
            self.statusBar().showMessage("Choose a folder first (Ctrl+O).", 6000)
            return
        history = [Turn(q, a.text) for q, a in self.exchanges if isinstance(a, Answer)]
        decoding, engine = self.settings.decoding, self.engine
        if self._pending_question != question:
            self.chat.add_question(question)
            self.chat.begin_answer()
        self._pending_question = None
        self.chat.set_busy(True)
        self._question = question
        self._ask_job = self.workers.start(
            "ask",
            lambda job: engine.ask(
                question, history, decoding, on_token=job.on_token, should_stop=job.should_stop
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
        self.sources.show_answer(answer, index)
        if answer.stats.tokens_per_s:
            self.speed_label.setText(f"Last answer: {answer.stats.tokens_per_s:.1f} tokens/s")
        self._show_model(getattr(self.engine, "model_info", None))
        self.answer_finished.emit(answer)

    def _answer_failed(self, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        self.chat.fail_answer(message)
        self.exchanges.append((self._question, message))
        self.answer_finished.emit(message)

    # -- sources -----------------------------------------------------------------------
    def open_citation(self, answer_index: int, number: int) -> None:
        if not 0 <= answer_index < len(self.answers):
            return
        self.right_tabs.setCurrentWidget(self.sources)
        self.right_dock.show()
        self.sources.show_answer(self.answers[answer_index], answer_index)
        self.sources.select(number)

    def show_source(self, source: Source) -> None:
        """Read the passage's page text on a worker (documents can be slow to parse)."""
        engine = self.engine
        self.sources.viewer.title.setText(source_heading(source))
        self.sources.viewer.note.setText("Opening…")

        def work(_job: Job):
            return engine.absolute_path(source.file), engine.source_text(source.file, source.page)

        def done(result) -> None:
            path, text = result
            self.sources.show_passage(source, path, text)
            self.passage_shown.emit(source)

        def failed(exc: BaseException) -> None:
            self.sources.viewer.note.setText(f"Could not open {source.file}: {exc}")

        self.workers.start("source", work, done=done, failed=failed)

    def copy_last_answer(self) -> None:
        if self.answers:
            self.chat.copy_text(answer_plain_text(self.answers[-1]))
            self.statusBar().showMessage("Answer copied.", 3000)

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the conversation",
            str(Path.home() / "quarry-conversation.md"),
            "Markdown (*.md)",
        )
        if path:
            self.export_markdown(Path(path))

    def export_markdown(self, path: Path) -> None:
        try:
            path.write_text(conversation_markdown(self.folder, self.exchanges), encoding="utf-8")
        except OSError as exc:
            warn(self, "Could not export", f"Could not write {path}: {exc}")
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
        super().closeEvent(event)
