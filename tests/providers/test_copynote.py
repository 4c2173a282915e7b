"""The meeting-details block round-trips, and a broken block is just description."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.model import Attendee, Person, Response
from app.providers import copynote
from app.providers.copynote import MeetingDetails

emails = st.from_regex(r"[a-z0-9._-]{1,12}@[a-z0-9-]{1,10}\.(com|org|example)", fullmatch=True)
names = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30).map(
    lambda s: " ".join(s.replace("<", " ").replace(">", " ").split())
)
attendees = st.builds(
    Attendee, emails, names, st.sampled_from(list(Response)), st.booleans(), st.booleans()
)
details = st.builds(
    MeetingDetails,
    st.none() | st.builds(Person, emails, names),
    st.lists(attendees, max_size=8).map(tuple),
    st.none() | st.sampled_from(["https://meet.example/abc-defg", "https://teams.example/l/1?x=y"]),
)
descriptions = st.text(max_size=300)


@given(descriptions, details)
def test_block_round_trips(description: str, d: MeetingDetails) -> None:
    text = copynote.append(description, d)
    head, parsed = copynote.split(text)
    if d.empty:
        assert text == description
    else:
        assert head == description
        assert parsed == d


def test_the_block_reads_like_prose() -> None:
    text = copynote.append(
        "Quarterly numbers.",
        MeetingDetails(
            Person("jordan@fabrikam.example", "Jordan Lee"),
            (Attendee("alex@contoso.com", "Alex", Response.ACCEPTED, optional=True),),
            "https://teams.example/l/1",
        ),
    )
    assert text == (
        "Quarterly numbers.\n\n"
        "-- Meridian: meeting details --\n"
        "Organizer: Jordan Lee <jordan@fabrikam.example>\n"
        "Join: https://teams.example/l/1\n"
        "Attendees:\n"
        "- Alex <alex@contoso.com> (accepted, optional)\n"
        "-- end of meeting details --"
    )


def test_an_edited_block_is_left_as_description() -> None:
    text = copynote.append("x", MeetingDetails(Person("a@b.com", "A")))
    edited = text.replace("Organizer: A <a@b.com>", "Organiser was A")
    assert copynote.split(edited) == (edited, None)
    trailing = text + "\nmore words"
    assert copynote.split(trailing) == (trailing, None)
