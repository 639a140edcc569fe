"""What the window may ask of the engine: one protocol that ``Engine`` and the test fake share.

The window codes against :class:`EngineAPI`, never against ``Engine``'s other
attributes, and a test checks that both the real engine and ``tests/fake_engine``
satisfy it with the same parameter names, and that the fake reports the same
stop reasons as the engine. A fake that says "stop" where the engine says
"finished" hides the bugs the window's tests are there to find.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from models.base import StopReason
from rag.settings import Settings
from rag.types import Answer, FileReport, Hit, IndexProgress, IndexReport, Turn

# Every value Answer.stats.stop_reason can take: the model's stop reasons, "refused"
# when nothing relevant was found and the model was not asked, "" when nothing ran.
REFUSED = "refused"
STOP_REASONS = frozenset({r.value for r in StopReason} | {REFUSED, ""})

OnProgress = Callable[[int, int, IndexProgress], None]
ShouldStop = Callable[[], bool]


@runtime_checkable
class EngineAPI(Protocol):
    settings: Settings
    folder: Path | None
    rebuild_reason: str

    @property
    def model_info(self) -> Any:
        """The loaded LLM's description (name, size, quantization…), or None."""
        ...

    @property
    def device(self) -> str:
        """Where the LLM runs, in words ("CPU, 2 threads", "CUDA: …")."""
        ...

    def update_settings(self, settings: Settings) -> None: ...

    def open_folder(self, folder: Path) -> None: ...

    def index(
        self,
        folder: Path | None = None,
        on_progress: OnProgress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> IndexReport: ...

    def close_folder(self) -> None: ...

    def outline(self, limit: int = 200) -> list[tuple[str, str, str]]: ...

    def files(self) -> list[FileReport]: ...

    def search(
        self, question: str, k: int | None = None, folders: Sequence[Path] | None = None
    ) -> list[Hit]: ...

    def source_text(self, file: str, page: int | None) -> str: ...

    def passage_boxes(
        self, file: str, page: int | None, start: int, end: int
    ) -> list[tuple[float, float, float, float]]:
        """Boxes around text[start:end] of a page read by OCR (PDF points or image
        pixels, from the top left), for the viewer to paint; [] for text layers."""
        ...

    def absolute_path(self, file: str) -> Path: ...

    def available_models(self) -> list[Any]: ...

    def load_model(
        self, spec: str | None = None, on_progress: Callable[..., None] | None = None
    ): ...

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        decoding: Any = None,
        on_token: Callable[[str], None] | None = None,
        should_stop: ShouldStop | None = None,
        folders: Sequence[Path] | None = None,
    ) -> Answer: ...

    def close(self) -> None: ...
