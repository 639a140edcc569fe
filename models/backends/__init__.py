"""LLM backends as a registry: one module per backend in this package, one small protocol.

Each module here defines ``BACKEND``, an object with the :class:`Backend` methods.
The registry finds the modules by listing this package, so adding a backend is
adding one module (and its test); nothing else in Quarry names a backend. Given a
:class:`ModelRequest` (built from the model settings), the registry picks the
backend that accepts it, highest ``priority`` first: today an OpenAI-compatible
server when a URL is set, llama.cpp in-process otherwise.

Modules are imported on first use of the registry, and a backend imports its heavy
library (llama_cpp) only when it loads a model.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from models.base import LLM, ModelInfo
from models.errors import ModelError

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ModelRequest:
    """Which model to run and how: what every backend is handed, whichever runs.

    ``model`` is a bundled key ('default', 'fast', 'small'), a GGUF path, or with a
    server the id it serves ('default' there means whichever it serves first).
    ``api_key`` is never shown in a repr, so it cannot reach a log by accident.
    """

    model: str = "default"
    url: str = ""  # an OpenAI-compatible server's base URL, e.g. http://host:8000/v1
    api_key: str = field(default="", repr=False)
    gpu_layers: int = -1
    n_ctx: int = 0
    threads: int = 0
    timeout_s: float = 60.0


class Backend(Protocol):
    name: str  # shown to people: 'llama.cpp', 'OpenAI-compatible server'
    priority: int  # asked first when higher

    def accepts(self, request: ModelRequest) -> bool:
        """Whether this backend runs ``request`` (for example: a URL is set)."""
        ...

    def load(self, request: ModelRequest, on_progress: Progress | None = None) -> LLM:
        """A ready model; ModelError with a sentence for a person when it cannot be had."""
        ...

    def available_models(self, request: ModelRequest) -> list[ModelInfo]:
        """The models a person can choose with this backend (cheap: nothing is loaded)."""
        ...

    def describe_device(self, request: ModelRequest) -> str:
        """Where the model runs, in words ('CPU (2 threads, AVX2)', 'server at …')."""
        ...


@functools.cache
def backends() -> tuple[Backend, ...]:
    """Every backend module in this package, highest priority first."""
    found: list[Backend] = []
    for mod in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        backend = getattr(module, "BACKEND", None)
        if backend is None:
            log.warning("LLM backend module %s defines no BACKEND; ignored", mod.name)
            continue
        found.append(backend)
    return tuple(sorted(found, key=lambda b: -b.priority))


def backend_for(request: ModelRequest) -> Backend:
    for backend in backends():
        if backend.accepts(request):
            return backend
    raise ModelError("No LLM backend can run this model setting. Check --model and --llm-url.")


def load(request: ModelRequest, on_progress: Progress | None = None) -> LLM:
    return backend_for(request).load(request, on_progress)


def available_models(request: ModelRequest) -> list[ModelInfo]:
    return backend_for(request).available_models(request)


def describe_device(request: ModelRequest) -> str:
    return backend_for(request).describe_device(request)
