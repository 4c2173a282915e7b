"""Screenshots of windows and dialogs at 100% and 200% (test-artifacts/screenshots, ignored)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QWidget

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def shoot(widget: QWidget, name: str) -> list[Path]:
    """Save ``name.png`` (100%) and ``name@2x.png`` (rendered at device pixel ratio 2)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    # Wrapped labels settle in rounds (a label's new height asks its layout, which asks the
    # scroll area above it...): let a few rounds of pending layout requests through.
    for _ in range(4):
        QApplication.processEvents()
    out = []
    for ratio, suffix in ((1, ""), (2, "@2x")):
        pix = QPixmap(widget.size() * ratio)
        pix.setDevicePixelRatio(ratio)
        pix.fill(Qt.GlobalColor.transparent)
        widget.render(pix)
        path = SHOTS / f"{name}{suffix}.png"
        assert pix.save(str(path)), path
        out.append(path)
    return out
