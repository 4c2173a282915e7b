"""Recurring series: Google's RFC 5545 lines, Graph's ``patternedRecurrence``, one canonical form.

Every series is held as ``model.Recurrence(rrule, exdates, rdates)``: one RRULE value in the
canonical normal form below, and EXDATE/RDATE values as UTC instants (timed series) or dates
(all-day series). Google-originated and Graph-originated versions of the same series give equal
``Recurrence`` values, so the planner can compare them as plain data. The series expands in the
zone of its ``TimeSpan.start_tz`` (wall time, so DST-correct); an all-day series in dates.

See ``../shared/reference/api-spec.md`` §1.6, §2.6, §3.3 and §3.4.

Canonical RRULE normal form
---------------------------
``normalize_rrule`` defines it; every function here returns rules in it.

* Parts in this order: ``FREQ;INTERVAL;BYDAY;BYMONTHDAY;BYYEARDAY;BYWEEKNO;BYMONTH;BYHOUR;
  BYMINUTE;BYSECOND;BYSETPOS;COUNT|UNTIL;WKST``. Names and values upper case; ``INTERVAL`` left
  out when 1; list values de-duplicated and sorted (numbers ascending, ``BYDAY`` by weekday
  Monday first, then ordinal); ``+1MO`` is written ``1MO``.
* ``WKST`` only where it changes the result: WEEKLY with INTERVAL > 1 and BYDAY, or BYWEEKNO.
  ``WKST=MO`` (the default) is never written. With the series start known, a WKST that gives the
  same weeks as another is replaced by the first of MO, SU, TU, WE, TH, FR, SA that does.
* Equivalent spellings become one:
  - ``BYDAY=FR;BYSETPOS=-1`` (one weekday, one position, MONTHLY or YEARLY with one BYMONTH)
    becomes ``BYDAY=-1FR``;
  - all seven days with one BYSETPOS k (MONTHLY, or YEARLY with one BYMONTH) become
    ``BYMONTHDAY=k``;
  - DAILY, MONTHLY or YEARLY with INTERVAL=1 and only plain BYDAY become WEEKLY; WEEKLY with
    INTERVAL=1 and all seven days becomes DAILY; DAILY with all seven days drops BYDAY;
  - ``BYMONTHDAY=28,29,30,31;BYSETPOS=-1`` (the month's last day) becomes ``BYMONTHDAY=-1``;
    with BYSETPOS=-1, days below 28 are dropped (they are never last); in YEARLY with one
    BYMONTH, ``BYMONTHDAY=-k`` becomes the positive day for months of fixed length, and days
    that cannot be the last are dropped likewise.
* With the series start known (every public function except a bare ``normalize_rrule(s)``):
  - the defaults RFC 5545 takes from DTSTART are written out: WEEKLY gets ``BYDAY`` = the start's
    weekday, MONTHLY ``BYMONTHDAY`` = the start's day, YEARLY ``BYMONTH`` and ``BYMONTHDAY``
    (exactly when dateutil and RFC 5545 would take them from DTSTART);
  - ``BYHOUR``/``BYMINUTE``/``BYSECOND`` with the start's own single value are dropped;
  - ``UNTIL``: timed series in UTC (``...Z``); a rule with one occurrence a day at the start's
    wall time gets the end of the last local day it includes, 23:59:59 in the series zone, as
    Google writes it (``UNTIL=20250327T045959Z`` for America/Chicago). Floating and DATE values
    are read in the series zone (a DATE means "through that local day"). All-day series: a DATE.
    An UNTIL before the start becomes the start's day (the start is always an occurrence).

EXDATE and RDATE
----------------
Canonical values are UTC instants (``tzinfo=datetime.UTC``, whole seconds) for timed series and
dates for all-day series, sorted and without duplicates. Google writes them as
``EXDATE;TZID=<zone>:<local>`` (UTC ``...Z`` for the second pass of a repeated wall time, which a
TZID value cannot name) and ``EXDATE;VALUE=DATE:<date>``. A DATE value on a timed series means
the occurrence at the series' wall time on that local date.

(The Graph mapping, and what Graph cannot hold: app/core/recurrence_graph.py.)

Expansion
---------
``expand`` follows RFC 5545 as Google does (and as the sandbox emulates it): DTSTART is always
the first occurrence and counts towards COUNT, invalid dates are skipped, EXDATE removes from
the rule's and RDATE's occurrences. It uses dateutil, except that a WEEKLY rule with BYSETPOS
counts positions in DTSTART's whole week (dateutil counts from DTSTART). Wall times skipped by
a DST change are read with the pre-transition offset, repeated ones as their first pass, as
``core.timezones`` does.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from dateutil import rrule as du

from app.core.model import DaySpan, Recurrence, TimeSpan
from app.core.timezones import canonical_iana, zone


class RecurrenceError(ValueError):
    """A repeat rule we cannot read or use; ``reason`` is a sentence a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unmappable(RecurrenceError):
    """A valid rule that Outlook (Graph ``patternedRecurrence``) cannot hold.

    ``kind`` names the construct (see the module docstring's table), ``detail`` says what it is
    in this rule.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"Outlook cannot hold this repeat rule ({kind}): {detail}")
        self.kind = kind
        self.detail = detail


# --------------------------------------------------------------------------- the rule itself

_DAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_ABBR: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAY_WORDS: Final = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_MONTH_ABBR: Final = (
    "",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
# Finest first: a part is the default taken from DTSTART when FREQ is coarser than it.
_FREQS: Final = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_DU_FREQ: Final[dict[str, Literal[0, 1, 2, 3, 4, 5, 6]]] = {
    "SECONDLY": du.SECONDLY,
    "MINUTELY": du.MINUTELY,
    "HOURLY": du.HOURLY,
    "DAILY": du.DAILY,
    "WEEKLY": du.WEEKLY,
    "MONTHLY": du.MONTHLY,
    "YEARLY": du.YEARLY,
}
_ALL_DAYS: Final = frozenset(range(7))
_WEEKDAYS_SET: Final = frozenset(range(5))
_WEEKEND: Final = frozenset({5, 6})
# Days in each month of a common year, and the most any year has.
_MONTH_MIN: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_MAX: Final = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_STAMP_RE: Final = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_BYDAY_RE: Final = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_NUMBER_RE: Final = re.compile(r"[+-]?\d{1,3}")
# name -> (field, lowest absolute value, highest, may be negative)
_INT_PARTS: Final = {
    "BYSECOND": ("bysecond", 0, 60, False),
    "BYMINUTE": ("byminute", 0, 59, False),
    "BYHOUR": ("byhour", 0, 23, False),
    "BYMONTHDAY": ("bymonthday", 1, 31, True),
    "BYYEARDAY": ("byyearday", 1, 366, True),
    "BYWEEKNO": ("byweekno", 1, 53, True),
    "BYMONTH": ("bymonth", 1, 12, False),
    "BYSETPOS": ("bysetpos", 1, 366, True),
}
_KNOWN_PARTS: Final = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST", *_INT_PARTS}

_SCAN_LIMIT = 200_000  # rule instances expand() may step through (about a second)
_SUB_DAILY_STEP: Final = {"HOURLY": 3600, "MINUTELY": 60, "SECONDLY": 1}


@dataclass(frozen=True)
class _Rule:
    freq: str
    interval: int = 1
    count: int | None = None
    until: dt.date | dt.datetime | None = None  # DATE, floating (naive) or UTC
    byday: tuple[tuple[int, int], ...] = ()  # (ordinal or 0, weekday with Monday = 0)
    bymonthday: tuple[int, ...] = ()
    byyearday: tuple[int, ...] = ()
    byweekno: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    byhour: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    bysecond: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: int = 0
    text: str = field(default="", compare=False)  # as given, for messages

    @property
    def days(self) -> frozenset[int]:
        return frozenset(wd for _, wd in self.byday)

    @property
    def ordinals(self) -> bool:
        return any(n for n, _ in self.byday)

    @property
    def times(self) -> bool:
        return bool(self.byhour or self.byminute or self.bysecond)

    def only(self, *parts: str) -> bool:
        """True if no BYxxx part other than ``parts`` is set."""
        names = (
            "byday",
            "bymonthday",
            "byyearday",
            "byweekno",
            "bymonth",
            "byhour",
            "byminute",
            "bysecond",
            "bysetpos",
        )
        return all(not getattr(self, n) for n in names if n not in parts)


def _show(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")


def _parse_stamp(text: str, what: str) -> dt.date | dt.datetime:
    """``YYYYMMDD``, floating ``YYYYMMDDTHHMMSS`` (naive) or ``...Z`` (UTC)."""
    match = _STAMP_RE.fullmatch(text.strip().upper())
    if match is None:
        raise RecurrenceError(f"{what}: {_show(text)} is not a date (YYYYMMDD[THHMMSS[Z]])")
    day, clock, utc = match.groups()
    try:
        date = dt.date(int(day[:4]), int(day[4:6]), int(day[6:]))
        if clock is None:
            return date
        return dt.datetime(
            date.year,
            date.month,
            date.day,
            int(clock[:2]),
            int(clock[2:4]),
            min(int(clock[4:]), 59),  # a leap second means the last second of its minute
            tzinfo=dt.UTC if utc else None,
        )
    except ValueError as exc:
        raise RecurrenceError(f"{what}: {_show(text)} is not a valid date ({exc})") from exc


def _parse(text: str) -> _Rule:
    """Read an RRULE value (an ``RRULE:`` prefix is allowed); syntax and value ranges only."""
    if not isinstance(text, str):
        raise RecurrenceError(f"a repeat rule must be text, not {type(text).__name__}")
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if not item.strip():
            continue  # a trailing ";"
        key, sep, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not key or not value:
            raise RecurrenceError(f"repeat rule {_show(text)}: {item!r} is not NAME=VALUE")
        if key not in _KNOWN_PARTS:
            raise RecurrenceError(f"repeat rule {_show(text)}: unknown part {key}")
        if key in parts:
            raise RecurrenceError(f"repeat rule {_show(text)}: {key} is given twice")
        parts[key] = value
    if "FREQ" not in parts:
        raise RecurrenceError(f"repeat rule {_show(text)} has no FREQ")
    if parts["FREQ"] not in _FREQS:
        raise RecurrenceError(f"repeat rule {_show(text)}: unknown FREQ {parts['FREQ']}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError(
            f"repeat rule {_show(text)} has both COUNT and UNTIL; RFC 5545 allows only one"
        )
    values: dict[str, Any] = {"freq": parts["FREQ"], "text": text}
    for key in ("INTERVAL", "COUNT"):
        if key in parts:
            raw = parts[key]
            if not raw.isdigit() or int(raw) < 1:
                raise RecurrenceError(
                    f"repeat rule {_show(text)}: {key} must be a whole number of at least 1"
                )
            values[key.lower()] = int(raw)
    if "UNTIL" in parts:
        values["until"] = _parse_stamp(parts["UNTIL"], f"UNTIL of {_show(text)}")
    for key, (name, low, high, signed) in _INT_PARTS.items():
        if key not in parts:
            continue
        numbers = []
        for token in parts[key].split(","):
            number = int(token) if _NUMBER_RE.fullmatch(token) else None
            if (
                number is None
                or not low <= abs(number) <= high
                or (number < 0 and not signed)
                or (token.startswith("-") and number == 0)
            ):
                raise RecurrenceError(f"repeat rule {_show(text)}: bad {key} value {token!r}")
            numbers.append(number)
        values[name] = tuple(numbers)
    if "BYDAY" in parts:
        days = []
        for token in parts["BYDAY"].split(","):
            match = _BYDAY_RE.fullmatch(token)
            ordinal = int(match[1]) if match and match[1] else 0
            if match is None or abs(ordinal) > 53 or (match[1] and ordinal == 0):
                raise RecurrenceError(f"repeat rule {_show(text)}: bad BYDAY value {token!r}")
            days.append((ordinal, _DAYS.index(match[2])))
        values["byday"] = tuple(days)
    if "WKST" in parts:
        if parts["WKST"] not in _DAYS:
            raise RecurrenceError(f"repeat rule {_show(text)}: bad WKST {parts['WKST']!r}")
        values["wkst"] = _DAYS.index(parts["WKST"])
    return _Rule(**values)


def _checked(rule: _Rule) -> _Rule:
    """Reject the combinations RFC 5545 forbids (Google refuses them too)."""
    text = _show(rule.text)
    if rule.ordinals and rule.freq not in ("MONTHLY", "YEARLY"):
        raise RecurrenceError(f"repeat rule {text}: BYDAY ordinals need FREQ=MONTHLY or YEARLY")
    if rule.ordinals and rule.byweekno:
        raise RecurrenceError(f"repeat rule {text}: BYDAY ordinals cannot go with BYWEEKNO")
    if rule.byweekno and rule.freq != "YEARLY":
        raise RecurrenceError(f"repeat rule {text}: BYWEEKNO needs FREQ=YEARLY")
    if rule.bymonthday and rule.freq == "WEEKLY":
        raise RecurrenceError(f"repeat rule {text}: BYMONTHDAY cannot go with FREQ=WEEKLY")
    if rule.byyearday and rule.freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise RecurrenceError(f"repeat rule {text}: BYYEARDAY cannot go with FREQ={rule.freq}")
    if rule.bysetpos and rule.only("bysetpos"):
        raise RecurrenceError(f"repeat rule {text}: BYSETPOS needs another BYxxx part")
    return rule


def _stamp_text(value: dt.date | dt.datetime) -> str:
    # Built by hand: strftime("%Y") does not zero-pad years before 1000 on glibc.
    text = f"{value.year:04d}{value.month:02d}{value.day:02d}"
    if isinstance(value, dt.datetime):
        text += f"T{value.hour:02d}{value.minute:02d}{value.second:02d}"
        if value.tzinfo is not None:
            text += "Z"
    return text


def _format(rule: _Rule) -> str:
    def numbers(values: tuple[int, ...]) -> str:
        return ",".join(str(v) for v in values)

    out = [f"FREQ={rule.freq}"]
    if rule.interval != 1:
        out.append(f"INTERVAL={rule.interval}")
    if rule.byday:
        out.append("BYDAY=" + ",".join(f"{n or ''}{_DAYS[wd]}" for n, wd in rule.byday))
    for name, values in (
        ("BYMONTHDAY", rule.bymonthday),
        ("BYYEARDAY", rule.byyearday),
        ("BYWEEKNO", rule.byweekno),
        ("BYMONTH", rule.bymonth),
        ("BYHOUR", rule.byhour),
        ("BYMINUTE", rule.byminute),
        ("BYSECOND", rule.bysecond),
        ("BYSETPOS", rule.bysetpos),
    ):
        if values:
            out.append(f"{name}={numbers(values)}")
    if rule.count is not None:
        out.append(f"COUNT={rule.count}")
    if rule.until is not None:
        until = rule.until
        if isinstance(until, dt.datetime) and until.tzinfo is not None:
            until = until.astimezone(dt.UTC)
        out.append(f"UNTIL={_stamp_text(until)}")
    if rule.wkst:
        out.append(f"WKST={_DAYS[rule.wkst]}")
    return ";".join(out)


# --------------------------------------------------------------------------- the series


@dataclass(frozen=True)
class _Series:
    """Where a series repeats: its first start as a wall time, and its zone (None: all-day)."""

    local: dt.datetime  # naive wall time, whole seconds; midnight for all-day series
    tz: ZoneInfo | None
    zone_name: str  # canonical IANA name; "" for all-day series

    @property
    def start_date(self) -> dt.date:
        return self.local.date()

    @property
    def first(self) -> dt.datetime | dt.date:
        """The start as a canonical point: a UTC instant, or the date."""
        if self.tz is None:
            return self.start_date
        return self.local.replace(tzinfo=self.tz).astimezone(dt.UTC)

    def on(self, day: dt.date) -> dt.datetime | dt.date:
        """The occurrence point at the series' wall time on ``day``."""
        if self.tz is None:
            return day
        return self.instant(dt.datetime.combine(day, self.local.time()))

    def instant(self, wall: dt.datetime) -> dt.datetime:
        """A naive wall time in the series zone as UTC (first pass / pre-transition offset)."""
        assert self.tz is not None
        return wall.replace(tzinfo=self.tz, fold=0).astimezone(dt.UTC)

    def end_of_day(self, day: dt.date) -> dt.datetime:
        """23:59:59 of ``day`` in the series zone (the last second before the next midnight)."""
        nxt = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        return self.instant(nxt) - dt.timedelta(seconds=1)


