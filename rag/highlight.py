"""Which sentence of a cited passage supports a claim, so the viewer can mark it strongly.

The passage is what retrieval found; the sentence inside it that shares the most
informative words with the answer sentence is the one a reader wants to see first.
Offsets are into the passage's own text, so the viewer can place them on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s+|(?<=[。！？；])|\n\s*\n|\n(?=\s*[-•*\d])")
_WORD = re.compile(r"[\w][\w.,%$€£-]*[\w%]|\w", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_STOP = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "which",
        "what",
        "who",
        "how",
        "when",
        "where",
        "does",
        "do",
        "did",
        "per",
    )
)


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, surrounding whitespace left out."""
    out = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    spans = []
    for a, b in out:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))
    return spans


def _terms(text: str) -> set[str]:
    words = {w.lower().strip(".,") for w in _WORD.findall(text)}
    terms = {w for w in words if w and w not in _STOP}
    cjk = _CJK.findall(text)
    terms |= {a + b for a, b in zip(cjk, cjk[1:], strict=False)}
    return terms


def supporting_span(passage: str, claims: Iterable[str]) -> tuple[int, int] | None:
    """The passage sentence sharing the most words with any of ``claims`` (numbers and
    longer words weigh more); None when no sentence shares an informative word."""
    wanted = set()
    for claim in claims:
        wanted |= _terms(re.sub(r"\[\d+\]", "", claim))
    if not wanted:
        return None
    best, best_score = None, 0.0
    for start, end in sentences(passage):
        got = _terms(passage[start:end]) & wanted
        score = sum(2.0 if any(c.isdigit() for c in t) else 1.0 + min(len(t), 10) / 10 for t in got)
        if score > best_score:
            best, best_score = (start, end), score
    return best
