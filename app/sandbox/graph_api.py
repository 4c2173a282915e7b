"""Placeholder: being written."""

from __future__ import annotations

from typing import Any

from app.sandbox.httpcore import Router
from app.sandbox.state import SandboxState


def register(router: Router) -> None:
    pass


def init_user(state: SandboxState, user: dict[str, Any]) -> None:
    pass


def expire_sync_tokens(state: SandboxState, user_id: str | None) -> int:
    return 0
