"""The shortcuts planning takes by the thousand give exactly what the plain code gives: views and
content dicts, JSON for field hashes, tags, UTC stamps and copies of frozen records."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from app.core import fingerprint, identity, model
from app.core import rules as rules_module
from app.core.evolve import evolve
from app.core.model import Event, EventRef, Provider, ShowAs, TimeSpan
from app.core.planner import Action, Kind, Link, Origin
from app.core.rules import PairRules, PrivacyMode
from tests.providers.strategies import events

JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
RULES = [
    PairRules(),
    PairRules(privacy=PrivacyMode.BUSY),
    PairRules(fields=frozenset({"time", "attendees", "reminders", "categories"})),
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text()
    | st.sampled_from(list(ShowAs)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),
    max_leaves=12,
)


@given(json_values)
def test_compact_json_is_the_encoders_text(value: Any) -> None:
    assert fingerprint.compact_json(value) == JSON.encode(value)


@given(events())
def test_content_dict_and_views_are_those_of_the_generic_walk(event: Event) -> None:
    generic = model._content_dict(event)
    assert json.dumps(model.content_dict(event)) == json.dumps(generic)
    for rules in RULES:
        expected = {f: generic[f] for f in rules.synced_fields if f in generic}
        assert json.dumps(rules.view(event)) == json.dumps(expected)


@given(events())
def test_a_copy_is_rendered_as_from_a_blank_event(event: Event) -> None:
    for rules in RULES:
        keep = set(rules.synced_fields)
        blank = Event(ref=None, when=event.when)
        values = {f: getattr(event if f in keep else blank, f) for f in rules_module._CONTENT}
        if rules.privacy is PrivacyMode.BUSY:
            values.update(title=rules.busy_title, privacy=model.Privacy.PRIVATE)
        expected = dataclasses.replace(blank, **values, tag="t", ref=None)
        assert repr(rules.render_copy(event, "t")) == repr(expected)


@given(st.text(), st.text(), st.text())
def test_tags_are_the_base32hex_of_their_digest(a: str, b: str, c: str) -> None:
    digest = hashlib.sha256("\x1f".join((a, b, c)).encode("utf-8")).digest()
    expected = "mrd1" + base64.b32hexencode(digest).decode("ascii").rstrip("=").lower()[:26]
    assert identity.tag_for(a, b, c) == expected


@given(
    st.datetimes(timezones=st.sampled_from([ZoneInfo("America/New_York"), dt.UTC])),
    st.integers(0, 1),
)
def test_utc_stamps_are_strftimes(value: dt.datetime, fold: int) -> None:
    value = value.replace(fold=fold)
    expected = value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert model._norm(value) == expected


def _event(title: str = "x") -> Event:
    start = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
    when = TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC")
    return Event(ref=EventRef(Provider.GOOGLE, "c", "e"), when=when, title=title)


def test_evolve_is_replace() -> None:
    ev = _event()
    assert evolve(ev, title="y", synced="1:") == dataclasses.replace(ev, title="y", synced="1:")
    action = Action(Kind.CREATE, event=ev)
    assert evolve(action, event=_event("z")) == dataclasses.replace(action, event=_event("z"))
    # A link's stored snapshots come out decoded, as replace reads them.
    stored = Link(1, Origin.A, "a", "b", "1", "2", '{"title": "x"}', None, None)
    lk = evolve(stored, a_etag="3")
    assert lk.__dict__["view"] == {"title": "x"} and lk == dataclasses.replace(stored, a_etag="3")
    # What it cannot copy goes through replace: a __post_init__, or a cached value.
    span = ev.when
    assert isinstance(span, TimeSpan)
    assert evolve(span, start_tz="Europe/Berlin").start_tz == "Europe/Berlin"
    cached = _Cached(2)
    assert cached.double == 4  # now in the instance's __dict__, and not to be carried over
    assert evolve(cached, n=3).double == 6


@dataclasses.dataclass(frozen=True)
class _Cached:
    n: int

    @functools.cached_property
    def double(self) -> int:
        return self.n * 2
