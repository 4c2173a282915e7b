"""GoogleProvider beyond the contract: request costs, retries, error mapping, series, no mail.

Request counts are exact: the sandbox logs every HTTP request it receives (a batch once), and
the provider's own ``stats`` must agree with it.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import httplib2
import pytest
import requests
from contract import timed, window_around
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2.credentials import Credentials
from test_google_contract import make_provider

from app.core import identity
from app.core.model import Attendee, Event, Person, Recurrence, Status, TimeSpan
from app.errors import (
    AuthRequired,
    NotFound,
    Offline,
    PreconditionFailed,
    Rejected,
    ServiceUnavailable,
)
from app.providers.base import Window, WriteOp
from app.providers.google import (
    BATCHES_IN_FLIGHT,
    GoogleProvider,
    RetryPolicy,
    event_id_for_key,
)
from app.providers.google_http import GoogleTransport
from app.sandbox import google_store as gs
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

TODAY = dt.date.today()
SCOPES = ["https://www.googleapis.com/auth/calendar"]
BACKOFF = [RetryPolicy().backoff(n, lambda: 0.5) for n in range(RetryPolicy().max_retries)]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(sandbox: Sandbox, google_user: SandboxUser, sleeps: list[float]) -> GoogleProvider:
    return make_provider(sandbox, google_user, sleeps=sleeps)


@pytest.fixture
def cal(google_user: SandboxUser) -> str:
    return google_user.email


@pytest.fixture
def window() -> Window:
    return window_around(TODAY)


def mark(admin: SandboxAdmin) -> int:
    """The request log's position now (asks for no entries)."""
    return int(admin.requests(since=2**62)["last"])


def google_requests(admin: SandboxAdmin, since: int) -> int:
    """HTTP requests the Calendar API received since ``since`` (token requests not included)."""
    return int(admin.requests(since=since, service="google")["http_requests"])


def key(n: int, cal: str = "target") -> str:
    return identity.key_for(identity.tag_for("origin", f"event-{n}", cal), 0)


def refreshable(sandbox: Sandbox, user: SandboxUser) -> Credentials:
    """What the auth module hands over: credentials with a refresh token and a live token."""
    creds = Credentials(  # type: ignore[no-untyped-call]
        None,
        refresh_token=user.refresh_token,
        token_uri=sandbox.urls.google_token,
        client_id="meridian-test",
        client_secret="s",
        scopes=SCOPES,
    )
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (library-notes §3)
    session.verify = str(sandbox.ca_cert)
    creds.refresh(GoogleRequest(session=session))  # type: ignore[no-untyped-call]
    return creds


# --- request costs ------------------------------------------------------------------------------


def test_a_thousand_events_cost_twenty_writes_one_read_and_one_quiet_poll(
    provider: GoogleProvider, admin: SandboxAdmin, cal: str, window: Window
) -> None:
    base = provider.read_changes(cal, None, window)
    ops = [WriteOp.create(timed(TODAY, f"Bulk {i}"), key(i)) for i in range(1000)]

    start, before = mark(admin), provider.stats.requests
    results = provider.apply(cal, ops)
    assert all(r.ok for r in results)
    assert [r.event.title for r in results if r.event] == [f"Bulk {i}" for i in range(1000)]
    assert all(
        r.event and r.event.created_key == op.key for r, op in zip(results, ops, strict=True)
    )
    assert google_requests(admin, start) == provider.stats.requests - before == 20  # 1000/50

    start, before = mark(admin), provider.stats.requests
    changes = provider.read_changes(cal, base.cursor, window)
    assert len(changes.events) == 1000 and not changes.full and changes.skipped == ()
    # One page: maxResults is 2,500 (the API's maximum, api-spec §1.4).
    assert google_requests(admin, start) == provider.stats.requests - before == 1

    start, before = mark(admin), provider.stats.requests
    quiet = provider.read_changes(cal, changes.cursor, window)
    assert quiet.events == () and quiet.deleted == ()
    assert google_requests(admin, start) == provider.stats.requests - before == 1

    start = mark(admin)
    full = provider.read_changes(cal, None, window)
    assert len(full.events) == 1000 and full.full
    assert google_requests(admin, start) == 1

    start = mark(admin)
    ids = [r.event.ref.event_id for r in results[:120] if r.event and r.event.ref]
    got = provider.get_events(cal, ids + ids[:5])  # duplicates are asked for once
    assert len(got) == 120 and all(got.values())
    assert google_requests(admin, start) == 3  # 50 + 50 + 20


