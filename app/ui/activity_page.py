"""Recent activity: the audit log of the last week, newest first."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.app_service import AppService
from app.ui.text import SIDE_NAMES, when

ACTORS = {"person": "You", "sync": "Sync", "meridian": "Meridian"}


def describe(row: dict[str, Any]) -> str:
    action = str(row["action"]).replace("account.", "account ").replace("_", " ")
    side = SIDE_NAMES.get(row.get("side") or "", "")
    return f"{action} in {side}" if side else action


class ActivityPage(QWidget):
    def __init__(self, svc: AppService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["When", "Who", "What", "Pair", "Details"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for col in range(4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.health = QLabel()
        self.health.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.health)
        layout.addWidget(self.table)
        self.refresh()

    def refresh(self) -> None:
        self.health.setText(self.svc.health_summary())
        rows = self.svc.activity()
        names = {p.id: p.name for p in self.svc.pairs()}
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            pair = names.get(r["pair_id"] or "", "")
            why = "" if r["why"] == pair else r["why"] or ""
            cells = [when(r["at"]), ACTORS.get(r["actor"], r["actor"]), describe(r), pair, why]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, col, item)
