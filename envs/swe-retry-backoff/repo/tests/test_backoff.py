import random

import pytest

from retrykit.backoff import Backoff


def test_exponential_growth_without_jitter():
    assert list(Backoff(initial=0.5, multiplier=2).delays(4)) == [0.5, 1.0, 2.0, 4.0]


def test_delay_is_capped_at_max_delay():
    backoff = Backoff(initial=1, multiplier=3, max_delay=20)
    assert [backoff.delay(n, random.Random(0)) for n in (3, 4, 5)] == [9, 20, 20]


def test_very_late_retries_do_not_overflow():
    assert Backoff(initial=1, max_delay=60).delay(5000, random.Random(0)) == 60


def test_jitter_spreads_delay_both_ways(fixed_random):
    backoff = Backoff(initial=2, multiplier=2, max_delay=100, jitter=0.25)
    assert backoff.delay(2, fixed_random(0.0)) == pytest.approx(3.0)
    assert backoff.delay(2, fixed_random(0.5)) == pytest.approx(4.0)
    assert backoff.delay(2, fixed_random(1.0)) == pytest.approx(5.0)


def test_jittered_delays_are_never_negative():
    backoff = Backoff(initial=1, multiplier=2, max_delay=8, jitter=1.0)
    assert min(backoff.delay(n, random.Random(seed)) for n in range(1, 6) for seed in range(50)) >= 0


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": -1}, {"multiplier": 0.5}, {"initial": 10, "max_delay": 5}, {"jitter": 1.5}],
    ids=["negative-initial", "shrinking", "cap-below-initial", "jitter-over-one"],
)
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_retry_numbers_start_at_one():
    with pytest.raises(ValueError, match="start at 1"):
        Backoff().delay(0, random.Random())
