"""What a pair copies, and how a copy looks: direction, window, fields, privacy, exclusions.

Side "a" is the Outlook calendar, side "b" the Google one. The planner compares *views*: the part
of an event the pair syncs, normalised (see model.content_dict). A copy is rendered from its
origin's view plus the pair's defaults, so ``view(render(x)) == view(x)`` and a copy never looks
changed just because it is a copy.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from app.core.evolve import evolve
from app.core.model import DaySpan, Event, Privacy, Response, ShowAs, content_fields


class Side(StrEnum):
    A = "a"  # Outlook
    B = "b"  # Google

    @property
    def other(self) -> Side:
        return Side.B if self is Side.A else Side.A


class Direction(StrEnum):
    BOTH = "both"
    A_TO_B = "a_to_b"
    B_TO_A = "b_to_a"

    def copies_from(self, side: Side) -> bool:
        return self is Direction.BOTH or self.value.startswith(side.value + "_")


class PrivacyMode(StrEnum):
    FULL = "full"
    TITLE_ONLY = "title"
    BUSY = "busy"


class ConflictPolicy(StrEnum):
    ASK = "ask"
    NEWEST = "newest"
    A_WINS = "a_wins"
    B_WINS = "b_wins"


# What a person can choose to copy, and the model fields behind each choice.
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "time": ("when", "recurrence"),
    "title": ("title",),
    "description": ("description", "description_html"),
    "location": ("location",),
    "show_as": ("show_as",),
    "privacy": ("privacy",),
    "reminders": ("reminders", "reminders_default"),
    "categories": ("categories", "color"),
    "attendees": ("organizer", "attendees", "online_meeting_url"),
}
ALL_GROUPS = frozenset(FIELD_GROUPS)
MODE_GROUPS: dict[PrivacyMode, frozenset[str]] = {
    PrivacyMode.FULL: ALL_GROUPS,
    PrivacyMode.TITLE_ONLY: frozenset({"time", "title", "show_as", "privacy"}),
    PrivacyMode.BUSY: frozenset({"time", "show_as"}),
}


@dataclass(frozen=True)
class Exclusions:
    categories: frozenset[str] = frozenset()
    colors: frozenset[str] = frozenset()
    private: bool = False
    free: bool = False
    tentative: bool = False
    declined: bool = False
    all_day: bool = False
    subject_pattern: str | None = None  # a regular expression, matched case-insensitively

    def __post_init__(self) -> None:
        if self.subject_pattern:
            try:
                re.compile(self.subject_pattern)
            except re.error as exc:
                raise ValueError(f"The subject pattern is not a valid expression: {exc}") from None


@dataclass(frozen=True)
class PairRules:
    direction: Direction = Direction.BOTH
    window_past_days: int = 30
    window_future_days: int = 180
    fields: frozenset[str] = ALL_GROUPS
    privacy: PrivacyMode = PrivacyMode.FULL
    exclusions: Exclusions = field(default_factory=Exclusions)
    conflict_policy: ConflictPolicy = ConflictPolicy.ASK
    busy_title: str = "Busy"
    # Mass-delete guard: stop when a run would delete more than both of these.
    max_deletes: int = 10
    max_delete_share: float = 0.25

    def __post_init__(self) -> None:
        unknown = self.fields - ALL_GROUPS
        if unknown:
            raise ValueError(f"Unknown fields to copy: {', '.join(sorted(unknown))}")
        if not 0 <= self.window_past_days <= 3650 or not 1 <= self.window_future_days <= 3650:
            raise ValueError("The window must be 0-3650 days back and 1-3650 days ahead.")

    @property
    def synced_groups(self) -> frozenset[str]:
        return (self.fields & MODE_GROUPS[self.privacy]) | {"time"}

    # Asked for every event planned: worked out once per rules (the rules are frozen).
    @cached_property
    def synced_fields(self) -> tuple[str, ...]:
        return tuple(sorted(f for g in self.synced_groups for f in FIELD_GROUPS[g]))

    @cached_property
    def _copied(self) -> tuple[str, ...]:
        """The content fields a copy takes from its origin (besides ``when``)."""
        keep = set(self.synced_fields)
        return tuple(f for f in _CONTENT if f in keep and f != "when")

    def window(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """Computed once, in UTC, at midnight, so both sides get the same edges all day."""
        day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return (
            day - dt.timedelta(days=self.window_past_days),
            day + dt.timedelta(days=self.window_future_days + 1),
        )

    # --- views ----------------------------------------------------------------------------

    def view(self, event: Event) -> dict[str, Any]:
        return content_fields(event, self.synced_fields)

    def excluded(self, event: Event, owner: str | None = None) -> str | None:
        """Why an origin event is not copied by this pair (None: it is copied)."""
        ex = self.exclusions
        if ex.all_day and isinstance(event.when, DaySpan):
            return "all-day events are excluded"
        if ex.private and event.privacy in (
            Privacy.PRIVATE,
            Privacy.PERSONAL,
            Privacy.CONFIDENTIAL,
        ):
            return "private events are excluded"
        if ex.free and event.show_as is ShowAs.FREE:
            return "free events are excluded"
        if ex.tentative and event.show_as is ShowAs.TENTATIVE:
            return "tentative events are excluded"
        if ex.declined and owner and _my_response(event, owner) is Response.DECLINED:
            return "declined meetings are excluded"
        if ex.categories & {c.lower() for c in event.categories}:
            return "its category is excluded"
        if ex.colors and event.color in ex.colors:
            return "its colour is excluded"
        if ex.subject_pattern and re.search(ex.subject_pattern, event.title, re.IGNORECASE):
            return "its title matches the excluded pattern"
        return None

    # --- writing --------------------------------------------------------------------------

    def render_copy(self, origin: Event, tag: str) -> Event:
        """The copy of ``origin`` as this pair writes it."""
        values: dict[str, Any] = {f: getattr(origin, f) for f in self._copied}
        if self.privacy is PrivacyMode.BUSY:
            values["title"] = self.busy_title
            values["privacy"] = Privacy.PRIVATE
        # What the pair does not copy keeps Event's defaults.
        return Event(ref=None, when=origin.when, **values, tag=tag)

    def apply_view(self, target: Event, source: Event) -> Event:
        """``target`` with the synced fields taken from ``source`` (writing back to an origin)."""
        return evolve(target, **{f: getattr(source, f) for f in self.synced_fields})


def _my_response(event: Event, owner: str) -> Response | None:
    for a in event.attendees:
        if a.email.lower() == owner.lower():
            return a.response
    return None


_CONTENT = (
    "when",
    "title",
    "description",
    "description_html",
    "location",
    "show_as",
    "privacy",
    "status",
    "reminders",
    "reminders_default",
    "categories",
    "color",
    "organizer",
    "attendees",
    "online_meeting_url",
    "recurrence",
)


def rules_to_dict(r: PairRules) -> dict[str, Any]:
    ex = r.exclusions
    return {
        "direction": r.direction.value,
        "window_past_days": r.window_past_days,
        "window_future_days": r.window_future_days,
        "fields": sorted(r.fields),
        "privacy": r.privacy.value,
        "exclusions": {
            "categories": sorted(ex.categories),
            "colors": sorted(ex.colors),
            "private": ex.private,
            "free": ex.free,
            "tentative": ex.tentative,
            "declined": ex.declined,
            "all_day": ex.all_day,
            "subject_pattern": ex.subject_pattern,
        },
        "conflict_policy": r.conflict_policy.value,
        "busy_title": r.busy_title,
        "max_deletes": r.max_deletes,
        "max_delete_share": r.max_delete_share,
    }


def rules_from_dict(d: dict[str, Any]) -> PairRules:
    """Rules from their stored form; raises ValueError naming what is wrong."""
    ex = d.get("exclusions") or {}
    try:
        return PairRules(
            direction=Direction(d.get("direction", "both")),
            window_past_days=int(d.get("window_past_days", 30)),
            window_future_days=int(d.get("window_future_days", 180)),
            fields=frozenset(d.get("fields", ALL_GROUPS)),
            privacy=PrivacyMode(d.get("privacy", "full")),
            exclusions=Exclusions(
                categories=frozenset(c.lower() for c in ex.get("categories", ())),
                colors=frozenset(ex.get("colors", ())),
                private=bool(ex.get("private", False)),
                free=bool(ex.get("free", False)),
                tentative=bool(ex.get("tentative", False)),
                declined=bool(ex.get("declined", False)),
                all_day=bool(ex.get("all_day", False)),
                subject_pattern=ex.get("subject_pattern") or None,
            ),
            conflict_policy=ConflictPolicy(d.get("conflict_policy", "ask")),
            busy_title=str(d.get("busy_title", "Busy")),
            max_deletes=int(d.get("max_deletes", 10)),
            max_delete_share=float(d.get("max_delete_share", 0.25)),
        )
    except (TypeError, KeyError) as exc:
        raise ValueError(f"The pair's settings are malformed: {exc}") from None
