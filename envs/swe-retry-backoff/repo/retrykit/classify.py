"""Which failures are worth retrying, and what the server asked for.

Retrying a request that can never succeed (a 400, a 404, a bug in our own
code) only adds load and latency, so the default is to retry transport
failures and the HTTP statuses that mean "try again later".
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["RETRYABLE_STATUSES", "HTTPStatusError", "is_retryable", "parse_retry_after", "retry_after_of"]

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class HTTPStatusError(Exception):
    """A response with an error status; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, status: int, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}" + (f": {message}" if message else ""))
        self.status = status
        self.retry_after = retry_after


def is_retryable(exc: BaseException) -> bool:
    """Default retry predicate: transport errors and "try again later" statuses."""
    if isinstance(exc, HTTPStatusError):
        return exc.status in RETRYABLE_STATUSES
    return isinstance(exc, (ConnectionError, TimeoutError))


def retry_after_of(exc: BaseException) -> float | None:
    """The server's Retry-After hint carried by ``exc``, in seconds."""
    return exc.retry_after if isinstance(exc, HTTPStatusError) else None


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date; None if unusable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())
