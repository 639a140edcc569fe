"""OCR: scans and images read with the real bundled recogniser, and every bad input a folder holds.

Tests that run the recogniser are marked slow (a page takes a second or two on
two cores); the bookkeeping around it (offsets, boxes, cache, bad files) is fast.
"""

from __future__ import annotations

import struct
import weakref
import zlib
from pathlib import Path

import numpy as np
import pytest

import rag.ocr as ocr
from rag.loaders import OCR_OFF_REASON, LoadError, LoadOptions, NoTextError, load
from rag.loaders import pdf as pdf_loader
from rag.ocr import OcrCache, OcrLine, OcrPage
from tests.conftest_docs import make_image_pdf, make_pdf, text_image

LINES = [
    "Northwind Traders scanned contract 2024",
    "The deposit is EUR 4,800 payable in March.",
    "Deliveries arrive at dock 7 before noon.",
]


def _squeeze(text: str) -> str:
    return "".join(text.split()).lower()


def _centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _inside(point, box, slack: float) -> bool:
    x, y = point
    return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack


# -- bookkeeping (fast) ---------------------------------------------------------------


def _page() -> OcrPage:
    return OcrPage(
        width=600,
        height=800,
        lines=(
            OcrLine("Hotel limit", (100, 100, 210, 120), 0.99, ""),
            OcrLine("EUR 160", (220, 100, 290, 120), 0.71, " "),
            OcrLine("per night.", (100, 130, 200, 150), 0.95, "\n"),
        ),
    )


def test_page_text_offsets_boxes_and_confidence():
    page = _page()
    assert page.text == "Hotel limit EUR 160\nper night."
    assert page.starts == (0, 12, 20)
    at = page.text.index("EUR 160")
    # A passage starting mid-line is cut along the line; whole lines keep their boxes.
    assert page.boxes(at, len(page.text)) == [(220, 100, 290, 120), (100, 130, 200, 150)]
    (half,) = page.boxes(6, 11)  # "limit": the last 5 of its 11 characters
    assert half[0] == pytest.approx(160) and half[2] == pytest.approx(210)
    assert page.confidence(0, 11) == pytest.approx(0.99)
    assert page.confidence(0, len(page.text)) == pytest.approx(0.71)  # the least sure line
    assert page.boxes(len(page.text), len(page.text) + 5) == []
    assert OcrPage.from_json(page.to_json()) == page


def test_turned_page_boxes_are_cut_along_the_text():
    down = OcrPage(100, 100, (OcrLine("abcd", (10, 0, 20, 40), 0.9, ""),), rotation=90)
    assert down.boxes(0, 2) == [(10, 0, 20, 20)]  # text runs top to bottom
    up = OcrPage(100, 100, (OcrLine("abcd", (10, 0, 20, 40), 0.9, ""),), rotation=270)
    assert up.boxes(0, 2) == [(10, 20, 20, 40)]  # bottom to top


def test_pieces_of_one_visual_line_are_joined_in_reading_order():
    def quad(x0, y0, x1, y1):
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)

    found = [
        (quad(300, 102, 400, 122), "second", 0.9),
        (quad(10, 140, 100, 160), "next line", 0.9),
        (quad(10, 100, 200, 120), "first", 0.9),
        (quad(10, 200, 40, 220), "中文", 0.9),
        (quad(50, 201, 90, 221), "字符", 0.9),
    ]
    lines = ocr._reading_order(found, 0, 500, 300)
    text = "".join(sep + t for t, _box, _conf, sep in lines)
    assert text == "first second\nnext line\n中文字符"


