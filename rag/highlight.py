"""Which sentence of a cited passage supports a claim, so the viewer can mark it strongly.

The passage is what retrieval found; the sentence inside it that shares the most
informative words with the answer sentence is the one a reader wants to see first.
Words are compared as the support check compares them (``rag.text.content_terms``),
so the sentence marked is the one the check would count.
Offsets are into the passage's own text, so the viewer can place them on the page.
"""

from __future__ import annotations

from collections.abc import Iterable

from rag.text import content_terms, sentence_spans, strip_citations


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, surrounding whitespace left out."""
    return sentence_spans(text)


def supporting_span(passage: str, claims: Iterable[str]) -> tuple[int, int] | None:
    """The passage sentence sharing the most words with any of ``claims`` (numbers and
    longer words weigh more); None when no sentence shares an informative word."""
    wanted = set()
    for claim in claims:
        wanted |= content_terms(strip_citations(claim))
    if not wanted:
        return None
    best, best_score = None, 0.0
    for start, end in sentences(passage):
        got = content_terms(passage[start:end]) & wanted
        score = sum(2.0 if any(c.isdigit() for c in t) else 1.0 + min(len(t), 10) / 10 for t in got)
        if score > best_score:
            best, best_score = (start, end), score
    return best
