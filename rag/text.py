"""Text rules shared by the lexical index, the support check, prompts, evidence and answers.

One home for each rule, because two slightly different copies are two
behaviours: which characters are Chinese (CJK), how text is folded before it is
compared (full-width digits and letters become ASCII), which English words
carry no meaning, how a word is stemmed, how numbers compare by value, and what
a citation mark ``[n]`` looks like.

The stemmer and the CJK range also decide what the lexical index holds:
changing them changes what ``rag.lexical`` writes, which must bump
``rag.lexical.VERSION``.
"""

from __future__ import annotations

import re
import unicodedata

# CJK_CHARS (Han and kana) and HAN_CHARS are defined in the model layer, which needs them
# too and cannot import rag (see models.cjk); this module is where the core finds them.
from models.cjk import CJK as CJK
from models.cjk import CJK_CHARS as CJK_CHARS
from models.cjk import HAN as HAN
from models.cjk import HAN_CHARS as HAN_CHARS

CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*[A-Za-z]|[A-Za-z]")

# English words too common to be evidence. The lexical index drops them from
# questions only; the support check and evidence selection from both sides.
STOP_WORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it it's its itself
    just me might more most must my no nor not now of off on once only or other our ours out
    over own same shall she should so some such than that the their theirs them then there
    these they this those through to too under until up very was we were what when where which
    while who whom whose why will with without would you your yours s t d ll m re ve""".split()  # noqa: SIM905
)
# Characters that carry no meaning alone in a Chinese question (particles, pronouns).
CJK_STOP_CHARS = frozenset("的了是在和与或及也都而就吗呢吧啊么什哪谁几个这那之其")
# The words that make a Chinese sentence a question ("什么", "哪个", "多少"): they say what is
# asked, not what the passage holds, and their bigrams with the neighbouring characters
# ("的什", "么著") match passages by chance.
CJK_QUESTION_WORDS = re.compile(
    r"为什么|什么|怎么|怎样|如何|多少|是否|哪[里儿些个一位种]?|谁|吗|呢|何时|何处|请问"
    r"|几[个次天年月日号人位岁名种]"
)


def fold(text: str) -> str:
    """Text as compared: NFKC (full-width digits and letters become ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def stem(word: str) -> str:
    """A minimal English plural stemmer (after Lucene's EnglishMinimalStemmer).

    Plurals only: "budgets" finds "budget", while "approved" and "approves" stay
    apart, which keeps the index exact and the check conservative.
    """
    word = word.replace("’", "'").removesuffix("'s")
    if len(word) < 4 or word[-1] != "s":
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith(("us", "ss")):
        return word
    return word[:-1]


def root(word: str) -> str:
    """A looser stem for matching an answer to a question or source ("approve",
    "approved", "approves" and "approving" share "approv"; "die" and "died" share
    "di"); the lexical index keeps :func:`stem`."""
    word = word.replace("’", "'").removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("es", "s", "ed", "ing"):
        if len(word) >= len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 2 and word.endswith("e") else word


def cjk_share(text: str) -> float:
    """The share of ``text``'s letters that are CJK characters (0 for no letters).

    Text without any CJK character (most of what is indexed) is answered by one regex
    search: counting letters in Python costs a few percent of embedding time."""
    if not CJK.search(text):
        return 0.0
    letters = sum(1 for c in text if c.isalpha())
    return len(CJK.findall(text)) / letters if letters else 0.0


def in_chinese(text: str) -> bool:
    """Whether a question or answer is written in Chinese (more CJK characters than words)."""
    return len(CJK.findall(text)) >= max(1, len(re.findall(r"[A-Za-z]+", text)))


# -- numbers -------------------------------------------------------------------------
NUMBER = re.compile(r"(?<![A-Za-z\d.,])\d+(?:[,，]\d{3})*(?:\.\d+)?")


def number_values(text: str) -> list[str]:
    """The numbers in ``text`` by value: "1,200" and "1200.00" are both "1200"."""
    out = []
    for raw in NUMBER.findall(unicodedata.normalize("NFKC", text)):
        n = raw.replace(",", "").replace("，", "")
        if "." in n:
            n = n.rstrip("0").rstrip(".")
        out.append(n)
    return out


# -- content words -------------------------------------------------------------------
# "U.N." is the word "un" (the question says "UN"); a hyphen or dash joins two words
# ("Cretaceous-Paleogene" in a question, "Cretaceous–Paleogene" in the passage).
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")


def content_terms(text: str, skip_chars: frozenset[str] = frozenset()) -> set[str]:
    """The words of ``text`` that carry meaning, as the support check, evidence selection
    and highlighting compare them: Latin words stemmed by :func:`root` less stop words,
    numbers by value, and Chinese character pairs (a lone character when a run has one);
    pairs holding one of ``skip_chars`` (question words such as 多少) are left out."""
    folded = _DOTTED.sub(lambda m: m.group(0).replace(".", "") + " ", fold(text))
    words = [w for word in LATIN_WORD.findall(folded) for w in word.split("-")]
    terms = {root(w) for w in words if w not in STOP_WORDS and len(w) > 1}
    terms |= set(number_values(folded))
    for run in CJK_RUN.findall(folded):
        pairs = [run[i : i + 2] for i in range(len(run) - 1)] or [run]
        terms |= {p for p in pairs if not (set(p) & skip_chars)}
    return terms


# -- citation marks ------------------------------------------------------------------
# "[1]", "[1, 3]", "[1-3]", "[Source 2]", full-width "【1】" and "［1］".
CITATION = re.compile(
    r"[\[［【]\s*(?:(?:sources?|refs?|references?|passages?|来源|资料|文档)\s*[:：#]?\s*)?"
    r"(\d{1,3}(?:\s*(?:[-–~～]|,|，|、|;|；|and|和)\s*\d{1,3})*)\s*[\]］】]",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(\d+)\s*[-–~～]\s*(\d+)")
MAX_RANGE = 20  # "[1-3]" expands; a range wider than this is taken as a typo, not a citation


def citation_numbers(body: str) -> list[int]:
    """The numbers one citation mark's body names ("1-3" is 1, 2, 3), in order."""
    out: list[int] = []
    for r in _RANGE.finditer(body):
        a, b = int(r.group(1)), int(r.group(2))
        out.extend(range(a, b + 1) if 0 <= b - a <= MAX_RANGE else (a, b))
    out.extend(int(x) for x in re.findall(r"\d+", _RANGE.sub(" ", body)))
    return out


_CITATION_RUN = re.compile(r"\s*(?:" + CITATION.pattern + r")", re.IGNORECASE)


def strip_citations(text: str) -> str:
    """``text`` without its citation marks, whitespace runs made single spaces.

    A mark goes with the space before it ("$45,000 [1]." becomes "$45,000."), except
    between two words, which stay apart ("a[1]b" becomes "a b").
    """
    text = _CITATION_RUN.sub(lambda m: " " if _joins_words(m) else "", text)
    return re.sub(r"\s+", " ", text).strip()


def _joins_words(m: re.Match) -> bool:
    s, a, b = m.string, m.start(), m.end()
    return a > 0 and b < len(s) and (s[a - 1].isalnum() or s[a].isspace()) and s[b].isalnum()


def only_citations(text: str) -> bool:
    """True for an answer that is nothing but citation marks and punctuation ("[1] [2].")."""
    return bool(CITATION.search(text)) and not re.search(r"\w", strip_citations(text))


# -- sentences of a passage ---------------------------------------------------------
_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9\u3400-\u9fff])|(?<=[。！？；])[”’」』）]*\s*"
    r"|\n\s*\n\s*|\n(?=\s*(?:[-*•·]|\d{1,2}[.)、])\s)"
)
_ABBREV = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|no|nos|p|pp|vol|fig|mr|mrs|ms|dr|prof|inc|corp|co|ltd|st|jr|sr"
    r"|approx|dept|u\.s|u\.k)|\b[A-Z])\.$",
    re.IGNORECASE,
)
MIN_SENTENCE_CHARS = 8
# A "sentence" this long is a list ("Politics: U.N. Secretary General Ban Ki-moon; American
# political leaders John Hancock, …; …"): its items, split at semicolons, are the units
# a question is answered by and a reader is shown (Chinese "；" always ends a unit).
LIST_SENTENCE_CHARS = 300
_LIST_ITEM_END = re.compile(r"(?<=;)\s+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a passage, English and Chinese, exact slices.

    Table rows and list lines become sentences of their own; a period after a
    known abbreviation or an initial does not end one.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if (
            m.start() > 0
            and _ABBREV.search(text[max(0, m.start() - 8) : m.start()])
            and text[m.start() - 1] == "."
        ):
            continue
        _add(text, spans, start, m.start())
        start = m.end()
    _add(text, spans, start, len(text))
    spans = [piece for span in spans for piece in _list_items(text, *span)]
    # Very short pieces ("1.", a lone heading word) join the sentence after them.
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and merged[-1][1] - merged[-1][0] < MIN_SENTENCE_CHARS:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _list_items(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """A long sentence split into its semicolon-separated items; a short one as it is."""
    if b - a < LIST_SENTENCE_CHARS:
        return [(a, b)]
    out: list[tuple[int, int]] = []
    start = a
    for m in _LIST_ITEM_END.finditer(text, a, b):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, b))
    return out


def trim_span(text: str, a: int, b: int) -> tuple[int, int]:
    """``(a, b)`` without the whitespace at either end (empty, ``a == b``, when all is space)."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _add(text: str, spans: list[tuple[int, int]], a: int, b: int) -> None:
    a, b = trim_span(text, a, b)
    if a < b:
        spans.append((a, b))
