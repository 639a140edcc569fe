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


def text_image(lines: list[str], dpi: int = 150, size: float = 11.0, margin: float = 1.0):
    """A white page image with ``lines`` of black text at ``size`` points, as a scanner sees it.

    Returns (PIL image, boxes): each line's drawn box in pixels (x0, y0, x1, y1),
    to check where OCR says the text is.
    """
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=round(size * dpi / 72))
    width = int(8.27 * dpi)
    height = max(int(len(lines) * 1.6 * size * dpi / 72 + 2 * margin * dpi), int(2 * dpi))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    boxes = []
    y = margin * dpi
    for line in lines:
        box = draw.textbbox((margin * dpi, y), line, font=font)
        draw.text((margin * dpi, y), line, font=font, fill=0)
        boxes.append(tuple(float(v) for v in box))
        y += 1.6 * size * dpi / 72
    return image, boxes


def make_image_pdf(path: Path, images: list, dpi: int = 150, text_pages: dict | None = None):
    """A PDF whose pages are the given images (as a scanner writes it: no text layer).

    ``text_pages`` maps a 0-based page index to lines written as real text instead,
    for mixed PDFs. Each image fills its page at ``dpi``.
    """
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), invariant=True)
    for index, image in enumerate(images):
        w, h = image.size[0] * 72 / dpi, image.size[1] * 72 / dpi
        c.setPageSize((w, h))
        if text_pages and index in text_pages:
            y = h - 72
            for line in text_pages[index]:
                c.drawString(72, y, line)
                y -= 14
        else:
            c.drawImage(ImageReader(image), 0, 0, width=w, height=h)
        c.showPage()
    c.save()
    return path


def photographed(image, seed: int = 7):
    """``image`` as a phone photographs a page: tilted, in perspective, unevenly lit, noisy.

    Save it as JPEG to add compression artefacts too.
    """
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    page = image.convert("L").rotate(2.5, expand=True, fillcolor=255, resample=Image.BICUBIC)
    w, h = page.size
    pad = int(0.06 * w)
    table = Image.new("L", (w + 2 * pad, h + 2 * pad), 70)  # a dark desk around the page
    table.paste(page, (pad, pad))
    W, H = table.size
    d = 0.04 * W  # the top edge further from the camera than the bottom
    quad = (d, 0, -0.01 * W, H, W * 1.01, H, W - d, 0)  # source corners: UL, LL, LR, UR
    warped = table.transform((W, H), Image.QUAD, quad, resample=Image.BICUBIC, fillcolor=70)
    pixels = np.asarray(warped, dtype=float)
    light = np.linspace(1.0, 0.78, W)[None, :] * np.linspace(0.95, 1.0, H)[:, None]
    pixels = pixels * light + rng.normal(0, 6, pixels.shape)
    out = Image.fromarray(np.clip(pixels, 0, 255).astype("uint8"))
    return out.filter(ImageFilter.GaussianBlur(0.6)).convert("RGB")
