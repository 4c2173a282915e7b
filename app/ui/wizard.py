"""First run: connect Microsoft, connect Google, pick the calendars, pick a preset, preview, start.

The preview is a dry run of the real pair, kept aside as a draft (paused "being set up") until
Start; Cancel removes the draft. Nothing is written to either calendar before Start.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app import APP_NAME
from app.core.rules import Direction, PairRules, PrivacyMode, Side
from app.services.app_service import AppService
from app.ui.bridge import Bridge
from app.ui.calendar_picker import CalendarPicker
from app.ui.icons import app_icon
from app.ui.text import plural
from app.ui.widgets import Message, describe_error

PRESETS: list[tuple[str, str, PairRules]] = [
    (
        "Two-way, everything",
        "Events made or changed in either calendar appear in the other, with all details.",
        PairRules(direction=Direction.BOTH, privacy=PrivacyMode.FULL),
    ),
    (
        "Work \u2192 personal, as Busy",
        "Your Google calendar shows when you are busy at work, without titles or details.",
        PairRules(direction=Direction.A_TO_B, privacy=PrivacyMode.BUSY),
    ),
    (
        "Personal \u2192 work, as Busy",
        "Your Outlook calendar shows when you are busy privately, without titles or details.",
        PairRules(direction=Direction.B_TO_A, privacy=PrivacyMode.BUSY),
    ),
]
CLOUD = {"microsoft": ("Microsoft", "Outlook (Microsoft 365)"), "google": ("Google", "Google")}


class ConnectPage(QWizardPage):
    def __init__(self, svc: AppService, bridge: Bridge, provider: str) -> None:
        super().__init__()
        self.svc = svc
        self.bridge = bridge
        self.provider = provider
        brand, product = CLOUD[provider]
        self.setTitle(f"Connect your {product} account")
        self.setSubTitle(
            f"Sign-in happens in your browser, on {brand}'s own page. {APP_NAME} never sees "
            "your password."
        )
        self.button = QPushButton(f"Sign in with {brand}\u2026")
        self.button.setMinimumWidth(220)
        self.button.clicked.connect(self.sign_in)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.message = Message()
        self._cancel: threading.Event | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.status)
        layout.addWidget(self.message)
        layout.addStretch(1)

    def account(self) -> Any:
        return next(
            (
                a
                for a in self.svc.accounts()
                if a.provider == self.provider and a.status.value == "ok"
            ),
            None,
        )

    def initializePage(self) -> None:
        self._show()

    def _show(self) -> None:
        a = self.account()
        self.status.setText(f"Connected: {a.email}" if a else "")
        self.button.setText(
            "Use another account\u2026" if a else f"Sign in with {CLOUD[self.provider][0]}\u2026"
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self._cancel is None and self.account() is not None

    def sign_in(self) -> None:
        self._cancel = threading.Event()
        cancel = self._cancel
        self.button.setEnabled(False)
        self.message.clear()
        self.status.setText("Waiting for you to finish signing in in your browser\u2026")
        self.completeChanged.emit()
        self.bridge.submit(lambda: self.svc.add_account(self.provider, cancel), self._ok, self._err)

    def _ok(self, _account: object) -> None:
        self._cancel = None
        self.button.setEnabled(True)
        self._show()

    def _err(self, exc: BaseException) -> None:
        self._cancel = None
        self.button.setEnabled(True)
        self.message.error(describe_error(exc))
        self._show()

    def cleanupPage(self) -> None:
        if self._cancel is not None:
            self._cancel.set()


class CalendarsPage(QWizardPage):
    def __init__(self, svc: AppService, bridge: Bridge) -> None:
        super().__init__()
        self.setTitle("Pick the two calendars")
        self.setSubTitle("Events are copied between these two. You can add more pairs later.")
        self.outlook = CalendarPicker(svc, bridge, "microsoft")
        self.google = CalendarPicker(svc, bridge, "google")
        for p in (self.outlook, self.google):
            p.changed.connect(self.completeChanged)
            p.loaded.connect(self.completeChanged)
        form = QFormLayout(self)
        form.addRow("Outlook", self.outlook)
        form.addRow("Google", self.google)

    def initializePage(self) -> None:
        self.outlook.reload_accounts()
        self.google.reload_accounts()

    def isComplete(self) -> bool:
        return bool(self.outlook.calendar_id() and self.google.calendar_id())


class PresetPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("How should they sync?")
        self.setSubTitle("Each choice can be fine-tuned later in the pair's settings.")
        self.group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        for i, (name, text, _rules) in enumerate(PRESETS):
            radio = QRadioButton(name)
            self.group.addButton(radio, i)
            note = QLabel(text)
            note.setWordWrap(True)
            note.setIndent(24)
            layout.addWidget(radio)
            layout.addWidget(note)
        self.group.button(0).setChecked(True)
        layout.addStretch(1)

    def rules(self) -> PairRules:
        return PRESETS[max(self.group.checkedId(), 0)][2]


class PreviewPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("What the first sync will do")
        self.setSubTitle("Nothing has been written yet. Press Start to begin.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.message = Message()
        self.ready = False
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.setFinalPage(True)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Start syncing")

    def initializePage(self) -> None:
        self.ready = False
        self.message.clear()
        self.summary.setText("Looking at both calendars\u2026")
        self.completeChanged.emit()
        w = self.w
        a, b = w.calendars.outlook, w.calendars.google
        args = (a.account_id(), a.calendar_id(), b.account_id(), b.calendar_id())
        rules = w.preset.rules()
        w.discard_draft()

        def work() -> tuple[str, Any]:
            row = w.svc.add_pair(*args, rules, draft=True)  # type: ignore[arg-type]
            return row.id, w.svc.preview(row.id)

        w.bridge.submit(work, self._shown, self._failed)

    def _shown(self, answer: tuple[str, Any]) -> None:
        pair_id, result = answer
        if self.w.draft not in (None, pair_id):
            self.w.discard_draft()  # an older preview (the person went back and forth)
        self.w.draft = pair_id
        if result.status != "dry-run":
            what = result.message or f"The calendars could not be read ({result.status})."
            self.message.error(what)
            return
        self.summary.setText(summarize(result.plan.actions if result.plan else []))
        self.ready = True
        self.completeChanged.emit()

    def _failed(self, exc: BaseException) -> None:
        self.message.error(describe_error(exc))

    def isComplete(self) -> bool:
        return self.ready


def summarize(actions: list[Any]) -> str:
    """Counts of the first sync's plan, per calendar, as sentences."""
    per: Counter[tuple[str, str | None]] = Counter()
    for a in actions:
        side = a.side.value if isinstance(a.side, Side) else None
        per[(a.kind.value, side)] += 1
    lines = []
    for side, name in (("b", "Google"), ("a", "Outlook")):
        if per[("create", side)]:
            lines.append(f"\u2022 {plural(per[('create', side)], 'event')} copied to {name}")
    if per[("link", None)]:
        lines.append(f"\u2022 {per[('link', None)]} already on both calendars: linked, not copied")
    updates = per[("update", "a")] + per[("update", "b")]
    if updates:
        lines.append(f"\u2022 {updates} {'copy' if updates == 1 else 'copies'} brought up to date")
    deletes = per[("delete", "a")] + per[("delete", "b")]
    if deletes:
        lines.append(f"\u2022 {deletes} {'copy' if deletes == 1 else 'copies'} removed")
    if not lines:
        lines.append("Nothing to copy yet: new events will follow as they are made.")
    lines.append("\nCopies never invite or e-mail anyone.")
    return "\n".join(lines)


class SetupWizard(QWizard):
    started = Signal(str)  # the new pair's id

    def __init__(self, svc: AppService, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.bridge = bridge
        self.draft: str | None = None
        self.setWindowTitle(f"Set up {APP_NAME}")
        self.setWindowIcon(app_icon())
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.microsoft = ConnectPage(svc, bridge, "microsoft")
        self.google = ConnectPage(svc, bridge, "google")
        self.calendars = CalendarsPage(svc, bridge)
        self.preset = PresetPage()
        self.preview = PreviewPage(self)
        for page in (self.microsoft, self.google, self.calendars, self.preset, self.preview):
            self.addPage(page)
        self.resize(640, 460)

    def discard_draft(self) -> None:
        if self.draft is not None:
            self.svc.remove_pair(self.draft)
            self.draft = None

    def accept(self) -> None:
        if self.draft is not None:
            pair_id, self.draft = self.draft, None
            self.svc.start_pair(pair_id)
            self.svc.finish_setup()
            self.started.emit(pair_id)
        super().accept()

    def reject(self) -> None:
        self.discard_draft()
        super().reject()
