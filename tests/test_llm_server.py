"""The OpenAI-compatible server backend against a real server: llama-cpp-python's own
(``python -m llama_cpp.server``) serving the bundled default model (SmolLM2 where a server
is killed), started by the tests on 127.0.0.1 (the only host these tests may reach), with
an API key."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import models
from models.backends.openai_http import ServerLLM, estimate_tokens
from models.base import StopReason
from models.decoding import DecodingParams
from models.locate import bundled_small

pytestmark = [pytest.mark.slow, pytest.mark.allow_hosts(["127.0.0.1"])]

KEY = "test-key-7f3a"
GREEDY = DecodingParams(temperature=0.0, seed=7, max_tokens=40)
COUNT = [{"role": "user", "content": "Count from 1 to 50, separated by commas."}]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One ``llama_cpp.server`` process; ``url`` is its OpenAI base address."""

    def __init__(self, log_path: Path, model: Path, api_key: str = KEY) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        args = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "4096",
            "--n_threads",
            "2",
            "--verbose",
            "False",
            "--api_key",
            api_key,
        ]
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("llama_cpp.server did not start within 120 s")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, default_model_path: Path) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("server") / "server.log", default_model_path)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def llm(server: Server) -> Iterator[ServerLLM]:
    m = models.load(url=server.url, api_key=KEY)
    yield m
    m.close()


def test_connects_and_describes_the_served_model(llm: ServerLLM, server: Server) -> None:
    assert isinstance(llm, ServerLLM) and llm.family == "llama-cpp-python"
    assert llm.device == f"server at {server.url}"
    assert llm.info.backend == "OpenAI-compatible server" and llm.info.spec in llm.served
    assert llm.n_ctx == 4096  # what a server that does not report it is assumed to have
    assert "KEY" not in repr(llm.client) and KEY not in repr(llm.client)


def test_counts_tokens_with_the_servers_tokenizer(llm: ServerLLM) -> None:
    served = models.load("default", n_ctx=512)
    local = models.load("small", n_ctx=512)  # the worst case for an estimate: 2 tokens per CJK
    try:
        chat = "<|im_start|>user\nHi<|im_end|>\n"
        assert llm.count_tokens(chat) == served.count_tokens(chat) == 6  # specials count one
        for text in (
            "Northwind's travel budget for 2023 was EUR 45,000.",
            "公司的差旅预算是多少？住宿标准每晚不超过800元。",
            "Net revenues were $1,117.3 million for the three months ended "
            "September 30, 2023, compared to $986.4 million (Note 12).",
        ):
            assert llm.count_tokens(text) == served.count_tokens(text)
            exact = local.count_tokens(text)
            # Without a tokenizer endpoint the estimate must not undercount (the prompt
            # would overflow), nor waste much of the context.
            assert exact <= estimate_tokens(text) <= 2 * exact, text
    finally:
        local.close()
        served.close()


def test_streams_and_stops_like_the_local_backend(llm: ServerLLM) -> None:
    pieces: list[str] = []
    g = llm.generate(COUNT, GREEDY.with_changes(max_tokens=12), on_token=pieces.append)
    assert g.stop_reason is StopReason.LENGTH and g.text == "".join(pieces)
    assert "1" in g.text and g.completion_tokens == 12 and g.prompt_tokens > 10
    assert g.ttft_s > 0 and g.total_s >= g.ttft_s
    seen: list[str] = []
    g = llm.generate(
        COUNT,
        GREEDY.with_changes(max_tokens=100),
        on_token=seen.append,
        should_stop=lambda: len(seen) >= 3,
    )
    assert g.stop_reason is StopReason.CANCELLED and g.text == "".join(seen)
    assert 3 <= g.completion_tokens <= 5


def test_parameters_the_server_does_not_take_are_reported_once(llm: ServerLLM) -> None:
    params = GREEDY.with_changes(max_tokens=4, no_repeat_ngram_size=3, typical_p=0.9)
    first = llm.generate(COUNT, params)
    assert "does not take typical_p, no_repeat_ngram_size" in first.note
    again = llm.generate(COUNT, params)
    assert again.note == ""


def test_answers_with_citations_through_the_server(server: Server, tmp_path, monkeypatch) -> None:
    from rag.engine import Engine
    from rag.settings import ModelSettings, RetrievalSettings, Settings
    from tests.conftest import EXAMPLES

    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QUARRY_LLM_API_KEY", KEY)
    settings = Settings(model=ModelSettings(llm_url=server.url), retrieval=RetrievalSettings(k=3))
    with Engine(settings) as engine:
        engine.index(EXAMPLES)
        info = engine.load_model()
        assert info.backend == "OpenAI-compatible server"
        assert engine.device == f"server at {server.url}"
        answer = engine.ask(
            "How many days of paid holiday do full-time employees get?",
            decoding=dataclasses.replace(GREEDY, max_tokens=48),
        )
    assert not answer.refused and answer.text.strip()
    cited = {c.source for s in answer.sentences for c in s.citations}
    assert cited and cited <= {s.number for s in answer.sources}
    assert {s.file for s in answer.sources} <= {p.name for p in EXAMPLES.iterdir()}
    assert answer.stats.prompt_tokens > 0 and answer.stats.stop_reason in ("finished", "length")


def test_the_server_going_away_mid_answer_keeps_the_text(tmp_path) -> None:
    doomed = Server(tmp_path / "doomed.log", bundled_small())
    try:
        llm = models.load(url=doomed.url, api_key=KEY)
        seen: list[str] = []

        def on_token(piece: str) -> None:
            seen.append(piece)
            if len(seen) == 3:
                doomed.kill()

        g = llm.generate(COUNT, GREEDY.with_changes(max_tokens=200), on_token=on_token)
    finally:
        doomed.stop()
    assert g.stop_reason is StopReason.FAILED, g
    assert g.text == "".join(seen) and len(seen) >= 3
    assert "lost mid-answer" in g.note or "ended the answer early" in g.note


def test_a_wrong_url_is_one_sentence_after_retries() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(models.ModelError) as err:
        models.load(url=url)
    assert time.monotonic() - started >= 1.4  # backoff 0.5 s + 1 s between three tries
    message = str(err.value)
    assert message == (
        f"Cannot reach the model server at {url} (connection refused). "
        "Check --llm-url and that the server is running."
    )


def test_a_wrong_api_key_is_refused_without_showing_it(server: Server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-key-d41d8"
    with pytest.raises(models.ModelError, match=r"refused the API key \(HTTP 401\)") as err:
        models.load(url=server.url, api_key=wrong)
    assert "QUARRY_LLM_API_KEY" in str(err.value)
    assert wrong not in str(err.value) and wrong not in caplog.text
    with pytest.raises(models.ModelError, match="HTTP 401"):
        models.load(url=server.url)  # no key at all
