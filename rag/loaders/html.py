"""Web pages (.html, .htm): the visible text, blocks on their own lines, headings kept."""

from __future__ import annotations

from pathlib import Path

from rag.loaders._common import DEFAULT_OPTIONS, LoadedDocument, LoadError, LoadOptions, TextBuilder

SUFFIXES = frozenset({".html", ".htm"})
REQUIRES = ("bs4",)  # imported lazily; the installer must bundle them
_SNIFF_BYTES = 64 * 1024


_HTML_DROP = frozenset(
    {
        "script",
        "style",
        "head",
        "noscript",
        "template",
        "svg",
        "canvas",
        "iframe",
        "object",
        "embed",
        "select",
        "datalist",
    }
)
_HTML_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "ul",
        "caption",
        "body",
        "html",
    }
)
_HTML_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _hidden(tag) -> bool:  # tag: bs4.Tag
    if tag.has_attr("hidden"):
        return True
    style = str(tag.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def _html_break(builder: TextBuilder, name: str) -> None:
    """Block elements start and end on their own line; list items and rows need no blank line."""
    if name in ("li", "dt", "dd", "tr"):
        builder.newline()
    elif name in _HTML_BLOCK:
        builder.paragraph()


def load(path: Path, options: LoadOptions = DEFAULT_OPTIONS) -> LoadedDocument:
    from bs4 import BeautifulSoup, CData, NavigableString, Tag

    data = path.read_bytes()
    if b"\x00" in data[:_SNIFF_BYTES] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError("binary data, not HTML")
    soup = BeautifulSoup(data, "html.parser")
    title = " ".join(soup.title.get_text().split()) if soup.title else ""

    builder = TextBuilder()
    # Iterative walk with explicit close markers: deep pages must not hit the recursion limit.
    stack: list[tuple[object, bool]] = [(soup, False)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):  # not comments, doctypes, etc.
                builder.text(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if closing:
            _html_break(builder, name)
            continue
        if name in _HTML_DROP or _hidden(node):
            continue
        if name in _HTML_HEADINGS:
            builder.heading(node.get_text(" "))
            continue
        if name == "br":
            builder.newline()
        elif name in ("td", "th"):
            builder.cell()
        else:
            _html_break(builder, name)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))

    return builder.document(path, "no visible text in the page", title)
