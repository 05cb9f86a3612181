import pytest

from crontick.fields import DAY_OF_MONTH, DAY_OF_WEEK, HOUR, MINUTE, MONTH, CronError, parse_field


def test_star_is_every_value():
    assert parse_field("*", HOUR) == frozenset(range(24))


def test_steps():
    assert sorted(parse_field("*/15", MINUTE)) == [0, 15, 30, 45]
    assert sorted(parse_field("10-50/20", MINUTE)) == [10, 30, 50]
    assert sorted(parse_field("5/20", MINUTE)) == [5, 25, 45]


def test_lists_and_ranges():
    assert sorted(parse_field("1,15,28-31", DAY_OF_MONTH)) == [1, 15, 28, 29, 30, 31]


def test_names_are_case_insensitive():
    assert sorted(parse_field("jan,MAR-May", MONTH)) == [1, 3, 4, 5]
    assert sorted(parse_field("MON-FRI", DAY_OF_WEEK)) == [1, 2, 3, 4, 5]


def test_sunday_is_zero_or_seven():
    assert parse_field("7", DAY_OF_WEEK) == parse_field("0", DAY_OF_WEEK) == frozenset({0})
    assert sorted(parse_field("5-7", DAY_OF_WEEK)) == [0, 5, 6]


@pytest.mark.parametrize(
    ("text", "message"),
    [("60", "outside 0-59"), ("", "empty"), ("*/0", "step"), ("30-10", "backwards"), ("ten", "not a number")],
    ids=["too-big", "empty", "zero-step", "backwards", "word"],
)
def test_invalid_minutes(text, message):
    with pytest.raises(CronError, match=message):
        parse_field(text, MINUTE)
