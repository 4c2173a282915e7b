"""Recurring-series expansion as the real Google Calendar v3 and Graph v1.0 servers do it.

Pure functions used by the sandbox emulators; see ``api-spec.md`` §1.6, §2.6, §2.7, §3.3.

Google (RFC 5545): expansion runs in ``start.timeZone`` wall-clock time, so it is DST-correct.
DTSTART is always the first instance, even when it does not fit the RRULE, and it counts
towards COUNT. Invalid dates (Feb 30) are skipped, never moved.

Graph (Exchange): the first occurrence is the first date on or after ``range.startDate`` that
fits the pattern. ``endDate`` is an inclusive local date. ``numbered`` counts occurrences.

Choices for points the vendors do not document, marked [U]:

* Graph ``dayOfMonth`` larger than the month falls on the month's last day, as the EWS
  ``DayOfMonth`` documentation says [U, likely]. Switch: ``GRAPH_CLAMP_DAY_OF_MONTH``.
* Graph rejects a ``range.startDate`` that differs from the event's start date with
  ``ErrorInvalidRecurrenceRange`` (seen by third parties). Switch:
  ``GRAPH_REQUIRE_START_DATE_MATCH``. Error codes ``ErrorInvalidRecurrencePattern`` /
  ``ErrorInvalidRecurrenceRange`` and ``RequestBodyRead`` for bad literals are [U].
* Graph echoes ``daysOfWeek`` only for weekly and relative types; recorded daily and
  absoluteMonthly responses omit the key [O]. The days come back de-duplicated in
  Sunday-first order, because Exchange stores them as a bit mask [U].
* Google: a DATE-valued UNTIL on a timed series ends after that local day. A floating
  (no ``Z``) UNTIL, RDATE or EXDATE is read in the series zone. A DATE EXDATE on a timed
  series removes every instance on that local date. ``RDATE;VALUE=PERIOD`` is rejected [U].
* Windows are half-open: an occurrence is kept if it ends after ``window_start`` and starts
  before ``window_end``. A zero-length occurrence counts as a point, so it is kept when
  ``window_start <= start < window_end`` [U].
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as du

GRAPH_CLAMP_DAY_OF_MONTH = True
GRAPH_REQUIRE_START_DATE_MATCH = True

GOOGLE_INVALID_REASON = "invalid"
GOOGLE_INVALID_RECURRENCE = "Invalid recurrence rule."
GOOGLE_MISSING_TIME_ZONE = "Missing time zone definition for start time."
GOOGLE_INVALID_TIME_ZONE = "Invalid time zone definition for start time."

ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One expanded instance. ``date`` is set only for Google all-day series."""

    original_start_utc: datetime  # aware UTC; midnight UTC of ``date`` for all-day
    local_start: datetime | dt.date  # aware, in the series zone; the date for all-day
    date: dt.date | None = None

    @property
    def all_day(self) -> bool:
        return self.date is not None


def _zone(name: object) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _collect(
    items: Iterator[tuple[Occurrence, datetime, datetime]],
    window_start: datetime | None,
    window_end: datetime | None,
    limit: int,
) -> list[Occurrence]:
    """Keep occurrences overlapping the window; ``items`` must come in start order."""
    out: list[Occurrence] = []
    if limit <= 0:
        return out
    for occ, begin, end in items:
        if window_end is not None and begin >= window_end:
            break
        # A zero-length occurrence is a point: kept when it sits exactly on window_start.
        if window_start is not None and end <= window_start and not end == begin == window_start:
            continue
        out.append(occ)
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- Google


class GoogleRecurrenceError(ValueError):
    """What Google answers with 400; ``reason`` and ``message`` go into ``error.errors[]``."""

    reason = GOOGLE_INVALID_REASON

    def __init__(self, message: str = GOOGLE_INVALID_RECURRENCE) -> None:
        super().__init__(message)
        self.message = message


_FREQS = {name: freq for freq, name in enumerate(du.FREQNAMES)}  # YEARLY=0 ... SECONDLY=6
_DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# part -> (dateutil keyword, lowest |value|, highest |value|, may be negative)
_INT_PARTS = {
    "BYSECOND": ("bysecond", 0, 59, False),
    "BYMINUTE": ("byminute", 0, 59, False),
    "BYHOUR": ("byhour", 0, 23, False),
    "BYMONTHDAY": ("bymonthday", 1, 31, True),
    "BYYEARDAY": ("byyearday", 1, 366, True),
    "BYWEEKNO": ("byweekno", 1, 53, True),
    "BYMONTH": ("bymonth", 1, 12, False),
    "BYSETPOS": ("bysetpos", 1, 366, True),
}
_RRULE_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST", *_INT_PARTS}
_BYDAY_RE = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_STAMP_RE = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")


