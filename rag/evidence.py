"""Evidence first: the sentences in the retrieved passages that answer the question.

Small models often fail to state a fact the passage in front of them holds:
they reply "The documents do not say.", only "[1]", or copy the whole passage.
So Quarry finds the answering sentence itself, before the model writes, from
three signals:

* words: the share of the question's content words (Chinese character pairs)
  the sentence contains, each weighted by how rare it is among the candidate
  sentences (a company name every sentence repeats tells little);
* meaning: the cosine between the question and the sentence (one embedding
  batch for all candidates; the bundled model reads English only, so for
  Chinese the words carry most of the weight);
* the expected answer type: a "which year" question wants a sentence with a
  year the question does not already state, "who" a name, "how much" an amount,
  "where" a place; in English and Chinese.

The chosen sentences are shown under the answer as quoted evidence (file, page
and the sentence's character offsets within the page, so the viewer highlights
the sentence, not the whole passage), feed the compact prompt (the best
sentences with their neighbours, not whole chunks), and stand in for the model's
reply when that reply is not an answer (:func:`failure`). A question with
several parts ("What is the hotel limit in London, and who approves a trip?")
gets evidence per part, and each part is checked in the answer on its own.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.text import (
    CJK,
    CJK_QUESTION_WORDS,
    CJK_RUN,
    HAN_CHARS,
    STOP_WORDS,
    cjk_share,
    content_terms,
    fold,
    in_chinese,
    number_values,
    only_citations,
    sentence_spans,
    strip_citations,
)
from rag.types import Evidence, Source

# -- weights and thresholds (measured with bench/accuracy.py --evidence-only) ------------
WORD_WEIGHT = 0.5
MEANING_WEIGHT = 0.3
TYPE_WEIGHT = 0.2
STRONG_AT = 0.5  # a sentence at least this good may stand in for a non-answer
STRONG_COVERAGE = 0.5  # ... and it must hold this share of the question's (weighted) words
# ... or be this close in meaning. bench/accuracy.py --evidence-only --verbose: no best
# sentence for an unanswerable sample question comes near (at most 0.62; answering ones
# the model refused, 0.70 to 0.75)
STRONG_MEANING = 0.7
# A Chinese sentence rarely repeats every word of the question (the question's own words
# are cut by jieba, the sentence's pairs are all its pairs): this share counts as all.
CJK_FULL_COVERAGE = 0.8
MAX_CANDIDATES = 96  # sentences scored per question (the best passages' first)
COPY_SHARE = 0.7  # an answer holding this share of one passage is a copy of it
COPY_OF_ANSWER = 0.9  # ... and so is one this much of which comes from one passage
COPY_MIN_CHARS = 200  # shorter replies are answers, even when copied
PART_COVERAGE = 0.5  # an answer sentence holding this share of a part's words answers it
WORD_PAIRS_EXPONENT = 0.5  # each pair of a Chinese word of n pairs weighs n ** -this
QUOTED_WEIGHT = 2.0  # words the question quotes ("Model C", “社会阶级”) are what it is about
QUESTION_NUMBER_WEIGHT = 0.5  # numbers in a question are often conditions the source states
# as a range ("a trip of EUR 12,000" / "trips above EUR 10,000"): they weigh less

# -- the question ----------------------------------------------------------------------
_QUESTION_WORDS_ZH = (
    "什么|多少|哪些|哪个|哪里|哪儿|哪一|哪年|哪位|谁|几|何时|何处|如何|怎么|为什么|是否|吗|呢"
)
_PART_SPLIT = re.compile(
    r"[?？]\s*(?=\S)"
    r"|[,;，；]?\s+and\s+(?=(?:what|who|whom|which|when|where|why|how|is|are|does|do|did|can)\b)"
    r"|[,;]\s+(?=(?:what|who|whom|which|when|where|why|how)\b)"
    rf"|[，；]\s*(?:以及|并且|还有|另外)?\s*(?=[^，；。？]*(?:{_QUESTION_WORDS_ZH}))",
    re.IGNORECASE,
)
MIN_PART_TERMS = 2
_WH = r"\b(what|which|who|whom|whose|when|where|why|how)\b"
_ASKS = re.compile(rf"{_WH}|{_QUESTION_WORDS_ZH}", re.IGNORECASE)  # asks for a fact
_PART_ASKS = re.compile(  # ... or for yes or no
    rf"{_WH}|^\s*(is|are|was|were|does|do|did|can|could|will|would|should|has|have|had)\b"
    rf"|{_QUESTION_WORDS_ZH}",
    re.IGNORECASE,
)


def question_parts(question: str) -> list[str]:
    """The parts of a question that each ask for something ("X, and who Y?" is two)."""
    q = question.strip()
    pieces = [p.strip(" ,;，；?？") for p in _PART_SPLIT.split(q)]
    # An instruction around the question ("Compute or extract the answer...", "You are
    # an analyst...") asks for nothing of its own: it is not a part to answer.
    pieces = [p for p in pieces if p and _PART_ASKS.search(p)]
    if len(pieces) < 2 or any(len(_terms(p)) < MIN_PART_TERMS for p in pieces):
        return [q]
    return pieces


# "When imperialism changes a state's norms, what is it called?" asks "what", not "when":
# a leading clause before the question word only sets the scene.
_LEAD_CLAUSE = re.compile(
    r"^\s*(?:when|if|after|before|while|since|once|although|though|as)\b[^,?]*,\s*"
    r"(?=(?:what|which|who|whom|whose|where|when|how)\b)",
    re.IGNORECASE,
)
# "Who" inside a title or name ("Doctor Who", "The Who") asks nothing.
_NAMED_WHO = re.compile(r"\b([A-Z][\w'’-]*)\s+Who\b")
# "What type of city ..." asks for a kind of thing, not for a place or a person.
_CATEGORY = re.compile(
    r"\b(?:what|which) (?:\w+ )?(?:types?|kinds?|sorts?|forms?|categor(?:y|ies)|genres?) of\b"
    r"|什么(?:样的?|类型|种类)|哪(?:一|几)?[种类]"
)
# "What is it called?", "叫什么名字": the answer is a name the source gives something.
_ASKS_NAME = re.compile(
    r"\b(?:called|named|termed|known as|referred to as|the name of|name (?:for|of))\b"
    r"|叫什么|叫做什么|称为什么|称作什么|名称|名字|什么名|怎么称呼",
    re.IGNORECASE,
)
_NAMES_IT = re.compile(
    r"\b(?:called|named|termed|known as|referred to as|dubbed|name[sd]?)\b"
    r"|称为|称作|叫做|名为|名叫|名称|之称|命名|简称|又称|被称|叫",
    re.IGNORECASE,
)
# "Ergänzungsschulen are secondary schools run by ...": a sentence that opens with a name
# and says what it is names that thing too.
_NAMED_SUBJECT = re.compile(
    r"^\W*(?!(?:It|This|That|These|Those|They|There|He|She|The|A|An)\b)[A-Z][\w'’-]*"
    r"(?:\s[A-Z][\w'’-]*){0,3}\s(?:is|are|was|were)\b"
    r"|^\W*[A-Za-z][\w'’-]*(?:\s[A-Za-z][\w'’-]*){0,3}\s*是"
)
# "What is DECnet?", "DECnet是什么", "什么是Internet2": a short subject to define.
_DEFINE_EN = re.compile(
    r"^\s*what (?:is|are|was|were) (?:an? |the )?"
    r"(?P<x>[\w&.'’-]+(?: [\w&.'’-]+){0,3})\s*[?？]?\s*$",
    re.IGNORECASE,
)
_DEFINE_ZH = re.compile(
    r"^\s*(?:(?P<x>[^，。？?\s的]{1,12}?)\s*(?:是什么|是啥|指什么|是指什么)(?:意思|东西)?"
    r"|什么是\s*(?P<y>[^，。？?\s的]{1,12}))\s*[?？]?\s*$"
)


_QUOTED = re.compile(r'"([^"]{1,60})"|“([^”]{1,60})”|「([^」]{1,60})」|‘([^’]{1,60})’')


def defined_subject(question: str) -> str:
    """What a definition question asks to define ("DECnet" in "DECnet是什么"), or ""."""
    m = _DEFINE_EN.match(question) or _DEFINE_ZH.match(question)
    if not m:
        return ""
    return next((g for g in m.groups() if g), "").strip()


def answer_type(question: str) -> str | None:
    """What kind of fact the question asks for: year, date, person, amount, place, name
    (what something is called), definition (what a short subject is), or None."""
    question = _NAMED_WHO.sub(r"\1 _", _LEAD_CLAUSE.sub("", question))
    q = fold(question)
    if re.search(
        r"\b(which|what|in what) (year|decade|century)\b"
        r"|哪一?年|几几年|什么年份|哪个年代|哪些年|哪几年|年份",
        q,
    ):
        return "year"
    if re.search(
        r"^\s*when\b|\bwhen (is|was|did|does|do|are|were|will)\b|\bwhat date\b|\bby when\b"
        r"|什么时候|何时|哪一?天|几月|几号|哪个月|日期",
        q,
    ):
        return "date"
    if _CATEGORY.search(q):
        return None
    if _ASKS_NAME.search(q):
        return "name"
    if re.search(
        r"\b(who|whom|whose)\b|\b(which|what) (\w+ ){0,2}(person|people|man|woman|company|team"
        r"|president|king|queen|emperor|secretary|leader|author|writer|scientist|player|actor"
        r"|architect|designer|firm|band)\b"
        r"|谁|哪位|哪个人|什么人|哪[些个]?[^，。？?]{0,4}(科学家|总统|国王|皇帝|作家|作者|领导人"
        r"|秘书长|公司|球队|乐队|建筑师|设计师)",
        q,
    ):
        return "person"
    if re.search(
        r"\bhow (much|many|long|far|old|large|big|high|often)\b|\bwhat (percentage|"
        r"percent|share|amount|number|rate|price|cost|size|limit)\b|\bwhat is the "
        r"(total|amount|number|rate|price|cost|limit|minimum|maximum)\b"
        r"|\bwhat (is|was|are|were) the\b[^?]*\b(limit|cost|price|fee|rate|amount|budget"
        r"|allowance|total|percentage|revenue|income|margin|per diem)s?\b"
        r"|多少|几[个次天年人位岁]|多[大长久高远重]|比例|金额|费用|价格|上限|标准",
        q,
    ):
        return "amount"
    if re.search(
        r"\bwhere\b|\b(which|what) (\w+ ){0,2}(country|city|place|region|state|colony|county"
        r"|province|town|island|river|continent|nation|territory)\b|哪里|哪儿|在哪|何处"
        r"|哪[个块座片]?[^，。？?]{0,4}(国家|城市|地方|地区|省|州|县|殖民地|岛|河)",
        q,
    ):
        return "place"
    if defined_subject(question):
        return "definition"
    return None


_YEAR = re.compile(r"(?<!\d)(1[0-9]\d\d|20\d\d)(?!\d)|\d{1,4}\s*年")
_MONTH = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b"
    r"|\d{1,2}\s*[月日号]|\b\d{1,2}[:/.]\d{2}\b",
    re.IGNORECASE,
)
_AMOUNT = re.compile(r"\d")
_YEAR_VALUE = re.compile(r"1[0-9]\d\d|20\d\d")
_NAME = re.compile(r"(?<![\w])[A-Z][a-zA-Z\-'’]+(?:\s+[A-Z][a-zA-Z\-'’]+)*")
_ZH_PLACE = re.compile(rf"[{HAN_CHARS}]{{1,6}}(?:省|市|县|区|国|州|岛|山|河|湖|城)")


def has_type(sentence: str, kind: str | None, question: str) -> bool:
    """Whether ``sentence`` states a fact of the expected kind that the question does not
    (for a name: it says what something is called; for a definition: it says what the
    subject is)."""
    if kind == "name":
        return bool(_NAMES_IT.search(sentence) or _NAMED_SUBJECT.match(sentence))
    if kind == "definition":
        x = defined_subject(question)
        return bool(x) and bool(
            re.search(
                rf"{re.escape(x)}(?:e?s)?\W{{0,3}}(?:\s(?:is|are|was|were|refers to|means)\b"
                r"|\s*(?:是|指|即|为))",
                sentence,
                re.IGNORECASE,
            )
        )
    return bool(kind_facts(sentence, kind, question))


def kind_facts(sentence: str, kind: str | None, question: str) -> list[str]:
    """The facts of the expected kind ``sentence`` states that the question does not: the
    years, dates, amounts (as written) or names that could answer it."""
    if kind is None:
        return []
    q_numbers = set(number_values(question))
    if kind == "year":
        return [
            m.group(0)
            for m in _YEAR.finditer(sentence)
            if m.group(0) and re.sub(r"\D", "", m.group(0)) not in q_numbers
        ]
    if kind == "date":
        return [m.group(0) for m in _MONTH.finditer(sentence)] + kind_facts(
            sentence, "year", question
        )
    if kind == "amount":
        found = [n for n in number_values(sentence) if n not in q_numbers]
        if CJK.search(question):
            found += _CJK_AMOUNT.findall(sentence)
        else:
            found += [
                w for w in _EN_AMOUNT.findall(sentence) if w.lower() not in q_fold_words(question)
            ]
        return found
    if kind in ("person", "place"):
        q_fold = fold(question)
        # A Chinese sentence names people and firms in Latin letters too ("Energiprojekt AB").
        names = _cjk_names(sentence, q_fold, kind) if CJK.search(sentence) else []
        for m in _NAME.finditer(sentence):
            words = [w for w in m.group(0).split() if w.lower() not in STOP_WORDS]
            if (
                words
                and all(fold(w) not in q_fold for w in words)
                and not (m.start() == 0 and len(words) == 1)
            ):
                names.append(m.group(0))
        return names
    return []


# "The city has two universities", "None of the treaties ...": amounts in words. ("one" is
# left out: "one of the first gifts" says no amount.)
_EN_AMOUNT = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|twice|thrice|none)\b",
    re.IGNORECASE,
)


_NUMBER_WORDS = """zero one two three four five six seven eight nine ten eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen twenty""".split()  # noqa: SIM905
_WORD_VALUES = {w: str(i) for i, w in enumerate(_NUMBER_WORDS)} | {
    "none": "0",
    "dozen": "12",
    "twice": "2",
}


def q_fold_words(question: str) -> set[str]:
    """The question's Latin words, lower case (an amount it names is no answer)."""
    return set(re.findall(r"[a-z]+", fold(question)))


