"""Hypothesis strategies for canonical Events, shared by the provider mapping tests.

Every event drawn here is one a provider must carry without loss when it fits the provider's
limits: instants at whole seconds (both clouds store no finer), zones that change offsets at odd
times (Lord Howe moves by 30 minutes, Chatham sits at +12:45) with instants clustered around their
transitions, all-day spans, unicode text without surrogates or NUL, 0..20 attendees, and HTML
descriptions whose ``description`` is exactly ``html_to_text(description_html)``, since that is
how such a description reads back.

``events(max_description=...)`` sizes the long descriptions around a provider's limit, so some
draws fit and some do not; the test decides which by the provider's own rule. Recurrence is drawn
only once ``app.core.recurrence`` exists (simple weekly/monthly rules).
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.util
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from app.core.model import (
    Attendee,
    DaySpan,
    Event,
    Person,
    Privacy,
    Recurrence,
    Reminder,
    Response,
    ShowAs,
    Status,
    TimeSpan,
)
from app.providers.htmltext import html_to_text

ZONES = (
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "UTC",
)
HAS_RECURRENCE = importlib.util.find_spec("app.core.recurrence") is not None

_LOW = dt.datetime(1971, 1, 1, tzinfo=dt.UTC)
_HIGH = dt.datetime(2099, 12, 31, tzinfo=dt.UTC)

# Text a person could type anywhere: any code point but surrogates (not encodable) and NUL.
_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
# Pieces that trip up text handling: markup, entities, line ends, the block's own markers.
_TRICKY = st.sampled_from(
    ["<b>", "</b>", "<br>", "<p>x</p>", "&amp;", "&", "<", ">", "\n", "\n\n", "\r\n", " ",
     "…", "🍽️", "-- Meridian: meeting details --", "-- end of meeting details --", "<a@b.c>"]
)  # fmt: skip
texts = st.one_of(
    st.text(_CHARS, max_size=80),
    st.lists(st.one_of(_TRICKY, st.text(_CHARS, max_size=5)), max_size=12).map("".join),
)
emails = st.from_regex(r"[a-z0-9._-]{1,12}@[a-z0-9-]{1,10}\.(com|org|example)", fullmatch=True)
# Display names as the meeting-details block keeps them: one line, no angle brackets, trimmed.
names = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=30).map(
    lambda s: " ".join(s.replace("<", " ").replace(">", " ").split())
)
persons = st.builds(Person, emails, names)
attendees = st.builds(
    Attendee, emails, names, st.sampled_from(list(Response)), st.booleans(), st.booleans()
)
meeting_urls = st.from_regex(
    r"https://meet\.example/[a-z0-9-]{1,20}(\?pwd=[A-Za-z0-9]{4})?", fullmatch=True
)
reminder_sets = st.one_of(
    st.just((True, ())),
    st.lists(
        st.builds(Reminder, st.integers(0, 40320), st.sampled_from(["popup", "email"])),
        max_size=5,
    ).map(lambda rs: (False, tuple(rs))),
)
categories = st.lists(st.text(_CHARS, min_size=1, max_size=20), max_size=4).map(tuple)
colors = st.none() | st.sampled_from([str(n) for n in range(1, 12)])
tags = st.none() | st.from_regex(r"[a-z0-9:-]{1,40}", fullmatch=True)
series_ids = st.from_regex(r"[a-v0-9]{10,26}", fullmatch=True)


@cache
def transitions(name: str) -> tuple[dt.datetime, ...]:
    """The instants (UTC, to the minute) at which ``name`` changed its offset in 2024-2027."""
    tz = ZoneInfo(name)
    found = []
    day = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    while day.year < 2028:
        nxt = day + dt.timedelta(days=1)
        if day.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo, hi = day, nxt  # the offset at lo differs from the offset at hi: bisect
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(second=0, microsecond=0))
        day = nxt
    return tuple(found)


def _any_instant() -> st.SearchStrategy[dt.datetime]:
    span = int((_HIGH - _LOW).total_seconds())
    return st.integers(0, span).map(lambda s: _LOW + dt.timedelta(seconds=s))


def instants(name: str) -> st.SearchStrategy[dt.datetime]:
    """UTC instants at whole seconds; for zones with DST, often within 3 hours of a change."""
    near = transitions(name)
    if not near:
        return _any_instant()
    close = st.builds(
        lambda t, s: t + dt.timedelta(seconds=s),
        st.sampled_from(near),
        st.integers(-3 * 3600, 3 * 3600),
    )
    return st.one_of(close, close, _any_instant())


@st.composite
def time_spans(draw: st.DrawFn) -> TimeSpan:
    start_tz = draw(st.sampled_from(ZONES))
    end_tz = draw(st.just(start_tz) | st.sampled_from(ZONES))
    start = draw(instants(start_tz))
    length = draw(st.sampled_from([0, 1800, 3600, 86400]) | st.integers(0, 3 * 86400))
    local_start = start.astimezone(ZoneInfo(start_tz))
    local_end = (start + dt.timedelta(seconds=length)).astimezone(ZoneInfo(end_tz))
    return TimeSpan(local_start, local_end, start_tz, end_tz)


day_spans = st.builds(
    lambda d, n: DaySpan(d, d + dt.timedelta(days=n)),
    st.dates(dt.date(1971, 1, 1), dt.date(2099, 12, 1)),
    st.integers(1, 30),
)


def long_texts(limit: int, spread: int = 2500) -> st.SearchStrategy[str]:
    """Texts from ``limit - spread`` to ``limit`` code points (a repeated random chunk)."""
    return st.builds(
        lambda chunk, n: (chunk * (n // len(chunk) + 1))[:n],
        st.text(_CHARS, min_size=1, max_size=12),
        st.integers(max(limit - spread, 0), limit),
    )


_FRAGMENTS = st.one_of(
    texts.map(html.escape),
    st.just("<br>"),
    texts.map(lambda t: f"<b>{html.escape(t)}</b>"),
    texts.map(lambda t: f"<p>{html.escape(t)}</p>"),
    texts.map(lambda t: f"<div><i>{html.escape(t)}</i></div>"),
    st.lists(texts, min_size=1, max_size=3).map(
        lambda ts: "<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in ts) + "</ul>"
    ),
    texts.map(lambda t: f'<a href="https://example.com/?a=1&amp;b=2">{html.escape(t)}</a>'),
    st.sampled_from(["&nbsp;", "&amp;", "&#233;", "&lt;b&gt;"]),
)
# Empty HTML carries no formatting: the mappers read it as "no HTML" (None), so it is not drawn.
html_bodies = st.lists(_FRAGMENTS, max_size=8).map("".join).filter(lambda h: h.strip() != "")


def descriptions(max_description: int) -> st.SearchStrategy[tuple[str, str | None]]:
    """(description, description_html): plain text, or HTML with its rendering."""
    plain = st.one_of(texts, texts, long_texts(max_description)).map(lambda t: (t, None))
    rich = html_bodies.map(lambda h: (html_to_text(h), h))
    return st.one_of(plain, plain, rich)


@st.composite
def recurrences(draw: st.DrawFn, when: TimeSpan | DaySpan) -> Recurrence:
    """Simple weekly/monthly rules on the start's day, in core.recurrence's normal form."""
    from app.core.recurrence import normalize_rrule

    day = when.start.date() if isinstance(when, TimeSpan) else when.start
    weekday = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][day.weekday()]
    rule = draw(
        st.sampled_from(
            [
                f"FREQ=WEEKLY;BYDAY={weekday}",
                f"FREQ=WEEKLY;INTERVAL=2;BYDAY={weekday}",
                f"FREQ=MONTHLY;BYMONTHDAY={day.day}",
                "FREQ=WEEKLY;COUNT=10",
                "FREQ=MONTHLY;INTERVAL=3;COUNT=4",
            ]
        )
    )
    return Recurrence(normalize_rrule(rule, when=when))


@st.composite
def events(draw: st.DrawFn, max_description: int = 8192) -> Event:
    """A canonical event as a provider would be asked to write it (no ref, no server fields)."""
    when = draw(st.one_of(time_spans(), time_spans(), day_spans))
    description, description_html = draw(descriptions(max_description))
    reminders_default, reminders = draw(reminder_sets)
    series_id: str | None = None
    original_start: dt.datetime | dt.date | None = None
    recurrence: Recurrence | None = None
    kind = draw(
        st.sampled_from(
            ["single", "exception", "series"] if HAS_RECURRENCE else ["single", "exception"]
        )
    )
    if kind == "exception":
        series_id = draw(series_ids)
        if isinstance(when, TimeSpan):
            original_start = draw(instants(when.start_tz))
        else:
            original_start = draw(st.dates(dt.date(1971, 1, 1), dt.date(2099, 12, 31)))
    elif kind == "series":
        recurrence = draw(recurrences(when))
    return Event(
        ref=None,
        when=when,
        title=draw(texts | long_texts(1024, 1024)),
        description=description,
        description_html=description_html,
        location=draw(texts),
        show_as=draw(st.sampled_from(list(ShowAs))),
        privacy=draw(st.sampled_from(list(Privacy))),
        status=draw(st.sampled_from([Status.CONFIRMED, Status.TENTATIVE])),
        reminders=reminders,
        reminders_default=reminders_default,
        categories=draw(categories),
        color=draw(colors),
        organizer=draw(st.none() | persons),
        attendees=tuple(draw(st.lists(attendees, max_size=20))),
        online_meeting_url=draw(st.none() | meeting_urls),
        recurrence=recurrence,
        series_id=series_id,
        original_start=original_start,
        tag=draw(tags),
    )