def test_rows_of_a_page_scanned_askew_are_read_row_by_row():
    """Two degrees askew, a table row's right end sits lower than the next row's label."""
    angle = np.radians(2.0)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def piece(x0, x1, row, text):
        y0 = 100 + 33 * row
        corners = np.array([[x0, y0], [x1, y0], [x1, y0 + 23], [x0, y0 + 23]], dtype=float)
        return (corners @ turn.T, text, 0.9)

    rows = [
        ("Cash, cash equivalents and restricted cash, beginning balances", "$ 35,929"),
        ("Operating activities:", None),
        ("Net income", "79,082"),
        ("Other", "(1,183)"),
    ]
    found = [piece(150, 150 + 14 * len(label), r, label) for r, (label, _) in enumerate(rows)]
    found += [piece(1100, 1200, r, value) for r, (_, value) in enumerate(rows) if value]
    assert ocr._skew([q for q, _t, _s in found]) == pytest.approx(-angle, abs=1e-6)
    lines = ocr._reading_order(found[::-1], 0, 1240, 1754)
    text = "".join(sep + t for t, _box, _conf, sep in lines)
    assert text.split("\n") == [f"{label} {value}" if value else label for label, value in rows]
    # Each piece keeps its box on the page as stored, for highlighting.
    assert lines[0][1] == pytest.approx(
        tuple(found[0][0].min(axis=0)) + tuple(found[0][0].max(axis=0))
    )


