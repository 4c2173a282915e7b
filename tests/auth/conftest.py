"""Fixtures for the sign-in tests: an in-memory OS keyring, a profile, configs bound to the sandbox.

Every test here gets the memory keyring (autouse), so none can touch the machine's real one.
Each test gets its own client ids, so the sandbox's sign-in log can be read per test.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest

from app.auth.common import DeviceCodePrompt
from app.auth.google_oauth import GoogleConfig
from app.auth.microsoft_oauth import MicrosoftConfig
from app.auth.vault import KeyringVault
from app.paths import Profile
from app.sandbox.browser import SandboxBrowser
from app.sandbox.server import Sandbox
from app.services.accounts import AccountService, AuthConfig
from app.store.db import Database
from app.store.repo import Repo


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in a dict (keyring ships none; library-notes.md §4)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(username) from None


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return Profile(tmp_path / "profile").ensure()


@pytest.fixture
def repo(profile: Profile) -> Iterator[Repo]:
    db = Database(profile.database)
    yield Repo(db)
    db.close()


@pytest.fixture
def vault(profile: Profile) -> KeyringVault:
    return KeyringVault(profile.secrets)


@pytest.fixture
def google_config(sandbox: Sandbox) -> GoogleConfig:
    return GoogleConfig.for_sandbox(
        sandbox.urls,
        sandbox.ca_cert,
        client_id=f"meridian-{uuid.uuid4().hex[:8]}.apps.googleusercontent.com",
        client_secret="gcs-" + secrets.token_urlsafe(16),
    )


@pytest.fixture
def ms_config(sandbox: Sandbox) -> MicrosoftConfig:
    return MicrosoftConfig.for_sandbox(sandbox.urls, sandbox.ca_cert, client_id=str(uuid.uuid4()))


@pytest.fixture
def browser(sandbox: Sandbox) -> Iterator[SandboxBrowser]:
    b = SandboxBrowser(sandbox.ca_cert, name=f"sandbox-{uuid.uuid4().hex}")
    yield b
    b.wait(5)


@pytest.fixture
def device_prompts() -> list[DeviceCodePrompt]:
    return []


@pytest.fixture
def service(
    repo: Repo,
    vault: KeyringVault,
    google_config: GoogleConfig,
    ms_config: MicrosoftConfig,
    browser: SandboxBrowser,
    device_prompts: list[DeviceCodePrompt],
) -> AccountService:
    return AccountService(
        repo,
        vault,
        AuthConfig(google_config, ms_config),
        opener=browser.open,
        on_device_code=device_prompts.append,
    )
