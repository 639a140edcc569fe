"""Indexing speed: chunks per second through Quarry's whole pipeline against
``SentenceTransformer.encode`` alone on the same chunk texts, peak memory, and the
time to re-scan an unchanged folder.

    python bench/ingest.py [--folder DIR] [--files N]

Default folder: the sec10q filings (the first N files for the throughput ratio,
all of them for the re-scan).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from _common import EVALSETS, peak_rss_mb, scratch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", type=Path, default=EVALSETS / "sec10q" / "docs")
    ap.add_argument("--files", type=int, default=4, help="files used for the throughput ratio")
    args = ap.parse_args()

    subset = scratch("ingest-subset")
    for old in subset.iterdir():
        old.unlink()
    for p in sorted(args.folder.iterdir())[: args.files]:
        shutil.copy(p, subset / p.name)

    data = scratch("ingest-data")
    shutil.rmtree(data)
    os.environ["QUARRY_DATA_DIR"] = str(data)
    from rag.engine import Engine

    with Engine() as engine:
        emb = engine.embedder  # loaded before timing: both sides start with a warm model
        emb.embed(["warm up"])
        t = time.perf_counter()
        report = engine.index(subset)
        pipeline_s = time.perf_counter() - t
        chunks = report.chunks_added
        ids = list(range(1, engine._store.count_chunks() + 1))
        texts = [h.text for h in engine._store.chunks(ids)]
        rss_pipeline = peak_rss_mb()

        model = emb.model
        t = time.perf_counter()
        model.encode(texts, batch_size=emb.batch_size, normalize_embeddings=True)
        encode_s = time.perf_counter() - t

        print(f"files {args.files}, chunks {chunks} (texts re-encoded: {len(texts)})")
        print(f"pipeline {chunks / pipeline_s:7.1f} chunks/s  ({pipeline_s:.1f} s)")
        print(f"encode   {len(texts) / encode_s:7.1f} chunks/s  ({encode_s:.1f} s)")
        print(f"ratio    {(chunks / pipeline_s) / (len(texts) / encode_s):7.3f}  (target >= 0.85)")
        print(f"peak RSS after pipeline {rss_pipeline:.0f} MB")

        # Re-scan: index the whole folder once, then time a run that finds nothing changed.
        engine.index(args.folder)
        t = time.perf_counter()
        again = engine.index(args.folder)
        rescan = time.perf_counter() - t
        print(
            f"re-scan of unchanged {args.folder.name} ({len(again.files)} files): "
            f"{rescan * 1000:.0f} ms  (target < 1000 ms)"
        )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
