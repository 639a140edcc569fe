"""Every setting the command line has, in one dialog built from the same declarations.

Each option() field of the index, retrieval, model and decoding groups gets the
same control the decoding panel uses (range, choices, help sentence as tooltip),
so a new option appears here and as a flag at once. Values are checked by the
settings classes themselves; a refusal is shown in words under the form, with
the option's label rather than its field name.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.model_panel import _Control
from models.decoding import PRESETS
from models.options import base_type, field_types, flag_of, label_of, options
from rag import paths
from rag.settings import Settings, _group_type

GROUPS = (
    ("retrieval", "Answers"),
    ("index", "Indexing"),
    ("model", "Model"),
    ("decoding", "Decoding"),
)


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quarry settings")
        self.settings = settings
        self.result_settings: Settings | None = None
        self.controls: dict[str, dict[str, _Control]] = {}
        self.labels: dict[str, str] = {}
        tabs = QTabWidget(self)
        for group, title in GROUPS:
            cls = _group_type(group)
            hints = field_types(cls)
            page = QWidget()
            form = QFormLayout(page)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            self.controls[group] = {}
            for f, spec in options(cls):
                if not spec.cli:
                    continue
                control = _Control(f, base_type(hints[f.name]), spec, page)
                control.set(getattr(getattr(settings, group), f.name))
                control.widget.setToolTip(control.tooltip() + f" Command line: {flag_of(f, spec)}")
                label = QLabel(label_of(f, spec), page)
                label.setToolTip(control.widget.toolTip())
                label.setBuddy(control.widget)
                form.addRow(label, control.widget)
                self.controls[group][f.name] = control
                self.labels[f.name] = label_of(f, spec)
            scroll = QScrollArea()
            scroll.setWidget(page)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            tabs.addTab(scroll, title)
        where = QLabel(
            f"Data folder (indexes, conversations, models): {paths.data_dir()}\n"
            f"Models folder: {paths.models_dir()}\n"
            f"Settings file: {Settings.path()}\n"
            "Set QUARRY_DATA_DIR to keep the data elsewhere.",
            self,
        )
        where.setTextFormat(Qt.TextFormat.PlainText)
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel("", self)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d0342c;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults,
            self,
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults
        )
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(where)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.tabs = tabs
        self.resize(560, 480)

    def values(self) -> Settings:
        """The settings the form describes; raises ValueError in words when one is wrong."""
        new = self.settings
        for group, _title in GROUPS:
            current = getattr(new, group)
            changes: dict[str, Any] = {n: c.get() for n, c in self.controls[group].items()}
            try:
                value = dataclasses.replace(current, **changes)
            except (TypeError, ValueError) as exc:
                raise ValueError(self._in_words(str(exc))) from exc
            new = dataclasses.replace(new, **{group: value})
        return new

    def _in_words(self, message: str) -> str:
        names = sorted(self.labels, key=len, reverse=True)
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
        message = pattern.sub(lambda m: f"“{self.labels[m.group(1)]}”", message)
        return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")

    def restore_defaults(self) -> None:
        defaults = Settings()
        for group, controls in self.controls.items():
            for name, control in controls.items():
                control.set(getattr(getattr(defaults, group), name))
        self.error.setText("")

    def accept(self) -> None:  # noqa: D102 - checks before closing
        try:
            self.result_settings = self.values()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        decoding = self.result_settings.decoding
        if decoding != self.settings.decoding:
            name = next((n for n, p in PRESETS.items() if p == decoding), "custom")
            ui = dataclasses.replace(self.result_settings.ui, preset=name)
            self.result_settings = dataclasses.replace(self.result_settings, ui=ui)
        super().accept()
