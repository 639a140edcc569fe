"""Document profiles, and questions resolved to the documents they are about.

Real questions name an organisation and a period ("Northwind's FY2021
net working capital", "Contoso's Q2 2023 10-Q") while the passage that answers
them rarely repeats either. At index time each file gets a :class:`Profile`
(title, organisations with the short forms, tickers and former names the
document itself gives, the periods it covers, its kind and language), read
from the file name, the PDF metadata and the first pages: no LLM, no tables of
known companies. Everything Quarry knows about an organisation it learns from
the folder's own documents.

At search time :func:`document_prior` reads the question's organisations,
periods and kinds of document, and scores each profile 0..1. A question that
names nothing (or names two companies) spreads the prior over every matching
document instead of filtering: the prior only lifts, it never removes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from rag import lexical
from rag.text import HAN, HAN_CHARS

HEAD_CHARS = 20_000  # of the first pages read for the profile

# Words that end a legal name ("Contoso Ltd.") or carry no identity of their own; a
# question says "Northwind Traders" for "Northwind Traders Corporation".
_LEGAL = (
    "inc|incorporated|corporation|corp|company|co|ltd|limited|plc|llc|l\\.?l\\.?c|lp|l\\.?p"
    "|n\\.?v|s\\.?a|ag|se|gmbh|group|holdings?|bancorp|trust"
)
_LEGAL_WORD = re.compile(rf"^(?:{_LEGAL})\.?$", re.I)
_LEGAL_AT = re.compile(
    r"\b(?:Inc|INC|Incorporated|INCORPORATED|Corporation|CORPORATION|Corp|CORP|Company|COMPANY"
    r"|Co|CO|Ltd|LTD|Limited|LIMITED|plc|PLC|LLC|L\.P|LP|N\.V|S\.A|AG|SE|GmbH|Group|GROUP"
    r"|Holdings|HOLDINGS|Bancorp|BANCORP)\b\.?"
)
_REGISTRANT = re.compile(r"\(\s*Exact name of (?:the )?registrant", re.I)
_CONNECTORS = ("&", "and", "of", "de", "the", "for")
_EXCHANGES = r"NYSE American|NYSE|NASDAQ|Nasdaq|LSE|TSX|HKEX|SSE|SZSE|ASX|Euronext"
_TICKER_PAREN = re.compile(rf"\s*\([^()]{{0,60}}?\b(?:{_EXCHANGES})\s*:\s*([A-Z][A-Z.]{{0,6}})\)")
_TICKER_ROW = re.compile(
    r"\b([A-Z]{1,5}(?:\.[A-Z])?)\s+(?:[-—–]\s+)?(?:The\s+)?"
    r"(?:New York Stock Exchange|NYSE|Nasdaq|NASDAQ|Chicago Stock Exchange)"
)
_QUOTED = re.compile(r"[“\"]([A-Z0-9][^”\"]{1,40}?)[,.]?[”\"]")
_FORMERLY = re.compile(r"\bformerly(?: known as)?(?: named)?[\s,:]+", re.I)
_FORMER_LINE = re.compile(r"([^\n()]{3,80})\n\s*\(Former name")
_ZH_COMPANY = re.compile(rf"([{HAN_CHARS}]{{2,20}}?(?:股份有限公司|有限责任公司|有限公司|集团))")
_ZH_SHORT = re.compile(r"[（(]\s*(?:以下)?简称[:：]?\s*[“\"「]?([^”\"」）)，,]{2,12})")
_ZH_FORMER = re.compile(r"原名(?:为)?[“\"「]?([^”\"」，,。）)]{2,30})")
_NOT_NAMES = re.compile(r"\b(?:exchange|stock market|commission|securities)\b", re.I)

KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "annual report",
        (r"\bform\s*10-?k\b", r"\b10-?k\b", r"\bannual report\b", r"\b20-?f\b", "年度报告", "年报"),
    ),
    (
        "quarterly report",
        (
            r"\bform\s*10-?q\b",
            r"\b10-?q\b",
            r"\bquarterly report\b",
            "季度报告",
            "季报",
            "半年度报告",
        ),
    ),
    ("current report", (r"\bform\s*8-?k\b", r"\b8-?k\b", r"\bcurrent report\b")),
    (
        "earnings release",
        (
            r"\bearnings(?: release)?\b",
            r"\bpress release\b",
            r"\bfor immediate release\b",
            r"\bannounced (?:\w+ ){0,3}results\b",
            "业绩公告",
            "业绩快报",
        ),
    ),
    ("proxy statement", (r"\bproxy statement\b", r"\bdef 14a\b")),
    ("policy", (r"\bpolicy\b", r"\bpolicies\b", "制度", "政策")),
    ("manual", (r"\bmanual\b", r"\buser guide\b", r"\bhandbook\b", "手册", "指南")),
    ("contract", (r"\bagreement\b", r"\bcontract\b", "合同", "协议")),
)
_KIND_RES = tuple((kind, tuple(re.compile(p, re.I) for p in pats)) for kind, pats in KINDS)

_ORDINAL = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
}
_MONTH_NAMES = "january february march april may june july august september october november"
_MONTHS = {m: i for i, m in enumerate(f"{_MONTH_NAMES} december".split(), 1)}
_YEAR = r"((?:19|20)\d{2})"
_FY = rf"(?:\bFY\s*'?|\bfiscal(?:\s+year)?\s+){_YEAR}\b|\bFY\s*'?(\d{{2}})\b"
_Q_PATTERNS = (
    re.compile(rf"\bQ([1-4])\s*(?:of\s+)?(?:FY|fiscal(?:\s+year)?)?\s*'?{_YEAR}\b", re.I),
    re.compile(rf"\b{_YEAR}\s*[-/ ]?\s*Q([1-4])\b", re.I),
    re.compile(
        rf"\b(first|second|third|fourth|1st|2nd|3rd|4th)[-\s]+(?:fiscal\s+)?quarter"
        rf"(?:\s+(?:of|in|for))?(?:\s+(?:fiscal(?:\s+year)?|FY))?\s*'?{_YEAR}\b",
        re.I,
    ),
    re.compile(rf"{_YEAR}\s*(?:财年|财政年度|年度|年)?\s*第?\s*([一二三四1-4])\s*季度?"),
)
_ZH_YEAR = re.compile(rf"{_YEAR}\s*(?:财年|财政年度|年度|年)")
# "2015年" is how Chinese writes any year ("in 2015"), not a period a document covers: in a
# document's text only a fiscal or report year counts ("2022年度", "2022财年", "2022年年报").
_ZH_REPORT_YEAR = re.compile(rf"{_YEAR}\s*(?:财年|财政年度|年度|年报|年\s*(?:半?年度|年报))")
_BARE_YEAR = re.compile(rf"(?<!\d[.,])(?<![\d$]){_YEAR}(?![\d%]|[.,]\d)")
_QUARTER_ALONE = re.compile(
    r"\bQ([1-4])\b|\b(first|second|third|fourth|1st|2nd|3rd|4th)[-\s]+quarter\b|第([一二三四1-4])季度",
    re.I,
)
_ENDED = re.compile(
    r"\b(fiscal year|year|quarterly period|quarter|period|six months|nine months|three months)"
    r"\s+end(?:ed|ing)\s+([A-Z][a-z]+)\s+(\d{1,2}),?\s+((?:19|20)\d{2})",
    re.I,
)
_META_ENDING = re.compile(r"period ending ((?:19|20)\d{2})-(\d{2})-(\d{2})")
_ZH_ENDED = re.compile(r"截至\s*((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_LATEST = re.compile(r"\b(?:latest|most recent|newest|current)\b|最新|最近", re.I)


@dataclass(frozen=True)
class Organisation:
    """An organisation a document is about, with the other names the document gives it."""

    name: str
    aliases: tuple[str, ...] = ()  # short forms, tickers, former names, the file name's words


@dataclass(frozen=True)
class Period:
    """A period a document covers: a fiscal year, optionally a quarter, or just an end date."""

    year: int | None = None
    quarter: int | None = None
    end: str = ""  # ISO date the period ends, when the document says

    @property
    def label(self) -> str:
        if self.year and self.quarter:
            return f"Q{self.quarter} {self.year}"
        if self.year:
            return f"FY{self.year}"
        return f"ended {self.end}" if self.end else ""


@dataclass(frozen=True)
class Profile:
    """What a document is: shown in results and used to resolve questions to documents."""

    title: str
    organisations: tuple[Organisation, ...] = ()
    periods: tuple[Period, ...] = ()
    kind: str = ""
    language: str = ""

    def line(self) -> str:
        """One short line naming the document ("Contoso Ltd. (CTSO) · annual report · FY2021"),
        carried into what each of its chunks is embedded and indexed with."""
        parts = []
        if self.organisations:
            org = self.organisations[0]
            short = [a for a in org.aliases if a.upper() == a and len(a) <= 6][:1]
            parts.append(org.name + (f" ({short[0]})" if short else ""))
        else:
            parts.append(self.title)
        if self.kind:
            parts.append(self.kind)
        labels = list(dict.fromkeys(p.label for p in self.periods if p.label))
        if labels:
            parts.append(", ".join(labels[:2]))
        return " · ".join(p for p in parts if p)[:160]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping) -> Profile:
        return cls(
            title=d.get("title", ""),
            organisations=tuple(
                Organisation(o["name"], tuple(o.get("aliases", ())))
                for o in d.get("organisations", ())
            ),
            periods=tuple(
                Period(p.get("year"), p.get("quarter"), p.get("end", ""))
                for p in d.get("periods", ())
            ),
            kind=d.get("kind", ""),
            language=d.get("language", ""),
        )


# -- building a profile ----------------------------------------------------------------
def _flat(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _core_words(name: str) -> list[str]:
    """A name's identifying words, lowercased: without a leading 'The' and the legal form."""
    words = [w for w in re.split(r"[^\w&]+", name.lower()) if w and w != "&"]
    if words and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and (_LEGAL_WORD.match(words[-1]) or words[-1] in ("com", "and")):
        words.pop()
    return words


def _compact(name: str) -> str:
    return "".join(_core_words(name))


def _clean_name(name: str) -> str:
    name = re.split(r"_{3,}|\s{2,}", name)[-1]
    return name.strip(" ,;:-–—").strip()


def _tidy_case(name: str) -> str:
    """'NORTHWIND TRADERS CORPORATION' -> 'Northwind Traders Corporation' (shown to people);
    short words that are not a legal form stay capitals ('ABB', 'IBM')."""
    if name.upper() != name or not any(c.isalpha() for c in name):
        return name
    out = []
    for w in name.split():
        bare = w.strip(".,")
        keep = len(bare) <= 3 and bare.isalpha() and not _LEGAL_WORD.match(bare)
        out.append(w if keep or not w[:1].isalpha() else w.capitalize())
    return " ".join(out)


def _file_words(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r"[_\-]+", " ", stem)


_FILE_NOISE = re.compile(
    r"(?i)\b(?:Q[1-4]|H[12]|FY\d*|\d+(?:Q[1-4])?|v\d+|final|draft"
    r"|annual|quarterly|interim|report|statements?|filing)\b"
)


def file_name_alias(rel: str) -> str:
    """The file name without its periods, kinds and numbers ("2023 Q2 NVDA.pdf" -> "NVDA",
    "NORTHWIND_2021_10K.pdf" -> "NORTHWIND"): people name files after what
    they are about."""
    words = _file_words(rel)
    for _, pats in _KIND_RES:
        for p in pats:
            words = p.sub(" ", words)
    words = _FILE_NOISE.sub(" ", words)
    return " ".join(words.split())


