"""Cut pages into overlapping passages that fit the embedding model's window.

Built on langchain's ``RecursiveCharacterTextSplitter``: it splits at the
coarsest border that exists (paragraph, sentence, line, clause, word) and
merges the pieces back into chunks of at most ``chunk_tokens`` tokens, with up
to ``chunk_overlap`` tokens of whole pieces (sentences, where the text has
them) repeated between neighbours. Length is counted with the embedding
model's own tokenizer: a chunk longer than the window would be silently
truncated by the model.

Sentence and clause borders include CJK punctuation, because Chinese has no
spaces. Text with no border at all (a long run of characters) is cut at the
token limit here rather than character by character in langchain, which would
count tokens once per character.

Offsets: ``Chunk.start``/``end`` satisfy
``page.text[chunk.start - page.offset : chunk.end - page.offset] == chunk.text``;
they point into the page text for PDF pages (offset 0) and into the whole
document for formats streamed in sections.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from rag import statements
from rag.text import HAN
from rag.types import Chunk, Page

# Regular expressions, coarsest first. Each border stays at the end of the piece before it
# (keep_separator="end"), so pieces are exact, contiguous slices of the text.
SEPARATORS: tuple[str, ...] = (
    r"\n[ \t\r\f\v]*\n\s*",  # paragraph
    # sentence: . ! ? followed by space (not 3.5 or a.b), or CJK 。！？； with or without space,
    # each taking any closing quote or bracket along. Before lines: PDF lines end mid-sentence.
    r"(?<=[.!?])[\"'”’)\]]*\s+|(?<=[。！？；])[”’」』）\]]*\s*",
    r"\n\s*",  # line
    # clause: , ; : followed by space, or CJK ，、： with or without space
    r"(?<=[,;:])\s+|(?<=[，、：])\s*",
    r"\s+",  # word
)

_CACHE_SIZE = 1 << 15


class Chunker:
    """Splits pages into :class:`~rag.types.Chunk` passages of at most ``chunk_tokens`` tokens.

    ``count_tokens`` must count a text's tokens the way the embedding model
    will, without the special tokens it adds ([CLS], [SEP]); leave room for
    those (and for any title or heading prefixed to the passage when it is
    embedded) in ``chunk_tokens``.
    """

    def __init__(
        self, count_tokens: Callable[[str], int], chunk_tokens: int, chunk_overlap: int
    ) -> None:
        if chunk_tokens < 1:
            raise ValueError(f"chunk_tokens must be at least 1, not {chunk_tokens}")
        if not 0 <= chunk_overlap < chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({chunk_overlap}) must be at least 0 and smaller "
                f"than chunk_tokens ({chunk_tokens})"
            )
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        # The splitter measures each piece more than once (when splitting and when merging).
        self._count = functools.lru_cache(maxsize=_CACHE_SIZE)(count_tokens)
        self._splitter = RecursiveCharacterTextSplitter(
            separators=list(SEPARATORS),
            keep_separator="end",
            is_separator_regex=True,
            chunk_size=chunk_tokens,
            chunk_overlap=chunk_overlap,
            length_function=self._count,
            strip_whitespace=True,
        )

    def split(self, text: str) -> list[tuple[int, str]]:
        """(offset in ``text``, passage) for each chunk of one text, in order."""
        spans: list[tuple[int, str]] = []
        cursor = 0
        for piece in self._splitter.split_text(text):
            at = text.find(piece, cursor)
            if at < 0:  # cannot happen while pieces are slices; keep offsets honest regardless
                at = text.find(piece)
            cursor = at + 1
            if self._count(piece) <= self.chunk_tokens:
                spans.append((at, piece))
            else:
                spans.extend((at + start, part) for start, part in self._cut(piece))
        return self._merge_small(text, spans)

    def _merge_small(self, text: str, spans: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Join a fragment (a page number, a line left next to an over-long sentence) to its
        neighbour when both fit in one chunk: alone it is a poor passage to retrieve."""
        small = max(1, self.chunk_tokens // 8)
        merged: list[tuple[int, str]] = []
        for at, piece in spans:
            if merged:
                prev_at, prev = merged[-1]
                tiny = self._count(prev) < small or self._count(piece) < small
                if tiny and at >= prev_at + len(prev):  # neighbours, not overlapping
                    joined = text[prev_at : at + len(piece)]
                    if self._count(joined) <= self.chunk_tokens:
                        merged[-1] = (prev_at, joined)
                        continue
            merged.append((at, piece))
        return merged

    def _cut(self, text: str) -> Iterator[tuple[int, str]]:
        """Cut a passage with no usable border into pieces that fit, at spaces where possible.

        Finds each cut from the passage's average characters per token, so it
        costs a few token counts per piece, not one per character.
        """
        limit = self.chunk_tokens
        per_token = len(text) / max(1, self._count(text))
        pos, n = 0, len(text)
        while pos < n:
            size = max(1, min(n - pos, int(limit * per_token)))
            while size > 1 and self._count(text[pos : pos + size]) > limit:
                size = max(1, int(size * 0.85))
            while pos + size < n:
                bigger = min(n - pos, int(size * 1.1) + 1)
                if self._count(text[pos : pos + bigger]) > limit:
                    break
                size = bigger
            end = pos + size
            if end < n:
                space = text.rfind(" ", pos + size * 3 // 4, end)
                if space > pos:
                    end = space + 1
            piece = text[pos:end]
            stripped = piece.strip()
            if stripped:
                yield pos + (len(piece) - len(piece.lstrip())), stripped
            pos = end

    def chunk(self, file: str, title: str, pages: Iterable[Page]) -> Iterator[Chunk]:
        """Chunks of a document's pages, each with its page, offsets, title and nearest heading.

        The nearest heading is the last one at or before the chunk's start,
        carried over from earlier sections or pages; on a paged format the page's first
        chunk, which holds the page's heading (its top lines), takes that one rather than
        the last page's.
        """
        heading = ""
        for page in pages:
            starts = [at for at, _ in page.headings]
            for local, text in self.split(page.text):
                i = bisect.bisect_right(starts, local)
                if i:
                    heading = page.headings[i - 1][1]
                elif page.number is not None and starts and starts[0] < local + len(text):
                    heading = page.headings[0][1]  # the page's title (its top lines) is in it
                start = page.offset + local
                yield Chunk(
                    file=file,
                    page=page.number,
                    start=start,
                    end=start + len(text),
                    text=text,
                    title=title,
                    heading=heading,
                )
            if page.headings:
                heading = page.headings[-1][1]


CONTEXT_CHARS = 200  # of profile line and heading put before a chunk; fits the room
# Engine leaves in the embedding window beside a chunk of chunk_tokens.


def contextual_text(chunk: Chunk) -> str:
    """What is embedded for ``chunk``: its document's line (organisation, kind, period) and
    nearest heading, then the passage. A question names the company and the statement
    ("Northwind's FY2021 cash flow") that the passage itself rarely repeats. The
    stored text and offsets stay the passage's own."""
    context = " · ".join(x for x in (chunk.title, chunk.heading) if x)[:CONTEXT_CHARS]
    return f"{context}\n{chunk.text}" if context else chunk.text


_TOP_LINES = 6
_LINE = re.compile(r"[^\n]+")


def with_page_headings(pages: Iterable[Page]) -> Iterator[Page]:
    """``pages``, where a paged format gave no headings, with the heading read from each
    page's top lines: a short, title-cased line such as "Consolidated Balance Sheets".

    Lines that top most pages (running headers like "Table of Contents") are skipped
    once seen on two earlier pages, so a statement page is known by its statement. A
    financial statement's page also carries the statement's plain name
    (:mod:`rag.statements`): "Consolidated Statements of Earnings [income statement]".
    """
    seen: Counter[str] = Counter()
    for page in pages:
        if page.headings or page.number is None:
            yield page
            continue
        kind = statements.page_kind(page.text)
        top = []
        for m in _LINE.finditer(page.text):
            line = " ".join(m.group().split())
            if line:
                top.append((m.start() + len(m.group()) - len(m.group().lstrip()), line))
            if len(top) == _TOP_LINES:
                break
        picked = [(at, line) for at, line in top if seen[line] < 2 and _heading_like(line)][:2]
        for _, line in top:
            seen[line] += 1
        if picked or kind:
            heading = " · ".join(line for _, line in picked)
            if kind:
                heading = statements.tagged(heading, kind)
            at = picked[0][0] if picked else 0
            yield dataclasses.replace(page, headings=((at, heading),))
        else:
            yield page


def _heading_like(line: str) -> bool:
    if not 3 <= len(line) <= 90 or line.endswith((".", ",", ";", ":", "。", "，")):
        return False
    cjk = len(HAN.findall(line))
    if cjk >= 2:
        return len(line) <= 30
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’&-]*", line)]
    if not words or len(line.split()) > 12:
        return False
    letters = sum(c.isalpha() for c in line)
    if letters < 0.6 * len(line.replace(" ", "")):
        return False
    long = [w for w in words if len(w) >= 4]
    return bool(long) and sum(w[0].isupper() for w in long) >= 0.6 * len(long)
