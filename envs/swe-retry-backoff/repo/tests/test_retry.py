import pytest

from retrykit.backoff import Backoff
from retrykit.classify import HTTPStatusError
from retrykit.retry import RetryExhausted, RetryPolicy, call_with_retry, retrying

FAST = Backoff(initial=0.5, multiplier=2, max_delay=10)


def test_succeeds_after_transient_failures(vtime, flaky):
    fn = flaky(ConnectionResetError(), HTTPStatusError(503))
    result = call_with_retry(fn, RetryPolicy(backoff=FAST), sleep=vtime.sleep, clock=vtime.clock)
    assert result == "ok"
    assert fn.calls == 3
    assert vtime.sleeps == [0.5, 1.0]


def test_non_retryable_error_is_raised_at_once(vtime, flaky):
    fn = flaky(HTTPStatusError(404))
    with pytest.raises(HTTPStatusError, match="404"):
        call_with_retry(fn, RetryPolicy(backoff=FAST), sleep=vtime.sleep, clock=vtime.clock)
    assert fn.calls == 1
    assert vtime.sleeps == []


def test_gives_up_after_max_attempts(vtime, flaky):
    errors = [TimeoutError(f"try {n}") for n in range(1, 10)]
    fn = flaky(*errors)
    with pytest.raises(RetryExhausted) as info:
        call_with_retry(fn, RetryPolicy(max_attempts=4, backoff=FAST), sleep=vtime.sleep, clock=vtime.clock)
    assert fn.calls == 4
    assert info.value.attempts == 4
    assert str(info.value.last_error) == "try 4"
    assert info.value.__cause__ is info.value.last_error
    assert len(vtime.sleeps) == 3


def test_retry_after_hint_wins_when_longer(vtime, flaky):
    fn = flaky(HTTPStatusError(429, retry_after=7.0), HTTPStatusError(429, retry_after=0.1))
    call_with_retry(fn, RetryPolicy(backoff=FAST), sleep=vtime.sleep, clock=vtime.clock)
    assert vtime.sleeps == [7.0, 1.0]


def test_deadline_stops_before_a_wait_that_would_exceed_it(vtime, flaky):
    fn = flaky(*[TimeoutError() for _ in range(10)])
    policy = RetryPolicy(max_attempts=10, backoff=FAST, deadline=3.0)
    with pytest.raises(RetryExhausted) as info:
        call_with_retry(fn, policy, sleep=vtime.sleep, clock=vtime.clock)
    assert vtime.sleeps == [0.5, 1.0]
    assert info.value.attempts == 3


def test_on_retry_sees_each_failure(vtime, flaky):
    seen = []
    fn = flaky(TimeoutError(), TimeoutError())
    call_with_retry(fn, RetryPolicy(backoff=FAST), sleep=vtime.sleep, clock=vtime.clock,
                    on_retry=lambda attempt, exc, wait: seen.append((attempt, type(exc).__name__, wait)))
    assert seen == [(1, "TimeoutError", 0.5), (2, "TimeoutError", 1.0)]


def test_decorator_passes_arguments_through(vtime):
    calls = []

    @retrying(RetryPolicy(backoff=FAST), sleep=vtime.sleep, clock=vtime.clock)
    def fetch(path, *, page):
        calls.append((path, page))
        if len(calls) < 2:
            raise ConnectionError("reset")
        return f"{path}?page={page}"

    assert fetch("/v1/items", page=2) == "/v1/items?page=2"
    assert calls == [("/v1/items", 2)] * 2
    assert fetch.__name__ == "fetch"


def test_max_attempts_must_be_positive():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