_CJK_AMOUNT = re.compile(r"[一二三四五六七八九十百千万亿两]+\s*[个次天年人位岁元%％倍]")


# jieba's tags for the names that answer "who" (a person or an organisation) and "where";
# "nz" (another proper noun: a title, a product) answers neither.
_KIND_TAGS = {"person": ("nr", "nt"), "place": ("ns", "nt")}


def _cjk_names(sentence: str, q_fold: str, kind: str) -> list[str]:
    from rag.grounding import cjk_names

    names = [n for n in cjk_names(sentence, _KIND_TAGS[kind]) if fold(n) not in q_fold]
    if not names and kind == "place":
        names = _ZH_PLACE.findall(sentence)
    return names


def states(answer: str, facts: Sequence[str]) -> bool:
    """Whether ``answer`` states one of ``facts`` (numbers by value, names by a word)."""
    a_fold = fold(strip_citations(answer))
    values = set(number_values(a_fold))
    for f in facts:
        if _WORD_VALUES.get(f.lower()) in values:
            return True  # "two" stated as "2"
        if re.fullmatch(r"[\d,.]+", f):
            if f in values:
                return True
        elif CJK.search(f):
            if fold(f) in a_fold:
                return True
        elif any(
            re.search(rf"(?<![a-z]){re.escape(fold(w))}(?![a-z])", a_fold)
            for w in f.split()
            if w.lower() not in STOP_WORDS
        ):
            return True
    return False


