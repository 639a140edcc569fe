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

from rag import lexical
from rag.embeddings import Embedder
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
MIN_DENSE_WEIGHT = 0.05  # the dense list still breaks ties for a question the model cannot read
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


class Retriever:
    """Searches one :class:`IndexStore` with one :class:`Embedder` (the one it was built with)."""

    def __init__(self, store: IndexStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        # The lexical query runs in SQLite (GIL released) while the question is embedded.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="quarry-lexical")

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
        n = candidate_count(k)
        lexical_future = self._pool.submit(self._lexical, question, n)
        qvec = self.embedder.embed_query(question)
        dense = self.store.dense_search(qvec, n)
        lexical_hits, documents = lexical_future.result()
        candidates = self._candidates(question, qvec, dense, lexical_hits, documents)
        candidates.sort(key=lambda c: c.rrf, reverse=True)
        hits = []
        for c in _distinct(candidates):
            if relevance_floor is not None and c.score < relevance_floor:
                continue
            hits.append(_hit(c))
            if len(hits) == k:
                break
        return hits

    def _lexical(self, question: str, n: int):
        return (
            self.store.lexical_search(question, n),
            self.store.document_search(question, DOC_CANDIDATES),
        )

    def _candidates(
        self,
        question: str,
        qvec: np.ndarray,
        dense: list[tuple[int, float]],
        lexical_hits: list[tuple[int, float]],
        documents: list[tuple[str, float]] = (),
    ) -> list[_Candidate]:
        cjk = lexical.cjk_share(question)
        w = 1.0 - cjk if getattr(self.embedder, "english_only", False) else 1.0
        rrf: dict[int, float] = {}
        cosine = dict(dense)
        for rank, (cid, _) in enumerate(dense, 1):
            rrf[cid] = rrf.get(cid, 0.0) + max(w, MIN_DENSE_WEIGHT) / (RRF_K + rank)
        lex_rank = {}
        for rank, (cid, _) in enumerate(lexical_hits, 1):
            rrf[cid] = rrf.get(cid, 0.0) + 1.0 / (RRF_K + rank)
            lex_rank[cid] = rank
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
        out = []
        for row in rows:
            tokens = frozenset(token_text.get(row.id, "").split())
            covered = sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0
            fused = rrf[row.id] + doc_bonus.get(row.file, 0.0)
            c = _Candidate(row, fused, cosine.get(row.id, 0.0), lex_rank.get(row.id), tokens)
            c.score = relevance(c.cosine, covered, w, cjk)
            out.append(c)
        return out

    def _idf(self, tokens: list[str]) -> dict[str, float]:
        if not tokens:
            return {}
        n = max(self.store.count_chunks(), 1)
        df = self.store.term_document_counts(tokens)
        return {t: math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in tokens}


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


def relevance(
    cosine: float, lexical_coverage: float, dense_weight: float = 1.0, cjk_share: float = 0.0
) -> float:
    """The absolute 0..1 relevance of a passage (see the module docstring)."""
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


def _hit(c: _Candidate) -> Hit:
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
    )
