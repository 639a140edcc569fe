"""OCR quality and cost: scanned pages of known text, read back by Quarry and by raw RapidOCR.

Known text (XQuAD paragraphs in English and Chinese, and pages of a sec10q
filing) is drawn onto A4 page images at 150 and 300 dpi, clean and "scanned"
(turned by a degree or two, with noise), and saved as image-only PDFs. Each is
read by Quarry's PDF loader (rendering, orientation, reading order, respacing)
and, in the same run, by the raw library (``RapidOCR()(image)``, lines joined
in its order) on the same page image. Reported: character error rate against
the source text, seconds per page, and retrieval hit@5 for the questions of the
OCR'd paragraphs when those paragraphs are indexed from their scans among all
240 originals, against the same questions with every paragraph as text.

    python bench/ocr.py [--paras 12] [--sec10q-pages 3] [--dpis 150,300] [--no-retrieval]
                        [--no-raw]
    python bench/ocr.py --rss-pages 200     # peak memory while OCR-ing a long scan

The first prints a row per set, then a summary of the issue's targets: CER in
English and Chinese at 300 dpi, seconds per page at 150 dpi with the ratio to
raw RapidOCR in the same run, and hit@5 against the text. The second builds a
200-page scan (once, one page image at a time) and OCRs it in a fresh process,
whose peak RSS is the figure. Run timings on a quiet machine (``/work/bin/timed``
here); peak RSS is not a timing. Chinese pages need a CJK font
(fonts-wqy-microhei or fonts-noto-cjk); without one they are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _common import EVALSETS, ROOT, peak_rss_mb, scratch

A4 = (8.27, 11.69)  # inches
FONTS = {
    "en": ["/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"],
    "zh": [
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    ],
}


def font_for(lang: str, px: int):
    from PIL import ImageFont

    for path in FONTS[lang]:
        if Path(path).exists():
            return ImageFont.truetype(path, px)
    return ImageFont.load_default(size=px) if lang == "en" else None


def wrap(text: str, lang: str, width: int) -> list[str]:
    if lang == "zh":
        return [text[i : i + width] for i in range(0, len(text), width)]
    return textwrap.wrap(text, width)


# Lines of 11-point text, 16 points apart, that fit between the page's one-inch margins.
LINES_PER_PAGE = int((A4[1] - 2) * 72 / 16)


def page_lines(text: str, lang: str, keep_lines: bool = False) -> list[str]:
    """The lines of ``text`` as they are drawn on one page: wrapped to the text width,
    and only as many as fit, so the reference holds exactly what the page shows.
    ``keep_lines`` keeps the text's own line breaks (a filing's page, tables included)."""
    width = 38 if lang == "zh" else 80
    parts = text.split("\n") if keep_lines else [text]
    lines = [ln for part in parts for ln in wrap(part, lang, width) if ln.strip()]
    return lines[:LINES_PER_PAGE]


def page_image(lines: list[str], lang: str, dpi: int, scanned: bool, seed: int):
    """An A4 page with ``lines`` at 11 pt; ``scanned`` turns it slightly and adds noise."""
    import numpy as np
    from PIL import Image, ImageDraw

    w, h = int(A4[0] * dpi), int(A4[1] * dpi)
    page = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(page)
    font = font_for(lang, round(11 * dpi / 72))
    y = dpi
    for line in lines:
        draw.text((dpi, y), line, font=font, fill=0)
        y += round(16 * dpi / 72)
    if scanned:
        rng = random.Random(seed)
        page = page.rotate(rng.uniform(-2, 2), resample=Image.BICUBIC, fillcolor=255)
        pixels = np.asarray(page, dtype=float)
        noise = np.random.default_rng(seed).normal(0, 12, pixels.shape)
        page = Image.fromarray(np.clip(pixels + noise, 0, 255).astype("uint8"))
    return page


def save_scan(image, path: Path, dpi: int) -> Path:
    image.convert("RGB").save(path, "PDF", resolution=dpi)  # an image-only PDF, as scanners write
    return path


def normalise(text: str, lang: str) -> str:
    text = text.replace("\u3000", " ")
    return re.sub(r"\s+", "", text) if lang == "zh" else " ".join(text.split())


def cer(hyp: str, ref: str) -> float:
    """Levenshtein distance / reference length."""
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, hc in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc))
        prev = cur
    return prev[-1] / len(ref)


def raw_rapidocr(engine, pdf_path: Path) -> tuple[str, float]:
    """The raw library on the same page image Quarry renders: its lines in its own order."""
    import pypdfium2

    from rag.loaders.pdf import render_page

    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        image, _ = render_page(pdf, 0)
    finally:
        pdf.close()
    started = time.perf_counter()
    result, _ = engine(image[:, :, ::-1].copy())
    seconds = time.perf_counter() - started
    return "\n".join(r[1] for r in result or []), seconds


def quarry_ocr(pdf_path: Path, cache) -> tuple[str, float]:
    from rag.loaders import LoadOptions, load

    started = time.perf_counter()
    pages = list(load(pdf_path, LoadOptions(cache=cache)).pages)
    return "\n".join(p.text for p in pages), time.perf_counter() - started


def xquad_paragraphs(lang: str) -> list[tuple[str, list[str]]]:
    data = json.loads((EVALSETS / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))
    return [
        (p["context"], [qa["question"] for qa in p["qas"]])
        for a in data["data"]
        for p in a["paragraphs"]
    ]


def sec10q_pages(n: int) -> list[str]:
    """Text pages of one filing: prose and tables, as a real scan would hold."""
    import pypdfium2

    docs = sorted((EVALSETS / "sec10q" / "docs").glob("*.pdf"))
    if not docs or n <= 0:
        return []
    pdf = pypdfium2.PdfDocument(str(docs[0]))
    out = []
    try:
        for i in range(2, len(pdf)):
            tp = pdf[i].get_textpage()
            text = tp.get_text_range()
            tp.close()
            if len(text) > 1500:
                out.append(text.replace("\r\n", "\n"))
            if len(out) == n:
                break
    finally:
        pdf.close()
    return out


def retrieval(lang: str, ocr_texts: dict[int, str] | None, paragraphs, data_dir: Path) -> float:
    """hit@5 for the questions of the OCR'd paragraphs, among all 240 paragraphs: every
    paragraph as text (``ocr_texts`` None) or the OCR'd ones swapped in for their originals."""
    from rag.engine import Engine
    from rag.settings import Settings

    os.environ["QUARRY_DATA_DIR"] = str(data_dir)
    folder = scratch(f"ocr-retrieval-{lang}")
    for old in folder.glob("*.txt"):
        old.unlink()
    for i, (context, _qs) in enumerate(paragraphs):
        body = ocr_texts[i] if ocr_texts and i in ocr_texts else context
        (folder / f"p{i:03d}.txt").write_text(body, encoding="utf-8")
    hits = total = 0
    with Engine(Settings()) as engine:
        engine.index(folder)
        for i in RETRIEVAL_IDS[lang]:
            for q in paragraphs[i][1]:
                hits += f"p{i:03d}.txt" in [h.file for h in engine.search(q, k=5)]
                total += 1
    return hits / total if total else 0.0


