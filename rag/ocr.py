"""Offline OCR: text and line boxes from page images, for scans and photographs.

RapidOCR (PP-OCRv4 detection and Chinese + English recognition on onnxruntime)
carries its models inside its wheel, so nothing is downloaded. Each recognised
line keeps its box in page coordinates (PDF points for PDF pages, pixels for
image files, origin at the top left), so a passage can be highlighted on the
page image like a passage of a text PDF.

Pages turned by 90, 180 or 270 degrees are read upright: the first pass
tells from the shape of the detected lines and the angle classifier which way
the text runs, and a turned page is read again the right way up, its boxes
mapped back onto the page as stored.

Results are cached by the file's content hash and page number in one SQLite
file (:class:`OcrCache`), so a file is recognised once, and the window shows
an OCR'd page without running OCR again.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.text import CJK as _CJK

# Part of every cache key: a different recogniser or reading rule reads again (raise the
# last number when the reading rules below change).
ENGINE_ID = "rapidocr-onnxruntime-1.4.4/pp-ocrv4/8"
# Lines the recogniser is less sure of than this are still indexed but marked.
LOW_CONFIDENCE = 0.8
# An image larger than this is refused before it is decoded: 20,000 x 20,000
# pixels would take 1.2 GB as RGB.
MAX_PIXELS = 60_000_000
# The longest side a page image is recognised at; larger images are shrunk
# first (detection and recognition cost grow with it, accuracy does not).
MAX_SIDE = 2400
# Where the recogniser's greedy reading puts no space between two characters, one is
# put back when its own probability of a space between them reaches SPACE_PROB, or
# SPACE_HINT with a blank gap of at least SPACE_GAP of the line's ink height on the
# page. Measured on 18,000 pairs of characters (sec10q and XQuAD pages at 150 and
# 300 dpi, clean and scanned): 1,599 spaces the greedy reading dropped, all found
# this way, and no space put where the text has none.
SPACE_PROB = 0.02
SPACE_HINT = 0.005
SPACE_GAP = 0.3

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class OcrLine:
    """One recognised piece of text, with what precedes it in the page text."""

    text: str
    box: Box
    confidence: float
    sep: str = "\n"  # "" / " " within a visual line, "\n" between lines


@dataclass(frozen=True)
class OcrPage:
    """What OCR read on one page: lines in reading order, in page coordinates."""

    width: float
    height: float
    lines: tuple[OcrLine, ...] = ()
    rotation: int = 0  # how far the page image was turned (clockwise) to read it upright
    starts: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        starts, at = [], 0
        for i, line in enumerate(self.lines):
            if i:
                at += len(line.sep)
            starts.append(at)
            at += len(line.text)
        object.__setattr__(self, "starts", tuple(starts))

    @property
    def text(self) -> str:
        return "".join((line.sep if i else "") + line.text for i, line in enumerate(self.lines))

    def _overlapping(self, start: int, end: int) -> list[int]:
        return [
            i
            for i, (s, line) in enumerate(zip(self.starts, self.lines, strict=True))
            if s < end and s + len(line.text) > start
        ]

    def boxes(self, start: int, end: int) -> list[Box]:
        """Boxes covering text[start:end]; a line cut by the range is cut along its text."""
        out = []
        for i in self._overlapping(start, end):
            line, s = self.lines[i], self.starts[i]
            n = max(len(line.text), 1)
            a, b = max(start - s, 0) / n, min(end - s, n) / n
            out.append(_part_of_box(line.box, a, b, self.rotation))
        return out

    def confidence(self, start: int, end: int) -> float | None:
        """The lowest line confidence in text[start:end]: one unsure line makes the passage so."""
        values = [self.lines[i].confidence for i in self._overlapping(start, end)]
        return min(values) if values else None

    def to_json(self) -> str:
        return json.dumps(
            {
                "width": self.width,
                "height": self.height,
                "rotation": self.rotation,
                "lines": [
                    [ln.text, *[round(v, 2) for v in ln.box], round(ln.confidence, 4), ln.sep]
                    for ln in self.lines
                ],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str) -> OcrPage:
        d = json.loads(data)
        lines = tuple(
            OcrLine(text, (x0, y0, x1, y1), conf, sep)
            for text, x0, y0, x1, y1, conf, sep in d["lines"]
        )
        return cls(d["width"], d["height"], lines, d.get("rotation", 0))


def _part_of_box(box: Box, a: float, b: float, rotation: int) -> Box:
    """The share a..b (0..1) of a line's box along the direction its text runs."""
    if a <= 0.0 and b >= 1.0:
        return box
    x0, y0, x1, y1 = box
    if rotation == 0:
        return (x0 + (x1 - x0) * a, y0, x0 + (x1 - x0) * b, y1)
    if rotation == 180:
        return (x1 - (x1 - x0) * b, y0, x1 - (x1 - x0) * a, y1)
    if rotation == 90:  # text runs top to bottom
        return (x0, y0 + (y1 - y0) * a, x1, y0 + (y1 - y0) * b)
    return (x0, y1 - (y1 - y0) * b, x1, y1 - (y1 - y0) * a)  # 270: bottom to top