# --- retries --------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_as_asked(
    provider: GoogleProvider,
    admin: SandboxAdmin,
    cal: str,
    window: Window,
    sleeps: list[float],
) -> None:
    admin.add_fault(429, r"/events$", service="google", retry_after=2, count=1)
    start = mark(admin)
    assert provider.read_changes(cal, None, window).full
    assert sleeps == [2.0]
    assert google_requests(admin, start) == provider.stats.requests == 2


def test_retry_after_beyond_the_limit_is_left_to_the_scheduler(
    provider: GoogleProvider,
    admin: SandboxAdmin,
    cal: str,
    window: Window,
    sleeps: list[float],
) -> None:
    admin.add_fault(429, r"/events$", service="google", retry_after=3600, count=1)
    with pytest.raises(ServiceUnavailable) as info:
        provider.read_changes(cal, None, window)
    assert info.value.retry_after == 3600 and sleeps == []


def test_persistent_503_gives_service_unavailable_after_the_bound(
    provider: GoogleProvider,
    admin: SandboxAdmin,
    cal: str,
    window: Window,
    sleeps: list[float],
) -> None:
    admin.add_fault(503, r"/events$", service="google", count=-1)
    start = mark(admin)
    with pytest.raises(ServiceUnavailable) as info:
        provider.read_changes(cal, None, window)
    assert info.value.status == 503
    assert sleeps == BACKOFF == [0.75, 1.5, 3.0, 6.0]  # exponential, with jitter (rand = 0.5)
    assert google_requests(admin, start) == provider.stats.requests == len(BACKOFF) + 1


def test_403_rate_limit_is_retried_and_other_403s_are_not(
    provider: GoogleProvider,
    admin: SandboxAdmin,
    cal: str,
    window: Window,
    sleeps: list[float],
) -> None:
    admin.add_fault(403, r"/events$", service="google", code="userRateLimitExceeded", count=1)
    assert provider.read_changes(cal, None, window).full
    assert len(sleeps) == 1
    admin.add_fault(403, r"/events$", service="google", code="forbidden", message="No.", count=1)
    with pytest.raises(Rejected, match="403 forbidden"):
        provider.read_changes(cal, None, window)
    assert len(sleeps) == 1


def test_a_dropped_connection_is_retried_then_reported_offline(
    provider: GoogleProvider, admin: SandboxAdmin, cal: str, window: Window
) -> None:
    admin.add_fault(0, r"/events$", service="google", reset=True, count=1)
    assert provider.read_changes(cal, None, window).full
    admin.add_fault(0, r"/events$", service="google", reset=True, count=-1)
    with pytest.raises(Offline):
        provider.read_changes(cal, None, window)


def test_an_unreachable_server_is_offline(
    sandbox: Sandbox, google_user: SandboxUser, window: Window
) -> None:
    provider = GoogleProvider(
        Credentials(google_user.access_token),  # type: ignore[no-untyped-call]
        api_endpoint="https://127.0.0.1:9/calendar/v3/",  # discard port: nothing listens
        batch_uri="https://127.0.0.1:9/batch/calendar/v3",
        ca_cert=str(sandbox.ca_cert),
        sleep=lambda s: None,
    )
    with pytest.raises(Offline):
        provider.list_calendars()
    with pytest.raises(Offline):
        provider.apply(google_user.email, [WriteOp.delete("abcdef")])


# --- sign-in ----------------------------------------------------------------------------------


def test_an_expired_access_token_is_renewed_for_single_requests_and_batches(
    sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser, cal: str
) -> None:
    creds = refreshable(sandbox, google_user)
    provider = make_provider(sandbox, google_user, credentials=creds)
    first = creds.token

    admin.expire_access(google_user.id)
    start = mark(admin)
    assert any(c.primary for c in provider.list_calendars())
    assert creds.token != first
    # 401, then the same request again; the token request is not an API request.
    assert google_requests(admin, start) == provider.stats.requests == 2
    assert admin.requests(since=start, service="google-oauth")["http_requests"] == 1

    second = creds.token
    admin.expire_access(google_user.id)
    start, before = mark(admin), provider.stats.requests
    (result,) = provider.apply(cal, [WriteOp.create(timed(TODAY, "After renewal"), key(1))])
    assert result.ok and creds.token != second
    assert google_requests(admin, start) == provider.stats.requests - before == 2


