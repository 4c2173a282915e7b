"""Graph event JSON <-> canonical Events: recorded payloads, round trips, limits, bad data."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import strategies
from hypothesis import given
from hypothesis import strategies as st
from reference import PAYLOADS, load_payload
from test_google_map import simulated_server as google_server

from app.core import timezones
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
from app.core.recurrence import Unmappable, normalize_rrule
from app.errors import Unparseable
from app.providers import copynote
from app.providers.google_map import event_from_google, event_to_google
from app.providers.graph_map import (
    BODY_PROP,
    COLOR_PROP,
    MAX_BODY_CHARS,
    MAX_SUBJECT,
    PROPERTIES,
    REMINDERS_PROP,
    SHORTENED,
    STATUS_PROP,
    SYNCED_PROP,
    TAG_PROP,
    ZONE_PROP,
    event_from_graph,
    event_to_graph,
    exceptions_from_master,
    expand_query,
    occurrence_date_from_oid,
    tag_filter,
)
from app.sandbox import graph_model, graph_render
from app.sandbox import recurrence as sandbox_recurrence

CAL = "AAMkCalendar="
UTC = dt.UTC
PACIFIC = ZoneInfo("America/Los_Angeles")
ME = {"name": "Alex Rivera", "address": "alex@contoso.example"}


# --- a stand-in for what Graph does to a body it stores -------------------------------------------


def simulated_server(
    body: dict[str, Any], event: Event, *, html_bodies: bool = False
) -> dict[str, Any]:
    """The event Graph returns (GET without Prefer, with $expand) after storing ``body``.

    ``event`` says what the provider did around the body: PATCHed an occurrence (an exception)
    or deleted cancelled occurrences (exdates). ``html_bodies``: Graph's default rendering of
    text bodies as an HTML document (the sandbox's, modelled on the recorded responses).
    """
    graph_model.check(body, "event")  # OData would refuse unknown properties and enum values
    out = copy.deepcopy(body)
    props = out.pop("singleValueExtendedProperties")
    start_zone, end_zone = out["start"]["timeZone"], out["end"]["timeZone"]
    for key in ("start", "end"):
        if out["isAllDay"]:  # all-day times come back as midnights whatever zone (docs#1802)
            out[key] = {"dateTime": out[key]["dateTime"], "timeZone": "UTC"}
        else:
            at = timezones.graph_datetime_to_aware(out[key]["dateTime"], out[key]["timeZone"])
            out[key] = dict(timezones.aware_to_graph(at, "UTC"))
    kind, extra = "singleInstance", dict[str, Any]()
    if "recurrence" in out:
        kind = "seriesMaster"
        local = timezones.graph_datetime_to_aware(body["start"]["dateTime"], start_zone)
        out["recurrence"] = sandbox_recurrence.normalize_graph_recurrence(
            out["recurrence"], local, start_zone
        )
        series_zone = timezones.zone(start_zone)
        assert event.recurrence is not None and series_zone is not None
        days = [
            d.astimezone(series_zone).date() if isinstance(d, dt.datetime) else d
            for d in event.recurrence.exdates
        ]
        extra["cancelledOccurrences"] = [f"OID.AAMkMaster=.{d.isoformat()}" for d in days]
    if event.series_id is not None:
        kind = "exception"
        original = event.original_start
        if isinstance(original, dt.date) and not isinstance(original, dt.datetime):
            zone = timezones.zone(start_zone)
            assert zone is not None
            original = dt.datetime.combine(original, dt.time(), zone)
        assert original is not None
        extra["seriesMasterId"] = event.series_id
        extra["originalStart"] = f"{original.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"
    if html_bodies:
        text = out["body"]["content"] if out["body"]["contentType"] == "text" else None
        content = graph_render.text_to_html(text) if text is not None else out["body"]["content"]
        out["body"] = {"contentType": "html", "content": graph_render.html_document(content)}
    stamp = "2026-11-21T05:31:07.1234567Z"
    return {
        "@odata.etag": 'W/"DwAAABYAAAC9YbapXssvT4RTG13UUr6AAAhT48i7"',
        "id": "AAMkADQwMDNew=",
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "changeKey": "DwAAABYAAAC9YbapXssvT4RTG13UUr6AAAhT48i7",
        "originalStartTimeZone": start_zone,
        "originalEndTimeZone": end_zone,
        "iCalUId": "040000008200E00074C5B7101A82E00800000000DA2B357D94B5D2010000000000000000",
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "isCancelled": False,
        "isOrganizer": True,
        "type": kind,
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "attendees": [],
        "organizer": {"emailAddress": dict(ME)},
        "recurrence": None,
        "seriesMasterId": None,
        **out,
        **extra,
        "singleValueExtendedProperties": props,
    }


# What Outlook cannot repeat the way the drawn rules do (core.recurrence says which): the provider
# reports these as item errors, so a round trip is not expected.
UNMAPPABLE = {"BYMONTHDAY 29-31", "DTSTART"}


def round_trip(event: Event, **kw: Any) -> tuple[Event, tuple[str, ...], dict[str, Any]]:
    zone = kw.pop("all_day_zone", "UTC")
    try:
        body, losses = event_to_graph(event, all_day_zone=zone)
    except Unmappable as exc:
        assert exc.kind in UNMAPPABLE, exc
        return event, ("unmappable",), {}
    item = json.loads(json.dumps(simulated_server(body, event, **kw)))
    return event_from_graph(item, CAL), losses, body


def within_limits(event: Event) -> bool:
    if len(event.title) > MAX_SUBJECT:
        return False
    if event.description_html is not None:
        return len(event.description_html) <= MAX_BODY_CHARS
    return len(event.description) <= MAX_BODY_CHARS


def _utc(when: TimeSpan | DaySpan) -> tuple[Any, Any]:
    if isinstance(when, DaySpan):
        return when.start, when.end
    return when.start.astimezone(UTC), when.end.astimezone(UTC)


# --- recorded payloads ----------------------------------------------------------------------------


# Every recorded Graph event response (api-spec §5), listed by hand so that a new payload file is
# a decision: pages and instance lists hold events in "value".
EVENT_PAYLOADS = {
    "graph_calendarView_delta_occurrence_stub__issue_msgraph-docs_22197.json": False,
    "graph_calendarView_delta_round1_page1_nextLink__docs_delta-query-events.json": True,
    "graph_calendarView_delta_round1_page2_nextLink__docs_delta-query-events.json": True,
    "graph_calendarView_delta_round1_page3_deltaLink__docs_delta-query-events.json": True,
    "graph_calendarView_delta_round2_removed__docs_delta-query-events.json": True,
    "graph_event_create_recurring_seriesMaster_response__docs_user-post-events_ex3.json": False,
    "graph_event_create_singleinstance_transactionId_response__docs_user-post-events_ex1.json": False,  # noqa: E501
    "graph_event_get_seriesMaster_expand_exception_cancelledOccurrences__docs_event-get_v1_ex3.json": False,  # noqa: E501
    "graph_event_instances_exception_and_occurrences__docs_event-list-instances.json": True,
}


def _graph_items() -> list[tuple[str, dict[str, Any]]]:
    items = []
    for name, listed in EVENT_PAYLOADS.items():
        doc = load_payload(name)
        items += (
            [(f"{name}[{i}]", x) for i, x in enumerate(doc["value"])] if listed else [(name, doc)]
        )
    return items


def test_every_graph_event_payload_is_covered() -> None:
    not_events = ("graph_batch_", "graph_calendars_", "graph_error_", "_request_")
    events = {
        p.name for p in PAYLOADS.glob("graph_*.json") if not any(n in p.name for n in not_events)
    }
    assert events == set(EVENT_PAYLOADS)


GRAPH_ITEMS = _graph_items()


def test_the_reference_has_graph_events() -> None:
    assert len(GRAPH_ITEMS) == 15, [n for n, _ in GRAPH_ITEMS]


@pytest.mark.parametrize(("name", "item"), GRAPH_ITEMS, ids=[n for n, _ in GRAPH_ITEMS])
def test_every_recorded_event_reads(name: str, item: dict[str, Any]) -> None:
    if "@removed" in item:
        with pytest.raises(ValueError, match="@removed"):
            event_from_graph(item, CAL)
        return
    event = event_from_graph(item, CAL)
    assert event.ref == EventRef(Provider.MICROSOFT, CAL, item["id"])
    assert event.etag == item["@odata.etag"]
    assert event.title == item.get("subject", item.get("Subject", ""))
    assert event.attendees == () or len(event.attendees) == len(item["attendees"])
    assert _utc(event.when)[0] == dt.datetime.fromisoformat(item["start"]["dateTime"]).replace(
        tzinfo=ZoneInfo(timezones.canonical_iana(item["start"]["timeZone"]) or "UTC")
    ).astimezone(UTC)
    if item.get("type") in ("occurrence", "exception"):
        assert event.series_id == item["seriesMasterId"]
    assert event.losses == ()


def test_single_instance_response() -> None:
    item = load_payload(
        "graph_event_create_singleinstance_transactionId_response__docs_user-post-events_ex1.json"
    )
    event = event_from_graph(item, CAL)
    start = dt.datetime(2017, 4, 15, 11, tzinfo=PACIFIC)
    assert event.when == TimeSpan(
        start, start + dt.timedelta(hours=1), "America/Los_Angeles", "America/Los_Angeles"
    )
    assert event.ical_uid == item["iCalUId"]
    assert event.etag == 'W/"ZlnW4RIAV06KYYwlrfNZvQAALfZeRQ=="'
    assert event.updated == dt.datetime(2017, 4, 15, 3, 0, 51, 245372, tzinfo=UTC)
    assert event.title == "Let's go brunch"
    assert event.description == "Does late morning work for you?"
    assert event.description_html == "Does late morning work for you?"  # Exchange's wrapper cut
    assert event.location == "Harry's Bar"
    assert (event.show_as, event.privacy, event.status) == (
        ShowAs.BUSY,
        Privacy.NORMAL,
        Status.CONFIRMED,
    )
    assert event.reminders == (Reminder(15, "popup"),) and not event.reminders_default
    assert event.categories == ()
    assert event.organizer == Person("danas@contoso.onmicrosoft.com", "Dana Swope")
    assert event.attendees == (
        Attendee("samanthab@contoso.onmicrosoft.com", "Samantha Booth", Response.NEEDS_ACTION),
    )
    assert event.online_meeting_url is None and event.recurrence is None
    assert (event.series_id, event.original_start, event.tag, event.color) == (None,) * 4
    assert event.created_key == "7E163156-7762-4BEB-A1C6-729EA81755A7"  # the transactionId


def test_series_master_response() -> None:
    item = load_payload(
        "graph_event_create_recurring_seriesMaster_response__docs_user-post-events_ex3.json"
    )
    event = event_from_graph(item, CAL)
    assert isinstance(event.when, TimeSpan)
    assert event.when.start == dt.datetime(2017, 9, 4, 12, tzinfo=PACIFIC)
    assert event.when.end == dt.datetime(2017, 9, 4, 14, tzinfo=PACIFIC)
    assert event.when.start_tz == "America/Los_Angeles"
    assert event.description == "Does late morning work for you?"
    assert event.recurrence is not None
    # Through 2017-12-31 in Pacific time, as Google writes UNTIL (core.recurrence).
    assert event.recurrence == Recurrence("FREQ=WEEKLY;BYDAY=MO;UNTIL=20180101T075959Z")
    assert event.organizer == Person("AlexW@contoso.onmicrosoft.com", "Alex Wilber")
    assert event.attendees == (Attendee("AdeleV@contoso.onmicrosoft.com", "Adele Vance"),)


def test_instances_exception_and_occurrences() -> None:
    doc = load_payload(
        "graph_event_instances_exception_and_occurrences__docs_event-list-instances.json"
    )
    events = [event_from_graph(x, CAL) for x in doc["value"]]
    assert {e.series_id for e in events} == {"AAMkAGUzYRgWAAA="}
    exception, *occurrences = events
    assert exception.when == TimeSpan(
        dt.datetime(2019, 4, 16, 20, 30, tzinfo=UTC),
        dt.datetime(2019, 4, 16, 21, tzinfo=UTC),
        "UTC",
        "UTC",
    )
    assert exception.original_start is None  # not $selected in this response
    assert [o.original_start for o in occurrences] == [
        dt.datetime(2019, 4, d, 20, 30, tzinfo=UTC) for d in (8, 22, 29)
    ]
    assert all(e.title == "Review strategy for Q3" and e.recurrence is None for e in events)


def test_master_with_exceptions_and_cancelled_occurrences() -> None:
    item = load_payload(
        "graph_event_get_seriesMaster_expand_exception_cancelledOccurrences__docs_event-get_v1_ex3.json"
    )
    master = event_from_graph(item, CAL)
    assert master.title == "Daily stand-up"
    assert _utc(master.when) == (
        dt.datetime(2020, 4, 23, 11, 30, tzinfo=UTC),
        dt.datetime(2020, 4, 23, 12, tzinfo=UTC),
    )
    assert [occurrence_date_from_oid(s) for s in item["cancelledOccurrences"]] == [
        dt.date(2020, 4, 30),
        dt.date(2020, 5, 7),
        dt.date(2020, 5, 14),
    ]
    (exception,) = exceptions_from_master(item, CAL)
    assert exception.ref == EventRef(Provider.MICROSOFT, CAL, "AAMkADM0ZGRhMjdjLTA==")
    assert exception.title == "SM update 24"  # spelled "Subject" in the documented response
    assert exception.series_id == "AAMkADAGAADDdm4NAAA="
    assert exception.original_start == dt.datetime(2020, 5, 21, 11, 30, tzinfo=UTC)
    assert _utc(exception.when)[0] == dt.datetime(2020, 5, 21, 11, 30, tzinfo=UTC)


def test_delta_pages_and_removed_items() -> None:
    page = load_payload("graph_calendarView_delta_round2_removed__docs_delta-query-events.json")
    removed, changed = page["value"]
    with pytest.raises(ValueError, match="deletion"):
        event_from_graph(removed, CAL)
    event = event_from_graph(changed, CAL)
    assert event.title == "Attend service" and event.location == "Chapel of Saint Ignatius"
    assert event.description == "" and event.description_html is None  # nothing to keep
    assert event.organizer is None  # the mailbox owner's own event, no attendees
    assert _utc(event.when) == (
        dt.datetime(2016, 12, 25, 6, tzinfo=UTC),
        dt.datetime(2016, 12, 25, 7, 30, tzinfo=UTC),
    )


def test_occurrence_stub_from_delta() -> None:
    stub = load_payload("graph_calendarView_delta_occurrence_stub__issue_msgraph-docs_22197.json")
    event = event_from_graph(stub, CAL)
    start = dt.datetime(2023, 7, 23, 10, 25, tzinfo=UTC)
    assert event.when == TimeSpan(start, start + dt.timedelta(minutes=30), "UTC", "UTC")
    assert (event.series_id, event.original_start) == ("seriesMasterId", start)
    assert event.etag == 'W/"DwAAABYAAAC9YbapXssvT4RTG13UUr6AAAhT48i7"'


def test_the_documented_extended_property_request_is_read() -> None:
    body = load_payload("graph_event_create_with_singleValueExtendedProperty_request__docs.json")
    stored = {**body, "id": "x", "singleValueExtendedProperties": [
        *body["singleValueExtendedProperties"],
        {"id": TAG_PROP.upper().replace(" ", "  "), "value": "link-1"},  # echoed differently
    ]}  # fmt: skip
    event = event_from_graph(stored, CAL)
    assert event.tag == "link-1" and event.color is None
    assert _utc(event.when)[0] == dt.datetime(2015, 11, 27, 2, tzinfo=UTC)


# --- reading details ------------------------------------------------------------------------------


def _item(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "AAMkEv=",
        "type": "singleInstance",
        "subject": "Plan",
        "start": {"dateTime": "2026-03-09T14:30:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-09T15:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Eastern Standard Time",
        "originalEndTimeZone": "Eastern Standard Time",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _props(**values: str) -> list[dict[str, str]]:
    ids = {"tag": TAG_PROP, "color": COLOR_PROP, "reminders": REMINDERS_PROP, "zone": ZONE_PROP,
           "status": STATUS_PROP, "body": BODY_PROP}  # fmt: skip
    return [{"id": ids[k], "value": v} for k, v in values.items()]


def test_times_are_shown_in_the_events_zone() -> None:
    event = event_from_graph(_item(), CAL)
    assert isinstance(event.when, TimeSpan)
    assert event.when.start_tz == "America/New_York"
    assert event.when.start.utcoffset() == dt.timedelta(hours=-4)
    assert event.when.start.hour == 10


@pytest.mark.parametrize("zone", ["tzone://Microsoft/Custom", "Customized Time Zone", "Nowhere"])
def test_custom_or_unknown_zones_read_as_utc(zone: str) -> None:
    event = event_from_graph(_item(originalStartTimeZone=zone, originalEndTimeZone=zone), CAL)
    assert isinstance(event.when, TimeSpan) and event.when.start_tz == "UTC"
    assert event.when.start == dt.datetime(2026, 3, 9, 14, 30, tzinfo=UTC)


def test_stored_zone_is_kept_only_while_graph_reports_what_we_wrote() -> None:
    stored = _props(zone=json.dumps({"start": "America/Toronto", "end": "America/Toronto",
                                     "sent": ["Eastern Standard Time"] * 2}))  # fmt: skip
    event = event_from_graph(_item(singleValueExtendedProperties=stored), CAL)
    assert isinstance(event.when, TimeSpan) and event.when.start_tz == "America/Toronto"
    moved = _item(singleValueExtendedProperties=stored, originalStartTimeZone="GMT Standard Time")
    after = event_from_graph(moved, CAL)
    assert isinstance(after.when, TimeSpan) and after.when.start_tz == "Europe/London"
    assert after.when.end_tz == "America/New_York"


def test_all_day_reads_local_dates() -> None:
    midnight = _item(
        isAllDay=True,
        start={"dateTime": "2026-03-09T00:00:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2026-03-11T00:00:00.0000000", "timeZone": "UTC"},
    )
    assert event_from_graph(midnight, CAL).when == DaySpan(
        dt.date(2026, 3, 9), dt.date(2026, 3, 11)
    )
    converted = _item(  # if a server converted them anyway: back into the event's zone
        isAllDay=True,
        start={"dateTime": "2026-03-09T05:00:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2026-03-10T04:00:00.0000000", "timeZone": "UTC"},
    )
    assert event_from_graph(converted, CAL).when == DaySpan(
        dt.date(2026, 3, 9), dt.date(2026, 3, 10)
    )


def test_all_day_exception_original_start_is_a_date() -> None:
    item = _item(
        type="exception",
        seriesMasterId="AAMkMaster=",
        isAllDay=True,
        originalStartTimeZone="Pacific Standard Time",
        originalStart="2026-03-10T07:00:00Z",
        start={"dateTime": "2026-03-12T00:00:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2026-03-13T00:00:00.0000000", "timeZone": "UTC"},
    )
    event = event_from_graph(item, CAL)
    assert event.original_start == dt.date(2026, 3, 10) and event.series_id == "AAMkMaster="


def test_people_flags_and_fallbacks() -> None:
    item = _item(
        showAs="someNewValue",
        sensitivity="personal",
        isCancelled=True,
        isOrganizer=False,
        isReminderOn=False,
        reminderMinutesBeforeStart=30,
        categories=["Red category", "Travel"],
        organizer={"emailAddress": {"name": "Boss", "address": "boss@contoso.example"}},
        attendees=[
            {"type": "optional", "status": {"response": "tentativelyAccepted"},
             "emailAddress": {"name": "A", "address": "a@x.example"}},
            {"type": "resource", "status": {"response": "organizer"},
             "emailAddress": {"address": "room@x.example"}},
            {"type": "required", "status": {"response": "notResponded"},
             "emailAddress": {"name": "C", "address": "c@x.example"}},
            {"type": "required", "status": {"response": "declined"},
             "emailAddress": {"name": "D", "address": "d@x.example"}},
        ],
        onlineMeeting={"joinUrl": "https://teams.example/l/meetup-join/1"},
    )  # fmt: skip
    event = event_from_graph(item, CAL)
    assert event.show_as is ShowAs.BUSY and event.privacy is Privacy.PERSONAL
    assert event.status is Status.CANCELLED
    assert event.reminders == () and not event.reminders_default
    assert event.categories == ("Red category", "Travel")
    assert event.organizer == Person("boss@contoso.example", "Boss")
    assert event.attendees == (
        Attendee("a@x.example", "A", Response.TENTATIVE, optional=True),
        Attendee("room@x.example", "", Response.ACCEPTED, resource=True),
        Attendee("c@x.example", "C", Response.NEEDS_ACTION),
        Attendee("d@x.example", "D", Response.DECLINED),
    )
    assert event.online_meeting_url == "https://teams.example/l/meetup-join/1"


@pytest.mark.parametrize(
    ("stored", "on", "minutes", "expected"),
    [
        ({"default": True, "list": []}, True, 15, ((), True)),
        ({"default": False, "list": [[10, "popup"], [1440, "email"]]}, True, 10,
         ((Reminder(10), Reminder(1440, "email")), False)),
        ({"default": False, "list": [[60, "email"]]}, False, 15, ((Reminder(60, "email"),), False)),
        # changed in Outlook since we wrote it: Outlook's reminder wins
        ({"default": True, "list": []}, True, 30, ((Reminder(30),), False)),
        ({"default": False, "list": [[10, "popup"]]}, False, 10, ((), False)),
    ],
)  # fmt: skip
def test_reminders(stored: dict[str, Any], on: bool, minutes: int, expected: Any) -> None:
    item = _item(isReminderOn=on, reminderMinutesBeforeStart=minutes,
                 singleValueExtendedProperties=_props(reminders=json.dumps(stored)))  # fmt: skip
    event = event_from_graph(item, CAL)
    assert (event.reminders, event.reminders_default) == expected


def test_meeting_details_in_a_copy_read_back_from_html() -> None:
    details = copynote.MeetingDetails(
        Person("boss@x.example", "Boss"),
        (Attendee("a@x.example", "A & B", Response.ACCEPTED),),
        "https://meet.example/abc",
    )
    mine = "<p>Agenda &amp; notes</p>"
    content = graph_render.html_document(copynote.append_html(mine, details))
    item = _item(body={"contentType": "html", "content": content},
                 organizer={"emailAddress": ME}, isOrganizer=True, attendees=[])  # fmt: skip
    event = event_from_graph(item, CAL)
    assert (event.description, event.description_html) == ("Agenda & notes", mine)
    assert event.organizer == details.organizer and event.attendees == details.attendees
    assert event.online_meeting_url == "https://meet.example/abc"


def test_text_rendered_as_html_by_graph_reads_as_text_until_edited() -> None:
    text = "line one\n\n  two <b>not bold</b> & more\r\nend"
    event = Event(
        ref=None, when=DaySpan(dt.date(2026, 1, 1), dt.date(2026, 1, 2)), description=text
    )
    back, _, _ = round_trip(event, html_bodies=True)
    assert (back.description, back.description_html) == (text, None)
    body, _ = event_to_graph(event)
    item = simulated_server(body, event, html_bodies=True)
    item["body"]["content"] = item["body"]["content"].replace("end", "<b>end, edited</b>")
    edited = event_from_graph(item, CAL)
    assert edited.description_html is not None and edited.description.endswith("end, edited")


# --- bad data -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"start": None}, "start.dateTime is missing"),
        ({"end": {"timeZone": "UTC"}}, "end.dateTime is missing"),
        ({"start": {"dateTime": "next tuesday", "timeZone": "UTC"}}, "not a Graph dateTime"),
        ({"start": {"dateTime": "2026-02-30T10:00:00", "timeZone": "UTC"}}, "invalid"),
        ({"start": {"dateTime": "2026-03-09T10:00:00", "timeZone": "Mars/Olympus"}}, "unknown"),
        ({"end": {"dateTime": "2026-03-09T10:00:00", "timeZone": "UTC"}}, "ends"),
        ({"subject": 42}, "subject is a int"),
        ({"isAllDay": "yes"}, "isAllDay is a str"),
        ({"body": "<p>x</p>"}, "body is a str"),
        ({"categories": ["a", 3]}, "categories holds"),
        ({"attendees": {"emailAddress": {}}}, "attendees is a dict"),
        ({"attendees": [{"type": "required", "emailAddress": {"name": "x"}}]}, "no e-mail"),
        ({"reminderMinutesBeforeStart": True}, "reminderMinutesBeforeStart is a bool"),
        ({"type": "exception", "seriesMasterId": "m", "originalStart": "soon"}, "originalStart"),
        ({"lastModifiedDateTime": "yesterday"}, "lastModifiedDateTime"),
        ({"isAllDay": True, "end": {"dateTime": "2026-03-09T00:00:00", "timeZone": "UTC"},
          "start": {"dateTime": "2026-03-09T00:00:00", "timeZone": "UTC"}}, "all-day"),
        ({"type": "seriesMaster", "recurrence": {"pattern": {"type": "weekly"}},
          "cancelledOccurrences": ["2026-03-16"]}, "occurrence id"),
    ],
)  # fmt: skip
def test_unreadable_items_name_the_event(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unparseable, match=r"'AAMkEv=' .*" + reason):
        event_from_graph(_item(**fields), CAL)


@pytest.mark.parametrize("item", [[], "AAMk", {"subject": "no id"}, {"id": 7}])
def test_items_without_an_id(item: Any) -> None:
    with pytest.raises(Unparseable):
        event_from_graph(item, CAL)


def test_occurrence_ids() -> None:
    assert occurrence_date_from_oid("OID.AAMkADAGAADDdm4NAAA=.2020-04-30") == dt.date(2020, 4, 30)
    assert occurrence_date_from_oid("OID.a.b=.2020-02-29") == dt.date(2020, 2, 29)
    for bad in ("AAMk.2020-04-30", "OID.x.20200430", "OID.x.2020-02-30", "OID..", None):
        with pytest.raises(ValueError):
            occurrence_date_from_oid(bad)  # type: ignore[arg-type]


# --- writing --------------------------------------------------------------------------------------


def _event(**fields: Any) -> Event:
    start = dt.datetime(2026, 3, 9, 10, 30, tzinfo=ZoneInfo("America/New_York"))
    end = start + dt.timedelta(minutes=30)
    when = TimeSpan(start, end, "America/New_York", "America/New_York")
    return Event(**{"ref": None, "title": "Plan", "when": when, **fields})


def test_queries() -> None:
    assert (
        expand_query()
        == "singleValueExtendedProperties($filter="
        + " or ".join(f"id eq '{p}'" for p in PROPERTIES)
        + ")"
    )
    assert all(p.startswith("String {") and " Name meridian" in p for p in PROPERTIES)
    assert len({p.split()[1] for p in PROPERTIES}) == 1  # one GUID namespace
    assert tag_filter("o'brien:1") == (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{TAG_PROP}' and ep/value eq 'o''brien:1')"
    )


def test_body_of_a_plain_event() -> None:
    body, losses = event_to_graph(_event(location="Room 1", categories=("Blue",), tag="t-1"))
    assert losses == ()
    props = {p["id"]: p["value"] for p in body.pop("singleValueExtendedProperties")}
    assert body == {
        "subject": "Plan",
        "body": {"contentType": "text", "content": ""},
        "start": {"dateTime": "2026-03-09T10:30:00.0000000", "timeZone": "Eastern Standard Time"},
        "end": {"dateTime": "2026-03-09T11:00:00.0000000", "timeZone": "Eastern Standard Time"},
        "isAllDay": False,
        "showAs": "busy",
        "sensitivity": "normal",
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "categories": ["Blue"],
        "location": {"displayName": "Room 1"},
    }
    assert (
        props[TAG_PROP] == "t-1" and props[COLOR_PROP] == "" and props[STATUS_PROP] == "confirmed"
    )
    assert set(props) == set(PROPERTIES) - {SYNCED_PROP}  # written with a fingerprint only
    assert "transactionId" not in body  # the provider's


def test_never_writes_guests_but_carries_them_in_the_body() -> None:
    who = (Attendee("a@x.example", "A", Response.ACCEPTED), Attendee("b@x.example", optional=True))
    event = _event(description="Hi", organizer=Person("boss@x.example"), attendees=who)
    body, _ = event_to_graph(event)
    assert "attendees" not in body and "organizer" not in body
    assert body["body"]["content"].startswith("Hi\n\n" + copynote.MARKER_START)
    html_body, _ = event_to_graph(event.with_changes(description_html="<b>Hi</b>"))
    assert html_body["body"]["contentType"] == "html"
    assert html_body["body"]["content"].startswith("<b>Hi</b><pre>" + copynote.MARKER_START)


def test_all_day_bodies_use_one_zone() -> None:
    event = _event(when=DaySpan(dt.date(2026, 3, 9), dt.date(2026, 3, 10)))
    body, _ = event_to_graph(event, all_day_zone="Europe/Berlin")
    assert body["isAllDay"] is True
    assert body["start"] == {"dateTime": "2026-03-09T00:00:00.0000000",
                             "timeZone": "W. Europe Standard Time"}  # fmt: skip
    assert body["end"]["timeZone"] == body["start"]["timeZone"]
    assert event_to_graph(event, all_day_zone="Nowhere")[0]["start"]["timeZone"] == "UTC"
    back, _, _ = round_trip(event, all_day_zone="Pacific Standard Time")
    assert back.when == event.when


def test_limits_are_losses() -> None:
    body, losses = event_to_graph(_event(title="x" * 300, description="y" * 40_000))
    assert len(body["subject"]) == MAX_SUBJECT and body["subject"].endswith("…")
    assert len(body["body"]["content"]) == MAX_BODY_CHARS
    assert body["body"]["content"].endswith(SHORTENED)
    assert losses == (
        "the title was shortened to 255 characters",
        "the description was shortened to 32,000 characters",
    )
    body, losses = event_to_graph(_event(description="z", description_html="<b>z</b>" * 5000))
    assert body["body"] == {"contentType": "text", "content": "z"}
    assert losses == ("the description was too long for Outlook and lost its formatting",)
    _, losses = event_to_graph(_event(status=Status.CANCELLED))
    assert losses == ("Outlook cannot mark an event cancelled: it shows there as a normal event",)


def test_the_repeated_hour_is_written_in_utc_for_a_single() -> None:
    ny = ZoneInfo("America/New_York")
    second = dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ny)  # 06:30Z, not 05:30Z
    event = _event(when=TimeSpan(second, second + dt.timedelta(hours=1), ny.key, ny.key))
    body, losses = event_to_graph(event)
    assert losses == ()
    assert body["start"] == {"dateTime": "2026-11-01T06:30:00.0000000", "timeZone": "UTC"}
    assert body["end"]["timeZone"] == "Eastern Standard Time"
    back, _, _ = round_trip(event)
    assert back.content_hash() == event.content_hash()
    assert isinstance(back.when, TimeSpan) and back.when.start_tz == ny.key


def test_series_with_cancelled_occurrences_round_trip() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 3, 2, 9, tzinfo=berlin)  # a Monday; clocks change on the 29th
    skipped = dt.datetime(2026, 3, 30, 7, tzinfo=UTC)  # 09:00 CEST
    when = TimeSpan(start, start + dt.timedelta(hours=1), berlin.key, berlin.key)
    event = _event(when=when, recurrence=Recurrence("FREQ=WEEKLY;BYDAY=MO;COUNT=8", (skipped,)))
    body, losses = event_to_graph(event)
    assert losses == ()
    assert body["recurrence"] == {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"],
                    "firstDayOfWeek": "monday"},
        "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 8,
                  "recurrenceTimeZone": "W. Europe Standard Time"},
    }  # fmt: skip
    assert "cancelledOccurrences" not in body  # the provider deletes that occurrence after
    back, _, _ = round_trip(event)
    assert back.recurrence == event.recurrence
    assert back.content_hash() == event.content_hash()
    days = DaySpan(dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    all_day = _event(when=days, recurrence=Recurrence("FREQ=DAILY;COUNT=5", (dt.date(2026, 3, 4),)))
    back, losses, _ = round_trip(all_day, all_day_zone="Pacific Standard Time")
    assert losses == () and back.content_hash() == all_day.content_hash()


def test_a_series_in_a_zone_outlook_does_not_know_repeats_in_utc() -> None:
    troll = ZoneInfo("Antarctica/Troll")
    start = dt.datetime(2026, 3, 2, 9, tzinfo=troll)
    when = TimeSpan(start, start + dt.timedelta(hours=1), troll.key, troll.key)
    event = _event(when=when, recurrence=Recurrence("FREQ=WEEKLY;BYDAY=MO"))
    back, losses, body = round_trip(event)
    assert losses == (
        "time zone Antarctica/Troll is unknown to Outlook; written in UTC",
        "Outlook repeats the series in UTC, whose clock changes differ from Antarctica/Troll's",
    )
    assert body["recurrence"]["range"]["recurrenceTimeZone"] == "UTC"
    assert isinstance(back.when, TimeSpan) and back.when.start_tz == "UTC"
    assert _utc(back.when) == _utc(event.when)


# --- round trips ----------------------------------------------------------------------------------

# Zones Outlook knows under a Windows name whose default zone is another one, and zones it does
# not know at all (no CLDR row).
OTHER_001 = ("America/Toronto", "Africa/Accra", "America/Indiana/Petersburg", "Europe/Oslo")
NO_WINDOWS = ("Antarctica/Troll", "EST5EDT", "PST8PDT")


def _rezoned(zones: tuple[str, ...]) -> st.SearchStrategy[Event]:
    @st.composite
    def build(draw: st.DrawFn) -> Event:
        event = draw(EVENTS)
        if not isinstance(event.when, TimeSpan):
            return event
        zs, ze = draw(st.sampled_from(zones)), draw(st.sampled_from(zones))
        start = event.when.start.astimezone(ZoneInfo(zs))
        end = event.when.end.astimezone(ZoneInfo(ze))
        when = TimeSpan(start, end, zs, ze)
        if event.recurrence is not None:  # a rule fits its start's local day
            return event.with_changes(when=when, recurrence=draw(strategies.recurrences(when)))
        return event.with_changes(when=when)

    return build().map(_canonical)


def _canonical(event: Event) -> Event:
    """The drawn series' rule in core.recurrence's normal form, as every provider reads it."""
    if event.recurrence is None:
        return event
    rule = normalize_rrule(event.recurrence.rrule, when=event.when)
    return event.with_changes(recurrence=event.recurrence.__class__(rule))


EVENTS = strategies.events(MAX_BODY_CHARS).map(_canonical)


def _check(event: Event, back: Event, losses: tuple[str, ...], body: dict[str, Any]) -> None:
    if losses == ("unmappable",):
        return
    assert "attendees" not in body and "organizer" not in body
    if within_limits(event) and not losses:
        assert content_dict(back) == content_dict(event)
        assert back.content_hash() == event.content_hash()
        assert (back.tag, back.series_id) == (event.tag, event.series_id)
        if isinstance(event.when, TimeSpan):
            assert isinstance(back.when, TimeSpan)
            assert (back.when.start_tz, back.when.end_tz) == (
                event.when.start_tz,
                event.when.end_tz,
            )
        if event.description_html is not None:
            assert back.description_html == event.description_html
        return
    assert losses
    fold = any("repeated hour" in x for x in losses)
    assert fold or _utc(back.when) == _utc(event.when)  # instants never move
    if len(event.title) > MAX_SUBJECT:
        assert back.title == event.title[: MAX_SUBJECT - 1] + "…"
    else:
        assert back.title == event.title
    same = {"reminders", "categories", "color", "attendees", "organizer", "privacy", "show_as"}
    assert {k: v for k, v in content_dict(back).items() if k in same} == {
        k: v for k, v in content_dict(event).items() if k in same
    }


@given(EVENTS)
def test_round_trips(event: Event) -> None:
    back, losses, body = round_trip(event)
    _check(event, back, losses, body)
    if within_limits(event):  # only a series can lose anything: a start in a repeated hour
        assert all("repeated hour" in x for x in losses) or losses == ("unmappable",)
    # Graph's default answer renders a text body as HTML: it reads back the same.
    _check(event, *round_trip(event, html_bodies=True))
    # What came back once comes back unchanged.
    twice, again, _ = round_trip(back)
    assert again == () or again == losses == ("unmappable",)
    assert twice.content_hash() == back.content_hash()


@given(_rezoned(OTHER_001 + NO_WINDOWS))
def test_zones_outlook_knows_by_another_name_or_not_at_all(event: Event) -> None:
    back, losses, body = round_trip(event)
    if losses == ("unmappable",):  # a series whose rule does not fit its day in Outlook's zone
        assert event.recurrence is not None
        return
    if isinstance(event.when, TimeSpan):
        zone = event.when.start_tz
        if zone in NO_WINDOWS:
            assert f"time zone {zone} is unknown to Outlook; written in UTC" in losses
            assert body["start"]["timeZone"] == "UTC"
        if event.recurrence is None:  # a single keeps its instants and its zones
            assert _utc(back.when) == _utc(event.when)
            assert (within_limits(event) and back.content_hash() == event.content_hash()) or (
                not within_limits(event)
            )
    _check(event, back, losses, body)


@given(EVENTS)
def test_google_to_canonical_to_graph_to_canonical(event: Event) -> None:
    g_body, _ = event_to_google(event)
    from_google = event_from_google(json.loads(json.dumps(google_server(g_body))), "me@gmail.com")
    back, losses, body = round_trip(from_google)
    _check(from_google, back, losses, body)
