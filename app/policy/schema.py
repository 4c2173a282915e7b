"""The policy schema, as Python data: every key IT can set, its type, default and safest value.

One schema, version ``SCHEMA_VERSION``, for every location (registry, plist, JSON). A policy
document is::

    {"schema_version": 1,
     "locked":   {"<key>": value, ...},    # enforced; the person cannot change them
     "defaults": {"<key>": value, ...}}    # starting values the person may change

Two kinds of keys:

* ``setting``: something the person has (the interval, the default direction, ...). Policy can
  give it a default or lock it.
* ``restriction``: a limit (allow-lists, bounds, "disabled", client ids). Always enforced, wherever
  it is written; it belongs under ``locked``.

``safest`` is what applies when a policy sets a key to something invalid: a bad policy never
loosens anything. ``tighten`` says how a user-level file may only tighten the key (see
effective.py). The templates in installer/policy are generated from this table
(``python -m app.policy.templates``), and a test regenerates them, so they cannot drift.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import PureWindowsPath
from typing import Any, Literal

from app.core.rules import FIELD_GROUPS

SCHEMA_VERSION = 1

Kind = Literal["setting", "restriction"]
Type = Literal["bool", "int", "enum", "str", "list"]
# How a user-level file may tighten a key:
#   min / max: a lower / higher number is tighter;      true / false: that value is tighter;
#   order: a later choice is tighter;                  subset: fewer allowed items is tighter;
#   superset: more listed items is tighter;            machine: only machine policy may set it;
#   free: not ordered; the person may choose it unless machine policy locks it.
Tighten = Literal["min", "max", "true", "false", "order", "subset", "superset", "machine", "free"]

# What a pair can copy (the engine's field groups), in the order the person sees them.
FIELD_GROUP_NAMES = tuple(FIELD_GROUPS)
DIRECTIONS = ("both", "outlook_to_google", "google_to_outlook")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy source: reported in the UI, the log and ``policy check``."""

    source: str
    key: str | None
    reason: str
    kind: str  # syntax, unreadable, structure, version, unknown_key, wrong_type, invalid_value,
    # bad_item, misplaced, contradiction, loosen, machine_only

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "key": self.key, "reason": self.reason, "kind": self.kind}


@dataclass(frozen=True)
class Key:
    name: str
    title: str
    type: Type
    kind: Kind
    default: Any
    safest: Any
    tighten: Tighten
    description: str
    example: Any
    choices: tuple[str, ...] = ()  # enum values, or the allowed items of a list
    item: str | None = None  # list items / strings checked by this pattern name (see _PATTERNS)
    minimum: int | None = None
    maximum: int | None = None
    nullable: bool = False  # null means "no restriction" (allow-lists) or "not set" (client ids)
    secret: bool = False  # shown redacted by `policy show` and in diagnostic bundles

    @property
    def lockable(self) -> bool:
        """Settings may be a default or locked; restrictions are always enforced."""
        return self.kind == "setting"


def _k(**kw: Any) -> Key:
    return Key(**kw)


