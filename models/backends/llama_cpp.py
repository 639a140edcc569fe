"""The llama.cpp backend: GGUF files run in-process through llama-cpp-python.

Generation drives ``Llama.generate`` directly rather than ``create_completion``:
it is the same token loop, but this way every token is counted, the end-of-text
token is told apart from a stop sequence, and ``should_stop()`` is checked after
each token. ``Llama.generate`` reuses the longest matching token prefix already in
the KV cache, so the cache is never reset between calls: a fixed system prompt is
evaluated once per loaded model, not once per question.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import dataclasses
import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

from models.backends import ModelRequest
from models.base import Generation, Message, ModelInfo, OnToken, ShouldStop, StopReason, chatml
from models.bundled import BY_FILENAME
from models.decoding import DecodingParams
from models.errors import ModelError
from models.gguf_info import GGUFInfo
from models.locate import available_models, describe, resolve
from models.offload import (
    choose_ctx,
    describe_device,
    detect_backend,
    layer_plan,
    load_with_fallback,
    physical_cores,
)
from models.streaming import StreamState

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


class PromptTooLongError(ModelError):
    """The prompt does not leave room for an answer in the model's context."""


def known_architectures() -> set[str]:
    """Architectures the gguf package (kept in step with llama.cpp) knows by name."""
    try:
        from gguf.constants import MODEL_ARCH_NAMES
    except ImportError:
        return set()
    return set(MODEL_ARCH_NAMES.values())


def check_architecture(info: GGUFInfo) -> None:
    known = known_architectures()
    if known and info.architecture not in known:
        raise ModelError(
            f"{info.path} is a '{info.architecture}' model, an architecture this version of "
            "llama.cpp cannot run. Choose a model of a supported family (Llama, Qwen, Mistral, "
            "Gemma, Phi, …) or update Quarry.")


def no_repeat_ngram_processor(n: int, start: int) -> Callable[[Any, Any], Any]:
    """A llama.cpp logits processor forbidding any n-gram of generated tokens twice.

    Only tokens after ``start`` (the prompt) count: quoting a source verbatim once is
    what document answers should do.
    """
    import numpy as np

    def process(input_ids: Any, scores: Any) -> Any:
        gen = [int(t) for t in input_ids[start:]]
        if len(gen) < n:
            return scores
        prefix = gen[len(gen) - n + 1:] if n > 1 else []
        banned = [gen[i + n - 1] for i in range(len(gen) - n + 1)
                  if gen[i:i + n - 1] == prefix]
        if banned:
            scores[np.asarray(banned, dtype=np.intp)] = -np.inf
        return scores

    return process


