"""Tray and window icons: one per state, for light and for dark panels (resources/icons)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPixmap

from app.paths import resource
from app.services.app_service import TrayState

_FALLBACK = {
    TrayState.IDLE: "#1f2937",
    TrayState.SYNCING: "#2563eb",
    TrayState.PAUSED: "#d97706",
    TrayState.ATTENTION: "#ea580c",
    TrayState.ERROR: "#dc2626",
    TrayState.OFFLINE: "#6b7280",
}
_cache: dict[tuple[TrayState, str], QIcon] = {}


def theme() -> str:
    """``dark`` when the desktop uses a dark scheme (then the light-ink icons show)."""
    app = QGuiApplication.instance()
    dark = isinstance(app, QGuiApplication) and (
        app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    )
    return "dark" if dark else "light"


def state_icon(state: TrayState, variant: str | None = None) -> QIcon:
    variant = variant or theme()
    key = (state, variant)
    if key not in _cache:
        _cache[key] = _load(state, variant)
    return _cache[key]


def _load(state: TrayState, variant: str) -> QIcon:
    icon = QIcon()
    folder = resource("icons")
    for size in (16, 32, 64):
        png = folder / f"{state.value}-{variant}-{size}.png"
        if png.is_file():
            icon.addFile(str(png), QSize(size, size))
    svg = folder / f"{state.value}-{variant}.svg"
    if svg.is_file():
        icon.addFile(str(svg))
    if icon.isNull():  # a broken install still shows something that tells the states apart
        pix = QPixmap(32, 32)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setBrush(QColor(_FALLBACK[state]))
        p.setPen(Qt.PenStyle.NoPen)
        p.drawEllipse(2, 2, 28, 28)
        p.end()
        icon = QIcon(pix)
    return icon


def app_icon() -> QIcon:
    return state_icon(TrayState.IDLE, "light")
