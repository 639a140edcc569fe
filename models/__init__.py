"""Quarry's LLM layer: backends behind one interface, model files, decoding, streaming.

The rest of Quarry asks this package, never a backend: :func:`load` picks the
backend for the model settings (llama.cpp in-process, or an OpenAI-compatible
server when a URL is set; see :mod:`models.backends`). Importing it is cheap:
llama_cpp is imported only when a local model is loaded or the device is described.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from models import backends as _registry
from models.backends import ModelRequest
from models.base import LLM, Generation, ModelInfo, StopReason
from models.decoding import PRESETS, DecodingParams, preset
from models.errors import ModelError
from models.locate import bundled_default, bundled_fast, bundled_small, models_dir, resolve


def request(spec: str | ModelRequest = "default", **fields: Any) -> ModelRequest:
    """A ModelRequest from a spec ('default', a path, a served model id) and any fields."""
    if isinstance(spec, ModelRequest):
        return dataclasses.replace(spec, **fields) if fields else spec
    return ModelRequest(model=spec, **fields)


def load(spec: str | ModelRequest = "default", *, on_progress: Any = None,
         **fields: Any) -> LLM:
    """Load a model with the backend that runs it; raises ModelError with a sentence.

    ``models.load("small", n_ctx=2048)`` runs a bundled model in-process;
    ``models.load(url="http://host:8000/v1")`` uses a server's first model.
    """
    return _registry.load(request(spec, **fields), on_progress)


def available_models(spec: str | ModelRequest = "default", **fields: Any) -> list[ModelInfo]:
    """The models a person can choose with the backend these settings select."""
    return _registry.available_models(request(spec, **fields))


def describe_device(spec: str | ModelRequest = "default", **fields: Any) -> str:
    """Where a model would run with these settings, in words, without loading it."""
    return _registry.describe_device(request(spec, **fields))


def backend_name(spec: str | ModelRequest = "default", **fields: Any) -> str:
    return _registry.backend_for(request(spec, **fields)).name


__all__ = [
    "LLM", "Generation", "StopReason", "DecodingParams", "PRESETS", "preset", "ModelError",
    "ModelInfo", "ModelRequest", "available_models", "bundled_default", "bundled_fast",
    "bundled_small", "models_dir", "resolve", "load", "request", "describe_device",
    "backend_name",
]
