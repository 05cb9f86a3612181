import datetime as dt

import pytest

from crontick import CronError, CronSchedule


def at(text):
    return dt.datetime.fromisoformat(text)


def test_every_fifteen_minutes():
    assert CronSchedule("*/15 * * * *").next_after(at("2024-05-02 10:07")) == at("2024-05-02 10:15")


def test_next_is_strictly_after_a_matching_time():
    assert CronSchedule("*/15 * * * *").next_after(at("2024-05-02 10:15:00")) == at("2024-05-02 10:30")
    assert CronSchedule("*/15 * * * *").next_after(at("2024-05-02 10:14:59")) == at("2024-05-02 10:15")


def test_rolls_over_hour_day_and_year():
    assert CronSchedule("30 * * * *").next_after(at("2024-05-02 23:45")) == at("2024-05-03 00:30")
    assert CronSchedule("0 0 * * *").next_after(at("2024-12-31 12:00")) == at("2025-01-01 00:00")


def test_skips_months_without_the_day():
    assert CronSchedule("0 0 31 * *").next_after(at("2024-04-01 00:00")) == at("2024-05-31 00:00")


def test_leap_day():
    assert CronSchedule("0 12 29 2 *").next_after(at("2023-03-01 00:00")) == at("2024-02-29 12:00")


def test_weekdays_only():
    schedule = CronSchedule("0 9 * * MON-FRI")
    # 2024-05-03 is a Friday
    assert schedule.next_after(at("2024-05-03 10:00")) == at("2024-05-06 09:00")


def test_day_of_month_only():
    assert CronSchedule("0 6 1 * *").next_after(at("2024-05-02 00:00")) == at("2024-06-01 06:00")


def test_macros():
    assert CronSchedule("@hourly").next_after(at("2024-05-02 10:07")) == at("2024-05-02 11:00")
    assert CronSchedule("@weekly").next_after(at("2024-05-02 10:07")) == at("2024-05-05 00:00")
    assert CronSchedule("@yearly").next_after(at("2024-05-02 10:07")) == at("2025-01-01 00:00")


def test_timezone_is_preserved():
    zone = dt.timezone(dt.timedelta(hours=2))
    moment = dt.datetime(2024, 5, 2, 10, 7, tzinfo=zone)
    assert CronSchedule("0 * * * *").next_after(moment) == dt.datetime(2024, 5, 2, 11, 0, tzinfo=zone)


def test_missed_runs_while_down():
    runs = CronSchedule("0 */6 * * *").missed_between(at("2024-05-02 05:00"), at("2024-05-03 06:00"))
    assert runs == [at("2024-05-02 06:00"), at("2024-05-02 12:00"), at("2024-05-02 18:00"), at("2024-05-03 00:00"),
                    at("2024-05-03 06:00")]


def test_impossible_schedule_raises():
    with pytest.raises(CronError, match="never fires"):
        CronSchedule("0 0 31 2 *").next_after(at("2024-01-01 00:00"))


def test_wrong_number_of_fields():
    with pytest.raises(CronError, match="expected 5 fields"):
        CronSchedule("* * * *")
