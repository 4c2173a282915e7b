"""Placeholder: being written."""

from __future__ import annotations

from app.sandbox.httpcore import Router


def register(router: Router) -> None:
    pass
