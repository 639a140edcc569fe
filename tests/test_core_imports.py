"""The core stays free of Qt and light to import (DESIGN.md, STYLE.md 1 and 4)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("PySide6", "app", "torch", "faiss", "llama_cpp", "sentence_transformers", "transformers")


def _loaded_after(code: str) -> list[str]:
    probe = (
        code + f"\nimport sys, json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_core_loads_no_qt_and_no_heavy_library():
    assert (
        _loaded_after(
            "import rag, rag.engine, rag.cli, rag.settings, rag.ingest, "
            "rag.asking, rag.grounding, rag.retrieve, rag.store, models"
        )
        == []
    )


def test_building_the_command_line_loads_no_qt():
    assert _loaded_after("import main; from rag.cli import build_parser; build_parser()") == []


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
    return out


def test_no_core_module_imports_qt_or_app():
    for path in [*ROOT.glob("rag/**/*.py"), *ROOT.glob("models/**/*.py")]:
        for name in _imports(path):
            root = name.split(".")[0]
            assert root not in ("PySide6", "app"), f"{path.relative_to(ROOT)} imports {name}"


def test_the_model_layer_never_imports_the_core():
    """models/ sits below rag/: a rule both need (the CJK range, the wording of OS errors)
    lives in models/ and rag/ re-exports it, never the other way round."""
    for path in ROOT.glob("models/**/*.py"):
        for name in _imports(path):
            assert name.split(".")[0] != "rag", f"{path.relative_to(ROOT)} imports {name}"


def test_shared_rules_are_written_in_one_place():
    """The CJK range (found by its main ideograph block) and the wording of OS errors (the
    only code that reads an OSError's own text) each have one home."""
    homes = {"4e00": "models/cjk.py", "strerror": "models/errors.py"}
    sources = [*ROOT.glob("rag/**/*.py"), *ROOT.glob("models/**/*.py"), *ROOT.glob("app/**/*.py")]
    for needle, home in homes.items():
        found = sorted(
            str(p.relative_to(ROOT)) for p in sources if needle in p.read_text(encoding="utf-8")
        )
        assert found == [home], needle
