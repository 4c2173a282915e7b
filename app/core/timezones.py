"""Time zone names between Microsoft Graph (Windows names) and Google Calendar (IANA names).

Graph reports zones as Windows names ("Pacific Standard Time"), as ``tzone://Microsoft/Utc`` or
``tzone://Microsoft/Custom``, or as IANA names it accepts besides its own. Google uses IANA names,
sometimes retired spellings ("Asia/Calcutta"). Everything here resolves to one canonical IANA
spelling, so the sync engine can compare zones as plain strings.

Data sources
------------
Windows <-> IANA comes from ``tzlocal.windows_tz``, generated from CLDR ``windowsZones.xml``:
``win_tz`` holds the territory "001" default per Windows name and ``tz_win`` every territory row.
``icalendar.timezone.windows_to_olson.WINDOWS_TO_OLSON`` is not used: it only has the "001" rows
(inverting them loses e.g. America/Toronto -> Eastern Standard Time) and, at the installed
versions, it lacks the Windows zones added for Canada's 2026 clock changes ("British Columbia
Standard Time", "Alberta Standard Time", "Manitoba Standard Time"). Where both have a name, the
values agree.
tzlocal comes in through APScheduler, so it should be declared as a direct dependency.

Both tables use legacy IANA spellings ("Asia/Calcutta"), so values go through ``canonical_iana``.
Retired names are resolved with the tz database's own link table (the ``L`` lines of
``tzdata.zi``; ``zoneinfo`` does not expose links) plus ``_RENAMED`` below. Names listed in
``zone.tab`` are kept as they are, even where tzdb implements them as links. For example,
Africa/Accra is a link to Africa/Abidjan only because their rules are the same since 1970.

Ambiguous and skipped local times
---------------------------------
Graph's ``dateTime`` carries no offset. A wall time is read with ``fold=0``, as ``zoneinfo``
does. A time that happens twice (fall back) means its first occurrence, the one with the
pre-transition offset. A time skipped by a spring-forward gap also gets the pre-transition
offset, so 02:30 on 2026-03-08 in New York is 07:30Z, which is returned as 03:30 EDT. The wire
format cannot express the second occurrence of a repeated time, so ``aware_to_graph`` followed by
``graph_datetime_to_aware`` moves such an instant back by the size of the transition.

Compare instants through ``to_utc``. Python compares two datetimes that share a tzinfo by wall
time (01:30 EDT == 01:30 EST), and says a datetime in a repeated hour is never ``==`` to one in
another zone, even for the same instant (PEP 495).
"""

import contextlib
import re
import zoneinfo
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, TypedDict

from tzlocal import windows_tz

__all__ = [
    "GRAPH_CUSTOM",
    "GRAPH_UTC",
    "GraphDateTimeTimeZone",
    "aware_to_graph",
    "canonical_iana",
    "graph_datetime_to_aware",
    "iana_to_windows",
    "to_utc",
    "windows_to_iana",
    "zone",
]

GRAPH_UTC: Final = "tzone://Microsoft/Utc"
# A legacy zone known only by its rules (Outlook also writes "Customized Time Zone"). It has no
# IANA name: read the event's start/end, which Graph gives in UTC or the Prefer zone.
GRAPH_CUSTOM: Final = "tzone://Microsoft/Custom"

# All these zones have offset 0 and no DST. One spelling keeps zone comparisons exact, and Google
# and Graph both accept "UTC".
_UTC_NAMES: Final = frozenset(
    {
        "UTC",
        "Etc/UTC",
        "UCT",
        "Etc/UCT",
        "Universal",
        "Etc/Universal",
        "Zulu",
        "Etc/Zulu",
        "GMT",
        "Etc/GMT",
        "GMT0",
        "GMT+0",
        "GMT-0",
        "Etc/GMT0",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "Greenwich",
        "Etc/Greenwich",
    }
)

