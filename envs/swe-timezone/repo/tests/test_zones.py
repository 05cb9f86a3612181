from datetime import datetime, timedelta, timezone

import pytest

from maintwin.zones import NaiveDatetimeError, UnknownZoneError, format_utc, get_zone, to_utc


def test_get_zone_returns_cached_zoneinfo():
    assert get_zone("Europe/Berlin") is get_zone("Europe/Berlin")


def test_unknown_zone_names_the_problem():
    with pytest.raises(UnknownZoneError, match="Mars/Olympus"):
        get_zone("Mars/Olympus")


def test_naive_datetimes_are_refused():
    with pytest.raises(NaiveDatetimeError):
        to_utc(datetime(2024, 1, 1, 12, 0))


def test_to_utc_converts_fixed_offsets():
    plus_two = timezone(timedelta(hours=2))
    assert to_utc(datetime(2024, 6, 1, 12, 0, tzinfo=plus_two)) == datetime(2024, 6, 1, 10, 0, tzinfo=timezone.utc)
    assert format_utc(datetime(2024, 6, 1, 12, 0, tzinfo=plus_two)) == "2024-06-01T10:00:00Z"
