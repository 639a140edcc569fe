"""Chinese questions over English documents: translated by the loaded model (rag.translate),
searched in both wordings, cached; a search without a loaded model still works."""

from __future__ import annotations

import pytest

from rag.translate import QuestionTranslator, _clean

EN = {
    "piano.txt": "The piano is a keyboard instrument: hammers strike strings, and a modern piano "
    "has eighty-eight keys, fifty-two white and thirty-six black.",
    "rain.txt": "The Amazon rainforest covers most of the Amazon basin of South America and is "
    "the largest tropical rainforest in the world.",
    "laptops.txt": "Laptops are replaced every three years; lost devices are reported at once.",
    "tea.txt": "Green tea is made from leaves that are steamed or pan-fired soon after picking, "
    "so they do not oxidise.",
}


def test_only_cjk_questions_are_translated_and_answers_are_cleaned() -> None:
    calls = []

    def with_model(work):
        calls.append(1)
        return None  # no model loaded

    t = QuestionTranslator(with_model)
    assert t.english("How many keys does a piano have?") is None
    assert calls == []  # an English question never asks for the model
    assert t.english("钢琴有多少个键？") is None
    assert calls == [1]
    assert _clean('Translation: "How many keys does a piano have?"\nNote: ...') == (
        "How many keys does a piano have?"
    )
    assert _clean("钢琴有多少个键？") == ""  # answered in Chinese: no use


@pytest.mark.slow
def test_a_chinese_question_finds_the_english_passage(tmp_path, monkeypatch, default_model_path):
    from rag.engine import Engine
    from rag.settings import ModelSettings, Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in EN.items():
        (docs / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(model=ModelSettings(model=str(default_model_path), ctx=2048))
    questions = {
        "现代钢琴有多少个琴键？": "piano.txt",
        "世界上最大的热带雨林是哪一个？": "rain.txt",
    }
    with Engine(settings) as engine:
        engine.index(docs)
        # Without a loaded model the search still answers (on the Chinese words alone).
        assert len(engine.search("现代钢琴有多少个琴键？", 2)) >= 1
        engine.load_model()
        for question, want in questions.items():
            assert engine.search(question, 1)[0].file == want, question
    # The translations are kept: asking again costs no generation.
    import sqlite3

    with sqlite3.connect(tmp_path / "data" / "translations.sqlite") as db:
        texts = [r[0] for r in db.execute("SELECT text FROM t")]
    assert len(texts) == 2 and all(t and not QuestionTranslator.wanted(t) for t in texts), texts