RETRIEVAL_IDS: dict[str, list[int]] = {}


def long_scan(pages: int, dpi: int) -> Path:
    """An ``pages``-page image-only PDF of English paragraphs, built one page at a time.

    Each page is saved as a one-page PDF and imported into the long one, so
    building it holds one page image (Pillow's ``save_all`` would hold them all).
    """
    import pypdfium2

    path = scratch("ocr-rss") / f"scan-{pages}-{dpi}.pdf"
    if path.exists():
        return path
    paragraphs = xquad_paragraphs("en")
    one = path.with_suffix(".page.pdf")
    doc = pypdfium2.PdfDocument.new()
    try:
        for i in range(pages):
            context = paragraphs[(i * 7) % len(paragraphs)][0]
            save_scan(page_image(page_lines(context, "en"), "en", dpi, True, i), one, dpi)
            src = pypdfium2.PdfDocument(str(one))
            try:
                doc.import_pages(src)
            finally:
                src.close()
        doc.save(str(path.with_suffix(".tmp")))
    finally:
        doc.close()
        one.unlink(missing_ok=True)
    path.with_suffix(".tmp").replace(path)
    return path


def rss_run(path: Path) -> None:
    """Child process: OCR one long scan and print its peak RSS (MB) and seconds."""
    from rag.loaders import LoadOptions, load

    base = peak_rss_mb()
    started = time.perf_counter()
    n = sum(1 for _ in load(path, LoadOptions()).pages)
    print(
        json.dumps(
            {
                "pages": n,
                "seconds": time.perf_counter() - started,
                "peak_rss_mb": peak_rss_mb(),
                "before_mb": base,
            }
        )
    )


