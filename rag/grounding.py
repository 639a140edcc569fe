"""The support check: each answer sentence tied to the passage that backs it, or flagged.

Small local models cite badly or not at all, so citations here do not depend on
the model's compliance. Each sentence is judged against the sources it cites
and, when those do not back it, against every source; a sentence the model left
uncited or cited wrongly is attributed to the passage that supports it
(``Citation.origin == "check"``). Three kinds of evidence:

* lexical: the share of the sentence's content words (character pairs for
  Chinese) found in the source;
* semantic: the best cosine similarity between the sentence and one sentence of
  the source (one embedding batch for the whole answer);
* facts: every number, amount, date and name in the sentence must occur in the
  sources it is attributed to. This is what catches a changed figure in an
  otherwise copied sentence, which the other two cannot.

Sentences that make no claim ("The documents do not say.") are not flagged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.loaders import supported_suffixes
from rag.text import (
    CITATION,
    CJK,
    HAN_CHARS,
    NUMBER,
    STOP_WORDS,
    citation_numbers,
    cjk_share,
    content_terms,
    fold,
    in_chinese,
    number_values,
    root,
    strip_citations,
    trim_span,
)
from rag.types import AnswerSentence, Citation, Source, Support

# -- thresholds (measured with bench/grounding.py; see its output) -----------------
SUPPORTED_AT = 0.6  # combined lexical+semantic strength for "supported"
WEAK_AT = 0.4  # ... and for "weak"
LEXICAL_WEIGHT = 0.5  # strength = w * lexical + (1 - w) * semantic
QUOTE_CHARS = 160  # how much of a source sentence the evidence quotes
CANDIDATES_PER_CLAIM = 3  # source sentences embedded per answer sentence
CROSS_SCRIPT_SHARE = 0.3  # of CJK letters, for a sentence or passage to count as Chinese


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray: ...


# -- citations ---------------------------------------------------------------------


def _numbers(sources: int | Collection[int]) -> Collection[int]:
    """The source numbers a prompt showed. A prompt given part of the hits keeps each
    source's rank as its number (sources 4 and 5 alone), so validity is membership,
    not a count; a plain count means sources 1..n."""
    return range(1, sources + 1) if isinstance(sources, int) else sources


def parse_citations(text: str, sources: int | Collection[int]
                    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The source numbers cited in ``text``: (valid, invalid), each in order of appearance.

    Accepts ``[1]``, ``[1, 3]``, ``[1][2]``, ``[1-3]``, ``[Source 2]`` and the
    full-width ``【1】`` and ``［1］``. ``sources`` is the numbers shown (or their
    count, for 1..n); any other number is invalid.
    """
    shown = _numbers(sources)
    valid: list[int] = []
    invalid: list[int] = []
    for m in CITATION.finditer(text):
        for n in citation_numbers(m.group(1)):
            bucket = valid if n in shown else invalid
            if n not in bucket:
                bucket.append(n)
    return tuple(valid), tuple(invalid)


# -- sentences ---------------------------------------------------------------------
_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "p", "pp", "no", "nos", "vol", "fig", "figs", "mr", "mrs", "ms", "dr",
    "prof", "vs", "inc", "corp", "co", "ltd", "llc", "plc", "jr", "sr", "st", "approx", "ca",
    "u.s", "u.k", "e.u", "sec", "art", "para", "cf", "al", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "est", "dept", "mt", "ft", "op",
}
# A source header as the prompt writes it ("[2] report.pdf, p. 3 (Annual report):"), which
# small models often copy in front of the passage they quote.
_SUFFIXES = "|".join(re.escape(s[1:]) for s in sorted(supported_suffixes(), key=len, reverse=True))
_COPIED_HEADER = re.compile(
    r"^[ \t]*(?:source[ \t]*)?[\[［【](\d{1,3})[\]］】][ \t]*\(?[^\n:()]*?"
    rf"\.(?:{_SUFFIXES})\b(?:,[ \t]*(?:p\.|page)[ \t]*\d+)?"
    r"(?:[ \t]*[(（](?:[^\n()（）]|[(（][^\n()（）]*[)）])*[)）])?"  # the document's title
    r"[ \t]*\)?[ \t]*:[ \t]*",
    re.IGNORECASE | re.MULTILINE)


