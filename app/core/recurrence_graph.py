"""RRULE <-> Microsoft Graph patternedRecurrence (api-spec.md §2.6, §3.3), both ways.

Split from recurrence.py, which keeps the rule itself, its normal form, Google's lines and
expansion; this module only speaks Graph. Import from app.core.recurrence as before.

Graph
-----
Graph holds only the patterns of [MS-OXCICAL] §2.1.3.2.2. ``recurrence_to_graph`` raises
``Unmappable(kind, detail)`` for anything else, ``kind`` being one of:

=========================  ======================================================================
kind                       construct
=========================  ======================================================================
``FREQ=HOURLY`` (etc.)     HOURLY, MINUTELY, SECONDLY
``BYHOUR`` ``BYMINUTE``    several values, or a value other than the start's
``BYSECOND``
``BYMONTHDAY list``        several days of the month (``BYMONTHDAY=1,15``)
``negative BYMONTHDAY``    counted from the month's end, other than ``-1`` (see below)
``BYMONTHDAY 29-31``       MONTHLY on day 29-31 (RFC skips short months, Exchange moves it to
                           the last day: api-spec §3.3 mismatch 1); YEARLY on a day its month
                           lacks
``Feb 29``                 YEARLY on Feb 29 (RFC: leap years only; Exchange: Feb 28 otherwise)
``BYSETPOS``               several positions, a position other than -1, 1-4, BYSETPOS in DAILY or
                           WEEKLY, or with BYMONTHDAY or an ordinal BYDAY
``BYSETPOS day set``       BYSETPOS over days other than one day, SA+SU, MO-FR or all seven
``ordinal BYDAY in WEEKLY``  ``FREQ=WEEKLY;BYDAY=1MO`` (also DAILY)
``BYDAY ordinals``         several days with ordinals (``1MO,3FR``, also ``1MO,1FR``)
``BYDAY ordinal``          an ordinal other than 1-4 and -1 (``5MO``, ``-2FR``)
``BYDAY``                  plain weekdays in MONTHLY/YEARLY with no position ("every Monday of
                           March", "every Monday of every other month")
``BYDAY in DAILY``         DAILY with INTERVAL > 1 and BYDAY
``BYDAY with BYMONTHDAY``  both (Friday the 13th)
``BYMONTHDAY in DAILY``    DAILY limited to days of the month
``YEARLY without BYMONTH``  YEARLY over the whole year (``BYMONTHDAY=15``, ``BYDAY=20MO``)
``BYWEEKNO`` ``BYYEARDAY``  any
``BYMONTH list``           several months
``BYMONTH``                BYMONTH with a FREQ other than YEARLY
``RDATE``                  any RDATE (Graph cannot add dates; write them as single events)
``DTSTART``                a start that is not itself an occurrence (Graph would drop it:
                           mismatch 2), unless that start is also an EXDATE
``COUNT``                  COUNT > 999
=========================  ======================================================================

Choices:

* Day of month 29-31 (mismatch 1). We take Exchange's documented clamping as Graph's behaviour
  (api-spec marks it [U, likely]; the sandbox does the same, ``GRAPH_CLAMP_DAY_OF_MONTH``), and
  say exactly that in RFC terms: ``absoluteMonthly`` day 31 is ``BYMONTHDAY=-1``, day 30 is
  ``BYMONTHDAY=28,29,30;BYSETPOS=-1`` and day 29 is ``BYMONTHDAY=28,29;BYSETPOS=-1``;
  ``absoluteYearly`` February 29-31 is ``BYMONTH=2;BYMONTHDAY=-1`` and April 31 is April 30.
  These map back to Graph, so a series made in Outlook on "day 31" survives the round trip,
  while a Google ``BYMONTHDAY=31`` (which skips short months) and ``BYMONTHDAY=-2`` are
  Unmappable. If Graph turns out not to clamp, only ``_clamped_month_day`` and
  ``_graph_day_of_month`` change.
* EXDATEs are not part of Graph's pattern: Graph lists deleted occurrences in the master's
  ``cancelledOccurrences``. ``recurrence_to_graph`` ignores EXDATEs (the caller deletes those
  occurrences after writing the master), and ``recurrence_from_graph`` takes the cancelled dates,
  already parsed from ``OID.<id>.<yyyy-mm-dd>``, and makes them EXDATEs at the series' wall time.
* A Graph series whose start is not an occurrence of its pattern ("the first occurrence may be
  this date or later") is read as the RRULE plus an EXDATE for the start (and COUNT + 1, since
  RFC 5545 counts DTSTART), which is the same set; ``recurrence_to_graph`` maps that back.
* ``range.recurrenceTimeZone`` is the CLDR Windows name of ``start_tz`` (``iana_to_windows``), or
  the canonical IANA name when CLDR has none (Graph accepts IANA names). For all-day series it is
  left out: Graph then uses the event's own zone, so ``startDate``/``endDate`` are read in the same
  zone as the event's midnight start, whatever zone the provider writes all-day events in.
* ``recurrence_from_graph`` reads ``endDate`` in ``recurrenceTimeZone`` (the series zone when the
  two name the same Windows zone) and ignores ``range.startDate``: the event's start is the
  first occurrence, as on Google.
* Graph's relative patterns accept any set of days, but only the four OXCICAL sets have a known
  meaning; the others are read as BYSETPOS over the union (api-spec mismatch 4) and are
  Unmappable on the way back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.core.model import DaySpan, Recurrence, TimeSpan
from app.core.recurrence import (
    _ALL_DAYS,
    _DAY_ABBR,
    _DAYS,
    _FREQS,
    _MONTH_ABBR,
    _MONTH_MIN,
    _WEEKDAYS_SET,
    _WEEKEND,
    RecurrenceError,
    Unmappable,
    _checked,
    _day_list,
    _format,
    _normalize,
    _ordinal,
    _parse,
    _points,
    _Rule,
    _Series,
    _series,
    _show,
    _starts_on_occurrence,
)
from app.core.timezones import canonical_iana, iana_to_windows, zone

_GRAPH_DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_GRAPH_INDEX: Final = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_GRAPH_INDEX_BACK: Final = {v: k for k, v in _GRAPH_INDEX.items()}
_GRAPH_TYPES: Final = {
    t.lower(): t
    for t in (
        "daily",
        "weekly",
        "absoluteMonthly",
        "relativeMonthly",
        "absoluteYearly",
        "relativeYearly",
    )
}
_GRAPH_MAX_COUNT: Final = 999


def _graph_day_of_month(rule: _Rule, yearly: bool) -> int:
    days, pos = rule.bymonthday, rule.bysetpos
    # Exchange moves a day the month lacks to its last day (module docstring, mismatch 1).
    if not yearly:
        if pos == (-1,) and days == (28, 29):
            return 29
        if pos == (-1,) and days == (28, 29, 30):
            return 30
        if days == (-1,) and not pos:
            return 31
    elif rule.bymonth == (2,) and days == (-1,) and not pos:
        return 29
    if pos:
        raise Unmappable("BYSETPOS", f"BYSETPOS={_numbers(pos)} with BYMONTHDAY")
    if len(days) > 1:
        raise Unmappable("BYMONTHDAY list", f"several days of the month ({_numbers(days)})")
    day = days[0]
    if day < 0:
        raise Unmappable(
            "negative BYMONTHDAY", f"day {day} counts from the month's end (only -1 maps)"
        )
    if not yearly:
        if day >= 29:
            raise Unmappable(
                "BYMONTHDAY 29-31",
                f"day {day} of the month is skipped in shorter months, while Outlook moves "
                "it to their last day",
            )
        return day
    month = rule.bymonth[0]
    if month == 2 and day == 29:
        raise Unmappable(
            "Feb 29", "Feb 29 comes only in leap years, while Outlook moves it to Feb 28"
        )
    if day > _MONTH_MIN[month]:
        raise Unmappable("BYMONTHDAY 29-31", f"{_MONTH_ABBR[month]} has no day {day}")
    return day


def _numbers(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)


def _graph_relative(rule: _Rule) -> tuple[list[str], str]:
    if rule.ordinals:
        if rule.bysetpos:
            raise Unmappable("BYSETPOS", "BYSETPOS together with an ordinal BYDAY")
        if len(rule.byday) > 1:
            spelled = ",".join(f"{n or ''}{_DAYS[wd]}" for n, wd in rule.byday)
            raise Unmappable("BYDAY ordinals", f"several days with ordinals ({spelled})")
        n, wd = rule.byday[0]
        if n not in _GRAPH_INDEX:
            raise Unmappable(
                "BYDAY ordinal",
                f"the {_ordinal(n)} {_DAY_ABBR[wd]}: Outlook has first to fourth and last only",
            )
        return [_GRAPH_DAYS[wd]], _GRAPH_INDEX[n]
    if not rule.bysetpos:
        raise Unmappable("BYDAY", f"every {_day_list(rule.days)} of the period, without a position")
    if len(rule.bysetpos) > 1 or rule.bysetpos[0] not in _GRAPH_INDEX:
        raise Unmappable(
            "BYSETPOS",
            f"BYSETPOS={_numbers(rule.bysetpos)}: Outlook has one of 1-4 and -1 only",
        )
    if rule.days not in (_ALL_DAYS, _WEEKDAYS_SET, _WEEKEND) and len(rule.days) != 1:
        raise Unmappable(
            "BYSETPOS day set",
            f"a position among {_day_list(rule.days)}: Outlook has one day, weekdays, "
            "weekend days or any day only",
        )
    return [_GRAPH_DAYS[d] for d in sorted(rule.days)], _GRAPH_INDEX[rule.bysetpos[0]]


def _graph_pattern(rule: _Rule) -> dict[str, Any]:
    if _FREQS.index(rule.freq) < _FREQS.index("DAILY"):
        raise Unmappable(f"FREQ={rule.freq}", "Outlook repeats daily at most")
    for name, values in (
        ("BYHOUR", rule.byhour),
        ("BYMINUTE", rule.byminute),
        ("BYSECOND", rule.bysecond),
    ):
        if len(values) > 1:
            raise Unmappable(name, f"several occurrences a day ({name}={_numbers(values)})")
        if values:
            raise Unmappable(name, f"{name}={values[0]} differs from the start time")
    if rule.byweekno:
        raise Unmappable("BYWEEKNO", f"week numbers ({_numbers(rule.byweekno)})")
    if rule.byyearday:
        raise Unmappable("BYYEARDAY", f"days of the year ({_numbers(rule.byyearday)})")
    if rule.bymonth and rule.freq != "YEARLY":
        raise Unmappable(
            "BYMONTH", f"FREQ={rule.freq} limited to months ({_numbers(rule.bymonth)})"
        )
    if len(rule.bymonth) > 1:
        raise Unmappable("BYMONTH list", f"several months ({_numbers(rule.bymonth)})")
    pattern: dict[str, Any]
    if rule.freq == "DAILY":
        if rule.byday:
            raise Unmappable(
                "BYDAY in DAILY",
                f"every {rule.interval} days on {_day_list(rule.days)} only",
            )
        if rule.bymonthday:
            raise Unmappable("BYMONTHDAY in DAILY", "a daily rule limited to days of the month")
        return {"type": "daily", "interval": rule.interval}
    if rule.freq == "WEEKLY":
        if rule.bysetpos:
            raise Unmappable("BYSETPOS", "BYSETPOS in a weekly rule")
        return {
            "type": "weekly",
            "interval": rule.interval,
            "daysOfWeek": [_GRAPH_DAYS[d] for d in sorted(rule.days)],
            "firstDayOfWeek": _GRAPH_DAYS[rule.wkst],
        }
    yearly = rule.freq == "YEARLY"
    if yearly and not rule.bymonth:
        raise Unmappable("YEARLY without BYMONTH", "a yearly rule over the whole year")
    if rule.byday and rule.bymonthday:
        raise Unmappable("BYDAY with BYMONTHDAY", "weekdays that are also given days of month")
    if rule.bymonthday:
        pattern = {
            "type": "absoluteYearly" if yearly else "absoluteMonthly",
            "interval": rule.interval,
            "dayOfMonth": _graph_day_of_month(rule, yearly),
        }
    elif rule.byday:
        days, index = _graph_relative(rule)
        pattern = {
            "type": "relativeYearly" if yearly else "relativeMonthly",
            "interval": rule.interval,
            "daysOfWeek": days,
            "index": index,
        }
    else:  # the start-aware normal form always has a day part here
        raise RecurrenceError(f"repeat rule {_show(_format(rule))} names no day")
    if yearly:
        pattern["month"] = rule.bymonth[0]
    return pattern


def recurrence_to_graph(rec: Recurrence, when: TimeSpan | DaySpan) -> dict[str, Any]:
    """Graph ``patternedRecurrence`` ``{"pattern", "range"}`` for the series, in request form.

    EXDATEs are not part of it: after writing the master, the caller deletes those occurrences
    (Graph then lists them in ``cancelledOccurrences``). Raises ``Unmappable`` naming what Graph
    cannot hold, ``RecurrenceError`` for a rule that cannot be read.
    """
    s = _series(when)
    if rec.rdates:
        raise Unmappable(
            "RDATE", f"{len(rec.rdates)} extra date(s); Outlook series cannot add dates"
        )
    raw = _parse(rec.rrule)
    if raw.ordinals and raw.freq in ("DAILY", "WEEKLY"):
        raise Unmappable(
            "ordinal BYDAY in WEEKLY", f"BYDAY with ordinals in a {raw.freq.lower()} rule"
        )
    rule = _normalize(_checked(raw), s)
    pattern = _graph_pattern(rule)
    count = rule.count
    if not _starts_on_occurrence(rule, s):
        if s.first not in _points(rec.exdates, s):
            raise Unmappable(
                "DTSTART",
                f"the start ({s.local.isoformat(sep=' ')}) is not an occurrence of the rule; "
                "Outlook would drop it",
            )
        if count is not None:
            count -= 1  # RFC 5545 counts the (excluded) start; Graph does not
            if count == 0:
                raise Unmappable("DTSTART", "the only occurrence is the excluded start")
    if count is not None and count > _GRAPH_MAX_COUNT:
        raise Unmappable("COUNT", f"COUNT={count}; Outlook holds at most {_GRAPH_MAX_COUNT}")
    rng: dict[str, Any] = {"type": "noEnd", "startDate": s.start_date.isoformat()}
    if count is not None:
        rng.update(type="numbered", numberOfOccurrences=count)
    elif rule.until is not None:
        if isinstance(rule.until, dt.datetime):
            # The normal form's UNTIL is the end of the last local day the rule includes.
            assert s.tz is not None
            end = rule.until.astimezone(s.tz).date()
        else:
            end = rule.until
        rng.update(type="endDate", endDate=max(end, s.start_date).isoformat())
    if s.tz is not None:
        rng["recurrenceTimeZone"] = iana_to_windows(s.zone_name) or s.zone_name
    return {"pattern": pattern, "range": rng}


def _graph_text(obj: Mapping[str, Any], key: str, default: str) -> str:
    value = obj.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise RecurrenceError(f"Graph recurrence: {key} must be text, not {value!r}")
    return value.strip().lower()


def _graph_int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecurrenceError(f"Graph recurrence: {key} must be a number, not {value!r}")
    return value


def _clamped_month_day(month: int | None, day: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Graph's ``dayOfMonth`` (larger than the month: its last day) as BYMONTHDAY, BYSETPOS."""
    if month is None:
        if day <= 28:
            return (day,), ()
        if day == 31:
            return (-1,), ()
        return tuple(range(28, day + 1)), (-1,)
    if day <= _MONTH_MIN[month]:
        return (day,), ()
    if month == 2:
        return (-1,), ()
    return (_MONTH_MIN[month],), ()


