"""The real google-api-python-client, wired to the sandbox the way the app wires it.

httplib2 is given the sandbox CA and nothing else, so nothing can reach a real Google host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import google.oauth2.credentials
import google_auth_httplib2
import httplib2
import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox
from app.sandbox.state import Switches

TZ = "America/Chicago"


def authorized_http(sandbox: Sandbox, user: SandboxUser) -> google_auth_httplib2.AuthorizedHttp:
    creds = google.oauth2.credentials.Credentials(token=user.access_token)  # type: ignore[no-untyped-call]
    return google_auth_httplib2.AuthorizedHttp(
        creds, http=httplib2.Http(ca_certs=str(sandbox.ca_cert), timeout=10)
    )


def calendar(sandbox: Sandbox, user: SandboxUser) -> Any:
    """A Calendar v3 service for ``user``; requests go to the sandbox only."""
    return build(
        "calendar",
        "v3",
        http=authorized_http(sandbox, user),
        static_discovery=True,
        client_options={"api_endpoint": sandbox.urls.google_api},
    )


def new_batch(sandbox: Sandbox, callback: Callable[..., None]) -> BatchHttpRequest:
    # The client ignores api_endpoint for batches (library-notes §1): pass batch_uri explicitly.
    return BatchHttpRequest(callback=callback, batch_uri=sandbox.urls.google_batch)


def error_of(request: Any, **execute: Any) -> HttpError:
    """Execute a request that must fail; the HttpError it raised."""
    with pytest.raises(HttpError) as info:
        request.execute(**execute)
    return info.value


def reason(err: HttpError) -> str:
    return str(err.error_details[0]["reason"])


def timed(day: str, start: str, end: str, tz: str = TZ, **fields: Any) -> dict[str, Any]:
    """An event body on ``day`` (YYYY-MM-DD) from ``start`` to ``end`` (HH:MM) local in ``tz``."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    def at(hhmm: str) -> dict[str, str]:
        local = datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=ZoneInfo(tz))
        return {"dateTime": local.isoformat(), "timeZone": tz}

    return {"summary": "Event", "start": at(start), "end": at(end), **fields}


def pages(svc: Any, method: str = "list", **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of events.list (or calendarList.list with method='calendarList')."""
    coll = svc.calendarList() if method == "calendarList" else svc.events()
    token = None
    while True:
        page = (
            coll.list(pageToken=token, **params).execute()
            if token
            else coll.list(**params).execute()
        )
        # The two tokens exclude each other on every page (api-spec §1.2).
        assert not ("nextPageToken" in page and "nextSyncToken" in page)
        yield page
        token = page.get("nextPageToken")
        if not token:
            return


def read_all(svc: Any, **params: Any) -> tuple[list[dict[str, Any]], str | None]:
    """All items of a (full or incremental) events.list round, and its nextSyncToken."""
    items: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    for page in pages(svc, calendarId=params.pop("calendarId", "primary"), **params):
        items += page["items"]
        last = page
    return items, last.get("nextSyncToken")


def restore_switches(admin: SandboxAdmin) -> None:
    defaults = Switches()
    admin.set_switches(
        **{k: getattr(defaults, k) for k in vars(defaults) if k.startswith("google")}
    )
