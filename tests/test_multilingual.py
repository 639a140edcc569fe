"""Across languages: Chinese passages carry a multilingual vector (and English ones do not, so
an English folder indexes as fast as before); an English question finds a Chinese passage."""

from __future__ import annotations

import pytest

from rag import multilingual

pytestmark = pytest.mark.slow

ZH = {
    "beijing.txt": "北京是中华人民共和国的首都，也是全国的政治和文化中心，常住人口约两千一百万。",
    "rain.txt": "亚马逊雨林覆盖南美洲大部分地区，是世界上最大的热带雨林，物种极其丰富。",
    "piano.txt": "钢琴是一种键盘乐器，通过琴槌敲击琴弦发声，有八十八个琴键。",
}
EN = {"laptops.txt": "Laptops are replaced every three years; lost devices are reported at once."}


def _mixed_folder(tmp_path, monkeypatch):
    """The Chinese and English passages as files, with a data folder of the test's own."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in {**ZH, **EN}.items():
        (docs / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    return docs


def test_only_passages_in_cjk_get_a_multilingual_vector(tmp_path, monkeypatch) -> None:
    from rag.engine import Engine
    from rag.settings import Settings

    docs = _mixed_folder(tmp_path, monkeypatch)
    with Engine(Settings()) as engine:
        engine.index(docs)
        store = engine._store
        ids = store.multilingual_ids()
        files = {c.file for c in store.chunks(ids)}
        assert files == set(ZH)
        vector = multilingual.shared().embed_query("piano keys")
        assert vector.shape == (384,)
        assert abs(float(vector @ vector) - 1.0) < 1e-3
        best = store.multilingual_search(vector, 1)[0][0]
        assert store.chunks([best])[0].file == "piano.txt"


def test_an_english_question_finds_the_chinese_passage(tmp_path, monkeypatch) -> None:
    from rag.engine import Engine
    from rag.settings import Settings

    docs = _mixed_folder(tmp_path, monkeypatch)
    with Engine(Settings()) as engine:
        engine.index(docs)
        for question, want in (
            ("How many keys does a piano have?", "piano.txt"),
            ("What is the capital of China?", "beijing.txt"),
            ("Which is the largest tropical rainforest?", "rain.txt"),
            ("How often are laptops replaced?", "laptops.txt"),
        ):
            assert engine.search(question, 1)[0].file == want, question
