"""Google event resources <-> canonical Events: recorded payloads, round trips, limits, bad data."""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis
import pytest
import strategies
from hypothesis import given
from reference import PAYLOADS, load_payload

from app.core import identity
from app.core.model import (
    Attendee,
    DaySpan,
    Event,
    EventRef,
    Person,
    Privacy,
    Provider,
    Recurrence,
    Reminder,
    Response,
    ShowAs,
    Status,
    TimeSpan,
    content_dict,
)
from app.errors import ItemError, Unparseable
from app.providers import copynote, google_map
from app.providers.google_map import (
    GOOGLE_MAX_DESCRIPTION,
    SHORTENED_MARKER,
    TAG_KEY,
    event_from_google,
    event_to_google,
    instance_id,
    tag_filter,
)
from app.providers.htmltext import html_to_text, looks_like_html

CAL = "test.user@gmail.com"
CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC


# --- a stand-in for what Google does to a body it stores ------------------------------------------


def _google_time(value: dict[str, Any]) -> dict[str, Any]:
    """Google echoes dateTime in the event's timeZone, UTC as "Z"."""
    if "dateTime" not in value or "timeZone" not in value:
        return value
    instant = dt.datetime.fromisoformat(value["dateTime"])
    text = instant.astimezone(ZoneInfo(value["timeZone"])).isoformat()
    text = text[:-6] + "Z" if text.endswith("+00:00") else text
    return {**value, "dateTime": text}


