"""Chinese (or other CJK) questions over English documents, through the loaded LLM.

The bundled embedding model reads English only, and a Chinese question shares no
word with an English passage, so neither index can connect them. The
multilingual model (:mod:`rag.multilingual`) could, but giving every English
passage a vector in its space would make indexing an English folder about four
times slower. A question is short: the loaded LLM (it reads and writes Chinese)
turns it into English in about a second, and retrieval searches with both the
question and its translation.

Only when a model is already loaded: searching never loads one (``--search`` with
a Chinese question runs on the original question alone). Translations are kept
in a small SQLite cache in the data folder, keyed by model and question, so a
question asked again costs nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from rag.text import cjk_share

MIN_CJK_SHARE = 0.3  # of a question's letters, for it to be translated
MAX_TOKENS = 96
_SYSTEM = (
    "Translate the user's question into English. Keep names, numbers and years as they are. "
    "Reply with the English question only."
)


class QuestionTranslator:
    """Translates CJK questions into English with the loaded model; thread-safe.

    ``with_model(work)`` runs ``work(llm)`` with the loaded model when one is loaded and
    free, and returns its result, else None (see ``Engine``): a search never waits for
    an answer being written, and never loads a model.
    """

    def __init__(
        self, with_model: Callable[[Callable[[object], str]], str | None], cache: Path | None = None
    ) -> None:
        self._with_model = with_model
        self._cache_path = cache
        self._db: sqlite3.Connection | None = None
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def wanted(question: str) -> bool:
        """Whether ``question`` is one the main embedding model cannot read."""
        return cjk_share(question) >= MIN_CJK_SHARE

    def english(self, question: str) -> str | None:
        """``question`` in English, or None (not CJK, no model free, or no usable answer)."""
        if not self.wanted(question):
            return None
        return self._with_model(lambda llm: self._translate(llm, question)) or None

    def _translate(self, llm, question: str) -> str:
        key = hashlib.sha256(f"{llm.info.label}\x00{question}".encode()).hexdigest()
        with self._lock:
            found = self._get(key)
        if found is not None:
            return found
        from models.decoding import DecodingParams

        params = DecodingParams(temperature=0.0, max_tokens=MAX_TOKENS, seed=1)
        messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": question}]
        # The loaded model's cache holds the answer prompt's system part: a translation
        # must not evict it (the next answer would read it again), where the backend can
        # keep it.
        keep = getattr(llm, "keeping_cache", None)
        with keep() if keep is not None else contextlib.nullcontext():
            text = _clean(llm.generate(messages, params).text)
        with self._lock:
            self._put(key, text)
        return text

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and self._cache_path is not None:
            try:
                self._cache_path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self._cache_path, check_same_thread=False)
                db.execute("CREATE TABLE IF NOT EXISTS t (key TEXT PRIMARY KEY, text TEXT)")
                self._db = db
            except (OSError, sqlite3.Error):
                self._cache_path = None  # a cache that cannot be written is only memory
        return self._db

    def _get(self, key: str) -> str | None:
        if key in self._memory:
            return self._memory[key]
        db = self._connect()
        if db is not None:
            row = db.execute("SELECT text FROM t WHERE key = ?", (key,)).fetchone()
            if row is not None:
                self._memory[key] = row[0]
                return row[0]
        return None

    def _put(self, key: str, text: str) -> None:
        self._memory[key] = text
        db = self._connect()
        if db is not None:
            try:
                with db:
                    db.execute("INSERT OR REPLACE INTO t VALUES (?, ?)", (key, text))
            except sqlite3.Error:
                pass

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _clean(text: str) -> str:
    """The first line of the model's answer, without quotes or a "Translation:" label; ""
    when it is not English (the model answered in Chinese, or nothing)."""
    line = next((x.strip() for x in text.strip().splitlines() if x.strip()), "")
    if ":" in line[:20] and line.split(":", 1)[0].strip().lower() in ("translation", "english"):
        line = line.split(":", 1)[1].strip()
    line = line.strip("\"'“”‘’ ")
    return line if line and cjk_share(line) < MIN_CJK_SHARE else ""