def _name_token(tok: str, first: bool) -> bool:
    bare = tok.strip(",;:")
    if not bare:
        return False
    if bare.lower() in _CONNECTORS:
        return not first
    return bare[0].isupper() and any(c.isalpha() for c in bare) and "(" not in bare


def _name_before(text: str, end: int, limit: int = 7) -> str:
    """The run of capitalised words that ends at ``end`` ("... 1-11437 NORTHWIND TRADERS
    CORPORATION" -> "NORTHWIND TRADERS CORPORATION"), or "" when none."""
    toks = text[:end].split()
    taken: list[str] = []
    while toks and len(taken) < limit and _name_token(toks[-1], False):
        taken.insert(0, toks.pop())
    while taken and taken[0].lower().strip(",") in _CONNECTORS:
        taken.pop(0)
    return " ".join(taken).strip(" ,;:")


def _name_after(text: str, start: int, limit: int = 6) -> str:
    taken: list[str] = []
    for tok in text[start:].split()[:limit]:
        if not _name_token(tok, not taken):
            break
        taken.append(tok)
        if tok.endswith((",", ";", ":", ")")):
            break
    return " ".join(taken).strip(" ,;:.)")


def _legal_names(text: str) -> list[str]:
    """Names that end in a legal form ("Contoso Ltd.", "FABRIKAM CORPORATION")."""
    out = []
    for m in _LEGAL_AT.finditer(text):
        before = _name_before(text, m.start(), 5)
        if before and len(_core_words(before)) >= 1 and not _LEGAL_WORD.match(before):
            out.append(f"{before}{'' if text[m.start() - 1] != ',' else ','} {m.group()}")
    return [n for n in out if not _NOT_NAMES.search(n)]


