"""Declining an invitation through each provider: Graph's decline action, Google's self attendee
patched to "declined", the memory double; who is told, and what is refused (own meetings, events
one is not invited to). Also: each cloud's web link reaches the Event."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from contract import window_around
from test_google_contract import make_provider
from test_microsoft_contract import connect

from app.core.model import Attendee, Event, Person, Response, TimeSpan
from app.errors import NotFound, Rejected
from app.providers.memory import MemoryProvider
from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.sandbox.server import Sandbox

TODAY = dt.date.today()


def _at(hour: int) -> dict[str, str]:
    day = TODAY + dt.timedelta(days=3)
    return {"dateTime": f"{day.isoformat()}T{hour:02d}:00:00", "timeZone": "UTC"}


def _send(sandbox: Sandbox, user: SandboxUser, method: str, url: str, **kw: Any) -> Any:
    http = trusting_session(sandbox.ca_cert)
    r = http.request(method, url, headers=user.auth(), timeout=10, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


# --- Outlook -------------------------------------------------------------------------------


def test_outlook_declines_an_invitation_and_tells_the_organizer_when_asked(
    sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    boss = admin.create_user("microsoft", f"boss-{uuid.uuid4().hex[:8]}@example.com")
    graph = sandbox.urls.graph
    invite = {
        "subject": "Planning",
        "start": _at(9),
        "end": _at(10),
        "attendees": [{"emailAddress": {"address": ms_user.email, "name": "Me"}}],
    }
    own = _send(sandbox, boss, "POST", f"{graph}/me/events", json=invite)
    me = connect(sandbox, admin, ms_user)
    [ev] = me.provider.read_changes(me.calendar_id, None, window_around(TODAY)).events
    assert ev.title == "Planning" and ev.organizer is not None
    assert ev.organizer.email == boss.email
    assert [a.email for a in ev.attendees] == [ms_user.email]
    assert ev.web_link is not None and ev.web_link.startswith("https://outlook.office365.com/")
    assert ev.ref is not None

    boss_side = connect(sandbox, admin, boss)
    with pytest.raises(Rejected) as refused:
        boss_side.provider.decline(boss_side.calendar_id, own["id"])
    assert refused.value.title == "You organize this meeting"

    me.provider.decline(me.calendar_id, ev.ref.event_id, comment="Clash", notify=True)
    assert me.provider.get_events(me.calendar_id, [ev.ref.event_id]) == {ev.ref.event_id: None}
    assert [(m["kind"], m["recipients"]) for m in admin.outbox(ms_user.id)] == [
        ("response", [boss.email])
    ]
    seen = _send(sandbox, boss, "GET", f"{graph}/me/events/{own['id']}")
    assert [a["status"]["response"] for a in seen["attendees"]] == ["declined"]
    with pytest.raises(NotFound):
        me.provider.decline(me.calendar_id, ev.ref.event_id)
    assert me.provider.stats.by_kind["respond"] == 1


def test_outlook_declines_quietly_when_asked_not_to_tell(
    sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    boss = admin.create_user("microsoft", f"boss-{uuid.uuid4().hex[:8]}@example.com")
    invite = {
        "subject": "Optional sync",
        "start": _at(11),
        "end": _at(12),
        "attendees": [{"emailAddress": {"address": ms_user.email}}],
    }
    _send(sandbox, boss, "POST", f"{sandbox.urls.graph}/me/events", json=invite)
    me = connect(sandbox, admin, ms_user)
    [ev] = me.provider.read_changes(me.calendar_id, None, window_around(TODAY)).events
    assert ev.ref is not None
    me.provider.decline(me.calendar_id, ev.ref.event_id, notify=False)
    assert admin.outbox(ms_user.id) == []


# --- Google --------------------------------------------------------------------------------


def _import(sandbox: Sandbox, user: SandboxUser, **fields: Any) -> dict[str, Any]:
    body = {
        "summary": "Partner call",
        "iCalUID": f"{uuid.uuid4().hex}@partner.example",
        "start": _at(14),
        "end": _at(15),
        **fields,
    }
    url = f"{sandbox.urls.google_api}calendars/primary/events/import"
    return dict(_send(sandbox, user, "POST", url, json=body))


def test_google_declines_by_patching_its_own_guest_entry(
    sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser
) -> None:
    organizer = "dana@partner.example"
    raw = _import(
        sandbox,
        google_user,
        organizer={"email": organizer, "displayName": "Dana"},
        attendees=[
            {"email": organizer, "responseStatus": "accepted"},
            {"email": google_user.email},
            {"email": "sam@partner.example", "responseStatus": "accepted"},
        ],
    )
    p = make_provider(sandbox, google_user)
    cal = google_user.email
    [ev] = p.find_by_ical_uid(cal, raw["iCalUID"])
    assert ev.web_link == raw["htmlLink"]
    assert ev.organizer == Person(organizer, "Dana")

    p.decline(cal, raw["id"], comment="Double-booked", notify=True)
    after = p.get_events(cal, [raw["id"]])[raw["id"]]
    assert after is not None
    responses = {a.email: a.response for a in after.attendees}
    assert responses == {
        organizer: Response.ACCEPTED,
        google_user.email: Response.DECLINED,
        "sam@partner.example": Response.ACCEPTED,  # the others' answers are kept
    }
    assert [(m["kind"], m["recipients"]) for m in admin.outbox(google_user.id)] == [
        ("reply", [organizer])
    ]
    stored = _send(
        sandbox, google_user, "GET", f"{sandbox.urls.google_api}calendars/{cal}/events/{raw['id']}"
    )
    mine = next(a for a in stored["attendees"] if a.get("self"))
    assert mine["comment"] == "Double-booked"


def test_google_refuses_what_is_no_invitation(
    sandbox: Sandbox, admin: SandboxAdmin, google_user: SandboxUser
) -> None:
    p = make_provider(sandbox, google_user)
    cal = google_user.email
    own = _send(
        sandbox,
        google_user,
        "POST",
        f"{sandbox.urls.google_api}calendars/primary/events",
        json={
            "summary": "Mine",
            "start": _at(8),
            "end": _at(9),
            "attendees": [{"email": "x@y.example"}],
        },
    )
    with pytest.raises(Rejected) as organizes:
        p.decline(cal, own["id"])
    assert organizes.value.title == "You organize this meeting"
    foreign = _import(
        sandbox, google_user, organizer={"email": "a@partner.example"},
        attendees=[{"email": "a@partner.example"}, {"email": "b@partner.example"}],
    )  # fmt: skip
    with pytest.raises(Rejected) as stranger:
        p.decline(cal, foreign["id"])
    assert stranger.value.title == "Not invited"
    with pytest.raises(NotFound):
        p.decline(cal, "nosuchevent12")
    assert admin.outbox(google_user.id) == []


# --- the memory double -----------------------------------------------------------------------


def test_memory_declines_like_the_clouds() -> None:
    p = MemoryProvider()
    p.add_calendar("work", owner="me@example.com")
    start = dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC)
    when = TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC")
    boss = Person("boss@example.com", "Boss")
    invite = p.put(
        "work",
        Event(
            None,
            when,
            "Review",
            organizer=boss,
            attendees=(Attendee("boss@example.com"), Attendee("Me@example.com")),
        ),
    )
    own = p.put("work", Event(None, when, "Mine", organizer=Person("me@example.com")))
    assert invite.ref is not None and own.ref is not None
    p.decline("work", invite.ref.event_id, comment="Sorry")
    after = p.get_events("work", [invite.ref.event_id])[invite.ref.event_id]
    assert after is not None and after.etag != invite.etag
    assert [a.response for a in after.attendees] == [Response.NEEDS_ACTION, Response.DECLINED]
    assert p.responses == [("boss@example.com", invite.ref.event_id, "Sorry")]
    with pytest.raises(Rejected):
        p.decline("work", own.ref.event_id)
    with pytest.raises(NotFound):
        p.decline("work", "nope")
