"""PDF pages through PDFium (pypdfium2): fast, and it reads owner-password files.

Pages come one by one with 1-based numbers. A page with no text layer (fewer
than ``MIN_PAGE_CHARS`` visible characters, or little text over a page-sized
image: a scan with a stamp) is rendered and read by OCR when it is on, page by
page, so mixed PDFs keep their text pages as they are. With OCR off, or when
OCR finds nothing either, a PDF without any text raises :class:`NoTextError`
once that is known (iterating ``pages`` raises it at the end).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rag.loaders._common import (
    DEFAULT_OPTIONS,
    OCR_OFF_REASON,
    TITLE_MAX,
    LoadedDocument,
    LoadError,
    LoadOptions,
    NoTextError,
    check_size,
    first_line,
    meaningful_title,
)
from rag.loaders._ocr import PageReader
from rag.types import Page

SUFFIXES = frozenset({".pdf"})
# Imported lazily; the installer must bundle them.
REQUIRES = ("pypdfium2", "rapidocr_onnxruntime", "wordninja")

# A page with fewer visible characters than this has no text layer worth the
# name: a stamp ("Page 3 of 40") is not a text layer, a one-line memo is.
MIN_PAGE_CHARS = 16
# A page whose text is shorter than this and which is mostly one image is a scan
# with a stamp or a page number on it: it is read by OCR too.
STAMP_CHARS = 200
# Page images are rendered for OCR at this resolution (and at most rag.ocr.MAX_SIDE
# pixels on the longer side): 11-point text is then about 23 pixels high, which the
# recogniser reads as well as larger (bench/ocr.py), and detection costs half of 200 dpi.
RENDER_DPI = 150

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


def load(path: Path, options: LoadOptions = DEFAULT_OPTIONS) -> LoadedDocument:
    check_size(path)
    pdf = open_pdf(path)
    try:
        count = len(pdf)
        info = {k: str(v) for k, v in pdf.get_metadata_dict().items() if v}
        meta = info.get("Title", "").strip()
        first = page_text(pdf, 0) if count else ""
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
    title = title or first_line(first) or path.stem
    return LoadedDocument(title=title, pages=_pages(path, pdf, count, first, options), meta=info)


def _pages(path: Path, pdf, count: int, first: str, options: LoadOptions) -> Iterator[Page]:
    """Every page with text, read from its text layer or, where it has none, by OCR."""
    reader = PageReader(path, options, count) if options.ocr else None
    longest = 0
    try:
        for index in range(count):
            text = first if index == 0 else page_text(pdf, index)
            if reader is not None and _is_scanned(pdf, index, text):
                text = reader.read(index + 1, lambda i=index: render_page(pdf, i)).text
            longest = max(longest, visible_chars(text))
            if text.strip():
                yield Page(text=text, number=index + 1)
    except LoadError:
        raise
    except MemoryError:
        raise
    except Exception as err:
        raise LoadError("not a valid PDF (damaged or truncated)") from err
    finally:
        pdf.close()
    if longest < MIN_PAGE_CHARS:
        raise NoTextError(
            OCR_OFF_REASON if reader is None else "no text found, even by OCR (blank or unreadable)"
        )


def _is_scanned(pdf, index: int, text: str) -> bool:
    """No text layer to speak of, or a little text over an image that fills the page."""
    visible = visible_chars(text)
    if visible < MIN_PAGE_CHARS:
        return True
    if visible >= STAMP_CHARS:
        return False
    import pypdfium2.raw as pdfium_c

    page = pdf[index]
    try:
        width, height = page.get_size()
        covered = 0.0
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
            left, bottom, right, top = obj.get_pos()
            covered += max(right - left, 0) * max(top - bottom, 0)
        return covered >= 0.5 * width * height
    finally:
        page.close()


def render_page(pdf, index: int, dpi: float = RENDER_DPI):  # -> (RGB array, pixels per point)
    """The page as an RGB image at ``dpi`` (capped so its longer side fits rag.ocr.MAX_SIDE)."""
    from rag.ocr import MAX_SIDE

    page = pdf[index]
    try:
        width, height = page.get_size()
        scale = min(dpi / 72, MAX_SIDE / max(width, height, 1))
        bitmap = page.render(scale=scale, rev_byteorder=True)
        try:
            image = bitmap.to_numpy()[:, :, :3].copy()
        finally:
            bitmap.close()
        return image, scale
    finally:
        page.close()