def _organisations(
    head: str, title: str, meta: Mapping[str, str], rel: str
) -> tuple[Organisation, ...]:
    flat = _flat(head)
    names: list[str] = []
    tickers: list[str] = []
    m = _REGISTRANT.search(flat)
    registrant = _name_before(flat, m.start()) if m else ""
    if registrant:
        names.append(registrant)
    for m in _TICKER_PAREN.finditer(flat[:HEAD_CHARS]):
        name = _name_before(flat, m.start(), 6)
        if _core_words(name):
            names.append(name)
            tickers.append(m.group(1).rstrip("."))
    zh = _ZH_COMPANY.findall(flat)
    if zh:
        names.append(Counter(zh).most_common(1)[0][0])
    counted: Counter[str] = Counter()
    order: dict[str, int] = {}
    for source in (
        _flat(title),
        _flat(meta.get("Title", "")),
        _flat(meta.get("Subject", "")),
        flat,
    ):
        for name in _legal_names(source):
            key = _compact(name)
            if not key:
                continue
            counted[key] += 1
            order.setdefault(key, len(order))
            if key not in {_compact(n) for n in names}:
                names.append(name)
    if not names:
        return ()
    # The main organisation: the registrant or a listed name when the document gives one,
    # else the legal name its first pages repeat most.
    if registrant or tickers or zh:
        primary = names[0]
    else:
        primary = max(names, key=lambda n: (counted[_compact(n)], -order.get(_compact(n), 0)))
    key = _compact(primary)
    aliases = [n for n in names if _compact(n) == key and n != primary]
    rows = Counter(t for t in _TICKER_ROW.findall(flat[:HEAD_CHARS]) if len(t) >= 2)
    tickers += [t for t, _ in rows.most_common(2)]
    aliases += list(dict.fromkeys(tickers))
    aliases += _short_forms(flat, primary)
    aliases += _former_names(head, flat)
    file_alias = file_name_alias(rel)
    if file_alias and _compact(file_alias) not in (key, _compact(_tidy_case(primary))):
        aliases.append(file_alias)
    shown = _tidy_case(primary)
    aliases = [a for a in dict.fromkeys(aliases) if a and a not in (shown, primary)]
    return (Organisation(shown, tuple(dict.fromkeys(aliases))[:12]),)