def _series(when: TimeSpan | DaySpan) -> _Series:
    if isinstance(when, DaySpan):
        return _Series(dt.datetime.combine(when.start, dt.time()), None, "")
    if not isinstance(when, TimeSpan):
        raise RecurrenceError(f"a series needs a TimeSpan or DaySpan, not {type(when).__name__}")
    tz = zone(when.start_tz)
    if tz is None:
        raise RecurrenceError(f"unknown time zone {_show(str(when.start_tz))} for the series")
    local = when.start.astimezone(tz).replace(microsecond=0, tzinfo=None)
    return _Series(local, tz, canonical_iana(when.start_tz) or when.start_tz)


def _point(
    value: dt.date | dt.datetime, s: _Series, tz: ZoneInfo | None = None
) -> dt.datetime | dt.date:
    """A canonical EXDATE/RDATE point; floating times are read in ``tz`` (default: series')."""
    if s.tz is None:
        if isinstance(value, dt.datetime):
            return (value.astimezone(dt.UTC) if value.tzinfo else value).date()
        return value
    if not isinstance(value, dt.datetime):
        return s.on(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=tz or s.tz, fold=0).astimezone(dt.UTC).replace(microsecond=0)
    return value.astimezone(dt.UTC).replace(microsecond=0)


def _points(values: Iterable[dt.date | dt.datetime], s: _Series) -> tuple[Any, ...]:
    return tuple(sorted({_point(v, s) for v in values}))