def simulated_server(
    body: dict[str, Any],
    event_id: str = "abcdefghij0123456789",
    instance_of: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The event resource Google returns after storing ``body`` (a new event or an instance)."""
    if body.get("status") == "cancelled":
        assert instance_of is not None, "only instances are cancelled by a write"
        series, original = instance_of
        return {"kind": "calendar#event", "etag": '"3485815948352798"', "id": event_id,
                "status": "cancelled", "recurringEventId": series,
                "originalStartTime": original}  # fmt: skip
    out: dict[str, Any] = {k: v for k, v in copy.deepcopy(body).items() if v is not None}
    for key in ("summary", "description", "location"):  # Google leaves empty strings out
        if out.get(key) == "":
            del out[key]
    if out.get("visibility") == "default":
        del out["visibility"]
    if out.get("transparency") == "opaque":
        del out["transparency"]
    out["start"], out["end"] = _google_time(out["start"]), _google_time(out["end"])
    if "originalStartTime" in out:
        out["originalStartTime"] = _google_time(out["originalStartTime"])
    reminders = out.setdefault("reminders", {"useDefault": True})
    if not reminders.get("overrides"):
        reminders.pop("overrides", None)
    private = out.get("extendedProperties", {}).get("private")
    if private is not None:
        # §1.8: null deletes, keys over 44 characters are dropped, values cut at 1024.
        kept = {k: v[:1024] for k, v in private.items() if v is not None and len(k) <= 44}
        if kept:
            out["extendedProperties"] = {"private": kept}
        else:
            del out["extendedProperties"]
    me = {"email": CAL, "self": True}
    return {"kind": "calendar#event", "etag": '"3485452990504510"', "id": event_id,
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": "2025-03-23T10:41:35.000Z", "updated": "2025-03-23T10:41:35.252Z",
            "creator": me, "organizer": me, "iCalUID": f"{event_id}@google.com",
            "sequence": 0, "eventType": "default", **out}  # fmt: skip


def round_trip(
    event: Event, for_update: bool = False
) -> tuple[Event, tuple[str, ...], dict[str, Any]]:
    body, losses = event_to_google(event, for_update=for_update)
    back = event_from_google(json.loads(json.dumps(simulated_server(body))), CAL)
    return back, losses, body


def fits(event: Event) -> bool:
    """Within Google's limits: the description with its meeting-details block fits."""
    details = copynote.MeetingDetails(event.organizer, event.attendees, event.online_meeting_url)
    if event.description_html is not None:
        return len(copynote.append_html(event.description_html, details)) <= GOOGLE_MAX_DESCRIPTION
    return len(copynote.append(event.description, details)) <= GOOGLE_MAX_DESCRIPTION


# --- recorded payloads ----------------------------------------------------------------------------


def _google_items() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(PAYLOADS.glob("google_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("kind") == "calendar#event":
            out.append((path.name, data))
        elif data.get("kind") == "calendar#events":
            out += [(f"{path.name}#{i}", item) for i, item in enumerate(data["items"])]
    return out


GOOGLE_ITEMS = _google_items()


def test_the_reference_has_google_events() -> None:
    assert len(GOOGLE_ITEMS) == 14  # 4 single-event files, 10 items in 6 incremental reads


@pytest.mark.parametrize(("name", "item"), GOOGLE_ITEMS, ids=[n for n, _ in GOOGLE_ITEMS])
def test_every_recorded_event_reads(name: str, item: dict[str, Any]) -> None:
    event = event_from_google(item, CAL, "America/Chicago")
    assert event.ref == EventRef(Provider.GOOGLE, CAL, item["id"])
    assert event.etag == item["etag"]
    assert event.status == Status(item["status"])
    assert event.series_id == item.get("recurringEventId")
    if item["status"] == "cancelled":
        assert event.title == "" and event.recurrence is None and event.organizer is None
        return
    assert event.title == item["summary"]
    assert event.description == item.get("description", "")
    assert event.ical_uid == item["iCalUID"]
    assert event.updated == dt.datetime.fromisoformat(item["updated"])
    assert isinstance(event.when, TimeSpan)
    assert event.when.start == dt.datetime.fromisoformat(item["start"]["dateTime"])
    assert event.when.end == dt.datetime.fromisoformat(item["end"]["dateTime"])
    assert (event.when.start_tz, event.when.end_tz) == ("America/Chicago", "America/Chicago")
    assert event.when.start.tzinfo == CHICAGO
    lines = item.get("recurrence")
    assert event.recurrence == (Recurrence(lines[0].removeprefix("RRULE:")) if lines else None)
    assert event.reminders_default is True and event.reminders == ()
    assert event.organizer is None  # the owner's own event without guests
    assert (event.show_as, event.privacy) == (ShowAs.BUSY, Privacy.NORMAL)


def test_master_and_exception_of_an_edited_occurrence() -> None:
    items = load_payload("google_incsync_exception_instance__compass_edit_single.json")["items"]
    master, moved = (event_from_google(i, CAL) for i in items)
    assert master.recurrence == Recurrence("FREQ=DAILY")
    assert master.title == "🍽️ Dishes" and master.series_id is None
    assert master.when == TimeSpan(
        dt.datetime(2025, 3, 24, 7, 30, tzinfo=CHICAGO),
        dt.datetime(2025, 3, 24, 8, 15, tzinfo=CHICAGO),
        "America/Chicago",
        "America/Chicago",
    )
    assert moved.title == "🍽️ Dishes (Modified)" and moved.recurrence is None
    assert moved.series_id == "68k0p6ackplecqs9fuvbs1fju0"
    assert moved.original_start == dt.datetime(2025, 3, 24, 12, 30, tzinfo=UTC)
    assert moved.when.start == dt.datetime(2025, 3, 24, 17, 30, tzinfo=UTC)
    assert moved.ref is not None and moved.original_start is not None
    assert instance_id(moved.series_id, moved.original_start) == moved.ref.event_id


def test_cancelled_instance_and_deleted_series() -> None:
    items = load_payload("google_incsync_cancelled_instance__compass_delete_single.json")["items"]
    master, cancelled = (event_from_google(i, CAL) for i in items)
    assert master.recurrence == Recurrence("FREQ=DAILY;UNTIL=20250401T045959Z")
    assert master.when.start == dt.datetime(2025, 2, 9, 8, tzinfo=CHICAGO)
    assert cancelled.status is Status.CANCELLED
    assert cancelled.series_id == "5hni4sj3ql1669otmjg7sn1mok"
    assert cancelled.original_start == dt.datetime(2025, 3, 25, 13, tzinfo=UTC)
    assert isinstance(cancelled.original_start, dt.datetime)
    assert cancelled.when == TimeSpan(
        cancelled.original_start, cancelled.original_start, "UTC", "UTC"
    )
    assert cancelled.ref is not None and cancelled.series_id is not None
    assert instance_id(cancelled.series_id, cancelled.original_start) == cancelled.ref.event_id

    (deleted,) = load_payload("google_incsync_deleted_series__compass_delete_all.json")["items"]
    gone = event_from_google(deleted, CAL)
    assert (gone.status, gone.series_id, gone.original_start) == (Status.CANCELLED, None, None)
    assert gone.ref == EventRef(Provider.GOOGLE, CAL, "6pbua6vjeic3e73gvponeo1qp6")


def test_split_this_and_following() -> None:
    items = load_payload("google_incsync_split_this_and_following__compass_edit_following.json")
    old, new = (event_from_google(i, CAL) for i in items["items"])
    assert old.recurrence == Recurrence("FREQ=DAILY;UNTIL=20250327T045959Z")
    assert new.recurrence == Recurrence("FREQ=DAILY") and new.series_id is None
    assert new.title == "🧽 Dishes"
    assert new.description.startswith("Originally was: 🍽️\nThen clicked")
    assert new.description_html is None
    assert new.ical_uid == "4k3h1bqn0pmn2qmvc7m0b6ip2q_R20250327T123000@google.com"
    assert new.when.start == dt.datetime(2025, 3, 27, 12, 30, tzinfo=UTC)


def test_trim_this_and_following() -> None:
    items = load_payload("google_incsync_trim_this_and_following__compass_delete_following.json")
    master, cancelled = (event_from_google(i, CAL) for i in items["items"])
    assert master.recurrence == Recurrence("FREQ=DAILY;UNTIL=20250327T045959Z")
    assert cancelled.status is Status.CANCELLED
    assert cancelled.original_start == dt.datetime(2025, 3, 25, 13, tzinfo=UTC)


def test_the_docs_cancel_example_with_a_string_original_start() -> None:
    """G-REC shows originalStartTime as a bare string (api-spec §1.3); read it all the same."""
    text = (PAYLOADS / "google_cancel_instance_put__docs_recurringevents.txt").read_text()
    assert '"originalStartTime": "2011-06-03T10:00:00.000-07:00"' in text
    item = {"id": "instanceId", "status": "cancelled", "recurringEventId": "recurringEventId",
            "originalStartTime": "2011-06-03T10:00:00.000-07:00"}  # fmt: skip
    event = event_from_google(item, CAL)
    assert event.original_start == dt.datetime(2011, 6, 3, 17, tzinfo=UTC)
    assert event.series_id == "recurringEventId"


# --- reading details ------------------------------------------------------------------------------


def _item(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "evt0001",
        "status": "confirmed",
        "start": {"dateTime": "2026-03-08T01:30:00-05:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-08T03:30:00-04:00", "timeZone": "America/New_York"},
    }
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("edt", "calendar_tz", "zone", "instant"),
    [
        # timeZone wins, even over the calendar's zone; the offset fixes the instant.
        ({"dateTime": "2026-07-01T09:00:00+02:00", "timeZone": "Europe/Berlin"}, "Asia/Tokyo",
         "Europe/Berlin", "2026-07-01T07:00:00Z"),
        # A retired spelling is canonicalised.
        ({"dateTime": "2026-07-01T09:00:00+05:30", "timeZone": "Asia/Calcutta"}, None,
         "Asia/Kolkata", "2026-07-01T03:30:00Z"),
        # No timeZone: the calendar's zone shows the instant.
        ({"dateTime": "2026-07-01T09:00:00+02:00"}, "Asia/Tokyo", "Asia/Tokyo",
         "2026-07-01T07:00:00Z"),
        # No zone at all: UTC for Z, Etc/GMT-N for whole hours, UTC otherwise.
        ({"dateTime": "2026-07-01T09:00:00Z"}, None, "UTC", "2026-07-01T09:00:00Z"),
        ({"dateTime": "2026-07-01T09:00:00.5+05:00"}, None, "Etc/GMT-5", "2026-07-01T04:00:00.5Z"),
        ({"dateTime": "2026-07-01T09:00:00-03:00"}, None, "Etc/GMT+3", "2026-07-01T12:00:00Z"),
        ({"dateTime": "2026-07-01T09:00:00+05:45"}, None, "UTC", "2026-07-01T03:15:00Z"),
        # An unknown zone with an offset: as if there were none.
        ({"dateTime": "2026-07-01T09:00:00+02:00", "timeZone": "Mars/Olympus"}, "Europe/Paris",
         "Europe/Paris", "2026-07-01T07:00:00Z"),
        # A wall time without offset is read in timeZone; a skipped one moves forward.
        ({"dateTime": "2026-03-08T02:30:00", "timeZone": "America/New_York"}, None,
         "America/New_York", "2026-03-08T07:30:00Z"),
    ],
)  # fmt: skip
def test_zone_fallbacks(
    edt: dict[str, str], calendar_tz: str | None, zone: str, instant: str
) -> None:
    event = event_from_google(_item(start=edt, end=edt), CAL, calendar_tz)
    assert isinstance(event.when, TimeSpan)
    assert event.when.start_tz == zone == event.when.end_tz
    assert event.when.start.tzinfo == ZoneInfo(zone)
    assert event.when.start == dt.datetime.fromisoformat(instant)


def test_all_day_and_all_day_exception() -> None:
    event = event_from_google(
        _item(start={"date": "2026-12-24"}, end={"date": "2026-12-26"},
              recurringEventId="series1", originalStartTime={"date": "2026-12-23"}),
        CAL,
    )  # fmt: skip
    assert event.when == DaySpan(dt.date(2026, 12, 24), dt.date(2026, 12, 26))
    assert event.original_start == dt.date(2026, 12, 23)
    assert instance_id("series1", dt.date(2026, 12, 23)) == "series1_20261223"


def test_people_reminders_and_flags() -> None:
    event = event_from_google(
        _item(
            summary="Review",
            location="Room 4",
            organizer={"email": "boss@corp.example", "displayName": "Boss"},
            attendees=[
                {"email": "boss@corp.example", "organizer": True, "responseStatus": "accepted"},
                {"email": CAL, "self": True, "responseStatus": "tentative", "optional": True},
                {"email": "room@resource.example", "resource": True, "displayName": "Room 4"},
                {"displayName": "no address"},
            ],
            conferenceData={"entryPoints": [
                {"entryPointType": "phone", "uri": "tel:+1-555"},
                {"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij"},
            ]},
            reminders={"useDefault": False, "overrides": [
                {"method": "email", "minutes": 1440}, {"method": "popup", "minutes": 10}]},
            transparency="transparent",
            visibility="confidential",
            colorId="7",
            extendedProperties={"private": {TAG_KEY: "m1:abc"}, "shared": {"x": "y"}},
        ),
        CAL,
    )  # fmt: skip
    assert event.organizer == Person("boss@corp.example", "Boss")
    assert event.attendees == (
        Attendee("boss@corp.example", "", Response.ACCEPTED),
        Attendee(CAL, "", Response.TENTATIVE, optional=True),
        Attendee("room@resource.example", "Room 4", Response.NEEDS_ACTION, resource=True),
    )
    assert event.online_meeting_url == "https://meet.google.com/abc-defg-hij"
    assert event.reminders_default is False
    assert event.reminders == (Reminder(1440, "email"), Reminder(10, "popup"))
    assert (event.show_as, event.privacy, event.color) == (ShowAs.FREE, Privacy.CONFIDENTIAL, "7")
    assert event.tag == "m1:abc"
    assert event.location == "Room 4" and event.title == "Review"


def test_our_client_chosen_id_is_the_creation_key() -> None:
    key = identity.key_for(identity.tag_for("AAMkCal=", "AAMkEvt=", CAL), 0)
    tagged = {"extendedProperties": {"private": {TAG_KEY: "other"}}}
    ours = event_from_google(_item(id=key), CAL)
    assert (ours.created_key, ours.tag) == (key, identity.tag_from_key(key))
    assert event_from_google(_item(id=key, **tagged), CAL).tag == "other"
    theirs = event_from_google(_item(**tagged), CAL)
    assert (theirs.created_key, theirs.tag) == (None, "other")


def test_self_organizer_is_kept_when_there_are_guests() -> None:
    me = {"email": CAL, "self": True}
    alone = event_from_google(_item(organizer=me), CAL)
    meeting = event_from_google(_item(organizer=me, attendees=[{"email": "a@b.example"}]), CAL)
    assert alone.organizer is None
    assert meeting.organizer == Person(CAL)


@pytest.mark.parametrize(
    ("fields", "show_as"),
    [
        ({"eventType": "outOfOffice"}, ShowAs.OUT_OF_OFFICE),
        ({"eventType": "workingLocation", "transparency": "transparent"}, ShowAs.WORKING_ELSEWHERE),
        ({"extendedProperties": {"private": {"meridianShowAs": "tentative"}}}, ShowAs.TENTATIVE),
        # The kept value no longer matches what the person set in Google: Google wins.
        ({"transparency": "transparent",
          "extendedProperties": {"private": {"meridianShowAs": "tentative"}}}, ShowAs.FREE),
        ({"extendedProperties": {"private": {"meridianShowAs": "bogus"}}}, ShowAs.BUSY),
    ],
)  # fmt: skip
def test_show_as(fields: dict[str, Any], show_as: ShowAs) -> None:
    assert event_from_google(_item(**fields), CAL).show_as is show_as


def test_personal_survives_only_while_google_says_private() -> None:
    kept = {"extendedProperties": {"private": {"meridianPrivacy": "personal"}}}
    assert event_from_google(_item(visibility="private", **kept), CAL).privacy is Privacy.PERSONAL
    assert event_from_google(_item(visibility="public", **kept), CAL).privacy is Privacy.NORMAL


def test_html_description_reads_as_text_and_keeps_the_html() -> None:
    markup = "<p>Agenda</p><ul><li>one &amp; two</li><li>three</li></ul>Call <b>me</b><br>later"
    event = event_from_google(_item(description=markup), CAL)
    assert event.description_html == markup
    assert event.description == "Agenda\n- one & two\n- three\nCall me\nlater"


def test_meeting_details_in_a_copy_read_back() -> None:
    details = copynote.MeetingDetails(
        Person("jordan@fabrikam.example", "Jordan Lee"),
        (Attendee("alex@contoso.com", "Alex", Response.ACCEPTED, optional=True),),
        "https://teams.example/l/1",
    )
    for description, expected_html in [
        (copynote.append("Numbers.", details), None),
        (copynote.append_html("<b>Numbers.</b>", details), "<b>Numbers.</b>"),
    ]:
        event = event_from_google(_item(description=description, organizer={"email": CAL}), CAL)
        assert event.description == "Numbers."
        assert event.description_html == expected_html
        assert (event.organizer, event.attendees, event.online_meeting_url) == (
            details.organizer,
            details.attendees,
            details.online_meeting_url,
        )


def test_a_block_google_rewrote_inside_html_is_read_from_the_text() -> None:
    details = copynote.MeetingDetails(Person("a@b.example", "A"))
    block = html.escape(copynote.render(details)).replace("\n", "<br>")
    event = event_from_google(_item(description=f"<b>Hi</b><br><br>{block}"), CAL)
    assert event.organizer == Person("a@b.example", "A")
    assert event.description == "Hi"
    assert event.description_html is None  # the HTML still holds the block: never write it on


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"start": None}, "no start"),
        ({"end": None}, "no end"),
        ({"start": {"dateTime": "next tuesday", "timeZone": "UTC"}}, "RFC 3339"),
        ({"start": {"dateTime": "2026-02-30T10:00:00Z"}}, "invalid dateTime"),
        ({"start": {"dateTime": "2026-03-01T10:00:00+25:00"}}, "bad offset"),
        ({"start": {"dateTime": "2026-03-01T10:00:00", "timeZone": "Mars/Olympus"}}, "no offset"),
        ({"start": {"date": "2026-03-01"}}, "both be dates"),
        ({"start": {"date": "2026-3-1"}, "end": {"date": "2026-03-02"}}, "not a date"),
        ({"start": {"date": "2026-03-02"}, "end": {"date": "2026-03-02"}}, "on or before"),
        ({"end": {"dateTime": "2026-03-08T00:00:00-05:00"}}, "before it starts"),
        ({"start": {"date": "2026-03-01", "dateTime": "2026-03-01T10:00:00Z"}}, "exactly one"),
        ({"start": "2026-03-01"}, "no start"),
        ({"summary": 42}, "summary is not a string"),
        ({"attendees": "everyone"}, "attendees is not a list"),
        ({"attendees": [{"email": "a@b.example", "optional": "yes"}]}, "optional"),
        ({"reminders": {"useDefault": False, "overrides": [{"minutes": "ten"}]}}, "minutes"),
        ({"reminders": []}, "reminders"),
        ({"status": "maybe"}, "unknown status"),
        ({"recurrence": "RRULE:FREQ=DAILY"}, "recurrence"),
        ({"recurrence": ["EXDATE:20260101T000000Z"]}, "RRULE"),
        ({"start": {"dateTime": "2026-03-08T01:30:00-05:00", "timeZone": 5}}, "timeZone"),
    ],
)
def test_unreadable_items_name_the_event(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unparseable) as info:
        event_from_google(_item(**fields), CAL)
    assert "'evt0001'" in info.value.message
    assert reason in info.value.message


