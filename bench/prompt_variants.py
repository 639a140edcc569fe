"""Prompt template variants compared on the same questions, passages and model.

Small models answer very differently depending on the prompt's wording
(DESIGN.md, "Bundled defaults"): the bundled 0.5B model tends to copy a source
passage, header line included, instead of answering. This script asks the same
questions with each variant and reports, per variant:

* gold: share of answers that contain the expected fact (a number or name);
* cited: share with at least one valid ``[n]`` written by the model;
* copy: share that are mostly a verbatim copy of the prompt (the longest common
  substring is over 80% of the answer), and share that copy a source header
  (``[1] file.pdf, p. 3:``);
* says-not: share of the unanswerable questions answered with a plain
  "the documents do not say";
* mean answer length (characters) and mean model time (prompt evaluation plus
  generation).

Questions: sec10q questions with a short gold fact, and the sample questions of
examples/README.md on examples/northwind, each with one the documents do not
answer. Retrieval runs once per question; every variant sees the same passages
through the real ``rag.asking.answer_question`` pipeline, one model loaded once.
The raw library here is the model itself: the time column is llama.cpp's own.

    python bench/prompt_variants.py [--variants A,B,C] [--max-tokens 128] [--verbose]
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import re
import statistics
import time
from collections.abc import Sequence

from _common import EVALSETS, ROOT, peak_rss_mb, scratch

# (question, gold facts - any one counts; empty means the documents do not answer it)
SEC10Q: list[tuple[str, tuple[str, ...]]] = [
    ("What was the gross margin for Apple in the latest 10-Q report?", ("36,413", "36.4")),
    ("For the latest quarter, what was the total revenue generated from Apple's iPhone sales?",
     ("39,669", "39.7")),
    ("What was Apple's cash flow from operating activities as reported in the Q3 2022 10-Q?",
     ("98,024", "98.0")),
    ("What effective tax rate did Apple report in its latest quarterly filing, and how does "
     "this compare to the statutory tax rate?", ("12.5%",)),
    ("What was the reported gross margin for Microsoft in the most recent 10-Q filing?",
     ("40,215", "40.2")),
    ("What was NVIDIA's operating cash flow as revealed in the Q3 2022 10-Q?",
     ("3,393", "3.4 billion")),
    ("What was Intel's gross margin as reported in their latest 10-Q?", ("6,018", "6.0 billion")),
    ("What was the name of Apple's chief executive officer's dog in 2023?", ()),
]
NORTHWIND: list[tuple[str, tuple[str, ...]]] = [
    ("What is the per diem for international travel?", ("75",)),
    ("Who approves a trip that costs EUR 12,000?", ("CFO", "Lindqvist")),
    ("Which laptop do engineers get?", ("Precision 5680",)),
    ("How much does shipping within Germany cost?", ("9.90", "9,90")),
    ("境外出差每天补贴多少？", ("400",)),
    ("How many weeks of parental leave do employees get?", ()),
]

# -- the variants ------------------------------------------------------------------
BASE_RULES = """\
You answer questions using only the numbered sources given with each question.
Rules:
- Write a short answer in plain sentences.
- After each sentence, put the number of the source it comes from in square brackets, \
like [1] or [2].
- Copy numbers, dates and names exactly as the sources write them.
- If the sources do not contain the answer, reply only: The documents do not say.
- Answer in the same language as the question."""


def _short_system(source_line: str, refusal: str = "Only when no source contains the answer, "
                  "reply:") -> str:
    return f"""\
You answer a question from numbered sources. Answer in your own words in one to three short \
sentences; do not copy whole passages or their headers. End each sentence with the number of \
its source in square brackets, like [1]. Keep numbers, dates and names exactly as the sources \
write them. {refusal} The documents do not say. \
Answer in the language of the question: a question in Chinese gets an answer in Chinese.

Example.
Sources:
{source_line}

