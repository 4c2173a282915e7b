"""Graph emulator: recurring series, occurrences, exceptions, cancellations, calendarView."""

from __future__ import annotations

from typing import Any

import pytest
from test_graph_support import Graph, daily, error_code, event, payload, weekly

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

SEPTEMBER = {"startDateTime": "2017-09-01T00:00:00Z", "endDateTime": "2017-10-01T00:00:00Z"}
MISSING_WINDOW = payload("graph_error_400_calendarView_missing_window__thirdparty_recorded.json")


@pytest.fixture
def graph(sandbox: Sandbox, ms_user: SandboxUser) -> Graph:
    return Graph(sandbox, ms_user)


@pytest.fixture
def series(graph: Graph) -> dict[str, Any]:
    """Weekly on Monday 12:00-14:00 Pacific, 2017-09-04 .. 2017-12-31 (the docs example)."""
    return graph.create(
        payload("graph_event_create_recurring_request__docs_user-post-events_ex3.json")
    )


def instances(
    graph: Graph, master_id: str, window: dict[str, str] = SEPTEMBER
) -> list[dict[str, Any]]:
    r = graph.get(f"/me/events/{master_id}/instances", params={**window, "$top": 100})
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def test_series_master_echoes_the_normalized_recurrence(series: dict[str, Any]) -> None:
    recorded = payload(
        "graph_event_create_recurring_seriesMaster_response__docs_user-post-events_ex3.json"
    )
    assert series["type"] == "seriesMaster"
    assert series["recurrence"] == recorded["recurrence"]
    assert series["seriesMasterId"] is None
    assert series["start"] == {"dateTime": "2017-09-04T19:00:00.0000000", "timeZone": "UTC"}
    assert "originalStart" not in series