@pytest.mark.parametrize("item", [{}, {"id": 7}, {"id": ""}, ["not", "an", "object"]])
def test_items_without_an_id(item: Any) -> None:
    with pytest.raises(Unparseable, match=r"no id|not an object"):
        event_from_google(item, CAL)


# --- writing --------------------------------------------------------------------------------------


def _event(**fields: Any) -> Event:
    base: dict[str, Any] = {
        "ref": None,
        "when": TimeSpan(
            dt.datetime(2026, 3, 8, 1, 30, tzinfo=ZoneInfo("America/New_York")),
            dt.datetime(2026, 3, 8, 3, 30, tzinfo=ZoneInfo("America/New_York")),
            "America/New_York",
            "America/New_York",
        ),
        "title": "Sync",
    }
    base.update(fields)
    return Event(**base)


def test_body_of_a_plain_event() -> None:
    body, losses = event_to_google(_event(tag="m1:xyz"))
    assert losses == ()
    assert body == {
        "summary": "Sync",
        "start": {"dateTime": "2026-03-08T01:30:00-05:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-08T03:30:00-04:00", "timeZone": "America/New_York"},
        "status": "confirmed",
        "transparency": "opaque",
        "visibility": "default",
        "reminders": {"useDefault": True},
        "extendedProperties": {"private": {TAG_KEY: "m1:xyz"}},
    }
    assert tag_filter("m1:xyz") == "meridianSource=m1:xyz"


