"""The ask pipeline with a scripted model and retriever; one end-to-end run with real models."""

from __future__ import annotations

import dataclasses
import json

import pytest

from models.base import StopReason
from models.decoding import preset
from rag import grounding
from rag.asking import answer_question, retrieval_query
from rag.render import format_answer
from rag.types import Hit, Support, Turn
from tests.fakes import FakeLLM
from tests.test_grounding import HashingEmbedder


class FakeRetriever:
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.queries: list[str] = []

    def search(self, question: str, k: int, relevance_floor: float | None = None) -> list[Hit]:
        self.queries.append(question)
        return [h for h in self.hits if relevance_floor is None or h.score >= relevance_floor][:k]


HITS = [
    Hit(1, "policies/travel.pdf", 3, 120, 260,
        "Northwind's travel budget for 2023 is $45,000. Economy class is required for "
        "flights under 6 hours.", 0.82),
    Hit(2, "policies/it.md", None, 0, 80,
        "Laptops are replaced every 4 years. The IT helpdesk is run by Maria Lopez.", 0.55),
    Hit(3, "minutes.txt", None, 0, 40, "The board met on 4 May 2023.", 0.1),
]
DECODING = dataclasses.replace(preset("precise"), max_tokens=128)


def ask(llm, question="What is the travel budget for 2023?", history=(), hits=HITS, floor=0.3):
    retriever = FakeRetriever(hits)
    answer = answer_question(question, history, retriever=retriever, llm=llm,
                             embedder=HashingEmbedder(), k=5, relevance_floor=floor,
                             decoding=DECODING)
    return answer, retriever


def test_an_answer_is_checked_sentence_by_sentence_with_numbered_sources():
    llm = FakeLLM(ttft_s=0.5)
    llm.enqueue("The travel budget for 2023 is $45,000 [1]. Laptops are replaced every 4 years. "
                "The budget doubles in 2024 [1][5].")
    answer, _ = ask(llm)
    assert [s.number for s in answer.sources] == [1, 2]  # the passage below the floor is left out
    assert "travel.pdf:\n[1] " in llm.calls[0][-1]["content"]
    supported, attributed, invented = answer.sentences
    assert supported.support is Support.SUPPORTED and supported.citations[0].origin == "model"
    assert attributed.citations[0].source == 2 and attributed.citations[0].origin == "check"
    assert invented.support is Support.UNSUPPORTED and invented.invalid_citations == (5,)
    assert "[5]" in answer.note
    assert answer.stats.prompt_s == 0.5 and answer.stats.stop_reason == "finished"
    assert answer.stats.completion_tokens > 0 and answer.stats.check_s > 0
    json.dumps(answer.to_json())  # the CLI's --json output
    shown = format_answer(answer)
    assert "⚠ unsupported" in shown and "→ [2]" in shown
    assert "[1] policies/travel.pdf, p. 3" in shown


def test_nothing_above_the_floor_is_refused_without_asking_the_model():
    llm = FakeLLM()
    answer, _ = ask(llm, "Who won the 1998 World Cup?", floor=0.9)
    assert answer.refused and llm.calls == []
    assert "do not seem to cover" in answer.text
    assert [s.file for s in answer.sources] == ["policies/travel.pdf", "policies/it.md",
                                                "minutes.txt"]
    assert "relevance floor of 0.90" in answer.sentences[0].evidence
    assert "Closest passages:" in format_answer(answer)


def test_a_chinese_question_is_refused_in_chinese():
    answer, _ = ask(FakeLLM(), "谁赢得了1998年世界杯？", hits=[])
    assert answer.refused and "文档中没有找到" in answer.text and answer.sources == []


def test_a_follow_up_is_searched_with_the_question_before_it_and_sees_the_history():
    llm = FakeLLM()
    llm.enqueue("The documents do not say.")
    history = [Turn("What is the travel budget for 2023?", "It is $45,000 [1].")]
    answer, retriever = ask(llm, "And in 2022?", history=history)
    assert retriever.queries == ["What is the travel budget for 2023? And in 2022?"]
    roles = [m["role"] for m in llm.calls[0]]
    assert roles == ["system", "user", "assistant", "user"]
    assert llm.calls[0][2]["content"] == "It is $45,000."
    assert answer.sentences[0].support is Support.SUPPORTED  # a refusal is not a false claim


def test_standalone_questions_are_searched_as_asked():
    history = [Turn("What is the travel budget for 2023?", "$45,000")]
    q = "Which company runs the IT helpdesk for the Shanghai office?"
    assert retrieval_query(q, history) == q
    follow_up = retrieval_query("那2022年呢？", [Turn("2023年的差旅预算是多少？", "4.5万")])
    assert follow_up == "2023年的差旅预算是多少？ 那2022年呢？"


