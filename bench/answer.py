"""Answers to the sec10q questions with the default model: where the time goes, and citations.

Indexes the twenty 10-Q filings (once; the index is kept under bench/out and
shared with bench/retrieval.py), then asks a random sample of the questions
(default 20: the default model generates about 20 tokens/s on two CPU cores, so
all 195 would take over an hour). For each answer: retrieval, prompt evaluation
(time to first token), generation and support-check times; whether it carries at
least one valid citation (written by the model, or also counting those the check
attributed); whether its cited passages come from the filing the question is
about.

The raw library, for comparison, is llama.cpp's own time on the same prompts
(prompt evaluation plus generation): the ratio says what retrieval and the
check add on top of it.

    python bench/answer.py [--n 20] [--seed 3] [--max-tokens 128] [--model default]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import fnmatch
import os
import random
import statistics
import time

from _common import EVALSETS, peak_rss_mb, scratch


def questions(n: int, seed: int) -> list[tuple[str, list[str]]]:
    with open(EVALSETS / "sec10q" / "qna_data.csv", encoding="utf-8-sig", newline="") as f:
        rows = [(r["Question"], [g.strip() for g in r["Source Docs"].split(",") if g.strip()])
                for r in csv.DictReader(f)]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--model", default="default")
    ap.add_argument("--verbose", action="store_true", help="print each answer")
    args = ap.parse_args()

    os.environ["QUARRY_DATA_DIR"] = str(scratch("data-sec10q"))
    from models.decoding import preset
    from rag.engine import Engine
    from rag.render import format_answer
    from rag.settings import ModelSettings, Settings

    settings = Settings(model=ModelSettings(model=args.model, ctx=4096))
    decoding = dataclasses.replace(preset("precise"), max_tokens=args.max_tokens)
    rows = []
    with Engine(settings) as engine:
        t = time.perf_counter()
        engine.index(EVALSETS / "sec10q" / "docs")
        print(f"index ready in {time.perf_counter() - t:.0f} s", flush=True)
        engine.load_model()
        for q, globs in questions(args.n, args.seed):
            a = engine.ask(q, decoding=decoding)
            model_cites = {c.source for s in a.sentences for c in s.citations
                           if c.origin == "model"}
            all_cites = {c.source for s in a.sentences for c in s.citations}
            files = {s.number: s.file for s in a.sources}
            right = [any(fnmatch.fnmatch(files[n].rsplit("/", 1)[-1], g) for g in globs)
                     for n in all_cites]
            st = a.stats
            rows.append({
                "refused": a.refused, "retrieve": st.retrieve_s, "prompt": st.prompt_s,
                "generate": st.generate_s, "check": st.check_s,
                "total": st.retrieve_s + st.prompt_s + st.generate_s + st.check_s,
                "prompt_tokens": st.prompt_tokens, "tokens": st.completion_tokens,
                "model_cited": bool(model_cites), "cited": bool(all_cites),
                "right_all": bool(right) and all(right), "right_any": any(right),
                "supported": sum(s.support.value == "supported" for s in a.sentences),
                "sentences": len(a.sentences)})
            r = rows[-1]
            print(f"[{len(rows):2d}] {r['total']:5.1f}s (prompt {r['prompt']:.1f}s/"
                  f"{r['prompt_tokens']} tok, gen {r['generate']:.1f}s/{r['tokens']} tok, "
                  f"check {r['check']:.2f}s) cited={r['cited']} model={r['model_cited']} "
                  f"right={r['right_all']}  {q[:60]}", flush=True)
            if args.verbose:
                print(format_answer(a) + "\n")

    asked = [r for r in rows if not r["refused"]]
    n = len(rows)

    def mean(key: str, among=asked) -> float:
        return statistics.fmean(r[key] for r in among) if among else 0.0

    print(f"\nsec10q, {n} questions sampled (seed {args.seed}) of 195, model {args.model!r}, "
          f"max_tokens {args.max_tokens}; {n - len(asked)} refused before generation")
    print("mean time per answered question: "
          f"retrieve {mean('retrieve'):.2f}s, prompt evaluation {mean('prompt'):.1f}s "
          f"({mean('prompt_tokens'):.0f} tokens), generation {mean('generate'):.1f}s "
          f"({mean('tokens'):.0f} tokens), check {mean('check'):.2f}s; total {mean('total'):.1f}s")
    llm_s = sum(r["prompt"] + r["generate"] for r in asked)
    ours = sum(r["retrieve"] + r["check"] for r in asked)
    check_share = sum(r["check"] for r in asked) / max(1e-9, sum(r["total"] for r in asked))
    print(f"support check share of answer time: {check_share:.1%} (target: at most 10%)")
    print(f"whole pipeline vs raw llama.cpp on the same prompts: "
          f"{(llm_s + ours) / max(1e-9, llm_s):.3f}x")
    print(f"answers with >=1 valid citation written by the model: "
          f"{sum(r['model_cited'] for r in rows)}/{n}")
    print(f"answers with >=1 valid citation after the check's attribution: "
          f"{sum(r['cited'] for r in rows)}/{n}")
    print(f"answers whose cited passages all come from the right filing(s): "
          f"{sum(r['right_all'] for r in rows)}/{n} (at least one: "
          f"{sum(r['right_any'] for r in rows)}/{n})")
    sents = sum(r["sentences"] for r in asked)
    print(f"sentences marked supported: {sum(r['supported'] for r in asked)}/{sents}")
    print(f"peak memory: {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
