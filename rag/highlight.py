"""Which sentence of a cited passage supports a claim, so the viewer can mark it strongly.

The passage is what retrieval found; the sentence inside it that shares the most
informative words with the answer sentence is the one a reader wants to see first.
Offsets are into the passage's own text, so the viewer can place them on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.text import CJK, STOP_WORDS, sentence_spans, strip_citations

_WORD = re.compile(r"[\w][\w.,%$€£-]*[\w%]|\w", re.UNICODE)


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, surrounding whitespace left out."""
    return sentence_spans(text)


def _terms(text: str) -> set[str]:
    words = {w.lower().strip(".,") for w in _WORD.findall(text)}
    terms = {w for w in words if w and w not in STOP_WORDS}
    cjk = CJK.findall(text)
    terms |= {a + b for a, b in zip(cjk, cjk[1:], strict=False)}
    return terms


def supporting_span(passage: str, claims: Iterable[str]) -> tuple[int, int] | None:
    """The passage sentence sharing the most words with any of ``claims`` (numbers and
    longer words weigh more); None when no sentence shares an informative word."""
    wanted = set()
    for claim in claims:
        wanted |= _terms(strip_citations(claim))
    if not wanted:
        return None
    best, best_score = None, 0.0
    for start, end in sentences(passage):
        got = _terms(passage[start:end]) & wanted
        score = sum(2.0 if any(c.isdigit() for c in t) else 1.0 + min(len(t), 10) / 10 for t in got)
        if score > best_score:
            best, best_score = (start, end), score
    return best