def test_text_set_at_a_steep_angle_is_not_taken_for_a_skewed_page():
    steep = np.radians(30)
    quad = np.array([[0, 0], [400, 0], [400, 20], [0, 20]], dtype=float)
    turn = np.array([[np.cos(steep), -np.sin(steep)], [np.sin(steep), np.cos(steep)]])
    assert ocr._skew([quad @ turn.T]) == 0.0
    assert ocr._skew([np.array([[0, 0], [30, 0], [30, 20], [0, 20]], dtype=float)]) == 0.0


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_points_of_a_turned_image_map_back_onto_the_page(rotation):
    w, h = 40, 30
    page = np.zeros((h, w), dtype=int)
    page[5, 7] = 1  # a mark at (x=7, y=5)
    turned = np.rot90(page, k=rotation // 90)
    ty, tx = (int(v) for v in np.argwhere(turned == 1)[0])
    back = ocr._unturn(np.array([[tx + 0.5, ty + 0.5]]), rotation, w, h)
    assert back[0] == pytest.approx([7.5, 5.5])
    assert ocr._turn_points(back, rotation, w, h)[0] == pytest.approx([tx + 0.5, ty + 0.5])


def test_cache_keeps_results_by_content_hash_and_page(tmp_path):
    cache = OcrCache(tmp_path / "ocr.sqlite")
    assert cache.get("abc", 1) is None
    cache.put("abc", 1, _page())
    assert cache.get("abc", 1) == _page()
    assert cache.get("abc", 2) is None and cache.get("abd", 1) is None
    cache.close()
    assert OcrCache(tmp_path / "ocr.sqlite").get("abc", 1) == _page()  # survives a restart


# -- bad input (fast: refused before anything is recognised) ---------------------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims width x height pixels; its header is all that is read first."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path):
    path = _png_header_only(tmp_path / "poster.png", 20_000, 20_000)
    with pytest.raises(LoadError, match="image too large to read") as info:
        list(load(path).pages)
    assert "400 megapixels" in info.value.reason


@pytest.mark.parametrize(
    "name, data",
    [
        ("photo.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8),
        ("scan.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50),
        ("fax.tiff", b"II*\x00" + b"\x00" * 100),
        ("note.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x01" * 40),
        ("empty.bmp", b""),
    ],
)
def test_a_corrupt_image_is_reported_with_a_reason(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError) as info:
        list(load(path).pages)
    assert info.value.reason in ("not a valid image (damaged or truncated)", "empty file")


def test_a_truncated_image_is_reported_with_a_reason(tmp_path):
    image, _ = text_image(LINES[:1])
    path = tmp_path / "cut.png"
    image.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="not a valid image"):
        list(load(path).pages)


def test_a_password_protected_scan_says_so(tmp_path):
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image, _ = text_image(LINES)
    path = tmp_path / "locked-scan.pdf"
    c = canvas.Canvas(str(path), encrypt=StandardEncryption("open-sesame", "owner"))
    c.drawImage(ImageReader(image), 0, 0, width=595, height=300)
    c.showPage()
    c.save()
    with pytest.raises(LoadError, match="password-protected"):
        list(load(path).pages)


def test_with_ocr_off_scans_and_images_are_skipped_with_the_reason(tmp_path):
    image, _ = text_image(LINES)
    png = tmp_path / "photo.png"
    image.save(png)
    scan = make_image_pdf(tmp_path / "scan.pdf", [image])
    off = LoadOptions(ocr=False)
    for path in (png, scan):
        with pytest.raises(NoTextError) as info:
            list(load(path, off).pages)
        assert info.value.reason == OCR_OFF_REASON


def test_a_long_scan_holds_one_page_image_at_a_time(tmp_path, monkeypatch):
    """The loader's memory discipline, with the recogniser replaced by a counter of live
    page images (the real one is measured by bench/ocr.py on a 200-page scan)."""
    image, _ = text_image(["page"], dpi=30)
    path = make_image_pdf(tmp_path / "long-scan.pdf", [image] * 200, dpi=30)
    alive: list[weakref.ref] = []
    most = 0
    real_render = pdf_loader.render_page

    def render(pdf, index, dpi=pdf_loader.RENDER_DPI):
        rendered = real_render(pdf, index, dpi=30)
        alive.append(weakref.ref(rendered[0]))
        return rendered

    def recognise(image, scale=1.0):
        nonlocal most
        most = max(most, sum(1 for r in alive if r() is not None))
        return OcrPage(image.shape[1] / scale, image.shape[0] / scale, ())

    monkeypatch.setattr(pdf_loader, "render_page", render)
    monkeypatch.setattr(ocr, "recognise", recognise)
    notes: list[str] = []
    with pytest.raises(NoTextError, match="no text found, even by OCR"):
        list(load(path, LoadOptions(on_progress=notes.append)).pages)
    assert len(alive) == 200
    assert most == 1
    assert notes[0] == "OCR page 1 of 200" and notes[-1] == "OCR page 200 of 200"


def test_a_stop_request_ends_a_long_scan_between_pages(tmp_path, monkeypatch):
    image, _ = text_image(["page"], dpi=30)
    path = make_image_pdf(tmp_path / "long-scan.pdf", [image] * 20, dpi=30)
    seen: list[int] = []

    def recognise(image, scale=1.0):
        seen.append(1)
        return OcrPage(1, 1, (OcrLine("some text on the page", (0, 0, 1, 1), 0.9, ""),))

    monkeypatch.setattr(ocr, "recognise", recognise)
    options = LoadOptions(should_stop=lambda: len(seen) >= 3)
    with pytest.raises(LoadError, match="stopped"):
        list(load(path, options).pages)
    assert len(seen) == 3


# -- the real recogniser (slow) ---------------------------------------------------------


@pytest.mark.slow
def test_an_image_is_read_with_boxes_where_the_text_stands(tmp_path):
    image, drawn = text_image(LINES)
    path = tmp_path / "photo.png"
    image.save(path)
    (page,) = list(load(path).pages)
    assert page.number is None
    assert _squeeze(page.text) == _squeeze("\n".join(LINES))
    cache = OcrCache(tmp_path / "c.sqlite")
    digest = __import__("rag.scan", fromlist=["content_hash"]).content_hash(path)
    list(load(path, LoadOptions(cache=cache)).pages)
    result = cache.get(digest, 1)
    assert result is not None and result.text == page.text
    at = result.text.index("EUR 4,800") if "EUR 4,800" in result.text else result.text.index("EUR")
    (box,) = result.boxes(at, at + 9)
    assert _inside(_centre(box), drawn[1], slack=4)
    assert min(line.confidence for line in result.lines) > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_turned_page_is_read_upright_and_boxed_on_the_page_as_stored(tmp_path, rotation):
    from PIL import Image

    image, drawn = text_image(LINES)
    w, h = image.size
    turned = image.rotate(-rotation, expand=True, fillcolor=255)  # PIL turns counter-clockwise
    path = tmp_path / f"turned-{rotation}.png"
    turned.save(path)
    cache = OcrCache(tmp_path / "c.sqlite")
    (page,) = list(load(path, LoadOptions(cache=cache, digest="x")).pages)
    assert _squeeze(page.text) == _squeeze("\n".join(LINES))
    result = cache.get("x", 1)
    assert result.rotation == rotation
    # Where line 2 was drawn, after turning the page clockwise by `rotation`.
    cx, cy = _centre(drawn[1])
    expected = {90: (h - cy, cx), 180: (w - cx, h - cy), 270: (cy, w - cx)}[rotation]
    start = result.text.index("deposit")
    (box,) = result.boxes(start, start + 7)
    line_box = next(ln.box for ln in result.lines if "deposit" in ln.text)
    assert _inside(expected, line_box, slack=6)
    assert line_box[0] <= box[0] and box[2] <= line_box[2]
    assert isinstance(Image.open(path).size, tuple)


@pytest.mark.slow
def test_a_table_scanned_askew_reads_row_by_row_with_its_spaces(tmp_path):
    """A filing's table, scanned two degrees askew with noise: rows stay rows, and the
    spaces between a label and its figures, and between two figures, are kept."""
    from PIL import Image, ImageDraw, ImageFont

    rows = [
        ("Cash, cash equivalents and restricted cash, beginning balances", "$ 35,929", "$ 39,789"),
        ("Operating activities:", "", ""),
        ("Accounts receivable, net", "21,803", "26,278"),
        ("Vendor non-trade receivables", "20,439", "25,228"),
        ("Payments for taxes related to net share settlement", "(5,915)", "(5,855)"),
        ("Total current liabilities", "129,873", "125,481"),
    ]
    dpi = 150
    font = ImageFont.load_default(size=round(11 * dpi / 72))
    page = Image.new("L", (int(8.27 * dpi), int(4 * dpi)), 255)
    draw = ImageDraw.Draw(page)
    for r, (label, this_year, last_year) in enumerate(rows):
        y = dpi // 2 + r * round(16 * dpi / 72)
        draw.text((dpi // 2, y), label, font=font, fill=0)
        for right, value in ((int(6.4 * dpi), this_year), (int(7.6 * dpi), last_year)):
            draw.text((right - draw.textlength(value, font=font), y), value, font=font, fill=0)
    page = page.rotate(2.0, resample=Image.BICUBIC, fillcolor=255)
    noise = np.random.default_rng(3).normal(0, 12, (page.height, page.width))
    page = Image.fromarray(np.clip(np.asarray(page, dtype=float) + noise, 0, 255).astype("uint8"))
    path = make_image_pdf(tmp_path / "table-scan.pdf", [page], dpi=dpi)
    (read,) = list(load(path).pages)
    expected = [" ".join(v for v in row if v) for row in rows]
    assert [" ".join(line.split()) for line in read.text.split("\n")] == expected


@pytest.mark.slow
def test_the_recogniser_uses_every_core_and_its_threads_sleep_when_idle():
    from rag.onnx_embed import _cores

    engine = ocr._get_engine()
    holders = (engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session)
    for holder in holders:
        options = holder.session.get_session_options()
        assert options.intra_op_num_threads == _cores()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        assert not options.enable_cpu_mem_arena


@pytest.mark.slow
def test_every_page_of_a_tiff_is_read(tmp_path):
    first, _ = text_image(["First page: the lease starts in May."])
    second, _ = text_image(["Second page: rent is EUR 900 a month."])
    path = tmp_path / "fax.tiff"
    first.save(path, save_all=True, append_images=[second])
    pages = list(load(path).pages)
    assert [p.number for p in pages] == [1, 2]
    assert "lease" in pages[0].text and "900" in pages[1].text


@pytest.mark.slow
def test_a_mixed_pdf_reads_its_scanned_page_by_ocr_and_keeps_the_text_page(tmp_path):
    scanned, drawn = text_image(LINES, dpi=150)
    path = make_image_pdf(
        tmp_path / "mixed.pdf",
        [scanned, scanned],
        dpi=150,
        text_pages={0: ["Cover page with a real text layer, typed in a word processor."]},
    )
    cache = OcrCache(tmp_path / "c.sqlite")
    notes: list[str] = []
    pages = list(load(path, LoadOptions(cache=cache, digest="m", on_progress=notes.append)).pages)
    assert [p.number for p in pages] == [1, 2]
    assert pages[0].text.startswith("Cover page with a real text layer")
    assert _squeeze(pages[1].text) == _squeeze("\n".join(LINES))
    assert notes == ["OCR page 2 of 2"]
    assert cache.get("m", 1) is None  # the text page was never recognised
    result = cache.get("m", 2)
    # Boxes are in PDF points: the image was placed at 150 dpi, so pixels * 72 / 150.
    assert result.width == pytest.approx(scanned.size[0] * 72 / 150, abs=1)
    line = next(ln for ln in result.lines if "deposit" in ln.text)
    drawn_pt = tuple(v * 72 / 150 for v in drawn[1])
    assert _inside(_centre(drawn_pt), line.box, slack=3)


@pytest.mark.slow
def test_an_image_without_text_is_skipped_with_a_reason(tmp_path):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (900, 600), (200, 220, 240))
    ImageDraw.Draw(image).ellipse((200, 150, 700, 450), fill=(30, 120, 60))
    path = tmp_path / "landscape.jpg"
    image.save(path)
    with pytest.raises(NoTextError, match="no text found in the image"):
        list(load(path).pages)


@pytest.mark.slow
def test_a_cached_file_is_not_recognised_again(tmp_path, monkeypatch):
    image, _ = text_image(LINES[:2])
    path = tmp_path / "memo.png"
    image.save(path)
    cache = OcrCache(tmp_path / "c.sqlite")
    first = list(load(path, LoadOptions(cache=cache)).pages)

    def refuse(*_a, **_k):
        raise AssertionError("recognised twice")

    monkeypatch.setattr(ocr, "recognise", refuse)
    copy = tmp_path / "same-bytes-other-name.png"
    copy.write_bytes(path.read_bytes())
    assert list(load(copy, LoadOptions(cache=cache)).pages) == first


def test_text_pdfs_are_never_rendered(tmp_path, monkeypatch):
    path = make_pdf(tmp_path / "memo.pdf", ["Warehouse Memo 12\nThe dock opens at 6:00 every day."])

    def refuse(*_a, **_k):
        raise AssertionError("a text page was rendered")

    monkeypatch.setattr(pdf_loader, "render_page", refuse)
    assert "dock opens" in list(load(path).pages)[0].text


# Lines as PP-OCRv4 read them from scanned and photographed pages.
_RUN_TOGETHER = [
    (
        "1.Premises.ThelandlordletstoNorthwindTraders",
        "1.Premises. The landlord lets to Northwind Traders",
    ),
    ("Forklift training is everyTuesday at 7:30.", "Forklift training is every Tuesday at 7:30."),
    (
        "Companyrepeatedlyrefusedtodivest, statingthat",
        "Company repeatedly refused to divest, stating that",
    ),
    ("Coffeeisfreeforallstaff before 9:00.", "Coffee is free for all staff before 9:00."),
]


@pytest.mark.parametrize("text, expected", _RUN_TOGETHER)
def test_spaces_the_text_itself_shows_are_put_back(text, expected):
    assert ocr.respace(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "员工出差住宿标准为每晚不超过六百元。",
        "Slides in PowerPoint, e.g. for the U.S. office: EUR 9,400.",
        "JavaScript",
        "at 14:30, 7:30 and 9.5",
        "Northwind Traders in Rotterdam",  # a name is not two words
        "divestment",  # nor a word the dictionary lacks, when its split is not made of words
    ],
)
def test_respacing_leaves_chinese_names_numbers_and_short_runs_alone(text):
    assert ocr.respace(text) == text
