"""Help → About: versions, licences of the bundled models and libraries, where data lives.

Versions and licences of libraries are read from the installed packages' own
metadata (nothing is imported to find them), so the dialog stays right after an
upgrade. The bundled models and their licences come from ``models.bundled``.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from models.bundled import credits
from rag import paths
from rag.settings import Settings

LIBRARIES = (
    ("PySide6", "Qt for Python: the window"),
    ("llama_cpp_python", "llama.cpp: runs the language model"),
    ("sentence-transformers", "embeddings"),
    ("torch", "PyTorch: runs the embedding model"),
    ("faiss-cpu", "vector search"),
    ("pypdfium2", "PDF text (PDFium)"),
    ("python-docx", "Word documents"),
    ("langchain-text-splitters", "chunking"),
    ("platformdirs", "data folders"),
)


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def package_licence(name: str) -> str:
    """The licence a package declares (SPDX expression, License field or classifier)."""
    try:
        meta = metadata.metadata(name)
    except metadata.PackageNotFoundError:
        return "—"
    expression = meta.get("License-Expression")
    if expression:
        return expression
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    if classifiers:
        return ", ".join(classifiers)
    text = (meta.get("License") or "").strip().splitlines()
    return text[0][:60] if text else "—"


def about_text() -> str:
    """Plain text (the dialog shows it literally)."""
    lines = [
        f"Quarry {package_version('quarry')}",
        "Ask questions of your documents, offline. Nothing leaves this computer.",
        "",
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}",
        "",
        "Bundled models",
    ]
    for c in credits():
        lines.append(f"  {c.name} ({c.licence}, from {c.upstream}): {c.role}")
    lines += ["", "Libraries"]
    for name, role in LIBRARIES:
        lines.append(f"  {name} {package_version(name)}: {role}; licence {package_licence(name)}")
    lines += [
        "",
        "Where Quarry keeps its data",
        f"  Data (indexes, conversations, library list): {paths.data_dir()}",
        f"  Models folder (drop GGUF files here): {paths.models_dir()}",
        f"  Settings: {Settings.path()}",
        f"  Executable: {sys.executable}",
    ]
    return "\n".join(lines)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Quarry")
        title = QLabel("Quarry", self)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        title.setTextFormat(Qt.TextFormat.PlainText)
        self.body = QTextBrowser(self)
        self.body.setPlainText(about_text())
        self.body.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.body, 1)
        layout.addWidget(buttons)
        self.resize(640, 520)
