"""The one LLM interface the rest of Quarry codes against, and what a generation returns.

There is one real implementation (:mod:`models.llama_cpp`) and one fake for
tests (``tests/fakes.py``); both stream tokens through ``on_token`` and stop
when ``should_stop()`` turns true.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from models.decoding import DecodingParams
from models.gguf_info import ModelInfo

Message = dict[str, str]
OnToken = Callable[[str], None]
ShouldStop = Callable[[], bool]


class StopReason(enum.Enum):
    FINISHED = "finished"  # the model ended its answer
    LENGTH = "length"  # max_tokens reached (or the context filled up)
    STOP_SEQUENCE = "stop_sequence"  # one of the stop texts appeared
    CANCELLED = "cancelled"  # should_stop() turned true
    REPETITION = "repetition"  # the repetition guard saw the text looping


@dataclass(frozen=True)
class Generation:
    """One answer and how it went; ``note`` is a sentence for the user, or empty."""

    text: str
    stop_reason: StopReason
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float  # from the call to the first token: prompt evaluation, mostly
    tokens_per_s: float  # completion tokens after the first, per second
    total_s: float
    note: str = ""


@runtime_checkable
class LLM(Protocol):
    info: ModelInfo
    device: str
    n_ctx: int

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model (for prompt budgets)."""
        ...

    def format_chat(self, messages: list[Message]) -> str:
        """The prompt for ``messages`` in the model's own chat format, ready for its answer."""
        ...

    def generate(self, messages: list[Message], params: DecodingParams,
                 on_token: OnToken | None = None,
                 should_stop: ShouldStop | None = None) -> Generation:
        """Answer ``messages``, streaming text pieces to ``on_token`` as they are produced."""
        ...

    def close(self) -> None:
        ...


def chatml(messages: list[Message]) -> str:
    """The fallback chat format (ChatML) for a model whose file carries no template."""
    parts = [f"<|im_start|>{m.get('role', 'user')}\n{m.get('content', '')}<|im_end|>\n"
             for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"
