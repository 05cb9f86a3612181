import pytest

from throttle.limiter import Decision, KeyedLimiter


def test_keys_are_independent(clock):
    limiter = KeyedLimiter(capacity=2, rate=1, clock=clock)
    assert [limiter.check("alice").allowed for _ in range(3)] == [True, True, False]
    assert limiter.check("bob").allowed


def test_rejection_carries_retry_after(clock):
    limiter = KeyedLimiter(capacity=1, rate=0.25, clock=clock)
    assert limiter.check("alice") == Decision(True)
    decision = limiter.check("alice")
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(4.0)


@pytest.mark.parametrize(("seconds", "header"), [(0.0, "0"), (2.0, "2"), (2.1, "3"), (0.001, "1")])
def test_retry_after_header_rounds_up(seconds, header):
    assert Decision(False, seconds).retry_after_header == header


def test_least_recently_used_key_is_evicted(clock):
    limiter = KeyedLimiter(capacity=1, rate=1, max_keys=2, clock=clock)
    for key in ("a", "b", "a", "c"):
        limiter.check(key)
    assert len(limiter) == 2
    assert "a" in limiter and "c" in limiter and "b" not in limiter


def test_invalid_limiter_arguments():
    with pytest.raises(ValueError, match="max_keys"):
        KeyedLimiter(1, 1, max_keys=0)
    with pytest.raises(ValueError, match="rate"):
        KeyedLimiter(1, 0)