def misses_the_fact(answer: str, ev: Evidence, question: str) -> bool:
    """Whether the model's answer states none of the facts of the kind asked for ("who":
    a name, "which year": a year) that strong evidence for the question states: the model
    answered from another sentence, or with another fact, than the one that answers."""
    if not ev.strong:
        return False
    facts = kind_facts(ev.text, answer_type(question), question)
    return bool(facts) and not states(answer, facts)


AGREE_TOP = 3  # the model may have answered from one of this many best sentences ...
AGREE_SHARE = 0.8  # ... each scoring at least this share of the best one


def agreeing(
    selection: Selection, answer: str, question: str, shown: set[int]
) -> list[Evidence] | None:
    """The evidence to show for a one-part question when the model's answer states the
    fact of the kind asked for (the name, the year) that a near-best sentence holds and
    the best one does not: two sentences were nearly as good, and the one that backs the
    answer is the one to quote (quoting the other under a right answer misleads). None
    when the best sentence stays."""
    kind = answer_type(question)
    if kind not in _FACT_KINDS or len(selection.parts) != 1 or not answer.strip():
        return None
    ranked = [c for c in selection.ranked[0] if c.source.number in shown]
    if len(ranked) < 2 or states(answer, kind_facts(ranked[0].text, kind, question)):
        return None
    for c in ranked[1:AGREE_TOP]:
        if c.score < AGREE_SHARE * ranked[0].score:
            break
        facts = kind_facts(c.text, kind, question)
        if facts and states(answer, facts):
            return [c.evidence()]
    return None


