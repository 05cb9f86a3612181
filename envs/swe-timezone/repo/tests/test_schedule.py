from datetime import timedelta

import pytest

from maintwin.schedule import Schedule, parse_schedule

SITES = """
# EU and US sites patch on Sunday night local time
Sun 02:00 for 2h Europe/Berlin
Sun 02:00 for 2h America/Chicago   # after the batch jobs
"""


def test_parse_schedule_skips_comments_and_blank_lines():
    schedule = parse_schedule(SITES.splitlines())
    assert [w.tz for w in schedule.windows] == ["Europe/Berlin", "America/Chicago"]


def test_parse_schedule_reports_line_numbers():
    with pytest.raises(ValueError, match="line 2"):
        parse_schedule(["Sun 02:00 for 2h UTC", "Sun 2am Europe/Berlin"])


def test_open_when_any_window_is_open(utc):
    schedule = parse_schedule(SITES.splitlines())
    assert schedule.is_open(utc(2024, 1, 7, 1, 30))
    assert schedule.is_open(utc(2024, 1, 7, 8, 30))
    assert not schedule.is_open(utc(2024, 1, 7, 5, 0))


def test_next_opening_is_the_earliest(utc):
    schedule = parse_schedule(SITES.splitlines())
    assert schedule.next_opening(utc(2024, 1, 7, 4, 0)) == (utc(2024, 1, 7, 8, 0), utc(2024, 1, 7, 10, 0))


def test_remaining_time(utc):
    schedule = parse_schedule(SITES.splitlines())
    assert schedule.remaining(utc(2024, 1, 7, 9, 15)) == timedelta(minutes=45)
    assert schedule.remaining(utc(2024, 1, 7, 5, 0)) == timedelta(0)


def test_empty_schedule_never_opens(utc):
    with pytest.raises(ValueError):
        Schedule(()).next_opening(utc(2024, 1, 1))
