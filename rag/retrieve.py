"""Hybrid retrieval: dense and lexical candidates, fused, de-duplicated and scored.

Ranking uses reciprocal-rank fusion (RRF) of the dense (cosine) and lexical
(BM25) result lists: it needs no calibration between the two kinds of score and
lets the lexical side carry questions the English-only embedding model cannot
read (Chinese, exact numbers and names).

The ``score`` on every hit is an absolute relevance in 0..1, so a floor can say
"not found in your documents". It combines two pieces of evidence, each 0..1:

* dense: the cosine similarity mapped linearly from ``COS_NONE`` (typical of
  unrelated text for sentence-transformers models; 0) to ``COS_FULL``
  (a passage that answers the question; 1), clipped;
* lexical: the share of the question's informative tokens found in the
  passage, weighted by inverse document frequency (a rare term counts more; a
  question term that occurs nowhere in the folder counts fully as missing);
  for CJK text, where many question bigrams cross word borders, a share of
  ``CJK_LEXICAL_FULL`` already counts as full evidence;

and joins them as a noisy-or, ``1 - (1 - w * dense) * (1 - lexical)``: either
kind of strong evidence makes a hit relevant, and weak evidence of both adds up.

``w`` is how far the embedding model can read the question: 1, except for an
English-only model (the bundled one), where it is the share of the question's
letters that are not CJK. A Chinese question then ranks and scores by the lexical
index alone (with the dense list as a faint tie-breaker), instead of by the
cosine noise an English model gives Chinese text.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from rag import lexical, multilingual, statements
from rag.embeddings import Embedder
from rag.profiles import Profile, ProfileIndex, document_prior
from rag.store import IndexStore, StoredChunk
from rag.types import Hit

RRF_K = 60  # the usual constant of reciprocal-rank fusion
COS_NONE = 0.2
COS_FULL = 0.7
# A Chinese question's bigrams include many that cross word borders ("京的") and occur
# in no passage, so covering half its weight is already full lexical evidence.
CJK_LEXICAL_FULL = 0.5
# Documents ranked by their whole text (BM25) lift their passages in the fusion: a
# passage from the file a question is about (by name, company, period) rises above a
# like passage from another file. Measured on sec10q: hit@5 0.69 -> 0.87 (bench/retrieval.py).
DOC_WEIGHT = 1.0
DOC_CANDIDATES = 10
# Documents whose profile fits the question (organisation, period, kind: rag.profiles) lift
# their passages like the whole-document ranking does, and the few that fit best are also
# searched on their own, so their passages are candidates even in a large folder.
PROFILE_WEIGHT = 2.0
FOCUS_SHARE = 0.75  # of the best prior, for a document to be searched on its own
FOCUS_MAX = 6  # more fitting documents than this: the question is too broad to focus
# A question that names a financial statement ("using the cash flow statement, ...") also
# searches the pages that are that statement (rag.statements) in the documents it is about:
# those pages are line items and numbers, far from the question's words and meaning.
STATEMENT_WEIGHT = 2.0
STATEMENT_FILES = 3  # top documents searched this way when the question names no document
MIXED_SPACES_WEIGHT = 1.0  # see _candidates: folders with multilingual vectors
# The multilingual space's cosine also joins the fusion by its value, not only its rank: for
# multilingual-e5 the passage that answers often stands apart by its cosine (0.90 against its
# neighbours' 0.87) where a first and a third place count almost alike in RRF, so the space
# decides the close calls between passages the lexical index ranks alike. Measured on XQuAD
# zh (bench/retrieval.py): hit@1 0.942 -> 0.955; English questions over Chinese paragraphs
# 0.645 -> 0.689. The main model's cosine does the same for XQuAD en but costs sec10q.
ML_COSINE_WEIGHT = 2.0
# The passages that lead the fusion are also compared with the question's own wording
# (rag.lexical.phrase_share): a passage that writes the question's phrases as it does rises
# above a neighbouring one that shares its words in other places. Three Chinese characters
# are a word or two, three Latin letters a piece of one word, so a CJK question's runs weigh
# more (by its share of CJK letters). Measured with bench/retrieval.py: XQuAD en hit@1
# 0.946 -> 0.951, XQuAD zh 0.955 -> 0.960 (1142 of 1190); FinanceBench over all filings
# page hit@1 0.588 -> 0.647; sec10q, the cross-language sets and the other FinanceBench
# figures no lower (larger Latin weights cost sec10q hit@1).
PHRASE_WEIGHT = 0.5
PHRASE_WEIGHT_CJK = 2.0
PHRASE_CANDIDATES = 20  # leading candidates compared (it decides close calls at the top)
MIN_DENSE_WEIGHT = 0.05  # the dense list still breaks ties for a question the model cannot read
CJK_LANGUAGES = ("zh", "ja", "ko")  # profile languages the translation is not needed for
DUPLICATE_JACCARD = 0.9  # token-set similarity above which two passages say the same thing


def candidate_count(k: int) -> int:
    """How many results to take from each side before fusing: enough that a passage
    ranked modestly by both sides still surfaces."""
    return max(50, 5 * k)


@dataclass
class _Candidate:
    chunk: StoredChunk
    rrf: float
    cosine: float
    lexical_rank: int | None
    tokens: frozenset[str]
    score: float = 0.0
    ml_cosine: float | None = None  # in the multilingual space, for chunks that have one


class Retriever:
    """Searches one :class:`IndexStore` with one :class:`Embedder` (the one it was built with)."""

    def __init__(self, store: IndexStore, embedder: Embedder, translator=None) -> None:
        self.store = store
        self.embedder = embedder
        # rag.translate.QuestionTranslator, or None: a CJK question over a folder with
        # documents in other languages is also searched in English.
        self.translator = translator
        # The lexical query runs in SQLite (GIL released) while the question is embedded.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="quarry-lexical")
        self._profiles: tuple[int, dict[str, Profile]] = (-1, {})
        self._profile_index = ProfileIndex({})
        self._multilingual: tuple[int, bool] = (-1, False)
        self._focus_ids: dict[tuple[int, tuple[str, ...]], list[int]] = {}

    def profiles(self) -> dict[str, Profile]:
        """The folder's document profiles, read again only when the index changed."""
        generation = self.store.generation
        if self._profiles[0] != generation:
            loaded = {path: Profile.from_json(d) for path, d in self.store.profiles().items()}
            self._profiles = (generation, loaded)
            self._profile_index = ProfileIndex(loaded)
            self._focus_ids.clear()
        return self._profiles[1]

    def _has_multilingual(self) -> bool:
        generation = self.store.generation
        if self._multilingual[0] != generation:
            has = self.store.has_multilingual() and multilingual.shared() is not None
            self._multilingual = (generation, has)
        return self._multilingual[1]

    def _chunk_ids_of(self, files: tuple[str, ...]) -> list[int]:
        key = (self._profiles[0], files)
        if key not in self._focus_ids:
            if len(self._focus_ids) > 64:
                self._focus_ids.clear()
            self._focus_ids[key] = self.store.chunk_ids_of(files)
        return self._focus_ids[key]

    def close(self) -> None:
        """Stop the helper thread (the store and embedder stay open: they are the caller's)."""
        self._pool.shutdown(wait=True)

    def search(self, question: str, k: int, relevance_floor: float | None = None) -> list[Hit]:
        """The ``k`` best distinct passages for ``question``, best first.

        With ``relevance_floor``, hits whose score is below it are left out (so
        fewer than ``k``, or none, may come back).
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        question = question.strip()
        if not question:
            return []
        profiles = self.profiles()
        candidates = self._ranked(question, candidate_count(k), profiles)
        english = self._english(question, profiles)
        if english:
            candidates = _joined(candidates, self._ranked(english, candidate_count(k), profiles))
        # Equal fused scores (each passage first in one list, say) are decided by the
        # absolute relevance, not by the order the candidates were read in.
        candidates.sort(key=lambda c: (c.rrf, c.score), reverse=True)
        hits = []
        for c in _distinct(candidates):
            if relevance_floor is not None and c.score < relevance_floor:
                continue
            p = profiles.get(c.chunk.file)
            hits.append(_hit(c, p.to_json() if p else None))
            if len(hits) == k:
                break
        return hits

    def _ranked(self, question: str, n: int, profiles: dict[str, Profile]) -> list[_Candidate]:
        """The fused candidates for one wording of the question."""
        prior = document_prior(question, profiles, self._profile_index).prior
        focus = _focus(prior, len(profiles))
        lexical_future = self._pool.submit(self._lexical, question, n, focus)
        qvec = self.embedder.embed_query(question)
        dense = [self.store.dense_search(qvec, n)]
        if focus:
            dense.append(self.store.dense_search(qvec, n, within=self._chunk_ids_of(focus)))
        ml = []
        if self._has_multilingual():
            mvec = multilingual.shared().embed_query(question)
            ml = self.store.multilingual_search(mvec, n)
        lexical_hits, documents = lexical_future.result()
        sheets = self._statement_pages(question, qvec, n, focus, documents)
        return self._candidates(question, qvec, dense, lexical_hits, documents, prior, ml, sheets)

    def _english(self, question: str, profiles: dict[str, Profile]) -> str | None:
        """The question in English when it is in Chinese (or another CJK language) and the
        folder holds documents in other languages, a model is loaded to translate it, and
        the main embedding model reads English only; else None."""
        t = self.translator
        if t is None or not t.wanted(question):
            return None
        if not any(p.language and p.language not in CJK_LANGUAGES for p in profiles.values()):
            return None
        return t.english(question)

    def _statement_pages(
        self, question: str, qvec: np.ndarray, n: int, focus: tuple[str, ...], documents
    ) -> list[tuple[int, float]]:
        """The chunks of the statement pages a question names, in the documents it is about
        (or the few that match it best), ranked by meaning."""
        kinds = statements.question_kinds(question)
        files = focus or tuple(path for path, _ in documents[:STATEMENT_FILES])
        if not kinds or not files:
            return []
        ids = self.store.chunk_ids_headed(files, [statements.tag(k) for k in sorted(kinds)])
        return self.store.dense_search(qvec, n, within=ids) if ids else []

    def _lexical(self, question: str, n: int, focus: tuple[str, ...] = ()):
        lists = [self.store.lexical_search(question, n)]
        if focus:
            lists.append(self.store.lexical_search(question, n, within=focus))
        return lists, self.store.document_search(question, DOC_CANDIDATES)

    def _candidates(
        self,
        question: str,
        qvec: np.ndarray,
        dense: list[list[tuple[int, float]]],
        lexical_hits: list[list[tuple[int, float]]],
        documents: list[tuple[str, float]] = (),
        prior: dict[str, float] | None = None,
        ml: list[tuple[int, float]] = (),
        sheets: list[tuple[int, float]] = (),
    ) -> list[_Candidate]:
        """Fuse the ranked lists (the whole folder's, and the focused documents' when the
        question fits a few; the multilingual space's for passages in CJK) with the
        document-level evidence."""
        cjk = lexical.cjk_share(question)
        w = 1.0 - cjk if getattr(self.embedder, "english_only", False) else 1.0
        rrf: dict[int, float] = {}
        cosine: dict[int, float] = {}
        # Passages with a multilingual vector are in a script the main model cannot read:
        # the multilingual space ranks them instead of the main model's noise.
        ml_ids = self.store.multilingual_ids() if ml else frozenset()
        for ranked in dense:
            cosine.update(ranked)
            ranked = [(cid, s) for cid, s in ranked if cid not in ml_ids]
            for rank, (cid, _) in enumerate(ranked, 1):
                rrf[cid] = rrf.get(cid, 0.0) + max(w, MIN_DENSE_WEIGHT) / (RRF_K + rank)
        cosine.update(sheets)
        for rank, (cid, _) in enumerate(sheets, 1):
            rrf[cid] = rrf.get(cid, 0.0) + STATEMENT_WEIGHT * max(w, MIN_DENSE_WEIGHT) / (
                RRF_K + rank
            )
        ml_cosine = dict(ml)
        for rank, (cid, _) in enumerate(ml, 1):
            rrf[cid] = rrf.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        lex_rank: dict[int, int] = {}
        for ranked in lexical_hits:
            for rank, (cid, _) in enumerate(ranked, 1):
                rrf[cid] = rrf.get(cid, 0.0) + 1.0 / (RRF_K + rank)
                lex_rank[cid] = min(rank, lex_rank.get(cid, rank))
        if not rrf:
            return []
        missing = [cid for cid in rrf if cid not in cosine]
        rows = self.store.chunks(rrf)
        if missing:
            for row in self.store.chunks(missing, with_vectors=True):
                if row.vector is not None:  # None: not embedded (yet); found by its words
                    cosine[row.id] = float(np.dot(row.vector, qvec))
        token_text = self.store.lexical_tokens(rrf)
        weights = self._idf(lexical.query_tokens(question))
        total = sum(weights.values())
        doc_bonus = document_bonus(documents)
        prior = prior or {}
        out = []
        for row in rows:
            tokens = frozenset(token_text.get(row.id, "").split())
            covered = sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0
            fused = rrf[row.id] + doc_bonus.get(row.file, 0.0)
            fused += PROFILE_WEIGHT / (RRF_K + 1) * prior.get(row.file, 0.0)
            c = _Candidate(row, fused, cosine.get(row.id, 0.0), lex_rank.get(row.id), tokens)
            c.ml_cosine = ml_cosine.get(row.id)
            c.score = relevance(c.cosine, covered, w, cjk, c.ml_cosine)
            if ml:
                # Two vector spaces rank different passages; a first place in each is not
                # worth the same, so the absolute relevance joins the fusion.
                c.rrf += MIXED_SPACES_WEIGHT / (RRF_K + 1) * c.score
            if c.ml_cosine is not None:
                c.rrf += ML_COSINE_WEIGHT / (RRF_K + 1) * _ml_closeness(c.ml_cosine)
            out.append(c)
        grams = lexical.phrase_grams(question)
        phrase = PHRASE_WEIGHT + (PHRASE_WEIGHT_CJK - PHRASE_WEIGHT) * cjk
        for c in sorted(out, key=lambda c: c.rrf, reverse=True)[:PHRASE_CANDIDATES]:
            # Runs of one script are only found in a passage of that script: an English
            # question's letters in a Chinese passage are a stray name, not its phrase.
            same_script = 1.0 - abs(cjk - lexical.cjk_share(c.chunk.text))
            share = lexical.phrase_share(grams, c.chunk.text)
            c.rrf += phrase * same_script / (RRF_K + 1) * share
        return out

    def _idf(self, tokens: list[str]) -> dict[str, float]:
        if not tokens:
            return {}
        n = max(self.store.count_chunks(), 1)
        df = self.store.term_document_counts(tokens)
        return {t: math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in tokens}


def _joined(a: list[_Candidate], b: list[_Candidate]) -> list[_Candidate]:
    """Candidates of two wordings of one question (the question and its translation): a
    passage found by both adds up its fused evidence and keeps the better relevance."""
    by_id = {c.chunk.id: c for c in a}
    for c in b:
        mine = by_id.get(c.chunk.id)
        if mine is None:
            by_id[c.chunk.id] = c
            continue
        best = mine if mine.score >= c.score else c
        best.rrf = mine.rrf + c.rrf
        by_id[c.chunk.id] = best
    return list(by_id.values())


def _focus(prior: dict[str, float], n_files: int) -> tuple[str, ...]:
    """The documents a question plainly points at (best prior, a few of them), or ()."""
    if not prior:
        return ()
    best = max(prior.values())
    chosen = sorted(path for path, p in prior.items() if p >= FOCUS_SHARE * best)
    if len(chosen) > FOCUS_MAX or len(chosen) >= n_files:
        return ()
    return tuple(chosen)


def document_bonus(documents: list[tuple[str, float]]) -> dict[str, float]:
    """What each top document adds to its passages' fused score.

    Proportional to how far the document's BM25 stands above the weakest of the
    top documents, so files that match the question about equally (a generic
    question) get about the same lift, and the best adds what a first place in one
    ranked list adds.
    """
    if len(documents) < 2:
        return {}
    best, floor = documents[0][1], documents[-1][1]
    if best <= floor:
        return {}
    return {
        path: DOC_WEIGHT / (RRF_K + 1) * (score - floor) / (best - floor)
        for path, score in documents
    }


def _ml_closeness(cosine: float) -> float:
    """A multilingual cosine on the scale of rag.multilingual (0 for unrelated text, 1 for a
    passage that answers), not clipped above: how far past "answers" it stands counts."""
    span = multilingual.COS_FULL - multilingual.COS_NONE
    return max(0.0, (cosine - multilingual.COS_NONE) / span)


def relevance(
    cosine: float,
    lexical_coverage: float,
    dense_weight: float = 1.0,
    cjk_share: float = 0.0,
    ml_cosine: float | None = None,
) -> float:
    """The absolute 0..1 relevance of a passage (see the module docstring); a passage with
    a multilingual vector (in a script the main model cannot read) takes its dense
    evidence from the multilingual space alone."""
    if ml_cosine is not None:
        span = multilingual.COS_FULL - multilingual.COS_NONE
        dense = min(1.0, max(0.0, (ml_cosine - multilingual.COS_NONE) / span))
    else:
        dense = min(1.0, max(0.0, (cosine - COS_NONE) / (COS_FULL - COS_NONE))) * dense_weight
    full = 1.0 - (1.0 - CJK_LEXICAL_FULL) * cjk_share
    lex = min(1.0, max(0.0, lexical_coverage / full))
    return 1.0 - (1.0 - dense) * (1.0 - lex)


_SPACE = re.compile(r"\s+")


def _distinct(ranked: list[_Candidate]):
    """``ranked`` without passages that repeat a better one: an overlapping range of the
    same file and page, or (nearly) the same text anywhere."""
    kept: list[_Candidate] = []
    for c in ranked:
        if any(_duplicates(c, k) for k in kept):
            continue
        kept.append(c)
        yield c


def _duplicates(a: _Candidate, b: _Candidate) -> bool:
    x, y = a.chunk, b.chunk
    if x.file == y.file and x.page == y.page and x.start < y.end and y.start < x.end:
        return True
    if _SPACE.sub(" ", x.text).strip().lower() == _SPACE.sub(" ", y.text).strip().lower():
        return True
    if not a.tokens or not b.tokens:
        return False
    shared = len(a.tokens & b.tokens)
    return shared / (len(a.tokens) + len(b.tokens) - shared) >= DUPLICATE_JACCARD


def _hit(c: _Candidate, profile: dict | None = None) -> Hit:
    ch = c.chunk
    return Hit(
        chunk_id=ch.id,
        file=ch.file,
        page=ch.page,
        start=ch.start,
        end=ch.end,
        text=ch.text,
        score=round(c.score, 4),
        title=ch.title,
        heading=ch.heading,
        dense_score=round(c.cosine, 4),
        lexical_rank=c.lexical_rank,
        profile=profile,
    )
