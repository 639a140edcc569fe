"""The one LLM interface the rest of Quarry codes against, what a generation returns, and
what a model says about itself.

Backends implement it (:mod:`models.backends`: llama.cpp in-process, an
OpenAI-compatible server over HTTP) and so does the fake for tests
(``tests/fakes.py``); all stream text through ``on_token`` and stop when
``should_stop()`` turns true.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from models.decoding import DecodingParams

Message = dict[str, str]
OnToken = Callable[[str], None]
ShouldStop = Callable[[], bool]


class StopReason(enum.Enum):
    FINISHED = "finished"  # the model ended its answer
    LENGTH = "length"  # max_tokens reached (or the context filled up)
    STOP_SEQUENCE = "stop_sequence"  # one of the stop texts appeared
    CANCELLED = "cancelled"  # should_stop() turned true
    REPETITION = "repetition"  # the repetition guard saw the text looping
    FAILED = "failed"  # the backend broke off mid-answer (a server went away); see the note


@dataclass(frozen=True)
class ModelInfo:
    """What any backend can say about a model: enough to list, label and choose it.

    ``spec`` is what ``--model`` takes to choose this model again: 'default' or
    'fast' for a bundled model, a file path, or the id a server serves it under.
    Fields a backend cannot know stay empty (a server rarely says its file size).
    """

    name: str
    spec: str
    backend: str
    architecture: str = ""
    parameters: int = 0
    quantization: str = ""
    context_length: int = 0
    file_size: int = 0
    has_chat_template: bool = True
    licence: str = ""

    @property
    def label(self) -> str:
        """One line for a model picker.

        For example 'Qwen2.5 Coder 1.5B Instruct · Q4_K_M · 32k ctx · 1.1 GB'.
        """
        parts = [self.name, self.quantization]
        if self.context_length:
            ctx = self.context_length
            parts.append(f"{ctx // 1024}k ctx" if ctx >= 1024 and ctx % 1024 == 0
                         else f"{ctx} ctx")
        if self.file_size:
            parts.append(size_label(self.file_size))
        return " · ".join(p for p in parts if p)

    @property
    def parameters_label(self) -> str:
        n = self.parameters
        if not n:
            return ""
        return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def size_label(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


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
    # Prompt tokens already in the model's cache from the previous call (the fixed system
    # prompt, at least): only the rest was evaluated. Lets a benchmark check the reuse.
    cached_tokens: int = 0


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
