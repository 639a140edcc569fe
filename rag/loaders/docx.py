"""Word documents (.docx): body text in order, tables as rows of cells, headings kept."""

from __future__ import annotations

import io
from pathlib import Path

from rag.loaders._common import (
    DEFAULT_OPTIONS,
    LoadedDocument,
    LoadError,
    LoadOptions,
    TextBuilder,
    encodable,
    meaningful_title,
)

SUFFIXES = frozenset({".docx"})
REQUIRES = ("docx",)  # imported lazily; the installer must bundle them


def load(path: Path, options: LoadOptions = DEFAULT_OPTIONS) -> LoadedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise LoadError("password-protected, or an old Word (.doc) file renamed to .docx")
    try:
        document = docx.Document(str(path) if encodable(path) else io.BytesIO(path.read_bytes()))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as err:
        if isinstance(err, PermissionError):
            raise
        raise LoadError("not a valid Word document (damaged or truncated)") from err
    except Exception as err:  # zipfile.BadZipFile, lxml errors on a damaged part
        raise LoadError("not a valid Word document (damaged or truncated)") from err

    builder = TextBuilder()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.paragraph()
            for row in block.rows:
                cells: list[str] = []
                seen: set[int] = set()
                for cell in row.cells:  # merged cells repeat: keep each once
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    cells.append(" ".join(cell.text.split()))
                if any(cells):
                    builder.line(" | ".join(cells))
            builder.paragraph()
            continue
        text = " ".join(block.text.split())
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if style.startswith("Heading") or style == "Title":
            builder.heading(text)
        else:
            prefix = "- " if style.startswith("List") else ""
            builder.line(prefix + text)
            builder.paragraph()

    core_title = (document.core_properties.title or "").strip()
    title = core_title if meaningful_title(core_title) else ""
    return builder.document(path, "no text found in the document", title)
