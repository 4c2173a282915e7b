"""Helpers for the desktop-app tests: a World around an AppService wired to the sandbox, and
waiting for the scheduler's runs (never by sleeping)."""

from __future__ import annotations

import datetime as dt
import queue
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import requests

from app.core.model import Event, TimeSpan
from app.core.rules import PairRules, Side
from app.providers.base import CalendarProvider, Window
from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.sandbox.server import Sandbox
from app.services.accounts import Account
from app.services.app_service import AppService
from app.store.repo import PairRow


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

    def edit(self, pair: PairRow, side: Side, which: str, **changes: Any) -> None:
        """Change the event titled ``which`` on one side, as a person would in that calendar."""
        prov, cal = self.provider(pair, side)
        window = self.svc.rules(pair.id).window(dt.datetime.now(dt.UTC))
        found = prov.read_changes(cal, None, Window(*window))
        ev = next(e for e in found.events if e.title == which)
        assert ev.ref is not None
        prov.update(cal, ev.ref.event_id, replace(ev, **changes))

    def events(self, pair: PairRow, side: Side) -> dict[str, Event]:
        """The events of one side's calendar by title (read in full, as they are now)."""
        prov, cal = self.provider(pair, side)
        window = self.svc.rules(pair.id).window(dt.datetime.now(dt.UTC))
        return {e.title: e for e in prov.read_changes(cal, None, Window(*window)).events}

    def titles(self, pair: PairRow, side: Side) -> set[str]:
        return set(self.events(pair, side))


class Cloud:
    """A person at a cloud's own API (not through Meridian): Graph or Google Calendar, as
    ``user``; paths are below ``/v1.0`` or ``/calendar/v3/``. Answers are checked and decoded."""

    def __init__(self, sandbox: Sandbox, user: SandboxUser) -> None:
        self.user = user
        base = sandbox.urls.graph if user.service == "microsoft" else sandbox.urls.google_api
        self.base = base.rstrip("/")
        self.http = trusting_session(sandbox.ca_cert)
        self.http.headers.update(user.auth())

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r: requests.Response = self.http.request(
            method, self.base + "/" + path.lstrip("/"), json=body, timeout=10
        )
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None


def slot(days: int = 2, hour: int = 10, minutes: int = 60) -> tuple[str, str]:
    """A time ``days`` ahead (UTC), as naive ISO strings for Graph's dateTimeTimeZone."""
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)
    start = dt.datetime.combine(day, dt.time(hour))
    return start.isoformat(), (start + dt.timedelta(minutes=minutes)).isoformat()


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
