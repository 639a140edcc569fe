"""The one settings object: defaults, validation, CLI flags, GUI controls and persistence.

Each group is a frozen dataclass whose fields are declared with
:func:`models.options.option`; :class:`Settings` bundles the groups and saves
them as JSON in the user's config directory. Nothing else in Quarry declares a
default of its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from models.decoding import DecodingParams, preset
from models.options import (
    add_arguments,
    from_dict,
    option,
    overrides_from_args,
    to_dict,
    validate,
)
from rag import paths, vectors

log = logging.getLogger(__name__)

SCHEMA = 1


@dataclass(frozen=True)
class IndexSettings:
    embedding_model: str = option(
        "default",
        "Sentence-transformers model: 'default' for the bundled all-MiniLM-L6-v2, "
        "or the path of a local model folder.",
        flag="embedding-model",
    )
    chunk_tokens: int = option(
        200,
        "Chunk length in the embedding model's tokens (kept within its window).",
        min=32,
        max=8192,
        flag="chunk-tokens",
    )
    chunk_overlap: int = option(
        40,
        "Tokens shared by neighbouring chunks, so sentences are not cut.",
        min=0,
        max=4096,
        flag="chunk-overlap",
    )
    batch_size: int = option(32, "Chunks embedded per batch.", min=1, max=1024, flag="batch-size")
    vector_index: str = option(
        vectors.DEFAULT,
        "Vector index that searches the embeddings (rebuilt from the catalog when changed).",
        choices=vectors.names(),
        flag="vector-index",
    )
    embedding_runtime: str = option(
        "auto",
        "How passages are embedded: 'onnx' (int8 on onnxruntime, fastest on a CPU), "
        "'torch' (float; uses a GPU when torch sees one), or 'auto' (torch on a GPU, else onnx).",
        choices=("auto", "onnx", "torch"),
        flag="embedding-runtime",
    )
    ocr: bool = option(
        True,
        "Read scanned PDF pages and images (PNG, JPEG, TIFF, BMP, WebP) with OCR, "
        "offline; --no-ocr skips them.",
    )

    def __post_init__(self) -> None:
        validate(self)
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than "
                f"chunk_tokens ({self.chunk_tokens})"
            )


@dataclass(frozen=True)
class RetrievalSettings:
    k: int = option(
        5,
        "How many passages to return or give the model.",
        min=1,
        max=100,
        label="Passages per question (k)",
    )
    relevance_floor: float = option(
        0.3,
        "Passages scoring below this are treated as not relevant.",
        min=0.0,
        max=1.0,
        flag="relevance-floor",
    )
    translate_questions: bool = option(
        True,
        "Translate a Chinese question with the loaded model and search English documents "
        "with both wordings (only while a model is loaded: --search alone does not load one).",
        flag="translate-questions",
        label="Translate Chinese questions",
    )

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class ModelSettings:
    model: str = option(
        "default",
        "LLM: 'default' (bundled Qwen2.5 Coder 1.5B), 'fast' (bundled Qwen2.5 Coder 0.5B, "
        "quicker on a slow computer), the path of a GGUF file, or with --llm-url the name "
        "the server serves.",
    )
    llm_url: str = option(
        "",
        "Use an OpenAI-compatible model server at this address (for example "
        "http://gpu-box:8000/v1) instead of running the model here.",
        flag="llm-url",
        label="Server URL",
    )
    llm_api_key: str = option(
        "",
        "API key for the model server (else the QUARRY_LLM_API_KEY environment variable).",
        cli=False,
        secret=True,
        label="Server API key",
    )
    llm_timeout: float = option(
        60.0,
        "Seconds to wait for the model server to connect or send the next piece.",
        min=1.0,
        max=3600.0,
        flag="llm-timeout",
    )
    gpu_layers: int = option(
        -1,
        "Layers offloaded to the GPU: -1 all when a GPU is available, 0 CPU only.",
        min=-1,
        max=1000,
        flag="gpu-layers",
    )
    ctx: int = option(
        0,
        "Context length in tokens (0 = the model's, capped to memory; with a server, what it "
        "reports, else 4096).",
        min=0,
        max=1_048_576,
    )
    threads: int = option(0, "CPU threads for generation (0 = physical cores).", min=0, max=512)

    def __post_init__(self) -> None:
        validate(self)

    def request(self):
        """What the model layer needs to pick a backend and load the model."""
        from models.backends import ModelRequest

        return ModelRequest(model=self.model, url=self.llm_url.strip(), api_key=self.llm_api_key,
                            gpu_layers=self.gpu_layers, n_ctx=self.ctx, threads=self.threads,
                            timeout_s=self.llm_timeout)


@dataclass(frozen=True)
class UiSettings:
    """What the window remembers; not command-line flags."""

    folder: str = option("", "Last folder opened.", cli=False)
    geometry: str = option("", "Window geometry (Qt, base64).", cli=False)
    state: str = option("", "Window layout (Qt, base64).", cli=False)
    preset: str = option("precise", "Decoding preset last chosen.", cli=False)
    theme: str = option(
        "system",
        "Colours: follow the system's light or dark setting, or always light or dark.",
        choices=("system", "light", "dark"),
        cli=False,
    )


@dataclass(frozen=True)
class Settings:
    index: IndexSettings = field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    decoding: DecodingParams = field(default_factory=lambda: preset("precise"))
    ui: UiSettings = field(default_factory=UiSettings)

    GROUPS = ("index", "retrieval", "model", "decoding", "ui")

    # -- persistence ---------------------------------------------------------
    @staticmethod
    def path() -> Path:
        return paths.config_dir() / "settings.json"

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **{g: to_dict(getattr(self, g)) for g in self.GROUPS}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        """Saved values that are no longer valid fall back to defaults, one by one."""
        groups = {}
        for f in dataclasses.fields(cls):
            saved = data.get(f.name)
            if isinstance(saved, dict):
                groups[f.name] = from_dict(_group_type(f.name), saved)
        return cls(**groups)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        path = path or cls.path()
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("Ignoring unreadable settings file %s: %s", path, exc)
            return cls()

    def save(self, path: Path | None = None) -> None:
        """Write atomically, so a crash mid-write keeps the previous settings."""
        path = path or self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    # -- command line ----------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        for name in ("index", "retrieval", "model", "decoding"):
            add_arguments(parser.add_argument_group(f"{name} options"), _group_type(name))
        parser.add_argument(
            "--preset",
            default=None,
            help="Decoding preset (precise, balanced, "
            "creative); individual decoding flags override it.",
        )

    def with_args(self, ns: argparse.Namespace) -> Settings:
        """These settings with the flags given on the command line applied (and validated)."""
        new = self
        if getattr(ns, "preset", None):
            new = replace(new, decoding=preset(ns.preset))
        for name in ("index", "retrieval", "model", "decoding"):
            group = getattr(new, name)
            changes = overrides_from_args(ns, type(group))
            if changes:
                new = replace(new, **{name: replace(group, **changes)})
        return new


class LiveSettings:
    """The one owner of the settings a running Quarry uses: the saved ones with this run's
    command-line flags on top.

    Flags apply to one run (the README promises it), so they are never written to
    the settings file; a change made in the window is, and it replaces the flag it
    touches for the rest of the run. ``effective`` is what everything reads.
    """

    def __init__(self, saved: Settings, effective: Settings | None = None) -> None:
        self.saved = saved
        self.effective = effective if effective is not None else saved

    @classmethod
    def from_args(cls, saved: Settings, ns: argparse.Namespace) -> LiveSettings:
        effective = saved.with_args(ns)
        if getattr(ns, "preset", None):
            effective = replace(effective, ui=replace(effective.ui, preset=ns.preset))
        return cls(saved, effective)

    @property
    def flags(self) -> dict[str, dict[str, Any]]:
        """What this run's flags changed, by group: {"decoding": {"temperature": 0.9}}."""
        return _difference(self.saved, self.effective)

    def change(self, new: Settings) -> None:
        """Make ``new`` the effective settings; what differs from the current ones is a
        person's change and goes into the saved settings too."""
        changed = _difference(self.effective, new)
        saved = self.saved
        for group, values in changed.items():
            saved = replace(saved, **{group: replace(getattr(saved, group), **values)})
        self.saved, self.effective = saved, new

    def save(self, path: Path | None = None) -> None:
        self.saved.save(path)


def _difference(old: Settings, new: Settings) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for group in Settings.GROUPS:
        a, b = getattr(old, group), getattr(new, group)
        if a != b:
            out[group] = {
                f.name: getattr(b, f.name)
                for f in dataclasses.fields(b)
                if getattr(a, f.name) != getattr(b, f.name)
            }
    return out


def _group_type(name: str) -> type:
    return {
        "index": IndexSettings,
        "retrieval": RetrievalSettings,
        "model": ModelSettings,
        "decoding": DecodingParams,
        "ui": UiSettings,
    }[name]