_FACT_KINDS = ("year", "date", "person", "amount", "place")


# -- words ------------------------------------------------------------------------------
def _terms(text: str) -> set[str]:
    """Content words: Latin words (stemmed, less stop words), numbers, CJK character pairs.

    Chinese question words ("多少", "哪个") are taken out before pairing, so no pair
    holds one ("贴多" of "补贴多少"): the answer never contains them. Only the words
    themselves go: "八个地区" keeps its pair "八个", which a sentence can hold.
    """
    return content_terms(CJK_QUESTION_WORDS.sub(" ", text))


# -- selection -----------------------------------------------------------------------------
@dataclass
class Candidate:
    """One sentence of one source, with how well it answers (one part of) the question."""

    source: Source
    start: int  # offsets into source.text
    end: int
    text: str
    terms: set[str]
    context: frozenset[str] = frozenset()  # the words of the sentence it points back to
    back: tuple[int, str] | None = None  # that sentence's start and text
    score: float = 0.0
    coverage: float = 0.0
    meaning: float = 0.0
    typed: bool = False
    leans: bool = False  # some of its coverage comes from the sentence it points back to

    def evidence(self, part: str = "") -> Evidence:
        """The sentence as evidence; led by the sentence it points back to when question
        words it answers with are there ("… by changing its epitopes. This is called
        antigenic variation."): alone it would not say what it is about."""
        s = self.source
        start, text = self.start, self.text
        if self.back is not None and self.leans:
            start, text = self.back[0], f"{self.back[1]} {self.text}"
        return Evidence(
            source=s.number,
            file=s.file,
            page=s.page,
            start=s.start + start,
            end=s.start + self.end,
            text=text,
            score=round(self.score, 4),
            strong=is_strong(self),
            part=part,
        )


