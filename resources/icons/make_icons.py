"""Writes the tray icons: one SVG per state and theme, plus PNGs at 16, 32 and 64 px.

    .venv/bin/python resources/icons/make_icons.py

The glyph is a calendar with two sync arrows; each state adds what tells it apart at 16 px:
colour of the arrows (syncing), a badge (paused, attention, error) or a faded glyph with a slash
(offline). "light" icons are for light panels (dark ink), "dark" ones for dark panels.
The SVGs are the source; the PNGs exist because some tray hosts scale SVGs poorly.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATES = ("idle", "syncing", "paused", "attention", "error", "offline")
THEMES = {"light": ("#1f2937", "#ffffff"), "dark": ("#f3f4f6", "#1f2937")}  # ink, knockout
SKY = "#60a5fa"  # the sync blue, lighter for dark panels
BLUE, AMBER, ORANGE, RED, GREY = "#2563eb", "#d97706", "#ea580c", "#dc2626", "#6b7280"
SIZES = (16, 32, 64)


def _calendar(ink: str, arrows: str, opacity: float = 1.0) -> str:
    return f"""<g opacity="{opacity}" fill="none" stroke-linecap="round" stroke-linejoin="round">
  <rect x="5" y="10" width="50" height="46" rx="8" stroke="{ink}" stroke-width="5"/>
  <line x1="5" y1="23" x2="55" y2="23" stroke="{ink}" stroke-width="5"/>
  <line x1="18" y1="5" x2="18" y2="14" stroke="{ink}" stroke-width="5"/>
  <line x1="42" y1="5" x2="42" y2="14" stroke="{ink}" stroke-width="5"/>
  <path d="M19 38 A11 11 0 0 1 39 33" stroke="{arrows}" stroke-width="4.5"/>
  <path d="M41 42 A11 11 0 0 1 21 47" stroke="{arrows}" stroke-width="4.5"/>
  <path d="M34 29 L40 33 L35 38" stroke="{arrows}" stroke-width="4.5"/>
  <path d="M26 51 L20 47 L25 42" stroke="{arrows}" stroke-width="4.5"/>
</g>"""


def _badge(fill: str, knock: str, symbol: str) -> str:
    return f"""<circle cx="48" cy="48" r="15" fill="{fill}" stroke="{knock}" stroke-width="3"/>
{symbol}"""


def _svg(state: str, theme: str) -> str:
    ink, knock = THEMES[theme]
    white = "#ffffff"
    if state == "idle":
        body = _calendar(ink, ink)
    elif state == "syncing":
        body = _calendar(ink, BLUE if theme == "light" else SKY)
    elif state == "paused":
        bars = (
            f'<rect x="42" y="40" width="4.5" height="16" rx="1.5" fill="{white}"/>'
            f'<rect x="50" y="40" width="4.5" height="16" rx="1.5" fill="{white}"/>'
        )
        body = _calendar(ink, ink) + _badge(AMBER, knock, bars)
    elif state == "attention":
        mark = (
            f'<rect x="45.75" y="38" width="4.5" height="12" rx="2" fill="{white}"/>'
            f'<circle cx="48" cy="55" r="2.6" fill="{white}"/>'
        )
        body = _calendar(ink, ink) + _badge(ORANGE, knock, mark)
    elif state == "error":
        cross = (
            f'<path d="M42 42 L54 54 M54 42 L42 54" stroke="{white}" stroke-width="4.5" '
            'stroke-linecap="round"/>'
        )
        body = _calendar(ink, ink) + _badge(RED, knock, cross)
    else:  # offline: faded glyph, struck through
        body = (
            _calendar(ink, ink, 0.45)
            + f'<line x1="6" y1="6" x2="58" y2="58" stroke="{knock}" stroke-width="9" '
            'stroke-linecap="round"/>'
            + f'<line x1="6" y1="6" x2="58" y2="58" stroke="{GREY}" stroke-width="5" '
            'stroke-linecap="round"/>'
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">\n'
        f"{body}\n</svg>\n"
    )


def main() -> int:
    for state in STATES:
        for theme in THEMES:
            (HERE / f"{state}-{theme}.svg").write_text(_svg(state, theme), encoding="utf-8")
    try:
        from PySide6.QtCore import QSize, Qt
        from PySide6.QtGui import QGuiApplication, QImage, QPainter
        from PySide6.QtSvg import QSvgRenderer
    except ImportError:
        print("PySide6 missing: wrote the SVGs only", file=sys.stderr)
        return 0
    app = QGuiApplication.instance() or QGuiApplication(["make_icons", "-platform", "offscreen"])
    for svg in sorted(HERE.glob("*.svg")):
        renderer = QSvgRenderer(str(svg))
        for size in SIZES:
            image = QImage(QSize(size, size), QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            renderer.render(painter)
            painter.end()
            image.save(str(HERE / f"{svg.stem}-{size}.png"))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
