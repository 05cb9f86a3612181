"""Call a function until it succeeds, a non-retryable error occurs, or the budget runs out.

Sleeping and reading the clock are injected so callers (and tests) can run the
loop against virtual time; the defaults are the real ``time.sleep`` and
``time.monotonic``.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from retrykit.backoff import Backoff
from retrykit.classify import is_retryable, retry_after_of

__all__ = ["RetryExhausted", "RetryPolicy", "call_with_retry", "retrying"]

T = TypeVar("T")


class RetryExhausted(Exception):
    """Every allowed attempt failed; ``last_error`` is the final failure (also chained as ``__cause__``)."""

    def __init__(self, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempt(s): {last_error!r}")
        self.attempts = attempts
        self.last_error = last_error


@dataclass(frozen=True)
class RetryPolicy:
    """What to retry and for how long.

    Attributes:
        max_attempts: total attempts including the first one.
        backoff: how long to wait between attempts.
        deadline: optional budget in seconds for the whole call, waits included.
        retry_if: predicate deciding whether an exception is worth another attempt.
    """

    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    deadline: float | None = None
    retry_if: Callable[[BaseException], bool] = is_retryable

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_retry: Callable[[int, BaseException, float], object] | None = None,
) -> T:
    """Return ``fn()``, retrying failures that ``policy.retry_if`` accepts.

    A server's Retry-After hint is honoured when it asks for a longer wait than
    the backoff would. ``on_retry(attempt, error, wait)`` is called before each
    wait, e.g. for logging.
    """
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            if not policy.retry_if(exc):
                raise
            if attempt >= policy.max_attempts:
                raise RetryExhausted(attempt, exc) from exc
            wait = policy.backoff.delay(attempt, rng)
            hint = retry_after_of(exc)
            if hint is not None:
                wait = max(wait, hint)
            if policy.deadline is not None and clock() - started + wait > policy.deadline:
                raise RetryExhausted(attempt, exc) from exc
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            sleep(wait)


def retrying(policy: RetryPolicy | None = None, **options: object) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator form of :func:`call_with_retry`; ``options`` are its keyword arguments."""

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def wrapper(*args: object, **kwargs: object) -> T:
            return call_with_retry(lambda: fn(*args, **kwargs), policy, **options)  # type: ignore[arg-type]

        return wrapper

    return decorate
