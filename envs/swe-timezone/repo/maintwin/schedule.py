"""A set of maintenance windows, e.g. one per site or one per weekday."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from maintwin.window import Window, parse_window
from maintwin.zones import to_utc

__all__ = ["Schedule", "parse_schedule"]


@dataclass(frozen=True)
class Schedule:
    """Maintenance is allowed whenever any of the windows is open."""

    windows: tuple[Window, ...]

    def is_open(self, at: datetime) -> bool:
        return any(window.is_open(at) for window in self.windows)

    def next_opening(self, after: datetime) -> tuple[datetime, datetime]:
        """The earliest ``(opens, closes)`` among all windows opening at or after ``after``."""
        if not self.windows:
            raise ValueError("an empty schedule never opens")
        return min(window.next_opening(after) for window in self.windows)

    def remaining(self, at: datetime) -> timedelta:
        """Time left before maintenance must stop; zero when no window is open.

        Overlapping windows count as one: the answer runs to the latest closing
        among the windows open at ``at``.
        """
        at = to_utc(at)
        closes = [occurrence[1] for occurrence in (w.current(at) for w in self.windows) if occurrence]
        return max(closes) - at if closes else timedelta(0)


def parse_schedule(lines: Iterable[str]) -> Schedule:
    """One window per line; blank lines and ``#`` comments are ignored."""
    windows = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            windows.append(parse_window(text))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
    return Schedule(tuple(windows))