def is_strong(c: Candidate) -> bool:
    """Good enough to be shown as the answer when the model gave none: it holds most of
    the question's words, or says the same in other words ("the strongest effect on
    Jacksonville" for "the most significant impact on Jacksonville")."""
    return c.score >= STRONG_AT and (c.coverage >= STRONG_COVERAGE or c.meaning >= STRONG_MEANING)


# A sentence that opens by pointing back ("This is called antigenic variation.", "It is the
# third most populated ...", "这被称为抗原变异。") is about what the sentence before it names.
_POINTS_BACK = re.compile(
    r"^\W*(?:(?:this|these|that|those|it|its|such|they|their|he|she|his|her)\b|[这此该它其])",
    re.IGNORECASE,
)
CONTEXT_SHARE = 0.8  # a word only the sentence pointed back to holds counts at this share


def candidates(sources: Sequence[Source]) -> list[Candidate]:
    out: list[Candidate] = []
    for s in sources:
        previous: tuple[int, str, set[str]] | None = None
        for a, b in sentence_spans(s.text):
            text = s.text[a:b]
            terms = _terms(text)
            flat = " ".join(text.split())
            back = _POINTS_BACK.match(text) and previous
            context = frozenset(previous[2] - terms) if back else frozenset()
            out.append(
                Candidate(
                    s, a, b, flat, terms, context, (previous[0], previous[1]) if back else None
                )
            )
            previous = (a, flat, terms)
    return out[:MAX_CANDIDATES]


def _question_terms(question: str) -> dict[str, float]:
    """The question's content words, each with its share of a word: its Chinese pairs
    only within one word (jieba's cut), so "设计了美国" gives "设计" and "美国" but not
    "了美" or "计了", pairs across a word border that match any sentence by chance; and
    the pairs of one word share it ("高速公路" is one word, not three), as an English
    word is one term however long."""
    terms = dict.fromkeys(_terms(question), 1.0)
    if not CJK.search(question):
        return terms
    from rag.grounding import cjk_words

    inside: dict[str, float] = {}
    for w in cjk_words(question):
        pairs = {w[i : i + 2] for i in range(len(w) - 1)}
        for p in pairs:
            inside[p] = max(inside.get(p, 0.0), len(pairs) ** -WORD_PAIRS_EXPONENT)
    return {
        t: inside.get(t, 1.0)
        for t in terms
        if t in inside or not (len(t) == 2 and CJK_RUN.fullmatch(t))
    }


