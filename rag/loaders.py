"""Turn a document file into a title and a stream of pages of plain text.

One ``load(path)`` for every supported format. PDFs come page by page with
1-based page numbers; other formats have no pages and come as one Page, except
plain text and Markdown, which stream in sections of about 1 MB (split at
paragraph or line borders) so a 50 MB log file never sits in memory whole.

Every failure is a :class:`LoadError` whose ``reason`` a person understands
("password-protected", "empty file"). ``load`` raises what it can tell from
the start of the file; iterating ``pages`` may raise too (a damaged page deep
in a PDF, or :class:`NoTextError` once a PDF turns out to hold no text at all),
so callers should treat the whole iteration as the load.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from rag.types import Page

SECTION_CHARS = 1_000_000  # plain text is streamed in sections of about this many characters
_READ_CHARS = 1 << 18
_SNIFF_BYTES = 64 * 1024
# A PDF none of whose pages holds this many visible characters is treated as a
# scan: a stamp ("Page 3 of 40") is not a text layer, a one-line memo is.
_MIN_PAGE_CHARS = 16
_TITLE_MAX = 160


class LoadError(Exception):
    """A document that cannot be read; ``reason`` is shown to the user as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoTextError(LoadError):
    """A PDF without a text layer: most likely a scanned image that needs OCR."""

    def __init__(self, reason: str = "no text layer - probably a scanned image; OCR it first"):
        super().__init__(reason)


@dataclass
class LoadedDocument:
    """A document being read: its title now, its pages as they are extracted.

    ``page_count`` is the number of pages of a PDF (for progress), else None.
    ``pages`` can be iterated once.
    """

    title: str
    pages: Iterator[Page]
    page_count: int | None = None
    meta: dict[str, str] = field(default_factory=dict)  # e.g. a PDF's Title, Subject, Keywords


