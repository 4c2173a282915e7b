"""The sandbox's shortcuts on its hot paths answer exactly what the plain computation answers.

Series expansions are memoised, query options parsed once per text, a Graph ``$batch`` embeds
its items' JSON as written and a Google batch is split with ``bytes.find``: each is checked here
against the computation it replaces, and the memos against edits made right after a read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_graph_support import Graph, daily, event

from app.sandbox import google_batch, graph_batch, graph_query, recurrence
from app.sandbox import graph_store as gs
from app.sandbox.admin import SandboxUser
from app.sandbox.httpcore import Headers, Request, Response, Router
from app.sandbox.server import Sandbox

JAN = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}


@pytest.fixture
def graph(sandbox: Sandbox, ms_user: SandboxUser) -> Graph:
    return Graph(sandbox, ms_user)


def _occurrences(graph: Graph, master_id: str) -> list[dict[str, Any]]:
    r = graph.get(f"/me/events/{master_id}/instances", params={**JAN, "$top": 100})
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def _stored(sandbox: Sandbox, ms_user: SandboxUser, event_id: str) -> dict[str, Any]:
    return sandbox.state.data["graph"]["mailboxes"][ms_user.id]["events"][event_id]  # type: ignore[no-any-return]


# --- the series memo ---------------------------------------------------------------------------


def test_an_edited_series_renders_right_after_a_read(graph: Graph) -> None:
    master = graph.create(
        event(
            "Daily", "2030-01-06T09:00:00", "2030-01-06T09:30:00", recurrence=daily("2030-01-06", 6)
        )
    )
    occs = _occurrences(graph, master["id"])
    assert len(occs) == 6
    items, link, _ = graph.delta_round(None, "odata.maxpagesize=50")  # fills the memo
    assert {i["id"] for i in items} == {master["id"], *(o["id"] for o in occs)}
    assert graph.get(f"/me/events/{occs[5]['id']}").status_code == 200

    shorter = daily("2030-01-06", 3)
    r = graph.patch(f"/me/events/{master['id']}", json={"recurrence": shorter})
    assert r.status_code == 200, r.text
    assert [o["id"] for o in _occurrences(graph, master["id"])] == [o["id"] for o in occs[:3]]
    assert graph.get(f"/me/events/{occs[5]['id']}").status_code == 404
    items, link, _ = graph.delta_round(link)
    assert {i["id"] for i in items if "@removed" in i} == {o["id"] for o in occs[3:]}

    # Moving the series an hour later moves every occurrence: the old ids are gone.
    moved = {
        "start": {"dateTime": "2030-01-06T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-01-06T10:30:00", "timeZone": "UTC"},
    }
    assert graph.patch(f"/me/events/{master['id']}", json=moved).status_code == 200
    now = _occurrences(graph, master["id"])
    assert [o["start"]["dateTime"][:13] for o in now] == [
        "2030-01-06T10",
        "2030-01-07T10",
        "2030-01-08T10",
    ]
    assert all(graph.get(f"/me/events/{o['id']}").status_code == 404 for o in occs[:3])
    assert all(graph.get(f"/me/events/{o['id']}").status_code == 200 for o in now)
    items, _, _ = graph.delta_round(link)
    assert {i["id"] for i in items if "@removed" in i} == {o["id"] for o in occs[:3]}
    assert {i["id"] for i in items if i.get("type") == "occurrence"} == {o["id"] for o in now}


def test_the_memo_follows_edits_made_to_the_state_directly(
    graph: Graph, sandbox: Sandbox, ms_user: SandboxUser
) -> None:
    master = graph.create(
        event(
            "Daily", "2030-01-06T09:00:00", "2030-01-06T09:30:00", recurrence=daily("2030-01-06", 6)
        )
    )
    occs = _occurrences(graph, master["id"])
    assert graph.get(f"/me/events/{occs[4]['id']}").status_code == 200
    stored = _stored(sandbox, ms_user, master["id"])
    with sandbox.state.lock:
        stored["recurrence"]["range"]["numberOfOccurrences"] = 2  # in place, as a test might
    assert graph.get(f"/me/events/{occs[4]['id']}").status_code == 404
    assert len(_occurrences(graph, master["id"])) == 2
    with sandbox.state.lock:
        stored["recurrence"]["range"]["numberOfOccurrences"] = 6
        stored["startZone"] = "Tokyo Standard Time"  # the recurrence zone still rules
    assert graph.get(f"/me/events/{occs[4]['id']}").status_code == 200
    with sandbox.state.lock:
        stored["start"] = "2030-01-06T10:00:00+00:00"
        stored["end"] = "2030-01-06T10:30:00+00:00"
    assert graph.get(f"/me/events/{occs[4]['id']}").status_code == 404
    assert [o["start"]["dateTime"][11:16] for o in _occurrences(graph, master["id"])] == [
        "10:00"
    ] * 6


_ZONES = ("UTC", "Pacific Standard Time", "W. Europe Standard Time", "Tokyo Standard Time")
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


@st.composite
def _masters(draw: st.DrawFn) -> dict[str, Any]:
    zone = draw(st.sampled_from(_ZONES))
    day = dt.date(2029, 1, 1) + dt.timedelta(days=draw(st.integers(0, 900)))
    local = dt.datetime.combine(
        day, dt.time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
    )
    start = local.replace(tzinfo=gs.zone_or_utc(zone))
    kind = draw(st.sampled_from(["daily", "weekly", "absoluteMonthly"]))
    pattern: dict[str, Any] = {"type": kind, "interval": draw(st.integers(1, 3))}
    if kind == "weekly":
        pattern["daysOfWeek"] = draw(st.lists(st.sampled_from(_DAYS), min_size=1, unique=True))
    if kind == "absoluteMonthly":
        pattern["dayOfMonth"] = draw(st.integers(1, 31))
    rng: dict[str, Any] = {"type": draw(st.sampled_from(["numbered", "endDate", "noEnd"]))}
    rng["startDate"] = day.isoformat()
    if rng["type"] == "numbered":
        rng["numberOfOccurrences"] = draw(st.integers(1, 80))
    if rng["type"] == "endDate":
        rng["endDate"] = (day + dt.timedelta(days=draw(st.integers(0, 500)))).isoformat()
    rec = recurrence.normalize_graph_recurrence(
        {"pattern": pattern, "range": rng}, start, gs.windows_name(zone)
    )
    minutes = draw(st.sampled_from([0, 30, 60 * 26]))
    return {
        "id": "AAMkADRkZXN0",  # one id for every example: the memo must still tell them apart
        "start": gs.to_iso(start),
        "end": gs.to_iso(start + dt.timedelta(minutes=minutes)),
        "startZone": zone,
        "recurrence": rec,
    }


def _plain_expand(
    master: dict[str, Any], ws: dt.datetime | None, we: dt.datetime | None, limit: int
) -> list[recurrence.Occurrence]:
    first = gs.from_iso(master["start"]).astimezone(gs.series_zone(master))
    return recurrence.expand_graph(master["recurrence"], first, gs.duration(master), ws, we, limit)


@given(
    _masters(),
    st.integers(-30, 900),
    st.integers(0, 400),
    st.integers(1, 60),
    st.booleans(),
)
def test_memoised_expansion_equals_the_plain_one(
    master: dict[str, Any], offset: int, days: int, limit: int, open_start: bool
) -> None:
    first = gs.from_iso(master["start"])
    ws = None if open_start else first + dt.timedelta(days=offset, hours=offset % 7)
    we = first + dt.timedelta(days=offset + days)
    assert gs.expand(master, ws, we, limit) == _plain_expand(master, ws, we, limit)
    assert gs.expand(master, ws, we) == _plain_expand(master, ws, we, gs.MAX_EXPAND)
    for occ in _plain_expand(master, ws, we, 5):
        assert gs.is_series_start(master, occ.original_start_utc)
        assert not gs.is_series_start(master, occ.original_start_utc + dt.timedelta(minutes=1))
    assert not gs.is_series_start(master, first - dt.timedelta(days=1))


# --- query options, requests, routes -----------------------------------------------------------


def test_query_options_parse_the_same_every_time() -> None:
    known = frozenset({"subject", "start", "singleValueExtendedProperties"})
    text = "subject,Start , singleValueExtendedProperties"
    first = graph_query.parse_select(text, known)
    assert first == ["subject", "start", "singleValueExtendedProperties"]
    assert first is not None
    first.append("changed")  # the caller's copy only
    assert graph_query.parse_select(text, set(known)) == [
        "subject",
        "start",
        "singleValueExtendedProperties",
    ]
    expand = "a($filter=id eq 'x';$select=b),c"
    parsed = graph_query.parse_expand(expand, {"a", "c"})
    assert parsed == {"a": {"$filter": "id eq 'x'", "$select": "b"}, "c": {}}
    parsed["a"]["$select"] = "changed"
    assert graph_query.parse_expand(expand, {"a", "c"})["a"]["$select"] == "b"
    for _ in range(2):  # an error is raised every time, never remembered as an answer
        with pytest.raises(Exception, match="nope"):
            graph_query.parse_select("subject,nope", known)


def test_a_request_parses_its_current_target() -> None:
    req = Request("GET", "/a%20b?x=1&x=2&y=", Headers())
    assert (req.raw_path, req.path, req.arg("x"), req.args("x")) == (
        "/a%20b",
        "/a b",
        "2",
        ["1", "2"],
    )
    req.query["x"].append("3")  # a copy
    req.args("x").append("4")
    assert req.query == {"x": ["1", "2"], "y": [""]}
    req.target = "/c?z=9"
    assert (req.raw_path, req.path, req.query) == ("/c", "/c", {"z": ["9"]})


def test_router_memo_hands_out_fresh_params() -> None:
    router = Router()
    router.add(
        "google", "GET", "/cal/{calendarId}/events/{eventId}", "get", lambda ctx: Response(200)
    )
    one, known = router.match("GET", "/cal/a%40b/events/e1")
    assert one is not None and known and one.params == {"calendarId": "a@b", "eventId": "e1"}
    one.params["eventId"] = "changed"
    two, _ = router.match("GET", "/cal/a%40b/events/e1")
    assert two is not None and two.params == {"calendarId": "a@b", "eventId": "e1"}
    assert router.match("POST", "/cal/a%40b/events/e1") == (None, True)
    router.add(
        "google", "POST", "/cal/{calendarId}/events/{eventId}", "post", lambda c: Response(201)
    )
    three, _ = router.match("POST", "/cal/a%40b/events/e1")  # a new route is seen at once
    assert three is not None and three.route.endpoint == "post"


# --- the batch envelopes -----------------------------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(st.characters(blacklist_categories=("Cs",))),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.lists(st.tuples(st.integers(200, 599), _JSON, st.booleans()), min_size=1, max_size=5))
def test_graph_batch_embeds_item_bodies_as_decoding_would(
    items: list[tuple[int, Any, bool]],
) -> None:
    texts: dict[str, str] = {}
    responses, expected = [], []
    for n, (status, body, written) in enumerate(items):
        inner = Response.json(status, body, {"ETag": "x"})
        if not written:  # a body the sandbox did not write with Response.json
            inner = Response(status, inner.body, dict(inner.headers))
        responses.append(graph_batch._item_response(str(n), inner, texts))
        expected.append({**responses[-1], "body": json.loads(inner.body)})
    got = graph_batch._encode(207, responses, texts)
    want = Response.json(207, {"responses": expected})
    assert (got.status, got.headers, got.body) == (want.status, want.headers, want.body)


@given(
    st.binary(min_size=1, max_size=3).filter(lambda b: b"\r" not in b and b"\n" not in b),
    st.lists(
        st.sampled_from([b"\r", b"\n", b"-", b"a", b" ", b"\t", b"--", b"\r\n", b"MARK"]),
        max_size=16,
    ),
)
def test_google_batch_split_equals_the_regex_split(boundary: bytes, tokens: list[bytes]) -> None:
    marker = b"--" + boundary
    body = b"".join(marker if t == b"MARK" else t for t in tokens)
    delimiter = re.compile(rb"(?:^|\r?\n)" + re.escape(marker) + rb"(--)?[ \t]*")
    assert google_batch._split(body, marker, delimiter) == delimiter.split(body)
