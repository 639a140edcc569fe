"""Search latency at 10k and 100k chunks, against raw FAISS on the same queries.

Chunk texts are real: random runs of 3-6 sentences from the XQuAD paragraphs
(English and Chinese) in ../shared/evalsets. Their vectors are random unit
vectors, because embedding 100k chunks here takes longer than the benchmark
should (FAISS and the fusion cost the same either way). Questions are real
XQuAD questions in both languages, embedded by the bundled model inside every
timed search, as a user's question is.

Printed per size: Retriever.search p50/p95 (k=5, query embedding included);
the raw baselines on the same questions: FAISS IndexFlatIP search alone on the
precomputed query vectors, and SentenceTransformer.encode + that FAISS search;
the ratio of search to encode+FAISS; build and reopen times; peak RSS.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/query.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import EVALSETS  # noqa: E402  (also puts the repository on sys.path)

from rag.embeddings import Embedder  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402
from rag.store import IndexStore  # noqa: E402
from rag.types import Chunk  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
CHUNKS_PER_FILE = 50


def load_xquad() -> tuple[list[str], list[str]]:
    sentences, questions = [], []
    for lang in ("en", "zh"):
        data = json.loads((EVALSETS / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))
        for article in data["data"]:
            for p in article["paragraphs"]:
                sentences += [s for s in SENTENCE_END.split(p["context"]) if len(s) > 20]
                questions += [qa["question"] for qa in p["qas"]]
    return sentences, questions


def build(
    directory: Path, size: int, sentences: list[str], dim: int, model_id: str, rng: random.Random
) -> IndexStore:
    store = IndexStore.open(directory, {"embedding_model": model_id, "dim": dim})
    vec_rng = np.random.default_rng(0)
    for f in range(0, size, CHUNKS_PER_FILE):
        rel = f"doc{f // CHUNKS_PER_FILE:05d}.txt"
        n = min(CHUNKS_PER_FILE, size - f)
        chunks, pos = [], 0
        for _ in range(n):
            start = rng.randrange(len(sentences) - 6)
            text = " ".join(sentences[start : start + rng.randint(3, 6)])
            chunks.append(Chunk(rel, 1 + pos // 3000, pos, pos + len(text), text, title=rel))
            pos += len(text)
        v = vec_rng.normal(size=(n, dim)).astype(np.float32)
        store.replace_file(
            rel, str(f), pos, 0, chunks, v / np.linalg.norm(v, axis=1, keepdims=True)
        )
    store.flush()
    return store


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.95 * len(ms)))]


def timed(fn, items) -> tuple[list[float], float]:
    """Wall seconds per item, and mean CPU seconds per item (all threads): on a busy
    machine the CPU time still compares fairly."""
    out = []
    cpu = time.process_time()
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - t)
    return out, (time.process_time() - cpu) / len(items)


class PrecomputedQueries:
    """The embedder's query vectors computed ahead, to time retrieval without the model."""

    def __init__(self, embedder: Embedder, questions: list[str], vectors: np.ndarray) -> None:
        self.english_only = embedder.english_only
        self.vectors = {q.strip(): v for q, v in zip(questions, vectors, strict=True)}

    def embed_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def measure(
    size: int,
    k: int,
    sentences: list[str],
    questions: list[str],
    qvecs: np.ndarray,
    embedder: Embedder,
    rng: random.Random,
) -> None:
    model = embedder.model
    meta = {"embedding_model": embedder.model_id, "dim": embedder.dim}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        store = build(Path(tmp), size, sentences, embedder.dim, embedder.model_id, rng)
        build_s = time.perf_counter() - t
        store.close()
        t = time.perf_counter()
        store = IndexStore.open(Path(tmp), meta)
        reopen_s = time.perf_counter() - t
        retriever = Retriever(store, embedder)
        raw = store.vectors.index  # the same FAISS index, searched directly
        for q in questions[:10]:
            retriever.search(q, k)
        ours, ours_cpu = timed(lambda q: retriever.search(q, k), questions)
        no_model = Retriever(store, PrecomputedQueries(embedder, questions, qvecs))
        fused, fused_cpu = timed(lambda q: no_model.search(q, k), questions)
        faiss_only, faiss_cpu = timed(lambda v: raw.search(v.reshape(1, -1), k), qvecs)
        encode_faiss, encode_cpu = timed(
            lambda q: raw.search(model.encode([q], normalize_embeddings=True), k), questions
        )
        store.close()

    print(f"\n{size:,} chunks (built in {build_s:.1f} s, reopened in {reopen_s:.2f} s)")
    rows = [
        ("Retriever.search", ours, ours_cpu),
        ("  the same, query vector precomputed", fused, fused_cpu),
        ("raw FAISS search alone", faiss_only, faiss_cpu),
        ("raw encode + FAISS search", encode_faiss, encode_cpu),
    ]
    for name, wall, cpu in rows:
        p50, p95 = percentiles(wall)
        print(f"  {name:38s} p50 {p50:8.2f} ms  p95 {p95:8.2f} ms  CPU {cpu * 1000:7.2f} ms")
    p50, e50 = percentiles(ours)[0], percentiles(encode_faiss)[0]
    print(
        f"  ratio Retriever.search / (encode + FAISS): p50 {p50 / e50:.2f}x"
        f", CPU {ours_cpu / encode_cpu:.2f}x;  vs FAISS alone: p50 "
        f"{p50 / percentiles(faiss_only)[0]:.1f}x;  target p50 < 50 ms: "
        f"{'met' if p50 < 50 else 'NOT met'}",
        flush=True,
    )


def run(sizes: list[int], queries: int = 200, k: int = 5, embedder: Embedder | None = None) -> None:
    """Print the latency figures for each size (also called by bench/retrieval.py)."""
    rng = random.Random(0)
    sentences, questions = load_xquad()
    questions = rng.sample(questions, queries)
    embedder = embedder or Embedder()
    model = embedder.model
    qvecs = embedder.embed(questions)
    print(
        f"{len(questions)} questions (English and Chinese), k={k}, "
        f"torch threads={__import__('torch').get_num_threads()}, cores={os.cpu_count()}"
    )
    for q in questions[:10]:  # warm up the model and allocator
        model.encode([q], normalize_embeddings=True)
    for size in sizes:
        measure(size, k, sentences, questions, qvecs, embedder, rng)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args()
    run(args.sizes, args.queries, args.k)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak RSS {rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
