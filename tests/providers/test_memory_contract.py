from __future__ import annotations

import datetime as dt

import pytest
from contract import ProviderContract, ProviderEnv

from app.providers.memory import MemoryProvider


@pytest.fixture
def env() -> ProviderEnv:
    p = MemoryProvider(["primary"])
    return ProviderEnv(p, "primary", lambda: p.expire_cursors("primary"), dt.date(2026, 11, 21))


class TestMemoryProvider(ProviderContract):
    pass