def test_never_writes_guests_but_carries_them_in_the_description() -> None:
    event = _event(
        description="Notes",
        organizer=Person("jordan@fabrikam.example", "Jordan"),
        attendees=(Attendee("alex@contoso.com", "Alex", Response.DECLINED),),
        online_meeting_url="https://teams.example/l/1",
    )
    body, losses = event_to_google(event)
    assert "attendees" not in body and "organizer" not in body and losses == ()
    assert body["description"].startswith("Notes\n\n" + copynote.MARKER_START)
    back = event_from_google(simulated_server(body), CAL)
    assert back.content_hash() == event.content_hash()


def test_update_bodies_clear_what_the_event_no_longer_has() -> None:
    body, _ = event_to_google(_event(tag="t"), for_update=True)
    assert body["description"] == "" and body["location"] == "" and body["colorId"] is None
    assert body["extendedProperties"]["private"] == {
        "meridianShowAs": None,
        "meridianPrivacy": None,
        "meridianCategories": None,
        "meridianDescFormat": None,
        TAG_KEY: "t",
    }


def test_exception_and_cancelled_occurrence_bodies() -> None:
    original = dt.datetime(2026, 3, 9, 6, 30, tzinfo=UTC)
    event = _event(series_id="series1", original_start=original)
    body, _ = event_to_google(event)
    assert body["recurringEventId"] == "series1"
    assert body["originalStartTime"] == {"dateTime": "2026-03-09T06:30:00+00:00", "timeZone": "UTC"}
    assert "recurrence" not in body
    assert instance_id("series1", original) == "series1_20260309T063000Z"
    back = event_from_google(simulated_server(body, instance_id("series1", original)), CAL)
    assert back.content_hash() == event.content_hash() and back.series_id == "series1"

    cancelled = event.with_changes(status=Status.CANCELLED)
    body, losses = event_to_google(cancelled)
    assert (body, losses) == ({"status": "cancelled"}, ())
    stored = simulated_server(body, "series1_20260309T063000Z",
                              ("series1", {"dateTime": "2026-03-08T22:30:00-08:00",
                                           "timeZone": "America/Los_Angeles"}))  # fmt: skip
    back = event_from_google(stored, CAL)
    assert (back.status, back.series_id, back.original_start) == (
        Status.CANCELLED,
        "series1",
        original,
    )


