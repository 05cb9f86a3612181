import math

import pytest

from throttle.bucket import TokenBucket


def test_starts_full_and_allows_a_burst(clock):
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_refills_at_rate(clock):
    bucket = TokenBucket(capacity=10, rate=2, clock=clock)
    for _ in range(10):
        assert bucket.try_acquire()
    clock.advance(1.5)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_never_exceeds_capacity_after_idle(clock):
    bucket = TokenBucket(capacity=5, rate=100, clock=clock)
    bucket.try_acquire(5)
    clock.advance(3600)
    assert bucket.available == 5
    assert [bucket.try_acquire() for _ in range(6)].count(True) == 5


def test_fractional_rate(clock):
    bucket = TokenBucket(capacity=1, rate=0.5, clock=clock)
    assert bucket.try_acquire()
    clock.advance(1)
    assert not bucket.try_acquire()
    clock.advance(1)
    assert bucket.try_acquire()


def test_cost_of_several_tokens(clock):
    bucket = TokenBucket(capacity=10, rate=1, clock=clock)
    assert bucket.try_acquire(7)
    assert not bucket.try_acquire(4)
    assert bucket.try_acquire(3)


def test_retry_after(clock):
    bucket = TokenBucket(capacity=2, rate=0.5, clock=clock)
    assert bucket.retry_after() == 0
    bucket.try_acquire(2)
    assert bucket.retry_after() == pytest.approx(2.0)
    assert bucket.retry_after(2) == pytest.approx(4.0)


def test_retry_after_is_infinite_above_capacity(clock):
    assert TokenBucket(capacity=2, rate=1, clock=clock).retry_after(3) == math.inf


@pytest.mark.parametrize(
    ("capacity", "rate"), [(0, 1), (-1, 1), (1, 0), (1, -2), (math.inf, 1), (1, math.nan)], ids=str
)
def test_invalid_arguments(capacity, rate):
    with pytest.raises(ValueError):
        TokenBucket(capacity, rate)


def test_acquiring_nothing_is_an_error(clock):
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(1, 1, clock).try_acquire(0)
