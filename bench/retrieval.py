"""Retrieval quality: hit@1/5/10 for Quarry against the plain LangChain tutorial pipeline.

Sets:
  fb-dev       FinanceBench dev: 17 analyst questions over its 15 filings; is a top-k
               passage from the right filing (file) and from the right page (page)?
  fb-all       the same questions over the FinanceBench and sec10q filings together
               (35 filings, 15 companies: more companies and years to confuse)
  sec10q       is a top-k passage from the right filing?
  xquad-en, xquad-zh     is the paragraph holding the answer among the top k? (one file
               per paragraph)
  xquad-zh-en, xquad-en-zh   Chinese questions over the English paragraphs, and the reverse
The baseline is RecursiveCharacterTextSplitter(1000, 200) over the same page texts, the
same embedding model, and FAISS inner-product top-k, built in the same run. Misses
(not in the top 5) are printed with the file and page the first hit landed in.

Indexes are kept under bench/out (Quarry's, and the baseline's vectors keyed by their
texts), so a rerun after a query-side change embeds nothing again.

The LLM named by --model (the bundled default unless told) is loaded for xquad-zh-en, as the
app has it loaded when a question is asked: Quarry translates those questions with it.

With --latency N, the search latency at N chunks follows (bench/query.py: Retriever.search
p50/p95 against raw FAISS on the same questions); only a run on an otherwise idle machine
gives a latency that means anything.

    python bench/retrieval.py [--sets fb-dev,fb-all,sec10q,...] [--limit N] [--misses]
                              [--model default|PATH|''] [--translated-sample N]
                              [--latency 100000]   (--sets '' --latency N: latency alone)
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from _common import EVALSETS, peak_rss_mb, scratch

# One export of the embedding model for every set's data folder (see rag.onnx_embed).
os.environ.setdefault("QUARRY_CACHE_DIR", str(scratch("cache-models")))

KS = (1, 5, 10)


def sec10q() -> tuple[Path, list[tuple[str, list[str]]]]:
    """Questions with the filename globs of the filings that answer them."""
    rows = []
    with open(EVALSETS / "sec10q" / "qna_data.csv", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            globs = [g.strip() for g in row["Source Docs"].split(",") if g.strip()]
            rows.append((row["Question"], globs))
    return EVALSETS / "sec10q" / "docs", rows


def xquad(lang: str, question_lang: str | None = None) -> tuple[Path, list[tuple[str, list[str]]]]:
    """Writes each paragraph to its own file once; the gold 'glob' is that file's name.
    With ``question_lang``, the questions are the parallel ones in that language."""
    folder = scratch(f"xquad-{lang}-docs")
    data = json.loads((EVALSETS / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))
    asked = data
    if question_lang:
        path = EVALSETS / "xquad" / f"xquad.{question_lang}.json"
        asked = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    n = 0
    for article, q_article in zip(data["data"], asked["data"], strict=True):
        for para, q_para in zip(article["paragraphs"], q_article["paragraphs"], strict=True):
            name = f"p{n:03d}.txt"
            path = folder / name
            if not path.exists():
                path.write_text(para["context"], encoding="utf-8")
            rows.extend((qa["question"], [name]) for qa in q_para["qas"])
            n += 1
    return folder, rows


def financebench(with_sec10q: bool = False):
    """FinanceBench dev questions with their gold (file, page) pairs; with ``with_sec10q``
    over a folder holding the sec10q filings too."""
    rows = []
    for line in (EVALSETS / "financebench-dev" / "questions.jsonl").read_text().splitlines():
        if line.strip():
            d = json.loads(line)
            rows.append((d["question"], [(g["file"], g["page"]) for g in d["gold"]]))
    folder = EVALSETS / "financebench-dev" / "docs"
    if with_sec10q:
        both = scratch("fb-all-docs")
        for src in (folder, EVALSETS / "sec10q" / "docs"):
            for f in src.glob("*.pdf"):
                if not (both / f.name).exists():
                    shutil.copyfile(f, both / f.name)
        folder = both
    return folder, rows


def _hits(ranked: list[tuple[str, int | None]], gold, pages: bool, k: int) -> bool:
    if pages:
        return any((f, p) in gold for f, p in ranked[:k])
    names = [g[0] if isinstance(g, tuple) else g for g in gold]
    return any(fnmatch.fnmatch(f, g) for f, _ in ranked[:k] for g in names)


def hit_at(ranked, gold, pages: bool = False) -> dict[int, float]:
    """Share of questions with a gold file (or, with ``pages``, a gold (file, page)) among
    the first k results."""
    return {
        k: sum(_hits(r, g, pages, k) for r, g in zip(ranked, gold, strict=True)) / len(gold)
        for k in KS
    }


def print_misses(name: str, questions, ranked, gold, pages: bool) -> None:
    for q, r, g in zip(questions, ranked, gold, strict=True):
        if _hits(r, g, pages, 5):
            continue
        landed = ", ".join(f"{f} p.{p}" for f, p in r[:3]) or "nothing"
        want = ", ".join(f"{x[0]} p.{x[1]}" if isinstance(x, tuple) else x for x in g)
        print(f"  miss {name}: {' '.join(q.split())[:110]}\n      want {want}; got {landed}")


class EmbeddingCache:
    """Vectors of texts already embedded in an earlier run or set (bench/out/embeddings.sqlite),
    so sets that share filings, and reruns after a query-side change, embed nothing again.
    Only for measuring hit rates: index timings with a warm cache mean nothing."""

    def __init__(self, embed, model_id: str) -> None:
        import sqlite3

        self._embed = embed
        self._model = model_id
        self._db = sqlite3.connect(scratch("cache") / "embeddings.sqlite")
        self._db.execute("CREATE TABLE IF NOT EXISTS v (key TEXT PRIMARY KEY, vec BLOB)")

    def __call__(self, texts: list[str]):
        import numpy as np

        keys = [hashlib.sha1(f"{self._model}\x00{t}".encode()).hexdigest() for t in texts]
        found = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT key, vec FROM v WHERE key IN ({','.join('?' * len(part))})"
            found.update(self._db.execute(q, part).fetchall())
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            new = self._embed([texts[i] for i in todo])
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO v VALUES (?, ?)",
                    [(keys[i], new[j].astype("float32").tobytes()) for j, i in enumerate(todo)],
                )
            for j, i in enumerate(todo):
                found[keys[i]] = new[j].astype("float32").tobytes()
        return np.stack([np.frombuffer(found[k], dtype=np.float32) for k in keys])


def quarry_ranked(
    folder: Path, questions: list[str], name: str, model: str = ""
) -> tuple[list[list], dict]:
    """Quarry's ranked (file, page) lists; with ``model``, that LLM is loaded first, as the
    app has it loaded, so Chinese questions over English files are translated (rag.translate;
    translations are cached in the set's data folder, so a rerun costs no generation)."""
    import os

    from rag.engine import Engine
    from rag.settings import ModelSettings, Settings

    os.environ["QUARRY_DATA_DIR"] = str(scratch(f"data-{name}"))
    settings = Settings(model=ModelSettings(model=model, ctx=2048)) if model else Settings()
    with Engine(settings) as engine:
        emb = engine.embedder
        emb.embed = EmbeddingCache(emb.embed, emb.model_id)
        t = time.perf_counter()
        report = engine.index(folder)
        index_s = time.perf_counter() - t
        if model:
            engine.load_model()
        t = time.perf_counter()
        ranked = [[(h.file, h.page) for h in engine.search(q, k=max(KS))] for q in questions]
        search_s = (time.perf_counter() - t) / len(questions)
        chunks = sum(f.chunks for f in engine.files())
    return ranked, {
        "index_s": index_s,
        "search_ms": search_s * 1000,
        "chunks": chunks,
        "problems": len(report.problems),
    }


def baseline_ranked(folder: Path, questions: list[str], embedder) -> tuple[list[list], dict]:
    import faiss
    import numpy as np
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.loaders import load
    from rag.scan import scan_folder

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    texts, files = [], []
    entries, _ = scan_folder(folder)
    for path, rel in entries:
        for page in load(path).pages:
            for piece in splitter.split_text(page.text):
                texts.append(piece)
                files.append((rel, page.number))
    t = time.perf_counter()
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    cached = scratch("baseline-vectors") / f"{key}.npy"
    if cached.exists():
        vecs = np.load(cached)
    else:
        vecs = embedder.embed(texts)
        np.save(cached, vecs)
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(vecs)
    index_s = time.perf_counter() - t
    q = np.vstack([embedder.embed_query(x) for x in questions]).astype("float32")
    _, ids = index.search(q, max(KS) * 3)
    ranked = []
    for row in ids:
        seen: list[str] = []
        for i in row:
            if i >= 0:
                seen.append(files[i])
        ranked.append(seen[: max(KS)])
    return ranked, {"index_s": index_s, "chunks": len(texts)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--limit", type=int, default=0, help="questions per set (0 = all)")
    ap.add_argument("--misses", action="store_true", help="print every miss at 5")
    ap.add_argument(
        "--no-baseline", action="store_true", help="Quarry only (for iterating; not a result)"
    )
    ap.add_argument(
        "--translated-sample",
        type=int,
        default=0,
        help="questions of the translated sets, spread evenly over the set (0 = all): each "
        "costs one LLM generation the first time",
    )
    ap.add_argument(
        "--model",
        default="default",
        help="LLM loaded for the sets of Chinese questions over English files, which Quarry "
        "translates with it ('' = none: search the Chinese words alone)",
    )
    ap.add_argument(
        "--latency",
        type=int,
        default=0,
        metavar="CHUNKS",
        help="also time searches at this many chunks, as bench/query.py does (0 = no)",
    )
    args = ap.parse_args()

    from rag.embeddings import Embedder

    embedder = Embedder("default")
    embedder.embed = EmbeddingCache(embedder.embed, embedder.model_id)
    print(f"{'set':15} {'system':9} {'hit@1':>6} {'hit@5':>6} {'hit@10':>6}  notes")
    for name in [n for n in args.sets.split(",") if n]:
        folder, rows = SETS[name]()
        if args.limit:
            rows = rows[: args.limit]
        if args.translated_sample and name in TRANSLATED and len(rows) > args.translated_sample:
            step = len(rows) / args.translated_sample
            rows = [rows[int(i * step)] for i in range(args.translated_sample)]
        questions = [q for q, _ in rows]
        gold = [g for _, g in rows]
        ours, info = quarry_ranked(
            folder, questions, name, args.model if name in TRANSLATED else ""
        )
        if args.no_baseline:
            base, binfo = [[] for _ in questions], {"chunks": 0}
        else:
            base, binfo = baseline_ranked(folder, questions, embedder)
        levels = [("file", False)] + ([("page", True)] if name.startswith("fb") else [])
        for level, pages in levels:
            label = f"{name}{' ' + level if len(levels) > 1 else ''}"
            h_ours, h_base = hit_at(ours, gold, pages), hit_at(base, gold, pages)
            print(
                f"{label:15} {'quarry':9} "
                + " ".join(f"{h_ours[k]:6.3f}" for k in KS)
                + f"  {len(rows)} questions, {info['chunks']} chunks, "
                f"search {info['search_ms']:.1f} ms/question"
            )
            print(
                f"{label:15} {'baseline':9} "
                + " ".join(f"{h_base[k]:6.3f}" for k in KS)
                + f"  {binfo['chunks']} chunks"
            )
            print(
                f"{label:15} {'ratio':9} "
                + " ".join(
                    f"{h_ours[k] / h_base[k] if h_base[k] else float('inf'):6.2f}" for k in KS
                )
            )
        if args.misses or name.startswith("fb"):
            print_misses(name, questions, ours, gold, pages=name.startswith("fb"))
    if args.latency:
        import query

        query.run([args.latency], embedder=embedder)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


TRANSLATED = ("xquad-zh-en",)  # Chinese questions over English files: an LLM translates them
SETS = {
    "fb-dev": financebench,
    "fb-all": lambda: financebench(with_sec10q=True),
    "sec10q": sec10q,
    "xquad-en": lambda: xquad("en"),
    "xquad-zh": lambda: xquad("zh"),
    "xquad-zh-en": lambda: xquad("en", question_lang="zh"),
    "xquad-en-zh": lambda: xquad("zh", question_lang="en"),
}


if __name__ == "__main__":
    main()