# Renames that must resolve even without tzdata.zi. The last group corrects cases where tzdb links
# an old name to a zone in another country that has the same rules (Pacific/Truk ->
# Pacific/Port_Moresby), while the renamed zone still exists (Pacific/Chuuk).
_RENAMED: Final[dict[str, str]] = {
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Dacca": "Asia/Dhaka",
    "Asia/Thimbu": "Asia/Thimphu",
    "Asia/Ulan_Bator": "Asia/Ulaanbaatar",
    "Asia/Ashkhabad": "Asia/Ashgabat",
    "Asia/Macao": "Asia/Macau",
    "Europe/Kiev": "Europe/Kyiv",
    "Europe/Uzhgorod": "Europe/Kyiv",
    "Europe/Zaporozhye": "Europe/Kyiv",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "America/Godthab": "America/Nuuk",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Catamarca": "America/Argentina/Catamarca",
    "America/Cordoba": "America/Argentina/Cordoba",
    "America/Jujuy": "America/Argentina/Jujuy",
    "America/Mendoza": "America/Argentina/Mendoza",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "America/Louisville": "America/Kentucky/Louisville",
    "Pacific/Enderbury": "Pacific/Kanton",
    "US/Eastern": "America/New_York",
    "US/Central": "America/Chicago",
    "US/Mountain": "America/Denver",
    "US/Pacific": "America/Los_Angeles",
    "US/Alaska": "America/Anchorage",
    "US/Hawaii": "Pacific/Honolulu",
    "US/Arizona": "America/Phoenix",
    "US/Aleutian": "America/Adak",
    "US/East-Indiana": "America/Indiana/Indianapolis",
    "US/Indiana-Starke": "America/Indiana/Knox",
    "US/Michigan": "America/Detroit",
    "US/Samoa": "Pacific/Pago_Pago",
    "Pacific/Truk": "Pacific/Chuuk",
    "Pacific/Yap": "Pacific/Chuuk",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "America/Coral_Harbour": "America/Atikokan",
    "America/Virgin": "America/St_Thomas",
    "Antarctica/South_Pole": "Antarctica/McMurdo",
    "Atlantic/Jan_Mayen": "Arctic/Longyearbyen",
}

# Names that are files under a zoneinfo directory but not zones a calendar can use: "localtime"
# depends on the machine and "Factory" means "zone not set".
_NOT_ZONES: Final = frozenset({"localtime", "posixrules", "Factory"})

_GRAPH_DATETIME: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,7}))?"
)


class GraphDateTimeTimeZone(TypedDict):
    """Graph's ``dateTimeTimeZone`` resource."""

    dateTime: str
    timeZone: str


def canonical_iana(name: str) -> str | None:
    """Return the canonical IANA name for an IANA (current or retired) or Windows zone name.

    ``tzone://Microsoft/Utc`` gives "UTC". Custom zones (``tzone://Microsoft/Custom``,
    "Customized Time Zone") and unknown names give None. Matching ignores case and surrounding
    spaces. Never raises.
    """
    key = _key(name)
    if key is None:
        return None
    if key == GRAPH_UTC.lower():
        return "UTC"
    return _iana_index().get(key) or _windows_index().get(key)


def windows_to_iana(name: str) -> str | None:
    """Return the canonical IANA zone CLDR uses as default (territory "001") for a Windows name.

    Matching ignores case. Returns None for unknown names. Never raises.
    """
    key = _key(name)
    return _windows_index().get(key) if key is not None else None


def iana_to_windows(name: str) -> str | None:
    """Return the Windows zone that CLDR maps an IANA zone to, from any territory row.

    Retired spellings are accepted ("Europe/Kiev"). So is anything ``canonical_iana`` accepts,
    which makes a Windows name map to itself in its proper spelling. Returns None when there is no
    mapping. Never raises.
    """
    key = _key(name)
    if key is None:
        return None
    reverse = _reverse_index()
    # Look up the name as given first: CLDR lists many aliases and its row is the most specific.
    found = reverse.get(key)
    if found is not None:
        return found
    canonical = canonical_iana(name)
    return reverse.get(canonical.lower()) if canonical is not None else None


def zone(name: str) -> zoneinfo.ZoneInfo | None:
    """Return the ZoneInfo for any name ``canonical_iana`` accepts, else None. Never raises."""
    canonical = canonical_iana(name)
    if canonical is None:
        return None
    try:
        return zoneinfo.ZoneInfo(canonical)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # A name can be listed but unreadable, for example a damaged file in a system tz directory.
        return None


