"""Quarry's desktop window (PySide6). It reaches the core only through rag.engine.Engine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rag.settings import LiveSettings, Settings

# Answered by the sample folder (examples/northwind), so the smoke test runs the model too.
SMOKE_QUESTION = "What is the per diem for international travel?"
SMOKE_TIMEOUT_MS = 20 * 60 * 1000


def run(
    settings: LiveSettings | Settings,
    folder: Path | None,
    *,
    engine: Any = None,
    smoke_test: bool = False,
) -> int:
    """Open the window (on ``folder``, indexing it at once) and return the exit status.

    With ``smoke_test`` the window indexes the folder, asks one question, prints
    what happened and exits: 0 when an answer came back, 1 otherwise. It works
    offscreen (QT_QPA_PLATFORM=offscreen), for installers and CI.
    """
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.main_window import MainWindow

    theme.prepare_hidpi()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Quarry")
    app.setApplicationDisplayName("Quarry")
    live = settings if isinstance(settings, LiveSettings) else LiveSettings(settings)
    settings = live.effective
    theme.apply(settings.ui.theme)
    theme.follow_system(lambda: live.effective.ui.theme)
    own_engine = engine is None
    if engine is None:
        from rag.engine import Engine

        engine = Engine(settings)
    window = MainWindow(engine, live, save_settings=not smoke_test)
    window.show()
    if folder is None:
        folder = last_library(window.libraries, settings.ui.folder)
    if smoke_test and folder is None:
        print("smoke test: no folder given (--docs DIR)", file=sys.stderr)
        return 2
    if folder is not None:
        window.open_folder(Path(folder))

    status = {"code": 0}
    if smoke_test:
        _wire_smoke_test(app, window, status)
    try:
        code = app.exec()
    finally:
        window.workers.shutdown(10_000)
        if own_engine:
            engine.close()
    return status["code"] or code


def last_library(libraries: Any, last_folder: str) -> Path | None:
    """The folder to show at start: the last one shown if it is still a library (or, the
    first time libraries exist, the folder an older Quarry remembered), else the first."""
    known = libraries.all()
    last = Path(last_folder) if last_folder else None
    if last is not None and last.is_dir() and (not known or libraries.find_folder(last)):
        return last
    return known[0].path if known else None


def _wire_smoke_test(app: Any, window: Any, status: dict[str, int]) -> None:
    from PySide6.QtCore import QTimer

    def fail(message: str) -> None:
        print(f"smoke test failed: {message}", file=sys.stderr)
        status["code"] = 1
        window.close()
        app.quit()

    def indexed(report: Any) -> None:
        if isinstance(report, BaseException):
            fail(f"indexing: {report}")
            return
        print(
            f"smoke test: indexed {len(report.files)} files "
            f"({len(report.problems)} skipped or failed) in {report.seconds:.1f} s"
        )
        window.ask(SMOKE_QUESTION)

    def answered(answer: Any) -> None:
        if isinstance(answer, str):
            fail(f"asking: {answer}")
            return
        print(
            f"smoke test: answered with {len(answer.sources)} sources, "
            f"{answer.stats.tokens_per_s:.1f} tokens/s: {answer.text[:200]!r}"
        )
        window.close()
        app.quit()

    window.index_finished.connect(indexed)
    window.answer_finished.connect(answered)
    QTimer.singleShot(SMOKE_TIMEOUT_MS, lambda: fail("timed out"))
