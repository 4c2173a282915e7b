"""Graph emulator: calendarView/delta rounds, pages, tokens, removals, expiry."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from test_graph_support import Graph, daily, error_code, event, new_graph, payload

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

WINDOW = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}
STUB_KEYS = set(payload("graph_calendarView_delta_occurrence_stub__issue_msgraph-docs_22197.json"))


@pytest.fixture
def graph(sandbox: Sandbox, ms_user: SandboxUser) -> Graph:
    return Graph(sandbox, ms_user)


def in_jan(graph: Graph, subject: str, day: int, **extra: Any) -> dict[str, Any]:
    return graph.create(
        event(subject, f"2030-01-{day:02d}T09:00:00", f"2030-01-{day:02d}T10:00:00", **extra)
    )


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items if "@removed" not in i}


def removed(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items if "@removed" in i}


def test_initial_round_needs_a_window(graph: Graph) -> None:
    r = graph.get("/me/calendarView/delta")
    assert r.status_code == 400
    assert error_code(r) == "ErrorInvalidParameter"
    assert "StartDateTime and EndDateTime" in r.json()["error"]["message"]


def test_round_pages_and_links(graph: Graph) -> None:
    made = [in_jan(graph, f"E{d}", d) for d in (3, 5, 7, 9, 11)]
    graph.create(event("February", "2030-02-10T09:00:00", "2030-02-10T10:00:00"))
    r = graph.get(
        "/me/calendarView/delta", params=WINDOW, headers={"Prefer": "odata.maxpagesize=2"}
    )
    assert r.status_code == 200
    assert "odata.track-changes" in r.headers["Preference-Applied"]
    items, delta_link, pages = graph.delta_round(None, "odata.maxpagesize=2")
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert ids(items) == {e["id"] for e in made}
    for link in [p.get("@odata.nextLink") for p in pages[:-1]] + [delta_link]:
        assert link is not None
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == graph.sandbox.urls.root
        assert parts.path == "/v1.0/me/calendarView/delta"
        assert set(parse_qs(parts.query)) <= {"$skiptoken", "$deltatoken"}  # the window is inside
    assert "$deltatoken=" in delta_link
    full = items[0]
    assert full["@odata.type"] == "#microsoft.graph.event"
    assert full["subject"] == "E3" and full["start"]["timeZone"] == "UTC"
    # Re-reading a page (a client retry) gives the same page.
    again = graph.get(pages[0]["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"}).json()
    assert (
        again["value"]
        == graph.get(pages[0]["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"}).json()[
            "value"
        ]
    )


def test_default_page_size_and_time_zone(graph: Graph) -> None:
    for d in range(1, 13):
        in_jan(graph, f"E{d}", d)
    prefer = 'outlook.timezone="Tokyo Standard Time"'
    items, _, pages = graph.delta_round(None, prefer)
    assert [len(p["value"]) for p in pages] == [10, 2]
    assert items[0]["start"] == {
        "dateTime": "2030-01-01T18:00:00.0000000",
        "timeZone": "Tokyo Standard Time",
    }


def test_series_come_as_stubs_plus_master(graph: Graph, admin: SandboxAdmin) -> None:
    master = graph.create(
        event(
            "Daily", "2030-01-06T09:00:00", "2030-01-06T09:30:00", recurrence=daily("2030-01-06", 4)
        )
    )
    occs = graph.get(f"/me/events/{master['id']}/instances", params=WINDOW).json()["value"]
    graph.patch(f"/me/events/{occs[1]['id']}", json={"subject": "Special"})
    items, _, _ = graph.delta_round(None, "odata.maxpagesize=50")
    by_id = {i["id"]: i for i in items}
    assert by_id[master["id"]]["type"] == "seriesMaster"
    exc = by_id[occs[1]["id"]]
    assert exc["type"] == "exception" and exc["subject"] == "Special"
    stubs = [i for i in items if i.get("type") == "occurrence"]
    assert len(stubs) == 3
    for stub in stubs:
        assert set(stub) == STUB_KEYS
        assert stub["seriesMasterId"] == master["id"]
    admin.set_switches(graph_delta_includes_series_master=False)
    try:
        items, _, _ = graph.delta_round(None)
        assert master["id"] not in ids(items)
        assert len(items) == 4
    finally:
        admin.set_switches(graph_delta_includes_series_master=True)


def test_later_rounds_report_changes_and_removals(graph: Graph) -> None:
    keep, edit, drop, leave = (
        in_jan(graph, s, d) for s, d in (("K", 2), ("E", 3), ("D", 4), ("L", 5))
    )
    _, link, _ = graph.delta_round(None)
    items, link, _ = graph.delta_round(link)
    assert items == []  # nothing changed: an empty page with a deltaLink
    graph.patch(f"/me/events/{edit['id']}", json={"subject": "Edited"})
    graph.delete(f"/me/events/{drop['id']}")
    graph.patch(
        f"/me/events/{leave['id']}",
        json={
            "start": {"dateTime": "2030-03-01T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-01T10:00:00", "timeZone": "UTC"},
        },
    )
    outside = graph.create(event("Outside", "2030-05-01T09:00:00", "2030-05-01T10:00:00"))
    added = in_jan(graph, "New", 20)
    items, link, _ = graph.delta_round(link)
    assert ids(items) == {edit["id"], added["id"]}
    assert next(i for i in items if i["id"] == edit["id"])["subject"] == "Edited"
    # Deleted, moved out, and changed outside the window: all "@removed" (api-spec §2.5).
    assert removed(items) == {drop["id"], leave["id"], outside["id"]}
    gone = next(i for i in items if i["id"] == drop["id"])
    assert gone == {
        "@odata.type": "#microsoft.graph.event",
        "id": drop["id"],
        "@removed": {"reason": "deleted"},
    }
    assert keep["id"] not in ids(items) | removed(items)
    items, _, _ = graph.delta_round(link)
    assert items == []


def test_changes_during_a_round_are_not_lost(graph: Graph) -> None:
    first, second, third = (in_jan(graph, s, d) for s, d in (("A", 2), ("B", 3), ("C", 4)))
    page = graph.get(
        "/me/calendarView/delta", params=WINDOW, headers={"Prefer": "odata.maxpagesize=1"}
    ).json()
    assert [i["id"] for i in page["value"]] == [first["id"]]
    # While the client pages: change what it already has, add something, delete what is ahead.
    graph.patch(f"/me/events/{first['id']}", json={"subject": "A2"})
    late = in_jan(graph, "Late", 25)
    graph.delete(f"/me/events/{third['id']}")
    seen = list(page["value"])
    while "@odata.nextLink" in page:
        page = graph.get(page["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=1"}).json()
        seen += page["value"]
    assert second["id"] in ids(seen)
    items, _, _ = graph.delta_round(page["@odata.deltaLink"])
    assert {first["id"], late["id"]} <= ids(items)
    assert next(i for i in items if i["id"] == first["id"])["subject"] == "A2"
    assert third["id"] in removed(seen) | removed(items)


def test_cancelled_occurrences_are_silent_by_default(graph: Graph, admin: SandboxAdmin) -> None:
    master = graph.create(
        event(
            "Daily", "2030-01-06T09:00:00", "2030-01-06T09:30:00", recurrence=daily("2030-01-06", 4)
        )
    )
    occs = graph.get(f"/me/events/{master['id']}/instances", params=WINDOW).json()["value"]
    _, link, _ = graph.delta_round(None)
    graph.delete(f"/me/events/{occs[2]['id']}")
    items, link, _ = graph.delta_round(link)
    assert occs[2]["id"] not in removed(items) | ids(items)
    # The master comes again: its cancelledOccurrences is where the client finds out.
    assert master["id"] in ids(items)
    got = graph.get(f"/me/events/{master['id']}", params={"$select": "cancelledOccurrences"})
    assert got.json()["cancelledOccurrences"] == [f"OID.{master['id']}.2030-01-08"]
    admin.set_switches(graph_delta_signals_cancelled_occurrence=True)
    try:
        graph.delete(f"/me/events/{occs[3]['id']}")
        items, _, _ = graph.delta_round(link)
        assert occs[3]["id"] in removed(items)
    finally:
        admin.set_switches(graph_delta_signals_cancelled_occurrence=False)


def test_expired_tokens_answer_410_with_a_restart_location(
    graph: Graph, admin: SandboxAdmin
) -> None:
    for d in (2, 3, 4):
        in_jan(graph, f"E{d}", d)
    _, delta_link, _ = graph.delta_round(None)
    page = graph.get(
        "/me/calendarView/delta", params=WINDOW, headers={"Prefer": "odata.maxpagesize=1"}
    ).json()
    assert admin.expire_sync_tokens("microsoft", graph.user.id) >= 2
    expected = payload("graph_error_SyncStateNotFound__issue_msgraph-docs_2877.json")
    for link in (delta_link, page["@odata.nextLink"]):
        r = graph.get(link)
        assert r.status_code == 410
        assert r.json()["error"]["code"] == expected["error"]["code"]
        location = r.headers["Location"]
        query = parse_qs(urlsplit(location).query, keep_blank_values=True)
        assert query["$deltatoken"] == [""]
        assert query["startDateTime"] == [WINDOW["startDateTime"]]
        restart, _, _ = graph.delta_round(location)
        assert len(restart) == 3
    assert graph.get(delta_link.replace("$deltatoken=", "$deltatoken=x")).status_code == 410


def test_tokens_belong_to_their_mailbox(
    graph: Graph, sandbox: Sandbox, admin: SandboxAdmin
) -> None:
    in_jan(graph, "Mine", 2)
    _, link, _ = graph.delta_round(None)
    other = new_graph(sandbox, admin, "other")
    assert other.get(link).status_code == 410


def test_secondary_calendar_and_users_paths(graph: Graph) -> None:
    team = graph.new_calendar("Team")
    mine = in_jan(graph, "Default", 2)
    theirs = graph.create(
        event("Team", "2030-01-03T09:00:00", "2030-01-03T10:00:00"), f"/me/calendars/{team}/events"
    )
    items, link, _ = graph.delta_round(None, path=f"/me/calendars/{team}/calendarView/delta")
    assert ids(items) == {theirs["id"]}
    assert f"/v1.0/me/calendars/{team}/calendarView/delta?" in link
    graph.patch(f"/me/events/{mine['id']}", json={"subject": "x"})
    assert graph.delta_round(link)[0] == []  # the default calendar's changes are not here
    items, _, _ = graph.delta_round(None, path=f"/users/{graph.user.email}/calendarView/delta")
    assert ids(items) == {mine["id"]}
    items, _, _ = graph.delta_round(
        None, path=f"/users/{graph.user.id}/calendars/{team}/calendarView/delta"
    )
    assert ids(items) == {theirs["id"]}


def test_rejected_writes_leave_nothing_for_delta(graph: Graph) -> None:
    ev = in_jan(graph, "Stable", 2)
    _, link, _ = graph.delta_round(None)
    bad_writes = [
        ("PATCH", f"/me/events/{ev['id']}", {"subject": 5}),
        (
            "PATCH",
            f"/me/events/{ev['id']}",
            {"end": {"dateTime": "2030-01-01T00:00:00", "timeZone": "UTC"}},
        ),
        (
            "PATCH",
            f"/me/events/{ev['id']}",
            {"start": {"dateTime": "2030-01-02T08:00:00", "timeZone": "Nowhere"}},
        ),
        ("POST", "/me/events", {"subject": "x", "nope": 1}),
        ("POST", "/me/events", event("x", "2030-01-05T09:00:00", "2030-01-05T08:00:00")),
        ("DELETE", "/me/events/AAMkADbogus", None),
    ]
    for method, path, body in bad_writes:
        assert graph.request(method, path, json=body).status_code == 400, (method, body)
    stale = {"If-Match": 'W/"not-the-change-key"'}
    assert (
        graph.patch(f"/me/events/{ev['id']}", json={"subject": "y"}, headers=stale).status_code
        == 412
    )
    items, _, _ = graph.delta_round(link)
    assert items == []
