import datetime as dt

import pytest

from slokit.duration import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", dt.timedelta(seconds=90)),
        ("5m", dt.timedelta(minutes=5)),
        ("1h30m", dt.timedelta(hours=1, minutes=30)),
        ("1.5h", dt.timedelta(minutes=90)),
        ("2d", dt.timedelta(days=2)),
        ("1w2d", dt.timedelta(days=9)),
        ("1d2h3m4s", dt.timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 30d ", dt.timedelta(days=30)),
        ("0", dt.timedelta(0)),
    ],
    ids=["90s", "5m", "1h30m", "1.5h", "2d", "1w2d", "1d2h3m4s", "padded", "zero"],
)
def test_parses(text, expected):
    assert parse_duration(text) == expected


def test_minutes_are_not_months():
    assert parse_duration("1m") == dt.timedelta(seconds=60)


@pytest.mark.parametrize(
    "text", ["", "5", "h", "1y", "-5m", "1h 30m", "1.h", "30m1h", "1m1m"], ids=["empty", "bare", "unit", "years",
                                                                                   "negative", "space", "dot",
                                                                                   "order", "repeat"]
)
def test_rejects(text):
    with pytest.raises(DurationError):
        parse_duration(text)


def test_error_message_shows_an_example():
    with pytest.raises(DurationError, match="1h30m"):
        parse_duration("ninety seconds")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.timedelta(minutes=90), "1h30m"),
        (dt.timedelta(days=30), "30d"),
        (dt.timedelta(0), "0s"),
        (dt.timedelta(seconds=70), "1m10s"),
        (dt.timedelta(milliseconds=1500), "1s500ms"),
    ],
    ids=["90m", "30d", "zero", "70s", "1500ms"],
)
def test_formats(value, text):
    assert format_duration(value) == text


def test_format_rejects_negative():
    with pytest.raises(DurationError):
        format_duration(dt.timedelta(seconds=-1))


def test_round_trip_whole_seconds():
    for text in ("1h30m", "30d", "4h", "1d2h3m4s"):
        assert format_duration(parse_duration(text)) == text