# --------------------------------------------------------------------------- normal form


def _sorted(rule: _Rule) -> _Rule:
    return replace(
        rule,
        byday=tuple(sorted(set(rule.byday), key=lambda d: (d[1], d[0]))),
        bymonthday=tuple(sorted(set(rule.bymonthday))),
        byyearday=tuple(sorted(set(rule.byyearday))),
        byweekno=tuple(sorted(set(rule.byweekno))),
        bymonth=tuple(sorted(set(rule.bymonth))),
        byhour=tuple(sorted(set(rule.byhour))),
        byminute=tuple(sorted(set(rule.byminute))),
        bysecond=tuple(sorted(set(rule.bysecond))),
        bysetpos=tuple(sorted(set(rule.bysetpos))),
    )


def _with_start(rule: _Rule, s: _Series) -> _Rule:
    rank = _FREQS.index(rule.freq)
    if s.tz is None:
        if rank < _FREQS.index("DAILY") or rule.times:
            raise RecurrenceError(
                f"repeat rule {_show(rule.text)}: an all-day series cannot repeat within a day"
            )
    else:
        # A single value equal to the start's is what RFC 5545 takes from DTSTART anyway.
        if rank > _FREQS.index("HOURLY") and rule.byhour == (s.local.hour,):
            rule = replace(rule, byhour=())
        if rank > _FREQS.index("MINUTELY") and rule.byminute == (s.local.minute,):
            rule = replace(rule, byminute=())
        if rank > _FREQS.index("SECONDLY") and rule.bysecond == (s.local.second,):
            rule = replace(rule, bysecond=())
    # RFC 5545 / dateutil take these from DTSTART when no day part is given: write them out.
    if not (rule.byweekno or rule.byyearday or rule.bymonthday or rule.byday):
        if rule.freq == "YEARLY":
            rule = replace(
                rule, bymonth=rule.bymonth or (s.local.month,), bymonthday=(s.local.day,)
            )
        elif rule.freq == "MONTHLY":
            rule = replace(rule, bymonthday=(s.local.day,))
        elif rule.freq == "WEEKLY":
            rule = replace(rule, byday=((0, s.local.weekday()),))
    return rule


