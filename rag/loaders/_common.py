"""What every loader shares: the protocol, the document it returns, its errors, helpers.

A loader is a module of this package with ``SUFFIXES`` (the lower-case file
suffixes it reads, with the dot), ``load(path, options) -> LoadedDocument`` and
optionally ``REQUIRES`` (the libraries it imports lazily, which the installer
must bundle); modules whose names start with "_" are helpers, not loaders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.types import Page

TITLE_MAX = 160
# The reason a scan or image is skipped while OCR is off; ingest reads such files
# again once OCR is turned on.
OCR_OFF_REASON = "no text layer - a scanned image; turn on OCR in the settings to read it"


class LoadError(Exception):
    """A document that cannot be read; ``reason`` is shown to the user as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoTextError(LoadError):
    """A document that holds nothing to index, for a reason the user can act on."""

    def __init__(self, reason: str = OCR_OFF_REASON):
        super().__init__(reason)


@dataclass
class LoadedDocument:
    """A document being read: its title now, its pages as they are extracted.

    ``pages`` can be iterated once; iterating may raise LoadError too (a
    damaged page deep in a PDF), so callers treat the whole iteration as the load.
    """

    title: str
    pages: Iterator[Page]
    meta: dict[str, str] = field(default_factory=dict)  # e.g. a PDF's Title, Subject, Keywords


@dataclass(frozen=True)
class LoadOptions:
    """How to read a file; only loaders that recognise page images (OCR) look at these.

    ``ocr`` turns recognition on; ``cache`` (a :class:`rag.ocr.OcrCache`) keeps
    what was read by ``digest``, the file's content hash (computed by the loader
    when empty); ``on_progress`` hears "OCR page 12 of 40"; ``should_stop``
    is asked between pages, and a stop ends the load with LoadError.
    """

    ocr: bool = True
    cache: Any = None
    digest: str = ""
    on_progress: Callable[[str], None] | None = None
    should_stop: Callable[[], bool] | None = None


DEFAULT_OPTIONS = LoadOptions()


class Loader(Protocol):
    """One format: the suffixes it takes and how to read a file of them."""

    SUFFIXES: frozenset[str]

    def load(self, path: Path, options: LoadOptions = DEFAULT_OPTIONS) -> LoadedDocument: ...


def first_line(text: str) -> str:
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line[:TITLE_MAX]
    return ""


def check_size(path: Path) -> None:
    if path.stat().st_size == 0:
        raise LoadError("empty file")


def meaningful_title(title: str) -> bool:
    """Metadata titles are often junk: empty, a file name, an ID, 'Microsoft Word - x.doc'."""
    title = title.strip()
    if not title or title.lower() in ("untitled", "title", "document"):
        return False
    if re.search(r"\.(docx?|pdf|rtf|odt|txt|html?|indd|xlsx?|pptx?)$", title, re.I):
        return False
    return sum(ch.isalpha() for ch in title) >= 3


def encodable(path: Path) -> bool:
    """Whether the path can be handed to a C library as UTF-8 (Linux names may not be)."""
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


class TextBuilder:
    """Plain text with paragraph breaks and heading offsets, for DOCX and HTML."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._headings: list[tuple[int, str]] = []
        self._line_start = True
        self._space = False
        self._tail = ""  # last two characters written

    def _emit(self, s: str) -> None:
        self._parts.append(s)
        self._length += len(s)
        self._tail = (self._tail + s)[-2:]

    def text(self, s: str) -> None:
        """Inline text: runs of whitespace become one space."""
        if not s:
            return
        lead, trail = s[:1].isspace(), s[-1:].isspace()
        s = " ".join(s.split())
        if (lead or not s) and not self._line_start:
            self._space = True
        if not s:
            return
        if self._space and not self._line_start:
            self._emit(" ")
        self._emit(s)
        self._line_start = False
        self._space = trail

    def cell(self) -> None:
        """Start a table cell: cells of one row are joined by ' | '."""
        if not self._line_start:
            self._emit(" | ")
            self._space = False

    def newline(self) -> None:
        if not self._line_start:
            self._emit("\n")
        self._line_start, self._space = True, False

    def line(self, s: str) -> None:
        self.newline()
        self.text(s)
        self.newline()

    def paragraph(self) -> None:
        self.newline()
        if self._length and self._tail != "\n\n":
            self._emit("\n")

    def heading(self, s: str) -> None:
        s = " ".join(s.split())
        if not s:
            return
        self.paragraph()
        self._headings.append((self._length, s))
        self.text(s)
        self.paragraph()

    def result(self) -> tuple[str, tuple[tuple[int, str], ...]]:
        return "".join(self._parts).rstrip(), tuple(self._headings)

    def document(self, path: Path, empty: str, title: str = "") -> LoadedDocument:
        """The text built so far as a one-page document. Its title is ``title`` when the
        file names one, else its first heading, first line or file name; LoadError(``empty``)
        when no text was found (DOCX and HTML end alike)."""
        text, headings = self.result()
        if not text.strip():
            raise LoadError(empty)
        title = title or (headings[0][1] if headings else "") or first_line(text) or path.stem
        return LoadedDocument(title=title[:TITLE_MAX], pages=iter([Page(text, headings=headings)]))
