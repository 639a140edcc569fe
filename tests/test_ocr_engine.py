"""A folder of scans and photographs indexed end to end: real OCR, embeddings and index."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.loaders import OCR_OFF_REASON
from rag.types import FileStatus
from tests.conftest_docs import make_image_pdf, photographed, text_image

pytestmark = pytest.mark.slow

SCAN = [
    "Northwind Traders lease agreement, signed copy",
    "The monthly rent for the Rotterdam warehouse is EUR 9,400.",
    "The lease runs until the end of June 2027.",
]
PHOTO = [
    "Notice on the canteen door",
    "The canteen closes at 14:30 on Fridays.",
    "Coffee is free for all staff before 9:00.",
]


def _folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    page, _ = text_image(SCAN, dpi=150)
    make_image_pdf(docs / "lease-scan.pdf", [page], dpi=150)
    shot, _ = text_image(PHOTO, dpi=150)
    photographed(shot).save(docs / "canteen-photo.jpg", quality=75)
    (docs / "notes.txt").write_text("The parking garage opens at 6:00.\n", encoding="utf-8")
    (docs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 20)
    return docs


def test_scans_and_photos_answer_with_page_and_boxes(engine, tmp_path):
    docs = _folder(tmp_path)
    notes: list[str] = []
    report = engine.index(docs, on_progress=lambda d, t, p: notes.append(p.note))
    status = {f.file: (f.status, f.reason) for f in report.files}
    assert status["lease-scan.pdf"][0] is FileStatus.INDEXED
    assert status["canteen-photo.jpg"][0] is FileStatus.INDEXED
    assert status["broken.png"] == (FileStatus.FAILED, "not a valid image (damaged or truncated)")
    assert "OCR page 1 of 1" in notes and "OCR of the image" in notes

    hits = engine.search("What is the monthly rent for the Rotterdam warehouse?", k=3)
    top = hits[0]
    assert top.file == "lease-scan.pdf" and top.page == 1
    assert "9,400" in top.text
    assert top.ocr and top.ocr_confidence is not None and 0.5 < top.ocr_confidence <= 1.0
    data = top.to_json()
    assert data["ocr"] is True and json.dumps(data)
    boxes = engine.passage_boxes(top.file, top.page, top.start, top.end)
    assert boxes and all(0 <= x0 < x1 <= 596 and 0 <= y0 < y1 for x0, y0, x1, y1 in boxes)
    assert engine.source_text(top.file, top.page)[top.start : top.end] == top.text

    photo = engine.search("When does the canteen close on Fridays?", k=3)[0]
    assert photo.file == "canteen-photo.jpg" and photo.page is None and photo.ocr
    assert "14:30" in photo.text
    assert engine.passage_boxes(photo.file, photo.page, photo.start, photo.end)

    text_hit = engine.search("When does the parking garage open?", k=1)[0]
    assert text_hit.file == "notes.txt" and not text_hit.ocr
    assert "ocr_confidence" not in text_hit.to_json()
    assert engine.passage_boxes(text_hit.file, None, text_hit.start, text_hit.end) == []

    again = engine.index(docs)  # unchanged: nothing is read, let alone recognised
    assert again.count(FileStatus.UNCHANGED) == 4


def test_with_ocr_off_scans_are_skipped_and_read_once_it_is_on(engine, tmp_path):
    docs = _folder(tmp_path)
    engine.update_settings(
        replace(engine.settings, index=replace(engine.settings.index, ocr=False))
    )
    report = engine.index(docs)
    status = {f.file: (f.status, f.reason) for f in report.files}
    assert status["lease-scan.pdf"] == (FileStatus.SKIPPED, OCR_OFF_REASON)
    assert status["canteen-photo.jpg"] == (FileStatus.SKIPPED, OCR_OFF_REASON)
    assert status["notes.txt"][0] is FileStatus.INDEXED

    engine.update_settings(replace(engine.settings, index=replace(engine.settings.index, ocr=True)))
    report = engine.index(docs)
    status = {f.file: f.status for f in report.files}
    assert status["lease-scan.pdf"] is FileStatus.INDEXED
    assert status["canteen-photo.jpg"] is FileStatus.INDEXED
    assert status["notes.txt"] is FileStatus.UNCHANGED
