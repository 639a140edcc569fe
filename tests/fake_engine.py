"""A scripted stand-in for rag.engine.Engine, for tests about the window around it.

It reads real files from a real folder (PDF page text through pypdfium2, other
files as UTF-8) so citations point at passages the source viewer can find, but
it neither embeds nor generates: indexing walks the files with a short sleep
each, and answers are streamed from a script, a few characters per token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from models.base import ModelInfo, StopReason
from rag.engine_api import REFUSED
from rag.loaders import supported_suffixes
from rag.settings import Settings
from rag.types import (
    Answer,
    AnswerSentence,
    AnswerStats,
    Citation,
    FileReport,
    FileStatus,
    Hit,
    IndexProgress,
    IndexReport,
    Source,
    Support,
    Turn,
)


class FakeModelError(Exception):
    """Stands in for models.ModelError: a message meant for a person."""


# The real record, so the fake cannot drift from what the engine returns.
FakeModelInfo = ModelInfo
_QWEN = ModelInfo(
    "Qwen2.5 Coder 1.5B Instruct",
    "default",
    "llama.cpp",
    "qwen2",
    1_777_088_000,
    "Q4_K_M",
    32768,
    1_117_320_768,
    True,
    "Apache-2.0",
)
_QWEN_FAST = ModelInfo(
    "Qwen2.5 Coder 0.5B Instruct",
    "fast",
    "llama.cpp",
    "qwen2",
    630_167_424,
    "Q4_K_M",
    32768,
    491_400_064,
    True,
    "Apache-2.0",
)
_SMOL = ModelInfo(
    "SmolLM2 135M Instruct",
    "small",
    "llama.cpp",
    "llama",
    134_515_008,
    "Q4_1",
    8192,
    100_000_000,
    True,
    "Apache-2.0",
)


@dataclass
class Passage:
    """A scripted source: a file and a phrase on one of its pages."""

    file: str
    page: int | None
    phrase: str


class FakeEngine:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        index_delay: float = 0.05,
        token_delay: float = 0.01,
        answer: str | None = None,
        passages: Sequence[Passage] = (),
    ) -> None:
        self.settings = settings or Settings()
        self.folder: Path | None = None
        self.rebuild_reason = ""
        self.index_delay = index_delay
        self.token_delay = token_delay
        self.script = answer
        self.passages = list(passages)
        self.model_info: ModelInfo | None = None
        self.device = "CPU (fake, 2 threads)"
        self.asked: list[tuple[str, tuple[Turn, ...]]] = []
        self.closed = False
        self._reports: dict[str, FileReport] = {}
        self._lock = threading.Lock()

    def update_settings(self, settings: Settings) -> None:
        self.settings = settings

    def open_folder(self, folder: Path) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"The folder {folder} does not exist.")
        if self.folder != folder.resolve():
            with self._lock:
                self._reports = {}  # files() lists the open folder's files, as the engine's does
        self.folder = folder.resolve()

    def index(
        self,
        folder: Path | None = None,
        on_progress: Callable[[int, int, IndexProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IndexReport:
        if folder is not None:
            self.open_folder(folder)
        assert self.folder is not None
        files = sorted(p for p in self.folder.rglob("*") if p.is_file())
        report = IndexReport(str(self.folder))
        present = {p.relative_to(self.folder).as_posix() for p in files}
        with self._lock:  # like the engine: files gone from the folder leave the index
            for rel in [r for r in self._reports if r not in present]:
                del self._reports[rel]
                report.removed.append(rel)
        start = time.monotonic()
        chunks = 0
        for i, path in enumerate(files):
            if should_stop and should_stop():
                report.cancelled = True
                break
            rel = path.relative_to(self.folder).as_posix()
            if on_progress:
                on_progress(i, len(files), IndexProgress(rel, chunks, time.monotonic() - start))
            time.sleep(self.index_delay)
            if "broken" in path.name:
                fr = FileReport(rel, FileStatus.FAILED, "The file is damaged: no readable pages.")
            elif path.suffix.lower() not in supported_suffixes():
                fr = FileReport(rel, FileStatus.SKIPPED, "Not a supported document type.")
            else:
                fr = FileReport(rel, FileStatus.INDEXED, "", 3)
                chunks += 3
            report.files.append(fr)
            with self._lock:
                self._reports[rel] = fr
        if on_progress:
            on_progress(
                len(report.files),
                len(files),
                IndexProgress("", chunks, time.monotonic() - start, "done"),
            )
        report.seconds = time.monotonic() - start
        return report

    def close_folder(self) -> None:
        self.folder = None

    def outline(self, limit: int = 200) -> list[tuple[str, str, str]]:
        """File, title (its stem) and heading (its first line), like the store's."""
        out = []
        for rel in sorted(self._reports):
            path = self.folder / rel if self.folder else Path(rel)
            heading = ""
            if path.suffix.lower() in (".txt", ".md"):
                heading = path.read_text(encoding="utf-8").strip().splitlines()[0].strip("# ")
            out.append((rel, Path(rel).stem.replace("_", " "), heading))
        return out[:limit]

    def files(self) -> list[FileReport]:
        with self._lock:
            return list(self._reports.values())

    def search(
        self, question: str, k: int | None = None, folders: Sequence[Path] | None = None
    ) -> list[Hit]:
        return [
            Hit(i, s.file, s.page, s.start, s.end, s.text, s.score)
            for i, s in enumerate(self._sources(folders))
        ][: k or 5]

    # -- answers -------------------------------------------------------------------
    def _sources(self, folders: Sequence[Path] | None = None) -> list[Source]:
        """The scripted passages; asked across several folders, each found in the first
        folder that has its file and named by absolute path, as the engine does."""
        out = []
        several = folders is not None and len(folders) > 1
        for n, p in enumerate(self.passages, 1):
            file = p.file
            if several:
                homes = [Path(f) / p.file for f in folders if (Path(f) / p.file).is_file()]
                if not homes:
                    continue
                file = str(homes[0])
            elif folders:
                file = str(Path(folders[0]) / p.file)
            text = self.source_text(file, p.page)
            start = text.index(p.phrase)
            if folders and not several:
                file = p.file
            out.append(
                Source(
                    n,
                    n,
                    file,
                    p.page,
                    start,
                    start + len(p.phrase),
                    p.phrase,
                    0.9 - n / 10,
                    title=Path(p.file).stem,
                )
            )
        return out

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        decoding=None,
        on_token: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        folders: Sequence[Path] | None = None,
    ) -> Answer:
        self.asked.append((question, tuple(history)))
        self.asked_folders = list(folders) if folders is not None else None
        if self.folder is None and not folders:
            raise ValueError("No folder is open.")
        if "weather" in question.lower():
            return Answer(
                question,
                "Your documents do not say.",
                stats=AnswerStats(stop_reason=REFUSED),
                refused=True,
                note="Nothing in the documents was relevant enough to answer from.",
            )
        sources = self._sources(folders)
        script = self.script or (
            "Travel is capped at 2,000 dollars per trip [1]. "
            "Hotels are booked through the portal [2]. The <b>CEO</b> likes tea."
        )
        t0 = time.monotonic()
        written = ""
        note = ""
        for i in range(0, len(script), 3):
            if should_stop and should_stop():
                note = "Stopped at your request."
                break
            piece = script[i : i + 3]
            written += piece
            if on_token:
                on_token(piece)
            time.sleep(self.token_delay)
        gen_s = time.monotonic() - t0
        stats = AnswerStats(
            generate_s=gen_s,
            completion_tokens=len(written) // 3,
            tokens_per_s=(len(written) / 3) / max(gen_s, 1e-6),
            stop_reason=(StopReason.CANCELLED if note else StopReason.FINISHED).value,
        )
        return Answer(
            question, written, self._sentences(written, sources), sources, stats, note=note
        )

    @staticmethod
    def _sentences(text: str, sources: list[Source]) -> list[AnswerSentence]:
        """Split on '. ' and mark: cited sentences supported or weak, the rest unsupported."""
        out = []
        pos = 0
        marks = [Support.SUPPORTED, Support.WEAK, Support.UNSUPPORTED]
        n_sources = len(sources)
        quoted = f": “{sources[-1].text}”" if sources else ""
        reasons = [
            "",
            f"Only some of its words appear in source {n_sources}{quoted}.",
            "No source mentions this; the number or name is not in any passage.",
        ]
        for i, part in enumerate(s for s in text.split(". ") if s):
            start = text.index(part, pos)
            end = start + len(part) + (1 if text[start + len(part) : start + len(part) + 1] else 0)
            pos = end
            cites = tuple(Citation(n, "model") for n in range(1, n_sources + 1) if f"[{n}]" in part)
            if i == 1 and n_sources:
                cites += (Citation(1, "check"),)
            mark = marks[min(i, 2)]
            out.append(AnswerSentence(text[start:end], start, end, cites, mark, reasons[min(i, 2)]))
        return out

    # -- models ----------------------------------------------------------------------
    def available_models(self) -> list[ModelInfo]:
        return [_QWEN, _QWEN_FAST]

    def load_model(self, spec: str | None = None, on_progress=None) -> ModelInfo:
        spec = spec or self.settings.model.model
        if spec not in ("default", "fast", "small") and not spec.startswith("/models/"):
            path = Path(spec)
            if not path.is_file() or path.read_bytes()[:4] != b"GGUF":
                raise FakeModelError(
                    f"{path.name} is not a GGUF model file (it does not start "
                    "with the GGUF signature)."
                )
        for i in range(5):
            if on_progress:
                on_progress(i + 1, 5, "loading")
            time.sleep(0.01)
        self.model_info = {"small": _SMOL, "fast": _QWEN_FAST}.get(spec, _QWEN)
        return self.model_info

    # -- files -----------------------------------------------------------------------
    def source_text(self, file: str, page: int | None) -> str:
        path = self.absolute_path(file)
        if path.suffix.lower() == ".pdf":
            import pypdfium2

            pdf = pypdfium2.PdfDocument(str(path))
            try:
                tp = pdf[(page or 1) - 1].get_textpage()
                return tp.get_text_range()
            finally:
                pdf.close()
        return path.read_text(encoding="utf-8")

    def passage_boxes(
        self, file: str, page: int | None, start: int, end: int
    ) -> list[tuple[float, float, float, float]]:
        return []  # the fake reads text layers only; OCR boxes come from the real engine

    def absolute_path(self, file: str) -> Path:
        if Path(file).is_absolute():
            return Path(file)
        assert self.folder is not None
        return self.folder / file

    def close(self) -> None:
        self.closed = True