def score_candidates(question: str, cands: list[Candidate], embedder=None) -> None:
    """Score every candidate for ``question`` (one part), in place."""
    quoted = {t for m in _QUOTED.finditer(question) for t in _terms(next(filter(None, m.groups())))}
    share = _question_terms(question)
    share.update(dict.fromkeys(quoted - share.keys(), 1.0))
    q_terms = set(share)
    n = len(cands) or 1
    df = {t: sum(1 for c in cands if t in c.terms) for t in q_terms}
    # Rare words weigh more; a word no sentence holds still counts in the total, so a
    # question about something the passages never name cannot reach full coverage.
    # A year the question names ("the 1998 redesign") is named, not a threshold: it counts.
    numbers = {n for n in number_values(question) if not _YEAR_VALUE.fullmatch(n)}
    weight = {
        t: math.log(1.0 + n / (1.0 + df[t]))
        * share[t]
        * (QUESTION_NUMBER_WEIGHT if t in numbers else 1.0)
        * (QUOTED_WEIGHT if t in quoted else 1.0)
        for t in q_terms
    }
    total = sum(weight.values()) or 1.0
    full = 1.0
    if in_chinese(question):
        full = CJK_FULL_COVERAGE
    kind = answer_type(question)
    sims = _similarities(question, cands, embedder)
    best_rank = max((c.source.score for c in cands), default=1.0) or 1.0
    # The bundled embedder reads English only: its cosine between Chinese texts is mostly
    # noise, so for a Chinese question the words take over the meaning's weight.
    chinese = cjk_share(question)
    meaning_weight = MEANING_WEIGHT * (1.0 - chinese)
    word_weight = WORD_WEIGHT + MEANING_WEIGHT * chinese
    for c, sim in zip(cands, sims, strict=True):
        leaned = sum(w for t, w in weight.items() if t in c.context)
        covered = (
            sum(w for t, w in weight.items() if t in c.terms) + CONTEXT_SHARE * leaned
        ) / total
        c.leans = leaned > 0
        c.coverage = min(1.0, covered / full)
        c.meaning = max(0.0, float(sim)) * (1.0 - chinese)
        c.typed = has_type(c.text, kind, question)
        type_score = (1.0 if c.typed else 0.0) if kind else 0.5
        rank = c.source.score / best_rank
        c.score = (
            word_weight * c.coverage + meaning_weight * c.meaning + TYPE_WEIGHT * type_score
        ) * (0.9 + 0.1 * rank)


def _similarities(question: str, cands: list[Candidate], embedder) -> list[float]:
    if embedder is None or not cands:
        return [0.0] * len(cands)
    vectors = np.asarray(embedder.embed([question] + [c.text for c in cands]), dtype=np.float32)
    return list(vectors[1:] @ vectors[0])


@dataclass
class Selection:
    """The evidence for a question: per part, its candidates ranked best first."""

    parts: list[str]
    ranked: list[list[Candidate]]  # per part

    def best(self) -> list[Evidence]:
        """The best sentence of each part (two parts may share one)."""
        multi = len(self.parts) > 1
        return [
            ranked[0].evidence(part if multi else "")
            for part, ranked in zip(self.parts, self.ranked, strict=True)
            if ranked
        ]

    def sentence_scores(self) -> dict[tuple[int, int], float]:
        """(source number, sentence start) -> the best score it has for any part."""
        scores: dict[tuple[int, int], float] = {}
        for ranked in self.ranked:
            for c in ranked:
                key = (c.source.number, c.start)
                scores[key] = max(scores.get(key, 0.0), c.score)
        return scores


def select(question: str, sources: Sequence[Source], embedder=None) -> Selection:
    """Score the sentences of ``sources`` for each part of ``question``."""
    parts = question_parts(question)
    ranked: list[list[Candidate]] = []
    base = candidates(sources)
    for part in parts:
        cands = [dataclasses.replace(c) for c in base]
        score_candidates(part, cands, embedder)
        ranked.append(sorted(cands, key=lambda c: c.score, reverse=True))
    return Selection(parts, ranked)


# -- the compact prompt ------------------------------------------------------------------
NEIGHBOUR_SHARE = 0.8  # a neighbour of a chosen sentence ranks at this share of its score
MIN_SENTENCE_TERMS = 2  # a "sentence" with fewer content words is not sent to the model
MUST_SHARE = 0.5  # a source's best sentence is sent first only when it scores this share of
# the best sentence of all