def test_instances_are_occurrences_with_their_own_ids(graph: Graph, series: dict[str, Any]) -> None:
    r = graph.get(f"/me/events/{series['id']}/instances", params={"startDateTime": "2017-09-01"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == MISSING_WINDOW["error"]["code"]
    occs = instances(graph, series["id"])
    assert [o["start"]["dateTime"][:10] for o in occs] == [
        "2017-09-04",
        "2017-09-11",
        "2017-09-18",
        "2017-09-25",
    ]
    assert len({o["id"] for o in occs}) == 4
    assert len({o["iCalUId"] for o in occs} | {series["iCalUId"]}) == 5
    for occ in occs:
        assert occ["type"] == "occurrence"
        assert occ["seriesMasterId"] == series["id"]
        assert occ["recurrence"] is None
        assert occ["subject"] == series["subject"]
        assert occ["originalStart"] == occ["start"]["dateTime"][:19] + "Z"
        again = graph.get(f"/me/events/{occ['id']}")
        assert again.status_code == 200
        assert again.json()["start"] == occ["start"]
    local = graph.get(
        f"/me/events/{series['id']}/instances",
        params=SEPTEMBER,
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
    ).json()["value"]
    assert local[0]["start"] == {
        "dateTime": "2017-09-04T12:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }


def test_deleting_an_occurrence_cancels_it(graph: Graph, series: dict[str, Any]) -> None:
    before = instances(graph, series["id"])
    second = before[1]
    assert graph.delete(f"/me/events/{second['id']}").status_code == 204
    master = graph.get(
        f"/me/events/{series['id']}", params={"$select": "subject,cancelledOccurrences"}
    )
    body = master.json()
    assert body["cancelledOccurrences"] == [f"OID.{series['id']}.2017-09-11"]
    assert body["@odata.etag"] != series["@odata.etag"]  # the master changed with it
    assert "cancelledOccurrences" not in graph.get(f"/me/events/{series['id']}").json()
    after = [o["id"] for o in instances(graph, series["id"])]
    assert after == [o["id"] for o in before if o["id"] != second["id"]]
    gone = graph.get(f"/me/events/{second['id']}")
    assert gone.status_code == 404
    assert error_code(gone) == "ErrorItemNotFound"
    view = graph.get("/me/calendarView", params={**SEPTEMBER, "$top": 50}).json()["value"]
    assert second["id"] not in {v["id"] for v in view}


def test_cancelled_occurrence_ids_use_the_local_date(graph: Graph) -> None:
    # 20:00 in Los Angeles is 04:00 UTC on the next day.
    master = graph.create(
        event(
            "Evening",
            "2030-01-10T20:00:00",
            "2030-01-10T21:00:00",
            "Pacific Standard Time",
            recurrence=daily("2030-01-10", 3),
        )
    )
    window = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}
    second = instances(graph, master["id"], window)[1]
    assert second["start"]["dateTime"].startswith("2030-01-12T04:00")
    assert graph.post(f"/me/events/{second['id']}/cancel", json={}).status_code == 202
    got = graph.get(f"/me/events/{master['id']}", params={"$select": "cancelledOccurrences"}).json()
    assert got["cancelledOccurrences"] == [f"OID.{master['id']}.2030-01-11"]


def test_patching_an_occurrence_makes_an_exception(graph: Graph, series: dict[str, Any]) -> None:
    third = instances(graph, series["id"])[2]
    moved = {
        "subject": "Moved lunch",
        "start": {"dateTime": "2017-09-18T13:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2017-09-18T15:00:00", "timeZone": "Pacific Standard Time"},
    }
    r = graph.patch(f"/me/events/{third['id']}", json=moved)
    assert r.status_code == 200
    exc = r.json()
    assert exc["id"] == third["id"]
    assert exc["type"] == "exception"
    assert exc["seriesMasterId"] == series["id"]
    assert exc["originalStart"] == "2017-09-18T19:00:00Z"
    assert exc["start"]["dateTime"] == "2017-09-18T20:00:00.0000000"
    listed = {o["id"]: o for o in instances(graph, series["id"])}
    assert listed[third["id"]]["type"] == "exception"
    assert listed[third["id"]]["subject"] == "Moved lunch"
    params = {"$select": "subject,exceptionOccurrences", "$expand": "exceptionOccurrences"}
    master = graph.get(f"/me/events/{series['id']}", params=params).json()
    assert [e["id"] for e in master["exceptionOccurrences"]] == [third["id"]]
    assert master["subject"] == series["subject"]
    assert (
        graph.patch(f"/me/events/{third['id']}", json={"subject": "Again"}).json()["type"]
        == "exception"
    )
    assert (
        graph.patch(
            f"/me/events/{third['id']}", json={"recurrence": weekly("2017-09-18", "2017-10-01")}
        ).status_code
        == 400
    )


@pytest.mark.parametrize("day", ["2017-09-11", "2017-09-25", "2017-09-26"])
def test_occurrence_may_not_cross_a_neighbour(
    graph: Graph, series: dict[str, Any], day: str
) -> None:
    third = instances(graph, series["id"])[2]
    r = graph.patch(
        f"/me/events/{third['id']}",
        json={
            "start": {"dateTime": f"{day}T12:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": f"{day}T14:00:00", "timeZone": "Pacific Standard Time"},
        },
    )
    assert r.status_code == 400
    assert error_code(r) == "ErrorOccurrenceCrossingBoundary"
    assert r.json()["error"]["message"] == (
        "Modified occurrence is crossing or overlapping adjacent occurrence."
    )
    assert graph.get(f"/me/events/{third['id']}").json()["type"] == "occurrence"
    ok = graph.patch(
        f"/me/events/{third['id']}",
        json={
            "start": {"dateTime": "2017-09-20T12:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2017-09-20T14:00:00", "timeZone": "Pacific Standard Time"},
        },
    )
    assert ok.status_code == 200


def test_changing_the_range_keeps_exceptions_still_in_the_series(
    graph: Graph, series: dict[str, Any]
) -> None:
    everything = {"startDateTime": "2017-09-01T00:00:00Z", "endDateTime": "2018-01-01T00:00:00Z"}
    occs = instances(graph, series["id"], everything)
    assert len(occs) == 17
    early, late = occs[2], occs[-1]
    for occ in (early, late):
        assert (
            graph.patch(f"/me/events/{occ['id']}", json={"subject": "Special"}).status_code == 200
        )
    cancelled = occs[5]
    assert graph.delete(f"/me/events/{cancelled['id']}").status_code == 204
    rec = series["recurrence"]
    rec["range"]["endDate"] = "2017-10-31"
    r = graph.patch(f"/me/events/{series['id']}", json={"recurrence": rec})
    assert r.status_code == 200
    assert r.json()["recurrence"]["range"]["endDate"] == "2017-10-31"
    assert graph.get(f"/me/events/{early['id']}").json()["subject"] == "Special"
    assert graph.get(f"/me/events/{late['id']}").status_code == 404
    left = instances(graph, series["id"], everything)
    assert len(left) == 8  # 9 Mondays until 2017-10-30, one of them cancelled
    assert left[-1]["start"]["dateTime"].startswith("2017-10-30")
    got = graph.get(f"/me/events/{series['id']}", params={"$select": "cancelledOccurrences"}).json()
    assert got["cancelledOccurrences"] == [f"OID.{series['id']}.2017-10-09"]


def test_moving_the_master_moves_the_range(graph: Graph, series: dict[str, Any]) -> None:
    r = graph.patch(
        f"/me/events/{series['id']}",
        json={
            "start": {"dateTime": "2017-09-11T09:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2017-09-11T10:00:00", "timeZone": "Pacific Standard Time"},
        },
    )
    assert r.status_code == 200
    assert r.json()["recurrence"]["range"]["startDate"] == "2017-09-11"
    assert [o["start"]["dateTime"] for o in instances(graph, series["id"])][:1] == [
        "2017-09-11T16:00:00.0000000"
    ]


def test_bad_recurrences_are_refused(graph: Graph) -> None:
    base = event("R", "2030-01-07T09:00:00", "2030-01-07T10:00:00")
    cases = [
        {
            "pattern": {"type": "weekly", "interval": 1},
            "range": {"type": "noEnd", "startDate": "2030-01-07"},
        },
        {
            "pattern": {"type": "fortnightly", "interval": 1},
            "range": {"type": "noEnd", "startDate": "2030-01-07"},
        },
        {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "noEnd", "startDate": "2030-01-08"},
        },
        {
            "pattern": {"type": "daily", "interval": 1, "colour": 1},
            "range": {"type": "noEnd", "startDate": "2030-01-07"},
        },
    ]
    for rec in cases:
        r = graph.post("/me/events", json={**base, "recurrence": rec})
        assert r.status_code == 400, rec
    assert graph.get("/me/events").json()["value"] == []


def test_deleting_the_master_removes_the_series(graph: Graph, series: dict[str, Any]) -> None:
    occs = instances(graph, series["id"])
    graph.patch(f"/me/events/{occs[0]['id']}", json={"subject": "Exception"})
    assert graph.delete(f"/me/events/{series['id']}").status_code == 204
    for occ in occs:
        assert graph.get(f"/me/events/{occ['id']}").status_code == 404
    assert graph.get("/me/calendarView", params=SEPTEMBER).json()["value"] == []


def test_calendar_view_expands_and_pages(graph: Graph, series: dict[str, Any]) -> None:
    single = graph.create(event("Single", "2017-09-05T10:00:00", "2017-09-05T11:00:00"))
    first = instances(graph, series["id"])[0]
    graph.patch(f"/me/events/{first['id']}", json={"subject": "First!"})
    r = graph.get("/me/calendarView", params={**SEPTEMBER, "$top": 3})
    assert r.status_code == 200
    page = r.json()
    rows = list(page["value"])
    while "@odata.nextLink" in page:
        page = graph.get(page["@odata.nextLink"]).json()
        rows += page["value"]
    assert [(v["type"], v["start"]["dateTime"][:10]) for v in rows] == [
        ("exception", "2017-09-04"),
        ("singleInstance", "2017-09-05"),
        ("occurrence", "2017-09-11"),
        ("occurrence", "2017-09-18"),
        ("occurrence", "2017-09-25"),
    ]
    assert rows[1]["id"] == single["id"]
    for path in ("/me/calendar/calendarView", f"/me/calendars/{graph.calendar_id()}/calendarview"):
        assert len(graph.get(path, params={**SEPTEMBER, "$top": 10}).json()["value"]) == 5
    team = graph.new_calendar("Team")
    assert graph.get(f"/me/calendars/{team}/calendarView", params=SEPTEMBER).json()["value"] == []


def test_calendar_view_window(graph: Graph, admin: SandboxAdmin) -> None:
    r = graph.get("/me/calendarView", params={"startDateTime": "2030-01-01T00:00:00Z"})
    assert r.status_code == 400
    assert {k: r.json()["error"][k] for k in ("code", "message")} == MISSING_WINDOW["error"]
    graph.create(event("Late", "2030-01-10T23:00:00", "2030-01-10T23:30:00"))
    # Offsets are honoured; no offset means UTC (not the Prefer zone).
    berlin = {
        "startDateTime": "2030-01-11T00:00:00+02:00",
        "endDateTime": "2030-01-11T02:00:00+02:00",
    }
    utc = {"startDateTime": "2030-01-11T00:00:00", "endDateTime": "2030-01-11T02:00:00"}
    prefer = {"Prefer": 'outlook.timezone="W. Europe Standard Time"'}
    assert len(graph.get("/me/calendarView", params=berlin).json()["value"]) == 1
    assert graph.get("/me/calendarView", params=utc, headers=prefer).json()["value"] == []
    lower = {"startdatetime": berlin["startDateTime"], "enddatetime": berlin["endDateTime"]}
    assert len(graph.get("/me/calendarview", params=lower).json()["value"]) == 1


def test_cancelling_an_occurrence_mails_attendees(graph: Graph, admin: SandboxAdmin) -> None:
    master = graph.create(
        event(
            "Standup",
            "2030-01-07T09:00:00",
            "2030-01-07T09:15:00",
            recurrence=daily("2030-01-07", 5),
            attendees=[{"emailAddress": {"address": "team@example.com"}}],
        )
    )
    window = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}
    occ = instances(graph, master["id"], window)[2]
    assert graph.post(f"/me/events/{occ['id']}/cancel", json={"comment": "Off"}).status_code == 202
    mails = [(m["kind"], m["event_id"]) for m in admin.outbox(graph.user.id)]
    assert mails == [("invitation", master["id"]), ("cancellation", master["id"])]
    assert len(instances(graph, master["id"], window)) == 4