def _simplify(rule: _Rule) -> _Rule:
    """One pass of the context-free rewrites to the canonical spelling."""
    in_month = rule.freq == "MONTHLY" or (rule.freq == "YEARLY" and len(rule.bymonth) == 1)
    plain_days = bool(rule.byday) and not rule.ordinals
    # BYDAY of all seven days only limits DAILY and finer rules to... every day.
    if plain_days and rule.days == _ALL_DAYS and _FREQS.index(rule.freq) <= _FREQS.index("DAILY"):
        return replace(rule, byday=())
    if (
        in_month
        and plain_days
        and len(rule.bysetpos) == 1
        and rule.only("byday", "bymonth", "bysetpos")
    ):
        k = rule.bysetpos[0]
        if rule.days == _ALL_DAYS and abs(k) <= 31:
            return replace(rule, byday=(), bysetpos=(), bymonthday=(k,))
        if len(rule.byday) == 1 and abs(k) <= 5:
            return replace(rule, byday=((k, rule.byday[0][1]),), bysetpos=())
    if (
        rule.interval == 1
        and plain_days
        and rule.freq in ("DAILY", "MONTHLY", "YEARLY")
        and rule.only("byday", "byhour", "byminute", "bysecond")
    ):
        return replace(rule, freq="WEEKLY", wkst=0)
    if (
        rule.interval == 1
        and rule.freq == "WEEKLY"
        and plain_days
        and rule.days == _ALL_DAYS
        and rule.only("byday", "byhour", "byminute", "bysecond")
    ):
        return replace(rule, freq="DAILY", byday=(), wkst=0)
    if in_month and rule.bysetpos == (-1,) and rule.only("bymonthday", "bymonth", "bysetpos"):
        days = rule.bymonthday
        if rule.freq == "YEARLY":
            low, high = _MONTH_MIN[rule.bymonth[0]], _MONTH_MAX[rule.bymonth[0]]
        else:
            low, high = 28, 31
        if days and min(days) > 0 and low in days:
            # The month always has day ``low``, so smaller days are never last; days past the
            # longest such month never exist.
            kept = tuple(d for d in days if low <= d <= high)
            if kept == tuple(range(low, high + 1)):
                last = -1 if low != high else low
                return replace(rule, bymonthday=(last,), bysetpos=())
            if kept == (low,):
                return replace(rule, bymonthday=(low,), bysetpos=())
            if kept != days:
                return replace(rule, bymonthday=kept)
    if (
        rule.freq == "YEARLY"
        and len(rule.bymonth) == 1
        and len(rule.bymonthday) == 1
        and rule.bymonthday[0] < 0
        and _MONTH_MIN[rule.bymonth[0]] == _MONTH_MAX[rule.bymonth[0]]
    ):
        day = _MONTH_MIN[rule.bymonth[0]] + 1 + rule.bymonthday[0]
        if day >= 1:
            return replace(rule, bymonthday=(day,))
    return rule


