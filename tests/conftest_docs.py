"""Builders of real document files, good and bad, for the scan, loader and chunking tests."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "northwind"


def make_pdf(
    path: Path,
    pages: list[str],
    title: str = "",
    user_password: str | None = None,
    owner_password: str | None = None,
) -> Path:
    """A PDF with one text page per item; with a password it is encrypted (RC4, reportlab)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    encrypt = None
    if user_password is not None or owner_password is not None:
        from reportlab.lib.pdfencrypt import StandardEncryption

        encrypt = StandardEncryption(
            user_password or "",
            ownerPassword=owner_password,
            canPrint=1,
            canModify=0,
            canCopy=0,
            canAnnotate=0,
        )
    c = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt, invariant=True)
    if title:
        c.setTitle(title)
    for text in pages:
        y = 800
        for line in text.splitlines():
            c.drawString(72, y, line)
            y -= 14
        c.showPage()
    c.save()
    return path


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF of images only, as a scanner writes it: no text layer at all."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("L", (200, 260), 255)
    draw = ImageDraw.Draw(image)
    for y in range(20, 240, 12):  # grey bars where a scan would show lines of text
        draw.rectangle((20, y, 180, y + 5), fill=90)
    c = canvas.Canvas(str(path), pagesize=A4, invariant=True)
    for _ in range(pages):
        c.drawImage(ImageReader(image), 50, 100, width=480, height=620)
        c.showPage()
    c.save()
    return path


def make_docx(path: Path) -> Path:
    """A Word file with a title, headings, a paragraph, a table and a closing paragraph."""
    import docx

    document = docx.Document()
    document.add_heading("Quarterly Safety Report", 0)
    document.add_paragraph("Incidents in the Hamburg warehouse fell in the third quarter.")
    document.add_heading("Incidents by site", 1)
    table = document.add_table(rows=0, cols=3)
    for row in (
        ("Site", "Incidents", "Days lost"),
        ("Hamburg", "4", "12"),
        ("Rotterdam", "7", "19"),
    ):
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value
    document.add_paragraph("The target for next year is at most 3 incidents per site.")
    document.save(str(path))
    return path
