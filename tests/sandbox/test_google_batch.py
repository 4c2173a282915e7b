"""``POST /batch/calendar/v3``: through BatchHttpRequest, and raw where the client cannot go."""

from __future__ import annotations

import re
from typing import Any

import requests
from google_client import calendar, new_batch, timed
from googleapiclient.errors import HttpError

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox


def multipart(parts: list[tuple[str | None, str]], eol: str = "\r\n") -> bytes:
    """A batch body; each part is (Content-ID or None, the HTTP request as text)."""
    lines: list[str] = []
    for cid, request in parts:
        lines += ["--b0undary", "Content-Type: application/http"]
        lines += [f"Content-ID: {cid}"] if cid else []
        lines += ["", request.replace("\n", eol)]
    lines.append("--b0undary--")
    return eol.join(lines).encode()


def post_batch(
    http: requests.Session,
    sandbox: Sandbox,
    body: bytes,
    headers: dict[str, str] | None = None,
    content_type: str = "multipart/mixed; boundary=b0undary",
) -> requests.Response:
    h = {"Content-Type": content_type, **(headers or {})}
    return http.post(sandbox.urls.google_batch, data=body, headers=h, timeout=30)


def answers(resp: requests.Response) -> list[tuple[str | None, int, str]]:
    """(Content-ID, status, body) of each part of a batch response, in order."""
    assert resp.status_code == 200, resp.text
    boundary = re.search(r"boundary=([^;]+)", resp.headers["Content-Type"])
    assert boundary
    out = []
    for part in resp.text.split("--" + boundary.group(1))[1:-1]:
        head, _, inner = part.strip("\r\n").partition("\r\n\r\n")
        cid = re.search(r"(?im)^Content-ID: (.*)$", head)
        status = int(inner.split(" ", 2)[1])
        out.append((cid.group(1).strip() if cid else None, status, inner.partition("\r\n\r\n")[2]))
    return out


def test_batch_through_the_client(
    sandbox: Sandbox, google_user: SandboxUser, admin: SandboxAdmin
) -> None:
    svc = calendar(sandbox, google_user)
    ev = svc.events().insert(calendarId="primary", body=timed("2025-03-24", "09:00", "10:00"))
    ev = ev.execute()
    results: dict[str, tuple[Any, HttpError | None]] = {}

    def callback(request_id: str, response: Any, exception: HttpError | None) -> None:
        results[request_id] = (response, exception)

    since = admin.requests()["last"]
    batch = new_batch(sandbox, callback)
    batch.add(svc.events().get(calendarId="primary", eventId=ev["id"]), request_id="get")
    batch.add(svc.events().get(calendarId="primary", eventId="nosuchevent1"), request_id="missing")
    stale = svc.events().patch(calendarId="primary", eventId=ev["id"], body={"summary": "B"})
    stale.headers["If-Match"] = '"1"'
    batch.add(stale, request_id="stale")
    batch.add(
        svc.events().insert(calendarId="primary", body=timed("2025-03-25", "09:00", "10:00")),
        request_id="new",
    )
    fresh = svc.events().get(calendarId="primary", eventId=ev["id"])
    fresh.headers["If-None-Match"] = ev["etag"]
    batch.add(fresh, request_id="unchanged")
    batch.execute()
    assert results["get"][0] == ev and results["get"][1] is None
    assert results["missing"][1] is not None and results["missing"][1].status_code == 404
    assert results["stale"][1] is not None and results["stale"][1].status_code == 412
    assert results["new"][0]["start"]["dateTime"] == "2025-03-25T09:00:00-05:00"
    assert results["unchanged"][1] is not None and results["unchanged"][1].status_code == 304
    log = admin.requests(since=since, service="google")
    assert log["http_requests"] == 1  # one round trip ...
    parts = [(e["endpoint"], e["status"], e["batched"]) for e in log["entries"] if e["batched"]]
    assert parts == [  # ... and each part went through the pipeline on its own, in order
        ("google events.get", 200, True),
        ("google events.get", 404, True),
        ("google events.patch", 412, True),
        ("google events.insert", 200, True),
        ("google events.get", 304, True),
    ]


