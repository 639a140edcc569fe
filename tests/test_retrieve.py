"""Hybrid retrieval: the lexical side (English numbers, Chinese), fusion, de-duplication,
scores, and the real embedder end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import lexical
from rag.retrieve import Retriever, relevance
from rag.store import IndexStore
from rag.types import Chunk

DIM = 8


class VectorsByQuery:
    """Stands in for the embedder where a test is about fusion: each query has a fixed vector."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def axis(i: int, mix: float = 0.0, j: int = 0) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[i] = 1.0
    v[j] += mix
    return v / np.linalg.norm(v)


@pytest.fixture
def store(tmp_path: Path):
    with IndexStore.open(tmp_path / "index", {"embedding_model": "fake", "dim": DIM}) as s:
        yield s


def add(store: IndexStore, rel: str, items: list[tuple[str, np.ndarray]], page: int | None = 1,
        step: int = 1000, overlap: int = 0, title: str | None = None) -> list[int]:
    title = rel if title is None else title
    chunks = [Chunk(rel, page, i * step, i * step + step + overlap, text, title=title)
              for i, (text, _) in enumerate(items)]
    return store.replace_file(rel, "h", 1, 1, chunks, np.stack([v for _, v in items]))


# -- the lexical tokenizer ---------------------------------------------------------
def test_tokens_keep_numbers_findable() -> None:
    assert lexical.tokenize("Budget: $1,200 (up 4.5% in 2023), see 10-Q.") == [
        "budget", "1200", "up", "4.5", "in", "2023", "see", "10", "q"]
    assert lexical.query_tokens("What was the budget of 1,200 in 2023?") == [
        "budget", "1200", "2023"]


def test_tokens_of_chinese_are_bigrams_and_characters_and_mix_with_english() -> None:
    assert lexical.tokenize("首都北京") == ["首", "都", "北", "京", "首都", "都北", "北京"]
    assert lexical.tokenize("Apple公司２０２３年") == ["apple", "公", "司", "公司", "2023", "年"]
    assert lexical.query_tokens("北京的人口") == ["北京", "京的", "的人", "人口"]


def test_chinese_question_words_are_not_searched_for() -> None:
    """What is asked ("什么", "哪个", "多少") is not in the passage; its bigrams with the
    characters around it ("的什", "么著") would match passages by chance."""
    assert lexical.query_tokens("路德的什么著作变得流行？") == [
        "路德", "德的", "著作", "作变", "变得", "得流", "流行"]  # fmt: skip
    assert lexical.query_tokens("谁是梅尔菲伯爵？") == ["是梅", "梅尔", "尔菲", "菲伯", "伯爵"]
    assert "多少" not in lexical.query_tokens("黑豹队有多少次拦截？")
    # The index keeps them: a passage may well say "什么".
    assert "什么" in lexical.tokenize("这是什么")


def test_plurals_and_case_meet() -> None:
    assert lexical.query_tokens("Policies for LAPTOPS") == lexical.tokenize("policy laptop")


# -- lexical search ----------------------------------------------------------------
def test_lexical_search_finds_chinese_by_two_characters_and_english_by_number(store) -> None:
    zh, en, other = add(store, "a.md", [
        ("北京是中华人民共和国的首都，也是全国的政治中心。", axis(0)),
        ("Northwind's travel allowance is $1,200 per trip and 4.5 days of leave.", axis(1)),
        ("Laptops are replaced every three years.", axis(2)),
    ])
    assert [i for i, _ in store.lexical_search("首都", 5)] == [zh]
    assert [i for i, _ in store.lexical_search("政治", 5)] == [zh]
    assert [i for i, _ in store.lexical_search("1,200", 5)] == [en]
    assert [i for i, _ in store.lexical_search("1200", 5)] == [en]
    assert [i for i, _ in store.lexical_search("4.5", 5)] == [en]
    assert store.lexical_search("the of and", 5) == []  # nothing but stopwords
    assert store.lexical_search("", 5) == []
    assert [i for i, _ in store.lexical_search("laptops", 5)] == [other]


# -- fusion, de-duplication, scores -----------------------------------------------------
def test_fusion_puts_a_passage_found_both_ways_first(store) -> None:
    dense_only, both, lexical_only = add(store, "f.txt", [
        ("Staff may spend money on flights.", axis(0)),
        ("The zebra budget pays for zebra flights.", axis(0, 0.4, 1)),
        ("A zebra appears in the annual report.", axis(2)),
    ])
    # Fillers push the lexical-only passage out of the dense candidates.
    add(store, "filler.txt", [(f"Filler passage number {i}.", axis(0, 2.0, 3)) for i in range(60)])
    r = Retriever(store, VectorsByQuery({"zebra": axis(0)}))
    hits = r.search("zebra", 3)
    # Second and third are close calls: the passage that writes the question's word as it
    # does comes before the one that only means something like it.
    assert [h.chunk_id for h in hits] == [both, lexical_only, dense_only]
    by_id = {h.chunk_id: h for h in hits}
    assert by_id[dense_only].lexical_rank is None
    assert by_id[both].lexical_rank == 1 and by_id[lexical_only].lexical_rank == 2
    assert by_id[dense_only].dense_score == pytest.approx(1.0, abs=1e-4)
    assert by_id[lexical_only].dense_score == pytest.approx(0.0, abs=1e-4)  # computed, not None
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert r.search("zebra", 1)[0].chunk_id == both