def describe(confidence: float | None) -> str:
    """How a passage read by OCR is labelled for people: 'read by OCR, 93% sure'."""
    if confidence is None:
        return "read by OCR"
    low = " (low: check the page)" if confidence < LOW_CONFIDENCE else ""
    return f"read by OCR, {confidence:.0%} sure{low}"


# -- recognition -----------------------------------------------------------------

_engine = None
_engine_lock = threading.Lock()


def _get_engine():
    """One RapidOCR per process, built on first use (a fraction of a second, no download)."""
    global _engine
    if _engine is None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as err:  # pragma: no cover - an install without the OCR wheel
            raise RuntimeError(
                "OCR is not installed (rapidocr-onnxruntime); reinstall Quarry"
            ) from err
        engine = RapidOCR(max_side_len=MAX_SIDE, width_height_ratio=-1)
        _own_sessions(engine)
        _engine = engine
    return _engine


def _own_sessions(engine) -> None:
    """Give RapidOCR's three models sessions that use every core without spinning.

    RapidOCR leaves the thread pool to onnxruntime, whose idle threads spin:
    beside the embedder or another program they burn a core waiting, and a
    page takes longer, not shorter. One pool of all cores, threads that sleep
    when idle, and a single inter-op thread (the models are one chain).
    """
    import onnxruntime as ort

    from rag.onnx_embed import _cores

    for holder in (engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session):
        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.enable_cpu_mem_arena = False  # as RapidOCR: memory goes back after each page
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = _cores()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = holder.session._model_path  # the file RapidOCR found inside its wheel
        holder.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def recognise(image, scale: float = 1.0) -> OcrPage:
    """Read an RGB image (numpy array, height x width x 3, uint8).

    ``scale`` is image pixels per page unit (2.0 for a PDF page rendered at
    144 dpi), so boxes come back in page units.
    """
    import numpy as np

    image = np.ascontiguousarray(image[:, :, ::-1])  # RapidOCR reads BGR
    h, w = image.shape[:2]
    with _engine_lock:
        engine = _get_engine()
        quads, crops, tall = _detect(engine, image)
        rotation = _page_rotation(engine, crops, tall)
        if rotation:
            # Find the lines again upright: np.rot90 turns counter-clockwise, undoing a
            # clockwise turn; their quads are mapped back onto the page as stored.
            turned = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
            quads, crops, _ = _detect(engine, turned)
            quads = [_unturn(np.asarray(q, dtype=float), rotation, w, h) for q in quads]
        found = _read(engine, quads, crops)
    lines = _reading_order(found, rotation, w, h)
    return OcrPage(
        width=w / scale,
        height=h / scale,
        lines=tuple(
            OcrLine(text, tuple(v / scale for v in box), conf, sep)  # type: ignore[arg-type]
            for text, box, conf, sep in lines
        ),
        rotation=rotation,
    )


