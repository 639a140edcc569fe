"""Prompt templates (packaged, overridden, rejected) and token-budget packing."""

from __future__ import annotations

import pytest

from rag.prompts import TemplateError, build_prompt, fill, load_templates
from rag.types import Hit, Turn


class WordCounter:
    """Counts one token per whitespace-separated word; chat markers cost one each."""

    def __init__(self, n_ctx: int) -> None:
        self.n_ctx = n_ctx

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def format_chat(self, messages: list[dict[str, str]]) -> str:
        return " ".join(f"<{m['role']}> {m['content']}" for m in messages)


def hit(i: int, words: int = 50) -> Hit:
    return Hit(chunk_id=i, file=f"docs/report{i}.pdf", page=i, start=0, end=10,
               text=" ".join(f"w{i}" for _ in range(words)), score=1 - i / 100)


def test_packaged_templates_number_sources_and_keep_the_system_prompt_fixed():
    t = load_templates()
    assert "{" not in t.system
    p1 = build_prompt("What is the travel budget?", [hit(1), hit(2)], [], llm=WordCounter(4096),
                      answer_tokens=256, templates=t)
    p2 = build_prompt("Who runs IT?", [hit(3)], [], llm=WordCounter(4096), answer_tokens=256,
                      templates=t)
    assert p1.messages[0] == p2.messages[0]  # same prefix, so the model's cache is reused
    user = p1.messages[-1]["content"]
    assert "report1.pdf:\n[1] w1" in user and "report2.pdf:\n[2] w2" in user
    assert user.rstrip().endswith("What is the travel budget?") or "travel budget" in user
    assert [s.number for s in p1.sources] == [1, 2]
    assert p1.sources[0].file == "docs/report1.pdf"


def test_sources_that_do_not_fit_are_dropped_whole_lowest_ranked_first():
    llm = WordCounter(700)
    p = build_prompt("q?", [hit(i, words=100) for i in range(1, 8)], [], llm=llm,
                     answer_tokens=256, templates=load_templates())
    # 700 - 256 - 16 = 428 tokens for the prompt: the base plus four 104-token sources at most.
    assert len(p.sources) == 3
    assert [s.chunk_id for s in p.sources] == [1, 2, 3]
    assert p.dropped_sources == 4
    assert p.prompt_tokens == llm.count_tokens(llm.format_chat(p.messages)) <= 700 - 256
    assert all(p.sources[i].text in p.messages[-1]["content"] for i in range(3))


def test_history_is_kept_newest_first_within_its_share_and_loses_its_citations():
    history = [Turn(f"question {i} " + "x " * 40, f"answer {i} [1]. " + "y " * 40)
               for i in range(5)]
    p = build_prompt("And in 2022?", [hit(1)], history, llm=WordCounter(1200),
                     answer_tokens=200, templates=load_templates())
    # ~890 tokens of room, a quarter for history: two turns of ~100 tokens fit, not three.
    assert p.history_turns == 2 and p.dropped_turns == 3
    contents = [m["content"] for m in p.messages[1:-1]]
    assert contents[0].startswith("question 3") and contents[2].startswith("question 4")
    assert all("[1]" not in c for c in contents)
    assert [m["role"] for m in p.messages] == ["system", "user", "assistant", "user",
                                               "assistant", "user"]


def test_a_question_too_long_for_the_context_is_refused_with_a_message():
    with pytest.raises(ValueError, match="too long"):
        build_prompt("word " * 500, [hit(1)], [], llm=WordCounter(512), answer_tokens=256,
                     templates=load_templates())


def test_a_user_template_overrides_the_packaged_one(config_dir):
    (config_dir / "templates").mkdir(parents=True)
    (config_dir / "templates" / "user.txt").write_text(
        "Passages:\n{sources}\n\nAsked: {question}\n{not a placeholder}", encoding="utf-8")
    t = load_templates()
    assert t.origin["user.txt"].endswith("user.txt") and "built-in" in t.origin["system.txt"]
    p = build_prompt("Why?", [hit(1)], [], llm=WordCounter(4096), answer_tokens=100, templates=t)
    assert p.messages[-1]["content"].startswith("Passages:\nreport1.pdf:\n[1] w1")
    assert "Asked: Why?" in p.messages[-1]["content"]
    assert "{not a placeholder}" in p.messages[-1]["content"]


def test_a_template_missing_a_placeholder_is_rejected_naming_file_and_placeholder(config_dir):
    folder = config_dir / "templates"
    folder.mkdir(parents=True)
    (folder / "user.txt").write_text("Sources:\n{sources}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"user\.txt.*\{question\}"):
        load_templates()


def test_a_system_template_with_per_question_content_is_rejected(tmp_path):
    (tmp_path / "system.txt").write_text("Answer {question} briefly.", encoding="utf-8")
    with pytest.raises(TemplateError, match="same for every question"):
        load_templates(tmp_path)


def test_fill_substitutes_known_placeholders_only_once():
    assert fill("{a} {b} {a}", a="{b}") == "{b} {b} {b}"
    assert fill("{a} {b}", a="x") == "x {b}"


def test_a_model_family_gets_its_own_packaged_wording_and_a_users_file_still_wins(config_dir):
    generic, qwen = load_templates(), load_templates(family="qwen2")
    assert qwen.system != generic.system
    assert qwen.origin["system.txt"] == "built-in qwen2/system.txt"
    assert qwen.user == generic.user and qwen.origin["user.txt"] == "built-in user.txt"
    assert load_templates(family="llama").system == generic.system  # no file of its own
    assert load_templates(family="../qwen2").system == qwen.system  # a name, never a path
    folder = config_dir / "templates"
    folder.mkdir(parents=True)
    (folder / "system.txt").write_text("Answer from the sources.", encoding="utf-8")
    assert load_templates(family="qwen2").system == "Answer from the sources."


def test_each_document_is_named_once_above_its_passages():
    title = "Amazon.com, Inc. (AMZN) · quarterly report · Q3 2023"
    hits = [Hit(chunk_id=i, file=f, page=i, start=0, end=10, text=f"passage {i}", score=1.0,
                title=title if f == "docs/2023 Q3 AMZN.pdf" else "Handbook")
            for i, f in enumerate(["docs/2023 Q3 AMZN.pdf", "docs/2023 Q3 AMZN.pdf",
                                   "docs/handbook.md", "docs/2023 Q3 AMZN.pdf"], start=1)]
    p = build_prompt("q?", hits, [], llm=WordCounter(4096), answer_tokens=256,
                     templates=load_templates())
    user = p.messages[-1]["content"]
    # The title names a filing better than its file name; pages mean nothing to the model.
    assert user.count(title) == 1 and "AMZN.pdf" not in user and "p. " not in user
    assert f"{title}:\n[1] passage 1\n[2] passage 2\n[4] passage 4\n" in user
    assert user.index("[4] passage 4") < user.index("handbook.md:\n[3] passage 3")
    assert [s.number for s in p.sources] == [1, 2, 3, 4]  # numbers stay the rank order
