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

from rag.text import (
    CJK_CHARS,
    CJK_QUESTION_WORDS,
    CJK_STOP_CHARS,
    STOP_WORDS,
    cjk_share,
    fold,
    stem,
)

VERSION = 1
__all__ = [
    "VERSION",
    "cjk_share",
    "index_text",
    "phrase_grams",
    "phrase_share",
    "query_tokens",
    "tokenize",
]

_CJK = CJK_CHARS
_TOKEN = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    r"|(?P<num>\d+(?:[.,]\d+)*)"
    rf"|(?P<word>[^\W\d_{_CJK}]+(?:\d+[^\W\d_{_CJK}]*)*)",
)
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def _scan(text: str, for_query: bool) -> list[str]:
    out: list[str] = []
    text = fold(text)
    if for_query:
        text = CJK_QUESTION_WORDS.sub(" ", text)
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        raw = m.group()
        if kind == "word":
            # Stop words are dropped from questions only, so the index stays complete and a
            # query of only such words simply has no lexical side.
            if for_query and raw in STOP_WORDS:
                continue
            out.append(stem(raw))
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
        return [] if run in CJK_STOP_CHARS else [run]
    return list(run) + bigrams


def tokenize(text: str) -> list[str]:
    """Every token of ``text``, in order, as written into the index."""
    return _scan(text, for_query=False)


def index_text(*parts: str) -> str:
    """The space-joined tokens of a passage and its context, for the FTS table."""
    return " ".join(tokenize("\n".join(p for p in parts if p)))


def query_tokens(text: str) -> list[str]:
    """The distinct tokens of a question that count as evidence, in order."""
    return list(dict.fromkeys(_scan(text, for_query=True)))


# -- phrases ------------------------------------------------------------------
PHRASE_GRAM = 3  # characters in each run compared
_NOT_WORD = re.compile(r"[\W_]+")


def _letters(text: str) -> str:
    return _NOT_WORD.sub("", fold(text))


def phrase_grams(question: str) -> frozenset[str]:
    """The question's runs of :data:`PHRASE_GRAM` letters or digits, with case, spacing and
    punctuation left out, for :func:`phrase_share`."""
    s = _letters(question)
    return frozenset(s[i : i + PHRASE_GRAM] for i in range(len(s) - PHRASE_GRAM + 1))


def phrase_share(grams: frozenset[str], passage: str) -> float:
    """The share of a question's ``grams`` the passage holds verbatim (0..1).

    Tokens say which words a passage shares with the question, not whether it writes
    them as the question does: "第 49 届超级碗" and a neighbouring paragraph's
    "赢得第 33 届超级碗" cover the same bigrams, but only the first holds the phrase.
    """
    if not grams:
        return 0.0
    text = _letters(passage)
    return sum(g in text for g in grams) / len(grams)
