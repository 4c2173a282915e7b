"""A pair's settings: calendars (when new), direction, window, fields, privacy, exclusions,
conflict policy. Reads and writes ``PairRules``; policy-locked parts are greyed out.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.rules import (
    FIELD_GROUPS,
    MODE_GROUPS,
    ConflictPolicy,
    Direction,
    Exclusions,
    PairRules,
    PrivacyMode,
)
from app.services.app_service import AppService
from app.ui.widgets import apply_lock, lock_note

DIRECTIONS = [
    (Direction.BOTH, "Both ways"),
    (Direction.A_TO_B, "Outlook \u2192 Google only"),
    (Direction.B_TO_A, "Google \u2192 Outlook only"),
]
PRIVACY = [
    (PrivacyMode.FULL, "Everything (title, details, attendees\u2026)"),
    (PrivacyMode.TITLE_ONLY, "Title and time only"),
    (PrivacyMode.BUSY, "Busy blocks only (no title, no details)"),
]
POLICIES = [
    (ConflictPolicy.ASK, "Ask me"),
    (ConflictPolicy.NEWEST, "The newest edit wins"),
    (ConflictPolicy.A_WINS, "Outlook's version wins"),
    (ConflictPolicy.B_WINS, "Google's version wins"),
]
FIELD_LABELS = {
    "time": "Time",
    "title": "Title",
    "description": "Description",
    "location": "Location",
    "show_as": "Busy / free",
    "privacy": "Private flag",
    "reminders": "Reminders",
    "categories": "Categories, colour",
    "attendees": "Organizer, attendees",
}


def _combo(items: list[tuple[StrEnum, str]]) -> QComboBox:
    # Item data holds the enum's plain value: Qt turns a StrEnum into a str anyway.
    c = QComboBox()
    for value, text in items:
        c.addItem(text, value.value)
    return c


def _select(combo: QComboBox, value: StrEnum) -> None:
    i = combo.findData(value.value)
    if i >= 0:
        combo.setCurrentIndex(i)


class PairEditor(QWidget):
    def __init__(self, svc: AppService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.direction = _combo(DIRECTIONS)  # type: ignore[arg-type]
        self.privacy = _combo(PRIVACY)  # type: ignore[arg-type]
        self.busy_title = QLineEdit()
        self.busy_title.setPlaceholderText("Busy")
        self.past = QSpinBox()
        self.past.setRange(0, 3650)
        self.past.setSuffix(" days back")
        self.future = QSpinBox()
        self.future.setRange(1, 3650)
        self.future.setSuffix(" days ahead")
        self.policy = _combo(POLICIES)  # type: ignore[arg-type]

        self.fields: dict[str, QCheckBox] = {}
        # The person's choice per field, kept while a privacy mode hides it: the boxes show what
        # is actually copied (a field the mode leaves out is shown unchecked, not "checked but
        # greyed", which read as "copied").
        self._chosen: dict[str, bool] = {}
        fields_box = QGridLayout()
        fields_box.setContentsMargins(0, 0, 0, 0)
        for i, group in enumerate(FIELD_GROUPS):
            box = QCheckBox(FIELD_LABELS.get(group, group))
            if group == "time":
                box.setEnabled(False)  # a copy always has the time of its original
                box.setToolTip("Always copied")
            self.fields[group] = box
            box.toggled.connect(lambda on, g=group: self._field_toggled(g, on))
            fields_box.addWidget(box, i // 3, i % 3)
        fields = QWidget()
        fields.setLayout(fields_box)

        self.ex_private = QCheckBox("Private events")
        self.ex_free = QCheckBox("Free time")
        self.ex_tentative = QCheckBox("Tentative")
        self.ex_declined = QCheckBox("Declined meetings")
        self.ex_all_day = QCheckBox("All-day events")
        self.ex_categories = QLineEdit()
        self.ex_categories.setPlaceholderText("Categories, separated by commas")
        self.ex_pattern = QLineEdit()
        self.ex_pattern.setPlaceholderText("Titles matching (a regular expression)")
        ex_boxes = QGridLayout()
        ex_boxes.setContentsMargins(0, 0, 0, 0)
        for i, box in enumerate(
            (self.ex_private, self.ex_free, self.ex_tentative, self.ex_declined, self.ex_all_day)
        ):
            ex_boxes.addWidget(box, i // 3, i % 3)
        exclusions = QWidget()
        ex_layout = QVBoxLayout(exclusions)
        ex_layout.setContentsMargins(0, 0, 0, 0)
        ex_layout.addLayout(ex_boxes)
        ex_layout.addWidget(self.ex_categories)
        ex_layout.addWidget(self.ex_pattern)

        window = QWidget()
        w_layout = QHBoxLayout(window)
        w_layout.setContentsMargins(0, 0, 0, 0)
        w_layout.addWidget(self.past)
        w_layout.addWidget(self.future)
        w_layout.addStretch(1)
        privacy = QWidget()
        p_layout = QHBoxLayout(privacy)
        p_layout.setContentsMargins(0, 0, 0, 0)
        p_layout.addWidget(self.privacy, 1)
        self.busy_label = QLabel("shown as")
        p_layout.addWidget(self.busy_label)
        p_layout.addWidget(self.busy_title)
        self.privacy.currentIndexChanged.connect(self._privacy_changed)

        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        rows: list[tuple[str, str, QWidget, list[QWidget]]] = [
            ("Direction", "pair.direction", self.direction, [self.direction]),
            ("Copy", "pair.privacy", privacy, [self.privacy, self.busy_title]),
            ("Dates", "pair.window", window, [self.past, self.future]),
            ("Fields", "pair.fields", fields, [b for g, b in self.fields.items() if g != "time"]),
            ("Leave out", "pair.exclusions", exclusions, [exclusions]),
            ("Conflicts", "pair.conflict_policy", self.policy, [self.policy]),
        ]
        for label, key, widget, parts in rows:
            reason = apply_lock(svc, key, *parts)
            if reason:
                holder = QWidget()
                h = QVBoxLayout(holder)
                h.setContentsMargins(0, 0, 0, 0)
                h.addWidget(widget)
                h.addWidget(lock_note(reason))
                widget = holder
            self.form.addRow(label, widget)
        self.set_rules(PairRules())

    def _privacy_changed(self) -> None:
        # The title of a busy block only matters in busy-only mode, and the mode decides which
        # fields can be copied at all: the others are greyed out (their choice is kept).
        mode = PrivacyMode(self.privacy.currentData())
        busy = mode is PrivacyMode.BUSY
        self.busy_title.setVisible(busy)
        self.busy_label.setVisible(busy)
        fields_locked = self.svc.locked("pair.fields") is not None
        for group, box in self.fields.items():
            if group == "time":
                continue
            allowed = group in MODE_GROUPS[mode]
            box.setEnabled(allowed and not fields_locked)
            box.blockSignals(True)  # showing the mode's effect is not the person's choice
            box.setChecked(allowed and self._chosen.get(group, False))
            box.blockSignals(False)

    def _field_toggled(self, group: str, on: bool) -> None:
        if self.fields[group].isEnabled():
            self._chosen[group] = on

    def set_rules(self, r: PairRules) -> None:
        _select(self.direction, r.direction)
        _select(self.privacy, r.privacy)
        self.busy_title.setText(r.busy_title)
        self.past.setValue(r.window_past_days)
        self.future.setValue(r.window_future_days)
        _select(self.policy, r.conflict_policy)
        self._chosen = {g: g in r.fields for g in self.fields}
        for group, box in self.fields.items():
            box.blockSignals(True)
            box.setChecked(group in r.fields or group == "time")
            box.blockSignals(False)
        ex = r.exclusions
        self.ex_private.setChecked(ex.private)
        self.ex_free.setChecked(ex.free)
        self.ex_tentative.setChecked(ex.tentative)
        self.ex_declined.setChecked(ex.declined)
        self.ex_all_day.setChecked(ex.all_day)
        self.ex_categories.setText(", ".join(sorted(ex.categories)))
        self.ex_pattern.setText(ex.subject_pattern or "")
        self._privacy_changed()
        self._base = r

    def rules(self) -> PairRules:
        """The rules as shown; raises ValueError (with a person-facing text) when invalid."""
        parts = self.ex_categories.text().split(",")
        cats = frozenset(c.strip().lower() for c in parts if c.strip())
        exclusions = Exclusions(
            categories=cats,
            colors=self._base.exclusions.colors,
            private=self.ex_private.isChecked(),
            free=self.ex_free.isChecked(),
            tentative=self.ex_tentative.isChecked(),
            declined=self.ex_declined.isChecked(),
            all_day=self.ex_all_day.isChecked(),
            subject_pattern=self.ex_pattern.text().strip() or None,
        )
        return PairRules(
            direction=Direction(self.direction.currentData()),
            window_past_days=self.past.value(),
            window_future_days=self.future.value(),
            fields=frozenset(g for g in self.fields if g == "time" or self._chosen.get(g)),
            privacy=PrivacyMode(self.privacy.currentData()),
            exclusions=exclusions,
            conflict_policy=ConflictPolicy(self.policy.currentData()),
            busy_title=self.busy_title.text().strip() or "Busy",
            max_deletes=self._base.max_deletes,
            max_delete_share=self._base.max_delete_share,
        )
