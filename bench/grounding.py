"""Precision and recall of the support check on sentences from the evaluation sets.

Pairs come from XQuAD (English and Chinese): a true sentence is a sentence of a
gold paragraph that holds a labelled answer; its altered twin has one number,
date or name changed (a number shifted, a name swapped for one from another
paragraph). Each is checked as if an answer cited the gold paragraph, with four
other paragraphs of the same article as the remaining sources, and again
uncited (the check then searches all five).

"Supported" is the positive prediction: precision is the share of sentences
marked supported that are true, recall the share of true sentences marked
supported. The raw library, for comparison, is the embedding model alone
(cosine similarity to the best source sentence, same threshold), on the same
pairs in the same run.

With ``--clauses`` the true sentence is cut to the clause holding the answer,
closer to the short extractive answers a small model writes.

Usage: python bench/grounding.py [--per-language 120] [--seed 7] [--clauses]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag import grounding  # noqa: E402
from rag.grounding import check_answer, facts, split_sentences  # noqa: E402
from rag.text import CJK  # noqa: E402
from rag.types import Source, Support  # noqa: E402

EVALSETS = ROOT.parent / "shared" / "evalsets"


def load_items(lang: str, n: int, rng: random.Random, args_clauses: bool) -> list[dict]:
    data = json.loads((EVALSETS / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))
    names_pool: list[str] = []
    items = []
    for article in data["data"]:
        paragraphs = [p["context"] for p in article["paragraphs"]]
        for pi, p in enumerate(article["paragraphs"]):
            ctx = p["context"]
            spans = split_sentences(ctx)
            for qa in p["qas"]:
                ans = qa["answers"][0]
                at = ans["answer_start"]
                sent = next((ctx[a:b] for a, b in spans if a <= at < b), None)
                if not sent or len(sent) < 20:
                    continue
                if args_clauses:
                    # The clause holding the answer, as a short extractive answer would be.
                    off = at - ctx.index(sent) if sent in ctx else 0
                    parts, pos = re.split(r"(?<=[,;，；])\s*", sent), 0
                    for part in parts:
                        if pos <= off < pos + len(part) + 1:
                            sent = part.strip(" ,;，；")
                            break
                        pos += len(part) + 1
                    if len(sent) < 20 or not facts(sent):
                        continue
                items.append({"sentence": sent, "gold": ctx, "others": [
                    q for j, q in enumerate(paragraphs) if j != pi], "lang": lang})
                break  # one sentence per paragraph keeps the pairs independent
        for ctx in paragraphs[:3]:
            names_pool.extend(f for f in facts(ctx) if not f[0].isdigit())
    rng.shuffle(items)
    chosen = []
    for it in items:
        altered = alter(it["sentence"], it["gold"], names_pool, rng)
        if altered:
            it["altered"] = altered
            chosen.append(it)
        if len(chosen) == n:
            break
    return chosen


def alter(sentence: str, gold: str, names: list[str], rng: random.Random) -> str | None:
    """The sentence with one fact changed to a value its paragraph does not contain."""
    found = facts(sentence)
    rng.shuffle(found)
    for f in found:
        if f[0].isdigit():
            value = int(re.sub(r"\D", "", f.split(".")[0]) or 0)
            for delta in (1, 2, 3, 7, 11):
                new = f"{value + delta:,}" if "," in f else str(value + delta)
                if new not in gold:
                    return sentence.replace(f, new, 1)
        else:
            same_script = [n for n in names if bool(CJK.search(n)) ==
                           bool(CJK.search(f)) and n.lower() not in gold.lower()]
            if same_script:
                return sentence.replace(f, rng.choice(same_script), 1)
    return None


def sources_for(item: dict, rng: random.Random) -> tuple[list[Source], int]:
    passages = [item["gold"], *rng.sample(item["others"], min(4, len(item["others"])))]
    order = list(range(len(passages)))
    rng.shuffle(order)
    srcs = [Source(i + 1, i, f"p{k}.txt", None, 0, len(passages[k]), passages[k], 1.0)
            for i, k in enumerate(order)]
    gold_number = order.index(0) + 1
    return srcs, gold_number


def pr(true_pos: int, false_pos: int, positives: int) -> tuple[float, float]:
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    return precision, (true_pos / positives if positives else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-language", type=int, default=120)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--clauses", action="store_true",
                    help="use only the clause holding the answer, not the whole sentence")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    from rag.embeddings import Embedder

    embedder = Embedder()
    embedder.embed(["warm up"])
    grounding.facts("预热")  # loads jieba's dictionary once, outside the timings

    for lang in ("en", "zh"):
        items = load_items(lang, args.per_language, rng, args.clauses)
        counts = {mode: {"tp": 0, "fp": 0, "weak_t": 0, "weak_f": 0} for mode in ("cited",
                                                                                 "uncited")}
        attributed_right = 0
        raw = {"tp": 0, "fp": 0}
        check_s = raw_s = 0.0
        for it in items:
            srcs, gold = sources_for(it, rng)
            for text, truth in ((it["sentence"], True), (it["altered"], False)):
                for mode in ("cited", "uncited"):
                    answer = f"{text} [{gold}]" if mode == "cited" else text
                    t = time.perf_counter()
                    [s] = check_answer(answer, srcs, embedder)[:1] or [None]
                    check_s += time.perf_counter() - t
                    ok = s is not None and s.support is Support.SUPPORTED
                    weak = s is not None and s.support is Support.WEAK
                    c = counts[mode]
                    c["tp" if truth else "fp"] += ok
                    c["weak_t" if truth else "weak_f"] += weak
                    if mode == "uncited" and truth and ok and s.citations and \
                            s.citations[0].source == gold:
                        attributed_right += 1
                # The raw library alone: embedding similarity to the best gold sentence.
                t = time.perf_counter()
                gold_src = srcs[gold - 1]
                sents = [gold_src.text[a:b] for a, b in split_sentences(gold_src.text)]
                v = embedder.embed([text, *sents])
                sim = float((v[1:] @ v[0]).max())
                raw_s += time.perf_counter() - t
                if sim >= grounding.SUPPORTED_AT:
                    raw["tp" if truth else "fp"] += 1
        n = len(items)
        kind = "clauses" if args.clauses else "sentences"
        print(f"\nXQuAD {lang}: {n} true {kind} and {n} altered twins (one fact changed)")
        for mode, c in counts.items():
            p, r = pr(c["tp"], c["fp"], n)
            print(f"  support check, {mode:7s}: precision {p:.3f}  recall {r:.3f}  "
                  f"(weak: {c['weak_t']} true, {c['weak_f']} altered)")
        p, r = pr(raw["tp"], raw["fp"], n)
        print(f"  raw embedding similarity ≥ {grounding.SUPPORTED_AT}: precision {p:.3f}  "
              f"recall {r:.3f}")
        print(f"  uncited true sentences attributed to the gold paragraph: "
              f"{attributed_right}/{n}")
        per = check_s / (4 * n) * 1000
        raw_per = raw_s / (2 * n) * 1000
        print(f"  time per checked sentence (5 sources): {per:.1f} ms; raw embedding of the "
              f"same texts: {raw_per:.1f} ms; ratio {per / raw_per:.2f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