def test_series_with_exdates_round_trips() -> None:
    skipped = dt.datetime(2026, 3, 22, 5, 30, tzinfo=UTC)  # 01:30 EDT, two weeks in
    event = _event(recurrence=Recurrence("FREQ=WEEKLY;BYDAY=SU", exdates=(skipped,)))
    body, losses = event_to_google(event)
    assert losses == ()
    assert body["recurrence"] == [
        "RRULE:FREQ=WEEKLY;BYDAY=SU",
        "EXDATE;TZID=America/New_York:20260322T013000",
    ]
    assert body["start"]["timeZone"] == body["end"]["timeZone"] == "America/New_York"
    back = event_from_google(simulated_server(body), CAL)
    assert back.recurrence == event.recurrence
    assert back.content_hash() == event.content_hash()


def test_a_series_google_cannot_take_is_an_item_error() -> None:
    bad = _event(recurrence=Recurrence("FREQ=WEEKLY;COUNT=2;UNTIL=20270101T000000Z"))
    with pytest.raises(ItemError, match="recurrence cannot be written"):
        event_to_google(bad)


def test_values_google_cannot_hold_travel_in_extended_properties() -> None:
    event = _event(
        show_as=ShowAs.TENTATIVE, privacy=Privacy.PERSONAL, categories=("Red", "Plans, 2026")
    )
    body, losses = event_to_google(event)
    assert losses == ()
    assert body["visibility"] == "private" and body["transparency"] == "opaque"
    assert body["extendedProperties"]["private"] == {
        "meridianShowAs": "tentative",
        "meridianPrivacy": "personal",
        "meridianCategories": '["Red", "Plans, 2026"]',
    }
    back = event_from_google(simulated_server(body), CAL)
    assert (back.show_as, back.privacy, back.categories) == (
        ShowAs.TENTATIVE,
        Privacy.PERSONAL,
        ("Red", "Plans, 2026"),
    )


