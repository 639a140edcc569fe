"""The model picker and the decoding controls, built from the options' own metadata.

Every field of DecodingParams declared with ``models.options.option`` gets a
labelled control with its range and its help sentence as tooltip, so a new
parameter appears here without touching this file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.plain import tip
from models.decoding import PRESETS, DecodingParams
from models.options import base_type, field_types, label_of, options

CUSTOM = "custom"
_INT_MAX = 2**31 - 1


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def describe_model(info: Any) -> str:
    """'Qwen2.5 0.5B · 469 MB · Q4_K_M · 32,768-token context'."""
    parts = [str(getattr(info, "name", "") or Path(str(info.spec)).name)]
    if getattr(info, "file_size", 0):
        parts.append(human_size(info.file_size))
    if getattr(info, "quantization", ""):
        parts.append(str(info.quantization))
    if getattr(info, "context_length", 0):
        parts.append(f"{info.context_length:,}-token context")
    return " · ".join(parts)


class _Control:
    """One decoding option's widget, read and written as the option's Python value."""

    def __init__(self, field: dataclasses.Field, tp: Any, spec: Any, parent: QWidget) -> None:
        self.name = field.name
        self.tp = tp
        self.spec = spec
        if spec.choices:
            w: QWidget = QComboBox(parent)
            for c in spec.choices:
                w.addItem(str(c), c)
            self.changed = w.currentIndexChanged
        elif tp is bool:
            w = QCheckBox(parent)
            self.changed = w.toggled
        elif tp is int:
            w = QSpinBox(parent)
            w.setRange(
                int(spec.min if spec.min is not None else -_INT_MAX),
                int(min(spec.max if spec.max is not None else _INT_MAX, _INT_MAX)),
            )
            self.changed = w.valueChanged
        elif tp is float:
            w = QDoubleSpinBox(parent)
            lo = spec.min if spec.min is not None else -1e9
            hi = spec.max if spec.max is not None else 1e9
            w.setRange(lo, hi)
            w.setDecimals(2 if hi - lo > 2 else 3)
            w.setSingleStep(0.05 if hi - lo <= 5 else 0.5)
            self.changed = w.valueChanged
        else:  # text, or a list of texts separated by commas
            w = QLineEdit(parent)
            if tp is list:
                w.setPlaceholderText("none; separate several with commas")
            self.changed = w.editingFinished
        w.setToolTip(self.tooltip())
        self.widget = w

    def tooltip(self) -> str:
        tip = self.spec.help
        if self.spec.min is not None and self.spec.max is not None:
            tip += f" Range {self.spec.min:g} to {self.spec.max:g}."
        return tip

    def get(self) -> Any:
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox | QDoubleSpinBox):
            return w.value()
        text = w.text()
        if self.tp is list:
            return [s.strip() for s in text.split(",") if s.strip()]
        return text

    def set(self, value: Any) -> None:
        w = self.widget
        w.blockSignals(True)
        try:
            if isinstance(w, QComboBox):
                w.setCurrentIndex(max(w.findData(value), 0))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QSpinBox):
                w.setValue(int(min(value, _INT_MAX)))
            elif isinstance(w, QDoubleSpinBox):
                w.setValue(float(value))
            elif self.tp is list:
                w.setText(", ".join(value or []))
            else:
                w.setText("" if value is None else str(value))
        finally:
            w.blockSignals(False)


class DecodingForm(QWidget):
    """Presets and one control per decoding option."""

    changed = Signal(object, str)  # DecodingParams, preset name (or "custom")

    def __init__(self, params: DecodingParams, preset: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset = QComboBox(self)
        for name in PRESETS:
            self.preset.addItem(name.capitalize(), name)
        self.preset.addItem("Custom", CUSTOM)
        self.preset.setToolTip(
            "Named sets of decoding values; 'Precise' stays closest to the "
            "sources and suits document questions."
        )
        self.preset.currentIndexChanged.connect(self._on_preset)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Preset", self.preset)
        self.error = QLabel("", self)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.controls: dict[str, _Control] = {}
        hints = field_types(DecodingParams)
        for f, spec in options(DecodingParams):
            control = _Control(f, base_type(hints[f.name]), spec, self)
            label = QLabel(label_of(f, spec), self)
            label.setToolTip(control.tooltip())
            label.setBuddy(control.widget)
            form.addRow(label, control.widget)
            control.changed.connect(self._on_edit)
            self.controls[f.name] = control
        form.addRow(self.error)
        self.params = params
        self.set_params(params, preset)

    def set_params(self, params: DecodingParams, preset: str) -> None:
        self.params = params
        for name, control in self.controls.items():
            control.set(getattr(params, name))
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(
            max(self.preset.findData(preset), 0)
            if preset in PRESETS
            else self.preset.findData(CUSTOM)
        )
        self.preset.blockSignals(False)

    def _on_preset(self) -> None:
        name = self.preset.currentData()
        if name in PRESETS:
            self.set_params(PRESETS[name], name)
            self.error.setText("")
            self.changed.emit(self.params, name)

    def _on_edit(self, *_args: Any) -> None:
        try:
            params = DecodingParams(**{n: c.get() for n, c in self.controls.items()})
        except (TypeError, ValueError) as exc:
            self.error.setText(str(exc))
            return
        self.error.setText("")
        self.params = params
        name = next((n for n, p in PRESETS.items() if p == params), CUSTOM)
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(self.preset.findData(name))
        self.preset.blockSignals(False)
        self.changed.emit(params, name)


class ModelPanel(QWidget):
    load_requested = Signal(str)  # a model spec: "default", "fast", a GGUF path, a served id
    gpu_layers_changed = Signal(int)
    server_url_changed = Signal(str)  # "" runs the model on this computer

    def __init__(
        self,
        params: DecodingParams,
        preset: str,
        model: str,
        gpu_layers: int,
        models_dir: Path,
        parent: QWidget | None = None,
        llm_url: str = "",
    ) -> None:
        super().__init__(parent)
        self.models_dir = models_dir
        self.picker = QComboBox(self)
        self.picker.setToolTip(
            "The bundled models, the GGUF files in the models folder, and "
            "any file chosen with Browse…"
        )
        self.picker.currentIndexChanged.connect(self._on_pick)
        self.details = QLabel("", self)
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.load_button = QPushButton("Load", self)
        self.load_button.clicked.connect(
            lambda: self.load_requested.emit(self.picker.currentData() or model)
        )
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.setToolTip("Load a GGUF model file from anywhere on this computer")
        self.browse_button.clicked.connect(self.browse)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.gpu_layers = QSpinBox(self)
        self.gpu_layers.setRange(-1, 1000)
        self.gpu_layers.setValue(gpu_layers)
        self.gpu_layers.setSpecialValueText("all (when a GPU is available)")
        self.gpu_layers.setToolTip(
            "Layers offloaded to the GPU: -1 all when a GPU is "
            "available, 0 CPU only. Applies when the model is loaded."
        )
        self.gpu_layers.valueChanged.connect(self.gpu_layers_changed)
        self.device = QLabel("Detecting…", self)
        self.device.setTextFormat(Qt.TextFormat.PlainText)
        self.device.setWordWrap(True)
        self.server_url = QLineEdit(llm_url, self)
        self.server_url.setPlaceholderText("none: the model runs on this computer")
        self.server_url.setToolTip(
            "The address of an OpenAI-compatible model server (llama.cpp, vLLM, Ollama), "
            "for example http://gpu-box:8000/v1. Its API key is read from the "
            "QUARRY_LLM_API_KEY environment variable or the settings file."
        )
        self.server_url.editingFinished.connect(self._on_server_url)
        self._server_url = llm_url
        self.note = QLabel(
            "The bundled models are Qwen2.5 Coder 1.5B (the default) and 0.5B (fast, for a "
            "slow computer). For better answers, put a larger instruction-tuned GGUF file "
            f"(for example a 3B–8B model at Q4_K_M) in {models_dir} and it appears in this "
            "list, choose one with Browse…, or use a model server.",
            self,
        )
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        model_box = QGroupBox("Model", self)
        mform = QFormLayout(model_box)
        row = QHBoxLayout()
        row.addWidget(self.picker, 1)
        row.addWidget(self.load_button)
        mform.addRow(row)
        mform.addRow(self.details)
        mform.addRow(self.browse_button)
        mform.addRow(self.progress)
        mform.addRow("Server URL", self.server_url)
        mform.addRow("GPU layers", self.gpu_layers)
        mform.addRow("Device", self.device)
        mform.addRow(self.note)
        self.decoding = DecodingForm(params, preset, self)
        decoding_box = QGroupBox("Decoding", self)
        dl = QVBoxLayout(decoding_box)
        dl.addWidget(self.decoding)

        inner = QWidget(self)
        il = QVBoxLayout(inner)
        il.addWidget(model_box)
        il.addWidget(decoding_box)
        il.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.models: list[Any] = []
        self._wanted = model
        self.picker.addItem(model, model)

    def set_models(self, models: list[Any], current: str) -> None:
        """Fill the picker; ``current`` is the spec in the settings ('default', a path…)."""
        self.models = list(models)
        self.picker.blockSignals(True)
        self.picker.clear()
        for info in models:
            self.picker.addItem(describe_model(info), info.spec)
            self.picker.setItemData(
                self.picker.count() - 1, tip(info.spec), Qt.ItemDataRole.ToolTipRole
            )
        at = self.picker.findData(current)
        if at < 0 and current == "default" and self.picker.count():
            at = 0  # a server's first model
        if at < 0:
            self.picker.addItem(Path(current).name, current)
            at = self.picker.count() - 1
        self.picker.setCurrentIndex(at)
        self.picker.blockSignals(False)
        self._on_pick()

    def _on_pick(self) -> None:
        i = self.picker.currentIndex()
        info = self.models[i] if 0 <= i < len(self.models) else None
        if info is None:
            self.details.setText(str(self.picker.currentData() or ""))
            return
        arch = getattr(info, "architecture", "")
        params = getattr(info, "parameters", 0)
        extra = [
            f"{arch} architecture" if arch else "",
            f"{params / 1e9:.2f} billion parameters" if params else "",
            "" if getattr(info, "has_chat_template", True) else "no chat template",
        ]
        self.details.setText(describe_model(info) + "\n" + ", ".join(e for e in extra if e))

    def _on_server_url(self) -> None:
        url = self.server_url.text().strip()
        if url != self._server_url:
            self._server_url = url
            self.server_url_changed.emit(url)

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Choose a GGUF model file",
            str(self.models_dir),
            "GGUF models (*.gguf);;All files (*)",
        )
        if path:
            self.load_requested.emit(path)

    def set_loading(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.progress.setRange(0, 0)
        self.load_button.setEnabled(not on)
        self.browse_button.setEnabled(not on)

    def show_load_progress(self, done: float, total: float) -> None:
        if total:
            self.progress.setRange(0, 100)
            self.progress.setValue(int(100 * done / total))

    def set_device(self, text: str) -> None:
        self.device.setText(text)