def _short_forms(flat: str, name: str) -> list[str]:
    """Quoted short forms given right after the name ('Contoso Ltd. (“Contoso”)'), kept when
    they are plainly a form of the name: sharing a word, or its initials."""
    out = []
    core = _core_words(name)
    initials = "".join(w[0] for w in core)
    for m in re.finditer(re.escape(name.split()[0]), flat, re.I):
        window = flat[m.end() : m.end() + 160]
        for q in _QUOTED.findall(window):
            words = _core_words(q)
            if not words:
                continue
            if (
                set(words) & set(core)
                or "".join(words) == initials
                or _compact(q) in _compact(name)
            ):
                out.append(q.strip())
        if len(out) >= 4:
            break
    for q in _ZH_SHORT.findall(flat):
        out.append(q.strip())
    return out


def _former_names(head: str, flat: str) -> list[str]:
    out = [_name_after(flat, m.end()) for m in _FORMERLY.finditer(flat)]
    out += [m.strip() for m in _ZH_FORMER.findall(flat)]
    for m in _FORMER_LINE.finditer(unicodedata.normalize("NFKC", head)):
        line = m.group(1).strip()
        if re.search(r"[A-Za-z]{3}", line) and not re.match(
            r"(?i)n/?a\b|not applicable|none", line
        ):
            out.append(line)
    return [n.rstrip(" .,;") for n in out if len(n) >= 2]


def _date(month: str, day: str, year: str) -> str:
    mon = _MONTHS.get(month.lower())
    return f"{int(year):04d}-{mon:02d}-{int(day):02d}" if mon else ""


def _periods(head: str, title: str, meta: Mapping[str, str], rel: str) -> tuple[Period, ...]:
    out: list[Period] = []
    name = _file_words(rel)
    out += [p for p in question_periods(name)[0]]
    flat = _flat(head)
    for m in _ENDED.finditer(flat[:6000]):
        what, month, day, year = m.groups()
        end = _date(month, day, year)
        if not end:
            continue
        annual = what.lower() in ("fiscal year", "year")
        out.append(Period(int(year), None, end) if annual else Period(None, None, end))
        break
    for source in (meta.get("Subject", ""), meta.get("Keywords", "")):
        m = _META_ENDING.search(source)
        if m:
            end = "-".join(m.groups())
            annual = re.search(r"10-?K|annual", source, re.I)
            out.append(Period(int(m.group(1)) if annual else None, None, end))
    m = _ZH_ENDED.search(flat[:6000])
    if m:
        y, mo, d = (int(x) for x in m.groups())
        out.append(Period(y if mo == 12 else None, None, f"{y:04d}-{mo:02d}-{d:02d}"))
    text_periods, _ = question_periods(f"{_flat(title)} {flat[:3000]}", bare_years=False)
    out += text_periods[:2]
    # One period per (year, quarter); an end date joins the period it belongs to.
    merged: dict[tuple, Period] = {}
    for p in out:
        key = (p.year, p.quarter) if p.year else ("end", p.end)
        if key in merged:
            if p.end and not merged[key].end:
                merged[key] = Period(p.year, p.quarter, p.end)
            continue
        merged[key] = p
    periods = list(merged.values())
    dated = [p for p in periods if p.year]
    ends = {p.end for p in dated if p.end}
    periods = dated + [p for p in periods if not p.year and p.end not in ends]
    return tuple(periods[:4])


def _kind(head: str, title: str, meta: Mapping[str, str], rel: str) -> str:
    """The kind whose signs come first: the file name, the metadata, then the first page."""
    for source in (
        _file_words(rel),
        f"{meta.get('Subject', '')} {meta.get('Title', '')} {title}",
        _flat(head)[:4000],
    ):
        best, at = "", len(source) + 1
        for kind, pats in _KIND_RES:
            for p in pats:
                m = p.search(source)
                if m and m.start() < at:
                    best, at = kind, m.start()
        if best:
            return best
    return ""


