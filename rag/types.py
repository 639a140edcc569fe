"""Plain data passed between the stages of the RAG core.

Everything here is a frozen dataclass of built-in types so it can cross thread
boundaries, be printed as JSON by the CLI and be shown by the GUI without either
knowing how it was produced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Page:
    """The text of one page (PDF) or of a whole document (everything else).

    ``number`` is 1-based as a reader counts, or None where the format has no
    pages. Character offsets in chunks point into ``text``.
    """

    text: str
    number: int | None = None
    offset: int = 0  # where this text starts in the whole document, for formats split into sections
    headings: tuple[tuple[int, str], ...] = ()  # (offset in text, heading) in order


@dataclass(frozen=True)
class IndexProgress:
    """The ``detail`` of an indexing ``on_progress(done, total, detail)`` call.

    Indexing has two phases. While reading ("indexing"), ``done``/``total`` count
    files: each file read is at once searchable by its words. While embedding
    ("embedding"), they count passages given a vector (the meaning index), and
    search already uses the vectors made so far.
    """

    file: str  # the file being worked on ("" when between files)
    chunks: int  # chunks written so far in this run
    elapsed: float  # seconds since the run started
    stage: str = "indexing"  # "scanning", "indexing", "ocr", "embedding", "saving", "done"
    files_ready: int = 0  # files searchable now (set while embedding)
    eta: float | None = None  # seconds left in this phase, when there is a rate to go by
    note: str = ""  # what the stage is doing now, in words ("OCR page 12 of 40")


@dataclass(frozen=True)
class Chunk:
    """A passage to embed and retrieve.

    ``start``/``end`` are character offsets into the text of its page, so the
    passage can be highlighted; ``title`` and ``heading`` are the document title
    and nearest heading above the passage, indexed with it so questions that
    name the company or section still match.
    """

    file: str  # path relative to the indexed folder, "/"-separated
    page: int | None
    start: int
    end: int
    text: str
    title: str = ""
    heading: str = ""


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused relevance score (higher is better, 0..1)."""

    chunk_id: int
    file: str
    page: int | None
    start: int
    end: int
    text: str
    score: float
    title: str = ""
    heading: str = ""
    dense_score: float | None = None
    lexical_rank: int | None = None
    ocr: bool = False  # the text was read from a page image by OCR
    ocr_confidence: float | None = None  # the recogniser's lowest line confidence, 0..1
    profile: dict | None = None  # the document's profile (rag.profiles.Profile as JSON)

    def to_json(self) -> dict:
        d = {
            "file": self.file,
            "page": self.page,
            "score": round(self.score, 4),
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "ocr": self.ocr,
        }
        if self.ocr:
            d["ocr_confidence"] = (
                None if self.ocr_confidence is None else round(self.ocr_confidence, 3)
            )
        if self.profile is not None:
            d["profile"] = self.profile
        return d


class FileStatus(StrEnum):
    INDEXED = "indexed"  # newly (re)indexed in this run
    UNCHANGED = "unchanged"  # already in the index with the same content hash
    SKIPPED = "skipped"  # not a supported type, or nothing to index (e.g. a scan)
    FAILED = "failed"  # supported, but could not be read


@dataclass(frozen=True)
class FileReport:
    file: str
    status: FileStatus
    reason: str = ""
    chunks: int = 0
    profile: str = ""  # what the document is, in one line (rag.profiles.Profile.line)


@dataclass
class IndexReport:
    """What one indexing run did, file by file."""

    folder: str
    files: list[FileReport] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    note: str = ""  # why the index was not updated (read-only), in one sentence
    searchable_seconds: float = 0.0  # when every file had been read (searchable by its words)
    embedded: int = 0  # passages given a vector in this run
    embedded_while_reading: int = 0  # of those, embedded while phase one still read files
    pending: int = 0  # passages still waiting for a vector when the run ended

    def count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status is status)

    @property
    def chunks_added(self) -> int:
        return sum(f.chunks for f in self.files if f.status is FileStatus.INDEXED)

    @property
    def problems(self) -> list[FileReport]:
        return [f for f in self.files if f.status in (FileStatus.SKIPPED, FileStatus.FAILED)]

    def to_json(self) -> dict:
        d = asdict(self)
        for f in d["files"]:
            f["status"] = f["status"].value
        return d


class Support(StrEnum):
    SUPPORTED = "supported"
    WEAK = "weak"
    UNSUPPORTED = "unsupported"
    UNCITED = "uncited"  # a claim no source supports and the model did not cite


@dataclass(frozen=True)
class Source:
    """A numbered passage given to the model; ``number`` is what ``[n]`` refers to."""

    number: int
    chunk_id: int
    file: str
    page: int | None
    start: int
    end: int
    text: str
    score: float
    title: str = ""
    ocr: bool = False  # the text was read from a page image by OCR
    ocr_confidence: float | None = None  # the recogniser's lowest line confidence, 0..1


@dataclass(frozen=True)
class Citation:
    source: int  # a Source.number
    origin: str  # "model" (written by the model) or "check" (attributed by the support check)


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    start: int  # character offsets into Answer.text
    end: int
    citations: tuple[Citation, ...] = ()
    support: Support = Support.UNCITED
    evidence: str = ""  # why it got its mark, in words a reader understands
    invalid_citations: tuple[int, ...] = ()  # numbers the model wrote that match no source


@dataclass(frozen=True)
class Evidence:
    """A sentence of a source that answers the question (or one part of it), quoted.

    ``start``/``end`` are character offsets into the page text (as
    ``Source.start``/``end`` are), so a viewer can highlight the sentence itself.
    """

    source: int  # a Source.number
    file: str
    page: int | None
    start: int
    end: int
    text: str
    score: float  # 0..1: words, meaning and the expected kind of fact together
    strong: bool = False  # good enough to stand in for a reply that is not an answer
    part: str = ""  # the part of a several-part question it answers ("" for one part)


@dataclass
class AnswerStats:
    retrieve_s: float = 0.0
    evidence_s: float = 0.0  # choosing the answering sentences, before the model reads
    prompt_s: float = 0.0  # prompt evaluation, i.e. time to first token
    generate_s: float = 0.0
    check_s: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, reused from the model's cache (not evaluated)
    completion_tokens: int = 0
    tokens_per_s: float = 0.0
    stop_reason: str = ""


@dataclass
class Answer:
    question: str
    text: str
    sentences: list[AnswerSentence] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    stats: AnswerStats = field(default_factory=AnswerStats)
    refused: bool = False  # True when retrieval found nothing relevant and the model was not asked
    note: str = ""  # e.g. "stopped: the model started repeating itself"
    evidence: list[Evidence] = field(default_factory=list)  # quoted under the answer
    quoted: bool = False  # ``text`` is quoted evidence: the model's reply was not an answer
    model_text: str = ""  # what the model wrote (the same as ``text`` unless quoted or completed)
    unanswered: list[str] = field(default_factory=list)  # parts of the question left unanswered

    def to_json(self) -> dict:
        d = asdict(self)
        for s in d["sentences"]:
            s["support"] = s["support"].value
        return d


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, for follow-up questions."""

    question: str
    answer: str
