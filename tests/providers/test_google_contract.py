"""The provider contract, run against GoogleProvider on the sandbox's Google Calendar emulator.

The real google-api-python-client talks HTTPS to the in-process sandbox; httplib2 trusts only
the sandbox CA, so nothing can reach a real Google host.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import google.oauth2.credentials
import pytest
from contract import ProviderContract, ProviderEnv

from app.providers.google import GoogleProvider, RetryPolicy
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox


def make_provider(
    sandbox: Sandbox,
    user: SandboxUser,
    *,
    sleeps: list[float] | None = None,
    credentials: google.oauth2.credentials.Credentials | Callable[[], str] | None = None,
    retry: RetryPolicy | None = None,
) -> GoogleProvider:
    """A provider for ``user``; backoff sleeps are recorded in ``sleeps``, never slept."""
    recorded = sleeps if sleeps is not None else []
    creds = credentials or google.oauth2.credentials.Credentials(token=user.access_token)  # type: ignore[no-untyped-call]
    return GoogleProvider(
        creds,
        api_endpoint=sandbox.urls.google_api,
        batch_uri=sandbox.urls.google_batch,
        ca_cert=str(sandbox.ca_cert),
        retry=retry,
        sleep=recorded.append,
        rand=lambda: 0.5,
    )


@pytest.fixture
def env(sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser) -> ProviderEnv:
    provider = make_provider(sandbox, google_user)
    return ProviderEnv(
        provider,
        google_user.email,  # the primary calendar's real id, not the "primary" alias
        lambda: _expire(admin, google_user),
        dt.date.today(),
    )


def _expire(admin: SandboxAdmin, user: SandboxUser) -> None:
    admin.expire_sync_tokens("google", user.id)


class TestGoogleProvider(ProviderContract):
    pass
