"""Retrieval quality: hit@1/5/10 for Quarry against the plain LangChain tutorial pipeline.

Sets: sec10q (is a top-k passage from the right filing?), XQuAD English and
Chinese (is the paragraph holding the answer among the top k? one file per
paragraph). The baseline is RecursiveCharacterTextSplitter(1000, 200) over the
same page texts, the same embedding model, and FAISS inner-product top-k, built
in the same run.

    python bench/retrieval.py [--sets sec10q,xquad-en,xquad-zh] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import time
from pathlib import Path

from _common import EVALSETS, peak_rss_mb, scratch

KS = (1, 5, 10)


def sec10q() -> tuple[Path, list[tuple[str, list[str]]]]:
    """Questions with the filename globs of the filings that answer them."""
    rows = []
    with open(EVALSETS / "sec10q" / "qna_data.csv", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            globs = [g.strip() for g in row["Source Docs"].split(",") if g.strip()]
            rows.append((row["Question"], globs))
    return EVALSETS / "sec10q" / "docs", rows


def xquad(lang: str) -> tuple[Path, list[tuple[str, list[str]]]]:
    """Writes each paragraph to its own file once; the gold 'glob' is that file's name."""
    folder = scratch(f"xquad-{lang}-docs")
    data = json.loads((EVALSETS / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))
    rows = []
    n = 0
    for article in data["data"]:
        for para in article["paragraphs"]:
            name = f"p{n:03d}.txt"
            path = folder / name
            if not path.exists():
                path.write_text(para["context"], encoding="utf-8")
            rows.extend((qa["question"], [name]) for qa in para["qas"])
            n += 1
    return folder, rows


def hit_at(ranked_files: list[list[str]], gold: list[list[str]]) -> dict[int, float]:
    out = {}
    for k in KS:
        good = sum(
            any(fnmatch.fnmatch(f, g) for f in files[:k] for g in globs)
            for files, globs in zip(ranked_files, gold, strict=True)
        )
        out[k] = good / len(gold)
    return out


def quarry_ranked(folder: Path, questions: list[str], name: str) -> tuple[list[list[str]], dict]:
    import os

    from rag.engine import Engine

    os.environ["QUARRY_DATA_DIR"] = str(scratch(f"data-{name}"))
    with Engine() as engine:
        t = time.perf_counter()
        report = engine.index(folder)
        index_s = time.perf_counter() - t
        t = time.perf_counter()
        ranked = [[h.file for h in engine.search(q, k=max(KS))] for q in questions]
        search_s = (time.perf_counter() - t) / len(questions)
        chunks = sum(f.chunks for f in engine.files())
    return ranked, {
        "index_s": index_s,
        "search_ms": search_s * 1000,
        "chunks": chunks,
        "problems": len(report.problems),
    }


def baseline_ranked(folder: Path, questions: list[str], embedder) -> tuple[list[list[str]], dict]:
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
                files.append(rel)
    t = time.perf_counter()
    vecs = embedder.embed(texts)
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
    ap.add_argument("--sets", default="sec10q,xquad-en,xquad-zh")
    ap.add_argument("--limit", type=int, default=0, help="questions per set (0 = all)")
    args = ap.parse_args()

    from rag.embeddings import Embedder

    embedder = Embedder("default")
    sets = {"sec10q": sec10q, "xquad-en": lambda: xquad("en"), "xquad-zh": lambda: xquad("zh")}
    print(f"{'set':10} {'system':9} {'hit@1':>6} {'hit@5':>6} {'hit@10':>6}  notes")
    for name in args.sets.split(","):
        folder, rows = sets[name]()
        if args.limit:
            rows = rows[: args.limit]
        questions = [q for q, _ in rows]
        gold = [g for _, g in rows]
        ours, info = quarry_ranked(folder, questions, name)
        base, binfo = baseline_ranked(folder, questions, embedder)
        h_ours, h_base = hit_at(ours, gold), hit_at(base, gold)
        print(
            f"{name:10} {'quarry':9} "
            + " ".join(f"{h_ours[k]:6.3f}" for k in KS)
            + f"  {len(rows)} questions, {info['chunks']} chunks, "
            f"search {info['search_ms']:.1f} ms/question"
        )
        print(
            f"{name:10} {'baseline':9} "
            + " ".join(f"{h_base[k]:6.3f}" for k in KS)
            + f"  {binfo['chunks']} chunks"
        )
        print(
            f"{name:10} {'ratio':9} "
            + " ".join(f"{h_ours[k] / h_base[k] if h_base[k] else float('inf'):6.2f}" for k in KS)
        )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
