"""The ask pipeline: retrieve, refuse or prompt, generate, check.

``rag.engine.Engine.ask`` calls :func:`answer_question`; everything it needs is
passed in, so the pipeline can be driven with a fake model in tests.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rag import evidence, grounding
from rag.prompts import Templates, build_prompt, document_name, load_templates, overheads
from rag.text import CJK, in_chinese
from rag.types import (
    Answer,
    AnswerSentence,
    AnswerStats,
    Evidence,
    Hit,
    Source,
    Support,
    Turn,
)

if TYPE_CHECKING:
    from models.decoding import DecodingParams

REFUSAL_SOURCES = 3  # closest passages listed with a refusal
RELATIVE_FLOOR = 0.5  # passages scoring under this share of the best one are not sent
# Tokens the model reads for the sources: the best sentences with their neighbours under
# each document's name line, not whole chunks (reading the prompt is most of the wait on a
# CPU); the names count against it; 0 sends whole passages. bench/accuracy.py --n 40
# regenerated at 250 (in brackets: before names were counted and evidence typed, at 450): gold
# in the shown answer XQuAD en 33/40 (32), zh 32/40 (32), northwind 11/11 (9); median time
# to first token over XQuAD zh 4.1 s on a quiet machine (8.4), over sec10q 6.8 s at 250 and
# 9.4 s at 450 in one timed run on a busy machine, the model's text holding the gold
# numbers for 5 of 8 at both. --prompt-only: the gold stays in what the model reads for
# XQuAD en 37 of 40 questions at 250 (39 at 450).
CONTEXT_TOKENS = 250
NOT_SAID_ZH = "文档中没有说明。"  # "The documents do not say." for a Chinese question
FOLLOW_UP_WORDS = 6  # a question this short, after another one, is read as a follow-up
# Pronouns are matched in lower case (or capitalized first), so "IT" is not "it".
_ANAPHORA = re.compile(
    r"^\s*(?i:and|or|but|also|what about|how about|then|so)\b"
    r"|\b(it|its|they|them|their|those|these|he|she|his|her|same)\b"
    r"|^\s*(It|Its|They|Them|Their|Those|These|He|She|His|Her)\b"
    r"|^\s*(那|还有|而|和|以及)|[它他她该此那]|呢[？?]?\s*$")


def answer_question(question: str, history: Sequence[Turn], *, retriever: Any, llm: Any,
                    embedder: Any, k: int, relevance_floor: float, decoding: DecodingParams,
                    on_token: Callable[[str], None] | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    templates: Templates | None = None) -> Answer:
    """Answer ``question`` from the indexed passages, every sentence checked against them.

    When no passage scores at or above ``relevance_floor`` the model is not asked:
    the answer says the documents do not cover the question and lists the
    closest passages. ``embedder`` may be None (the check then uses words only).
    """
    stats = AnswerStats()
    t0 = time.perf_counter()
    query = retrieval_query(question, history)
    hits: list[Hit] = list(retriever.search(query, k=k, relevance_floor=0.0))
    stats.retrieve_s = time.perf_counter() - t0
    # Passages far weaker than the best one rarely help and each costs prompt-reading
    # time, which on a CPU is most of the wait: keep those within RELATIVE_FLOOR of it.
    best = max((h.score for h in hits), default=0.0)
    relevant = [h for h in hits if h.score >= max(relevance_floor, RELATIVE_FLOOR * best)]
    if not relevant:
        return refusal(question, hits, relevance_floor, stats)

    t1 = time.perf_counter()
    ranked = [_source(i, h) for i, h in enumerate(relevant, start=1)]
    role, other = grounding.unmentioned_role(question, ranked)
    if role:
        # A small model asked who the chief executive is, shown only the chief financial
        # officer, gives the CFO's name: the question is answered here, without it.
        return role_refusal(question, role, other, ranked, stats)
    selection = evidence.select(question, ranked, embedder)
    stats.evidence_s = time.perf_counter() - t1

    if templates is None:
        family = getattr(getattr(llm, "info", None), "architecture", "") or ""
        templates = load_templates(family=family)
    passages = None
    if CONTEXT_TOKENS:
        passages = evidence.compact_passages(
            selection, ranked, llm.count_tokens, CONTEXT_TOKENS,
            overheads(templates, ranked, llm.count_tokens))
    prompt = build_prompt(question, relevant, history, llm=llm,
                          answer_tokens=int(decoding.max_tokens), templates=templates,
                          passages=passages)
    gen = llm.generate(prompt.messages, decoding, on_token=on_token, should_stop=should_stop)
    stats.prompt_s = float(gen.ttft_s or 0.0)
    stats.generate_s = max(0.0, float(gen.total_s) - stats.prompt_s)
    stats.prompt_tokens = int(gen.prompt_tokens)
    stats.cached_tokens = int(getattr(gen, "cached_tokens", 0) or 0)
    stats.completion_tokens = int(gen.completion_tokens)
    stats.tokens_per_s = float(gen.tokens_per_s or 0.0)
    stop = getattr(gen.stop_reason, "value", gen.stop_reason)
    stats.stop_reason = str(stop).lower() if stop is not None else ""

    t2 = time.perf_counter()
    model_text = grounding.strip_copied_headers(
        gen.text.strip(), {s.number for s in prompt.sources},
        [document_name(s) for s in prompt.sources])
    sentences = grounding.check_answer(model_text, prompt.sources, embedder, question=question)
    shown = {s.number for s in prompt.sources}
    best = (evidence.agreeing(selection, model_text, question, shown)
            or [e for e in selection.best() if e.source in shown])
    text, quoted, unanswered, why = _evidence_first(question, model_text, sentences, best,
                                                    prompt.sources, stats.stop_reason)
    if text == model_text and in_chinese(question) and not in_chinese(text) and sentences \
            and all(grounding.is_refusal(s.text) for s in sentences):
        # The system prompt (English, so that it stays one cached prefix) gives the refusal
        # in English, and a small model copies it as written whatever the question's language.
        text = NOT_SAID_ZH
    if text != model_text:
        sentences = grounding.check_answer(text, prompt.sources, embedder, question=question)
    stats.check_s = time.perf_counter() - t2

    notes = [_stop_note(stats.stop_reason, int(decoding.max_tokens)), getattr(gen, "note", ""),
             why]
    if not model_text and not quoted:
        notes.append("The model returned no answer.")
    if prompt.dropped_sources and passages is None:
        notes.append(f"{prompt.dropped_sources} lower-ranked passage(s) did not fit in the "
                     "model's context and were left out.")
    invalid = sorted({n for s in sentences for n in s.invalid_citations})
    if invalid:
        notes.append("The model cited source numbers that do not exist: "
                     + ", ".join(f"[{n}]" for n in invalid) + ".")
    return Answer(question=question, text=text, sentences=sentences, sources=prompt.sources,
                  stats=stats, refused=False, note=" ".join(n for n in notes if n),
                  evidence=evidence.distinct(best), quoted=quoted, model_text=model_text,
                  unanswered=unanswered)


_FAILURE_NOTES = {
    "empty": "The model gave no answer",
    "citations": "The model's reply was only citation marks",
    "refusal": "The model said the documents do not answer, but a source does",
    "echo": "The model only restated the question",
    "copy": "The model copied a whole passage",
    "unsupported": "The sources do not back the model's answer",
    "offtopic": "The model's answer is about something else than the question",
}


def _evidence_first(question: str, model_text: str, sentences: Sequence[AnswerSentence],
                    best: Sequence[Evidence], sources: Sequence[Source], stop_reason: str
                    ) -> tuple[str, bool, list[str], str]:
    """What to show as the answer: the model's text, or the quoted evidence where the
    model's reply is not an answer, and which parts of the question stay unanswered.

    Returns (text, quoted, unanswered parts, a note for the reader).
    """
    if stop_reason == "cancelled":
        return model_text, False, [], ""
    strong = [e for e in best if e.strong]
    kind = evidence.failure(model_text, sentences, sources, strong=bool(strong),
                            question=question)
    if kind:
        use = evidence.distinct(strong or (list(best[:1]) if kind == "copy" else []))
        if use:
            return (evidence.quote(use), True, [e.part for e in best if not e.strong and e.part],
                    f"{_FAILURE_NOTES[kind]}; the answer is quoted from the source.")
        if kind in ("empty", "citations", "unsupported", "offtopic"):
            # No source sentence can stand in: say so rather than show a made-up answer.
            text = ("来源中没有句子明确回答这个问题。" if in_chinese(question)
                    else "No sentence in the sources clearly answers this question.")
            said = f" It said: “{model_text}”" if kind in ("unsupported", "offtopic") else ""
            return text, False, [], f"{_FAILURE_NOTES[kind]}.{said}"
        return model_text, False, [], ""
    if len(best) < 2 or not any(e.part for e in best):
        # One question: an answer that states another fact than the answering sentence
        # (another name for "who", another year for "which year") is shown with that
        # sentence quoted under it, so the reader sees what the source says.
        if best and evidence.misses_the_fact(model_text, best[0], question):
            return (f"{model_text}\n{evidence.quote(best[:1])}", True, [],
                    "The model's answer does not state what the answering sentence of the "
                    "source does: it is quoted under the answer.")
        return model_text, False, [], ""
    # Several parts: each is looked for in the answer on its own.
    added: list[Evidence] = []
    unanswered: list[str] = []
    for e in best:
        if evidence.addresses(model_text, e.part, e):
            continue
        if e.strong:
            added.append(e)
        else:
            unanswered.append(e.part)
    text = model_text
    notes = []
    if added:
        text += "\n" + evidence.quote(added)
        notes.append("The model's answer left out "
                     + "; ".join(f"“{e.part}”" for e in added)
                     + ": quoted from the source.")
    if unanswered:
        lines = [("没有找到回答：" if in_chinese(question) else "Not answered by the sources: ")
                 + p for p in unanswered]
        text += "\n" + "\n".join(lines)
    return text, bool(added), unanswered, " ".join(notes)


def _source(number: int, h: Hit) -> Source:
    return Source(number=number, chunk_id=h.chunk_id, file=h.file, page=h.page, start=h.start,
                  end=h.end, text=h.text, score=h.score, title=h.title, ocr=h.ocr,
                  ocr_confidence=h.ocr_confidence)


def retrieval_query(question: str, history: Sequence[Turn]) -> str:
    """What to search for: the question, joined to the previous one when it is a follow-up.

    "And in 2022?" names nothing to search for; the question before it does. A
    question counts as a follow-up when it is short or points back ("it",
    "that", "那…呢"). Only the previous question is added, not its answer: the
    answer's words would pull retrieval toward what was already found.
    """
    if not history:
        return question
    words = len(re.findall(r"\w+", CJK.sub("", question))) + len(CJK.findall(question)) / 2
    if words <= FOLLOW_UP_WORDS or _ANAPHORA.search(question):
        return f"{history[-1].question.strip()} {question.strip()}"
    return question


def refusal(question: str, hits: Sequence[Hit], relevance_floor: float,
            stats: AnswerStats) -> Answer:
    """The honest answer when nothing relevant was found, made without the model."""
    closest = list(hits)[:REFUSAL_SOURCES]
    sources = [_source(i, h) for i, h in enumerate(closest, start=1)]
    if in_chinese(question):
        text = "您的文档中没有找到与这个问题相关的内容。"
        if sources:
            text += "下面列出最接近的段落，供您参考。"
    else:
        text = "Your documents do not seem to cover this question."
        if sources:
            text += " The closest passages are listed below."
    best = f"the best match scored {hits[0].score:.2f}" if hits else "nothing matched at all"
    evidence = (f"No passage reached the relevance floor of {relevance_floor:.2f} ({best}), "
                "so the model was not asked.")
    sentence = AnswerSentence(text=text, start=0, end=len(text), support=Support.SUPPORTED,
                              evidence=evidence)
    stats.stop_reason = "refused"
    return Answer(question=question, text=text, sentences=[sentence], sources=sources,
                  stats=stats, refused=True, note=evidence)


def role_refusal(question: str, role: str, other: str, sources: Sequence[Source],
                 stats: AnswerStats) -> Answer:
    """The answer to "who is the <role>" when no passage names that role but one names
    another of its kind (see :func:`rag.grounding.unmentioned_role`), made without the
    model: the passages are listed, as with any refusal, so the reader can check."""
    if in_chinese(question):
        text = f"文档中没有提到{role}（只提到了{other}）。"
    else:
        text = f"The documents do not say who the {role} is (they name the {other})."
    note = (f"No passage names the {role} the question asks about, only the {other}, so "
            "the model was not asked.")
    sentence = AnswerSentence(text=text, start=0, end=len(text), support=Support.SUPPORTED,
                              evidence=note)
    stats.stop_reason = "refused"
    return Answer(question=question, text=text, sentences=[sentence],
                  sources=list(sources)[:REFUSAL_SOURCES], stats=stats, refused=True, note=note)


def _stop_note(stop_reason: str, max_tokens: int) -> str:
    return {
        "repetition": "Stopped: the model started repeating itself.",
        "length": f"The answer reached the limit of {max_tokens} tokens and may be cut short.",
        "cancelled": "Stopped at your request.",
    }.get(stop_reason, "")

