"""The note Meridian appends to a copy's description instead of inviting anyone.

Meridian never writes an attendee list: on Graph a copy with attendees sends meeting requests,
and on Google adding guests puts the event on their calendars even with sendUpdates=none
(peer-failures: "attendees spammed"). So the organizer, the attendees and the join link of the
original travel as a delimited block of plain text, which reads back into the same fields. A
person who edits the block just edits the description.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from app.core.model import Attendee, Person, Response

MARKER_START = "-- Meridian: meeting details --"
MARKER_END = "-- end of meeting details --"

_RESPONSES = {
    Response.ACCEPTED: "accepted",
    Response.DECLINED: "declined",
    Response.TENTATIVE: "tentative",
    Response.NEEDS_ACTION: "no answer",
}
_RESPONSE_BY_TEXT = {v: k for k, v in _RESPONSES.items()}
_PERSON = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^<>\s]+)>$")
_ATTENDEE = re.compile(r"^- (?P<person>.*?<[^<>\s]+>)\s*\((?P<flags>[^()]*)\)$")


@dataclass(frozen=True)
class MeetingDetails:
    organizer: Person | None = None
    attendees: tuple[Attendee, ...] = ()
    online_meeting_url: str | None = None

    @property
    def empty(self) -> bool:
        return self.organizer is None and not self.attendees and not self.online_meeting_url


def _fmt_person(name: str, email: str) -> str:
    # Angle brackets and newlines in a name would break the block; they carry no meaning there.
    clean = re.sub(r"[<>\r\n]+", " ", name).strip()
    return f"{clean} <{email}>" if clean else f"<{email}>"


def _parse_person(text: str) -> Person | None:
    m = _PERSON.match(text.strip())
    return Person(m.group("email"), m.group("name")) if m else None


def render(details: MeetingDetails) -> str:
    """The block as plain text (empty when there is nothing to say)."""
    if details.empty:
        return ""
    lines = [MARKER_START]
    if details.organizer is not None:
        lines.append(f"Organizer: {_fmt_person(details.organizer.name, details.organizer.email)}")
    if details.online_meeting_url:
        lines.append(f"Join: {details.online_meeting_url}")
    if details.attendees:
        lines.append("Attendees:")
        for a in details.attendees:
            flags = [_RESPONSES[a.response]]
            if a.optional:
                flags.append("optional")
            if a.resource:
                flags.append("resource")
            lines.append(f"- {_fmt_person(a.name, a.email)} ({', '.join(flags)})")
    lines.append(MARKER_END)
    return "\n".join(lines)


def append(description: str, details: MeetingDetails) -> str:
    block = render(details)
    if not block:
        return description
    return f"{description}\n\n{block}" if description else block


def append_html(description_html: str, details: MeetingDetails) -> str:
    block = render(details)
    if not block:
        return description_html
    return f"{description_html}<pre>{html.escape(block)}</pre>"


def split(description: str) -> tuple[str, MeetingDetails | None]:
    """(the person's description, the details) — details None when there is no intact block."""
    start = description.rfind(MARKER_START)
    if start < 0:
        return description, None
    end = description.find(MARKER_END, start)
    if end < 0 or description[end + len(MARKER_END) :].strip():
        return description, None
    details = _parse_block(description[start + len(MARKER_START) : end])
    if details is None:
        return description, None
    head = description[:start]
    head = head[:-2] if head.endswith("\n\n") else head
    return head, details


def _parse_block(body: str) -> MeetingDetails | None:
    organizer: Person | None = None
    url: str | None = None
    attendees: list[Attendee] = []
    for line in body.strip("\n").split("\n"):
        if line.startswith("Organizer: "):
            organizer = _parse_person(line.removeprefix("Organizer: "))
            if organizer is None:
                return None
        elif line.startswith("Join: "):
            url = line.removeprefix("Join: ")
        elif line == "Attendees:":
            continue
        elif m := _ATTENDEE.match(line):
            person = _parse_person(m.group("person"))
            flags = [f.strip() for f in m.group("flags").split(",")]
            if person is None or flags[0] not in _RESPONSE_BY_TEXT:
                return None
            attendees.append(
                Attendee(
                    person.email,
                    person.name,
                    _RESPONSE_BY_TEXT[flags[0]],
                    optional="optional" in flags,
                    resource="resource" in flags,
                )
            )
        else:
            return None
    return MeetingDetails(organizer, tuple(attendees), url)
