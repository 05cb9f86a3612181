"""Parsing and formatting of Prometheus-style durations."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

__all__ = ["UNITS", "DurationError", "format_duration", "parse_duration"]

# Largest first: units must appear in this order in a duration, as in Prometheus.
UNITS: dict[str, Decimal] = {
    "w": Decimal(7 * 24 * 3600),
    "d": Decimal(24 * 3600),
    "h": Decimal(3600),
    "m": Decimal(60),
    "s": Decimal(1),
    "ms": Decimal("0.001"),
}
_ORDER = list(UNITS)
_TOKEN_RE = re.compile(r"(\d+(?:\.\d+)?)(" + "|".join(UNITS) + ")")
_DURATION_RE = re.compile(rf"(?:{_TOKEN_RE.pattern})+")


class DurationError(ValueError):
    """Raised for a string that is not a duration; the message shows a valid example."""


def parse_duration(text: str) -> dt.timedelta:
    """Parse ``"1h30m"``, ``"90s"``, ``"1.5h"``, ``"2d"`` or ``"250ms"`` into a timedelta.

    ``"0"`` is accepted on its own, as Prometheus does. Each unit may appear once, largest first.

    Raises:
        DurationError: for empty strings, unknown units, bare numbers or units out of order.
    """
    text = text.strip()
    if text == "0":
        return dt.timedelta(0)
    if not _DURATION_RE.fullmatch(text):
        raise DurationError(f"invalid duration {text!r}: expected something like '1h30m', '90s' or '1.5h'")
    seconds = Decimal(0)
    previous = -1
    for number, unit in _TOKEN_RE.findall(text):
        position = _ORDER.index(unit)
        if position <= previous:
            raise DurationError(f"invalid duration {text!r}: units must go from largest to smallest, each once")
        previous = position
        seconds += Decimal(number) * UNITS[unit]
    return dt.timedelta(seconds=float(seconds))


def format_duration(value: dt.timedelta) -> str:
    """The shortest canonical form: ``timedelta(minutes=90)`` -> ``"1h30m"``; zero is ``"0s"``.

    Weeks are not used (``"14d"``, not ``"2w"``) because that is how SLO windows are usually
    written. Precision below a millisecond is dropped.
    """
    if value < dt.timedelta(0):
        raise DurationError(f"negative durations cannot be formatted: {value}")
    remaining = value // dt.timedelta(milliseconds=1)
    parts = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = int(UNITS[unit] * 1000)
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
