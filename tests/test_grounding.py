"""Sentence splitting, citation parsing and the support check, with a word-hashing embedder."""

from __future__ import annotations

import numpy as np
import pytest

from rag.grounding import (
    check_answer,
    content_terms,
    facts,
    is_claim,
    parse_citations,
    split_sentences,
    unmentioned_role,
)
from rag.types import Source, Support


class HashingEmbedder:
    """Bag of content words hashed into a vector: similar wording, similar vector."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 512), np.float32)
        for i, t in enumerate(texts):
            for w in content_terms(t):
                out[i, sum(map(ord, w)) * 7919 % 512] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


SOURCES = [
    Source(1, 10, "travel.pdf", 3, 0, 100,
           "Northwind's travel budget for 2023 is $45,000. Economy class is required for "
           "flights under 6 hours.", 0.9),
    Source(2, 11, "it.md", None, 0, 80,
           "Laptops are replaced every 4 years. The IT helpdesk is run by Maria Lopez.", 0.8),
]


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize("text, valid, invalid", [
    ("Revenue rose [1].", (1,), ()),
    ("Revenue rose [1, 3].", (1, 3), ()),
    ("Revenue rose [1][2].", (1, 2), ()),
    ("Revenue rose [2-4].", (2, 3, 4), ()),
    ("Revenue rose [1] and fell [9].", (1,), (9,)),
    ("Revenue rose [0].", (), (0,)),
    ("收入增长【1】，利润下降［2］。", (1, 2), ()),
    ("See [Source 2].", (2,), ()),
    ("No citation here, only $1.5 and (3).", (), ()),
])
def test_citations_are_parsed(text, valid, invalid):
    assert parse_citations(text, 4) == (valid, invalid)


def test_english_sentences_split_on_ends_not_on_abbreviations_or_decimals():
    text = ("Sales were $1.5 billion, e.g. from phones [1]. See p. 3 for the table. "
            "Dr. Smith agreed! Was it J. Smith? Yes.[2] Next")
    assert sentences(text) == [
        "Sales were $1.5 billion, e.g. from phones [1].", "See p. 3 for the table.",
        "Dr. Smith agreed!", "Was it J. Smith?", "Yes.[2]", "Next"]


def test_chinese_sentences_split_on_full_width_ends():
    text = "新加坡的人口为560万。它位于东南亚！对吗？【1】最后一句"
    assert sentences(text) == ["新加坡的人口为560万。", "它位于东南亚！", "对吗？【1】", "最后一句"]


def test_list_items_are_sentences_and_a_lone_citation_joins_the_line_above():
    text = "Two rules:\n- Economy class only.\n- Budget is $45,000.\n[1]"
    assert sentences(text) == ["Two rules:", "Economy class only.", "Budget is $45,000.\n[1]"]


def test_offsets_point_into_the_answer():
    text = "First one [1]. Second one [2]."
    for s in check_answer(text, SOURCES, HashingEmbedder()):
        assert text[s.start:s.end] == s.text


def test_facts_are_numbers_dates_and_names():
    got = facts("In March 2023, Apple paid $1.5 billion to NVIDIA's Jensen Huang.")
    assert got == ["2023", "1.5", "March", "Apple", "NVIDIA", "Jensen", "Huang"]
    assert "黄仁勋" in facts("英伟达的首席执行官是黄仁勋。")


def test_a_sentence_copied_from_its_source_is_supported():
    emb = HashingEmbedder()
    [s] = check_answer("Northwind's travel budget for 2023 is $45,000 [1].", SOURCES, emb)
    assert s.support is Support.SUPPORTED
    assert [(c.source, c.origin) for c in s.citations] == [(1, "model")]
    assert "45,000" in s.evidence
    assert emb.calls == 1  # answer and source sentences embedded in one batch


@pytest.mark.parametrize("changed", [
    "Northwind's travel budget for 2023 is $55,000 [1].",  # amount
    "Northwind's travel budget for 2021 is $45,000 [1].",  # year
    "Contoso's travel budget for 2023 is $45,000 [1].",  # name
])
def test_the_same_sentence_with_a_changed_fact_is_not_supported(changed):
    [s] = check_answer(changed, SOURCES, HashingEmbedder())
    assert s.support is Support.UNSUPPORTED
    assert "not appear in [1]" in s.evidence


def test_changed_chinese_name_is_not_supported():
    text = "英伟达的首席执行官是黄仁勋，公司总部位于圣克拉拉。"
    src = [Source(1, 1, "a.txt", None, 0, len(text), text, 0.9)]
    ok, bad = check_answer("英伟达的首席执行官是黄仁勋【1】。英伟达的首席执行官是李开复【1】。",
                           src, HashingEmbedder())
    assert ok.support is Support.SUPPORTED
    assert bad.support is Support.UNSUPPORTED


def test_an_uncited_sentence_is_attributed_to_the_source_that_supports_it():
    [s] = check_answer("Laptops are replaced every 4 years.", SOURCES, HashingEmbedder())
    assert s.support is Support.SUPPORTED
    assert [(c.source, c.origin) for c in s.citations] == [(2, "check")]
    assert "Not cited by the model" in s.evidence


def test_a_wrong_citation_is_replaced_by_the_supporting_source():
    [s] = check_answer("The IT helpdesk is run by Maria Lopez [1].", SOURCES, HashingEmbedder())
    assert [(c.source, c.origin) for c in s.citations] == [(2, "check")]
    assert s.evidence.startswith("The model cited [1]")


def test_an_uncited_sentence_no_source_supports_is_marked_uncited():
    [s] = check_answer("Cats are great pets and often travel by train.", SOURCES,
                       HashingEmbedder())
    assert s.support is Support.UNCITED
    assert s.citations == ()


def test_out_of_range_citations_are_dropped_and_listed():
    [s] = check_answer("Laptops are replaced every 4 years [2][7].", SOURCES, HashingEmbedder())
    assert [c.source for c in s.citations] == [2]
    assert s.invalid_citations == (7,)


def test_sources_numbered_by_rank_with_gaps_are_cited_by_their_own_numbers():
    """A prompt that kept only the 4th and 5th hits shows them as [4] and [5]: citing [4]
    is valid and checked against that source, while [2] (not shown) is invalid."""
    from dataclasses import replace

    shown = [replace(SOURCES[0], number=4), replace(SOURCES[1], number=5)]
    [s] = check_answer("The IT helpdesk is run by Maria Lopez [5].", shown, HashingEmbedder())
    assert s.support is Support.SUPPORTED and s.invalid_citations == ()
    assert [(c.source, c.origin) for c in s.citations] == [(5, "model")]
    [bad] = check_answer("The IT helpdesk is run by Maria Lopez [2].", shown, HashingEmbedder())
    assert bad.invalid_citations == (2,)
    assert parse_citations("Revenue [4][5], costs [1].", {4, 5}) == ((4, 5), (1,))
    from rag.grounding import strip_copied_headers

    assert strip_copied_headers("[5] it.md: Laptops last 4 years.", {4, 5}) == \
        "Laptops last 4 years. [5]"


def test_refusal_sentences_are_not_flagged_as_claims():
    for text in ("The documents do not say.", "文档中没有提及这一点。", "Sure."):
        [s] = check_answer(text, SOURCES, HashingEmbedder())
        assert s.support is Support.SUPPORTED, text
        assert "Not a factual claim" in s.evidence


def test_works_without_an_embedder():
    ok, bad = check_answer("Laptops are replaced every 4 years [2]. Laptops are replaced every "
                           "9 years [2].", SOURCES, None)
    assert ok.support is Support.SUPPORTED
    assert bad.support is Support.UNSUPPORTED


def test_facts_stated_by_the_question_need_not_be_in_a_source():
    claim = "Maria Lopez runs the helpdesk for the 12 offices [2]."
    [without] = check_answer(claim, SOURCES, HashingEmbedder())
    [given] = check_answer(claim, SOURCES, HashingEmbedder(),
                           question="Who runs the helpdesk for the 12 offices?")
    assert without.support is Support.UNSUPPORTED and "“12”" in without.evidence
    assert given.support is not Support.UNSUPPORTED


def test_a_copied_source_header_becomes_a_citation():
    from rag.grounding import strip_copied_headers

    text = ("[1] travel-expense-policy.pdf, p. 2: The per diem abroad is EUR 75.\n"
            "[2] (报销制度.md): 境外出差每天补贴人民币400元。\n"
            "[3] faq.html: Shipping is free above EUR 500 [3].\n"
            "[9] other.pdf, p. 1: Not a source of this answer.\n"
            "[1] Hotels cost EUR 160 per night.")
    assert strip_copied_headers(text, 3).splitlines() == [
        "The per diem abroad is EUR 75. [1]",
        "境外出差每天补贴人民币400元。 [2]",
        "Shipping is free above EUR 500 [3].",
        "[9] other.pdf, p. 1: Not a source of this answer.",  # no source 9: left as it is
        "[1] Hotels cost EUR 160 per night.",  # not a header: no file name
    ]
    assert strip_copied_headers("[1] policy.pdf, p. 4:\nThe limit is EUR 90.", 1) == \
        "The limit is EUR 90."
    titled = ("[1] product-faq.html (Northwind Traders - Product FAQ): Shipping costs EUR 9.90.\n"
              "[2] 报销制度.md (北风贸易（上海）员工报销制度 · policy): 境外每天400元。")
    assert strip_copied_headers(titled, 2).splitlines() == [
        "Shipping costs EUR 9.90. [1]", "境外每天400元。 [2]"]


def test_a_copied_document_line_is_dropped():
    from rag.grounding import strip_copied_headers

    title = "Amazon.com, Inc. (AMZN) · quarterly report · Q3 2023"
    text = f"{title}:\n[1] Net sales were $143,083 million.\n{title}: AWS sales grew 12%. [2]"
    assert strip_copied_headers(text, 2, [title, "faq.html"]).splitlines() == [
        "[1] Net sales were $143,083 million.",
        "AWS sales grew 12%. [2]",
    ]
    assert strip_copied_headers("faq.html is the FAQ.", 1, ["faq.html"]) == "faq.html is the FAQ."


def test_a_fact_from_the_documents_name_is_backed_by_its_passage():
    text = "Online stores net sales were $51,129 million, up from $51,096 million."
    title = "Amazon.com, Inc. (AMZN) · quarterly report · Q1 2023, ended 2023-03-31"
    src = [Source(1, 1, "docs/2023 Q1 AMZN.pdf", 21, 0, len(text), text, 0.9, title=title)]
    claim = "Amazon's online stores net sales were $51,129 million in 2023 [1]."
    [s] = check_answer(claim, src, None)
    assert s.support is not Support.UNSUPPORTED, s.evidence
    [s] = check_answer(claim.replace("2023", "2021"), src, None)
    assert s.support is Support.UNSUPPORTED and "2021" in s.evidence


def test_an_english_answer_to_a_chinese_passage_is_judged_by_its_facts():
    """Words and the English-only embedding cannot match across languages: "39 years old"
    for "39 岁" is backed weakly by its number, and a changed number is not backed."""
    text = "培顿·曼宁成为史上首位带领两支不同球队多次进入超级碗的四分卫。 他以 39 岁高龄参赛。"
    source = [Source(1, 1, "p002.txt", None, 0, len(text), text, 0.9)]
    question = "培顿·曼宁参加第 50 届超级碗时多大？"
    (right,) = check_answer("39 years old [1]", source, HashingEmbedder(), question=question)
    (wrong,) = check_answer("40 years old [1]", source, HashingEmbedder(), question=question)
    assert right.support is Support.WEAK
    assert wrong.support is Support.UNSUPPORTED and "40" in wrong.evidence


POLICY = ("Trips from EUR 2,500 to EUR 10,000 need a director's approval. Trips above EUR "
          "10,000 are approved by the Chief Financial Officer, Marcus Lindqvist.")


@pytest.mark.parametrize("question, text, expected", [
    ("Who is the chief executive officer of Northwind Traders?", POLICY,
     ("chief executive officer", "Chief Financial Officer")),
    ("Who is Northwind's CEO?", POLICY.replace("Chief Financial Officer", "CFO"),
     ("CEO", "CFO")),
    ("Northwind的首席执行官是谁？", "单笔超过人民币1000元的报销由首席财务官王丽审批。",
     ("首席执行官", "首席财务官")),
    # The role asked about is named: the question is the model's to answer.
    ("Who is the chief financial officer of Northwind Traders?", POLICY, ("", "")),
    # Worded otherwise, and another title of another kind nearby: no neighbour.
    ("Who was the final Prime Minister of East Germany?",
     "The last Prime Minister of the GDR was Lothar de Maizière, later German Federal Minister.",
     ("", "")),
    # Not a question about a role.
    ("Who approves a trip that costs EUR 12,000?", POLICY, ("", "")),
    # A Chinese question over English passages words its role otherwise.
    ("Northwind的首席执行官是谁？", POLICY, ("", "")),
])
def test_a_role_no_source_names_is_found_beside_the_neighbouring_one(question, text, expected):
    source = [Source(1, 1, "travel.pdf", 1, 0, len(text), text, 0.9)]
    assert unmentioned_role(question, source) == expected


@pytest.mark.parametrize("reply, claim", [
    ("革命[1]", True),  # a two-character Chinese word is a whole answer
    ("Virginia [1]", True),
    ("好的。", False),
    ("Sure.", False),
    ("[1]", False),
    ("文档中没有说明。", False),
])
def test_a_bare_word_is_an_answer_and_a_courtesy_is_not(reply, claim):
    assert is_claim(reply) is claim
