"""How MicrosoftProvider meets Graph's failures: sign-in, throttling, outages, bad items."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from contract import timed, window_around
from test_microsoft_contract import Connected, connect

import app.providers.microsoft as microsoft
from app.errors import (
    AuthRequired,
    CursorExpired,
    Offline,
    Rejected,
    ServiceUnavailable,
    Unparseable,
)
from app.providers import graph_map
from app.providers.base import WriteOp
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

DELTA = "/calendarView/delta"


@pytest.fixture
def ms(sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser) -> Iterator[Connected]:
    admin.set_latency(0)
    c = connect(sandbox, admin, ms_user)
    yield c
    c.provider.close()


@pytest.fixture
def switches(admin: SandboxAdmin) -> Iterator[SandboxAdmin]:
    """Sandbox switches changed by a test are put back (the admin fixture does not)."""
    yield admin
    admin.set_switches(
        graph_batch_throttled_outer_status=200, graph_transaction_id_returns_existing=True
    )


def today() -> dt.date:
    return dt.date.today()


def read(c: Connected, cursor: str | None = None) -> Any:
    return c.provider.read_changes(c.calendar_id, cursor, window_around(today()))


# --- sign-in -----------------------------------------------------------------------------------


def test_an_expired_token_is_refreshed_once(
    ms: Connected, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    admin.expire_access(ms_user.id)
    assert read(ms).full
    assert ms.tokens.forced == 1
    before = ms.tokens.forced
    read(ms)  # the new token goes on working
    assert ms.tokens.forced == before


def test_a_refused_refresh_asks_to_sign_in(
    ms: Connected, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    ms.tokens.refresh_gives_new = False  # the refresh "works" but Graph still says 401
    admin.expire_access(ms_user.id)
    with pytest.raises(AuthRequired) as caught:
        read(ms)
    assert ms.tokens.forced == 1
    assert ms.tokens.current not in str(caught.value)
    assert "Sign in" in caught.value.message


def test_auth_required_from_the_token_callable_is_raised(ms: Connected) -> None:
    def no_token(force: bool) -> str:
        raise AuthRequired("No Microsoft account is linked.")

    ms.provider.http._token = no_token
    with pytest.raises(AuthRequired, match="No Microsoft account"):
        read(ms)


def test_a_401_inside_a_batch_refreshes_too(ms: Connected, admin: SandboxAdmin) -> None:
    admin.add_fault(401, "/events$", service="graph", method="POST", batched=True, count=1)
    results = ms.provider.apply(
        ms.calendar_id,
        [WriteOp.create(timed(today(), f"T{i}"), key=f"auth{i:04d}") for i in range(3)],
    )
    assert all(r.ok for r in results)
    assert ms.tokens.forced == 1


# --- throttling and outages ------------------------------------------------------------------


def test_429_waits_as_long_as_graph_asks(ms: Connected, admin: SandboxAdmin) -> None:
    admin.add_fault(429, DELTA, service="graph", retry_after=2, count=1)
    assert read(ms).full
    assert len(ms.sleeps) == 1 and 2.0 <= ms.sleeps[0] <= 2.2


def test_fractional_retry_after_is_honoured(ms: Connected, admin: SandboxAdmin) -> None:
    admin.add_fault(503, DELTA, service="graph", retry_after=0.25, count=2)
    assert read(ms).full
    assert len(ms.sleeps) == 2 and all(0.25 <= s <= 0.3 for s in ms.sleeps)


def test_a_lasting_outage_gives_up_within_the_bound(
    sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    c = connect(sandbox, admin, ms_user, max_attempts=4, max_wait=60)
    admin.add_fault(503, DELTA, service="graph", count=-1)
    with pytest.raises(ServiceUnavailable) as caught:
        read(c)
    assert len(c.sleeps) == 3  # four attempts
    assert caught.value.retry_after is not None
    assert c.provider.stats.by_kind["delta"] == 4
    c.provider.close()


def test_waiting_is_bounded_in_time_too(
    sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    c = connect(sandbox, admin, ms_user, max_wait=10)
    admin.add_fault(429, DELTA, service="graph", retry_after=4, count=-1)
    with pytest.raises(ServiceUnavailable) as caught:
        read(c)
    assert sum(c.sleeps) <= 10 and len(c.sleeps) == 2
    assert caught.value.retry_after is not None and caught.value.retry_after >= 4
    admin.clear_faults()
    admin.add_fault(429, DELTA, service="graph", retry_after=3600, count=1)
    with pytest.raises(ServiceUnavailable) as caught:
        read(c)  # an hour is beyond the bound: no waiting, the engine pauses instead
    assert caught.value.retry_after is not None and caught.value.retry_after >= 3600
    assert len(c.sleeps) == 2
    c.provider.close()


def test_504_and_a_dropped_connection_are_retried(ms: Connected, admin: SandboxAdmin) -> None:
    admin.add_fault(504, DELTA, service="graph", count=1)
    admin.add_fault(0, DELTA, service="graph", reset=True, count=1)
    assert read(ms).full
    assert len(ms.sleeps) == 2


def test_no_connection_is_offline(ms: Connected, admin: SandboxAdmin) -> None:
    admin.add_fault(0, DELTA, service="graph", reset=True, count=-1)
    with pytest.raises(Offline):
        read(ms)
    assert len(ms.sleeps) == 4  # five attempts


def test_a_timeout_is_offline(sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser) -> None:
    c = connect(sandbox, admin, ms_user, read_timeout=0.2, max_attempts=2)
    admin.add_fault(200, DELTA, service="graph", delay_ms=600, count=-1)
    with pytest.raises(Offline):
        read(c)
    c.provider.close()


def test_an_expired_delta_token_is_cursor_expired(ms: Connected, admin: SandboxAdmin) -> None:
    cursor = read(ms).cursor
    admin.add_fault(410, DELTA, service="graph", code="SyncStateNotFound", count=1)
    with pytest.raises(CursorExpired):
        read(ms, cursor)
    with pytest.raises(CursorExpired):
        read(ms, "not-a-link")
    with pytest.raises(CursorExpired):
        read(ms, "https://elsewhere.example/v1.0/me/calendarView/delta?$deltatoken=x")


# --- per item ----------------------------------------------------------------------------------


def test_throttled_batch_items_are_retried_alone(ms: Connected, admin: SandboxAdmin) -> None:
    admin.add_fault(
        429, "/events$", service="graph", method="POST", batched=True, retry_after=1, count=3
    )
    ops = [WriteOp.create(timed(today(), f"Item {i}"), key=f"throttled{i:03d}") for i in range(8)]
    before, since = ms.provider.stats.requests, int(admin.requests(since=10**12)["last"])
    results = ms.provider.apply(ms.calendar_id, ops)
    assert [r.event.title for r in results if r.event and r.ok] == [f"Item {i}" for i in range(8)]
    assert len(ms.sleeps) == 1 and 1.0 <= ms.sleeps[0] <= 1.1
    assert ms.provider.stats.requests - before == 2  # the batch, then the three again
    log = admin.requests(since=since, service="graph")
    assert log["http_requests"] == 2 and log["counts"]["graph events.create"] == 8 + 3


def test_a_batch_and_its_items_share_one_retry_budget(
    sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    c = connect(sandbox, admin, ms_user, max_attempts=3)
    admin.add_fault(503, "/\\$batch", service="graph", count=1)  # the whole batch, once
    admin.add_fault(429, "/events$", service="graph", batched=True, retry_after=1, count=-1)
    ops = [WriteOp.create(timed(today(), f"Item {i}"), key=f"budget{i:03d}") for i in range(3)]
    results = c.provider.apply(c.calendar_id, ops)
    assert all(isinstance(r.error, ServiceUnavailable) for r in results)
    assert len(c.sleeps) == 2  # three attempts in all: not three for the batch and three more
    c.provider.close()


def test_an_outer_429_with_item_answers_is_not_resent_whole(
    ms: Connected, switches: SandboxAdmin
) -> None:
    switches.set_switches(graph_batch_throttled_outer_status=429)
    switches.add_fault(429, "/events$", service="graph", method="POST", batched=True, count=1)
    ops = [WriteOp.create(timed(today(), f"Item {i}"), key=f"outer{i:03d}") for i in range(4)]
    since = int(switches.requests(since=10**12)["last"])
    results = ms.provider.apply(ms.calendar_id, ops)
    assert all(r.ok for r in results)
    counts = switches.requests(since=since, service="graph")["counts"]
    assert counts["graph events.create"] == 4 + 1


def test_items_that_keep_failing_get_their_own_error(ms: Connected, admin: SandboxAdmin) -> None:
    p, cal = ms.provider, ms.calendar_id
    keep = p.create(cal, timed(today(), "Existing"), key="existing0001")
    assert keep.ref
    admin.add_fault(503, "/events/", service="graph", method="PATCH", batched=True, count=-1)
    results = p.apply(
        cal,
        [
            WriteOp.create(timed(today(), "Fine"), key="fine00000001"),
            WriteOp.update(keep.ref.event_id, keep.with_changes(title="Never")),
            WriteOp.delete(keep.ref.event_id),
        ],
    )
    assert results[0].ok and results[2].ok
    err = results[1].error
    assert isinstance(err, ServiceUnavailable) and err.retry_after is not None
    assert len(ms.sleeps) == 4  # five attempts for the throttled item, then it gives up


def test_graph_refusals_carry_graphs_code(ms: Connected, admin: SandboxAdmin) -> None:
    admin.add_fault(
        400,
        "/events$",
        service="graph",
        method="POST",
        batched=True,
        code="ErrorInvalidRequest",
        message="Subject is cursed.",
        count=1,
    )
    results = ms.provider.apply(
        ms.calendar_id,
        [
            WriteOp.create(timed(today(), "Refused"), key="refused00001"),
            WriteOp.create(timed(today(), "Kept"), key="refused00002"),
        ],
    )
    err = results[0].error
    assert isinstance(err, Rejected) and err.status == 400
    assert "ErrorInvalidRequest" in err.message and "Subject is cursed." in err.message
    assert ms.tokens.current not in err.message
    assert results[1].ok


def test_a_used_transaction_id_refused_as_duplicate_returns_the_event(
    ms: Connected, switches: SandboxAdmin
) -> None:
    switches.set_switches(graph_transaction_id_returns_existing=False)
    p, cal = ms.provider, ms.calendar_id
    first = p.create(cal, timed(today(), "Once"), key="dupe00000001")
    again = p.create(cal, timed(today(), "Once"), key="dupe00000001")
    assert again.ref == first.ref and again.title == "Once"


def test_an_unreadable_event_is_skipped_and_the_rest_read(
    ms: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, cal = ms.provider, ms.calendar_id
    bad = p.create(cal, timed(today(), "Broken"), key="broken000001")
    p.create(cal, timed(today(), "Fine"), key="fine00000002")
    real = graph_map.event_from_graph

    def picky(item: Any, calendar_id: str) -> Any:
        if item.get("subject") == "Broken":
            raise Unparseable(f"Outlook event {item['id']!r} could not be read: start is odd")
        return real(item, calendar_id)

    monkeypatch.setattr(microsoft, "event_from_graph", picky)
    changes = read(ms)
    assert [e.title for e in changes.events] == ["Fine"]
    assert bad.ref and [s.event_id for s in changes.skipped] == [bad.ref.event_id]
    assert "start is odd" in changes.skipped[0].reason
    got = p.get_events(cal, [bad.ref.event_id])
    assert got == {}  # neither present nor gone: never taken for a deletion


def test_a_later_page_that_fails_fails_the_read_and_the_next_read_is_whole(
    ms: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages are fetched ahead of their use (on another thread): its failure is the read's."""
    p, cal = ms.provider, ms.calendar_id
    p.apply(cal, [WriteOp.create(timed(today(), f"E{i}"), key=f"page{i:08d}") for i in range(25)])
    p.page_size = 10
    real = microsoft.GraphHttp.send

    def later_pages_down(self: Any, method: str, url: str, **kw: Any) -> Any:
        if "$skiptoken" in url:
            raise ServiceUnavailable("Outlook is not answering (test).")
        return real(self, method, url, **kw)

    monkeypatch.setattr(microsoft.GraphHttp, "send", later_pages_down)
    with pytest.raises(ServiceUnavailable, match="not answering"):
        read(ms)
    monkeypatch.setattr(microsoft.GraphHttp, "send", real)
    assert sorted(e.title for e in read(ms).events) == sorted(f"E{i}" for i in range(25))
    # The failed read sent its first page only; the next one all three (10 + 10 + 5).
    assert p.stats.by_kind["delta"] == 1 + 3
