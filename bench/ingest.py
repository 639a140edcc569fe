"""Indexing speed in two phases, against ``SentenceTransformer.encode`` in the same run.

For each real folder (FinanceBench dev filings, the sec10q filings):

* seconds until every file is searchable (phase one: read, chunk, lexical index),
* seconds until fully indexed (phase two: every passage embedded),
* chunks per second of phase two (the chunks embedded while files were still read
  are counted apart, not in this rate), and its ratio to raw float
  ``SentenceTransformer.encode`` on a random sample of the same passages (the text
  Quarry embeds, timed in the same process right after),
* peak RSS of the process that indexed that folder alone.

For a generated folder of 5,000 one-sentence text files: the full index time, the
time of an unchanged re-open as a person runs it (the whole ``main.py --search``
command in a fresh process), and peak RSS.

    python bench/ingest.py [--sets financebench,sec10q,small] [--sample 600] [--small 5000]

Each folder is indexed in its own child process from an empty data folder, so its
peak RSS is its own. The int8 export of the embedding model is made beforehand (a
one-time cost per machine, printed on its own line).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import EVALSETS, ROOT, peak_rss_mb, scratch

SETS = {
    "financebench": EVALSETS / "financebench-dev" / "docs",
    "sec10q": EVALSETS / "sec10q" / "docs",
}
WORDS = [
    "depot",
    "invoice",
    "freight",
    "ledger",
    "audit",
    "pallet",
    "courier",
    "warranty",
    "tariff",
    "quota",
    "rebate",
    "vendor",
    "payroll",
    "contract",
    "shipment",
    "forklift",
    "dispatch",
    "refund",
    "inventory",
    "budget",
]


def one_folder(folder: Path, sample: int) -> dict:
    """Index ``folder`` from scratch in this process and time both phases."""
    from rag.engine import Engine
    from rag.ingest import _chunk_text as embed_text  # what Quarry gives the model

    marks: dict[str, float] = {}
    started = time.perf_counter()

    def progress(done: int, total: int, detail) -> None:
        if detail.stage == "embedding" and "searchable" not in marks:
            marks["searchable"] = time.perf_counter() - started

    with Engine() as engine:
        engine.open_folder(folder)
        report = engine.index(on_progress=progress)
        total_s = time.perf_counter() - started
        searchable_s = marks.get("searchable", report.searchable_seconds)
        embed_s = max(total_s - searchable_s, 1e-9)
        rss = peak_rss_mb()
        store = engine._store
        chunks = store.count_chunks()
        embedded = report.embedded
        early = report.embedded_while_reading
        emb = engine.embedder
        runtime = emb.runtime
        ids = [c.id for c in store.chunks(range(1, store.count_chunks() * 2 + 1))]
    random.seed(0)
    picked = sorted(random.sample(ids, min(sample, len(ids))))
    with Engine() as engine:
        engine.open_folder(folder)
        texts = [embed_text(c) for c in engine._store.chunks(picked)]
    from rag.embeddings import Embedder

    float_model = Embedder(runtime="torch")
    float_model.embed(["warm up"])
    t = time.perf_counter()
    float_model.model.encode(texts, batch_size=float_model.batch_size, normalize_embeddings=True)
    encode_rate = len(texts) / (time.perf_counter() - t)
    rate = (embedded - early) / embed_s  # phase two's own rate: what it embedded, in its time
    return {
        "files": len(report.files),
        "chunks": chunks,
        "embedded": embedded,
        "early": early,
        "searchable_s": searchable_s,
        "total_s": total_s,
        "chunks_per_s": rate,
        "encode_per_s": encode_rate,
        "ratio": rate / encode_rate,
        "runtime": runtime,
        "peak_rss_mb": rss,
    }


def small_folder(n: int) -> Path:
    folder = scratch(f"small-{n}")
    if len(list(folder.iterdir())) != n:
        shutil.rmtree(folder)
        folder.mkdir()
        rnd = random.Random(0)
        for i in range(n):
            words = " ".join(rnd.choice(WORDS) for _ in range(8))
            (folder / f"note-{i:05d}.txt").write_text(
                f"Note {i} says the {words} was filed on day {i % 365}.\n", encoding="utf-8"
            )
    return folder


def one_small(folder: Path) -> dict:
    from rag.engine import Engine

    started = time.perf_counter()
    with Engine() as engine:
        report = engine.index(folder)
    return {
        "files": len(report.files),
        "searchable_s": report.searchable_seconds,
        "total_s": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
    }


def child(kind: str, arg: str, data: Path, sample: int) -> dict:
    env = {**os.environ, "QUARRY_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, arg, "--sample", str(sample)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="financebench,sec10q,small")
    ap.add_argument(
        "--sample", type=int, default=600, help="passages re-encoded by the float model"
    )
    ap.add_argument("--small", type=int, default=5000, help="files in the generated folder")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, arg = args.child
        result = one_folder(Path(arg), args.sample) if kind == "folder" else one_small(Path(arg))
        print(json.dumps(result))
        return

    cache = scratch("ingest-cache")
    os.environ["QUARRY_CACHE_DIR"] = str(cache)
    t = time.perf_counter()
    from rag.embeddings import Embedder

    Embedder().embed(["prepare the int8 export"])
    print(f"int8 export ready ({time.perf_counter() - t:.1f} s; made once per machine)")

    for name in [s for s in args.sets.split(",") if s in SETS]:
        data = scratch(f"ingest-data-{name}")
        shutil.rmtree(data)
        r = child("folder", str(SETS[name]), data, args.sample)
        print(
            f"{name}: {r['files']} files, {r['chunks']} chunks ({r['embedded']} embedded, "
            f"{r['early']} of them while files were still read; {r['runtime']})\n"
            f"  all files searchable   {r['searchable_s']:7.1f} s\n"
            f"  fully indexed          {r['total_s']:7.1f} s\n"
            f"  embedding              {r['chunks_per_s']:7.1f} chunks/s; float encode "
            f"{r['encode_per_s']:.1f} chunks/s on {args.sample} of the same passages; "
            f"ratio {r['ratio']:.2f}x\n"
            f"  peak RSS               {r['peak_rss_mb']:7.0f} MB"
        )
    if "small" in args.sets.split(","):
        folder = small_folder(args.small)
        data = scratch("ingest-data-small")
        shutil.rmtree(data)
        r = child("small", str(folder), data, args.sample)
        env = {**os.environ, "QUARRY_DATA_DIR": str(data)}
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "--docs", str(folder), "--search",
             "freight audit", "--quiet"],
            env=env, capture_output=True, check=True,
        )  # fmt: skip
        reopen = time.perf_counter() - t
        print(
            f"small: {r['files']} one-sentence files\n"
            f"  all files searchable   {r['searchable_s']:7.1f} s\n"
            f"  full index             {r['total_s']:7.1f} s\n"
            f"  unchanged re-open      {reopen:7.2f} s (main.py --search, whole command)\n"
            f"  peak RSS               {r['peak_rss_mb']:7.0f} MB"
        )


if __name__ == "__main__":
    main()
