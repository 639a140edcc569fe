"""Light or dark, following the system unless the person chose one (View → Theme).

Qt reports the system's colour scheme (``QStyleHints.colorScheme``) and tells when
it changes; the Fusion style with a palette made for each scheme looks the same
on every platform and reads well in both. HiDPI: Qt 6 scales by the screen's
device pixel ratio; the rounding policy is set to pass fractional factors
through (125 %, 150 %) instead of rounding them, before the application exists.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = ("system", "light", "dark")


def prepare_hidpi() -> None:
    """Call before the QApplication is made."""
    if QGuiApplication.instance() is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )


def system_is_dark() -> bool:
    app = QGuiApplication.instance()
    return app is not None and app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(37, 38, 41), QColor(28, 29, 31), QColor(230, 230, 230)
    disabled = QColor(128, 128, 128)
    for role, colour in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, QColor(45, 46, 50)),
        (QPalette.ColorRole.ToolTipBase, QColor(50, 51, 56)),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.PlaceholderText, QColor(150, 150, 150)),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, QColor(50, 51, 56)),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor(255, 90, 90)),
        (QPalette.ColorRole.Light, QColor(70, 71, 76)),
        (QPalette.ColorRole.Midlight, QColor(58, 59, 64)),
        (QPalette.ColorRole.Mid, QColor(45, 46, 50)),
        (QPalette.ColorRole.Dark, QColor(20, 20, 22)),
        (QPalette.ColorRole.Shadow, QColor(0, 0, 0)),
        (QPalette.ColorRole.Highlight, QColor(53, 132, 228)),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Link, QColor(110, 170, 255)),
        (QPalette.ColorRole.LinkVisited, QColor(170, 140, 255)),
    ):
        p.setColor(role, colour)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply(theme: str, system_dark: bool | None = None) -> bool:
    """Apply ``theme`` ("system", "light" or "dark"); returns True when dark was chosen.
    ``system_dark`` is the system's scheme when the caller was just told it."""
    app = QApplication.instance()
    if app is None:
        return False
    if system_dark is None:
        system_dark = system_is_dark()
    dark = theme == "dark" or (theme == "system" and system_dark)
    if app.style().name().lower() != "fusion":
        app.setStyle(QStyleFactory.create("Fusion"))
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    return dark


def follow_system(get_theme) -> None:
    """Re-apply when the system switches between light and dark (if it is followed)."""
    app = QGuiApplication.instance()
    if app is not None:
        app.styleHints().colorSchemeChanged.connect(
            lambda scheme: (
                apply("system", scheme == Qt.ColorScheme.Dark) if get_theme() == "system" else None
            )
        )
