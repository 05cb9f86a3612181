"""A single token bucket: ``capacity`` tokens, refilled continuously at ``rate`` tokens per second."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["Clock", "TokenBucket"]

Clock = Callable[[], float]


class TokenBucket:
    """Allow bursts of up to ``capacity`` and a sustained ``rate`` of acquisitions per second.

    The bucket starts full. Tokens are fractional internally, so a rate of 0.5/s lets one
    request through every two seconds.
    """

    def __init__(self, capacity: float, rate: float, clock: Clock = time.monotonic) -> None:
        if capacity <= 0 or not math.isfinite(capacity):
            raise ValueError(f"capacity must be a positive number, got {capacity!r}")
        if rate <= 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a positive number of tokens per second, got {rate!r}")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._tokens = self.capacity
        self._updated_at = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        """Credit the tokens earned since the last update, never beyond capacity."""
        elapsed = now - self._updated_at
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if they are available now; never blocks."""
        if tokens <= 0:
            raise ValueError(f"tokens must be positive, got {tokens!r}")
        with self._lock:
            now = self._clock()
            self._refill(now)
            if self._tokens >= tokens:
                self._tokens -= tokens
                self._updated_at = now
                return True
            return False

    def retry_after(self, tokens: float = 1.0) -> float:
        """Seconds until ``tokens`` could be acquired (0 if they can be now; inf if never)."""
        if tokens > self.capacity:
            return math.inf
        with self._lock:
            now = self._clock()
            self._refill(now)
            missing = tokens - self._tokens
        return max(0.0, missing / self.rate)

    @property
    def available(self) -> float:
        """Tokens that could be taken right now."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            return self._tokens

    def __repr__(self) -> str:
        return f"TokenBucket(capacity={self.capacity:g}, rate={self.rate:g}/s)"
