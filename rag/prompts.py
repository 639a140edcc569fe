"""The prompt the model reads: a fixed system prompt, earlier turns, and numbered sources.

Templates are plain text files. The packaged defaults sit in ``rag/templates``;
a file of the same name in the user's templates folder
(``rag.paths.config_dir() / "templates"``) replaces one of them, so wording can
be tuned for another model without touching code. Placeholders are written
``{name}`` and substituted literally (no ``str.format``), so a template may
contain other braces.

The system prompt carries no per-question content on purpose: llama.cpp keeps
the evaluated tokens of a prompt prefix between calls, and on a CPU the prompt
evaluation is most of the wait before the first answer word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Protocol

from rag import errors, paths
from rag.text import fold, strip_citations
from rag.types import Hit, Source, Turn

SYSTEM, USER, SOURCE, DOCUMENT = "system.txt", "user.txt", "source.txt", "document.txt"

# The placeholders each template must contain, and those it may contain.
REQUIRED: dict[str, tuple[str, ...]] = {
    SYSTEM: (),
    USER: ("sources", "question"),
    SOURCE: ("number", "text"),
    DOCUMENT: (),
}
ALLOWED: dict[str, tuple[str, ...]] = {
    SYSTEM: (),
    USER: ("sources", "question"),
    SOURCE: ("number", "text", "location", "file", "page"),
    DOCUMENT: ("document", "file"),
}
# Room kept free beyond the counted prompt and the answer: chat templates may add a
# token or two where pieces meet, and the count is made piece by piece.
SAFETY_TOKENS = 16
HISTORY_SHARE = 0.25  # at most this share of the room left after the question goes to history
HISTORY_TURNS = 3  # and at most this many earlier turns

class TemplateError(ValueError):
    """A prompt template that cannot be used; the message names the file and the problem."""


class TokenCounter(Protocol):
    """The part of ``models.base.LLM`` that prompt packing needs."""

    n_ctx: int

    def count_tokens(self, text: str) -> int: ...

    def format_chat(self, messages: list[dict[str, str]]) -> str: ...


@dataclass(frozen=True)
class Templates:
    system: str
    user: str
    source: str
    document: str = "{document}:"  # the line naming a document once, above its passages
    origin: dict[str, str] = field(default_factory=dict)  # file name -> where it was read from


def user_template_dir() -> Path:
    """Where a user's own templates go; a file here replaces the packaged one of its name."""
    return paths.config_dir() / "templates"


def load_templates(override_dir: Path | None = None, family: str = "") -> Templates:
    """Read the templates, preferring the user's copies, and check their placeholders.

    ``family`` is the model's architecture as its GGUF names it ("qwen2", "llama"):
    a packaged ``templates/<family>/`` file replaces the generic one of its name,
    because wording that makes one family of small models state the fact can make
    another refuse (bench/accuracy.py decides which wording a family gets). A
    user's own file still wins over both. Read on every call (they are tiny), so
    an edited template takes effect at the next question without a restart.
    """
    folder = user_template_dir() if override_dir is None else Path(override_dir)
    packaged = resources.files("rag").joinpath("templates")
    family = re.sub(r"[^a-z0-9_-]", "", family.lower())
    texts: dict[str, str] = {}
    origin: dict[str, str] = {}
    for name in (SYSTEM, USER, SOURCE, DOCUMENT):
        own = folder / name
        if own.is_file():
            try:
                texts[name] = own.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                why = "it is not UTF-8 text" if isinstance(exc, ValueError) else errors.reason(exc)
                raise TemplateError(f"Cannot read the prompt template {own}: {why}.") from exc
            origin[name] = str(own)
        elif family and packaged.joinpath(family, name).is_file():
            texts[name] = packaged.joinpath(family, name).read_text("utf-8")
            origin[name] = f"built-in {family}/{name}"
        else:
            texts[name] = packaged.joinpath(name).read_text("utf-8")
            origin[name] = f"built-in {name}"
        validate_template(name, texts[name], origin[name])
    return Templates(system=texts[SYSTEM].strip(), user=texts[USER].strip(),
                     source=texts[SOURCE].strip(), document=texts[DOCUMENT].strip(),
                     origin=origin)


