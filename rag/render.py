"""An :class:`~rag.types.Answer` in each format it is shown in, one renderer per format.

* :func:`format_answer`: plain text for a terminal (``--ask``), and, without
  the check's details, for the window's "Copy answer";
* :func:`answer_json`: what ``--json`` prints;
* :func:`conversation_markdown`: the window's export.

Markdown is read by programs that also render HTML, so every piece of
document or model text in it is escaped (:func:`md_escape`): a passage holding
``<img src=…>`` must show those characters, never load an image.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

from rag.ocr import describe
from rag.types import Answer, Evidence, Source, Support

SNIPPET_CHARS = 240
_MARK = {Support.WEAK: "⚠ weak", Support.UNSUPPORTED: "⚠ unsupported", Support.UNCITED: "⚠ uncited"}


def where(file: str, page: int | None) -> str:
    """A source's place as a reader names it: ``report.pdf, p. 3``."""
    return file + (f", p. {page}" if page is not None else "")


def evidence_lines(evidence: Sequence[Evidence]) -> list[str]:
    """The quoted evidence sentences, each with its source number, file and page."""
    lines = []
    for e in evidence:
        head = f"{e.part}: " if e.part else ""
        lines.append(f"  [{e.source}] {head}“{e.text}” — {where(e.file, e.page)}")
    return lines


def format_answer(answer: Answer, details: bool = True) -> str:
    """The answer with its ``[n]`` marks, a warning under each sentence that is not
    supported, the quoted evidence, then the numbered sources.

    Marks go on their own indented lines rather than inside the text, so the
    answer still reads as the model wrote it. ``details=False`` leaves out the
    check's marks, the passages' text and the timings (what "Copy answer" takes).
    """
    lines: list[str] = []
    if answer.refused or not answer.sentences:
        lines.append(answer.text or "(no answer)")
    elif not details:
        lines.append(answer.text.strip())
    else:
        for s in answer.sentences:
            added = "".join(f"[{c.source}]" for c in s.citations if c.origin == "check")
            lines.append(s.text + (f" → {added}" if added else ""))
            if s.support in _MARK:
                lines.append(f"    {_MARK[s.support]}: {s.evidence}")
            elif added:
                lines.append(f"    ✓ source found by the check: {s.evidence}")
            if s.invalid_citations:
                bad = ", ".join(f"[{n}]" for n in s.invalid_citations)
                lines.append(f"    ⚠ cites {bad}, which is not one of the sources")
    if answer.evidence and not answer.refused:
        lines += ["", "Evidence (quoted from the sources):", *evidence_lines(answer.evidence)]
    if answer.note and not answer.refused and details:
        lines += ["", f"Note: {answer.note}"]
    if answer.sources:
        lines += ["", "Closest passages:" if answer.refused else "Sources:"]
        for src in answer.sources:
            ocr = f", {describe(src.ocr_confidence)}" if src.ocr else ""
            score = f"  (relevance {src.score:.2f}{ocr})" if details else ""
            lines.append(f"[{src.number}] {where(src.file, src.page)}{score}")
            if details:
                lines.append(textwrap.indent(textwrap.fill(_snippet(src), 96), "    "))
    st = answer.stats
    if details and not answer.refused and st.completion_tokens:
        lines += [
            "",
            f"({st.retrieve_s + st.evidence_s:.1f}s search, {st.prompt_s:.1f}s reading, "
            f"{st.generate_s:.1f}s writing at {st.tokens_per_s:.0f} tok/s, "
            f"{st.check_s:.2f}s checking)",
        ]
    return "\n".join(lines)


def _snippet(src: Source) -> str:
    snippet = " ".join(src.text.split())
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
    return snippet


def answer_json(answer: Answer) -> dict:
    """The whole answer as JSON-ready data (``--json``)."""
    return answer.to_json()


# -- Markdown ------------------------------------------------------------------------
_MD_INLINE = re.compile(r"([\\`*_\[\]{}()!|~#+\-])")
_MD_LINE_START = re.compile(r"^(\s*)(\d+)([.)])", re.MULTILINE)


def md_escape(text: str) -> str:
    """``text`` shown literally by any Markdown reader: HTML and Markdown syntax escaped."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(r"\1\2\\\3", text)


def _md_lines(text: str) -> list[str]:
    """Multi-line text as Markdown lines that keep their breaks (two trailing spaces)."""
    lines = [md_escape(line.strip()) for line in text.strip().splitlines() if line.strip()]
    return [line + "  " for line in lines[:-1]] + lines[-1:]


def conversation_markdown(
    folder: Path | None,
    exchanges: Sequence[tuple[str, Answer | str]],
    now: dt.datetime | None = None,
) -> str:
    """The conversation with each answer's evidence and sources, as a Markdown document."""
    lines = ["# Quarry conversation", ""]
    if folder:
        lines.append(f"Folder: {md_escape(str(folder))}  ")
    lines += [f"Exported: {(now or dt.datetime.now()):%Y-%m-%d %H:%M}", ""]
    for question, answer in exchanges:
        lines += [f"## {md_escape(' '.join(question.split()))}", ""]
        if isinstance(answer, str):
            lines += [f"*Could not answer: {md_escape(answer)}*", ""]
            continue
        if answer.refused:
            lines += ["*Not found in your documents.*", ""]
        if answer.quoted:
            lines += ["*Quoted from the source:*", ""]
        lines += [*(_md_lines(answer.text) or ["*(no answer)*"]), ""]
        if answer.note:
            lines += [f"*{md_escape(answer.note)}*", ""]
        marked = [s for s in answer.sentences if s.support is not Support.SUPPORTED]
        for s in marked:
            lines.append(
                f"> {s.support.value}: “{md_escape(s.text.strip())}” — {md_escape(s.evidence)}  "
            )
        if marked:
            lines.append("")
        if answer.evidence and not answer.refused:
            lines += ["**Evidence**", ""]
            for e in answer.evidence:
                part = f"{md_escape(e.part)}: " if e.part else ""
                lines.append(
                    f"- \\[{e.source}\\] {part}“{md_escape(e.text)}” — "
                    f"{md_escape(where(e.file, e.page))}"
                )
            lines.append("")
        if answer.sources:
            lines += ["**Sources**", ""]
            for s in answer.sources:
                quote = md_escape(" ".join(s.text.split()))
                page = f", page {s.page}" if s.page else ""
                lines.append(f"{s.number}. {md_escape(s.file)}{page} — “{quote}”")
            lines.append("")
    return "\n".join(lines)