def _detect(engine, image):
    """Lines of ``image``: (quads in ``image``, crops to read, ``tall`` per line).

    RapidOCR's own steps; a crop of a vertical line comes turned 90 degrees
    counter-clockwise, as RapidOCR turns it.
    """
    raw_h, raw_w = image.shape[:2]
    img, ratio_h, ratio_w = engine.preprocess(image)
    record = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
    img, record = engine.maybe_add_letterbox(img, record)
    # Detection runs at full size: on a shrunk copy, lines set close together merge into
    # one box and one of them is lost.
    boxes, _ = engine.auto_text_det(img)
    if boxes is None or len(boxes) == 0:
        return [], [], []
    crops = engine.get_crop_img_list(img, boxes)
    tall = [_is_tall(b) for b in boxes]
    return list(engine._get_origin_points(boxes, record, raw_h, raw_w)), crops, tall


def _read(engine, quads, crops) -> list[tuple]:
    """(quad, text, confidence) for the lines that read as text, crops taken as they are.

    The angle classifier is not asked to flip lines one by one: on an upright page
    it calls a long line upside down now and then, and that line is lost.
    """
    import numpy as np

    out = []
    for quad, crop in zip(quads, crops, strict=True):
        text, score = _recognise_line(engine, crop)
        text = respace(text.strip())
        if text and score >= engine.text_score:
            out.append((np.asarray(quad, dtype=float), text, score))
    return out


def _recognise_line(engine, crop) -> tuple[str, float]:
    """(text, confidence) of one line's crop: RapidOCR's recognition, spaces kept.

    The recogniser is RapidOCR's, fed as RapidOCR feeds it; the greedy reading
    of its output is done here, because PP-OCRv4's Chinese + English model
    scores a space between English words or figures a little below "nothing":
    "Accounts receivable, net 21,803 26,278" comes out as "...net21,80326,278",
    and no dictionary can put the space back between two numbers. Where the
    greedy reading has no space, one goes back in when the model's own
    probability of a space between the two characters says so (SPACE_PROB),
    or says so weakly over a gap as wide as a space on the page (SPACE_GAP).
    Chinese characters are never spaced.

    Lines go one at a time: a batch is padded to its widest line, and a batch of
    six long lines (RapidOCR's default) works on tensors too large for the CPU's
    caches. Measured on two cores at 150 dpi (bench/ocr.py pages): 1.05 s of
    recognition per page one at a time, 1.08 in threes, 1.47 in sixes, 4.2 in twelves.
    """
    import numpy as np

    rec = engine.text_rec
    h, w = crop.shape[:2]
    _, model_h, model_w = rec.rec_image_shape
    widest = max(model_w / model_h, w / max(h, 1))
    probs = rec.session(rec.resize_norm_img(crop, widest)[np.newaxis].astype(np.float32))[0][0]
    labels = probs.argmax(axis=1)
    keep = labels != 0  # 0 is CTC's "nothing here"
    keep[1:] &= labels[1:] != labels[:-1]
    cols = np.flatnonzero(keep)
    if not len(cols):
        return "", 0.0
    chars = rec.postprocess_op.character
    space = len(chars) - 1  # RapidOCR appends the space to the model's dictionary
    text = [chars[i] for i in labels[cols]]
    score = float(probs[cols, labels[cols]].mean())
    ink = None
    out = [text[0]]
    for i in range(1, len(text)):
        a, b = text[i - 1], text[i]
        if a != " " and b != " " and not (_CJK.match(a) or _CJK.match(b)):
            p = float(probs[cols[i - 1] + 1 : cols[i], space].max(initial=0.0))
            if p >= SPACE_HINT and p < SPACE_PROB:
                if ink is None:
                    ink = _ink_columns(crop)
                # model columns -> crop pixels: the crop fills w/h of the model's widest
                per_col = w / (len(labels) * min(1.0, (w / max(h, 1)) / widest))
                gap = _blank_run(
                    ink[0], int((cols[i - 1] + 0.5) * per_col), int((cols[i] + 0.5) * per_col)
                )
                p = SPACE_PROB if gap >= SPACE_GAP * ink[1] else 0.0
            if p >= SPACE_PROB:
                out.append(" ")
        out.append(b)
    return "".join(out), score