def rss(pages: int, dpi: int = 150) -> None:
    """Peak RSS of a fresh process that OCRs a ``pages``-page scan (built beforehand, here)."""
    path = long_scan(pages, dpi)
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(path)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if out.returncode:
        sys.exit(f"the {pages}-page OCR run failed (exit {out.returncode}); its errors are above")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{r['pages']}-page scan at {dpi} dpi: peak RSS {r['peak_rss_mb']:.0f} MB "
        f"(process before loading: {r['before_mb']:.0f} MB; target < 1536), "
        f"{r['seconds'] / max(r['pages'], 1):.2f} s/page",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paras", type=int, default=12, help="XQuAD paragraphs per language")
    ap.add_argument("--sec10q-pages", type=int, default=3)
    ap.add_argument("--dpis", default="150,300")
    ap.add_argument("--no-retrieval", action="store_true")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw RapidOCR comparison")
    ap.add_argument("--rss-pages", type=int, default=0, help="measure peak RSS on an N-page scan")
    ap.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.rss_child:
        rss_run(args.rss_child)
        return
    if args.rss_pages:
        # A fresh process, so the figure is OCR's own and not this run's leftovers.
        rss(args.rss_pages)
        return

    from rapidocr_onnxruntime import RapidOCR

    work = scratch("ocr")
    data_dir = work / "data"
    data_dir.mkdir(exist_ok=True)
    raw_engine = None if args.no_raw else RapidOCR()
    dpis = [int(d) for d in args.dpis.split(",")]

    sets: list[tuple[str, str, list[tuple[int, str]]]] = []  # (name, lang, [(id, text)])
    paragraphs = {}
    for lang in ("en", "zh"):
        if font_for(lang, 20) is None:
            print(f"(no CJK font found: {lang} skipped; apt-get install fonts-wqy-microhei)")
            continue
        paragraphs[lang] = xquad_paragraphs(lang)
        rng = random.Random(14)
        chosen = sorted(rng.sample(range(len(paragraphs[lang])), args.paras))
        sets.append((f"xquad-{lang}", lang, [(i, paragraphs[lang][i][0]) for i in chosen]))
    pages = sec10q_pages(args.sec10q_pages)
    if pages:
        sets.append(("sec10q", "en", list(enumerate(pages))))

    rows = []  # per page: (set, dpi, scanned, Quarry CER, raw CER, Quarry s, raw s)
    ocr_texts: dict[tuple[str, int, bool], dict[int, str]] = {}
    for dpi in dpis:
        for scanned in (False, True):
            for name, lang, items in sets:
                q_cer = r_cer = q_s = r_s = 0.0
                for ident, text in items:
                    lines = page_lines(text, lang, name == "sec10q")
                    ref = normalise("\n".join(lines), lang)
                    image = page_image(lines, lang, dpi, scanned, seed=ident)
                    path = save_scan(image, work / f"{name}-{ident}-{dpi}-{int(scanned)}.pdf", dpi)
                    del image
                    qtext, qs = quarry_ocr(path, None)
                    rtext, rs = ("", 0.0) if args.no_raw else raw_rapidocr(raw_engine, path)
                    page = (cer(normalise(qtext, lang), ref), cer(normalise(rtext, lang), ref))
                    rows.append((name, dpi, scanned, *page, qs, rs))
                    q_cer += page[0]
                    r_cer += page[1]
                    q_s += qs
                    r_s += rs
                    if name.startswith("xquad"):
                        ocr_texts.setdefault((lang, dpi, scanned), {})[ident] = qtext
                n = len(items)
                raw = (
                    ""
                    if args.no_raw
                    else f"  raw RapidOCR CER {r_cer / n:6.2%}  {r_s / n:5.2f} s/page"
                    f"  (Quarry x{q_s / max(r_s, 1e-9):.2f} the time)"
                )
                print(
                    f"{name:9} {dpi} dpi {'scanned' if scanned else 'clean  '}  "
                    f"Quarry CER {q_cer / n:6.2%}  {q_s / n:5.2f} s/page{raw}  [{n} pages]",
                    flush=True,
                )

    hit_diffs = []
    if not args.no_retrieval:
        for lang in paragraphs:
            RETRIEVAL_IDS[lang] = sorted(ocr_texts[(lang, dpis[0], False)])
            questions = sum(len(paragraphs[lang][i][1]) for i in RETRIEVAL_IDS[lang])
            base = retrieval(lang, None, paragraphs[lang], data_dir / f"r-{lang}")
            print(f"retrieval xquad-{lang} as text: hit@5 {base:.3f} ({questions} questions)")
            for dpi in dpis:
                for scanned in (False, True):
                    texts = ocr_texts[(lang, dpi, scanned)]
                    r = retrieval(lang, texts, paragraphs[lang], data_dir / f"r-{lang}")
                    hit_diffs.append((r - base, f"{lang} {dpi} dpi"))
                    print(
                        f"retrieval xquad-{lang} {dpi} dpi {'scanned' if scanned else 'clean  '}: "
                        f"hit@5 {r:.3f} (diff {r - base:+.3f} against the text)",
                        flush=True,
                    )
    summary(rows, hit_diffs, not args.no_raw)
    print(f"peak RSS of this run {peak_rss_mb():.0f} MB; root {ROOT}")