def load(path: Path, executor: Executor | None = None) -> LoadedDocument:
    """Open any supported document; raises LoadError with a reason for the user.

    ``executor`` (a ``ProcessPoolExecutor``) spreads the text extraction of
    long PDFs over worker processes; other formats ignore it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            return _load_pdf(path, executor)
        if suffix == ".docx":
            return _load_docx(path)
        if suffix in (".html", ".htm"):
            return _load_html(path)
        if suffix in (".md", ".markdown"):
            return _load_text(path, markdown=True)
        if suffix == ".txt":
            return _load_text(path, markdown=False)
    except PermissionError as err:
        raise LoadError("cannot be read: permission denied") from err
    except FileNotFoundError as err:
        raise LoadError("the file no longer exists") from err
    except IsADirectoryError as err:
        raise LoadError("is a folder, not a file") from err
    raise LoadError(f"unsupported file type ('{suffix}')" if suffix else "unsupported file type")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line[:_TITLE_MAX]
    return ""


def _check_size(path: Path) -> None:
    if path.stat().st_size == 0:
        raise LoadError("empty file")


# -- PDF ---------------------------------------------------------------------

_PDF_ERRORS = {
    2: "cannot be opened (file missing or unreadable)",
    3: "not a valid PDF (damaged or truncated)",
    4: "password-protected: open it with its password and save an unprotected copy",
    5: "uses an unsupported kind of encryption",
}


def _open_pdf(path: Path):  # -> pypdfium2.PdfDocument
    import pypdfium2 as pdfium

    try:
        source: object = str(path)
        try:
            source.encode("utf-8")  # type: ignore[attr-defined]
        except UnicodeEncodeError:
            source = path.read_bytes()  # a name PDFium cannot be given: hand it the bytes
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as err:
        code = getattr(err, "err_code", None)
        raise LoadError(_PDF_ERRORS.get(code, "not a valid PDF (damaged or truncated)")) from err


def _clean_pdf_text(text: str) -> str:
    # PDFium ends lines with \r\n and marks soft line-end hyphens with \x02.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x02", "-").replace("\x00", "")


def _page_text(pdf, index: int) -> str:  # pdf: pypdfium2.PdfDocument
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return _clean_pdf_text(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()


def extract_pdf_pages(path: str, start: int, stop: int) -> list[str]:
    """Text of pages ``start``..``stop-1`` (0-based): the unit of work sent to worker processes."""
    pdf = _open_pdf(Path(path))
    try:
        return [_page_text(pdf, i) for i in range(start, min(stop, len(pdf)))]
    finally:
        pdf.close()


def _meaningful_title(title: str) -> bool:
    """Metadata titles are often junk: empty, a file name, an ID, 'Microsoft Word - x.doc'."""
    title = title.strip()
    if not title or title.lower() in ("untitled", "title", "document"):
        return False
    if re.search(r"\.(docx?|pdf|rtf|odt|txt|html?|indd|xlsx?|pptx?)$", title, re.I):
        return False
    return sum(ch.isalpha() for ch in title) >= 3


def _load_pdf(path: Path, executor: Executor | None) -> LoadedDocument:
    _check_size(path)
    pdf = _open_pdf(path)
    try:
        count = len(pdf)
        info = {k: str(v) for k, v in pdf.get_metadata_dict().items() if v}
        meta = info.get("Title", "").strip()
        first = [_page_text(pdf, i) for i in range(min(count, 1))]
    except LoadError:
        pdf.close()
        raise
    except Exception as err:  # PDFium errors beyond opening: a damaged page tree
        pdf.close()
        raise LoadError("not a valid PDF (damaged or truncated)") from err
    if count == 0:
        pdf.close()
        raise LoadError("the PDF has no pages")
    title = " ".join(meta.split())[:_TITLE_MAX] if _meaningful_title(meta) else ""
    title = title or _first_line(first[0]) or path.stem

    if executor is not None and count > 2 * _PAGES_PER_TASK:
        pdf.close()
        texts: Iterable[str] = _pages_in_workers(path, count, first[0], executor)
    else:
        texts = _pages_here(pdf, count, first[0])
    return LoadedDocument(title=title, pages=_pdf_pages(texts), page_count=count, meta=info)


_PAGES_PER_TASK = 16


def _pages_here(pdf, count: int, first: str) -> Iterator[str]:
    try:
        yield first
        for i in range(1, count):
            yield _page_text(pdf, i)
    finally:
        pdf.close()


def _pages_in_workers(path: Path, count: int, first: str, executor: Executor) -> Iterator[str]:
    yield first
    futures = [
        executor.submit(extract_pdf_pages, str(path), a, a + _PAGES_PER_TASK)
        for a in range(1, count, _PAGES_PER_TASK)
    ]
    try:
        for future in futures:
            yield from future.result()
    finally:
        for future in futures:
            future.cancel()


def _pdf_pages(texts: Iterable[str]) -> Iterator[Page]:
    longest = 0
    try:
        for number, text in enumerate(texts, start=1):
            visible = len(text) - sum(map(str.isspace, text))
            longest = max(longest, visible)
            if text.strip():
                yield Page(text=text, number=number)
    except LoadError:
        raise
    except Exception as err:
        raise LoadError("not a valid PDF (damaged or truncated)") from err
    if longest < _MIN_PAGE_CHARS:
        raise NoTextError()


# -- DOCX --------------------------------------------------------------------


def _load_docx(path: Path) -> LoadedDocument:
    _check_size(path)
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise LoadError("password-protected, or an old Word (.doc) file renamed to .docx")
    try:
        document = docx.Document(str(path) if _encodable(path) else io.BytesIO(path.read_bytes()))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as err:
        if isinstance(err, PermissionError):
            raise
        raise LoadError("not a valid Word document (damaged or truncated)") from err
    except Exception as err:  # zipfile.BadZipFile, lxml errors on a damaged part
        raise LoadError("not a valid Word document (damaged or truncated)") from err

    builder = _TextBuilder()
    first_heading = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.paragraph()
            for row in block.rows:
                cells: list[str] = []
                seen: set[int] = set()
                for cell in row.cells:  # merged cells repeat: keep each once
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    cells.append(" ".join(cell.text.split()))
                if any(cells):
                    builder.line(" | ".join(cells))
            builder.paragraph()
            continue
        text = " ".join(block.text.split())
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if style.startswith("Heading") or style == "Title":
            builder.heading(text)
            first_heading = first_heading or text
        else:
            prefix = "- " if style.startswith("List") else ""
            builder.line(prefix + text)
            builder.paragraph()

    text, headings = builder.result()
    if not text.strip():
        raise LoadError("no text found in the document")
    core_title = (document.core_properties.title or "").strip()
    title = core_title if _meaningful_title(core_title) else first_heading or _first_line(text)
    return LoadedDocument(title=title[:_TITLE_MAX], pages=iter([Page(text, headings=headings)]))


def _encodable(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


class _TextBuilder:
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


# -- HTML --------------------------------------------------------------------

_HTML_DROP = frozenset(
    {
        "script",
        "style",
        "head",
        "noscript",
        "template",
        "svg",
        "canvas",
        "iframe",
        "object",
        "embed",
        "select",
        "datalist",
    }
)
_HTML_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "ul",
        "caption",
        "body",
        "html",
    }
)
_HTML_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _hidden(tag) -> bool:  # tag: bs4.Tag
    if tag.has_attr("hidden"):
        return True
    style = str(tag.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def _html_break(builder: _TextBuilder, name: str) -> None:
    """Block elements start and end on their own line; list items and rows need no blank line."""
    if name in ("li", "dt", "dd", "tr"):
        builder.newline()
    elif name in _HTML_BLOCK:
        builder.paragraph()


def _load_html(path: Path) -> LoadedDocument:
    _check_size(path)
    from bs4 import BeautifulSoup, CData, NavigableString, Tag

    data = path.read_bytes()
    if b"\x00" in data[:_SNIFF_BYTES] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError("binary data, not HTML")
    soup = BeautifulSoup(data, "html.parser")
    title = " ".join(soup.title.get_text().split()) if soup.title else ""

    builder = _TextBuilder()
    # Iterative walk with explicit close markers: deep pages must not hit the recursion limit.
    stack: list[tuple[object, bool]] = [(soup, False)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):  # not comments, doctypes, etc.
                builder.text(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if closing:
            _html_break(builder, name)
            continue
        if name in _HTML_DROP or _hidden(node):
            continue
        if name in _HTML_HEADINGS:
            builder.heading(node.get_text(" "))
            continue
        if name == "br":
            builder.newline()
        elif name in ("td", "th"):
            builder.cell()
        else:
            _html_break(builder, name)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))

    text, headings = builder.result()
    if not text.strip():
        raise LoadError("no visible text in the page")
    title = title or (headings[0][1] if headings else "") or _first_line(text) or path.stem
    return LoadedDocument(title=title[:_TITLE_MAX], pages=iter([Page(text, headings=headings)]))


# -- Plain text and Markdown -------------------------------------------------

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
    _check_size(path)
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
    title = title or _first_line(head)
    if not title or len(title) > 100:
        title = path.stem
    return LoadedDocument(title=title[:_TITLE_MAX], pages=_text_sections(path, encoding, markdown))


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