def validate_template(name: str, text: str, where: str) -> None:
    """Reject a template that lacks a required placeholder or uses one it cannot have."""
    found = set(re.findall(r"\{([a-z_]+)\}", text))
    for needed in REQUIRED[name]:
        if needed not in found:
            raise TemplateError(
                f"The prompt template {where} lacks the placeholder {{{needed}}}; "
                f"{name} must contain {', '.join('{' + p + '}' for p in REQUIRED[name])}.")
    known = {p for ps in ALLOWED.values() for p in ps}
    stray = sorted((found & known) - set(ALLOWED[name]))
    if stray:
        why = (" The system prompt must be the same for every question so the model can reuse it."
               if name == SYSTEM else "")
        raise TemplateError(f"The prompt template {where} uses {{{stray[0]}}}, which {name} "
                            f"cannot contain.{why}")


def fill(template: str, **values: str) -> str:
    """Substitute ``{name}`` placeholders literally; other braces are left alone."""
    return re.sub(r"\{([a-z_]+)\}",
                  lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0),
                  template)


def location(file: str, page: int | None) -> str:
    """How a source is named to the model and the reader: ``report.pdf, p. 3``."""
    name = file.rsplit("/", 1)[-1]
    return f"{name}, p. {page}" if page is not None else name


def document_name(hit: Hit | Source) -> str:
    """How the model is told which document passages come from: the document's title when
    it says more than the file name ("Amazon.com, Inc. (AMZN) · quarterly report · Q3
    2023" for "2023 Q3 AMZN.pdf"), else the file name. Not the page: the model has no use
    for it (the reader gets file and page from Quarry's citations), and digits cost a
    token each."""
    name = hit.file.rsplit("/", 1)[-1]
    title = " ".join(getattr(hit, "title", "").split())
    if title and fold(title) not in fold(name.replace("-", " ").replace("_", " ")):
        return title
    return name


def format_document(templates: Templates, hit: Hit | Source) -> str:
    """The line naming a document, written once above its passages."""
    return fill(templates.document, document=document_name(hit), file=hit.file)


def format_source(templates: Templates, number: int, hit: Hit | Source,
                  text: str | None = None) -> str:
    """One passage as the model reads it; ``text`` replaces the passage (its best sentences).

    One line per passage: whitespace runs (PDF tables are full of them) cost tokens. The
    document it comes from is named by its document line (:func:`format_document`), once
    for all its passages: a filing's title is some 35 tokens, and five passages of one
    filing used to repeat it (and the file name and page) five times.
    """
    text = " ".join((hit.text if text is None else text).split())
    return fill(templates.source, number=str(number), text=text,
                location=location(hit.file, hit.page), file=hit.file,
                page="" if hit.page is None else str(hit.page))


def overheads(templates: Templates, sources: Sequence[Source],
              count_tokens: Callable[[str], int]) -> tuple[dict[int, int], dict[str, int]]:
    """What naming costs in the prompt, in tokens: per source number its line without the
    text, per file its document line. :func:`rag.evidence.compact_passages` counts them
    against its budget, so the budget bounds what the model reads for the sources."""
    per_source = {s.number: count_tokens(format_source(templates, s.number, s, "") + "\n")
                  for s in sources}
    per_document = {s.file: count_tokens(format_document(templates, s) + "\n") for s in sources}
    return per_source, per_document


def pack_sources(templates: Templates, lines: Sequence[tuple[Hit | Source, str]]) -> str:
    """The sources block: each document's line, then its passages (rank order within it),
    documents in the order of their best-ranked passage."""
    by_file: dict[str, list[str]] = {}
    heads: dict[str, str] = {}
    for hit, line in lines:
        if hit.file not in by_file:
            by_file[hit.file] = []
            heads[hit.file] = format_document(templates, hit)
        by_file[hit.file].append(line)
    out: list[str] = []
    for file, passages in by_file.items():
        if heads[file]:
            out.append(heads[file])
        out.extend(passages)
    return "\n".join(out)