KEYS: tuple[Key, ...] = (
    _k(
        name="disabled",
        title="Turn Meridian off on this computer",
        type="bool",
        kind="restriction",
        default=False,
        safest=True,
        tighten="true",
        example=False,
        description="True: Meridian does not sync at all on this computer. An unreadable machine "
        "policy file also turns it off until the file is fixed (a broken policy never loosens "
        "anything).",
    ),
    _k(
        name="microsoft_tenants_allowed",
        title="Allowed Microsoft tenants",
        type="list",
        kind="restriction",
        default=None,
        safest=[],
        tighten="subset",
        item="tenant",
        nullable=True,
        example=["contoso.com", "8f6a3c12-4d0b-4c1e-9b7a-2e5f1d3c4b6a"],
        description="Microsoft work accounts may be added only from these tenants (tenant id, "
        "or a domain of the tenant). Not set: any tenant. Empty list: none.",
    ),
    _k(
        name="google_domains_allowed",
        title="Allowed Google domains",
        type="list",
        kind="restriction",
        default=None,
        safest=[],
        tighten="subset",
        item="domain",
        nullable=True,
        example=["contoso.com"],
        description="Google accounts may be added only from these domains (the part after @), "
        "plus the busy-only domains. Not set: any domain. Empty list: none.",
    ),
    _k(
        name="google_domains_busy_only",
        title="Google domains allowed only for Busy blocks",
        type="list",
        kind="restriction",
        default=[],
        safest=["*"],
        tighten="superset",
        item="busy_domain",
        example=["gmail.com"],
        description="Google accounts from these domains may be paired, but only as Busy blocks "
        "(time and free/busy, never titles or details). '*' makes every Google account "
        "busy-only (it allows no extra domain).",
    ),
    _k(
        name="microsoft_client_id",
        title="Microsoft application (client) id",
        type="str",
        kind="restriction",
        default=None,
        safest=None,
        tighten="machine",
        item="guid",
        nullable=True,
        example="6f0e3a52-8f1c-4c4e-9d1b-5a0c4e7d2b10",
        description="The app registration Meridian signs in to Microsoft with. Not set: the one "
        "built into Meridian.",
    ),
    _k(
        name="microsoft_tenant",
        title="Microsoft sign-in tenant",
        type="str",
        kind="restriction",
        default=None,
        safest=None,
        tighten="machine",
        item="authority_tenant",
        nullable=True,
        example="contoso.com",
        description="The tenant sign-in goes to: a tenant id or domain pins one tenant; "
        "'organizations' is any work or school account. Not set: 'organizations'.",
    ),
    _k(
        name="google_client_id",
        title="Google OAuth client id",
        type="str",
        kind="restriction",
        default=None,
        safest=None,
        tighten="machine",
        item="google_client_id",
        nullable=True,
        example="123456789012-abcdefghij.apps.googleusercontent.com",
        description="The OAuth client (installed app) Meridian signs in to Google with. Not set: "
        "the one built into Meridian.",
    ),
    _k(
        name="google_client_secret",
        title="Google OAuth client secret",
        type="str",
        kind="restriction",
        default=None,
        safest=None,
        tighten="machine",
        item="token",
        nullable=True,
        secret=True,
        example="GOCSPX-example-not-a-real-secret",
        description="The 'secret' Google issues with an installed-app client id (it cannot "
        "really be kept secret; Meridian still never shows or logs it).",
    ),
    _k(
        name="directions_allowed",
        title="Allowed sync directions",
        type="list",
        kind="restriction",
        default=None,
        safest=[],
        tighten="subset",
        choices=DIRECTIONS,
        nullable=True,
        example=["outlook_to_google"],
        description="Which way events may be copied: outlook_to_google, google_to_outlook "
        "('both' allows the two). Pairs are narrowed to what is allowed. Not set: both ways. "
        "Empty list: nothing is copied.",
    ),
    _k(
        name="fields_outlook_to_google",
        title="Fields copied from Outlook to Google",
        type="list",
        kind="restriction",
        default=None,
        safest=["time"],
        tighten="subset",
        choices=FIELD_GROUP_NAMES,
        nullable=True,
        example=["time", "title", "show_as", "privacy", "reminders"],
        description="The parts of an event that may be copied from Outlook to Google: "
        + ", ".join(FIELD_GROUP_NAMES)
        + ". 'time' is always copied. A pair that copies both ways copies only what both "
        "directions allow. Not set: everything.",
    ),
    _k(
        name="fields_google_to_outlook",
        title="Fields copied from Google to Outlook",
        type="list",
        kind="restriction",
        default=None,
        safest=["time"],
        tighten="subset",
        choices=FIELD_GROUP_NAMES,
        nullable=True,
        example=["time", "title", "show_as", "privacy", "reminders", "description", "location"],
        description="As fields_outlook_to_google, for copies from Google to Outlook.",
    ),
    _k(
        name="direction",
        title="Sync direction of new pairs",
        type="enum",
        kind="setting",
        default="both",
        safest="google_to_outlook",
        tighten="free",
        choices=DIRECTIONS,
        example="outlook_to_google",
        description="The direction a new pair starts with (locked: every pair uses it). Invalid "
        "values mean google_to_outlook: nothing leaves the work calendar.",
    ),
    _k(
        name="privacy_mode",
        title="Privacy of copies",
        type="enum",
        kind="setting",
        default="full",
        safest="busy",
        tighten="order",
        choices=("full", "title", "busy"),
        example="title",
        description="full: copies carry every allowed field; title: time and title only; busy: "
        "a 'Busy' block with the time only. Locked, it is the least private mode allowed (a "
        "person may still choose a more private one).",
    ),
    _k(
        name="conflict_policy",
        title="When the same event changed on both sides",
        type="enum",
        kind="setting",
        default="ask",
        safest="ask",
        tighten="free",
        choices=("ask", "newest", "outlook_wins", "google_wins"),
        example="outlook_wins",
        description="ask: the person chooses; newest: the later edit wins; outlook_wins / "
        "google_wins: that side wins.",
    ),
    _k(
        name="sync_interval_minutes",
        title="Minutes between syncs",
        type="int",
        kind="setting",
        default=5,
        safest=15,
        tighten="free",
        minimum=1,
        maximum=1440,
        example=10,
        description="How often each pair syncs, within the interval bounds.",
    ),
    _k(
        name="sync_interval_min_minutes",
        title="Shortest allowed sync interval (minutes)",
        type="int",
        kind="restriction",
        default=1,
        safest=15,
        tighten="max",
        minimum=1,
        maximum=1440,
        example=5,
        description="Pairs never sync more often than this.",
    ),
    _k(
        name="sync_interval_max_minutes",
        title="Longest allowed sync interval (minutes)",
        type="int",
        kind="restriction",
        default=1440,
        safest=60,
        tighten="min",
        minimum=1,
        maximum=1440,
        example=60,
        description="Pairs sync at least this often.",
    ),
    _k(
        name="window_past_days",
        title="Days in the past to sync",
        type="int",
        kind="setting",
        default=30,
        safest=7,
        tighten="min",
        minimum=0,
        maximum=3650,
        example=14,
        description="How far back a new pair syncs (locked: at most this far for every pair).",
    ),
    _k(
        name="window_future_days",
        title="Days ahead to sync",
        type="int",
        kind="setting",
        default=180,
        safest=90,
        tighten="min",
        minimum=1,
        maximum=3650,
        example=120,
        description="How far ahead a new pair syncs (locked: at most this far for every pair).",
    ),
    _k(
        name="window_past_days_max",
        title="Most days in the past any pair may sync",
        type="int",
        kind="restriction",
        default=3650,
        safest=30,
        tighten="min",
        minimum=0,
        maximum=3650,
        example=60,
        description="Upper bound for every pair's window into the past.",
    ),
    _k(
        name="window_future_days_max",
        title="Most days ahead any pair may sync",
        type="int",
        kind="restriction",
        default=3650,
        safest=180,
        tighten="min",
        minimum=1,
        maximum=3650,
        example=365,
        description="Upper bound for every pair's window into the future.",
    ),
    _k(
        name="mass_delete_max_count",
        title="Deletions a sync may make without asking",
        type="int",
        kind="setting",
        default=10,
        safest=5,
        tighten="min",
        minimum=0,
        maximum=100000,
        example=10,
        description="A sync that would delete more events than this AND more than the share "
        "below stops and asks. Locked: no pair may allow more.",
    ),
    _k(
        name="mass_delete_max_percent",
        title="Share of events a sync may delete without asking (%)",
        type="int",
        kind="setting",
        default=25,
        safest=10,
        tighten="min",
        minimum=0,
        maximum=100,
        example=20,
        description="See mass_delete_max_count: the share of a pair's synced events.",
    ),
    _k(
        name="file_secret_store_allowed",
        title="Allow keeping sign-ins in a file without an OS keyring",
        type="bool",
        kind="restriction",
        default=True,
        safest=False,
        tighten="false",
        example=False,
        description="True: a person on a computer without a password store may choose to keep "
        "sign-ins in a file only their account can read (insecure). False: never.",
    ),
    _k(
        name="notifications",
        title="Notifications",
        type="enum",
        kind="setting",
        default="important",
        safest="important",
        tighten="free",
        choices=("all", "important", "none"),
        example="important",
        description="all: every sync result; important: errors, conflicts and held deletions; "
        "none: only the tray icon changes.",
    ),
    _k(
        name="audit_retention_days",
        title="Days the audit log is kept",
        type="int",
        kind="setting",
        default=180,
        safest=180,
        tighten="free",
        minimum=1,
        maximum=3650,
        example=365,
        description="Audit entries older than this are deleted.",
    ),
    _k(
        name="metrics_folder",
        title="Folder for the daily health summary",
        type="str",
        kind="restriction",
        default=None,
        safest=None,
        tighten="machine",
        item="path",
        nullable=True,
        example="\\\\fileserver\\meridian-health",
        description="If set, Meridian writes a small anonymous daily health summary (counts, "
        "latency, no names or addresses) to this folder.",
    ),
    _k(
        name="metrics_endpoint",
        title="HTTPS endpoint for the daily health summary",
        type="str",
        kind="restriction",
        default=None,
        safest=None,
        tighten="machine",
        item="https_url",
        nullable=True,
        example="https://health.contoso.com/meridian",
        description="If set, the daily health summary is POSTed there as JSON (HTTPS only).",
    ),
)

BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}

# --- value checks ------------------------------------------------------------------------------

_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "guid": re.compile(rf"^{_GUID}$"),
    "domain": re.compile(rf"^{_DOMAIN}$"),
    "busy_domain": re.compile(rf"^(?:\*|{_DOMAIN})$"),
    "tenant": re.compile(rf"^(?:{_GUID}|{_DOMAIN})$"),
    "authority_tenant": re.compile(rf"^(?:{_GUID}|{_DOMAIN}|organizations|common|consumers)$"),
    "google_client_id": re.compile(r"^[A-Za-z0-9_.-]+\.apps\.googleusercontent\.com$"),
    "token": re.compile(r"^\S{1,512}$"),
}
_LOWERCASE = {"guid", "domain", "busy_domain", "tenant", "authority_tenant"}
_EXPLAIN = {
    "guid": "an id like 6f0e3a52-8f1c-4c4e-9d1b-5a0c4e7d2b10",
    "domain": "a domain like contoso.com",
    "busy_domain": "a domain like gmail.com, or '*'",
    "tenant": "a tenant id or a domain like contoso.com",
    "authority_tenant": "a tenant id, a domain, 'organizations', 'common' or 'consumers'",
    "google_client_id": "an id ending in .apps.googleusercontent.com",
    "token": "text without spaces",
    "path": "an absolute folder path",
    "https_url": "an https:// address",
}


