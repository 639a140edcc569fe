"""Financial statements by their many names: one home for the vocabulary.

A question says "income statement", "P&L" or "statement of financial position";
the filing's page says "Consolidated Statements of Earnings" or "CONSOLIDATED
BALANCE SHEETS" (or, where the PDF lost its spaces, "CONSOLIDATEDBALANCESHEETS")
and then holds nothing but line items and numbers. Neither the lexical index nor
the embedding model connects the two, so the page is found only by luck.

This module names each statement kind once, in plain generic accounting
vocabulary (English and Chinese; nothing about any company): the kind a page is
(its top lines name one statement, and the page is mostly numbers, so it is the
statement itself rather than an index or a discussion of it), and the kinds a
question asks for. Indexing tags a statement page's heading with the kind's
plain name, so every chunk of the page carries it into both indexes; retrieval
lifts the tagged pages of the kinds a question names.
"""

from __future__ import annotations

import re

from rag.text import HAN_CHARS

# (plain name, patterns over the squashed text: lowercase letters and CJK only). The plain
# name is what a question most often says; it is also the tag put on a page's heading.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "balance sheet",
        (
            r"balancesheets?",
            r"statements?of(?:consolidated)?financial(?:position|condition)",
            r"statements?ofcondition",
            r"资产负债表",
        ),
    ),
    (
        "comprehensive income statement",
        (r"statements?of(?:consolidated)?comprehensive(?:income|loss|earnings)", r"综合收益表"),
    ),
    (
        "income statement",
        (
            r"incomestatements?",
            r"statements?of(?:consolidated)?(?:income|earnings|operations)",
            r"profitandloss",
            r"利润表",
            r"损益表",
        ),
    ),
    (
        "cash flow statement",
        (r"statements?of(?:consolidated)?cashflows?", r"cashflowstatements?", r"现金流量表"),
    ),
    (
        "equity statement",
        (
            r"statements?of(?:changesin)?(?:stockholders|shareholders|owners|total)?equity",
            r"statements?ofchangesin(?:stockholders|shareholders)?equity",
            r"所有者权益变动表",
            r"股东权益变动表",
        ),
    ),
)
_KIND_RES = tuple((name, re.compile("|".join(pats))) for name, pats in KINDS)
_PL = re.compile(r"\bP\s*&\s*L\b|\bP/L\b")
_SQUASH = re.compile(f"[^a-z{HAN_CHARS}]+")
_TAG = re.compile(r"^\[(" + "|".join(re.escape(n) for n, _ in KINDS) + r")\]")

TOP_CHARS = 400  # of a page read for the statement's name
MIN_NUMBER_SHARE = 0.22  # of a page's words that are numbers, for it to be a statement
_WORD = re.compile(r"[^\W_]+(?:[.,]\d+)*")
_NUMBER = re.compile(r"^\d[\d.,]*$")


def _kinds_in(text: str) -> list[str]:
    """The statement kinds named in ``text``, in the order they first occur."""
    squashed = _SQUASH.sub("", text.lower())
    found = []
    for name, pattern in _KIND_RES:
        m = pattern.search(squashed)
        if m:
            found.append((m.start(), name))
    return [name for _, name in sorted(found)]


def question_kinds(question: str) -> frozenset[str]:
    """The statements a question asks to be read ("using the cash flow statement and the
    P&L, ..."): empty when it names none."""
    kinds = set(_kinds_in(question))
    if _PL.search(question):
        kinds.add("income statement")
    return frozenset(kinds)


def page_kind(text: str) -> str:
    """The statement a page is, or "": its top lines name exactly one statement and most of
    the page is numbers. An index of the statements names several; a page discussing the
    cash flows is words."""
    kinds = _kinds_in(text[:TOP_CHARS])
    if len(set(kinds)) != 1:
        return ""
    words = _WORD.findall(text)
    if len(words) < 20:
        return ""
    numbers = sum(1 for w in words if _NUMBER.match(w))
    return kinds[0] if numbers >= MIN_NUMBER_SHARE * len(words) else ""


def tagged(heading: str, kind: str) -> str:
    """``heading`` led by the statement's plain name ("[income statement] Consolidated
    Statements of Earnings"), so the words a question uses are in the page's context (first,
    where a long context is cut to fit the embedding window)."""
    return f"{tag(kind)} {heading}" if heading else tag(kind)


def tag(kind: str) -> str:
    """How a heading tagged with ``kind`` begins."""
    return f"[{kind}]"


def heading_kind(heading: str) -> str:
    """The statement kind a heading was tagged with by :func:`tagged`, or ""."""
    m = _TAG.search(heading)
    return m.group(1) if m else ""