def test_a_revoked_grant_asks_for_sign_in_without_showing_tokens(
    sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser, cal: str, window: Window
) -> None:
    creds = refreshable(sandbox, google_user)
    provider = make_provider(sandbox, google_user, credentials=creds)
    admin.revoke(google_user.id)
    for attempt in (
        lambda: provider.read_changes(cal, None, window),
        lambda: provider.apply(cal, [WriteOp.create(timed(TODAY, "x"), key(2))]),
    ):
        with pytest.raises(AuthRequired) as info:
            attempt()
        text = str(info.value)
        assert "Sign in again" in text
        assert google_user.refresh_token not in text and str(creds.token) not in text


def test_a_rejected_token_without_refresh_asks_for_sign_in(
    sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser, window: Window
) -> None:
    provider = make_provider(sandbox, google_user)
    admin.expire_access(google_user.id)
    with pytest.raises(AuthRequired):
        provider.read_changes(google_user.email, None, window)


def test_a_token_callable_is_asked_again_after_401(
    sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser
) -> None:
    tokens = [google_user.access_token]

    def token() -> str:
        return tokens[-1]

    provider = make_provider(sandbox, google_user, credentials=token)
    assert provider.list_calendars()
    admin.expire_access(google_user.id)
    tokens.append(admin.new_tokens(google_user.id)["access_token"])
    assert provider.list_calendars()


# --- batches ------------------------------------------------------------------------------------


def _three(provider: GoogleProvider, cal: str) -> list[Event]:
    results = provider.apply(
        cal, [WriteOp.create(timed(TODAY, f"E{i}", hour=8 + i), key(10 + i)) for i in range(3)]
    )
    return [r.event for r in results if r.event]


def test_a_failing_batch_part_fails_only_its_op(
    provider: GoogleProvider, admin: SandboxAdmin, cal: str
) -> None:
    events = _three(provider, cal)
    bad = events[1].ref.event_id if events[1].ref else ""
    admin.add_fault(400, rf"/events/{bad}$", service="google", batched=True, code="invalid")
    ops = [
        WriteOp.update(e.ref.event_id, e.with_changes(title=e.title + "!"), etag=e.etag)
        for e in events
        if e.ref
    ]
    results = provider.apply(cal, ops)
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, Rejected) and "400 invalid" in results[1].error.message
    assert [r.event.title for r in results if r.event] == ["E0!", "E2!"]


def test_throttled_batch_parts_are_sent_again_alone(
    provider: GoogleProvider, admin: SandboxAdmin, cal: str, sleeps: list[float]
) -> None:
    events = _three(provider, cal)
    admin.add_fault(429, r"/events/", service="google", batched=True, retry_after=1, count=1)
    admin.add_fault(503, r"/events/", service="google", batched=True, count=1)
    start = mark(admin)
    results = provider.apply(cal, [WriteOp.delete(e.ref.event_id) for e in events if e.ref])
    assert all(r.ok for r in results)
    assert sleeps == [1.0]  # one wait for both parts: Retry-After wins over the backoff
    entries = admin.requests(since=start, service="google")["entries"]
    assert [e["batched"] for e in entries].count(False) == 2  # the batch and the retry
    assert sum(1 for e in entries if e["batched"]) == 3 + 2


def test_parts_still_throttled_after_the_bound_report_it_and_the_rest_is_kept(
    provider: GoogleProvider, admin: SandboxAdmin, cal: str
) -> None:
    events = _three(provider, cal)
    gone = events[0].ref.event_id if events[0].ref else ""
    admin.add_fault(503, rf"/events/{gone}$", service="google", batched=True, count=-1)
    results = provider.apply(cal, [WriteOp.delete(e.ref.event_id) for e in events if e.ref])
    assert isinstance(results[0].error, ServiceUnavailable)
    assert results[1].ok and results[2].ok


