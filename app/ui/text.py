"""Words and times as the windows show them (local time, short)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.services.app_service import TrayState

STATE_TEXT = {
    TrayState.IDLE: "Up to date",
    TrayState.SYNCING: "Syncing\u2026",
    TrayState.PAUSED: "Paused",
    TrayState.ATTENTION: "Needs your attention",
    TrayState.ERROR: "Sync is failing",
    TrayState.OFFLINE: "Offline: will retry",
}
SIDE_NAMES = {"a": "Outlook", "b": "Google"}


def parse(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def when(value: str | dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``14:05`` today, ``Mon 14:05`` this week, else ``12 Mar 14:05``; ``never`` for None."""
    t = parse(value)
    if t is None:
        return "never"
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    local = t.astimezone()
    today = (now or dt.datetime.now().astimezone()).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if abs((local.date() - today).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%d %b %H:%M")


def counts(c: dict[str, Any]) -> str:
    parts = [f"{c[k]} {k}" for k in ("created", "updated", "deleted", "linked") if c.get(k)]
    return ", ".join(parts) or "no changes"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