class LlamaCppLLM:
    """A loaded GGUF model. Not thread-safe: one generation at a time."""

    def __init__(self, llama: Any, gguf: GGUFInfo, device: str, n_ctx: int,
                 note: str = "", gpu_layers: int = 0, spec: str = "") -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._llama = llama
        self.gguf = gguf
        bundled = BY_FILENAME.get(gguf.path.name)
        self.info = gguf.model_info(spec=spec, licence=bundled.licence if bundled else "")
        self.device = device
        self.n_ctx = n_ctx
        self.note = note  # what loading had to do differently (fallbacks), for the user
        self.gpu_layers = gpu_layers  # as loaded, after any fallback
        self._formatter: Any = None
        model = llama._model
        self._bos = llama.token_bos()
        self._add_bos = bool(model.add_bos_token()) and self._bos != -1
        eos = llama.token_eos()
        self._bos_text = model.token_get_text(self._bos) if self._bos != -1 else ""
        self._eos_text = model.token_get_text(eos) if eos != -1 else ""
        if gguf.chat_template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            try:
                self._formatter = Jinja2ChatFormatter(
                    template=gguf.chat_template, eos_token=self._eos_text,
                    bos_token=self._bos_text)
            except Exception as exc:  # a template jinja2 cannot parse: use the fallback
                log.warning("Chat template of %s unusable (%s); using ChatML", gguf.path, exc)

    # -- text ---------------------------------------------------------------------
    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        return self._llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def count_tokens(self, text: str) -> int:
        """Exact: the model's own tokenizer."""
        return len(self.tokenize(text))

    def format_chat(self, messages: list[Message]) -> str:
        if self._formatter is not None:
            try:
                return self._formatter(messages=messages).prompt
            except Exception as exc:
                log.warning("Chat template failed (%s); using ChatML", exc)
        return chatml(messages)

    def prompt_tokens(self, prompt: str) -> list[int]:
        """Tokens for a formatted prompt, with one BOS when the model wants it (the
        template may already have written it)."""
        tokens = self.tokenize(prompt)
        if self._add_bos and (not tokens or tokens[0] != self._bos):
            tokens = [self._bos, *tokens]
        return tokens

    # -- generation ---------------------------------------------------------------
    def generate(self, messages: list[Message], params: DecodingParams,
                 on_token: OnToken | None = None,
                 should_stop: ShouldStop | None = None) -> Generation:
        return self.complete(self.format_chat(messages), params, on_token, should_stop)

    def complete(self, prompt: str, params: DecodingParams, on_token: OnToken | None = None,
                 should_stop: ShouldStop | None = None) -> Generation:
        """Continue an already formatted prompt (``generate`` formats chat messages first)."""
        state = StreamState(stop=list(params.stop), on_token=on_token, should_stop=should_stop)
        tokens = self.prompt_tokens(prompt)
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise PromptTooLongError(
                f"The prompt takes {len(tokens)} tokens, more than this model's context of "
                f"{self.n_ctx}. Ask with fewer passages, or raise --ctx.")
        if state.cancelled():
            return state.finish(StopReason.CANCELLED, len(tokens))
        limit = min(params.max_tokens, room)
        llama = self._llama
        cached = self.cached_prefix(tokens)
        llama.set_seed(params.seed if params.seed >= 0 else random.randrange(2**32))
        llama.last_n_tokens_size = params.repeat_last_n
        processors = None
        if params.no_repeat_ngram_size > 0:
            processors = self._lib.LogitsProcessorList(
                [no_repeat_ngram_processor(params.no_repeat_ngram_size, len(tokens))])
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        vocab = llama._model.vocab
        is_eog = self._lib.llama_vocab_is_eog
        reason = StopReason.LENGTH
        stream = llama.generate(
            tokens, top_k=params.top_k, top_p=params.top_p, min_p=params.min_p,
            typical_p=params.typical_p, temp=params.temperature,
            repeat_penalty=params.repeat_penalty, frequency_penalty=params.frequency_penalty,
            presence_penalty=params.presence_penalty, mirostat_mode=params.mirostat_mode,
            mirostat_tau=params.mirostat_tau, mirostat_eta=params.mirostat_eta,
            logits_processor=processors, reset=True)
        try:
            for token in stream:
                if is_eog(vocab, token):
                    reason = StopReason.FINISHED
                    break
                stop = state.push(decoder.decode(llama.detokenize([token])))
                if stop is not None:
                    reason = stop
                    break
                if state.completion_tokens >= limit:
                    break
        finally:
            stream.close()
        note = ""
        if reason is StopReason.LENGTH and limit < params.max_tokens:
            note = (f"The answer was cut off: the model's context of {self.n_ctx} tokens is "
                    "full. Ask with fewer passages, or raise --ctx.")
        return dataclasses.replace(state.finish(reason, len(tokens), note), cached_tokens=cached)

    @contextlib.contextmanager
    def keeping_cache(self) -> Iterator[None]:
        """Generations inside leave the KV cache as they found it.

        A side prompt (translating a question, rag.translate) starts with another
        system message, so it would overwrite the cached answer prompt from its third
        token on and the next answer would read its whole system prompt again (about 3 s
        on 2 cores with the 1.5B model). The cache of the one sequence is copied out
        before (some 30 KB a token) and put back after, with the token ids llama-cpp-python
        matches prefixes against; its logits are not kept, so the next prompt is always
        evaluated from the first token that differs (``_requires_eval``).
        """
        llama, lib = self._llama, self._lib
        n = int(llama.n_tokens)
        ctx = llama._ctx.ctx
        saved = None
        if n > 0:
            size = lib.llama_state_seq_get_size(ctx, 0)
            buffer = (ctypes.c_uint8 * size)()
            if lib.llama_state_seq_get_data(ctx, buffer, size, 0) == size:
                saved = (buffer, size, llama.input_ids[:n].copy())
        try:
            yield
        finally:
            if saved is not None and self._llama is not None:
                buffer, size, ids = saved
                llama._ctx.kv_cache_seq_rm(-1, 0, -1)
                if lib.llama_state_seq_set_data(ctx, buffer, size, 0) == size:
                    llama.input_ids[:n] = ids
                    llama.n_tokens = n
                else:  # nothing usable is cached: the next prompt is read whole
                    llama._ctx.kv_cache_seq_rm(-1, 0, -1)
                    llama.n_tokens = 0
                llama._requires_eval = True

    def cached_prefix(self, tokens: list[int]) -> int:
        """How many of ``tokens`` ``Llama.generate`` will take from the KV cache: the
        longest prefix shared with what it evaluated last, less one when that is the whole
        prompt (the last token is evaluated again for fresh logits)."""
        llama = self._llama
        n = 0
        for a, b in zip(llama._input_ids[: llama.n_tokens], tokens, strict=False):
            if a != b:
                break
            n += 1
        return min(n, len(tokens) - 1)

    def close(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None

    def __enter__(self) -> LlamaCppLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(spec: str = "default", *, gpu_layers: int = -1, n_ctx: int = 0, threads: int = 0,
         on_progress: Progress | None = None) -> LlamaCppLLM:
    """Load a model ('default', 'fast', 'small' or a GGUF path) with llama.cpp.

    gpu_layers -1 offloads every layer when this build can, 0 keeps the model on the
    CPU; a failed offload is retried with fewer layers, then on the CPU (see
    ``.note``). n_ctx 0 picks the trained context capped to speed and memory;
    threads 0 uses the physical cores. Raises ModelError with a message for a person.
    """
    path = resolve(spec, on_progress)
    info = describe(path)
    check_architecture(info)
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(f"llama-cpp-python is not installed or cannot load ({exc}). "
                         "Reinstall Quarry.") from None
    backend = detect_backend()
    threads = threads or physical_cores()
    plan = layer_plan(gpu_layers, info.n_layers, backend)
    if on_progress:
        on_progress(0, 1, f"Loading {info.name}")
    ctx_notes: dict[int, tuple[int, str]] = {}

    def make(layers: int) -> Any:
        ctx, why = choose_ctx(n_ctx, info.context_length, info.kv_bytes_per_token,
                              info.file_size, on_gpu=layers != 0)
        ctx_notes[layers] = (ctx, why)
        return llama_cpp.Llama(model_path=str(path), n_gpu_layers=layers, n_ctx=ctx,
                               n_threads=threads, n_threads_batch=threads, verbose=False)

    llama, layers, note = load_with_fallback(make, plan, info.n_layers, str(path))
    ctx, why = ctx_notes[layers]
    if why:
        log.info("Context for %s %s (trained: %d)", path.name, why, info.context_length)
    if gpu_layers > 0 and not backend.offload:
        note = ("This build of llama.cpp cannot use a GPU, so the model runs on the CPU. "
                "Install a CUDA, Metal or Vulkan build to offload.")
    device = describe_device(backend, gpu_layers=layers, n_layers=info.n_layers,
                             threads=threads)
    if on_progress:
        on_progress(1, 1, f"Loaded {info.name} on {device}")
    key = (spec or "default").strip()
    return LlamaCppLLM(llama, info, device, llama.n_ctx(), note, layers,
                       spec=key if key.lower() in ("default", "fast", "small") else str(path))


class LlamaCppBackend:
    """GGUF files in-process: the default whenever no server URL is set."""

    name = "llama.cpp"
    priority = 0

    def accepts(self, request: ModelRequest) -> bool:
        return not request.url

    def load(self, request: ModelRequest, on_progress: Progress | None = None) -> LlamaCppLLM:
        return load(request.model, gpu_layers=request.gpu_layers, n_ctx=request.n_ctx,
                    threads=request.threads, on_progress=on_progress)

    def available_models(self, request: ModelRequest) -> list[ModelInfo]:
        return available_models()

    def describe_device(self, request: ModelRequest) -> str:
        return describe_device(threads=request.threads,
                               gpu_layers=0 if request.gpu_layers == 0 else None)


BACKEND = LlamaCppBackend()