def _title(title: str, head_pages: list[str], org: str, kind: str, periods) -> str:
    """Organisation, kind and period when the document gives all three (a filing's
    loader title is often a filing number or 'UNITED STATES'); else the loader's title,
    unless that is a running header (the first line of most first pages)."""
    label = periods[0].label if periods else ""
    if org and kind and label:
        return f"{org} {kind} {label}"
    firsts = [_first_line(p) for p in head_pages]
    running = len(head_pages) > 1 and sum(f == title for f in firsts) > 1
    if title and not running and not re.fullmatch(r"[\d\s\-./]+", title):
        return title
    return " ".join(x for x in (org, kind, label) if x) or title


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line
    return ""


def language_of(text: str) -> str:
    """'zh' when most letters are CJK, 'en' otherwise ('' for text without letters)."""
    if not any(c.isalpha() for c in text):
        return ""
    return "zh" if lexical.cjk_share(text) >= 0.3 else "en"


def build_profile(
    rel: str, title: str, head_pages: Iterable[str], meta: Mapping[str, str] | None = None
) -> Profile:
    """The profile of file ``rel`` from its loader title, its first pages' text and its
    metadata (a PDF's Title/Subject/Keywords)."""
    meta = meta or {}
    pages = list(head_pages)
    head = "\n".join(pages)[:HEAD_CHARS]
    orgs = _organisations(head, title, meta, rel)
    periods = _periods(head, title, meta, rel)
    kind = _kind(head, title, meta, rel)
    org = orgs[0].name if orgs else ""
    return Profile(
        title=_title(title, pages, org, kind, periods)[:160],
        organisations=orgs,
        periods=periods,
        kind=kind,
        language=language_of(head[:4000]),
    )


# -- questions -------------------------------------------------------------------------
def question_periods(text: str, bare_years: bool = True) -> tuple[list[Period], bool]:
    """The periods a question (or a file name) names, and whether it asks for the latest.

    English and Chinese: "FY2022", "fiscal 2022", "Q2 2023", "2023 Q2", "the second quarter
    of fiscal 2024", "2022年", "2023年第二季度". A quarter named without a year ("in Q2")
    takes the only year the text names. Bare years ("in 2021", "2021年") count where
    ``bare_years``.
    """
    text = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, Period]] = []
    taken: list[tuple[int, int]] = []

    def free(m: re.Match) -> bool:
        return not any(a < m.end() and m.start() < b for a, b in taken)

    for i, pat in enumerate(_Q_PATTERNS):
        for m in pat.finditer(text):
            if not free(m):
                continue
            a, b = m.groups()
            year, q = (b, a) if i in (0, 2) else (a, b)
            found.append((m.start(), Period(int(year), _ORDINAL[q.lower()])))
            taken.append(m.span())
    for m in re.finditer(_FY, text, re.I):
        if not free(m):
            continue
        y = m.group(1) or ("20" + m.group(2))
        found.append((m.start(), Period(int(y))))
        taken.append(m.span())
    for m in (_ZH_YEAR if bare_years else _ZH_REPORT_YEAR).finditer(text):
        if free(m):
            found.append((m.start(), Period(int(m.group(1)))))
            taken.append(m.span())
    if bare_years:
        for m in _BARE_YEAR.finditer(text):
            if free(m):
                found.append((m.start(), Period(int(m.group(1)))))
                taken.append(m.span())
    years = {p.year for _, p in found}
    if len(years) == 1 and not any(p.quarter for _, p in found):
        q = _QUARTER_ALONE.search(text)
        if q:
            n = _ORDINAL[(q.group(1) or q.group(2) or q.group(3)).lower()]
            found = [(at, Period(p.year, n)) for at, p in found]
    found.sort(key=lambda x: x[0])
    periods = list(dict.fromkeys(p for _, p in found))
    return periods, bool(_LATEST.search(text))