def test_part_headers_override_the_outer_ones(
    sandbox: Sandbox, google_user: SandboxUser, http: requests.Session
) -> None:
    events = "GET /calendar/v3/calendars/primary/events HTTP/1.1\n"
    body = multipart(
        [
            ("<item1:12930812@barnyard.example.com>", events),
            ("<item2:12930812@barnyard.example.com>", events + "Authorization: Bearer nope\n"),
            (None, "GET /calendar/v3/colors"),
        ]
    )
    got = answers(post_batch(http, sandbox, body, google_user.auth()))
    assert [(cid, status) for cid, status, _ in got] == [
        ("<response-item1:12930812@barnyard.example.com>", 200),
        ("<response-item2:12930812@barnyard.example.com>", 401),
        (None, 200),
    ]
    assert '"reason": "authError"' in got[1][2] or '"authError"' in got[1][2]
    # No outer token and none in the part: the part is refused, not the envelope.
    (only,) = answers(post_batch(http, sandbox, multipart([("<x + 1>", events)], eol="\n")))
    assert only[:2] == ("<response-x + 1>", 401)


def test_parts_carry_bodies_and_their_own_faults(
    sandbox: Sandbox, google_user: SandboxUser, http: requests.Session, admin: SandboxAdmin
) -> None:
    insert = (
        "POST /calendar/v3/calendars/primary/events HTTP/1.1\nContent-Type: application/json\n\n"
        '{"summary": "from batch", "start": {"date": "2025-03-24"}, "end": {"date": "2025-03-25"}}'
    )
    admin.add_fault(503, "/colors", service="google", batched=True)
    body = multipart(
        [
            ("<a + 1>", "GET /calendar/v3/colors"),
            ("<a + 2>", insert),
            ("<a + 3>", "GET /calendar/v3/colors"),
        ]
    )
    got = answers(post_batch(http, sandbox, body, google_user.auth()))
    assert [status for _, status, _ in got] == [503, 200, 200]
    assert '"from batch"' in got[1][2]
    svc = calendar(sandbox, google_user)
    assert [e["summary"] for e in svc.events().list(calendarId="primary").execute()["items"]] == [
        "from batch"
    ]


def test_malformed_batches_are_refused(
    sandbox: Sandbox, google_user: SandboxUser, http: requests.Session
) -> None:
    auth = google_user.auth()
    colors = "GET /calendar/v3/colors"
    for content_type, body in [
        ("application/json", b"{}"),
        ("multipart/mixed", multipart([(None, colors)])),  # no boundary
        ("multipart/mixed; boundary=b0undary", b"no parts here"),
        ("multipart/mixed; boundary=b0undary", b"--b0undary--\r\n"),
    ]:
        r = post_batch(http, sandbox, body, auth, content_type=content_type)
        assert r.status_code == 400, (content_type, body)
        assert r.json()["error"]["code"] == 400
    bad_parts: list[tuple[str | None, str]] = [
        (None, "GET https://www.googleapis.com/calendar/v3/colors HTTP/1.1"),  # full URL
        (None, "POST /batch/calendar/v3 HTTP/1.1"),  # nested batch
        (None, "this is not a request line at all"),
    ]
    got = answers(post_batch(http, sandbox, multipart(bad_parts), auth))
    assert [status for _, status, _ in got] == [400, 400, 400]


def test_at_most_a_thousand_parts(
    sandbox: Sandbox, google_user: SandboxUser, http: requests.Session
) -> None:
    part: tuple[str | None, str] = (None, "GET /calendar/v3/colors")
    assert (
        len(answers(post_batch(http, sandbox, multipart([part] * 1000), google_user.auth())))
        == 1000
    )
    r = post_batch(http, sandbox, multipart([part] * 1001), google_user.auth())
    assert r.status_code == 400
