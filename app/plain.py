"""Document and model text shown as what it is: text, never markup.

Qt guesses whether a tooltip or a label is rich text (``Qt.mightBeRichText``), so
a passage that contains ``<img src=…>`` would make a tooltip load a file. Labels
get ``Qt.TextFormat.PlainText``; tooltips, which have no format setting, get the
text escaped inside a paragraph that keeps its line breaks, so Qt reads it as
rich text whose only content is the literal characters.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def tip(text: str) -> str:
    """A tooltip that shows ``text`` literally (empty stays empty, so no tooltip shows)."""
    if not text:
        return ""
    return f"<p style='white-space:pre-wrap'>{html.escape(text, quote=False)}</p>"


def label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A QLabel that never interprets its text."""
    w = QLabel(text, parent)
    w.setTextFormat(Qt.TextFormat.PlainText)
    return w


def warn(parent: QWidget | None, title: str, text: str) -> None:
    """A warning dialog whose message (often naming a file) is shown literally."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """A Yes/No question whose text (often naming a file or folder) is shown literally."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes
