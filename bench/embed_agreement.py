"""Does the int8 embedding runtime keep retrieval as it was? hit@k with each runtime.

Indexes each set twice, once with the float model (sentence-transformers on
torch) and once with the int8 export on onnxruntime, searches the same
questions through the whole of Quarry's retrieval, and prints hit@1/5/10 of each
and the change, with the vectors' cosine agreement on the same passages. The
target is a change of at most 0.01 in hit@1 and hit@5.

    python bench/embed_agreement.py [--sets sec10q,xquad-en,xquad-zh] [--limit N]

The float index is kept between runs (set QUARRY_AGREE_FRESH=1 to build it afresh).
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import replace

import numpy as np
from _common import scratch
from retrieval import KS, hit_at, sec10q, xquad


def ranked_with(runtime: str, name: str, folder, questions):
    from rag.engine import Engine
    from rag.settings import Settings

    data = scratch(f"agree-{name}-{runtime}")
    if runtime != "torch" or os.environ.get("QUARRY_AGREE_FRESH"):
        # The float index does not change with the int8 recipe: an earlier run's is reused
        # (and finished, if it was stopped); a changed chunker or model rebuilds it anyway.
        shutil.rmtree(data)
    os.environ["QUARRY_DATA_DIR"] = str(data)
    s = Settings()
    settings = replace(s, index=replace(s.index, embedding_runtime=runtime))
    with Engine(settings) as engine:
        engine.index(folder)
        assert engine.embedder.runtime == runtime
        ranked = [[(h.file, h.page) for h in engine.search(q, k=max(KS))] for q in questions]
        store = engine._store
        rows = store.chunks(range(1, 2 * store.count_chunks() + 1), with_vectors=True)
        vectors = {(r.file, r.start, r.text): r.vector for r in rows if r.vector is not None}
    return ranked, vectors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="sec10q,xquad-en,xquad-zh")
    ap.add_argument("--limit", type=int, default=0, help="questions per set (0 = all)")
    args = ap.parse_args()
    os.environ.setdefault("QUARRY_CACHE_DIR", str(scratch("ingest-cache")))
    sets = {"sec10q": sec10q, "xquad-en": lambda: xquad("en"), "xquad-zh": lambda: xquad("zh")}
    print(f"{'set':10} {'runtime':8} {'hit@1':>6} {'hit@5':>6} {'hit@10':>6}")
    for name in args.sets.split(","):
        folder, rows = sets[name]()
        if args.limit:
            rows = rows[: args.limit]
        questions, gold = [q for q, _ in rows], [g for _, g in rows]
        hits, vecs = {}, {}
        for runtime in ("torch", "onnx"):
            ranked, vecs[runtime] = ranked_with(runtime, name, folder, questions)
            hits[runtime] = hit_at(ranked, gold)
            print(f"{name:10} {runtime:8} " + " ".join(f"{hits[runtime][k]:6.3f}" for k in KS))
        delta = {k: hits["onnx"][k] - hits["torch"][k] for k in KS}
        shared = sorted(set(vecs["torch"]) & set(vecs["onnx"]))
        cos = np.array([float(vecs["torch"][key] @ vecs["onnx"][key]) for key in shared])
        agree = (
            f"cosine mean {cos.mean():.4f} min {cos.min():.4f} over {len(cos)} passages"
            if len(cos)
            else "no passage embedded by both"
        )
        print(
            f"{name:10} {'change':8} "
            + " ".join(f"{delta[k]:+6.3f}" for k in KS)
            + f"  {len(rows)} questions; {agree}"
        )


if __name__ == "__main__":
    main()
