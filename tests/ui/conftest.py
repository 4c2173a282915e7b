"""The desktop app's fixtures: an AppService wired to the module's in-process sandbox.

Each test gets two fresh sandbox users (one Outlook, one Google) that the sandbox approves by
itself, so signing in runs the real sign-in flows through the headless sandbox browser.
"""

from __future__ import annotations

import datetime as dt
import queue
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from app.auth.google_oauth import GoogleConfig
from app.auth.microsoft_oauth import MicrosoftConfig
from app.auth.vault import MemoryVault
from app.core.model import Event, TimeSpan
from app.core.rules import PairRules, Side
from app.paths import Profile
from app.providers.base import CalendarProvider
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.browser import SandboxBrowser
from app.sandbox.server import Sandbox
from app.services.accounts import Account, AuthConfig
from app.services.app_service import AppService, build
from app.services.sync_service import Endpoints
from app.store.repo import PairRow

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class World:
    sandbox: Sandbox
    admin: SandboxAdmin
    ms_user: SandboxUser
    google_user: SandboxUser
    svc: AppService

    def sign_in_both(self) -> tuple[Account, Account]:
        return self.svc.add_account("microsoft"), self.svc.add_account("google")

    def pair(self, rules: PairRules | None = None) -> PairRow:
        """A signed-in pair whose first (scheduled, immediate) sync has finished."""
        ms, g = self.sign_in_both()
        made: list[PairRow] = []
        wait_for_run(
            self.svc,
            lambda: made.append(
                self.svc.add_pair(ms.id, "primary", g.id, "primary", rules or PairRules())
            ),
        )
        return made[0]

    def provider(self, pair: PairRow, side: Side) -> tuple[CalendarProvider, str]:
        conf = pair.config[side.value]
        return self.svc.sync.provider(conf["account"]), conf["calendar"]

    def add_event(self, pair: PairRow, title: str, days: int = 2) -> Event:
        prov, cal = self.provider(pair, Side.A)
        start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        start += dt.timedelta(days=days)
        event = Event(
            ref=None, when=TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC"), title=title
        )
        return prov.create(cal, event, key=uuid.uuid4().hex)

    def edit(self, pair: PairRow, side: Side, title: str, new_title: str) -> None:
        prov, cal = self.provider(pair, side)
        window = self.svc.rules(pair.id).window(dt.datetime.now(dt.UTC))
        from app.providers.base import Window

        changes = prov.read_changes(cal, None, Window(*window))
        ev = next(e for e in changes.events if e.title == title)
        assert ev.ref is not None
        prov.update(cal, ev.ref.event_id, replace(ev, title=new_title))

    def titles(self, pair: PairRow, side: Side) -> set[str]:
        prov, cal = self.provider(pair, side)
        window = self.svc.rules(pair.id).window(dt.datetime.now(dt.UTC))
        from app.providers.base import Window

        return {e.title for e in prov.read_changes(cal, None, Window(*window)).events}


def wait_for_run(svc: AppService, action: Callable[[], Any], timeout: float = 30) -> dict[str, Any]:
    """Do ``action`` (which makes the scheduler run a pair) and return that run's result."""
    got: queue.Queue[dict[str, Any]] = queue.Queue()
    before = svc.on_run_finished

    def finished(info: dict[str, Any]) -> None:
        got.put(info)
        before(info)

    svc.on_run_finished = finished
    try:
        action()
        return got.get(timeout=timeout)
    finally:
        svc.on_run_finished = before


def sync_and_wait(svc: AppService, pair_id: str | None = None) -> dict[str, Any]:
    """Sync now through the scheduler (as the tray's "Sync now" does) and wait for the result."""
    return wait_for_run(svc, lambda: svc.sync_now(pair_id))


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