def test_a_repetition_stop_is_noted():
    llm = FakeLLM()
    llm.enqueue("Budget budget budget")
    real_generate = llm.generate

    def looping(*args, **kwargs):
        g = real_generate(*args, **kwargs)
        return dataclasses.replace(g, stop_reason=StopReason.REPETITION)

    llm.generate = looping
    answer, _ = ask(llm)
    assert answer.stats.stop_reason == "repetition"
    assert "repeating itself" in answer.note


@pytest.mark.slow
def test_the_default_model_answers_from_the_sample_folder_with_a_valid_citation(
        tmp_path, monkeypatch, default_model_path):
    from rag.engine import Engine
    from rag.settings import ModelSettings, RetrievalSettings, Settings
    from tests.conftest import EXAMPLES

    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path))
    # The session's copy of the default model: a fresh data folder would join 1.1 GB again.
    settings = Settings(model=ModelSettings(model=str(default_model_path), ctx=4096),
                        retrieval=RetrievalSettings(k=3))
    with Engine(settings) as engine:
        engine.index(EXAMPLES)
        answer = engine.ask("What is the per diem for international travel?",
                            decoding=dataclasses.replace(preset("precise"), max_tokens=48))
    assert not answer.refused and answer.text
    cited = {c.source for s in answer.sentences for c in s.citations}
    by_number = {s.number: s for s in answer.sources}
    assert cited <= set(by_number)
    assert any("75" in by_number[n].text for n in cited), format_answer(answer)
    assert answer.stats.prompt_tokens > 0 and answer.stats.check_s < answer.stats.generate_s


ROLE_HITS = [
    Hit(1, "travel-policy.pdf", 2, 0, 160,
        "Trips above EUR 10,000 are approved by the Chief Financial Officer, Marcus Lindqvist. "
        "Client entertainment is limited to EUR 90 per person.", 0.8),
    Hit(2, "报销制度.md", None, 0, 40, "单笔超过人民币1000元的报销由首席财务官王丽审批。", 0.7),
]


@pytest.mark.parametrize("question, said", [
    ("Who is the chief executive officer of Northwind Traders?",
     "do not say who the chief executive officer is (they name the Chief Financial Officer)"),
    ("公司的首席执行官是谁？", "文档中没有提到首席执行官（只提到了首席财务官）"),
])
def test_a_role_only_its_neighbour_is_named_for_is_refused_without_the_model(question, said):
    """A small model shown only the chief financial officer names him as chief executive."""
    llm = FakeLLM()
    answer, _ = ask(llm, question, hits=ROLE_HITS)
    assert said in answer.text and answer.refused and llm.calls == []
    assert answer.sources and "model was not asked" in answer.note
    assert "Closest passages:" in format_answer(answer)


def test_a_role_the_sources_name_is_answered_by_the_model():
    llm = FakeLLM()
    llm.enqueue("Marcus Lindqvist is the Chief Financial Officer [1].")
    answer, _ = ask(llm, "Who is the chief financial officer of Northwind?", hits=ROLE_HITS)
    assert not answer.refused and len(llm.calls) == 1
    assert answer.text.startswith("Marcus Lindqvist")


def test_the_english_refusal_to_a_chinese_question_is_shown_in_chinese():
    llm = FakeLLM()
    llm.enqueue("The documents do not say.")
    answer, _ = ask(llm, "董事会的成员有哪些人？")
    assert answer.text == "文档中没有说明。" and answer.model_text == "The documents do not say."
    assert not any(grounding.is_claim(s.text) for s in answer.sentences)


CELL_HITS = [
    Hit(1, "chloroplast.txt", None, 0, 200,
        "Somewhere around a billion years ago, a free-living cyanobacterium entered an early "
        "eukaryotic cell, either as food or as an internal parasite.", 0.8),
    Hit(2, "handbook.md", None, 0, 120,
        "Full-time employees have 30 days of paid holiday per year. Sick leave of more than "
        "3 days needs a doctor's note.", 0.7),
]


def test_an_answer_to_a_misspelled_question_is_not_taken_for_another_topic():
    """The question's "what kind of" and "long ago" frame it, and "cynaobacteria" is the
    source's cyanobacterium: the backed answer is shown, not replaced by a refusal."""
    llm = FakeLLM()
    llm.enqueue("A free-living cyanobacterium entered an early eukaryotic cell [1].")
    answer, _ = ask(llm, "What kind of cell did cynaobacteria enter long ago?", hits=CELL_HITS)
    assert answer.text.startswith("A free-living cyanobacterium entered an early eukaryotic")


def test_an_answer_about_another_topic_is_still_not_shown():
    llm = FakeLLM()
    llm.enqueue("Employees get 30 days of paid holiday per year [2].")
    answer, _ = ask(llm, "How many weeks of parental leave do employees get?", hits=CELL_HITS)
    assert "30 days" not in answer.text and "something else" in answer.note