def compact_passages(
    selection: Selection,
    sources: Sequence[Source],
    count_tokens: Callable[[str], int],
    budget: int,
    overheads: tuple[dict[int, int], dict[str, int]] | None = None,
) -> dict[int, str]:
    """What the model reads of each source: its best sentences with their neighbours.

    Every source whose best sentence is worth reading (at least ``MUST_SHARE`` of
    the best sentence's score: a passage of boilerplate retrieved for a shared word
    is left out) keeps that sentence (rank order, while the budget lasts; a source
    whose sentences are only a page number or a heading word is left out); then
    sentences are added best first, each bringing the sentence before and after
    it, until ``budget`` tokens are used. ``overheads`` (from
    :func:`rag.prompts.overheads`: tokens per source line and per document line)
    are counted when a sentence opens a source or a document, so the budget
    bounds all the model reads for the sources, names included. Chosen sentences
    are written in document order, and a gap between them is marked with "…".
    Returns source number -> text; a source missing from it did not fit.
    """
    scores = selection.sentence_scores()
    spans = {s.number: sentence_spans(s.text) for s in sources}
    by_number = {s.number: s for s in sources}
    per_source, per_document = overheads or ({}, {})
    top = max(scores.values(), default=0.0)
    priority: list[tuple[float, int, int]] = []  # (priority, source number, sentence index)
    for s in sources:
        ranked = sorted(
            range(len(spans[s.number])),
            key=lambda j: scores.get((s.number, spans[s.number][j][0]), 0.0),
            reverse=True,
        )
        for place, j in enumerate(ranked):
            score = scores.get((s.number, spans[s.number][j][0]), 0.0)
            must = place == 0 and score >= MUST_SHARE * top
            priority.append((score + (2.0 - s.number / 1000 if must else 0.0), s.number, j))
            for k in (j - 1, j + 1):
                if 0 <= k < len(spans[s.number]):
                    priority.append((score * NEIGHBOUR_SHARE, s.number, k))
    priority.sort(key=lambda t: t[0], reverse=True)
    chosen: dict[int, set[int]] = {}
    opened: set[str] = set()
    used = 0
    for _, number, j in priority:
        if j in chosen.get(number, set()):
            continue
        source = by_number[number]
        a, b = spans[number][j]
        if len(_terms(source.text[a:b])) < MIN_SENTENCE_TERMS:
            continue  # a page number or a lone heading word tells the model nothing
        cost = count_tokens(" ".join(source.text[a:b].split())) + 1
        if number not in chosen:
            cost += per_source.get(number, 0)
            if source.file not in opened:
                cost += per_document.get(source.file, 0)
        if used + cost > budget:
            continue
        used += cost
        chosen.setdefault(number, set()).add(j)
        opened.add(source.file)
    out: dict[int, str] = {}
    for number, picked in chosen.items():
        text = by_number[number].text
        parts: list[str] = []
        last = -1
        for j in sorted(picked):
            if last >= 0 and j != last + 1:
                parts.append("…")
            a, b = spans[number][j]
            parts.append(" ".join(text[a:b].split()))
            last = j
        if picked and max(picked) < len(spans[number]) - 1:
            parts.append("…")
        if picked and min(picked) > 0:
            parts.insert(0, "…")
        out[number] = " ".join(parts)
    return out


# -- the model's reply -------------------------------------------------------------------
def failure(
    model_text: str, sentences, sources: Sequence[Source], strong: bool, question: str = ""
) -> str:
    """Why the model's reply is not an answer to show, or "" when it is one.

    "empty", "citations" (only citation marks), "refusal" (says the documents do
    not answer, while strong evidence exists), "echo" (only restates the
    question: "What article was published in 1937?" / "The article was published
    in 1937.", while strong evidence exists), "copy" (a whole passage copied) or
    "unsupported" (no claim of it is backed by the sources: a changed figure, a
    sentence that answers something else, or a made-up answer to a question the
    sources do not cover) or "offtopic" (a backed sentence about something else than
    the question asks, while no strong evidence answers it: :func:`is_off_topic`).
    """
    text = model_text.strip()
    if not text:
        return "empty"
    if only_citations(text):
        return "citations"
    from rag.grounding import is_claim

    if strong and sentences and not any(is_claim(s.text) for s in sentences):
        return "refusal"
    claims = [s for s in sentences if is_claim(s.text)]
    if strong and claims and is_echo([s.text for s in claims], question):
        return "echo"
    if not strong and claims and is_off_topic([s.text for s in claims], question):
        return "offtopic"
    if is_copy(text, sources):
        return "copy"
    from rag.types import Support

    if claims and all(s.support in (Support.UNSUPPORTED, Support.UNCITED) for s in claims):
        return "unsupported"
    return ""


OFF_TOPIC_MIN_TERMS = 4  # a claim with this many words of its own is a sentence, not a bare answer
# Words that frame what is asked ("how many …", "what kind of …", "how long ago …"), not
# what the answer talks about.
_HOW_WORDS = frozenset(
    {"many", "much", "long", "far", "old", "often", "kind", "type", "sort", "ago"}
)
TYPO_MIN_CHARS = 6  # a question word this long is found in a word spelled nearly alike
TYPO_RATIO = 0.8  # ... at this similarity ("cynaobacteria" in "cyanobacterium")