def question_kinds(text: str) -> set[str]:
    """The kinds of document a question names ("10-K", "annual report", "年报")."""
    return {kind for kind, pats in _KIND_RES if any(p.search(text) for p in pats)}


_Q_WORD = re.compile(r"[A-Za-z0-9&][\w&.'’-]*")


def _question_words(text: str) -> list[str]:
    words = []
    for w in _Q_WORD.findall(unicodedata.normalize("NFKC", text)):
        w = re.sub(r"(?:['’]s?)$", "", w).rstrip(".-")
        if w:
            words.append(w)
    return words


def organisation_match(question: str, profile: Profile) -> float:
    """How plainly ``question`` names an organisation of ``profile``: 1 for a full name, short
    form, ticker or former name; less for the first words of a longer name; 0 for none."""
    words = _question_words(question)
    lower = [w.lower() for w in words]
    best = 0.0
    for org in profile.organisations:
        for alias in (org.name, *org.aliases):
            best = max(best, _alias_match(alias, words, lower, question))
            if best >= 1.0:
                return 1.0
    return best


_HAS_CJK = HAN
_ZH_LEGAL = re.compile(r"(?:股份有限公司|有限责任公司|有限公司|集团)$")


def _alias_match(alias: str, words: list[str], lower: list[str], question: str) -> float:
    if _HAS_CJK.search(alias):
        core = _ZH_LEGAL.sub("", alias)
        return 1.0 if len(core) >= 2 and core in question else 0.0
    core = _core_words(alias)
    if not core:
        return 0.0
    compact = "".join(core)
    n = len(core)
    best = 0.0
    for i in range(len(words)):
        # A one-word alias must look like a name where the question writes it.
        if lower[i : i + n] == core and (n > 1 or not words[i].islower()):
            return 1.0
        for span in (1, 2, 3, 4):
            chunk = words[i : i + span]
            if len(chunk) < span:
                break
            joined = "".join(lower[i : i + span]).replace("&", "")
            if len(compact) >= 3 and joined == compact and (span > 1 or not words[i].islower()):
                return 1.0
        # The first words of a longer name ("Contoso Resorts" for Contoso Resorts International);
        # one word only when capitalised and neither followed nor preceded by another
        # capitalised word (so "American Express" does not name American Water Works, nor
        # "Sky Digital" Digital Equipment Corporation; a question's first word is not a name).
        if n > 1 and lower[i] == core[0]:
            k = 1
            while k < n and i + k < len(lower) and lower[i + k] == core[k]:
                k += 1
            nxt = words[i + k] if i + k < len(words) else ""
            prev = words[i - 1] if i > 1 else ""
            named_on = any(w[:1].isupper() and w.isalpha() for w in (nxt, prev))
            if k >= 2 or (words[i][:1].isupper() and len(core[0]) >= 4 and not named_on):
                best = max(best, 0.8)
    return best


def period_match(periods: list[Period], latest: bool, profile: Profile) -> float:
    """How well a document's periods fit the periods a question names (0..1).

    The last year a question names is the one whose report holds the figures (a
    FY2018-FY2020 average is read from the FY2020 report); the other years named, and a
    report one year later (which repeats the year as its comparative), count less.
    """
    if not periods or not profile.periods:
        return 0.0
    last = max(p.year for p in periods if p.year)
    years = {p.year for p in periods}
    quarters = {(p.year, p.quarter) for p in periods if p.quarter}
    best = 0.0
    for d in profile.periods:
        if d.year is None:
            continue
        if quarters:
            if (d.year, d.quarter) in quarters:
                s = 1.0
            elif d.year in years and d.quarter is None:
                s = 0.4
            elif d.year in years:
                s = 0.3
            else:
                s = 0.0
        elif d.year == last:
            s = 1.0 if d.quarter is None else 0.7
        elif d.year in years:
            s = 0.5
        elif d.year == last + 1:
            s = 0.3
        else:
            s = 0.0
        best = max(best, s)
    return best


