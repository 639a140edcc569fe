"""An :class:`~rag.types.Answer` as plain text for a terminal."""

from __future__ import annotations

import textwrap

from rag.ocr import describe
from rag.types import Answer, Support

SNIPPET_CHARS = 240
_MARK = {Support.WEAK: "⚠ weak", Support.UNSUPPORTED: "⚠ unsupported",
         Support.UNCITED: "⚠ uncited"}


def format_answer(answer: Answer) -> str:
    """The answer with its ``[n]`` marks, a warning under each sentence that is not
    supported, the citations the check added, then the numbered sources.

    Marks go on their own indented lines rather than inside the text, so the
    answer still reads as the model wrote it.
    """
    lines: list[str] = []
    if answer.refused or not answer.sentences:
        lines.append(answer.text or "(no answer)")
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
    if answer.note and not answer.refused:
        lines += ["", f"Note: {answer.note}"]
    if answer.sources:
        lines += ["", "Closest passages:" if answer.refused else "Sources:"]
        for src in answer.sources:
            where = src.file + (f", p. {src.page}" if src.page is not None else "")
            ocr = f", {describe(src.ocr_confidence)}" if src.ocr else ""
            lines.append(f"[{src.number}] {where}  "
                         f"(relevance {src.score:.2f}{ocr})")
            snippet = " ".join(src.text.split())
            if len(snippet) > SNIPPET_CHARS:
                snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
            lines.append(textwrap.indent(textwrap.fill(snippet, 96), "    "))
    st = answer.stats
    if not answer.refused and st.completion_tokens:
        lines += ["", f"({st.retrieve_s:.1f}s search, {st.prompt_s:.1f}s reading, "
                      f"{st.generate_s:.1f}s writing at {st.tokens_per_s:.0f} tok/s, "
                      f"{st.check_s:.2f}s checking)"]
    return "\n".join(lines)