def _day_granular(rule: _Rule) -> bool:
    """One occurrence a day at most, at the start's wall time."""
    return _FREQS.index(rule.freq) >= _FREQS.index("DAILY") and not rule.times


def _normal_until(rule: _Rule, s: _Series | None) -> _Rule:
    until = rule.until
    if until is None:
        return rule
    if s is None:
        if isinstance(until, dt.datetime) and until.tzinfo is not None:
            return replace(rule, until=until.astimezone(dt.UTC))
        return rule
    if s.tz is None:
        day = _point(until, s)
        assert not isinstance(day, dt.datetime)
        return replace(rule, until=max(day, s.start_date))
    if isinstance(until, dt.datetime):
        instant = _point(until, s)
        assert isinstance(instant, dt.datetime)
    else:
        instant = s.end_of_day(until)  # a DATE on a timed series: through that local day
    if _day_granular(rule):
        last = instant.astimezone(s.tz).date()
        if s.instant(dt.datetime.combine(last, s.local.time())) > instant:
            last -= dt.timedelta(days=1)
        instant = s.end_of_day(max(last, s.start_date))
    return replace(rule, until=instant)


def _week_shift(day: int, wkst: int) -> int:
    return (day - wkst) // 7  # -1 for days before the week start in a Monday-based week