def _ink_columns(crop):
    """(columns of the crop with ink in the line's own rows, height of those rows).

    The line's rows are the unbroken run of inked rows through the crop's middle,
    so bits of the lines above and below that the crop caught do not fill a gap.
    """
    import cv2
    import numpy as np

    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    _, mask = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return np.zeros(mask.shape[1], dtype=bool), 1
    mid = int(rows[np.argmin(np.abs(rows - mask.shape[0] // 2))])
    top, bottom = mid, mid
    while top > 0 and mask[top - 1].any():
        top -= 1
    while bottom < mask.shape[0] - 1 and mask[bottom + 1].any():
        bottom += 1
    return mask[top : bottom + 1].any(axis=0), bottom - top + 1


def _blank_run(ink, start: int, end: int) -> int:
    """The longest run of columns without ink in ink[start:end]."""
    best = run = 0
    for inked in ink[max(start, 0) : max(end, 0)]:
        run = 0 if inked else run + 1
        best = max(best, run)
    return best


def _page_rotation(engine, crops, tall) -> int:
    """How far (clockwise) the page is turned, by a vote of its lines weighted by length.

    A vertical line (RapidOCR turns its crop counter-clockwise) runs top to
    bottom (page turned 90) unless the angle classifier finds the crop upside
    down (bottom to top: 270); a horizontal one it finds upside down means 180.
    """
    if not crops:
        return 0
    _, verdicts, _ = engine.text_cls(crops)
    votes = {0: 0.0, 90: 0.0, 180: 0.0, 270: 0.0}
    for crop, (label, score), is_tall in zip(crops, verdicts, tall, strict=True):
        flipped = "180" in str(label) and score > engine.text_cls.cls_thresh
        turn = (90 if is_tall else 0) + (180 if flipped else 0)
        votes[turn] += crop.shape[1] / max(crop.shape[0], 1)  # a line's length in heights
    total = sum(votes.values())
    best = max(votes, key=votes.__getitem__)
    # Turn the page only when most of its text says so: a rotated stamp is not a rotated page.
    return best if total and votes[best] > 0.6 * total else 0


_GLUED = (
    # "Premises.The", "notice,photographed", "Note:Staff": a mark between words
    re.compile(r"(?<=[A-Za-z]{2}[,;:])(?=[A-Za-z])|(?<=[a-z]{2}\.)(?=[A-Z][a-z])"),
    # "everyTuesday" inside a long run of letters: two words, not a brand name
    re.compile(r"(?<=[a-z]{3})(?=[A-Z][a-z]{2})"),
)
RUN_CHARS = 12  # runs shorter than this may be one word ("PowerPoint") and are left alone
GLUED_WORD = re.compile(r"[A-Za-z]{7,}")  # letters long enough to hide two words


def respace(text: str) -> str:
    """Put back the spaces between English words that the recogniser dropped.

    PP-OCRv4's Chinese + English model often runs English words together
    ("Duringthedivestmentfrom", "Premises.The"). A comma, colon or full stop
    followed by a word, or a long run turning from lower to upper case, marks a
    space; a run of letters that is not a word itself is split where an English
    unigram model (wordninja, Wikipedia frequencies) finds dictionary words,
    and kept whole when it does not. (The recogniser's own character positions
    were tried first: too uneven to tell a space from a wide letter.) Chinese is
    never touched.
    """
    out = []
    for run in re.split(r"( +)", text):
        if len(run) >= RUN_CHARS and not run.isspace():
            run = _GLUED[0].sub(" ", run)
            run = _GLUED[1].sub(" ", run)
        out.append(GLUED_WORD.sub(_split_glued, run))
    return "".join(out)


def _split_glued(match: re.Match) -> str:
    import wordninja

    word = match.group(0)
    costs = wordninja.DEFAULT_LANGUAGE_MODEL._wordcost
    if word.lower() in costs:
        return word
    parts = wordninja.split(word)
    if len(parts) < 2 or "".join(parts) != word:
        return word
    # A capitalised word of ordinary length is a name ("Northwind"), not two words.
    if len(word) < RUN_CHARS and not word.islower():
        return word
    # Trust the split only when it is made of words, not of scraps ("di vestment").
    if any(len(p) <= 2 and p.lower() not in _SHORT_WORDS for p in parts):
        return word
    return " ".join(parts)


_SHORT_WORDS = frozenset(
    [
        "a",
        "i",
        "an",
        "as",
        "at",
        "be",
        "by",
        "do",
        "go",
        "he",
        "if",
        "in",
        "is",
        "it",
        "me",
        "my",
        "no",
        "of",
        "on",
        "or",
        "so",
        "to",
        "up",
        "us",
        "we",
    ]
)


def _is_tall(quad) -> bool:
    """RapidOCR's own rule for turning a crop by 90 degrees before reading it."""
    import numpy as np

    width = max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3]))
    height = max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))
    return width > 0 and height / width >= 1.5