class Invalid(ValueError):
    """A value the schema refuses; the message says why (never echoing secret values)."""

    def __init__(self, reason: str, kind: str = "invalid_value") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def _type_name(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _check_text(pattern: str, value: str) -> str:
    text = value.strip()
    if pattern in _LOWERCASE:
        text = text.lower().lstrip("@")
    if pattern == "path":
        ok = text.startswith("/") or PureWindowsPath(text).is_absolute() or text.startswith("\\\\")
    elif pattern == "https_url":
        url = urllib.parse.urlsplit(text)
        ok = url.scheme == "https" and bool(url.hostname)
    else:
        ok = bool(_PATTERNS[pattern].match(text))
    if not ok:
        raise Invalid(f"expected {_EXPLAIN[pattern]}")
    return text


def check_value(key: Key, raw: Any, *, from_registry: bool = False) -> tuple[Any, list[str]]:
    """The value as Meridian uses it, and reasons for dropped list items.

    Raises ``Invalid`` when the whole value is unusable (then the key's safest value applies).
    The registry has no booleans and no lists of its own: DWORD 0/1 stands for false/true, and
    lists come as a subkey of numbered values or a REG_MULTI_SZ (both arrive here as lists).
    """
    if raw is None:
        if key.nullable:
            return None, []
        raise Invalid(f"must be {_expected(key)}, not null", "wrong_type")
    if key.type == "bool":
        if from_registry and type(raw) is int and raw in (0, 1):
            return bool(raw), []
        if type(raw) is not bool:
            raise Invalid(f"must be {_expected(key)}, not {_type_name(raw)}", "wrong_type")
        return raw, []
    if key.type == "int":
        if type(raw) is not int:
            raise Invalid(f"must be {_expected(key)}, not {_type_name(raw)}", "wrong_type")
        if (key.minimum is not None and raw < key.minimum) or (
            key.maximum is not None and raw > key.maximum
        ):
            raise Invalid(f"{raw} is outside {key.minimum}..{key.maximum}")
        return raw, []
    if key.type == "enum":
        if not isinstance(raw, str):
            raise Invalid(f"must be {_expected(key)}, not {_type_name(raw)}", "wrong_type")
        if raw.strip().lower() not in key.choices:
            shown = "(hidden)" if key.secret else repr(raw)
            raise Invalid(f"{shown} is not one of {', '.join(key.choices)}")
        return raw.strip().lower(), []
    if key.type == "str":
        if not isinstance(raw, str):
            raise Invalid(f"must be {_expected(key)}, not {_type_name(raw)}", "wrong_type")
        return _check_text(key.item, raw) if key.item else raw, []
    # list
    if not isinstance(raw, list):
        raise Invalid(f"must be {_expected(key)}, not {_type_name(raw)}", "wrong_type")
    out: list[str] = []
    dropped: list[str] = []
    for item in raw:
        try:
            if not isinstance(item, str):
                raise Invalid(f"must be text, not {_type_name(item)}")
            if key.choices:
                value = item.strip().lower()
                if value not in key.choices:
                    raise Invalid(f"is not one of {', '.join(key.choices)}")
            else:
                assert key.item is not None
                value = _check_text(key.item, item)
        except Invalid as exc:
            dropped.append(f"item {item!r} ignored: {exc.reason}")
            continue
        if value not in out:
            out.append(value)
    return out, dropped


def _expected(key: Key) -> str:
    base = {
        "bool": "true or false",
        "int": "a whole number",
        "enum": "one of " + ", ".join(key.choices),
        "str": "text",
        "list": "a list of text",
    }[key.type]
    return base + (" or null" if key.nullable else "")


def parse_cli_value(key: Key, text: str) -> Any:
    """A value typed on the command line, in the key's type (for ``policy allows`` and others)."""
    if key.type == "bool":
        low = text.strip().lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
        raise Invalid("expected true or false", "wrong_type")
    if key.type == "int":
        try:
            return int(text)
        except ValueError:
            raise Invalid("expected a whole number", "wrong_type") from None
    if key.type == "list":
        return [t.strip() for t in text.split(",") if t.strip()]
    return text


def flows(directions: list[str] | tuple[str, ...] | None) -> frozenset[str]:
    """The one-way flows a list of directions allows ('both' is the two of them)."""
    if directions is None:
        return frozenset({"outlook_to_google", "google_to_outlook"})
    out: set[str] = set()
    for d in directions:
        out |= {"outlook_to_google", "google_to_outlook"} if d == "both" else {d}
    return frozenset(out)