def _normal_wkst(rule: _Rule, s: _Series | None) -> _Rule:
    if rule.wkst == 0 or rule.byweekno:
        return rule
    if not (rule.freq == "WEEKLY" and rule.interval > 1 and rule.byday):
        return replace(rule, wkst=0)
    if s is None or rule.bysetpos:
        return rule
    # Two week starts give the same weeks if every day that can occur (the BYDAY days and the
    # start's) falls in the same week relative to both.
    days = rule.days | {s.local.weekday()}

    def same(other: int) -> bool:
        return len({_week_shift(d, rule.wkst) - _week_shift(d, other) for d in days}) == 1

    for candidate in (0, 6, 1, 2, 3, 4, 5):
        if same(candidate):
            return replace(rule, wkst=candidate)
    return rule  # not reached: a week start is the same as itself


def _normalize(rule: _Rule, s: _Series | None) -> _Rule:
    rule = _sorted(rule)
    if s is not None:
        rule = _with_start(rule, s)
    for _ in range(10):
        simpler = _sorted(_simplify(rule))
        if simpler == rule:
            break
        rule = simpler
    return _normal_wkst(_normal_until(rule, s), s)


def _rule_for(text: str, s: _Series | None) -> _Rule:
    return _normalize(_checked(_parse(text)), s)


def normalize_rrule(rrule: str, *, when: TimeSpan | DaySpan | None = None) -> str:
    """Return ``rrule`` (with or without ``RRULE:``) in the canonical normal form.

    Without ``when`` only the rewrites that need no start are made (see the module docstring);
    with it, the full normal form that ``recurrence_from_*`` produce. Raises
    ``RecurrenceError`` for rules that cannot be read or that RFC 5545 forbids.
    """
    return _format(_rule_for(rrule, _series(when) if when is not None else None))


# --------------------------------------------------------------------------- dateutil


def _du_rule(
    rule: _Rule, dtstart: dt.datetime, *, bounded: bool = True, count: int | None = None
) -> du.rrule:
    kwargs: dict[str, Any] = {"dtstart": dtstart, "interval": rule.interval, "wkst": rule.wkst}
    if bounded:
        if count is not None:
            kwargs["count"] = count
        if isinstance(rule.until, dt.datetime):
            kwargs["until"] = rule.until if dtstart.tzinfo else rule.until.replace(tzinfo=None)
        elif rule.until is not None:
            kwargs["until"] = dt.datetime.combine(rule.until, dt.time())
    for name in ("bysetpos", "bymonth", "bymonthday", "byyearday", "byweekno"):
        if getattr(rule, name):
            kwargs[name] = list(getattr(rule, name))
    for name in ("byhour", "byminute", "bysecond"):
        if getattr(rule, name):
            kwargs[name] = list(getattr(rule, name))
    if rule.byday:
        kwargs["byweekday"] = [du.weekday(wd, n or None) for n, wd in rule.byday]
    try:
        return du.rrule(_DU_FREQ[rule.freq], **kwargs)
    except ValueError as exc:
        raise RecurrenceError(
            f"repeat rule {_show(_format(rule))} cannot be expanded: {exc}"
        ) from exc


@functools.lru_cache(maxsize=256)
def _never(rule: _Rule, dtstart: dt.datetime) -> bool:
    """Whether a DAILY or finer rule's date limits match no date at all (BYMONTH=2;BYMONTHDAY=30).

    dateutil would step through every day (or hour) up to year 9999 looking for one, which takes
    seconds; the same limits as a YEARLY rule step through years instead.
    """
    if _FREQS.index(rule.freq) > _FREQS.index("DAILY"):
        return False
    if rule.bysetpos and rule.freq == "DAILY":
        per_day = 1
        for values in (rule.byhour, rule.byminute, rule.bysecond):
            per_day *= max(len(values), 1)
        if all(abs(k) > per_day for k in rule.bysetpos):
            return True
    if not (rule.bymonth or rule.bymonthday or rule.byyearday or rule.byweekno):
        return False
    probe = _Rule(
        "YEARLY",
        byday=rule.byday,
        bymonthday=rule.bymonthday,
        byyearday=rule.byyearday,
        byweekno=rule.byweekno,
        bymonth=rule.bymonth,
        wkst=rule.wkst,
    )
    start = dtstart.replace(month=1, day=1, tzinfo=None)
    return next(iter(_du_rule(probe, start, bounded=False)), None) is None


def _generate(
    rule: _Rule, dtstart: dt.datetime, *, bounded: bool = True, count: int | None = None
) -> Iterator[dt.datetime]:
    """The rule's own occurrences from ``dtstart`` (aware in the series zone, or naive)."""
    if rule.freq != "WEEKLY" or not rule.bysetpos:
        yield from _du_rule(rule, dtstart, bounded=bounded, count=count)
        return
    # dateutil starts the first week at DTSTART rather than at WKST, so BYSETPOS would count
    # positions in a shortened week. Start at the week's start and drop what comes before.
    begin = dtstart - dt.timedelta(days=(dtstart.weekday() - rule.wkst) % 7)
    produced = 0
    for value in _du_rule(rule, begin, bounded=bounded):
        if count is not None and produced >= count:
            return
        if value >= dtstart:  # same tzinfo: compares wall times, as dateutil does
            produced += 1
            yield value


