"""The last synced view's fingerprint: its format, and that both clouds keep it on an event
through our writes and through a person's edits (which is what a second device relies on)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from contract import window_around
from hypothesis import given
from hypothesis import strategies as st
from test_google_contract import make_provider
from test_microsoft_contract import connect

from app.core import fingerprint
from app.core.model import Event, TimeSpan
from app.providers.base import CalendarProvider
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox

VIEW = {"title": "Board", "location": "", "when": {"start": "2026-11-25T09:00:00Z"}}

views = st.dictionaries(
    st.sampled_from(["title", "when", "location", "description", "show_as"]),
    st.one_of(st.text(max_size=30), st.none(), st.dictionaries(st.text(max_size=5), st.text())),
)


@given(views, st.integers(min_value=0, max_value=10**9))
def test_a_fingerprint_reads_back_and_tells_which_fields_moved(
    view: dict[str, object], generation: int
) -> None:
    made = fingerprint.of_view(view, generation)
    read = fingerprint.parse(made.text())
    assert read == made
    assert not any(read.moved(view, f) for f in view)
    for f in view:
        assert read.moved({**view, f: ["something else"]}, f)


def test_a_merge_names_what_the_other_side_receives_and_who_missed_it() -> None:
    made = fingerprint.of_view(VIEW, 4, {"a": frozenset({"location", "title"}), "b": frozenset()})
    read = fingerprint.parse(made.text())
    assert read == made and made.text().endswith("|a=location+title")
    assert read.missed_by("a", fingerprint.of_view(VIEW, 3)) == {"location", "title"}
    assert read.missed_by("a", None) == {"location", "title"}
    assert read.missed_by("a", fingerprint.of_view(VIEW, 4)) == frozenset()  # it arrived
    assert read.missed_by("b", None) == frozenset()


def test_a_malformed_or_missing_fingerprint_does_not_count() -> None:
    bad = ("x:title=0123456789", "3", "3:title=short", "3:=0123456789", "3:a", "3:|a=", "3:|=t")
    for text in (None, "", *bad):
        assert fingerprint.parse(text) is None
    older, newer = fingerprint.of_view(VIEW, 2).text(), fingerprint.of_view({}, 5).text()
    picked = fingerprint.newest(older, None, "junk", newer)
    assert picked is not None and picked.generation == 5


def _event(synced: str) -> Event:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)
    when = TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC")
    return Event(ref=None, when=when, title="Board", synced=synced)


def _kept_through_edits(p: CalendarProvider, cal: str, key: str) -> None:
    text = fingerprint.of_view(VIEW, 7).text()
    made = p.create(cal, _event(text), key=key)
    assert made.synced == text and made.ref is not None
    # A person edits the title in their calendar app: the property stays as it was.
    p.update(cal, made.ref.event_id, replace(made, title="Board (moved)", synced=None))
    again = p.get_events(cal, [made.ref.event_id])[made.ref.event_id]
    assert again is not None and again.title == "Board (moved)" and again.synced == text
    # The next sync writes a newer one.
    newer = fingerprint.of_view({**VIEW, "title": "Board (moved)"}, 8).text()
    p.update(cal, made.ref.event_id, replace(again, synced=newer))
    if p.changes_lack_properties:  # Graph's delta leaves properties out: read by id
        read = [e for e in p.get_events(cal, [made.ref.event_id]).values() if e is not None]
    else:
        read = list(p.read_changes(cal, None, window_around(dt.date.today())).events)
    assert [e.synced for e in read if e.ref and e.ref.event_id == made.ref.event_id] == [newer]


def test_google_keeps_the_fingerprint(sandbox: Sandbox, google_user: SandboxUser) -> None:
    _kept_through_edits(
        make_provider(sandbox, google_user), google_user.email, "mrdfingerprint0001"
    )


def test_outlook_keeps_the_fingerprint(
    sandbox: Sandbox, admin: SandboxAdmin, ms_user: SandboxUser
) -> None:
    ms = connect(sandbox, admin, ms_user)
    _kept_through_edits(ms.provider, ms.calendar_id, "fingerprint-key-1")
