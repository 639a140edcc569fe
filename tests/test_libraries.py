"""The library registry and the conversation store: the Qt-free core of libraries and history."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from rag import paths
from rag.cli import run
from rag.conversations import ConversationStore, answer_from_json, title_for
from rag.libraries import Libraries, LibraryError
from rag.types import (
    Answer,
    AnswerSentence,
    AnswerStats,
    Citation,
    Evidence,
    Source,
    Support,
)


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("QUARRY_DATA_DIR", str(d))
    return d


def test_libraries_are_named_after_their_folders_kept_on_disk_and_unique(data, tmp_path):
    a = tmp_path / "x" / "Reports"
    b = tmp_path / "y" / "Reports"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    libs = Libraries()
    assert libs.add(a).name == "Reports"
    assert libs.add(b).name == "Reports (2)"
    assert libs.add(a).name == "Reports"  # the same folder is one library
    libs.rename("Reports (2)", "Old reports")
    libs.record_index("Reports", files=3, passages=120, problems=1)
    again = Libraries()
    assert again.names() == ["Reports", "Old reports"]
    assert again.get("Reports").passages == 120 and "120 passages" in again.get("Reports").state()
    with pytest.raises(LibraryError, match="no library named 'Nope'"):
        again.get("Nope")
    with pytest.raises(LibraryError, match="already a library"):
        again.rename("Reports", "Old reports")
    with pytest.raises(LibraryError, match="not a folder"):
        again.add(tmp_path / "missing")


def test_removing_a_library_deletes_its_index_and_never_its_files(data, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("keep me", encoding="utf-8")
    libs = Libraries()
    lib = libs.add(folder)
    index = paths.index_dir_for(folder)
    index.mkdir(parents=True)
    (index / "catalog.sqlite").write_bytes(b"index")
    libs.remove(lib.name)
    assert not index.exists()
    assert (folder / "a.txt").read_text(encoding="utf-8") == "keep me"
    assert Libraries().names() == []


def test_a_damaged_library_list_is_ignored_not_fatal(data):
    data.mkdir(parents=True)
    (data / "libraries.json").write_text("{not json", encoding="utf-8")
    assert Libraries().all() == []


def test_cli_lists_libraries_and_asks_one_by_name(data, tmp_path, capsys):
    folder = tmp_path / "Handbook"
    folder.mkdir()
    Libraries().add(folder)
    assert run(["--list-libraries", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [x["name"] for x in listed] == ["Handbook"] and listed[0]["folder"] == str(folder)
    seen: list = []
    assert run(["--library", "Handbook"], open_window=lambda s, f, t: seen.append(f) or 0) == 0
    assert seen == [Path(str(folder))]
    assert run(["--library", "Nope", "--search", "x"]) == 2
    assert "no library named 'Nope'" in capsys.readouterr().err


def _answer() -> Answer:
    return Answer(
        question="What is the cap?",
        text="The cap is 2,000 dollars [1]. Maybe more.",
        sentences=[
            AnswerSentence(
                "The cap is 2,000 dollars [1].",
                0,
                29,
                (Citation(1, "model"),),
                Support.SUPPORTED,
                "Found in source 1.",
            ),
            AnswerSentence("Maybe more.", 30, 41, (), Support.UNSUPPORTED, "No source says so."),
        ],
        sources=[
            Source(
                1,
                7,
                "policy.pdf",
                2,
                10,
                60,
                "Travel is capped at 2,000 dollars.",
                0.8,
                title="Policy",
            )
        ],
        stats=AnswerStats(tokens_per_s=12.5, stop_reason="finished"),
        note="",
        evidence=[
            Evidence(1, "policy.pdf", 2, 10, 44, "Travel is capped at 2,000 dollars.", 0.9, True)
        ],
        unanswered=["hotels"],
    )


def test_answers_come_back_whole_from_json():
    answer = _answer()
    again = answer_from_json(json.loads(json.dumps(answer.to_json())))
    assert again == answer
    assert isinstance(again.sentences[1].support, Support)
    assert isinstance(again.sentences[0].citations, tuple)
    assert isinstance(again.evidence[0], Evidence) and again.evidence[0].strong


def test_conversations_are_saved_per_library_searched_renamed_and_deleted(tmp_path):
    db = tmp_path / "conversations.sqlite"
    store = ConversationStore(db)
    c = store.start("/docs/a", "What is the cap on travel spending for international trips abroad?")
    t = store.add_question(c, "What is the cap?")
    store.set_answer(t, _answer())
    t2 = store.add_question(c, "And hotels?")
    store.set_answer(t2, "The model could not be loaded.")
    other = store.start("/docs/b", "Passwords?")
    store.add_question(other, "Passwords?")  # never answered: the process died here
    store.close()

    store = ConversationStore(db)  # a restart
    [info] = store.list("/docs/a")
    assert info.title == "What is the cap on travel spending for international trips abroad?"
    assert info.turns == 2
    saved = store.load(c)
    assert saved.turns[0].answer == _answer()
    assert saved.turns[1].answer is None and "could not be loaded" in saved.turns[1].error
    assert store.load(other).turns[0].answer is None
    assert [x.id for x in store.list(text="2,000")] == [c]  # answers are searched
    assert [x.id for x in store.list(text="passwords")] == [other]
    assert store.list(text="100%") == []  # LIKE wildcards are taken literally
    store.rename(c, "  Travel   cap ")
    assert store.info(c).title == "Travel cap"
    exported = store.load(c).to_json()
    assert exported["turns"][0]["answer"]["sources"][0]["page"] == 2
    assert store.delete_library("/docs/b") == 1
    store.delete(c)
    assert store.list() == []
    rows = sqlite3.connect(db).execute("SELECT count(*) FROM turns").fetchone()[0]
    assert rows == 0  # turns went with their conversations
    store.close()


def test_titles_are_cut_at_a_word():
    long = "What does the annual report say about the revenue of the northern region in 2023 " * 2
    title = title_for(long)
    assert len(title) <= 80 and title.endswith("…") and not title[:-1].endswith(" ")
    assert title_for("  short   question ") == "short question"


def test_start_shows_the_last_library_unless_it_was_removed(data, tmp_path):
    from app import last_library

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    libs = Libraries()
    assert last_library(libs, str(a)) == a  # an older Quarry's folder becomes the first library
    libs.add(a)
    libs.add(b)
    assert last_library(libs, str(b)) == b
    libs.remove("b")
    assert last_library(libs, str(b)) == a.resolve()  # removed stays removed
    assert last_library(Libraries(), "") == a.resolve()


@pytest.mark.slow
def test_the_real_engine_searches_several_libraries_at_once(data, tmp_path):
    """Each folder keeps its own index; asked together their hits are merged by score,
    named by absolute path, and the indexes opened for the question are closed after it."""
    from rag.engine import Engine
    from rag.settings import Settings

    travel, it = tmp_path / "Travel", tmp_path / "IT"
    travel.mkdir()
    it.mkdir()
    (travel / "policy.md").write_text(
        "# Per diem\n\nThe per diem abroad is EUR 75 per day.\n", encoding="utf-8"
    )
    (it / "passwords.md").write_text(
        "# Passwords\n\nPasswords must have at least 14 characters.\n", encoding="utf-8"
    )
    with Engine(Settings()) as engine:
        engine.index(it)
        engine.index(travel)  # the open folder is now Travel
        hits = engine.search("How long must passwords be?", 4, folders=[travel, it])
        assert Path(hits[0].file) == it.resolve() / "passwords.md"
        assert {Path(h.file).parent for h in hits} == {travel.resolve(), it.resolve()}
        assert len({h.chunk_id for h in hits}) == len(hits)
        one = engine.search("How long must passwords be?", 4, folders=[it])
        assert one[0].file == "passwords.md"  # one folder: named relative to it
        assert engine.folder == travel.resolve()  # asking across leaves the open folder open
        text = engine.source_text(hits[0].file, hits[0].page)
        assert "14 characters" in text[hits[0].start : hits[0].end]