@dataclass(frozen=True)
class _GoogleSeries:
    dtstart: datetime  # aware in ``zone``; naive midnight for all-day series
    zone: ZoneInfo | None  # None for all-day series
    rset: du.rruleset
    exdate_days: frozenset[date]  # DATE-valued EXDATEs on a timed series


def _stamp(text: str, zone: tzinfo | None) -> date | datetime:
    """Parse ``YYYYMMDD`` / ``YYYYMMDDTHHMMSS[Z]``; floating times get ``zone``."""
    m = _STAMP_RE.fullmatch(text.strip())
    if not m:
        raise GoogleRecurrenceError()
    try:
        day = datetime.strptime(m[1], "%Y%m%d").date()
        if m[2] is None:
            return day
        clock = datetime.strptime(m[2], "%H%M%S").time()
    except ValueError as exc:
        raise GoogleRecurrenceError() from exc
    return datetime.combine(day, clock, tzinfo=UTC if m[3] else zone)


def _google_start(start: Mapping[str, Any]) -> tuple[datetime, ZoneInfo | None]:
    if not isinstance(start, Mapping):
        raise GoogleRecurrenceError()
    if start.get("dateTime"):
        name = start.get("timeZone")
        if not name:
            raise GoogleRecurrenceError(GOOGLE_MISSING_TIME_ZONE)
        zone = _zone(name)
        if zone is None:
            raise GoogleRecurrenceError(GOOGLE_INVALID_TIME_ZONE)
        try:
            parsed = datetime.fromisoformat(str(start["dateTime"]))
        except ValueError as exc:
            raise GoogleRecurrenceError() from exc
        local = parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)
        return local.replace(microsecond=0), zone
    try:
        return datetime.combine(date.fromisoformat(str(start["date"])), time()), None
    except (KeyError, ValueError) as exc:
        raise GoogleRecurrenceError() from exc


def _int_list(text: str, lo: int, hi: int, signed: bool) -> list[int]:
    values = []
    for token in text.split(","):
        if not re.fullmatch(r"[+-]?\d{1,3}", token):
            raise GoogleRecurrenceError()
        n = int(token)
        if not lo <= abs(n) <= hi or (n < 0 and not signed) or (signed and n == 0):
            raise GoogleRecurrenceError()
        values.append(n)
    return values


def _google_until(text: str, zone: ZoneInfo | None) -> datetime:
    value = _stamp(text, zone)
    if zone is None:  # all-day series: compare naive midnights
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return datetime.combine(value, time())
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(23, 59, 59), tzinfo=zone)  # [U] DATE on a timed series


def _google_rrule(value: str, dtstart: datetime, zone: ZoneInfo | None) -> du.rrule | None:
    parts: dict[str, str] = {}
    for item in filter(None, value.split(";")):  # tolerate a trailing ";"
        key, sep, val = item.partition("=")
        key, val = key.strip().upper(), val.strip().upper()
        if not sep or not val or key in parts or key not in _RRULE_PARTS:
            raise GoogleRecurrenceError()
        parts[key] = val
    freq: Any = _FREQS.get(parts.get("FREQ", ""))
    if freq is None or ("COUNT" in parts and "UNTIL" in parts):
        raise GoogleRecurrenceError()
    kw: dict[str, Any] = {}
    for key, (name, lo, hi, signed) in _INT_PARTS.items():
        if key in parts:
            kw[name] = _int_list(parts[key], lo, hi, signed)
    if "BYDAY" in parts:
        days = []
        for token in parts["BYDAY"].split(","):
            m = _BYDAY_RE.fullmatch(token)
            if not m or (m[1] is not None and not 1 <= abs(int(m[1])) <= 53):
                raise GoogleRecurrenceError()
            if m[1] is not None and freq not in (du.MONTHLY, du.YEARLY):
                raise GoogleRecurrenceError()
            day = du.weekday(_DAY_CODES.index(m[2]))
            days.append(day(int(m[1])) if m[1] else day)
        kw["byweekday"] = days
    # RFC 5545 "MUST NOT" combinations.
    if ("byweekno" in kw and freq != du.YEARLY) or ("bymonthday" in kw and freq == du.WEEKLY):
        raise GoogleRecurrenceError()
    if "byyearday" in kw and freq in (du.DAILY, du.WEEKLY, du.MONTHLY):
        raise GoogleRecurrenceError()
    if "WKST" in parts:
        if parts["WKST"] not in _DAY_CODES:
            raise GoogleRecurrenceError()
        kw["wkst"] = _DAY_CODES.index(parts["WKST"])
    if "UNTIL" in parts:
        kw["until"] = _google_until(parts["UNTIL"], zone)
    for key in ("INTERVAL", "COUNT"):
        if key in parts and (not parts[key].isdigit() or int(parts[key]) < 1):
            raise GoogleRecurrenceError()
    kw["interval"] = int(parts.get("INTERVAL", 1))
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    try:
        rule = du.rrule(freq, dtstart=dtstart, **kw)
        if count is None:
            return rule
        # DTSTART is always an instance and counts towards COUNT, even when the rule itself
        # would not produce it (it is added to the set separately).
        if next(iter(rule.replace(count=1)), None) != dtstart:
            count -= 1
        return rule.replace(count=count) if count else None
    except ValueError as exc:
        raise GoogleRecurrenceError() from exc


