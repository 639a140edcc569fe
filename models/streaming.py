"""Turning a stream of generated pieces into what the caller sees.

Shared by the llama.cpp backend and the test fake, so both honour stop
sequences, cancellation, max tokens and the repetition guard in the same way.
Text that might be the start of a stop sequence is held back until it is
clear it is not, so a caller never sees part of a stop text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from models.base import Generation, OnToken, ShouldStop, StopReason
from models.repetition import RepetitionGuard


@dataclass
class StreamState:
    """Accumulates one generation; ``push`` returns a stop reason once it should end."""

    stop: list[str]
    on_token: OnToken | None = None
    should_stop: ShouldStop | None = None
    guard: RepetitionGuard | None = field(default_factory=RepetitionGuard)
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    completion_tokens: int = 0
    _text: str = ""  # everything generated, stop text included
    _emitted: int = 0  # how much of _text the caller has seen
    _end: int | None = None  # where the answer ends when a stop text was found

    def cancelled(self) -> bool:
        return bool(self.should_stop and self.should_stop())

    def push(self, piece: str) -> StopReason | None:
        """Take one token's text; return why to stop, or None to go on."""
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.completion_tokens += 1
        if not piece:
            return StopReason.CANCELLED if self.cancelled() else None
        start = max(0, len(self._text) - max((len(s) for s in self.stop), default=0))
        self._text += piece
        hits = [i for s in self.stop if (i := self._text.find(s, start)) >= 0]
        if hits:
            self._end = min(hits)
            self._emit(self._end)
            return StopReason.STOP_SEQUENCE
        self._emit(len(self._text) - self._held_back())
        if self.guard is not None and self.guard.feed(piece):
            return StopReason.REPETITION
        if self.cancelled():
            return StopReason.CANCELLED
        return None

    def _held_back(self) -> int:
        """Length of the longest text tail that begins some stop sequence."""
        best = 0
        for s in self.stop:
            for k in range(min(len(s) - 1, len(self._text)), best, -1):
                if self._text.endswith(s[:k]):
                    best = k
                    break
        return best

    def _emit(self, upto: int) -> None:
        if upto > self._emitted:
            chunk = self._text[self._emitted:upto]
            self._emitted = upto
            if self.on_token is not None:
                self.on_token(chunk)

    @property
    def text(self) -> str:
        return self._text if self._end is None else self._text[:self._end]

    def finish(self, reason: StopReason, prompt_tokens: int, note: str = "") -> Generation:
        """Flush held-back text (it was not a stop sequence after all) and time the run."""
        if self._end is None:
            self._emit(len(self._text))
        now = time.perf_counter()
        first = self.first_token_at if self.first_token_at is not None else now
        rate_tokens = self.completion_tokens - 1
        rate = rate_tokens / (now - first) if rate_tokens > 0 and now > first else 0.0
        if reason is StopReason.REPETITION and not note:
            note = "The answer was stopped because the model started repeating itself."
        return Generation(
            text=self.text, stop_reason=reason, prompt_tokens=prompt_tokens,
            completion_tokens=self.completion_tokens, ttft_s=first - self.started,
            tokens_per_s=rate, total_s=now - self.started, note=note)