def to_utc(dt: datetime) -> datetime:
    """Return the same instant in UTC. Naive datetimes raise ValueError: we never guess a zone."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime has no time zone: {dt.isoformat()}")
    return dt.astimezone(UTC)


def graph_datetime_to_aware(date_time: str, tz_name: str) -> datetime:
    """Read a Graph ``dateTime`` such as "2017-09-04T12:00:00.0000000" as a time in ``tz_name``.

    ``tz_name`` can be anything ``zone`` accepts. There can be 0 to 7 fractional digits; the 7th
    digit (100 ns) is dropped because Python stores microseconds. Offsets are rejected, because
    the zone comes from ``tz_name`` only. The result has ``tzinfo`` set to the zone. Skipped wall
    times are moved forward (see the module docstring). Raises ValueError naming the bad value.
    """
    tz = zone(tz_name)
    if tz is None:
        raise ValueError(f"unknown time zone: {_show(tz_name)}")
    match = _GRAPH_DATETIME.fullmatch(date_time) if isinstance(date_time, str) else None
    if match is None:
        raise ValueError(
            f"not a Graph dateTime (YYYY-MM-DDTHH:MM:SS[.fffffff], no offset): {_show(date_time)}"
        )
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "").ljust(7, "0")[:6])
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
        # Round trip through UTC so a skipped wall time becomes a real one. Two datetimes with the
        # same tzinfo compare by wall time, so an unnormalised 02:30 would sort before 03:15.
        return local.astimezone(UTC).astimezone(tz)
    except (ValueError, OverflowError) as exc:
        raise ValueError(
            f"invalid Graph dateTime {_show(date_time)} in {_show(tz_name)}: {exc}"
        ) from exc


def aware_to_graph(dt: datetime, tz_name: str) -> GraphDateTimeTimeZone:
    """Format an aware datetime as Graph's ``{"dateTime": ..., "timeZone": tz_name}``.

    ``dateTime`` is the wall time in ``tz_name`` with 7 fractional digits, as Graph writes it.
    ``timeZone`` is ``tz_name`` unchanged. Raises ValueError if ``dt`` is naive or ``tz_name`` is
    unknown.
    """
    tz = zone(tz_name)
    if tz is None:
        raise ValueError(f"unknown time zone: {_show(tz_name)}")
    try:
        local = to_utc(dt).astimezone(tz)
    except OverflowError as exc:
        raise ValueError(f"{dt.isoformat()} is out of range in {_show(tz_name)}") from exc
    # Built by hand: strftime("%Y") does not zero-pad years before 1000 on glibc.
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
        f"T{local.hour:02d}:{local.minute:02d}:{local.second:02d}.{local.microsecond:06d}0"
    )
    return {"dateTime": text, "timeZone": tz_name}


def _key(name: object) -> str | None:
    # Callers pass values straight from JSON, so a None or a number must not raise.
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    return key or None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@cache
def _iana_index() -> dict[str, str]:
    """Map each usable IANA name, lower-cased, to its canonical spelling."""
    links, listed = _tzdb_structure()
    available = zoneinfo.available_timezones() - _NOT_ZONES
    index: dict[str, str] = {}
    for name in available:
        canonical = _canonical_name(name, links, listed)
        # An old tz directory may lack a newer name (Europe/Kyiv is from 2022); the original
        # name still loads, so keep it.
        index[name.lower()] = canonical if canonical in available else name
    return index


def _canonical_name(name: str, links: dict[str, str], listed: frozenset[str]) -> str:
    seen: set[str] = set()
    while name not in seen:
        seen.add(name)
        if name in _UTC_NAMES:
            return "UTC"
        if name in _RENAMED:
            return _RENAMED[name]
        if name in listed or name not in links:
            return name
        name = links[name]
    return name


def _tzdb_structure() -> tuple[dict[str, str], frozenset[str]]:
    """Return tzdb's links (alias -> target) and the names listed in zone.tab."""
    for directory in _tzdb_directories():
        try:
            zi_text = (directory / "tzdata.zi").read_text(encoding="utf-8")
            tab_text = (directory / "zone.tab").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        links: dict[str, str] = {}
        for line in zi_text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "L":
                links[parts[2]] = parts[1]
        listed = frozenset(
            fields[2].strip()
            for fields in (line.split("\t") for line in tab_text.splitlines())
            if len(fields) >= 3 and not fields[0].startswith("#")
        )
        return links, listed
    return {}, frozenset()


def _tzdb_directories() -> list[Traversable]:
    # Same order as zoneinfo looks for rules (TZPATH, then the tzdata package), so a name is only
    # replaced by its link target when the rules being loaded say they are the same zone.
    directories: list[Traversable] = [Path(directory) for directory in zoneinfo.TZPATH]
    with contextlib.suppress(ModuleNotFoundError):
        directories.append(resources.files("tzdata") / "zoneinfo")
    return directories


@cache
def _windows_index() -> dict[str, str]:
    """Map each Windows name, lower-cased, to the canonical spelling of its "001" IANA zone."""
    iana = _iana_index()
    index: dict[str, str] = {}
    for windows, default in windows_tz.win_tz.items():
        canonical = iana.get(default.lower())
        if canonical is not None:
            index[windows.lower()] = canonical
    return index


@cache
def _reverse_index() -> dict[str, str]:
    """Map IANA names, lower-cased, to Windows names: CLDR's rows, then their canonical forms."""
    reverse = {name.lower(): windows for name, windows in windows_tz.tz_win.items() if name}
    iana = _iana_index()
    for name, windows in windows_tz.tz_win.items():
        canonical = iana.get(name.lower())
        if canonical is not None:
            reverse.setdefault(canonical.lower(), windows)
    return reverse
