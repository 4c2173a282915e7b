"""Behaviour shared by both APIs: auth, faults, latency, quota, body limits, the request log."""

from __future__ import annotations

import time

import requests

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

G_LIST = "/calendar/v3/users/me/calendarList"
M_ME = "/v1.0/me"


def _get(
    http: requests.Session, sandbox: Sandbox, path: str, user: SandboxUser | None
) -> requests.Response:
    headers = user.auth() if user else {}
    return http.get(sandbox.urls.root + path, headers=headers, timeout=10)


def test_missing_and_bad_tokens_get_each_services_401(
    http: requests.Session, sandbox: Sandbox, google_user: SandboxUser, ms_user: SandboxUser
) -> None:
    g = _get(http, sandbox, G_LIST, None)
    assert g.status_code == 401
    assert g.json()["error"]["errors"][0]["reason"] == "authError"
    m = http.get(sandbox.urls.root + M_ME, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert m.status_code == 401
    assert m.json()["error"]["code"] == "InvalidAuthenticationToken"
    # A Google token is not a Microsoft token, and the other way round.
    cross = http.get(sandbox.urls.root + M_ME, headers=google_user.auth(), timeout=10)
    assert cross.status_code == 401
    assert _get(http, sandbox, G_LIST, ms_user).status_code == 401


def test_expired_access_token_is_refused_until_refreshed(
    http: requests.Session, sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    assert _get(http, sandbox, M_ME, ms_user).status_code == 200
    admin.expire_access(ms_user.id)
    r = _get(http, sandbox, M_ME, ms_user)
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]
    fresh = admin.new_tokens(ms_user.id)["access_token"]
    ok = http.get(
        sandbox.urls.root + M_ME, headers={"Authorization": f"Bearer {fresh}"}, timeout=10
    )
    assert ok.status_code == 200


def test_fault_fires_count_times_with_retry_after(
    http: requests.Session, sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser
) -> None:
    admin.add_fault(503, "calendarList", service="google", count=2, retry_after=3)
    first = _get(http, sandbox, G_LIST, google_user)
    second = _get(http, sandbox, G_LIST, google_user)
    third = _get(http, sandbox, G_LIST, google_user)
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.headers["Retry-After"] == "3"
    assert first.json()["error"]["errors"][0]["reason"] == "backendError"


def test_fault_matches_method(
    http: requests.Session, sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    admin.add_fault(500, "^/v1.0/me$", method="POST", count=-1)
    assert _get(http, sandbox, M_ME, ms_user).status_code == 200


def test_reset_fault_drops_the_connection(
    http: requests.Session, sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    admin.add_fault(path="^/v1.0/me$", reset=True)
    try:
        _get(http, sandbox, M_ME, ms_user)
        raise AssertionError("the connection should have been dropped")
    except requests.exceptions.ConnectionError:
        pass
    assert _get(http, sandbox, M_ME, ms_user).status_code == 200


def test_latency_is_added_to_each_request(
    http: requests.Session, sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    admin.set_latency(120)
    started = time.monotonic()
    assert _get(http, sandbox, M_ME, ms_user).status_code == 200
    assert time.monotonic() - started >= 0.12


def test_quota_answers_429_with_retry_after(
    http: requests.Session,
    sandbox: Sandbox,
    admin: SandboxAdmin,
    ms_user: SandboxUser,
    google_user: SandboxUser,
) -> None:
    admin.set_limits(quota_requests=3, quota_seconds=60)
    codes = [_get(http, sandbox, M_ME, ms_user).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    throttled = _get(http, sandbox, M_ME, ms_user)
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert float(throttled.headers["Retry-After"]) > 0
    # The quota is per user: someone else is not throttled.
    assert _get(http, sandbox, G_LIST, google_user).status_code == 200
    for _ in range(3):
        _get(http, sandbox, G_LIST, google_user)
    g = _get(http, sandbox, G_LIST, google_user)
    assert g.status_code == 429
    assert g.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"


def test_unknown_paths_answer_in_the_services_format(
    http: requests.Session, sandbox: Sandbox, ms_user: SandboxUser, google_user: SandboxUser
) -> None:
    g = _get(http, sandbox, "/calendar/v3/nothing/here", google_user)
    assert g.status_code == 404
    assert g.json()["error"]["code"] == 404
    m = _get(http, sandbox, "/v1.0/me/nothingHere", ms_user)
    assert m.status_code in (400, 404)
    assert "code" in m.json()["error"]


def test_oversized_body_is_refused_without_a_trace(
    http: requests.Session, sandbox: Sandbox, ms_user: SandboxUser
) -> None:
    big = b'{"subject": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    r = http.post(
        sandbox.urls.root + "/v1.0/me/events",
        data=big,
        headers={**ms_user.auth(), "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "RequestEntityTooLarge"
    assert "Traceback" not in r.text


def test_request_log_counts_per_endpoint(
    http: requests.Session, sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    since = admin.requests()["last"]
    for _ in range(3):
        _get(http, sandbox, M_ME, ms_user)
    log = admin.requests(since=since)
    assert sum(log["counts"].values()) == 3
    assert log["http_requests"] == 3
    assert all(e["user"] == ms_user.id for e in log["entries"])
