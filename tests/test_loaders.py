"""Loaders on real files: the sample folder, and every bad input a real folder holds."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from rag.loaders import LoadError, LoadOptions, NoTextError, load
from rag.loaders.text import SECTION_CHARS, detect_encoding
from tests.conftest_docs import EXAMPLES, make_docx, make_pdf, make_scanned_pdf


def read_all(path: Path) -> tuple[str, list]:
    doc = load(path)
    return doc.title, list(doc.pages)


# -- PDF ---------------------------------------------------------------------


def test_pdf_pages_are_numbered_from_one_with_their_own_text():
    title, pages = read_all(EXAMPLES / "travel-expense-policy.pdf")
    assert title == "Northwind Traders Travel and Expense Policy"
    assert [p.number for p in pages] == [1, 2, 3, 4]
    assert all(p.offset == 0 for p in pages)
    assert "EUR 75 per day for international travel" in pages[1].text.replace("\n", " ")
    assert "Chief Financial Officer" in pages[2].text
    assert "\r" not in pages[0].text


def test_pdf_title_falls_back_to_first_line(tmp_path):
    path = make_pdf(tmp_path / "memo.pdf", ["Warehouse Memo 12\nThe dock opens at 6:00."])
    assert load(path).title == "Warehouse Memo 12"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 40,  # a header, then garbage
        b"this is not a pdf at all, just text with a pdf name\n" * 20,
    ],
)
def test_corrupt_pdf_is_reported_not_raised_raw(tmp_path, data):
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    with pytest.raises(LoadError, match="not a valid PDF"):
        list(load(path).pages)


def test_truncated_pdf_is_not_valid(tmp_path):
    good = (EXAMPLES / "travel-expense-policy.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(good[: len(good) // 3])
    with pytest.raises(LoadError, match="not a valid PDF"):
        list(load(path).pages)


def test_owner_password_pdf_is_readable(tmp_path):
    path = make_pdf(
        tmp_path / "locked-for-editing.pdf",
        ["Budget 2024: EUR 1.2 million."],
        user_password="",
        owner_password="owner-secret",
    )
    assert b"/Encrypt" in path.read_bytes()
    _, pages = read_all(path)
    assert "EUR 1.2 million" in pages[0].text


def test_user_password_pdf_says_password_protected(tmp_path):
    path = make_pdf(
        tmp_path / "secret.pdf",
        ["Salaries"],
        user_password="open-sesame",
        owner_password="owner-secret",
    )
    with pytest.raises(LoadError, match="password-protected") as info:
        load(path)
    assert not isinstance(info.value, NoTextError)


def test_scanned_pdf_with_ocr_off_raises_no_text_error(tmp_path):
    path = make_scanned_pdf(tmp_path / "scan.pdf", pages=2)
    doc = load(path, LoadOptions(ocr=False))
    with pytest.raises(NoTextError, match="no text layer.*turn on OCR"):
        list(doc.pages)


def test_empty_pdf_file(tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(LoadError, match="empty file"):
        load(tmp_path / "empty.pdf")


# -- DOCX --------------------------------------------------------------------


def test_docx_keeps_body_order_tables_and_headings(tmp_path):
    title, pages = read_all(make_docx(tmp_path / "report.docx"))
    (page,) = pages
    assert title == "Quarterly Safety Report"
    assert page.number is None
    text = page.text
    assert "Site | Incidents | Days lost" in text
    assert "Rotterdam | 7 | 19" in text
    assert (
        text.index("fell in the third quarter")
        < text.index("Hamburg | 4 | 12")
        < text.index("at most 3 incidents")
    )
    headings = dict((h, at) for at, h in page.headings)
    assert set(headings) == {"Quarterly Safety Report", "Incidents by site"}
    at = headings["Incidents by site"]
    assert text[at : at + len("Incidents by site")] == "Incidents by site"


def test_sample_docx_table_text_present():
    title, (page,) = read_all(EXAMPLES / "it-equipment-and-holidays-2024.docx")
    assert title == "Northwind Traders IT Equipment and Holidays 2024"
    assert "Engineering | Dell Precision 5680, 64 GB RAM | two 27-inch 4K" in page.text


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"PK\x03\x04 not really a zip archive", "not a valid Word document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "password-protected"),
    ],
)
def test_broken_docx(tmp_path, data, reason):
    path = tmp_path / "broken.docx"
    path.write_bytes(data)
    with pytest.raises(LoadError, match=reason):
        load(path)


# -- HTML --------------------------------------------------------------------


def test_html_visible_text_only():
    title, (page,) = read_all(EXAMPLES / "product-faq.html")
    assert title == "Northwind Traders - Product FAQ"
    assert "The minimum order for trade customers is EUR 250 before tax." in page.text
    assert "Gorgonzola Telino (12 x 100 g) | Italy | 3 months, chilled" in page.text
    for hidden in ("trackingId", "NW-TRACK", "font-family", "track(", "enable JavaScript"):
        assert hidden not in page.text
    names = [h for _, h in page.headings]
    assert names[:3] == ["Product FAQ", "Ordering", "What is the minimum order?"]
    for at, heading in page.headings:
        assert page.text[at : at + len(heading)] == heading


def test_html_declared_charset_and_hidden_elements(tmp_path):
    html = (
        '<html><head><meta charset="gbk"><title>价格表</title></head><body>'
        "<p>茶叶每箱<b>120</b>元。</p><div hidden>内部备注</div>"
        '<p style="display: none">隐藏</p><template><p>模板</p></template></body></html>'
    )
    path = tmp_path / "prices.html"
    path.write_bytes(html.encode("gbk"))
    title, (page,) = read_all(path)
    assert title == "价格表"
    assert "茶叶每箱 120 元。" in page.text or "茶叶每箱120元。" in page.text
    assert "内部备注" not in page.text and "隐藏" not in page.text and "模板" not in page.text


# -- Plain text and Markdown -------------------------------------------------


TEXT = "员工出差住宿标准为每晚不超过人民币600元。\nHotel limit: EUR 160 per night.\n"


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "gbk", "gb18030"]
)
def test_text_encodings(tmp_path, encoding):
    if encoding == "utf-16-be-bom":
        data = b"\xfe\xff" + TEXT.encode("utf-16-be")
    else:
        data = TEXT.encode(encoding)
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    title, pages = read_all(path)
    assert "".join(p.text for p in pages) == TEXT
    assert title == "员工出差住宿标准为每晚不超过人民币600元。"


def test_short_gbk_and_latin_texts_are_not_misread():
    assert detect_encoding("北风贸易".encode("gbk"), complete=True) == "gb18030"
    assert detect_encoding("Müller Straße".encode("latin-1"), complete=True) == "cp1252"


def test_crlf_is_normalised(tmp_path):
    path = tmp_path / "dos.txt"
    path.write_bytes(b"First line\r\nSecond line\r\n")
    _, (page,) = read_all(path)
    assert page.text == "First line\nSecond line\n"


def test_binary_named_txt(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(LoadError, match="binary data, not text"):
        load(path)


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html", "empty.docx"])
def test_zero_byte_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(LoadError, match="empty file"):
        load(tmp_path / name)


def test_markdown_headings_skip_code_fences(tmp_path):
    md = "# Handbook\n\nIntro.\n\n```\n# not a heading\n```\n\n## Leave\n\n30 days.\n"
    path = tmp_path / "h.md"
    path.write_text(md, encoding="utf-8")
    title, (page,) = read_all(path)
    assert title == "Handbook"
    assert page.headings == ((0, "Handbook"), (md.index("## Leave"), "Leave"))


def test_huge_text_file_streams_in_bounded_sections(tmp_path):
    paragraph = ("Line %07d of the warehouse log: pallets moved, forklift checked.\n" * 8) + "\n"
    path = tmp_path / "huge.txt"
    with open(path, "w", encoding="utf-8") as f:
        n = 0
        while f.tell() < 50 * 1024 * 1024:
            f.write(paragraph.replace("%07d", f"{n:07d}"))
            n += 1
    size = path.stat().st_size

    tracemalloc.start()
    doc = load(path)
    offset = sections = 0
    last = ""
    for page in doc.pages:
        assert page.number is None
        assert page.offset == offset, "sections must be contiguous"
        assert len(page.text) <= SECTION_CHARS
        assert page.text.endswith("\n\n") or offset + len(page.text) == size
        offset += len(page.text)
        sections += 1
        last = page.text
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert offset == size  # ASCII: one character per byte
    assert sections >= 50
    assert last.rstrip().endswith("forklift checked.")
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming a 50 MB file"


def test_non_utf8_file_name_loads(tmp_path):
    name = os.fsencode(tmp_path) + b"/caf\xe9-menu.pdf"
    make_pdf(Path(os.fsdecode(name)), ["Menu of the day: soup."])
    _, pages = read_all(Path(os.fsdecode(name)))
    assert "soup" in pages[0].text


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads files whatever their permissions",
)
def test_unreadable_file(tmp_path):
    path = tmp_path / "private.txt"
    path.write_text("secret", encoding="utf-8")
    path.chmod(0)
    with pytest.raises(LoadError, match="permission denied"):
        load(path)


def test_sample_folder_chinese_markdown():
    title, (page,) = read_all(EXAMPLES / "报销制度.md")
    assert title == "北风贸易（上海）员工报销制度"
    assert "境外出差每天补贴人民币400元" in page.text
    assert "二、出差补贴" in [h for _, h in page.headings]
