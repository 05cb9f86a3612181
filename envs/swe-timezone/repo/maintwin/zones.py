"""Time-zone helpers.

Everything the library compares is an aware datetime in UTC. Naive datetimes are
refused rather than guessed at: a naive value from a host in another zone is
the most common source of windows that open at the wrong hour.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["NaiveDatetimeError", "UnknownZoneError", "format_utc", "get_zone", "require_aware", "to_utc"]


class NaiveDatetimeError(ValueError):
    """A datetime without tzinfo was passed where an instant is required."""


class UnknownZoneError(ValueError):
    """The IANA time-zone name is not known to the system's tz database."""


@functools.lru_cache(maxsize=64)
def get_zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name such as ``"Europe/Berlin"``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownZoneError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'") from None


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` unchanged if it is aware, else raise :class:`NaiveDatetimeError`."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value


def to_utc(value: datetime) -> datetime:
    """The same instant expressed in UTC."""
    return require_aware(value).astimezone(timezone.utc)


def format_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2024-03-10T06:30:00Z``."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
