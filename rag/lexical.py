"""Word tokens for the lexical (BM25) index, for English, Chinese and a mix of both.

The default embedding model is English-only, so for Chinese the lexical index
carries retrieval. Chinese has no spaces: runs of CJK characters become their
overlapping character bigrams plus the single characters. Bigrams need no
dictionary, never split a word the wrong way, and any word of two or more
characters in a question matches the same bigrams in a passage.

Latin text becomes lowercased word tokens with a minimal plural stemmer
("budgets" finds "budget"). Numbers stay findable as written: ``2023``,
``4.5`` and ``$1,200`` (indexed as ``1200``, so "1,200" and "1200" both match).

Tokens contain only letters, digits and ``.``, so they survive SQLite's
``unicode61`` tokenizer (with ``.`` as a token character) unchanged when joined
by spaces. :data:`VERSION` is stored with an index: changing what this module
produces must bump it, which makes old indexes rebuild instead of silently
missing matches.
"""

from __future__ import annotations

import re
import unicodedata

VERSION = 1

# CJK ideographs (with extension A and compatibility ideographs) and Japanese kana.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    r"|(?P<num>\d+(?:[.,]\d+)*)"
    rf"|(?P<word>[^\W\d_{_CJK}]+(?:\d+[^\W\d_{_CJK}]*)*)",
)
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")

# Words too common to be evidence; dropped from questions only, so the index
# stays complete and a query of only such words simply has no lexical side.
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before
    being between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself
    just me more most my no nor not now of off on once only or other our ours out over own
    same she should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who
    whom why will with would you your yours s t d ll m re ve""".split()  # noqa: SIM905
)
# Characters that carry no meaning alone in a Chinese question (particles, pronouns).
_CJK_STOP_CHARS = frozenset("的了是在和与或及也都而就吗呢吧啊么什哪谁几个这那之其")


def _stem(word: str) -> str:
    """A minimal English plural stemmer (after Lucene's EnglishMinimalStemmer)."""
    if len(word) < 4 or word[-1] != "s":
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith(("us", "ss")):
        return word
    return word[:-1]


def _normalize(text: str) -> str:
    # NFKC folds full-width digits and letters (common in Chinese text) to ASCII.
    return unicodedata.normalize("NFKC", text).lower()


def _scan(text: str, for_query: bool) -> list[str]:
    out: list[str] = []
    for m in _TOKEN.finditer(_normalize(text)):
        kind = m.lastgroup
        raw = m.group()
        if kind == "word":
            if for_query and raw in STOPWORDS:
                continue
            out.append(_stem(raw))
        elif kind == "num":
            if _THOUSANDS.match(raw):
                out.append(raw.replace(",", ""))
            else:
                out.extend(raw.split(","))  # "2022,2023" is two numbers
        else:
            out.extend(_cjk_tokens(raw, for_query))
    return out


def _cjk_tokens(run: str, for_query: bool) -> list[str]:
    bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
    if for_query:
        # Any word of two or more characters matches through its bigrams; single
        # characters would match most of a Chinese collection and are only kept
        # where the run is one character long.
        if bigrams:
            return bigrams
        return [] if run in _CJK_STOP_CHARS else [run]
    return list(run) + bigrams


_CJK_CHAR = re.compile(f"[{_CJK}]")


def cjk_share(text: str) -> float:
    """The share of ``text``'s letters that are CJK characters (0 for no letters)."""
    letters = sum(1 for c in text if c.isalpha())
    return len(_CJK_CHAR.findall(text)) / letters if letters else 0.0


def tokenize(text: str) -> list[str]:
    """Every token of ``text``, in order, as written into the index."""
    return _scan(text, for_query=False)


def index_text(*parts: str) -> str:
    """The space-joined tokens of a passage and its context, for the FTS table."""
    return " ".join(tokenize("\n".join(p for p in parts if p)))


def query_tokens(text: str) -> list[str]:
    """The distinct tokens of a question that count as evidence, in order."""
    return list(dict.fromkeys(_scan(text, for_query=True)))
