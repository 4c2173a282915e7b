"""Small shared pieces: the policy lock, inline messages, form helpers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QWidget

from app.services.app_service import AppService

LOCKED_TEXT = "Set by your organization"


def apply_lock(svc: AppService, key: str, *widgets: QWidget) -> str | None:
    """Grey out a policy-locked setting and say why; returns the reason (None: not locked)."""
    reason = svc.locked(key)
    for w in widgets:
        w.setEnabled(reason is None)
        w.setToolTip(f"{LOCKED_TEXT}: {reason}" if reason else "")
    return reason


def lock_note(reason: str | None) -> QLabel:
    label = QLabel(LOCKED_TEXT if reason else "")
    label.setObjectName("lockNote")
    label.setStyleSheet("color: palette(mid); font-style: italic;")
    label.setVisible(bool(reason))
    if reason:
        label.setToolTip(reason)
    return label


class Message(QLabel):
    """An inline message under a form: errors in red, information in the normal colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def error(self, text: str) -> None:
        self.setStyleSheet("color: #b91c1c;")
        self.setText(text)
        self.setVisible(bool(text))

    def info(self, text: str) -> None:
        self.setStyleSheet("")
        self.setText(text)
        self.setVisible(bool(text))

    def clear(self) -> None:
        self.setText("")
        self.hide()


def describe_error(exc: BaseException) -> str:
    """A person-facing line for an error from the services (titles come from app.errors)."""
    title = getattr(exc, "title", None)
    message = getattr(exc, "message", None)
    if title and message:
        return f"{title}: {message}"
    return str(exc) or type(exc).__name__


def fit(dialog: QDialog) -> None:
    """Size a dialog to its wrapped labels at its width: a wrapped QLabel's own size hint is
    for a narrower line, which would leave a gap around the text."""
    width = max(dialog.minimumWidth(), dialog.sizeHint().width())
    height = dialog.heightForWidth(width)
    dialog.resize(width, height if height > 0 else dialog.sizeHint().height())