# How much each kind of evidence weighs in a document's prior.
ORG_WEIGHT = 1.0
PERIOD_WEIGHT = 0.6
KIND_WEIGHT = 0.3


@dataclass
class Resolution:
    """A question resolved against the folder's profiles."""

    prior: dict[str, float] = field(default_factory=dict)  # file -> 0..1
    organisations: list[str] = field(default_factory=list)  # files whose organisation it names
    named_periods: list[Period] = field(default_factory=list)


class ProfileIndex:
    """The folder's profiles with their names indexed by first word and run-together form,
    so a question is matched in full only against the documents whose names it may hold
    (a search must stay fast with thousands of documents)."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self.profiles = profiles
        self._by_key: dict[str, set[str]] = {}
        self._cjk: list[tuple[str, str]] = []
        for path, p in profiles.items():
            for org in p.organisations:
                for alias in (org.name, *org.aliases):
                    if _HAS_CJK.search(alias):
                        self._cjk.append((_ZH_LEGAL.sub("", alias), path))
                        continue
                    core = _core_words(alias)
                    for key in (core[0], "".join(core)) if core else ():
                        self._by_key.setdefault(key, set()).add(path)

    def candidates(self, question: str) -> set[str]:
        """The documents whose organisation ``question`` might name."""
        lower = [w.lower().replace("&", "") for w in _question_words(question)]
        keys = set(lower)
        for span in (2, 3, 4):
            keys.update("".join(lower[i : i + span]) for i in range(len(lower) - span + 1))
        out: set[str] = set()
        for key in keys:
            out |= self._by_key.get(key, set())
        out.update(path for core, path in self._cjk if len(core) >= 2 and core in question)
        return out


def document_prior(
    question: str, profiles: Mapping[str, Profile], index: ProfileIndex | None = None
) -> Resolution:
    """Score every profiled document for ``question`` (0..1, 1 for the best fit).

    Organisation, period and kind of document each add evidence; what the question does
    not name adds nothing, so a question naming no company spreads over every company's
    report of the period asked, and one comparing two companies lifts both. ``index``
    (of the same profiles) makes it fast on large folders.
    """
    if not profiles:
        return Resolution()
    periods, latest = question_periods(question)
    kinds = question_kinds(question)
    index = index or ProfileIndex(profiles)
    org = dict.fromkeys(profiles, 0.0)
    for path in index.candidates(question):
        org[path] = organisation_match(question, profiles[path])
    named = [path for path, s in org.items() if s > 0]
    # Only the strongest organisation evidence counts when one name is matched in full.
    top = max(org.values(), default=0.0)
    raw: dict[str, float] = {}
    for path, p in profiles.items():
        s = ORG_WEIGHT * (org[path] if org[path] >= top * 0.75 else org[path] * 0.5)
        s += PERIOD_WEIGHT * period_match(periods, latest, p)
        if kinds and p.kind in kinds:
            s += KIND_WEIGHT
        raw[path] = s
    if latest:
        _prefer_latest(raw, profiles, named)
    best = max(raw.values(), default=0.0)
    if best <= 0:
        return Resolution(organisations=named, named_periods=periods)
    return Resolution({k: v / best for k, v in raw.items() if v > 0}, named, periods)


def _prefer_latest(
    raw: dict[str, float], profiles: Mapping[str, Profile], named: list[str]
) -> None:
    """'The latest 10-Q': among the documents of the organisation named (or all), the most
    recent period gets the period's weight."""
    pool = named or list(profiles)

    def when(path: str) -> tuple:
        ps = [p for p in profiles[path].periods if p.year]
        return max(((p.year, p.quarter or 0, p.end) for p in ps), default=(0, 0, ""))

    groups: dict[str, list[str]] = {}
    for path in pool:
        o = profiles[path].organisations
        groups.setdefault(_compact(o[0].name) if o else "", []).append(path)
    for paths in groups.values():
        newest = max(paths, key=when)
        if when(newest)[0]:
            raw[newest] = raw.get(newest, 0.0) + PERIOD_WEIGHT