def summary(rows: list[tuple], hit_diffs: list[tuple[float, str]], raw: bool) -> None:
    """The issue's targets, each from the pages above (CER per set: English is XQuAD
    paragraphs and the filing's pages, tables included)."""

    def mean(values) -> float:
        values = list(values)
        return sum(values) / len(values) if values else float("nan")

    print("summary (targets: CER en <= 2%, zh <= 4% at 300 dpi; <= 3 s/page at 150 dpi;")
    print("         hit@5 of the OCR'd paragraphs within 0.03 of the text)")
    for name in ("xquad-en", "sec10q", "xquad-zh"):
        cells = []
        for sc in (False, True):
            pages = [r[3] for r in rows if r[:3] == (name, 300, sc)]
            if pages:
                cells.append(f"{'scanned' if sc else 'clean'} {mean(pages):.2%}")
        if cells:
            print(f"  CER {name} at 300 dpi: " + ", ".join(cells))
    at150 = [r for r in rows if r[1] == 150]
    if at150:
        q, r = mean(x[5] for x in at150), mean(x[6] for x in at150)
        versus = f"; raw RapidOCR {r:.2f} s/page, Quarry x{q / r:.2f}" if raw and r else ""
        print(f"  seconds per A4 page at 150 dpi: Quarry {q:.2f}{versus} ({len(at150)} pages)")
    if hit_diffs:
        worst = min(hit_diffs)
        print(f"  hit@5 OCR vs text: worst difference {worst[0]:+.3f} ({worst[1]})")


if __name__ == "__main__":
    main()