def _unturn(quad, rotation: int, w: int, h: int):
    """Points of an image turned counter-clockwise by ``rotation`` back onto the original."""
    import numpy as np

    x, y = quad[:, 0], quad[:, 1]
    if rotation == 90:  # turned image is h wide, w high: (x, y) <- (w - y, x)
        return np.stack([w - y, x], axis=1)
    if rotation == 180:
        return np.stack([w - x, h - y], axis=1)
    return np.stack([y, h - x], axis=1)  # 270


def _reading_order(found: Sequence[tuple], rotation: int, w: int, h: int) -> list[tuple]:
    """Lines sorted as a reader of the upright page reads them, joined into visual lines.

    Returns (text, box, confidence, sep) with axis-aligned boxes in image pixels.
    Pieces whose vertical extents overlap by half form one visual line, read
    left to right and joined by a space (nothing between Chinese characters).
    Extents are taken along the page's own lines (:func:`_skew`): on a page
    scanned a degree or two askew, the end of a long line sits lower than its
    start by more than the gap between lines, and upright boxes would join
    neighbouring rows of a table or put a row's right end before its left.
    """
    import numpy as np

    uprights = [_turn_points(quad, rotation, w, h) for quad, _t, _s in found]
    angle = _skew(uprights)
    cos, sin = np.cos(angle), np.sin(angle)
    level = np.array([[cos, -sin], [sin, cos]])  # turns the page's lines back to horizontal
    items = []
    for (quad, text, score), upright in zip(found, uprights, strict=True):
        upright = upright @ level.T if angle else upright
        x0, y0 = upright.min(axis=0)
        x1, y1 = upright.max(axis=0)
        box = (
            float(quad[:, 0].min()),
            float(quad[:, 1].min()),
            float(quad[:, 0].max()),
            float(quad[:, 1].max()),
        )
        items.append(((float(x0), float(y0), float(x1), float(y1)), text, score, box))
    items.sort(key=lambda it: (it[0][1] + it[0][3]) / 2)
    rows: list[list] = []
    for it in items:
        ux0, uy0, ux1, uy1 = it[0]
        if rows:
            row = rows[-1]
            ry0 = min(r[0][1] for r in row)
            ry1 = max(r[0][3] for r in row)
            overlap = min(uy1, ry1) - max(uy0, ry0)
            if overlap > 0.5 * min(uy1 - uy0, ry1 - ry0):
                row.append(it)
                continue
        rows.append([it])
    out = []
    for r, row in enumerate(rows):
        row.sort(key=lambda it: it[0][0])
        for i, (_u, text, score, box) in enumerate(row):
            if i == 0:
                sep = "\n" if r else ""
            else:
                prev = row[i - 1][1]
                sep = "" if _CJK.match(prev[-1]) and _CJK.match(text[0]) else " "
            out.append((text, box, score, sep))
    return out


