"""Graph emulator: JSON $batch, and throttling (mailbox concurrency, quota) seen by requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from test_graph_support import Graph, error_code, event, wait_for

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def graph(sandbox: Sandbox, ms_user: SandboxUser) -> Graph:
    return Graph(sandbox, ms_user)


def item(rid: str, method: str, url: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rid, "method": method, "url": url, **extra}
    if body is not None:
        out["body"] = body
        out.setdefault("headers", JSON)
    return out


def batch(graph: Graph, items: list[dict[str, Any]]) -> requests.Response:
    return graph.post("/$batch", json={"requests": items})


def test_batch_runs_each_item_like_a_request(graph: Graph, admin: SandboxAdmin) -> None:
    since = admin.requests()["last"]
    r = batch(
        graph,
        [
            item(
                "1", "POST", "/me/events", event("A", "2030-01-02T09:00:00", "2030-01-02T10:00:00")
            ),
            item(
                "2",
                "POST",
                "/me/calendars/{x}/events",
                event("B", "2030-01-02T09:00:00", "2030-01-02T10:00:00"),
            ),
            item("3", "GET", "/me/calendar"),
            item("4", "GET", "/me/events?$select=subject", dependsOn=["1"]),
        ],
    )
    assert r.status_code == 200
    responses = r.json()["responses"]
    # Answers may come in any order; the sandbox reverses them so clients cannot rely on it.
    assert [x["id"] for x in responses] == ["4", "3", "2", "1"]
    by_id = {x["id"]: x for x in responses}
    assert by_id["1"]["status"] == 201 and by_id["1"]["body"]["subject"] == "A"
    assert (
        by_id["2"]["status"] == 400
        and by_id["2"]["body"]["error"]["code"] == "ErrorInvalidIdMalformed"
    )
    assert by_id["3"]["status"] == 200 and by_id["3"]["body"]["name"] == "Calendar"
    assert by_id["4"]["body"]["value"] == [
        {
            "@odata.etag": by_id["1"]["body"]["@odata.etag"],
            "id": by_id["1"]["body"]["id"],
            "subject": "A",
        }
    ]
    assert by_id["1"]["headers"]["Content-Type"].startswith("application/json")
    log = admin.requests(since=since, service="graph")
    assert log["http_requests"] == 1
    assert log["counts"]["graph events.create"] == 2
    assert log["counts"]["graph batch"] == 1


def test_batch_order_switch_and_failed_dependencies(graph: Graph, admin: SandboxAdmin) -> None:
    admin.set_switches(graph_batch_shuffle_responses=False)
    try:
        r = batch(
            graph,
            [
                item("a", "GET", "/me/events/AAMkADnope"),
                item("b", "GET", "/me", dependsOn=["a"]),
                item("c", "GET", "/me"),
                item("d", "GET", "/me", dependsOn=["b", "c"]),
            ],
        )
    finally:
        admin.set_switches(graph_batch_shuffle_responses=True)
    assert r.status_code == 200
    responses = r.json()["responses"]
    assert [(x["id"], x["status"]) for x in responses] == [
        ("a", 400),
        ("b", 424),
        ("c", 200),
        ("d", 424),
    ]
    assert responses[1]["body"]["error"]["code"] == "FailedDependency"


@pytest.mark.parametrize(
    "payload",
    [
        {"requests": [item(str(i), "GET", "/me") for i in range(21)]},
        {"requests": [item("1", "GET", "/me"), item("1", "GET", "/me/calendar")]},
        {
            "requests": [
                {"id": "1", "method": "POST", "url": "/me/events", "body": {"subject": "x"}}
            ]
        },
        {"requests": [item("1", "GET", "/me", dependsOn=["9"])]},
        {
            "requests": [
                item("1", "GET", "/me", dependsOn=["2"]),
                item("2", "GET", "/me", dependsOn=["1"]),
            ]
        },
        {"requests": [item("1", "FETCH", "/me")]},
        {"requests": [item("1", "GET", "https://graph.microsoft.com/v1.0/me")]},
        {"requests": []},
        {"calls": []},
    ],
)
def test_malformed_batches_are_refused(graph: Graph, payload: dict[str, Any]) -> None:
    r = graph.post("/$batch", json=payload)
    assert r.status_code == 400, payload
    assert error_code(r) == "BadRequest"
    assert graph.get("/me/events").json()["value"] == []


def test_batch_body_must_be_json(graph: Graph) -> None:
    r = graph.post("/$batch", data=b"{not json", headers=JSON)
    assert r.status_code == 400
    assert error_code(r) == "BadRequest"


def test_throttled_items_come_back_as_their_own_429(graph: Graph, admin: SandboxAdmin) -> None:
    admin.add_fault(429, path="/v1.0/me/calendar$", batched=True, retry_after=7, count=1)
    items = [item("1", "GET", "/me/calendar"), item("2", "GET", "/me")]
    r = batch(graph, items)
    assert r.status_code == 200
    by_id = {x["id"]: x for x in r.json()["responses"]}
    assert by_id["1"]["status"] == 429
    assert by_id["1"]["headers"]["Retry-After"] == "7"
    assert by_id["1"]["body"]["error"]["code"] == "TooManyRequests"
    assert by_id["2"]["status"] == 200
    admin.set_switches(graph_batch_throttled_outer_status=424)
    try:
        admin.add_fault(429, path="/v1.0/me/calendar$", batched=True, retry_after=1, count=1)
        assert batch(graph, items).status_code == 424
        assert batch(graph, items).status_code == 200  # nothing throttled this time
    finally:
        admin.set_switches(graph_batch_throttled_outer_status=200)


def test_quota_applies_to_requests_and_batch_items(graph: Graph, admin: SandboxAdmin) -> None:
    admin.set_limits(quota_requests=4, quota_seconds=60)
    for _ in range(2):
        assert graph.get("/me").status_code == 200
    r = batch(graph, [item(str(i), "GET", "/me") for i in range(3)])  # the batch itself counts too
    assert r.status_code == 200
    statuses = {x["id"]: x["status"] for x in r.json()["responses"]}
    assert statuses == {"0": 200, "1": 429, "2": 429}
    throttled = next(x for x in r.json()["responses"] if x["id"] == "1")
    assert float(throttled["headers"]["Retry-After"]) > 0
    r = graph.get("/me")
    assert r.status_code == 429
    assert float(r.headers["Retry-After"]) > 0
    assert error_code(r) == "TooManyRequests"


def test_four_concurrent_requests_per_mailbox(
    graph: Graph, sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    admin.set_latency(200)
    # A $batch holds its mailbox slot while its items run; the held item waits in a fault's
    # delay, so exactly four requests are in flight until the test releases them.
    admin.add_fault(503, path="/v1.0/me/calendar$", batched=True, delay_ms=1500, count=-1)
    key = f"graph:{ms_user.id}"

    def held() -> requests.Response:
        return batch(graph, [item("1", "GET", "/me/calendar")])

    with ThreadPoolExecutor(6) as pool:
        holders = [pool.submit(held) for _ in range(4)]
        wait_for(lambda: sandbox.state._inflight[key] == 4, what="four requests in flight")
        extra = [pool.submit(graph.get, "/me") for _ in range(2)]
        throttled = [f.result() for f in extra]
        for r in throttled:
            assert r.status_code == 429
            assert error_code(r) == "ApplicationThrottled"
            assert r.headers["Retry-After"] == "1"
        results = [f.result() for f in holders]
    assert [r.status_code for r in results] == [200] * 4
    assert all(r.json()["responses"][0]["status"] == 503 for r in results)
    admin.clear_faults()
    wait_for(lambda: sandbox.state._inflight[key] == 0, what="slots released")
    assert graph.get("/me").status_code == 200