Question: How many days a week may staff work from home?
Answer: Staff may work from home up to two days a week once probation is over [1]."""


_IF_NOT = "If the sources do not contain the answer, reply only:"
_EXAMPLE_TEXT = ("Staff may work from home up to two days a week after their probation "
                 "period of 6 months. Core hours are 10:00 to 15:00.")
SHORT_USER = """\
Sources:
{sources}

Question: {question}
Answer the question in one to three sentences of your own, citing sources like [1]. \
If the sources do not answer it, reply only: The documents do not say."""

# The instruction repeated right before the answer, without the refusal phrase: the last words
# weigh most with a small model, and ending on "reply: The documents do not say" makes it say so.
LAST_USER = """\
Sources:
{sources}

Question: {question}
Answer in one to three sentences of your own, and cite the source of each like [1]."""

VARIANTS: dict[str, dict[str, str]] = {
    # A: the templates as packaged before this comparison
    "A": {"system": BASE_RULES,
          "user": "Sources:\n{sources}\n\nQuestion: {question}",
          "source": "[{number}] {location}: {text}"},
    # B: short system prompt with one worked example; the instruction repeated after the question
    "B": {"system": _short_system(f"[1] handbook.pdf, p. 4: {_EXAMPLE_TEXT}", _IF_NOT),
          "user": SHORT_USER,
          "source": "[{number}] {location}: {text}"},
    # C: as B, with each source's header on its own line, worded so it reads less like an answer
    "C": {"system": _short_system(f"Source [1] (handbook.pdf, p. 4):\n{_EXAMPLE_TEXT}", _IF_NOT),
          "user": SHORT_USER,
          "source": "Source [{number}] ({location}):\n{text}"},
    # D: as B, without the refusal phrase at the end of the question
    "D": {"system": _short_system(f"[1] handbook.pdf, p. 4: {_EXAMPLE_TEXT}"),
          "user": LAST_USER,
          "source": "[{number}] {location}: {text}"},
    # E: as D, with each source's header on its own line
    "E": {"system": _short_system(f"Source [1] (handbook.pdf, p. 4):\n{_EXAMPLE_TEXT}"),
          "user": LAST_USER,
          "source": "Source [{number}] ({location}):\n{text}"},
}

_HEADER = re.compile(r"(?:\[\d+\]|Source \[\d+\])\s*\(?[^\s:()]+\.(?:pdf|docx|md|html|txt)",
                     re.IGNORECASE)


def has_fact(answer: str, golds: Sequence[str]) -> bool:
    folded = answer.replace("，", ",").lower()
    return any(g.lower() in folded or g.replace(",", "").lower() in folded.replace(",", "")
               for g in golds)


def copied_share(answer: str, prompt_text: str) -> float:
    """The longest stretch of the answer found verbatim in the prompt, as a share of it."""
    if not answer:
        return 0.0
    m = difflib.SequenceMatcher(None, answer, prompt_text, autojunk=False)
    return m.find_longest_match(0, len(answer), 0, len(prompt_text)).size / len(answer)


class CachedRetriever:
    """The passages found once per question, handed to every variant alike."""

    def __init__(self, hits: dict[str, list]) -> None:
        self.hits = hits

    def search(self, query: str, k: int, relevance_floor: float = 0.0) -> list:
        return self.hits[query][:k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", default="A,D,E", help=f"any of {','.join(VARIANTS)}")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--model", default="default")
    ap.add_argument("--sec10q", type=int, default=len(SEC10Q) - 1,
                    help="how many of the answerable sec10q questions to ask (CPU time)")
    ap.add_argument("--verbose", action="store_true", help="print each answer")
    args = ap.parse_args()
    sec10q = SEC10Q[:args.sec10q] + [q for q in SEC10Q if not q[1]]

    os.environ["QUARRY_DATA_DIR"] = str(scratch("data-sec10q"))
    from models.decoding import preset
    from rag.asking import answer_question
    from rag.engine import Engine
    from rag.prompts import Templates, format_source, validate_template
    from rag.settings import ModelSettings, Settings

    settings = Settings(model=ModelSettings(model=args.model, ctx=4096))
    decoding = dataclasses.replace(preset("precise"), max_tokens=args.max_tokens)
    r = settings.retrieval
    hits: dict[str, list] = {}
    with Engine(settings) as engine:
        for folder, qs in ((EVALSETS / "sec10q" / "docs", sec10q),
                           (ROOT / "examples" / "northwind", NORTHWIND)):
            engine.index(folder)
            for q, _ in qs:
                hits[q] = list(engine._retriever.search(q, k=r.k, relevance_floor=0.0))
        engine.load_model()
        llm, embedder = engine._llm, engine.embedder
        retriever = CachedRetriever(hits)
        questions = sec10q + NORTHWIND
        table = []
        for name in args.variants.split(","):
            v = VARIANTS[name]
            for fname, key in (("system.txt", "system"), ("user.txt", "user"),
                               ("source.txt", "source")):
                validate_template(fname, v[key], f"variant {name} {fname}")
            templates = Templates(system=v["system"], user=v["user"], source=v["source"])
            rows = []
            for q, golds in questions:
                t0 = time.perf_counter()
                a = answer_question(q, [], retriever=retriever, llm=llm, embedder=embedder,
                                    k=r.k, relevance_floor=r.relevance_floor,
                                    decoding=decoding, templates=templates)
                wall = time.perf_counter() - t0
                # What the model could copy: the sources as the prompt showed them.
                shown = "\n".join(format_source(templates, s.number, s) for s in a.sources)
                copy = copied_share(a.text, shown) if not a.refused else 0.0
                row = {
                    "answerable": bool(golds), "refused": a.refused,
                    "gold": has_fact(a.text, golds) if golds else False,
                    "says_not": not golds and (a.refused or any(
                        s.evidence.startswith("Not a factual claim: it says")
                        for s in a.sentences)),
                    "cited": any(c.origin == "model" for s in a.sentences for c in s.citations),
                    "copy": copy > 0.8, "header": bool(_HEADER.search(a.text)),
                    "chars": len(a.text), "model_s": a.stats.prompt_s + a.stats.generate_s,
                    "wall": wall}
                rows.append(row)
                print(f"{name} [{len(rows):2d}] {row['model_s']:5.1f}s gold={row['gold']:d} "
                      f"cited={row['cited']:d} copy={copy:.2f} header={row['header']:d} "
                      f"{q[:50]}", flush=True)
                if args.verbose:
                    print("    " + a.text.replace("\n", "\n    ") + "\n", flush=True)
            table.append((name, rows))

    print(f"\nmodel {args.model!r}, max_tokens {args.max_tokens}, {len(sec10q)} sec10q + "
          f"{len(NORTHWIND)} northwind questions ({sum(not g for _, g in sec10q + NORTHWIND)} "
          "not answered by the documents)")
    print(f"{'variant':8}{'gold':>8}{'cited':>8}{'copy':>8}{'header':>8}{'says-not':>10}"
          f"{'chars':>8}{'model s':>9}")
    for name, rows in table:
        ans = [x for x in rows if x["answerable"]]
        unans = [x for x in rows if not x["answerable"]]
        n = len(rows)
        print(f"{name:8}{sum(x['gold'] for x in ans)}/{len(ans):<6}"
              f"{sum(x['cited'] for x in rows)}/{n:<5}"
              f"{sum(x['copy'] for x in rows)}/{n:<5}"
              f"{sum(x['header'] for x in rows)}/{n:<5}"
              f"{sum(x['says_not'] for x in unans)}/{len(unans):<7}"
              f"{statistics.fmean(x['chars'] for x in rows):8.0f}"
              f"{statistics.fmean(x['model_s'] for x in rows):9.1f}")
    print(f"peak memory: {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