def _google_series(lines: Sequence[str], start: Mapping[str, Any]) -> _GoogleSeries:
    dtstart, zone = _google_start(start)
    rset = du.rruleset()
    rset.rdate(dtstart)
    exdate_days: set[date] = set()
    if isinstance(lines, str):
        raise GoogleRecurrenceError()
    for raw in lines:
        if not isinstance(raw, str):
            raise GoogleRecurrenceError()
        head, sep, value = raw.strip().partition(":")
        name, *raw_params = head.split(";")
        name = name.strip().upper()
        params = {}
        for param in raw_params:
            key, psep, pval = param.partition("=")
            if not psep:
                raise GoogleRecurrenceError()
            params[key.strip().upper()] = pval.strip().strip('"')
        if not sep or not value.strip():
            raise GoogleRecurrenceError()
        if name in ("RRULE", "EXRULE"):
            rule = _google_rrule(value, dtstart, zone)
            if rule is not None:
                (rset.rrule if name == "RRULE" else rset.exrule)(rule)
            continue
        if name not in ("RDATE", "EXDATE"):
            raise GoogleRecurrenceError()  # includes DTSTART lines
        if params.get("VALUE", "DATE-TIME").upper() not in ("DATE", "DATE-TIME"):
            raise GoogleRecurrenceError()
        value_zone = zone
        if "TZID" in params:
            value_zone = _zone(params["TZID"])
            if value_zone is None:
                raise GoogleRecurrenceError()
        for token in value.split(","):
            stamp = _stamp(token, value_zone)
            if zone is None:  # all-day series: only the date matters
                day = stamp.date() if isinstance(stamp, datetime) else stamp
                point = datetime.combine(day, time())
            elif isinstance(stamp, datetime):
                point = stamp.astimezone(zone)
            elif name == "EXDATE":
                exdate_days.add(stamp)
                continue
            else:
                point = datetime.combine(stamp, dtstart.time(), tzinfo=zone)
            (rset.rdate if name == "RDATE" else rset.exdate)(point)
    return _GoogleSeries(dtstart, zone, rset, frozenset(exdate_days))


def validate_google_recurrence(lines: Sequence[str], start: Mapping[str, Any]) -> str | None:
    """The message Google's 400 (reason ``invalid``) would carry, or None if accepted."""
    if not lines:
        return None
    try:
        _google_series(lines, start)
    except GoogleRecurrenceError as exc:
        return exc.message
    return None


def expand_google(
    recurrence: Sequence[str],
    start: Mapping[str, Any],
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = 2000,
    *,
    duration: timedelta = ZERO,
    all_day_zone: str = "UTC",
) -> list[Occurrence]:
    """Expand a Google master's ``recurrence`` lines; raises ``GoogleRecurrenceError``.

    ``duration`` is the master's end minus start. For all-day series it should be whole
    days; the occurrence spans local midnights of ``all_day_zone`` for the window test
    (Google uses the calendar's or the request's ``timeZone`` there).
    """
    series = _google_series(recurrence, start)
    day_zone = _zone(all_day_zone) or UTC

    def items() -> Iterator[tuple[Occurrence, datetime, datetime]]:
        for value in series.rset:
            if series.zone is None:
                day = value.date()
                occ = Occurrence(datetime.combine(day, time(), tzinfo=UTC), day, day)
                begin = datetime.combine(day, time(), tzinfo=day_zone)
                yield occ, begin, (value + duration).replace(tzinfo=day_zone)
            elif value.date() not in series.exdate_days:
                utc = value.astimezone(UTC)
                yield Occurrence(utc, utc.astimezone(series.zone)), utc, utc + duration

    return _collect(items(), window_start, window_end, limit)


