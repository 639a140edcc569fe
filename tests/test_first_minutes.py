"""Suggested first questions and the supporting sentence, both without a model."""

from __future__ import annotations

from rag.highlight import sentences, supporting_span
from rag.suggest import first_questions


def test_questions_come_from_different_documents_and_their_headings():
    outline = [
        ("policy/travel.pdf", "Northwind Travel Policy", "3. Per diem rates"),
        ("policy/travel.pdf", "Northwind Travel Policy", "4. Hotels"),
        ("it/security.md", "IT Security Handbook", "Passwords"),
        ("notes.txt", "", ""),
    ]
    qs = first_questions(outline)
    assert qs == [
        "What does Northwind Travel Policy say about per diem rates?",
        "What does IT Security Handbook say about passwords?",
        "What is notes about?",
    ]


def test_headings_that_repeat_the_title_or_ask_already_are_used_as_they_are():
    outline = [
        ("it.docx", "Northwind IT Equipment and Holidays 2024", "IT Equipment and Holidays 2024"),
        ("faq.html", "Product FAQ", "Can I return products?"),
    ]
    assert first_questions(outline) == [
        "What is Northwind IT Equipment and Holidays 2024 about?",
        "Can I return products?",
    ]


def test_fewer_documents_give_fewer_or_deeper_questions():
    assert first_questions([]) == []
    two = first_questions([("a.md", "Plan", "Budget"), ("a.md", "Plan", "Risks")])
    assert two == ["What does Plan say about budget?", "What does Plan say about risks?"]


def test_the_sentence_sharing_the_claims_words_is_chosen():
    passage = (
        "Travel must be approved in advance. The per diem abroad is EUR 60 per day, "
        "paid after return. Receipts are kept for seven years."
    )
    start, end = supporting_span(passage, ["The per diem for trips abroad is EUR 60 [1]."])
    assert passage[start:end] == "The per diem abroad is EUR 60 per day, paid after return."
    assert supporting_span(passage, ["Unrelated zebra"]) is None


def test_chinese_sentences_split_on_their_own_punctuation():
    text = "差旅需要提前批准。海外每日津贴为六十欧元。收据保存七年。"
    spans = [text[a:b] for a, b in sentences(text)]
    assert spans == ["差旅需要提前批准。", "海外每日津贴为六十欧元。", "收据保存七年。"]
    a, b = supporting_span(text, ["海外每日津贴是多少"])
    assert text[a:b] == "海外每日津贴为六十欧元。"
