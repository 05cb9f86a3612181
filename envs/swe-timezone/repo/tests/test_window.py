from datetime import date, datetime, time, timedelta

import pytest

from maintwin.window import Window, parse_duration, parse_window, window_bounds
from maintwin.zones import get_zone

BERLIN_SUNDAY_2AM = Window(weekday=6, start=time(2, 0), duration=timedelta(hours=2), tz="Europe/Berlin")


def test_bounds_in_winter_and_summer(utc):
    assert BERLIN_SUNDAY_2AM.bounds_on(date(2024, 1, 7)) == (utc(2024, 1, 7, 1, 0), utc(2024, 1, 7, 3, 0))
    assert BERLIN_SUNDAY_2AM.bounds_on(date(2024, 7, 7)) == (utc(2024, 7, 7, 0, 0), utc(2024, 7, 7, 2, 0))


def test_bounds_on_wrong_weekday_is_an_error():
    with pytest.raises(ValueError, match="is a Mon"):
        BERLIN_SUNDAY_2AM.bounds_on(date(2024, 1, 8))


def test_window_bounds_west_of_utc(utc):
    bounds = window_bounds(date(2024, 1, 14), time(22, 0), timedelta(hours=1), get_zone("America/Los_Angeles"))
    assert bounds == (utc(2024, 1, 15, 6, 0), utc(2024, 1, 15, 7, 0))


def test_is_open_includes_opening_and_excludes_closing(utc):
    assert not BERLIN_SUNDAY_2AM.is_open(utc(2024, 1, 7, 0, 59))
    assert BERLIN_SUNDAY_2AM.is_open(utc(2024, 1, 7, 1, 0))
    assert BERLIN_SUNDAY_2AM.is_open(utc(2024, 1, 7, 2, 59))
    assert not BERLIN_SUNDAY_2AM.is_open(utc(2024, 1, 7, 3, 0))


def test_is_open_accepts_any_aware_datetime():
    tokyo = get_zone("Asia/Tokyo")
    assert BERLIN_SUNDAY_2AM.is_open(datetime(2024, 1, 7, 11, 30, tzinfo=tokyo))


def test_window_running_past_midnight(utc):
    saturday_late = Window(weekday=5, start=time(23, 0), duration=timedelta(hours=3), tz="Europe/Berlin")
    assert saturday_late.is_open(utc(2024, 1, 7, 0, 30))
    assert saturday_late.current(utc(2024, 1, 7, 0, 30)) == (utc(2024, 1, 6, 22, 0), utc(2024, 1, 7, 1, 0))


def test_next_opening_skips_an_occurrence_already_started(utc):
    assert BERLIN_SUNDAY_2AM.next_opening(utc(2024, 1, 3, 12, 0)) == (utc(2024, 1, 7, 1, 0), utc(2024, 1, 7, 3, 0))
    assert BERLIN_SUNDAY_2AM.next_opening(utc(2024, 1, 7, 1, 30))[0] == utc(2024, 1, 14, 1, 0)


def test_invalid_windows_are_rejected():
    with pytest.raises(ValueError):
        Window(weekday=7, start=time(1, 0), duration=timedelta(hours=1), tz="UTC")
    with pytest.raises(ValueError):
        Window(weekday=0, start=time(1, 0), duration=timedelta(hours=25), tz="UTC")


def test_parse_window_and_duration():
    window = parse_window("sun 01:30 for 1h30m America/New_York")
    assert window == Window(6, time(1, 30), timedelta(hours=1, minutes=30), "America/New_York")
    assert parse_duration("45m") == timedelta(minutes=45)
    with pytest.raises(ValueError, match=r"expected e\.g\."):
        parse_duration("")
    with pytest.raises(ValueError, match="invalid weekday"):
        parse_window("Son 01:30 for 2h Europe/Berlin")
