"""Tests for app.core.timezones: Windows/IANA names, canonical spellings and Graph dateTimes."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from tzlocal import windows_tz

from app.core import timezones as tz
from app.core.timezones import (
    aware_to_graph,
    canonical_iana,
    graph_datetime_to_aware,
    iana_to_windows,
    to_utc,
    windows_to_iana,
    zone,
)

# Files in a zoneinfo directory that are not usable zones.
NOT_ZONES = {"localtime", "posixrules", "Factory"}
ALL_IANA = sorted(zoneinfo.available_timezones() - NOT_ZONES)
ALL_WINDOWS = sorted(windows_tz.win_tz)

# Mid-month instants across 2026, on both sides of every northern and southern DST change.
INSTANTS_2026 = [datetime(2026, month, 15, 12, tzinfo=UTC) for month in (1, 3, 4, 7, 10, 11, 12)]
# Twice a year from 2000: enough to tell apart zones that only differ in some years.
INSTANTS_SINCE_2000 = [
    datetime(year, month, 1, tzinfo=UTC) for year in range(2000, 2031) for month in (1, 4, 7, 10)
]

# Zones most of our users are in. Their CLDR Windows zone must follow the same clock.
MAJOR_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Edmonton",
    "America/Winnipeg",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Bogota",
    "America/Santiago",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Ho_Chi_Minh",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Perth",
    "Pacific/Auckland",
    "UTC",
]


def offsets(zone_name: str, instants: list[datetime]) -> list[timedelta | None]:
    info = zoneinfo.ZoneInfo(zone_name)
    return [instant.astimezone(info).utcoffset() for instant in instants]


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- windows_to_iana ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("windows", "iana"),
    [
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("Eastern Standard Time", "America/New_York"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("India Standard Time", "Asia/Kolkata"),
        ("FLE Standard Time", "Europe/Kyiv"),
        ("Nepal Standard Time", "Asia/Kathmandu"),
        ("Myanmar Standard Time", "Asia/Yangon"),
        ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
        ("Greenwich Standard Time", "Atlantic/Reykjavik"),
        ("UTC", "UTC"),
        # Etc/GMT signs are inverted: UTC-11 is Etc/GMT+11.
        ("UTC-11", "Etc/GMT+11"),
        ("UTC+12", "Etc/GMT-12"),
        ("British Columbia Standard Time", "America/Vancouver"),
        ("pacific standard time", "America/Los_Angeles"),
        ("  India Standard Time ", "Asia/Kolkata"),
    ],
)
def test_windows_to_iana_known(windows: str, iana: str) -> None:
    assert windows_to_iana(windows) == iana


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars Standard Time",
        "America/New_York",
        "Customized Time Zone",
        "tzone://Microsoft/Custom",
        "Pacific Time (US & Canada)",
    ],
)
def test_windows_to_iana_unknown(name: str) -> None:
    assert windows_to_iana(name) is None


@pytest.mark.parametrize("windows", ALL_WINDOWS)
def test_every_windows_name_maps_to_a_loadable_canonical_zone(windows: str) -> None:
    iana = windows_to_iana(windows)
    assert iana is not None
    assert canonical_iana(iana) == iana
    assert zoneinfo.ZoneInfo(iana).key == iana
    # The 001 zone of a Windows name always maps back to that name.
    assert iana_to_windows(iana) == windows


def test_every_windows_name_icalendar_knows_is_known() -> None:
    missing = [name for name in WINDOWS_TO_OLSON if windows_to_iana(name) is None]
    assert missing == []


# --- iana_to_windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iana", "windows"),
    [
        ("America/Los_Angeles", "Pacific Standard Time"),
        ("America/Toronto", "Eastern Standard Time"),
        ("US/Eastern", "Eastern Standard Time"),
        ("Europe/Kyiv", "FLE Standard Time"),
        ("Europe/Kiev", "FLE Standard Time"),
        ("Europe/Uzhgorod", "FLE Standard Time"),
        ("Asia/Kolkata", "India Standard Time"),
        ("Asia/Calcutta", "India Standard Time"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("Etc/GMT", "UTC"),
        ("GMT", "UTC"),
        ("Etc/GMT+5", "SA Pacific Standard Time"),
        ("asia/kolkata", "India Standard Time"),
        # Since 2026-11-01 British Columbia stays on UTC-7, so its Windows zone is no longer
        # Pacific Standard Time (see the CLDR rows tzlocal ships).
        ("America/Vancouver", "British Columbia Standard Time"),
        ("America/Edmonton", "Alberta Standard Time"),
        # Anything canonical_iana accepts works too.
        ("tzone://Microsoft/Utc", "UTC"),
        ("india standard time", "India Standard Time"),
    ],
)
def test_iana_to_windows_known(iana: str, windows: str) -> None:
    assert iana_to_windows(iana) == windows


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus_Mons", "Factory", "localtime", "tzone://Microsoft/Custom"]
)
def test_iana_to_windows_unknown(name: str) -> None:
    assert iana_to_windows(name) is None


def test_windows_zone_of_an_iana_zone_keeps_its_clock_in_2026() -> None:
    # CLDR maps a zone to the Windows zone with the same current rules, but it lags tzdb (e.g.
    # America/Scoresbysund changed in 2024). Allow a few stragglers, never a major zone.
    mapped = 0
    differs = []
    for name in ALL_IANA:
        windows = iana_to_windows(name)
        if windows is None:
            continue
        mapped += 1
        default = windows_to_iana(windows)
        assert default is not None
        if offsets(default, INSTANTS_2026) != offsets(name, INSTANTS_2026):
            differs.append(name)
    assert mapped > 0.95 * len(ALL_IANA)
    assert len(differs) <= 0.01 * mapped, differs
    assert not set(differs) & set(MAJOR_ZONES)


@pytest.mark.parametrize("name", MAJOR_ZONES)
def test_major_zones_have_a_windows_zone(name: str) -> None:
    assert iana_to_windows(name) is not None


# --- canonical_iana and zone -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("US/Eastern", "America/New_York"),
        ("US/Pacific", "America/Los_Angeles"),
        ("Canada/Pacific", "America/Vancouver"),
        ("Asia/Saigon", "Asia/Ho_Chi_Minh"),
        ("Asia/Katmandu", "Asia/Kathmandu"),
        ("Asia/Rangoon", "Asia/Yangon"),
        ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Atlantic/Faeroe", "Atlantic/Faroe"),
        ("Pacific/Truk", "Pacific/Chuuk"),
        ("America/Godthab", "America/Nuuk"),
        ("America/Montreal", "America/Toronto"),
        # Listed in zone.tab: kept, although tzdb links it to Africa/Abidjan.
        ("Africa/Accra", "Africa/Accra"),
        ("Atlantic/Reykjavik", "Atlantic/Reykjavik"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("Etc/GMT", "UTC"),
        ("GMT", "UTC"),
        ("Zulu", "UTC"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        ("india standard time", "Asia/Kolkata"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("tzone://Microsoft/Utc", "UTC"),
        ("TZONE://MICROSOFT/UTC", "UTC"),
        ("  europe/berlin  ", "Europe/Berlin"),
    ],
)
def test_canonical_iana_known(name: str, canonical: str) -> None:
    assert canonical_iana(name) == canonical
    found = zone(name)
    assert found is not None
    assert found.key == canonical


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "tzone://Microsoft/Custom",
        "Customized Time Zone",
        "Customized Time Zone 1",
        "Mars/Olympus_Mons",
        "localtime",
        "Factory",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "America/",
        "UTC+05:00",
    ],
)
def test_canonical_iana_unknown(name: str) -> None:
    assert canonical_iana(name) is None
    assert zone(name) is None


@pytest.mark.parametrize("value", [None, 3, b"UTC", ["UTC"]])
def test_non_strings_from_json_are_unknown(value: object) -> None:
    # Typed as str, but values come from JSON payloads.
    assert canonical_iana(value) is None  # type: ignore[arg-type]
    assert zone(value) is None  # type: ignore[arg-type]
    assert windows_to_iana(value) is None  # type: ignore[arg-type]
    assert iana_to_windows(value) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("alias", "target"), sorted(tz._RENAMED.items()))
def test_explicit_renames_point_to_existing_zones_with_the_same_rules(
    alias: str, target: str
) -> None:
    assert target in zoneinfo.available_timezones()
    assert canonical_iana(target) == target
    assert canonical_iana(alias) == target
    if alias in zoneinfo.available_timezones():
        assert offsets(alias, INSTANTS_SINCE_2000) == offsets(target, INSTANTS_SINCE_2000)


def test_every_iana_zone_has_a_canonical_form_with_the_same_rules() -> None:
    for name in ALL_IANA:
        canonical = canonical_iana(name)
        assert canonical is not None, name
        assert canonical_iana(canonical) == canonical, name
        found = zone(name)
        assert found is not None, name
        assert found.key == canonical
        assert offsets(canonical, INSTANTS_SINCE_2000) == offsets(name, INSTANTS_SINCE_2000), name


@given(name=st.sampled_from(ALL_IANA + ALL_WINDOWS), data=st.data())
def test_case_and_surrounding_spaces_do_not_matter(name: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    mangled = "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=True))
    padding = data.draw(st.sampled_from(["", " ", "\t", " \n"]))
    assert canonical_iana(padding + mangled + padding) == canonical_iana(name)
    assert iana_to_windows(padding + mangled + padding) == iana_to_windows(name)


@given(st.text())
def test_lookups_never_raise(text: str) -> None:
    for result in (canonical_iana(text), windows_to_iana(text), iana_to_windows(text)):
        assert result is None or isinstance(result, str)
    found = zone(text)
    assert found is None or found.key == canonical_iana(text)


# --- to_utc ------------------------------------------------------------------------------------


def test_to_utc_converts_aware_datetimes() -> None:
    berlin = datetime(2026, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    assert to_utc(berlin) == utc(2026, 7, 1, 10)
    assert to_utc(berlin).tzinfo is UTC


def test_to_utc_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_utc(datetime(2026, 7, 1, 12))


# --- Graph dateTime ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_time", "tz_name", "expected_utc"),
    [
        ("2017-09-04T12:00:00.0000000", "Pacific Standard Time", utc(2017, 9, 4, 19)),
        ("2017-09-04T12:00:00.0000000", "America/Los_Angeles", utc(2017, 9, 4, 19)),
        ("2017-09-04T12:00:00.0000000", "UTC", utc(2017, 9, 4, 12)),
        ("2017-09-04T12:00:00.0000000", "tzone://Microsoft/Utc", utc(2017, 9, 4, 12)),
        ("2017-09-04T12:00:00", "India Standard Time", utc(2017, 9, 4, 6, 30)),
        ("2017-09-04T12:00:00.5", "UTC", utc(2017, 9, 4, 12) + timedelta(milliseconds=500)),
        # The 7th digit (100 ns) does not fit in a datetime and is dropped.
        (
            "2017-09-04T12:00:00.1234567",
            "UTC",
            utc(2017, 9, 4, 12) + timedelta(microseconds=123456),
        ),
    ],
)
def test_graph_datetime_to_aware(date_time: str, tz_name: str, expected_utc: datetime) -> None:
    result = graph_datetime_to_aware(date_time, tz_name)
    assert to_utc(result) == expected_utc
    assert isinstance(result.tzinfo, zoneinfo.ZoneInfo)
    assert result.tzinfo.key == canonical_iana(tz_name)


@pytest.mark.parametrize(
    "date_time",
    [
        "",
        "2017-09-04",
        "2017-09-04 12:00:00",
        "2017-09-04T12:00",
        "2017-09-04T12:00:00Z",
        "2017-09-04T12:00:00.0000000Z",
        "2017-09-04T12:00:00+02:00",
        "2017-09-04T12:00:00.00000000",
        "2017-02-30T12:00:00.0000000",
        "2017-09-04T24:00:00.0000000",
        "2017-09-04T12:60:00.0000000",
        "0000-01-01T00:00:00.0000000",
        "\u0662\u0660\u0661\u0667-09-04T12:00:00",
        " 2017-09-04T12:00:00",
        # In New York this is in year 10000 UTC.
        "9999-12-31T23:00:00.0000000",
    ],
)
def test_graph_datetime_to_aware_rejects_bad_values_naming_them(date_time: str) -> None:
    with pytest.raises(ValueError, match="Graph dateTime") as info:
        graph_datetime_to_aware(date_time, "Eastern Standard Time")
    assert repr(date_time) in str(info.value)


@pytest.mark.parametrize("tz_name", ["", "Mars Standard Time", "tzone://Microsoft/Custom"])
def test_graph_datetime_to_aware_rejects_unknown_zones_naming_them(tz_name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone") as info:
        graph_datetime_to_aware("2017-09-04T12:00:00.0000000", tz_name)
    assert repr(tz_name) in str(info.value)


def test_graph_datetime_to_aware_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="Graph dateTime"):
        graph_datetime_to_aware(None, "UTC")  # type: ignore[arg-type]


def test_bad_value_in_message_is_shortened() -> None:
    with pytest.raises(ValueError, match="Graph dateTime") as info:
        graph_datetime_to_aware("x" * 10_000, "UTC")
    assert len(str(info.value)) < 200


def test_aware_to_graph_formats_like_graph() -> None:
    instant = utc(2017, 9, 4, 19) + timedelta(microseconds=123456)
    assert aware_to_graph(instant, "Pacific Standard Time") == {
        "dateTime": "2017-09-04T12:00:00.1234560",
        "timeZone": "Pacific Standard Time",
    }
    assert aware_to_graph(instant, "Asia/Calcutta") == {
        "dateTime": "2017-09-05T00:30:00.1234560",
        "timeZone": "Asia/Calcutta",
    }
    # strftime("%Y") would give "999" on glibc.
    assert aware_to_graph(datetime(999, 1, 1, tzinfo=UTC), "UTC")["dateTime"] == (
        "0999-01-01T00:00:00.0000000"
    )


def test_aware_to_graph_rejects_naive_unknown_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="naive"):
        aware_to_graph(datetime(2026, 1, 1), "UTC")
    with pytest.raises(ValueError, match="unknown time zone"):
        aware_to_graph(utc(2026, 1, 1, 0), "Customized Time Zone")
    with pytest.raises(ValueError, match="out of range"):
        aware_to_graph(datetime.max.replace(tzinfo=UTC), "Tokyo Standard Time")


# Wall times around the 2026 DST changes: (zone, wall time, UTC instant, normalised wall time).
# Skipped times (spring forward) take the offset from before the change, as zoneinfo does with
# fold=0, and come back as the real wall time of that instant. Repeated times (fall back) mean
# their first occurrence.
DST_CASES = [
    # New York, 2026-03-08: 02:00 EST -> 03:00 EDT.
    (
        "America/New_York",
        "2026-03-08T01:59:59",
        utc(2026, 3, 8, 6, 59) + timedelta(seconds=59),
        None,
    ),
    ("America/New_York", "2026-03-08T02:00:00", utc(2026, 3, 8, 7), "2026-03-08T03:00:00"),
    ("America/New_York", "2026-03-08T02:30:00", utc(2026, 3, 8, 7, 30), "2026-03-08T03:30:00"),
    ("America/New_York", "2026-03-08T03:00:00", utc(2026, 3, 8, 7), None),
    ("America/New_York", "2026-03-08T03:30:00", utc(2026, 3, 8, 7, 30), None),
    # New York, 2026-11-01: 02:00 EDT -> 01:00 EST.
    ("America/New_York", "2026-11-01T00:59:00", utc(2026, 11, 1, 4, 59), None),
    ("America/New_York", "2026-11-01T01:00:00", utc(2026, 11, 1, 5), None),
    ("America/New_York", "2026-11-01T01:30:00", utc(2026, 11, 1, 5, 30), None),
    ("America/New_York", "2026-11-01T02:00:00", utc(2026, 11, 1, 7), None),
    # Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST.
    ("Europe/Berlin", "2026-03-29T01:59:00", utc(2026, 3, 29, 0, 59), None),
    ("Europe/Berlin", "2026-03-29T02:30:00", utc(2026, 3, 29, 1, 30), "2026-03-29T03:30:00"),
    ("Europe/Berlin", "2026-03-29T03:00:00", utc(2026, 3, 29, 1), None),
    # Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET.
    ("Europe/Berlin", "2026-10-25T01:59:00", utc(2026, 10, 24, 23, 59), None),
    ("Europe/Berlin", "2026-10-25T02:00:00", utc(2026, 10, 25, 0), None),
    ("Europe/Berlin", "2026-10-25T02:30:00", utc(2026, 10, 25, 0, 30), None),
    ("Europe/Berlin", "2026-10-25T03:00:00", utc(2026, 10, 25, 2), None),
]
WINDOWS_NAME = {
    "America/New_York": "Eastern Standard Time",
    "Europe/Berlin": "W. Europe Standard Time",
}


@pytest.mark.parametrize("windows", [False, True], ids=["iana", "windows"])
@pytest.mark.parametrize(("iana", "wall", "expected_utc", "normalised"), DST_CASES)
def test_dst_transitions_2026(
    iana: str, wall: str, expected_utc: datetime, normalised: str | None, windows: bool
) -> None:
    tz_name = WINDOWS_NAME[iana] if windows else iana
    result = graph_datetime_to_aware(wall + ".0000000", tz_name)
    assert to_utc(result) == expected_utc
    # Same instant as zoneinfo's own reading of the wall time (fold=0).
    naive = datetime.fromisoformat(wall)
    assert to_utc(naive.replace(tzinfo=zoneinfo.ZoneInfo(iana))) == expected_utc
    assert result.fold == 0
    # Returned as the wall time that really exists at that instant.
    assert result.replace(tzinfo=None) == datetime.fromisoformat(normalised or wall)
    back = aware_to_graph(result, tz_name)
    assert back == {"dateTime": (normalised or wall) + ".0000000", "timeZone": tz_name}
    assert to_utc(graph_datetime_to_aware(back["dateTime"], tz_name)) == expected_utc


@pytest.mark.parametrize(
    ("iana", "change_utc", "repeated"),
    [
        ("America/New_York", utc(2026, 3, 8, 7), timedelta(0)),
        ("America/New_York", utc(2026, 11, 1, 6), timedelta(hours=1)),
        ("Europe/Berlin", utc(2026, 3, 29, 1), timedelta(0)),
        ("Europe/Berlin", utc(2026, 10, 25, 1), timedelta(hours=1)),
    ],
)
def test_instants_around_dst_changes_round_trip(
    iana: str, change_utc: datetime, repeated: timedelta
) -> None:
    # Every minute from 3 h before to 3 h after the change. Only the second pass through a
    # repeated hour cannot be written without an offset; it reads back as the first pass.
    for minute in range(-180, 181):
        instant = change_utc + timedelta(minutes=minute)
        graph = aware_to_graph(instant, iana)
        back = to_utc(graph_datetime_to_aware(graph["dateTime"], iana))
        in_second_pass = timedelta(0) <= instant - change_utc < repeated
        assert back == (instant - repeated if in_second_pass else instant), instant


ROUND_TRIP_ZONES = [
    "America/New_York",
    "Eastern Standard Time",
    "Europe/Berlin",
    "W. Europe Standard Time",
    "Australia/Lord_Howe",
    "Lord Howe Standard Time",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "Africa/Casablanca",
    "America/Santiago",
    "Asia/Tehran",
    "Pacific/Apia",
    "UTC",
    "tzone://Microsoft/Utc",
]


@given(
    instant=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    tz_name=st.sampled_from(ROUND_TRIP_ZONES),
)
def test_graph_round_trip(instant: datetime, tz_name: str) -> None:
    graph = aware_to_graph(instant, tz_name)
    assert graph["timeZone"] == tz_name
    result = graph_datetime_to_aware(graph["dateTime"], tz_name)
    # The wall time always survives; the instant too, unless it is the second pass through a
    # repeated hour, which then reads back as the first pass (earlier by the size of the change).
    assert aware_to_graph(result, tz_name) == graph
    info = zone(tz_name)
    assert info is not None
    local = instant.astimezone(info)
    first_pass = local.replace(fold=0)
    assert to_utc(result) == to_utc(first_pass)
    if to_utc(first_pass) != instant:
        assert local.fold == 1


@given(
    wall=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
    tz_name=st.sampled_from(ROUND_TRIP_ZONES),
)
def test_wall_times_read_like_zoneinfo_fold_0(wall: datetime, tz_name: str) -> None:
    info = zone(tz_name)
    assert info is not None
    text = aware_to_graph(wall.replace(tzinfo=UTC), "UTC")["dateTime"]
    result = graph_datetime_to_aware(text, tz_name)
    assert to_utc(result) == to_utc(wall.replace(tzinfo=info, fold=0))
    # The returned wall time exists: it survives a trip through UTC.
    again = to_utc(result).astimezone(info)
    assert again.replace(tzinfo=None) == result.replace(tzinfo=None)


@given(st.text(max_size=40))
def test_graph_datetime_to_aware_raises_only_value_error(text: str) -> None:
    try:
        result = graph_datetime_to_aware(text, "Eastern Standard Time")
    except ValueError:
        return
    assert result.tzinfo is not None
