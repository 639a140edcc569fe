"""The facade the GUI and the CLI call: index a folder, search it, ask it.

Nothing heavy happens in the constructor; the embedding model, the index and the
LLM are opened on first use, so the window can appear at once. ``index`` and
``ask`` may run at the same time on two threads (questions can be asked of what
is already indexed); the store does its own locking and the LLM is used by one
caller at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from rag import paths
from rag.settings import Settings
from rag.types import Answer, FileReport, FileStatus, Hit, IndexProgress, IndexReport, Turn

# 2: pages' headings name their financial statement (rag.statements); 3: "2015年" in running
# Chinese text is no period of the document (rag.profiles), and a Chinese passage that gives
# names in English is read by the multilingual model (rag.ingest.cjk_unreadable).
INDEX_SCHEMA = 3

# The first use of torch/transformers/llama_cpp imports large packages; two threads doing
# that at once can see a partially initialised module (seen with pydantic inside
# transformers). The window indexes and loads a model on two workers, so those first
# uses are serialised here.
_HEAVY_IMPORTS = threading.Lock()


class _ChunkerOnFirstUse:
    """The chunker, made when the first changed file needs it: making it imports
    langchain (about a second), which re-opening an unchanged folder never needs."""

    def __init__(self, make: Callable[[], object]) -> None:
        self._make = make
        self._chunker = None

    def chunk(self, *args, **kwargs):
        if self._chunker is None:
            self._chunker = self._make()
        return self._chunker.chunk(*args, **kwargs)


def _note_partial_index(answer: Answer, ready: int, total: int) -> Answer:
    """Say so when the answer was found while passages were still being embedded: search
    by meaning had not seen every passage yet, so a better one may exist."""
    if ready >= total:
        return answer
    pct = int(100 * ready / total) if total else 0
    note = (
        f"The meaning index is {pct}% built: passages were found by their words and by "
        "meaning among those embedded so far; asking again when it is complete may find more."
    )
    answer.note = f"{answer.note} {note}".strip() if answer.note else note
    return answer


class FolderError(ValueError):
    """The folder to index cannot be used; the message says why in plain words."""


class Engine:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.folder: Path | None = None
        self._store = None
        self._retriever = None
        self._embedder = None
        self._chunker = None
        self._llm = None
        self._ocr_cache = None
        self.rebuild_reason: str = ""  # why the saved index was discarded, if it was
        self._lock = threading.RLock()  # guards opening/closing the parts below
        # One generation at a time; re-entrant, so a search inside an answer may translate
        # its question with the model the answer holds (rag.translate).
        self._llm_lock = threading.RLock()
        self._question_translator = None

    # -- settings ----------------------------------------------------------------
    def update_settings(self, settings: Settings) -> None:
        """Apply new settings; parts whose settings changed are reopened on next use."""
        with self._lock:
            old = self.settings
            self.settings = settings
            if settings.index != old.index:
                self._close_index()
                self._embedder = None
                self._chunker = None
            if settings.model != old.model and self._llm is not None:
                with self._llm_lock:
                    self._llm.close()
                    self._llm = None

    # -- index ---------------------------------------------------------------------
    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from rag.embeddings import Embedder

                s = self.settings.index
                with _HEAVY_IMPORTS:
                    emb = Embedder(
                        s.embedding_model, batch_size=s.batch_size, runtime=s.embedding_runtime
                    )
                    emb.dim  # noqa: B018 - loads the model (and its imports) under the lock
                self._embedder = emb
            return self._embedder

    def _get_chunker(self):
        with self._lock:
            if self._chunker is None:
                from rag.chunking import Chunker

                size, overlap = self._chunk_sizes()
                self._chunker = Chunker(self.embedder.count_tokens, size, overlap)
            return self._chunker

    def _chunk_sizes(self) -> tuple[int, int]:
        """Chunk length kept inside the embedding window (which also holds [CLS] and [SEP]:
        the model silently drops whatever does not fit)."""
        s = self.settings.index
        size = min(s.chunk_tokens, self.embedder.max_tokens - 2)
        return size, min(s.chunk_overlap, size // 2)

    def _index_meta(self) -> dict:
        from rag.multilingual import MODEL_ID

        emb = self.embedder
        size, overlap = self._chunk_sizes()
        return {
            "schema": INDEX_SCHEMA,
            "embedding_model": emb.model_id,
            "dim": emb.dim,
            "chunk_tokens": size,
            "chunk_overlap": overlap,
            "multilingual_model": MODEL_ID,
        }

    def open_folder(self, folder: Path) -> None:
        """Open the saved index of ``folder`` (creating an empty one); does not index.

        Raises FolderError for a folder that cannot be used and
        rag.store.IndexStoreError (one sentence) for an index that cannot be opened.
        """
        folder = Path(folder).expanduser()
        if not folder.exists():
            raise FolderError(f"The folder {folder} does not exist.")
        if not folder.is_dir():
            raise FolderError(f"{folder} is a file, not a folder.")
        folder = folder.resolve()
        with self._lock:
            if self.folder == folder and self._store is not None:
                return
            self._close_index()
            self._open_index(folder)

    def _open_index(self, folder: Path, rebuild: str = "") -> None:
        from rag.retrieve import Retriever
        from rag.store import IndexStore

        store = IndexStore.open(
            paths.index_dir_for(folder),
            self._index_meta(),
            vector_index=self.settings.index.vector_index,
            rebuild=bool(rebuild),
        )
        self.rebuild_reason = rebuild or store.rebuild_reason
        self._store = store
        self._retriever = Retriever(store, self.embedder, self._translator())
        self.folder = folder

    def _rebuild_damaged(self, exc: Exception) -> None:
        """Start the open folder's index afresh after damage was found in it."""
        with self._lock:
            folder = self.folder
            self._close_index()
            self._open_index(folder, rebuild=f"the index was damaged ({exc})")

    def index(
        self,
        folder: Path | None = None,
        on_progress: Callable[[int, int, IndexProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IndexReport:
        """Bring the folder's index up to date; unchanged files cost nothing.

        Two phases (see :mod:`rag.ingest`): every file is read and searchable by its
        words first, then passages are embedded while search and ask already work;
        ``on_progress`` reports both. Either phase resumes where a stop left it.

        One process updates an index at a time: while another does, this one waits
        (progress stage "waiting"). A read-only index is left as it is and the report's
        ``note`` says so. Damage found while indexing rebuilds the index once.
        """
        from rag.store import IndexDamagedError, IndexReadOnlyError

        if folder is not None:
            self.open_folder(folder)
        if self.folder is None:
            raise FolderError("No folder is open.")
        try:
            return self._index_once(on_progress, should_stop)
        except IndexReadOnlyError as exc:
            files = [
                FileReport(r.path, FileStatus.UNCHANGED, r.reason, r.chunks)
                if r.status is FileStatus.INDEXED
                else FileReport(r.path, r.status, r.reason, r.chunks)
                for r in self._store.all_files()
            ]
            return IndexReport(folder=str(self.folder), files=files, note=str(exc))
        except IndexDamagedError as exc:
            self._rebuild_damaged(exc)
            return self._index_once(on_progress, should_stop)

    def _index_once(self, on_progress, should_stop) -> IndexReport:
        from rag.ingest import index_folder

        store = self._store

        def waiting() -> None:
            if on_progress is not None:
                on_progress(0, 0, IndexProgress("", 0, 0.0, "waiting"))

        with store.writing(on_wait=waiting, should_stop=should_stop) as got:
            if not got:
                return IndexReport(folder=str(self.folder), cancelled=True)
            return index_folder(
                self.folder,
                store,
                self.embedder,
                _ChunkerOnFirstUse(self._get_chunker),
                on_progress=on_progress,
                should_stop=should_stop,
                load_options=self._load_options(),
            )

    # -- OCR ---------------------------------------------------------------------
    @property
    def ocr_cache(self):
        """What OCR read, by content hash: shared by every folder, so a file is read once."""
        with self._lock:
            if self._ocr_cache is None:
                from rag.ocr import OcrCache

                self._ocr_cache = OcrCache(paths.data_dir() / "ocr-cache.sqlite")
            return self._ocr_cache

    def _load_options(self):
        from rag.loaders import LoadOptions

        return LoadOptions(ocr=self.settings.index.ocr, cache=self.ocr_cache)

    def _ocr_page(self, file: str, page: int | None):
        """The OCR result behind ``file``'s ``page``, or None where the text had a text layer.

        ``file`` is relative to the open folder, or absolute (sources asked across
        libraries, and the window, name files so); the content hash comes from the
        open index, or from the file itself when another library holds it.
        """
        path, store, digest = Path(file), self._store, ""
        if store is not None and self.folder is not None:
            inside = not path.is_absolute() or path.is_relative_to(self.folder)
            if inside:
                rel = path.relative_to(self.folder).as_posix() if path.is_absolute() else file
                rec = store.file_record(rel)
                digest = rec.hash if rec is not None else ""
        if not digest and path.is_absolute() and path.is_file():
            from rag.scan import content_hash  # a file of another library: hash it

            try:
                digest = content_hash(path)
            except OSError:
                return None
        return self.ocr_cache.get(digest, page or 1) if digest else None

    def _mark_ocr(self, items: list) -> list:
        """Hits or sources with ``ocr`` and the recogniser's confidence where OCR read them."""
        import dataclasses

        pages: dict[tuple[str, int | None], object] = {}
        out = []
        for item in items:
            key = (item.file, item.page)
            if key not in pages:
                pages[key] = self._ocr_page(item.file, item.page)
            ocr = pages[key]
            if ocr is not None:
                conf = ocr.confidence(item.start, item.end)  # type: ignore[attr-defined]
                item = dataclasses.replace(item, ocr=True, ocr_confidence=conf)
            out.append(item)
        return out

    def passage_boxes(
        self, file: str, page: int | None, start: int, end: int
    ) -> list[tuple[float, float, float, float]]:
        """Boxes (x0, y0, x1, y1; PDF points or image pixels, from the top left) around
        text[start:end] of an OCR'd page, for highlighting on the page image; [] where
        the page has a text layer (the viewer finds those passages itself)."""
        ocr = self._ocr_page(file, page)
        return ocr.boxes(start, end) if ocr is not None else []

    def meaning_index(self) -> tuple[int, int]:
        """(passages with a vector or none needed, all passages): how complete the dense
        side of search is. Equal when the folder is fully indexed."""
        store = self._store
        if store is None:
            return (0, 0)
        total = store.count_chunks()
        return (total - store.count_pending(), total)

    def close_folder(self) -> None:
        """Close the open folder's index (before its library is removed, say)."""
        with self._lock:
            self._close_index()

    def outline(self, limit: int = 200) -> list[tuple[str, str, str]]:
        """(file, title, heading) of the open folder's passages, a few per document: what
        the window suggests first questions from, without the model."""
        if self._store is None:
            return []
        return self._store.outline(limit)

    def files(self) -> list[FileReport]:
        """Every file the open folder's index knows about, with its status and what it is."""
        if self._store is None:
            return []
        from rag.profiles import Profile

        lines = {path: Profile.from_json(d).line() for path, d in self._store.profiles().items()}
        return [
            FileReport(r.path, r.status, r.reason, r.chunks, lines.get(r.path, ""))
            for r in self._store.all_files()
        ]

    def profiles(self) -> dict[str, dict]:
        """Each indexed file's document profile (title, organisations, periods, kind,
        language; see rag.profiles), as JSON by path."""
        if self._store is None:
            return {}
        return self._store.profiles()

    def search(
        self, question: str, k: int | None = None, folders: Sequence[Path] | None = None
    ) -> list[Hit]:
        """The best passages of the open folder, or of every folder in ``folders`` (named as
        in ``ask``: relative to the one folder, or by absolute path across several).

        Damage found in the open folder's index empties it (so the next ``index``
        rebuilds it) and raises rag.store.IndexDamagedError: never a loop of the same
        failure."""
        from rag.store import IndexDamagedError

        k = k or self.settings.retrieval.k
        if folders is not None:
            across = self._across(folders)
            try:
                return self._mark_ocr(across.search(question, k))
            finally:
                across.close()
        if self._retriever is None:
            raise FolderError("No folder is open.")
        try:
            hits = self._retriever.search(question, k)
        except IndexDamagedError as exc:
            self._rebuild_damaged(exc)
            raise
        return self._mark_ocr(hits)

    def source_text(self, file: str, page: int | None) -> str:
        """The text that a Source's start/end offsets index into (for highlighting)."""
        from rag.loaders import load

        doc = load(self.absolute_path(file), self._load_options())
        if page is not None:
            for p in doc.pages:
                if p.number == page:
                    return p.text
            return ""
        return "".join(p.text for p in doc.pages)

    def absolute_path(self, file: str) -> Path:
        """The file on disk for a ``file`` as the index shows it (names that are not UTF-8
        are shown with ``\\xNN`` escapes; this turns them back)."""
        from rag.scan import fs_name

        if Path(file).is_absolute():  # a source found by asking across several folders
            return Path(fs_name(file))
        if self.folder is None:
            raise FolderError("No folder is open.")
        return self.folder / fs_name(file)

    # -- answers -------------------------------------------------------------------
    @property
    def model_info(self):
        return self._llm.info if self._llm is not None else None

    @property
    def device(self) -> str:
        if self._llm is not None:
            return self._llm.device
        import models

        return models.describe_device(self.settings.model.request())

    def available_models(self):
        with _HEAVY_IMPORTS:
            import models

            return models.available_models(self.settings.model.request())

    def load_model(self, spec: str | None = None, on_progress=None):
        """Load (or replace) the LLM with the backend the model settings select; raises
        models.ModelError with a message for a person."""
        import dataclasses

        import models

        m = self.settings.model
        if spec is not None and spec != m.model:
            m = dataclasses.replace(m, model=spec)
            self.settings = dataclasses.replace(self.settings, model=m)
        with self._llm_lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
            with _HEAVY_IMPORTS:
                self._llm = models.load(m.request(), on_progress=on_progress)
            return self._llm.info

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        decoding=None,
        on_token: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        folders: Sequence[Path] | None = None,
    ) -> Answer:
        """Answer from the open folder, or from the folders in ``folders`` (a folder that is
        not the open one is opened for this question and closed after it). With one
        folder, sources name files relative to it; with several, by absolute path
        (which ``absolute_path`` accepts)."""
        from rag.asking import answer_question
        from rag.store import IndexDamagedError

        across = self._across(folders) if folders is not None else None
        retriever = across if across is not None else self._retriever
        if retriever is None:
            raise FolderError("No folder is open.")
        try:
            if self._llm is None:
                self.load_model()
            # Taken before the LLM lock: update_settings holds the engine lock while it waits
            # for the LLM lock, so asking for the embedder under the LLM lock could deadlock.
            embedder = self.embedder
            r = self.settings.retrieval
            with self._llm_lock:
                answer = answer_question(
                    question,
                    history,
                    retriever=retriever,
                    llm=self._llm,
                    embedder=embedder,
                    k=r.k,
                    relevance_floor=r.relevance_floor,
                    decoding=decoding or self.settings.decoding,
                    on_token=on_token,
                    should_stop=should_stop,
                )
            answer.sources = self._mark_ocr(answer.sources)
        except IndexDamagedError as exc:
            if folders is None:
                self._rebuild_damaged(exc)
            raise
        finally:
            if across is not None:
                across.close()
        return _note_partial_index(answer, *self.meaning_index())

    def _across(self, folders: Sequence[Path]) -> _Across:
        from rag.retrieve import Retriever
        from rag.store import IndexStore

        parts: list[tuple[Path, object, object]] = []  # folder, retriever, store to close
        try:
            with self._lock:
                for folder in folders:
                    folder = Path(folder).resolve()
                    if folder == self.folder and self._retriever is not None:
                        parts.append((folder, self._retriever, None))
                    elif folder.is_dir():
                        store = IndexStore.open(
                            paths.index_dir_for(folder),
                            self._index_meta(),
                            vector_index=self.settings.index.vector_index,
                        )
                        parts.append(
                            (folder, Retriever(store, self.embedder, self._translator()), store)
                        )
        except BaseException:
            _Across(parts).close()
            raise
        if not parts:
            raise FolderError("None of the libraries' folders can be opened.")
        return _Across(parts)

    def _translator(self):
        """The translator of CJK questions (rag.translate), shared by every retriever; None
        when the retrieval settings turn translation off."""
        if not self.settings.retrieval.translate_questions:
            return None
        with self._lock:
            if self._question_translator is None:
                from rag.translate import QuestionTranslator

                self._question_translator = QuestionTranslator(
                    self._with_free_model, paths.data_dir() / "translations.sqlite"
                )
            return self._question_translator

    def _with_free_model(self, work):
        """``work(llm)`` with the loaded model, unless none is loaded or another thread is
        generating with it (a search then goes on without it): None in those cases."""
        if self._llm is None or not self._llm_lock.acquire(blocking=False):
            return None
        try:
            return work(self._llm) if self._llm is not None else None
        finally:
            self._llm_lock.release()

    # -- lifetime ------------------------------------------------------------------
    def _close_index(self) -> None:
        if self._retriever is not None:
            self._retriever.close()
        if self._store is not None:
            self._store.close()
        self._store = None
        self._retriever = None
        self.folder = None

    def close(self) -> None:
        with self._lock:
            self._close_index()
            if self._llm is not None:
                self._llm.close()
                self._llm = None
            if self._ocr_cache is not None:
                self._ocr_cache.close()
            if self._question_translator is not None:
                self._question_translator.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Across:
    """Several folders' retrievers searched as one: hits merged by score. With more than
    one folder each hit names its file by absolute path, and ids stay unique."""

    ID_STRIDE = 1 << 40

    def __init__(self, parts: list[tuple[Path, object, object]]) -> None:
        self.parts = parts

    def search(self, question: str, k: int, relevance_floor: float | None = None) -> list[Hit]:
        import dataclasses

        several = len(self.parts) > 1
        hits: list[Hit] = []
        for n, (folder, retriever, _store) in enumerate(self.parts):
            for h in retriever.search(question, k=k, relevance_floor=relevance_floor):
                if several:
                    h = dataclasses.replace(
                        h, file=str(folder / h.file), chunk_id=n * self.ID_STRIDE + h.chunk_id
                    )
                hits.append(h)
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def close(self) -> None:
        """Close what was opened for this question (never the engine's own index)."""
        for _folder, retriever, store in self.parts:
            if store is not None:
                retriever.close()
                store.close()