# Only lines this many times longer than high say reliably which way the page's lines run.
SKEW_ASPECT = 4.0
# A page askew by more than this (radians, about 10 degrees) is not a scanned page but
# text set at an angle on purpose (a stamp, a diagram): its lines are left as they lie.
MAX_SKEW = 0.18


def _skew(quads) -> float:
    """The turn (radians) that brings the page's lines level: minus their median slope.

    The median slope of the long edges of the long boxes, weighted by length: a
    scan fed in a little askew turns every line by the same angle, and the
    detector's boxes follow each line. 0 when no line is long enough to tell.
    """
    import numpy as np

    angles, weights = [], []
    for quad in quads:
        q = np.asarray(quad, dtype=float)
        edges = [q[(i + 1) % 4] - q[i] for i in range(4)]
        lengths = [float(np.hypot(*e)) for e in edges]
        long = int(np.argmax(lengths))
        short = min(lengths[(long + 1) % 4], lengths[(long + 3) % 4])
        if lengths[long] < SKEW_ASPECT * max(short, 1.0):
            continue
        dx, dy = edges[long]
        if dx < 0:
            dx, dy = -dx, -dy
        angles.append(np.arctan2(dy, dx))
        weights.append(lengths[long])
    if not angles:
        return 0.0
    order = np.argsort(angles)
    cumulative = np.cumsum(np.asarray(weights)[order])
    median = float(np.asarray(angles)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
    return -median if abs(median) <= MAX_SKEW else 0.0


def _turn_points(quad, rotation: int, w: int, h: int):
    """Points of the page as stored, in the frame of the page turned upright."""
    import numpy as np

    x, y = quad[:, 0], quad[:, 1]
    if rotation == 0:
        return quad
    if rotation == 90:  # inverse of _unturn(90): (x, y) -> (y, w - x)
        return np.stack([y, w - x], axis=1)
    if rotation == 180:
        return np.stack([w - x, h - y], axis=1)
    return np.stack([h - y, x], axis=1)


# -- cache -------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    engine TEXT NOT NULL,
    digest TEXT NOT NULL,
    page INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (engine, digest, page)
);
"""


class OcrCache:
    """What OCR read, by the file's content hash and page: one SQLite file, any thread.

    A file is recognised once, whichever folder it sits in and however often
    it is re-indexed; the window reads boxes from here without running OCR.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        """One connection per thread (the indexing worker writes while the window reads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def get(self, digest: str, page: int) -> OcrPage | None:
        try:
            row = (
                self._conn()
                .execute(
                    "SELECT data FROM pages WHERE engine = ? AND digest = ? AND page = ?",
                    (ENGINE_ID, digest, page),
                )
                .fetchone()
            )
            return OcrPage.from_json(row[0]) if row else None
        except (sqlite3.Error, ValueError, KeyError, TypeError):
            return None  # an unreadable cache only costs a second recognition

    def put(self, digest: str, page: int, result: OcrPage) -> None:
        try:
            with self._conn() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO pages (engine, digest, page, data) VALUES (?, ?, ?, ?)",
                    (ENGINE_ID, digest, page, result.to_json()),
                )
        except sqlite3.Error:
            pass  # a full disk or read-only cache must not stop indexing

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
