"""How long to wait between attempts.

Delays grow exponentially so that a struggling service gets room to recover,
are bounded so that a client never stalls for minutes, and are randomised
("jitter") so that many clients that failed at the same moment do not all come
back at the same moment.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with proportional jitter.

    Attributes:
        initial: delay before the first retry, in seconds.
        multiplier: growth factor from one retry to the next (>= 1).
        max_delay: the longest the client will ever wait between two attempts, in seconds.
        jitter: spread as a fraction of the delay; 0.25 means up to 25 % shorter or longer.
    """

    initial: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.initial < 0:
            raise ValueError(f"initial must be >= 0, got {self.initial}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        if self.max_delay < self.initial:
            raise ValueError(f"max_delay ({self.max_delay}) must not be below initial ({self.initial})")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter is a fraction between 0 and 1, got {self.jitter}")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if retry < 1:
            raise ValueError(f"retry numbers start at 1, got {retry}")
        exponent = min(retry - 1, 64)
        delay = min(self.max_delay, self.initial * self.multiplier**exponent)
        if self.jitter:
            delay *= 1 + self.jitter * rng.uniform(-1.0, 1.0)
        return delay

    def delays(self, retries: int, rng: random.Random | None = None) -> Iterator[float]:
        """The delays before retries ``1..retries``, e.g. to print a retry plan."""
        rng = rng or random.Random()
        for retry in range(1, retries + 1):
            yield self.delay(retry, rng)
