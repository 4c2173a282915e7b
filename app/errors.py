"""Typed errors. Each carries a title and a message a person can act on.

They are sorted at one boundary (the services layer): authentication problems lead to a
re-link prompt, connectivity problems pause and resume, item problems become a listed sync issue.
"""

from __future__ import annotations


class MeridianError(Exception):
    title = "Something went wrong"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return f"{self.title}: {self.message}"


class ConfigError(MeridianError):
    title = "Invalid setting"


class UsageError(MeridianError):
    title = "Invalid command"