def test_plain_text_that_looks_like_html_stays_text() -> None:
    event = _event(description="Use <b> for bold, e.g. <b>this</b>.")
    body, _ = event_to_google(event)
    assert body["extendedProperties"]["private"]["meridianDescFormat"].startswith("text:")
    back = event_from_google(simulated_server(body), CAL)
    assert back.description == event.description and back.description_html is None
    # Once someone edits the description in Google, the note no longer applies.
    edited = simulated_server({**body, "description": body["description"] + "<br>"})
    assert event_from_google(edited, CAL).description_html is not None


def test_html_without_tags_stays_html() -> None:
    event = _event(description="Tom & Jerry", description_html="Tom &amp; Jerry")
    body, _ = event_to_google(event)
    assert body["description"] == "Tom &amp; Jerry"
    back = event_from_google(simulated_server(body), CAL)
    assert (back.description, back.description_html) == ("Tom & Jerry", "Tom &amp; Jerry")


# --- limits ---------------------------------------------------------------------------------------


def test_a_long_description_is_shortened_but_the_block_is_not() -> None:
    people = tuple(Attendee(f"p{n}@example.com", f"Person {n}") for n in range(20))
    event = _event(description="x" * 9000, attendees=people)
    body, losses = event_to_google(event)
    assert losses == ("description shortened to 8,192 characters",)
    assert len(body["description"]) == GOOGLE_MAX_DESCRIPTION
    back = event_from_google(simulated_server(body), CAL)
    assert back.description.endswith("x" + SHORTENED_MARKER)
    assert back.attendees == people


