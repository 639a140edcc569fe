"""Plain text and Markdown, streamed in sections so a 50 MB log never sits in memory whole.

Sections are about ``SECTION_CHARS`` characters, split at paragraph or line
borders; each carries its offset in the whole text. Markdown headings (ATX,
outside code fences) are kept for the chunker.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from pathlib import Path

from rag.loaders._common import (
    DEFAULT_OPTIONS,
    TITLE_MAX,
    LoadedDocument,
    LoadError,
    LoadOptions,
    first_line,
)
from rag.types import Page

SUFFIXES = frozenset({".txt", ".md", ".markdown"})
REQUIRES = ("charset_normalizer",)  # imported lazily; the installer must bundle them
SECTION_CHARS = 1_000_000  # plain text is streamed in sections of about this many characters
_READ_CHARS = 1 << 18
_SNIFF_BYTES = 64 * 1024


def load(path: Path, options: LoadOptions = DEFAULT_OPTIONS) -> LoadedDocument:
    return _load_text(path, markdown=path.suffix.lower() != ".txt")


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030", "hz", "cp936"})
# Control characters other than tab, newlines, form feed and escape do not occur in text.
_CONTROL = bytes(b for b in range(32) if b not in (8, 9, 10, 12, 13, 27))


_LONE_HIGH_BYTES = re.compile(rb"(?:[\x00-\x7f]|[\x80-\xff](?![\x80-\xff]))*")


def detect_encoding(sample: bytes, complete: bool = False) -> str:
    """The encoding of a text file from its first bytes; LoadError when it is not text.

    UTF-8 (with or without BOM) and UTF-16/32 with a BOM are certain; anything
    else is tried as strict UTF-8, then as strict GB2312 (whose two high bytes
    per character Western legacy text almost never forms; charset-normalizer
    mistakes short Chinese texts for Korean), then as Western single-byte text
    when no two non-ASCII bytes stand together, then judged by charset-normalizer.
    The GB family is widened to GB18030, a superset of GB2312 and GBK.
    ``complete`` says the sample is the whole file, so it cannot end mid-character.
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" in sample or sum(sample.count(c) for c in _CONTROL) > len(sample) // 100:
        raise LoadError("binary data, not text")
    for encoding in ("utf-8", "gb2312"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
            return "utf-8" if encoding == "utf-8" else "gb18030"
        except UnicodeDecodeError:
            pass
    if _LONE_HIGH_BYTES.fullmatch(sample):
        # Accented letters standing alone among ASCII: Western single-byte text, which
        # charset-normalizer misjudges in short files.
        return "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise LoadError("binary data, not text")
    encoding = best.encoding.lower().replace("_", "")
    if encoding in _GB_FAMILY or encoding.startswith("gb"):
        return "gb18030"
    return best.encoding


_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.M)


def _markdown_headings(text: str, in_fence: bool) -> tuple[tuple[tuple[int, str], ...], bool]:
    """ATX headings (``# Title``) with their offsets, skipping fenced code blocks.

    Returns the headings and whether the text ends inside a code fence, so a
    fence that spans two sections is honoured.
    """
    fences = [m.start() for m in _MD_FENCE.finditer(text)]
    headings = []
    for m in _MD_HEADING.finditer(text):
        inside = in_fence ^ (sum(1 for f in fences if f < m.start()) % 2 == 1)
        if not inside:
            headings.append((m.start(), m.group(2).strip()))
    return tuple(headings), in_fence ^ (len(fences) % 2 == 1)


def _load_text(path: Path, markdown: bool) -> LoadedDocument:
    with open(path, "rb") as f:
        sample = f.read(_SNIFF_BYTES)
    encoding = detect_encoding(sample, complete=len(sample) < _SNIFF_BYTES)
    # Decode the sample once more for the title, without the BOM and without a cut character.
    head = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    head = head.lstrip("\ufeff")
    title = ""
    if markdown:
        headings, _ = _markdown_headings(head, False)
        title = headings[0][1] if headings else ""
    title = title or first_line(head)
    if not title or len(title) > 100:
        title = path.stem
    return LoadedDocument(title=title[:TITLE_MAX], pages=_text_sections(path, encoding, markdown))


def _cut(buffer: str, limit: int) -> int:
    """Where to end a section: the last paragraph, line or word border before ``limit``."""
    for sep in ("\n\n", "\n", " "):
        at = buffer.rfind(sep, limit // 2, limit)
        if at >= 0:
            return at + len(sep)
    return limit


def _text_sections(path: Path, encoding: str, markdown: bool) -> Iterator[Page]:
    """Sections of about SECTION_CHARS characters, each with its offset in the whole text.

    Newlines are normalised to "\\n" (universal newlines), so offsets count
    the text as every reader of it sees it.
    """
    offset = 0
    in_fence = False
    buffer = ""
    with open(path, "rb") as raw:
        stream = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=None)
        eof = False
        while not eof or buffer:
            while not eof and len(buffer) < SECTION_CHARS:
                block = stream.read(_READ_CHARS)
                if not block:
                    eof = True
                else:
                    buffer += block
            if offset == 0 and buffer.startswith("\ufeff"):
                buffer = buffer[1:]
            last = eof and len(buffer) <= SECTION_CHARS
            end = len(buffer) if last else _cut(buffer, SECTION_CHARS)
            section, buffer = buffer[:end], buffer[end:]
            headings: tuple[tuple[int, str], ...] = ()
            if markdown:
                headings, in_fence = _markdown_headings(section, in_fence)
            if section.strip():
                yield Page(text=section, number=None, offset=offset, headings=headings)
            offset += len(section)
