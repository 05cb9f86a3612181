"""Per-key limiting (per client, per API token) with bounded memory."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from throttle.bucket import Clock, TokenBucket

__all__ = ["Decision", "KeyedLimiter"]


@dataclass(frozen=True)
class Decision:
    """The answer for one request. ``retry_after`` is what goes into a 429's Retry-After header."""

    allowed: bool
    retry_after: float = 0.0

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, rounded up, as HTTP requires (a client retrying early is rejected again)."""
        seconds = int(self.retry_after)
        return str(seconds if seconds == self.retry_after else seconds + 1)


class KeyedLimiter:
    """One :class:`TokenBucket` per key, created on first use.

    At most ``max_keys`` buckets are kept; the least recently used one is dropped first. A
    dropped key starts again with a full bucket, which is the safe direction for clients.
    """

    def __init__(self, capacity: float, rate: float, *, max_keys: int = 10_000, clock: Clock = time.monotonic):
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys!r}")
        TokenBucket(capacity, rate, clock)  # validate the arguments once, up front
        self.capacity, self.rate, self.max_keys = capacity, rate, max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def _bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.capacity, self.rate, self._clock)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def check(self, key: str, cost: float = 1.0) -> Decision:
        """Decide one request for ``key`` costing ``cost`` tokens."""
        bucket = self._bucket(key)
        if bucket.try_acquire(cost):
            return Decision(True)
        return Decision(False, bucket.retry_after(cost))

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets
