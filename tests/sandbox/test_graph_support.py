"""Helpers shared by the Graph emulator tests (no tests of its own).

Every call goes through ``requests`` over HTTPS, as the app's Graph provider does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from reference import load_payload

from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.sandbox.server import Sandbox

TIMEOUT = 10


def payload(name: str) -> Any:
    """A recorded reference payload (fails, never skips, when ../shared is missing)."""
    return load_payload(name)


class Graph:
    """A signed-in Graph caller: paths are relative to ``/v1.0``."""

    def __init__(self, sandbox: Sandbox, user: SandboxUser) -> None:
        self.sandbox = sandbox
        self.user = user
        self.base = sandbox.urls.graph
        self.session = trusting_session(sandbox.ca_cert)
        self.session.headers.update(user.auth())

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else self.base + path

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", TIMEOUT)
        return self.session.request(method, self.url(path), **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def create(self, body: dict[str, Any], collection: str = "/me/events") -> dict[str, Any]:
        r = self.post(collection, json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def calendar_id(self) -> str:
        return str(self.get("/me/calendar").json()["id"])

    def new_calendar(self, name: str) -> str:
        r = self.post("/me/calendars", json={"name": name})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def delta_round(
        self,
        start: str | None,
        prefer: str | None = None,
        *,
        path: str = "/me/calendarView/delta",
        start_dt: str = "2030-01-01T00:00:00Z",
        end_dt: str = "2030-02-01T00:00:00Z",
    ) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
        """Follow one round to its deltaLink: (items, deltaLink, pages)."""
        headers = {"Prefer": prefer} if prefer else {}
        if start is None:
            r = self.get(
                path, params={"startDateTime": start_dt, "endDateTime": end_dt}, headers=headers
            )
        else:
            r = self.get(start, headers=headers)
        pages: list[dict[str, Any]] = []
        while True:
            assert r.status_code == 200, r.text
            page = r.json()
            pages.append(page)
            assert ("@odata.nextLink" in page) != ("@odata.deltaLink" in page)
            if "@odata.deltaLink" in page:
                items = [i for p in pages for i in p["value"]]
                return items, page["@odata.deltaLink"], pages
            assert len(pages) < 200, "the round does not end"
            r = self.get(page["@odata.nextLink"], headers=headers)


def event(subject: str, start: str, end: str, tz: str = "UTC", **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": tz},
        "end": {"dateTime": end, "timeZone": tz},
        **extra,
    }


def weekly(start_date: str, end_date: str, day: str = "monday") -> dict[str, Any]:
    return {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day]},
        "range": {"type": "endDate", "startDate": start_date, "endDate": end_date},
    }


def daily(start_date: str, count: int) -> dict[str, Any]:
    return {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": start_date, "numberOfOccurrences": count},
    }


def error_code(r: requests.Response) -> str:
    return str(r.json()["error"]["code"])


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def new_graph(sandbox: Sandbox, admin: SandboxAdmin, prefix: str = "m") -> Graph:
    import uuid

    return Graph(
        sandbox, admin.create_user("microsoft", f"{prefix}-{uuid.uuid4().hex[:8]}@example.com")
    )