def _graph_zone(name: str, s: _Series) -> ZoneInfo:
    """The zone a Graph ``recurrenceTimeZone`` means; the series' own if they are the same."""
    assert s.tz is not None
    theirs = canonical_iana(name) if name else None
    if theirs is None or theirs == s.zone_name:
        return s.tz
    mine = iana_to_windows(s.zone_name)
    if mine is not None and mine == iana_to_windows(name):
        return s.tz
    return zone(theirs) or s.tz


def recurrence_from_graph(
    pattern_recurrence: Mapping[str, Any],
    when: TimeSpan | DaySpan,
    cancelled: Iterable[dt.date] = (),
) -> Recurrence:
    """Read a Graph ``patternedRecurrence`` (request form, or as Graph echoes it) canonically.

    ``cancelled`` are the original local dates from the master's ``cancelledOccurrences``
    (``OID.<id>.<yyyy-mm-dd>``, parsed by the caller); they become EXDATEs at the series' wall
    time. Raises ``RecurrenceError`` for a payload that cannot be read.
    """
    s = _series(when)
    if not isinstance(pattern_recurrence, Mapping):
        raise RecurrenceError("Graph recurrence must be an object with pattern and range")
    pattern, rng = pattern_recurrence.get("pattern"), pattern_recurrence.get("range")
    if not isinstance(pattern, Mapping) or not isinstance(rng, Mapping):
        raise RecurrenceError("Graph recurrence needs both a pattern and a range")
    kind = _graph_text(pattern, "type", "")
    if kind not in _GRAPH_TYPES:
        raise RecurrenceError(f"Graph recurrence: unknown pattern type {pattern.get('type')!r}")
    interval = _graph_int(pattern, "interval") if "interval" in pattern else 1
    if interval < 1:
        raise RecurrenceError(f"Graph recurrence: interval {interval} is less than 1")
    days: list[int] = []
    raw_days = pattern.get("daysOfWeek") or []
    if not isinstance(raw_days, list):
        raise RecurrenceError(f"Graph recurrence: daysOfWeek {raw_days!r} is not a list")
    for name in raw_days:
        if not isinstance(name, str) or name.strip().lower() not in _GRAPH_DAYS:
            raise RecurrenceError(f"Graph recurrence: unknown day of week {name!r}")
        days.append(_GRAPH_DAYS.index(name.strip().lower()))
    index = _graph_text(pattern, "index", "first")
    if index not in _GRAPH_INDEX_BACK:
        raise RecurrenceError(f"Graph recurrence: unknown index {pattern.get('index')!r}")
    first_day = _graph_text(pattern, "firstDayOfWeek", "sunday")
    if first_day not in _GRAPH_DAYS:
        raise RecurrenceError(f"Graph recurrence: unknown firstDayOfWeek {first_day!r}")
    day_of_month, month = _graph_int(pattern, "dayOfMonth"), _graph_int(pattern, "month")

    needs_days = kind in ("weekly", "relativemonthly", "relativeyearly")
    if needs_days and not days:
        raise RecurrenceError(f"Graph recurrence: a {_GRAPH_TYPES[kind]} pattern needs days")
    if kind.endswith("yearly") and not 1 <= month <= 12:
        raise RecurrenceError(f"Graph recurrence: month {month} is not 1-12")
    if kind.startswith("absolute") and not 1 <= day_of_month <= 31:
        raise RecurrenceError(f"Graph recurrence: dayOfMonth {day_of_month} is not 1-31")
    byday = tuple((0, d) for d in sorted(set(days)))
    relative_pos = (_GRAPH_INDEX_BACK[index],)
    rule = _Rule(freq="DAILY", interval=interval, text=f"Graph {_GRAPH_TYPES[kind]} pattern")
    if kind == "weekly":
        rule = replace(rule, freq="WEEKLY", byday=byday, wkst=_GRAPH_DAYS.index(first_day))
    elif kind in ("absolutemonthly", "absoluteyearly"):
        in_month = month if kind == "absoluteyearly" else None
        monthdays, setpos = _clamped_month_day(in_month, day_of_month)
        rule = replace(
            rule,
            freq="YEARLY" if in_month else "MONTHLY",
            bymonthday=monthdays,
            bysetpos=setpos,
            bymonth=(month,) if in_month else (),
        )
    elif kind in ("relativemonthly", "relativeyearly"):
        yearly = kind == "relativeyearly"
        rule = replace(
            rule,
            freq="YEARLY" if yearly else "MONTHLY",
            byday=byday,
            bysetpos=relative_pos,
            bymonth=(month,) if yearly else (),
        )

    range_type = _graph_text(rng, "type", "noend")
    if range_type == "enddate":
        try:
            end = dt.date.fromisoformat(str(rng.get("endDate")))
        except ValueError as exc:
            raise RecurrenceError(f"Graph recurrence: bad endDate {rng.get('endDate')!r}") from exc
        if s.tz is None:
            rule = replace(rule, until=end)
        else:
            tz = _graph_zone(_graph_text(rng, "recurrenceTimeZone", ""), s)
            nxt = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
            rule = replace(rule, until=nxt.astimezone(dt.UTC) - dt.timedelta(seconds=1))
    elif range_type == "numbered":
        count = _graph_int(rng, "numberOfOccurrences")
        if count < 1:
            raise RecurrenceError(f"Graph recurrence: numberOfOccurrences {count} is below 1")
        rule = replace(rule, count=count)
    elif range_type != "noend":
        raise RecurrenceError(f"Graph recurrence: unknown range type {rng.get('type')!r}")

    rule = _normalize(_checked(rule), s)
    exdates: set[dt.datetime | dt.date] = set()
    for day in cancelled:
        if isinstance(day, dt.datetime):
            local = day.astimezone(s.tz) if (day.tzinfo and s.tz) else day
            day = local.date()
        exdates.add(s.on(day))
    if not _starts_on_occurrence(rule, s):
        # Graph's first occurrence is the first pattern date on or after the start: RFC 5545
        # always has the start, so exclude it (and count it, as RFC 5545 does).
        exdates.add(s.first)
        if rule.count is not None:
            rule = replace(rule, count=rule.count + 1)
    return Recurrence(_format(rule), _points(exdates, s), ())
