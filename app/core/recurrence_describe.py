"""Recurrence rules in words, for the UI and for issues ("Monthly on the last Friday").

Split from recurrence.py; import ``describe`` from app.core.recurrence as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from app.core.model import DaySpan, Recurrence, TimeSpan
from app.core.recurrence import (
    _ALL_DAYS,
    _MONTH_ABBR,
    _WEEKDAY_WORDS,
    _WEEKDAYS_SET,
    _WEEKEND,
    RecurrenceError,
    _day_list,
    _format,
    _ordinal,
    _Rule,
    _rule_for,
    _series,
)


def _date_text(day: dt.date) -> str:
    return f"{_MONTH_ABBR[day.month]} {day.day}, {day.year}"


_UNITS: Final = {
    "SECONDLY": ("Every second", "second"),
    "MINUTELY": ("Every minute", "minute"),
    "HOURLY": ("Hourly", "hour"),
    "DAILY": ("Daily", "day"),
    "WEEKLY": ("Weekly", "week"),
    "MONTHLY": ("Monthly", "month"),
    "YEARLY": ("Yearly", "year"),
}


def _head(rule: _Rule) -> str:
    adverb, unit = _UNITS[rule.freq]
    return adverb if rule.interval == 1 else f"Every {rule.interval} {unit}s"


def _describe_pattern(rule: _Rule) -> str | None:
    head = _head(rule)
    if rule.times or rule.byweekno or rule.byyearday:
        return None
    if rule.freq in ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY"):
        if rule.bymonthday or rule.bymonth or rule.bysetpos or rule.ordinals:
            return None
        return f"{head} on {_day_list(rule.days)}" if rule.byday else head
    yearly = rule.freq == "YEARLY"
    if yearly and len(rule.bymonth) != 1:
        return None
    if not yearly and rule.bymonth:
        return None
    of_month = f" of {_MONTH_ABBR[rule.bymonth[0]]}" if yearly else ""
    days, pos = rule.bymonthday, rule.bysetpos
    if days and rule.byday:
        return None
    if days:
        if pos == (-1,) and days in ((28, 29), (28, 29, 30)):
            return f"{head} on day {days[-1]} (the last day in shorter months)"
        if pos:
            return None
        if days == (-1,):
            return f"{head} on the last day{of_month}"
        if len(days) == 1 and days[0] < 0:
            return f"{head} on the {_ordinal(days[0])} day{of_month}"
        if yearly and len(days) == 1:
            return f"{head} on {_MONTH_ABBR[rule.bymonth[0]]} {days[0]}"
        label = "day" if len(days) == 1 else "days"
        return f"{head} on {label} {', '.join(str(d) for d in days)}{of_month}"
    if rule.byday and rule.ordinals and not pos and len(rule.byday) == 1:
        n, wd = rule.byday[0]
        return f"{head} on the {_ordinal(n)} {_WEEKDAY_WORDS[wd]}{of_month}"
    if rule.byday and not rule.ordinals and len(pos) == 1:
        if rule.days == _WEEKDAYS_SET:
            what = "weekday"
        elif rule.days == _WEEKEND:
            what = "weekend day"
        elif rule.days == _ALL_DAYS:
            what = "day"
        else:
            what = f"of {_day_list(rule.days)}"
        return f"{head} on the {_ordinal(pos[0])} {what}{of_month}"
    return None


def describe(rec: Recurrence, when: TimeSpan | DaySpan | None = None) -> str:
    """Short English for the UI and for issues: "Weekly on Mon, Wed, Fri", "Yearly on Feb 29".

    With ``when`` the rule is read in its start-aware normal form and an UNTIL is shown as the
    series' local date; without it, as a UTC time.
    """
    try:
        s = _series(when) if when is not None else None
        rule = _rule_for(rec.rrule, s)
    except RecurrenceError:
        return f"Custom repeat rule ({rec.rrule})"
    text = _describe_pattern(rule) or f"{_head(rule)} ({_format(rule)})"
    if rule.count is not None:
        text += ", once" if rule.count == 1 else f", {rule.count} times"
    elif isinstance(rule.until, dt.datetime):
        if s is not None and s.tz is not None:
            text += f", until {_date_text(rule.until.astimezone(s.tz).date())}"
        else:
            text += f", until {rule.until:%Y-%m-%d %H:%M} UTC"
    elif rule.until is not None:
        text += f", until {_date_text(rule.until)}"
    if rec.exdates:
        n = len(rec.exdates)
        text += f", except {n} date" + ("s" if n > 1 else "")
    if rec.rdates:
        n = len(rec.rdates)
        text += f", plus {n} extra date" + ("s" if n > 1 else "")
    return text