@dataclass
class Prompt:
    """The messages for the model and what went into them."""

    messages: list[dict[str, str]]
    sources: list[Source]  # numbered 1..n in rank order: what ``[n]`` in the answer refers to
    prompt_tokens: int
    dropped_sources: int = 0  # lowest-ranked passages left out for lack of room
    history_turns: int = 0  # earlier turns included
    dropped_turns: int = 0  # earlier turns left out (oldest first)


def build_prompt(question: str, hits: Sequence[Hit], history: Sequence[Turn], *,
                 llm: TokenCounter, answer_tokens: int, templates: Templates | None = None,
                 history_turns: int = HISTORY_TURNS,
                 passages: dict[int, str] | None = None) -> Prompt:
    """Pack the question, recent turns and as many top-ranked passages as fit.

    Tokens are counted with the model's own tokenizer; ``answer_tokens`` stays
    free for the reply. Passages are kept whole or not at all, dropping the
    lowest-ranked first; earlier turns are dropped oldest first and never take
    more than a quarter of the room, because the passages are what the answer
    is built from. ``passages`` (rank -> text) gives the model only part of a
    passage: its best sentences (see :func:`rag.evidence.compact_passages`); a
    hit missing from it is left out, and the sources keep their numbers. Passages
    are written under their document's line (:func:`pack_sources`).
    """
    templates = templates or load_templates()
    budget = llm.n_ctx - answer_tokens - SAFETY_TOKENS
    system = {"role": "system", "content": templates.system}

    def user(sources: str) -> dict[str, str]:
        return {"role": "user", "content": fill(templates.user, sources=sources,
                                               question=question.strip())}

    base = llm.count_tokens(llm.format_chat([system, user("")]))
    room = budget - base
    if room < 0:
        raise ValueError(
            f"The question is too long for the model: it needs {base} tokens of prompt, and the "
            f"model's context of {llm.n_ctx} tokens keeps {answer_tokens} for the answer.")

    turns: list[dict[str, str]] = []
    kept = 0
    history_room = int(room * HISTORY_SHARE)
    for turn in list(history)[::-1][:history_turns]:
        # The earlier answer's [n] marks point at sources no longer shown.
        pair = [{"role": "user", "content": turn.question.strip()},
                {"role": "assistant", "content": strip_citations(turn.answer)}]
        cost = sum(llm.count_tokens(m["content"]) + 8 for m in pair)  # 8: role markers
        if cost > history_room:
            break
        history_room -= cost
        room -= cost
        turns = pair + turns
        kept += 1

    lines: list[tuple[Hit | Source, str]] = []
    ranks: list[int] = []
    named: set[str] = set()
    for rank, hit in enumerate(hits, start=1):
        if passages is not None and rank not in passages:
            continue
        line = format_source(templates, rank, hit, None if passages is None else passages[rank])
        cost = llm.count_tokens(line + "\n")
        if hit.file not in named:
            cost += llm.count_tokens(format_document(templates, hit) + "\n")
        if cost > room:
            break
        room -= cost
        lines.append((hit, line))
        ranks.append(rank)
        named.add(hit.file)

    # The piecewise count is close; the exact count of the whole prompt decides.
    while True:
        messages = [system, *turns, user(pack_sources(templates, lines))]
        total = llm.count_tokens(llm.format_chat(messages))
        if total <= budget or not lines:
            break
        lines.pop()
        ranks.pop()

    sources = [Source(number=i, chunk_id=h.chunk_id, file=h.file, page=h.page, start=h.start,
                      end=h.end, text=h.text, score=h.score, title=h.title, ocr=h.ocr,
                      ocr_confidence=h.ocr_confidence)
               for i, h in enumerate(hits, start=1) if i in set(ranks)]
    return Prompt(messages=messages, sources=sources, prompt_tokens=total,
                  dropped_sources=len(hits) - len(ranks), history_turns=kept,
                  dropped_turns=len(history) - kept)
