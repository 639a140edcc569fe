"""Quarry's local LLM layer: model files, llama.cpp loading with offload, decoding, streaming.

Importing this package is cheap: llama_cpp is imported only when a model is
loaded or the device is described.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from models.base import LLM, Generation, StopReason
from models.decoding import PRESETS, DecodingParams, preset
from models.errors import ModelError
from models.gguf_info import ModelInfo, read_info
from models.locate import available_models, bundled_default, bundled_small, models_dir, resolve

if TYPE_CHECKING:
    from models.llama_cpp import LlamaCppLLM


def load(spec: str = "default", *, gpu_layers: int = -1, n_ctx: int = 0, threads: int = 0,
         on_progress: Any = None) -> LlamaCppLLM:
    """Load a model with llama.cpp; see :func:`models.llama_cpp.load`."""
    from models.llama_cpp import load as _load

    return _load(spec, gpu_layers=gpu_layers, n_ctx=n_ctx, threads=threads,
                 on_progress=on_progress)


__all__ = [
    "LLM", "Generation", "StopReason", "DecodingParams", "PRESETS", "preset", "ModelError",
    "ModelInfo", "read_info", "available_models", "bundled_default", "bundled_small",
    "models_dir", "resolve", "load",
]
