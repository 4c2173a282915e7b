"""The desktop app's fixtures: an AppService wired to the module's in-process sandbox.

Each test gets two fresh sandbox users (one Outlook, one Google) that the sandbox approves by
itself, so signing in runs the real sign-in flows through the headless sandbox browser.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from uikit import World

from app.auth.google_oauth import GoogleConfig
from app.auth.microsoft_oauth import MicrosoftConfig
from app.auth.vault import MemoryVault
from app.paths import Profile
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.browser import SandboxBrowser
from app.sandbox.server import Sandbox
from app.services.accounts import AuthConfig
from app.services.app_service import build
from app.services.sync_service import Endpoints
from app.ui.bridge import Bridge
from app.ui.gc_guard import MainThreadCollector


@pytest.fixture(autouse=True)
def _collect_on_the_main_thread(qapp: Any) -> Iterator[None]:
    """As in the app (app/ui/gc_guard.py): garbage holding Qt objects is only ever collected
    on this thread, never on a sync's worker thread."""
    collector = MainThreadCollector()
    yield
    collector.stop()


@pytest.fixture
def world(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    ms_user: SandboxUser,
    google_user: SandboxUser,
    tmp_path: Path,
) -> Iterator[World]:
    admin.auto_approve("microsoft", ms_user.id)
    admin.auto_approve("google", google_user.id)
    browser = SandboxBrowser(sandbox.ca_cert, name=f"sandbox-{uuid.uuid4().hex}")
    auth = AuthConfig(
        GoogleConfig.for_sandbox(sandbox.urls, sandbox.ca_cert),
        MicrosoftConfig.for_sandbox(sandbox.urls, sandbox.ca_cert),
    )
    svc = build(
        Profile(tmp_path / "profile"),
        MemoryVault(),
        auth,
        Endpoints.sandbox(sandbox.urls, str(sandbox.ca_cert)),
        opener=browser.open,
    )
    svc.start()
    yield World(sandbox, admin, ms_user, google_user, svc)
    svc.close()
    browser.wait(5)


@pytest.fixture
def bridge(world: World) -> Bridge:
    """The Qt side of the service's events, as the app wires it."""
    b = Bridge()
    b.attach(world.svc)
    return b
