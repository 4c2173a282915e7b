"""Shared fixtures: an in-process sandbox per test module, and a fresh pair of users per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from hypothesis import HealthCheck, settings

from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.sandbox.server import Sandbox

# `ci` (default) keeps the suite fast; `thorough` is for the long runs an issue asks for:
#   HYPOTHESIS_PROFILE=thorough pytest --timeout=0 ...   (the 120 s per test would cut it)
settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[SandboxAdmin]:
    adm = SandboxAdmin(sandbox.urls.root, sandbox.ca_cert)
    yield adm
    # Leave the module's sandbox as the next test expects it.
    adm.clear_faults()
    sandbox.state.settings.latency_ms = 0
    adm.set_limits(graph_concurrency=4, quota_requests=None, quota_seconds=60.0)
    sandbox.state.settings.auto_approve.clear()


@pytest.fixture
def http(sandbox: Sandbox):  # type: ignore[no-untyped-def]
    return trusting_session(sandbox.ca_cert)


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture
def google_user(admin: SandboxAdmin) -> SandboxUser:
    return admin.create_user("google", _email("g"))


@pytest.fixture
def ms_user(admin: SandboxAdmin) -> SandboxUser:
    return admin.create_user("microsoft", _email("m"))
