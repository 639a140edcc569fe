"""A scripted stand-in for the LLM interface, for tests about the code around the model.

Replies are queued with ``enqueue`` and streamed token by token through the same
:class:`models.streaming.StreamState` the llama.cpp backend uses, so stop
sequences, max tokens, cancellation and the repetition guard behave as they do
with a real model. Every call's messages are recorded for prompt tests.
"""

from __future__ import annotations

import dataclasses
import re
import time

from models.base import Generation, Message, ModelInfo, OnToken, ShouldStop, StopReason, chatml
from models.decoding import DecodingParams
from models.streaming import StreamState

_TOKEN = re.compile(r"\s*\S+|\s+")


def fake_info(name: str = "Fake model") -> ModelInfo:
    return ModelInfo(name=name, spec="/fake/model.gguf", backend="fake", architecture="fake",
                     parameters=1_000_000, quantization="F16", context_length=4096,
                     has_chat_template=False, file_size=2_000_000)


class FakeLLM:
    """Implements :class:`models.base.LLM` with scripted replies.

    ``enqueue("text")`` splits the reply into word tokens (a space belongs to the
    word after it); ``enqueue(["tok", "ens"])`` gives the tokens exactly. With
    nothing queued, ``default_reply`` is used, or the call fails loudly when it is
    None. ``token_delay_s`` slows streaming down for cancellation tests; ``ttft_s``
    fixes the reported time to first token for tests that check timings shown.
    """

    def __init__(self, n_ctx: int = 4096, *, default_reply: str | None = None,
                 token_delay_s: float = 0.0, ttft_s: float | None = None,
                 device: str = "CPU (fake)") -> None:
        self.info = fake_info()
        self.device = device
        self.n_ctx = n_ctx
        self.note = ""
        self.default_reply = default_reply
        self.token_delay_s = token_delay_s
        self.ttft_s = ttft_s
        self.replies: list[list[str]] = []
        self.calls: list[list[Message]] = []
        self.params: list[DecodingParams] = []
        self.closed = False

    def enqueue(self, reply: str | list[str]) -> None:
        self.replies.append(list(reply) if isinstance(reply, list) else _TOKEN.findall(reply))

    @property
    def messages(self) -> list[Message]:
        """The messages of the latest call."""
        return self.calls[-1]

    def count_tokens(self, text: str) -> int:
        """Roughly what a real tokenizer gives: one per word, one per CJK character."""
        cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
        return len(text.split()) + cjk

    def format_chat(self, messages: list[Message]) -> str:
        return chatml(messages)

    def generate(self, messages: list[Message], params: DecodingParams,
                 on_token: OnToken | None = None,
                 should_stop: ShouldStop | None = None) -> Generation:
        if self.closed:
            raise RuntimeError("FakeLLM used after close()")
        self.calls.append([dict(m) for m in messages])
        self.params.append(params)
        if self.replies:
            tokens = self.replies.pop(0)
        elif self.default_reply is not None:
            tokens = _TOKEN.findall(self.default_reply)
        else:
            raise AssertionError("FakeLLM.generate was called with no reply enqueued")
        prompt_tokens = self.count_tokens(self.format_chat(messages))
        state = StreamState(stop=list(params.stop), on_token=on_token, should_stop=should_stop)
        if state.cancelled():
            return state.finish(StopReason.CANCELLED, prompt_tokens)
        reason = StopReason.FINISHED
        limit = min(params.max_tokens, max(1, self.n_ctx - prompt_tokens))
        for i, token in enumerate(tokens):
            if i >= limit:
                reason = StopReason.LENGTH
                break
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            stop = state.push(token)
            if stop is not None:
                reason = stop
                break
        g = state.finish(reason, prompt_tokens)
        if self.ttft_s is not None:
            g = dataclasses.replace(g, ttft_s=self.ttft_s, total_s=g.total_s + self.ttft_s)
        return g

    def close(self) -> None:
        self.closed = True