def test_overlapping_and_repeated_passages_come_back_once(store) -> None:
    # Dense similarity alone orders them (the query shares no word with them).
    first = add(store, "a.pdf", [
        ("Refunds are paid within 30 days of the request.", axis(0)),
        ("Refunds are paid within 30 days; after that, ask finance.", axis(0, 0.33, 1)),
        ("Separate passage about refunds on the next topic.", axis(0, 0.48, 1))],
        step=100, overlap=20)  # chunks 0 and 1 overlap by 20 characters, 1 and 2 too
    copy = add(store, "b.pdf", [("Refunds are paid  within 30 days of the  REQUEST.",
                                 axis(0, 0.62, 1))])
    elsewhere = add(store, "c.pdf", [("Refunds policy on another page.", axis(0, 0.75, 1))])
    hits = Retriever(store, VectorsByQuery({"xyzzy": axis(0)})).search("xyzzy", 10)
    assert [h.chunk_id for h in hits] == [first[0], first[2], elsewhere[0]]
    assert copy[0] not in [h.chunk_id for h in hits]
    assert [h.chunk_id for h in Retriever(store, VectorsByQuery({"xyzzy": axis(0)})).search(
        "xyzzy", 2)] == [first[0], first[2]]


def test_relevance_floor_removes_only_weak_hits(store) -> None:
    strong, weak = add(store, "a.txt", [("Holiday policy: 25 days of paid holiday.", axis(0)),
                                        ("Parking is free for visitors.", axis(3))])
    r = Retriever(store, VectorsByQuery({"holiday policy": axis(0)}))
    every = r.search("holiday policy", 5)
    assert {h.chunk_id for h in every} == {strong, weak}
    assert [h.chunk_id for h in every] == [strong, weak]
    scores = {h.chunk_id: h.score for h in every}
    assert scores[strong] > 0.9 and scores[weak] < 0.1
    assert [h.chunk_id for h in r.search("holiday policy", 5, relevance_floor=0.5)] == [strong]
    with pytest.raises(ValueError, match="k must be"):
        r.search("holiday policy", 0)


def test_search_on_an_empty_index_finds_nothing(store) -> None:
    assert Retriever(store, VectorsByQuery({"x": axis(0)})).search("x", 5) == []


def test_relevance_combines_dense_and_lexical_evidence() -> None:
    assert relevance(0.0, 0.0) == 0.0
    assert relevance(0.9, 0.0) == 1.0 and relevance(0.1, 1.0) == 1.0
    assert relevance(0.4, 0.0) < relevance(0.4, 0.3) < relevance(0.5, 0.3) < 1.0


# -- end to end with the real embedder ---------------------------------------------------
@pytest.fixture(scope="module")
def real_retriever(tmp_path_factory, embedder):  # noqa: F811
    passages = {
        "travel.md": ["Employees fly economy on trips shorter than six hours.",
                      "The 2023 travel budget of Northwind Traders is $1,200 per employee."],
        "it.html": ["Laptops are replaced every three years by the IT service desk.",
                    "Passwords must be at least 14 characters long."],
        "zh.txt": ["公司总部位于上海，员工每年享有十五天带薪年假。",
                   "报销申请须在出差结束后三十天内提交。"],
    }
    s = IndexStore.open(tmp_path_factory.mktemp("real") / "index",
                        {"embedding_model": embedder.model_id, "dim": embedder.dim})
    for rel, texts in passages.items():
        chunks = [Chunk(rel, None, i * 100, i * 100 + len(t), t, title=rel)
                  for i, t in enumerate(texts)]
        s.replace_file(rel, "h", 1, 1, chunks, embedder.embed(texts))
    yield Retriever(s, embedder)
    s.close()


@pytest.mark.slow
def test_real_search_finds_the_right_passage(real_retriever: Retriever) -> None:
    top = real_retriever.search("How often do we get new laptops?", 3)[0]
    assert top.file == "it.html" and "Laptops" in top.text and top.score > 0.5
    top = real_retriever.search("What was Northwind's travel budget in 2023?", 3)[0]
    assert "$1,200" in top.text and top.score > 0.5
    top = real_retriever.search("年假有多少天？", 3)[0]
    assert top.file == "zh.txt" and "年假" in top.text


