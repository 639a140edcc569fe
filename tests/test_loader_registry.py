"""The loaders registry: one module per format, and one answer to "which types exist?"."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import rag.loaders as loaders
from rag.grounding import strip_copied_headers
from rag.scan import is_supported, scan_folder


def test_every_loader_module_follows_the_protocol():
    modules = loaders.loaders()
    assert {m.__name__.rsplit(".", 1)[1] for m in modules} >= {"pdf", "docx", "html", "text"}
    claimed: list[str] = []
    for module in modules:
        assert module.SUFFIXES, module.__name__
        assert all(re.fullmatch(r"\.[a-z0-9]+", s) for s in module.SUFFIXES), module.SUFFIXES
        assert callable(module.load)
        claimed += module.SUFFIXES
    assert len(claimed) == len(set(claimed)), "two loaders claim one suffix"
    assert loaders.supported_suffixes() == frozenset(claimed)


def test_suffix_lookup_ignores_case_and_names_unsupported_types(tmp_path):
    assert loaders.loader_for("Report.PDF").__name__ == "rag.loaders.pdf"
    assert loaders.loader_for("notes.markdown").__name__ == "rag.loaders.text"
    assert loaders.loader_for("archive.zip") is None
    (tmp_path / "a.zip").write_bytes(b"PK")
    with pytest.raises(loaders.LoadError, match=r"unsupported file type \('.zip'\)"):
        loaders.load(tmp_path / "a.zip")



def test_an_empty_file_of_any_type_is_refused_in_the_same_words(tmp_path):
    """The registry checks emptiness before any loader runs, so a new format needs no check."""
    for suffix in sorted(loaders.supported_suffixes()):
        empty = tmp_path / f"empty{suffix}"
        empty.write_bytes(b"")
        with pytest.raises(loaders.LoadError, match=r"^empty file$"):
            loaders.load(empty, loaders.LoadOptions(ocr=True))

_XYZ_LOADER = """
from rag.loaders._common import LoadedDocument
from rag.types import Page

SUFFIXES = frozenset({".xyz"})


def load(path, options=None):
    return LoadedDocument("XYZ file", iter([Page(path.read_text(encoding="utf-8"))]))
"""


@pytest.fixture
def xyz_format(tmp_path, monkeypatch):
    """A format added the documented way: one more module beside the others."""
    folder = tmp_path / "more_loaders"
    folder.mkdir()
    (folder / "xyz.py").write_text(_XYZ_LOADER, encoding="utf-8")
    monkeypatch.setattr(loaders, "__path__", [*loaders.__path__, str(folder)])
    loaders.loaders.cache_clear()
    loaders._by_suffix.cache_clear()
    yield
    monkeypatch.undo()
    sys.modules.pop("rag.loaders.xyz", None)
    loaders.loaders.cache_clear()
    loaders._by_suffix.cache_clear()


def test_scan_asks_the_registry(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello there", encoding="utf-8")
    (docs / "b.xyz").write_text("stock count: 42 pallets", encoding="utf-8")
    documents, problems = scan_folder(docs)
    assert [rel for _, rel in documents] == ["a.txt"]
    assert problems[0].reason == "unsupported file type ('.xyz')"


def test_a_new_format_is_one_module(tmp_path, xyz_format):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello there", encoding="utf-8")
    (docs / "b.xyz").write_text("stock count: 42 pallets", encoding="utf-8")
    assert is_supported(Path("B.XYZ"))
    documents, problems = scan_folder(docs)
    assert [rel for _, rel in documents] == ["a.txt", "b.xyz"] and not problems
    doc = loaders.load(docs / "b.xyz")
    assert doc.title == "XYZ file"
    assert [p.text for p in doc.pages] == ["stock count: 42 pallets"]


def test_copied_source_headers_are_recognised_for_every_supported_type():
    for suffix in sorted(loaders.supported_suffixes()):
        text = f"[1] report{suffix}, p. 3: The budget is EUR 5 million."
        assert strip_copied_headers(text, 1) == "The budget is EUR 5 million. [1]", suffix


def test_installer_bundles_what_loaders_import_lazily():
    names = loaders.hidden_imports()
    assert {"pypdfium2", "docx", "bs4", "charset_normalizer"} <= set(names)
    spec = (Path(__file__).parents[1] / "packaging" / "quarry.spec").read_text(encoding="utf-8")
    assert "hidden_imports" in spec