def google_instance_id(master_id: str, occ: Occurrence) -> str:
    """``<master>_<YYYYMMDDTHHMMSSZ>`` for timed series, ``<master>_<YYYYMMDD>`` for all-day."""
    if occ.date is not None:
        return f"{master_id}_{occ.date:%Y%m%d}"
    return f"{master_id}_{occ.original_start_utc.astimezone(UTC):%Y%m%dT%H%M%SZ}"


_INSTANCE_RE = re.compile(r"(.+)_(\d{8})(?:T(\d{6})Z)?")


def parse_google_instance_suffix(instance_id: str) -> tuple[str, datetime | date] | None:
    """Split an instance id into the master id and its original start (UTC) or date."""
    m = _INSTANCE_RE.fullmatch(instance_id)
    if not m:
        return None
    try:
        day = datetime.strptime(m[2], "%Y%m%d").date()
        if m[3] is None:
            return m[1], day
        clock = datetime.strptime(m[3], "%H%M%S").time()
    except ValueError:
        return None
    return m[1], datetime.combine(day, clock, tzinfo=UTC)


# --------------------------------------------------------------------------- Graph


class GraphRecurrenceError(ValueError):
    """A Graph 400; ``code`` and ``message`` go into the ``error`` object."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


_PATTERN = "ErrorInvalidRecurrencePattern"
_RANGE = "ErrorInvalidRecurrenceRange"
_RANGE_TYPES = ("endDate", "noEnd", "numbered")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_INDEXES = ("first", "second", "third", "fourth", "last")
_NEEDS_DAYS = ("weekly", "relativeMonthly", "relativeYearly")
_NEEDS_DOM = ("absoluteMonthly", "absoluteYearly")
_NEEDS_MONTH = ("absoluteYearly", "relativeYearly")
_PATTERN_TYPES = ("daily", *_NEEDS_DAYS, *_NEEDS_DOM)
_NO_END = date(1, 1, 1)


@dataclass(frozen=True)
class _GraphRule:
    type: str
    interval: int
    month: int
    day_of_month: int
    days: tuple[int, ...]  # Python weekday numbers, Sunday-first order
    first_day: int
    index: str
    range_type: str
    start_date: date | None
    end_date: date | None
    count: int
    time_zone: str | None


def _literal(value: object, expected: str) -> GraphRecurrenceError:
    message = f"Cannot convert the literal '{value}' to the expected type '{expected}'."
    return GraphRecurrenceError("RequestBodyRead", message)


def _enum(value: object, choices: Sequence[str], expected: str) -> str:
    table = {c.lower(): c for c in choices}
    if not isinstance(value, str) or value.lower() not in table:
        raise _literal(value, f"microsoft.graph.{expected}")
    return table[value.lower()]


def _int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _literal(value, "Edm.Int32")
    return value


def _date(obj: Mapping[str, Any], key: str) -> date | None:
    value = obj.get(key)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _literal(value, "Edm.Date") from None


# The numbers _graph_rule reads (with _int, which refuses True and 1.0).
_GRAPH_INTS = (
    ("pattern", "interval"),
    ("pattern", "month"),
    ("pattern", "dayOfMonth"),
    ("range", "numberOfOccurrences"),
)


def graph_numbers_exact(rec: Mapping[str, Any]) -> bool:
    """Whether each number ``_graph_rule`` reads is absent or a plain int: then two recurrences
    that compare equal expand alike (``==`` alone takes ``True`` or ``1.0`` for ``1``)."""
    for part, key in _GRAPH_INTS:
        value = rec.get(part)
        number = value.get(key) if isinstance(value, Mapping) else None
        if number is not None and type(number) is not int:
            return False
    return True


def _graph_rule(rec: Mapping[str, Any]) -> _GraphRule:
    pattern, rng = rec.get("pattern"), rec.get("range")
    if not isinstance(pattern, Mapping):
        raise GraphRecurrenceError(_PATTERN, "The recurrence pattern is required.")
    if not isinstance(rng, Mapping):
        raise GraphRecurrenceError(_RANGE, "The recurrence range is required.")

    def required(prop: str, kind: str) -> GraphRecurrenceError:
        return GraphRecurrenceError(_PATTERN, f"Property '{prop}' is required for '{kind}'.")

    if pattern.get("type") is None:
        raise required("type", "recurrencePattern")
    kind = _enum(pattern["type"], _PATTERN_TYPES, "recurrencePatternType")
    interval = _int(pattern, "interval")
    if interval is None:
        raise required("interval", kind)
    if interval < 1:
        raise GraphRecurrenceError(_PATTERN, "The recurrence interval must be at least 1.")
    # Even ignored properties are validated; 0 is what Graph echoes for unused ones.
    month, dom = _int(pattern, "month") or 0, _int(pattern, "dayOfMonth") or 0
    if kind in _NEEDS_MONTH and month == 0:
        raise required("month", kind)
    if not 0 <= month <= 12:
        raise GraphRecurrenceError(_PATTERN, "The month must be between 1 and 12.")
    if kind in _NEEDS_DOM and dom == 0:
        raise required("dayOfMonth", kind)
    if not 0 <= dom <= 31:
        raise GraphRecurrenceError(_PATTERN, "The dayOfMonth must be between 1 and 31.")
    raw_days = pattern.get("daysOfWeek") or []
    if not isinstance(raw_days, list):
        raise _literal(raw_days, "Collection(microsoft.graph.dayOfWeek)")
    picked = {_WEEKDAYS.index(_enum(d, _WEEKDAYS, "dayOfWeek")) for d in raw_days}
    if kind in _NEEDS_DAYS and not picked:
        raise required("daysOfWeek", kind)
    first_day = _enum(pattern.get("firstDayOfWeek") or "sunday", _WEEKDAYS, "dayOfWeek")
    index = _enum(pattern.get("index") or "first", _INDEXES, "weekIndex")

    if rng.get("type") is None:
        raise GraphRecurrenceError(_RANGE, "Property 'type' is required for 'recurrenceRange'.")
    range_type = _enum(rng["type"], _RANGE_TYPES, "recurrenceRangeType")
    start_date, end_date = _date(rng, "startDate"), _date(rng, "endDate")
    count = _int(rng, "numberOfOccurrences") or 0
    if range_type == "endDate":
        if end_date is None:
            raise GraphRecurrenceError(_RANGE, "Property 'endDate' is required for 'endDate'.")
        if start_date is not None and end_date < start_date:
            raise GraphRecurrenceError(_RANGE, "The endDate must not be before the startDate.")
    if range_type == "numbered" and count < 1:
        raise GraphRecurrenceError(_RANGE, "The numberOfOccurrences must be greater than 0.")
    if count < 0:
        raise GraphRecurrenceError(_RANGE, "The numberOfOccurrences must not be negative.")
    zone = rng.get("recurrenceTimeZone")
    if zone is not None and not isinstance(zone, str):
        raise _literal(zone, "Edm.String")
    return _GraphRule(
        type=kind,
        interval=interval,
        month=month if kind in _NEEDS_MONTH else 0,
        day_of_month=dom if kind in _NEEDS_DOM else 0,
        days=tuple(sorted(picked, key=lambda d: (d + 1) % 7)) if kind in _NEEDS_DAYS else (),
        first_day=_WEEKDAYS.index(first_day),
        index=index if kind.startswith("relative") else "first",
        range_type=range_type,
        start_date=start_date,
        end_date=end_date if range_type == "endDate" else None,
        count=count if range_type == "numbered" else 0,
        time_zone=zone or None,
    )


def normalize_graph_recurrence(
    rec: Mapping[str, Any], event_start_local: datetime, event_time_zone: str
) -> dict[str, Any]:
    """Validate ``rec`` and return it as Graph echoes it (every field filled in).

    ``event_time_zone`` is the event's zone name as Graph would echo it (normally the Windows
    name); it becomes ``recurrenceTimeZone`` when the request left that out.
    """
    rule = _graph_rule(rec)
    if rule.start_date is None:
        raise GraphRecurrenceError(_RANGE, "Property 'startDate' is required for 'range'.")
    if GRAPH_REQUIRE_START_DATE_MATCH and rule.start_date != event_start_local.date():
        raise GraphRecurrenceError(
            _RANGE, "The recurrence range startDate must be the start date of the event."
        )
    pattern: dict[str, Any] = {
        "type": rule.type,
        "interval": rule.interval,
        "month": rule.month,
        "dayOfMonth": rule.day_of_month,
    }
    if rule.type in _NEEDS_DAYS:
        pattern["daysOfWeek"] = [_WEEKDAYS[d] for d in rule.days]
    pattern["firstDayOfWeek"] = _WEEKDAYS[rule.first_day]
    pattern["index"] = rule.index
    return {
        "pattern": pattern,
        "range": {
            "type": rule.range_type,
            "startDate": rule.start_date.isoformat(),
            "endDate": (rule.end_date or _NO_END).isoformat(),
            "recurrenceTimeZone": rule.time_zone or event_time_zone,
            "numberOfOccurrences": rule.count,
        },
    }


def _month_day(year: int, month: int, day: int) -> date | None:
    last = calendar.monthrange(year, month)[1]
    if day <= last:
        return date(year, month, day)
    return date(year, month, last) if GRAPH_CLAMP_DAY_OF_MONTH else None


def _nth_weekday(year: int, month: int, days: tuple[int, ...], index: str) -> date:
    """The index-th day of the month whose weekday is in ``days`` (like BYSETPOS)."""
    last = calendar.monthrange(year, month)[1]
    hits = [d for d in range(1, last + 1) if date(year, month, d).weekday() in days]
    return date(year, month, hits[-1 if index == "last" else _INDEXES.index(index)])


def _graph_dates(rule: _GraphRule, start: date) -> Iterator[date]:
    """Pattern dates on or after ``start``, in order, up to year 9999."""
    step, stop = rule.interval, date(9999, 1, 1).toordinal()
    if rule.type == "daily":
        yield from map(date.fromordinal, range(start.toordinal(), stop, step))
    elif rule.type == "weekly":
        week = start.toordinal() - (start.weekday() - rule.first_day) % 7
        offsets = sorted((d - rule.first_day) % 7 for d in rule.days)
        for first in range(week, stop, 7 * step):
            yield from (day for o in offsets if (day := date.fromordinal(first + o)) >= start)
    else:
        yearly = rule.type.endswith("Yearly")
        base = start.year * 12 + (rule.month if yearly else start.month) - 1
        k = 0
        while (year := (base + k) // 12) < 9999:
            month = (base + k) % 12 + 1
            if rule.type.startswith("absolute"):
                found = _month_day(year, month, rule.day_of_month)
            else:
                found = _nth_weekday(year, month, rule.days, rule.index)
            if found is not None and found >= start:
                yield found
            k += step * (12 if yearly else 1)


def expand_graph(
    rec: Mapping[str, Any],
    first_start_local: datetime,
    duration: timedelta = ZERO,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = 2000,
) -> list[Occurrence]:
    """Expand a Graph ``patternedRecurrence``; raises ``GraphRecurrenceError``.

    ``first_start_local`` is the master's start, aware and in the recurrence zone (a
    ``ZoneInfo`` for DST-correct results); its time of day is used for every occurrence.
    """
    tz = first_start_local.tzinfo
    if tz is None:
        raise ValueError("first_start_local must be timezone-aware")
    rule = _graph_rule(rec)
    clock = first_start_local.time()

    def items() -> Iterator[tuple[Occurrence, datetime, datetime]]:
        dates = _graph_dates(rule, rule.start_date or first_start_local.date())
        for n, day in enumerate(dates):
            if (rule.count and n >= rule.count) or (rule.end_date and day > rule.end_date):
                return
            utc = datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)
            yield Occurrence(utc, utc.astimezone(tz)), utc, utc + duration

    return _collect(items(), window_start, window_end, limit)


def graph_window(
    occurrences: Sequence[Occurrence],
    starts: Sequence[datetime],
    duration: timedelta = ZERO,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = 2000,
) -> list[Occurrence]:
    """What ``expand_graph`` answers for a window, taken from a series' complete expansion.

    ``occurrences`` is every occurrence of a series in start order and ``starts`` their
    ``original_start_utc``. Those before the bisection point end before ``window_start``, so
    ``_collect`` would skip them anyway: the result is the same list.
    """
    first = 0 if window_start is None else bisect.bisect_left(starts, window_start - duration)
    items = (
        (occurrences[i], starts[i], starts[i] + duration) for i in range(first, len(occurrences))
    )
    return _collect(items, window_start, window_end, limit)


def graph_occurrence_date(occ: Occurrence) -> date:
    """The local original date, as in ``cancelledOccurrences`` ``OID.<masterId>.<date>``."""
    if isinstance(occ.local_start, datetime):
        return occ.local_start.date()
    return occ.local_start