def _starts_on_occurrence(rule: _Rule, s: _Series) -> bool:
    """Whether the series' start is an occurrence of the rule itself (RFC 5545 adds it anyway)."""
    if _never(rule, s.local):
        return False
    first = next(_generate(rule, s.local, bounded=False), None)
    return first == s.local


# --------------------------------------------------------------------------- Google


def _params(head: str, line: str) -> tuple[str, dict[str, str]]:
    name, *raw = head.split(";")
    params: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep:
            raise RecurrenceError(f"recurrence line {_show(line)}: bad parameter {item!r}")
        params[key.strip().upper()] = value.strip().strip('"')
    return name.strip().upper(), params


def _google_points(
    line: str, params: Mapping[str, str], value: str, s: _Series
) -> list[dt.datetime | dt.date]:
    kind = params.get("VALUE", "DATE-TIME").upper()
    if kind not in ("DATE", "DATE-TIME"):
        raise RecurrenceError(f"recurrence line {_show(line)}: VALUE={kind} is not supported")
    tz: ZoneInfo | None = None
    if "TZID" in params:
        tz = zone(params["TZID"])
        if tz is None:
            raise RecurrenceError(f"recurrence line {_show(line)}: unknown TZID")
    return [_point(_parse_stamp(token, line), s, tz) for token in value.split(",")]


def recurrence_from_google(lines: Sequence[str], when: TimeSpan | DaySpan) -> Recurrence:
    """Read a Google event's ``recurrence`` lines (RRULE, EXDATE, RDATE) into canonical form.

    ``when`` is the master's start/end. Raises ``RecurrenceError`` for no RRULE, several RRULEs,
    EXRULE, COUNT with UNTIL, other line types and anything unreadable.
    """
    if isinstance(lines, str):
        raise RecurrenceError("recurrence must be a list of lines, not one string")
    s = _series(when)
    rules: list[str] = []
    exdates: list[dt.datetime | dt.date] = []
    rdates: list[dt.datetime | dt.date] = []
    for raw in lines:
        if not isinstance(raw, str):
            raise RecurrenceError(f"recurrence line {raw!r} is not text")
        line = raw.strip()
        if not line:
            continue
        head, sep, value = line.partition(":")
        name, params = _params(head, line)
        if not sep or not value.strip():
            raise RecurrenceError(f"recurrence line {_show(line)} has no value")
        if name == "RRULE":
            rules.append(value)
        elif name == "EXRULE":
            raise RecurrenceError(
                f"EXRULE is not supported (RFC 5545 deprecated it): {_show(line)}"
            )
        elif name in ("EXDATE", "RDATE"):
            (exdates if name == "EXDATE" else rdates).extend(_google_points(line, params, value, s))
        else:
            raise RecurrenceError(f"unsupported recurrence line {_show(line)}")
    if not rules:
        raise RecurrenceError("the recurrence has no RRULE line")
    if len(rules) > 1:
        raise RecurrenceError(
            f"the recurrence has {len(rules)} RRULE lines; only one rule per series is supported"
        )
    if ends_before_it_starts(Recurrence(rules[0]), when):
        # RFC 5545 would keep the first date alone; surely not what its author meant.
        raise RecurrenceError("the repeat rule ends (UNTIL) before the series' first date")
    rule = _rule_for(rules[0], s)
    return Recurrence(_format(rule), _points(exdates, s), _points(rdates, s))


def _google_point_line(name: str, point: dt.datetime | dt.date, s: _Series) -> str:
    if s.tz is None:
        assert not isinstance(point, dt.datetime)
        return f"{name};VALUE=DATE:{_stamp_text(point)}"
    assert isinstance(point, dt.datetime)
    wall = point.astimezone(s.tz).replace(tzinfo=None)
    if s.instant(wall) == point:
        return f"{name};TZID={s.zone_name}:{_stamp_text(wall)}"
    # The second pass of a repeated wall time has no TZID spelling: write the instant.
    return f"{name}:{_stamp_text(point)}"


def recurrence_to_google(rec: Recurrence, when: TimeSpan | DaySpan) -> list[str]:
    """Google ``recurrence`` lines: the RRULE (UNTIL in UTC), then EXDATE and RDATE lines.

    ``recurrence_from_google(recurrence_to_google(rec, when), when) == rec`` for a canonical
    ``rec``.
    """
    s = _series(when)
    lines = [f"RRULE:{_format(_rule_for(rec.rrule, s))}"]
    lines += [_google_point_line("EXDATE", p, s) for p in _points(rec.exdates, s)]
    lines += [_google_point_line("RDATE", p, s) for p in _points(rec.rdates, s)]
    return lines


