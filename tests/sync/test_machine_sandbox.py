"""The sync state machine through the sandbox's real APIs, with the real Google and Graph providers.

People's edits go through separate provider instances with keys that are not Meridian's, so
they look exactly like events made in Outlook or Google Calendar.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from machine import NOW, SyncMachine, World

from app.core.model import Event, Status
from app.core.rules import Side
from app.providers.base import CalendarProvider, Window
from app.providers.google import GoogleProvider
from app.providers.microsoft import MicrosoftProvider
from app.sandbox.admin import SandboxAdmin
from app.sandbox.server import Sandbox

WINDOW = Window(NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=120))


def _no_wait(_: float) -> None:
    """Retries honour Retry-After in production; here they need not wait."""


class SandboxWorld(World):
    sandbox: ClassVar[Sandbox]

    def __init__(self, folder: Path) -> None:
        sb = type(self).sandbox
        admin = SandboxAdmin(sb.urls.root, sb.ca_cert)
        self.admin = admin
        self.m = admin.create_user("microsoft", f"m-{uuid.uuid4().hex[:8]}@contoso.example")
        self.g = admin.create_user("google", f"g-{uuid.uuid4().hex[:8]}@gmail.example")
        self.a = self._graph()
        self.b = self._google()
        self.person = {Side.A: self._graph(), Side.B: self._google()}
        self.a_cal = next(c.id for c in self.a.list_calendars() if c.primary)
        self.b_cal = self.g.email

    def _graph(self) -> MicrosoftProvider:
        sb, m = type(self).sandbox, self.m

        def token(force: bool) -> str:
            if force:
                m.access_token = self.admin.new_tokens(m.id)["access_token"]
            return m.access_token

        return MicrosoftProvider(sb.urls.graph, token, ca_cert=str(sb.ca_cert), sleep=_no_wait)

    def _google(self) -> GoogleProvider:
        sb, g = type(self).sandbox, self.g
        return GoogleProvider(
            lambda: g.access_token,
            api_endpoint=sb.urls.google_api,
            batch_uri=sb.urls.google_batch,
            ca_cert=str(sb.ca_cert),
            sleep=_no_wait,
        )

    def _p(self, side: Side) -> CalendarProvider:
        return self.person[side]

    def person_put(self, side: Side, event: Event) -> Event:
        cal = self.calendar(side)
        if event.ref is None:
            return self._p(side).create(cal, event, key=f"person-{uuid.uuid4().hex}")
        return self._p(side).update(cal, event.ref.event_id, replace(event, etag=None))

    def person_delete(self, side: Side, event_id: str) -> None:
        self._p(side).delete(self.calendar(side), event_id)

    def events(self, side: Side) -> list[Event]:
        changes = self._p(side).read_changes(self.calendar(side), None, WINDOW)
        return [e for e in changes.events if e.status is not Status.CANCELLED and not e.series_id]

    def expire_cursors(self, side: Side) -> None:
        user = self.m if side is Side.A else self.g
        self.admin.expire_sync_tokens(user.service, user.id)

    def inject_fault(self, side: Side, kind: int) -> None:
        service, path = ("graph", "/events") if side is Side.A else ("google", "/events")
        if kind == 0:  # one write in a batch refused: the item fails, is listed, is retried
            self.admin.add_fault(400, path, service=service, batched=True, count=1)
        else:  # a transient failure of a plain request: the provider retries it
            self.admin.add_fault(503, path, service=service, batched=False, count=1, retry_after=1)

    def clear_faults(self) -> None:
        self.admin.clear_faults()


class SandboxSyncMachine(SyncMachine):
    world_factory = SandboxWorld


@pytest.fixture(scope="module", autouse=True)
def _sandbox_for_the_machine(sandbox: Sandbox) -> Iterator[None]:
    SandboxWorld.sandbox = sandbox
    yield


TestSandboxSync: Any = SandboxSyncMachine.TestCase
# Each step costs real HTTPS round trips: fewer, shorter runs by default; the thorough profile
# (HYPOTHESIS_PROFILE=thorough) scales max_examples up for the long run.
TestSandboxSync.settings = settings(
    settings.default,
    max_examples=max(6, settings.default.max_examples // 8),
    stateful_step_count=25,
)
