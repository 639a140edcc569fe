"""Take the README's window screenshots with the real engine and models, under Xvfb.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 .venv/bin/python docs/make_screenshots.py ask      # index two libraries, ask
    DISPLAY=:99 .venv/bin/python docs/make_screenshots.py reopen   # a restart: reopen, click
    DISPLAY=:99 .venv/bin/python docs/make_screenshots.py phases   # ask while embedding
    DISPLAY=:99 .venv/bin/python docs/make_screenshots.py evidence # an answer, its evidence
                                                                   # clicked and highlighted
    DISPLAY=:99 .venv/bin/python docs/make_screenshots.py ocr      # a scanned PDF and a photo:
                                                                   # an answer boxed on the scan

Each phase is its own process, so the second really reads the conversation back
from the SQLite file. Screens are captured with ImageMagick's ``import -window
root`` into OUT (default /tmp/quarry-shots) and shrunk for docs/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("OUT", "/tmp/quarry-shots"))
os.environ.setdefault("QUARRY_DATA_DIR", str(OUT / "data"))
os.environ.setdefault("QUARRY_CONFIG_DIR", str(OUT / "config"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))

QUESTION = "What is the per diem for international travel?"
EVIDENCE_QUESTION = "Who approves a trip that costs EUR 12,000?"
SAMPLE = ROOT / "examples" / "northwind"
FILINGS = next(
    (
        p / "evalsets" / "sec10q" / "docs"
        for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared")
        if p.is_dir()
    ),
    ROOT / "missing",
)


def shoot(name: str) -> Path:
    from PySide6.QtWidgets import QApplication

    for _ in range(20):
        QApplication.processEvents()
    path = OUT / f"{name}.png"
    subprocess.run(["import", "-window", "root", str(path)], check=True)
    print(f"screenshot: {path}", flush=True)
    return path


def wait(signal, timeout_ms: int = 900_000):
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list = []
    signal.connect(lambda *args: (got.append(args), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    if not got:
        raise SystemExit(f"timed out waiting for {signal}")
    return got[0]


def pause(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def two_phases(w) -> None:
    """The FinanceBench filings just opened: every file searchable, the meaning index
    still being built, and a question asked meanwhile answered with a note saying so."""
    folder = FILINGS.parent.parent / "financebench-dev" / "docs"
    if not folder.is_dir():
        raise SystemExit(f"no filings found in {folder}")
    w.open_folder(folder)
    panel = w.library
    for _ in range(1800):  # until the meaning index is on its way
        pause(100)
        if "meaning index" in panel.progress.format() and panel.progress.value() > 0:
            break
    w.ask("What was Adobe's total revenue in fiscal 2015?")
    (answer,) = wait(w.answer_finished)
    print(f"answer: {getattr(answer, 'text', answer)!r}", flush=True)
    print(f"note: {getattr(answer, 'note', '')!r}", flush=True)
    shoot("two-phases")


def scans(w) -> None:
    """A folder of a scanned lease (image-only PDF) and a photographed notice: the answer
    cites the scan, and its evidence opens boxed on the page image, marked as OCR."""
    from tests.conftest_docs import make_image_pdf, photographed, text_image

    folder = OUT / "Scans"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    page, _ = text_image(
        [
            "Northwind Traders lease agreement, signed copy",
            "The monthly rent for the Rotterdam warehouse is EUR 9,400.",
            "The lease runs until the end of June 2027.",
        ],
        dpi=150,
    )
    make_image_pdf(folder / "lease-scan.pdf", [page], dpi=150)
    shot, _ = text_image(
        [
            "Notice on the canteen door",
            "The canteen closes at 14:30 on Fridays.",
            "Coffee is free for all staff before 9:00.",
        ],
        dpi=150,
    )
    photographed(shot).save(folder / "canteen-photo.jpg", quality=75)
    answer_with_evidence(w, folder, "What is the monthly rent for the Rotterdam warehouse?", "ocr")


def answer_with_evidence(w, folder: Path, question: str, name: str) -> None:
    """Index ``folder``, ask ``question`` and click the quoted sentence under the answer:
    the viewer opens its page and highlights that sentence, not the whole passage."""
    from PySide6.QtCore import Qt

    w.resizeDocks([w.library_dock, w.right_dock], [290, 720], Qt.Orientation.Horizontal)
    w.open_folder(folder)
    wait(w.index_finished)
    w.ask(question)
    (answer,) = wait(w.answer_finished)
    print(f"answer: {getattr(answer, 'text', answer)!r}", flush=True)
    w.open_evidence(len(w.answers) - 1, 0)
    wait(w.passage_shown, 120_000)
    pause(800)
    shoot(name)


def main(phase: str) -> int:
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.main_window import MainWindow
    from rag.engine import Engine
    from rag.settings import LiveSettings, Settings

    OUT.mkdir(parents=True, exist_ok=True)
    theme.prepare_hidpi()
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Quarry")
    settings = Settings.load()
    theme.apply(settings.ui.theme)
    engine = Engine(settings)
    w = MainWindow(engine, LiveSettings(settings))
    w.setGeometry(0, 0, 1600, 1000)
    w.show()
    try:
        if phase == "evidence":
            answer_with_evidence(w, SAMPLE, EVIDENCE_QUESTION, "evidence")
        elif phase == "phases":
            two_phases(w)
        elif phase == "ocr":
            scans(w)
        elif phase == "ask":
            filings = OUT / "Filings"
            filings.mkdir(exist_ok=True)
            pdfs = sorted(FILINGS.glob("*AAPL.pdf"))[:2]
            if not pdfs:
                raise SystemExit(f"no filings found in {FILINGS}")
            for pdf in pdfs:
                shutil.copy(pdf, filings / pdf.name)
            w.open_folder(filings)
            wait(w.index_finished)
            w.open_folder(SAMPLE)
            wait(w.index_finished)
            shoot("first-minutes")
            w.ask(QUESTION)
            (answer,) = wait(w.answer_finished)
            print(f"answer: {getattr(answer, 'text', answer)!r}", flush=True)
            shoot("libraries")
        else:
            from PySide6.QtCore import Qt

            w.resizeDocks([w.library_dock, w.right_dock], [290, 720], Qt.Orientation.Horizontal)
            w.open_folder(SAMPLE)
            wait(w.index_finished)
            w.open_conversation(w.history.ids()[0])
            cited = [c.source for s in w.answers[0].sentences for c in s.citations]
            number = cited[0] if cited else w.answers[0].sources[0].number
            w.open_citation(0, number)
            wait(w.passage_shown, 120_000)
            pause(500)
            shoot("reopened")
            from app.settings_dialog import SettingsDialog

            dialog = SettingsDialog(w.settings, w)
            dialog.move(520, 160)
            dialog.tabs.setCurrentIndex(1)  # Indexing: chunk size and overlap, with ranges
            dialog.show()
            pause(500)
            shoot("settings")
            dialog.close()
            w.set_theme("dark")
            pause(500)
            shoot("dark")
            w.set_theme("system")
            w.new_conversation()
            pause(500)
            shoot("first-minutes")
    finally:
        w.close()
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "ask"))
