"""Google Calendar v3 emulator, driven through the real google-api-python-client.

Plain ``requests`` is used only where the client cannot express the request (malformed JSON,
out-of-range numbers it would refuse, raw headers).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httplib2
import pytest
import requests
from google_client import (
    calendar,
    error_of,
    pages,
    read_all,
    reason,
    restore_switches,
    timed,
)
from googleapiclient.errors import HttpError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import load_payload

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

ETAG = re.compile(r'^"\d{10,20}"$')
UPDATED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MINIMAL_DELETED = {"kind", "etag", "id", "status"}
MINIMAL_INSTANCE = MINIMAL_DELETED | {"recurringEventId", "originalStartTime"}


@pytest.fixture
def svc(sandbox: Sandbox, google_user: SandboxUser) -> Any:
    return calendar(sandbox, google_user)


@pytest.fixture
def switches(admin: SandboxAdmin) -> Any:
    yield admin
    restore_switches(admin)


def raw(
    http: requests.Session, sandbox: Sandbox, user: SandboxUser, method: str, path: str, **kw: Any
) -> requests.Response:
    headers = {**user.auth(), **kw.pop("headers", {})}
    return http.request(method, sandbox.urls.root + path, headers=headers, timeout=10, **kw)


def insert(svc: Any, body: dict[str, Any], **params: Any) -> dict[str, Any]:
    return dict(svc.events().insert(calendarId="primary", body=body, **params).execute())


def sync_token(svc: Any, **params: Any) -> str:
    _, token = read_all(svc, **params)
    assert token
    return token


def changes(svc: Any, token: str, **params: Any) -> tuple[list[dict[str, Any]], str]:
    items, new = read_all(svc, syncToken=token, **params)
    assert new
    return items, new


# --------------------------------------------------------------------------- wiring, calendars


def test_client_with_default_trust_store_cannot_reach_the_sandbox(
    sandbox: Sandbox, google_user: SandboxUser
) -> None:
    from googleapiclient.discovery import build

    plain = build(
        "calendar",
        "v3",
        http=httplib2.Http(timeout=5),
        static_discovery=True,
        client_options={"api_endpoint": sandbox.urls.google_api},
    )
    with pytest.raises(Exception, match=r"(?i)certificate|ssl"):
        plain.colors().get().execute()


def test_primary_calendar_list_entry_and_calendar(svc: Any, google_user: SandboxUser) -> None:
    listed = svc.calendarList().list().execute()
    assert listed["kind"] == "calendar#calendarList" and "nextSyncToken" in listed
    (entry,) = listed["items"]
    assert entry["id"] == google_user.email and entry["summary"] == google_user.email
    assert entry["primary"] is True and entry["accessRole"] == "owner"
    assert entry["timeZone"] == "UTC" and ETAG.match(entry["etag"])
    assert svc.calendarList().get(calendarId="primary").execute() == entry
    cal = svc.calendars().get(calendarId="primary").execute()
    assert cal["kind"] == "calendar#calendar" and cal["id"] == google_user.email


def test_calendars_insert_pages_and_syncs_the_calendar_list(
    svc: Any, sandbox: Sandbox, google_user: SandboxUser, http: requests.Session
) -> None:
    token = svc.calendarList().list().execute()["nextSyncToken"]
    made = svc.calendars().insert(body={"summary": "Work", "timeZone": "Europe/Berlin"}).execute()
    assert made["id"].endswith("@group.calendar.google.com") and made["timeZone"] == "Europe/Berlin"
    delta = svc.calendarList().list(syncToken=token).execute()
    assert [e["id"] for e in delta["items"]] == [made["id"]]
    assert "primary" not in delta["items"][0]
    got = list(pages(svc, "calendarList", maxResults=1))
    assert [len(p["items"]) for p in got] == [1, 1]
    assert "nextPageToken" in got[0] and "nextSyncToken" in got[1]
    path = "/calendar/v3/users/me/calendarList?maxResults=251"
    assert raw(http, sandbox, google_user, "GET", path).status_code == 400
    err = error_of(svc.calendars().insert(body={"timeZone": "Mars/Olympus"}))
    assert err.status_code == 400 and reason(err) == "required"
    err = error_of(svc.calendars().insert(body={"summary": "x", "timeZone": "Mars/Olympus"}))
    assert err.status_code == 400 and reason(err) == "invalid"
    # A secondary calendar holds its own events, organized by the calendar itself.
    ev = svc.events().insert(calendarId=made["id"], body=timed("2025-03-24", "09:00", "10:00"))
    ev = ev.execute()
    assert ev["organizer"] == {"email": made["id"], "displayName": "Work", "self": True}
    assert read_all(svc)[0] == []


def test_colors_have_the_recorded_shape(svc: Any) -> None:
    assert svc.colors().get().execute() == load_payload(
        "google_colors_get__sudopark_TodoCalendar.json"
    )


def test_calendars_of_other_users_are_not_found(
    sandbox: Sandbox, admin: SandboxAdmin, svc: Any, google_user: SandboxUser
) -> None:
    other = admin.create_user("google", f"other-{google_user.id}@example.com")
    theirs = calendar(sandbox, other)
    ev = insert(theirs, timed("2025-03-24", "09:00", "10:00"))
    for request in (
        svc.events().list(calendarId=other.email),
        svc.events().get(calendarId=other.email, eventId=ev["id"]),
        svc.events().insert(calendarId=other.email, body=timed("2025-03-24", "09:00", "10:00")),
        svc.calendars().get(calendarId=other.email),
        svc.calendarList().get(calendarId=other.email),
    ):
        err = error_of(request)
        assert err.status_code == 404 and reason(err) == "notFound"
    assert read_all(svc)[0] == []  # "primary" is always the caller's own calendar
    assert [e["id"] for e in read_all(theirs)[0]] == [ev["id"]]


# --------------------------------------------------------------------------- writes


def test_insert_returns_server_fields_in_google_shapes(svc: Any, google_user: SandboxUser) -> None:
    body = timed("2025-03-24", "07:30", "08:15", summary="Dishes", colour="red", location="Home")
    ev = insert(svc, body)
    assert re.fullmatch(r"[a-v0-9]{26}", ev["id"])
    assert ev["iCalUID"] == f"{ev['id']}@google.com"
    assert ETAG.match(ev["etag"]) and UPDATED.match(ev["updated"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", ev["created"])
    assert ev["status"] == "confirmed" and ev["sequence"] == 0 and ev["kind"] == "calendar#event"
    assert ev["creator"] == ev["organizer"] == {"email": google_user.email, "self": True}
    assert ev["start"] == {"dateTime": "2025-03-24T07:30:00-05:00", "timeZone": "America/Chicago"}
    assert ev["reminders"] == {"useDefault": True} and ev["eventType"] == "default"
    assert "colour" not in ev  # unknown fields are dropped, not refused
    assert list(ev)[:5] == ["kind", "etag", "id", "status", "htmlLink"]
    assert svc.events().get(calendarId="primary", eventId=ev["id"]).execute() == ev
    # Read-only fields in the request are ignored.
    forged = insert(svc, {**body, "etag": '"1"', "sequence": 9, "creator": {"email": "x@y.z"}})
    assert forged["sequence"] == 0 and forged["creator"]["email"] == google_user.email


def test_client_ids_are_checked_and_stay_reserved_after_deletion(svc: Any, switches: Any) -> None:
    body = timed("2025-03-24", "09:00", "10:00")
    ok = insert(svc, {**body, "id": "abcdev0123456789"})
    assert ok["id"] == "abcdev0123456789"
    for bad in ("ABCDE12345", "abcd", "abcde_12345", "abcdew12345"):
        err = error_of(svc.events().insert(calendarId="primary", body={**body, "id": bad}))
        assert (err.status_code, reason(err)) == (400, "invalid"), bad
    dup = error_of(svc.events().insert(calendarId="primary", body={**body, "id": ok["id"]}))
    assert dup.status_code == 409
    assert dup.content and json.loads(dup.content) == load_payload(
        "google_error_409_duplicate__docs_errors.json"
    )
    svc.events().delete(calendarId="primary", eventId=ok["id"]).execute()
    again = svc.events().insert(calendarId="primary", body={**body, "id": ok["id"]})
    assert error_of(again).status_code == 409  # deleted ids stay reserved
    switches.set_switches(google_deleted_ids_reserved=False)
    assert insert(svc, {**body, "id": ok["id"]})["status"] == "confirmed"


BAD_BODIES: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("missing end", {"end": None}, 400, "required", "end"),
    ("missing start", {"start": None}, 400, "required", "start"),
    (
        "no offset, no zone",
        {"start": {"dateTime": "2025-03-24T09:00:00"}, "end": {"dateTime": "2025-03-24T10:00:00Z"}},
        400,
        "required",
        "start",
    ),
    (
        "unknown zone",
        {
            "start": {"dateTime": "2025-03-24T09:00:00Z", "timeZone": "Mars/Base"},
            "end": {"dateTime": "2025-03-24T10:00:00Z"},
        },
        400,
        "invalid",
        "start",
    ),
    (
        "end before start",
        {
            "start": {"dateTime": "2025-03-24T10:00:00Z"},
            "end": {"dateTime": "2025-03-24T09:00:00Z"},
        },
        400,
        "timeRangeEmpty",
        "",
    ),
    ("summary a number", {"summary": 7}, 400, "invalid", "summary"),
    ("attendees not a list", {"attendees": {"email": "a@b.c"}}, 400, "invalid", "attendees"),
    ("attendee without email", {"attendees": [{"displayName": "X"}]}, 400, "required", "attendees"),
    ("bad recurrence", {"recurrence": ["RRULE:FREQ=SOMETIMES"]}, 400, "invalid", "recurrence"),
    ("recurring without zone", {"recurrence": ["RRULE:FREQ=DAILY"]}, 400, "invalid", "recurrence"),
    (
        "private prop not a string",
        {"extendedProperties": {"private": {"k": 1}}},
        400,
        "invalid",
        "extendedProperties",
    ),
    ("bad status", {"status": "maybe"}, 400, "invalid", "status"),
]


@pytest.mark.parametrize(("why", "change", "status", "why_reason", "field"), BAD_BODIES)
def test_invalid_event_bodies_are_refused_and_change_nothing(
    svc: Any, why: str, change: dict[str, Any], status: int, why_reason: str, field: str
) -> None:
    base = {
        "summary": "ok",
        "start": {"dateTime": "2025-03-24T09:00:00Z"},
        "end": {"dateTime": "2025-03-24T10:00:00Z"},
    }
    body = {**base, **change}  # a null start/end is what the client sends for "missing"
    existing = insert(svc, base)
    token = sync_token(svc)
    for request in (
        svc.events().insert(calendarId="primary", body=body),
        svc.events().update(calendarId="primary", eventId=existing["id"], body=body),
    ):
        err = error_of(request)
        assert (err.status_code, reason(err)) == (status, why_reason), why
        assert field in err.error_details[0].get("location", "")
    assert changes(svc, token)[0] == []  # nothing was stored, not even partly


def test_malformed_json_and_non_object_bodies(
    sandbox: Sandbox, google_user: SandboxUser, http: requests.Session, svc: Any
) -> None:
    token = sync_token(svc)
    path = "/calendar/v3/calendars/primary/events"
    for data in (b"{not json", b"[1, 2]"):
        r = raw(
            http,
            sandbox,
            google_user,
            "POST",
            path,
            data=data,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400
        assert r.json()["error"]["errors"][0]["reason"] == "parseError"
    assert changes(svc, token)[0] == []


def test_patch_merges_and_update_replaces(svc: Any) -> None:
    ev = insert(
        svc,
        timed(
            "2025-03-24",
            "09:00",
            "10:00",
            summary="A",
            attendees=[{"email": "x@example.org"}, {"email": "y@example.org"}],
            extendedProperties={"private": {"meridian": "1", "keep": "k"}, "shared": {"s": "1"}},
        ),
    )
    patched = (
        svc.events()
        .patch(
            calendarId="primary",
            eventId=ev["id"],
            body={
                "extendedProperties": {"private": {"meridian": None, "new": "n"}},
                "attendees": [{"email": "z@example.org"}],
                "description": "d",
            },
        )
        .execute()
    )
    assert patched["extendedProperties"] == {
        "private": {"keep": "k", "new": "n"},
        "shared": {"s": "1"},
    }
    assert [a["email"] for a in patched["attendees"]] == ["z@example.org"]  # arrays replace
    assert patched["summary"] == "A" and patched["description"] == "d"
    assert patched["sequence"] == 0 and patched["etag"] != ev["etag"]
    moved = (
        svc.events()
        .patch(
            calendarId="primary",
            eventId=ev["id"],
            body={"end": timed("2025-03-24", "09:00", "11:00")["end"]},
        )
        .execute()
    )
    assert moved["sequence"] == 1  # a time change bumps the iCalendar sequence
    body = timed(
        "2025-03-24", "09:00", "11:00", summary="B", extendedProperties={"private": {"keep": "k"}}
    )
    replaced = svc.events().update(calendarId="primary", eventId=ev["id"], body=body).execute()
    assert replaced["extendedProperties"] == {"private": {"keep": "k"}}
    assert "description" not in replaced and "attendees" not in replaced
    assert replaced["id"] == ev["id"] and replaced["created"] == ev["created"]
    assert replaced["sequence"] == 1


def test_if_match_and_if_none_match(svc: Any) -> None:
    ev = insert(svc, timed("2025-03-24", "09:00", "10:00"))
    fresh = svc.events().patch(calendarId="primary", eventId=ev["id"], body={"summary": "B"})
    fresh.headers["If-Match"] = ev["etag"]
    current = fresh.execute()
    for request in (
        svc.events().patch(calendarId="primary", eventId=ev["id"], body={"summary": "C"}),
        svc.events().update(
            calendarId="primary", eventId=ev["id"], body=timed("2025-03-24", "09:00", "10:00")
        ),
        svc.events().delete(calendarId="primary", eventId=ev["id"]),
    ):
        request.headers["If-Match"] = ev["etag"]  # stale now
        err = error_of(request)
        assert err.status_code == 412
        assert json.loads(err.content) == load_payload(
            "google_error_412_conditionNotMet__docs_errors.json"
        )
    get = svc.events().get(calendarId="primary", eventId=ev["id"])
    get.headers["If-None-Match"] = current["etag"]
    assert error_of(get).status_code == 304
    get = svc.events().get(calendarId="primary", eventId=ev["id"])
    get.headers["If-None-Match"] = ev["etag"]
    assert get.execute()["summary"] == "B"


def test_delete_then_get_and_delete_again(svc: Any) -> None:
    ev = insert(svc, timed("2025-03-24", "09:00", "10:00"))
    assert svc.events().delete(calendarId="primary", eventId=ev["id"]).execute() in ("", b"")
    got = svc.events().get(calendarId="primary", eventId=ev["id"]).execute()
    assert got["status"] == "cancelled" and got["summary"] == "Event"  # get always answers
    err = error_of(svc.events().delete(calendarId="primary", eventId=ev["id"]))
    assert err.status_code == 410
    assert json.loads(err.content) == load_payload("google_error_410_deleted__docs_errors.json")
    err = error_of(svc.events().delete(calendarId="primary", eventId="nosuchevent1"))
    assert err.status_code == 404


def test_send_updates_records_the_mails_google_would_send(
    svc: Any, admin: SandboxAdmin, google_user: SandboxUser
) -> None:
    other = admin.create_user("google", f"colleague-{google_user.id}@example.com")
    guests = [
        {"email": google_user.email},
        {"email": "ext@partner.example"},
        {"email": other.email},
    ]
    body = timed("2025-03-24", "09:00", "10:00", attendees=guests)
    quiet = insert(svc, body)  # no sendUpdates: nobody is mailed
    insert(svc, body, sendUpdates="none")
    loud = insert(svc, body, sendUpdates="all")
    insert(svc, body, sendUpdates="externalOnly")
    svc.events().patch(
        calendarId="primary",
        eventId=loud["id"],
        sendUpdates="all",
        body={"attendees": [{"email": "ext@partner.example"}, {"email": "new@partner.example"}]},
    ).execute()
    svc.events().delete(calendarId="primary", eventId=loud["id"], sendUpdates="all").execute()
    mails = [(m["kind"], m["recipients"]) for m in admin.outbox(google_user.id)]
    assert mails == [
        ("invitation", sorted(["ext@partner.example", other.email])),  # organizer left out
        ("invitation", ["ext@partner.example"]),  # externalOnly: no sandbox accounts
        ("invitation", ["new@partner.example"]),
        ("update", ["ext@partner.example"]),
        ("cancellation", [other.email]),
        ("cancellation", ["ext@partner.example", "new@partner.example"]),
    ]
    assert all(m["event_id"] != quiet["id"] for m in admin.outbox(google_user.id))


def test_a_guest_declining_answers_only_the_organizer(
    svc: Any, admin: SandboxAdmin, google_user: SandboxUser
) -> None:
    organizer = "dana@partner.example"
    body = timed(
        "2025-03-24",
        "09:00",
        "10:00",
        iCalUID=f"{uuid.uuid4().hex}@partner.example",
        organizer={"email": organizer},
        attendees=[
            {"email": organizer, "responseStatus": "accepted"},
            {"email": google_user.email, "responseStatus": "needsAction"},
            {"email": "sam@partner.example"},
        ],
    )
    ev = svc.events().import_(calendarId="primary", body=body).execute()
    assert ev["organizer"] == {"email": organizer}  # not ours: no "self"
    me = next(a for a in ev["attendees"] if a.get("self"))
    assert me["email"] == google_user.email and ev["htmlLink"].startswith("https://")

    def respond(status: str, send: str) -> dict[str, Any]:
        attendees = [
            {**a, "responseStatus": status} if a.get("self") else a for a in ev["attendees"]
        ]
        return dict(
            svc.events()
            .patch(
                calendarId="primary",
                eventId=ev["id"],
                sendUpdates=send,
                body={"attendees": attendees},
            )
            .execute()
        )

    respond("tentative", "none")
    assert admin.outbox(google_user.id) == []  # sendUpdates=none: nobody hears
    after = respond("declined", "all")
    assert next(a for a in after["attendees"] if a.get("self"))["responseStatus"] == "declined"
    mails = [(m["kind"], m["recipients"]) for m in admin.outbox(google_user.id)]
    assert mails == [("reply", [organizer])]  # not the other guests
    respond("declined", "all")  # no change of answer: no second mail
    assert len(admin.outbox(google_user.id)) == 1


def test_import_requires_ical_uid_and_upserts(svc: Any, switches: Any) -> None:
    body = timed(
        "2025-03-24",
        "16:00",
        "16:30",
        summary="Partner sync",
        organizer={"email": "jordan@fabrikam.example", "displayName": "Jordan"},
    )
    err = error_of(svc.events().import_(calendarId="primary", body=body))
    assert (err.status_code, reason(err)) == (400, "required")
    first = (
        svc.events().import_(calendarId="primary", body={**body, "iCalUID": "uid-1@x"}).execute()
    )
    assert first["iCalUID"] == "uid-1@x"
    assert first["organizer"] == {"email": "jordan@fabrikam.example", "displayName": "Jordan"}
    again = (
        svc.events()
        .import_(calendarId="primary", body={**body, "iCalUID": "uid-1@x", "summary": "Moved"})
        .execute()
    )
    assert again["id"] == first["id"] and again["summary"] == "Moved"
    assert len(read_all(svc, iCalUID="uid-1@x")[0]) == 1
    switches.set_switches(google_import_upsert=False)
    err = error_of(svc.events().import_(calendarId="primary", body={**body, "iCalUID": "uid-1@x"}))
    assert err.status_code == 409


# --------------------------------------------------------------------------- reading


def test_list_window_bounds_are_exclusive(
    svc: Any, sandbox: Sandbox, google_user: SandboxUser, http: requests.Session
) -> None:
    before = insert(svc, timed("2025-03-24", "08:00", "09:00", tz="UTC"))  # ends at timeMin
    inside = insert(svc, timed("2025-03-24", "09:30", "10:00", tz="UTC"))
    after = insert(svc, timed("2025-03-24", "11:00", "12:00", tz="UTC"))  # starts at timeMax
    all_day = insert(
        svc, {"summary": "d", "start": {"date": "2025-03-24"}, "end": {"date": "2025-03-25"}}
    )
    got, _ = read_all(svc, timeMin="2025-03-24T09:00:00Z", timeMax="2025-03-24T11:00:00Z")
    assert {e["id"] for e in got} == {inside["id"], all_day["id"]}
    got, _ = read_all(svc, timeMin="2025-03-24T08:59:59Z", timeMax="2025-03-24T11:00:01Z")
    assert {e["id"] for e in got} == {before["id"], inside["id"], after["id"], all_day["id"]}
    err = error_of(
        svc.events().list(
            calendarId="primary", timeMin="2025-03-24T11:00:00Z", timeMax="2025-03-24T11:00:00Z"
        )
    )
    assert json.loads(err.content) == load_payload(
        "google_error_400_timeRangeEmpty__docs_errors.json"
    )
    path = "/calendar/v3/calendars/primary/events"
    for query in (
        "timeMin=2025-03-24T09:00:00",
        "timeMax=2025-03-24",
        "maxResults=0",
        "maxResults=2501",
        "singleEvents=maybe",
        "orderBy=startTime",
    ):
        assert raw(http, sandbox, google_user, "GET", f"{path}?{query}").status_code == 400, query


def test_time_zone_parameter_renders_date_times(svc: Any) -> None:
    ev = insert(svc, timed("2025-03-24", "07:30", "08:15"))
    got = svc.events().get(calendarId="primary", eventId=ev["id"], timeZone="Asia/Tokyo").execute()
    assert got["start"] == {"dateTime": "2025-03-24T21:30:00+09:00", "timeZone": "America/Chicago"}
    (listed,) = read_all(svc, timeZone="UTC")[0]
    assert listed["start"]["dateTime"] == "2025-03-24T12:30:00Z"
    assert (
        error_of(svc.events().list(calendarId="primary", timeZone="Nowhere/City")).status_code
        == 400
    )


def test_filters_q_ical_uid_and_extended_properties(svc: Any, switches: Any) -> None:
    a = insert(
        svc,
        timed(
            "2025-03-24",
            "09:00",
            "10:00",
            summary="Dentist",
            extendedProperties={"private": {"src": "outlook", "k": "1"}, "shared": {"team": "x"}},
        ),
    )
    b = insert(
        svc,
        timed(
            "2025-03-25",
            "09:00",
            "10:00",
            description="call the DENTIST",
            extendedProperties={"private": {"src": "outlook", "k": "2"}},
        ),
    )
    insert(svc, timed("2025-03-26", "09:00", "10:00", summary="Gym"))

    def ids(**params: Any) -> set[str]:
        return {e["id"] for e in read_all(svc, **params)[0]}

    assert ids(q="dentist") == {a["id"], b["id"]}
    assert ids(iCalUID=b["iCalUID"]) == {b["id"]}
    assert ids(privateExtendedProperty="src=outlook") == {a["id"], b["id"]}
    assert ids(privateExtendedProperty=["src=outlook", "k=2"]) == {b["id"]}  # AND by default
    assert ids(privateExtendedProperty="src=outlook", sharedExtendedProperty="team=x") == {a["id"]}
    switches.set_switches(google_extended_property_or=True)
    assert ids(privateExtendedProperty=["k=1", "k=2"]) == {a["id"], b["id"]}
    # A filtered read is no base for incremental sync: no nextSyncToken (api-spec §1.4).
    page = svc.events().list(calendarId="primary", q="dentist").execute()
    assert "nextSyncToken" not in page and "nextPageToken" not in page
    switches.set_switches(google_sync_token_with_filters=True)
    assert "nextSyncToken" in svc.events().list(calendarId="primary", q="dentist").execute()


def test_updated_min(svc: Any) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    old = insert(svc, timed("2025-03-24", "09:00", "10:00"))
    gone = insert(svc, timed("2025-03-25", "09:00", "10:00"))
    svc.events().delete(calendarId="primary", eventId=gone["id"]).execute()
    got, token = read_all(svc, updatedMin=since)
    assert token is None
    assert {e["id"]: e["status"] for e in got} == {old["id"]: "confirmed", gone["id"]: "cancelled"}
    too_old = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    err = error_of(svc.events().list(calendarId="primary", updatedMin=too_old))
    assert err.status_code == 410
    assert json.loads(err.content) == load_payload(
        "google_error_410_updatedMinTooLongAgo__docs_errors.json"
    )


# --------------------------------------------------------------------------- sync


def test_paged_full_sync_with_concurrent_edits_loses_nothing(svc: Any) -> None:
    evs = [
        insert(svc, timed(f"2025-04-{d:02d}", "09:00", "10:00", summary=f"E{d}"))
        for d in range(1, 8)
    ]
    first = svc.events().list(calendarId="primary", maxResults=3).execute()
    assert len(first["items"]) == 3 and "nextPageToken" in first and "nextSyncToken" not in first
    seen = {e["id"] for e in first["items"]}
    read_one = next(e for e in evs if e["id"] in seen)
    unread = next(e for e in evs if e["id"] not in seen)
    svc.events().patch(
        calendarId="primary", eventId=read_one["id"], body={"summary": "edited"}
    ).execute()
    svc.events().delete(calendarId="primary", eventId=unread["id"]).execute()
    added = insert(svc, timed("2025-04-09", "09:00", "10:00"))
    items = list(first["items"])
    token = first["nextPageToken"]
    while token:
        page = svc.events().list(calendarId="primary", maxResults=3, pageToken=token).execute()
        assert ("nextPageToken" in page) != ("nextSyncToken" in page)
        items += page["items"]
        token = page.get("nextPageToken")
        sync = page.get("nextSyncToken")
    store = {e["id"]: e for e in items}
    delta, _ = changes(svc, sync)
    for e in delta:  # apply the incremental result like a client would
        if e["status"] == "cancelled":
            store.pop(e["id"], None)
        else:
            store[e["id"]] = e
    truth = {e["id"]: e for e in read_all(svc)[0]}
    assert store == truth
    assert added["id"] in truth and unread["id"] not in truth
    assert truth[read_one["id"]]["summary"] == "edited"


def test_incremental_sync_reports_deletions_minimally(svc: Any) -> None:
    keep = insert(svc, timed("2025-03-24", "09:00", "10:00"))
    gone = insert(svc, timed("2025-03-24", "11:00", "12:00"))
    token = sync_token(svc)
    svc.events().delete(calendarId="primary", eventId=gone["id"]).execute()
    svc.events().patch(calendarId="primary", eventId=keep["id"], body={"summary": "x"}).execute()
    delta, token2 = changes(svc, token)
    by_id = {e["id"]: e for e in delta}
    assert set(by_id[gone["id"]]) == MINIMAL_DELETED and by_id[gone["id"]]["status"] == "cancelled"
    assert by_id[keep["id"]]["summary"] == "x"
    assert changes(svc, token2)[0] == []
    assert [e["id"] for e in read_all(svc)[0]] == [keep["id"]]  # full reads hide deletions
    shown = {e["id"]: e for e in read_all(svc, showDeleted=True)[0]}
    assert shown[gone["id"]]["status"] == "cancelled" and "start" in shown[gone["id"]]


def test_sync_token_refuses_filters_and_bad_tokens_need_full_sync(
    svc: Any, admin: SandboxAdmin, google_user: SandboxUser
) -> None:
    insert(svc, timed("2025-03-24", "09:00", "10:00"))
    insert(svc, timed("2025-03-25", "09:00", "10:00"))
    token = sync_token(svc)
    for name, value in [
        ("iCalUID", "x"),
        ("orderBy", "updated"),
        ("q", "x"),
        ("privateExtendedProperty", "a=b"),
        ("sharedExtendedProperty", "a=b"),
        ("timeMin", "2025-01-01T00:00:00Z"),
        ("timeMax", "2025-01-01T00:00:00Z"),
        ("updatedMin", datetime.now(UTC).isoformat()),
    ]:
        err = error_of(svc.events().list(calendarId="primary", syncToken=token, **{name: value}))
        assert (err.status_code, reason(err)) == (400, "invalid"), name
        assert name in str(err.reason)
    expected = load_payload("google_error_410_fullSyncRequired__docs_errors.json")
    second = svc.calendars().insert(body={"summary": "Other"}).execute()
    for bad in ("nonsense", token[:-4] + "AAAA", token + "x"):
        err = error_of(svc.events().list(calendarId="primary", syncToken=bad))
        assert json.loads(err.content) == expected, bad
    err = error_of(svc.events().list(calendarId=second["id"], syncToken=token))
    assert err.status_code == 410  # a token belongs to one calendar
    page = svc.events().list(calendarId="primary", maxResults=1).execute()
    list_token = svc.calendarList().list().execute()["nextSyncToken"]
    assert admin.expire_sync_tokens("google", google_user.id) >= 2
    for request in (
        svc.events().list(calendarId="primary", syncToken=token),
        svc.events().list(calendarId="primary", maxResults=1, pageToken=page["nextPageToken"]),
        svc.calendarList().list(syncToken=list_token),
    ):
        err = error_of(request)
        assert err.status_code == 410 and reason(err) == "fullSyncRequired"
    assert sync_token(svc)  # a full sync works again


def test_short_pages_switch_gives_an_empty_first_page(svc: Any, switches: Any) -> None:
    ev = insert(svc, timed("2025-03-24", "09:00", "10:00"))
    switches.set_switches(google_short_pages=True)
    first = svc.events().list(calendarId="primary").execute()
    assert first["items"] == [] and "nextPageToken" in first and "nextSyncToken" not in first
    items, token = read_all(svc)
    assert [e["id"] for e in items] == [ev["id"]] and token


def test_rate_limit_errors_are_retried_by_the_client(
    svc: Any, admin: SandboxAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("googleapiclient.http.time.sleep", slept.append)
    since = admin.requests()["last"]
    admin.add_fault(429, "/calendar/v3/", service="google")
    admin.add_fault(403, "/calendar/v3/", service="google")  # 403 rateLimitExceeded
    assert svc.colors().get().execute(num_retries=2)["kind"] == "calendar#colors"
    statuses = [e["status"] for e in admin.requests(since=since, service="google")["entries"]]
    assert statuses == [429, 403, 200] and len(slept) == 2
    admin.add_fault(429, "/calendar/v3/", service="google")
    err = error_of(svc.colors().get())  # without num_retries the error reaches the caller
    assert json.loads(err.content) == load_payload(
        "google_error_429_rateLimitExceeded__docs_errors.json"
    )


# --------------------------------------------------------------------------- recurring events


def daily(
    svc: Any, day: str = "2025-03-24", rule: str = "RRULE:FREQ=DAILY;COUNT=5", **fields: Any
) -> dict[str, Any]:
    return insert(svc, timed(day, "07:30", "08:15", summary="Dishes", recurrence=[rule], **fields))


def test_instances_of_a_series(svc: Any) -> None:
    master = daily(svc)
    inst = svc.events().instances(calendarId="primary", eventId=master["id"]).execute()
    ids = [i["id"] for i in inst["items"]]
    assert ids == [f"{master['id']}_202503{d}T123000Z" for d in range(24, 29)]
    first = inst["items"][0]
    assert first["recurringEventId"] == master["id"] and "recurrence" not in first
    assert first["originalStartTime"] == {
        "dateTime": "2025-03-24T07:30:00-05:00",
        "timeZone": "America/Chicago",
    }
    assert first["iCalUID"] == master["iCalUID"] and first["end"]["dateTime"].endswith(
        "08:15:00-05:00"
    )
    # timeMin is inclusive on the end here, timeMax exclusive on the start.
    window = (
        svc.events()
        .instances(
            calendarId="primary",
            eventId=master["id"],
            timeMin="2025-03-25T13:15:00Z",
            timeMax="2025-03-27T12:30:00Z",
        )
        .execute()
    )
    assert [i["id"] for i in window["items"]] == ids[1:3]
    one = (
        svc.events()
        .instances(
            calendarId="primary", eventId=master["id"], originalStart="2025-03-26T07:30:00-05:00"
        )
        .execute()
    )
    assert [i["id"] for i in one["items"]] == [ids[2]]
    paged = (
        svc.events().instances(calendarId="primary", eventId=master["id"], maxResults=2).execute()
    )
    assert len(paged["items"]) == 2 and "nextPageToken" in paged and "nextSyncToken" not in paged
    got = svc.events().get(calendarId="primary", eventId=ids[3]).execute()
    assert got == inst["items"][3]
    for missing in (f"{master['id']}_20250329T123000Z", f"{master['id']}_20250325T130000Z"):
        assert error_of(svc.events().get(calendarId="primary", eventId=missing)).status_code == 404
    err = error_of(svc.events().instances(calendarId="primary", eventId="nosuchevent1"))
    assert err.status_code == 404


def test_all_day_series_instance_ids(svc: Any) -> None:
    master = insert(
        svc,
        {
            "summary": "Bday",
            "start": {"date": "2024-02-29"},
            "end": {"date": "2024-03-01"},
            "recurrence": ["RRULE:FREQ=YEARLY;COUNT=3"],
        },
    )
    # Only leap days exist; timeMax reaches past the expansion horizon of about a year.
    request = svc.events().instances(
        calendarId="primary", eventId=master["id"], timeMax="2033-01-01T00:00:00Z"
    )
    got = request.execute()["items"]
    days = ("20240229", "20280229", "20320229")
    assert [i["id"] for i in got] == [f"{master['id']}_{d}" for d in days]
    assert got[1]["originalStartTime"] == {"date": "2028-02-29"}
    assert got[1]["end"] == {"date": "2028-03-01"}


def test_single_events_expands_within_the_window(svc: Any) -> None:
    master = daily(svc)
    single = insert(svc, timed("2025-03-25", "12:00", "13:00"))
    got, _ = read_all(
        svc,
        singleEvents=True,
        orderBy="startTime",
        timeMin="2025-03-25T00:00:00Z",
        timeMax="2025-03-27T00:00:00Z",
    )
    assert [e["id"] for e in got] == [
        f"{master['id']}_20250325T123000Z",
        single["id"],
        f"{master['id']}_20250326T123000Z",
    ]
    masters, _ = read_all(svc, timeMin="2025-03-25T00:00:00Z", timeMax="2025-03-27T00:00:00Z")
    assert {e["id"] for e in masters} == {master["id"], single["id"]}
    assert read_all(svc, timeMin="2025-03-29T00:00:00Z")[0] == []  # the series ended
    # Without timeMax an endless series is expanded up to a bounded horizon (about a year).
    today = datetime.now(UTC).date().isoformat()
    endless = daily(svc, day=today, rule="RRULE:FREQ=DAILY")
    got, _ = read_all(svc, singleEvents=True, timeMin=f"{today}T00:00:00Z")
    mine = [e for e in got if e.get("recurringEventId") == endless["id"]]
    assert 360 <= len(mine) <= 368


def test_editing_an_instance_makes_an_exception_and_re_emits_the_master(svc: Any) -> None:
    master = daily(svc, rule="RRULE:FREQ=DAILY")
    token = sync_token(svc)
    inst_id = f"{master['id']}_20250324T123000Z"
    body = timed("2025-03-24", "12:30", "13:15", summary="Dishes (Modified)")
    edited = svc.events().patch(calendarId="primary", eventId=inst_id, body=body).execute()
    recorded = load_payload("google_event_exception_instance__compass.json")
    assert set(recorded) <= set(edited) | {"htmlLink"}
    assert edited["recurringEventId"] == master["id"] and edited["iCalUID"] == master["iCalUID"]
    assert edited["originalStartTime"] == {
        "dateTime": "2025-03-24T07:30:00-05:00",
        "timeZone": "America/Chicago",
    }
    assert edited["sequence"] == 1 and "recurrence" not in edited
    delta, _ = changes(svc, token)
    assert [e["id"] for e in delta] == [master["id"], inst_id]  # as in the COMPASS recording
    assert delta[0]["recurrence"] == ["RRULE:FREQ=DAILY"] and delta[1]["summary"].endswith(
        "(Modified)"
    )
    # The exception replaces its instance in expansions and moves with its new time.
    got, _ = read_all(
        svc, singleEvents=True, timeMin="2025-03-24T00:00:00Z", timeMax="2025-03-25T00:00:00Z"
    )
    assert [(e["id"], e["start"]["dateTime"]) for e in got] == [
        (inst_id, "2025-03-24T12:30:00-05:00")
    ]


def test_cancelling_instances(svc: Any) -> None:
    master = daily(svc)
    token = sync_token(svc)
    second, third = (f"{master['id']}_2025032{d}T123000Z" for d in (5, 6))
    svc.events().delete(calendarId="primary", eventId=second).execute()
    cancelled = svc.events().get(calendarId="primary", eventId=third).execute()
    cancelled["status"] = "cancelled"  # the documented way: PUT the instance with cancelled
    svc.events().update(calendarId="primary", eventId=third, body=cancelled).execute()
    delta, _ = changes(svc, token)
    assert [e["id"] for e in delta] == [master["id"], second, third]
    recorded = load_payload("google_incsync_cancelled_instance__compass_delete_single.json")
    assert set(delta[1]) == set(recorded["items"][1]) == MINIMAL_INSTANCE
    assert delta[1]["originalStartTime"] == {
        "dateTime": "2025-03-25T07:30:00-05:00",
        "timeZone": "America/Chicago",
    }
    # Full reads: cancelled exceptions are listed when singleEvents and showDeleted are false.
    assert {e["id"] for e in read_all(svc)[0]} == {master["id"], second, third}
    expanded = {e["id"] for e in read_all(svc, singleEvents=True)[0]}
    assert second not in expanded and len(expanded) == 3
    with_deleted = read_all(svc, singleEvents=True, showDeleted=True)[0]
    assert {e["id"] for e in with_deleted if e["status"] == "cancelled"} == {second, third}
    shown = svc.events().instances(calendarId="primary", eventId=master["id"], showDeleted=True)
    assert len(shown.execute()["items"]) == 5
    assert error_of(svc.events().delete(calendarId="primary", eventId=second)).status_code == 410


def test_deleting_a_series_reports_only_the_master(svc: Any) -> None:
    master = daily(svc)
    inst_id = f"{master['id']}_20250325T123000Z"
    svc.events().patch(calendarId="primary", eventId=inst_id, body={"summary": "moved"}).execute()
    token = sync_token(svc)
    svc.events().delete(calendarId="primary", eventId=master["id"]).execute()
    delta, _ = changes(svc, token)
    assert delta == [
        {
            "kind": "calendar#event",
            "etag": delta[0]["etag"],
            "id": master["id"],
            "status": "cancelled",
        }
    ]
    assert delta[0]["etag"] != master["etag"]
    assert read_all(svc)[0] == [] and read_all(svc, singleEvents=True)[0] == []
    assert (
        svc.events().get(calendarId="primary", eventId=inst_id).execute()["status"] == "cancelled"
    )
    err = error_of(svc.events().instances(calendarId="primary", eventId=master["id"]))
    assert err.status_code == 410
    err = error_of(svc.events().patch(calendarId="primary", eventId=inst_id, body={"summary": "x"}))
    assert err.status_code == 410


def test_this_and_following_split(svc: Any) -> None:
    """The COMPASS "edit following" recording: trim the master, insert a new series."""
    master = daily(svc, rule="RRULE:FREQ=DAILY")
    early, late = (f"{master['id']}_2025032{d}T123000Z" for d in (5, 8))
    for inst_id in (early, late):
        svc.events().patch(calendarId="primary", eventId=inst_id, body={"summary": "x"}).execute()
    token = sync_token(svc)
    trimmed = (
        svc.events()
        .patch(
            calendarId="primary",
            eventId=master["id"],
            body={"recurrence": ["RRULE:FREQ=DAILY;UNTIL=20250327T045959Z"]},
        )
        .execute()
    )
    assert trimmed["sequence"] == 1
    new = insert(
        svc,
        timed("2025-03-27", "07:30", "08:15", summary="Sponge", recurrence=["RRULE:FREQ=DAILY"]),
    )
    delta, token2 = changes(svc, token)
    by_id = {e["id"]: e for e in delta}
    assert by_id[master["id"]]["recurrence"] == ["RRULE:FREQ=DAILY;UNTIL=20250327T045959Z"]
    assert by_id[new["id"]]["start"]["dateTime"] == "2025-03-27T07:30:00-05:00"
    assert by_id[early]["status"] == "confirmed"  # still in the trimmed set: kept
    assert set(by_id[late]) == MINIMAL_INSTANCE  # cut off by UNTIL: cancelled
    assert new["iCalUID"] != master["iCalUID"]
    old = svc.events().instances(calendarId="primary", eventId=master["id"]).execute()["items"]
    assert [i["id"][-16:-8] for i in old] == ["20250324", "20250325", "20250326"]
    # A singleEvents client hears about every instance the trim removed.
    items, _ = changes(svc, token, singleEvents=True)
    gone = {e["id"] for e in items if e["status"] == "cancelled"}
    assert f"{master['id']}_20250327T123000Z" in gone and late in gone
    assert changes(svc, token2)[0] == []


def test_recurring_writes_on_instances_need_a_real_occurrence(svc: Any) -> None:
    master = daily(svc)
    bogus = f"{master['id']}_20250324T130000Z"
    err = error_of(svc.events().patch(calendarId="primary", eventId=bogus, body={"summary": "x"}))
    assert err.status_code == 404
    err = error_of(svc.events().delete(calendarId="primary", eventId=bogus))
    assert err.status_code == 404
    # Moving the whole series cancels every exception, whose original times are gone.
    inst_id = f"{master['id']}_20250325T123000Z"
    svc.events().patch(calendarId="primary", eventId=inst_id, body={"summary": "moved"}).execute()
    moved = timed("2025-03-24", "08:00", "08:45")
    body = {"start": moved["start"], "end": moved["end"]}
    svc.events().patch(calendarId="primary", eventId=master["id"], body=body).execute()
    got = svc.events().get(calendarId="primary", eventId=inst_id).execute()
    assert got["status"] == "cancelled"
    fresh = svc.events().instances(calendarId="primary", eventId=master["id"]).execute()["items"]
    assert fresh[1]["id"] == f"{master['id']}_20250325T130000Z" and fresh[1]["summary"] == "Dishes"


@pytest.mark.parametrize(
    "rule",
    ["RRULE:FREQ=DAILY;COUNT=5", "RRULE:FREQ=DAILY;UNTIL=20250328T235959Z", "RRULE:FREQ=DAILY"],
)
def test_an_instance_is_found_by_id_after_the_rule_changes(svc: Any, rule: str) -> None:
    """Ended series are looked up in an index of their instances; it follows every edit."""
    master = daily(svc, rule=rule)
    last = f"{master['id']}_20250328T123000Z"
    patched = svc.events().patch(calendarId="primary", eventId=last, body={"summary": "Last"})
    assert patched.execute()["summary"] == "Last"
    body = {"recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]}  # the 27th and 28th are gone
    svc.events().patch(calendarId="primary", eventId=master["id"], body=body).execute()
    gone = f"{master['id']}_20250327T123000Z"
    err = error_of(svc.events().patch(calendarId="primary", eventId=gone, body={"summary": "x"}))
    assert err.status_code == 404
    kept = f"{master['id']}_20250326T123000Z"
    got = svc.events().patch(calendarId="primary", eventId=kept, body={"summary": "Kept"})
    assert got.execute()["recurringEventId"] == master["id"]


def test_errors_never_carry_stack_traces(
    sandbox: Sandbox, google_user: SandboxUser, http: requests.Session
) -> None:
    r = raw(http, sandbox, google_user, "POST", "/calendar/v3/calendars/primary/events/quickAdd")
    assert r.status_code in (404, 405) and "Traceback" not in r.text
    assert r.json()["error"]["errors"][0]["reason"] == "notFound"


def test_http_error_message_is_the_google_message(svc: Any) -> None:
    err = error_of(svc.events().get(calendarId="primary", eventId="nosuchevent1"))
    assert isinstance(err, HttpError) and err.reason == "Not Found"


def test_removing_the_recurrence_leaves_a_single_event(svc: Any) -> None:
    master = daily(svc)
    moved = f"{master['id']}_20250325T123000Z"
    svc.events().patch(calendarId="primary", eventId=moved, body={"summary": "x"}).execute()
    token = sync_token(svc, singleEvents=True)
    body = timed("2025-03-24", "07:30", "08:15", summary="Once")  # PUT: no recurrence any more
    single = svc.events().update(calendarId="primary", eventId=master["id"], body=body).execute()
    assert "recurrence" not in single and single["sequence"] == 1
    got, _ = read_all(svc, timeMin="2025-03-24T00:00:00Z", timeMax="2025-03-25T00:00:00Z")
    assert [e["id"] for e in got] == [master["id"]]
    assert [e["id"] for e in read_all(svc, singleEvents=True)[0]] == [master["id"]]
    delta, _ = changes(svc, token, singleEvents=True)
    expected = {f"{master['id']}_202503{d}T123000Z": "cancelled" for d in range(24, 29)}
    assert {e["id"]: e["status"] for e in delta} == {master["id"]: "confirmed", **expected}


# --------------------------------------------------------------------------- property


def _apply(store: dict[str, dict[str, Any]], item: dict[str, Any]) -> None:
    """What a sync client does with one item of events.list (singleEvents=false)."""
    if item["status"] == "cancelled" and "recurringEventId" not in item:
        store.pop(item["id"], None)  # a deleted event or series takes its exceptions with it
        for key in [k for k, v in store.items() if v.get("recurringEventId") == item["id"]]:
            del store[key]
    else:
        store[item["id"]] = item  # cancelled exceptions are kept, as full reads list them


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.integers(1, 9)),
        st.tuples(st.just("patch"), st.integers(0, 5)),
        st.tuples(st.just("delete"), st.integers(0, 5)),
        st.tuples(st.just("edit_instance"), st.integers(0, 5)),
        st.tuples(st.just("cancel_instance"), st.integers(0, 5)),
        st.tuples(st.just("trim_series"), st.integers(1, 5)),
        st.tuples(st.just("delete_series"), st.just(0)),
    ),
    max_size=8,
)


# Half the profile's examples: each one is a few dozen real HTTPS round trips.
@settings(
    max_examples=max(10, settings().max_examples // 2),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=OPS, page_size=st.integers(1, 3))
def test_sync_rounds_never_lose_a_change(sandbox: Sandbox, ops: list[Any], page_size: int) -> None:
    admin = SandboxAdmin(sandbox.urls.root, sandbox.ca_cert)
    svc = calendar(sandbox, admin.create_user("google", f"p-{uuid.uuid4().hex[:10]}@example.com"))
    series = daily(svc, rule="RRULE:FREQ=DAILY;COUNT=6")
    singles = [insert(svc, timed("2025-03-2" + str(d), "09:00", "10:00"))["id"] for d in (1, 2)]
    pending = list(ops)

    def step() -> None:  # one edit, made while the client is between two pages
        if not pending:
            return
        kind, n = pending.pop(0)
        ev, inst = svc.events(), f"{series['id']}_202503{24 + n}T123000Z"
        requests_by_kind = {
            "insert": lambda: ev.insert(
                calendarId="primary", body=timed(f"2025-04-0{n}", "09:00", "10:00")
            ),
            "patch": lambda: ev.patch(
                calendarId="primary", eventId=singles[n % len(singles)], body={"summary": f"p{n}"}
            ),
            "delete": lambda: ev.delete(calendarId="primary", eventId=singles[n % len(singles)]),
            "edit_instance": lambda: ev.patch(
                calendarId="primary", eventId=inst, body={"summary": "e"}
            ),
            "cancel_instance": lambda: ev.delete(calendarId="primary", eventId=inst),
            "trim_series": lambda: ev.patch(
                calendarId="primary",
                eventId=series["id"],
                body={"recurrence": [f"RRULE:FREQ=DAILY;COUNT={n}"]},
            ),
            "delete_series": lambda: ev.delete(calendarId="primary", eventId=series["id"]),
        }
        try:
            made = requests_by_kind[kind]().execute()
            if kind == "insert":
                singles.append(made["id"])
        except HttpError as err:
            assert err.status_code in (404, 410), err  # gone already: fine for a random script

    store: dict[str, dict[str, Any]] = {}
    token: str | None = None
    while True:
        params: dict[str, Any] = {"calendarId": "primary", "maxResults": page_size}
        if token:
            params["syncToken"] = token
        page_token = None
        while True:
            page = (
                svc.events().list(pageToken=page_token, **params).execute()
                if page_token
                else svc.events().list(**params).execute()
            )
            for item in page["items"]:
                _apply(store, item)
            step()
            page_token = page.get("nextPageToken")
            if not page_token:
                token = page["nextSyncToken"]
                break
        if not pending:
            quiet, _ = changes(svc, token)  # nothing changed since the last round began...
            for item in quiet:
                _apply(store, item)
            break
    truth = {e["id"]: e for e in read_all(svc)[0]}
    assert store == truth  # ... and the client's copy equals a fresh full read