def test_a_long_html_description_is_cut_outside_tags() -> None:
    markup = "<p>" + "ab &amp; <b>cd</b> " * 800 + "</p>"
    event = _event(description=html_to_text(markup), description_html=markup,
                   organizer=Person("o@example.com", "O"))  # fmt: skip
    body, losses = event_to_google(event)
    assert losses == ("description shortened to 8,192 characters",)
    assert len(body["description"]) <= GOOGLE_MAX_DESCRIPTION
    back = event_from_google(simulated_server(body), CAL)
    assert back.organizer == Person("o@example.com", "O")
    assert back.description_html is not None
    assert back.description_html.endswith(SHORTENED_MARKER)
    assert back.description == html_to_text(back.description_html)
    assert "<b" not in back.description and "&amp" not in back.description


def test_reminders_colors_categories_and_zones_over_the_limits() -> None:
    event = _event(
        reminders=tuple(Reminder(m) for m in range(7)),
        reminders_default=False,
        color="12",
        categories=tuple(f"category number {n:03d}" for n in range(60)),
        when=TimeSpan(
            dt.datetime(2026, 1, 1, 9, tzinfo=UTC),
            dt.datetime(2026, 1, 1, 10, tzinfo=UTC),
            "Mars/Olympus",
            "UTC",
        ),
    )
    body, losses = event_to_google(event)
    assert losses == (
        "time zone 'Mars/Olympus' is unknown to Google; written in UTC",
        "color '12' has no Google equivalent (colors 1 to 11)",
        "5 reminders kept out of 7",
        "44 categories kept out of 60",  # 23 characters each in JSON
    )
    assert len(body["reminders"]["overrides"]) == 5 and "colorId" not in body
    assert len(body["extendedProperties"]["private"]["meridianCategories"]) <= 1024
    back = event_from_google(simulated_server(body), CAL)
    assert back.categories == event.categories[:44]
    assert back.when.start == event.when.start


def test_reminders_google_cannot_express() -> None:
    event = _event(reminders=(Reminder(50000, "sms"),), reminders_default=False)
    body, losses = event_to_google(event)
    assert body["reminders"] == {
        "useDefault": False,
        "overrides": [{"method": "popup", "minutes": 40320}],
    }
    assert losses == ("reminder sms 50000 min written as popup 40320 min",)


# --- round trips ----------------------------------------------------------------------------------


