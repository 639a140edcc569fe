"""PDF pages through PDFium (pypdfium2): fast, and it reads owner-password files.

Pages come one by one with 1-based numbers. A PDF none of whose pages holds
``MIN_PAGE_CHARS`` visible characters is a scan: :class:`NoTextError` is
raised once that is known (iterating ``pages`` raises it at the end).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from rag.loaders._common import (
    TITLE_MAX,
    LoadedDocument,
    LoadError,
    NoTextError,
    check_size,
    first_line,
    meaningful_title,
)
from rag.types import Page

SUFFIXES = frozenset({".pdf"})
REQUIRES = ("pypdfium2",)  # imported lazily; the installer must bundle them

# A page with fewer visible characters than this has no text layer worth the
# name: a stamp ("Page 3 of 40") is not a text layer, a one-line memo is.
MIN_PAGE_CHARS = 16

_PDF_ERRORS = {
    2: "cannot be opened (file missing or unreadable)",
    3: "not a valid PDF (damaged or truncated)",
    4: "password-protected: open it with its password and save an unprotected copy",
    5: "uses an unsupported kind of encryption",
}


def open_pdf(path: Path):  # -> pypdfium2.PdfDocument
    """Open with PDFium; every failure becomes a LoadError with the reason in words."""
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


def page_text(pdf, index: int) -> str:  # pdf: pypdfium2.PdfDocument
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return _clean_pdf_text(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()


def visible_chars(text: str) -> int:
    return len(text) - sum(map(str.isspace, text))


def load(path: Path) -> LoadedDocument:
    check_size(path)
    pdf = open_pdf(path)
    try:
        count = len(pdf)
        info = {k: str(v) for k, v in pdf.get_metadata_dict().items() if v}
        meta = info.get("Title", "").strip()
        first = [page_text(pdf, i) for i in range(min(count, 1))]
    except LoadError:
        pdf.close()
        raise
    except Exception as err:  # PDFium errors beyond opening: a damaged page tree
        pdf.close()
        raise LoadError("not a valid PDF (damaged or truncated)") from err
    if count == 0:
        pdf.close()
        raise LoadError("the PDF has no pages")
    title = " ".join(meta.split())[:TITLE_MAX] if meaningful_title(meta) else ""
    title = title or first_line(first[0]) or path.stem
    pages = _pdf_pages(_texts(pdf, count, first[0]))
    return LoadedDocument(title=title, pages=pages, meta=info)


def _texts(pdf, count: int, first: str) -> Iterator[str]:
    try:
        yield first
        for i in range(1, count):
            yield page_text(pdf, i)
    finally:
        pdf.close()


def _pdf_pages(texts: Iterable[str]) -> Iterator[Page]:
    longest = 0
    try:
        for number, text in enumerate(texts, start=1):
            longest = max(longest, visible_chars(text))
            if text.strip():
                yield Page(text=text, number=number)
    except LoadError:
        raise
    except Exception as err:
        raise LoadError("not a valid PDF (damaged or truncated)") from err
    if longest < MIN_PAGE_CHARS:
        raise NoTextError()