def is_off_topic(claims: Sequence[str], question: str) -> bool:
    """Whether the reply answers another question: a full sentence that holds under half
    of the question's words ("Employees get 30 days of paid holiday" for "How many weeks
    of parental leave do employees get?"). Only English questions: a Chinese answer
    often words the question differently, and its character pairs then do not match."""
    if not question or in_chinese(question):
        return False
    asked = {t for t in _terms(question) - set(number_values(question)) if t not in _HOW_WORDS}
    if not asked:
        return False
    said = [_terms(strip_citations(c)) for c in claims]
    return (
        max(len(t) for t in said) >= OFF_TOPIC_MIN_TERMS
        and max(sum(_said(a, t) for a in asked) / len(asked) for t in said) < PART_COVERAGE
    )


def _said(word: str, terms: set[str]) -> bool:
    """Whether ``word`` of a question is in ``terms``, or a long word spelled nearly alike:
    questions are typed in a hurry ("cynaobacteria"), and the answer spells the source's way."""
    if word in terms:
        return True
    return len(word) >= TYPO_MIN_CHARS and any(
        len(t) >= TYPO_MIN_CHARS and difflib.SequenceMatcher(None, word, t).ratio() >= TYPO_RATIO
        for t in terms
    )


def is_echo(claims: Sequence[str], question: str) -> bool:
    """Whether every claim only restates a question that asks for something: no word,
    number or name in it that the question lacks. (A yes/no question may be answered
    in its own words, so only questions with a question word count.)"""
    if not claims or not _ASKS.search(question or ""):
        return False
    asked = _terms(question)
    return all((t := _terms(strip_citations(c))) and t <= asked for c in claims)


def is_copy(text: str, sources: Sequence[Source]) -> bool:
    """Whether ``text`` is a passage copied: most of one passage, in order, or a long
    reply that is nearly all copied from one passage (cut short by the token limit)."""
    bare = " ".join(strip_citations(text).split())
    if len(bare) < COPY_MIN_CHARS:
        return False
    for s in sources:
        passage = " ".join(s.text.split())
        m = difflib.SequenceMatcher(None, bare, passage, autojunk=False)
        same = sum(b.size for b in m.get_matching_blocks() if b.size >= 20)
        if same >= COPY_SHARE * len(passage) or same >= COPY_OF_ANSWER * len(bare):
            return True
    return False


def addresses(answer_text: str, part: str, ev: Evidence) -> bool:
    """Whether the model's answer speaks to ``part`` of the question.

    True when a sentence of the answer that makes a claim holds most of the
    part's own words (the model answered in its words), or when the evidence is
    strong and the answer states a number or name that evidence holds and the
    question does not (the amount, the year, the person).
    """
    from rag.grounding import is_claim, split_sentences

    claims = [answer_text[a:b] for a, b in split_sentences(answer_text)]
    claims = [strip_citations(c) for c in claims if is_claim(c)]
    if not claims:
        return False
    part_terms = _terms(part) - set(number_values(part))
    if part_terms and any(
        len(part_terms & _terms(c)) / len(part_terms) >= PART_COVERAGE for c in claims
    ):
        return True
    if not ev.strong:
        return False
    answer = " ".join(claims)
    given = set(number_values(part))
    wanted = [n for n in number_values(ev.text) if n not in given]
    if wanted and set(wanted) & set(number_values(answer)):
        return True
    q_fold, a_fold = fold(part), fold(answer)
    names = [m.group(0) for m in _NAME.finditer(ev.text) if fold(m.group(0)) not in q_fold]
    return any(fold(w) in a_fold for n in names for w in n.split() if w.lower() not in STOP_WORDS)


def distinct(evidence: Sequence[Evidence]) -> list[Evidence]:
    """Each sentence once (the first part it answers names it)."""
    seen: set[tuple[int, int]] = set()
    out = []
    for e in evidence:
        if (e.source, e.start) not in seen:
            seen.add((e.source, e.start))
            out.append(e)
    return out


def quote(evidence: Sequence[Evidence]) -> str:
    """The evidence as the answer: each sentence quoted, with its citation."""
    lines = []
    for e in evidence:
        q = f"“{e.text}” [{e.source}]"
        lines.append(f"{e.part}: {q}" if e.part else q)
    return "\n".join(lines)


def language_of(question: str) -> str:
    return "zh" if in_chinese(question) else "en"