@pytest.mark.slow
def test_real_unrelated_question_scores_below_a_relevant_one(real_retriever: Retriever) -> None:
    unrelated = real_retriever.search("What is the boiling point of mercury?", 3)
    related = real_retriever.search("password length rules", 3)
    assert related[0].score > 0.5 > unrelated[0].score
    assert real_retriever.search("What is the boiling point of mercury?", 3,
                                 relevance_floor=0.5) == []


# -- documents as a whole ----------------------------------------------------------
def test_a_question_naming_a_document_prefers_its_passages(store: IndexStore) -> None:
    """The passage that answers rarely repeats the company the question names; the
    document that holds it does (its cover page, its file name)."""
    same = axis(0)
    add(store, "2023 Q2 Contoso.pdf", [("Contoso Ltd quarterly report, second quarter.", axis(1)),
                                       ("Net revenue grew 8 percent on higher volume.", same)],
        title="Quarterly report")
    add(store, "2023 Q2 Fabrikam.pdf", [("Fabrikam Inc quarterly report, second quarter.",
                                         axis(2)),
                                        ("Net revenue grew 3 percent on higher volume.",
                                         axis(0, 0.3, 3))],  # a little less like the question
        title="Quarterly report")
    q = "How did Fabrikam's net revenue change?"
    retriever = Retriever(store, VectorsByQuery({q: same}))
    try:
        assert [f for f, _ in store.document_search(q, 5)][0] == "2023 Q2 Fabrikam.pdf"
        revenue = [h for h in retriever.search(q, k=4) if "revenue" in h.text]
        assert revenue[0].file == "2023 Q2 Fabrikam.pdf"
    finally:
        retriever.close()


def test_a_replaced_or_removed_file_leaves_the_document_ranking(store: IndexStore) -> None:
    add(store, "a.txt", [("The zeppelin hangar is in Friedrichshafen.", axis(0))])
    add(store, "b.txt", [("Bicycles are parked at the north gate.", axis(1))])
    assert [f for f, _ in store.document_search("zeppelin", 5)] == ["a.txt"]
    add(store, "a.txt", [("The hangar now stores bicycles.", axis(0))])
    assert store.document_search("zeppelin", 5) == []
    store.remove_file("b.txt")
    assert [f for f, _ in store.document_search("bicycles", 5)] == ["a.txt"]


class FixedMultilingual:
    """Stands in for the multilingual model where a test is about fusion: one query vector."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector

    def embed_query(self, text: str) -> np.ndarray:
        return self.vector


def test_the_multilingual_cosine_decides_between_passages_alike_in_words(
    store: IndexStore, monkeypatch
) -> None:
    """A Chinese passage that repeats the question's words (first lexically, and as a
    document, though not its phrases) loses to one the multilingual space puts clearly nearer
    the question (cosine 0.93 against 0.85), where ranks alone would keep the wordy one first."""
    from rag import multilingual, retrieve

    def unit(*xs: float) -> np.ndarray:
        v = np.array(xs + (0.0,) * (DIM - len(xs)), np.float32)
        return v / np.linalg.norm(v)

    [wordy] = add(
        store,
        "shop.txt",
        [("这家琴行的钢琴种类很多，琴键清洁剂的价格不同，钢琴新旧都有。", axis(0))],
    )
    [answer] = add(store, "piano.txt", [("标准钢琴共有八十八个黑白键。", axis(1))])
    store.set_ml_vectors([wordy, answer], np.stack([unit(0.85, 0.527), unit(0.93, 0, 0.368)]))
    monkeypatch.setattr(multilingual, "shared", lambda: FixedMultilingual(unit(1.0)))
    question = "钢琴有多少个琴键？"
    retriever = Retriever(store, VectorsByQuery({question: axis(2)}))
    assert store.lexical_search(question, 2)[0][0] == wordy
    assert [h.chunk_id for h in retriever.search(question, 2)] == [answer, wordy]
    monkeypatch.setattr(retrieve, "ML_COSINE_WEIGHT", 0.0)  # ranks alone
    assert [
        h.chunk_id
        for h in Retriever(store, VectorsByQuery({question: axis(2)})).search(question, 2)
    ] == [wordy, answer]


def test_a_passage_that_writes_the_questions_phrase_counts_it() -> None:
    from rag.lexical import phrase_grams, phrase_share

    grams = phrase_grams("谁赢得了第 49 届超级碗？")
    holds = phrase_share(grams, "以 20–18 击败了第49届超级碗卫冕冠军新英格兰爱国者队")
    scattered = phrase_share(grams, "他在 38 岁时带领野马队赢得第 33 届超级碗")
    assert holds > scattered > 0.0
    # Case, spacing and punctuation do not matter; nothing to compare is no evidence.
    assert phrase_share(phrase_grams("Super Bowl 50?"), "the SUPER-BOWL 50, in 2016") == 1.0
    assert phrase_share(phrase_grams("?"), "anything") == 0.0
