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
    # Chinese that gives its names in English: fewer than half its letters are Chinese.
    "network.txt": "Internet2 是美国的非营利计算机网络联盟，与 Qwest Communications 合作建立了 "
    "Abilene Network 骨干网。",
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
            ("Which backbone network did Internet2 build with Qwest?", "network.txt"),
            ("How often are laptops replaced?", "laptops.txt"),
        ):
            assert engine.search(question, 1)[0].file == want, question


def _zh_folder(tmp_path, monkeypatch, texts: dict[str, str]):
    docs = tmp_path / "zh"
    docs.mkdir()
    for name, text in texts.items():
        (docs / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    return docs


def test_a_year_a_chinese_passage_mentions_does_not_pull_a_question_to_it(
    tmp_path, monkeypatch
) -> None:
    """ "2015年" in a passage's text is not the period the document covers: the passage that
    answers the question about 2015 comes first though it never names the year."""
    from rag.engine import Engine
    from rag.settings import Settings

    docs = _zh_folder(
        tmp_path,
        monkeypatch,
        {
            "panthers.txt": "黑豹队的防守只丢了308分，在联赛中排名第六，同时也以24次拦截领先"
            "国家橄榄球联盟，并且四次入选职业碗。",
            "climate.txt": "经济学家李会晟自2015年10月起担任政府间气候变化专门委员会主席，"
            "此前该委员会由副主席代理领导。",
            "group.txt": "该组织于2014年自封为哈里发，2015年控制了伊拉克和叙利亚的大片领土，"
            "其防守据点遍布两国。",
        },
    )
    with Engine(Settings()) as engine:
        engine.index(docs)
        assert engine.profiles()["group.txt"]["periods"] == []
        hits = engine.search("2015年黑豹队的防守有多少次拦截记录？", 3)
        assert hits[0].file == "panthers.txt", [h.file for h in hits]


def test_a_question_is_embedded_on_one_thread_and_passages_on_the_default() -> None:
    """A busy machine makes every parallel region of a short question wait for a thread the
    system has put aside, so questions run on one (rag.multilingual.QUERY_THREADS)."""
    m = multilingual.MultilingualEmbedder()
    q = m.embed_query("谁赢得了第 49 届超级碗？")
    threads = m._omp("omp_get_max_threads")
    assert threads is not None and threads() == multilingual.QUERY_THREADS
    p = m.embed_passages(["第 49 届超级碗", "亚马逊雨林"])
    assert threads() == max(m._default_threads, 1)
    assert p.shape == (2, q.shape[0]) and float(p[0] @ q) > float(p[1] @ q)