def strip_copied_headers(text: str, sources: int | Collection[int],
                         documents: Sequence[str] = ()) -> str:
    """Keep what the model said after a copied source header, and turn the header into
    a citation at the end of its line, where a reader expects it. A copied document
    line (one of ``documents``, the names the prompt gave, followed by ":") is dropped
    the same way."""
    shown = _numbers(sources)
    out = []
    names = sorted({d for d in documents if d}, key=len, reverse=True)
    for line in text.split("\n"):
        bare = line.lstrip()
        named = next((d for d in names if bare.startswith(d)
                      and bare[len(d):].lstrip().startswith((":", "："))), None)
        if named is not None:
            rest = bare[len(named):].lstrip()[1:].strip()
            if rest:
                out.append(rest)
            continue
        m = _COPIED_HEADER.match(line)
        if not m or int(m.group(1)) not in shown:
            out.append(line)
            continue
        rest = line[m.end():].rstrip()
        if rest:
            n = m.group(1)
            cited = re.search(r"[\[［【]" + n + r"[\]］】]\W*$", rest)
            out.append(rest if cited else f"{rest} [{n}]")
    return "\n".join(out).strip()


_END = re.compile(r"[.!?]+[\"'”’)]*(?=\s|$|[\[［【])|[。！？!?]+[”’」』）)]*|…+(?=\s|$)")
_BULLET = re.compile(r"\s*(?:[-*•·]|\d{1,2}[.)、]|[（(]?\d{1,2}[)）])\s+")
_TRAILING_CITATIONS = re.compile(r"(?:\s*" + CITATION.pattern + r")+", re.IGNORECASE)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``, English and Chinese.

    Lines are always separate (answers are often lists). A period ends a sentence
    only before a space or the end, and not after a known abbreviation or an
    initial ("e.g.", "p. 3", "J. Smith") or before a lowercase word; Chinese
    。！？ end one anywhere. Citation marks right after the end ("... 5%. [2]")
    belong to the sentence before them, and a line of only citations joins the
    sentence above it.
    """
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        ls, le = line.span()
        bullet = _BULLET.match(text, ls, le)
        start = bullet.end() if bullet else ls
        pos = start
        while pos < le:
            m = _END.search(text, pos, le)
            if m is None:
                _add_span(text, spans, start, le)
                break
            end = m.end()
            if m.group(0)[0] == "." and _is_abbreviation(text, m.start(), le):
                pos = end
                continue
            tail = _TRAILING_CITATIONS.match(text, end, le)
            if tail:
                end = tail.end()
            _add_span(text, spans, start, end)
            start = pos = end
        else:
            if start < le:
                _add_span(text, spans, start, le)
    return spans


def _add_span(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    start, end = trim_span(text, start, end)
    if start >= end:
        return
    if spans and not strip_citations(text[start:end]).strip(" .。,，;；:：") and \
            CITATION.search(text[start:end]):
        spans[-1] = (spans[-1][0], end)  # a lone "[2]" belongs to the sentence above
        return
    spans.append((start, end))


def _is_abbreviation(text: str, dot: int, line_end: int) -> bool:
    word = re.search(r"[\w.]*$", text[max(0, dot - 12):dot]).group(0).lower()
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    after = re.match(r"\s*(\S)", text[dot + 1:line_end])
    return bool(after and after.group(1).islower())


# -- words, facts and non-claims ---------------------------------------------------
_NAME = re.compile(r"\b[A-Z][A-Za-z&'’\-]*[A-Za-z]\b")
_NON_CLAIM = re.compile(
    r"(\b(sources?|documents?|context|passages?|texts?|information( provided)?)\b[^.]*\b"
    r"(do(es)?\s*n[o']t|not|no|never)\b"
    r"|\bno (relevant |specific |such )?(information|mention|details?|data)\b"
    r"|\bno sentence in the sources\b|来源中没有句子"
    r"|\bnot (mentioned|specified|stated|provided|found|available|included|given)\b"
    r"|\b(cannot|can't|can not|unable to) (find|answer|determine|tell|say)\b"
    r"|\bi (do not|don't) know\b"
    r"|(文档|资料|来源|文中|上下文)[^。]*(没有|未|并未|不)(提及|提到|说明|包含|涉及|给出)"
    r"|(没有|未|并未)(提及|提到|说明|相关信息|给出)|无法(回答|确定|找到)|不知道)",
    re.IGNORECASE)


_BARE_ANSWER_CHARS = 4  # a one-word reply this long (stemmed) can be an answer on its own
_FILLER = frozenset(root(w) for w in [
    "sure", "okay", "certainly", "answer", "here", "hello", "thanks", "thank", "question",
    "source", "sources", "note", "following", "below", "understood"]) | frozenset(
    ["好的", "当然", "是的", "谢谢", "答案", "问题", "来源", "如下", "明白"])


def facts(sentence: str) -> list[str]:
    """Numbers, amounts, dates and names a supporting source must contain, as written."""
    found = NUMBER.findall(unicodedata.normalize("NFKC", sentence))
    for m in _NAME.finditer(sentence):
        w = re.sub(r"['’]s$", "", m.group(0))
        first = not sentence[: m.start()].strip(" \"'“‘(")
        # A capital that starts a sentence marks a name only with more to show for it:
        # a possessive, capitals inside, or a capitalized word after it ("Tim Cook").
        if first and not (w != m.group(0) or w.isupper() or any(c.isupper() for c in w[1:])
                          or re.match(r"\s+[A-Z]", sentence[m.end():])):
            continue
        if w.lower() in STOP_WORDS or w == "I":
            continue
        found.append(w)
    if CJK.search(sentence):
        found.extend(cjk_names(sentence))
    seen: set[str] = set()
    return [f for f in found if not (f in seen or seen.add(f))]


NAME_TAGS = ("nr", "ns", "nt", "nz")  # jieba: person, place, organisation, other proper noun


def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    # jieba caches its dictionary in /tmp by default; Quarry writes only to its data folder.
    if jieba.dt.tmp_dir is None:
        from rag.paths import data_dir

        cache = data_dir() / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        jieba.dt.tmp_dir = str(cache)
    return jieba


def cjk_names(sentence: str, tags: Sequence[str] = NAME_TAGS) -> list[str]:
    """Chinese person, place and organisation names (jieba's part-of-speech tags)."""
    _jieba()
    import jieba.posseg

    return [p.word for p in jieba.posseg.cut(sentence)
            if p.flag in tags and len(p.word) >= 2 and CJK.search(p.word)]


def cjk_words(text: str) -> list[str]:
    """The Chinese words of ``text`` (jieba's cut), two characters or more."""
    return [w for w in _jieba().cut(text) if len(w) >= 2 and CJK.search(w)]


def _fact_key(fact: str) -> str:
    return number_values(fact)[0] if fact[0].isdigit() else fold(fact)


def _has_fact(fact: str, folded_source: str, numbers: set[str]) -> bool:
    if fact[0].isdigit():
        return number_values(fact)[0] in numbers
    if CJK.search(fact):
        return fold(fact) in folded_source
    pattern = r"(?<![a-z])" + re.escape(fold(fact)) + r"(?![a-z])"
    return re.search(pattern, folded_source) is not None


def is_claim(sentence: str) -> bool:
    """False for sentences that assert nothing about the world: refusals, "Sure.", a lone "[1]"."""
    bare = strip_citations(sentence)
    if _NON_CLAIM.search(bare):
        return False
    terms = content_terms(bare)
    if facts(bare) or len(terms) >= 2:
        return True
    # A bare answer ("Folk-rock.", "Virginia", "革命") states a fact as much as a sentence
    # does; a courtesy word or a lone short word does not. Two Chinese characters make a
    # word: the pair is the whole reply.
    return any((len(t) >= _BARE_ANSWER_CHARS or (len(t) == 2 and CJK.search(t)))
               and t not in _FILLER for t in terms)


def is_refusal(sentence: str) -> bool:
    """Whether the sentence says the sources do not answer ("The documents do not say.")."""
    return bool(_NON_CLAIM.search(strip_citations(sentence)))


# -- the check ---------------------------------------------------------------------
@dataclass
class _Prepared:
    source: Source
    folded: str
    numbers: set[str]
    terms: set[str]
    sentences: list[str]  # the source split into sentences, for the best quote
    sentence_terms: list[set[str]]
    columns: dict[int, int] = field(default_factory=dict)  # sentence -> column of embedded ones


@dataclass
class _Judgement:
    support: Support
    strength: float
    missing: list[str]
    quote: str
    sources: tuple[int, ...]


def check_answer(text: str, sources: Sequence[Source], embedder: Embedder | None,
                 question: str = "") -> list[AnswerSentence]:
    """Split ``text`` into sentences and mark each one against ``sources``.

    Numbers and names that the ``question`` itself states ("Who approves a trip of
    EUR 12,000?") need not occur in a source: an answer repeating them is
    restating the question, not claiming them.

    ``embedder`` may be None (lexical evidence only, e.g. when the embedding model
    failed to load).
    """
    spans = split_sentences(text)
    if not spans:
        return []
    by_number = {s.number: s for s in sources}
    prepared = {s.number: _prepare(s) for s in sources}
    claims = [strip_citations(text[a:b]) for a, b in spans]

    claim_terms = [content_terms(c) for c in claims]
    given = {_fact_key(f) for f in facts(question)} if question else set()
    sim: np.ndarray | None = None
    if embedder is not None and sources:
        # Only the source sentences sharing most words with some answer sentence are
        # embedded: a few per claim instead of every sentence of every passage.
        batch = list(claims)
        for terms in claim_terms:
            ranked = sorted(((len(terms & st), -j, p.source.number, j)
                             for p in prepared.values()
                             for j, st in enumerate(p.sentence_terms)), reverse=True)
            for overlap, _, number, j in ranked[:CANDIDATES_PER_CLAIM]:
                p = prepared[number]
                if overlap and j not in p.columns:
                    p.columns[j] = len(batch) - len(claims)
                    batch.append(p.sentences[j])
        vectors = np.asarray(embedder.embed(batch), dtype=np.float32)
        sim = vectors[: len(claims)] @ vectors[len(claims):].T

    out: list[AnswerSentence] = []
    for i, ((a, b), claim) in enumerate(zip(spans, claims, strict=True)):
        raw = text[a:b]
        cited, invalid = parse_citations(raw, by_number)
        cited = tuple(n for n in cited if n in by_number)
        model_cites = tuple(Citation(n, "model") for n in cited)
        if not is_claim(raw):
            out.append(AnswerSentence(
                raw, a, b, model_cites, Support.SUPPORTED,
                "Not a factual claim." if not _NON_CLAIM.search(claim)
                else "Not a factual claim: it says what the sources do not contain.",
                invalid))
            continue
        row = sim[i] if sim is not None else None
        sentence_facts = [f for f in facts(claim) if _fact_key(f) not in given]
        terms = claim_terms[i]
        judged = _judge(claim, terms, sentence_facts, [prepared[n] for n in cited], row) \
            if cited else None
        if judged is None or judged.support is not Support.SUPPORTED:
            best = max((_judge(claim, terms, sentence_facts, [p], row) for p in prepared.values()),
                       key=lambda j: (_rank(j.support), j.strength), default=None)
            floor = judged.support if judged else Support.UNCITED
            if best is not None and best.support in (Support.SUPPORTED, Support.WEAK) \
                    and _rank(best.support) > _rank(floor):
                n = best.sources[0]
                why = (f"The model cited {_refs(cited)}, but this is " if cited
                       else "Not cited by the model; ")
                found = "found in" if best.support is Support.SUPPORTED else "partly found in"
                out.append(AnswerSentence(
                    raw, a, b, (Citation(n, "check"),), best.support,
                    f"{why}{found} [{n}]: “{best.quote}”", invalid))
                continue
        if judged is None:
            why = "No source says this, and the model cited none."
            if best is not None and best.strength >= WEAK_AT and best.missing:
                listed = ", ".join(f"“{m}”" for m in best.missing[:3])
                why = (f"Not cited by the model; the closest passage, [{best.sources[0]}], "
                       f"does not contain {listed}.")
            out.append(AnswerSentence(raw, a, b, (), Support.UNCITED, why, invalid))
            continue
        out.append(AnswerSentence(raw, a, b, model_cites, judged.support,
                                  _evidence(judged, cited), invalid))
    return out


def _rank(s: Support) -> int:
    return {Support.UNCITED: 0, Support.UNSUPPORTED: 1, Support.WEAK: 2, Support.SUPPORTED: 3}[s]


def _refs(numbers: Sequence[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def _evidence(j: _Judgement, cited: tuple[int, ...]) -> str:
    refs = _refs(cited)
    if j.missing:
        listed = ", ".join(f"“{m}”" for m in j.missing[:3])
        verb = "does" if len(j.missing) == 1 else "do"
        return f"{listed} {verb} not appear in {refs}."
    if j.support is Support.SUPPORTED:
        return f"Found in {_refs(j.sources)}: “{j.quote}”"
    if j.support is Support.WEAK:
        return f"Only partly found in {refs}; closest: “{j.quote}”"
    return f"Not found in {refs}; closest: “{j.quote}”"


def _prepare(source: Source) -> _Prepared:
    text = source.text
    sentences = [text[a:b] for a, b in split_sentences(text)] or [text]
    # The prompt names each passage's document (its title or file name): "Q3 2022" or
    # "Amazon" taken from there is backed by the source as the model was shown it.
    named = f"{getattr(source, 'title', '') or ''} {source.file.rsplit('/', 1)[-1]} {text}"
    folded = fold(named)
    sentences = [" ".join(s.split()) for s in sentences]
    return _Prepared(source, folded, set(number_values(folded)), content_terms(named), sentences,
                     [content_terms(s) for s in sentences])


def _chinese(text: str) -> bool:
    return cjk_share(text) >= CROSS_SCRIPT_SHARE


def _judge(claim: str, terms: set[str], sentence_facts: list[str], group: list[_Prepared],
           sim_row: np.ndarray | None) -> _Judgement:
    """How well the sources in ``group`` together back ``claim``."""
    covered = set().union(*(p.terms for p in group)) if group else set()
    lexical = len(terms & covered) / len(terms) if terms else 0.0
    missing = [f for f in sentence_facts
               if not any(_has_fact(f, p.folded, p.numbers) for p in group)]
    best_sim, quote = 0.0, ""
    for p in group:
        k = max(range(len(p.sentences)), key=lambda j: len(terms & p.sentence_terms[j]))
        s = 0.0
        if sim_row is None:
            s = lexical
        elif p.columns:
            k, column = max(p.columns.items(), key=lambda kc: sim_row[kc[1]])
            s = float(sim_row[column])
        if s >= best_sim or not quote:
            best_sim, quote = s, p.sentences[k]
    strength = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(best_sim, 0.0)
    if group and sentence_facts and not missing and all(
            _chinese(p.source.text) != _chinese(claim) for p in group):
        # "39 years old" for a Chinese passage saying "39 岁": words and the English-only
        # embedding cannot match across languages, so the facts alone judge, and weakly.
        strength = max(strength, WEAK_AT)
    if missing:
        support = Support.UNSUPPORTED
    elif strength >= SUPPORTED_AT:
        support = Support.SUPPORTED
    elif strength >= WEAK_AT:
        support = Support.WEAK
    else:
        support = Support.UNSUPPORTED
    if len(quote) > QUOTE_CHARS:
        quote = quote[: QUOTE_CHARS - 1].rstrip() + "…"
    return _Judgement(support, strength, missing, quote,
                      tuple(p.source.number for p in group))


# -- what the question asks about ------------------------------------------------------
# "Who is the chief executive officer of Northwind?", "Who was the head of the committee?":
# the role is what the answer must hold. A passage naming the chief financial officer
# answers another question, and a small model readily gives that name.
_ROLE_EN = re.compile(
    r"^\s*who\s+(?:is|was|are|were)\s+(?:the|a|an|its|their)\s+(?P<role>[a-z][a-z\-]*"
    r"(?:\s+[a-z][a-z\-]*){0,3}?)\s+(?:of|at|for|in|on)\b", re.IGNORECASE)
_ROLE_EN_POSSESSIVE = re.compile(
    r"^\s*who\s+(?:is|was|are|were)\s+\S.*?['’]s\s+(?P<role>[a-z][a-z\-]*(?:\s+[a-z][a-z\-]*){0,3})"
    r"\s*\??\s*$", re.IGNORECASE)
_ROLE_STOP = frozenset({"name", "one", "person", "people", "man", "woman", "first", "last"})


def asked_role(question: str) -> str:
    """The role a "who is the …" question asks about ("chief executive officer"), or ""."""
    q = question.strip()
    if in_chinese(q):
        if "谁" not in q:
            return ""
        m = re.match(rf"^.*的(?P<role>[{HAN_CHARS}]{{2,8}})是谁[？?]?\s*$", q) or \
            re.match(rf"^谁是.*的(?P<role>[{HAN_CHARS}]{{2,8}})[？?]?\s*$", q)
        return m.group("role") if m else ""
    m = _ROLE_EN.match(q) or _ROLE_EN_POSSESSIVE.match(q)
    if not m:
        return ""
    words = [w for w in m.group("role").split() if w.lower() not in STOP_WORDS]
    if not words or any(w.lower() in _ROLE_STOP for w in words):
        return ""
    return " ".join(words)


def mentions(role: str, sources: Sequence[Source]) -> bool:
    """Whether some sentence of ``sources`` names ``role``: every word of it (or its
    initials, "CEO"), or the Chinese term itself."""
    if CJK.search(role):
        return any(fold(role) in fold(s.text) for s in sources)
    words = role.lower().split()
    roots = {root(w) for w in words}
    initials = "".join(w[0] for w in words) if len(words) > 1 else ""
    for s in sources:
        for a, b in split_sentences(s.text):
            terms = content_terms(s.text[a:b])
            if roots <= terms or (initials and initials in terms):
                return True
    return False


_TITLE = re.compile(r"\b[A-Z][a-z]+(?:[ \t]+(?:of[ \t]+|and[ \t]+|for[ \t]+)?[A-Z][a-z]+){1,4}\b")
_ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")


def neighbour_role(role: str, sources: Sequence[Source]) -> str:
    """A title in ``sources`` of the same kind as ``role`` but another one: "Chief
    Financial Officer" for "chief executive officer", "首席财务官" for "首席执行官"
    (English: a capitalized title sharing the role's last word and another of its words,
    and holding a word the role lacks; its initials; Chinese: a term with the role's first
    two and last characters). "" when there is none.

    A role merely worded otherwise ("the last Prime Minister" for "the final prime
    minister") is no neighbour: only a title holding a word the question does not say,
    while the question holds one the title does not, names someone else."""
    if CJK.search(role):
        if len(role) < 3:
            return ""
        pattern = re.compile(re.escape(role[:2]) + rf"[{HAN_CHARS}]{{1,4}}" + re.escape(role[-1]))
        for s in sources:
            for m in pattern.finditer(s.text):
                if m.group(0) != role:
                    return m.group(0)
        return ""
    words = role.lower().split()
    roots = {root(w) for w in words}
    head = root(words[-1])
    # "CEO" for "chief executive officer"; a one-word role as short as an acronym is one.
    initials = ("".join(w[0] for w in words) if len(words) > 2
                else words[0] if len(words) == 1 and len(words[0]) <= 4 else "").upper()
    for s in sources:
        for m in _TITLE.finditer(s.text):
            title = {root(w) for w in m.group(0).lower().split() if w not in STOP_WORDS}
            if head in title and len(title & roots) >= 2 and title - roots and roots - title:
                return m.group(0)
        if initials:
            for m in _ACRONYM.finditer(s.text):
                a = m.group(0)
                if a != initials and len(a) == len(initials) and a[0] == initials[0] \
                        and a[-1] == initials[-1]:
                    return a
    return ""


def unmentioned_role(question: str, sources: Sequence[Source]) -> tuple[str, str]:
    """(the role asked about, the other title the sources name instead) when no source
    names the role a "who is the …" question asks for but one names a neighbouring role
    ("Who is the chief executive officer?" over a policy naming only the chief financial
    officer); ("", "") otherwise.

    Only where the sources are in the question's script: a Chinese question over
    English passages names its role in other words than they do."""
    role = asked_role(question)
    if not role or not sources:
        return "", ""
    same_script = [s for s in sources if bool(CJK.search(s.text)) == bool(CJK.search(role))]
    if not same_script or mentions(role, same_script):
        return "", ""
    other = neighbour_role(role, same_script)
    return (role, other) if other else ("", "")