@given(strategies.events(GOOGLE_MAX_DESCRIPTION))
def test_round_trip(event: Event) -> None:
    back, losses, body = round_trip(event)
    assert "attendees" not in body and "organizer" not in body
    hypothesis.event("fits" if fits(event) else "over the description limit")
    hypothesis.event("series" if event.recurrence else "exception" if event.series_id else "single")
    if fits(event):
        assert losses == ()
        assert content_dict(back) == content_dict(event)
        assert back.content_hash() == event.content_hash()
        assert back.tag == event.tag and back.series_id == event.series_id
        if isinstance(event.when, TimeSpan):
            assert isinstance(back.when, TimeSpan)
            assert (back.when.start_tz, back.when.end_tz) == (
                event.when.start_tz,
                event.when.end_tz,
            )
        if event.description_html is not None:
            assert back.description_html == event.description_html
    else:
        assert losses == ("description shortened to 8,192 characters",)
        assert SHORTENED_MARKER in back.description
        assert len(body["description"]) <= GOOGLE_MAX_DESCRIPTION or len(
            copynote.render(copynote.MeetingDetails(event.organizer, event.attendees,
                                                     event.online_meeting_url))
        ) > GOOGLE_MAX_DESCRIPTION  # fmt: skip
        rest = {k: v for k, v in content_dict(back).items() if not k.startswith("description")}
        assert rest == {
            k: v for k, v in content_dict(event).items() if not k.startswith("description")
        }


@given(strategies.events(GOOGLE_MAX_DESCRIPTION))
def test_a_second_round_trip_changes_nothing(event: Event) -> None:
    once, _, _ = round_trip(event)
    twice, losses, _ = round_trip(once, for_update=True)
    assert losses == ()
    assert twice.content_hash() == once.content_hash()


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("a<br>b<br/>c<BR >d", "a\nb\nc\nd"),
        ("<p>a</p><p>b</p>", "a\nb"),
        ("<div>a<div>b</div></div>c", "a\nb\nc"),
        ("x<ul><li>a</li><li>b</li></ul>y", "x\n- a\n- b\ny"),
        ("<b>bold</b> &amp; <i>it</i> &lt;br&gt; &#233;", "bold & it <br> é"),
        ("<style>p {}</style><!-- note -->keep <script>x()</script>this", "keep this"),
        ("a < b and c > d", "a < b and c > d"),
        ("line\nbreak <pre>  kept\n  as is</pre>", "line\nbreak \n  kept\n  as is"),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_looks_like_html() -> None:
    assert looks_like_html("a<br>b") and looks_like_html('<a href="x">y</a>')
    assert looks_like_html("<P CLASS=x>hi</P>")
    assert not looks_like_html("a < b > c") and not looks_like_html("Mail <x@y.example>")
    assert not looks_like_html("Tom &amp; Jerry")


def test_strategy_transitions_are_real() -> None:
    for name in ("America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "Europe/Berlin"):
        changes = strategies.transitions(name)
        assert len(changes) == 8, name
        tz = ZoneInfo(name)
        for t in changes:
            assert (t - dt.timedelta(minutes=1)).astimezone(tz).utcoffset() != t.astimezone(
                tz
            ).utcoffset()
    assert strategies.transitions("Asia/Kolkata") == ()


def test_an_event_across_the_repeated_hour() -> None:
    """01:45 EDT to 01:15 EST is half an hour long, not minus half an hour."""
    event = event_from_google(
        _item(
            start={"dateTime": "2026-11-01T01:45:00-04:00", "timeZone": "America/New_York"},
            end={"dateTime": "2026-11-01T01:15:00-05:00", "timeZone": "America/New_York"},
        ),
        CAL,
    )
    assert event.when.end.astimezone(dt.UTC) - event.when.start.astimezone(dt.UTC) == dt.timedelta(
        minutes=30
    )


_RFC3339_TEXT = hypothesis.strategies.from_regex(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})?\Z"
)


@given(_RFC3339_TEXT)
def test_date_times_read_the_same_on_the_fast_path(text: str) -> None:
    """The fast path (fromisoformat) and the field-by-field one agree, also on refusals."""
    match = google_map._RFC3339.fullmatch(text)
    assert match is not None
    try:
        slow: Any = google_map._datetime_of(match)
    except google_map._Bad as exc:
        slow = str(exc)
    try:
        fast: Any = google_map._parse_datetime(text)
    except google_map._Bad as exc:
        fast = str(exc)
    assert fast == slow
    assert getattr(fast, "tzinfo", None) == getattr(slow, "tzinfo", None)