_ORDINAL_WORDS: Final = {
    1: "first",
    2: "second",
    3: "third",
    4: "fourth",
    5: "fifth",
    -1: "last",
    -2: "second to last",
    -3: "third to last",
    -4: "fourth to last",
    -5: "fifth to last",
}


def _ordinal(n: int) -> str:
    if n in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[n]
    suffix = (
        "th" if 10 <= abs(n) % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(abs(n) % 10, "th")
    )
    return f"{abs(n)}{suffix}" + (" to last" if n < 0 else "")


def _day_list(days: Iterable[int]) -> str:
    return ", ".join(_DAY_ABBR[d] for d in sorted(days))


# --------------------------------------------------------------------------- expansion


def ends_before_it_starts(rec: Recurrence, when: TimeSpan | DaySpan) -> bool:
    """An UNTIL earlier than the series' first start (read from a cloud as it was written:
    normalising makes it the first day's end, as RFC 5545 keeps DTSTART)."""
    try:
        rule, s = _parse(rec.rrule), _series(when)
    except RecurrenceError:
        return False
    until = rule.until
    if until is None:
        return False
    if not isinstance(until, dt.datetime):
        return until < s.start_date
    if until.tzinfo is None or s.tz is None:  # floating: compare wall times
        return until.replace(tzinfo=None) < s.local
    return until < s.local.replace(tzinfo=s.tz)


def expand(
    rec: Recurrence,
    when: TimeSpan | DaySpan,
    window_start: dt.datetime,
    window_end: dt.datetime,
    limit: int = 5000,
) -> list[dt.datetime | dt.date]:
    """Original starts of the occurrences that start in ``[window_start, window_end)``.

    UTC instants for timed series, dates for all-day series (a date counts as its midnight UTC).
    Follows RFC 5545 in the series zone: DTSTART always first (and counted by COUNT), EXDATEs
    removed, RDATEs added. Raises ``RecurrenceError`` when more than ``limit`` occurrences fall
    in the window, or when reaching the window takes more than 200,000 rule steps (an HOURLY
    rule with a COUNT of millions).
    """
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("expand needs an aware window_start and window_end")
    s = _series(when)
    rule = _rule_for(rec.rrule, s)
    excluded = set(_points(rec.exdates, s))
    out: set[dt.datetime | dt.date] = set()

    def consider(point: dt.datetime | dt.date) -> None:
        if point in excluded or point in out:
            return
        if window_start <= _instant(point) < window_end:
            out.add(point)
            if len(out) > limit:
                raise RecurrenceError(
                    f"more than {limit} occurrences between {window_start} and {window_end}"
                )

    consider(s.first)  # RFC 5545: DTSTART is always the first occurrence
    count = rule.count
    if count is not None and not _starts_on_occurrence(rule, s):
        count -= 1  # ... and counts as one
    if count != 0 and not _never(rule, s.local):
        wall = s.local
        if rule.freq in _SUB_DAILY_STEP and count is None and s.tz is not None:
            # Skip whole intervals up to a day before the window: dateutil steps through wall
            # time from DTSTART, and the BY parts repeat with every interval.
            step = dt.timedelta(seconds=_SUB_DAILY_STEP[rule.freq] * rule.interval)
            ahead = window_start.astimezone(s.tz).replace(tzinfo=None) - dt.timedelta(days=1)
            if ahead > wall:
                wall += step * ((ahead - wall) // step)
        dtstart = wall if s.tz is None else wall.replace(tzinfo=s.tz)
        stop = window_end + dt.timedelta(days=2)  # wall-clock order can lag UTC by < 1 day
        for steps, value in enumerate(_generate(rule, dtstart, count=count)):
            if steps >= _SCAN_LIMIT:
                raise RecurrenceError(
                    f"repeat rule {_show(rec.rrule)} has too many occurrences before the window"
                )
            point = value.date() if s.tz is None else value.astimezone(dt.UTC)
            if _instant(point) >= stop:
                break
            consider(point)
    for extra in _points(rec.rdates, s):
        consider(extra)
    return sorted(out, key=_instant)


def _instant(point: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(point, dt.datetime):
        return point
    return dt.datetime.combine(point, dt.time(), tzinfo=dt.UTC)


# Graph's patternedRecurrence and the rules in words live in their own modules; callers keep
# importing them from here.
from app.core.recurrence_describe import describe  # noqa: E402 - after what it imports
from app.core.recurrence_graph import (  # noqa: E402 - after what it imports
    recurrence_from_graph,
    recurrence_to_graph,
)

__all__ = [
    "RecurrenceError",
    "Unmappable",
    "describe",
    "ends_before_it_starts",
    "expand",
    "normalize_rrule",
    "recurrence_from_google",
    "recurrence_from_graph",
    "recurrence_to_google",
    "recurrence_to_graph",
]
