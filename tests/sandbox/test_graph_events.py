"""Graph emulator: single events — create, read, update, delete, validation, mail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_graph_support import (
    Graph,
    error_code,
    event,
    new_graph,
    payload,
)

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
EXT_ID = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name Fun"


@pytest.fixture
def graph(sandbox: Sandbox, ms_user: SandboxUser) -> Graph:
    return Graph(sandbox, ms_user)


def lunch(**extra: Any) -> dict[str, Any]:
    return event("Lunch", "2030-01-10T12:00:00", "2030-01-10T13:00:00", **extra)


def test_create_returns_the_full_event_like_the_recorded_response(graph: Graph) -> None:
    request = payload("graph_event_create_transactionId_request__docs_user-post-events_ex1.json")
    recorded = payload(
        "graph_event_create_singleinstance_transactionId_response__docs_user-post-events_ex1.json"
    )
    r = graph.post("/me/events", json=request)
    assert r.status_code == 201
    ev = r.json()
    assert set(recorded) <= set(ev)
    assert ev["id"].startswith("AAMk")
    assert ev["@odata.etag"] == f'W/"{ev["changeKey"]}"'
    assert STAMP.match(ev["createdDateTime"]) and STAMP.match(ev["lastModifiedDateTime"])
    assert re.fullmatch(r"040000008200E00074C5B7101A82E008[0-9A-F]+", ev["iCalUId"])
    assert ev["type"] == "singleInstance"
    assert ev["recurrence"] is None and ev["seriesMasterId"] is None
    assert ev["transactionId"] == request["transactionId"]
    # Stored as an instant; answered in UTC without Prefer (12:00 PDT = 19:00Z).
    assert ev["start"] == {"dateTime": "2017-04-15T19:00:00.0000000", "timeZone": "UTC"}
    assert ev["end"] == {"dateTime": "2017-04-15T21:00:00.0000000", "timeZone": "UTC"}
    assert ev["originalStartTimeZone"] == "Pacific Standard Time"
    for key in ("location", "locations", "responseStatus", "isOrganizer", "showAs", "importance"):
        assert ev[key] == recorded[key], key
    assert ev["attendees"] == [
        {
            "type": "required",
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": {
                "name": "Samantha Booth",
                "address": "samanthab@contoso.onmicrosoft.com",
            },
        }
    ]
    assert ev["organizer"]["emailAddress"]["address"] == graph.user.email
    assert (
        ev["body"]["contentType"] == "html" and "Does noon work for you?" in ev["body"]["content"]
    )
    assert ev["bodyPreview"] == "Does noon work for you?"
    assert ev["hasAttachments"] is False and ev["onlineMeeting"] is None
    assert graph.get(f"/me/events/{ev['id']}").json()["id"] == ev["id"]


def test_transaction_id_dedupes_retries(graph: Graph, admin: SandboxAdmin) -> None:
    first = graph.create(lunch(transactionId="tx-1"))
    again = graph.post("/me/events", json=lunch(transactionId="tx-1"))
    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert len(graph.get("/me/events").json()["value"]) == 1
    admin.set_switches(graph_transaction_id_returns_existing=False)
    try:
        refused = graph.post("/me/events", json=lunch(transactionId="tx-1"))
        assert refused.status_code == 409
    finally:
        admin.set_switches(graph_transaction_id_returns_existing=True)
    assert "transactionId" not in graph.create(lunch())


def test_prefer_time_zone_and_body_type(graph: Graph) -> None:
    ev = graph.create(
        lunch(tz="Europe/Berlin", body={"contentType": "text", "content": "Line 1\nA & B"})
    )
    assert ev["start"]["dateTime"] == "2030-01-10T11:00:00.0000000"
    assert ev["originalStartTimeZone"] == "W. Europe Standard Time"
    assert ev["body"]["contentType"] == "html"  # Graph's default
    assert "A &amp; B" in ev["body"]["content"]
    headers = {
        "Prefer": 'outlook.timezone="Pacific Standard Time", outlook.body-content-type="text"'
    }
    r = graph.get(f"/me/events/{ev['id']}", headers=headers)
    got = r.json()
    assert got["start"] == {
        "dateTime": "2030-01-10T03:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert got["body"] == {"contentType": "text", "content": "Line 1\nA & B"}
    applied = r.headers["Preference-Applied"]
    assert 'outlook.timezone="Pacific Standard Time"' in applied
    assert 'outlook.body-content-type="text"' in applied
    iana = graph.get(
        f"/me/events/{ev['id']}", headers={"Prefer": 'outlook.timezone="Asia/Kolkata"'}
    )
    assert iana.json()["start"]["dateTime"] == "2030-01-10T16:30:00.0000000"
    html = graph.create(lunch(body={"contentType": "HTML", "content": "<p>Hi <b>there</b></p>"}))
    as_text = graph.get(
        f"/me/events/{html['id']}", headers={"Prefer": 'outlook.body-content-type="text"'}
    )
    assert as_text.json()["body"]["content"] == "Hi there"


def test_all_day_events(graph: Graph) -> None:
    ev = graph.create(
        event(
            "Holiday",
            "2030-01-10T00:00:00",
            "2030-01-11T00:00:00",
            "Pacific Standard Time",
            isAllDay=True,
        )
    )
    assert ev["isAllDay"] is True
    # Midnight to midnight whatever zone is asked for.
    assert ev["start"] == {"dateTime": "2030-01-10T00:00:00.0000000", "timeZone": "UTC"}
    tokyo = graph.get(
        f"/me/events/{ev['id']}", headers={"Prefer": 'outlook.timezone="Tokyo Standard Time"'}
    )
    assert tokyo.json()["end"]["dateTime"] == "2030-01-11T00:00:00.0000000"
    for bad in (
        event("x", "2030-01-10T09:00:00", "2030-01-11T00:00:00", isAllDay=True),
        event("x", "2030-01-10T00:00:00", "2030-01-10T00:00:00", isAllDay=True),
        {
            **event("x", "2030-01-10T00:00:00", "2030-01-11T00:00:00", isAllDay=True),
            "end": {"dateTime": "2030-01-11T00:00:00", "timeZone": "Tokyo Standard Time"},
        },
    ):
        r = graph.post("/me/events", json=bad)
        assert r.status_code == 400, bad
    r = graph.patch(f"/me/events/{graph.create(lunch())['id']}", json={"isAllDay": True})
    assert r.status_code == 400


def test_select_and_list_paging(graph: Graph) -> None:
    ids = [
        graph.create(event(f"E{i}", f"2030-01-1{i}T09:00:00", f"2030-01-1{i}T10:00:00"))["id"]
        for i in range(5)
    ]
    r = graph.get(f"/me/events/{ids[0]}", params={"$select": "subject,start"})
    assert set(r.json()) == {"@odata.context", "@odata.etag", "id", "subject", "start"}
    assert graph.get(f"/me/events/{ids[0]}", params={"$select": "subjekt"}).status_code == 400
    page1 = graph.get("/me/events", params={"$top": 2, "$select": "subject"}).json()
    assert [e["subject"] for e in page1["value"]] == ["E0", "E1"]
    assert set(page1["value"][0]) == {"@odata.etag", "id", "subject"}
    seen = [e["id"] for e in page1["value"]]
    link = page1.get("@odata.nextLink")
    while link:
        page = graph.get(link).json()
        seen += [e["id"] for e in page["value"]]
        link = page.get("@odata.nextLink")
    assert seen == ids
    for path in ("/me/calendar/events", f"/me/calendars/{graph.calendar_id()}/events"):
        assert len(graph.get(path, params={"$top": 50}).json()["value"]) == 5


def test_patch_and_delete(graph: Graph) -> None:
    ev = graph.create(lunch(categories=["Red"]))
    r = graph.patch(f"/me/events/{ev['id']}", json={"subject": "Late lunch", "showAs": "free"})
    assert r.status_code == 200
    new = r.json()
    assert new["subject"] == "Late lunch" and new["showAs"] == "free"
    assert new["categories"] == ["Red"] and new["start"] == ev["start"]
    assert new["changeKey"] != ev["changeKey"]
    assert new["lastModifiedDateTime"] > ev["lastModifiedDateTime"]
    assert new["createdDateTime"] == ev["createdDateTime"]
    assert graph.delete(f"/me/events/{ev['id']}").status_code == 204
    r = graph.get(f"/me/events/{ev['id']}")
    assert r.status_code == 404
    assert error_code(r) == "ErrorItemNotFound"
    assert graph.delete(f"/me/events/{ev['id']}").status_code == 404


def test_if_match_detects_a_stale_change_key(graph: Graph, admin: SandboxAdmin) -> None:
    ev = graph.create(lunch())
    stale = {"If-Match": ev["@odata.etag"]}
    assert (
        graph.patch(f"/me/events/{ev['id']}", json={"subject": "A"}, headers=stale).status_code
        == 200
    )
    r = graph.patch(f"/me/events/{ev['id']}", json={"subject": "B"}, headers=stale)
    assert r.status_code == 412
    assert error_code(r) == "ErrorIrresolvableConflict"
    assert graph.delete(f"/me/events/{ev['id']}", headers=stale).status_code == 412
    assert graph.get(f"/me/events/{ev['id']}").json()["subject"] == "A"
    admin.set_switches(graph_if_match=False)
    try:
        assert (
            graph.patch(f"/me/events/{ev['id']}", json={"subject": "C"}, headers=stale).status_code
            == 200
        )
    finally:
        admin.set_switches(graph_if_match=True)
    current = {"If-Match": graph.get(f"/me/events/{ev['id']}").json()["@odata.etag"]}
    assert graph.delete(f"/me/events/{ev['id']}", headers=current).status_code == 204


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [
        (b'{"subject": ', "BadRequest", ""),
        (b"[1, 2]", "RequestBodyRead", "StartObject"),
        (
            b'{"subjekt": "x"}',
            "RequestBodyRead",
            "The property 'subjekt' does not exist on type 'microsoft.graph.event'",
        ),
        (b'{"subject": 5}', "RequestBodyRead", "Edm.String"),
        (b'{"isAllDay": "yes"}', "RequestBodyRead", "Edm.Boolean"),
        (b'{"body": {"contentType": "rtf"}}', "RequestBodyRead", "rtf"),
        (b'{"body": {"colour": "x"}}', "RequestBodyRead", "microsoft.graph.itemBody"),
        (
            b'{"start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "Mars/Olympus"}}',
            "TimeZoneNotSupportedException",
            "Mars/Olympus",
        ),
        (
            b'{"start": {"dateTime": "tomorrow", "timeZone": "UTC"}}',
            "ErrorInvalidRequest",
            "tomorrow",
        ),
        (
            b'{"end": {"dateTime": "2030-01-10T11:00:00", "timeZone": "UTC"}}',
            "ErrorCalendarEndDateIsEarlierThanStartDate",
            "",
        ),
        (b'{"attendees": [{"emailAddress": {"name": "x"}}]}', "ErrorInvalidRecipients", ""),
        (b'{"transactionId": "other"}', "ErrorInvalidRequest", "transactionId"),
    ],
)
def test_bad_patches_are_refused_and_change_nothing(
    graph: Graph, body: bytes, code: str, text: str
) -> None:
    ev = graph.create(lunch())
    r = graph.patch(
        f"/me/events/{ev['id']}", data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert error_code(r) == code
    assert text in r.json()["error"]["message"]
    assert graph.get(f"/me/events/{ev['id']}").json()["changeKey"] == ev["changeKey"]


def test_bad_creates_store_nothing(graph: Graph) -> None:
    attendees = [{"emailAddress": {"address": f"p{i}@example.com"}} for i in range(501)]
    for body in (
        {"subject": "no times"},
        lunch(attendees=attendees),
        lunch(
            recurrence={
                "pattern": {"type": "weekly", "interval": 1},
                "range": {"type": "noEnd", "startDate": "2030-01-10"},
            }
        ),
        lunch(singleValueExtendedProperties=[{"id": "Fun", "value": "x"}]),
    ):
        r = graph.post("/me/events", json=body)
        assert r.status_code == 400, body
    assert graph.get("/me/events").json()["value"] == []


def test_ids_are_checked(graph: Graph, sandbox: Sandbox, admin: SandboxAdmin) -> None:
    for bad in ("nonsense", "AAMkAD%21%21", "AAMkADAAAA"):
        r = graph.get(f"/me/events/{bad}")
        assert r.status_code == 400, bad
        assert error_code(r) == "ErrorInvalidIdMalformed"
    other = new_graph(sandbox, admin, "other")
    theirs = other.create(lunch())
    for method in ("GET", "PATCH", "DELETE"):
        r = graph.request(method, f"/me/events/{theirs['id']}", json={"subject": "mine"})
        assert r.status_code == 404
        assert error_code(r) == "ErrorItemNotFound"
    r = graph.get(f"/users/{other.user.email}/events/{theirs['id']}")
    assert r.status_code == 403
    assert other.get(f"/me/events/{theirs['id']}").json()["subject"] == "Lunch"


def test_calendars_scope_events(graph: Graph) -> None:
    team = graph.new_calendar("Team")
    ev = graph.create(lunch(), f"/me/calendars/{team}/events")
    assert graph.get("/me/events").json()["value"] == []
    listed = graph.get(f"/me/calendars/{team}/events").json()["value"]
    assert [e["id"] for e in listed] == [ev["id"]]
    assert graph.get(f"/me/events/{ev['id']}").status_code == 200  # ids resolve mailbox-wide
    assert graph.get(f"/me/calendar/events/{ev['id']}").status_code == 404
    assert (
        graph.get(f"/users/{graph.user.id}/calendars/{team}/events/{ev['id']}").status_code == 200
    )


def test_extended_properties_and_filters(graph: Graph) -> None:
    request = payload("graph_event_create_with_singleValueExtendedProperty_request__docs.json")
    tagged = graph.create(request)
    assert "singleValueExtendedProperties" not in tagged
    plain = graph.create(lunch())
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{EXT_ID}' and ep/value eq 'Food')"
    found = graph.get("/me/events", params={"$filter": flt}).json()["value"]
    assert [e["id"] for e in found] == [tagged["id"]]
    expand = f"singleValueExtendedProperties($filter=id eq '{EXT_ID}')"
    got = graph.get(f"/me/events/{tagged['id']}", params={"$expand": expand}).json()
    assert got["singleValueExtendedProperties"] == [{"id": EXT_ID, "value": "Food"}]
    assert (
        "singleValueExtendedProperties"
        not in graph.get(f"/me/events/{plain['id']}", params={"$expand": expand}).json()
    )
    listed = graph.get("/me/events", params={"$expand": expand, "$select": "subject"}).json()[
        "value"
    ]
    assert {e["subject"]: "singleValueExtendedProperties" in e for e in listed} == {
        "Celebrate Thanksgiving": True,
        "Lunch": False,
    }
    by_uid = graph.get("/me/events", params={"$filter": f"iCalUId eq '{plain['iCalUId']}'"})
    assert [e["id"] for e in by_uid.json()["value"]] == [plain["id"]]
    graph.patch(
        f"/me/events/{plain['id']}",
        json={"singleValueExtendedProperties": [{"id": EXT_ID, "value": "Food"}]},
    )
    assert len(graph.get("/me/events", params={"$filter": flt}).json()["value"]) == 2
    bad = graph.get("/me/events", params={"$filter": "subject eq"})
    assert bad.status_code == 400


def test_meeting_mail_is_recorded(graph: Graph, admin: SandboxAdmin) -> None:
    def mails() -> list[tuple[str, list[str]]]:
        return [(m["kind"], m["recipients"]) for m in admin.outbox(graph.user.id)]

    solo = graph.create(lunch())
    graph.patch(f"/me/events/{solo['id']}", json={"subject": "Solo"})
    graph.delete(f"/me/events/{solo['id']}")
    assert mails() == []  # no attendees, no mail

    a = {"emailAddress": {"address": "a@example.com"}}
    b = {"emailAddress": {"address": "b@example.com"}}
    ev = graph.create(lunch(attendees=[a]))
    assert mails() == [("invitation", ["a@example.com"])]
    graph.patch(f"/me/events/{ev['id']}", json={"categories": ["Blue"]})
    assert len(mails()) == 1  # personal fields do not notify attendees
    graph.patch(f"/me/events/{ev['id']}", json={"attendees": [a, b], "subject": "Lunch!"})
    assert mails()[1:] == [("invitation", ["b@example.com"]), ("update", ["a@example.com"])]
    graph.delete(f"/me/events/{ev['id']}")
    assert mails()[3:] == [("cancellation", ["a@example.com", "b@example.com"])]


def test_cancel_is_for_organizers(graph: Graph, sandbox: Sandbox, admin: SandboxAdmin) -> None:
    guest = new_graph(sandbox, admin, "guest")
    invite = {"emailAddress": {"address": guest.user.email, "name": "Guest"}}
    ev = graph.create(lunch(attendees=[invite]))
    # The invitation lands in the guest's calendar, organised by someone else.
    copies = guest.get("/me/events").json()["value"]
    assert len(copies) == 1
    copy = copies[0]
    assert copy["isOrganizer"] is False
    assert copy["organizer"]["emailAddress"]["address"] == graph.user.email
    assert copy["iCalUId"] == ev["iCalUId"]
    r = guest.post(f"/me/events/{copy['id']}/cancel", json={"comment": "no"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "Your request can't be completed. You need to be an organizer to cancel a meeting."
    )
    assert graph.post(f"/me/events/{ev['id']}/cancel", json={"comment": "Sorry"}).status_code == 202
    assert graph.get(f"/me/events/{ev['id']}").status_code == 404
    kinds = [m["kind"] for m in admin.outbox(graph.user.id)]
    assert kinds == ["invitation", "cancellation"]
    assert guest.get(f"/me/events/{copy['id']}").json()["isCancelled"] is True
    assert guest.delete(f"/me/events/{copy['id']}").status_code == 204
    assert admin.outbox(guest.user.id) == []
    bad = graph.post(f"/me/events/{graph.create(lunch())['id']}/cancel", json={"reason": "x"})
    assert bad.status_code == 400


def test_orderby_and_range_filters(graph: Graph) -> None:
    for subject, day in (("B", 12), ("A", 14), ("C", 10)):
        graph.create(event(subject, f"2030-01-{day}T09:00:00", f"2030-01-{day}T10:00:00"))
    params = {"$orderby": "start/dateTime desc", "$select": "subject"}
    assert [e["subject"] for e in graph.get("/me/events", params=params).json()["value"]] == [
        "A",
        "B",
        "C",
    ]
    params = {"$filter": "start/dateTime ge '2030-01-11T00:00:00' and contains(subject, 'b')"}
    assert [e["subject"] for e in graph.get("/me/events", params=params).json()["value"]] == ["B"]
    params = {"$filter": "not (subject eq 'A') or subject eq 'A'", "$orderby": "subject"}
    assert [e["subject"] for e in graph.get("/me/events", params=params).json()["value"]] == [
        "A",
        "B",
        "C",
    ]
    assert (
        graph.get("/me/events", params={"$orderby": "start/dateTime sideways"}).status_code == 400
    )


def _invited(graph: Graph, sandbox: Sandbox, admin: SandboxAdmin) -> tuple[Graph, dict, dict]:
    """A meeting ``graph``'s user organizes, and its invitation in a guest's calendar."""
    guest = new_graph(sandbox, admin, "guest")
    invite = {"emailAddress": {"address": guest.user.email, "name": "Guest"}}
    ev = graph.create(lunch(attendees=[invite], allowNewTimeProposals=False))
    [copy] = guest.get("/me/events").json()["value"]
    return guest, ev, copy


def test_decline_answers_the_organizer_and_leaves_the_calendar(
    graph: Graph, sandbox: Sandbox, admin: SandboxAdmin
) -> None:
    guest, ev, copy = _invited(graph, sandbox, admin)
    # The organizer cannot decline their own meeting (Exchange's code, answered as a 400).
    mine = graph.post(f"/me/events/{ev['id']}/decline", json={"sendResponse": True})
    assert (mine.status_code, error_code(mine)) == (400, "ErrorCalendarIsOrganizerForDecline")
    # A new time only goes with a sent response, to a meeting that takes proposals.
    slot = {"dateTime": "2030-01-11T12:00:00", "timeZone": "UTC"}
    proposal = {"proposedNewTime": {"start": slot, "end": slot}, "sendResponse": True}
    bad = guest.post(f"/me/events/{copy['id']}/decline", json=proposal)
    assert (bad.status_code, error_code(bad)) == (400, "ErrorInvalidRequest")
    bad = guest.post(f"/me/events/{copy['id']}/decline", json={"sendResponse": "yes"})
    assert bad.status_code == 400

    r = guest.post(
        f"/me/events/{copy['id']}/decline", json={"comment": "Clash", "sendResponse": True}
    )
    assert r.status_code == 202 and r.content == b""
    # Exchange moves a declined meeting out of the calendar; the organizer hears of it.
    assert guest.get(f"/me/events/{copy['id']}").status_code == 404
    mails = [(m["kind"], m["recipients"], m["event_id"]) for m in admin.outbox(guest.user.id)]
    assert mails == [("response", [graph.user.email], copy["id"])]
    attendees = graph.get(f"/me/events/{ev['id']}").json()["attendees"]
    assert [a["status"]["response"] for a in attendees] == ["declined"]


def test_decline_without_a_response_mails_nobody_and_can_keep_the_event(
    graph: Graph, sandbox: Sandbox, admin: SandboxAdmin
) -> None:
    admin.set_switches(graph_decline_removes_event=False)
    try:
        guest, ev, copy = _invited(graph, sandbox, admin)
        r = guest.post(f"/me/calendar/events/{copy['id']}/decline", json={"sendResponse": False})
        assert r.status_code == 202
        kept = guest.get(f"/me/events/{copy['id']}").json()
        assert kept["responseStatus"]["response"] == "declined"
        assert kept["changeKey"] != copy["changeKey"]
        assert admin.outbox(guest.user.id) == []
        attendees = graph.get(f"/me/events/{ev['id']}").json()["attendees"]
        assert [a["status"]["response"] for a in attendees] == ["none"]
    finally:
        admin.set_switches(graph_decline_removes_event=True)