def test_an_account_error_after_some_writes_keeps_their_results(
    provider: GoogleProvider, cal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = GoogleTransport.batch
    calls = []

    def second_batch_offline(self: GoogleTransport, kind: str, makes: Any) -> list[Any]:
        calls.append(kind)
        if len(calls) >= 2:  # the first batch goes through, nothing after it
            raise Offline("Could not reach Google Calendar (test).")
        return real(self, kind, makes)

    monkeypatch.setattr(GoogleTransport, "batch", second_batch_offline)
    ops = [WriteOp.create(timed(TODAY, f"P{i}"), key(100 + i)) for i in range(60)]
    results = provider.apply(cal, ops)
    assert all(r.ok for r in results[:50])
    assert all(isinstance(r.error, Offline) for r in results[50:])
    with pytest.raises(Offline):  # nothing written: raised, as the contract says
        provider.apply(cal, ops[50:])


def test_results_come_batch_by_batch_and_cost_no_extra_request(
    provider: GoogleProvider, admin: SandboxAdmin, cal: str
) -> None:
    ops = [WriteOp.create(timed(TODAY, f"S{i}"), key(200 + i)) for i in range(170)]
    start, before = mark(admin), provider.stats.requests
    parts = list(provider.apply_iter(cal, ops))
    # One part per batch, in whatever order the batches came back; every op exactly once.
    assert sorted((s, len(rs)) for s, rs in parts) == [(0, 50), (50, 50), (100, 50), (150, 20)]
    got = {s + n: r for s, rs in parts for n, r in enumerate(rs)}
    assert [got[i].event.title for i in range(170) if got[i].event] == [f"S{i}" for i in range(170)]
    assert google_requests(admin, start) == provider.stats.requests - before == 4


def test_until_a_request_went_through_a_dead_token_costs_one_batch(
    sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser, cal: str
) -> None:
    fresh = make_provider(sandbox, google_user)
    admin.revoke(google_user.id)
    start = mark(admin)
    ops = [WriteOp.create(timed(TODAY, f"D{i}"), key(300 + i)) for i in range(200)]
    with pytest.raises(AuthRequired):
        fresh.apply(cal, ops)
    assert google_requests(admin, start) == 1  # the first batch alone, not three at once


def test_after_a_read_the_first_write_batches_go_together(
    sandbox: Sandbox, google_user: SandboxUser, cal: str, window: Window, monkeypatch: Any
) -> None:
    fresh = make_provider(sandbox, google_user)
    fresh.read_changes(cal, None, window)  # proves the token and the network
    real = GoogleTransport.batch
    # Each batch waits until three are under way: sent one after another, this times out.
    together = threading.Barrier(BATCHES_IN_FLIGHT, timeout=20)

    def meet(self: GoogleTransport, kind: str, makes: Any) -> list[Any]:
        together.wait()
        return real(self, kind, makes)

    monkeypatch.setattr(GoogleTransport, "batch", meet)
    ops = [WriteOp.create(timed(TODAY, f"T{i}"), key(600 + i)) for i in range(150)]
    assert all(r.ok for r in fresh.apply(cal, ops))


def test_update_without_etag_never_undeletes(provider: GoogleProvider, cal: str) -> None:
    ev = provider.create(cal, timed(TODAY, "Deleted"), key(20))
    assert ev.ref
    provider.delete(cal, ev.ref.event_id)
    with pytest.raises(NotFound):
        provider.update(cal, ev.ref.event_id, ev.with_changes(title="Back?"))
    with pytest.raises(PreconditionFailed):
        provider.update(cal, ev.ref.event_id, ev.with_changes(title="Back?"), etag=ev.etag)
    assert provider.get_events(cal, [ev.ref.event_id]) == {ev.ref.event_id: None}


# --- reading ----------------------------------------------------------------------------------


def test_an_unreadable_item_is_skipped_and_the_rest_returned(
    provider: GoogleProvider, sandbox: Sandbox, cal: str, window: Window
) -> None:
    cursor = provider.read_changes(cal, None, window).cursor
    good, bad = _three(provider, cal)[:2]
    assert good.ref and bad.ref
    with sandbox.state.lock:  # a value the API never produces, as a newer API version might
        g = gs.gdata(sandbox.state)
        series = g["events"][cal][bad.ref.event_id]
        series["res"]["summary"] = {"text": "not a string"}
        gs.touch_series(g, sandbox.state, cal, series)
    changes = provider.read_changes(cal, cursor, window)
    assert bad.ref.event_id not in {e.ref.event_id for e in changes.events if e.ref}
    assert {e.title for e in changes.events} == {"E0", "E2"}
    assert [s.event_id for s in changes.skipped] == [bad.ref.event_id]
    assert "summary" in changes.skipped[0].reason
    full = provider.read_changes(cal, None, window)
    assert len(full.events) == 2 and len(full.skipped) == 1
    # Unreadable is not gone: get_events leaves it out instead of answering None.
    assert provider.get_events(cal, [bad.ref.event_id, good.ref.event_id]).keys() == {
        good.ref.event_id
    }


def test_a_series_reads_back_as_master_exception_and_cancelled_occurrence(
    provider: GoogleProvider, cal: str, window: Window
) -> None:
    master = provider.create(
        cal, timed(TODAY, "Weekly", recurrence=Recurrence("FREQ=WEEKLY;COUNT=5")), key(30)
    )
    assert master.ref and isinstance(master.when, TimeSpan) and master.recurrence
    series = master.ref.event_id
    week = dt.timedelta(days=7)
    second, third = master.when.start + week, master.when.start + 2 * week
    moved = TimeSpan(second + dt.timedelta(hours=3), second + dt.timedelta(hours=4), "UTC", "UTC")
    exception = Event(ref=None, when=moved, title="Weekly, later", series_id=series,
                      original_start=second)  # fmt: skip
    cancelled = Event(ref=None, when=master.when, title="Weekly", status=Status.CANCELLED,
                      series_id=series, original_start=third)  # fmt: skip
    cursor = provider.read_changes(cal, None, window).cursor
    results = provider.apply(
        cal, [WriteOp.create(exception, "x1"), WriteOp.create(cancelled, "x2")]
    )
    assert all(r.ok for r in results), results

    for changes in (
        provider.read_changes(cal, None, window),
        provider.read_changes(cal, cursor, window),
    ):
        by_kind = {
            (
                "master" if e.recurrence else "cancelled" if e.status is Status.CANCELLED else "exc"
            ): e
            for e in changes.events
        }
        assert len(changes.events) == 3 and by_kind.keys() == {"master", "exc", "cancelled"}
        assert by_kind["master"].ref == master.ref and by_kind["master"].series_id is None
        exc = by_kind["exc"]
        assert (exc.series_id, exc.original_start, exc.title) == (series, second, "Weekly, later")
        assert isinstance(exc.when, TimeSpan) and exc.when.start == moved.start
        gone = by_kind["cancelled"]
        assert (gone.series_id, gone.original_start) == (series, third)
        assert changes.deleted == ()


def test_empty_pages_are_followed_to_the_sync_token(
    provider: GoogleProvider, admin: SandboxAdmin, cal: str, window: Window
) -> None:
    _three(provider, cal)
    admin.set_switches(google_short_pages=True)  # "or none at all, even if there are more"
    try:
        start = mark(admin)
        full = provider.read_changes(cal, None, window)
        assert len(full.events) == 3 and full.cursor
        assert google_requests(admin, start) == 2
        assert provider.read_changes(cal, full.cursor, window).events == ()
    finally:
        admin.set_switches(google_short_pages=False)


def test_calendars_are_listed_with_owner_and_zone(
    provider: GoogleProvider, google_user: SandboxUser
) -> None:
    (primary,) = provider.list_calendars()
    assert (primary.id, primary.primary, primary.writable) == (google_user.email, True, True)
    assert primary.owner == google_user.email and primary.time_zone == "UTC"


# --- writing ----------------------------------------------------------------------------------


def test_attendees_are_never_written_and_nobody_is_mailed(
    provider: GoogleProvider,
    sandbox: Sandbox,
    admin: SandboxAdmin,
    google_user: SandboxUser,
    cal: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[str] = []
    real = httplib2.Http.request

    def spy(self: httplib2.Http, uri: str, method: str = "GET", body: Any = None, *a: Any,
            **kw: Any) -> Any:  # fmt: skip
        sent.append(body.decode() if isinstance(body, bytes) else body or "")  # batches: bytes
        return real(self, uri, method, body, *a, **kw)

    monkeypatch.setattr(httplib2.Http, "request", spy)
    meeting = timed(
        TODAY,
        "Board meeting",
        organizer=Person("chair@example.org", "Chair"),
        attendees=(Attendee("a@example.org", "A"), Attendee("b@example.net")),
    )
    copy = provider.create(cal, meeting, key(40))
    assert copy.ref
    updated = provider.update(cal, copy.ref.event_id, copy.with_changes(title="Moved"), copy.etag)
    stored = gs.gdata(sandbox.state)["events"][cal][copy.ref.event_id]["res"]
    assert "attendees" not in stored
    assert "a@example.org" in stored["description"]  # the copy shows who attends, in the text
    assert {a.email for a in updated.attendees} == {"a@example.org", "b@example.net"}
    provider.delete(cal, copy.ref.event_id, updated.etag)

    assert admin.outbox(google_user.id) == []
    writes = [
        line
        for body in sent
        for line in re.findall(r"^(?:POST|PATCH|PUT|DELETE) /calendar/v3/\S+", body, re.M)
    ]
    assert len(writes) == 3 and all("sendUpdates=none" in w for w in writes), writes


def test_what_google_cannot_hold_is_reported_as_losses(provider: GoogleProvider, cal: str) -> None:
    created = provider.create(cal, timed(TODAY, "Colourful", color="rebeccapurple"), key(50))
    assert created.losses and "color" in created.losses[0]


def test_keys_become_valid_google_ids() -> None:
    ours = key(1)
    assert event_id_for_key(ours) == ours  # recognisable as our copy from the id alone
    other = event_id_for_key("contract-twice/01")
    assert re.fullmatch(r"[a-v0-9]{5,1024}", other)
    assert other == event_id_for_key("contract-twice/01") != event_id_for_key("contract-twice/02")


# --- occurrences of a series (for series Outlook cannot hold) ----------------------------------


def _at(title: str, start: dt.datetime, rrule: str | None = None) -> Event:
    when = TimeSpan(start, start + dt.timedelta(minutes=30), "UTC", "UTC")
    return Event(ref=None, when=when, title=title, recurrence=Recurrence(rrule) if rrule else None)


def test_occurrences_of_many_series_cost_one_batch_and_carry_their_own_ids(
    provider: GoogleProvider, cal: str, window: Window, admin: SandboxAdmin
) -> None:
    start = dt.datetime.combine(TODAY, dt.time(9), dt.UTC)
    ids = []
    for n in range(3):
        made = provider.create(
            cal,
            _at(f"Series {n}", start + dt.timedelta(hours=n), "FREQ=DAILY;COUNT=3"),
            key(100 + n),
        )
        assert made.ref is not None
        ids.append(made.ref.event_id)
    second_day = start + dt.timedelta(days=1)
    instance = f"{ids[0]}_{second_day.strftime('%Y%m%dT%H%M%SZ')}"
    provider.update(cal, instance, _at("Moved", second_day + dt.timedelta(hours=5)))
    provider.delete(cal, ids[2])
    since = mark(admin)
    found = provider.occurrences(cal, [*ids, "nosuchseries0"], window)
    assert google_requests(admin, since) == 1
    assert found[ids[2]] is None and found["nosuchseries0"] is None
    series = found[ids[0]]
    assert series is not None and [e.title for e in series] == ["Series 0", "Moved", "Series 0"]
    for occurrence in series:
        assert occurrence.ref is not None
        assert provider.occurrence_of(occurrence.ref.event_id) == ids[0]
    assert provider.occurrence_of(ids[0]) is None
    again = provider.get_events(cal, [e.ref.event_id for e in series if e.ref])
    assert [e.title for e in again.values() if e] == ["Series 0", "Moved", "Series 0"]


def test_outlook_names_the_rules_it_cannot_hold() -> None:
    from app.providers.microsoft import MicrosoftProvider

    graph = MicrosoftProvider("https://127.0.0.1:1/v1.0", lambda force: "t")
    start = dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)
    assert graph.cannot_hold(_at("Weekly", start, "FREQ=WEEKLY")) is None
    assert graph.cannot_hold(_at("One", start)) is None
    why = graph.cannot_hold(_at("Leap", start, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"))
    assert why is not None and "Feb 29" in why
