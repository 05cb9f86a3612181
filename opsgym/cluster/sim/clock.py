"""The virtual clock and the time formats Kubernetes uses (RFC 3339 stamps, kubectl's human durations)."""

from __future__ import annotations

import calendar
import functools
import time

__all__ = ["DEFAULT_EPOCH", "Clock", "human_duration", "parse_time", "rfc3339"]

DEFAULT_EPOCH = 1_735_689_600.0
"""2025-01-01T00:00:00Z: where a deterministic cluster's clock starts, so timestamps repeat run after run."""


class Clock:
    """Seconds since the Unix epoch that move only when :meth:`advance_to` is called."""

    def __init__(self, epoch: float = DEFAULT_EPOCH):
        self.now = float(epoch)

    def advance_to(self, when: float) -> None:
        self.now = max(self.now, float(when))


def rfc3339(seconds: float) -> str:
    """``2025-01-01T00:00:05Z`` (whole seconds, like metav1.Time)."""
    return _format(int(seconds))


@functools.lru_cache(maxsize=4096)
def _format(seconds: int) -> str:
    """Cached: every pass stamps the same instant many times over (conditions, events, container states)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def parse_time(stamp: str | None) -> float | None:
    """Seconds from an RFC 3339 stamp (fractions and offsets tolerated), None when absent or unparsable."""
    if not stamp or not isinstance(stamp, str):
        return None
    return _parse(stamp)


@functools.lru_cache(maxsize=16384)
def _parse(stamp: str) -> float | None:
    """Cached: controllers re-read the same few hundred stamps on every pass, and ``strptime`` is slow."""
    try:
        base = stamp[:19]
        return float(calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def _pair(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}" if small == 0 else f"{big}{big_unit}{small}{small_unit}"


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``: ``45s``, ``3m20s``, ``5h10m``, ``12d`` …"""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes, hours = secs // 60, secs // 3600
    days, years = hours // 24, hours // 24 // 365
    if minutes < 10:
        return _pair(minutes, "m", secs % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return _pair(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _pair(years, "y", days % 365, "d")
    return f"{years}y"
