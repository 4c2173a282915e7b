"""MicrosoftProvider against the sandbox's Graph: the shared contract, plus what only Graph has.

``connect`` is also used by the other test_microsoft_* modules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from contract import ProviderContract, ProviderEnv

from app.providers.microsoft import MicrosoftProvider
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox


@dataclass
class Tokens:
    """The token callable a provider gets: a new sandbox token when forced."""

    admin: SandboxAdmin
    user: SandboxUser
    current: str = ""
    forced: int = 0
    refresh_gives_new: bool = True
    calls: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.current = self.user.access_token

    def __call__(self, force_refresh: bool) -> str:
        self.calls.append(force_refresh)
        if force_refresh:
            self.forced += 1
            if self.refresh_gives_new:
                self.current = self.admin.new_tokens(self.user.id)["access_token"]
        return self.current


@dataclass
class Connected:
    provider: MicrosoftProvider
    tokens: Tokens
    calendar_id: str
    sleeps: list[float]


def connect(sandbox: Sandbox, admin: SandboxAdmin, user: SandboxUser, **kw: Any) -> Connected:
    tokens = Tokens(admin, user)
    sleeps: list[float] = []
    kw.setdefault("sleep", sleeps.append)  # never really wait in tests
    p = MicrosoftProvider(sandbox.urls.graph, tokens, ca_cert=str(sandbox.ca_cert), **kw)
    primary = next(c.id for c in p.list_calendars() if c.primary)
    return Connected(p, tokens, primary, sleeps)


@pytest.fixture
def ms(sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser) -> Iterator[Connected]:
    admin.set_latency(0)
    c = connect(sandbox, admin, ms_user)
    yield c
    c.provider.close()


@pytest.fixture
def env(ms: Connected, admin: SandboxAdmin, ms_user: SandboxUser) -> ProviderEnv:
    def expire() -> None:
        admin.expire_sync_tokens("microsoft", ms_user.id)

    return ProviderEnv(
        ms.provider, ms.calendar_id, expire, dt.date.today(), reserves_deleted_keys=False
    )


class TestMicrosoftProvider(ProviderContract):
    """The contract on Graph, through the sandbox."""
