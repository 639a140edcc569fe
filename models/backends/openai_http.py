"""An OpenAI-compatible chat server as an LLM backend (llama.cpp's servers, vLLM, Ollama, …).

A team can keep its documents on each laptop and put one larger model on a
shared GPU machine. This backend speaks the chat-completions protocol over HTTP
with the standard library only: answers stream as server-sent events through
the same :class:`~models.streaming.StreamState` as the in-process backend, so
stop texts, the repetition guard and cancellation behave alike.

What a person can meet, and what they see:

- a wrong URL or a server that is down: connection errors are retried with
  backoff (a restarting server comes back), then one sentence naming the URL;
- a wrong or missing API key (HTTP 401/403): one sentence saying where the key
  goes. The key is sent only in the Authorization header and never logged;
- the server going away mid-answer: the text so far is kept, the stop reason is
  ``failed`` and the note says the answer is incomplete;
- decoding parameters the server does not take (plain OpenAI servers have no
  top-k or repeat penalty): named once, in the first answer's note.

Prompt packing needs token counts: the server's own tokenizer is used where it
offers one (llama-cpp-python's ``/extras/tokenize/count``, llama.cpp's
``/tokenize``); elsewhere an estimate that errs on the high side.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import logging
import math
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from models.backends import ModelRequest, Progress
from models.base import Generation, Message, ModelInfo, OnToken, ShouldStop, StopReason, chatml
from models.bundled import BY_KEY
from models.cjk import CJK_CHARS, HANGUL_CHARS
from models.decoding import DecodingParams
from models.errors import ModelError
from models.streaming import StreamState

log = logging.getLogger(__name__)

API_KEY_ENV = "QUARRY_LLM_API_KEY"
RETRIES = 3  # connection attempts before giving up
BACKOFF_S = 0.5  # first wait between attempts; doubles each time
DEFAULT_CTX = 4096  # assumed when neither --ctx nor the server says
MAX_STOP = 4  # the OpenAI protocol takes at most four stop texts; the rest are matched here
ESTIMATE_MARGIN = 1.15  # estimated counts are raised by this share, so a prompt still fits

# Decoding parameters beyond the OpenAI set, by server family, as (our name, their name).
_EXTRAS: dict[str, tuple[tuple[str, str], ...]] = {
    "llama-cpp-python": (
        ("top_k", "top_k"),
        ("min_p", "min_p"),
        ("repeat_penalty", "repeat_penalty"),
        ("mirostat_mode", "mirostat_mode"),
        ("mirostat_tau", "mirostat_tau"),
        ("mirostat_eta", "mirostat_eta"),
    ),
    "llama.cpp": (
        ("top_k", "top_k"),
        ("min_p", "min_p"),
        ("typical_p", "typical_p"),
        ("repeat_penalty", "repeat_penalty"),
        ("repeat_last_n", "repeat_last_n"),
        ("mirostat_mode", "mirostat"),
        ("mirostat_tau", "mirostat_tau"),
        ("mirostat_eta", "mirostat_eta"),
    ),
    "openai": (),
}
# Values at which a parameter does nothing: a server that lacks it loses nothing then.
_NEUTRAL: dict[str, Any] = {
    "top_k": 0,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_penalty": 1.0,
    "mirostat_mode": 0,
    "no_repeat_ngram_size": 0,
}
_RETRYABLE_STATUS = {502, 503, 504}
_CJK = re.compile(f"[{CJK_CHARS}{HANGUL_CHARS}]")
_PIECES = re.compile(r"[^\W\d_]+|\d|\S", re.UNICODE)


def estimate_tokens(text: str) -> int:
    """A token count that errs high, for servers that cannot count: digits and symbols one
    each (common tokenizers split numbers into digits), a word one per four letters, a CJK
    character two (byte-level vocabularies with few CJK merges need that), plus a margin."""
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    n = 0
    for piece in _PIECES.findall(rest):
        n += math.ceil(len(piece) / 4) if piece[0].isalpha() else 1
    return math.ceil((n + 2 * cjk) * ESTIMATE_MARGIN) + 1


@dataclass(frozen=True)
class Endpoint:
    """A server's base URL, split once: ``http://host:8000/v1`` and its API root."""

    url: str
    scheme: str
    host: str
    port: int
    base_path: str  # e.g. "/v1": where /chat/completions and /models live
    root_path: str  # the server root, where llama.cpp servers keep their extras

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        raw = url.strip()
        parts = urllib.parse.urlsplit(raw if "://" in raw else f"http://{raw}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelError(
                f"The model server address {url!r} is not an http(s) URL; give "
                "one like http://127.0.0.1:8000/v1."
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ModelError(f"The model server address {url!r} has an invalid port.") from None
        path = parts.path.rstrip("/")
        if not path:
            path = "/v1"
        root = path[: -len("/v1")] if path.endswith("/v1") else path
        shown = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        return cls(shown, parts.scheme, parts.hostname, port, path, root)


class HttpError(ModelError):
    """The server answered with an HTTP error; ``status`` is its code."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ServerClient:
    """Requests to one server: JSON in and out, retried on connection errors, authorised.

    A new connection per request: a prompt is read once, the handshake is small
    beside it, and no connection is shared between threads.
    """

    def __init__(self, endpoint: Endpoint, api_key: str, timeout_s: float) -> None:
        self.endpoint = endpoint
        self._api_key = api_key
        self.timeout_s = timeout_s

    def __repr__(self) -> str:  # never the key
        return f"ServerClient({self.endpoint.url!r})"

    def _connect(self) -> http.client.HTTPConnection:
        e = self.endpoint
        if e.scheme == "https":
            import ssl

            return http.client.HTTPSConnection(
                e.host, e.port, timeout=self.timeout_s, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(e.host, e.port, timeout=self.timeout_s)

    def _headers(self, body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream", "User-Agent": "Quarry"}
        if body:
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def open(
        self, method: str, path: str, payload: dict | None = None, *, retries: int = RETRIES
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request and return the open connection and its response headers.

        Connection errors (refused, reset, timed out before an answer) and 502/503/504
        are retried with exponential backoff; other HTTP errors raise at once.
        """
        body = json.dumps(payload).encode("utf-8") if payload is not None else None
        last: Exception | None = None
        for attempt in range(max(1, retries)):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
            conn = self._connect()
            try:
                conn.request(method, path, body=body, headers=self._headers(body is not None))
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                last = exc
                log.info(
                    "Model server %s: %s (attempt %d of %d)",
                    self.endpoint.url,
                    type(exc).__name__,
                    attempt + 1,
                    retries,
                )
                continue
            if resp.status in _RETRYABLE_STATUS and attempt < retries - 1:
                resp.read()
                conn.close()
                last = HttpError(f"HTTP {resp.status}", resp.status)
                continue
            if resp.status >= 400:
                detail = _error_detail(resp.read())
                conn.close()
                raise self._http_error(resp.status, detail, path)
            return conn, resp
        raise ModelError(
            f"Cannot reach the model server at {self.endpoint.url} "
            f"({_reason(last)}). Check --llm-url and that the server is running."
        )

    def json(
        self, method: str, path: str, payload: dict | None = None, *, retries: int = RETRIES
    ) -> Any:
        conn, resp = self.open(method, path, payload, retries=retries)
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ModelError(
                f"The model server at {self.endpoint.url} broke off its answer ({_reason(exc)})."
            ) from None
        finally:
            conn.close()
        try:
            return json.loads(raw)
        except ValueError:
            raise ModelError(
                f"The model server at {self.endpoint.url} did not answer in JSON; "
                "is this an OpenAI-compatible server?"
            ) from None

    def _http_error(self, status: int, detail: str, path: str) -> HttpError:
        url = self.endpoint.url
        if status in (401, 403):
            return HttpError(
                f"The model server at {url} refused the API key (HTTP {status}). Set it in "
                f"the model settings or in the {API_KEY_ENV} environment variable.",
                status,
            )
        if status == 404:
            return HttpError(
                f"The model server at {url} has no {path} (HTTP 404). Check that "
                "--llm-url is the server's OpenAI address, usually ending in /v1.",
                status,
            )
        more = f": {detail}" if detail else ""
        return HttpError(f"The model server at {url} answered HTTP {status}{more}.", status)


def _error_detail(raw: bytes) -> str:
    """The message inside an error body, short, for a sentence."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            err = err.get("message", err)
        return str(err)[:200]
    return text[:200]


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host name"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return str(exc) or type(exc).__name__


class _StopWatch:
    """Closes a connection from another thread once ``should_stop()`` turns true, so a
    stop works even while the server is still reading the prompt and sends nothing."""

    def __init__(self, conn: http.client.HTTPConnection, should_stop: ShouldStop | None) -> None:
        self.conn = conn
        self.should_stop = should_stop
        self.fired = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _StopWatch:
        if self.should_stop is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True, name="quarry-llm-stop")
            self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if self.should_stop():  # type: ignore[misc]
                self.fired = True
                sock = self.conn.sock
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def _events(resp: http.client.HTTPResponse) -> Iterator[str | None]:
    """The ``data:`` payloads of a server-sent event stream; None for ``[DONE]``. A stream
    that simply ends, without ``[DONE]``, was cut off."""
    data: list[str] = []
    while True:
        line = resp.readline()
        if not line:
            return
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if data:
                payload = "\n".join(data)
                data = []
                if payload.strip() == "[DONE]":
                    yield None
                    return
                yield payload
            continue
        if text.startswith("data:"):
            data.append(text[5:].lstrip(" "))
        # comments (": ping") and other fields are ignored


class ServerLLM:
    """A model served over HTTP. Not thread-safe: one generation at a time."""

    def __init__(
        self, client: ServerClient, model_id: str, n_ctx: int, family: str, served: list[str]
    ) -> None:
        self.client = client
        self.model_id = model_id
        self.n_ctx = n_ctx
        self.family = family  # 'llama-cpp-python', 'llama.cpp' or 'openai'
        self.served = served
        self.device = f"server at {client.endpoint.url}"
        self.note = ""
        self.info = ModelInfo(
            name=model_id.rsplit("/", 1)[-1] or model_id,
            spec=model_id,
            backend=BACKEND.name,
            context_length=n_ctx,
        )
        self._reported: set[str] = set()

    # -- text -----------------------------------------------------------------
    @functools.lru_cache(maxsize=512)  # noqa: B019 - one instance per loaded model
    def count_tokens(self, text: str) -> int:
        """The server's own count where it can give one, else an estimate that errs high."""
        try:
            if self.family == "llama-cpp-python":
                data = self.client.json(
                    "POST",
                    f"{self.client.endpoint.root_path}/extras/tokenize/count",
                    {"input": text, "model": self.model_id},
                    retries=1,
                )
                return int(data["count"])
            if self.family == "llama.cpp":
                data = self.client.json(
                    "POST",
                    f"{self.client.endpoint.root_path}/tokenize",
                    {"content": text, "parse_special": True},
                    retries=1,
                )
                return len(data["tokens"])
        except (ModelError, KeyError, TypeError, ValueError) as exc:
            log.info("Token count from the server failed (%s); estimating", exc)
        return estimate_tokens(text)

    def format_chat(self, messages: list[Message]) -> str:
        """The server applies its model's chat template; ChatML is a close stand-in for
        counting what the role markers cost."""
        return chatml(messages)

    # -- generation -----------------------------------------------------------
    def unsupported(self, params: DecodingParams) -> list[str]:
        """Parameters set to a value that matters but that this server does not take."""
        taken = {ours for ours, _ in _EXTRAS[self.family]}
        return [
            name
            for name, neutral in _NEUTRAL.items()
            if name not in taken and getattr(params, name) != neutral
        ]

    def payload(self, messages: list[Message], params: DecodingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": messages,
            "stream": True,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "presence_penalty": params.presence_penalty,
            "frequency_penalty": params.frequency_penalty,
        }
        if params.stop:
            body["stop"] = list(params.stop)[:MAX_STOP]
        if params.seed >= 0:
            body["seed"] = params.seed
        for ours, theirs in _EXTRAS[self.family]:
            body[theirs] = getattr(params, ours)
        return body

    def generate(
        self,
        messages: list[Message],
        params: DecodingParams,
        on_token: OnToken | None = None,
        should_stop: ShouldStop | None = None,
    ) -> Generation:
        state = StreamState(stop=list(params.stop), on_token=on_token, should_stop=should_stop)
        note = self._first_report(params)
        prompt_tokens = self.count_tokens(self.format_chat(messages))
        if state.cancelled():
            return state.finish(StopReason.CANCELLED, prompt_tokens, note)
        path = f"{self.client.endpoint.base_path}/chat/completions"
        try:
            conn, resp = self.client.open("POST", path, self.payload(messages, params))
        except HttpError as exc:
            raise self._context_error(exc) or exc from None
        reason: StopReason | None = None
        usage: dict[str, Any] = {}
        with _StopWatch(conn, should_stop) as watch:
            try:
                for event in _events(resp):
                    if event is None:  # [DONE]
                        reason = reason or StopReason.FINISHED
                        break
                    chunk = json.loads(event)
                    if chunk.get("error"):
                        raise ModelError(
                            f"The model server at {self.client.endpoint.url} "
                            f"stopped with an error: {_error_detail(event.encode())}"
                        )
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            reason = state.push(piece)
                        done = choice.get("finish_reason")
                        if reason is None and done:
                            reason = (
                                StopReason.LENGTH if done == "length" else (StopReason.FINISHED)
                            )
                        if reason is not None:
                            break
                    if reason is not None:
                        break
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if watch.fired or state.cancelled():
                    reason = StopReason.CANCELLED
                else:
                    reason = StopReason.FAILED
                    note = _join(
                        note,
                        f"The connection to the model server was lost mid-answer "
                        f"({_reason(exc)}); the answer is incomplete.",
                    )
            finally:
                conn.close()
        if watch.fired:
            reason = StopReason.CANCELLED
        if reason is None:  # the stream ended without saying why: the server went away
            reason = StopReason.FAILED
            note = _join(
                note,
                "The model server ended the answer early without saying why; "
                "the answer may be incomplete.",
            )
        prompt_tokens = int(usage.get("prompt_tokens") or prompt_tokens)
        state.completion_tokens = int(usage.get("completion_tokens") or state.completion_tokens)
        return state.finish(reason, prompt_tokens, note)

    def _first_report(self, params: DecodingParams) -> str:
        """Name, once per loaded model, each decoding parameter the server will not apply."""
        fresh = [n for n in self.unsupported(params) if n not in self._reported]
        if not fresh:
            return ""
        self._reported.update(fresh)
        text = (
            f"The model server does not take {', '.join(fresh)}; "
            f"{'it was' if len(fresh) == 1 else 'they were'} not applied."
        )
        log.warning("%s", text)
        return text

    def _context_error(self, exc: HttpError) -> ModelError | None:
        """A prompt larger than the server's context: learn its size for the next question."""
        m = re.search(r"context (?:window|length|size)[^0-9]{0,20}(\d+)", str(exc), re.I)
        if exc.status != 400 or not m:
            return None
        real = int(m.group(1))
        assumed, self.n_ctx = self.n_ctx, real
        return ModelError(
            f"The model server's context is {real} tokens, less than the "
            f"{assumed} Quarry packed the prompt for. Ask again (it now packs for "
            f"{real}), or set --ctx {real}."
        )

    def close(self) -> None:
        self.count_tokens.cache_clear()

    def __enter__(self) -> ServerLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _join(a: str, b: str) -> str:
    return f"{a} {b}".strip()


def api_key(request: ModelRequest) -> str:
    """The key from the settings, else from the environment (never logged)."""
    return request.api_key or os.environ.get(API_KEY_ENV, "")


def _probe_family(client: ServerClient, model_id: str) -> str:
    """Which server family this is, by the tokenizer endpoint it offers."""
    root = client.endpoint.root_path
    probes = (
        (
            "llama-cpp-python",
            f"{root}/extras/tokenize/count",
            {"input": "a", "model": model_id},
            "count",
        ),
        ("llama.cpp", f"{root}/tokenize", {"content": "a"}, "tokens"),
    )
    for family, path, body, key in probes:
        try:
            if key in client.json("POST", path, body, retries=1):
                return family
        except (ModelError, TypeError):
            continue
    return "openai"


def _served_ctx(client: ServerClient, models: list[dict], model_id: str, family: str) -> int:
    """The context length the server reports, where it reports one (vLLM, llama.cpp)."""
    for m in models:
        if m.get("id") == model_id:
            for key in ("max_model_len", "context_length", "n_ctx"):
                if isinstance(m.get(key), int) and m[key] > 0:
                    return int(m[key])
    if family == "llama.cpp":
        try:
            props = client.json("GET", f"{client.endpoint.root_path}/props", retries=1)
            n = (props.get("default_generation_settings") or {}).get("n_ctx") or props.get("n_ctx")
            if isinstance(n, int) and n > 0:
                return n
        except (ModelError, AttributeError):
            pass
    return 0


class ServerBackend:
    """An OpenAI-compatible server, chosen whenever a server URL is set."""

    name = "OpenAI-compatible server"
    priority = 10

    def accepts(self, request: ModelRequest) -> bool:
        return bool(request.url.strip())

    def _client(self, request: ModelRequest) -> ServerClient:
        return ServerClient(Endpoint.parse(request.url), api_key(request), request.timeout_s)

    def _served(self, client: ServerClient) -> list[dict]:
        data = client.json("GET", f"{client.endpoint.base_path}/models")
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list):
            raise ModelError(
                f"The model server at {client.endpoint.url} did not list its "
                "models; is this an OpenAI-compatible server?"
            )
        return [m for m in models if isinstance(m, dict) and m.get("id")]

    def load(self, request: ModelRequest, on_progress: Progress | None = None) -> ServerLLM:
        client = self._client(request)
        if on_progress:
            on_progress(0, 1, f"Connecting to {client.endpoint.url}")
        models = self._served(client)
        ids = [str(m["id"]) for m in models]
        if not ids:
            raise ModelError(f"The model server at {client.endpoint.url} serves no model.")
        wanted = (request.model or "default").strip()
        if wanted.lower() in BY_KEY or wanted.lower().endswith(".gguf"):
            model_id = ids[0]  # a local choice means nothing to a server: take what it serves
        elif wanted in ids:
            model_id = wanted
        else:
            raise ModelError(
                f"The model server at {client.endpoint.url} does not serve "
                f"{wanted!r}; it serves: {', '.join(ids)}. Choose one with --model."
            )
        family = _probe_family(client, model_id)
        n_ctx = request.n_ctx or _served_ctx(client, models, model_id, family) or DEFAULT_CTX
        llm = ServerLLM(client, model_id, n_ctx, family, ids)
        if on_progress:
            on_progress(1, 1, f"Using {model_id} on {llm.device}")
        log.info(
            "Model server %s (%s): %s, context %d", client.endpoint.url, family, model_id, n_ctx
        )
        return llm

    def available_models(self, request: ModelRequest) -> list[ModelInfo]:
        try:
            client = self._client(request)
            models = self._served(client)
        except ModelError as exc:
            log.warning("%s", exc)
            return []
        return [
            ModelInfo(name=str(m["id"]).rsplit("/", 1)[-1], spec=str(m["id"]), backend=self.name)
            for m in models
        ]

    def describe_device(self, request: ModelRequest) -> str:
        try:
            return f"server at {Endpoint.parse(request.url).url}"
        except ModelError as exc:
            return str(exc)


BACKEND = ServerBackend()
